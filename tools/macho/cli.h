/*
 * cli.h -- what the macho CLI's subcommands share. Each subcommand is one
 * file defining `int cmd_NAME(int argc, char **argv)` (argv[0] is the
 * subcommand's name) and one line in main.c's table.
 */
#ifndef MACHO_CLI_H
#define MACHO_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes: 0 ok, 1 runtime failure, 2 usage error. */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

typedef struct cli_command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary; /* one line for `macho help` */
  const char *usage;   /* full usage for `macho help NAME` */
} cli_command;

const cli_command *cli_find(const char *name);

/* Parsing helpers: print a message naming the option and return false on bad input. */
bool cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
bool cli_parse_double(const char *opt, const char *s, double min, double max, double *out);
/* Monotonic seconds, for reporting rates. */
double cli_now(void);

/* Zipf(s) sampler over [0, n) by rejection-inversion (Hörmann & Derflinger 1996):
 * O(1) per draw, no table. */
typedef struct cli_zipf {
  double n, s, h_x1, h_n, threshold;
  uint64_t rng;
} cli_zipf;
void cli_zipf_init(cli_zipf *z, uint64_t n, double s, uint64_t seed);
uint64_t cli_zipf_next(cli_zipf *z);
uint64_t cli_rand(uint64_t *state);

int cmd_demo(int argc, char **argv);
/* stats.c: clients of a running dashboard */
int cmd_stats(int argc, char **argv);
int cmd_clear(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_filters(int argc, char **argv);

#endif
