/*
 * test_oom.c -- every allocation failure is a status, never a crash or a leak.
 *
 * The pattern of libuv's test-loop-oom: run a scenario with the n-th
 * allocation failing, for n = 1, 2, 3 ... until the scenario completes with
 * no failure at all. At each n every call must return MACHO_OK or
 * MACHO_ENOMEM, a failed call must leave the cache as it was (consistent and
 * usable: the test goes on using it), and after macho_close the allocator
 * must hold no live block. tests/support.c's test_alloc does the counting.
 */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_N 10000 /* no scenario here needs anywhere near this many allocations */

static void arm(test_alloc *ta, uint64_t n) { ta->fail_at = ta->calls + n; }
/* Returns whether the armed failure was reached: a scenario is complete only
 * when it ran without meeting it (a failed best-effort allocation, such as a
 * shard's lazily allocated metrics block, fails no call). */
static bool disarm(test_alloc *ta) {
  bool reached = ta->calls >= ta->fail_at;
  ta->fail_at = 0;
  return reached;
}

typedef struct counted {
  size_t n;
  bool bad;
} counted;

static int count_key(void *ctx, const void *key, size_t klen) {
  counted *cn = ctx;
  (void)key;
  (void)klen;
  cn->n++;
  return 0;
}

/* Keys enumerate, len and counters agree: the cache is consistent. */
static void check_consistent(macho_cache *c) {
  counted cn = {0, false};
  assert_int_equal(macho_foreach_key(c, count_key, &cn), MACHO_OK);
  assert_int_equal(cn.n, macho_len(c));
  macho_counters ct;
  assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
  assert_int_equal(ct.entries, cn.n);
  assert_int_equal(ct.hits + ct.misses, ct.gets);
  assert_true(ct.entries <= ct.capacity_entries);
}

static macho_config config_with(test_alloc *ta, macho_allocator *hooks) {
  *hooks = test_alloc_hooks(ta);
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.allocator = hooks;
  cfg.ttl_seconds = 0;
  return cfg;
}

static void open_survives_every_allocation_failure_for(macho_policy policy, macho_filter filter) {
  uint64_t n;
  for (n = 1; n < MAX_N; n++) {
    test_alloc ta = {0};
    macho_allocator hooks;
    macho_config cfg = config_with(&ta, &hooks);
    cfg.capacity_entries = 3000;
    cfg.shards = 3;
    cfg.policy = policy;
    cfg.filter = filter;
    arm(&ta, n);
    macho_cache *c = (macho_cache *)&ta;
    int rc = macho_open(&cfg, &c);
    if (rc == MACHO_ENOMEM) {
      assert_null(c);
      assert_int_equal(ta.live_blocks, 0);
      assert_int_equal(ta.live_bytes, 0);
      continue;
    }
    assert_int_equal(rc, MACHO_OK);
    uint64_t used = ta.calls; /* allocations open made */
    (void)disarm(&ta);
    assert_int_equal(macho_put(c, "k", 1, "v", 1), MACHO_OK);
    check_consistent(c);
    macho_close(c);
    assert_int_equal(ta.live_blocks, 0);
    if (used < n) break; /* open completed without meeting the failure */
  }
  assert_true(n > 3); /* open does allocate several times */
}

static void open_survives_every_allocation_failure(void **state) {
  (void)state;
  open_survives_every_allocation_failure_for(MACHO_POLICY_LRU, MACHO_FILTER_NONE);
  open_survives_every_allocation_failure_for(MACHO_POLICY_RANDOM, MACHO_FILTER_NONE);
}

static void open_survives_every_allocation_failure_with_each_policy_and_filter(void **state) {
  (void)state;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++)
    if (macho_policy_available((macho_policy)p))
      open_survives_every_allocation_failure_for((macho_policy)p, MACHO_FILTER_NONE);
  for (int f = 1; f < MACHO_FILTER_COUNT; f++)
    if (macho_filter_available((macho_filter)f))
      open_survives_every_allocation_failure_for(MACHO_POLICY_LRU, (macho_filter)f);
}

/* Fill a shard's first slab exactly, so the next new key must grow it:
 * that put allocates the payload, a bigger index and a bigger slab. */
enum { FILL = 1024 };

static void puts_survive_every_allocation_failure(void **state) {
  (void)state;
  uint64_t n;
  for (n = 1; n < MAX_N; n++) {
    test_alloc ta = {0};
    macho_allocator hooks;
    macho_config cfg = config_with(&ta, &hooks);
    cfg.capacity_entries = 5000;
    macho_cache *c = NULL;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    for (uint64_t k = 0; k < FILL; k++) assert_int_equal(macho_put(c, &k, 8, &k, 8), MACHO_OK);

    arm(&ta, n);
    bool failed = false;
    /* 1. a new key that needs slab growth */
    uint64_t k1 = 1000000, v1 = 1;
    int rc = macho_put(c, &k1, 8, &v1, 8);
    if (rc == MACHO_ENOMEM) {
      failed = true;
      assert_int_equal(macho_contains(c, &k1, 8), MACHO_ENOTFOUND);
      assert_int_equal(macho_len(c), FILL);
    } else {
      assert_int_equal(rc, MACHO_OK);
    }
    /* 2. a replace, with a value of another size */
    uint64_t k0 = 0;
    char big[40] = "a longer value than eight bytes";
    rc = macho_put(c, &k0, 8, big, sizeof big);
    size_t vlen = 0;
    char buf[64];
    if (rc == MACHO_ENOMEM) {
      failed = true;
      assert_int_equal(macho_get(c, &k0, 8, buf, sizeof buf, &vlen), MACHO_OK);
      assert_int_equal(vlen, 8); /* the old value is intact */
    } else {
      assert_int_equal(rc, MACHO_OK);
    }
    /* 3. a new key with its own TTL */
    uint64_t k2 = 2000000;
    rc = macho_put_ttl(c, &k2, 8, &k2, 8, 100);
    if (rc == MACHO_ENOMEM) failed = true;
    else assert_int_equal(rc, MACHO_OK);
    /* 4. foreach_key, which takes a snapshot */
    counted cn = {0, false};
    rc = macho_foreach_key(c, count_key, &cn);
    if (rc == MACHO_ENOMEM) failed = true;
    else assert_int_equal(rc, MACHO_OK);

    bool reached = disarm(&ta);
    check_consistent(c);
    for (uint64_t k = 1; k < FILL; k++) assert_int_equal(macho_contains(c, &k, 8), MACHO_OK);
    /* Usable: the calls that failed now succeed. */
    assert_int_equal(macho_put(c, &k1, 8, &v1, 8), MACHO_OK);
    assert_int_equal(macho_put(c, &k0, 8, big, sizeof big), MACHO_OK);
    assert_int_equal(macho_get(c, &k0, 8, buf, sizeof buf, &vlen), MACHO_OK);
    assert_int_equal(vlen, sizeof big);
    check_consistent(c);
    macho_close(c);
    assert_int_equal(ta.live_blocks, 0);
    assert_int_equal(ta.live_bytes, 0);
    if (!failed && !reached) break;
  }
  assert_true(n > 4);
}

/* ---- object mode: clear hands the slab out and needs a fresh one ------------- */

typedef struct robj {
  int refs;
  uint64_t id;
} robj;

static int r_hash(void *ctx, const void *k, uint64_t *out) {
  (void)ctx;
  *out = ((const robj *)k)->id;
  return 0;
}
static int r_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return ((const robj *)a)->id == ((const robj *)b)->id;
}
static void r_retain(void *ctx, void *o) {
  (void)ctx;
  ((robj *)o)->refs++;
}
static void r_release(void *ctx, void *o) {
  (void)ctx;
  assert_true(((robj *)o)->refs > 1);
  ((robj *)o)->refs--;
}

static void clear_in_object_mode_survives_every_allocation_failure(void **state) {
  (void)state;
  enum { NOBJ = 200 };
  static robj objs[NOBJ];
  const macho_object_ops ops = {r_hash, r_equal, r_retain, r_release, NULL};
  uint64_t n;
  for (n = 1; n < MAX_N; n++) {
    for (int i = 0; i < NOBJ; i++) objs[i] = (robj){1, (uint64_t)i};
    test_alloc ta = {0};
    macho_allocator hooks;
    macho_config cfg = config_with(&ta, &hooks);
    cfg.capacity_entries = 1000;
    cfg.shards = 4;
    cfg.object_ops = &ops;
    macho_cache *c = NULL;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    for (int i = 0; i < NOBJ; i += 2) assert_int_equal(macho_obj_put(c, &objs[i], &objs[i + 1]), MACHO_OK);
    arm(&ta, n);
    bool failed = false;
    int rc = macho_clear(c);
    if (rc == MACHO_ENOMEM) failed = true;
    else assert_int_equal(rc, MACHO_OK);
    counted cn = {0, false};
    rc = macho_foreach_key(c, count_key, &cn);
    if (rc == MACHO_ENOMEM) failed = true;
    else assert_int_equal(rc, MACHO_OK);
    bool reached = disarm(&ta);
    check_consistent(c);
    /* Whatever is still held is retained exactly once per entry. */
    int held = 0;
    for (int i = 0; i < NOBJ; i++) held += objs[i].refs - 1;
    assert_int_equal(held, 2 * (int)macho_len(c));
    assert_int_equal(macho_clear(c), MACHO_OK);
    assert_int_equal(macho_len(c), 0);
    assert_int_equal(macho_obj_put(c, &objs[0], &objs[1]), MACHO_OK);
    macho_close(c);
    for (int i = 0; i < NOBJ; i++) assert_int_equal(objs[i].refs, 1);
    assert_int_equal(ta.live_blocks, 0);
    if (!failed && !reached) break;
  }
  assert_true(n > 2);
}

static void object_puts_survive_every_allocation_failure(void **state) {
  (void)state;
  enum { NOBJ = 2100 };
  static robj objs[NOBJ];
  const macho_object_ops ops = {r_hash, r_equal, r_retain, r_release, NULL};
  uint64_t n;
  for (n = 1; n < MAX_N; n++) {
    for (int i = 0; i < NOBJ; i++) objs[i] = (robj){1, (uint64_t)i};
    test_alloc ta = {0};
    macho_allocator hooks;
    macho_config cfg = config_with(&ta, &hooks);
    cfg.capacity_entries = 4000;
    cfg.object_ops = &ops;
    macho_cache *c = NULL;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    for (int i = 0; i < 2 * FILL; i += 2) assert_int_equal(macho_obj_put(c, &objs[i], &objs[i + 1]), MACHO_OK);
    arm(&ta, n);
    int rc = macho_obj_put(c, &objs[2 * FILL], &objs[2 * FILL + 1]); /* needs growth */
    bool failed = rc == MACHO_ENOMEM;
    if (failed) {
      assert_int_equal(objs[2 * FILL].refs, 1); /* nothing retained on failure */
      assert_int_equal(objs[2 * FILL + 1].refs, 1);
      assert_int_equal(macho_obj_contains(c, &objs[2 * FILL]), MACHO_ENOTFOUND);
    } else {
      assert_int_equal(rc, MACHO_OK);
    }
    bool reached = disarm(&ta);
    check_consistent(c);
    assert_int_equal(macho_len(c), FILL + !failed);
    macho_close(c);
    for (int i = 0; i < NOBJ; i++) assert_int_equal(objs[i].refs, 1);
    assert_int_equal(ta.live_blocks, 0);
    if (!failed && !reached) break;
  }
  assert_true(n > 1);
}

static void sized_frees_match_the_sizes_allocated_for_empty_payloads(void **state) {
  (void)state;
  test_alloc ta = {0};
  macho_allocator hooks;
  macho_config cfg = config_with(&ta, &hooks);
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  assert_int_equal(macho_put(c, NULL, 0, NULL, 0), MACHO_OK);
  assert_int_equal(macho_put(c, NULL, 0, NULL, 0), MACHO_OK); /* replace */
  assert_int_equal(macho_put(c, "k", 1, NULL, 0), MACHO_OK);
  assert_int_equal(macho_delete(c, NULL, 0), MACHO_OK);
  macho_close(c);
  assert_int_equal(ta.live_blocks, 0);
  assert_int_equal(ta.live_bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(open_survives_every_allocation_failure),
      cmocka_unit_test(open_survives_every_allocation_failure_with_each_policy_and_filter),
      cmocka_unit_test(puts_survive_every_allocation_failure),
      cmocka_unit_test(clear_in_object_mode_survives_every_allocation_failure),
      cmocka_unit_test(object_puts_survive_every_allocation_failure),
      cmocka_unit_test(sized_frees_match_the_sizes_allocated_for_empty_payloads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
