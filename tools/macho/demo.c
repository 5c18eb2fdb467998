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
 * machine. The dashboard listens on loopback unless --listen names another
 * address, which then needs --token. Everything is checked -- policy, sizes,
 * the listen address, the token, the configuration of every cache to open --
 * before the first line is printed, and the dashboard is started before the
 * banner, so an occupied port is an error, not a banner and then an error.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <macho/macho.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct demo_opts {
  cli_base base;
  const char *policy, *listen, *token;
  uint64_t shards, capacity, keys, port;
  double seconds;
  bool dashboard, manage, json, mrc;
  /* set by check/run */
  uint64_t threads;
  macho_policy policies[MACHO_POLICY_COUNT];
  int npolicies;
  char listen_addr[300];
  const uint64_t *streams; /* threads x STREAM_LEN pre-drawn keys */
} demo_opts;

/* 2^20 keys per worker (8 MiB): a period ten times the default capacity. */
#define STREAM_LEN ((size_t)1 << 20)

typedef struct worker {
  macho_cache *cache;
  const demo_opts *o;
  uint64_t seed, ops;
  volatile int *stop;
  int error; /* a put's status other than MACHO_OK, reported by the main thread */
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
  /* At least one batch, however soon the main thread says stop: a worker
   * scheduled late on a busy machine still measures something. */
  do {
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
          w->error = rc;
          *w->stop = 1;
          break;
        }
      }
      ops++;
    }
    if (dash) usleep(1000);
  } while (!*w->stop);
  w->ops = ops;
  return NULL;
}

static void config_for(macho_config *cfg, macho_policy p, const demo_opts *o) {
  macho_config_init(cfg);
  cfg->capacity_entries = o->capacity;
  cfg->shards = (uint32_t)o->shards;
  cfg->policy = p;
  cfg->seed = 42;
  cfg->mrc = o->mrc; /* --mrc: the live miss-ratio curve */
}

/* Run one policy for o->seconds; print its row. */
static int run_one(macho_policy p, const demo_opts *o, bool first) {
  macho_config cfg;
  config_for(&cfg, p, o);
  macho_cache *c;
  int rc = macho_open(&cfg, &c);
  if (rc != MACHO_OK) {
    fprintf(stderr, "macho demo: cannot open a %s cache: %s\n", macho_policy_name(p), macho_strerror(rc));
    return CLI_FAIL;
  }
  macho_dashboard *dash = NULL;
  if (o->dashboard) {
    macho_dashboard_options dopts;
    macho_dashboard_options_init(&dopts);
    dopts.listen = o->listen_addr;
    dopts.token = o->token;
    dopts.management = o->manage;
    rc = macho_dashboard_start(c, &dopts, &dash);
    if (rc != MACHO_OK) {
      fprintf(stderr, "macho demo: cannot start the dashboard on %s: %s\n", o->listen_addr, macho_strerror(rc));
      macho_close(c);
      return CLI_FAIL;
    }
    if (o->json) {
      printf("{\"dashboard\":");
      cli_json_string(stdout, macho_dashboard_url(dash));
      printf(",\"seconds\":%g}\n", o->seconds);
    } else {
      printf("macho demo: dashboard at %s (for %.0f s)\n", macho_dashboard_url(dash), o->seconds);
    }
    fflush(stdout);
  }
  if (first && !o->json) {
    printf("macho demo: Zipf(0.99) over %llu keys, capacity %llu, %llu shard(s), %llu thread(s), %.1f s per policy\n",
           (unsigned long long)o->keys, (unsigned long long)o->capacity, (unsigned long long)o->shards,
           (unsigned long long)o->threads, o->seconds);
    printf("%-9s %7s %14s %9s %12s %10s %11s\n", "policy", "shards", "ops/s", "hit-ratio", "evictions",
           "entries", "memory-MiB");
    fflush(stdout);
  }
  volatile int stop = 0;
  worker w[64];
  uint64_t n = o->threads, started = 0;
  double t0 = cli_now();
  for (uint64_t i = 0; i < n; i++) {
    w[i] = (worker){.cache = c, .o = o, .seed = 1000 + i, .stop = &stop};
    if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0) break;
    started++;
  }
  /* Sleep in slices so that a failing worker ends the run early. */
  for (double left = o->seconds; left > 0 && !stop; left -= 0.05) usleep((useconds_t)((left < 0.05 ? left : 0.05) * 1e6));
  stop = 1;
  uint64_t ops = 0;
  int error = started < n ? MACHO_ENOMEM : MACHO_OK;
  for (uint64_t i = 0; i < started; i++) {
    pthread_join(w[i].tid, NULL);
    ops += w[i].ops;
    if (w[i].error) error = w[i].error;
  }
  double dt = cli_now() - t0;
  macho_counters s;
  int crc = macho_counters_get(c, -1, &s);
  macho_dashboard_stop(dash);
  macho_close(c);
  if (error != MACHO_OK || crc != MACHO_OK) {
    fprintf(stderr, "macho demo: %s: %s\n", macho_policy_name(p),
            macho_strerror(error != MACHO_OK ? error : crc));
    return CLI_FAIL;
  }
  double hr = s.gets ? (double)s.hits / (double)s.gets : 0;
  if (o->json) {
    printf("{\"policy\":\"%s\",\"shards\":%llu,\"threads\":%llu,\"capacity\":%llu,\"keys\":%llu,"
           "\"seconds\":%.6f,\"ops\":%llu,\"ops_per_second\":%.0f,\"hit_ratio\":%.6f,\"gets\":%llu,"
           "\"hits\":%llu,\"evictions\":%llu,\"entries\":%llu,\"memory_bytes\":%llu}\n",
           macho_policy_name(p), (unsigned long long)o->shards, (unsigned long long)o->threads,
           (unsigned long long)o->capacity, (unsigned long long)o->keys, dt, (unsigned long long)ops,
           (double)ops / dt, hr, (unsigned long long)s.gets, (unsigned long long)s.hits,
           (unsigned long long)s.evictions, (unsigned long long)s.entries, (unsigned long long)s.memory_bytes);
  } else {
    printf("%-9s %7llu %14.0f %9.4f %12llu %10llu %11.1f\n", macho_policy_name(p), (unsigned long long)o->shards,
           (double)ops / dt, hr, (unsigned long long)s.evictions, (unsigned long long)s.entries,
           (double)s.memory_bytes / (1024.0 * 1024.0));
  }
  fflush(stdout);
  return CLI_OK;
}

/* HOST:PORT with HOST an IPv4 address, localhost or [IPv6] (what the
 * dashboard accepts); *loopback says whether it is a loopback address. */
static int parse_listen(const char *s, bool *loopback, char *err, size_t errlen) {
  const char *colon = strrchr(s, ':');
  char host[300];
  if (!colon || colon == s || !colon[1] || strlen(colon + 1) > 5 || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
      strtoul(colon + 1, NULL, 10) > 65535 || (size_t)(colon - s) >= sizeof host)
    goto bad;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  size_t n = strlen(host);
  if (host[0] == '[') {
    unsigned char a6[16];
    if (n < 3 || host[n - 1] != ']') goto bad;
    host[n - 1] = '\0';
    if (inet_pton(AF_INET6, host + 1, a6) != 1) goto bad;
    static const unsigned char one[16] = {[15] = 1};
    *loopback = memcmp(a6, one, 16) == 0;
    return CLI_OK;
  }
  if (!strcmp(host, "localhost")) {
    *loopback = true;
    return CLI_OK;
  }
  unsigned char a4[4];
  if (inet_pton(AF_INET, host, a4) != 1) goto bad;
  *loopback = a4[0] == 127;
  return CLI_OK;
bad:
  return cli_usage_error(err, errlen,
                         "--listen expects HOST:PORT with HOST an IPv4 address, localhost or [IPv6] and "
                         "PORT 0-65535 (0 = any free port), got '%s'",
                         s);
}

static bool token_ok(const char *t) {
  size_t n = strlen(t);
  if (n == 0 || n > 256) return false;
  for (size_t i = 0; i < n; i++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-", t[i])) return false;
  return true;
}

static int demo_check(void *p, char *err, size_t errlen) {
  demo_opts *o = p;
  const cli_spec *s = &cli_spec_demo;
  static const char *const needs_dash[] = {"listen", "port", "manage", "token"};
  for (size_t i = 0; i < 4; i++)
    if (!o->dashboard && cli_given(s, o, needs_dash[i]))
      return cli_usage_error(err, errlen, "--%s needs --dashboard", needs_dash[i]);
  if (cli_given(s, o, "listen") && cli_given(s, o, "port"))
    return cli_usage_error(err, errlen, "--listen or --port, not both (--port N is --listen 127.0.0.1:N)");
  if (o->dashboard) {
    if (!cli_given(s, o, "seconds")) o->seconds = 600;
    if (!cli_given(s, o, "policy")) o->policy = "lru"; /* one cache to watch */
    if (cli_given(s, o, "port")) snprintf(o->listen_addr, sizeof o->listen_addr, "127.0.0.1:%llu", (unsigned long long)o->port);
    else snprintf(o->listen_addr, sizeof o->listen_addr, "%s", o->listen);
    bool loopback = false;
    int rc = parse_listen(o->listen_addr, &loopback, err, errlen);
    if (rc != CLI_OK) return rc;
    if (!loopback && !o->token)
      return cli_usage_error(err, errlen, "--listen %s is not a loopback address: it needs --token T "
                                          "(anyone who can reach the port could read the cache)", o->listen_addr);
    if (o->token && !token_ok(o->token))
      return cli_usage_error(err, errlen, "--token must be 1-256 of A-Z a-z 0-9 . _ ~ -");
  }
  o->npolicies = 0;
  if (!strcmp(o->policy, "all")) {
    if (o->dashboard) return cli_usage_error(err, errlen, "--dashboard watches one cache: give one --policy, not all");
    for (int q = 0; q < MACHO_POLICY_COUNT; q++)
      if (macho_policy_available((macho_policy)q)) o->policies[o->npolicies++] = (macho_policy)q;
  } else {
    macho_policy q;
    if (macho_policy_parse(o->policy, &q) != MACHO_OK || !macho_policy_available(q))
      return cli_usage_error(err, errlen, "unknown policy '%s' (expected all or one of %s)", o->policy,
                             cli_policy_names());
    o->policies[o->npolicies++] = q;
  }
  for (int i = 0; i < o->npolicies; i++) {
    macho_config cfg;
    config_for(&cfg, o->policies[i], o);
    const char *why;
    if (macho_config_check(&cfg, &why) != MACHO_OK) return cli_usage_error(err, errlen, "%s", why);
  }
  unsigned cores = cli_cpus();
  o->threads = o->shards < cores ? o->shards : cores;
  if (o->threads > 64) o->threads = 64;
  return CLI_OK;
}

static int demo_run(void *p) {
  demo_opts *o = p;
  uint64_t *streams = malloc(o->threads * STREAM_LEN * sizeof *streams);
  if (!streams) {
    fprintf(stderr, "macho demo: out of memory for the key streams\n");
    return CLI_FAIL;
  }
  for (uint64_t t = 0; t < o->threads; t++) {
    cli_zipf z;
    cli_zipf_init(&z, o->keys, 0.99, 1000 + t);
    for (size_t i = 0; i < STREAM_LEN; i++) streams[t * STREAM_LEN + i] = cli_zipf_next(&z);
  }
  o->streams = streams;
  int rc = CLI_OK;
  for (int i = 0; i < o->npolicies && rc == CLI_OK; i++) rc = run_one(o->policies[i], o, i == 0);
  free(streams);
  return rc;
}

static const cli_option demo_options[] = {
    {CLI_OPT("policy", 'p', CLI_STRING, demo_opts, policy, "P",
             "one policy, or all"), .default_text = "all; lru with --dashboard", .complete = "policy"},
    {CLI_OPT("shards", 0, CLI_U64, demo_opts, shards, "N",
             "shards (one lock each); threads = min(N, CPUs)"), .min = 1, .max = 65536},
    {CLI_OPT("capacity", 0, CLI_U64, demo_opts, capacity, "N",
             "cache capacity in entries"), .min = 1, .max = 4294967296.0},
    {CLI_OPT("keys", 0, CLI_U64, demo_opts, keys, "N",
             "key space the Zipf(0.99) workload draws from"), .min = 1, .max = 1099511627776.0},
    {CLI_OPT("seconds", 0, CLI_DOUBLE, demo_opts, seconds, "S",
             "run time per policy"), .min = 0.01, .max = 86400, .default_text = "1; 600 with --dashboard"},
    {CLI_OPT("json", 0, CLI_FLAG, demo_opts, json, NULL,
             "one JSON object per policy (and the dashboard URL) instead of a table")},
    {CLI_OPT("dashboard", 0, CLI_FLAG, demo_opts, dashboard, NULL,
             "serve the live dashboard of the one cache and print its URL")},
    {CLI_OPT("listen", 0, CLI_STRING, demo_opts, listen, "ADDR:PORT",
             "the dashboard's address: IPv4, localhost or [IPv6]; PORT 0 = any free port; off loopback it needs --token")},
    {CLI_OPT("port", 0, CLI_U64, demo_opts, port, "N",
             "shorthand for --listen 127.0.0.1:N"), .max = 65535, .default_text = "0"},
    {CLI_OPT("manage", 0, CLI_FLAG, demo_opts, manage, NULL,
             "enable the dashboard's clear/get/del endpoints")},
    {CLI_OPT("mrc", 0, CLI_FLAG, demo_opts, mrc, NULL,
             "keep the live miss-ratio curve (config.mrc; gets then take the shard lock)")},
    {CLI_OPT("token", 0, CLI_STRING, demo_opts, token, "T",
             "require this token on every dashboard request (1-256 of A-Za-z0-9._~-)")},
    {0},
};
static const demo_opts demo_defaults = {.policy = "all", .listen = "127.0.0.1:0", .shards = 4, .capacity = 100000,
                                        .keys = 1000000, .seconds = 1.0};

const cli_spec cli_spec_demo = {
    .name = "demo",
    .summary = "run a skewed (Zipf) workload through each policy and print a table",
    .args = "",
    .description =
        "Each worker thread (one per shard, up to the CPU count) replays pre-drawn Zipf(0.99) keys "
        "over a key space larger than the cache: a get, and a put on a miss (cache-aside), so the "
        "hit ratio is the policy's and ops/s measures the cache.\n\n"
        "With --dashboard, one policy runs with the live dashboard serving its cache; keys are then "
        "text (k123, so `macho get URL k123` finds them), some puts carry a TTL and some operations "
        "delete, so every lifespan reason shows up.",
    .examples = "macho demo\nmacho demo --policy s3fifo --shards 1 --json\n"
                "macho demo --dashboard --seconds 120\n"
                "macho demo --dashboard --listen 0.0.0.0:8080 --token s3cret --manage",
    .options = demo_options,
    .opts_size = sizeof(demo_opts),
    .defaults = &demo_defaults,
    .check = demo_check,
    .run = demo_run,
};
