/*
 * test_bench.c -- `macho bench` end to end: the built CLI (MACHO_CLI) runs its
 * smoke preset against the bare table and every macho policy, and the shape
 * of what it prints and writes is checked. Never its speed: the figures are
 * only checked to be well-formed (positive, min <= median <= max), and the
 * hit ratios that follow from the workload are checked exactly (a cache
 * that holds every key of the key space, on one shard, hits every get).
 * Bad usage exits with status 2 and says why. Under a sanitizer (MACHO_SANITIZED,
 * set by scripts/test.sh) the same run is cut to two policies and fewer requests,
 * so that a build ten times slower still finishes well inside ctest's timeout.
 */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = calloc(1, (size_t)n + 1);
  if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
  fclose(f);
  return s;
}

static bool num(const char *line, const char *key, double *out) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  if (!p) return false;
  char *end;
  *out = strtod(p + strlen(pat), &end);
  return end != p + strlen(pat);
}

/* "key":{"median":M,"min":A,"max":B} */
static bool stat3(const char *line, const char *key, double *med, double *min, double *max) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":{", key);
  const char *p = strstr(line, pat);
  return p && sscanf(p + strlen(pat), "\"median\":%lf,\"min\":%lf,\"max\":%lf", med, min, max) == 3;
}

static bool has(const char *line, const char *s) { return strstr(line, s) != NULL; }

typedef struct run {
  int status;
  char *out, *err;
  char dir[64];
} run;

static run run_bench(const char *args) {
  static int counter;
  run r = {0};
  char out[128], err[128], cmd[2048];
  snprintf(r.dir, sizeof r.dir, "/tmp/macho_test_bench_%d_%d", (int)getpid(), counter++);
  snprintf(out, sizeof out, "%s.out", r.dir);
  snprintf(err, sizeof err, "%s.err", r.dir);
  snprintf(cmd, sizeof cmd, "'%s' bench %s --out %s >%s 2>%s", MACHO_CLI, args, r.dir, out, err);
  int st = system(cmd);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  if (!r.out) r.out = calloc(1, 1);
  if (!r.err) r.err = calloc(1, 1);
  unlink(out);
  unlink(err);
  return r;
}

static void cleanup(run *r) {
  const char *files[] = {"quick-report.md", "quick.json", "quick.dat", "quick.gp", "quick.svg", "targets.md"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", r->dir, files[i]);
    unlink(p);
  }
  rmdir(r->dir);
  free(r->out);
  free(r->err);
}

static unsigned npolicies(void) {
  unsigned n = 0;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) n += macho_policy_available((macho_policy)p) != 0;
  return n;
}

static bool sanitized(void) { return getenv("MACHO_SANITIZED") != NULL; }

static void quick_run_prints_every_cell_system_and_memory_row_in_shape(void **state) {
  (void)state;
  run r = run_bench(sanitized() ? "--quick --systems bare,macho --json --policy lru,sieve --ops 2000 --memory-entries 2000"
                                : "--quick --systems bare,macho --json");
  const double mem_entries = sanitized() ? 2000 : 10000;
  if (r.status != 0) fail_msg("exit %d:\n%s", r.status, r.err);
  unsigned hit_rows = 0, miss_rows = 0, mem_rows = 0, skips = 0, runs = 0, ends = 0, targets = 0;
  for (char *line = r.out; *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    double med, min, max, v;
    if (has(line, "\"type\":\"run\"")) {
      runs++;
      assert_true(num(line, "nproc", &v) && v >= 1);
      assert_true(has(line, "\"load_start\":\""));
    } else if (has(line, "\"type\":\"end\"")) {
      ends++;
    } else if (has(line, "\"type\":\"throughput\"")) {
      bool hit = has(line, "\"keyspace\":\"hit\"");
      hit ? hit_rows++ : miss_rows++;
      assert_true(num(line, "rounds", &v) && v == 3);
      if (!stat3(line, "ns_per_op", &med, &min, &max)) fail_msg("no ns_per_op: %s", line);
      assert_true(min > 0 && min <= med && med <= max);
      assert_true(stat3(line, "mops", &med, &min, &max) && min > 0 && min <= med && med <= max);
      double hr;
      assert_true(num(line, "hit_ratio", &hr) && hr >= 0 && hr <= 1);
      bool bare = has(line, "\"system\":\"bare\""), one_shard = has(line, "\"shards\":1,");
      /* every key fits: the bare table and a one-shard cache hit every get */
      if (hit && (bare || one_shard) && hr != 1.0) fail_msg("hit cell, hit ratio %g: %s", hr, line);
      /* ten times more keys than room: some gets miss, most hit (Zipf 0.99) */
      if (!hit && !(hr > 0.3 && hr < 1.0)) fail_msg("miss cell, hit ratio %g: %s", hr, line);
      if (!bare && has(line, "\"threads\":1,") && !stat3(line, "vs_bare", &med, &min, &max))
        fail_msg("no ratio to the bare table: %s", line);
      if (has(line, "\"threads\":2,") && !bare && hit && !stat3(line, "scaling", &med, &min, &max))
        fail_msg("no 2T/1T ratio: %s", line);
    } else if (has(line, "\"type\":\"memory\"")) {
      mem_rows++;
      assert_true(num(line, "entries", &v) && v == mem_entries);
      assert_true(num(line, "rss_overhead_per_entry", &v));
      assert_true(num(line, "own_overhead_per_entry", &v) && v > 0);
      if (has(line, "\"system\":\"macho\"") && !num(line, "hooks_overhead_per_entry", &v))
        fail_msg("no allocator-hooks figure: %s", line);
    } else if (has(line, "\"type\":\"skip\"")) {
      skips++;
      assert_true(has(line, "\"reason\":\""));
    } else if (has(line, "\"type\":\"target\"")) {
      targets++;
    } else if (*line) {
      fail_msg("unexpected line: %s", line);
    }
    if (!nl) break;
    line = nl + 1;
  }
  unsigned p = sanitized() ? 2 : npolicies();
  assert_int_equal(runs, 1);
  assert_int_equal(ends, 1);
  /* hit cell: bare + policies x {1, 4 shards} x {metrics on, off}, at 1 and 2 threads */
  assert_int_equal(hit_rows, 2 * (1 + 4 * p));
  /* miss cell: bare at 1 thread only (no locks), policies x 4 shards at 1 and 2 threads */
  assert_int_equal(miss_rows, 1 + 2 * p);
  assert_int_equal(skips, 1);
  assert_int_equal(mem_rows, 1 + p);
  assert_true(targets > 0);

  char path[128];
  snprintf(path, sizeof path, "%s/quick-report.md", r.dir);
  char *md = slurp(path);
  assert_non_null(md);
  assert_non_null(strstr(md, "| system | threads | Mops/s | ns/op median [min-max] | cpu ns/op | hit ratio |"));
  assert_non_null(strstr(md, "| macho sieve 4sh nometrics | 2 |"));
  assert_non_null(strstr(md, sanitized() ? "### Memory: 2000 entries" : "### Memory: 10000 entries"));
  free(md);
  snprintf(path, sizeof path, "%s/targets.md", r.dir);
  md = slurp(path);
  assert_non_null(md);
  assert_non_null(strstr(md, "### get-hit, 10k entries"));
  free(md);
  snprintf(path, sizeof path, "%s/quick.json", r.dir);
  md = slurp(path);
  assert_non_null(md);
  assert_non_null(strstr(md, "\"type\":\"throughput\""));
  free(md);
  snprintf(path, sizeof path, "%s/quick.gp", r.dir);
  assert_int_equal(access(path, R_OK), 0);
  if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
    snprintf(path, sizeof path, "%s/quick.svg", r.dir);
    md = slurp(path);
    if (!md || !strstr(md, "<svg")) fail_msg("no plot at %s:\n%s", path, r.err);
    free(md);
  } else {
    printf("gnuplot absent: the plot itself is not checked\n");
  }
  cleanup(&r);
}

static void markdown_goes_to_stdout_without_json(void **state) {
  (void)state;
  run r = run_bench("--quick --systems bare,macho --policy sieve --no-memory --threads 1 --rounds 1 --ops 2000");
  if (r.status != 0) fail_msg("exit %d:\n%s", r.status, r.err);
  assert_non_null(strstr(r.out, "## macho bench: quick"));
  assert_non_null(strstr(r.out, "| macho sieve 1sh | 1 |"));
  assert_null(strstr(r.out, "\"type\":"));
  assert_null(strstr(r.out, "| 2 |")); /* --threads 1 replaced the preset's 1,2 */
  assert_null(strstr(r.out, "### Memory"));
  cleanup(&r);
}

static void bad_usage_fails_with_exit_2_and_says_why(void **state) {
  (void)state;
  static const struct {
    const char *args, *msg;
  } bad[] = {
      {"--capacity 0", "--capacity: bad item '0'"},
      {"--systems nosuch", "--systems: bad item 'nosuch'"},
      {"--preset nope", "--preset expects targets, full or quick"},
      {"--rounds 0", "--rounds expects a whole number"},
      {"--workload zipf", "--workload: bad item 'zipf'"},
      {"--policy lru,nosuch", "--policy: bad item 'nosuch'"},
      {"--no-memory --memory-only", "exclude each other"},
      {"--quick --capacity 123 --no-memory", "nothing to run"},
      {"--frobnicate", "unknown option '--frobnicate'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    run r = run_bench(bad[i].args);
    if (r.status != 2 || !strstr(r.err, bad[i].msg))
      fail_msg("'%s': exit %d, stderr: %s", bad[i].args, r.status, r.err);
    cleanup(&r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(quick_run_prints_every_cell_system_and_memory_row_in_shape),
      cmocka_unit_test(markdown_goes_to_stdout_without_json),
      cmocka_unit_test(bad_usage_fails_with_exit_2_and_says_why),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
