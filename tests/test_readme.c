/*
 * test_readme.c -- the README's C quick start is the program the suite runs.
 *
 * examples/quickstart.c is compiled and run by ctest (example_quickstart);
 * this test checks that README.md shows that file verbatim, so the README
 * cannot drift from code that is known to build and work.
 */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_DIR MACHO_TEST_DATA "/../.."

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static void readme_shows_the_quickstart_program_verbatim(void **state) {
  (void)state;
  char *readme = slurp(SOURCE_DIR "/README.md");
  char *program = slurp(SOURCE_DIR "/examples/quickstart.c");
  if (!strstr(readme, program))
    fail_msg("README.md does not contain examples/quickstart.c verbatim: copy the file into "
             "the C quick start section");
  free(readme);
  free(program);
}

static void readme_names_the_two_commands(void **state) {
  (void)state;
  char *readme = slurp(SOURCE_DIR "/README.md");
  assert_non_null(strstr(readme, "./scripts/demo.sh"));
  assert_non_null(strstr(readme, "./scripts/test.sh"));
  free(readme);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(readme_shows_the_quickstart_program_verbatim),
      cmocka_unit_test(readme_names_the_two_commands),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
