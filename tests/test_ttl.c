/*
 * test_ttl.c -- time to live (src/expiry.c and the lookup paths).
 *
 * The contract: an expired entry is never returned, by any call; a put may
 * give one entry its own TTL; 0 and +inf mean "never"; and memory of expired
 * entries nobody asks for again is reclaimed by the bounded sweep that puts
 * and gets carry out, without anyone touching those keys. Time comes from an
 * injected clock, so nothing here sleeps.
 */
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SEC 1000000000ull
#define MS 1000000ull

static macho_cache *open_with_clock(test_clock *clk, double ttl_s, size_t cap, uint32_t shards,
                                    macho_policy policy) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.ttl_seconds = ttl_s;
  cfg.shards = shards;
  cfg.policy = policy;
  cfg.clock = test_clock_fn;
  cfg.clock_ctx = clk;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static int put_u64(macho_cache *c, uint64_t k, uint64_t v) { return macho_put(c, &k, sizeof k, &v, sizeof v); }

static int get_u64(macho_cache *c, uint64_t k, uint64_t *v) {
  return macho_get(c, &k, sizeof k, v, sizeof *v, NULL);
}

static void an_expired_entry_is_never_returned(void **state) {
  (void)state;
  test_clock clk = {5 * SEC};
  macho_cache *c = open_with_clock(&clk, 10, 100, 1, MACHO_POLICY_LRU);
  uint64_t v;
  assert_int_equal(put_u64(c, 1, 11), MACHO_OK);
  clk.now_ns += 10 * SEC - 1; /* one nanosecond before the deadline */
  assert_int_equal(get_u64(c, 1, &v), MACHO_OK);
  assert_int_equal(v, 11);
  /* Past the deadline: expired. A core may keep an entry up to 1 ms past
   * its TTL (deadlines in millisecond ticks), so step just beyond that. */
  clk.now_ns += 1 + MS + 1; /* deadline + 1 ms + 1 ns */
  assert_int_equal(macho_contains(c, &(uint64_t){1}, 8), MACHO_ENOTFOUND);
  assert_int_equal(get_u64(c, 1, &v), MACHO_ENOTFOUND);
  assert_int_equal(macho_delete(c, &(uint64_t){1}, 8), MACHO_ENOTFOUND);
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.expirations, 1);
  assert_int_equal(ct.entries, 0);
  assert_int_equal(ct.misses, 1);
  macho_close(c);
}

static void a_put_on_an_expired_key_starts_a_fresh_entry(void **state) {
  (void)state;
  test_clock clk = {0};
  macho_cache *c = open_with_clock(&clk, 1, 10, 1, MACHO_POLICY_LRU);
  uint64_t v;
  assert_int_equal(put_u64(c, 7, 1), MACHO_OK);
  clk.now_ns += 2 * SEC;
  assert_int_equal(put_u64(c, 7, 2), MACHO_OK);
  assert_int_equal(get_u64(c, 7, &v), MACHO_OK);
  assert_int_equal(v, 2);
  clk.now_ns += SEC / 2;
  assert_int_equal(get_u64(c, 7, &v), MACHO_OK); /* the new deadline counts from the put */
  macho_close(c);
}

static void a_replace_resets_the_deadline(void **state) {
  (void)state;
  test_clock clk = {0};
  macho_cache *c = open_with_clock(&clk, 10, 10, 1, MACHO_POLICY_LRU);
  uint64_t v;
  assert_int_equal(put_u64(c, 3, 1), MACHO_OK);
  clk.now_ns += 8 * SEC;
  assert_int_equal(put_u64(c, 3, 2), MACHO_OK);
  clk.now_ns += 8 * SEC; /* 16 s after the first put, 8 s after the replace */
  assert_int_equal(get_u64(c, 3, &v), MACHO_OK);
  assert_int_equal(v, 2);
  macho_close(c);
}

static void a_per_entry_ttl_overrides_the_default(void **state) {
  (void)state;
  test_clock clk = {0};
  macho_cache *c = open_with_clock(&clk, 100, 10, 1, MACHO_POLICY_LRU);
  uint64_t k1 = 1, k2 = 2, k3 = 3, v = 9;
  assert_int_equal(macho_put_ttl(c, &k1, 8, &v, 8, 1.0), MACHO_OK);   /* shorter */
  assert_int_equal(macho_put_ttl(c, &k2, 8, &v, 8, 500.0), MACHO_OK); /* longer */
  assert_int_equal(macho_put(c, &k3, 8, &v, 8), MACHO_OK);            /* default 100 s */
  clk.now_ns += 2 * SEC;
  assert_int_equal(macho_contains(c, &k1, 8), MACHO_ENOTFOUND);
  assert_int_equal(macho_contains(c, &k2, 8), MACHO_OK);
  assert_int_equal(macho_contains(c, &k3, 8), MACHO_OK);
  clk.now_ns += 200 * SEC;
  assert_int_equal(macho_contains(c, &k2, 8), MACHO_OK);
  assert_int_equal(macho_contains(c, &k3, 8), MACHO_ENOTFOUND);
  clk.now_ns += 400 * SEC;
  assert_int_equal(macho_contains(c, &k2, 8), MACHO_ENOTFOUND);
  /* Sub-nanosecond TTLs round up (to a nanosecond, or a millisecond tick),
   * not to "never". */
  assert_int_equal(macho_put_ttl(c, &k1, 8, &v, 8, 1e-12), MACHO_OK);
  assert_int_equal(macho_contains(c, &k1, 8), MACHO_OK);
  clk.now_ns += 1 + MS + 1; /* deadline + 1 ms + 1 ns */
  assert_int_equal(macho_contains(c, &k1, 8), MACHO_ENOTFOUND);
  macho_close(c);
}

static void zero_and_infinite_ttls_never_expire(void **state) {
  (void)state;
  test_clock clk = {0};
  macho_cache *c = open_with_clock(&clk, 0, 10, 1, MACHO_POLICY_LRU); /* default: never */
  uint64_t k1 = 1, k2 = 2, k3 = 3, v = 9;
  assert_int_equal(macho_put(c, &k1, 8, &v, 8), MACHO_OK);
  assert_int_equal(macho_put_ttl(c, &k2, 8, &v, 8, 0.0), MACHO_OK);
  assert_int_equal(macho_put_ttl(c, &k3, 8, &v, 8, INFINITY), MACHO_OK);
  clk.now_ns = UINT64_MAX - 1; /* the end of the clock */
  assert_int_equal(macho_contains(c, &k1, 8), MACHO_OK);
  assert_int_equal(macho_contains(c, &k2, 8), MACHO_OK);
  assert_int_equal(macho_contains(c, &k3, 8), MACHO_OK);
  size_t n = 99;
  assert_int_equal(macho_expire(c, &n), MACHO_OK);
  assert_int_equal(n, 0);
  macho_close(c);

  c = open_with_clock(&clk, INFINITY, 10, 1, MACHO_POLICY_LRU);
  clk.now_ns = 0;
  assert_int_equal(macho_put(c, &k1, 8, &v, 8), MACHO_OK);
  clk.now_ns = UINT64_MAX - 1;
  assert_int_equal(macho_contains(c, &k1, 8), MACHO_OK);
  macho_close(c);
}

static void a_deadline_past_the_end_of_the_clock_means_never(void **state) {
  (void)state;
  test_clock clk = {UINT64_MAX - SEC};
  macho_cache *c = open_with_clock(&clk, 60, 10, 1, MACHO_POLICY_LRU);
  assert_int_equal(put_u64(c, 1, 1), MACHO_OK);
  clk.now_ns = UINT64_MAX - 1;
  uint64_t v;
  assert_int_equal(get_u64(c, 1, &v), MACHO_OK);
  macho_close(c);
}

/* Put N entries with a TTL, let them expire, then touch only other keys: the
 * sweep carried by those calls must reclaim them all. */
static void sweep_reclaims(macho_policy policy, uint32_t shards, bool by_gets) {
  enum { N = 3000 };
  test_clock clk = {0};
  macho_cache *c = open_with_clock(&clk, 0, 2 * N, shards, policy);
  uint64_t v = 1;
  for (uint64_t k = 0; k < N; k++) assert_int_equal(macho_put_ttl(c, &k, 8, &v, 8, 5.0), MACHO_OK);
  /* A few that never expire, to check the sweep leaves them alone. */
  for (uint64_t k = N; k < N + 10; k++) assert_int_equal(put_u64(c, k, k), MACHO_OK);
  assert_int_equal(macho_len(c), N + 10);
  clk.now_ns += 6 * SEC;
  /* Other keys only: gets of absent keys, or puts cycling over 64 keys
   * (enough to reach every shard). */
  enum { OTHERS = 64 };
  size_t left = N;
  int calls = 0;
  while (left > 0 && calls < 100 * N) {
    uint64_t other = 1000000 + (uint64_t)(calls % OTHERS);
    if (by_gets) assert_int_equal(get_u64(c, other, &v), MACHO_ENOTFOUND);
    else assert_int_equal(put_u64(c, other, 1), MACHO_OK);
    calls++;
    size_t others = by_gets ? 0 : (calls < OTHERS ? (size_t)calls : (size_t)OTHERS);
    size_t now_left = macho_len(c) - 10 - others;
    assert_true(now_left <= left); /* expired entries only ever go */
    left = now_left;
  }
  assert_int_equal(left, 0);
  /* Bounded work per call: about slab/8 puts or one slab's worth of get sweeps. */
  if (by_gets) assert_true(calls <= 2 * (N + 10) + 64 * (int)shards);
  else assert_true(calls <= N + 10 + 64 * (int)shards);
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.expirations, N);
  assert_int_equal(ct.evictions, 0);
  for (uint64_t k = N; k < N + 10; k++) assert_int_equal(macho_contains(c, &k, 8), MACHO_OK);
  macho_close(c);
}

static void expired_entries_are_reclaimed_by_puts_of_other_keys(void **state) {
  (void)state;
  sweep_reclaims(MACHO_POLICY_LRU, 1, false);
  sweep_reclaims(MACHO_POLICY_FIFO, 4, false);
  sweep_reclaims(MACHO_POLICY_RANDOM, 1, false);
}

static void expired_entries_are_reclaimed_by_gets_of_other_keys(void **state) {
  (void)state;
  sweep_reclaims(MACHO_POLICY_LRU, 1, true);
  sweep_reclaims(MACHO_POLICY_FIFO, 1, true);
}

static void expired_entries_are_preferred_over_eviction_when_reclaimed_first(void **state) {
  (void)state;
  /* A cache of expired entries: macho_expire empties it, and new puts then
   * evict nothing. (Capacity 100 in 2 shards: 50 keys never fill a shard.) */
  test_clock clk = {0};
  macho_cache *c = open_with_clock(&clk, 1, 100, 2, MACHO_POLICY_LRU);
  for (uint64_t k = 0; k < 50; k++) assert_int_equal(put_u64(c, k, k), MACHO_OK);
  clk.now_ns += 2 * SEC;
  size_t n = 0;
  assert_int_equal(macho_expire(c, &n), MACHO_OK);
  assert_int_equal(n, 50);
  assert_int_equal(macho_len(c), 0);
  for (uint64_t k = 100; k < 150; k++) assert_int_equal(put_u64(c, k, k), MACHO_OK);
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.evictions, 0);
  assert_int_equal(ct.expirations, 50);
  macho_close(c);
}

static void expire_reclaims_every_expired_entry_and_nothing_else(void **state) {
  (void)state;
  test_clock clk = {0};
  macho_cache *c = open_with_clock(&clk, 0, 20000, 4, MACHO_POLICY_LRU);
  uint64_t v = 0;
  for (uint64_t k = 0; k < 10000; k++)
    assert_int_equal(macho_put_ttl(c, &k, 8, &v, 8, k % 2 ? 1.0 : 0.0), MACHO_OK);
  clk.now_ns += 2 * SEC;
  size_t n = 0;
  assert_int_equal(macho_expire(c, &n), MACHO_OK);
  assert_int_equal(n, 5000);
  assert_int_equal(macho_len(c), 5000);
  assert_int_equal(test_counters(c).expirations, 5000);
  assert_int_equal(macho_expire(c, NULL), MACHO_OK); /* reclaimed may be NULL */
  assert_int_equal(macho_len(c), 5000);
  macho_close(c);
}

/* macho_foreach_entry (the Python binding's pickling): live entries only, with
 * their values and the TTL each has left; a peek that counts nothing. */
typedef struct seen_entries {
  int n;
  uint64_t keys[8], values[8];
  double ttl[8];
} seen_entries;

static int record_entry(void *ctx, const macho_entry_view *e) {
  seen_entries *s = ctx;
  assert_int_equal(e->klen, 8);
  assert_int_equal(e->vlen, 8);
  memcpy(&s->keys[s->n], e->key, 8);
  memcpy(&s->values[s->n], e->value, 8);
  s->ttl[s->n++] = e->ttl_remaining;
  return 0;
}

static void foreach_entry_shows_live_entries_with_their_remaining_ttl(void **state) {
  (void)state;
  test_clock clk = {5 * SEC};
  macho_cache *c = open_with_clock(&clk, 10, 100, 1, MACHO_POLICY_LRU);
  assert_int_equal(put_u64(c, 1, 11), MACHO_OK);                              /* dies at 15 s */
  assert_int_equal(macho_put_ttl(c, &(uint64_t){2}, 8, &(uint64_t){22}, 8, 2), MACHO_OK); /* at 7 s */
  assert_int_equal(macho_put_ttl(c, &(uint64_t){3}, 8, &(uint64_t){33}, 8, 0), MACHO_OK); /* never */
  clk.now_ns += 3 * SEC; /* 8 s: key 2 has expired, key 1 has 7 s left */
  macho_counters before = test_counters(c);
  seen_entries s = {0};
  assert_int_equal(macho_foreach_entry(c, record_entry, &s), MACHO_OK);
  assert_int_equal(s.n, 2);
  for (int i = 0; i < s.n; i++) {
    if (s.keys[i] == 1) {
      assert_int_equal(s.values[i], 11);
      assert_true(fabs(s.ttl[i] - 7.0) < 1e-9);
    } else {
      assert_int_equal(s.keys[i], 3);
      assert_int_equal(s.values[i], 33);
      assert_true(isinf(s.ttl[i]));
    }
  }
  macho_counters after = test_counters(c);
  assert_int_equal(after.gets, before.gets);
  assert_int_equal(after.hits, before.hits);
  assert_int_equal(macho_foreach_entry(NULL, record_entry, &s), MACHO_EINVAL);
  assert_int_equal(macho_foreach_entry(c, NULL, &s), MACHO_EINVAL);
  macho_close(c);
}


/* Times are 32-bit ticks from an epoch that moves every 60 hours of cache
 * clock (expiry.c): months of uptime, with entries written before and after
 * each move, keep every deadline and every lifespan exact. */
static void deadlines_and_lifespans_survive_months_of_uptime(void **state) {
  (void)state;
  const uint64_t H = 3600ull * SEC;
  test_clock clk = {0};
  macho_cache *c = open_with_clock(&clk, 0, 2000, 1, MACHO_POLICY_LRU);
  uint64_t v = 7, out;
  uint64_t a = 1, b = 2, d = 3;
  assert_int_equal(macho_put(c, &a, 8, &v, 8), MACHO_OK);                /* never expires */
  assert_int_equal(macho_put_ttl(c, &b, 8, &v, 8, 100 * 3600.0), MACHO_OK); /* 100 h */
  for (uint64_t round = 1; round <= 12; round++) { /* 12 x 70 h: a dozen rebases */
    clk.now_ns = round * 70 * H;
    for (uint64_t k = 1000; k < 1400; k++) /* writes move the groups */
      assert_int_equal(macho_put(c, &k, 8, &v, 8), MACHO_OK);
    assert_int_equal(macho_get(c, &a, 8, &out, 8, NULL), MACHO_OK);
    assert_int_equal(macho_get(c, &b, 8, &out, 8, NULL), round * 70 < 100 ? MACHO_OK : MACHO_ENOTFOUND);
    /* A TTL written now is honoured to the tick. */
    assert_int_equal(macho_put_ttl(c, &d, 8, &v, 8, 2.0), MACHO_OK);
    clk.now_ns += 2 * SEC - 1;
    assert_int_equal(macho_get(c, &d, 8, &out, 8, NULL), MACHO_OK);
    clk.now_ns += 1;
    assert_int_equal(macho_get(c, &d, 8, &out, 8, NULL), MACHO_ENOTFOUND);
  }
  /* `a` was written at 0 and is deleted at 840 h 4 s: its lifespan is exact. */
  uint64_t at = clk.now_ns;
  assert_int_equal(macho_delete(c, &a, 8), MACHO_OK);
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  assert_int_equal(s->lifespan_ns[MACHO_REMOVED_DELETED].count, 1);
  assert_int_equal(s->lifespan_ns[MACHO_REMOVED_DELETED].max, at);
  macho_stats_free(s);
  macho_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(deadlines_and_lifespans_survive_months_of_uptime),
      cmocka_unit_test(an_expired_entry_is_never_returned),
      cmocka_unit_test(a_put_on_an_expired_key_starts_a_fresh_entry),
      cmocka_unit_test(a_replace_resets_the_deadline),
      cmocka_unit_test(a_per_entry_ttl_overrides_the_default),
      cmocka_unit_test(zero_and_infinite_ttls_never_expire),
      cmocka_unit_test(a_deadline_past_the_end_of_the_clock_means_never),
      cmocka_unit_test(expired_entries_are_reclaimed_by_puts_of_other_keys),
      cmocka_unit_test(expired_entries_are_reclaimed_by_gets_of_other_keys),
      cmocka_unit_test(expired_entries_are_preferred_over_eviction_when_reclaimed_first),
      cmocka_unit_test(expire_reclaims_every_expired_entry_and_nothing_else),
      cmocka_unit_test(foreach_entry_shows_live_entries_with_their_remaining_ttl),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
