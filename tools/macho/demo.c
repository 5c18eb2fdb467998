/*
 * demo.c -- `macho demo`: a realistic skewed workload through the real cache.
 *
 * Keys follow Zipf(0.99) over a key space 10x the capacity (the shape of web
 * and key-value traces); each operation is a get, and a miss is followed by a
 * put of the value (cache-aside), so the hit ratio is the policy's. Worker
 * threads, one per shard up to the core count, share one cache. Each worker's
 * keys are drawn once, before any policy runs (a Zipf draw costs a pow(), more
 * than a cache get), and replayed in a loop: every policy sees the same
 * requests, and ops/s measures the cache, not the generator.
 *
 * With --dashboard one policy runs with the live dashboard serving its cache
 * (URL printed on stdout). Keys are then text ("k123", so `macho get URL k123`
 * finds them), one put in ten carries a short TTL and one operation in a
 * hundred is a delete, so every lifespan reason shows up; workers pause
 * briefly every 1024 operations so that the page stays responsive on a busy
 * machine.
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
  bool dashboard, manage, seconds_given;
  uint64_t port;
  const char *token;
  const uint64_t *streams; /* threads x STREAM_LEN pre-drawn keys */
} demo_opts;

/* 2^20 keys per worker (8 MiB): a period ten times the default capacity. */
#define STREAM_LEN ((size_t)1 << 20)

typedef struct worker {
  macho_cache *cache;
  const demo_opts *o;
  uint64_t seed, ops;
  volatile int *stop;
  pthread_t tid;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  const uint64_t *stream = w->o->streams + (size_t)(w->seed - 1000) * STREAM_LEN;
  size_t pos = 0;
  char val[64];
  memset(val, 'v', sizeof val);
  uint64_t ops = 0, rng = w->seed;
  const bool dash = w->o->dashboard;
  while (!*w->stop) {
    for (int i = 0; i < 1024; i++) {
      uint64_t k = stream[pos];
      if (++pos == STREAM_LEN) pos = 0;
      char text[24], buf[64];
      const void *key = &k;
      size_t klen = sizeof k, n;
      if (dash) {
        klen = (size_t)snprintf(text, sizeof text, "k%llu", (unsigned long long)k);
        key = text;
      }
      uint64_t r = dash ? cli_rand(&rng) % 100 : 100;
      if (r == 0) {
        if (macho_delete(w->cache, key, klen) == MACHO_OK) ops += 0; /* absent is fine */
      } else if (macho_get(w->cache, key, klen, buf, sizeof buf, &n) == MACHO_ENOTFOUND) {
        int rc = r < 10 ? macho_put_ttl(w->cache, key, klen, val, sizeof val, 0.5 + (double)r)
                        : macho_put(w->cache, key, klen, val, sizeof val);
        if (rc != MACHO_OK) {
          fprintf(stderr, "macho demo: put failed: %s\n", macho_strerror(rc));
          exit(CLI_FAIL);
        }
      }
      ops++;
    }
    if (dash) usleep(1000);
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
  macho_dashboard *dash = NULL;
  if (o->dashboard) {
    macho_dashboard_options dopts;
    macho_dashboard_options_init(&dopts);
    char listen[64];
    snprintf(listen, sizeof listen, "%s:%llu", o->token ? "0.0.0.0" : "127.0.0.1",
             (unsigned long long)o->port);
    dopts.listen = listen;
    dopts.token = o->token;
    dopts.management = o->manage;
    rc = macho_dashboard_start(c, &dopts, &dash);
    if (rc != MACHO_OK) {
      fprintf(stderr, "macho demo: cannot start the dashboard on %s: %s\n", listen, macho_strerror(rc));
      macho_close(c);
      return CLI_FAIL;
    }
    printf("macho demo: dashboard at %s (for %.0f s)\n", macho_dashboard_url(dash), o->seconds);
    fflush(stdout);
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
  macho_dashboard_stop(dash);
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
    else if (!strcmp(a, "--seconds") && v) ok = o.seconds_given = cli_parse_double(a, v, 0.01, 86400, &o.seconds);
    else if (!strcmp(a, "--port") && v) ok = cli_parse_u64(a, v, 0, 65535, &o.port);
    else if (!strcmp(a, "--token") && v) o.token = v;
    else if (!strcmp(a, "--dashboard") || !strcmp(a, "--manage")) {
      if (!strcmp(a, "--dashboard")) o.dashboard = true;
      else o.manage = true;
      continue; /* flags take no value */
    } else {
      fprintf(stderr, "macho demo: unknown or incomplete option '%s'\nusage: %s", a, cli_find("demo")->usage);
      return CLI_USAGE;
    }
    if (!ok) return CLI_USAGE;
    i++;
  }
  if (o.dashboard && !o.seconds_given) o.seconds = 600;
  if (o.dashboard && !strcmp(o.policy, "all")) o.policy = "lru"; /* one cache to watch */
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  o.threads = o.shards < (uint64_t)cores ? o.shards : (uint64_t)cores;
  if (o.threads < 1) o.threads = 1;
  if (o.threads > 64) o.threads = 64;
  uint64_t *streams = malloc(o.threads * STREAM_LEN * sizeof *streams);
  if (!streams) {
    fprintf(stderr, "macho demo: out of memory for the key streams\n");
    return CLI_FAIL;
  }
  for (uint64_t t = 0; t < o.threads; t++) {
    cli_zipf z;
    cli_zipf_init(&z, o.keys, 0.99, 1000 + t);
    for (size_t i = 0; i < STREAM_LEN; i++) streams[t * STREAM_LEN + i] = cli_zipf_next(&z);
  }
  o.streams = streams;
  printf("macho demo: Zipf(0.99) over %llu keys, capacity %llu, %llu shard(s), %llu thread(s), %.1f s per policy\n",
         (unsigned long long)o.keys, (unsigned long long)o.capacity, (unsigned long long)o.shards,
         (unsigned long long)o.threads, o.seconds);
  printf("%-9s %7s %14s %9s %12s %10s %11s\n", "policy", "shards", "ops/s", "hit-ratio", "evictions",
         "entries", "memory-MiB");
  if (strcmp(o.policy, "all") != 0) {
    macho_policy p;
    if (macho_policy_parse(o.policy, &p) != MACHO_OK || !macho_policy_available(p)) {
      fprintf(stderr, "macho demo: unknown policy '%s'\n", o.policy);
      free(streams);
      return CLI_USAGE;
    }
    int rc = run_one(p, &o);
    free(streams);
    return rc;
  }
  int rc = CLI_OK;
  for (int p = 0; p < MACHO_POLICY_COUNT && rc == CLI_OK; p++)
    if (macho_policy_available((macho_policy)p)) rc = run_one((macho_policy)p, &o);
  free(streams);
  return rc;
}
