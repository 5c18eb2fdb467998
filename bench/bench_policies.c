/*
 * bench_policies.c -- miss ratios of every policy on the shared traces, and
 * single-thread throughput of every policy on a get/put mix.
 *
 * A stand-in for `macho sim` while it is being built, and a cross-check of it
 * afterwards: it drives the real cache (1 shard, TTL off, 8-byte keys) the way
 * a look-aside cache is used: get, and put on a miss. Traces are read whole
 * into memory through `zcat -f` (gzip or plain text, one integer key per line,
 * `*` lines are checkpoints, not requests).
 *
 *   bench_policies missratio [TRACE_DIR]   table of miss ratios (README sizes)
 *   bench_policies throughput [N]          Mops/s per policy (CPU time, best of 5
 *                                          interleaved rounds of N keys), ratio to LRU
 */
#include "macho/macho.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct trace {
  uint64_t *keys;
  size_t n, cap;
} trace;

static int load(const char *path, trace *t) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "zcat -f '%s'", path);
  FILE *f = popen(cmd, "r");
  if (!f) return -1;
  char line[256];
  t->n = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] < '0' || line[0] > '9') continue; /* '*' checkpoints, blanks */
    if (t->n == t->cap) {
      t->cap = t->cap ? 2 * t->cap : 1 << 16;
      t->keys = realloc(t->keys, t->cap * sizeof *t->keys);
      if (!t->keys) abort();
    }
    t->keys[t->n++] = strtoull(line, NULL, 10);
  }
  return pclose(f) == 0 && t->n > 0 ? 0 : -1;
}

static macho_cache *open_cache(macho_policy p, size_t size) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = size;
  cfg.ttl_seconds = 0;
  cfg.policy = p;
  cfg.metrics = 0;
  macho_cache *c = NULL;
  if (macho_open(&cfg, &c) != MACHO_OK) {
    fprintf(stderr, "cannot open a %s cache of %zu\n", macho_policy_name(p), size);
    exit(1);
  }
  return c;
}

static double miss_ratio(const trace *t, macho_policy p, size_t size) {
  macho_cache *c = open_cache(p, size);
  size_t misses = 0;
  char v = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (macho_get(c, &t->keys[i], 8, &v, 1, NULL) == MACHO_OK) continue;
    misses++;
    if (macho_put(c, &t->keys[i], 8, &v, 1) != MACHO_OK) abort();
  }
  macho_close(c);
  return (double)misses / (double)t->n;
}

static const struct {
  const char *file;
  size_t sizes[3];
} TRACES[] = {
    {"cloudPhysicsIO.txt", {489, 2448, 9794}}, {"lirs_2_pools.trace.gz", {99, 496, 1987}},
    {"lirs_cpp.trace.gz", {12, 61, 244}},      {"lirs_cs.trace.gz", {14, 70, 281}},
    {"lirs_gli.trace.gz", {25, 126, 505}},     {"lirs_loop.trace.gz", {10, 50, 202}},
    {"lirs_multi1.trace.gz", {26, 130, 521}},  {"lirs_multi2.trace.gz", {56, 284, 1136}},
    {"lirs_multi3.trace.gz", {74, 372, 1490}}, {"lirs_ps.trace.gz", {30, 154, 616}},
    {"lirs_sprite.trace.gz", {70, 353, 1415}}, {"lirs_zigzag.trace.gz", {20, 100, 400}},
};

static int run_missratio(const char *dir, const char *only) {
  static const macho_policy POLS[] = {MACHO_POLICY_LRU, MACHO_POLICY_FIFO, MACHO_POLICY_LFU,
                                      MACHO_POLICY_MFU, MACHO_POLICY_SIEVE, MACHO_POLICY_S3FIFO,
                                      MACHO_POLICY_WTINYLFU};
  size_t np = sizeof POLS / sizeof POLS[0];
  printf("%-22s %6s", "trace", "size");
  for (size_t j = 0; j < np; j++) printf(" %9s", macho_policy_name(POLS[j]));
  printf("\n");
  for (size_t i = 0; i < sizeof TRACES / sizeof TRACES[0]; i++) {
    if (only && !strstr(TRACES[i].file, only)) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, TRACES[i].file);
    trace t = {0};
    if (load(path, &t) != 0) {
      fprintf(stderr, "cannot read %s\n", path);
      return 1;
    }
    for (int s = 0; s < 3; s++) {
      printf("%-22s %6zu", TRACES[i].file, TRACES[i].sizes[s]);
      for (size_t j = 0; j < np; j++) printf(" %9.4f", miss_ratio(&t, POLS[j], TRACES[i].sizes[s]));
      printf("\n");
      fflush(stdout);
    }
    free(t.keys);
  }
  return 0;
}

/* CPU time of this process: the machine is shared, and wall time would
 * measure the other builds as much as us (single-threaded, so CPU = work). */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Zipf-like keys (alpha about 1) over 10x the capacity, by inverse transform
 * of a power law: cheap and skewed enough that every policy hits and evicts. */
static void make_keys(uint64_t *keys, size_t n, uint64_t universe) {
  uint64_t x = 88172645463325252ULL;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double u = (double)(x >> 11) / 9007199254740992.0;
    keys[i] = (uint64_t)((double)universe * u * u * u) + 1; /* density ~ k^-2/3 */
  }
}

static int run_throughput(size_t n) {
  enum { NPOL = 8, ROUNDS = 5 };
  const size_t cap = 100000;
  uint64_t *keys = malloc(n * sizeof *keys);
  if (!keys) return 1;
  make_keys(keys, n, 10 * cap);
  static const macho_policy POLS[NPOL] = {MACHO_POLICY_LRU, MACHO_POLICY_FIFO, MACHO_POLICY_RANDOM,
                                          MACHO_POLICY_LFU, MACHO_POLICY_MFU, MACHO_POLICY_SIEVE,
                                          MACHO_POLICY_S3FIFO, MACHO_POLICY_WTINYLFU};
  macho_cache *c[NPOL];
  double best[NPOL] = {0}, hit_ratio[NPOL] = {0};
  for (int j = 0; j < NPOL; j++) c[j] = open_cache(POLS[j], cap);
  /* Rounds interleave the policies so that load from other processes falls
   * on all of them alike; each policy keeps its best round. */
  for (int round = 0; round < ROUNDS; round++) {
    for (int j = 0; j < NPOL; j++) {
      char v[8] = {0};
      size_t ops = 0, hits = 0;
      double t0 = now_s();
      for (size_t i = 0; i < n; i++) {
        ops++;
        if (macho_get(c[j], &keys[i], 8, v, sizeof v, NULL) == MACHO_OK) {
          hits++;
          continue;
        }
        ops++;
        if (macho_put(c[j], &keys[i], 8, v, sizeof v) != MACHO_OK) abort();
      }
      double rate = (double)ops / (now_s() - t0) / 1e6;
      if (rate > best[j]) best[j] = rate;
      hit_ratio[j] = (double)hits / (double)n; /* the last, warm round */
    }
  }
  printf("%-9s %10s %8s %9s\n", "policy", "Mops/s", "vs lru", "hit ratio");
  for (int j = 0; j < NPOL; j++) {
    printf("%-9s %10.2f %8.2f %9.3f\n", macho_policy_name(POLS[j]), best[j], best[j] / best[0],
           hit_ratio[j]);
    macho_close(c[j]);
  }
  free(keys);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "missratio"))
    return run_missratio(argc >= 3 ? argv[2] : "/work/shared/traces", argc >= 4 ? argv[3] : NULL);
  if (argc >= 2 && !strcmp(argv[1], "throughput"))
    return run_throughput(argc >= 3 ? strtoull(argv[2], NULL, 10) : 2000000);
  fprintf(stderr, "usage: %s missratio [TRACE_DIR [FILTER]] | throughput [N]\n", argv[0]);
  return 2;
}
