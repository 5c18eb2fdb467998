/*
 * sim.c -- `macho sim`: replay a real cache trace through the real libmacho
 * cache, once per (policy, size), and report miss ratios.
 *
 * Each simulated cache is a genuine macho_cache (one shard, TTL off, metrics
 * off, bytes mode, 8-byte keys, 1-byte values) driven cache-aside: a get, and
 * a put on a miss. So the numbers describe the code users run, not a separate
 * model of the policy. Belady's MIN (belady.c) is the one simulator-only
 * policy: the lower bound.
 *
 * The trace is streamed once for all caches together: requests are read in
 * batches and each batch is fed to every cache in turn, so memory is the sum
 * of the caches plus one batch, never the trace. A pre-pass over the trace is
 * made only when needed: sizes given as a percentage need the distinct-key
 * count first, and Belady needs every request's next use, which only the
 * oracleGeneral format carries. The pre-pass holds a key -> last index map
 * (about 26-52 bytes per distinct key) and, for Belady, one uint32 per
 * request (4 bytes x requests). Without a pre-pass, the main pass counts the
 * distinct keys with the same kind of map.
 */
#include "belady.h"
#include "cli.h"
#include "trace.h"

#include <errno.h>
#include <macho/macho.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 65536
#define MAX_SIMS 256
#define NEXT_NONE UINT32_MAX

typedef struct size_spec {
  double value;
  bool percent;
} size_spec;

typedef struct sim {
  const char *policy; /* name as printed */
  bool is_belady;
  macho_policy pol;
  uint64_t size;
  macho_cache *cache;
  belady *opt;
  uint64_t hits, misses;
  double seconds;
} sim;

typedef struct sim_opts {
  const char *path;
  const trace_format *fmt;
  const char *policies;
  const char *sizes;
  const char *plot;
  bool json, timing;
} sim_opts;

static const char usage_text[] =
    "macho sim TRACE --format lirs|txt|csv|oracleGeneral|vscsi\n"
    "          --policy P1,P2,...|all --size N1,N2%,... [--json] [--plot FILE.svg|FILE.png] [--time]\n"
    "  Replays TRACE (plain, gzip or zstd) through the real cache, one run per\n"
    "  (policy, size), and prints requests, distinct keys, hits, misses and the\n"
    "  miss ratio. Sizes are entries, or N% of the trace's distinct keys.\n"
    "  Policies: the built ones (see 'macho sim --policy all') and belady (offline\n"
    "  optimum). --time adds requests per second per run (CPU time of the cache\n"
    "  calls only, not of reading the trace).\n";

/* ---- arguments ---------------------------------------------------------------- */

static int parse_args(int argc, char **argv, sim_opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--json") == 0) o->json = true;
    else if (strcmp(a, "--time") == 0) o->timing = true;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage_text, stdout);
      exit(CLI_OK);
    } else if (strcmp(a, "--format") == 0 || strcmp(a, "--policy") == 0 ||
               strcmp(a, "--size") == 0 || strcmp(a, "--plot") == 0) {
      if (!v) {
        fprintf(stderr, "macho sim: %s needs a value\n", a);
        return CLI_USAGE;
      }
      i++;
      if (strcmp(a, "--format") == 0) {
        o->fmt = trace_format_find(v);
        if (!o->fmt) {
          fprintf(stderr, "macho sim: unknown format '%s' (expected %s)\n", v, trace_format_names());
          return CLI_USAGE;
        }
      } else if (strcmp(a, "--policy") == 0) o->policies = v;
      else if (strcmp(a, "--size") == 0) o->sizes = v;
      else o->plot = v;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "macho sim: unknown option '%s'\n\nusage: %s", a, usage_text);
      return CLI_USAGE;
    } else if (o->path) {
      fprintf(stderr, "macho sim: one trace at a time (got '%s' and '%s')\n", o->path, a);
      return CLI_USAGE;
    } else {
      o->path = a;
    }
  }
  const char *missing = !o->path ? "a TRACE" : !o->fmt ? "--format" : !o->policies ? "--policy"
                        : !o->sizes ? "--size" : NULL;
  if (missing) {
    fprintf(stderr, "macho sim: %s is required\n\nusage: %s", missing, usage_text);
    return CLI_USAGE;
  }
  if (o->plot) {
    const char *dot = strrchr(o->plot, '.');
    if (!dot || (strcmp(dot, ".svg") != 0 && strcmp(dot, ".png") != 0)) {
      fprintf(stderr, "macho sim: --plot expects a file name ending in .svg or .png, got '%s'\n",
              o->plot);
      return CLI_USAGE;
    }
  }
  return CLI_OK;
}

/* Split a comma list in place; returns the count or -1 when there are too many. */
static int split(char *s, char **items, int max) {
  int n = 0;
  for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
    if (n == max) return -1;
    items[n++] = tok;
  }
  return n;
}

static int parse_sizes(const char *list, size_spec *out, int max, int *n) {
  char *copy = strdup(list);
  char *items[64];
  int k = copy ? split(copy, items, max < 64 ? max : 64) : -1;
  if (k <= 0) {
    fprintf(stderr, "macho sim: --size expects a comma list of sizes (N or N%%), got '%s'\n", list);
    free(copy);
    return CLI_USAGE;
  }
  for (int i = 0; i < k; i++) {
    size_t len = strlen(items[i]);
    size_spec *s = &out[i];
    s->percent = len > 1 && items[i][len - 1] == '%';
    if (s->percent) {
      items[i][len - 1] = '\0';
      if (!cli_parse_double("--size", items[i], 1e-9, 1e6, &s->value)) goto bad;
    } else {
      uint64_t v;
      if (!cli_parse_u64("--size", items[i], 1, UINT32_MAX / 2, &v)) goto bad;
      s->value = (double)v;
    }
  }
  *n = k;
  free(copy);
  return CLI_OK;
bad:
  free(copy);
  return CLI_USAGE;
}

/* Policy names -> list of (name, is_belady, policy). */
typedef struct pol_choice {
  const char *name;
  bool is_belady;
  macho_policy pol;
} pol_choice;

static int parse_policies(const char *list, pol_choice *out, int max, int *n) {
  *n = 0;
  if (strcmp(list, "all") == 0) {
    for (int p = 0; p < MACHO_POLICY_COUNT && *n < max; p++)
      if (macho_policy_available((macho_policy)p))
        out[(*n)++] = (pol_choice){macho_policy_name((macho_policy)p), false, (macho_policy)p};
    out[(*n)++] = (pol_choice){"belady", true, MACHO_POLICY_LRU};
    return CLI_OK;
  }
  char *copy = strdup(list);
  char *items[64];
  int k = copy ? split(copy, items, max < 64 ? max : 64) : -1;
  int rc = CLI_OK;
  if (k <= 0) {
    fprintf(stderr, "macho sim: --policy expects a comma list of policies or 'all', got '%s'\n", list);
    rc = CLI_USAGE;
  }
  for (int i = 0; i < k && rc == CLI_OK; i++) {
    macho_policy p;
    if (strcmp(items[i], "belady") == 0) {
      out[(*n)++] = (pol_choice){"belady", true, MACHO_POLICY_LRU};
    } else if (macho_policy_parse(items[i], &p) != MACHO_OK) {
      fprintf(stderr, "macho sim: unknown policy '%s' (try lru, fifo, random, lfu, mfu, sieve, "
                      "s3fifo, wtinylfu, belady or all)\n", items[i]);
      rc = CLI_USAGE;
    } else if (!macho_policy_available(p)) {
      fprintf(stderr, "macho sim: policy '%s' is not implemented in this build\n", items[i]);
      rc = CLI_USAGE;
    } else {
      out[(*n)++] = (pol_choice){macho_policy_name(p), false, p};
    }
  }
  free(copy);
  return rc;
}

/* ---- the pre-pass ---------------------------------------------------------------- */

typedef struct prepass {
  uint64_t requests, distinct;
  uint32_t *next; /* next-use index per request (NEXT_NONE = never), or NULL */
  size_t next_cap;
} prepass;

static int open_trace(const sim_opts *o, trace **t) {
  char err[600];
  if (trace_open(t, o->path, o->fmt, err, sizeof err) < 0) {
    fprintf(stderr, "macho sim: %s\n", err);
    return CLI_FAIL;
  }
  return CLI_OK;
}

static int trace_error_exit(trace *t) {
  fprintf(stderr, "macho sim: %s\n", trace_error(t));
  trace_close(t);
  return CLI_FAIL;
}

static int oom(const char *what) {
  fprintf(stderr, "macho sim: out of memory (%s)\n", what);
  return CLI_FAIL;
}

static int run_prepass(const sim_opts *o, bool want_next, prepass *pp) {
  trace *t;
  int rc = open_trace(o, &t);
  if (rc != CLI_OK) return rc;
  trace_map last;
  if (trace_map_init(&last, 1 << 16) < 0) {
    trace_close(t);
    return oom("pre-pass map");
  }
  trace_req *batch = malloc(BATCH * sizeof *batch);
  if (!batch) goto nomem;
  for (;;) {
    size_t n = trace_read(t, batch, BATCH);
    if (want_next && pp->requests + n > pp->next_cap) {
      size_t cap = pp->next_cap ? pp->next_cap * 2 : 1 << 20;
      while (cap < pp->requests + n) cap *= 2;
      if (pp->requests + n >= NEXT_NONE) {
        fprintf(stderr, "macho sim: %s: Belady's pre-pass handles up to 2^32-2 requests\n", o->path);
        rc = CLI_FAIL;
        goto out;
      }
      uint32_t *grown = realloc(pp->next, cap * sizeof *grown);
      if (!grown) goto nomem;
      pp->next = grown;
      pp->next_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
      uint64_t idx = pp->requests + i;
      bool added;
      uint32_t *v = trace_map_upsert(&last, batch[i].key, (uint32_t)idx, &added);
      if (!v) goto nomem;
      if (want_next) {
        if (!added) pp->next[*v] = (uint32_t)idx;
        pp->next[idx] = NEXT_NONE;
        *v = (uint32_t)idx;
      }
    }
    pp->requests += n;
    if (n < BATCH) break;
  }
  if (trace_failed(t)) {
    free(batch);
    trace_map_free(&last);
    return trace_error_exit(t);
  }
  pp->distinct = last.len;
  goto out;
nomem:
  rc = oom("pre-pass");
out:
  free(batch);
  trace_map_free(&last);
  trace_close(t);
  return rc;
}

/* CPU seconds of this thread: on a shared machine wall time counts the time
 * other processes ran; --time reports the cache's own cost. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- simulation ---------------------------------------------------------------- */

/* TTL is off and metrics are off, so the cache's clock cannot change a
 * result; a constant clock saves a clock_gettime per put (about 7% of the
 * run time in a profile of LRU on CloudPhysics). */
static uint64_t frozen_clock(void *ctx) {
  (void)ctx;
  return 0;
}

static int open_sim(sim *s) {
  if (s->is_belady) return belady_open(&s->opt, s->size) == 0 ? MACHO_OK : MACHO_ENOMEM;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = s->size;
  cfg.shards = 1;
  cfg.ttl_seconds = 0;
  cfg.metrics = 0;
  cfg.policy = s->pol;
  cfg.clock = frozen_clock;
  return macho_open(&cfg, &s->cache);
}

/* Cache-aside through the real cache: get, and put on a miss. */
static int run_cache(sim *s, const trace_req *r, size_t n) {
  static const char value = 'v';
  char buf[8];
  size_t vlen;
  uint64_t hits = 0;
  for (size_t i = 0; i < n; i++) {
    int rc = macho_get(s->cache, &r[i].key, sizeof r[i].key, buf, sizeof buf, &vlen);
    if (rc == MACHO_OK) {
      hits++;
      continue;
    }
    if (rc == MACHO_ENOTFOUND) rc = macho_put(s->cache, &r[i].key, sizeof r[i].key, &value, 1);
    if (rc != MACHO_OK) {
      fprintf(stderr, "macho sim: %s at size %llu: %s\n", s->policy, (unsigned long long)s->size,
              macho_strerror(rc));
      return CLI_FAIL;
    }
  }
  s->hits += hits;
  s->misses += n - hits;
  return CLI_OK;
}

static void run_belady(sim *s, const trace_req *r, size_t n) {
  uint64_t hits = 0;
  for (size_t i = 0; i < n; i++) hits += (uint64_t)belady_access(s->opt, r[i].key, r[i].next);
  s->hits += hits;
  s->misses += n - hits;
}

static int main_pass(const sim_opts *o, sim *sims, int nsims, const prepass *pp,
                     uint64_t *requests, uint64_t *distinct) {
  trace *t;
  int rc = open_trace(o, &t);
  if (rc != CLI_OK) return rc;
  trace_map seen = {0};
  bool count = !pp->distinct && !pp->requests;
  trace_req *batch = malloc(BATCH * sizeof *batch);
  if (!batch || (count && trace_map_init(&seen, 1 << 16) < 0)) {
    rc = oom("main pass");
    goto out;
  }
  uint64_t total = 0;
  for (;;) {
    size_t n = trace_read(t, batch, BATCH);
    if (pp->next) {
      if (total + n > pp->requests) { /* the file changed under us */
        fprintf(stderr, "macho sim: %s: trace changed between passes\n", o->path);
        rc = CLI_FAIL;
        goto out;
      }
      for (size_t i = 0; i < n; i++) {
        uint32_t nx = pp->next[total + i];
        batch[i].next = nx == NEXT_NONE ? TRACE_NEVER : nx;
      }
    }
    if (count)
      for (size_t i = 0; i < n; i++) {
        bool added;
        if (!trace_map_upsert(&seen, batch[i].key, 0, &added)) {
          rc = oom("distinct keys");
          goto out;
        }
      }
    for (int k = 0; k < nsims; k++) {
      double t0 = cpu_now();
      if (sims[k].is_belady) run_belady(&sims[k], batch, n);
      else if ((rc = run_cache(&sims[k], batch, n)) != CLI_OK) goto out;
      sims[k].seconds += cpu_now() - t0;
    }
    total += n;
    if (n < BATCH) break;
  }
  if (trace_failed(t)) {
    free(batch);
    trace_map_free(&seen);
    return trace_error_exit(t);
  }
  *requests = total;
  *distinct = count ? seen.len : pp->distinct;
out:
  free(batch);
  trace_map_free(&seen);
  trace_close(t);
  return rc;
}

/* ---- output ---------------------------------------------------------------------- */

static double ratio(const sim *s) {
  uint64_t n = s->hits + s->misses;
  return n ? (double)s->misses / (double)n : 0.0;
}

static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static void print_results(const sim_opts *o, const sim *sims, int nsims, uint64_t requests,
                          uint64_t distinct) {
  if (!o->json)
    printf("%-9s %10s %12s %10s %12s %12s %10s%s\n", "policy", "size", "requests", "distinct",
           "hits", "misses", "miss_ratio", o->timing ? "    Mreq/s" : "");
  for (int k = 0; k < nsims; k++) {
    const sim *s = &sims[k];
    double rate = s->seconds > 0 ? (double)requests / s->seconds : 0;
    if (o->json) {
      printf("{\"trace\":");
      print_json_string(o->path);
      printf(",\"format\":\"%s\",\"policy\":\"%s\",\"size\":%llu,\"requests\":%llu,"
             "\"distinct\":%llu,\"hits\":%llu,\"misses\":%llu,\"miss_ratio\":%.6f",
             o->fmt->name, s->policy, (unsigned long long)s->size, (unsigned long long)requests,
             (unsigned long long)distinct, (unsigned long long)s->hits,
             (unsigned long long)s->misses, ratio(s));
      if (o->timing) printf(",\"seconds\":%.6f,\"requests_per_second\":%.0f", s->seconds, rate);
      printf("}\n");
    } else {
      printf("%-9s %10llu %12llu %10llu %12llu %12llu %10.4f", s->policy,
             (unsigned long long)s->size, (unsigned long long)requests,
             (unsigned long long)distinct, (unsigned long long)s->hits,
             (unsigned long long)s->misses, ratio(s));
      if (o->timing) printf(" %9.2f", rate / 1e6);
      printf("\n");
    }
  }
}

static bool on_path(const char *prog) {
  const char *path = getenv("PATH");
  if (!path) return false;
  char dir[4096];
  while (*path) {
    size_t n = strcspn(path, ":");
    if (n && n + strlen(prog) + 2 < sizeof dir) {
      snprintf(dir, sizeof dir, "%.*s/%s", (int)n, path, prog);
      if (access(dir, X_OK) == 0) return true;
    }
    path += n;
    if (*path == ':') path++;
  }
  return false;
}

static int cmp_size(const void *a, const void *b) {
  const sim *x = *(const sim *const *)a, *y = *(const sim *const *)b;
  return (x->size > y->size) - (x->size < y->size);
}

/* A miss-ratio curve, one line per policy, drawn by gnuplot.
 *
 * The gnuplot script is a constant string: no byte of a user-supplied name is
 * ever part of it. Names reach gnuplot as strings it does not parse -- the
 * output file and the trace's name as ARG1..ARGn of `gnuplot -c SCRIPT ...`
 * (run with execvp, no shell), the policy names as the column headers of the
 * data file (read with `columnheader`). Building the script from names let a
 * newline in a file name run gnuplot commands such as `system` (issue 10
 * defect 4); escaping would have to know every gnuplot quoting rule, this
 * needs none. Script and data live in a private mkdtemp directory. */
static const char plot_script[] =
    "out = ARG1; data = ARG2; trace = ARG3; ncols = int(ARG5); bcol = int(ARG6)\n"
    "if (ARG4 eq 'svg') {\n"
    "  set terminal svg dynamic background rgb 'white' size 900,560 font 'sans,12' noenhanced\n"
    "} else {\n"
    "  set terminal pngcairo size 900,560 font 'sans,12' noenhanced\n"
    "}\n"
    "set output out\n"
    "set title 'Miss ratio curve: '.trace\n"
    "set xlabel ARG7\n"
    "set ylabel 'miss ratio'\n"
    "set grid\n"
    "set key outside right top\n"
    "set logscale x\n"
    "set yrange [0:*]\n"
    "set datafile separator \"\\t\"\n"
    /* Ten distinguishable colours (gnuplot's default cycle repeats after 8). */
    "colours = '#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf'\n"
    "plot for [i=2:ncols] data using 1:i with linespoints lw 2 dt 1 + (i == bcol) \\\n"
    "     lc rgb (i == bcol ? 'black' : word(colours, (i - 2) % 10 + 1)) title columnheader(i)\n";

static bool write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return false;
  bool ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok;
}

static int plot(const sim_opts *o, const sim *sims, int nsims) {
  if (!on_path("gnuplot")) {
    fprintf(stderr, "macho sim: --plot needs gnuplot, which is not on PATH "
                    "(Debian: apt-get install gnuplot-nox)\n");
    return CLI_FAIL;
  }
  /* Columns: size, then one per distinct policy in the order given. */
  const char *names[MAX_SIMS];
  int nnames = 0, bcol = 0;
  for (int k = 0; k < nsims; k++) {
    bool dup = false;
    for (int j = 0; j < nnames; j++) dup |= strcmp(names[j], sims[k].policy) == 0;
    if (!dup) {
      if (strcmp(sims[k].policy, "belady") == 0) bcol = nnames + 2;
      names[nnames++] = sims[k].policy;
    }
  }
  const char *tmp = getenv("TMPDIR");
  char dir[4096], script[4200], data[4200];
  snprintf(dir, sizeof dir, "%s/macho-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    fprintf(stderr, "macho sim: --plot: cannot create a temporary directory: %s\n", strerror(errno));
    return CLI_FAIL;
  }
  snprintf(script, sizeof script, "%s/mrc.gp", dir);
  snprintf(data, sizeof data, "%s/mrc.tsv", dir);
  int rc = CLI_FAIL;
  FILE *d = fopen(data, "w");
  if (!d || !write_text(script, plot_script)) {
    fprintf(stderr, "macho sim: --plot: cannot write in %s: %s\n", dir, strerror(errno));
    if (d) fclose(d);
    goto out;
  }
  fprintf(d, "size");
  for (int j = 0; j < nnames; j++) fprintf(d, "\t%s", names[j]);
  fprintf(d, "\n");
  /* The rows: sims are (policy, size) in policy-major order, every policy
   * at every size; sort the sizes of the first policy. */
  const sim *order[MAX_SIMS];
  int m = 0;
  for (int k = 0; k < nsims; k++)
    if (strcmp(sims[k].policy, names[0]) == 0) order[m++] = &sims[k];
  qsort(order, (size_t)m, sizeof order[0], cmp_size);
  for (int r = 0; r < m; r++) {
    fprintf(d, "%llu", (unsigned long long)order[r]->size);
    for (int j = 0; j < nnames; j++) {
      const sim *hit = NULL;
      for (int k = 0; k < nsims && !hit; k++)
        if (strcmp(sims[k].policy, names[j]) == 0 && sims[k].size == order[r]->size) hit = &sims[k];
      if (hit) fprintf(d, "\t%.6f", ratio(hit));
      else fprintf(d, "\tNaN");
    }
    fprintf(d, "\n");
  }
  if (fclose(d) != 0) {
    fprintf(stderr, "macho sim: --plot: cannot write %s: %s\n", data, strerror(errno));
    goto out;
  }
  const char *base = strrchr(o->path, '/');
  base = base ? base + 1 : o->path;
  char ncols[16], bcols[16];
  snprintf(ncols, sizeof ncols, "%d", nnames + 1);
  snprintf(bcols, sizeof bcols, "%d", bcol);
  bool svg = strcmp(strrchr(o->plot, '.'), ".svg") == 0;
  char *argv[] = {"gnuplot", "-c", script, (char *)o->plot, data, (char *)base,
                  svg ? "svg" : "png", ncols, bcols, "cache size (entries)", NULL};
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "macho sim: cannot run gnuplot: %s\n", strerror(errno));
    goto out;
  }
  if (pid == 0) {
    execvp("gnuplot", argv);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fprintf(stderr, "macho sim: gnuplot failed to write %s\n", o->plot);
  else
    rc = CLI_OK;
out:
  unlink(script);
  unlink(data);
  rmdir(dir);
  return rc;
}

/* ---- the command ------------------------------------------------------------------- */

int cmd_sim(int argc, char **argv) {
  sim_opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc != CLI_OK) return rc;
  pol_choice pols[MACHO_POLICY_COUNT + 16];
  size_spec sizes[64];
  int npols, nsizes;
  if ((rc = parse_policies(o.policies, pols, MACHO_POLICY_COUNT + 15, &npols)) != CLI_OK) return rc;
  if ((rc = parse_sizes(o.sizes, sizes, 64, &nsizes)) != CLI_OK) return rc;
  if (npols * nsizes > MAX_SIMS) {
    fprintf(stderr, "macho sim: at most %d (policy, size) runs at once\n", MAX_SIMS);
    return CLI_USAGE;
  }

  bool any_percent = false, any_belady = false;
  for (int i = 0; i < nsizes; i++) any_percent |= sizes[i].percent;
  for (int i = 0; i < npols; i++) any_belady |= pols[i].is_belady;
  bool want_next = any_belady && !o.fmt->has_next;
  prepass pp = {0};
  if (any_percent || want_next) {
    if ((rc = run_prepass(&o, want_next, &pp)) != CLI_OK) {
      free(pp.next);
      return rc;
    }
  }

  sim sims[MAX_SIMS];
  int nsims = 0;
  memset(sims, 0, sizeof sims);
  for (int p = 0; p < npols && rc == CLI_OK; p++)
    for (int i = 0; i < nsizes && rc == CLI_OK; i++) {
      sim *s = &sims[nsims++];
      s->policy = pols[p].name;
      s->is_belady = pols[p].is_belady;
      s->pol = pols[p].pol;
      s->size = sizes[i].percent ? (uint64_t)floor((double)pp.distinct * sizes[i].value / 100.0)
                                 : (uint64_t)sizes[i].value;
      if (s->size < 1) s->size = 1;
      if (s->size > UINT32_MAX / 2) s->size = UINT32_MAX / 2;
      int orc = open_sim(s);
      if (orc != MACHO_OK) {
        fprintf(stderr, "macho sim: cannot open a %s cache of %llu entries: %s\n", s->policy,
                (unsigned long long)s->size, macho_strerror(orc));
        rc = CLI_FAIL;
      }
    }
  uint64_t requests = 0, distinct = 0;
  if (rc == CLI_OK) rc = main_pass(&o, sims, nsims, &pp, &requests, &distinct);
  if (rc == CLI_OK) {
    print_results(&o, sims, nsims, requests, distinct);
    if (o.plot) rc = plot(&o, sims, nsims);
  }
  for (int k = 0; k < nsims; k++) {
    macho_close(sims[k].cache);
    belady_close(sims[k].opt);
  }
  free(pp.next);
  return rc;
}
