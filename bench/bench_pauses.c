/*
 * bench_pauses.c -- how long macho_resize and macho_save make other threads
 * wait (issue 12: "shrinking evicts ... without stopping readers for long
 * (report the longest pause)", "a save of 1M entries must not block gets for
 * more than a bounded slice").
 *
 * One cache of N entries (8-byte keys and values, LRU, 1 shard, so that
 * every call meets the one lock). One worker thread -- a reader getting keys
 * of the resident set, or, in the other half of the rounds, a writer putting
 * them -- times every call (one worker, so that with the main thread the two
 * cores are not oversubscribed and a pause is the cache's, not the
 * scheduler's); meanwhile the main thread runs one action:
 *   quiet   nothing (the baseline: what a call's worst case is anyway on this
 *           machine, scheduling included)
 *   shrink  macho_resize to N/10 entries (evicting 90 % in slices, then a
 *           rebuild of the table); growing back is left out: the puts that
 *           refill the cache grow its table themselves, a cost of their own
 *   save    macho_save of all N entries to a temporary file
 * Rounds interleave the actions and workers (quiet shrink save with a reader,
 * the same with a writer, again, ...); each reports the longest call and the
 * 99.99th percentile over the action's duration. The figure that matters is the longest pause an action
 * adds to the quiet round's worst case in the same run.
 *
 *   bench_pauses [entries] [rounds]     default 1000000 7
 */
#include <macho/macho.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

#define MAXLAT (1u << 22) /* samples kept per thread per round */

typedef struct worker {
  macho_cache *c;
  uint64_t n;
  int put; /* 1 = writer, 0 = reader */
  atomic_int *go, *stop;
  uint32_t *lat; /* ns, capped at 2^32 - 1 */
  size_t nlat;
  uint64_t max;
} worker;

static void *work(void *p) {
  worker *w = p;
  uint64_t x = w->put ? 99 : 7, v = 1;
  while (!atomic_load(w->go)) {
  }
  while (!atomic_load(w->stop)) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t k = (x >> 16) % w->n;
    char out[8];
    uint64_t t0 = now_ns();
    int rc = w->put ? macho_put(w->c, &k, 8, &v, 8) : macho_get(w->c, &k, 8, out, sizeof out, NULL);
    uint64_t d = now_ns() - t0;
    (void)rc; /* misses after a shrink are expected */
    if (d > w->max) w->max = d;
    if (w->nlat < MAXLAT) w->lat[w->nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
  }
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static double pct(uint32_t *lat, size_t n, double q) {
  if (!n) return 0;
  qsort(lat, n, sizeof *lat, cmp_u32);
  size_t i = (size_t)(q * (double)(n - 1));
  return lat[i];
}

static void fill(macho_cache *c, uint64_t n) {
  for (uint64_t k = 0; k < n; k++)
    if (macho_put(c, &k, 8, &k, 8) != MACHO_OK) {
      fprintf(stderr, "bench_pauses: put failed\n");
      exit(1);
    }
}

enum { QUIET, SHRINK, SAVE, NACTIONS };
static const char *const names[NACTIONS] = {"quiet", "shrink", "save"};

typedef struct result {
  double max, p9999, action_ms;
} result;

static result round_of(int action, int put, uint64_t n, const char *path) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = n;
  cfg.shards = 1;
  cfg.policy = MACHO_POLICY_LRU;
  cfg.ttl_seconds = 0;
  macho_cache *c = NULL;
  if (macho_open(&cfg, &c) != MACHO_OK) exit(1);
  fill(c, n);
  atomic_int go = 0, stop = 0;
  worker w = {c, n, put, &go, &stop, malloc(MAXLAT * sizeof(uint32_t)), 0, 0};
  if (!w.lat) exit(1);
  pthread_t t;
  pthread_create(&t, NULL, work, &w);
  atomic_store(&go, 1);
  usleep(20000); /* the worker is running */
  uint64_t t0 = now_ns();
  int rc = MACHO_OK;
  if (action == SHRINK) {
    rc = macho_resize(c, n / 10, MACHO_RESIZE_KEEP);
  } else if (action == SAVE) {
    rc = macho_save(c, path);
  } else {
    usleep(100000);
  }
  uint64_t t1 = now_ns();
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  if (rc != MACHO_OK) {
    fprintf(stderr, "bench_pauses: %s: %s\n", names[action], macho_strerror(rc));
    exit(1);
  }
  result r = {(double)w.max, pct(w.lat, w.nlat, 0.9999), (double)(t1 - t0) / 1e6};
  free(w.lat);
  macho_close(c);
  return r;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void summary(const char *what, double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  printf(" %s %.1f [%.1f-%.1f]", what, v[n / 2], v[0], v[n - 1]);
}

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
  int rounds = argc > 2 ? atoi(argv[2]) : 7;
  if (n < 100 || rounds < 1 || rounds > 99) {
    fprintf(stderr, "usage: bench_pauses [entries >= 100] [rounds 1-99]\n");
    return 2;
  }
  char path[] = "/tmp/macho-bench-pauses-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  result res[2][NACTIONS][99];
  (void)round_of(QUIET, 0, n, path); /* warm-up */
  for (int r = 0; r < rounds; r++)
    for (int put = 0; put < 2; put++)
      for (int a = 0; a < NACTIONS; a++) res[put][a][r] = round_of(a, put, n, path);
  unlink(path);
  printf("# bench_pauses: %llu entries of 8+8 B, LRU, 1 shard; one worker timing every call while the main"
         " thread acts; %d interleaved rounds; median [min-max] over rounds, microseconds\n",
         (unsigned long long)n, rounds);
  for (int put = 0; put < 2; put++)
    for (int a = 0; a < NACTIONS; a++) {
      double v[99];
      printf("%-4s while %-7s", put ? "put" : "get", names[a]);
      for (int r = 0; r < rounds; r++) v[r] = res[put][a][r].max / 1e3;
      summary("longest", v, rounds);
      for (int r = 0; r < rounds; r++) v[r] = res[put][a][r].p9999 / 1e3;
      summary("p99.99", v, rounds);
      for (int r = 0; r < rounds; r++) v[r] = res[put][a][r].action_ms;
      summary("action ms", v, rounds);
      printf("\n");
    }
  return 0;
}
