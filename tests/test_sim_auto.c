/*
 * test_sim_auto.c -- `auto` on real traces, against its goal: at every
 * (trace, size) point of ../shared/traces, within 0.5 point of the best
 * online policy of libCacheSim's reference figures and of macho's own
 * policies ("the target"), and never more than 0.5 point worse than LRU.
 *
 * The goal is not met everywhere (docs/POLICIES.md says where, by how much
 * and why), so the test holds auto to the bounds documented there and
 * prints every point that misses the goal: it fails if auto gets worse at
 * any of them, or misses at more points. And a workload shift, two bundled
 * traces concatenated, must be followed within 20 capacities of requests.
 */
#include "sim_ref.h"
#include "trace.h"

#include <math.h>

#define DATA(name) MACHO_TEST_DATA "/" name
#define SLACK 0.005 /* the goal: best + 0.5 point */

/* docs/POLICIES.md, "auto": what the default tunables achieve on the 60 points. */
#define MAX_POINTS_OVER 11    /* points where auto misses the goal */
#define MAX_EXCESS 0.075      /* worst distance above the target */
#define MAX_MEAN_EXCESS 0.005 /* mean distance above the target (negative when below) */
#define MAX_OVER_LRU 0.035    /* worst distance above LRU */

static void auto_stays_within_its_documented_bounds_at_every_shared_point(void **state) {
  (void)state;
  if (!sr_have_shared()) skip();
  if (test_sanitized()) {
    printf("# SKIPPED under a sanitizer: every policy on 20 traces takes minutes there\n");
    skip();
  }
  static sr_point pts[SR_MAX_POINTS];
  int npts = sr_points(pts, SR_MAX_POINTS);
  assert_true(npts >= 36);
  int over = 0, checked = 0;
  double worst = -1, sum = 0, worst_lru = -1;
  for (int i = 0; i < npts; i++) {
    if (!sr_first_of_trace(pts, i)) continue;
    char path[512], sizes[256], args[1024];
    const char *fmt;
    sr_trace_file(pts[i].trace, path, sizeof path, &fmt);
    sr_sizes_of(pts, npts, pts[i].trace, sizes, sizeof sizes);
    snprintf(args, sizeof args, "'%s' --format %s --policy all --size %s --json", path, fmt, sizes);
    sr_run r = sr_sim(args);
    if (r.status != 0) fail_msg("%s: exit %d: %s", pts[i].trace, r.status, r.err);
    for (int j = i; j < npts; j++) {
      if (strcmp(pts[j].trace, pts[i].trace) != 0) continue;
      const sr_point *p = &pts[j];
      double target = 2, lru = sr_find(&r, "lru", p->size)->miss_ratio;
      for (int k = 0; k < SR_NCOLS; k++)
        if (strcmp(SR_COLUMNS[k], "belady") != 0 && p->ref[k] < target) target = p->ref[k];
      for (int k = 0; k < r.nrows; k++) {
        const sr_row *w = &r.rows[k];
        if (w->size == p->size && strcmp(w->policy, "auto") && strcmp(w->policy, "belady") &&
            w->miss_ratio < target)
          target = w->miss_ratio;
      }
      double a = sr_find(&r, "auto", p->size)->miss_ratio, excess = a - target;
      checked++;
      sum += excess;
      if (excess > worst) worst = excess;
      if (a - lru > worst_lru) worst_lru = a - lru;
      if (excess > SLACK || a - lru > SLACK) {
        over++;
        printf("# %s@%llu: auto %.4f, target %.4f (%+.2f points), lru %.4f\n", p->trace,
               (unsigned long long)p->size, a, target, excess * 100, lru);
      }
    }
    sr_free(&r);
  }
  printf("# auto: goal met at %d of %d points; mean %+.3f points from the target, worst %+.2f; worst above LRU %+.2f\n",
         checked - over, checked, sum / checked * 100, worst * 100, worst_lru * 100);
  assert_int_equal(checked, npts);
  assert_true(over <= MAX_POINTS_OVER);
  assert_true(worst <= MAX_EXCESS);
  assert_true(sum / checked <= MAX_MEAN_EXCESS);
  assert_true(worst_lru <= MAX_OVER_LRU);
}

/* ---- a workload shift ----------------------------------------------------------------- */

static uint64_t *load_keys(const char *path, size_t *n, uint64_t offset, uint64_t *keys, size_t at) {
  trace *t;
  char err[600];
  if (trace_open(&t, path, trace_format_find("lirs"), err, sizeof err) < 0) fail_msg("%s", err);
  trace_req batch[4096];
  size_t got;
  while ((got = trace_read(t, batch, 4096)) > 0) {
    keys = realloc(keys, (at + got) * sizeof *keys);
    for (size_t i = 0; i < got; i++) keys[at++] = batch[i].key + offset;
  }
  assert_false(trace_failed(t));
  trace_close(t);
  *n = at;
  return keys;
}

/* lirs_cs (W-TinyLFU far ahead: 0.83 against 0.98 at 281 entries) then
 * lirs_zigzag (LRU and ARC ahead: 0.81 against W-TinyLFU's 0.84 and
 * S3-FIFO's 0.97 at 400), keys of the second offset so that none is shared. */
static void auto_follows_two_concatenated_traces(void **state) {
  (void)state;
  size_t first, n;
  uint64_t *keys = load_keys(DATA("lirs_cs.trace.gz"), &first, 0, NULL, 0);
  keys = load_keys(DATA("lirs_zigzag.trace.gz"), &n, 1ull << 40, keys, first);
  const size_t cap = 300;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = cap;
  cfg.ttl_seconds = 0;
  cfg.policy = MACHO_POLICY_AUTO;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  char v[8];
  macho_policy at_boundary = MACHO_POLICY_COUNT, p = MACHO_POLICY_COUNT;
  size_t followed = 0;
  for (size_t i = 0; i < n; i++) {
    if (macho_get(c, &keys[i], 8, v, sizeof v, NULL) != MACHO_OK)
      assert_int_equal(macho_put(c, &keys[i], 8, "v", 1), MACHO_OK);
    if (i + 1 == first) assert_int_equal(macho_policy_current(c, -1, &at_boundary, NULL), MACHO_OK);
    if (i >= first && !followed) {
      assert_int_equal(macho_policy_current(c, -1, &p, NULL), MACHO_OK);
      if (p == MACHO_POLICY_LRU || p == MACHO_POLICY_ARC) followed = i + 1 - first;
    }
  }
  printf("# %zu entries: %s at the boundary (request %zu); %s after %zu more requests (%.1f capacities)\n", cap,
         macho_policy_name(at_boundary), first, macho_policy_name(p), followed, (double)followed / cap);
  assert_int_equal(at_boundary, MACHO_POLICY_WTINYLFU);
  assert_true(followed > 0 && followed <= 20 * cap);
  macho_close(c);
  free(keys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(auto_follows_two_concatenated_traces),
      cmocka_unit_test(auto_stays_within_its_documented_bounds_at_every_shared_point),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
