/*
 * test_header_alone.c -- the public header compiles on its own.
 *
 * <macho/macho.h> is included first, before any system header, so a missing
 * include inside it breaks this build (the compile-alone check picohttpparser
 * and libuv keep). tests/CMakeLists.txt also compiles the header as C++ when
 * a C++ compiler is present (the extern "C" block).
 */
#include <macho/macho.h>

#include "support.h"

/* Every type and macro a user needs is visible from the header alone. */
static void the_public_header_is_self_contained(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  macho_counters ct = {0};
  macho_object_ops ops = {0};
  macho_allocator al = {0};
  macho_status st = MACHO_OK;
  macho_policy p = MACHO_POLICY_LRU;
  macho_filter f = MACHO_FILTER_NONE;
  macho_removal r = MACHO_REMOVED_EVICTED;
  macho_key_fn fn = 0;
  macho_clock_fn clk = 0;
  (void)ct, (void)ops, (void)al, (void)p, (void)f, (void)r, (void)fn, (void)clk;
  assert_int_equal(st, 0);
  assert_true(MACHO_VERSION > 0 || MACHO_VERSION_MINOR > 0);
  assert_int_equal(sizeof(uint64_t), 8); /* <stdint.h> came with the header */
  size_t n = sizeof(macho_config);       /* <stddef.h> too */
  assert_true(n > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_public_header_is_self_contained),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
