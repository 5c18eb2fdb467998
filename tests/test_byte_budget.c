/*
 * test_byte_budget.c -- capacity_bytes: a byte budget for keys + values.
 *
 * Each shard gets its share of the budget (split like the entry capacity)
 * and evicts, in its policy's order, until a new entry fits. A put that
 * returns MACHO_OK leaves its key present, even when a bigger value replaces
 * a smaller one and the policy (FIFO, Random) would pick that very entry.
 * Random operations check the invariant payload_bytes <= capacity_bytes.
 */
#include "support.h"

#include <string.h>

static macho_cache *open_budget(macho_policy policy, size_t bytes, uint32_t shards) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 1000;
  cfg.capacity_bytes = bytes;
  cfg.shards = shards;
  cfg.policy = policy;
  cfg.ttl_seconds = 0;
  cfg.seed = test_seed();
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static void puts_evict_until_the_new_entry_fits(void **state) {
  (void)state;
  /* Each entry: a 1-byte key (in its slot) and a 19-byte value (a 24-byte
   * block): MACHO_ENTRY_OVERHEAD + 24 = 72 bytes; five fit in 360. */
  macho_cache *c = open_budget(MACHO_POLICY_LRU, 5 * (MACHO_ENTRY_OVERHEAD + 24), 1);
  char v[19] = {0};
  for (int i = 0; i < 10; i++) {
    char k = (char)('a' + i);
    assert_int_equal(macho_put(c, &k, 1, v, sizeof v), MACHO_OK);
  }
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.entries, 5);
  assert_int_equal(ct.payload_bytes, 100);
  assert_int_equal(ct.charged_bytes, 5 * (MACHO_ENTRY_OVERHEAD + 24));
  assert_int_equal(ct.evictions, 5);
  /* LRU: the five newest remain. */
  for (int i = 5; i < 10; i++) assert_int_equal(macho_contains(c, &(char){(char)('a' + i)}, 1), MACHO_OK);
  macho_close(c);
}

static void a_growing_replace_never_evicts_the_key_it_wrote(void **state) {
  (void)state;
  /* Every policy this build has: victim() may pick the entry being replaced. */
  const uint64_t small = MACHO_ENTRY_OVERHEAD + 16, big = MACHO_ENTRY_OVERHEAD + 32;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    if (!macho_policy_available((macho_policy)p)) continue;
    for (int trial = 0; trial < 50; trial++) {
      macho_cache *c = open_budget((macho_policy)p, 3 * small + 8, 1);
      char v[30] = {0};
      assert_int_equal(macho_put(c, "a", 1, v, 9), MACHO_OK);  /* 64 bytes, oldest */
      assert_int_equal(macho_put(c, "b", 1, v, 9), MACHO_OK);
      assert_int_equal(macho_put(c, "c", 1, v, 9), MACHO_OK);
      assert_int_equal(macho_put(c, "a", 1, v, 29), MACHO_OK); /* 80 bytes: 208 > 200 */
      char buf[32];
      size_t n = 0;
      assert_int_equal(macho_get(c, "a", 1, buf, sizeof buf, &n), MACHO_OK);
      assert_int_equal(n, 29);
      macho_counters ct = test_counters(c);
      assert_true(ct.charged_bytes <= 3 * small + 8);
      assert_int_equal(ct.entries, 2);
      assert_int_equal(ct.charged_bytes, big + small);
      macho_close(c);
    }
  }
}

static void random_operations_keep_payload_within_the_budget(void **state) {
  (void)state;
  uint64_t rng = test_seed();
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    if (!macho_policy_available((macho_policy)p)) continue;
    macho_cache *c = open_budget((macho_policy)p, 3 * 3000, 3);
    char v[200];
    memset(v, 'x', sizeof v);
    for (int step = 0; step < 20000; step++) {
      uint64_t x = test_rand(&rng), k = (x >> 8) % 300;
      size_t vlen = (size_t)((x >> 20) % 200);
      if (x % 4) {
        assert_int_equal(macho_put(c, &k, 8, v, vlen), MACHO_OK);
        assert_int_equal(macho_contains(c, &k, 8), MACHO_OK); /* what was written is there */
      } else {
        int rc = macho_delete(c, &k, 8);
        assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
      }
      if (step % 64 == 0) {
        for (int s = 0; s < 3; s++) {
          macho_counters ct;
          assert_int_equal(macho_counters_get(c, s, &ct), MACHO_OK);
          assert_true(ct.charged_bytes <= ct.capacity_bytes);
        }
      }
    }
    macho_close(c);
  }
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(puts_evict_until_the_new_entry_fits),
      cmocka_unit_test(a_growing_replace_never_evicts_the_key_it_wrote),
      cmocka_unit_test(random_operations_keep_payload_within_the_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
