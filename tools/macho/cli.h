/*
 * cli.h -- what the macho CLI's subcommands share.
 *
 * A subcommand is one file and one line in main.c's command table. Most
 * declare their options as a table (cli_option) in a cli_spec: one parser
 * (opts.c) then reads --opt value, --opt=value, -o value, -ovalue, clustered
 * flags, "--" and -h/--help/-V/--version the same way for every command, and
 * the same table generates `--help`, `macho help CMD`, the man page (`macho
 * help --man`) and the bash completion (`macho help --bash-completion`), so
 * the documentation cannot drift from what is parsed. Parsing and checking
 * print nothing and never exit: a command is validated completely before it
 * prints its first line, and the fuzzer (fuzz/fuzz_cli.c) calls them as
 * functions. A command may instead take raw argv (`run`, with `summary` and
 * `usage` for the help texts).
 */
#ifndef MACHO_CLI_H
#define MACHO_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: 0 ok, 1 runtime failure, 2 usage error. */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2
/* cli_parse results that are not errors: the caller prints help or the version. */
#define CLI_HELP 100
#define CLI_VERSION 101

#define CLI_MAX_ARGS 8
#define CLI_ERR 1024 /* room for a message */

typedef enum cli_kind {
  CLI_FLAG,   /* bool; takes no value */
  CLI_STRING, /* const char * */
  CLI_CHOICE, /* const char *, one of `choices` ("a|b|c") */
  CLI_U64,    /* uint64_t in [min, max] */
  CLI_DOUBLE, /* double in [min, max], finite */
} cli_kind;

#define CLI_REQUIRED 1u /* the option must be given */

typedef struct cli_option {
  const char *name;   /* long name, without "--" */
  char short_name;    /* 0 = none */
  cli_kind kind;
  size_t offset;      /* offsetof(the command's option struct, field) */
  const char *metavar; /* "N", "FILE", "P1,P2,..." (not for flags) */
  const char *help;   /* one line, no final period */
  unsigned flags;     /* CLI_REQUIRED */
  double min, max;    /* CLI_U64, CLI_DOUBLE */
  const char *choices; /* CLI_CHOICE: "entries|bytes" */
  /* The default as documented, when the value in the defaults struct does
   * not say it ("number of CPUs"); NULL = print the struct's value, or none. */
  const char *default_text;
  /* Bash completion of the value: "file", "formats", "policies" (a comma
   * list, with belady and all), "policy" (one, or all), or NULL (none). */
  const char *complete;
} cli_option;

/* The fields every option has; add .min/.max, .flags, .choices, .default_text
 * and .complete as designated initializers after it. */
#define CLI_OPT(name_, short_, kind_, type_, field_, metavar_, help_)                                  \
  .name = (name_), .short_name = (short_), .kind = (kind_), .offset = offsetof(type_, field_),       \
  .metavar = (metavar_), .help = (help_)

/* Every option struct starts with this. */
typedef struct cli_base {
  uint64_t given; /* bit i set: options[i] appeared on the command line */
  int nargs;
  const char *args[CLI_MAX_ARGS]; /* positional arguments */
} cli_base;

typedef struct cli_spec {
  const char *name;
  const char *summary;      /* one line for `macho help` */
  const char *args;         /* positional synopsis: "TRACE", "URL KEY", "[COMMAND]" */
  int min_args, max_args;
  const char *description;  /* paragraphs (blank-line separated) for --help and the man page */
  const char *examples;     /* one command per line, or NULL */
  const cli_option *options; /* ends with {0} */
  size_t opts_size;
  const void *defaults;     /* a struct of opts_size bytes holding every default */
  /* Cross-field validation and parsing of values (lists, URLs): no output,
   * no side effects. CLI_OK, or CLI_USAGE with a message in err. NULL = none. */
  int (*check)(void *opts, char *err, size_t errlen);
  int (*run)(void *opts);   /* after check: the command itself; returns an exit code */
  void (*cleanup)(void *opts); /* frees what check allocated; NULL = nothing */
} cli_spec;

typedef struct cli_command {
  const char *name;                  /* NULL: spec->name */
  int (*run)(int argc, char **argv); /* raw commands: argv[0] is the name */
  const char *summary;               /* raw commands: one line */
  const char *usage;                 /* raw commands: full usage text */
  const cli_spec *spec;              /* declarative commands */
} cli_command;

/* A table line for a raw command: CLI_RAW("bench", cmd_bench, "one line", "usage: ...\n"). */
#define CLI_RAW(name_, run_, summary_, usage_) {.name = (name_), .run = (run_), .summary = (summary_), .usage = (usage_)}

/* The commands, one file each, listed in main.c's table. A raw command
 * declares `int cmd_NAME(int argc, char **argv);` here instead. */
extern const cli_spec cli_spec_demo, cli_spec_sim, cli_spec_stats, cli_spec_clear, cli_spec_get,
    cli_spec_del, cli_spec_filters, cli_spec_help;
extern const cli_spec cli_spec_tier_demo; /* tier_demo.c */

/* The command table (main.c). */
const cli_command *cli_find(const char *name);
const cli_command *cli_command_at(size_t i); /* NULL past the last */
const char *cli_command_name(const cli_command *c);
const char *cli_command_summary(const cli_command *c);
/* The whole CLI: what main() calls. */
int cli_main(int argc, char **argv);

/* ---- opts.c: the parser and the texts generated from the tables ---------- */

/* Parse argv (argv[0] = the command's name) into opts, which must hold
 * spec->defaults already. Returns CLI_OK, CLI_HELP, CLI_VERSION or CLI_USAGE
 * with a message in err. Prints nothing. */
int cli_parse(const cli_spec *spec, int argc, char **argv, void *opts, char *err, size_t errlen);
/* Defaults, parse and check in one: what a command runs before anything else. */
int cli_prepare(const cli_spec *spec, int argc, char **argv, void *opts, char *err, size_t errlen);
/* true when option `name` was given (after cli_parse). */
bool cli_given(const cli_spec *spec, const void *opts, const char *name);
/* `macho CMD --help` */
void cli_print_help(FILE *f, const cli_spec *spec);
/* the man page (roff) and the bash completion script, from the command table */
void cli_print_man(FILE *f);
void cli_print_bash_completion(FILE *f);

/* printf into err (always NUL-terminated); returns CLI_USAGE, for check(). */
int cli_usage_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- helpers for subcommands -------------------------------------------- */

/* Parsing helpers for raw commands: print a message naming the option and
 * return false on bad input. */
bool cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
bool cli_parse_double(const char *opt, const char *s, double min, double max, double *out);
/* Monotonic seconds, for reporting rates. */
double cli_now(void);
/* Online CPUs (at least 1). */
unsigned cli_cpus(void);
/* Write s as a JSON string (quoted, escaped). */
void cli_json_string(FILE *f, const char *s);

/* Zipf(s) sampler over [0, n) by rejection-inversion (Hörmann & Derflinger 1996):
 * O(1) per draw, no table. */
typedef struct cli_zipf {
  double n, s, h_x1, h_n, threshold;
  uint64_t rng;
} cli_zipf;
void cli_zipf_init(cli_zipf *z, uint64_t n, double s, uint64_t seed);
uint64_t cli_zipf_next(cli_zipf *z);
uint64_t cli_rand(uint64_t *state);

/* Policy names for messages: "lru, fifo, ..., wtinylfu" (available ones). */
const char *cli_policy_names(void);

/* Raw commands (CLI_RAW lines in main.c's table). */
int cmd_bench(int argc, char **argv); /* bench.c */
extern const char cli_bench_usage[];  /* bench.c: its usage, for `macho help bench` */
int cmd_snapshot(int argc, char **argv); /* snapshot.c: save a running cache through its dashboard */
int cmd_restore(int argc, char **argv);  /* snapshot.c: load a snapshot into it */

#endif
