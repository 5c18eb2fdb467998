/*
 * demo.c -- `macho demo`: a realistic skewed workload through the real cache.
 *
 * Keys follow Zipf(0.99) over a key space 10x the capacity (the shape of web
 * and key-value traces); each operation is a get, and a miss is followed by a
 * put of the value (cache-aside), so the hit ratio is the policy's. Worker
 * threads, one per shard up to the core count, share one cache.
 */
#include "cli.h"

#include <macho/macho.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct demo_opts {
  const char *policy;
  uint64_t shards, capacity, keys, threads;
  double seconds;
} demo_opts;

typedef struct worker {
  macho_cache *cache;
  const demo_opts *o;
  uint64_t seed, ops;
  volatile int *stop;
  pthread_t tid;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  cli_zipf z;
  cli_zipf_init(&z, w->o->keys, 0.99, w->seed);
  char val[64];
  memset(val, 'v', sizeof val);
  uint64_t ops = 0;
  while (!*w->stop) {
    for (int i = 0; i < 1024; i++) {
      uint64_t k = cli_zipf_next(&z);
      char buf[64];
      size_t n;
      if (macho_get(w->cache, &k, sizeof k, buf, sizeof buf, &n) == MACHO_ENOTFOUND) {
        int rc = macho_put(w->cache, &k, sizeof k, val, sizeof val);
        if (rc != MACHO_OK) {
          fprintf(stderr, "macho demo: put failed: %s\n", macho_strerror(rc));
          exit(CLI_FAIL);
        }
      }
      ops++;
    }
  }
  w->ops = ops;
  return NULL;
}

static int run_one(macho_policy p, const demo_opts *o) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = o->capacity;
  cfg.shards = (uint32_t)o->shards;
  cfg.policy = p;
  cfg.seed = 42;
  macho_cache *c;
  const char *why;
  if (macho_config_check(&cfg, &why) != MACHO_OK) {
    fprintf(stderr, "macho demo: %s\n", why);
    return CLI_USAGE;
  }
  int rc = macho_open(&cfg, &c);
  if (rc != MACHO_OK) {
    fprintf(stderr, "macho demo: cannot open cache: %s\n", macho_strerror(rc));
    return CLI_FAIL;
  }
  volatile int stop = 0;
  worker w[64];
  uint64_t n = o->threads;
  double t0 = cli_now();
  for (uint64_t i = 0; i < n; i++) {
    w[i] = (worker){.cache = c, .o = o, .seed = 1000 + i, .stop = &stop};
    pthread_create(&w[i].tid, NULL, work, &w[i]);
  }
  usleep((useconds_t)(o->seconds * 1e6));
  stop = 1;
  uint64_t ops = 0;
  for (uint64_t i = 0; i < n; i++) {
    pthread_join(w[i].tid, NULL);
    ops += w[i].ops;
  }
  double dt = cli_now() - t0;
  macho_counters s;
  if (macho_counters_get(c, -1, &s) != MACHO_OK) return CLI_FAIL;
  double hr = s.gets ? (double)s.hits / (double)s.gets : 0;
  printf("%-9s %7llu %14.0f %9.4f %12llu %10llu %11.1f\n", macho_policy_name(p),
         (unsigned long long)o->shards, (double)ops / dt, hr, (unsigned long long)s.evictions,
         (unsigned long long)s.entries, (double)s.memory_bytes / (1024.0 * 1024.0));
  macho_close(c);
  return CLI_OK;
}

int cmd_demo(int argc, char **argv) {
  demo_opts o = {.policy = "all", .shards = 4, .capacity = 100000, .keys = 1000000, .seconds = 1.0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = true;
    if (!strcmp(a, "--policy") && v) o.policy = v;
    else if (!strcmp(a, "--shards") && v) ok = cli_parse_u64(a, v, 1, 65536, &o.shards);
    else if (!strcmp(a, "--capacity") && v) ok = cli_parse_u64(a, v, 1, 1ull << 32, &o.capacity);
    else if (!strcmp(a, "--keys") && v) ok = cli_parse_u64(a, v, 1, 1ull << 40, &o.keys);
    else if (!strcmp(a, "--seconds") && v) ok = cli_parse_double(a, v, 0.01, 3600, &o.seconds);
    else {
      fprintf(stderr, "macho demo: unknown or incomplete option '%s'\nusage: %s", a, cli_find("demo")->usage);
      return CLI_USAGE;
    }
    if (!ok) return CLI_USAGE;
    i++;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  o.threads = o.shards < (uint64_t)cores ? o.shards : (uint64_t)cores;
  if (o.threads < 1) o.threads = 1;
  if (o.threads > 64) o.threads = 64;
  printf("macho demo: Zipf(0.99) over %llu keys, capacity %llu, %llu shard(s), %llu thread(s), %.1f s per policy\n",
         (unsigned long long)o.keys, (unsigned long long)o.capacity, (unsigned long long)o.shards,
         (unsigned long long)o.threads, o.seconds);
  printf("%-9s %7s %14s %9s %12s %10s %11s\n", "policy", "shards", "ops/s", "hit-ratio", "evictions",
         "entries", "memory-MiB");
  if (strcmp(o.policy, "all") != 0) {
    macho_policy p;
    if (macho_policy_parse(o.policy, &p) != MACHO_OK || !macho_policy_available(p)) {
      fprintf(stderr, "macho demo: unknown policy '%s'\n", o.policy);
      return CLI_USAGE;
    }
    return run_one(p, &o);
  }
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    if (!macho_policy_available((macho_policy)p)) continue;
    int rc = run_one((macho_policy)p, &o);
    if (rc != CLI_OK) return rc;
  }
  return CLI_OK;
}
