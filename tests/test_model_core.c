/*
 * test_model_core.c -- model-based test of the core: random sequences of
 * put / put_ttl / get / contains / delete / clear / expire / time-advance,
 * checked step by step against a tiny reference model written here.
 *
 * The model is a list of keys per shard, most recent (LRU) or newest (FIFO)
 * first; a key's shard comes from the same hash the cache uses. It is exact:
 * after every step the cache's full key set (macho_foreach_key), its length
 * and its hit/miss/eviction/expiration counters must equal the model's.
 *
 * With TTL the cache reclaims expired entries lazily, by a sweep cursor that
 * walks a few slab slots per operation. Which expired entries a sweep takes
 * is an implementation choice, not a contract, so the model reads the
 * cursor and the entries' slab slots before each step (white-box) to know
 * which expired entries will be reclaimed; everything else follows from the
 * contract alone. Random has no order to compare, so its check is the
 * invariants: every key held was put and not deleted since, no shard above
 * its capacity, every value read is the last one written and not expired,
 * and (without TTL) the exact length.
 *
 * The seed is printed; MACHO_TEST_SEED=<seed> replays a failure.
 */
#include "support.h"
#include "internal.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>

#define NKEYS 64
#define MAXSH 4
#define STEPS 10000
#define SEC 1000000000ull

typedef struct mentry {
  bool present;        /* in the model's cache (LRU/FIFO), or held by the cache (Random) */
  bool possible;       /* Random: put since the last clear and not deleted since */
  uint64_t value;
  uint64_t expire_ns;  /* 0 = never */
} mentry;

typedef struct run {
  /* configuration */
  macho_policy policy;
  uint32_t nshards;
  size_t capacity;
  double ttl_s;
  /* the cache and its clock */
  macho_cache *c;
  test_clock clock;
  uint64_t seed, rng;
  /* the model */
  uint32_t cap[MAXSH];
  int order[MAXSH][NKEYS]; /* LRU: most recent first; FIFO: newest first */
  uint32_t n[MAXSH];
  mentry e[NKEYS];
  uint64_t hash[NKEYS];
  uint32_t shard[NKEYS];
  uint64_t hits, misses, evictions, expirations, counter;
  int step;
} run;

/* ---- the model's list per shard ------------------------------------------- */

static int list_find(run *r, uint32_t s, int k) {
  for (uint32_t i = 0; i < r->n[s]; i++)
    if (r->order[s][i] == k) return (int)i;
  return -1;
}

static void list_remove(run *r, int k) {
  uint32_t s = r->shard[k];
  int i = list_find(r, s, k);
  assert_true(i >= 0);
  memmove(&r->order[s][i], &r->order[s][i + 1], (r->n[s] - (uint32_t)i - 1) * sizeof(int));
  r->n[s]--;
  r->e[k].present = false;
}

static void list_push_front(run *r, int k) {
  uint32_t s = r->shard[k];
  memmove(&r->order[s][1], &r->order[s][0], r->n[s] * sizeof(int));
  r->order[s][0] = k;
  r->n[s]++;
  r->e[k].present = true;
}

static bool expired(const run *r, int k) {
  return r->e[k].expire_ns != 0 && r->e[k].expire_ns <= r->clock.now_ns;
}

/* ---- predicting the sweep (white-box) ---------------------------------------- */

/* Keys of shard s that a sweep of `budget` slots from the cursor will reclaim
 * now, as a bit set. Only expired keys can be reclaimed; the cursor and the
 * entries' slab ids decide which. */
static uint64_t predict_sweep(run *r, uint32_t s, uint32_t budget) {
  macho__shard *sh = &r->c->shards[s];
  if (!sh->has_ttl || sh->len == 0) return 0;
  uint32_t start = sh->sweep_cursor >= sh->slab_cap ? 0 : sh->sweep_cursor;
  if (budget > sh->slab_cap) budget = sh->slab_cap;
  uint64_t set = 0;
  for (int k = 0; k < NKEYS; k++) {
    if (r->shard[k] != s || !r->e[k].present || !expired(r, k)) continue;
    uint64_t key = (uint64_t)k;
    uint32_t id = macho__index_find_bytes(sh, r->hash[k], &key, sizeof key);
    assert_int_not_equal(id, MACHO__NIL);
    if ((id + sh->slab_cap - start) % sh->slab_cap < budget) set |= 1ull << k;
  }
  return set;
}

static void apply_sweep(run *r, uint64_t set) {
  for (int k = 0; k < NKEYS; k++)
    if ((set >> k & 1) && r->e[k].present) {
      list_remove(r, k);
      r->expirations++;
    }
}

/* ---- steps -------------------------------------------------------------------- */

static uint64_t ttl_ns_of(double ttl_s) { return (uint64_t)(ttl_s * (double)SEC); }

static void do_put(run *r, int k, bool own_ttl, double ttl_s) {
  uint32_t s = r->shard[k];
  uint64_t key = (uint64_t)k;
  uint64_t value = ((uint64_t)k << 32) | ++r->counter;
  bool exact = r->policy != MACHO_POLICY_RANDOM;
  macho__shard *sh = &r->c->shards[s];
  bool was_held = macho__index_find_bytes(sh, r->hash[k], &key, sizeof key) != MACHO__NIL;
  uint32_t len_before = sh->len;
  uint64_t swept = exact ? predict_sweep(r, s, MACHO__PUT_SWEEP) : 0;

  int rc = own_ttl ? macho_put_ttl(r->c, &key, sizeof key, &value, sizeof value, ttl_s)
                   : macho_put(r->c, &key, sizeof key, &value, sizeof value);
  assert_int_equal(rc, MACHO_OK);
  uint64_t ttl_ns = ttl_ns_of(own_ttl ? ttl_s : r->ttl_s);
  uint64_t deadline = ttl_ns ? r->clock.now_ns + ttl_ns : 0;

  if (!exact) {
    r->e[k].possible = true;
    r->e[k].value = value;
    r->e[k].expire_ns = deadline;
    if (r->ttl_s == 0 && !own_ttl) {
      uint32_t want = was_held ? len_before : (len_before < r->cap[s] ? len_before + 1 : r->cap[s]);
      assert_int_equal(sh->len, want);
    }
    return;
  }
  apply_sweep(r, swept);
  if (r->e[k].present && expired(r, k)) {
    list_remove(r, k);
    r->expirations++;
  }
  if (r->e[k].present) {
    if (r->policy == MACHO_POLICY_LRU) {
      list_remove(r, k);
      list_push_front(r, k);
    }
  } else {
    if (r->n[s] >= r->cap[s]) {
      list_remove(r, r->order[s][r->n[s] - 1]);
      r->evictions++;
    }
    list_push_front(r, k);
  }
  r->e[k].value = value;
  r->e[k].expire_ns = deadline;
}

static void do_get(run *r, int k) {
  uint32_t s = r->shard[k];
  uint64_t key = (uint64_t)k, value = 0;
  size_t vlen = 0;
  macho__shard *sh = &r->c->shards[s];
  bool exact = r->policy != MACHO_POLICY_RANDOM;
  bool sweeps = sh->has_ttl && sh->get_tick + 1 >= MACHO__GET_SWEEP_EVERY;
  uint64_t swept = exact && sweeps ? predict_sweep(r, s, MACHO__GET_SWEEP) : 0;
  bool was_held = macho__index_find_bytes(sh, r->hash[k], &key, sizeof key) != MACHO__NIL;

  int rc = macho_get(r->c, &key, sizeof key, &value, sizeof value, &vlen);

  if (!exact) {
    /* A value read is the last one written, and never an expired one. */
    if (rc == MACHO_OK) {
      assert_true(was_held && r->e[k].possible && !expired(r, k));
      assert_int_equal(vlen, sizeof value);
      assert_int_equal(value, r->e[k].value);
    } else {
      assert_int_equal(rc, MACHO_ENOTFOUND);
      assert_true(!was_held || expired(r, k));
    }
    return;
  }
  if (r->e[k].present && expired(r, k)) {
    list_remove(r, k);
    r->expirations++;
  }
  if (r->e[k].present) {
    assert_int_equal(rc, MACHO_OK);
    assert_int_equal(vlen, sizeof value);
    assert_int_equal(value, r->e[k].value);
    r->hits++;
    if (r->policy == MACHO_POLICY_LRU) {
      list_remove(r, k);
      list_push_front(r, k);
    }
  } else {
    assert_int_equal(rc, MACHO_ENOTFOUND);
    r->misses++;
  }
  apply_sweep(r, swept);
}

static void do_contains_or_delete(run *r, int k, bool del) {
  uint64_t key = (uint64_t)k;
  macho__shard *sh = &r->c->shards[r->shard[k]];
  bool was_held = macho__index_find_bytes(sh, r->hash[k], &key, sizeof key) != MACHO__NIL;
  int rc = del ? macho_delete(r->c, &key, sizeof key) : macho_contains(r->c, &key, sizeof key);
  if (r->policy == MACHO_POLICY_RANDOM) {
    if (rc == MACHO_OK) assert_true(was_held && !expired(r, k));
    else assert_true(!was_held || expired(r, k));
    if (del) r->e[k].possible = false;
    return;
  }
  if (r->e[k].present && expired(r, k)) {
    list_remove(r, k);
    r->expirations++;
  }
  assert_int_equal(rc, r->e[k].present ? MACHO_OK : MACHO_ENOTFOUND);
  if (del && r->e[k].present) list_remove(r, k);
}

static void do_clear(run *r) {
  assert_int_equal(macho_clear(r->c), MACHO_OK);
  for (int k = 0; k < NKEYS; k++) {
    r->e[k].present = false;
    r->e[k].possible = false;
  }
  for (uint32_t s = 0; s < r->nshards; s++) r->n[s] = 0;
  assert_int_equal(macho_len(r->c), 0);
}

static void do_expire(run *r) {
  size_t reclaimed = 0, want = 0;
  assert_int_equal(macho_expire(r->c, &reclaimed), MACHO_OK);
  if (r->policy == MACHO_POLICY_RANDOM) return;
  for (int k = 0; k < NKEYS; k++)
    if (r->e[k].present && expired(r, k)) {
      list_remove(r, k);
      r->expirations++;
      want++;
    }
  assert_int_equal(reclaimed, want);
}

/* ---- comparison ---------------------------------------------------------------- */

typedef struct keyset {
  uint64_t bits;
  size_t count;
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
  ks->count++;
  return 0;
}

static void compare(run *r) {
  keyset ks = {0, 0, false};
  assert_int_equal(macho_foreach_key(r->c, collect, &ks), MACHO_OK);
  assert_false(ks.bad);
  assert_int_equal(ks.count, macho_len(r->c));
  for (uint32_t s = 0; s < r->nshards; s++) assert_true(r->c->shards[s].len <= r->cap[s]);
  if (r->policy == MACHO_POLICY_RANDOM) {
    for (int k = 0; k < NKEYS; k++)
      if (ks.bits >> k & 1) assert_true(r->e[k].possible);
    return;
  }
  uint64_t want = 0;
  size_t total = 0;
  for (uint32_t s = 0; s < r->nshards; s++) {
    total += r->n[s];
    assert_int_equal(r->c->shards[s].len, r->n[s]);
    for (uint32_t i = 0; i < r->n[s]; i++) want |= 1ull << r->order[s][i];
  }
  if (ks.bits != want || ks.count != total)
    fail_msg("step %d: cache holds %#llx, model %#llx", r->step, (unsigned long long)ks.bits,
             (unsigned long long)want);
  macho_counters ct;
  assert_int_equal(macho_counters_get(r->c, -1, &ct), MACHO_OK);
  assert_int_equal(ct.hits, r->hits);
  assert_int_equal(ct.misses, r->misses);
  assert_int_equal(ct.evictions, r->evictions);
  assert_int_equal(ct.expirations, r->expirations);
  assert_int_equal(ct.entries, total);
}

/* ---- the driver ------------------------------------------------------------------ */

static void run_model(macho_policy policy, uint32_t nshards, size_t capacity, double ttl_s) {
  static run r; /* big; and one run at a time */
  memset(&r, 0, sizeof r);
  r.policy = policy;
  r.nshards = nshards;
  r.capacity = capacity;
  r.ttl_s = ttl_s;
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
  assert_int_equal(macho_open(&cfg, &r.c), MACHO_OK);

  /* The per-shard split the cache promises: base share, remainder to the first shards. */
  for (uint32_t s = 0; s < nshards; s++)
    r.cap[s] = (uint32_t)(capacity / nshards + (s < capacity % nshards));
  for (int k = 0; k < NKEYS; k++) {
    uint64_t key = (uint64_t)k;
    r.hash[k] = macho__hash_bytes(&key, sizeof key, cfg.seed);
    r.shard[k] = macho__shard_of(r.hash[k], nshards);
  }

  for (r.step = 0; r.step < STEPS; r.step++) {
    uint64_t x = test_rand(&r.rng);
    int k = (int)((x >> 8) % NKEYS);
    unsigned op = (unsigned)(x % 100);
    if (op < 40) do_put(&r, k, false, 0);
    else if (op < 45) {
      /* A TTL of its own (0 = never); Random without TTL keeps 0 so its
       * length stays exactly predictable. */
      bool plain_random = policy == MACHO_POLICY_RANDOM && ttl_s == 0;
      do_put(&r, k, true, plain_random ? 0.0 : (double)((x >> 20) % 4));
    }
    else if (op < 80) do_get(&r, k);
    else if (op < 86) do_contains_or_delete(&r, k, false);
    else if (op < 94) do_contains_or_delete(&r, k, true);
    else if (op < 95) do_clear(&r);
    else if (op < 96) do_expire(&r);
    else r.clock.now_ns += (x >> 16) % (2 * SEC); /* time passes, up to 2 s */
    compare(&r);
  }
  macho_close(r.c);
}

#define MODEL_TEST(name, pol, sh, cap, ttl) \
  static void name(void **state) {          \
    (void)state;                            \
    run_model(pol, sh, cap, ttl);           \
  }

MODEL_TEST(lru_matches_the_model_with_one_shard, MACHO_POLICY_LRU, 1, 20, 0)
MODEL_TEST(lru_matches_the_model_with_four_shards, MACHO_POLICY_LRU, 4, 22, 0)
MODEL_TEST(lru_matches_the_model_with_ttl_and_one_shard, MACHO_POLICY_LRU, 1, 20, 5)
MODEL_TEST(lru_matches_the_model_with_ttl_and_three_shards, MACHO_POLICY_LRU, 3, 23, 5)
MODEL_TEST(fifo_matches_the_model_with_one_shard, MACHO_POLICY_FIFO, 1, 20, 0)
MODEL_TEST(fifo_matches_the_model_with_four_shards, MACHO_POLICY_FIFO, 4, 22, 0)
MODEL_TEST(fifo_matches_the_model_with_ttl_and_one_shard, MACHO_POLICY_FIFO, 1, 20, 5)
MODEL_TEST(fifo_matches_the_model_with_ttl_and_three_shards, MACHO_POLICY_FIFO, 3, 23, 5)
MODEL_TEST(random_keeps_its_invariants_with_one_shard, MACHO_POLICY_RANDOM, 1, 20, 0)
MODEL_TEST(random_keeps_its_invariants_with_four_shards, MACHO_POLICY_RANDOM, 4, 22, 0)
MODEL_TEST(random_keeps_its_invariants_with_ttl_and_one_shard, MACHO_POLICY_RANDOM, 1, 20, 5)
MODEL_TEST(random_keeps_its_invariants_with_ttl_and_three_shards, MACHO_POLICY_RANDOM, 3, 23, 5)

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
      cmocka_unit_test(random_keeps_its_invariants_with_one_shard),
      cmocka_unit_test(random_keeps_its_invariants_with_four_shards),
      cmocka_unit_test(random_keeps_its_invariants_with_ttl_and_one_shard),
      cmocka_unit_test(random_keeps_its_invariants_with_ttl_and_three_shards),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
