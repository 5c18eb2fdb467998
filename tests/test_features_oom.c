/*
 * test_features_oom.c -- the features under failing allocations (libuv's
 * test-loop-oom pattern): for n = 1, 2, 3 ... the n-th allocation of a
 * scenario fails, and every call must return a truthful status (MACHO_OK
 * or MACHO_ENOMEM, nothing else), leave the cache consistent (what it
 * reports holding is what it holds) and leak nothing. Scenarios:
 * get-or-load with negative caching, a sliced iteration over a growing
 * cache, a resize down and up, a snapshot save and load, hottest/coldest.
 */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
  int loads;
} ctx;

static int load(void *c, const void *key, size_t klen, macho_loaded *out) {
  ctx *x = c;
  x->loads++;
  uint32_t k;
  memcpy(&k, key, klen < 4 ? klen : 4);
  if (k % 5 == 0) return MACHO_ENOTFOUND;
  char v[40];
  memset(v, (int)k, sizeof v);
  return macho_loaded_set(out, v, 10 + k % 30);
}

static int count(void *c, const macho_entry_view *e) {
  (void)e;
  (*(size_t *)c)++;
  return 0;
}

typedef struct mem {
  char *p;
  size_t n, cap;
} mem;
static int to_mem(void *c, const void *data, size_t n) {
  mem *m = c;
  if (m->n + n > m->cap) {
    m->cap = (m->n + n) * 2;
    m->p = realloc(m->p, m->cap);
  }
  memcpy(m->p + m->n, data, n);
  m->n += n;
  return 0;
}

/* One run with allocation number `fail` failing (0 = none). Returns the
 * number of allocations the scenario made, to know when to stop. */
static uint64_t scenario(uint64_t fail) {
  test_alloc ta = {0};
  macho_allocator hooks = test_alloc_hooks(&ta);
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 1000;
  cfg.shards = 2;
  cfg.ttl_seconds = 0;
  cfg.negative_ttl_seconds = 100;
  cfg.allocator = &hooks;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  uint64_t base = ta.calls;
  ta.fail_at = fail ? base + fail : 0;
  ctx x = {0};
  macho_loader ld = {load, &x, NULL, NULL, NULL, NULL};
  char buf[64];
  size_t n;
  for (uint32_t k = 0; k < 700; k++) {
    int rc = macho_get_or_load(c, &k, 4, &ld, buf, sizeof buf, &n);
    assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM || (rc == MACHO_ENOTFOUND && k % 5 == 0));
    if (rc == MACHO_OK) assert_int_equal(n, 10 + k % 30);
  }
  size_t listed = 0;
  int rc = macho_foreach_entry(c, count, &listed);
  assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
  if (rc == MACHO_OK) assert_int_equal(listed, macho_len(c));
  rc = macho_coldest(c, 10, count, &listed);
  assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
  mem m = {NULL, 0, 0};
  rc = macho_save_to(c, to_mem, &m);
  assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
  bool saved = rc == MACHO_OK;
  rc = macho_resize(c, 100, MACHO_RESIZE_KEEP);
  assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
  assert_true(macho_len(c) <= 100); /* the limit holds even when a rebuild could not */
  rc = macho_resize(c, 2000, MACHO_RESIZE_KEEP);
  assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
  if (saved) {
    rc = macho_load_from(c, m.p, m.n);
    assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
  }
  free(m.p);
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.entries, macho_len(c));
  ta.fail_at = 0;
  uint64_t made = ta.calls - base;
  macho_close(c);
  assert_int_equal(ta.live_blocks, 0);
  assert_int_equal(ta.live_bytes, 0);
  return made;
}

static void every_allocation_of_the_features_may_fail(void **state) {
  (void)state;
  uint64_t total = scenario(0);
  uint64_t step = test_sanitized() ? 11 : 1;
  for (uint64_t n = 1; n <= total; n += step) scenario(n);
  fprintf(stderr, "# %llu allocations, each failed once\n", (unsigned long long)total);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_allocation_of_the_features_may_fail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
