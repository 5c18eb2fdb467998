/* test_metrics.c -- counters, latency and lifespan distributions, the recent
 * window and the snapshot API (macho_stats_get / _free / _reset). Time comes
 * from an injected clock, so every figure checked here is exact. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A clock that counts how often it is read. */
typedef struct counting_clock {
  uint64_t now_ns, reads;
} counting_clock;
static uint64_t counting_clock_fn(void *ctx) {
  counting_clock *k = ctx;
  k->reads++;
  return k->now_ns;
}

static macho_cache *open_cache(size_t cap, uint32_t shards, int metrics, double ttl, void *clock_ctx,
                               macho_clock_fn fn) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.shards = shards;
  cfg.metrics = metrics;
  cfg.ttl_seconds = ttl;
  cfg.clock = fn;
  cfg.clock_ctx = clock_ctx;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static void put_u64(macho_cache *c, uint64_t k) {
  assert_int_equal(macho_put(c, &k, sizeof k, &k, sizeof k), MACHO_OK);
}
static int get_u64(macho_cache *c, uint64_t k) {
  uint64_t v;
  return macho_get(c, &k, sizeof k, &v, sizeof v, NULL);
}

static void known_sequence_gives_exact_counts(void **state) {
  (void)state;
  test_clock clk = {1000};
  macho_cache *c = open_cache(3, 1, 1, 0, &clk, test_clock_fn);
  for (uint64_t k = 0; k < 5; k++) put_u64(c, k);       /* 5 puts, 2 evictions (0, 1) */
  for (uint64_t k = 0; k < 5; k++) (void)get_u64(c, k); /* misses 0,1; hits 2,3,4 */
  assert_int_equal(macho_delete(c, &(uint64_t){4}, 8), MACHO_OK);
  macho_stats *s = NULL;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  assert_int_equal(s->version, MACHO_STATS_VERSION);
  assert_int_equal(s->shard, -1);
  assert_int_equal(s->counters.puts, 5);
  assert_int_equal(s->counters.gets, 5);
  assert_int_equal(s->counters.hits, 3);
  assert_int_equal(s->counters.misses, 2);
  assert_int_equal(s->counters.requests, 10);
  assert_int_equal(s->counters.evictions, 2);
  assert_int_equal(s->counters.deletes, 1);
  assert_int_equal(s->counters.entries, 2);
  assert_int_equal(s->counters.capacity_entries, 3);
  assert_int_equal(s->lifespan_ns[MACHO_REMOVED_EVICTED].count, 2);
  assert_int_equal(s->lifespan_ns[MACHO_REMOVED_DELETED].count, 1);
  assert_int_equal(s->lifespan_ns[MACHO_REMOVED_REPLACED].count, 0);
  macho_stats_free(s);
  macho_close(c);
}

static void every_operation_is_timed_when_metrics_is_two(void **state) {
  (void)state;
  test_clock clk = {7500000000ull}; /* 7.5 s */
  macho_cache *c = open_cache(100, 2, 2, 0, &clk, test_clock_fn);
  for (uint64_t k = 0; k < 40; k++) put_u64(c, k);
  for (uint64_t k = 0; k < 70; k++) (void)get_u64(c, k);
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  assert_int_equal(s->latency_sample_every, 1);
  assert_int_equal(s->put_latency_ns.count, 40);
  assert_int_equal(s->get_latency_ns.count, 70);
  assert_int_equal(s->get_latency_ns.max, 0); /* the clock stood still */
  /* one second in the window, holding every sample */
  assert_int_equal(s->nwindow, 1);
  assert_int_equal(s->window[0].second, 7);
  assert_int_equal(s->window[0].get_samples, 70);
  assert_int_equal(s->window[0].put_samples, 40);
  macho_stats_free(s);
  macho_close(c);
}

static void sampled_timing_times_one_call_in_sample_every(void **state) {
  (void)state;
  test_clock clk = {1};
  enum { N = 100 * MACHO_LATENCY_SAMPLE_EVERY };
  macho_cache *c = open_cache(N, 1, 1, 0, &clk, test_clock_fn);
  for (uint64_t k = 0; k < N; k++) put_u64(c, k);
  for (uint64_t k = 0; k < N; k++) (void)get_u64(c, k);
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, 0, &s), MACHO_OK);
  assert_int_equal(s->latency_sample_every, MACHO_LATENCY_SAMPLE_EVERY);
  /* The first MACHO_LATENCY_SAMPLE_EVERY calls of each op are all timed (the
   * warm-up), then 1 in MACHO_LATENCY_SAMPLE_EVERY: 64 + 99 per op. The
   * per-thread tick carries over from earlier tests: +-1 at each end. */
  uint64_t timed = s->get_latency_ns.count + s->put_latency_ns.count;
  assert_true(timed >= 325 && timed <= 327);
  assert_true(s->put_latency_ns.count >= 162 && s->put_latency_ns.count <= 164);
  assert_true(s->get_latency_ns.count >= 162 && s->get_latency_ns.count <= 164);
  macho_stats_free(s);
  macho_close(c);
}

static void a_new_cache_times_every_call_until_it_has_enough_samples(void **state) {
  (void)state;
  test_clock clk = {1};
  macho_cache *c = open_cache(100, 1, 1, 0, &clk, test_clock_fn);
  for (int round = 0; round < 2; round++) { /* a reset starts the warm-up again */
    for (uint64_t k = 0; k < 5; k++) put_u64(c, k);
    (void)get_u64(c, 1);
    (void)get_u64(c, 9);
    macho_stats *s;
    assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
    assert_int_equal(s->put_latency_ns.count, 5);
    assert_int_equal(s->get_latency_ns.count, 2);
    macho_stats_free(s);
    assert_int_equal(macho_stats_reset(c), MACHO_OK);
  }
  macho_close(c);
}

/* On the default clocks, births and deletions are stamped with the precise
 * clock when metrics are on: an entry deleted right after its put has a
 * lifespan above zero, where the coarse clock (a 4 ms tick here) gives 0.
 * Nothing here depends on how long anything takes, only on time moving
 * forward between two calls. */
static void lifespans_resolve_below_the_coarse_tick_on_the_default_clock(void **state) {
  (void)state;
  macho_cache *c = open_cache(100, 1, 1, 0, NULL, NULL);
  for (uint64_t k = 0; k < 10; k++) {
    put_u64(c, k);
    assert_int_equal(macho_delete(c, &k, sizeof k), MACHO_OK);
  }
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  const macho_distribution *d = &s->lifespan_ns[MACHO_REMOVED_DELETED];
  assert_int_equal(d->count, 10);
  assert_true(d->min > 0);
  macho_stats_free(s);
  macho_close(c);
}

static void metrics_off_reads_no_clock_on_gets(void **state) {
  (void)state;
  counting_clock clk = {5, 0};
  macho_cache *off = open_cache(100, 1, 0, 0, &clk, counting_clock_fn);
  put_u64(off, 1);
  clk.reads = 0;
  for (int i = 0; i < 100; i++) (void)get_u64(off, (uint64_t)(i % 2));
  assert_int_equal(clk.reads, 0);
  macho_stats *s;
  assert_int_equal(macho_stats_get(off, -1, &s), MACHO_OK);
  assert_int_equal(s->metrics, 0);
  assert_int_equal(s->latency_sample_every, 0);
  assert_int_equal(s->get_latency_ns.count, 0);
  assert_int_equal(s->counters.gets, 100);
  macho_stats_free(s);
  macho_close(off);

  macho_cache *on = open_cache(100, 1, 2, 0, &clk, counting_clock_fn);
  put_u64(on, 1);
  clk.reads = 0;
  for (int i = 0; i < 100; i++) (void)get_u64(on, (uint64_t)(i % 2));
  assert_int_equal(clk.reads, 200); /* start and end of each get */
  macho_close(on);
}

/* Entry times are kept in ticks of 100 us: a lifespan is exact to within
 * one tick (and exact when the clock moves in whole ticks). */
#define TICK 100000u
#define assert_near(a, b) assert_true((uint64_t)(a) + TICK >= (uint64_t)(b) && (uint64_t)(a) <= (uint64_t)(b) + TICK)

static void lifespans_are_recorded_by_reason(void **state) {
  (void)state;
  test_clock clk = {0};
  const uint64_t S = 1000000000ull;
  macho_cache *c = open_cache(2, 1, 1, 0, &clk, test_clock_fn);
  clk.now_ns = 1 * S;
  put_u64(c, 1);
  clk.now_ns = 2 * S;
  put_u64(c, 2);
  clk.now_ns = 4 * S;
  put_u64(c, 3); /* evicts 1 (LRU), lived 3 s */
  clk.now_ns = 9 * S;
  assert_int_equal(macho_delete(c, &(uint64_t){2}, 8), MACHO_OK); /* lived 7 s */
  assert_int_equal(macho_put_ttl(c, &(uint64_t){4}, 8, "x", 1, 1.0), MACHO_OK);
  put_u64(c, 3); /* a replace: the entry born at 4 s lives on */
  clk.now_ns = 12 * S;
  assert_int_equal(get_u64(c, 4), MACHO_ENOTFOUND); /* expired, lived 3 s */
  clk.now_ns = 20 * S;
  assert_int_equal(macho_clear(c), MACHO_OK); /* key 3 lived 16 s */
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  const macho_distribution *ev = &s->lifespan_ns[MACHO_REMOVED_EVICTED];
  const macho_distribution *de = &s->lifespan_ns[MACHO_REMOVED_DELETED];
  const macho_distribution *ex = &s->lifespan_ns[MACHO_REMOVED_EXPIRED];
  const macho_distribution *cl = &s->lifespan_ns[MACHO_REMOVED_CLEARED];
  assert_int_equal(ev->count, 1);
  assert_int_equal(ev->min, 3 * S);
  assert_int_equal(ev->max, 3 * S);
  assert_int_equal(de->count, 1);
  assert_int_equal(de->sum, 7 * S);
  assert_int_equal(ex->count, 1);
  assert_int_equal(ex->min, 3 * S);
  assert_int_equal(cl->count, 1);
  assert_int_equal(cl->max, 16 * S);
  assert_true(cl->mean == (double)(16 * S));
  /* the median is reported within 1% and inside [min, max] */
  assert_int_equal(cl->p50, 16 * S);
  assert_int_equal(cl->nbuckets, 1);
  assert_true(cl->buckets[0].lo <= 16 * S && 16 * S <= cl->buckets[0].hi);
  assert_int_equal(cl->buckets[0].count, 1);
  assert_int_equal(s->lifespan_ns[MACHO_REMOVED_REPLACED].count, 0);
  assert_int_equal(s->counters.expirations, 1);
  macho_stats_free(s);
  macho_close(c);
}

static void lifespan_percentiles_track_the_exact_ones(void **state) {
  (void)state;
  test_clock clk = {0};
  uint64_t seed = test_seed();
  enum { N = 2000 };
  static uint64_t life[N];
  macho_cache *c = open_cache(N, 1, 1, 0, &clk, test_clock_fn);
  for (uint64_t k = 0; k < N; k++) {
    life[k] = 1000 + test_rand(&seed) % 50000000;
    clk.now_ns = 100000000000ull - life[k]; /* born so that it dies at 100 s */
    put_u64(c, k);
  }
  clk.now_ns = 100000000000ull;
  for (uint64_t k = 0; k < N; k++) assert_int_equal(macho_delete(c, &k, sizeof k), MACHO_OK);
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  const macho_distribution *d = &s->lifespan_ns[MACHO_REMOVED_DELETED];
  /* sort the exact lifespans */
  for (int i = 1; i < N; i++)
    for (int j = i; j > 0 && life[j - 1] > life[j]; j--) {
      uint64_t t = life[j];
      life[j] = life[j - 1];
      life[j - 1] = t;
    }
  const double q[] = {0.5, 0.9, 0.99, 0.999};
  const uint64_t got[] = {d->p50, d->p90, d->p99, d->p999};
  for (int i = 0; i < 4; i++) {
    uint64_t want = life[(size_t)(q[i] * N + 0.999999) - 1];
    double err = ((double)got[i] - (double)want) / (double)want;
    if (err < 0) err = -err;
    if (err > 0.01) err = fabs((double)got[i] - (double)want) <= TICK + 0.01 * want ? 0 : err;
    if (err > 0.01) fprintf(stderr, "q=%g want %llu got %llu\n", q[i], (unsigned long long)want,
                            (unsigned long long)got[i]);
    assert_true(err <= 0.01);
    assert_int_equal(macho_distribution_quantile(d, q[i]), got[i]);
  }
  assert_near(d->min, life[0]);
  assert_near(d->max, life[N - 1]);
  uint64_t total = 0;
  for (uint32_t i = 0; i < d->nbuckets; i++) total += d->buckets[i].count;
  assert_int_equal(total, N);
  macho_stats_free(s);
  macho_close(c);
}

static void shard_snapshots_add_up_to_the_total(void **state) {
  (void)state;
  test_clock clk = {3};
  macho_cache *c = open_cache(64, 4, 2, 0, &clk, test_clock_fn);
  for (uint64_t k = 0; k < 300; k++) {
    put_u64(c, k % 97);
    (void)get_u64(c, (k * 7) % 113);
  }
  macho_stats *all;
  assert_int_equal(macho_stats_get(c, -1, &all), MACHO_OK);
  uint64_t hits = 0, ev = 0, gl = 0, life = 0, mem = 0;
  for (int i = 0; i < 4; i++) {
    macho_stats *s;
    assert_int_equal(macho_stats_get(c, i, &s), MACHO_OK);
    assert_int_equal(s->shard, i);
    hits += s->counters.hits;
    ev += s->counters.evictions;
    gl += s->get_latency_ns.count;
    life += s->lifespan_ns[MACHO_REMOVED_EVICTED].count;
    mem += s->counters.memory_bytes;
    macho_stats_free(s);
  }
  assert_int_equal(hits, all->counters.hits);
  assert_int_equal(ev, all->counters.evictions);
  assert_int_equal(gl, all->get_latency_ns.count);
  assert_int_equal(gl, 300);
  assert_int_equal(life, all->lifespan_ns[MACHO_REMOVED_EVICTED].count);
  assert_int_equal(life, ev);
  assert_true(all->counters.memory_bytes > mem);
  macho_counters cn;
  assert_int_equal(macho_counters_get(c, -1, &cn), MACHO_OK);
  assert_memory_equal(&cn, &all->counters, sizeof cn);
  macho_stats_free(all);
  macho_close(c);
}

static void reset_zeroes_counters_and_distributions_but_keeps_entries(void **state) {
  (void)state;
  test_clock clk = {3};
  macho_cache *c = open_cache(10, 1, 2, 0, &clk, test_clock_fn);
  for (uint64_t k = 0; k < 20; k++) put_u64(c, k);
  (void)get_u64(c, 19);
  assert_int_equal(macho_stats_reset(c), MACHO_OK);
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  assert_int_equal(s->counters.puts, 0);
  assert_int_equal(s->counters.hits, 0);
  assert_int_equal(s->counters.evictions, 0);
  assert_int_equal(s->counters.entries, 10);
  assert_int_equal(s->get_latency_ns.count, 0);
  assert_int_equal(s->lifespan_ns[MACHO_REMOVED_EVICTED].count, 0);
  assert_int_equal(s->nwindow, 0);
  macho_stats_free(s);
  assert_int_equal(get_u64(c, 19), MACHO_OK);
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  assert_int_equal(s->counters.hits, 1);
  assert_int_equal(s->get_latency_ns.count, 1);
  macho_stats_free(s);
  macho_close(c);
}

static void window_keeps_the_last_sixty_seconds_oldest_first(void **state) {
  (void)state;
  test_clock clk = {0};
  const uint64_t S = 1000000000ull;
  macho_cache *c = open_cache(10, 1, 2, 0, &clk, test_clock_fn);
  put_u64(c, 1);
  for (uint64_t sec = 0; sec < 100; sec++) {
    clk.now_ns = sec * S + S / 2;
    for (uint64_t i = 0; i <= sec % 3; i++) (void)get_u64(c, 1);
  }
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  assert_int_equal(s->nwindow, MACHO_STATS_WINDOW_SECONDS);
  for (uint32_t i = 0; i < s->nwindow; i++) {
    assert_int_equal(s->window[i].second, 40 + i);
    assert_int_equal(s->window[i].get_samples, (40 + i) % 3 + 1);
    assert_int_equal(s->window[i].put_samples, 0);
  }
  macho_stats_free(s);
  macho_close(c);
}

static void metrics_memory_counts_in_memory_bytes_once_a_shard_records(void **state) {
  (void)state;
  macho_cache *off = open_cache(100, 2, 0, 0, NULL, NULL);
  macho_cache *on = open_cache(100, 2, 2, 0, NULL, NULL);
  macho_counters a, b;
  assert_int_equal(macho_counters_get(off, -1, &a), MACHO_OK);
  assert_int_equal(macho_counters_get(on, -1, &b), MACHO_OK);
  assert_int_equal(b.memory_bytes, a.memory_bytes); /* nothing recorded yet */
  put_u64(off, 1);
  put_u64(on, 1);
  assert_int_equal(macho_counters_get(off, -1, &a), MACHO_OK);
  assert_int_equal(macho_counters_get(on, -1, &b), MACHO_OK);
  assert_true(b.memory_bytes > a.memory_bytes + 64 * 1024);
  assert_true(b.memory_bytes < a.memory_bytes + 2 * 64 * 1024 + 64 * 1024); /* only the busy shard */
  macho_close(off);
  macho_close(on);
}

static void many_idle_shards_cost_no_metrics_memory(void **state) {
  (void)state;
  macho_cache *off = open_cache(65536, 65536, 0, 0, NULL, NULL);
  macho_cache *on = open_cache(65536, 65536, 1, 0, NULL, NULL);
  macho_counters a, b;
  assert_int_equal(macho_counters_get(off, -1, &a), MACHO_OK);
  assert_int_equal(macho_counters_get(on, -1, &b), MACHO_OK);
  assert_int_equal(b.memory_bytes, a.memory_bytes);
  macho_close(off);
  macho_close(on);
}

static void failed_metrics_allocation_drops_samples_not_operations(void **state) {
  (void)state;
  test_alloc ta = {0};
  macho_allocator hooks = test_alloc_hooks(&ta);
  test_clock clk = {1};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 4;
  cfg.metrics = 2;
  cfg.allocator = &hooks;
  cfg.clock = test_clock_fn;
  cfg.clock_ctx = &clk;
  macho_cache *c;
  uint64_t k = 1, v;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  ta.fail_at = ta.calls + 1; /* put: an 8-byte payload lives in the table, so the metrics block is the first allocation */
  assert_int_equal(macho_put(c, &k, 8, &k, 8), MACHO_OK);
  ta.fail_at = 0;
  assert_int_equal(macho_get(c, &k, 8, &v, 8, NULL), MACHO_OK); /* retried, now recorded */
  macho_stats *s;
  assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
  assert_int_equal(s->counters.puts, 1);
  assert_int_equal(s->put_latency_ns.count, 0);
  assert_int_equal(s->get_latency_ns.count, 1);
  macho_stats_free(s);
  macho_close(c);
  assert_int_equal(ta.live_blocks, 0);
}

static void bad_arguments_are_rejected(void **state) {
  (void)state;
  macho_cache *c = open_cache(10, 2, 1, 0, NULL, NULL);
  macho_stats *s = (macho_stats *)1;
  assert_int_equal(macho_stats_get(NULL, -1, &s), MACHO_EINVAL);
  assert_null(s);
  assert_int_equal(macho_stats_get(c, -1, NULL), MACHO_EINVAL);
  assert_int_equal(macho_stats_get(c, 2, &s), MACHO_EINVAL);
  assert_int_equal(macho_stats_get(c, -2, &s), MACHO_EINVAL);
  assert_int_equal(macho_stats_reset(NULL), MACHO_EINVAL);
  assert_int_equal(macho_distribution_quantile(NULL, 0.5), 0);
  macho_stats_free(NULL);
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.metrics = 3;
  assert_int_equal(macho_config_check(&cfg, NULL), MACHO_EINVAL);
  macho_close(c);
}

static void out_of_memory_is_a_status_and_nothing_leaks(void **state) {
  (void)state;
  for (uint64_t n = 1;; n++) {
    test_alloc ta = {0};
    ta.fail_at = n;
    macho_allocator hooks = test_alloc_hooks(&ta);
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.capacity_entries = 8;
    cfg.shards = 2;
    cfg.allocator = &hooks;
    macho_cache *c = NULL;
    int rc = macho_open(&cfg, &c);
    if (rc == MACHO_ENOMEM) {
      assert_int_equal(ta.live_blocks, 0);
      continue;
    }
    assert_int_equal(rc, MACHO_OK);
    macho_stats *s = NULL;
    rc = macho_stats_get(c, -1, &s);
    if (rc == MACHO_ENOMEM) {
      assert_null(s);
      ta.fail_at = 0;
      assert_int_equal(macho_stats_get(c, -1, &s), MACHO_OK);
    }
    assert_int_equal(s->counters.capacity_entries, 8);
    macho_stats_free(s);
    macho_close(c);
    assert_int_equal(ta.live_blocks, 0);
    if (rc == MACHO_OK) break;
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(known_sequence_gives_exact_counts),
      cmocka_unit_test(every_operation_is_timed_when_metrics_is_two),
      cmocka_unit_test(sampled_timing_times_one_call_in_sample_every),
      cmocka_unit_test(a_new_cache_times_every_call_until_it_has_enough_samples),
      cmocka_unit_test(lifespans_resolve_below_the_coarse_tick_on_the_default_clock),
      cmocka_unit_test(metrics_off_reads_no_clock_on_gets),
      cmocka_unit_test(lifespans_are_recorded_by_reason),
      cmocka_unit_test(lifespan_percentiles_track_the_exact_ones),
      cmocka_unit_test(shard_snapshots_add_up_to_the_total),
      cmocka_unit_test(reset_zeroes_counters_and_distributions_but_keeps_entries),
      cmocka_unit_test(window_keeps_the_last_sixty_seconds_oldest_first),
      cmocka_unit_test(metrics_memory_counts_in_memory_bytes_once_a_shard_records),
      cmocka_unit_test(many_idle_shards_cost_no_metrics_memory),
      cmocka_unit_test(failed_metrics_allocation_drops_samples_not_operations),
      cmocka_unit_test(bad_arguments_are_rejected),
      cmocka_unit_test(out_of_memory_is_a_status_and_nothing_leaks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
