/*
 * main.c -- the macho CLI: the command table and the dispatcher.
 *
 * Adding a subcommand is one new file (tools/macho/NAME.c, defining a
 * cli_spec, or a raw `int cmd_NAME(int argc, char **argv)`) and one line in
 * the table below; help, the man page and the bash completion follow from it.
 * Compiled with MACHO_CLI_NO_MAIN it has no main() (the CLI fuzzer's build
 * renames it instead).
 */
#include "cli.h"

#include <macho/macho.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line per command: {.spec = &cli_spec_NAME} for a command with an
 * option table (cli.h), or CLI_RAW("name", cmd_name, "summary", "usage") for
 * one that parses its own argv. The order is the order of `macho help`. */
static const cli_command commands[] = {
    {.spec = &cli_spec_demo},
    {.spec = &cli_spec_sim},
    {.spec = &cli_spec_stats},
    {.spec = &cli_spec_clear},
    {.spec = &cli_spec_get},
    {.spec = &cli_spec_del},
    {.spec = &cli_spec_filters},
    CLI_RAW("snapshot", cmd_snapshot, "save a running cache to FILE (management on, token required)",
            "macho snapshot URL FILE [--token T]\n  FILE is written atomically; `macho restore` or macho_load reads it back\n"),
    CLI_RAW("restore", cmd_restore, "load a snapshot FILE into a running cache (management on, token required)",
            "macho restore URL FILE [--token T]\n  the server checks the whole file before it touches the cache\n"),
    CLI_RAW("bench", cmd_bench, "macho's speed and memory against a bare table and its peers, in one run",
            cli_bench_usage),
    {.spec = &cli_spec_tier_demo},
    {.spec = &cli_spec_help},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_command_at(size_t i) { return i < NCOMMANDS ? &commands[i] : NULL; }
const char *cli_command_name(const cli_command *c) { return c->name ? c->name : c->spec->name; }
const char *cli_command_summary(const cli_command *c) { return c->spec ? c->spec->summary : c->summary; }

const cli_command *cli_find(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (name && strcmp(cli_command_name(&commands[i]), name) == 0) return &commands[i];
  return NULL;
}

static void usage(FILE *f) {
  fprintf(f, "macho %s -- an in-memory cache: demo, simulate traces, inspect a running cache\n\n"
             "usage: macho COMMAND [OPTIONS] [ARGUMENTS]\n       macho help [COMMAND]\n"
             "       macho --version\n\ncommands:\n",
          macho_version_string());
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-10s %s\n", cli_command_name(&commands[i]), cli_command_summary(&commands[i]));
  fprintf(f, "\nEvery command takes --help. 'macho help COMMAND' shows a command's options; "
             "'man macho' has them all.\n");
}

/* `macho help [COMMAND]`, and `--help` of raw commands. */
static void command_help(FILE *f, const cli_command *c) {
  if (c->spec) cli_print_help(f, c->spec);
  else fprintf(f, "macho %s -- %s\n\nusage: %s", cli_command_name(c), c->summary, c->usage);
}

/* ---- help: a command like the others ------------------------------------------ */

typedef struct help_opts {
  cli_base base;
  bool man, bash;
} help_opts;

static int help_check(void *p, char *err, size_t errlen) {
  help_opts *o = p;
  if (o->base.nargs && !cli_find(o->base.args[0]))
    return cli_usage_error(err, errlen, "unknown command '%s' (try 'macho help')", o->base.args[0]);
  if (o->base.nargs && (o->man || o->bash))
    return cli_usage_error(err, errlen, "--man and --bash-completion take no COMMAND");
  if (o->man && o->bash) return cli_usage_error(err, errlen, "--man or --bash-completion, not both");
  return CLI_OK;
}

static int help_run(void *p) {
  help_opts *o = p;
  if (o->man) cli_print_man(stdout);
  else if (o->bash) cli_print_bash_completion(stdout);
  else if (o->base.nargs) command_help(stdout, cli_find(o->base.args[0]));
  else usage(stdout);
  return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static const cli_option help_options[] = {
    {CLI_OPT("man", 0, CLI_FLAG, help_opts, man, NULL,
             "print the man page (roff), as installed as macho(1)")},
    {CLI_OPT("bash-completion", 0, CLI_FLAG, help_opts, bash, NULL,
             "print the bash completion script, as installed")},
    {0},
};
static const help_opts help_defaults = {.man = false};

const cli_spec cli_spec_help = {
    .name = "help",
    .summary = "show the help of the CLI or of one command",
    .args = "[COMMAND]",
    .min_args = 0,
    .max_args = 1,
    .description = "Without COMMAND, lists the commands. With one, prints the same text as "
                   "'macho COMMAND --help': every option with its default.",
    .examples = "macho help sim\nmacho help --man | man -l -",
    .options = help_options,
    .opts_size = sizeof(help_opts),
    .defaults = &help_defaults,
    .check = help_check,
    .run = help_run,
};

/* ---- dispatch --------------------------------------------------------------------- */

static int run_spec(const cli_spec *s, int argc, char **argv) {
  void *opts = calloc(1, s->opts_size);
  if (!opts) {
    fprintf(stderr, "macho %s: out of memory\n", s->name);
    return CLI_FAIL;
  }
  char err[CLI_ERR];
  int rc = cli_prepare(s, argc, argv, opts, err, sizeof err);
  if (rc == CLI_HELP) {
    cli_print_help(stdout, s);
    rc = CLI_OK;
  } else if (rc == CLI_VERSION) {
    printf("macho %s\n", macho_version_string());
    rc = CLI_OK;
  } else if (rc != CLI_OK) {
    fprintf(stderr, "macho %s: %s\nTry 'macho %s --help' for more information.\n", s->name, err, s->name);
  } else {
    rc = s->run(opts);
  }
  if (s->cleanup) s->cleanup(opts);
  free(opts);
  return rc;
}

int cli_main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_USAGE;
  }
  const char *a = argv[1];
  if (!strcmp(a, "--version") || !strcmp(a, "-V") || !strcmp(a, "version")) {
    printf("macho %s\n", macho_version_string());
    return CLI_OK;
  }
  if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
    usage(stdout);
    return CLI_OK;
  }
  const cli_command *c = cli_find(a);
  if (!c) {
    fprintf(stderr, "macho: unknown command '%s' (try 'macho help')\n", a);
    return CLI_USAGE;
  }
  if (c->spec) return run_spec(c->spec, argc - 1, argv + 1);
  for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      command_help(stdout, c);
      return CLI_OK;
    }
  return c->run(argc - 1, argv + 1);
}

#ifndef MACHO_CLI_NO_MAIN
int main(int argc, char **argv) { return cli_main(argc, argv); }
#endif
