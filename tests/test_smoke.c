/* test_smoke.c -- the basic contract, end to end, in both modes. */
#include "support.h"

#include <string.h>

static void put_then_get_returns_the_value(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  macho_cache *c;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  assert_int_equal(macho_put(c, "k", 1, "value", 5), MACHO_OK);
  char buf[16];
  size_t n = 0;
  assert_int_equal(macho_get(c, "k", 1, buf, sizeof buf, &n), MACHO_OK);
  assert_int_equal(n, 5);
  assert_memory_equal(buf, "value", 5);
  assert_int_equal(macho_get(c, "x", 1, buf, sizeof buf, &n), MACHO_ENOTFOUND);
  assert_int_equal(macho_len(c), 1);
  macho_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(put_then_get_returns_the_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
