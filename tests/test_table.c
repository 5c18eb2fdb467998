/*
 * test_table.c -- the index of a shard, tested from the outside.
 *
 * These used to build hand-made shards through internal.h; they now go
 * through the public API only, so they hold whatever table the core uses
 * (issue 11's safety net). What the white-box checks protected, and how it is
 * observed here:
 *   - long probe runs and deletion inside them (backward shift, tombstones):
 *     object mode lets the test choose the hash, so hundreds of keys with one
 *     hash (or a few) form the longest runs a table can have; random deletes
 *     and re-inserts must keep every key findable and no deleted key found;
 *   - a lookup compares keys, not only hashes: full 64-bit collisions in
 *     object mode, and byte keys that are prefixes of each other;
 *   - slab and index growth: a cache filled from empty to capacity keeps
 *     every key and value, evicts nothing until full, and its memory_bytes
 *     grows with the entries (and a small cache stays small);
 *   - the table keeps working after heavy churn (a table that leaked slots
 *     or tombstones would fill up or stop finding keys).
 */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bytes mode: a map model -------------------------------------------------- */

enum { UNIVERSE = 600 };

typedef struct bkey {
  char bytes[40];
  size_t len;
  bool present;
  uint64_t value;
} bkey;

/* Keys of 0..39 bytes; key i is unique (its first bytes spell i, its length
 * varies), and some are prefixes of others. */
static void make_keys(bkey *keys, uint64_t *rng) {
  for (int i = 0; i < UNIVERSE; i++) {
    memset(&keys[i], 0, sizeof keys[i]);
    int n = snprintf(keys[i].bytes, sizeof keys[i].bytes, "k%d.", i);
    size_t extra = (size_t)(test_rand(rng) % (sizeof keys[i].bytes - (size_t)n));
    for (size_t j = 0; j < extra; j++) keys[i].bytes[n + (int)j] = (char)('a' + (i + (int)j) % 26);
    keys[i].len = (size_t)n + extra;
  }
}

static void check_all(macho_cache *c, const bkey *keys) {
  size_t want = 0;
  for (int i = 0; i < UNIVERSE; i++) {
    uint64_t v = 0;
    size_t vlen = 0;
    int rc = macho_get(c, keys[i].bytes, keys[i].len, &v, sizeof v, &vlen);
    if (keys[i].present) {
      want++;
      assert_int_equal(rc, MACHO_OK);
      assert_int_equal(vlen, sizeof v);
      assert_int_equal(v, keys[i].value);
    } else {
      assert_int_equal(rc, MACHO_ENOTFOUND);
    }
  }
  assert_int_equal(macho_len(c), want);
}

static macho_cache *open_bytes(size_t cap, uint32_t shards) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.shards = shards;
  cfg.ttl_seconds = 0;
  cfg.metrics = 0;
  cfg.seed = test_seed();
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static void index_finds_what_was_inserted_and_not_what_was_removed(void **state) {
  (void)state;
  uint64_t rng = test_seed() ^ 0x7ab1e;
  static bkey keys[UNIVERSE];
  make_keys(keys, &rng);
  macho_cache *c = open_bytes(UNIVERSE, 1); /* room for all: nothing is evicted */
  for (int step = 0; step < 6000; step++) {
    int i = (int)(test_rand(&rng) % UNIVERSE);
    if (keys[i].present && test_rand(&rng) % 2) {
      assert_int_equal(macho_delete(c, keys[i].bytes, keys[i].len), MACHO_OK);
      keys[i].present = false;
    } else {
      keys[i].value = test_rand(&rng);
      assert_int_equal(macho_put(c, keys[i].bytes, keys[i].len, &keys[i].value, 8), MACHO_OK);
      keys[i].present = true;
    }
    if (step % 500 == 0) check_all(c, keys);
  }
  check_all(c, keys);
  assert_int_equal(test_counters(c).evictions, 0);
  macho_close(c);
}

static void lookup_compares_the_key_not_only_its_prefix(void **state) {
  (void)state;
  macho_cache *c = open_bytes(16, 1);
  const char *k = "abcdefgh";
  uint64_t v = 1, got = 0;
  assert_int_equal(macho_put(c, k, 8, &v, 8), MACHO_OK);
  /* Shorter, longer, and empty keys sharing the prefix are other keys. */
  assert_int_equal(macho_contains(c, k, 4), MACHO_ENOTFOUND);
  assert_int_equal(macho_contains(c, "abcdefgh\0", 9), MACHO_ENOTFOUND);
  assert_int_equal(macho_contains(c, k, 0), MACHO_ENOTFOUND);
  assert_int_equal(macho_contains(c, "abcdefgi", 8), MACHO_ENOTFOUND);
  v = 2;
  assert_int_equal(macho_put(c, k, 4, &v, 8), MACHO_OK);
  v = 3;
  assert_int_equal(macho_put(c, NULL, 0, &v, 8), MACHO_OK);
  assert_int_equal(macho_get(c, k, 8, &got, 8, NULL), MACHO_OK);
  assert_int_equal(got, 1);
  assert_int_equal(macho_get(c, k, 4, &got, 8, NULL), MACHO_OK);
  assert_int_equal(got, 2);
  assert_int_equal(macho_get(c, "", 0, &got, 8, NULL), MACHO_OK);
  assert_int_equal(got, 3);
  assert_int_equal(macho_len(c), 3);
  macho_close(c);
}

/* ---- object mode: the test chooses the hash ---------------------------------- */

typedef struct cobj {
  uint64_t id;
  int refs;
} cobj;

typedef struct cctx {
  uint64_t nhashes; /* hash = id % nhashes (1 = every key collides) */
  uint64_t salt;
} cctx;

static int c_hash(void *ctx, const void *key, uint64_t *out) {
  const cctx *x = ctx;
  *out = (((const cobj *)key)->id % x->nhashes) * 0x9E3779B97F4A7C15ULL + x->salt;
  return 0;
}
static int c_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return ((const cobj *)a)->id == ((const cobj *)b)->id;
}
static void c_retain(void *ctx, void *o) {
  (void)ctx;
  ((cobj *)o)->refs++;
}
static void c_release(void *ctx, void *o) {
  (void)ctx;
  ((cobj *)o)->refs--;
}

enum { NCOLL = 400 };

/* NCOLL keys whose hashes take `nhashes` values: one run (1) or a few. The
 * salt (with the cache seed) moves the runs' home slots, so over several
 * salts some runs wrap around the end of the table. Keys are deleted and
 * re-inserted in random order; after each batch every key is looked up
 * (through a twin object: equal, another address) and foreach must list
 * exactly the present ones. */
static void run_collisions(uint64_t nhashes, uint64_t salt) {
  static cobj keys[NCOLL], twins[NCOLL], vals[NCOLL];
  static bool present[NCOLL];
  cctx x = {nhashes, salt};
  macho_object_ops ops = {c_hash, c_equal, c_retain, c_release, &x};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = NCOLL;
  cfg.ttl_seconds = 0;
  cfg.metrics = 0;
  cfg.seed = salt;
  cfg.object_ops = &ops;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  for (int i = 0; i < NCOLL; i++) {
    keys[i] = (cobj){(uint64_t)i, 1};
    twins[i] = (cobj){(uint64_t)i, 1};
    vals[i] = (cobj){(uint64_t)(100000 + i), 1};
    assert_int_equal(macho_obj_put(c, &keys[i], &vals[i]), MACHO_OK);
    present[i] = true;
  }
  uint64_t rng = test_seed() ^ (nhashes * 131 + salt);
  int rounds = (int)test_scale(12, 3);
  for (int round = 0; round < rounds; round++) {
    for (int j = 0; j < NCOLL / 2; j++) {
      int i = (int)(test_rand(&rng) % NCOLL);
      if (present[i]) assert_int_equal(macho_obj_delete(c, &twins[i]), MACHO_OK);
      else assert_int_equal(macho_obj_put(c, &keys[i], &vals[i]), MACHO_OK);
      present[i] = !present[i];
    }
    size_t n = 0;
    for (int i = 0; i < NCOLL; i++) {
      void *v = NULL;
      int rc = macho_obj_get(c, &twins[i], &v);
      if (present[i]) {
        n++;
        assert_int_equal(rc, MACHO_OK);
        assert_ptr_equal(v, &vals[i]);
        c_release(&x, v);
      } else {
        assert_int_equal(rc, MACHO_ENOTFOUND);
      }
    }
    assert_int_equal(macho_len(c), n);
  }
  assert_int_equal(test_counters(c).evictions, 0);
  macho_close(c);
  for (int i = 0; i < NCOLL; i++) {
    assert_int_equal(keys[i].refs, 1);
    assert_int_equal(twins[i].refs, 1);
    assert_int_equal(vals[i].refs, 1);
  }
}

static void one_long_run_of_colliding_hashes_stays_searchable(void **state) {
  (void)state;
  run_collisions(1, 1);
  run_collisions(1, 2);
}

static void runs_that_may_wrap_around_the_table_stay_searchable(void **state) {
  (void)state;
  for (uint64_t salt = 1; salt <= 4; salt++) {
    run_collisions(2, salt);
    run_collisions(5, salt);
  }
}

static void lookup_compares_the_key_not_only_the_hash(void **state) {
  (void)state;
  cctx x = {1, 42}; /* every key has the same 64-bit hash */
  macho_object_ops ops = {c_hash, c_equal, c_retain, c_release, &x};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 8;
  cfg.object_ops = &ops;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  cobj a = {1, 1}, b = {2, 1}, va = {11, 1}, vb = {12, 1};
  assert_int_equal(macho_obj_put(c, &a, &va), MACHO_OK);
  assert_int_equal(macho_obj_contains(c, &b), MACHO_ENOTFOUND);
  assert_int_equal(macho_obj_put(c, &b, &vb), MACHO_OK);
  void *v = NULL;
  assert_int_equal(macho_obj_get(c, &a, &v), MACHO_OK);
  assert_ptr_equal(v, &va);
  c_release(&x, v);
  assert_int_equal(macho_obj_get(c, &b, &v), MACHO_OK);
  assert_ptr_equal(v, &vb);
  c_release(&x, v);
  assert_int_equal(macho_obj_delete(c, &a), MACHO_OK);
  assert_int_equal(macho_obj_contains(c, &a), MACHO_ENOTFOUND);
  assert_int_equal(macho_obj_contains(c, &b), MACHO_OK);
  macho_close(c);
  assert_int_equal(a.refs + b.refs + va.refs + vb.refs, 4);
}

/* ---- growth and memory ---------------------------------------------------------- */

static uint64_t memory_of(macho_cache *c) { return test_counters(c).memory_bytes; }

static void filling_from_empty_to_capacity_keeps_every_key_and_grows_memory(void **state) {
  (void)state;
  enum { CAP = 5000 };
  macho_cache *c = open_bytes(CAP, 1);
  uint64_t mem = memory_of(c), mem_open = mem;
  uint64_t next_check = 1;
  for (uint64_t k = 0; k < CAP; k++) {
    uint64_t v = k * 3;
    assert_int_equal(macho_put(c, &k, sizeof k, &v, sizeof v), MACHO_OK);
    uint64_t m = memory_of(c);
    assert_true(m >= mem); /* inserting never shrinks what the cache holds */
    mem = m;
    if (k + 1 == next_check || k + 1 == CAP) {
      /* Every key so far, after each doubling: growth lost nothing. */
      for (uint64_t j = 0; j <= k; j++) {
        uint64_t got = 0;
        size_t n = 0;
        assert_int_equal(macho_get(c, &j, sizeof j, &got, sizeof got, &n), MACHO_OK);
        assert_int_equal(n, sizeof got);
        assert_int_equal(got, j * 3);
      }
      next_check *= 2;
    }
  }
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.entries, CAP);
  assert_int_equal(ct.evictions, 0);
  assert_int_equal(ct.payload_bytes, CAP * 16u);
  assert_true(mem > mem_open + ct.payload_bytes); /* entries cost more than their bytes */
  /* Bookkeeping stays bounded: at most 256 bytes per entry beyond key and
   * value, plus 64 KiB for the cache itself (today about 70). */
  assert_true(mem - ct.payload_bytes <= 256u * CAP + 65536u);
  /* One more key now evicts instead of growing. */
  uint64_t k = 99999, v = 1;
  assert_int_equal(macho_put(c, &k, sizeof k, &v, sizeof v), MACHO_OK);
  ct = test_counters(c);
  assert_int_equal(ct.entries, CAP);
  assert_int_equal(ct.evictions, 1);
  macho_close(c);
}

static void a_small_cache_allocates_little(void **state) {
  (void)state;
  macho_cache *small = open_bytes(10, 3);
  macho_cache *big = open_bytes(3000, 3);
  for (uint64_t k = 0; k < 3000; k++) assert_int_equal(macho_put(big, &k, 8, &k, 8), MACHO_OK);
  uint64_t ms = memory_of(small), mb = memory_of(big);
  assert_true(ms < 65536u);
  assert_true(ms * 4 < mb);
  /* And it works: every put lands, the shards stay within their 4+3+3. */
  for (uint64_t k = 0; k < 100; k++) {
    assert_int_equal(macho_put(small, &k, 8, &k, 8), MACHO_OK);
    assert_int_equal(macho_contains(small, &k, 8), MACHO_OK);
    assert_true(macho_len(small) <= 10);
  }
  for (int s = 0; s < 3; s++) {
    macho_counters ct;
    assert_int_equal(macho_counters_get(small, s, &ct), MACHO_OK);
    assert_int_equal(ct.entries, ct.capacity_entries); /* 100 keys filled every shard */
  }
  macho_close(small);
  macho_close(big);
}

/* Many inserts and deletes with few keys present at a time: a table that
 * leaked slots or kept tombstones would fill up and stop finding keys. */
static void the_table_keeps_working_after_heavy_churn(void **state) {
  (void)state;
  enum { CAP = 256, KEYS = 4096 };
  macho_cache *c = open_bytes(CAP, 2);
  static uint64_t value[KEYS];
  static bool present[KEYS];
  memset(present, 0, sizeof present);
  uint64_t rng = test_seed() ^ 0xc4c4;
  uint64_t steps = test_scale(400000, 8);
  for (uint64_t step = 0; step < steps; step++) {
    uint64_t k = test_rand(&rng) % KEYS;
    uint64_t x = test_rand(&rng) % 10;
    if (x < 4) {
      value[k] = step;
      assert_int_equal(macho_put(c, &k, 8, &value[k], 8), MACHO_OK);
      present[k] = true; /* until evicted: only hits are checked */
    } else if (x < 8) {
      int rc = macho_delete(c, &k, 8);
      assert_true(rc == MACHO_OK || (rc == MACHO_ENOTFOUND));
      if (rc == MACHO_OK) assert_true(present[k]);
      present[k] = false;
    } else {
      uint64_t got = 0;
      int rc = macho_get(c, &k, 8, &got, 8, NULL);
      if (rc == MACHO_OK) {
        assert_true(present[k]);
        assert_int_equal(got, value[k]);
      } else {
        assert_int_equal(rc, MACHO_ENOTFOUND);
      }
    }
    assert_true(macho_len(c) <= CAP);
  }
  /* Still a whole table: clear, fill it to capacity with fresh keys, find all. */
  assert_int_equal(macho_clear(c), MACHO_OK);
  size_t kept = 0;
  for (uint64_t k = KEYS; k < KEYS + CAP / 2; k++) assert_int_equal(macho_put(c, &k, 8, &k, 8), MACHO_OK);
  for (uint64_t k = KEYS; k < KEYS + CAP / 2; k++) kept += macho_contains(c, &k, 8) == MACHO_OK;
  assert_int_equal(kept, CAP / 2); /* half the capacity fits in any split over 2 shards */
  macho_close(c);
}

/* Gets of 8-byte keys hash them with a per-cache shortcut of XXH3, puts
 * (and other lengths) with XXH3 itself: both must agree for every seed, or
 * gets would look in the wrong groups and shards. */
static void every_seed_finds_keys_of_every_length(void **state) {
  (void)state;
  const uint64_t seeds[] = {0, 1, 42, 0x9E3779B97F4A7C15ull, 0x00000000ffffffffull, UINT64_MAX};
  for (size_t si = 0; si < sizeof seeds / sizeof seeds[0]; si++) {
    for (uint32_t shards = 1; shards <= 4; shards += 3) {
      macho_config cfg;
      macho_config_init(&cfg);
      cfg.seed = seeds[si];
      cfg.shards = shards;
      cfg.capacity_entries = 4000;
      macho_cache *c = NULL;
      assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
      for (uint32_t i = 0; i < 2000; i++) {
        unsigned char key[16];
        size_t klen = 2 + i % 15;
        for (size_t j = 0; j < klen; j++) key[j] = (unsigned char)(i * 131 + j * 7);
        memcpy(key, &i, 2); /* (length, first two bytes) name i */
        uint64_t v = i * 3u + 1;
        assert_int_equal(macho_put(c, key, klen, &v, 8), MACHO_OK);
      }
      for (uint32_t i = 0; i < 2000; i++) {
        unsigned char key[16];
        size_t klen = 2 + i % 15;
        for (size_t j = 0; j < klen; j++) key[j] = (unsigned char)(i * 131 + j * 7);
        memcpy(key, &i, 2); /* (length, first two bytes) name i */
        uint64_t v = 0;
        size_t vlen = 0;
        int rc = macho_get(c, key, klen, &v, sizeof v, &vlen);
        if (rc != MACHO_OK || v != i * 3u + 1 || vlen != 8)
          fail_msg("seed %llu, %u shards: key %u (%zu B): rc %d, value %llu",
                   (unsigned long long)seeds[si], shards, i, klen, rc, (unsigned long long)v);
      }
      macho_close(c);
    }
  }
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(index_finds_what_was_inserted_and_not_what_was_removed),
      cmocka_unit_test(lookup_compares_the_key_not_only_its_prefix),
      cmocka_unit_test(one_long_run_of_colliding_hashes_stays_searchable),
      cmocka_unit_test(runs_that_may_wrap_around_the_table_stay_searchable),
      cmocka_unit_test(lookup_compares_the_key_not_only_the_hash),
      cmocka_unit_test(filling_from_empty_to_capacity_keeps_every_key_and_grows_memory),
      cmocka_unit_test(a_small_cache_allocates_little),
      cmocka_unit_test(the_table_keeps_working_after_heavy_churn),
      cmocka_unit_test(every_seed_finds_keys_of_every_length),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
