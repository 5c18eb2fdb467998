/*
 * test_listener.c -- the removal listener (config.on_remove): every removal
 * reported once, with its reason, key and value, outside the lock.
 *
 * Each test keeps a log of what the listener saw and compares it with what
 * must have happened: evictions in the policy's order, expiries found by a
 * get, by a put's sweep and by macho_expire, deletes, replaced values,
 * clears, close, and W-TinyLFU's rejections. The listener re-enters the
 * cache (a get, a put of another key) to show that no lock is held.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct event {
  char key[64], value[128];
  size_t klen, vlen;
  macho_removal reason;
} event;

typedef struct log_t {
  event ev[4096];
  size_t n;
  macho_cache *reenter; /* when set, the listener uses the cache */
  int reentered;
} log_t;

static void on_remove(void *ctx, const void *key, size_t klen, const void *value, size_t vlen,
                      macho_removal reason) {
  log_t *l = ctx;
  assert_true(l->n < sizeof l->ev / sizeof l->ev[0]);
  event *e = &l->ev[l->n++];
  e->klen = klen;
  e->vlen = vlen;
  /* The first bytes are enough to recognise an entry (lengths are whole). */
  memcpy(e->key, key, klen < sizeof e->key ? klen : sizeof e->key);
  memcpy(e->value, value, vlen < sizeof e->value ? vlen : sizeof e->value);
  e->reason = reason;
  if (l->reenter) {
    /* No lock is held: the cache may be used, also the same shard. */
    char buf[8];
    int rc = macho_get(l->reenter, "zz", 2, buf, sizeof buf, NULL);
    assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
    l->reentered++;
  }
}

static macho_cache *open_listened(log_t *l, macho_policy p, size_t cap, double ttl, test_clock *clk) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.policy = p;
  cfg.ttl_seconds = ttl;
  cfg.on_remove = on_remove;
  cfg.on_remove_ctx = l;
  cfg.seed = test_seed();
  if (clk) {
    cfg.clock = test_clock_fn;
    cfg.clock_ctx = clk;
  }
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static void expect(const log_t *l, size_t i, const char *key, const char *value, macho_removal reason) {
  assert_true(i < l->n);
  const event *e = &l->ev[i];
  assert_int_equal(e->reason, reason);
  assert_int_equal(e->klen, strlen(key));
  assert_memory_equal(e->key, key, e->klen);
  assert_int_equal(e->vlen, strlen(value));
  if (e->vlen) assert_memory_equal(e->value, value, e->vlen);
}

static void put_s(macho_cache *c, const char *k, const char *v) {
  assert_int_equal(macho_put(c, k, strlen(k), v, strlen(v)), MACHO_OK);
}

static void evictions_are_reported_in_the_policys_order(void **state) {
  (void)state;
  log_t *l = calloc(1, sizeof *l);
  macho_cache *c = open_listened(l, MACHO_POLICY_LRU, 3, 0, NULL);
  put_s(c, "a", "1");
  put_s(c, "bbbbbbbbbbbb", "a value longer than eight bytes"); /* arena key and value */
  put_s(c, "c", "3");
  char buf[64];
  assert_int_equal(macho_get(c, "a", 1, buf, sizeof buf, NULL), MACHO_OK); /* a is recent now */
  put_s(c, "d", "4");
  put_s(c, "e", "5");
  assert_int_equal(l->n, 2);
  expect(l, 0, "bbbbbbbbbbbb", "a value longer than eight bytes", MACHO_REMOVED_EVICTED);
  expect(l, 1, "c", "3", MACHO_REMOVED_EVICTED);
  macho_close(c);
  free(l);
}

static void every_reason_is_reported_once(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  log_t *l = calloc(1, sizeof *l);
  macho_cache *c = open_listened(l, MACHO_POLICY_LRU, 100, 0, &clk);
  put_s(c, "rep", "old value, long enough for the arena");
  put_s(c, "rep", "new");
  expect(l, 0, "rep", "old value, long enough for the arena", MACHO_REMOVED_REPLACED);
  put_s(c, "del", "d");
  assert_int_equal(macho_delete(c, "del", 3), MACHO_OK);
  expect(l, 1, "del", "d", MACHO_REMOVED_DELETED);
  assert_int_equal(macho_put_ttl(c, "ttl", 3, "t", 1, 1.0), MACHO_OK);
  clk.now_ns += 1000000000ull;
  char buf[8];
  assert_int_equal(macho_get(c, "ttl", 3, buf, sizeof buf, NULL), MACHO_ENOTFOUND); /* found expired */
  expect(l, 2, "ttl", "t", MACHO_REMOVED_EXPIRED);
  assert_int_equal(macho_put_ttl(c, "swept", 5, "s", 1, 1.0), MACHO_OK);
  clk.now_ns += 2000000000ull;
  size_t n = 0;
  assert_int_equal(macho_expire(c, &n), MACHO_OK);
  assert_int_equal(n, 1);
  expect(l, 3, "swept", "s", MACHO_REMOVED_EXPIRED);
  assert_int_equal(macho_clear(c), MACHO_OK);
  assert_int_equal(l->n, 5);
  expect(l, 4, "rep", "new", MACHO_REMOVED_CLEARED);
  /* A delete of an absent key and a replace by an equal value still say so. */
  assert_int_equal(macho_delete(c, "nope", 4), MACHO_ENOTFOUND);
  assert_int_equal(l->n, 5);
  put_s(c, "x", "same");
  put_s(c, "x", "same");
  assert_int_equal(l->n, 6);
  expect(l, 5, "x", "same", MACHO_REMOVED_REPLACED);
  macho_close(c); /* close reports what it drops */
  assert_int_equal(l->n, 7);
  expect(l, 6, "x", "same", MACHO_REMOVED_CLEARED);
  free(l);
}

static void expiries_found_by_puts_and_gets_are_reported(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  log_t *l = calloc(1, sizeof *l);
  macho_cache *c = open_listened(l, MACHO_POLICY_FIFO, 1000, 1.0, &clk);
  char key[16];
  for (int i = 0; i < 200; i++) {
    int kl = snprintf(key, sizeof key, "key-%d-long", i);
    assert_int_equal(macho_put(c, key, (size_t)kl, "value-of-some-length", 20), MACHO_OK);
  }
  clk.now_ns += 5000000000ull;
  /* Puts sweep a few slots each; gets of expired keys reclaim them. */
  for (int i = 0; i < 2000; i++) {
    int kl = snprintf(key, sizeof key, "other-%d", i % 50);
    assert_int_equal(macho_put(c, key, (size_t)kl, "v", 1), MACHO_OK);
  }
  for (int i = 0; i < 200; i++) {
    int kl = snprintf(key, sizeof key, "key-%d-long", i);
    char buf[32];
    assert_int_equal(macho_get(c, key, (size_t)kl, buf, sizeof buf, NULL), MACHO_ENOTFOUND);
  }
  size_t n = 0;
  assert_int_equal(macho_expire(c, &n), MACHO_OK);
  /* All 200 reported exactly once, with their bytes. */
  int seen[200] = {0};
  for (size_t i = 0; i < l->n; i++) {
    if (l->ev[i].reason != MACHO_REMOVED_EXPIRED || strncmp(l->ev[i].key, "key-", 4) != 0) continue;
    int k = atoi(l->ev[i].key + 4);
    assert_true(k >= 0 && k < 200);
    assert_int_equal(l->ev[i].vlen, 20);
    assert_memory_equal(l->ev[i].value, "value-of-some-length", 20);
    seen[k]++;
  }
  for (int i = 0; i < 200; i++) assert_int_equal(seen[i], 1);
  macho_counters ct = test_counters(c);
  assert_true(ct.expirations >= 200);
  macho_close(c);
  free(l);
}

static void a_listener_may_use_the_cache(void **state) {
  (void)state;
  log_t *l = calloc(1, sizeof *l);
  macho_cache *c = open_listened(l, MACHO_POLICY_LRU, 4, 0, NULL);
  l->reenter = c;
  for (int i = 0; i < 50; i++) {
    char k[8];
    int kl = snprintf(k, sizeof k, "k%d", i);
    assert_int_equal(macho_put(c, k, (size_t)kl, "v", 1), MACHO_OK);
  }
  assert_int_equal(l->n, 46);
  assert_int_equal(l->reentered, 46);
  l->reenter = NULL;
  macho_close(c);
  free(l);
}

/* A big value under a byte budget evicts more entries than one call's
 * report list holds: all are still reported, and the budget held. */
static void a_put_that_evicts_many_reports_them_all(void **state) {
  (void)state;
  log_t *l = calloc(1, sizeof *l);
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 1000;
  cfg.capacity_bytes = 400 * (MACHO_ENTRY_OVERHEAD + 16);
  cfg.ttl_seconds = 0;
  cfg.on_remove = on_remove;
  cfg.on_remove_ctx = l;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  for (int i = 0; i < 400; i++) {
    char k[16];
    int kl = snprintf(k, sizeof k, "%09d", i); /* 9 bytes: a 16-byte block */
    assert_int_equal(macho_put(c, k, (size_t)kl, "12345678", 8), MACHO_OK);
  }
  assert_int_equal(l->n, 0);
  static char big[5000];
  memset(big, 'b', sizeof big);
  assert_int_equal(macho_put(c, "big", 3, big, sizeof big), MACHO_OK);
  macho_counters ct = test_counters(c);
  assert_true(ct.charged_bytes <= cfg.capacity_bytes);
  assert_int_equal(ct.evictions, l->n);
  assert_true(l->n > 48); /* more than one list's worth */
  for (size_t i = 0; i < l->n; i++) {
    assert_int_equal(l->ev[i].reason, MACHO_REMOVED_EVICTED);
    char want[32];
    snprintf(want, sizeof want, "%09u", (unsigned)i); /* LRU among untouched: oldest first */
    assert_memory_equal(l->ev[i].key, want, 9);
  }
  macho_close(c);
  free(l);
}

static void wtinylfu_rejections_are_reported_as_such(void **state) {
  (void)state;
  log_t *l = calloc(1, sizeof *l);
  macho_cache *c = open_listened(l, MACHO_POLICY_WTINYLFU, 100, 0, NULL);
  char buf[8];
  /* A few hot keys earn frequency; then a scan of one-hit keys. */
  for (int round = 0; round < 20; round++)
    for (int i = 0; i < 100; i++) {
      uint32_t k = (uint32_t)i;
      if (macho_get(c, &k, 4, buf, sizeof buf, NULL) != MACHO_OK)
        assert_int_equal(macho_put(c, &k, 4, "h", 1), MACHO_OK);
    }
  for (uint32_t k = 1000; k < 3000; k++) assert_int_equal(macho_put(c, &k, 4, "s", 1), MACHO_OK);
  size_t rejected = 0, evicted = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (l->ev[i].reason == MACHO_REMOVED_REJECTED) {
      rejected++;
      uint32_t k;
      memcpy(&k, l->ev[i].key, 4);
      assert_true(k >= 1000); /* scan keys are refused, the hot ones stay */
    } else {
      assert_int_equal(l->ev[i].reason, MACHO_REMOVED_EVICTED);
      evicted++;
    }
  }
  assert_true(rejected > 1000);
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.evictions, rejected + evicted); /* counted as evictions */
  macho_close(c);
  free(l);
}

/* Object mode: the listener gets the objects, alive during the call. */
typedef struct obj {
  int refs;
  int id;
} obj;
static int o_hash(void *ctx, const void *k, uint64_t *out) {
  (void)ctx;
  *out = (uint64_t)((const obj *)k)->id;
  return 0;
}
static int o_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return ((const obj *)a)->id == ((const obj *)b)->id;
}
static void o_retain(void *ctx, void *o) {
  (void)ctx;
  ((obj *)o)->refs++;
}
static void o_release(void *ctx, void *o) {
  (void)ctx;
  ((obj *)o)->refs--;
}
typedef struct olog {
  int n, alive_ok;
  int ids[64], vals[64];
  macho_removal reasons[64];
} olog;
static void o_listener(void *ctx, const void *key, size_t klen, const void *value, size_t vlen,
                       macho_removal reason) {
  olog *l = ctx;
  assert_int_equal(klen, 0);
  assert_int_equal(vlen, 0);
  const obj *k = key, *v = value;
  l->alive_ok += k->refs > 0 && (!v || v->refs > 0);
  l->ids[l->n] = k->id;
  l->vals[l->n] = v ? v->id : -1;
  l->reasons[l->n++] = reason;
}

static void object_mode_reports_the_objects_alive(void **state) {
  (void)state;
  macho_object_ops ops = {o_hash, o_equal, o_retain, o_release, NULL};
  olog l = {0};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 2;
  cfg.ttl_seconds = 0;
  cfg.object_ops = &ops;
  cfg.on_remove = o_listener;
  cfg.on_remove_ctx = &l;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  obj k[4] = {{1, 1}, {1, 2}, {1, 3}, {1, 4}}, v[4] = {{1, 10}, {1, 20}, {1, 30}, {1, 40}};
  assert_int_equal(macho_obj_put(c, &k[0], &v[0]), MACHO_OK);
  assert_int_equal(macho_obj_put(c, &k[1], &v[1]), MACHO_OK);
  assert_int_equal(macho_obj_put(c, &k[0], &v[2]), MACHO_OK); /* replaced: v0 */
  assert_int_equal(macho_obj_put(c, &k[2], &v[3]), MACHO_OK); /* evicts k1 (LRU) */
  assert_int_equal(macho_obj_delete(c, &k[0]), MACHO_OK);
  assert_int_equal(l.n, 3);
  assert_int_equal(l.reasons[0], MACHO_REMOVED_REPLACED);
  assert_int_equal(l.ids[0], 1);
  assert_int_equal(l.vals[0], 10);
  assert_int_equal(l.reasons[1], MACHO_REMOVED_EVICTED);
  assert_int_equal(l.ids[1], 2);
  assert_int_equal(l.vals[1], 20);
  assert_int_equal(l.reasons[2], MACHO_REMOVED_DELETED);
  assert_int_equal(l.vals[2], 30);
  assert_int_equal(l.alive_ok, 3);
  macho_close(c);
  assert_int_equal(l.n, 4);
  assert_int_equal(l.reasons[3], MACHO_REMOVED_CLEARED);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(k[i].refs, 1); /* every reference given back */
    assert_int_equal(v[i].refs, 1);
  }
}

static void reason_names_are_the_documented_strings(void **state) {
  (void)state;
  const char *want[] = {"evicted", "expired", "deleted", "replaced", "cleared", "rejected"};
  for (int r = 0; r < MACHO_REMOVAL_REASONS; r++) assert_string_equal(macho_removal_name((macho_removal)r), want[r]);
  assert_null(macho_removal_name((macho_removal)MACHO_REMOVAL_REASONS));
  assert_null(macho_removal_name((macho_removal)-1));
}

/* Every allocation of a listened workload may fail: the statuses stay
 * truthful, every report still comes, and nothing leaks. */
static void failed_allocations_lose_no_report(void **state) {
  (void)state;
  for (uint64_t fail = 1; fail < 400; fail += 3) {
    test_alloc ta = {0};
    macho_allocator hooks = test_alloc_hooks(&ta);
    log_t *l = calloc(1, sizeof *l);
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.capacity_entries = 8;
    cfg.ttl_seconds = 0;
    cfg.allocator = &hooks;
    cfg.on_remove = on_remove;
    cfg.on_remove_ctx = l;
    macho_cache *c = NULL;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    ta.fail_at = ta.calls + fail;
    size_t stored = 0;
    for (int i = 0; i < 64; i++) {
      char k[24];
      int kl = snprintf(k, sizeof k, "a-long-key-number-%d", i);
      int rc = macho_put(c, k, (size_t)kl, k, (size_t)kl);
      assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
      stored += rc == MACHO_OK;
    }
    ta.fail_at = 0;
    size_t len = macho_len(c);
    assert_int_equal(stored, l->n + len); /* each stored entry reported or present */
    macho_close(c);
    assert_int_equal(stored, l->n);
    assert_int_equal(ta.live_blocks, 0);
    free(l);
  }
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(evictions_are_reported_in_the_policys_order),
      cmocka_unit_test(every_reason_is_reported_once),
      cmocka_unit_test(expiries_found_by_puts_and_gets_are_reported),
      cmocka_unit_test(a_listener_may_use_the_cache),
      cmocka_unit_test(a_put_that_evicts_many_reports_them_all),
      cmocka_unit_test(wtinylfu_rejections_are_reported_as_such),
      cmocka_unit_test(object_mode_reports_the_objects_alive),
      cmocka_unit_test(reason_names_are_the_documented_strings),
      cmocka_unit_test(failed_allocations_lose_no_report),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
