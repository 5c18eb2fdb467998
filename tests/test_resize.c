/*
 * test_resize.c -- macho_resize on one thread, and the inspection calls
 * that go with a live cache (peek, TTL get/set, hottest/coldest).
 *
 * Resizes are checked against a model: an exact LRU model with random puts,
 * gets, deletes and resizes (one shard, so that the model is exact), every
 * policy under random resizes with invariants, byte budgets that shrink
 * and grow, and the memory a shrunk table gives back. Threads:
 * test_concurrency_resize.c.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static macho_cache *open_c(macho_policy p, size_t cap, uint32_t shards, size_t bytes, test_clock *clk) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.capacity_bytes = bytes;
  cfg.shards = shards;
  cfg.policy = p;
  cfg.ttl_seconds = 0;
  cfg.seed = test_seed();
  if (clk) {
    cfg.clock = test_clock_fn;
    cfg.clock_ctx = clk;
  }
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

/* ---- an exact LRU model ---------------------------------------------------------- */
typedef struct lru_model {
  uint32_t keys[4096]; /* most recent last */
  uint32_t n, cap;
} lru_model;

static int m_find(const lru_model *m, uint32_t k) {
  for (uint32_t i = 0; i < m->n; i++)
    if (m->keys[i] == k) return (int)i;
  return -1;
}
static void m_touch(lru_model *m, int i) {
  uint32_t k = m->keys[i];
  memmove(&m->keys[i], &m->keys[i + 1], (m->n - (uint32_t)i - 1) * sizeof k);
  m->keys[m->n - 1] = k;
}
static void m_put(lru_model *m, uint32_t k) {
  int i = m_find(m, k);
  if (i >= 0) {
    m_touch(m, i);
    return;
  }
  while (m->n >= m->cap) {
    memmove(&m->keys[0], &m->keys[1], (m->n - 1) * sizeof k);
    m->n--;
  }
  m->keys[m->n++] = k;
}
static void m_resize(lru_model *m, uint32_t cap) {
  m->cap = cap;
  if (m->n > cap) {
    uint32_t drop = m->n - cap;
    memmove(&m->keys[0], &m->keys[drop], cap * sizeof m->keys[0]);
    m->n = cap;
  }
}

static void lru_resizes_match_the_model(void **state) {
  (void)state;
  macho_cache *c = open_c(MACHO_POLICY_LRU, 100, 1, 0, NULL);
  lru_model *m = calloc(1, sizeof *m);
  m->cap = 100;
  uint64_t rng = test_seed();
  char buf[8];
  for (int step = 0; step < 20000; step++) {
    uint64_t r = test_rand(&rng);
    uint32_t k = (uint32_t)((r >> 8) % 600);
    unsigned op = (unsigned)(r % 100);
    if (op < 50) {
      assert_int_equal(macho_put(c, &k, 4, &k, 4), MACHO_OK);
      m_put(m, k);
    } else if (op < 85) {
      int rc = macho_get(c, &k, 4, buf, sizeof buf, NULL);
      int i = m_find(m, k);
      assert_int_equal(rc, i >= 0 ? MACHO_OK : MACHO_ENOTFOUND);
      if (i >= 0) m_touch(m, i);
    } else if (op < 95) {
      int rc = macho_delete(c, &k, 4);
      int i = m_find(m, k);
      assert_int_equal(rc, i >= 0 ? MACHO_OK : MACHO_ENOTFOUND);
      if (i >= 0) {
        memmove(&m->keys[i], &m->keys[i + 1], (m->n - (uint32_t)i - 1) * sizeof k);
        m->n--;
      }
    } else {
      uint32_t cap = 1 + (uint32_t)((r >> 30) % 500);
      assert_int_equal(macho_resize(c, cap, MACHO_RESIZE_KEEP), MACHO_OK);
      m_resize(m, cap);
      macho_counters ct = test_counters(c);
      assert_int_equal(ct.capacity_entries, cap);
    }
    if (step % 50 == 0 || op >= 95) {
      assert_int_equal(macho_len(c), m->n);
      for (uint32_t i = 0; i < m->n; i++) assert_int_equal(macho_contains(c, &m->keys[i], 4), MACHO_OK);
    }
  }
  free(m);
  macho_close(c);
}

static void shrinking_evicts_the_coldest_and_gives_memory_back(void **state) {
  (void)state;
  macho_cache *c = open_c(MACHO_POLICY_LRU, 100000, 1, 0, NULL);
  for (uint32_t k = 0; k < 100000; k++) assert_int_equal(macho_put(c, &k, 4, "v", 1), MACHO_OK);
  macho_counters before = test_counters(c);
  assert_int_equal(macho_resize(c, 1000, MACHO_RESIZE_KEEP), MACHO_OK);
  macho_counters after = test_counters(c);
  assert_int_equal(after.entries, 1000);
  assert_int_equal(after.evictions - before.evictions, 99000);
  for (uint32_t k = 99000; k < 100000; k++) assert_int_equal(macho_contains(c, &k, 4), MACHO_OK);
  /* the table was rebuilt at the small size: most of its memory is back */
  assert_true(after.memory_bytes < before.memory_bytes / 8);
  /* and it grows again when asked */
  assert_int_equal(macho_resize(c, 50000, MACHO_RESIZE_KEEP), MACHO_OK);
  for (uint32_t k = 0; k < 50000; k++) assert_int_equal(macho_put(c, &k, 4, "w", 1), MACHO_OK);
  assert_int_equal(macho_len(c), 50000);
  macho_close(c);
}

static void every_policy_survives_resizes_up_and_down(void **state) {
  (void)state;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    if (!macho_policy_available((macho_policy)p)) continue;
    macho_cache *c = open_c((macho_policy)p, 64, 2, 0, NULL);
    uint64_t rng = test_seed() + (uint64_t)p;
    uint64_t cap = 64;
    char buf[8];
    for (int step = 0; step < 30000; step++) {
      uint64_t r = test_rand(&rng);
      uint32_t k = (uint32_t)((r >> 8) % 3000);
      if (r % 500 == 0) {
        cap = 2 + (r >> 20) % 2000;
        assert_int_equal(macho_resize(c, (size_t)cap, MACHO_RESIZE_KEEP), MACHO_OK);
      } else if (r % 3 == 0) {
        int rc = macho_get(c, &k, 4, buf, sizeof buf, NULL);
        assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
      } else {
        assert_int_equal(macho_put(c, &k, 4, &k, 4), MACHO_OK);
        assert_int_equal(macho_contains(c, &k, 4), MACHO_OK);
      }
      if (step % 100 == 0) assert_true(macho_len(c) <= cap);
    }
    macho_close(c);
  }
}

static void the_byte_budget_shrinks_and_grows(void **state) {
  (void)state;
  size_t per = MACHO_ENTRY_OVERHEAD + 16; /* 4-byte key, 9..16-byte value */
  macho_cache *c = open_c(MACHO_POLICY_FIFO, 10000, 2, 1000 * per, NULL);
  for (uint32_t k = 0; k < 3000; k++) assert_int_equal(macho_put(c, &k, 4, "0123456789abcdef", 16), MACHO_OK);
  macho_counters ct = test_counters(c);
  assert_true(ct.charged_bytes <= 1000 * per);
  assert_true(ct.entries >= 990);
  assert_int_equal(macho_resize(c, MACHO_RESIZE_KEEP, 100 * per), MACHO_OK);
  ct = test_counters(c);
  assert_true(ct.charged_bytes <= 100 * per);
  assert_int_equal(ct.capacity_bytes, 100 * per);
  assert_int_equal(ct.capacity_entries, 10000);
  /* FIFO: the newest stayed */
  uint32_t newest = 2999;
  assert_int_equal(macho_contains(c, &newest, 4), MACHO_OK);
  /* No budget at all, then puts fill up to the entry capacity. */
  assert_int_equal(macho_resize(c, MACHO_RESIZE_KEEP, 0), MACHO_OK);
  for (uint32_t k = 0; k < 5000; k++) assert_int_equal(macho_put(c, &k, 4, "0123456789abcdef", 16), MACHO_OK);
  ct = test_counters(c);
  assert_int_equal(ct.capacity_bytes, 0);
  assert_int_equal(ct.entries, 5000);
  macho_close(c);
}

static void bad_resizes_are_refused_and_change_nothing(void **state) {
  (void)state;
  macho_cache *c = open_c(MACHO_POLICY_LRU, 100, 4, 0, NULL);
  assert_int_equal(macho_resize(NULL, 10, 0), MACHO_EINVAL);
  assert_int_equal(macho_resize(c, 3, MACHO_RESIZE_KEEP), MACHO_EINVAL); /* fewer than the shards */
  assert_int_equal(macho_resize(c, MACHO_RESIZE_KEEP, 3), MACHO_EINVAL); /* a byte for each shard */
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.capacity_entries, 100);
  assert_int_equal(ct.capacity_bytes, 0);
  assert_int_equal(macho_resize(c, 4, 4), MACHO_OK);
  macho_close(c);
}

/* ---- peeks and TTLs ------------------------------------------------------------- */
static void peek_changes_nothing(void **state) {
  (void)state;
  macho_cache *c = open_c(MACHO_POLICY_LRU, 3, 1, 0, NULL);
  assert_int_equal(macho_put(c, "a", 1, "value of a, a long one", 22), MACHO_OK);
  assert_int_equal(macho_put(c, "b", 1, "b", 1), MACHO_OK);
  assert_int_equal(macho_put(c, "c", 1, "c", 1), MACHO_OK);
  macho_counters before = test_counters(c);
  char buf[32];
  size_t n = 0;
  assert_int_equal(macho_peek(c, "a", 1, buf, sizeof buf, &n), MACHO_OK);
  assert_int_equal(n, 22);
  assert_memory_equal(buf, "value of a, a long one", 22);
  assert_int_equal(macho_peek(c, "a", 1, buf, 4, &n), MACHO_ERANGE);
  assert_int_equal(n, 22);
  assert_int_equal(macho_peek(c, "zz", 2, buf, sizeof buf, &n), MACHO_ENOTFOUND);
  macho_counters after = test_counters(c);
  assert_memory_equal(&before, &after, sizeof before); /* no counter moved */
  /* and no recency: a is still the LRU victim */
  assert_int_equal(macho_put(c, "d", 1, "d", 1), MACHO_OK);
  assert_int_equal(macho_contains(c, "a", 1), MACHO_ENOTFOUND);
  assert_int_equal(macho_peek(NULL, "a", 1, buf, 1, &n), MACHO_EINVAL);
  assert_int_equal(macho_peek(c, NULL, 1, buf, 1, &n), MACHO_EINVAL);
  void *v;
  assert_int_equal(macho_obj_peek(c, "a", &v), MACHO_EMODE);
  macho_close(c);
}

static void ttls_can_be_read_and_changed(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.ttl_seconds = 10;
  cfg.clock = test_clock_fn;
  cfg.clock_ctx = &clk;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  assert_int_equal(macho_put(c, "k", 1, "v", 1), MACHO_OK);
  double left = 0;
  assert_int_equal(macho_ttl_get(c, "k", 1, &left), MACHO_OK);
  assert_true(fabs(left - 10) < 1e-9);
  clk.now_ns += 4000000000ull;
  assert_int_equal(macho_ttl_get(c, "k", 1, &left), MACHO_OK);
  assert_true(fabs(left - 6) < 1e-9);
  assert_int_equal(macho_ttl_set(c, "k", 1, 2.5), MACHO_OK);
  assert_int_equal(macho_ttl_get(c, "k", 1, &left), MACHO_OK);
  assert_true(fabs(left - 2.5) < 1e-9);
  clk.now_ns += 2499000000ull;
  char buf[4];
  assert_int_equal(macho_get(c, "k", 1, buf, sizeof buf, NULL), MACHO_OK);
  clk.now_ns += 1000000ull;
  assert_int_equal(macho_get(c, "k", 1, buf, sizeof buf, NULL), MACHO_ENOTFOUND); /* expired on time */
  assert_int_equal(macho_ttl_get(c, "k", 1, &left), MACHO_ENOTFOUND);
  assert_int_equal(macho_ttl_set(c, "k", 1, 5), MACHO_ENOTFOUND);
  /* never, and back to a deadline */
  assert_int_equal(macho_put(c, "n", 1, "v", 1), MACHO_OK);
  assert_int_equal(macho_ttl_set(c, "n", 1, INFINITY), MACHO_OK);
  assert_int_equal(macho_ttl_get(c, "n", 1, &left), MACHO_OK);
  assert_true(isinf(left));
  clk.now_ns += 3600000000000ull;
  assert_int_equal(macho_get(c, "n", 1, buf, sizeof buf, NULL), MACHO_OK);
  assert_int_equal(macho_ttl_set(c, "n", 1, 1), MACHO_OK);
  clk.now_ns += 1000000000ull;
  size_t reclaimed = 0;
  assert_int_equal(macho_expire(c, &reclaimed), MACHO_OK); /* the sweep knows the new deadline */
  assert_int_equal(reclaimed, 1);
  assert_int_equal(macho_ttl_set(c, "n", 1, -1), MACHO_EINVAL);
  assert_int_equal(macho_ttl_set(c, "n", 1, NAN), MACHO_EINVAL);
  assert_int_equal(macho_ttl_get(c, "n", 1, NULL), MACHO_EINVAL);
  macho_close(c);
}

/* ---- hottest / coldest ------------------------------------------------------------ */
typedef struct keys {
  uint32_t k[64];
  uint32_t freq[64];
  int n;
} keys;
static int take_key(void *ctx, const macho_entry_view *e) {
  keys *ks = ctx;
  memcpy(&ks->k[ks->n], e->key, 4);
  ks->freq[ks->n++] = e->frequency;
  return 0;
}

static void hottest_and_coldest_follow_the_policy(void **state) {
  (void)state;
  macho_cache *c = open_c(MACHO_POLICY_LRU, 100, 1, 0, NULL);
  for (uint32_t k = 0; k < 100; k++) assert_int_equal(macho_put(c, &k, 4, "v", 1), MACHO_OK);
  char buf[4];
  uint32_t hot[3] = {40, 7, 93};
  for (int i = 0; i < 3; i++) assert_int_equal(macho_get(c, &hot[i], 4, buf, sizeof buf, NULL), MACHO_OK);
  keys h = {{0}, {0}, 0}, cd = {{0}, {0}, 0};
  assert_int_equal(macho_hottest(c, 5, take_key, &h), MACHO_OK);
  assert_int_equal(macho_coldest(c, 5, take_key, &cd), MACHO_OK);
  uint32_t want_hot[5] = {93, 7, 40, 99, 98}, want_cold[5] = {0, 1, 2, 3, 4};
  assert_int_equal(h.n, 5);
  assert_int_equal(cd.n, 5);
  assert_memory_equal(h.k, want_hot, sizeof want_hot);
  assert_memory_equal(cd.k, want_cold, sizeof want_cold);
  macho_close(c);
  /* LFU: the hint is the frequency, coldest are the least used. */
  c = open_c(MACHO_POLICY_LFU, 100, 1, 0, NULL);
  for (uint32_t k = 0; k < 10; k++) assert_int_equal(macho_put(c, &k, 4, "v", 1), MACHO_OK);
  for (uint32_t k = 0; k < 10; k++)
    for (uint32_t i = 0; i < k; i++) assert_int_equal(macho_get(c, &k, 4, buf, sizeof buf, NULL), MACHO_OK);
  keys l = {{0}, {0}, 0};
  assert_int_equal(macho_hottest(c, 3, take_key, &l), MACHO_OK);
  assert_int_equal(l.k[0], 9);
  assert_int_equal(l.freq[0], 10);
  assert_int_equal(l.k[2], 7);
  macho_close(c);
  /* Random has no order. */
  c = open_c(MACHO_POLICY_RANDOM, 10, 1, 0, NULL);
  assert_int_equal(macho_hottest(c, 3, take_key, &l), MACHO_ENOTSUP);
  assert_int_equal(macho_coldest(NULL, 3, take_key, &l), MACHO_EINVAL);
  macho_close(c);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lru_resizes_match_the_model),
      cmocka_unit_test(shrinking_evicts_the_coldest_and_gives_memory_back),
      cmocka_unit_test(every_policy_survives_resizes_up_and_down),
      cmocka_unit_test(the_byte_budget_shrinks_and_grows),
      cmocka_unit_test(bad_resizes_are_refused_and_change_nothing),
      cmocka_unit_test(peek_changes_nothing),
      cmocka_unit_test(ttls_can_be_read_and_changed),
      cmocka_unit_test(hottest_and_coldest_follow_the_policy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
