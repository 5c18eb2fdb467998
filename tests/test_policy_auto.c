/* test_policy_auto.c -- the `auto` policy (src/policy/auto.c), black-box:
 * it must keep the contract every policy keeps (removals, byte budgets,
 * allocation failures), end up as good as the best of its candidates on
 * workloads that each favour another candidate, report what it follows
 * (macho_policy_current), and follow a workload shift within a bounded
 * number of requests, in both of its modes (mirror up to 4096 entries per
 * shard, sampled above). */
#include "policy_model.h"

#include <math.h>

/* ---- synthetic workloads ---------------------------------------------------------- */

/* A loop over `len` keys that reverses direction at each end: the most recent
 * keys come back first, which LRU (and ARC) keep and frequency policies do
 * not (every key is equally frequent). */
static uint64_t zigzag_key(uint64_t i, uint64_t len, uint64_t base) {
  uint64_t lap = i / len, pos = i % len;
  return base + (lap & 1 ? len - 1 - pos : pos);
}

/* A hot set of `hot` keys (skewed: the minimum of two draws) interrupted by
 * scans of never-seen keys twice the cache's size: recency alone (LRU)
 * loses the hot set to each scan; W-TinyLFU, S3-FIFO and ARC keep it. */
typedef struct hotscan {
  uint64_t rng, next_new, i, hot, scan, cap;
} hotscan;

static uint64_t hotscan_key(hotscan *w, uint64_t base) {
  uint64_t period = 4 * w->cap + w->scan;
  uint64_t at = w->i++ % period;
  if (at >= 4 * w->cap) return base + w->hot + w->next_new++; /* the scan */
  uint64_t a = test_rand(&w->rng) % w->hot, b = test_rand(&w->rng) % w->hot;
  return base + (a < b ? a : b);
}

static macho_cache *open_cache(macho_policy p, size_t cap, uint32_t shards) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.shards = shards;
  cfg.ttl_seconds = 0;
  cfg.metrics = 0;
  cfg.policy = p;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

enum { NPOL = 5 };
static const macho_policy POLS[NPOL] = {MACHO_POLICY_AUTO, MACHO_POLICY_LRU, MACHO_POLICY_WTINYLFU,
                                        MACHO_POLICY_S3FIFO, MACHO_POLICY_ARC};

/* Misses of each policy of POLS on `n` requests of a workload. */
typedef uint64_t (*next_key)(void *w, uint64_t i);
static void run_all(size_t cap, uint32_t shards, uint64_t n, next_key next, void *const *ws,
                    uint64_t misses[NPOL], macho_policy *auto_follows) {
  for (int p = 0; p < NPOL; p++) {
    macho_cache *c = open_cache(POLS[p], cap, shards);
    misses[p] = 0;
    for (uint64_t i = 0; i < n; i++) misses[p] += !pm_access(c, next(ws[p], i));
    if (p == 0) assert_int_equal(macho_policy_current(c, -1, auto_follows, NULL), MACHO_OK);
    macho_close(c);
  }
}

static uint64_t next_zigzag(void *w, uint64_t i) {
  return zigzag_key(i, *(uint64_t *)w, 1);
}

static uint64_t next_hotscan(void *w, uint64_t i) {
  (void)i;
  return hotscan_key(w, 1);
}

/* auto's misses are within `slack` of the best candidate's, over n requests. */
static void assert_near_best(const char *what, const uint64_t misses[NPOL], uint64_t n, double slack) {
  uint64_t best = misses[1];
  for (int p = 2; p < NPOL; p++)
    if (misses[p] < best) best = misses[p];
  printf("# %s: auto %.4f, lru %.4f, wtinylfu %.4f, s3fifo %.4f, arc %.4f\n", what,
         (double)misses[0] / n, (double)misses[1] / n, (double)misses[2] / n, (double)misses[3] / n,
         (double)misses[4] / n);
  if ((double)misses[0] > (double)best + slack * (double)n)
    fail_msg("%s: auto misses %.4f, best candidate %.4f (slack %.3f)", what, (double)misses[0] / n,
             (double)best / n, slack);
}

static void auto_follows_lru_on_a_zigzag_loop(void **state) {
  (void)state;
  const size_t cap = 300;
  uint64_t len = 450, n = 200000, misses[NPOL];
  void *ws[NPOL] = {&len, &len, &len, &len, &len};
  macho_policy follows;
  run_all(cap, 1, n, next_zigzag, ws, misses, &follows);
  assert_true(misses[1] < misses[2]); /* the workload does favour LRU over W-TinyLFU */
  assert_near_best("zigzag 450 keys, 300 entries", misses, n, 0.01);
  assert_true(follows == MACHO_POLICY_LRU || follows == MACHO_POLICY_ARC);
}

static void auto_keeps_a_hot_set_through_scans(void **state) {
  (void)state;
  const size_t cap = 400;
  uint64_t n = 200000, misses[NPOL];
  hotscan w[NPOL];
  void *ws[NPOL];
  for (int p = 0; p < NPOL; p++) {
    w[p] = (hotscan){.rng = 42, .hot = 300, .scan = 2 * cap, .cap = cap};
    ws[p] = &w[p];
  }
  macho_policy follows;
  run_all(cap, 1, n, next_hotscan, ws, misses, &follows);
  assert_true(misses[2] < misses[1]); /* the workload does favour W-TinyLFU over LRU */
  assert_near_best("hot set and scans, 400 entries", misses, n, 0.01);
  assert_true(follows != MACHO_POLICY_LRU);
}

/* Requests after a shift from the hot set with scans to the zigzag loop until
 * auto follows LRU or ARC (the two that win the loop), on a cache of `cap`
 * entries in `shards` shards. */
static uint64_t requests_to_follow_a_shift(size_t cap, uint32_t shards, uint64_t phase) {
  macho_cache *c = open_cache(MACHO_POLICY_AUTO, cap, shards);
  hotscan w = {.rng = 7, .hot = cap * 3 / 4, .scan = 2 * cap, .cap = cap / shards};
  for (uint64_t i = 0; i < phase; i++) pm_access(c, hotscan_key(&w, 1));
  macho_policy p;
  assert_int_equal(macho_policy_current(c, -1, &p, NULL), MACHO_OK);
  if (p == MACHO_POLICY_LRU) fail_msg("auto follows lru on the hot set with scans");
  uint64_t len = cap + cap / 2, after = 0;
  for (; after < phase; after++) {
    pm_access(c, zigzag_key(after, len, 1ull << 40));
    if ((after & 63) == 0) {
      assert_int_equal(macho_policy_current(c, -1, &p, NULL), MACHO_OK);
      if (p == MACHO_POLICY_LRU || p == MACHO_POLICY_ARC) break;
    }
  }
  macho_close(c);
  return after;
}

/* docs/POLICIES.md: auto follows a shift within 20 capacities of requests
 * when the new winner is far ahead (here LRU misses ~0.35 on the loop, the
 * frequency policies ~1.0). */
static void auto_follows_a_workload_shift_in_mirror_mode(void **state) {
  (void)state;
  const size_t cap = 500;
  uint64_t after = requests_to_follow_a_shift(cap, 1, 40 * cap);
  printf("# mirror mode (%zu entries): followed the shift after %llu requests (%.1f capacities)\n", cap,
         (unsigned long long)after, (double)after / cap);
  assert_true(after <= 20 * cap);
}

static void auto_follows_a_workload_shift_in_sampled_mode(void **state) {
  (void)state;
  const size_t cap = 20000;
  uint64_t after = requests_to_follow_a_shift(cap, 1, test_scale(40 * cap, 4));
  printf("# sampled mode (%zu entries): followed the shift after %llu requests (%.1f capacities)\n", cap,
         (unsigned long long)after, (double)after / cap);
  if (!test_sanitized()) assert_true(after <= 20 * cap);
}

static void auto_follows_per_shard(void **state) {
  (void)state;
  const size_t cap = 2000;
  uint64_t after = requests_to_follow_a_shift(cap, 4, 40 * cap);
  printf("# 4 shards of %zu entries: followed the shift after %llu requests (%.1f capacities)\n", cap / 4,
         (unsigned long long)after, (double)after / cap);
  assert_true(after <= 20 * cap);
}

static void policy_current_reports_the_configured_policy_and_rejects_bad_arguments(void **state) {
  (void)state;
  macho_cache *c = open_cache(MACHO_POLICY_SIEVE, 100, 2);
  macho_policy p = MACHO_POLICY_COUNT;
  uint64_t changes = 99;
  assert_int_equal(macho_policy_current(c, -1, &p, &changes), MACHO_OK);
  assert_int_equal(p, MACHO_POLICY_SIEVE);
  assert_int_equal(changes, 0);
  assert_int_equal(macho_policy_current(c, 1, &p, NULL), MACHO_OK);
  assert_int_equal(macho_policy_current(c, 0, NULL, NULL), MACHO_OK);
  assert_int_equal(macho_policy_current(c, 2, &p, NULL), MACHO_EINVAL);
  assert_int_equal(macho_policy_current(c, -2, &p, NULL), MACHO_EINVAL);
  assert_int_equal(macho_policy_current(NULL, -1, &p, NULL), MACHO_EINVAL);
  macho_close(c);
  c = open_cache(MACHO_POLICY_AUTO, 100, 1);
  assert_int_equal(macho_policy_current(c, 0, &p, &changes), MACHO_OK);
  assert_int_equal(p, MACHO_POLICY_WTINYLFU); /* where auto starts */
  assert_int_equal(changes, 0);
  macho_close(c);
}

static void auto_is_reproducible(void **state) {
  (void)state;
  uint64_t misses[2];
  for (int run = 0; run < 2; run++) {
    macho_cache *c = open_cache(MACHO_POLICY_AUTO, 700, 1);
    hotscan w = {.rng = 3, .hot = 500, .scan = 1400, .cap = 700};
    misses[run] = 0;
    for (uint64_t i = 0; i < 60000; i++) {
      uint64_t k = i % 3 ? hotscan_key(&w, 1) : zigzag_key(i, 900, 1ull << 40);
      misses[run] += !pm_access(c, k);
    }
    macho_close(c);
  }
  assert_int_equal(misses[0], misses[1]);
}

static void auto_survives_deletes_expiry_and_clear(void **state) {
  (void)state;
  pm_run_removals(MACHO_POLICY_AUTO);
}

static void auto_evicts_under_a_byte_budget(void **state) {
  (void)state;
  pm_run_byte_budget(MACHO_POLICY_AUTO);
}

static void auto_open_fails_cleanly_when_memory_runs_out(void **state) {
  (void)state;
  pm_run_open_oom(MACHO_POLICY_AUTO);
}

/* Switches allocate (the sampled mode's new policy, both modes' sort); a
 * failure there keeps the current policy and loses nothing. */
static void auto_keeps_working_when_a_switch_cannot_allocate(void **state) {
  (void)state;
  const size_t caps[] = {500, 9000};
  for (int k = 0; k < 2; k++) {
    test_alloc ta = {0};
    macho_allocator hooks = test_alloc_hooks(&ta);
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.capacity_entries = caps[k];
    cfg.ttl_seconds = 0;
    cfg.policy = MACHO_POLICY_AUTO;
    cfg.allocator = &hooks;
    macho_cache *c = NULL;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    hotscan w = {.rng = 11, .hot = caps[k] * 3 / 4, .scan = 2 * caps[k], .cap = caps[k]};
    for (uint64_t i = 0; i < 30 * caps[k]; i++) pm_access(c, hotscan_key(&w, 1));
    /* From now on every allocation fails, puts of new keys included (their
     * payloads): gets and hits go on, and whatever auto decides, nothing breaks. */
    macho_policy before, during;
    uint64_t changes_before, changes_during;
    assert_int_equal(macho_policy_current(c, 0, &before, &changes_before), MACHO_OK);
    ta.fail_at = ta.calls + 1;
    ta.fail_all_after = 1;
    uint64_t len = caps[k] + caps[k] / 2;
    for (uint64_t i = 0; i < 30 * caps[k]; i++) {
      uint64_t key = zigzag_key(i, len, 1ull << 40);
      if (!pm_get(c, key)) {
        int rc = macho_put(c, &key, 8, &key, 8);
        assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
      }
      assert_true(macho_len(c) <= caps[k]);
    }
    assert_int_equal(macho_policy_current(c, 0, &during, &changes_during), MACHO_OK);
    if (k == 0) { /* mirror mode switches without the sort's memory (stale list in id order) */
      assert_true(changes_during > changes_before);
    } else { /* sampled mode cannot build the new policy: it stays */
      assert_int_equal(during, before);
      assert_int_equal(changes_during, changes_before);
    }
    ta.fail_at = 0;
    ta.fail_all_after = 0;
    for (uint64_t i = 0; i < 5 * caps[k]; i++) pm_access(c, zigzag_key(i, len, 1ull << 41));
    assert_true(macho_len(c) <= caps[k]);
    macho_close(c);
    assert_int_equal(ta.live_blocks, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(policy_current_reports_the_configured_policy_and_rejects_bad_arguments),
      cmocka_unit_test(auto_follows_lru_on_a_zigzag_loop),
      cmocka_unit_test(auto_keeps_a_hot_set_through_scans),
      cmocka_unit_test(auto_follows_a_workload_shift_in_mirror_mode),
      cmocka_unit_test(auto_follows_a_workload_shift_in_sampled_mode),
      cmocka_unit_test(auto_follows_per_shard),
      cmocka_unit_test(auto_is_reproducible),
      cmocka_unit_test(auto_survives_deletes_expiry_and_clear),
      cmocka_unit_test(auto_evicts_under_a_byte_budget),
      cmocka_unit_test(auto_open_fails_cleanly_when_memory_runs_out),
      cmocka_unit_test(auto_keeps_working_when_a_switch_cannot_allocate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
