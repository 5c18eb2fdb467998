/*
 * test_pressure.c -- config.memory_max_fraction: the byte budget follows a
 * fraction of the cgroup's memory limit, read from a fake memory.max that
 * the test rewrites, with an injected clock (puts look again once a second
 * of cache clock has passed).
 */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256];

static void write_limit(const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  snprintf(path, sizeof path, "/tmp/macho-memory-max.%d", (int)getpid());
  return 0;
}
static int teardown(void **state) {
  (void)state;
  unlink(path);
  return 0;
}

static macho_cache *open_pressured(test_clock *clk, double fraction, size_t user_bytes, int *rc) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 100000;
  cfg.capacity_bytes = user_bytes;
  cfg.shards = 2;
  cfg.ttl_seconds = 0;
  cfg.clock = test_clock_fn;
  cfg.clock_ctx = clk;
  cfg.memory_max_fraction = fraction;
  cfg.memory_max_path = path;
  macho_cache *c = NULL;
  *rc = macho_open(&cfg, &c);
  return c;
}

static void fill(macho_cache *c, uint32_t n) {
  char v[100];
  memset(v, 'v', sizeof v);
  for (uint32_t k = 0; k < n; k++) assert_int_equal(macho_put(c, &k, 4, v, sizeof v), MACHO_OK);
}

static void the_budget_follows_the_cgroup_limit(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  write_limit("1000000\n");
  int rc;
  macho_cache *c = open_pressured(&clk, 0.5, 0, &rc);
  assert_int_equal(rc, MACHO_OK);
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.capacity_bytes, 500000);
  fill(c, 20000);
  ct = test_counters(c);
  assert_true(ct.charged_bytes <= 500000);
  assert_true(ct.charged_bytes > 400000);
  /* The container's limit drops: within a second of cache clock, a put
   * notices and the cache shrinks to the new share. */
  write_limit("200000\n");
  fill(c, 10);
  assert_int_equal(test_counters(c).capacity_bytes, 500000); /* not yet: checked once a second */
  clk.now_ns += 1000000000ull;
  fill(c, 1);
  ct = test_counters(c);
  assert_int_equal(ct.capacity_bytes, 100000);
  assert_true(ct.charged_bytes <= 100000);
  /* No limit any more ("max"): no budget but the user's, none here. */
  write_limit("max\n");
  clk.now_ns += 1000000000ull;
  fill(c, 1);
  assert_int_equal(test_counters(c).capacity_bytes, 0);
  fill(c, 20000);
  assert_int_equal(test_counters(c).entries, 20000);
  macho_close(c);
}

static void the_users_budget_caps_the_cgroup_share(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  write_limit("10000000");
  int rc;
  macho_cache *c = open_pressured(&clk, 1.0, 300000, &rc);
  assert_int_equal(rc, MACHO_OK);
  assert_int_equal(test_counters(c).capacity_bytes, 300000); /* the smaller */
  write_limit("100000");
  clk.now_ns += 2000000000ull;
  fill(c, 1);
  assert_int_equal(test_counters(c).capacity_bytes, 100000);
  /* A resize changes the user's part; the cgroup's share still caps it. */
  assert_int_equal(macho_resize(c, MACHO_RESIZE_KEEP, 50000), MACHO_OK);
  assert_int_equal(test_counters(c).capacity_bytes, 50000);
  assert_int_equal(macho_resize(c, MACHO_RESIZE_KEEP, 900000), MACHO_OK);
  assert_int_equal(test_counters(c).capacity_bytes, 100000);
  macho_config got;
  assert_int_equal(macho_config_get(c, &got), MACHO_OK);
  assert_string_equal(got.memory_max_path, path);
  macho_close(c);
}

static void bad_limit_files_and_fractions_are_refused(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  int rc;
  unlink(path);
  assert_null(open_pressured(&clk, 0.5, 0, &rc));
  assert_int_equal(rc, MACHO_EIO); /* a named file that is not there */
  write_limit("lots");
  assert_null(open_pressured(&clk, 0.5, 0, &rc));
  assert_int_equal(rc, MACHO_EIO);
  write_limit("-5");
  assert_null(open_pressured(&clk, 0.5, 0, &rc));
  assert_int_equal(rc, MACHO_EIO);
  macho_config cfg;
  macho_config_init(&cfg);
  const char *why;
  cfg.memory_max_fraction = 1.5;
  assert_int_equal(macho_config_check(&cfg, &why), MACHO_EINVAL);
  assert_non_null(strstr(why, "memory_max_fraction"));
  cfg.memory_max_fraction = -0.1;
  assert_int_equal(macho_config_check(&cfg, &why), MACHO_EINVAL);
  /* A limit that goes unreadable later keeps the last one. */
  write_limit("400000");
  macho_cache *c = open_pressured(&clk, 0.5, 0, &rc);
  assert_int_equal(rc, MACHO_OK);
  unlink(path);
  clk.now_ns += 5000000000ull;
  fill(c, 1);
  assert_int_equal(test_counters(c).capacity_bytes, 200000);
  macho_close(c);
}

/* Without a path the process's own cgroup is looked up; a machine with no
 * limit (or no cgroup v2) just has no cgroup budget. Either way open works
 * and the budget is the share of what the file says. */
static void the_processes_own_cgroup_is_found(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.memory_max_fraction = 0.25;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  macho_config got;
  assert_int_equal(macho_config_get(c, &got), MACHO_OK);
  macho_counters ct = test_counters(c);
  if (!got.memory_max_path) {
    assert_int_equal(ct.capacity_bytes, 0);
    macho_close(c);
    skip(); /* visible: no cgroup limit file on this machine */
  }
  FILE *f = fopen(got.memory_max_path, "r");
  assert_non_null(f);
  char buf[64] = {0};
  assert_non_null(fgets(buf, sizeof buf, f));
  fclose(f);
  if (strncmp(buf, "max", 3) == 0) assert_int_equal(ct.capacity_bytes, 0);
  else {
    unsigned long long lim = strtoull(buf, NULL, 10);
    if (lim >= (1ull << 62)) assert_int_equal(ct.capacity_bytes, 0);
    else assert_int_equal(ct.capacity_bytes, (uint64_t)(0.25 * (double)lim));
  }
  fprintf(stderr, "# cgroup limit file %s: %s", got.memory_max_path, buf);
  macho_close(c);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(the_budget_follows_the_cgroup_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(the_users_budget_caps_the_cgroup_share, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_limit_files_and_fractions_are_refused, setup, teardown),
      cmocka_unit_test(the_processes_own_cgroup_is_found),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
