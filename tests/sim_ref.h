/*
 * sim_ref.h -- helpers for the suites that compare policies on the shared
 * traces (test_sim_arc.c, test_sim_auto.c): run the built `macho sim` and
 * parse its --json rows, and read the reference table of
 * ../shared/traces/README.md (libCacheSim's miss ratios, one row per
 * (trace, size) point). Header-only (static functions).
 */
#ifndef MACHO_TEST_SIM_REF_H
#define MACHO_TEST_SIM_REF_H

#include "support.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SR_SHARED MACHO_SHARED_DIR "/traces"
#define SR_MAX_ROWS 256
#define SR_MAX_POINTS 128

/* The reference columns of ../shared/traces/README.md, in table order. */
static const char *const SR_COLUMNS[] = {"lru", "fifo", "lfu", "arc", "sieve", "s3fifo", "wtinylfu", "belady"};
enum { SR_NCOLS = 8 };

typedef struct sr_row {
  char policy[16];
  uint64_t size, requests, distinct, hits, misses;
  double miss_ratio;
} sr_row;

typedef struct sr_run {
  int status;
  char *out, *err;
  sr_row rows[SR_MAX_ROWS];
  int nrows;
} sr_run;

typedef struct sr_point {
  char trace[64];
  uint64_t requests, distinct, size;
  double ref[SR_NCOLS];
} sr_point;

static inline char *sr_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return calloc(1, 1);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
  if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
  fclose(f);
  return s;
}

/* Run `macho sim ARGS` (ARGS already shell-quoted), capture and parse. */
static inline sr_run sr_sim(const char *args) {
  static int counter;
  char out[128], err[128];
  snprintf(out, sizeof out, "/tmp/macho_sr_%d_%d.out", (int)getpid(), counter);
  snprintf(err, sizeof err, "/tmp/macho_sr_%d_%d.err", (int)getpid(), counter++);
  size_t len = strlen(MACHO_CLI) + strlen(args) + 2 * sizeof out + 32;
  char *cmd = malloc(len);
  snprintf(cmd, len, "'%s' sim %s >%s 2>%s", MACHO_CLI, args, out, err);
  sr_run r = {0};
  int st = system(cmd);
  free(cmd);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = sr_slurp(out);
  r.err = sr_slurp(err);
  unlink(out);
  unlink(err);
  for (char *line = r.out; line && *line && r.nrows < SR_MAX_ROWS;) {
    char *end = strchr(line, '\n');
    if (end) *end = '\0';
    sr_row *w = &r.rows[r.nrows];
    char *p = strstr(line, "\"policy\":\"");
    if (p && sscanf(p, "\"policy\":\"%15[^\"]\",\"size\":%" SCNu64 ",\"requests\":%" SCNu64
                       ",\"distinct\":%" SCNu64 ",\"hits\":%" SCNu64 ",\"misses\":%" SCNu64
                       ",\"miss_ratio\":%lf",
                    w->policy, &w->size, &w->requests, &w->distinct, &w->hits, &w->misses,
                    &w->miss_ratio) == 7)
      r.nrows++;
    if (end) *end = '\n';
    line = end ? end + 1 : NULL;
  }
  return r;
}

static inline void sr_free(sr_run *r) {
  free(r->out);
  free(r->err);
}

static inline const sr_row *sr_find(const sr_run *r, const char *policy, uint64_t size) {
  for (int i = 0; i < r->nrows; i++)
    if (strcmp(r->rows[i].policy, policy) == 0 && r->rows[i].size == size) return &r->rows[i];
  fail_msg("no row for %s at size %llu in:\n%s%s", policy, (unsigned long long)size, r->out, r->err);
  return NULL;
}

static inline int sr_column(const char *policy) {
  for (int i = 0; i < SR_NCOLS; i++)
    if (strcmp(SR_COLUMNS[i], policy) == 0) return i;
  return -1;
}

/* true when ../shared/traces is there; otherwise says so (the caller skips). */
static inline bool sr_have_shared(void) {
  struct stat sb;
  if (stat(SR_SHARED "/README.md", &sb) == 0) return true;
  printf("../shared/traces absent: skipping the comparisons on the shared traces\n");
  return false;
}

/* Every (trace, size) row of the README's reference table. */
static inline int sr_points(sr_point *pts, int max) {
  FILE *f = fopen(SR_SHARED "/README.md", "r");
  assert_non_null(f);
  char line[1024];
  int n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    sr_point *p = &pts[n];
    char *s = line;
    if (*s != '|') continue;
    char name[64];
    int used = 0;
    if (sscanf(s, "| %63s | %" SCNu64 " | %" SCNu64 " | %" SCNu64 " |%n", name, &p->requests, &p->distinct,
               &p->size, &used) != 4)
      continue;
    s += used;
    int k = 0;
    for (; k < SR_NCOLS; k++) {
      int m = 0;
      if (sscanf(s, " %lf |%n", &p->ref[k], &m) != 1) break;
      s += m;
    }
    if (k != SR_NCOLS) continue;
    snprintf(p->trace, sizeof p->trace, "%s", name);
    n++;
  }
  fclose(f);
  return n;
}

/* The shared file and --format of a trace name ("lirs_cpp" -> .trace.gz, lirs). */
static inline void sr_trace_file(const char *trace, char *path, size_t n, const char **fmt) {
  struct stat sb;
  snprintf(path, n, SR_SHARED "/%.63s.trace.gz", trace);
  *fmt = "lirs";
  if (stat(path, &sb) == 0) return;
  snprintf(path, n, SR_SHARED "/%.63s.oracleGeneral.bin", trace);
  *fmt = "oracleGeneral";
  if (stat(path, &sb) == 0) return;
  snprintf(path, n, SR_SHARED "/%.63s.txt.zst", trace);
  *fmt = "txt";
}

/* Whether pts[i] is the first point of its trace (one `macho sim` run per trace). */
static inline bool sr_first_of_trace(const sr_point *pts, int i) {
  for (int j = 0; j < i; j++)
    if (strcmp(pts[j].trace, pts[i].trace) == 0) return false;
  return true;
}

/* The sizes of `trace` among pts, as "s1,s2,s3". Returns how many. */
static inline int sr_sizes_of(const sr_point *pts, int npts, const char *trace, char *out, size_t n) {
  int k = 0;
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < npts; i++)
    if (strcmp(pts[i].trace, trace) == 0) {
      used += (size_t)snprintf(out + used, n - used, "%s%" PRIu64, k ? "," : "", pts[i].size);
      k++;
    }
  return k;
}

#endif
