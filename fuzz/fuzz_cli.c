/*
 * fuzz_cli.c -- the macho CLI's argument parsing and validation, as
 * functions: for every subcommand, the option parser (tools/macho/opts.c)
 * and the command's check (lists of sizes and policies, URLs, listen
 * addresses, tokens, the cache configuration) on argv vectors made from the
 * input; and the dashboard client's JSON reader (tools/macho/json.c) on the
 * same bytes. Nothing is run: a command's check has no side effects and
 * prints nothing (that is the contract that lets the CLI validate all input
 * before its first line of output), so a fuzzer can call it millions of
 * times.
 *
 * Input: byte 0 picks the command (mod the table's size) or, when 0xff, the
 * JSON reader; the rest is argv, NUL-separated. What must hold: no crash,
 * leak or sanitizer report; cli_prepare returns one of CLI_OK, CLI_USAGE,
 * CLI_HELP, CLI_VERSION; a usage error has a message, and no message ever
 * exceeds its buffer; parsing the same argv twice gives the same result
 * (the parser keeps no state); the help text, the man page and the
 * completion script render for every command.
 */
#include "cli.h"
#include "json.h"

/* fuzz/CMakeLists.txt builds targets named fuzz_cli* with every source of
 * tools/macho/, main.c's main() renamed: the command table is there. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "FUZZ FAILURE (%s:%d): %s\n", __FILE__, __LINE__, #cond);               \
      abort();                                                                                 \
    }                                                                                          \
  } while (0)

#define MAX_ARGS 48

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  devnull = fopen("/dev/null", "w");
  /* the generated texts, once: they walk every table */
  cli_print_man(devnull);
  cli_print_bash_completion(devnull);
  for (size_t i = 0; cli_command_at(i); i++)
    if (cli_command_at(i)->spec) cli_print_help(devnull, cli_command_at(i)->spec);
  return 0;
}

static void fuzz_json(const uint8_t *data, size_t size) {
  char err[200];
  json *j = json_parse((const char *)data, size, err, sizeof err);
  if (!j) {
    CHECK(strncmp(err, "byte ", 5) == 0);
    return;
  }
  /* walk what a client reads */
  (void)json_u64(json_path(j, "total.hits"), 0);
  (void)json_str(json_path(j, "config.policy"), "");
  const json *b = json_path(j, "latency_ns.get.buckets");
  for (size_t i = 0; json_at(b, i); i++) (void)json_num(json_at(json_at(b, i), 2), 0);
  json_free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!devnull) LLVMFuzzerInitialize(NULL, NULL);
  if (size < 1 || size > 4096) return 0;
  if (data[0] == 0xff) {
    fuzz_json(data + 1, size - 1);
    return 0;
  }
  size_t ncmd = 0;
  while (cli_command_at(ncmd)) ncmd++;
  const cli_command *c = cli_command_at(data[0] % ncmd);
  if (!c->spec) return 0; /* a raw command parses its own argv when run */
  const cli_spec *s = c->spec;

  /* argv: argv[0] = the command's name, then the NUL-separated words */
  char *buf = malloc(size);
  CHECK(buf);
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  char *argv[MAX_ARGS + 2];
  int argc = 0;
  argv[argc++] = (char *)s->name;
  for (char *p = buf; p < buf + size - 1 && argc < MAX_ARGS;) {
    argv[argc++] = p;
    p += strlen(p) + 1;
  }
  argv[argc] = NULL;

  void *a = malloc(s->opts_size), *b = malloc(s->opts_size);
  CHECK(a && b);
  char err_a[CLI_ERR], err_b[CLI_ERR];
  int ra = cli_prepare(s, argc, argv, a, err_a, sizeof err_a);
  int rb = cli_prepare(s, argc, argv, b, err_b, sizeof err_b);
  CHECK(ra == CLI_OK || ra == CLI_USAGE || ra == CLI_HELP || ra == CLI_VERSION);
  CHECK(ra == rb);
  if (ra == CLI_USAGE) {
    CHECK(err_a[0] != '\0');
    CHECK(strlen(err_a) < sizeof err_a);
    CHECK(strcmp(err_a, err_b) == 0);
  }
  if (ra == CLI_OK) {
    const cli_base *ba = a;
    CHECK(ba->nargs >= s->min_args && ba->nargs <= s->max_args);
  }
  if (s->cleanup) {
    s->cleanup(a);
    s->cleanup(b);
  }
  free(a);
  free(b);
  free(buf);
  return 0;
}
