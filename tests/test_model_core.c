/*
 * test_model_core.c -- model-based test of the core through the public API
 * only: random sequences of put / put_ttl / get / contains / delete / clear /
 * expire / time-advance on LRU, FIFO and Random caches of one to four shards,
 * checked step by step against a small reference model written here.
 *
 * Black-box on purpose (issue 11, "safety net"): the model knows nothing of
 * slabs, indexes or sweep cursors, so it holds any core that keeps the
 * contract in macho.h. What it may observe is what a user may observe:
 * return codes and values, macho_foreach_key, macho_len and the per-shard
 * counters. A key's shard is learnt from a probe cache opened with the same
 * configuration (routing is a function of the seed and the shard count); the
 * per-shard capacities are read from the counters.
 *
 * The model of a key is ABSENT, LIVE (held, not expired) or STALE (its
 * deadline passed; the cache may still hold it until something reclaims it).
 * When expired entries are reclaimed is the core's choice (a lookup that
 * meets one, a sweep, a put that needs room), so STALE keys are tracked
 * loosely: the number of them a shard still holds is known exactly
 * (entries - live), which ones is not. Everything about LIVE keys is exact:
 *   - a get of a LIVE key hits and returns the last value written; a get of
 *     a STALE or ABSENT key misses; hits, misses, gets, puts, deletes exact;
 *   - no LIVE key ever leaves except by delete, clear, or as the one victim
 *     of a put of a new key into a full shard; that victim is the policy's:
 *     the least recently used (LRU) or oldest inserted (FIFO) LIVE key of the
 *     shard, any LIVE key (Random), and for LRU/FIFO no STALE key older than
 *     it may still be held (the victim is the policy's oldest held entry, or
 *     an expired one);
 *   - every removal is counted once: per shard and step, the change of
 *     `entries` equals new entries - evictions - expirations - deletes;
 *     expirations never exceed the STALE entries held; macho_expire reclaims
 *     exactly the STALE entries held; no shard exceeds its capacity;
 *   - macho_foreach_key returns exactly the LIVE keys (never an expired one).
 * TTLs end 5 ms off the 10 ms grid the clock moves on, so the 1 ms a core may
 * keep an entry past its deadline (32-bit millisecond ticks) never makes an
 * answer ambiguous.
 *
 * The seed is printed; MACHO_TEST_SEED=<seed> replays a run (see support.h).
 */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 64
#define MAXSH 4
#define STEPS 10000
#define MS 1000000ull
#define SEC 1000000000ull

typedef enum { K_ABSENT = 0, K_LIVE, K_STALE } kstate;

typedef struct mkey {
  kstate st;
  uint64_t value;
  uint64_t deadline_ns; /* 0 = never */
  uint64_t order;       /* LRU: last use; FIFO: insertion (smaller = older) */
} mkey;

typedef struct run {
  macho_policy policy;
  uint32_t nshards;
  macho_cache *c;
  test_clock clock;
  uint64_t seed, rng;
  uint64_t cap[MAXSH];
  uint32_t shard[NKEYS];
  mkey k[NKEYS];
  uint64_t seq, counter;
  /* what the model expects of the counters (totals) */
  uint64_t hits, misses, puts, deletes;
  /* per-shard counters after the previous step */
  macho_counters prev[MAXSH];
  /* this step */
  int step;
  const char *what;
  int key;
  uint64_t inserts[MAXSH];    /* new entries created by this step */
  uint64_t deleted[MAXSH];    /* successful deletes in this step */
  int victim_allowed;         /* shard whose LIVE victim this step may take, -1 none */
  uint64_t stale_held[MAXSH]; /* expired entries each shard held when the step began */
  bool cleared;
} run;

static void fail_at(const run *r, const char *msg) {
  fail_msg("%s: step %d op %s key %d (policy %s, %u shards, MACHO_TEST_SEED=%llu): %s",
           "model", r->step, r->what, r->key, macho_policy_name(r->policy), r->nshards,
           (unsigned long long)test_seed(), msg);
}

static uint32_t live_in(const run *r, uint32_t s) {
  uint32_t n = 0;
  for (int k = 0; k < NKEYS; k++) n += r->shard[k] == s && r->k[k].st == K_LIVE;
  return n;
}

static uint32_t stale_in(const run *r, uint32_t s) {
  uint32_t n = 0;
  for (int k = 0; k < NKEYS; k++) n += r->shard[k] == s && r->k[k].st == K_STALE;
  return n;
}

/* STALE entries shard s held after the previous step. */
static uint64_t stale_held_before(const run *r, uint32_t s) {
  return r->prev[s].entries - live_in(r, s);
}

/* ---- learning the routing from a probe cache ---------------------------------- */

static void learn_shards(run *r, const macho_config *cfg) {
  macho_config pc = *cfg;
  pc.ttl_seconds = 0;
  macho_cache *probe = NULL;
  assert_int_equal(macho_open(&pc, &probe), MACHO_OK);
  assert_int_equal(macho_shard_count(probe), r->nshards);
  for (int k = 0; k < NKEYS; k++) {
    uint64_t key = (uint64_t)k;
    assert_int_equal(macho_put(probe, &key, sizeof key, &key, sizeof key), MACHO_OK);
    int found = -1;
    for (uint32_t s = 0; s < r->nshards; s++) {
      macho_counters ct;
      assert_int_equal(macho_counters_get(probe, (int)s, &ct), MACHO_OK);
      if (ct.entries == 1) {
        assert_int_equal(found, -1);
        found = (int)s;
      }
    }
    assert_true(found >= 0);
    r->shard[k] = (uint32_t)found;
    assert_int_equal(macho_delete(probe, &key, sizeof key), MACHO_OK);
  }
  macho_close(probe);
}

/* ---- steps ------------------------------------------------------------------- */

static void make_stale(run *r) {
  for (int k = 0; k < NKEYS; k++)
    if (r->k[k].st == K_LIVE && r->k[k].deadline_ns && r->k[k].deadline_ns <= r->clock.now_ns)
      r->k[k].st = K_STALE;
}

static uint64_t ttl_ns_of(double ttl_s) { return (uint64_t)(ttl_s * 1e3 + 0.5) * MS; }

static void do_put(run *r, int k, bool own_ttl, double ttl_s, double default_ttl_s) {
  uint32_t s = r->shard[k];
  uint64_t key = (uint64_t)k;
  uint64_t value = ((uint64_t)k << 32) | ++r->counter;
  int rc = own_ttl ? macho_put_ttl(r->c, &key, sizeof key, &value, sizeof value, ttl_s)
                   : macho_put(r->c, &key, sizeof key, &value, sizeof value);
  if (rc != MACHO_OK) fail_at(r, macho_strerror(rc));
  r->puts++;
  uint64_t ttl_ns = ttl_ns_of(own_ttl ? ttl_s : default_ttl_s);
  mkey *m = &r->k[k];
  if (m->st == K_LIVE) {
    if (r->policy == MACHO_POLICY_LRU) m->order = ++r->seq; /* FIFO keeps its place */
  } else {
    /* A STALE key is gone: the put makes a new entry, as for an absent one. */
    m->st = K_LIVE;
    m->order = ++r->seq;
    r->inserts[s]++;
    r->victim_allowed = (int)s;
  }
  m->value = value;
  m->deadline_ns = ttl_ns ? r->clock.now_ns + ttl_ns : 0;
}

static void do_get(run *r, int k) {
  uint64_t key = (uint64_t)k, value = 0;
  size_t vlen = 0;
  int rc = macho_get(r->c, &key, sizeof key, &value, sizeof value, &vlen);
  mkey *m = &r->k[k];
  if (m->st == K_LIVE) {
    if (rc != MACHO_OK) fail_at(r, "a live key missed");
    if (vlen != sizeof value || value != m->value) fail_at(r, "a hit returned another value");
    r->hits++;
    if (r->policy == MACHO_POLICY_LRU) m->order = ++r->seq;
  } else {
    if (rc != MACHO_ENOTFOUND)
      fail_at(r, m->st == K_STALE ? "an expired key was returned" : "an absent key was found");
    r->misses++; /* a STALE key stays STALE: a lookup need not reclaim what it meets */
  }
}

static void do_contains_or_delete(run *r, int k, bool del) {
  uint64_t key = (uint64_t)k;
  int rc = del ? macho_delete(r->c, &key, sizeof key) : macho_contains(r->c, &key, sizeof key);
  mkey *m = &r->k[k];
  if (m->st == K_LIVE) {
    if (rc != MACHO_OK) fail_at(r, "a live key is not there");
    if (del) {
      m->st = K_ABSENT;
      r->deletes++;
      r->deleted[r->shard[k]]++;
    }
  } else {
    if (rc != MACHO_ENOTFOUND) fail_at(r, "an expired or absent key is there");
  }
}

static void do_clear(run *r) {
  assert_int_equal(macho_clear(r->c), MACHO_OK);
  for (int k = 0; k < NKEYS; k++) r->k[k].st = K_ABSENT;
  r->cleared = true;
  if (macho_len(r->c) != 0) fail_at(r, "entries left after clear");
}

static void do_expire(run *r) {
  uint64_t want = 0;
  for (uint32_t s = 0; s < r->nshards; s++) want += stale_held_before(r, s);
  size_t reclaimed = 12345;
  assert_int_equal(macho_expire(r->c, &reclaimed), MACHO_OK);
  if (reclaimed != want) fail_at(r, "macho_expire reclaimed another number than the expired entries held");
  for (int k = 0; k < NKEYS; k++)
    if (r->k[k].st == K_STALE) r->k[k].st = K_ABSENT;
}

/* ---- comparison after every step -------------------------------------------- */

typedef struct keyset {
  uint64_t bits;
  bool bad;
} keyset;

static int collect(void *ctx, const void *key, size_t klen) {
  keyset *ks = ctx;
  uint64_t k;
  if (klen != sizeof k) {
    ks->bad = true;
    return 0;
  }
  memcpy(&k, key, sizeof k);
  if (k >= NKEYS || (ks->bits >> k & 1)) ks->bad = true;
  else ks->bits |= 1ull << k;
  return 0;
}

static void compare(run *r) {
  keyset ks = {0, false};
  assert_int_equal(macho_foreach_key(r->c, collect, &ks), MACHO_OK);
  if (ks.bad) fail_at(r, "foreach_key returned a foreign or repeated key");

  /* LIVE keys that are gone: at most the one victim of a put of a new key. */
  int gone = -1;
  for (int k = 0; k < NKEYS; k++) {
    if (r->k[k].st == K_LIVE && !(ks.bits >> k & 1)) {
      if (gone >= 0 || r->victim_allowed != (int)r->shard[k] || k == r->key)
        fail_at(r, "a live key left the cache without being the victim of a put");
      gone = k;
    }
    if ((ks.bits >> k & 1) && r->k[k].st != K_LIVE)
      fail_at(r, r->k[k].st == K_STALE ? "foreach_key returned an expired key" : "foreach_key returned an absent key");
  }
  if (gone >= 0) {
    uint32_t s = r->shard[gone];
    if (r->prev[s].entries < r->cap[s]) fail_at(r, "a live key was evicted from a shard that was not full");
    if (r->policy != MACHO_POLICY_RANDOM) {
      for (int k = 0; k < NKEYS; k++)
        if (r->shard[k] == s && r->k[k].st == K_LIVE && k != r->key && r->k[k].order < r->k[gone].order)
          fail_at(r, "the victim was not the policy's: an older live key stayed");
      /* Expired entries older than the victim cannot still be held. */
      for (int k = 0; k < NKEYS; k++)
        if (r->shard[k] == s && r->k[k].st == K_STALE && r->k[k].order < r->k[gone].order)
          r->k[k].st = K_ABSENT;
    }
    r->k[gone].st = K_ABSENT;
  }

  macho_counters total = test_counters(r->c);
  if (total.hits != r->hits || total.misses != r->misses) fail_at(r, "hits or misses differ from the model");
  if (total.gets != r->hits + r->misses) fail_at(r, "gets != hits + misses");
  if (total.puts != r->puts || total.deletes != r->deletes) fail_at(r, "puts or deletes differ from the model");
  uint64_t entries = 0;
  for (uint32_t s = 0; s < r->nshards; s++) {
    macho_counters ct;
    assert_int_equal(macho_counters_get(r->c, (int)s, &ct), MACHO_OK);
    entries += ct.entries;
    if (ct.entries > r->cap[s]) fail_at(r, "a shard holds more than its capacity");
    uint64_t live = live_in(r, s);
    if (ct.entries < live) fail_at(r, "a shard holds fewer entries than live keys");
    uint64_t stale_held = ct.entries - live;
    if (stale_held > stale_in(r, s)) fail_at(r, "a shard holds more entries than live and expired keys");
    if (stale_held == 0)
      for (int k = 0; k < NKEYS; k++)
        if (r->shard[k] == s && r->k[k].st == K_STALE) r->k[k].st = K_ABSENT;
    uint64_t dev = ct.evictions - r->prev[s].evictions, dexp = ct.expirations - r->prev[s].expirations;
    if (ct.evictions < r->prev[s].evictions || ct.expirations < r->prev[s].expirations)
      fail_at(r, "a removal counter went backwards");
    if (!r->cleared) {
      /* Every removal counted once. */
      if (r->prev[s].entries + r->inserts[s] != ct.entries + dev + dexp + r->deleted[s])
        fail_at(r, "entries do not add up: new - evicted - expired - deleted");
      /* Removals other than the live victim only take expired entries. */
      uint64_t victims = (gone >= 0 && r->shard[gone] == s) ? 1 : 0;
      if (dev + dexp < victims || dev + dexp - victims > r->stale_held[s])
        fail_at(r, "entries were removed that were neither expired nor the victim");
    } else if (ct.entries != 0) {
      fail_at(r, "a shard holds entries after clear");
    }
    r->prev[s] = ct;
  }
  if (entries != total.entries || macho_len(r->c) != entries) fail_at(r, "macho_len and the counters disagree");
}

/* ---- the driver -------------------------------------------------------------- */

static void run_model(macho_policy policy, uint32_t nshards, size_t capacity, double ttl_s) {
  static run r; /* one run at a time */
  memset(&r, 0, sizeof r);
  r.policy = policy;
  r.nshards = nshards;
  r.seed = test_seed() ^ (policy * 1000003u + nshards * 101u + (uint64_t)ttl_s);
  r.rng = r.seed;
  r.clock.now_ns = 1000 * SEC;

  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = capacity;
  cfg.shards = nshards;
  cfg.policy = policy;
  cfg.ttl_seconds = ttl_s;
  cfg.seed = r.seed;
  cfg.clock = test_clock_fn;
  cfg.clock_ctx = &r.clock;
  learn_shards(&r, &cfg);
  assert_int_equal(macho_open(&cfg, &r.c), MACHO_OK);
  uint64_t total_cap = 0;
  for (uint32_t s = 0; s < nshards; s++) {
    macho_counters ct;
    assert_int_equal(macho_counters_get(r.c, (int)s, &ct), MACHO_OK);
    r.cap[s] = ct.capacity_entries;
    total_cap += ct.capacity_entries;
    r.prev[s] = ct;
  }
  assert_int_equal(total_cap, capacity);

  for (r.step = 0; r.step < STEPS; r.step++) {
    uint64_t x = test_rand(&r.rng);
    int k = (int)((x >> 8) % NKEYS);
    unsigned op = (unsigned)(x % 100);
    r.key = k;
    r.victim_allowed = -1;
    r.cleared = false;
    memset(r.inserts, 0, sizeof r.inserts);
    memset(r.deleted, 0, sizeof r.deleted);
    for (uint32_t s = 0; s < nshards; s++) r.stale_held[s] = stale_held_before(&r, s);
    if (op < 40) {
      r.what = "put";
      do_put(&r, k, false, 0, ttl_s);
    } else if (op < 45) {
      /* A TTL of its own: 0 = never, else n s + 5 ms (off the clock's grid). */
      unsigned n = (unsigned)((x >> 20) % 4);
      r.what = "put_ttl";
      do_put(&r, k, true, n ? (double)n + 0.005 : 0.0, ttl_s);
    } else if (op < 80) {
      r.what = "get";
      do_get(&r, k);
    } else if (op < 86) {
      r.what = "contains";
      do_contains_or_delete(&r, k, false);
    } else if (op < 94) {
      r.what = "delete";
      do_contains_or_delete(&r, k, true);
    } else if (op < 95) {
      r.what = "clear";
      do_clear(&r);
    } else if (op < 96) {
      r.what = "expire";
      do_expire(&r);
    } else {
      r.what = "time passes";
      r.key = -1;
      r.clock.now_ns += (1 + (x >> 16) % 200) * 10 * MS; /* 10 ms .. 2 s */
      make_stale(&r);
    }
    compare(&r);
  }
  /* Every live key still holds its last value. */
  for (int k = 0; k < NKEYS; k++) {
    r.key = k;
    r.what = "final get";
    do_get(&r, k);
  }
  macho_close(r.c);
}

#define MODEL_TEST(name, pol, sh, cap, ttl) \
  static void name(void **state) {          \
    (void)state;                            \
    run_model(pol, sh, cap, ttl);           \
  }

/* Default TTLs are 5.005 s: off the 10 ms grid, see the top comment. */
MODEL_TEST(lru_matches_the_model_with_one_shard, MACHO_POLICY_LRU, 1, 20, 0)
MODEL_TEST(lru_matches_the_model_with_four_shards, MACHO_POLICY_LRU, 4, 22, 0)
MODEL_TEST(lru_matches_the_model_with_ttl_and_one_shard, MACHO_POLICY_LRU, 1, 20, 5.005)
MODEL_TEST(lru_matches_the_model_with_ttl_and_three_shards, MACHO_POLICY_LRU, 3, 23, 5.005)
MODEL_TEST(fifo_matches_the_model_with_one_shard, MACHO_POLICY_FIFO, 1, 20, 0)
MODEL_TEST(fifo_matches_the_model_with_four_shards, MACHO_POLICY_FIFO, 4, 22, 0)
MODEL_TEST(fifo_matches_the_model_with_ttl_and_one_shard, MACHO_POLICY_FIFO, 1, 20, 5.005)
MODEL_TEST(fifo_matches_the_model_with_ttl_and_three_shards, MACHO_POLICY_FIFO, 3, 23, 5.005)
MODEL_TEST(random_matches_the_model_with_one_shard, MACHO_POLICY_RANDOM, 1, 20, 0)
MODEL_TEST(random_matches_the_model_with_four_shards, MACHO_POLICY_RANDOM, 4, 22, 0)
MODEL_TEST(random_matches_the_model_with_ttl_and_one_shard, MACHO_POLICY_RANDOM, 1, 20, 5.005)
MODEL_TEST(random_matches_the_model_with_ttl_and_three_shards, MACHO_POLICY_RANDOM, 3, 23, 5.005)

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lru_matches_the_model_with_one_shard),
      cmocka_unit_test(lru_matches_the_model_with_four_shards),
      cmocka_unit_test(lru_matches_the_model_with_ttl_and_one_shard),
      cmocka_unit_test(lru_matches_the_model_with_ttl_and_three_shards),
      cmocka_unit_test(fifo_matches_the_model_with_one_shard),
      cmocka_unit_test(fifo_matches_the_model_with_four_shards),
      cmocka_unit_test(fifo_matches_the_model_with_ttl_and_one_shard),
      cmocka_unit_test(fifo_matches_the_model_with_ttl_and_three_shards),
      cmocka_unit_test(random_matches_the_model_with_one_shard),
      cmocka_unit_test(random_matches_the_model_with_four_shards),
      cmocka_unit_test(random_matches_the_model_with_ttl_and_one_shard),
      cmocka_unit_test(random_matches_the_model_with_ttl_and_three_shards),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
