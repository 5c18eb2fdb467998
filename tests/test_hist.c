/* test_hist.c -- the log-linear histogram: bucket bounds, exactness below 128,
 * and quantiles within 1% of a sorted-array computation. */
#include "support.h"
#include "hist.h"

#include <stdio.h>
#include <stdlib.h>

#define NB MACHO__HIST_BUCKETS(48)

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q) {
  double r = q * (double)n;
  size_t rank = (size_t)r;
  if ((double)rank < r) rank++;
  if (rank < 1) rank = 1;
  return sorted[rank - 1];
}

static void every_value_falls_inside_its_bucket(void **state) {
  (void)state;
  uint64_t seed = test_seed();
  for (int i = 0; i < 200000; i++) {
    int bits = (int)(test_rand(&seed) % 48);
    uint64_t v = test_rand(&seed) >> (63 - bits);
    uint32_t b = macho__hist_index(v);
    assert_true(b < NB);
    assert_true(macho__hist_lo(b) <= v && v <= macho__hist_hi(b));
    /* a bucket is at most 1/64 of its lower bound wide */
    assert_true((macho__hist_hi(b) - macho__hist_lo(b)) * 64 <= macho__hist_lo(b) || v < 128);
  }
}

static void buckets_tile_the_range_without_gaps(void **state) {
  (void)state;
  for (uint32_t i = 0; i + 1 < NB; i++) assert_int_equal(macho__hist_hi(i) + 1, macho__hist_lo(i + 1));
}

static void small_values_are_exact(void **state) {
  (void)state;
  uint64_t b[NB] = {0};
  macho__hist h;
  macho__hist_init(&h, b, NB);
  for (uint64_t v = 1; v <= 100; v++) macho__hist_record(&h, v);
  assert_int_equal(h.count, 100);
  assert_int_equal(h.sum, 5050);
  assert_int_equal(macho__hist_quantile(&h, 0.5), 50);
  assert_int_equal(macho__hist_quantile(&h, 0.9), 90);
  assert_int_equal(macho__hist_quantile(&h, 0.99), 99);
  assert_int_equal(macho__hist_quantile(&h, 1.0), 100);
  assert_int_equal(macho__hist_quantile(&h, 0.0), 1);
}

static void empty_histogram_reports_zero(void **state) {
  (void)state;
  uint64_t b[NB] = {0};
  macho__hist h;
  macho__hist_init(&h, b, NB);
  assert_int_equal(macho__hist_quantile(&h, 0.5), 0);
  assert_int_equal(h.count, 0);
}

static void check_quantiles(const char *what, uint64_t *vals, size_t n, macho__hist *h) {
  qsort(vals, n, sizeof *vals, cmp_u64);
  const double qs[] = {0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999};
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
    uint64_t want = exact_quantile(vals, n, qs[i]);
    uint64_t got = macho__hist_quantile(h, qs[i]);
    double err = want ? ((double)got - (double)want) / (double)want : (double)got;
    if (err < 0) err = -err;
    if (err > 0.01) fprintf(stderr, "%s q=%g want %llu got %llu\n", what, qs[i],
                            (unsigned long long)want, (unsigned long long)got);
    assert_true(err <= 0.01);
  }
  assert_int_equal(h->min, vals[0]);
  assert_int_equal(h->max, vals[n - 1]);
}

static void quantiles_match_a_sorted_array_within_one_percent(void **state) {
  (void)state;
  uint64_t seed = test_seed() ^ 0x51ed;
  enum { N = 100000 };
  uint64_t *vals = malloc(N * sizeof *vals);
  static uint64_t b[NB];
  for (int shape = 0; shape < 3; shape++) {
    macho__hist h;
    macho__hist_init(&h, b, NB);
    for (size_t i = 0; i < N; i++) {
      uint64_t u = test_rand(&seed);
      uint64_t v;
      if (shape == 0) v = 50 + u % 100000;                        /* uniform */
      else if (shape == 1) v = (uint64_t)1 << (u % 40) | (u >> 40); /* log-uniform, wide */
      else v = 200 + (u % 1000 == 0 ? 1000000 + u % 5000000 : u % 300); /* latency-like tail */
      vals[i] = v;
      macho__hist_record(&h, v);
    }
    check_quantiles(shape == 0 ? "uniform" : shape == 1 ? "log-uniform" : "tail", vals, N, &h);
  }
  free(vals);
}

static void merging_equals_recording_into_one(void **state) {
  (void)state;
  static uint64_t b1[NB], b2[NB], b3[NB];
  macho__hist h1, h2, all;
  macho__hist_init(&h1, b1, NB);
  macho__hist_init(&h2, b2, NB);
  macho__hist_init(&all, b3, NB);
  uint64_t seed = test_seed() + 7;
  for (int i = 0; i < 10000; i++) {
    uint64_t v = test_rand(&seed) % 10000000;
    macho__hist_record(i % 3 ? &h1 : &h2, v);
    macho__hist_record(&all, v);
  }
  macho__hist_merge(&h1, &h2);
  assert_int_equal(h1.count, all.count);
  assert_int_equal(h1.sum, all.sum);
  assert_int_equal(h1.min, all.min);
  assert_int_equal(h1.max, all.max);
  assert_memory_equal(b1, b3, sizeof b1);
}

static void values_beyond_the_range_stay_counted_in_the_top_bucket(void **state) {
  (void)state;
  enum { SMALL = MACHO__HIST_BUCKETS(10) };
  uint64_t b[SMALL] = {0};
  macho__hist h;
  macho__hist_init(&h, b, SMALL);
  macho__hist_record(&h, 5000000);
  macho__hist_record(&h, 3);
  assert_int_equal(b[SMALL - 1], 1);
  assert_int_equal(h.max, 5000000);
  assert_int_equal(macho__hist_quantile(&h, 1.0), 5000000);
  assert_int_equal(macho__hist_quantile(&h, 0.9), 5000000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_value_falls_inside_its_bucket),
      cmocka_unit_test(buckets_tile_the_range_without_gaps),
      cmocka_unit_test(small_values_are_exact),
      cmocka_unit_test(empty_histogram_reports_zero),
      cmocka_unit_test(quantiles_match_a_sorted_array_within_one_percent),
      cmocka_unit_test(merging_equals_recording_into_one),
      cmocka_unit_test(values_beyond_the_range_stay_counted_in_the_top_bucket),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
