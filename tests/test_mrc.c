/* test_mrc.c -- the live miss-ratio curve (src/mrc.c) through the public API:
 * off by default, validated, exact for small caches (every key simulated),
 * pooled over shards, reset and clear, counted in memory, in the stats
 * snapshot, and clean when allocation fails. Accuracy on the shared traces
 * is test_sim_mrc.c's. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static macho_cache *open_mrc(macho_policy p, size_t cap, uint32_t shards, int mrc) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.shards = shards;
  cfg.ttl_seconds = 0;
  cfg.policy = p;
  cfg.mrc = mrc;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static int access_key(macho_cache *c, uint64_t k) {
  char v[16];
  if (macho_get(c, &k, 8, v, sizeof v, NULL) == MACHO_OK) return 1;
  assert_int_equal(macho_put(c, &k, 8, "v", 1), MACHO_OK);
  return 0;
}

/* Skewed keys over a universe: the minimum of two uniform draws. */
static uint64_t skewed(uint64_t *rng, uint64_t universe) {
  uint64_t a = test_rand(rng) % universe, b = test_rand(rng) % universe;
  return 1 + (a < b ? a : b);
}

static void the_curve_is_off_by_default_and_says_so(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  assert_int_equal(cfg.mrc, 0);
  macho_cache *c = open_mrc(MACHO_POLICY_LRU, 100, 1, 0);
  macho_mrc m;
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_ENOTSUP);
  assert_int_equal(macho_mrc_reset(c), MACHO_ENOTSUP);
  macho_stats *s = NULL;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  assert_int_equal(s->has_mrc, 0);
  macho_stats_free(s);
  macho_close(c);
}

static void bad_arguments_and_configs_are_refused(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  const char *why = NULL;
  cfg.mrc = 2;
  assert_int_equal(macho_config_check(&cfg, &why), MACHO_EINVAL);
  assert_non_null(strstr(why, "mrc"));
  cfg.mrc = -1;
  assert_int_equal(macho_config_check(&cfg, NULL), MACHO_EINVAL);
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_EINVAL);
  assert_null(c);
  c = open_mrc(MACHO_POLICY_LRU, 100, 2, 1);
  macho_mrc m;
  assert_int_equal(macho_mrc_get(NULL, -1, &m), MACHO_EINVAL);
  assert_int_equal(macho_mrc_get(c, -1, NULL), MACHO_EINVAL);
  assert_int_equal(macho_mrc_get(c, 2, &m), MACHO_EINVAL);
  assert_int_equal(macho_mrc_get(c, -2, &m), MACHO_EINVAL);
  assert_int_equal(macho_mrc_reset(NULL), MACHO_EINVAL);
  /* Before any get: no estimate yet. */
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
  assert_int_equal(m.gets, 0);
  for (int i = 0; i < MACHO_MRC_POINTS; i++) assert_true(isnan(m.miss_ratio[i]));
  macho_close(c);
}

/* A cache of 200 entries is simulated at full rate: the curve at each
 * multiple is exactly the miss ratio of a real cache of that size. */
static void a_small_cache_gets_the_exact_curve(void **state) {
  (void)state;
  const macho_policy pols[] = {MACHO_POLICY_LRU, MACHO_POLICY_S3FIFO, MACHO_POLICY_ARC, MACHO_POLICY_SIEVE};
  for (size_t p = 0; p < sizeof pols / sizeof pols[0]; p++) {
    macho_cache *c = open_mrc(pols[p], 200, 1, 1);
    macho_cache *real[MACHO_MRC_POINTS];
    static const size_t sizes[MACHO_MRC_POINTS] = {50, 100, 200, 400, 800, 1600};
    uint64_t misses[MACHO_MRC_POINTS] = {0};
    for (int i = 0; i < MACHO_MRC_POINTS; i++) real[i] = open_mrc(pols[p], sizes[i], 1, 0);
    uint64_t rng = test_seed() + p, n = 30000;
    for (uint64_t r = 0; r < n; r++) {
      uint64_t k = skewed(&rng, 3000);
      access_key(c, k);
      for (int i = 0; i < MACHO_MRC_POINTS; i++) misses[i] += !access_key(real[i], k);
    }
    macho_mrc m;
    assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
    assert_int_equal(m.gets, n);
    assert_int_equal(m.sampled_gets, n);
    assert_true(m.sample_rate == 1.0);
    for (int i = 0; i < MACHO_MRC_POINTS; i++) {
      assert_int_equal(m.entries[i], sizes[i]);
      double want = (double)misses[i] / (double)n;
      if (fabs(m.miss_ratio[i] - want) > 1e-12)
        fail_msg("%s at %zu: curve %.6f, real cache %.6f", macho_policy_name(pols[p]), sizes[i], m.miss_ratio[i],
                 want);
      macho_close(real[i]);
    }
    /* And the 1x point is the cache's own miss ratio. */
    macho_counters ct = test_counters(c);
    assert_true(fabs(m.miss_ratio[2] - (double)ct.misses / (double)ct.gets) < 1e-12);
    macho_close(c);
  }
}

/* Shards split the sample: the pooled curve of 4 shards is close to the
 * curve of a 1-shard cache of the same total size. */
static void the_shards_curves_pool_into_the_caches(void **state) {
  (void)state;
  macho_cache *one = open_mrc(MACHO_POLICY_LRU, 20000, 1, 1), *four = open_mrc(MACHO_POLICY_LRU, 20000, 4, 1);
  uint64_t rng = test_seed() + 99;
  for (uint64_t r = 0; r < test_scale(400000, 8); r++) {
    uint64_t k = skewed(&rng, 200000);
    access_key(one, k);
    access_key(four, k);
  }
  macho_mrc a, b, s0;
  assert_int_equal(macho_mrc_get(one, -1, &a), MACHO_OK);
  assert_int_equal(macho_mrc_get(four, -1, &b), MACHO_OK);
  assert_int_equal(macho_mrc_get(four, 0, &s0), MACHO_OK);
  assert_true(a.sample_rate < 1 && b.sample_rate < 1);
  assert_true(s0.entries[2] == 5000 && b.entries[2] == 20000);
  assert_true(s0.gets < b.gets);
  for (int i = 0; i < MACHO_MRC_POINTS; i++) {
    printf("# x%g: 1 shard %.4f, 4 shards %.4f\n", a.multiple[i], a.miss_ratio[i], b.miss_ratio[i]);
    assert_true(fabs(a.miss_ratio[i] - b.miss_ratio[i]) < 0.03);
    assert_true(i == 0 || b.miss_ratio[i] <= b.miss_ratio[i - 1] + 0.01); /* LRU: larger never worse */
  }
  macho_close(one);
  macho_close(four);
}

static void reset_restarts_the_counts_and_clear_empties_the_simulations(void **state) {
  (void)state;
  macho_cache *c = open_mrc(MACHO_POLICY_LRU, 100, 1, 1);
  for (uint64_t k = 1; k <= 50; k++) access_key(c, k);
  assert_int_equal(macho_mrc_reset(c), MACHO_OK);
  macho_mrc m;
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
  assert_int_equal(m.gets, 0);
  assert_true(isnan(m.miss_ratio[0]));
  /* The simulations kept their contents: the same 50 keys hit at 1x and above. */
  for (uint64_t k = 1; k <= 50; k++) access_key(c, k);
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
  assert_int_equal(m.gets, 50);
  for (int i = 1; i < MACHO_MRC_POINTS; i++) assert_true(m.miss_ratio[i] == 0.0);
  /* A clear empties them like the cache: the keys miss everywhere again. */
  assert_int_equal(macho_clear(c), MACHO_OK);
  assert_int_equal(macho_mrc_reset(c), MACHO_OK);
  for (uint64_t k = 1; k <= 50; k++) access_key(c, k);
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
  for (int i = 0; i < MACHO_MRC_POINTS; i++) assert_true(m.miss_ratio[i] == 1.0);
  macho_close(c);
}

static void the_curve_is_counted_in_memory_and_in_the_snapshot(void **state) {
  (void)state;
  macho_cache *off = open_mrc(MACHO_POLICY_S3FIFO, 5000, 2, 0), *on = open_mrc(MACHO_POLICY_S3FIFO, 5000, 2, 1);
  for (uint64_t k = 0; k < 20000; k++) {
    access_key(off, k % 7000);
    access_key(on, k % 7000);
  }
  macho_mrc m;
  assert_int_equal(macho_mrc_get(on, -1, &m), MACHO_OK);
  assert_true(m.memory_bytes > 0);
  macho_counters a = test_counters(off), b = test_counters(on);
  /* The curve's allocations show in memory_bytes (within 1%: a cache with
   * the curve reads under the lock and has no read buffers). */
  double extra = (double)b.memory_bytes - (double)a.memory_bytes;
  printf("# curve %llu bytes, memory_bytes %llu with it, %llu without\n", (unsigned long long)m.memory_bytes,
         (unsigned long long)b.memory_bytes, (unsigned long long)a.memory_bytes);
  assert_true(fabs(extra - (double)m.memory_bytes) < 0.01 * (double)m.memory_bytes);
  assert_true(m.memory_bytes > 16u * 3000u * 24u); /* ~16 x 3000 simulated slots of 24 bytes at least */
  macho_stats *s = NULL;
  assert_int_equal(macho_stats_get(on, -1, &s), MACHO_OK);
  assert_int_equal(s->has_mrc, 1);
  assert_int_equal(s->mrc.gets, m.gets);
  for (int i = 0; i < MACHO_MRC_POINTS; i++) assert_true(s->mrc.miss_ratio[i] == m.miss_ratio[i]);
  macho_stats_free(s);
  macho_close(off);
  macho_close(on);
}

/* Object mode feeds the curve with the mixed object hash. */
static int obj_hash(void *ctx, const void *o, uint64_t *out) {
  (void)ctx;
  *out = (uint64_t)(uintptr_t)o;
  return 0;
}
static int obj_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return a == b;
}
static void obj_nop(void *ctx, void *o) {
  (void)ctx;
  (void)o;
}

static void object_mode_feeds_the_curve_too(void **state) {
  (void)state;
  macho_object_ops ops = {0};
  ops.hash = obj_hash;
  ops.equal = obj_equal;
  ops.retain = obj_nop;
  ops.release = obj_nop;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 64;
  cfg.ttl_seconds = 0;
  cfg.object_ops = &ops;
  cfg.mrc = 1;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  for (uintptr_t k = 1; k <= 1000; k++) {
    void *v;
    void *key = (void *)(k % 100 + 1);
    if (macho_obj_get(c, key, &v) != MACHO_OK) assert_int_equal(macho_obj_put(c, key, key), MACHO_OK);
  }
  macho_mrc m;
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
  assert_int_equal(m.gets, 1000);
  assert_true(m.miss_ratio[5] <= 0.1 + 1e-9); /* 8 x 64 entries hold all 100 keys: compulsory misses only */
  macho_close(c);
}

static void open_fails_cleanly_when_the_curve_cannot_allocate(void **state) {
  (void)state;
  for (uint64_t n = 1;; n++) {
    test_alloc ta = {0};
    ta.fail_at = n;
    macho_allocator hooks = test_alloc_hooks(&ta);
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.capacity_entries = 3000;
    cfg.shards = 2;
    cfg.mrc = 1;
    cfg.allocator = &hooks;
    macho_cache *c = NULL;
    int rc = macho_open(&cfg, &c);
    if (rc == MACHO_OK) {
      ta.fail_at = 0;
      for (uint64_t k = 0; k < 5000; k++) access_key(c, k % 3500);
      macho_close(c);
      assert_int_equal(ta.live_blocks, 0);
      assert_true(n > 10); /* the curve's allocations were among those failed */
      return;
    }
    assert_int_equal(rc, MACHO_ENOMEM);
    assert_null(c);
    assert_int_equal(ta.live_blocks, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_curve_is_off_by_default_and_says_so),
      cmocka_unit_test(bad_arguments_and_configs_are_refused),
      cmocka_unit_test(a_small_cache_gets_the_exact_curve),
      cmocka_unit_test(the_shards_curves_pool_into_the_caches),
      cmocka_unit_test(reset_restarts_the_counts_and_clear_empties_the_simulations),
      cmocka_unit_test(the_curve_is_counted_in_memory_and_in_the_snapshot),
      cmocka_unit_test(object_mode_feeds_the_curve_too),
      cmocka_unit_test(open_fails_cleanly_when_the_curve_cannot_allocate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
