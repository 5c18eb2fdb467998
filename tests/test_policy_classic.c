/* test_policy_classic.c -- LRU, FIFO and Random (src/policy/lru.c, fifo.c,
 * random.c) through the shared policy harness (policy_model.h): LRU and FIFO
 * step by step against array references (index 0 = the next victim), Random
 * against its contract, and for all three the removal, byte-budget and
 * open-OOM checks every policy passes. test_model_core.c adds TTLs and
 * several shards for the same three. */
#include "policy_model.h"

/* ---- references: an array, oldest (next victim) first ------------------------- */
typedef struct ref_queue {
  ref_array *arr;
  int move_on_hit; /* 1 = LRU, 0 = FIFO */
} ref_queue;

static void *q_create_common(uint32_t cap, int lru) {
  ref_queue *r = calloc(1, sizeof *r);
  r->arr = ref_array_new(cap);
  r->move_on_hit = lru;
  return r;
}
static void *lru_create(uint32_t cap) { return q_create_common(cap, 1); }
static void *fifo_create(uint32_t cap) { return q_create_common(cap, 0); }
static void q_destroy(void *p) {
  ref_queue *r = p;
  ref_array_free(r->arr);
  free(r);
}
static void q_hit(void *p, uint64_t key) {
  ref_queue *r = p;
  if (r->move_on_hit) ref_append(r->arr, ref_take(r->arr, (uint32_t)ref_find(r->arr, key)));
}
static void q_insert(void *p, uint64_t key) { ref_append(((ref_queue *)p)->arr, (ref_slot){key, 0, 0}); }
static uint64_t q_victim(void *p) { return ref_take(((ref_queue *)p)->arr, 0).key; }
static void q_remove(void *p, uint64_t key) {
  ref_queue *r = p;
  ref_take(r->arr, (uint32_t)ref_find(r->arr, key));
}
static int q_contains(void *p, uint64_t key) { return ref_find(((ref_queue *)p)->arr, key) >= 0; }
static uint32_t q_len(void *p) { return ((ref_queue *)p)->arr->n; }

static const ref_ops LRU_REF = {lru_create, q_destroy, NULL, q_hit, q_insert,
                                q_victim, q_remove, q_contains, q_len};
static const ref_ops FIFO_REF = {fifo_create, q_destroy, NULL, q_hit, q_insert,
                                 q_victim, q_remove, q_contains, q_len};

/* ---- scenarios ------------------------------------------------------------------- */
static void lru_evicts_the_least_recently_used_key(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_LRU, 3, NULL);
  uint64_t keys[] = {1, 2, 3};
  pm_put_all(c, keys, 3);
  assert_true(pm_get(c, 1)); /* 2 is now the least recent */
  pm_put(c, 4);
  assert_false(pm_has(c, 2));
  assert_true(pm_has(c, 1) && pm_has(c, 3) && pm_has(c, 4));
  pm_put(c, 3); /* a replace is a use too: 1 is now the least recent */
  pm_put(c, 5);
  assert_false(pm_has(c, 1));
  macho_close(c);
}

static void fifo_evicts_the_oldest_insert_whatever_its_use(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_FIFO, 3, NULL);
  uint64_t keys[] = {1, 2, 3};
  pm_put_all(c, keys, 3);
  assert_true(pm_get(c, 1));
  pm_put(c, 1); /* a replace keeps its place in the queue */
  pm_put(c, 4);
  assert_false(pm_has(c, 1));
  pm_put(c, 5);
  assert_false(pm_has(c, 2));
  assert_true(pm_has(c, 3) && pm_has(c, 4) && pm_has(c, 5));
  macho_close(c);
}

static void lru_matches_the_reference_step_by_step(void **state) {
  (void)state;
  pm_run_model(MACHO_POLICY_LRU, &LRU_REF, 60, 1500, 20);
}

static void fifo_matches_the_reference_step_by_step(void **state) {
  (void)state;
  pm_run_model(MACHO_POLICY_FIFO, &FIFO_REF, 60, 1500, 20);
}

/* Random has no order to compare: a hit or a replace never changes the key
 * set, an insert into a full cache evicts exactly one other key, a delete
 * removes exactly its key; and a seed reproduces the same choices. */
static void random_keeps_the_contract_step_by_step(void **state) {
  (void)state;
  uint64_t seed = test_seed();
  uint64_t rng = seed ^ 0x5eed;
  for (int round = 0; round < 40; round++) {
    uint32_t cap = 1 + (uint32_t)(test_rand(&rng) % 40);
    uint32_t universe = cap + 1 + (uint32_t)(test_rand(&rng) % (3 * cap + 2));
    if (universe > PM_MAX_KEYS) universe = PM_MAX_KEYS;
    macho_cache *c = pm_open(MACHO_POLICY_RANDOM, cap, NULL);
    char before[PM_MAX_KEYS + 1] = {0};
    for (int step = 0; step < 1500; step++) {
      uint64_t k = 1 + test_rand(&rng) % universe;
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
      if (op >= 95) {
        assert_false(after[k]);
        assert_int_equal(gone, (size_t)was);
        assert_int_equal(came, 0);
      } else if (was) {
        assert_int_equal(gone + came, 0);
      } else {
        assert_true(after[k]);
        assert_int_equal(came, 1);
        assert_int_equal(gone, len >= cap ? 1 : 0);
      }
      assert_int_equal(macho_len(c), came + len - gone);
      memcpy(before, after, sizeof before);
    }
    macho_close(c);
  }
}

static void random_is_reproducible_for_a_seed(void **state) {
  (void)state;
  macho_cache *a = pm_open(MACHO_POLICY_RANDOM, 50, NULL);
  macho_cache *b = pm_open(MACHO_POLICY_RANDOM, 50, NULL);
  uint64_t rng = test_seed() ^ 3;
  for (int i = 0; i < 20000; i++) {
    uint64_t k = test_rand(&rng) % 200;
    assert_int_equal(pm_access(a, k), pm_access(b, k));
  }
  macho_close(a);
  macho_close(b);
}

#define COMMON_TESTS(name, pol)                                               \
  static void name##_survives_deletes_expiry_and_clear(void **state) {       \
    (void)state;                                                              \
    pm_run_removals(pol);                                                     \
  }                                                                           \
  static void name##_evicts_under_a_byte_budget(void **state) {              \
    (void)state;                                                              \
    pm_run_byte_budget(pol);                                                  \
  }                                                                           \
  static void name##_open_fails_cleanly_when_memory_runs_out(void **state) { \
    (void)state;                                                              \
    pm_run_open_oom(pol);                                                     \
  }
COMMON_TESTS(lru, MACHO_POLICY_LRU)
COMMON_TESTS(fifo, MACHO_POLICY_FIFO)
COMMON_TESTS(random, MACHO_POLICY_RANDOM)

#define COMMON_ENTRIES(name)                                         \
  cmocka_unit_test(name##_survives_deletes_expiry_and_clear),        \
      cmocka_unit_test(name##_evicts_under_a_byte_budget),           \
      cmocka_unit_test(name##_open_fails_cleanly_when_memory_runs_out)

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lru_evicts_the_least_recently_used_key),
      cmocka_unit_test(fifo_evicts_the_oldest_insert_whatever_its_use),
      cmocka_unit_test(lru_matches_the_reference_step_by_step),
      cmocka_unit_test(fifo_matches_the_reference_step_by_step),
      cmocka_unit_test(random_keeps_the_contract_step_by_step),
      cmocka_unit_test(random_is_reproducible_for_a_seed),
      COMMON_ENTRIES(lru),
      COMMON_ENTRIES(fifo),
      COMMON_ENTRIES(random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
