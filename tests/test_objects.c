/*
 * test_objects.c -- object mode: the cache holds caller objects through
 * hash/equal/retain/release callbacks (what the Python binding uses).
 *
 * The fake objects here count their references, so every test can end by
 * checking that each object is back to the one reference its creator holds:
 * whatever path an object leaves by (eviction, expiry, delete, replace,
 * clear, close), the cache released exactly what it retained. The equality
 * callback is made to fail, to call back into the cache, and to delete
 * entries in the middle of a lookup, the hazards CPython's dict and
 * functools.lru_cache defend against.
 */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct obj {
  uint64_t id;   /* equal objects have equal ids */
  int refs;      /* the creator's reference + the cache's */
  bool is_value;
} obj;

typedef struct ctx {
  int fail_hash, fail_equal;     /* fail when the object's id equals this (-1 = never) */
  macho_cache *cache;            /* for callbacks that re-enter */
  int reenter;                   /* 1 = equal calls macho_len/contains; 2 = equal deletes */
  obj *victim;                   /* what a deleting equal removes */
  int equal_calls, retain_null, release_null;
  int depth;                     /* re-entry depth: a nested equal() does not re-enter again */
} ctx;

static int o_hash(void *c, const void *key, uint64_t *out) {
  ctx *x = c;
  const obj *o = key;
  if ((int)o->id == x->fail_hash) return -1;
  *out = o->id % 7; /* weak on purpose: many equal hashes, the cache must mix */
  return 0;
}

static int o_equal(void *c, const void *a, const void *b) {
  ctx *x = c;
  const obj *oa = a, *ob = b;
  x->equal_calls++;
  if ((int)oa->id == x->fail_equal || (int)ob->id == x->fail_equal) return -1;
  if (x->reenter == 1 && x->depth == 0) {
    x->depth++;
    /* Callbacks run with no lock held: calling the cache must not deadlock. */
    (void)macho_len(x->cache);
    obj probe = {12345, 1, false};
    int rc = macho_obj_contains(x->cache, &probe);
    assert_int_equal(rc, MACHO_ENOTFOUND);
    x->depth--;
  } else if (x->reenter == 2 && x->victim) {
    obj *v = x->victim;
    x->victim = NULL; /* once */
    int rc = macho_obj_delete(x->cache, v);
    assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
  }
  return oa->id == ob->id;
}

static void o_retain(void *c, void *o) {
  if (!o) {
    ((ctx *)c)->retain_null++;
    return;
  }
  ((obj *)o)->refs++;
}

static void o_release(void *c, void *o) {
  if (!o) {
    ((ctx *)c)->release_null++;
    return;
  }
  assert_true(((obj *)o)->refs > 1); /* never below the creator's own reference */
  ((obj *)o)->refs--;
}

enum { NOBJ = 400 };

typedef struct world {
  ctx x;
  macho_object_ops ops;
  test_clock clk;
  obj keys[NOBJ], twins[NOBJ], vals[NOBJ]; /* twins: equal to keys[i], other address */
  macho_cache *c;
} world;

static world *world_new(size_t cap, uint32_t shards, double ttl_s) {
  world *w = calloc(1, sizeof *w);
  assert_non_null(w);
  w->x.fail_hash = w->x.fail_equal = -1;
  w->ops = (macho_object_ops){o_hash, o_equal, o_retain, o_release, &w->x};
  for (int i = 0; i < NOBJ; i++) {
    w->keys[i] = (obj){(uint64_t)i, 1, false};
    w->twins[i] = (obj){(uint64_t)i, 1, false};
    w->vals[i] = (obj){(uint64_t)(100000 + i), 1, true};
  }
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.shards = shards;
  cfg.ttl_seconds = ttl_s;
  cfg.object_ops = &w->ops;
  cfg.clock = test_clock_fn;
  cfg.clock_ctx = &w->clk;
  assert_int_equal(macho_open(&cfg, &w->c), MACHO_OK);
  w->x.cache = w->c;
  return w;
}

/* After close: every object holds only its creator's reference. */
static void world_close(world *w) {
  macho_close(w->c);
  for (int i = 0; i < NOBJ; i++) {
    assert_int_equal(w->keys[i].refs, 1);
    assert_int_equal(w->twins[i].refs, 1);
    assert_int_equal(w->vals[i].refs, 1);
  }
  assert_int_equal(w->x.retain_null, 0);
  assert_int_equal(w->x.release_null, 0);
  free(w);
}

/* References the cache holds now, summed over every object. */
static int cache_refs(world *w) {
  int n = 0;
  for (int i = 0; i < NOBJ; i++) n += w->keys[i].refs - 1 + w->twins[i].refs - 1 + w->vals[i].refs - 1;
  return n;
}

static void get_hands_out_a_reference_the_caller_releases(void **state) {
  (void)state;
  world *w = world_new(10, 1, 0);
  assert_int_equal(macho_obj_put(w->c, &w->keys[1], &w->vals[1]), MACHO_OK);
  assert_int_equal(w->keys[1].refs, 2);
  assert_int_equal(w->vals[1].refs, 2);
  void *v = NULL;
  assert_int_equal(macho_obj_get(w->c, &w->twins[1], &v), MACHO_OK); /* equal, not identical */
  assert_ptr_equal(v, &w->vals[1]);
  assert_int_equal(w->vals[1].refs, 3);
  /* Deleting while the caller holds the value leaves the caller's reference valid. */
  assert_int_equal(macho_obj_delete(w->c, &w->twins[1]), MACHO_OK);
  assert_int_equal(w->vals[1].refs, 2);
  o_release(&w->x, v);
  assert_int_equal(macho_obj_get(w->c, &w->keys[1], &v), MACHO_ENOTFOUND);
  world_close(w);
}

static void a_replace_keeps_the_original_key_and_releases_the_old_value(void **state) {
  (void)state;
  world *w = world_new(10, 1, 0);
  assert_int_equal(macho_obj_put(w->c, &w->keys[2], &w->vals[2]), MACHO_OK);
  assert_int_equal(macho_obj_put(w->c, &w->twins[2], &w->vals[3]), MACHO_OK);
  assert_int_equal(w->keys[2].refs, 2);  /* kept */
  assert_int_equal(w->twins[2].refs, 1); /* not taken */
  assert_int_equal(w->vals[2].refs, 1);  /* released */
  assert_int_equal(w->vals[3].refs, 2);
  assert_int_equal(macho_len(w->c), 1);
  world_close(w);
}

static void null_values_are_stored_and_replaced_without_callbacks_on_null(void **state) {
  (void)state;
  world *w = world_new(10, 1, 0);
  void *v = &w->vals[0];
  assert_int_equal(macho_obj_put(w->c, &w->keys[4], NULL), MACHO_OK);
  assert_int_equal(macho_obj_get(w->c, &w->keys[4], &v), MACHO_OK);
  assert_null(v);
  assert_int_equal(macho_obj_put(w->c, &w->keys[4], NULL), MACHO_OK); /* NULL over NULL */
  assert_int_equal(macho_obj_put(w->c, &w->keys[4], &w->vals[4]), MACHO_OK);
  assert_int_equal(macho_obj_put(w->c, &w->keys[4], NULL), MACHO_OK); /* NULL over a value */
  assert_int_equal(w->vals[4].refs, 1);
  world_close(w); /* checks that retain/release never saw NULL */
}

static void every_exit_path_releases_what_was_retained(void **state) {
  (void)state;
  world *w = world_new(50, 4, 10);
  uint64_t rng = test_seed();
  for (int step = 0; step < 20000; step++) {
    uint64_t x = test_rand(&rng);
    int i = (int)((x >> 8) % NOBJ);
    obj *k = (x >> 40) & 1 ? &w->keys[i] : &w->twins[i];
    int rc;
    switch (x % 10) {
    case 0: case 1: case 2:
      rc = macho_obj_put(w->c, k, &w->vals[(x >> 20) % NOBJ]);
      assert_int_equal(rc, MACHO_OK);
      break;
    case 3:
      rc = macho_obj_put_ttl(w->c, k, (x >> 30) & 1 ? NULL : &w->vals[i], (double)((x >> 20) % 3));
      assert_int_equal(rc, MACHO_OK);
      break;
    case 4: case 5: {
      void *v = NULL;
      rc = macho_obj_get(w->c, k, &v);
      assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
      if (rc == MACHO_OK && v) o_release(&w->x, v);
      break;
    }
    case 6:
      rc = macho_obj_delete(w->c, k);
      assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
      break;
    case 7:
      rc = macho_obj_contains(w->c, k);
      assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
      break;
    case 8:
      w->clk.now_ns += (x >> 16) % 2000000000ull;
      if ((x >> 50) % 8 == 0) assert_int_equal(macho_expire(w->c, NULL), MACHO_OK);
      break;
    default:
      if ((x >> 50) % 50 == 0) assert_int_equal(macho_clear(w->c), MACHO_OK);
      break;
    }
    /* Each entry holds its key and its value (if not NULL): never more, never less. */
    if (step % 97 == 0) {
      int held = cache_refs(w);
      assert_true(held <= 2 * (int)macho_len(w->c));
      assert_true(held >= (int)macho_len(w->c));
    }
  }
  macho_counters ct;
  assert_int_equal(macho_counters_get(w->c, -1, &ct), MACHO_OK);
  assert_true(ct.evictions > 0 && ct.expirations > 0);
  world_close(w);
}

static void clear_and_expire_release_more_objects_than_one_batch(void **state) {
  (void)state;
  world *w = world_new(NOBJ, 1, 1);
  for (int i = 0; i < NOBJ; i++) assert_int_equal(macho_obj_put(w->c, &w->keys[i], &w->vals[i]), MACHO_OK);
  assert_int_equal(cache_refs(w), 2 * NOBJ);
  w->clk.now_ns += 2000000000ull;
  size_t n = 0;
  assert_int_equal(macho_expire(w->c, &n), MACHO_OK);
  assert_int_equal(n, NOBJ);
  assert_int_equal(cache_refs(w), 0);
  for (int i = 0; i < NOBJ; i++) assert_int_equal(macho_obj_put(w->c, &w->keys[i], &w->vals[i]), MACHO_OK);
  assert_int_equal(macho_clear(w->c), MACHO_OK);
  assert_int_equal(cache_refs(w), 0);
  assert_int_equal(macho_len(w->c), 0);
  /* Usable after clear. */
  assert_int_equal(macho_obj_put(w->c, &w->keys[0], &w->vals[0]), MACHO_OK);
  assert_int_equal(macho_obj_contains(w->c, &w->twins[0]), MACHO_OK);
  world_close(w);
}

typedef struct seen_acc {
  world *w;
  int seen;
} seen_acc;

static int delete_each_key_shown(void *ctxp, const void *key, size_t klen) {
  seen_acc *acc = ctxp;
  assert_int_equal(klen, 0);
  const obj *o = key;
  assert_true(o->refs >= 3); /* creator + entry + snapshot */
  /* fn runs without a lock: it may delete what it is shown. */
  assert_int_equal(macho_obj_delete(acc->w->c, o), MACHO_OK);
  assert_true(o->refs >= 2); /* still retained by the snapshot */
  acc->seen++;
  return 0;
}

static int stop_at_three(void *ctxp, const void *key, size_t klen) {
  (void)key;
  (void)klen;
  return ++((seen_acc *)ctxp)->seen == 3 ? 42 : 0;
}

static void foreach_key_retains_keys_during_the_call(void **state) {
  (void)state;
  world *w = world_new(100, 2, 0);
  for (int i = 0; i < 20; i++) assert_int_equal(macho_obj_put(w->c, &w->keys[i], NULL), MACHO_OK);
  seen_acc acc = {w, 0};
  assert_int_equal(macho_foreach_key(w->c, stop_at_three, &acc), 42);
  assert_int_equal(acc.seen, 3);
  acc.seen = 0;
  assert_int_equal(macho_foreach_key(w->c, delete_each_key_shown, &acc), MACHO_OK);
  assert_int_equal(acc.seen, 20);
  assert_int_equal(macho_len(w->c), 0);
  world_close(w);
}

static void a_failing_hash_is_an_error_and_changes_nothing(void **state) {
  (void)state;
  world *w = world_new(10, 2, 0);
  assert_int_equal(macho_obj_put(w->c, &w->keys[1], &w->vals[1]), MACHO_OK);
  macho_counters before, after;
  assert_int_equal(macho_counters_get(w->c, -1, &before), MACHO_OK);
  w->x.fail_hash = 5;
  void *v = NULL;
  assert_int_equal(macho_obj_put(w->c, &w->keys[5], &w->vals[5]), MACHO_ECALLBACK);
  assert_int_equal(macho_obj_put_ttl(w->c, &w->keys[5], &w->vals[5], 1), MACHO_ECALLBACK);
  assert_int_equal(macho_obj_get(w->c, &w->keys[5], &v), MACHO_ECALLBACK);
  assert_int_equal(macho_obj_contains(w->c, &w->keys[5]), MACHO_ECALLBACK);
  assert_int_equal(macho_obj_delete(w->c, &w->keys[5]), MACHO_ECALLBACK);
  assert_null(v);
  assert_int_equal(macho_counters_get(w->c, -1, &after), MACHO_OK);
  assert_memory_equal(&before, &after, sizeof before);
  assert_int_equal(macho_len(w->c), 1);
  assert_int_equal(w->keys[5].refs, 1);
  assert_int_equal(w->vals[5].refs, 1);
  w->x.fail_hash = -1;
  assert_int_equal(macho_obj_contains(w->c, &w->keys[1]), MACHO_OK);
  world_close(w);
}

static void a_failing_equal_is_an_error_and_changes_nothing(void **state) {
  (void)state;
  world *w = world_new(10, 1, 0);
  assert_int_equal(macho_obj_put(w->c, &w->keys[3], &w->vals[3]), MACHO_OK);
  w->x.fail_equal = 3;
  void *v = NULL;
  /* twins[3] is equal but not identical, so equal() must be asked. */
  assert_int_equal(macho_obj_put(w->c, &w->twins[3], &w->vals[4]), MACHO_ECALLBACK);
  assert_int_equal(macho_obj_get(w->c, &w->twins[3], &v), MACHO_ECALLBACK);
  assert_int_equal(macho_obj_delete(w->c, &w->twins[3]), MACHO_ECALLBACK);
  assert_int_equal(macho_obj_contains(w->c, &w->twins[3]), MACHO_ECALLBACK);
  assert_int_equal(w->vals[4].refs, 1);
  assert_int_equal(w->twins[3].refs, 1);
  assert_int_equal(macho_len(w->c), 1);
  /* The identical key needs no equal() call and still works. */
  assert_int_equal(macho_obj_get(w->c, &w->keys[3], &v), MACHO_OK);
  assert_ptr_equal(v, &w->vals[3]);
  o_release(&w->x, v);
  w->x.fail_equal = -1;
  world_close(w);
}

static void an_equal_that_calls_into_the_same_cache_does_not_deadlock(void **state) {
  (void)state;
  world *w = world_new(100, 1, 0);
  for (int i = 0; i < 30; i++) assert_int_equal(macho_obj_put(w->c, &w->keys[i], &w->vals[i]), MACHO_OK);
  w->x.reenter = 1;
  for (int i = 0; i < 30; i++) {
    void *v = NULL;
    assert_int_equal(macho_obj_get(w->c, &w->twins[i], &v), MACHO_OK);
    assert_ptr_equal(v, &w->vals[i]);
    o_release(&w->x, v);
    assert_int_equal(macho_obj_put(w->c, &w->twins[i], &w->vals[i + 1]), MACHO_OK);
  }
  assert_true(w->x.equal_calls >= 60);
  w->x.reenter = 0;
  world_close(w);
}

static void an_equal_that_deletes_entries_restarts_the_lookup(void **state) {
  (void)state;
  /* One shard and a hash of id % 7, so keys 0, 7, 14 ... share a hash and a
   * probe run: equal() is asked about several candidates in turn. */
  world *w = world_new(100, 1, 0);
  for (int i = 0; i < 70; i += 7) assert_int_equal(macho_obj_put(w->c, &w->keys[i], &w->vals[i]), MACHO_OK);
  w->x.reenter = 2;
  for (int i = 0; i < 70; i += 7) {
    /* During the lookup of twins[i], equal() deletes some other key of the run. */
    int other = (i + 28) % 70;
    w->x.victim = &w->keys[other];
    void *v = NULL;
    int rc = macho_obj_get(w->c, &w->twins[i], &v);
    if (rc == MACHO_OK) {
      assert_ptr_equal(v, &w->vals[i]);
      o_release(&w->x, v);
    } else {
      assert_int_equal(rc, MACHO_ENOTFOUND); /* it was deleted by an earlier step */
      assert_int_equal(macho_obj_contains(w->c, &w->keys[i]), MACHO_ENOTFOUND);
    }
  }
  /* Deleting the very key being looked up: the lookup must say not found. */
  assert_int_equal(macho_obj_put(w->c, &w->keys[1], &w->vals[1]), MACHO_OK);
  w->x.victim = &w->keys[1];
  void *v = NULL;
  assert_int_equal(macho_obj_get(w->c, &w->twins[1], &v), MACHO_ENOTFOUND);
  w->x.reenter = 0;
  world_close(w);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(get_hands_out_a_reference_the_caller_releases),
      cmocka_unit_test(a_replace_keeps_the_original_key_and_releases_the_old_value),
      cmocka_unit_test(null_values_are_stored_and_replaced_without_callbacks_on_null),
      cmocka_unit_test(every_exit_path_releases_what_was_retained),
      cmocka_unit_test(clear_and_expire_release_more_objects_than_one_batch),
      cmocka_unit_test(foreach_key_retains_keys_during_the_call),
      cmocka_unit_test(a_failing_hash_is_an_error_and_changes_nothing),
      cmocka_unit_test(a_failing_equal_is_an_error_and_changes_nothing),
      cmocka_unit_test(an_equal_that_calls_into_the_same_cache_does_not_deadlock),
      cmocka_unit_test(an_equal_that_deletes_entries_restarts_the_lookup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
