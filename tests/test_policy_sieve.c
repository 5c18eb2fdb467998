/* test_policy_sieve.c -- SIEVE (src/policy/sieve.c) against an array
 * reference: keys in insertion order (index 0 = oldest), a visited bit each,
 * and a hand that remembers the key it stopped at. */
#include "policy_model.h"

/* slot.a = visited bit. The hand is a key (0 = start at the oldest). */
typedef struct ref_sieve {
  ref_array *arr;
  uint64_t hand;
} ref_sieve;

static void *sv_create(uint32_t cap) {
  ref_sieve *r = calloc(1, sizeof *r);
  r->arr = ref_array_new(cap);
  return r;
}
static void sv_destroy(void *p) {
  ref_sieve *r = p;
  ref_array_free(r->arr);
  free(r);
}
static void sv_hit(void *p, uint64_t key) {
  ref_sieve *r = p;
  r->arr->s[ref_find(r->arr, key)].a = 1;
}
static void sv_insert(void *p, uint64_t key) { ref_append(((ref_sieve *)p)->arr, (ref_slot){key, 0, 0}); }
/* Forget index i; a hand on it moves to the next newer key (or restarts). */
static uint64_t sv_take(ref_sieve *r, uint32_t i) {
  if (r->hand == r->arr->s[i].key) r->hand = i + 1 < r->arr->n ? r->arr->s[i + 1].key : 0;
  return ref_take(r->arr, i).key;
}
static uint64_t sv_victim(void *p) {
  ref_sieve *r = p;
  uint32_t i = r->hand ? (uint32_t)ref_find(r->arr, r->hand) : 0;
  while (r->arr->s[i].a) {
    r->arr->s[i].a = 0;
    i = i + 1 < r->arr->n ? i + 1 : 0; /* towards newer, wrapping to the oldest */
  }
  r->hand = r->arr->s[i].key; /* sv_take moves it on to the next newer key */
  return sv_take(r, i);
}
static void sv_remove(void *p, uint64_t key) {
  ref_sieve *r = p;
  sv_take(r, (uint32_t)ref_find(r->arr, key));
}
static int sv_contains(void *p, uint64_t key) { return ref_find(((ref_sieve *)p)->arr, key) >= 0; }
static uint32_t sv_len(void *p) { return ((ref_sieve *)p)->arr->n; }

static const ref_ops SIEVE_REF = {sv_create, sv_destroy, NULL, sv_hit, sv_insert,
                                  sv_victim, sv_remove, sv_contains, sv_len};

static void sieve_evicts_the_oldest_unvisited_entry(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_SIEVE, 3, NULL);
  uint64_t keys[] = {1, 2, 3};
  pm_put_all(c, keys, 3);
  pm_put(c, 4);
  assert_false(pm_has(c, 1));
  assert_true(pm_has(c, 2) && pm_has(c, 3) && pm_has(c, 4));
  macho_close(c);
}

static void sieve_gives_visited_entries_a_second_chance(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_SIEVE, 3, NULL);
  uint64_t keys[] = {1, 2, 3};
  pm_put_all(c, keys, 3);
  assert_true(pm_get(c, 1));
  pm_put(c, 4); /* the hand clears 1's bit and evicts 2 */
  assert_true(pm_has(c, 1));
  assert_false(pm_has(c, 2));
  pm_put(c, 5); /* the hand went on from 2 to 3: evicts 3, not 1 */
  assert_false(pm_has(c, 3));
  assert_true(pm_has(c, 1));
  pm_put(c, 6); /* the hand goes on towards the newest: evicts 4 */
  assert_false(pm_has(c, 4));
  assert_true(pm_has(c, 1)); /* survives until the hand wraps around to it */
  macho_close(c);
}

static void sieve_does_not_move_survivors_to_the_head(void **state) {
  (void)state;
  /* Unlike CLOCK/LRU, a visited survivor keeps its place: after a lap in
   * which every bit was set, the oldest entry is evicted first. */
  macho_cache *c = pm_open(MACHO_POLICY_SIEVE, 3, NULL);
  uint64_t keys[] = {1, 2, 3};
  pm_put_all(c, keys, 3);
  for (uint64_t k = 1; k <= 3; k++) assert_true(pm_get(c, k));
  pm_put(c, 4);
  assert_false(pm_has(c, 1));
  macho_close(c);
}

static void sieve_matches_the_reference_step_by_step(void **state) {
  (void)state;
  pm_run_model(MACHO_POLICY_SIEVE, &SIEVE_REF, 60, 1500, 20);
}

static void sieve_survives_deletes_expiry_and_clear(void **state) {
  (void)state;
  pm_run_removals(MACHO_POLICY_SIEVE);
}

static void sieve_evicts_under_a_byte_budget(void **state) {
  (void)state;
  pm_run_byte_budget(MACHO_POLICY_SIEVE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sieve_evicts_the_oldest_unvisited_entry),
      cmocka_unit_test(sieve_gives_visited_entries_a_second_chance),
      cmocka_unit_test(sieve_does_not_move_survivors_to_the_head),
      cmocka_unit_test(sieve_matches_the_reference_step_by_step),
      cmocka_unit_test(sieve_survives_deletes_expiry_and_clear),
      cmocka_unit_test(sieve_evicts_under_a_byte_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
