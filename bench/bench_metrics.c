/*
 * bench_metrics.c -- what metrics cost: cache-aside throughput with
 * config.metrics = 0 (counters only), 1 (sampled latency + lifespans, the
 * default) and 2 (every call timed), measured in the same run.
 *
 * The machine is shared and noisy, so the three caches are open side by side
 * and the loop alternates short slices between them (0,1,2,0,1,2,... each
 * slice the same ops on the same skewed key stream). Noise then lands on all
 * three alike. Each slice is timed in CPU time of the thread
 * (CLOCK_THREAD_CPUTIME_ID), so time spent descheduled does not count; the
 * report gives total ops per CPU-second per configuration, the ratio to
 * metrics = 0, and the median of the per-triple ratios (robust to a slice
 * that caught a burst of interference). Keys: a precomputed stream skewed as
 * u^3 over 1M keys, capacity 100k over 4 shards.
 *
 *   bench_metrics [slices=300] [ops_per_slice=20000]
 */
#include <macho/macho.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYS (1u << 20)

static uint64_t *stream;

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Run ops get-or-put operations from stream[offset...]; returns CPU seconds. */
static double slice(macho_cache *c, uint64_t offset, uint64_t ops) {
  char val[64], buf[64];
  memset(val, 'v', sizeof val);
  double t0 = thread_cpu_s();
  for (uint64_t i = 0; i < ops; i++) {
    uint64_t k = stream[(i + offset) & (KEYS - 1)];
    size_t n;
    if (macho_get(c, &k, sizeof k, buf, sizeof buf, &n) != MACHO_OK &&
        macho_put(c, &k, sizeof k, val, sizeof val) != MACHO_OK)
      abort();
  }
  return thread_cpu_s() - t0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int slices = argc > 1 ? atoi(argv[1]) : 300;
  uint64_t ops = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000;
  if (slices < 1 || slices > 100000 || ops == 0) {
    fprintf(stderr, "usage: bench_metrics [slices] [ops_per_slice]\n");
    return 2;
  }
  stream = malloc(KEYS * sizeof *stream);
  double *ratio[3] = {malloc((size_t)slices * sizeof(double)), malloc((size_t)slices * sizeof(double)),
                      malloc((size_t)slices * sizeof(double))};
  if (!stream || !ratio[0] || !ratio[1] || !ratio[2]) return 1;
  uint64_t x = 88172645463325252ull;
  for (uint32_t i = 0; i < KEYS; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double u = (double)(x >> 11) * 0x1.0p-53;
    stream[i] = (uint64_t)(u * u * u * 1000000.0);
  }
  macho_cache *c[3];
  for (int m = 0; m < 3; m++) {
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.capacity_entries = 100000;
    cfg.shards = 4;
    cfg.ttl_seconds = 0;
    cfg.metrics = m;
    if (macho_open(&cfg, &c[m]) != MACHO_OK) return 1;
    slice(c[m], 0, KEYS); /* warm: steady state, full cache */
  }
  double total[3] = {0, 0, 0};
  for (int s = 0; s < slices; s++) {
    double t[3];
    uint64_t off = (uint64_t)s * ops;
    for (int m = 0; m < 3; m++) t[m] = slice(c[m], off, ops);
    for (int m = 0; m < 3; m++) {
      total[m] += t[m];
      ratio[m][s] = t[0] / t[m]; /* throughput relative to metrics = 0 */
    }
  }
  printf("bench_metrics: %d interleaved slices x %llu ops per configuration, 1 thread, 4 shards,\n"
         "capacity 100k, 1M skewed keys (u^3), cache-aside get-or-put\n", slices, (unsigned long long)ops);
  printf("%-28s %16s %10s %16s\n", "configuration", "ops/cpu-s", "vs off", "median ratio");
  const char *names[3] = {"metrics=0 (counters only)", "metrics=1 (default, 1/64)", "metrics=2 (every call)"};
  for (int m = 0; m < 3; m++) {
    qsort(ratio[m], (size_t)slices, sizeof(double), cmp_d);
    double tput = (double)slices * (double)ops / total[m];
    printf("%-28s %16.0f %9.3fx %15.3fx\n", names[m], tput, total[0] / total[m], ratio[m][slices / 2]);
  }
  for (int m = 0; m < 3; m++) {
    macho_close(c[m]);
    free(ratio[m]);
  }
  free(stream);
  return 0;
}
