/*
 * test_sim_arc.c -- ARC in `macho sim` (the real cache, src/policy/arc.c):
 * exact against the naive ARC of arc_ref.h on the bundled traces (miss for
 * miss), and against libCacheSim's published ARC column at every (trace,
 * size) point of ../shared/traces/README.md to 0.1 percentage point.
 */
#include "arc_ref.h"
#include "sim_ref.h"
#include "trace_keys.h"

#include <math.h>

#define DATA(name) MACHO_TEST_DATA "/" name

static void arc_in_macho_sim_misses_exactly_as_the_naive_model_does(void **state) {
  (void)state;
  static const struct { const char *file, *fmt, *sizes; uint32_t size[4]; } cases[] = {
      {DATA("lirs_cpp.trace.gz"), "lirs", "1,12,61,244", {1, 12, 61, 244}},
      {DATA("lirs_cs.trace.gz"), "lirs", "2,14,70,281", {2, 14, 70, 281}},
      {DATA("lirs_ps.trace.gz"), "lirs", "3,30,154,616", {3, 30, 154, 616}},
      {DATA("cloudPhysicsIO_20k.txt"), "txt", "5,137,600,1500", {5, 137, 600, 1500}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    size_t n;
    uint64_t *keys = load_keys(cases[c].file, cases[c].fmt, &n);
    char args[1024];
    snprintf(args, sizeof args, "'%s' --format %s --policy arc --size %s --json", cases[c].file,
             cases[c].fmt, cases[c].sizes);
    sr_run r = sr_sim(args);
    if (r.status != 0) fail_msg("%s: exit %d: %s", cases[c].file, r.status, r.err);
    for (int i = 0; i < 4; i++) {
      uint64_t want = arc_ref_misses(keys, n, cases[c].size[i]);
      const sr_row *row = sr_find(&r, "arc", cases[c].size[i]);
      if (row->misses != want)
        fail_msg("%s@%u: macho sim arc %llu misses, naive ARC %llu", cases[c].file, cases[c].size[i],
                 (unsigned long long)row->misses, (unsigned long long)want);
    }
    sr_free(&r);
    free(keys);
  }
}

static void arc_matches_libcachesim_at_every_shared_point(void **state) {
  (void)state;
  if (!sr_have_shared()) skip();
  static sr_point pts[SR_MAX_POINTS];
  int npts = sr_points(pts, SR_MAX_POINTS);
  assert_true(npts >= 36);
  int col = sr_column("arc"), checked = 0, off = 0;
  for (int i = 0; i < npts; i++) {
    if (!sr_first_of_trace(pts, i)) continue;
    char path[512], sizes[256], args[1024];
    const char *fmt;
    sr_trace_file(pts[i].trace, path, sizeof path, &fmt);
    sr_sizes_of(pts, npts, pts[i].trace, sizes, sizeof sizes);
    snprintf(args, sizeof args, "'%s' --format %s --policy arc --size %s --json", path, fmt, sizes);
    sr_run r = sr_sim(args);
    if (r.status != 0) fail_msg("%s: exit %d: %s", pts[i].trace, r.status, r.err);
    for (int j = i; j < npts; j++) {
      if (strcmp(pts[j].trace, pts[i].trace) != 0) continue;
      const sr_row *row = sr_find(&r, "arc", pts[j].size);
      assert_int_equal(row->requests, pts[j].requests);
      double d = row->miss_ratio - pts[j].ref[col];
      if (fabs(d) > 0.001) {
        printf("# %s@%llu: arc %.4f, libCacheSim %.4f (%+.2f points)\n", pts[j].trace,
               (unsigned long long)pts[j].size, row->miss_ratio, pts[j].ref[col], d * 100);
        off++;
      }
      checked++;
    }
    sr_free(&r);
  }
  printf("# arc: %d of %d shared points within 0.1 point of libCacheSim\n", checked - off, checked);
  assert_int_equal(checked, npts);
  assert_int_equal(off, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arc_in_macho_sim_misses_exactly_as_the_naive_model_does),
      cmocka_unit_test(arc_matches_libcachesim_at_every_shared_point),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
