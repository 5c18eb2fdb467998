/*
 * bench_auto.c -- what `auto` and the live miss-ratio curve cost: single-
 * thread throughput (CPU time) and memory of a cache-aside loop (get, and
 * put on a miss) against the fixed policies, in interleaved rounds
 * (A B C ... A B C ...), median with min and max, ratio to S3-FIFO measured
 * in the same run. Figures go to docs/BENCHMARKS.md.
 *
 *   bench_auto [ROUNDS] [CAPACITY] [KEYS]
 *
 * The workload: 2 M requests of a Zipf(0.99) draw over KEYS keys (default
 * 10 x CAPACITY), mixed with scans of never-seen keys (1 request in 8), the
 * same sequence for every cache. CAPACITY (default 4096) puts `auto` in
 * mirror mode; 65536 shows sampled mode.
 */
#include "macho/macho.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct variant {
  const char *name;
  macho_policy policy;
  int mrc;
  double ops[64];
  uint64_t memory, misses;
} variant;

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Zipf over [0, n) by inversion of the generalised harmonic numbers (a table). */
static uint64_t *zipf_keys(size_t n_req, uint64_t n_keys, uint64_t seed) {
  double *cdf = malloc(n_keys * sizeof *cdf), sum = 0;
  for (uint64_t i = 0; i < n_keys; i++) cdf[i] = sum += 1.0 / pow((double)(i + 1), 0.99);
  uint64_t *keys = malloc(n_req * sizeof *keys), x = seed | 1, scan = 1ull << 40;
  for (size_t r = 0; r < n_req; r++) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    uint64_t u = x * 0x2545F4914F6CDD1DULL;
    if ((u & 7) == 0) { /* a scan: a key never seen before */
      keys[r] = scan++;
      continue;
    }
    double v = (double)(u >> 11) / 9007199254740992.0 * sum;
    uint64_t lo = 0, hi = n_keys - 1;
    while (lo < hi) {
      uint64_t mid = (lo + hi) / 2;
      if (cdf[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    keys[r] = lo * 0x9E3779B97F4A7C15ULL; /* spread the ranks over the key space */
  }
  free(cdf);
  return keys;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  size_t cap = argc > 2 ? (size_t)atol(argv[2]) : 4096;
  uint64_t nkeys = argc > 3 ? (uint64_t)atoll(argv[3]) : 10 * cap;
  if (rounds < 1 || rounds > 64) rounds = 7;
  const size_t n = 2000000;
  uint64_t *keys = zipf_keys(n, nkeys, 42);
  variant v[] = {
      {"s3fifo", MACHO_POLICY_S3FIFO, 0, {0}, 0, 0},   {"wtinylfu", MACHO_POLICY_WTINYLFU, 0, {0}, 0, 0},
      {"lru", MACHO_POLICY_LRU, 0, {0}, 0, 0},         {"arc", MACHO_POLICY_ARC, 0, {0}, 0, 0},
      {"auto", MACHO_POLICY_AUTO, 0, {0}, 0, 0},       {"s3fifo+mrc", MACHO_POLICY_S3FIFO, 1, {0}, 0, 0},
      {"lru+mrc", MACHO_POLICY_LRU, 1, {0}, 0, 0},
  };
  const int nv = (int)(sizeof v / sizeof v[0]);
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < nv; i++) {
      macho_config cfg;
      macho_config_init(&cfg);
      cfg.capacity_entries = cap;
      cfg.ttl_seconds = 0;
      cfg.metrics = 0;
      cfg.policy = v[i].policy;
      cfg.mrc = v[i].mrc;
      macho_cache *c;
      if (macho_open(&cfg, &c) != MACHO_OK) return 1;
      char buf[8];
      uint64_t misses = 0;
      double t0 = cpu_now();
      for (size_t k = 0; k < n; k++) {
        if (macho_get(c, &keys[k], 8, buf, sizeof buf, NULL) == MACHO_OK) continue;
        misses++;
        if (macho_put(c, &keys[k], 8, "v", 1) != MACHO_OK) return 1;
      }
      v[i].ops[r] = (double)n / (cpu_now() - t0);
      macho_counters ct;
      if (macho_counters_get(c, -1, &ct) != MACHO_OK) return 1;
      v[i].memory = ct.memory_bytes;
      v[i].misses = misses;
      macho_close(c);
    }
  double base[64];
  memcpy(base, v[0].ops, sizeof base);
  qsort(base, (size_t)rounds, sizeof *base, cmp);
  double base_med = base[rounds / 2];
  printf("capacity %zu, %zu requests (Zipf 0.99 over %llu keys + 1/8 scans), %d interleaved rounds, 1 thread\n",
         cap, n, (unsigned long long)nkeys, rounds);
  printf("%-12s %10s %10s %10s %9s %10s %12s %10s\n", "variant", "Mreq/s", "min", "max", "vs s3fifo", "miss ratio",
         "memory", "B/entry");
  for (int i = 0; i < nv; i++) {
    qsort(v[i].ops, (size_t)rounds, sizeof *v[i].ops, cmp);
    printf("%-12s %10.2f %10.2f %10.2f %8.2fx %10.4f %12llu %10.1f\n", v[i].name, v[i].ops[rounds / 2] / 1e6,
           v[i].ops[0] / 1e6, v[i].ops[rounds - 1] / 1e6, v[i].ops[rounds / 2] / base_med,
           (double)v[i].misses / (double)n, (unsigned long long)v[i].memory, (double)v[i].memory / (double)cap);
  }
  free(keys);
  return 0;
}
