/* test_policy_s3fifo.c -- S3-FIFO (src/policy/s3fifo.c) against an array
 * reference written from the paper's pseudocode and libCacheSim's S3FIFOv0:
 * small FIFO S, main FIFO M, ghost FIFO G of evicted-from-S keys. */
#include "policy_model.h"

/* slot.a = hit count. Arrays are oldest first. */
typedef struct ref_s3 {
  ref_array *small, *main, *ghost;
  uint32_t small_cap, main_cap, ghost_cap;
  uint64_t pending; /* key whose get miss found it in G (0 = none) */
} ref_s3;

static void *s3_create(uint32_t cap) {
  ref_s3 *r = calloc(1, sizeof *r);
  r->small_cap = cap / 10 ? cap / 10 : 1;
  r->main_cap = cap - r->small_cap;
  r->ghost_cap = (uint32_t)(cap * 0.9);
  r->small = ref_array_new(cap);
  r->main = ref_array_new(cap);
  r->ghost = ref_array_new(r->ghost_cap);
  return r;
}
static void s3_destroy(void *p) {
  ref_s3 *r = p;
  ref_array_free(r->small);
  ref_array_free(r->main);
  ref_array_free(r->ghost);
  free(r);
}
static int s3_ghost_take(ref_s3 *r, uint64_t key) {
  int i = ref_find(r->ghost, key);
  if (i < 0) return 0;
  ref_take(r->ghost, (uint32_t)i);
  return 1;
}
static void s3_miss(void *p, uint64_t key) {
  ref_s3 *r = p;
  if (r->pending == key) return;
  r->pending = s3_ghost_take(r, key) ? key : 0;
}
static void s3_hit(void *p, uint64_t key) {
  ref_s3 *r = p;
  int i = ref_find(r->small, key);
  ref_array *q = i >= 0 ? r->small : r->main;
  q->s[ref_find(q, key)].a++;
  r->pending = 0;
}
static void s3_insert(void *p, uint64_t key) {
  ref_s3 *r = p;
  int to_main = r->pending == key || s3_ghost_take(r, key);
  r->pending = 0;
  ref_append(to_main ? r->main : r->small, (ref_slot){key, 0, 0});
}
static uint64_t s3_victim(void *p) {
  ref_s3 *r = p;
  if (r->main->n <= r->main_cap) {
    while (r->small->n) {
      ref_slot x = ref_take(r->small, 0);
      if (x.a >= 2) { /* hit twice while in S: promote to M */
        ref_append(r->main, (ref_slot){x.key, 0, 0});
        continue;
      }
      if (r->ghost_cap && ref_find(r->ghost, x.key) < 0) {
        if (r->ghost->n == r->ghost_cap) ref_take(r->ghost, 0);
        ref_append(r->ghost, (ref_slot){x.key, 0, 0});
      }
      return x.key;
    }
  }
  for (;;) { /* M: CLOCK with a 2-bit counter */
    ref_slot x = ref_take(r->main, 0);
    if (x.a == 0) return x.key;
    ref_append(r->main, (ref_slot){x.key, (x.a < 3 ? x.a : 3) - 1, 0});
  }
}
static void s3_remove(void *p, uint64_t key) {
  ref_s3 *r = p;
  int i = ref_find(r->small, key);
  if (i >= 0) ref_take(r->small, (uint32_t)i);
  else ref_take(r->main, (uint32_t)ref_find(r->main, key));
}
static int s3_contains(void *p, uint64_t key) {
  ref_s3 *r = p;
  return ref_find(r->small, key) >= 0 || ref_find(r->main, key) >= 0;
}
static uint32_t s3_len(void *p) { return ((ref_s3 *)p)->small->n + ((ref_s3 *)p)->main->n; }

static const ref_ops S3_REF = {s3_create, s3_destroy, s3_miss, s3_hit, s3_insert,
                               s3_victim, s3_remove, s3_contains, s3_len};

static void s3fifo_demotes_one_hit_wonders_quickly(void **state) {
  (void)state;
  /* 10 entries: S holds 1, M 9. Keys hit twice in S are promoted to M; a
   * stream of new keys then only ever evicts from S. */
  macho_cache *c = pm_open(MACHO_POLICY_S3FIFO, 10, NULL);
  for (uint64_t k = 1; k <= 9; k++) {
    pm_access(c, k);
    pm_access(c, k);
    pm_access(c, k); /* two hits */
  }
  for (uint64_t k = 100; k < 200; k++) pm_access(c, k);
  for (uint64_t k = 1; k <= 9; k++) assert_true(pm_has(c, k));
  macho_close(c);
}

static void s3fifo_readmits_a_ghost_straight_into_main(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_S3FIFO, 10, NULL);
  for (uint64_t k = 1; k <= 10; k++) pm_access(c, k); /* all in S (cache not yet full) */
  pm_access(c, 11); /* evicts 1 from S: its hash goes to the ghost */
  assert_false(pm_has(c, 1));
  pm_access(c, 1); /* ghost hit: 1 goes to M, evicting 2 from S */
  assert_true(pm_has(c, 1));
  assert_false(pm_has(c, 2));
  /* In M, 1 outlives the new keys that pass through S. */
  for (uint64_t k = 20; k < 30; k++) pm_access(c, k);
  assert_true(pm_has(c, 1));
  macho_close(c);
}

static void s3fifo_matches_the_reference_step_by_step(void **state) {
  (void)state;
  pm_run_model(MACHO_POLICY_S3FIFO, &S3_REF, 80, 1500, 40);
}

static void s3fifo_survives_deletes_expiry_and_clear(void **state) {
  (void)state;
  pm_run_removals(MACHO_POLICY_S3FIFO);
}

static void s3fifo_evicts_under_a_byte_budget(void **state) {
  (void)state;
  pm_run_byte_budget(MACHO_POLICY_S3FIFO);
}

static void s3fifo_open_fails_cleanly_when_memory_runs_out(void **state) {
  (void)state;
  pm_run_open_oom(MACHO_POLICY_S3FIFO);
}

/* A clear forgets the ghost even when deletes had already emptied the cache:
 * a key evicted before the clear is new afterwards, so it enters S and is the
 * first to go, not straight into M. */
static void s3fifo_clear_of_an_emptied_cache_forgets_the_ghost(void **state) {
  (void)state;
  macho_cache *c = pm_open(MACHO_POLICY_S3FIFO, 10, NULL);
  for (uint64_t k = 1; k <= 11; k++) pm_put(c, k); /* 11 evicts 1 from S: 1 is a ghost */
  assert_false(pm_has(c, 1));
  for (uint64_t k = 2; k <= 11; k++) pm_del(c, k);
  assert_int_equal(macho_len(c), 0);
  assert_int_equal(macho_clear(c), MACHO_OK);
  for (uint64_t k = 1; k <= 10; k++) pm_put(c, k); /* 1 first: oldest in S */
  pm_put(c, 11);                                   /* evicts the oldest of S */
  assert_false(pm_has(c, 1));
  assert_true(pm_has(c, 2));
  macho_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(s3fifo_demotes_one_hit_wonders_quickly),
      cmocka_unit_test(s3fifo_readmits_a_ghost_straight_into_main),
      cmocka_unit_test(s3fifo_clear_of_an_emptied_cache_forgets_the_ghost),
      cmocka_unit_test(s3fifo_matches_the_reference_step_by_step),
      cmocka_unit_test(s3fifo_survives_deletes_expiry_and_clear),
      cmocka_unit_test(s3fifo_evicts_under_a_byte_budget),
      cmocka_unit_test(s3fifo_open_fails_cleanly_when_memory_runs_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
