/*
 * test_fuzz_findings.c -- one test per library defect the fuzz targets of
 * fuzz/ found, each failing without its fix (docs/RELIABILITY.md, section
 * Fuzzing, lists them with the target and input that found them).
 *
 * Black-box: macho.h only, so that they keep guarding while the core changes.
 */
#include "support.h"

#include <stdio.h>
#include <string.h>

/* fuzz_config: a frozen injected clock 64 us before UINT64_MAX and a TTL of
 * 1 ns. The deadline (now + 1 ns) fits the clock, but it is stored rounded
 * up to a 100 us tick, and epoch + ticks wrapped past 2^64: the entry was
 * expired before it was written, so the get right after a successful put
 * missed. A deadline beyond the clock's range means "never expires" (as
 * for a TTL that does not fit at all). Checked over the tick sizes' edges:
 * TTLs from 1 ns to beyond a 1-second tick, clocks up to 2 s before the end. */
static void a_deadline_rounded_past_the_end_of_the_clock_never_expires(void **state) {
  (void)state;
  static const uint64_t before_end[] = {1, 65536, 99999, 100000, 100001, 999999999, 1000000000, 2000000000};
  static const double ttls[] = {1e-9, 1e-6, 9.9e-5, 1e-4, 0.001, 0.5, 1.0, 3.0};
  int bad = 0;
  for (size_t i = 0; i < sizeof before_end / sizeof before_end[0]; i++) {
    for (size_t j = 0; j < sizeof ttls / sizeof ttls[0]; j++) {
      for (int own = 0; own < 2; own++) {
        test_clock clk = {UINT64_MAX - before_end[i]};
        macho_config cfg;
        macho_config_init(&cfg);
        cfg.clock = test_clock_fn;
        cfg.clock_ctx = &clk;
        cfg.ttl_seconds = own ? 0 : ttls[j]; /* the default TTL, or the entry's own */
        macho_cache *c = NULL;
        assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
        int rc = own ? macho_put_ttl(c, "k", 1, "v", 1, ttls[j]) : macho_put(c, "k", 1, "v", 1);
        assert_int_equal(rc, MACHO_OK);
        char buf[4];
        size_t n = 0;
        /* The clock has not moved: the entry's TTL has not run out. */
        if (macho_get(c, "k", 1, buf, sizeof buf, &n) != MACHO_OK || macho_contains(c, "k", 1) != MACHO_OK) {
          fprintf(stderr, "# clock UINT64_MAX-%llu, %s TTL %g s: the entry is gone at once\n",
                  (unsigned long long)before_end[i], own ? "own" : "default", ttls[j]);
          bad++;
        }
        macho_close(c);
      }
    }
  }
  assert_int_equal(bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_deadline_rounded_past_the_end_of_the_clock_never_expires),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
