/* test_policy_arc.c -- ARC (src/policy/arc.c) against the naive reference of
 * arc_ref.h, step by step, plus the behaviours that make ARC what it is:
 * keys seen twice survive a scan, and a key requested again soon after its
 * eviction from T1 comes back into T2 and grows T1's target. */
#include "arc_ref.h"

static const ref_ops ARC_REF = {arc_ref_create, arc_ref_destroy, arc_ref_miss,    arc_ref_hit, arc_ref_insert,
                                arc_ref_victim, arc_ref_remove,  arc_ref_contains, arc_ref_len};

static void arc_keeps_twice_seen_keys_through_a_scan(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_ARC, 8, NULL);
  for (uint64_t k = 1; k <= 4; k++) {
    pm_access(c, k);
    pm_access(c, k); /* a hit: T1 -> T2 */
  }
  for (uint64_t k = 100; k < 1000; k++) pm_access(c, k); /* one-time keys only pass through T1 */
  for (uint64_t k = 1; k <= 4; k++) assert_true(pm_has(c, k));
  macho_close(c);
}

static void arc_brings_a_recent_t1_victim_back_into_t2(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_ARC, 4, NULL);
  pm_access(c, 1);
  pm_access(c, 1); /* T2 = {1} */
  for (uint64_t k = 2; k <= 4; k++) pm_access(c, k); /* T1 = {2, 3, 4}: full */
  pm_access(c, 5); /* p = 0 < |T1|: T1's LRU 2 goes to the ghost B1 */
  assert_false(pm_has(c, 2));
  assert_int_equal(pm_access(c, 2), 0); /* a B1 hit: p = 1, T1's LRU 3 leaves, 2 enters T2 */
  assert_false(pm_has(c, 3));
  for (uint64_t k = 1; k <= 5; k++)
    if (k != 3) assert_true(pm_has(c, k));
  /* T1 = {4, 5}, T2 = {1, 2}, p = 1: the next new key still evicts from T1. */
  pm_access(c, 6);
  assert_false(pm_has(c, 4));
  assert_true(pm_has(c, 1) && pm_has(c, 2) && pm_has(c, 5) && pm_has(c, 6));
  macho_close(c);
}

static void arc_shrinks_t1_after_a_hit_in_b2(void **state) {
  (void)state;
  /* T2's victims go to B2; asking for one again lowers p, so T1 gives way. */
  macho_cache *c = pm_open(MACHO_POLICY_ARC, 4, NULL);
  for (uint64_t k = 1; k <= 4; k++) {
    pm_access(c, k);
    pm_access(c, k); /* T2 = {1, 2, 3, 4} */
  }
  pm_access(c, 5); /* |T1| = 0 is not > p = 0: T2's LRU 1 goes to B2 */
  assert_false(pm_has(c, 1));
  pm_access(c, 6); /* |T1| = 1 > p: 5 goes to B1 */
  assert_false(pm_has(c, 5));
  pm_access(c, 1); /* a B2 hit: p stays 0; |T1| = 1 > 0, so 6 (T1) leaves, 1 enters T2 */
  assert_true(pm_has(c, 1));
  assert_false(pm_has(c, 6));
  for (uint64_t k = 2; k <= 4; k++) assert_true(pm_has(c, k));
  macho_close(c);
}

static void arc_matches_the_reference_step_by_step(void **state) {
  (void)state;
  pm_run_model(MACHO_POLICY_ARC, &ARC_REF, 80, 1500, 40);
}

static void arc_survives_deletes_expiry_and_clear(void **state) {
  (void)state;
  pm_run_removals(MACHO_POLICY_ARC);
}

static void arc_evicts_under_a_byte_budget(void **state) {
  (void)state;
  pm_run_byte_budget(MACHO_POLICY_ARC);
}

static void arc_open_fails_cleanly_when_memory_runs_out(void **state) {
  (void)state;
  pm_run_open_oom(MACHO_POLICY_ARC);
}

/* A clear forgets p and the ghosts: afterwards a key evicted before the clear
 * is new again and enters T1, not T2. */
static void arc_clear_forgets_the_ghosts(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_ARC, 4, NULL);
  pm_access(c, 1);
  pm_access(c, 1);
  for (uint64_t k = 2; k <= 5; k++) pm_access(c, k); /* 2 is in B1 */
  assert_false(pm_has(c, 2));
  assert_int_equal(macho_clear(c), MACHO_OK);
  for (uint64_t k = 2; k <= 5; k++) pm_access(c, k); /* all in T1 (a ghost would put 2 in T2) */
  pm_access(c, 6); /* T1 holds c and B1 is empty: T1's LRU leaves */
  assert_false(pm_has(c, 2));
  macho_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arc_keeps_twice_seen_keys_through_a_scan),
      cmocka_unit_test(arc_brings_a_recent_t1_victim_back_into_t2),
      cmocka_unit_test(arc_shrinks_t1_after_a_hit_in_b2),
      cmocka_unit_test(arc_clear_forgets_the_ghosts),
      cmocka_unit_test(arc_matches_the_reference_step_by_step),
      cmocka_unit_test(arc_survives_deletes_expiry_and_clear),
      cmocka_unit_test(arc_evicts_under_a_byte_budget),
      cmocka_unit_test(arc_open_fails_cleanly_when_memory_runs_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
