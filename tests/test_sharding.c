/*
 * test_sharding.c -- how a cache splits into shards (src/cache.c routing).
 *
 * Capacity is split as the issue promises: every shard gets
 * capacity / shards entries and the remainder goes one each to the first
 * shards. Keys are routed by the high bits of an XXH3 hash, so a shard's load
 * should be close to even; counters are kept per shard and their sum is the
 * total.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static macho_cache *open_sharded(size_t cap, uint32_t shards, size_t cap_bytes) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.shards = shards;
  cfg.capacity_bytes = cap_bytes;
  cfg.ttl_seconds = 0;
  cfg.seed = test_seed();
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static void capacity_is_split_with_the_remainder_to_the_first_shards(void **state) {
  (void)state;
  const struct { size_t cap; uint32_t shards; } cases[] = {
      {100, 1}, {100, 7}, {10, 10}, {1000, 16}, {1001, 16}, {1015, 16}, {65536 + 3, 65536}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    macho_cache *c = open_sharded(cases[i].cap, cases[i].shards, 0);
    assert_int_equal(macho_shard_count(c), cases[i].shards);
    uint64_t base = cases[i].cap / cases[i].shards, rem = cases[i].cap % cases[i].shards;
    uint64_t sum = 0;
    for (uint32_t s = 0; s < cases[i].shards; s++) {
      macho_counters ct;
      assert_int_equal(macho_counters_get(c, (int)s, &ct), MACHO_OK);
      assert_int_equal(ct.capacity_entries, base + (s < rem ? 1 : 0));
      sum += ct.capacity_entries;
    }
    assert_int_equal(sum, cases[i].cap);
    macho_counters total;
    assert_int_equal(macho_counters_get(c, -1, &total), MACHO_OK);
    assert_int_equal(total.capacity_entries, cases[i].cap);
    macho_close(c);
  }
}

static void byte_budget_is_split_the_same_way(void **state) {
  (void)state;
  macho_cache *c = open_sharded(100, 3, 1000);
  const uint64_t want[3] = {334, 333, 333};
  for (int s = 0; s < 3; s++) {
    macho_counters ct;
    assert_int_equal(macho_counters_get(c, s, &ct), MACHO_OK);
    assert_int_equal(ct.capacity_bytes, want[s]);
  }
  macho_close(c);
}

static void keys_spread_evenly_across_shards(void **state) {
  (void)state;
  enum { SHARDS = 16, KEYS = 160000 };
  macho_cache *c = open_sharded(KEYS * 2, SHARDS, 0);
  char key[32];
  for (int i = 0; i < KEYS; i++) {
    int n = snprintf(key, sizeof key, "user:%d", i);
    assert_int_equal(macho_put(c, key, (size_t)n, "", 0), MACHO_OK);
  }
  /* Chi-square against uniform: 15 degrees of freedom, p = 0.0001 at ~44. */
  double expected = (double)KEYS / SHARDS, chi2 = 0;
  for (int s = 0; s < SHARDS; s++) {
    macho_counters ct;
    assert_int_equal(macho_counters_get(c, s, &ct), MACHO_OK);
    double d = (double)ct.entries - expected;
    chi2 += d * d / expected;
    assert_true(fabs(d) < 0.05 * expected);
  }
  assert_true(chi2 < 44.0);
  macho_close(c);
}

static void each_shard_stays_within_its_own_capacity(void **state) {
  (void)state;
  macho_cache *c = open_sharded(50, 5, 0);
  for (uint64_t k = 0; k < 10000; k++) assert_int_equal(macho_put(c, &k, 8, &k, 8), MACHO_OK);
  for (int s = 0; s < 5; s++) {
    macho_counters ct;
    assert_int_equal(macho_counters_get(c, s, &ct), MACHO_OK);
    assert_int_equal(ct.entries, 10); /* full, and not one more */
  }
  assert_int_equal(macho_len(c), 50);
  macho_close(c);
}

static void shard_counters_sum_to_the_total(void **state) {
  (void)state;
  macho_cache *c = open_sharded(300, 8, 0);
  uint64_t rng = test_seed();
  for (int i = 0; i < 20000; i++) {
    uint64_t x = test_rand(&rng), k = (x >> 8) % 600, v = 0;
    switch (x % 4) {
    case 0: case 1: assert_int_equal(macho_put(c, &k, 8, &k, 8), MACHO_OK); break;
    case 2: {
      int rc = macho_get(c, &k, 8, &v, 8, NULL);
      assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
      break;
    }
    default: {
      int rc = macho_delete(c, &k, 8);
      assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
      break;
    }
    }
  }
  macho_counters total, sum;
  memset(&sum, 0, sizeof sum);
  assert_int_equal(macho_counters_get(c, -1, &total), MACHO_OK);
  for (int s = 0; s < 8; s++) {
    macho_counters ct;
    assert_int_equal(macho_counters_get(c, s, &ct), MACHO_OK);
    assert_int_equal(ct.hits + ct.misses, ct.gets);
    assert_int_equal(ct.requests, ct.gets + ct.puts);
    sum.hits += ct.hits;
    sum.misses += ct.misses;
    sum.gets += ct.gets;
    sum.puts += ct.puts;
    sum.deletes += ct.deletes;
    sum.requests += ct.requests;
    sum.evictions += ct.evictions;
    sum.entries += ct.entries;
    sum.payload_bytes += ct.payload_bytes;
    sum.memory_bytes += ct.memory_bytes;
  }
  assert_int_equal(sum.hits, total.hits);
  assert_int_equal(sum.misses, total.misses);
  assert_int_equal(sum.gets, total.gets);
  assert_int_equal(sum.puts, total.puts);
  assert_int_equal(sum.deletes, total.deletes);
  assert_int_equal(sum.requests, total.requests);
  assert_int_equal(sum.evictions, total.evictions);
  assert_int_equal(sum.entries, total.entries);
  assert_int_equal(sum.entries, macho_len(c));
  assert_int_equal(sum.payload_bytes, total.payload_bytes);
  assert_int_equal(total.payload_bytes, total.entries * 16);
  assert_true(total.memory_bytes > sum.memory_bytes); /* plus the cache handle */
  assert_true(total.hits > 0 && total.evictions > 0 && total.deletes > 0);
  macho_close(c);
}

static void counters_of_a_shard_out_of_range_are_an_error(void **state) {
  (void)state;
  macho_cache *c = open_sharded(10, 2, 0);
  macho_counters ct;
  assert_int_equal(macho_counters_get(c, 2, &ct), MACHO_EINVAL);
  assert_int_equal(macho_counters_get(c, -2, &ct), MACHO_EINVAL);
  assert_int_equal(macho_counters_get(c, 1, &ct), MACHO_OK);
  macho_close(c);
}

static void the_same_seed_routes_keys_to_the_same_shards(void **state) {
  (void)state;
  macho_cache *a = open_sharded(1000, 4, 0), *b = open_sharded(1000, 4, 0);
  for (uint64_t k = 0; k < 200; k++) {
    assert_int_equal(macho_put(a, &k, 8, &k, 8), MACHO_OK);
    assert_int_equal(macho_put(b, &k, 8, &k, 8), MACHO_OK);
  }
  for (int s = 0; s < 4; s++) {
    macho_counters ca, cb;
    assert_int_equal(macho_counters_get(a, s, &ca), MACHO_OK);
    assert_int_equal(macho_counters_get(b, s, &cb), MACHO_OK);
    assert_int_equal(ca.entries, cb.entries);
  }
  macho_close(a);
  macho_close(b);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(capacity_is_split_with_the_remainder_to_the_first_shards),
      cmocka_unit_test(byte_budget_is_split_the_same_way),
      cmocka_unit_test(keys_spread_evenly_across_shards),
      cmocka_unit_test(each_shard_stays_within_its_own_capacity),
      cmocka_unit_test(shard_counters_sum_to_the_total),
      cmocka_unit_test(counters_of_a_shard_out_of_range_are_an_error),
      cmocka_unit_test(the_same_seed_routes_keys_to_the_same_shards),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
