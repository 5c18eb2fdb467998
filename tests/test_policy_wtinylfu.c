/* test_policy_wtinylfu.c -- W-TinyLFU (src/policy/wtinylfu.c).
 *
 * Its admission depends on a hashed count-min sketch, so an O(n) reference
 * would have to copy the sketch bit for bit; instead the model test checks the
 * contract every step against a set model: a hit or a put on a present key
 * never changes the key set, an insert into a full cache evicts exactly one
 * other key (never the one just put: the window holds at least one entry),
 * a delete removes exactly its key. Scenarios check the admission filter. */
#include "policy_model.h"

static void wtinylfu_keeps_frequent_keys_through_a_scan(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_WTINYLFU, 100, NULL);
  for (int round = 0; round < 10; round++)
    for (uint64_t k = 1; k <= 20; k++) pm_access(c, k);
  for (uint64_t k = 1000; k < 3000; k++) pm_access(c, k); /* each requested once */
  for (uint64_t k = 1; k <= 20; k++) assert_true(pm_has(c, k));
  macho_close(c);
}

static void wtinylfu_rejects_a_candidate_rarer_than_the_victim(void **state) {
  (void)state;
  /* 100 entries: a window of 1 and a main of 99, filled with keys hit twice. */
  macho_cache *c = pm_open(MACHO_POLICY_WTINYLFU, 100, NULL);
  for (int round = 0; round < 3; round++)
    for (uint64_t k = 1; k <= 100; k++) pm_access(c, k);
  pm_access(c, 500); /* enters the window */
  pm_access(c, 501); /* pushes 500 out: seen once, it loses to main's victim */
  assert_false(pm_has(c, 500));
  assert_true(pm_has(c, 501));
  size_t kept = 0;
  for (uint64_t k = 1; k <= 100; k++) kept += (size_t)pm_has(c, k);
  assert_int_equal(kept, 99);
  macho_close(c);
}

static void wtinylfu_admits_a_candidate_more_frequent_than_the_victim(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_WTINYLFU, 100, NULL);
  for (uint64_t k = 1; k <= 100; k++) pm_access(c, k); /* each seen once */
  for (int i = 0; i < 5; i++) pm_get(c, 500);           /* misses count too */
  pm_access(c, 500);
  pm_access(c, 501); /* 500 leaves the window and wins against a once-seen key */
  assert_true(pm_has(c, 500));
  macho_close(c);
}

static void wtinylfu_caches_the_key_just_put_even_in_a_tiny_cache(void **state) {
  (void)state;
  for (size_t cap = 1; cap <= 20; cap++) {
    macho_cache *c = pm_open(MACHO_POLICY_WTINYLFU, cap, NULL);
    for (uint64_t k = 1; k <= 200; k++) {
      pm_access(c, k % 7 == 0 ? 7 : k);
      assert_true(pm_has(c, k % 7 == 0 ? 7 : k));
      assert_true(macho_len(c) <= cap);
    }
    macho_close(c);
  }
}

static void wtinylfu_keeps_the_contract_step_by_step(void **state) {
  (void)state;
  uint64_t seed = test_seed();
  uint64_t rng = seed ^ 0x77;
  for (int round = 0; round < 40; round++) {
    uint32_t cap = 1 + (uint32_t)(test_rand(&rng) % 40);
    uint32_t universe = cap + 1 + (uint32_t)(test_rand(&rng) % (3 * cap + 2));
    if (universe > PM_MAX_KEYS) universe = PM_MAX_KEYS;
    macho_cache *c = pm_open(MACHO_POLICY_WTINYLFU, cap, NULL);
    char before[PM_MAX_KEYS + 1] = {0};
    for (int step = 0; step < 3000; step++) {
      uint64_t a = test_rand(&rng) % universe, b = test_rand(&rng) % universe;
      uint64_t k = 1 + (a < b ? a : b);
      uint32_t op = (uint32_t)(test_rand(&rng) % 100);
      size_t len = macho_len(c);
      int was = before[k];
      if (op < 75) pm_access(c, k);
      else if (op < 95) pm_put(c, k);
      else pm_del(c, k);
      char after[PM_MAX_KEYS + 1] = {0};
      size_t gone = 0, came = 0;
      for (uint64_t x = 1; x <= universe; x++) {
        after[x] = (char)pm_has(c, x);
        gone += before[x] && !after[x];
        came += !before[x] && after[x];
      }
      if (op >= 95) { /* delete */
        assert_false(after[k]);
        assert_int_equal(gone, (size_t)was);
        assert_int_equal(came, 0);
      } else if (was) { /* hit or replace: nothing moves */
        assert_int_equal(gone + came, 0);
      } else { /* insert: the key arrives, one other leaves if it was full */
        assert_true(after[k]);
        assert_int_equal(came, 1);
        if (gone != (len >= cap ? 1u : 0u))
          fprintf(stderr, "# seed %llu round %d cap %u step %d\n", (unsigned long long)seed, round, cap, step);
        assert_int_equal(gone, len >= cap ? 1 : 0);
      }
      assert_true(macho_len(c) <= cap);
      memcpy(before, after, sizeof before);
    }
    macho_close(c);
  }
}

static void wtinylfu_is_reproducible_for_a_seed(void **state) {
  (void)state;
  macho_cache *a = pm_open(MACHO_POLICY_WTINYLFU, 50, NULL);
  macho_cache *b = pm_open(MACHO_POLICY_WTINYLFU, 50, NULL);
  uint64_t rng = test_seed();
  for (int i = 0; i < 20000; i++) {
    uint64_t x = test_rand(&rng) % 400, y = test_rand(&rng) % 400;
    uint64_t k = x < y ? x : y;
    assert_int_equal(pm_access(a, k), pm_access(b, k));
  }
  macho_close(a);
  macho_close(b);
}

static void wtinylfu_survives_deletes_expiry_and_clear(void **state) {
  (void)state;
  pm_run_removals(MACHO_POLICY_WTINYLFU);
}

static void wtinylfu_evicts_under_a_byte_budget(void **state) {
  (void)state;
  pm_run_byte_budget(MACHO_POLICY_WTINYLFU);
}

static void wtinylfu_open_fails_cleanly_when_memory_runs_out(void **state) {
  (void)state;
  pm_run_open_oom(MACHO_POLICY_WTINYLFU);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(wtinylfu_keeps_frequent_keys_through_a_scan),
      cmocka_unit_test(wtinylfu_rejects_a_candidate_rarer_than_the_victim),
      cmocka_unit_test(wtinylfu_admits_a_candidate_more_frequent_than_the_victim),
      cmocka_unit_test(wtinylfu_caches_the_key_just_put_even_in_a_tiny_cache),
      cmocka_unit_test(wtinylfu_keeps_the_contract_step_by_step),
      cmocka_unit_test(wtinylfu_is_reproducible_for_a_seed),
      cmocka_unit_test(wtinylfu_survives_deletes_expiry_and_clear),
      cmocka_unit_test(wtinylfu_evicts_under_a_byte_budget),
      cmocka_unit_test(wtinylfu_open_fails_cleanly_when_memory_runs_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
