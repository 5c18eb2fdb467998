/* support.h -- shared test helpers: an injectable clock, a failing allocator, seeds. */
#ifndef MACHO_TEST_SUPPORT_H
#define MACHO_TEST_SUPPORT_H

#include <macho/macho.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* A clock tests move by hand: pass test_clock_fn and &clock as config.clock/clock_ctx. */
typedef struct test_clock {
  uint64_t now_ns;
} test_clock;
uint64_t test_clock_fn(void *ctx);

/* An allocator that fails the n-th allocation (1-based; 0 = never) and counts
 * live blocks and bytes, so tests can check leaks and OOM behaviour. The
 * fields are atomic, so one allocator can serve a cache used by several
 * threads (the soak, the dashboard's server thread). */
typedef struct test_alloc {
  _Atomic uint64_t calls;   /* malloc/realloc calls so far */
  _Atomic uint64_t fail_at; /* fail this call number (0 = never) */
  _Atomic int fail_all_after; /* once failed, fail every later call too */
  _Atomic int64_t live_blocks;
  _Atomic int64_t live_bytes;
  _Atomic uint64_t failed;  /* calls made to fail so far */
} test_alloc;
macho_allocator test_alloc_hooks(test_alloc *ta);

/* The whole cache's counters (macho_counters_get with shard -1), asserting success. */
macho_counters test_counters(macho_cache *c);

/* Seed for randomised tests, printed once to stderr. Unset: a fixed default
 * (what CI runs, so every run is reproducible); MACHO_TEST_SEED=<number>
 * replays a printed seed; MACHO_TEST_SEED=random draws a fresh one:
 *   MACHO_TEST_SEED=random ctest --test-dir build/release
 * (docs/RELIABILITY.md, "Seeds"). Every suite derives its streams from it. */
uint64_t test_seed(void);
uint64_t test_rand(uint64_t *state);

/* 1 when $MACHO_SANITIZED is set (scripts/test.sh sets it for the ASan and
 * TSan stages), so that heavy loops can run fewer iterations there. */
int test_sanitized(void);
/* n in a release build, n / divisor (at least 1) under a sanitizer. */
uint64_t test_scale(uint64_t n, uint64_t divisor);

#endif
