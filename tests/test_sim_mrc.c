/*
 * test_sim_mrc.c -- accuracy of the live miss-ratio curve (src/mrc.c): each
 * trace is replayed through a real cache (public API, one shard, the
 * curve on) at each (trace, size) point, and at every multiple (0.25x ...
 * 8x) the curve's estimate must be within 2 points of the miss ratio that
 * `macho sim` measures for a cache of that size, for LRU, S3-FIFO and ARC.
 * All 60 points of ../shared/traces, or the bundled traces on a plain clone.
 */
#include "sim_ref.h"
#include "trace_keys.h"

#include <math.h>

#define DATA(name) MACHO_TEST_DATA "/" name
#define TOLERANCE 0.02

/* The curve of a real cache of `size` entries after the whole trace. */
static macho_mrc replay(const uint64_t *keys, size_t n, macho_policy p, uint64_t size) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = size;
  cfg.ttl_seconds = 0;
  cfg.metrics = 0;
  cfg.policy = p;
  cfg.mrc = 1;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  char v[8];
  for (size_t i = 0; i < n; i++)
    if (macho_get(c, &keys[i], 8, v, sizeof v, NULL) != MACHO_OK)
      assert_int_equal(macho_put(c, &keys[i], 8, "v", 1), MACHO_OK);
  macho_mrc m;
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
  assert_int_equal(m.gets, n);
  macho_close(c);
  return m;
}

typedef struct tally {
  int pairs, off;
  double worst, sum;
} tally;

/* One trace at `nsizes` sizes, for each policy: replays, then one `macho sim`
 * run at every multiple of every size, compared. */
static void check_trace(const char *name, const char *path, const char *fmt, const uint64_t *sizes, int nsizes,
                        tally *t) {
  static const macho_policy pols[] = {MACHO_POLICY_LRU, MACHO_POLICY_S3FIFO, MACHO_POLICY_ARC};
  size_t n;
  uint64_t *keys = load_keys(path, fmt, &n);
  for (size_t p = 0; p < sizeof pols / sizeof pols[0]; p++) {
    macho_mrc curves[8];
    char list[2048] = "";
    size_t used = 0;
    for (int s = 0; s < nsizes; s++) {
      curves[s] = replay(keys, n, pols[p], sizes[s]);
      for (int i = 0; i < MACHO_MRC_POINTS; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%llu", used ? "," : "",
                                 (unsigned long long)(curves[s].entries[i] ? curves[s].entries[i] : 1));
    }
    char args[4096];
    snprintf(args, sizeof args, "'%s' --format %s --policy %s --size %s --json", path, fmt,
             macho_policy_name(pols[p]), list);
    sr_run r = sr_sim(args);
    if (r.status != 0) fail_msg("%s: exit %d: %s", name, r.status, r.err);
    for (int s = 0; s < nsizes; s++)
      for (int i = 0; i < MACHO_MRC_POINTS; i++) {
        uint64_t e = curves[s].entries[i] ? curves[s].entries[i] : 1;
        const sr_row *row = sr_find(&r, macho_policy_name(pols[p]), e);
        double d = fabs(curves[s].miss_ratio[i] - row->miss_ratio);
        t->pairs++;
        t->sum += d;
        if (d > t->worst) t->worst = d;
        if (d > TOLERANCE) {
          t->off++;
          printf("# %s %s@%llu x%g (%llu entries): curve %.4f, macho sim %.4f (%.2f points, sample rate %.3f)\n",
                 macho_policy_name(pols[p]), name, (unsigned long long)sizes[s], curves[s].multiple[i],
                 (unsigned long long)e, curves[s].miss_ratio[i], row->miss_ratio, d * 100, curves[s].sample_rate);
        }
      }
    sr_free(&r);
  }
  free(keys);
}

static void report(const char *what, const tally *t) {
  printf("# %s: %d of %d (size, multiple, policy) estimates within %.0f points; mean error %.3f, worst %.2f points\n",
         what, t->pairs - t->off, t->pairs, TOLERANCE * 100, t->pairs ? t->sum / t->pairs * 100 : 0, t->worst * 100);
}

static void the_curve_matches_macho_sim_on_the_bundled_traces(void **state) {
  (void)state;
  static const struct { const char *name, *file, *fmt; uint64_t sizes[3]; } bundled[] = {
      {"lirs_cpp", DATA("lirs_cpp.trace.gz"), "lirs", {12, 61, 244}},
      {"lirs_cs", DATA("lirs_cs.trace.gz"), "lirs", {14, 70, 281}},
      {"lirs_ps", DATA("lirs_ps.trace.gz"), "lirs", {30, 154, 616}},
      {"cloudPhysicsIO_20k", DATA("cloudPhysicsIO_20k.txt"), "txt", {137, 1377, 2755}},
  };
  tally t = {0};
  for (size_t i = 0; i < sizeof bundled / sizeof bundled[0]; i++)
    check_trace(bundled[i].name, bundled[i].file, bundled[i].fmt, bundled[i].sizes, 3, &t);
  report("bundled traces", &t);
  assert_int_equal(t.off, 0);
}

static void the_curve_matches_macho_sim_at_every_shared_point(void **state) {
  (void)state;
  if (!sr_have_shared()) skip();
  if (test_sanitized()) {
    printf("# SKIPPED under a sanitizer: 60 points x 18 sizes x 3 policies take minutes there\n");
    skip();
  }
  static sr_point pts[SR_MAX_POINTS];
  int npts = sr_points(pts, SR_MAX_POINTS);
  assert_true(npts >= 36);
  tally t = {0};
  for (int i = 0; i < npts; i++) {
    if (!sr_first_of_trace(pts, i)) continue;
    uint64_t sizes[8];
    int ns = 0;
    for (int j = i; j < npts && ns < 8; j++)
      if (strcmp(pts[j].trace, pts[i].trace) == 0) sizes[ns++] = pts[j].size;
    char path[512];
    const char *fmt;
    sr_trace_file(pts[i].trace, path, sizeof path, &fmt);
    check_trace(pts[i].trace, path, fmt, sizes, ns, &t);
  }
  report("shared traces", &t);
  assert_int_equal(t.pairs, npts * MACHO_MRC_POINTS * 3);
  assert_int_equal(t.off, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_curve_matches_macho_sim_on_the_bundled_traces),
      cmocka_unit_test(the_curve_matches_macho_sim_at_every_shared_point),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
