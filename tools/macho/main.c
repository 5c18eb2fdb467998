/*
 * main.c -- the macho CLI: dispatches to one subcommand per file.
 */
#include "cli.h"

#include <macho/macho.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmd_help(int argc, char **argv);

static const cli_command commands[] = {
    {"demo", cmd_demo, "run a skewed (Zipf) workload through each policy and print a table",
     "macho demo [--policy P|all] [--shards N] [--seconds S] [--capacity N] [--keys N]\n"
     "           [--dashboard [--port N] [--manage] [--token T]]\n"
     "  --dashboard  serve the live dashboard for one policy (lru unless --policy) and print its\n"
     "               URL; runs 600 s unless --seconds. --port N (default 0 = any free port);\n"
     "               --manage enables clear/get/del; --token T binds 0.0.0.0 guarded by T.\n"},
    {"sim", cmd_sim, "replay a cache trace through each policy and report miss ratios",
     "macho sim TRACE --format lirs|txt|csv|oracleGeneral|vscsi --policy P1,P2,...|all\n"
     "          --size N1,N2%,... [--json] [--plot FILE.svg|FILE.png] [--time]\n"},
    {"stats", cmd_stats, "show a running cache's figures from its dashboard URL",
     "macho stats URL [--watch [--interval S] [--count N]] [--json] [--token T]\n"},
    {"clear", cmd_clear, "clear a running cache (dashboard with management on)", "macho clear URL [--token T]\n"},
    {"get", cmd_get, "print a key's value from a running cache (management on)", "macho get URL KEY [--token T]\n"},
    {"del", cmd_del, "delete a key from a running cache (management on)", "macho del URL KEY [--token T]\n"},
    {"filters", cmd_filters, "measure each membership filter: false-positive rate, bits per key, ns",
     "macho filters [--fp P] [--n N] [--churn X] [--json] [--seed S]\n"},
    {"help", cmd_help, "show help for a command", "macho help [COMMAND]\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_find(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

static void usage(FILE *f) {
  fprintf(f, "macho %s -- an in-memory cache: demo, simulate, benchmark, inspect\n\n"
             "usage: macho COMMAND [OPTIONS]\n       macho --version\n\ncommands:\n",
          macho_version_string());
  for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'macho help COMMAND' shows a command's options.\n");
}

static int cmd_help(int argc, char **argv) {
  if (argc < 2) {
    usage(stdout);
    return CLI_OK;
  }
  const cli_command *c = cli_find(argv[1]);
  if (!c) {
    fprintf(stderr, "macho: unknown command '%s'\n", argv[1]);
    return CLI_USAGE;
  }
  printf("%s\n\nusage: %s", c->summary, c->usage);
  return CLI_OK;
}

bool cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  if (!s || !*s || *s == '-') goto bad;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || v < min || v > max) goto bad;
  *out = v;
  return true;
bad:
  fprintf(stderr, "macho: %s expects a whole number from %llu to %llu, got '%s'\n", opt,
          (unsigned long long)min, (unsigned long long)max, s ? s : "");
  return false;
}

bool cli_parse_double(const char *opt, const char *s, double min, double max, double *out) {
  char *end;
  if (!s || !*s) goto bad;
  double v = strtod(s, &end);
  if (*end || isnan(v) || v < min || v > max) goto bad;
  *out = v;
  return true;
bad:
  fprintf(stderr, "macho: %s expects a number from %g to %g, got '%s'\n", opt, min, max, s ? s : "");
  return false;
}

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

uint64_t cli_rand(uint64_t *state) { /* splitmix64 */
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double zipf_h(double x, double s) { return s == 1.0 ? log(x) : (pow(x, 1.0 - s) - 1.0) / (1.0 - s); }
static double zipf_hinv(double x, double s) { return s == 1.0 ? exp(x) : pow(1.0 + x * (1.0 - s), 1.0 / (1.0 - s)); }

void cli_zipf_init(cli_zipf *z, uint64_t n, double s, uint64_t seed) {
  z->n = (double)n;
  z->s = s;
  z->rng = seed;
  z->h_x1 = zipf_h(1.5, s) - 1.0;
  z->h_n = zipf_h(z->n + 0.5, s);
  z->threshold = 2.0 - zipf_hinv(zipf_h(2.5, s) - pow(2.0, -s), s);
}

uint64_t cli_zipf_next(cli_zipf *z) {
  for (;;) {
    double u = z->h_n + (double)(cli_rand(&z->rng) >> 11) * 0x1.0p-53 * (z->h_x1 - z->h_n);
    double x = zipf_hinv(u, z->s);
    double k = floor(x + 0.5);
    if (k < 1) k = 1;
    if (k > z->n) k = z->n;
    if (k - x <= z->threshold || u >= zipf_h(k + 0.5, z->s) - pow(k, -z->s)) return (uint64_t)k - 1;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_USAGE;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("macho %s\n", macho_version_string());
    return CLI_OK;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(stdout);
    return CLI_OK;
  }
  const cli_command *c = cli_find(argv[1]);
  if (!c) {
    fprintf(stderr, "macho: unknown command '%s' (try 'macho help')\n", argv[1]);
    return CLI_USAGE;
  }
  return c->run(argc - 1, argv + 1);
}
