/* support.c -- see support.h. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>

uint64_t test_clock_fn(void *ctx) { return ((test_clock *)ctx)->now_ns; }

static int should_fail(test_alloc *ta) {
  uint64_t call = ++ta->calls, at = ta->fail_at;
  if (at && (call == at || (ta->fail_all_after && call > at))) {
    ta->failed++;
    return 1;
  }
  return 0;
}

static void *ta_malloc(void *ctx, size_t size) {
  test_alloc *ta = ctx;
  if (should_fail(ta)) return NULL;
  void *p = malloc(size);
  if (p) {
    ta->live_blocks++;
    ta->live_bytes += (int64_t)size;
  }
  return p;
}

static void *ta_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
  test_alloc *ta = ctx;
  if (should_fail(ta)) return NULL;
  void *p = realloc(ptr, new_size);
  if (p) {
    if (!ptr) ta->live_blocks++;
    ta->live_bytes += (int64_t)new_size - (int64_t)old_size;
  }
  return p;
}

static void ta_free(void *ctx, void *ptr, size_t size) {
  test_alloc *ta = ctx;
  if (!ptr) return;
  ta->live_blocks--;
  ta->live_bytes -= (int64_t)size;
  free(ptr);
}

macho_allocator test_alloc_hooks(test_alloc *ta) {
  macho_allocator a = {ta_malloc, ta_realloc, ta_free, ta};
  return a;
}

/* The seed CI uses: fixed, so that a red run is red again on replay. */
#define TEST_DEFAULT_SEED 20240611ull

uint64_t test_seed(void) {
  static uint64_t seed;
  static int done;
  if (!done) {
    const char *s = getenv("MACHO_TEST_SEED");
    const char *how = "fixed default";
    if (!s || !*s) {
      seed = TEST_DEFAULT_SEED;
    } else if (strcmp(s, "random") == 0) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts); /* a fresh seed, not a measurement */
      seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
      how = "fresh";
    } else {
      char *end = NULL;
      errno = 0;
      seed = strtoull(s, &end, 0);
      if (errno || !end || *end) {
        fprintf(stderr, "MACHO_TEST_SEED=%s: expected a number or \"random\"\n", s);
        exit(2);
      }
      how = "from MACHO_TEST_SEED";
    }
    fprintf(stderr, "# MACHO_TEST_SEED=%llu (%s; MACHO_TEST_SEED=<n> replays, =random draws a fresh one)\n",
            (unsigned long long)seed, how);
    done = 1;
  }
  return seed;
}

uint64_t test_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

macho_counters test_counters(macho_cache *c) {
  macho_counters ct;
  assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
  return ct;
}

int test_sanitized(void) {
  const char *s = getenv("MACHO_SANITIZED");
  return s && *s && strcmp(s, "0") != 0;
}

uint64_t test_scale(uint64_t n, uint64_t divisor) {
  if (!test_sanitized() || divisor <= 1) return n;
  return n / divisor ? n / divisor : 1;
}
