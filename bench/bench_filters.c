/*
 * bench_filters.c -- does a membership filter pay for itself in front of the
 * index? Gets of absent keys (and of present keys) on caches of N entries
 * (default 1M) with no filter, and with each filter, all in the same run.
 *
 * A filter can only save time on a miss when answering "certainly absent"
 * is cheaper than the index probe it replaces. macho's index probe for an
 * absent key is one 8-byte slot read plus a 32-bit tag compare (it almost
 * never touches an entry), so a filter wins only when its own probes hit the
 * CPU cache while the index's slot does not. On a hit the filter is pure
 * overhead. Each round opens, fills, measures and closes one cache per
 * filter in turn, so every cache reuses the same freed memory (caches kept
 * open side by side showed the last-opened one 2-3x faster on hits, whatever
 * its filter: placement, not filtering) and a noisy neighbour disturbs them
 * all alike; each figure is the fastest of ROUNDS rounds, and what to read
 * is the ratio to the no-filter cache of the same run. Times are the
 * thread's CPU time.
 *
 * It also times one xor-filter rebuild from N hashes on its own (the cost a
 * churning cache pays every N/16 changes).
 *
 * usage: bench_filters [N] [P]   (N entries, target false-positive rate P)
 */
#include <macho/macho.h>

#include "internal.h" /* the xor filter's rebuild, timed alone */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 5
#define QUERIES 200000ULL
#define ABSENT_BASE (1ULL << 62)

/* Thread CPU time: on a shared machine wall time mostly measures the neighbours. */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* splitmix64: spreads the key ids so that present and absent keys interleave. */
static uint64_t key_of(uint64_t i) {
  uint64_t z = i + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double time_gets(macho_cache *c, uint64_t first, uint64_t count, uint64_t *hits) {
  uint64_t v;
  double t0 = now_s();
  for (uint64_t i = first; i < first + count; i++) {
    uint64_t k = key_of(i);
    *hits += macho_get(c, &k, sizeof k, &v, sizeof v, NULL) == MACHO_OK;
  }
  return (now_s() - t0) * 1e9 / (double)count;
}

/* Open a cache of n entries with filter f and fill it. */
static macho_cache *open_filled(uint64_t n, macho_filter f, double p) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = n;
  cfg.ttl_seconds = 0;
  cfg.policy = MACHO_POLICY_FIFO;
  cfg.filter = f;
  cfg.filter_fp_rate = p;
  cfg.metrics = 0;
  macho_cache *c;
  if (macho_open(&cfg, &c) != MACHO_OK) return NULL;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t k = key_of(i);
    if (macho_put(c, &k, sizeof k, &k, sizeof k) != MACHO_OK) {
      macho_close(c);
      return NULL;
    }
  }
  return c;
}

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
  double p = argc > 2 ? strtod(argv[2], NULL) : 0.01;
  if (n < 1 || !(p > 0 && p < 1)) {
    fprintf(stderr, "usage: bench_filters [N] [P]\n");
    return 2;
  }
  double absent[MACHO_FILTER_COUNT], member[MACHO_FILTER_COUNT], fp[MACHO_FILTER_COUNT];
  uint64_t mem[MACHO_FILTER_COUNT];
  uint64_t q = QUERIES < n ? QUERIES : n;
  for (int f = 0; f < MACHO_FILTER_COUNT; f++) absent[f] = member[f] = INFINITY;
  /* Warm-up: glibc serves a process's first large blocks by mmap and raises
   * its threshold as they are freed; one cache filled and closed first puts
   * every measured cache on the same footing. */
  macho_close(open_filled(n, MACHO_FILTER_NONE, p));
  for (int r = 0; r < ROUNDS; r++) {
    for (int f = 0; f < MACHO_FILTER_COUNT; f++) {
      if (!macho_filter_available((macho_filter)f)) continue;
      macho_cache *c = open_filled(n, (macho_filter)f, p);
      if (!c) {
        fprintf(stderr, "bench_filters: cannot open and fill the %s cache\n",
                macho_filter_name((macho_filter)f));
        return 1;
      }
      uint64_t hits = 0;
      double a = time_gets(c, ABSENT_BASE + (uint64_t)r * q, q, &hits);
      uint64_t mstart = (uint64_t)r * q % (n - q + 1); /* a different slice of members each round */
      double m = time_gets(c, mstart, q, &hits);
      if (a < absent[f]) absent[f] = a;
      if (m < member[f]) member[f] = m;
      macho_counters ct;
      if (macho_counters_get(c, -1, &ct) != MACHO_OK) return 1;
      mem[f] = ct.memory_bytes;
      fp[f] = ct.filter_queries ? (double)ct.filter_false_positives / (double)(ct.filter_queries - ct.hits) : 0;
      macho_close(c);
    }
  }
  printf("bench_filters: N = %llu entries, p = %g, %d rounds of %llu absent + present gets, best round\n",
         (unsigned long long)n, p, ROUNDS, (unsigned long long)q);
  printf("%-7s %10s %8s %10s %8s %10s %10s %9s\n", "filter", "absent ns", "ratio", "present ns",
         "ratio", "memory MB", "filter MB", "fp");
  for (int f = 0; f < MACHO_FILTER_COUNT; f++) {
    if (!macho_filter_available((macho_filter)f)) continue;
    printf("%-7s %10.1f %8.2f %10.1f %8.2f %10.1f %10.2f %9.5f\n", macho_filter_name((macho_filter)f),
           absent[f], absent[f] / absent[0], member[f], member[f] / member[0], mem[f] / 1e6,
           ((double)mem[f] - (double)mem[0]) / 1e6, fp[f]);
  }
  /* One xor rebuild from n hashes, the best of three. */
  const macho__filter_ops *xo = macho__filters[MACHO_FILTER_XOR];
  macho__alloc a = {.held = 0};
  void *xf;
  uint64_t *hashes = malloc(n * sizeof *hashes);
  if (xo && hashes && n <= UINT32_MAX && xo->create(&xf, &a, (uint32_t)n, p, 1) == MACHO_OK) {
    double best = INFINITY;
    for (int r = 0; r < 3; r++) {
      for (uint64_t i = 0; i < n; i++) hashes[i] = key_of(i ^ 0x5555);
      double t0 = now_s();
      if (xo->rebuild(xf, hashes, (uint32_t)n) != MACHO_OK) break;
      double ns = (now_s() - t0) * 1e9 / (double)n;
      if (ns < best) best = ns;
    }
    printf("xor rebuild from %llu hashes: %.1f ns per key (best of 3)\n", (unsigned long long)n, best);
    xo->destroy(xf, &a);
  }
  free(hashes);
  return 0;
}
