/*
 * util.c -- small helpers the subcommands share: number parsing for raw
 * commands, clocks, CPU count, JSON strings, random numbers and a Zipf
 * sampler.
 */
#include "cli.h"

#include <macho/macho.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

unsigned cli_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

void cli_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

const char *cli_policy_names(void) {
  static char names[256];
  if (!names[0])
    for (int p = 0; p < MACHO_POLICY_COUNT; p++)
      if (macho_policy_available((macho_policy)p)) {
        if (names[0]) strcat(names, ", ");
        strcat(names, macho_policy_name((macho_policy)p));
      }
  return names;
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
