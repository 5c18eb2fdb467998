/*
 * test_filters.c -- membership filters (src/filter/): never a false negative,
 * false-positive rates on target, memory in the cache's figure, bad p refused.
 *
 * Two levels. The filter ops are driven directly against a multiset model of
 * hashes (duplicates included, and a stand-in for the shard's rebuild hook),
 * which reaches corner cases such as a cuckoo bucket pair overflowing. The
 * cache is driven through the public API with every policy, TTLs on an
 * injected clock, deletes and clears; there the index itself is the oracle:
 * whenever macho_contains (which never consults the filter) finds a key, a
 * get of that key must find it too.
 */
#include "support.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const macho_filter all_filters[] = {MACHO_FILTER_BLOOM, MACHO_FILTER_CUCKOO,
                                           MACHO_FILTER_XOR};
#define NFILTERS (sizeof all_filters / sizeof all_filters[0])
static const double rates[] = {0.5, 0.1, 0.01, 0.001};
/* Also tiny rates, which take the 32-bit fingerprint and cell paths. */
static const double all_rates[] = {0.5, 0.1, 0.01, 0.001, 1e-6, 1e-12};

/* ---- filter ops against a model -------------------------------------------- */

typedef struct model {
  uint64_t *h;
  uint32_t n, cap;
} model;

static void maybe_rebuild(const macho__filter_ops *o, void *f, const model *m) {
  if (!o->wants_rebuild || !o->wants_rebuild(f)) return;
  uint64_t *copy = malloc(((size_t)m->n + 1) * sizeof *copy);
  assert_non_null(copy);
  memcpy(copy, m->h, (size_t)m->n * sizeof *copy);
  assert_int_equal(o->rebuild(f, copy, m->n), MACHO_OK);
  free(copy);
}

static void model_check_members(const macho__filter_ops *o, void *f, const model *m,
                                uint64_t seed) {
  for (uint32_t i = 0; i < m->n; i++) {
    if (!o->maybe_contains(f, m->h[i]))
      fail_msg("%s: false negative for member %u of %u (seed %llu)", o->name, i, m->n,
               (unsigned long long)seed);
  }
}

static void filter_ops_never_forget_a_member_over_random_operations(void **state) {
  (void)state;
  uint64_t seed = test_seed();
  macho__alloc a = {.held = 0};
  for (size_t fi = 0; fi < NFILTERS; fi++) {
    const macho__filter_ops *o = macho__filters[all_filters[fi]];
    for (size_t pi = 0; pi < sizeof all_rates / sizeof all_rates[0]; pi++) {
      uint64_t rng = seed ^ (fi * 131 + pi);
      const uint32_t cap = 300;
      void *f;
      assert_int_equal(o->create(&f, &a, cap, all_rates[pi], seed), MACHO_OK);
      model m = {malloc(cap * sizeof(uint64_t)), 0, cap};
      for (int step = 0; step < 20000; step++) {
        uint64_t r = test_rand(&rng) % 100;
        if (r < 55 && m.n < m.cap) {
          /* A small pool of hashes makes duplicates common. */
          uint64_t h = (r < 5) ? 0xd0d0d0d0ULL : test_rand(&rng) % 2000;
          h = test_rand(&h);
          m.h[m.n++] = h;
          o->add(f, h);
        } else if (r < 99 && m.n) {
          uint32_t j = (uint32_t)(test_rand(&rng) % m.n);
          o->remove(f, m.h[j]);
          m.h[j] = m.h[--m.n];
        } else {
          o->clear(f);
          m.n = 0;
        }
        maybe_rebuild(o, f, &m);
        if (step % 97 == 0) model_check_members(o, f, &m, seed);
      }
      model_check_members(o, f, &m, seed);
      o->destroy(f, &a);
      free(m.h);
    }
  }
}

static void cuckoo_answers_maybe_when_a_bucket_pair_overflows_and_heals_after_removals(
    void **state) {
  (void)state;
  macho__alloc a = {.held = 0};
  const macho__filter_ops *o = macho__filters[MACHO_FILTER_CUCKOO];
  void *f;
  assert_int_equal(o->create(&f, &a, 1000, 0.01, 7), MACHO_OK);
  /* 40 copies of one hash: 8 slots in its two buckets, 8 in the stash, the rest lost. */
  const uint64_t h = 0x123456789abcdefULL;
  for (int i = 0; i < 40; i++) o->add(f, h);
  assert_true(o->maybe_contains(f, h));
  uint64_t rng = 99;
  int maybes = 0;
  for (int i = 0; i < 1000; i++) maybes += o->maybe_contains(f, test_rand(&rng));
  assert_int_equal(maybes, 1000); /* degraded: no filtering, and no false negative */
  for (int i = 0; i < 39; i++) {
    o->remove(f, h);
    assert_true(o->maybe_contains(f, h));
  }
  o->remove(f, h);
  maybes = 0;
  for (int i = 0; i < 1000; i++) maybes += o->maybe_contains(f, test_rand(&rng));
  assert_true(maybes < 50); /* healed: empty filter, about 1% false positives */
  o->destroy(f, &a);
}

static void xor_rebuilds_despite_duplicate_hashes(void **state) {
  (void)state;
  macho__alloc a = {.held = 0};
  const macho__filter_ops *o = macho__filters[MACHO_FILTER_XOR];
  void *f;
  assert_int_equal(o->create(&f, &a, 1000, 0.01, 3), MACHO_OK);
  uint64_t hs[1000];
  uint64_t rng = 5;
  for (int i = 0; i < 1000; i++) hs[i] = i % 3 == 0 ? hs[i / 2] : test_rand(&rng);
  for (int i = 0; i < 1000; i++) o->add(f, hs[i]);
  uint64_t copy[1000];
  memcpy(copy, hs, sizeof hs);
  assert_int_equal(o->rebuild(f, copy, 1000), MACHO_OK);
  for (int i = 0; i < 1000; i++) assert_true(o->maybe_contains(f, hs[i]));
  o->destroy(f, &a);
}

/* ---- through the cache -------------------------------------------------------- */

static void fill_key(char *buf, uint64_t k) { snprintf(buf, 24, "k%020llu", (unsigned long long)k); }

/* Every key the index holds is admitted by the filter: get finds what contains finds. */
static void check_no_false_negative(macho_cache *c, uint64_t key, const char *what, uint64_t seed) {
  char kb[24];
  fill_key(kb, key);
  if (macho_contains(c, kb, 21) != MACHO_OK) return;
  char v[8];
  int rc = macho_get(c, kb, 21, v, sizeof v, NULL);
  if (rc != MACHO_OK)
    fail_msg("%s: key %llu is in the cache but get says %s (seed %llu)", what,
             (unsigned long long)key, macho_status_name(rc), (unsigned long long)seed);
}

static void cache_with_filter_never_misses_a_present_key_for_any_policy(void **state) {
  (void)state;
  uint64_t seed = test_seed();
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    if (!macho_policy_available((macho_policy)p)) continue;
    for (size_t fi = 0; fi < NFILTERS; fi++) {
      char what[64];
      snprintf(what, sizeof what, "%s+%s", macho_policy_name((macho_policy)p),
               macho_filter_name(all_filters[fi]));
      test_clock clk = {1000};
      macho_config cfg;
      macho_config_init(&cfg);
      cfg.capacity_entries = 256;
      cfg.shards = 2;
      cfg.policy = (macho_policy)p;
      cfg.filter = all_filters[fi];
      cfg.filter_fp_rate = rates[fi % 4];
      cfg.ttl_seconds = 0;
      cfg.seed = seed;
      cfg.clock = test_clock_fn;
      cfg.clock_ctx = &clk;
      macho_cache *c;
      assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
      uint64_t rng = seed + (uint64_t)p * 17 + fi;
      const uint64_t keyspace = 800;
      const int steps = (int)test_scale(6000, 3); /* lighter under sanitizers */
      for (int step = 0; step < steps; step++) {
        uint64_t r = test_rand(&rng) % 1000, key = test_rand(&rng) % keyspace;
        char kb[24], v[8] = "v";
        fill_key(kb, key);
        if (r < 500) {
          double ttl = (r % 4 == 0) ? (double)(1 + test_rand(&rng) % 5) : 0.0;
          assert_int_equal(macho_put_ttl(c, kb, 21, v, 1, ttl), MACHO_OK);
          assert_int_equal(macho_get(c, kb, 21, v, sizeof v, NULL), MACHO_OK);
        } else if (r < 800) {
          int rc = macho_get(c, kb, 21, v, sizeof v, NULL);
          assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
        } else if (r < 900) {
          int rc = macho_delete(c, kb, 21);
          assert_true(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
          assert_int_equal(macho_contains(c, kb, 21), MACHO_ENOTFOUND);
        } else if (r < 990) {
          clk.now_ns += (test_rand(&rng) % 2000) * 1000000ULL; /* up to 2 s */
          if (r % 3 == 0) assert_int_equal(macho_expire(c, NULL), MACHO_OK);
        } else if (r < 993) {
          assert_int_equal(macho_clear(c), MACHO_OK);
        }
        check_no_false_negative(c, test_rand(&rng) % keyspace, what, seed);
        if (step % 500 == 0)
          for (uint64_t k = 0; k < keyspace; k++) check_no_false_negative(c, k, what, seed);
      }
      macho_counters ct;
      assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
      assert_true(ct.filter_queries > 0);
      assert_true(ct.filter_negatives > 0); /* the filter did filter */
      macho_close(c);
    }
  }
}

typedef struct fp_result {
  double measured;
  uint64_t queries;
} fp_result;

/* Query fresh keys (never inserted) and read the filter counters. */
static fp_result measure_fp(macho_cache *c, uint64_t first, uint64_t n) {
  macho_counters before, after;
  assert_int_equal(macho_counters_get(c, -1, &before), MACHO_OK);
  for (uint64_t i = 0; i < n; i++) {
    char kb[24], v[8];
    fill_key(kb, first + i);
    assert_int_equal(macho_get(c, kb, 21, v, sizeof v, NULL), MACHO_ENOTFOUND);
  }
  assert_int_equal(macho_counters_get(c, -1, &after), MACHO_OK);
  fp_result r;
  r.queries = after.filter_queries - before.filter_queries;
  r.measured = (double)(after.filter_false_positives - before.filter_false_positives) / (double)r.queries;
  return r;
}

/* Fixed seed: the figures are deterministic, so the 10% bound is a real check
 * and not a coin toss; enough queries that sampling noise is ~3% at most.
 * Under a sanitizer (MACHO_SANITIZED, scripts/test.sh) the same paths run
 * with 10x less churn and 10x fewer queries, which is what kept the ASan
 * stage long; the bound then widens by 4 standard deviations of the smaller
 * sample. The release build keeps the full statistical check. */
static void false_positive_rate_is_within_ten_percent_of_p_full_and_after_churn(void **state) {
  (void)state;
  const uint64_t n = 8000;
  for (size_t fi = 0; fi < NFILTERS; fi++) {
    for (size_t pi = 0; pi < 4; pi++) {
      double p = rates[pi];
      macho_config cfg;
      macho_config_init(&cfg);
      cfg.capacity_entries = n;
      cfg.ttl_seconds = 0;
      cfg.policy = MACHO_POLICY_FIFO;
      cfg.filter = all_filters[fi];
      cfg.filter_fp_rate = p;
      cfg.seed = 20261129;
      cfg.metrics = 0;
      macho_cache *c;
      assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
      for (uint64_t k = 0; k < n; k++) {
        char kb[24];
        fill_key(kb, k);
        assert_int_equal(macho_put(c, kb, 21, "v", 1), MACHO_OK);
      }
      const bool light = test_sanitized();
      uint64_t q = (uint64_t)fmin(1.2e6, 1500.0 / p) / (light ? 10 : 1);
      uint64_t churn = light ? 10 : 100;
      double bound = 0.1 * p + (light ? 4.0 * sqrt(p * (1 - p) / (double)q) : 0.0);
      fp_result full = measure_fp(c, 1000000000ULL, q);
      /* 100x capacity of churn (10x light): every put of a new key evicts one. */
      for (uint64_t k = n; k < (churn + 1) * n; k++) {
        char kb[24];
        fill_key(kb, k);
        assert_int_equal(macho_put(c, kb, 21, "v", 1), MACHO_OK);
      }
      assert_int_equal(macho_len(c), n);
      fp_result churned = measure_fp(c, 2000000000ULL, q);
      print_message("# %-6s p=%-6g full %.5f (%+.1f%%)  after %llux churn %.5f (%+.1f%%)  %llu queries\n",
                    macho_filter_name(cfg.filter), p, full.measured, 100 * (full.measured - p) / p,
                    (unsigned long long)churn, churned.measured, 100 * (churned.measured - p) / p,
                    (unsigned long long)q);
      assert_true(fabs(full.measured - p) <= bound);
      assert_true(fabs(churned.measured - p) <= bound);
      macho_close(c);
    }
  }
}

static void bad_false_positive_rates_are_rejected(void **state) {
  (void)state;
  const double bad[] = {0.0, 1.0, -0.5, 1.5, NAN, INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.filter = MACHO_FILTER_BLOOM;
    cfg.filter_fp_rate = bad[i];
    const char *why = NULL;
    assert_int_equal(macho_config_check(&cfg, &why), MACHO_EINVAL);
    assert_non_null(why);
    macho_cache *c = (macho_cache *)&cfg;
    assert_int_equal(macho_open(&cfg, &c), MACHO_EINVAL);
    assert_null(c);
  }
  for (size_t fi = 0; fi < NFILTERS; fi++) assert_true(macho_filter_available(all_filters[fi]));
}

/* Bits per key from the cache's memory figure, against the theoretical floor. */
static void filter_memory_is_counted_in_the_cache_memory_figure(void **state) {
  (void)state;
  const uint64_t n = 20000;
  uint64_t base = 0;
  for (int fi = -1; fi < (int)NFILTERS; fi++) {
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.capacity_entries = n;
    cfg.ttl_seconds = 0;
    cfg.filter = fi < 0 ? MACHO_FILTER_NONE : all_filters[fi];
    cfg.filter_fp_rate = 0.01;
    macho_cache *c;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    for (uint64_t k = 0; k < n; k++) {
      char kb[24];
      fill_key(kb, k);
      assert_int_equal(macho_put(c, kb, 21, "v", 1), MACHO_OK);
    }
    macho_counters ct;
    assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
    if (fi < 0) {
      base = ct.memory_bytes;
    } else {
      double bits = (double)(ct.memory_bytes - base) * 8.0 / (double)n;
      print_message("# %s: %.2f bits per key at p = 0.01\n", macho_filter_name(cfg.filter), bits);
      assert_true(bits >= 1.13 * log2(100.0)); /* no structure beats its floor */
      assert_true(bits <= 64.0);
    }
    macho_close(c);
  }
}

/* Fail the n-th allocation for n = 1, 2, ... through open, a churn of puts
 * that makes the xor filter rebuild, and close: never a crash, a leak or a
 * false negative. */
static void filters_survive_every_allocation_failure(void **state) {
  (void)state;
  for (size_t fi = 0; fi < NFILTERS; fi++) {
    /* Every point up to 100, then every 3rd (every 9th under a sanitizer). */
    const uint64_t stride = test_sanitized() ? 9 : 3;
    for (uint64_t fail_at = 1; fail_at < 400; fail_at += (fail_at < 100 ? 1 : stride)) {
      test_alloc ta = {0};
      ta.fail_at = fail_at;
      macho_allocator hooks = test_alloc_hooks(&ta);
      macho_config cfg;
      macho_config_init(&cfg);
      cfg.capacity_entries = 300;
      cfg.ttl_seconds = 0;
      cfg.filter = all_filters[fi];
      cfg.allocator = &hooks;
      macho_cache *c = NULL;
      int rc = macho_open(&cfg, &c);
      if (rc != MACHO_OK) {
        assert_int_equal(rc, MACHO_ENOMEM);
        assert_int_equal(ta.live_blocks, 0);
        continue;
      }
      for (uint64_t k = 0; k < 1200; k++) {
        char kb[24];
        fill_key(kb, k);
        rc = macho_put(c, kb, 21, "v", 1);
        assert_true(rc == MACHO_OK || rc == MACHO_ENOMEM);
        check_no_false_negative(c, k, macho_filter_name(cfg.filter), fail_at);
        check_no_false_negative(c, k / 2, macho_filter_name(cfg.filter), fail_at);
      }
      for (uint64_t k = 0; k < 1200; k++) check_no_false_negative(c, k, "final", fail_at);
      macho_close(c);
      assert_int_equal(ta.live_blocks, 0);
      assert_int_equal(ta.live_bytes, 0);
    }
  }
}

/* A get that finds its key expired proves the filter's "maybe" right: it is
 * a miss, but not a false positive of the filter. */
static void an_expired_key_is_not_counted_as_a_filter_false_positive(void **state) {
  (void)state;
  for (int f = MACHO_FILTER_BLOOM; f < MACHO_FILTER_COUNT; f++) {
    if (!macho_filter_available((macho_filter)f)) continue;
    test_clock clk = {1000};
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.filter = (macho_filter)f;
    cfg.filter_fp_rate = 0.01;
    cfg.ttl_seconds = 1.0;
    cfg.clock = test_clock_fn;
    cfg.clock_ctx = &clk;
    macho_cache *c;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    assert_int_equal(macho_put(c, "k", 1, "v", 1), MACHO_OK);
    clk.now_ns += 2000000000ull; /* past the 1 s TTL */
    char buf[4];
    assert_int_equal(macho_get(c, "k", 1, buf, sizeof buf, NULL), MACHO_ENOTFOUND);
    macho_counters ct;
    assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
    assert_int_equal(ct.filter_queries, 1);
    assert_int_equal(ct.misses, 1);
    assert_int_equal(ct.expirations, 1);
    assert_int_equal(ct.filter_false_positives, 0);
    macho_close(c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(filter_ops_never_forget_a_member_over_random_operations),
      cmocka_unit_test(cuckoo_answers_maybe_when_a_bucket_pair_overflows_and_heals_after_removals),
      cmocka_unit_test(xor_rebuilds_despite_duplicate_hashes),
      cmocka_unit_test(cache_with_filter_never_misses_a_present_key_for_any_policy),
      cmocka_unit_test(false_positive_rate_is_within_ten_percent_of_p_full_and_after_churn),
      cmocka_unit_test(bad_false_positive_rates_are_rejected),
      cmocka_unit_test(filter_memory_is_counted_in_the_cache_memory_figure),
      cmocka_unit_test(filters_survive_every_allocation_failure),
      cmocka_unit_test(an_expired_key_is_not_counted_as_a_filter_false_positive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
