/* test_policy_lfu.c -- LFU and MFU (src/policy/lfu.c): frequency buckets
 * against an O(n) reference that scans for the least (most) frequent entry,
 * ties broken by least recent use. */
#include "policy_model.h"

/* ---- reference: slot.a = frequency, slot.b = time of last use --------------- */
typedef struct ref_lfu {
  ref_array *arr;
  uint64_t tick;
  int most; /* 1 = MFU */
} ref_lfu;

static void *lfu_create_common(uint32_t cap, int most) {
  ref_lfu *r = calloc(1, sizeof *r);
  r->arr = ref_array_new(cap);
  r->most = most;
  return r;
}
static void *lfu_create(uint32_t cap) { return lfu_create_common(cap, 0); }
static void *mfu_create(uint32_t cap) { return lfu_create_common(cap, 1); }
static void lfu_destroy(void *p) {
  ref_lfu *r = p;
  ref_array_free(r->arr);
  free(r);
}
static void lfu_hit(void *p, uint64_t key) {
  ref_lfu *r = p;
  ref_slot *s = &r->arr->s[ref_find(r->arr, key)];
  s->a++;
  s->b = ++r->tick;
}
static void lfu_insert(void *p, uint64_t key) {
  ref_lfu *r = p;
  ref_append(r->arr, (ref_slot){key, 1, ++r->tick});
}
static uint64_t lfu_victim(void *p) {
  ref_lfu *r = p;
  uint32_t best = 0;
  for (uint32_t i = 1; i < r->arr->n; i++) {
    ref_slot *x = &r->arr->s[i], *y = &r->arr->s[best];
    int better = r->most ? x->a > y->a : x->a < y->a;
    if (better || (x->a == y->a && x->b < y->b)) best = i;
  }
  return ref_take(r->arr, best).key;
}
static void lfu_remove(void *p, uint64_t key) {
  ref_lfu *r = p;
  ref_take(r->arr, (uint32_t)ref_find(r->arr, key));
}
static int lfu_contains(void *p, uint64_t key) { return ref_find(((ref_lfu *)p)->arr, key) >= 0; }
static uint32_t lfu_len(void *p) { return ((ref_lfu *)p)->arr->n; }

static const ref_ops LFU_REF = {lfu_create, lfu_destroy, NULL, lfu_hit, lfu_insert,
                                lfu_victim, lfu_remove, lfu_contains, lfu_len};
static const ref_ops MFU_REF = {mfu_create, lfu_destroy, NULL, lfu_hit, lfu_insert,
                                lfu_victim, lfu_remove, lfu_contains, lfu_len};

/* ---- scenarios ------------------------------------------------------------------- */
static void lfu_evicts_least_frequent_then_least_recent(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_LFU, 3, NULL);
  uint64_t keys[] = {1, 2, 3};
  pm_put_all(c, keys, 3);
  assert_true(pm_get(c, 1)); /* 1: freq 2; 2 and 3: freq 1, 2 older */
  pm_put(c, 4);
  assert_false(pm_has(c, 2));
  assert_true(pm_has(c, 1) && pm_has(c, 3) && pm_has(c, 4));
  assert_true(pm_get(c, 3)); /* 3: freq 2, 4: freq 1 */
  pm_put(c, 5);
  assert_false(pm_has(c, 4));
  macho_close(c);
}

static void lfu_keeps_a_frequent_key_through_a_scan(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_LFU, 4, NULL);
  pm_put(c, 100);
  for (int i = 0; i < 5; i++) assert_true(pm_get(c, 100));
  for (uint64_t k = 1; k <= 50; k++) pm_access(c, k);
  assert_true(pm_has(c, 100));
  macho_close(c);
}

static void lfu_counts_a_put_on_a_present_key_as_a_use(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_LFU, 2, NULL);
  pm_put(c, 1);
  pm_put(c, 2);
  pm_put(c, 1); /* 1: freq 2 */
  pm_put(c, 3);
  assert_true(pm_has(c, 1));
  assert_false(pm_has(c, 2));
  macho_close(c);
}

static void mfu_evicts_most_frequent_then_least_recent(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_MFU, 3, NULL);
  uint64_t keys[] = {1, 2, 3};
  pm_put_all(c, keys, 3);
  assert_true(pm_get(c, 2));
  assert_true(pm_get(c, 3)); /* 2 and 3 at freq 2, 2 less recent */
  pm_put(c, 4);
  assert_false(pm_has(c, 2));
  assert_true(pm_has(c, 1) && pm_has(c, 3) && pm_has(c, 4));
  pm_put(c, 5); /* 3 is now the only one at freq 2 */
  assert_false(pm_has(c, 3));
  macho_close(c);
}

static void lfu_matches_the_reference_step_by_step(void **state) {
  (void)state;
  pm_run_model(MACHO_POLICY_LFU, &LFU_REF, 60, 1500, 20);
}

static void mfu_matches_the_reference_step_by_step(void **state) {
  (void)state;
  pm_run_model(MACHO_POLICY_MFU, &MFU_REF, 60, 1500, 20);
}

static void lfu_and_mfu_survive_deletes_expiry_and_clear(void **state) {
  (void)state;
  pm_run_removals(MACHO_POLICY_LFU);
  pm_run_removals(MACHO_POLICY_MFU);
}

static void lfu_and_mfu_evict_under_a_byte_budget(void **state) {
  (void)state;
  pm_run_byte_budget(MACHO_POLICY_LFU);
  pm_run_byte_budget(MACHO_POLICY_MFU);
}

static void lfu_open_fails_cleanly_when_memory_runs_out(void **state) {
  (void)state;
  pm_run_open_oom(MACHO_POLICY_LFU);
  pm_run_open_oom(MACHO_POLICY_MFU);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lfu_evicts_least_frequent_then_least_recent),
      cmocka_unit_test(lfu_keeps_a_frequent_key_through_a_scan),
      cmocka_unit_test(lfu_counts_a_put_on_a_present_key_as_a_use),
      cmocka_unit_test(mfu_evicts_most_frequent_then_least_recent),
      cmocka_unit_test(lfu_matches_the_reference_step_by_step),
      cmocka_unit_test(mfu_matches_the_reference_step_by_step),
      cmocka_unit_test(lfu_and_mfu_survive_deletes_expiry_and_clear),
      cmocka_unit_test(lfu_and_mfu_evict_under_a_byte_budget),
      cmocka_unit_test(lfu_open_fails_cleanly_when_memory_runs_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
