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
#include <stdbool.h>
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
  /* Random has no order, auto none that holds from one call to the next. */
  c = open_c(MACHO_POLICY_RANDOM, 10, 1, 0, NULL);
  assert_int_equal(macho_hottest(c, 3, take_key, &l), MACHO_ENOTSUP);
  macho_close(c);
  c = open_c(MACHO_POLICY_AUTO, 10, 1, 0, NULL);
  assert_int_equal(macho_put(c, "k", 1, "v", 1), MACHO_OK);
  assert_int_equal(macho_coldest(c, 3, take_key, &l), MACHO_ENOTSUP);
  assert_int_equal(macho_hottest(c, 3, take_key, &l), MACHO_ENOTSUP);
  assert_int_equal(macho_coldest(NULL, 3, take_key, &l), MACHO_EINVAL);
  macho_close(c);
}

/* What a policy says it would evict next is what it does evict: coldest(all)
 * lists every entry once, hottest(all) is the same list backwards, and a
 * shrink to one entry (victim() after victim(), no hit meanwhile) evicts in
 * that order -- exactly for the policies whose order is known (LRU, FIFO,
 * LFU, MFU, SIEVE: its visited bits are part of the state), and mostly for
 * S3-FIFO, W-TinyLFU and ARC, whose victim() also moves entries between
 * queues. (auto has no order: test below.) */
#define ORDER_N 600
typedef struct order_list {
  uint32_t k[ORDER_N];
  int n, dup;
} order_list;
static int take_order(void *ctx, const macho_entry_view *e) {
  order_list *o = ctx;
  uint32_t k;
  memcpy(&k, e->key, 4);
  for (int i = 0; i < o->n; i++) o->dup += o->k[i] == k;
  if (o->n < ORDER_N) o->k[o->n++] = k;
  return 0;
}
static void note_eviction(void *ctx, const void *key, size_t klen, const void *value, size_t vlen,
                          macho_removal reason) {
  (void)value;
  (void)vlen;
  order_list *o = ctx;
  /* Nothing but the policy's choices may leave during a shrink (W-TinyLFU's
   * are "rejected" when its filter turns the window's candidate away). */
  if ((reason != MACHO_REMOVED_EVICTED && reason != MACHO_REMOVED_REJECTED) || klen != 4) {
    o->dup++; /* counted as wrong */
    return;
  }
  uint32_t k;
  memcpy(&k, key, 4);
  if (o->n < ORDER_N) o->k[o->n++] = k;
}

static void coldest_is_the_order_a_shrink_evicts_in_for_every_ordered_policy(void **state) {
  (void)state;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    if (!macho_policy_available((macho_policy)p) || p == MACHO_POLICY_RANDOM || p == MACHO_POLICY_AUTO) continue;
    const bool exact = p == MACHO_POLICY_LRU || p == MACHO_POLICY_FIFO || p == MACHO_POLICY_LFU ||
                       p == MACHO_POLICY_MFU || p == MACHO_POLICY_SIEVE;
    order_list ev = {{0}, 0, 0};
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.capacity_entries = ORDER_N;
    cfg.policy = (macho_policy)p;
    cfg.ttl_seconds = 0;
    cfg.seed = test_seed();
    cfg.on_remove = note_eviction;
    cfg.on_remove_ctx = &ev;
    macho_cache *c = NULL;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    uint64_t rng = test_seed() + 77 * (uint64_t)p;
    char buf[8];
    /* 900 keys through 600 places, with hits on a skewed few: queues,
     * visited bits and frequencies all get some state. */
    for (int step = 0; step < 6000; step++) {
      uint64_t r = test_rand(&rng);
      uint32_t k = (uint32_t)((r >> 8) % (r % 4 == 0 ? 60 : 900));
      if (macho_get(c, &k, 4, buf, sizeof buf, NULL) == MACHO_ENOTFOUND)
        assert_int_equal(macho_put(c, &k, 4, &k, 4), MACHO_OK);
    }
    ev.n = ev.dup = 0; /* only the shrink's evictions from here */
    size_t len = macho_len(c);
    assert_true(len > 1 && len <= ORDER_N);
    order_list cold = {{0}, 0, 0}, hot = {{0}, 0, 0};
    assert_int_equal(macho_coldest(c, SIZE_MAX, take_order, &cold), MACHO_OK);
    assert_int_equal(macho_hottest(c, SIZE_MAX, take_order, &hot), MACHO_OK);
    if ((size_t)cold.n != len || (size_t)hot.n != len || cold.dup || hot.dup)
      fail_msg("%s: coldest lists %d (%d twice), hottest %d (%d twice), of %zu entries",
               macho_policy_name((macho_policy)p), cold.n, cold.dup, hot.n, hot.dup, len);
    for (int i = 0; i < cold.n; i++)
      if (cold.k[i] != hot.k[cold.n - 1 - i])
        fail_msg("%s: hottest is not coldest backwards at %d", macho_policy_name((macho_policy)p), i);
    assert_int_equal(macho_resize(c, 1, MACHO_RESIZE_KEEP), MACHO_OK);
    assert_int_equal(ev.dup, 0);
    assert_int_equal((size_t)ev.n, len - 1);
    /* How many of the evicted were among the first half of coldest's list:
     * exact policies, all of them in that order. */
    int same = 0, early = 0;
    for (int i = 0; i < ev.n; i++) same += ev.k[i] == cold.k[i];
    for (int i = 0; i < ev.n / 2; i++)
      for (int j = 0; j < cold.n / 2; j++) early += ev.k[i] == cold.k[j];
    fprintf(stderr, "# %s: %d of %d evicted in coldest's order, %d of the first %d in its first half\n",
            macho_policy_name((macho_policy)p), same, ev.n, early, ev.n / 2);
    if (exact && same != ev.n)
      fail_msg("%s: the shrink evicted %d of %d in coldest's order", macho_policy_name((macho_policy)p), same, ev.n);
    if (!exact && early < ev.n / 4)
      fail_msg("%s: only %d of the first %d evicted were in coldest's first half", macho_policy_name((macho_policy)p),
               early, ev.n / 2);
    if (exact) assert_int_equal(macho_contains(c, &cold.k[cold.n - 1], 4), MACHO_OK); /* the hottest stays */
    macho_close(c);
  }
}

/* A snapshot ranks entries by the policy's order in steps of 256 (resuming
 * after the last slot of a step): loaded into an empty cache of the same
 * size, the order comes back the same where loading can rebuild it (LRU,
 * FIFO, SIEVE: a load inserts coldest first, and SIEVE's order then is its
 * insertion order, as it was before with no bits set). */
static int save_to_mem(void *ctx, const void *data, size_t n) {
  struct mem {
    char *p;
    size_t n, cap;
  } *m = ctx;
  if (m->n + n > m->cap) {
    m->cap = (m->n + n) * 2;
    m->p = realloc(m->p, m->cap);
    if (!m->p) return 1;
  }
  memcpy(m->p + m->n, data, n);
  m->n += n;
  return 0;
}

static void a_snapshot_keeps_the_order_of_more_entries_than_one_step(void **state) {
  (void)state;
  const macho_policy pols[3] = {MACHO_POLICY_LRU, MACHO_POLICY_FIFO, MACHO_POLICY_SIEVE};
  for (int i = 0; i < 3; i++) {
    if (!macho_policy_available(pols[i])) continue;
    macho_cache *a = open_c(pols[i], ORDER_N, 1, 0, NULL);
    uint64_t rng = test_seed() + 5;
    for (int step = 0; step < 3000; step++) {
      uint32_t k = (uint32_t)(test_rand(&rng) % 1000);
      assert_int_equal(macho_put(a, &k, 4, &k, 4), MACHO_OK);
    }
    order_list before = {{0}, 0, 0}, after = {{0}, 0, 0};
    assert_int_equal(macho_coldest(a, SIZE_MAX, take_order, &before), MACHO_OK);
    assert_true(before.n > 256);
    struct mem {
      char *p;
      size_t n, cap;
    } m = {NULL, 0, 0};
    assert_int_equal(macho_save_to(a, save_to_mem, &m), MACHO_OK);
    macho_cache *b = open_c(pols[i], ORDER_N, 1, 0, NULL);
    assert_int_equal(macho_load_from(b, m.p, m.n), MACHO_OK);
    assert_int_equal(macho_coldest(b, SIZE_MAX, take_order, &after), MACHO_OK);
    assert_int_equal(after.n, before.n);
    for (int j = 0; j < before.n; j++)
      if (before.k[j] != after.k[j])
        fail_msg("%s: the loaded order differs at %d of %d", macho_policy_name(pols[i]), j, before.n);
    free(m.p);
    macho_close(a);
    macho_close(b);
  }
}

/* A shrunk cache gives its memory back, whatever its policy (the policy's
 * structures follow the capacity: resize hook or rebuild). */
static void every_policy_gives_memory_back_when_shrunk(void **state) {
  (void)state;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    if (!macho_policy_available((macho_policy)p)) continue;
    macho_cache *c = open_c((macho_policy)p, 100000, 1, 0, NULL);
    for (uint32_t k = 0; k < 100000; k++) assert_int_equal(macho_put(c, &k, 4, "v", 1), MACHO_OK);
    macho_counters before = test_counters(c);
    assert_int_equal(macho_resize(c, 1000, MACHO_RESIZE_KEEP), MACHO_OK);
    macho_counters after = test_counters(c);
    fprintf(stderr, "# %s: %llu bytes for 100000 entries, %llu after the shrink to 1000\n",
            macho_policy_name((macho_policy)p), (unsigned long long)before.memory_bytes,
            (unsigned long long)after.memory_bytes);
    assert_int_equal(after.entries, 1000);
    if (after.memory_bytes >= before.memory_bytes / 8)
      fail_msg("%s: %llu bytes after the shrink, %llu before", macho_policy_name((macho_policy)p),
               (unsigned long long)after.memory_bytes, (unsigned long long)before.memory_bytes);
    /* and it still works at the new size and at a bigger one */
    for (uint32_t k = 0; k < 5000; k++) assert_int_equal(macho_put(c, &k, 4, "w", 1), MACHO_OK);
    assert_int_equal(macho_len(c), 1000);
    assert_int_equal(macho_resize(c, 20000, MACHO_RESIZE_KEEP), MACHO_OK);
    for (uint32_t k = 0; k < 30000; k++) assert_int_equal(macho_put(c, &k, 4, "x", 1), MACHO_OK);
    assert_int_equal(macho_len(c), 20000);
    macho_close(c);
  }
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
      cmocka_unit_test(coldest_is_the_order_a_shrink_evicts_in_for_every_ordered_policy),
      cmocka_unit_test(a_snapshot_keeps_the_order_of_more_entries_than_one_step),
      cmocka_unit_test(every_policy_gives_memory_back_when_shrunk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
