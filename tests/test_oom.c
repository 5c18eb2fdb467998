/*
 * test_oom.c -- every allocation failure is a status, never a crash, a leak
 * or a wrong answer.
 *
 * The pattern of libuv's test-loop-oom: run a scenario with allocation n
 * failing, for n = 1, 2, 3 ... until the scenario runs through without
 * reaching n. Each scenario is run twice per n: with only allocation n
 * failing, and with every allocation from n on failing (memory stays
 * exhausted). Scenarios: open (every policy and filter), filling past
 * capacity with gets, replaces, deletes, a clear and key snapshots; values
 * of 100 B to 6 KiB (payloads outside the index); TTL churn
 * on an injected clock with macho_expire; each filter under churn (the xor
 * filter's rebuilds allocate); metrics with stats snapshots and resets; an
 * object-mode cache with clears and snapshots; slab growth of a full shard;
 * the dashboard's start and its requests.
 *
 * At every n:
 *   - a call returns MACHO_OK (or its normal status: ENOTFOUND, ERANGE) or
 *     MACHO_ENOMEM, and MACHO_ENOMEM only when an allocation failed during
 *     that very call;
 *   - a failed put changes nothing: its key keeps its old value (or stays
 *     absent) and no live entry leaves;
 *   - the cache stays consistent with a model of what the scenario did:
 *     every key it lists or returns holds the value last written to it and
 *     was not deleted or cleared since; no shard above capacity; hits +
 *     misses = gets, puts and deletes as done, and entries = new entries -
 *     evictions - expirations - deletes - cleared;
 *   - after macho_close the allocator holds no block and no byte.
 * tests/support.c's test_alloc counts; the figures (runs, failures
 * injected) are printed and recorded in docs/RELIABILITY.md. Under a
 * sanitizer (MACHO_SANITIZED) the scenarios are half as long (the sweep's
 * cost grows with the square of their length); every allocation point of
 * the shorter scenarios is still failed.
 */
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_N 20000 /* no scenario needs anywhere near this many allocations */
#define NK 2048     /* model keys */
#define SEC 1000000000ull
#define MS 1000000ull

/* ---- the world of one run ------------------------------------------------------- */

typedef struct world {
  test_alloc ta;
  macho_allocator hooks;
  test_clock clk;
  macho_cache *c;
  const char *scenario;
  uint64_t n;
  bool persistent;
  /* model */
  bool held[NK];         /* put since the last clear/delete (it may have been evicted or expired) */
  uint64_t val[NK];      /* last value written */
  uint64_t deadline[NK]; /* 0 = never */
  uint64_t universe;     /* keys the scenario uses: 0 .. universe-1 */
  uint64_t puts, deletes, inserts, cleared;
  uint64_t enomem;       /* calls that returned MACHO_ENOMEM */
  uint64_t calls_before;
} world;

static void fail_in(const world *w, const char *msg) {
  fail_msg("%s, allocation %llu failing%s: %s", w->scenario, (unsigned long long)w->n,
           w->persistent ? " and every later one" : "", msg);
}

static void world_init(world *w, const char *scenario, uint64_t n, bool persistent) {
  memset(w, 0, sizeof *w);
  w->scenario = scenario;
  w->n = n;
  w->persistent = persistent;
  w->hooks = test_alloc_hooks(&w->ta);
  w->clk.now_ns = 1000 * SEC;
  w->universe = NK;
}

static void arm(world *w) {
  w->ta.fail_all_after = w->persistent;
  w->ta.fail_at = w->ta.calls + w->n;
}

/* Whether the armed allocation was reached; stops failing. */
static bool disarm(world *w) {
  bool reached = w->ta.fail_at && w->ta.calls >= w->ta.fail_at;
  w->ta.fail_at = 0;
  return reached;
}

static void begin(world *w) { w->calls_before = w->ta.calls; }

/* The status of the call since begin(): MACHO_ENOMEM only if an allocation
 * failed during it. */
static int end(world *w, int rc) {
  uint64_t after = w->ta.calls, at = w->ta.fail_at;
  bool failed_here = at && after >= at && after > w->calls_before &&
                     (w->persistent || w->calls_before < at);
  if (rc == MACHO_ENOMEM) {
    if (!failed_here) fail_in(w, "MACHO_ENOMEM without a failed allocation");
    w->enomem++;
  }
  return rc;
}

static macho_config base_config(world *w) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.allocator = &w->hooks;
  cfg.clock = test_clock_fn;
  cfg.clock_ctx = &w->clk;
  cfg.ttl_seconds = 0;
  cfg.seed = test_seed();
  return cfg;
}

/* Open with the allocator armed. Returns false when open failed (cleanly). */
static bool open_armed(world *w, const macho_config *cfg) {
  arm(w);
  w->c = (macho_cache *)w; /* must be reset to NULL on failure */
  begin(w);
  int rc = end(w, macho_open(cfg, &w->c));
  if (rc == MACHO_ENOMEM) {
    if (w->c) fail_in(w, "a failed open left *out set");
    if (w->ta.live_blocks || w->ta.live_bytes) fail_in(w, "a failed open leaked");
    return false;
  }
  if (rc != MACHO_OK) fail_in(w, macho_strerror(rc));
  return true;
}

static void close_and_check_leaks(world *w) {
  macho_close(w->c);
  w->c = NULL;
  if (w->ta.live_blocks != 0 || w->ta.live_bytes != 0)
    fail_msg("%s, allocation %llu: %lld blocks / %lld bytes left after close", w->scenario,
             (unsigned long long)w->n, (long long)w->ta.live_blocks, (long long)w->ta.live_bytes);
}

static bool model_live(const world *w, uint64_t k) {
  return w->held[k] && (!w->deadline[k] || w->deadline[k] > w->clk.now_ns);
}

/* ---- operations with their model ----------------------------------------------- */

static uint64_t value_of(uint64_t k, uint64_t stamp) { return k << 40 | (stamp & 0xffffffffffull); }

enum { VMAX = 8192 }; /* largest value a scenario writes */

static void w_put(world *w, uint64_t k, size_t vlen, double ttl) {
  static char v[VMAX];
  uint64_t stamp = w->puts + w->enomem * 7919 + 1;
  uint64_t x = value_of(k, stamp);
  memset(v, (int)(k & 0xff), sizeof v);
  if (vlen >= 8) memcpy(v, &x, 8);
  bool was = macho_contains(w->c, &k, 8) == MACHO_OK;
  macho_counters before = test_counters(w->c);
  begin(w);
  int rc = end(w, ttl >= 0 ? macho_put_ttl(w->c, &k, 8, v, vlen, ttl) : macho_put(w->c, &k, 8, v, vlen));
  if (rc == MACHO_OK) {
    w->puts++;
    if (!was) w->inserts++;
    w->held[k] = true;
    w->val[k] = vlen >= 8 ? x : vlen; /* short values are checked by length */
    uint64_t ttl_ns = ttl > 0 ? (uint64_t)(ttl * 1e9) : 0;
    if (ttl < 0) ttl_ns = 0;
    w->deadline[k] = ttl_ns ? w->clk.now_ns + ttl_ns : 0;
    if (macho_contains(w->c, &k, 8) != MACHO_OK) fail_in(w, "a key just put is absent");
  } else if (rc == MACHO_ENOMEM) {
    /* Nothing changed: same presence, same value, no live entry gone. */
    if ((macho_contains(w->c, &k, 8) == MACHO_OK) != was) fail_in(w, "a failed put changed its key's presence");
    macho_counters after = test_counters(w->c);
    if (after.entries + (after.expirations - before.expirations) != before.entries)
      fail_in(w, "a failed put removed a live entry");
    if (after.evictions != before.evictions) fail_in(w, "a failed put evicted");
  } else {
    fail_in(w, macho_strerror(rc));
  }
}

static void w_get(world *w, uint64_t k) {
  static char v[VMAX];
  size_t n = 0;
  begin(w);
  int rc = end(w, macho_get(w->c, &k, 8, v, sizeof v, &n));
  if (rc == MACHO_OK) {
    if (!model_live(w, k)) fail_in(w, "a get returned a key that was deleted, cleared, expired or never put");
    uint64_t got = n;
    if (n >= 8) memcpy(&got, v, 8);
    if (got != w->val[k]) fail_in(w, "a get returned another value than the last one written");
  } else if (rc != MACHO_ENOTFOUND) {
    fail_in(w, macho_strerror(rc)); /* gets allocate nothing: not even ENOMEM */
  }
}

static void w_delete(world *w, uint64_t k) {
  begin(w);
  int rc = end(w, macho_delete(w->c, &k, 8));
  if (rc == MACHO_OK) {
    if (!model_live(w, k)) fail_in(w, "deleted a key the model does not hold");
    w->deletes++;
  } else if (rc != MACHO_ENOTFOUND) {
    fail_in(w, macho_strerror(rc));
  }
  w->held[k] = false;
}

static void w_clear(world *w) {
  size_t len = macho_len(w->c);
  begin(w);
  int rc = end(w, macho_clear(w->c));
  if (rc != MACHO_OK) fail_in(w, "clear failed"); /* a clear needs no allocation (macho.h) */
  w->cleared += len;
  memset(w->held, 0, sizeof w->held);
  if (macho_len(w->c) != 0) fail_in(w, "entries left after clear");
}

typedef struct listing {
  world *w;
  size_t n;
  bool bad;
} listing;

static int list_key(void *ctx, const void *key, size_t klen) {
  listing *l = ctx;
  uint64_t k;
  l->n++;
  if (klen != 8) return l->bad = true, 0;
  memcpy(&k, key, 8);
  if (k >= NK || !model_live(l->w, k)) l->bad = true;
  return 0;
}

/* A snapshot (may fail with ENOMEM) and, when it works, every listed key
 * read back; then the counters. */
static void w_check(world *w) {
  listing l = {w, 0, false};
  begin(w);
  int rc = end(w, macho_foreach_key(w->c, list_key, &l));
  if (rc != MACHO_OK && rc != MACHO_ENOMEM) fail_in(w, macho_strerror(rc));
  if (l.bad) fail_in(w, "foreach listed a key the model does not hold");
  for (uint64_t k = 0; k < w->universe; k++)
    if (!w->held[k] && macho_contains(w->c, &k, 8) == MACHO_OK) fail_in(w, "a deleted or cleared key is back");
  macho_counters ct = test_counters(w->c);
  if (ct.hits + ct.misses != ct.gets) fail_in(w, "hits + misses != gets");
  if (ct.puts != w->puts) fail_in(w, "puts counter differs from the successful puts");
  if (ct.deletes != w->deletes) fail_in(w, "deletes counter differs from the successful deletes");
  if (ct.entries != macho_len(w->c) || ct.entries > ct.capacity_entries) fail_in(w, "entries out of bounds");
  if (rc == MACHO_OK && l.n > ct.entries) fail_in(w, "foreach listed more keys than entries");
  if (ct.entries != w->inserts - ct.evictions - ct.expirations - w->deletes - w->cleared)
    fail_in(w, "entries != new entries - evictions - expirations - deletes - cleared");
  for (uint32_t s = 0; s < macho_shard_count(w->c); s++) {
    macho_counters sc;
    assert_int_equal(macho_counters_get(w->c, (int)s, &sc), MACHO_OK);
    if (sc.entries > sc.capacity_entries) fail_in(w, "a shard above its capacity");
  }
}

/* After the armed phase: the cache works again once memory is back. */
static void w_recovers(world *w) {
  (void)disarm(w);
  w_check(w);
  uint64_t k = w->universe - 1;
  w_put(w, k, 16, -1);
  w_get(w, k);
  if (!model_live(w, k)) fail_in(w, "a put after the failures did not land");
  w_check(w);
}

/* ---- the sweep ------------------------------------------------------------------- */

typedef bool (*scenario_fn)(world *w); /* returns whether the armed failure was reached */

typedef struct sweep_figures {
  uint64_t runs, injected, enomem;
} sweep_figures;

static sweep_figures total;

static void sweep(const char *name, scenario_fn fn, uint64_t min_points) {
  static world w;
  sweep_figures f = {0, 0, 0};
  uint64_t points = 0;
  for (int persistent = 0; persistent < 2; persistent++) {
    uint64_t n;
    for (n = 1; n < MAX_N; n++) {
      world_init(&w, name, n, persistent);
      bool reached = fn(&w);
      f.runs++;
      f.injected += w.ta.failed;
      f.enomem += w.enomem;
      if (!reached) break;
    }
    if (n >= MAX_N) fail_msg("%s: still reaching allocation %d", name, MAX_N);
    if (!persistent) points = n - 1;
  }
  if (points < min_points)
    fail_msg("%s: only %llu allocation points (expected at least %llu)", name, (unsigned long long)points,
             (unsigned long long)min_points);
  print_message("# %-28s %5llu allocation points, %6llu runs, %7llu failures injected, %6llu ENOMEM returned\n",
                name, (unsigned long long)points, (unsigned long long)f.runs, (unsigned long long)f.injected,
                (unsigned long long)f.enomem);
  total.runs += f.runs;
  total.injected += f.injected;
  total.enomem += f.enomem;
}

/* ---- scenarios -------------------------------------------------------------------- */

static macho_policy open_policy;
static macho_filter open_filter;

static bool scenario_open(world *w) {
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 3000;
  cfg.shards = 3;
  cfg.policy = open_policy;
  cfg.filter = open_filter;
  cfg.filter_fp_rate = 0.01;
  w->universe = 8;
  if (!open_armed(w, &cfg)) return true;
  w_put(w, 1, 8, -1);
  w_get(w, 1);
  bool reached = disarm(w);
  w_recovers(w);
  close_and_check_leaks(w);
  return reached;
}

static void open_fails_cleanly_at_every_allocation_with_every_policy_and_filter(void **state) {
  (void)state;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    if (!macho_policy_available((macho_policy)p)) continue;
    for (int f = 0; f < MACHO_FILTER_COUNT; f++) {
      if (!macho_filter_available((macho_filter)f)) continue;
      /* Every policy without a filter; every filter with LRU and W-TinyLFU. */
      if (f && p != MACHO_POLICY_LRU && p != MACHO_POLICY_WTINYLFU) continue;
      open_policy = (macho_policy)p;
      open_filter = (macho_filter)f;
      char name[64];
      snprintf(name, sizeof name, "open %s/%s", macho_policy_name(open_policy), macho_filter_name(open_filter));
      sweep(name, scenario_open, 3);
    }
  }
}

/* Fill past capacity: new keys (evictions), replaces with other sizes,
 * gets, deletes, a clear, snapshots. Metrics on: each shard's histogram
 * block is a best-effort allocation that fails no call. */
static macho_policy fill_policy;

static bool scenario_fill(world *w) {
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 120;
  cfg.shards = 2;
  cfg.policy = fill_policy;
  cfg.metrics = 1;
  w->universe = 300;
  if (!open_armed(w, &cfg)) return true;
  uint64_t rng = test_seed() ^ 0xf111;
  int steps = (int)test_scale(420, 2); /* cost grows as steps^2: halved under sanitizers */
  for (int i = 0; i < steps; i++) {
    uint64_t x = test_rand(&rng);
    uint64_t k = (x >> 8) % 300;
    unsigned op = (unsigned)(x % 100);
    if (op < 50) w_put(w, k, (size_t)((x >> 20) % 41), -1);
    else if (op < 80) w_get(w, k);
    else if (op < 90) w_delete(w, k);
    else if (op < 99) {
      if (i % 5 == 0) w_check(w);
    } else {
      w_clear(w);
    }
  }
  w_check(w);
  bool reached = disarm(w);
  w_recovers(w);
  close_and_check_leaks(w);
  return reached;
}

static void filling_past_capacity_survives_every_allocation_failure(void **state) {
  (void)state;
  const macho_policy pols[] = {MACHO_POLICY_LRU, MACHO_POLICY_S3FIFO, MACHO_POLICY_WTINYLFU};
  for (size_t i = 0; i < sizeof pols / sizeof pols[0]; i++) {
    fill_policy = pols[i];
    char name[64];
    snprintf(name, sizeof name, "fill past capacity %s", macho_policy_name(fill_policy));
    sweep(name, scenario_fill, 20); /* small payloads live in the table: few allocations */
  }
}

/* TTL churn: own TTLs, the clock moving, expired keys met by gets, puts and
 * the sweep, macho_expire. */
static bool scenario_ttl(world *w) {
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 80;
  cfg.ttl_seconds = 2.005;
  w->universe = 150;
  if (!open_armed(w, &cfg)) return true;
  uint64_t rng = test_seed() ^ 0x771;
  int steps = (int)test_scale(400, 2);
  for (int i = 0; i < steps; i++) {
    uint64_t x = test_rand(&rng);
    uint64_t k = (x >> 8) % 150;
    unsigned op = (unsigned)(x % 100);
    if (op < 30) w_put(w, k, 8, -1);
    else if (op < 45) w_put(w, k, 8, (double)((x >> 30) % 3) + 0.505);
    else if (op < 75) w_get(w, k);
    else if (op < 82) w_delete(w, k);
    else if (op < 92) w->clk.now_ns += 250 * MS;
    else if (op < 96) {
      size_t reclaimed = 0;
      begin(w);
      if (end(w, macho_expire(w->c, &reclaimed)) != MACHO_OK) fail_in(w, "expire failed");
    } else {
      w_check(w);
    }
  }
  w_check(w);
  bool reached = disarm(w);
  w_recovers(w);
  close_and_check_leaks(w);
  return reached;
}

/* Values of 100 B to 6 KiB: payloads that live outside the index (arenas or
 * blocks, whatever the core uses), grown, replaced by other sizes, freed. */
static bool scenario_large(world *w) {
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 60;
  cfg.shards = 2;
  w->universe = 120;
  if (!open_armed(w, &cfg)) return true;
  uint64_t rng = test_seed() ^ 0x1a46e;
  int steps = (int)test_scale(300, 2);
  for (int i = 0; i < steps; i++) {
    uint64_t x = test_rand(&rng);
    uint64_t k = (x >> 8) % 120;
    unsigned op = (unsigned)(x % 100);
    if (op < 55) w_put(w, k, 100 + (size_t)((x >> 24) % 6000), -1);
    else if (op < 85) w_get(w, k);
    else if (op < 95) w_delete(w, k);
    else if (op < 99) w_check(w);
    else w_clear(w);
  }
  w_check(w);
  bool reached = disarm(w);
  w_recovers(w);
  close_and_check_leaks(w);
  return reached;
}

static void large_values_survive_every_allocation_failure(void **state) {
  (void)state;
  sweep("large values (100 B - 6 KiB)", scenario_large, 10);
}

static void ttl_churn_survives_every_allocation_failure(void **state) {
  (void)state;
  sweep("ttl churn", scenario_ttl, 10);
}

/* Every filter under churn; the oracle for "no false negative" is the
 * index: a key macho_contains finds (no filter involved) must be found by a
 * get, also after a failed rebuild of the xor filter. */
static macho_filter churn_filter;

static bool scenario_filter(world *w) {
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 130;
  cfg.shards = 2;
  cfg.filter = churn_filter;
  cfg.filter_fp_rate = 0.01;
  cfg.metrics = 0;
  w->universe = 400;
  if (!open_armed(w, &cfg)) return true;
  uint64_t rng = test_seed() ^ 0xf11e;
  int steps = (int)test_scale(600, 2);
  for (int i = 0; i < steps; i++) {
    uint64_t x = test_rand(&rng);
    uint64_t k = (x >> 8) % 400;
    unsigned op = (unsigned)(x % 100);
    if (op < 55) w_put(w, k, 8, -1);
    else if (op < 85) w_get(w, k);
    else if (op < 97) w_delete(w, k);
    else w_check(w);
    if (macho_contains(w->c, &k, 8) == MACHO_OK) {
      uint64_t v;
      if (macho_get(w->c, &k, 8, &v, sizeof v, NULL) != MACHO_OK) fail_in(w, "the filter forgot a stored key");
    }
  }
  for (uint64_t k = 0; k < 400; k++)
    if (macho_contains(w->c, &k, 8) == MACHO_OK) {
      uint64_t v;
      if (macho_get(w->c, &k, 8, &v, sizeof v, NULL) != MACHO_OK) fail_in(w, "the filter forgot a stored key");
    }
  w_check(w);
  bool reached = disarm(w);
  w_recovers(w);
  close_and_check_leaks(w);
  return reached;
}

static void every_filter_survives_every_allocation_failure(void **state) {
  (void)state;
  const macho_filter fs[] = {MACHO_FILTER_BLOOM, MACHO_FILTER_CUCKOO, MACHO_FILTER_XOR};
  for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
    churn_filter = fs[i];
    char name[64];
    snprintf(name, sizeof name, "filter %s under churn", macho_filter_name(churn_filter));
    sweep(name, scenario_filter, 20);
  }
}

/* Metrics timing every call, snapshots of the whole cache and of shards,
 * resets: a snapshot either fails with ENOMEM (and *out is NULL) or is
 * whole and consistent. */
static bool scenario_metrics(world *w) {
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 60;
  cfg.shards = 3;
  cfg.metrics = 2;
  w->universe = 100;
  if (!open_armed(w, &cfg)) return true;
  uint64_t rng = test_seed() ^ 0x3e7;
  for (int i = 0; i < (int)test_scale(240, 2); i++) {
    uint64_t x = test_rand(&rng);
    uint64_t k = (x >> 8) % 100;
    unsigned op = (unsigned)(x % 100);
    if (op < 45) w_put(w, k, 8, -1);
    else if (op < 85) w_get(w, k);
    else if (op < 90) w_delete(w, k);
    else if (op < 99) {
      macho_stats *st = (macho_stats *)w;
      int shard = (int)((x >> 30) % 4) - 1;
      begin(w);
      int rc = end(w, macho_stats_get(w->c, shard, &st));
      if (rc == MACHO_ENOMEM) {
        if (st) fail_in(w, "a failed snapshot left *out set");
      } else if (rc != MACHO_OK) {
        fail_in(w, macho_strerror(rc));
      } else {
        if (st->counters.hits + st->counters.misses != st->counters.gets) fail_in(w, "an inconsistent snapshot");
        if (st->get_latency_ns.count > st->counters.gets) fail_in(w, "more get samples than gets");
        macho_stats_free(st);
      }
    } else {
      begin(w);
      if (end(w, macho_stats_reset(w->c)) != MACHO_OK) fail_in(w, "stats_reset failed");
      w->puts = w->deletes = 0;
      /* Counters restart: the conservation check restarts from the entries held now. */
      macho_counters ct = test_counters(w->c);
      w->inserts = ct.entries;
      w->cleared = 0;
    }
  }
  w_check(w);
  bool reached = disarm(w);
  w_recovers(w);
  close_and_check_leaks(w);
  return reached;
}

static void metrics_and_snapshots_survive_every_allocation_failure(void **state) {
  (void)state;
  sweep("metrics and snapshots", scenario_metrics, 30);
}

/* Object mode: references are the model. Puts allocate nothing below the
 * first slab's size, so the points are open, the metrics blocks and the
 * key snapshots; a clear needs none. */
typedef struct robj {
  int refs;
  uint64_t id;
} robj;

static int r_hash(void *ctx, const void *k, uint64_t *out) {
  (void)ctx;
  *out = ((const robj *)k)->id;
  return 0;
}
static int r_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return ((const robj *)a)->id == ((const robj *)b)->id;
}
static void r_retain(void *ctx, void *o) {
  (void)ctx;
  ((robj *)o)->refs++;
}
static void r_release(void *ctx, void *o) {
  (void)ctx;
  ((robj *)o)->refs--;
}

enum { NOBJ = 200 };
static robj objs[NOBJ];

static int count_obj(void *ctx, const void *key, size_t klen) {
  (void)klen;
  const robj *o = key;
  if (o->refs < 3) (*(int *)ctx)++; /* creator + entry + the snapshot's own reference */
  return 0;
}

static bool scenario_objects(world *w) {
  static const macho_object_ops ops = {r_hash, r_equal, r_retain, r_release, NULL};
  for (int i = 0; i < NOBJ; i++) objs[i] = (robj){1, (uint64_t)i};
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 50;
  cfg.shards = 4;
  cfg.object_ops = &ops;
  cfg.metrics = 1;
  if (!open_armed(w, &cfg)) {
    for (int i = 0; i < NOBJ; i++)
      if (objs[i].refs != 1) fail_in(w, "a failed open kept a reference");
    return true;
  }
  uint64_t rng = test_seed() ^ 0x0b1;
  for (int i = 0; i < (int)test_scale(300, 2); i++) {
    uint64_t x = test_rand(&rng);
    int k = (int)((x >> 8) % (NOBJ / 2)) * 2;
    unsigned op = (unsigned)(x % 100);
    int rc;
    begin(w);
    if (op < 50) {
      rc = end(w, macho_obj_put(w->c, &objs[k], &objs[k + 1]));
      if (rc == MACHO_ENOMEM) rc = MACHO_OK; /* nothing retained: the reference count below says so */
    } else if (op < 80) {
      void *v = NULL;
      rc = end(w, macho_obj_get(w->c, &objs[k], &v));
      if (rc == MACHO_OK) {
        if (v != &objs[k + 1]) fail_in(w, "an object get returned another value");
        r_release(NULL, v);
      }
      if (rc == MACHO_ENOTFOUND) rc = MACHO_OK;
    } else if (op < 90) {
      rc = end(w, macho_obj_delete(w->c, &objs[k]));
      if (rc == MACHO_ENOTFOUND) rc = MACHO_OK;
    } else if (op < 97) {
      int bad = 0;
      rc = end(w, macho_foreach_key(w->c, count_obj, &bad));
      if (rc == MACHO_ENOMEM) rc = MACHO_OK;
      if (bad) fail_in(w, "a listed key was not retained during the call");
    } else {
      rc = end(w, macho_clear(w->c));
      if (macho_len(w->c) != 0) fail_in(w, "entries left after an object clear");
    }
    if (rc != MACHO_OK) fail_in(w, macho_strerror(rc));
    int held = 0;
    for (int j = 0; j < NOBJ; j++) held += objs[j].refs - 1;
    if (held != 2 * (int)macho_len(w->c)) fail_in(w, "references held != two per entry");
  }
  bool reached = disarm(w);
  close_and_check_leaks(w);
  for (int i = 0; i < NOBJ; i++)
    if (objs[i].refs != 1) fail_in(w, "an object was not released by close");
  return reached;
}

static void object_mode_survives_every_allocation_failure(void **state) {
  (void)state;
  sweep("object mode, clear, snapshots", scenario_objects, 5);
}

/* A shard whose first slab (1024 entries) is full: the next new key grows
 * the index and the slab. Set up unarmed; the growth is what is swept. */
static bool scenario_growth(world *w) {
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 3000;
  cfg.metrics = 0;
  w->universe = 1030;
  assert_int_equal(macho_open(&cfg, &w->c), MACHO_OK); /* not armed yet */
  for (uint64_t k = 0; k < 1024; k++) w_put(w, k, 8, -1);
  arm(w);
  for (uint64_t k = 1024; k < 1030; k++) {
    w_put(w, k, 8, -1);
    w_get(w, k);
  }
  w_put(w, 5, 40, -1); /* a replace with a bigger value */
  w_check(w);
  bool reached = disarm(w);
  w_recovers(w);
  close_and_check_leaks(w);
  return reached;
}

static void slab_growth_survives_every_allocation_failure(void **state) {
  (void)state;
  sweep("slab growth of a full shard", scenario_growth, 2);
}

/* ---- the dashboard ---------------------------------------------------------------- */

static int http_get(unsigned port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  char req[256], buf[4096];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", path, port);
  (void)!send(fd, req, (size_t)n, MSG_NOSIGNAL);
  ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
  int status = got > 12 ? atoi(buf + 9) : 0;
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
  close(fd);
  return status;
}

/* Start (its allocations), then requests whose responses allocate on the
 * server thread: a failure there is an error response (5xx), never a crash
 * or a leak, and the next request after memory is back is served. */
static bool scenario_dashboard(world *w) {
  macho_config cfg = base_config(w);
  cfg.capacity_entries = 50;
  cfg.shards = 2;
  w->universe = 64;
  assert_int_equal(macho_open(&cfg, &w->c), MACHO_OK);
  for (uint64_t k = 0; k < 30; k++) w_put(w, k, 8, -1);
  w_get(w, 3);
  arm(w);
  macho_dashboard *d = (macho_dashboard *)w;
  begin(w);
  int rc = end(w, macho_dashboard_start(w->c, NULL, &d));
  if (rc == MACHO_ENOMEM) {
    if (d) fail_in(w, "a failed dashboard start left *out set");
  } else if (rc != MACHO_OK) {
    fail_in(w, macho_strerror(rc));
  } else {
    const char *colon = strrchr(macho_dashboard_url(d), ':');
    unsigned port = (unsigned)atoi(colon + 1);
    const char *paths[] = {"/api/stats", "/metrics", "/", "/api/stats"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
      int st = http_get(port, paths[i]);
      if (st != 200 && !(st >= 500 && st <= 503)) fail_in(w, "a dashboard request under memory pressure got no 200 or 5xx");
    }
    bool reached = disarm(w);
    if (http_get(port, "/api/stats") != 200) fail_in(w, "the dashboard did not recover");
    macho_dashboard_stop(d);
    w_check(w);
    close_and_check_leaks(w);
    return reached;
  }
  bool reached = disarm(w);
  w_check(w);
  close_and_check_leaks(w);
  return reached;
}

static void dashboard_survives_every_allocation_failure(void **state) {
  (void)state;
  sweep("dashboard start and requests", scenario_dashboard, 2);
}

/* ---- sized frees ------------------------------------------------------------------ */

static void sized_frees_match_the_sizes_allocated_for_empty_payloads(void **state) {
  (void)state;
  static world w;
  world_init(&w, "sized frees", 0, false);
  macho_config cfg = base_config(&w);
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  assert_int_equal(macho_put(c, NULL, 0, NULL, 0), MACHO_OK);
  assert_int_equal(macho_put(c, NULL, 0, NULL, 0), MACHO_OK); /* replace */
  assert_int_equal(macho_put(c, "k", 1, NULL, 0), MACHO_OK);
  assert_int_equal(macho_delete(c, NULL, 0), MACHO_OK);
  macho_close(c);
  assert_int_equal(w.ta.live_blocks, 0);
  assert_int_equal(w.ta.live_bytes, 0);
}

static int print_totals(void **state) {
  (void)state;
  print_message("# total: %llu runs, %llu allocation failures injected, %llu MACHO_ENOMEM returned\n",
                (unsigned long long)total.runs, (unsigned long long)total.injected,
                (unsigned long long)total.enomem);
  return 0;
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(open_fails_cleanly_at_every_allocation_with_every_policy_and_filter),
      cmocka_unit_test(filling_past_capacity_survives_every_allocation_failure),
      cmocka_unit_test(large_values_survive_every_allocation_failure),
      cmocka_unit_test(ttl_churn_survives_every_allocation_failure),
      cmocka_unit_test(every_filter_survives_every_allocation_failure),
      cmocka_unit_test(metrics_and_snapshots_survive_every_allocation_failure),
      cmocka_unit_test(object_mode_survives_every_allocation_failure),
      cmocka_unit_test(slab_growth_survives_every_allocation_failure),
      cmocka_unit_test(dashboard_survives_every_allocation_failure),
      cmocka_unit_test(sized_frees_match_the_sizes_allocated_for_empty_payloads),
  };
  return cmocka_run_group_tests(tests, NULL, print_totals);
}
