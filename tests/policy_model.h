/*
 * policy_model.h -- shared harness of the tests/test_policy_*.c suites.
 *
 * Each suite writes a tiny, obviously correct reference of its policy (O(n)
 * scans over an array of keys) behind `ref_ops`, and this harness drives the
 * real cache (1 shard, TTL off, bytes mode, 8-byte keys) and the reference
 * with the same random operations, comparing the full key set after every
 * step: the first divergence names the step, the operation and the seed.
 * It also has the checks every policy must pass whatever its rule: deletes,
 * expiry and clear interleaved with evictions (the on_remove paths), a byte
 * budget (victim() while len < capacity), and failing allocations at open.
 * Header-only (static functions) so that each suite stays one file. It uses
 * the public API only (macho.h), so the suites hold any core that keeps the
 * contract (issue 11's safety net).
 */
#ifndef MACHO_TEST_POLICY_MODEL_H
#define MACHO_TEST_POLICY_MODEL_H

#include "support.h"

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PM_MAX_KEYS 64

/* The reference: a set of at most `cap` keys and the policy's bookkeeping. */
typedef struct ref_ops {
  void *(*create)(uint32_t cap);
  void (*destroy)(void *r);
  void (*miss)(void *r, uint64_t key);   /* a get missed (optional) */
  void (*hit)(void *r, uint64_t key);    /* get hit, or put on a present key */
  void (*insert)(void *r, uint64_t key); /* new key, room already made */
  uint64_t (*victim)(void *r);           /* choose and forget one key */
  void (*remove)(void *r, uint64_t key); /* delete */
  int (*contains)(void *r, uint64_t key);
  uint32_t (*len)(void *r);
} ref_ops;

static inline macho_cache *pm_open(macho_policy p, size_t cap, test_clock *clk) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.ttl_seconds = 0;
  cfg.shards = 1;
  cfg.policy = p;
  if (clk) {
    cfg.clock = test_clock_fn;
    cfg.clock_ctx = clk;
  }
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static inline int pm_get(macho_cache *c, uint64_t k) {
  char v[32];
  int rc = macho_get(c, &k, 8, v, sizeof v, NULL);
  assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
  return rc == MACHO_OK;
}

static inline void pm_put(macho_cache *c, uint64_t k) { assert_int_equal(macho_put(c, &k, 8, &k, 8), MACHO_OK); }

static inline int pm_has(macho_cache *c, uint64_t k) { return macho_contains(c, &k, 8) == MACHO_OK; }

static inline void pm_del(macho_cache *c, uint64_t k) {
  int rc = macho_delete(c, &k, 8);
  assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
}

/* Look-aside use: get, and put on a miss. Returns 1 on a hit. */
static inline int pm_access(macho_cache *c, uint64_t k) {
  if (pm_get(c, k)) return 1;
  pm_put(c, k);
  return 0;
}

/* Put `keys` in order (each a new key): the cache's insertion history. */
static inline void pm_put_all(macho_cache *c, const uint64_t *keys, size_t n) {
  for (size_t i = 0; i < n; i++) pm_put(c, keys[i]);
}

/* Model-based test: `steps` random operations on keys 1..universe against the
 * reference, capacities 1..max_cap, the full key set compared after each. */
static inline void pm_run_model(macho_policy p, const ref_ops *ops, int rounds, int steps, uint32_t max_cap) {
  uint64_t seed = test_seed();
  uint64_t rng = seed ^ (uint64_t)p * 0x9E3779B97F4A7C15ULL;
  for (int round = 0; round < rounds; round++) {
    uint32_t cap = 1 + (uint32_t)(test_rand(&rng) % max_cap);
    uint32_t universe = cap + 1 + (uint32_t)(test_rand(&rng) % (2 * cap + 2));
    if (universe > PM_MAX_KEYS) universe = PM_MAX_KEYS;
    macho_cache *c = pm_open(p, cap, NULL);
    void *r = ops->create(cap);
    for (int step = 0; step < steps; step++) {
      /* Skewed keys so that frequencies differ: the minimum of two draws. */
      uint64_t a = test_rand(&rng) % universe, b = test_rand(&rng) % universe;
      uint64_t k = 1 + (a < b ? a : b);
      uint32_t op = (uint32_t)(test_rand(&rng) % 100);
      const char *what;
      if (op < 70) {
        what = "get+put";
        if (pm_get(c, k)) {
          assert_true(ops->contains(r, k));
          ops->hit(r, k);
        } else {
          assert_false(ops->contains(r, k));
          if (ops->miss) ops->miss(r, k);
          if (ops->len(r) >= cap) ops->victim(r);
          ops->insert(r, k);
          pm_put(c, k);
        }
      } else if (op < 90) {
        what = "put";
        if (ops->contains(r, k)) ops->hit(r, k);
        else {
          if (ops->len(r) >= cap) ops->victim(r);
          ops->insert(r, k);
        }
        pm_put(c, k);
      } else if (op < 98) {
        what = "delete";
        if (ops->contains(r, k)) ops->remove(r, k);
        pm_del(c, k);
      } else {
        what = "clear";
        assert_int_equal(macho_clear(c), MACHO_OK);
        ops->destroy(r);
        r = ops->create(cap);
      }
      for (uint64_t x = 1; x <= universe; x++) {
        if (pm_has(c, x) != ops->contains(r, x)) {
          fprintf(stderr, "# %s diverged: seed %llu round %d cap %u step %d op %s key %llu: key %llu %s\n",
                  macho_policy_name(p), (unsigned long long)seed, round, cap, step, what,
                  (unsigned long long)k, (unsigned long long)x,
                  pm_has(c, x) ? "cached but not in the reference" : "in the reference but not cached");
          fail();
        }
      }
      assert_int_equal(macho_len(c), ops->len(r));
    }
    ops->destroy(r);
    macho_close(c);
  }
}

/* Deletes, TTL expiry and clears interleaved with evictions: the cache must
 * stay consistent (every key it reports is one we put and did not delete,
 * never more than capacity, the key just put is present). Under ASan this
 * also proves that no hook touches a freed slot. */
static inline void pm_run_removals(macho_policy p) {
  uint64_t seed = test_seed();
  uint64_t rng = seed + 17u * (uint64_t)p;
  test_clock clk = {1000};
  const uint32_t cap = 16, universe = 48;
  macho_cache *c = pm_open(p, cap, &clk);
  for (int step = 0; step < 20000; step++) {
    uint64_t k = 1 + test_rand(&rng) % universe;
    uint32_t op = (uint32_t)(test_rand(&rng) % 100);
    if (op < 50) {
      pm_access(c, k);
    } else if (op < 70) {
      double ttl = (double)(1 + test_rand(&rng) % 5);
      assert_int_equal(macho_put_ttl(c, &k, 8, &k, 8, ttl), MACHO_OK);
      assert_true(pm_has(c, k));
    } else if (op < 85) {
      pm_del(c, k);
      assert_false(pm_has(c, k));
    } else if (op < 99) {
      clk.now_ns += 1000000000ull; /* one second: some TTLs run out */
    } else {
      assert_int_equal(macho_clear(c), MACHO_OK);
      assert_int_equal(macho_len(c), 0);
    }
    assert_true(macho_len(c) <= cap);
  }
  size_t n = 0;
  for (uint64_t x = 1; x <= universe; x++) n += (size_t)pm_has(c, x);
  assert_true(n <= macho_len(c));
  macho_close(c);
}

/* A byte budget makes the shard evict while len < capacity: victim() must
 * still hand back a live entry every time. */
static inline void pm_run_byte_budget(macho_policy p) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 64;
  cfg.capacity_bytes = 8 * 40; /* 8-byte keys and 0..24-byte values */
  cfg.ttl_seconds = 0;
  cfg.policy = p;
  macho_cache *c;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  uint64_t rng = test_seed() + 5;
  char v[32] = {0};
  for (int i = 0; i < 20000; i++) {
    uint64_t k = 1 + test_rand(&rng) % 200;
    size_t vlen = (size_t)(test_rand(&rng) % 25);
    if (!pm_get(c, k)) assert_int_equal(macho_put(c, &k, 8, v, vlen), MACHO_OK);
    assert_true(macho_len(c) <= 64);
  }
  macho_close(c);
}

/* Every allocation at open may fail: ENOMEM, and nothing leaks. */
static inline void pm_run_open_oom(macho_policy p) {
  for (uint64_t n = 1; n < 64; n++) {
    test_alloc ta = {0};
    ta.fail_at = n;
    macho_allocator hooks = test_alloc_hooks(&ta);
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.capacity_entries = 3000;
    cfg.ttl_seconds = 0;
    cfg.policy = p;
    cfg.allocator = &hooks;
    macho_cache *c = NULL;
    int rc = macho_open(&cfg, &c);
    if (rc == MACHO_OK) {
      ta.fail_at = 0; /* open survived; the rest must simply work */
      for (uint64_t k = 0; k < 5000; k++) pm_access(c, k % 3500);
      macho_close(c);
      assert_int_equal(ta.live_blocks, 0);
      return; /* every allocation point of open has been failed once */
    }
    assert_int_equal(rc, MACHO_ENOMEM);
    assert_null(c);
    assert_int_equal(ta.live_blocks, 0);
    assert_int_equal(ta.live_bytes, 0);
  }
}

/* ---- small helpers for references ------------------------------------------ */
typedef struct ref_slot {
  uint64_t key;
  uint64_t a, b; /* policy-specific: frequency, time, bits, queue ... */
} ref_slot;

typedef struct ref_array {
  ref_slot *s;
  uint32_t n, cap;
} ref_array;

static inline int ref_find(const ref_array *r, uint64_t key) {
  for (uint32_t i = 0; i < r->n; i++)
    if (r->s[i].key == key) return (int)i;
  return -1;
}

/* Remove index i keeping order (index 0 = oldest). */
static inline ref_slot ref_take(ref_array *r, uint32_t i) {
  ref_slot x = r->s[i];
  memmove(&r->s[i], &r->s[i + 1], (r->n - i - 1) * sizeof x);
  r->n--;
  return x;
}

static inline void ref_append(ref_array *r, ref_slot x) {
  assert_true(r->n < r->cap);
  r->s[r->n++] = x;
}

static inline ref_array *ref_array_new(uint32_t cap) {
  ref_array *r = calloc(1, sizeof *r);
  r->cap = cap + 1;
  r->s = calloc(r->cap, sizeof *r->s);
  return r;
}

static inline void ref_array_free(ref_array *r) {
  free(r->s);
  free(r);
}

#endif
