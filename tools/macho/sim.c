/*
 * sim.c -- `macho sim`: replay a real cache trace through the real libmacho
 * cache, once per (policy, size), and report miss ratios.
 *
 * Each simulated cache is a genuine macho_cache (one shard, TTL off, metrics
 * off, bytes mode, 8-byte keys) driven cache-aside: a get, and a put on a
 * miss. So the numbers describe the code users run, not a separate model of
 * the policy. Belady's MIN (belady.c) is the one simulator-only policy: the
 * lower bound. With --size-unit bytes (traces with object sizes), the cache
 * has a byte budget (capacity_bytes) and each entry weighs its object's size,
 * as in libCacheSim: on a miss the object is admitted unless it is larger
 * than the whole cache, and entries are evicted until it fits; a hit does
 * not change an entry's size. (An object smaller than 8 bytes weighs 8: the
 * key itself is the 8-byte id.) That cache is in object mode with a weigher:
 * a bytes-mode budget also charges macho's own per-entry overhead and the
 * arena's size classes (MACHO_ENTRY_OVERHEAD), which libCacheSim does not,
 * while an object's charge is MACHO_ENTRY_OVERHEAD + its weight, exactly
 * (see scale below).
 *
 * The trace is streamed once for all caches together: requests are read in
 * batches and each batch is fed to every cache, so memory is the sum of the
 * caches plus two batches, never the trace. With --jobs N, N threads share
 * out the caches of each batch while the main thread reads the next one; a
 * cache only ever sees the requests in trace order, so the results are those
 * of one thread, bit for bit. A pre-pass over the trace is made only when
 * needed: sizes given as a percentage need the distinct-key count (or the
 * working set in bytes) first, byte budgets need the sizes (their gcd), and
 * Belady needs every request's next use, which only the oracleGeneral format
 * carries. The pre-pass holds a key -> last index map (about 26-52 bytes per
 * distinct key) and, for Belady, one uint32 per request. A trace that can be
 * read only once (standard input, a pipe) and needs two passes is spooled, as
 * it is read the first time, to an unlinked temporary file ($TMPDIR).
 *
 * Progress (requests, rate, ETA) goes to stderr when it is a terminal and
 * the run lasts more than MACHO_PROGRESS_DELAY seconds (1.5), unless --quiet.
 */
#include "belady.h"
#include "cli.h"
#include "trace.h"

#include <errno.h>
#include <macho/macho.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 65536
#define MAX_SIMS 256
#define MAX_SIZES 64
#define MAX_POLICIES 64
#define NEXT_NONE UINT32_MAX
#define MAX_JOBS 256

typedef struct size_spec {
  double value;
  bool percent;
} size_spec;

typedef struct pol_choice {
  const char *name;
  bool is_belady;
  macho_policy pol;
} pol_choice;

typedef struct sim_opts {
  cli_base base;
  const char *format, *policies, *sizes, *plot, *size_unit;
  bool json, timing, quiet;
  uint64_t jobs;
  /* from check */
  const char *path;
  const trace_format *fmt;
  bool bytes;
  pol_choice pols[MAX_POLICIES];
  int npols;
  size_spec sizev[MAX_SIZES];
  int nsizes;
} sim_opts;

typedef struct sim {
  const char *policy; /* name as printed */
  bool is_belady;
  macho_policy pol;
  uint64_t size;      /* entries, or bytes */
  macho_cache *cache;
  belady *opt;
  uint64_t hits, misses, bytes_missed;
  double seconds;
  int error;          /* a cache status other than OK/ENOTFOUND/ETOOBIG */
} sim;

/* ---- arguments ---------------------------------------------------------------- */

/* Split a comma list in place; returns the count, -1 when there are too many
 * items, -2 when one is empty ("5,,6", a trailing comma). */
static int split(char *s, char **items, int max) {
  int n = 0;
  for (char *p = s;; p++) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    if (!*p) return -2;
    if (n == max) return -1;
    items[n++] = p;
    if (!comma) return n;
    p = comma;
  }
}

/* A byte count: digits and an optional unit (K/M/G/T or KiB... = powers of
 * 1024, KB/MB/GB/TB = powers of 1000, B = bytes). */
static bool parse_bytes(const char *s, double *out) {
  char *end;
  if (*s < '0' || *s > '9') return false;
  double v = strtod(s, &end);
  static const struct { const char *unit; double mult; } units[] = {
      {"", 1}, {"B", 1}, {"K", 1024.0}, {"KiB", 1024.0}, {"KB", 1e3}, {"M", 1048576.0}, {"MiB", 1048576.0},
      {"MB", 1e6}, {"G", 1073741824.0}, {"GiB", 1073741824.0}, {"GB", 1e9}, {"T", 1099511627776.0},
      {"TiB", 1099511627776.0}, {"TB", 1e12}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcasecmp(end, units[i].unit) && (units[i].unit[0] || !*end)) {
      *out = floor(v * units[i].mult);
      return isfinite(*out);
    }
  return false;
}

static int parse_sizes(sim_opts *o, char *err, size_t errlen) {
  char copy[4096], *items[MAX_SIZES + 1];
  if (strlen(o->sizes) >= sizeof copy) return cli_usage_error(err, errlen, "--size list is too long");
  strcpy(copy, o->sizes);
  int k = split(copy, items, MAX_SIZES);
  if (k == -1) return cli_usage_error(err, errlen, "--size takes at most %d sizes", MAX_SIZES);
  if (k <= 0) return cli_usage_error(err, errlen, "--size expects a comma list of sizes (N or N%%), got '%s'", o->sizes);
  for (int i = 0; i < k; i++) {
    size_t len = strlen(items[i]);
    size_spec *s = &o->sizev[i];
    s->percent = len > 1 && items[i][len - 1] == '%';
    if (s->percent) {
      items[i][len - 1] = '\0';
      char *end;
      s->value = strtod(items[i], &end);
      if (*end || !(s->value > 0) || items[i][0] == '-' || items[i][0] == '+')
        return cli_usage_error(err, errlen, "--size expects a number above 0 before %%, got '%s%%'", items[i]);
      if (s->value > 100)
        return cli_usage_error(err, errlen, "--size %s%% is more than the whole trace: sizes in %% are 0-100 of its %s",
                               items[i], o->bytes ? "working set in bytes" : "distinct keys");
    } else if (o->bytes) {
      if (!parse_bytes(items[i], &s->value) || s->value < 1 || s->value > 1e15)
        return cli_usage_error(err, errlen,
                               "--size expects bytes (1 to 10^15, units K M G T = KiB MiB GiB TiB, KB MB GB TB) "
                               "or N%%, got '%s'", items[i]);
    } else {
      char *end;
      unsigned long long v = items[i][0] >= '0' && items[i][0] <= '9' ? strtoull(items[i], &end, 10) : 0;
      if (items[i][0] < '0' || items[i][0] > '9' || *end || v < 1 || v > UINT32_MAX / 2)
        return cli_usage_error(err, errlen, "--size expects a whole number from 1 to %u or N%%, got '%s'",
                               UINT32_MAX / 2, items[i]);
      s->value = (double)v;
    }
  }
  o->nsizes = k;
  return CLI_OK;
}

static int parse_policies(sim_opts *o, char *err, size_t errlen) {
  o->npols = 0;
  if (strcmp(o->policies, "all") == 0) {
    for (int p = 0; p < MACHO_POLICY_COUNT && o->npols < MAX_POLICIES - 1; p++)
      if (macho_policy_available((macho_policy)p))
        o->pols[o->npols++] = (pol_choice){macho_policy_name((macho_policy)p), false, (macho_policy)p};
    if (!o->bytes) o->pols[o->npols++] = (pol_choice){"belady", true, MACHO_POLICY_LRU};
    return CLI_OK;
  }
  char copy[4096], *items[MAX_POLICIES + 1];
  if (strlen(o->policies) >= sizeof copy) return cli_usage_error(err, errlen, "--policy list is too long");
  strcpy(copy, o->policies);
  int k = split(copy, items, MAX_POLICIES);
  if (k <= 0)
    return cli_usage_error(err, errlen, "--policy expects a comma list of policies or 'all', got '%s'", o->policies);
  for (int i = 0; i < k; i++) {
    macho_policy p;
    if (strcmp(items[i], "belady") == 0) {
      if (o->bytes)
        return cli_usage_error(err, errlen, "belady is the optimum for unit-size entries only: not with --size-unit bytes");
      o->pols[o->npols++] = (pol_choice){"belady", true, MACHO_POLICY_LRU};
    } else if (macho_policy_parse(items[i], &p) != MACHO_OK) {
      return cli_usage_error(err, errlen, "unknown policy '%s' (expected %s, belady or all)", items[i], cli_policy_names());
    } else if (!macho_policy_available(p)) {
      return cli_usage_error(err, errlen, "policy '%s' is not implemented in this build", items[i]);
    } else {
      o->pols[o->npols++] = (pol_choice){macho_policy_name(p), false, p};
    }
  }
  return CLI_OK;
}

static int sim_check(void *p, char *err, size_t errlen) {
  sim_opts *o = p;
  o->path = o->base.args[0];
  o->fmt = trace_format_find(o->format);
  if (!o->fmt) return cli_usage_error(err, errlen, "unknown format '%s' (expected %s)", o->format, trace_format_names());
  o->bytes = !strcmp(o->size_unit, "bytes");
  if (o->bytes && !o->fmt->has_size) {
    char with[128] = "";
    for (size_t i = 0; trace_format_at(i); i++)
      if (trace_format_at(i)->has_size) {
        if (with[0]) strcat(with, ", ");
        strcat(with, trace_format_at(i)->name);
      }
    return cli_usage_error(err, errlen, "--size-unit bytes needs a format with object sizes (%s); %s has none",
                           with, o->fmt->name);
  }
  int rc = parse_policies(o, err, errlen);
  if (rc == CLI_OK) rc = parse_sizes(o, err, errlen);
  if (rc != CLI_OK) return rc;
  if (o->npols * o->nsizes > MAX_SIMS)
    return cli_usage_error(err, errlen, "at most %d (policy, size) runs at once, got %d x %d", MAX_SIMS, o->npols,
                           o->nsizes);
  if (o->plot) {
    const char *dot = strrchr(o->plot, '.');
    if (!dot || (strcmp(dot, ".svg") != 0 && strcmp(dot, ".png") != 0))
      return cli_usage_error(err, errlen, "--plot expects a file name ending in .svg or .png, got '%s'", o->plot);
  }
  if (!o->jobs) o->jobs = cli_cpus();
  return CLI_OK;
}

/* ---- input: files are read again for a second pass, streams are spooled ---------- */

typedef struct input {
  const sim_opts *o;
  bool reopenable; /* a regular file */
  FILE *spool;     /* a stream's raw bytes, written during the first pass */
  bool spooled;    /* the first pass is over: read the spool */
  const char *name;
} input;

static void input_init(input *in, const sim_opts *o) {
  memset(in, 0, sizeof *in);
  in->o = o;
  struct stat sb;
  in->reopenable = strcmp(o->path, "-") != 0 && stat(o->path, &sb) == 0 && S_ISREG(sb.st_mode);
  in->name = strcmp(o->path, "-") == 0 ? "stdin" : o->path;
}

/* An unlinked temporary file in $TMPDIR (or /tmp). */
static FILE *spool_file(void) {
  const char *dir = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/macho-sim-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  unlink(path);
  FILE *f = fdopen(fd, "w+b");
  if (!f) close(fd);
  return f;
}

/* Open the trace for one pass; `again` says another pass will follow. */
static int open_pass(input *in, bool again, trace **t) {
  char err[1200];
  int rc;
  if (in->spooled) {
    rewind(in->spool);
    rc = trace_open_stream(t, in->spool, false, in->name, in->o->fmt, NULL, err, sizeof err);
  } else if (again && !in->reopenable) {
    in->spool = spool_file();
    if (!in->spool) {
      fprintf(stderr, "macho sim: %s can be read only once and needs two passes, but no temporary file "
                      "could be made to keep it: %s (set TMPDIR)\n", in->name, strerror(errno));
      return CLI_FAIL;
    }
    trace_options topt = {.tee = in->spool};
    rc = trace_open_ex(t, in->o->path, in->o->fmt, &topt, err, sizeof err);
  } else {
    rc = trace_open(t, in->o->path, in->o->fmt, err, sizeof err);
  }
  if (rc < 0) {
    fprintf(stderr, "macho sim: %s\n", err);
    return CLI_FAIL;
  }
  return CLI_OK;
}

/* After a pass that was spooling: the rest of the stream (if the reader
 * stopped early) and a flush, then the spool is what later passes read. */
static int end_pass(input *in) {
  if (in->spool && !in->spooled) {
    if (fflush(in->spool) != 0) {
      fprintf(stderr, "macho sim: cannot write the temporary copy of %s: %s\n", in->name, strerror(errno));
      return CLI_FAIL;
    }
    in->spooled = true;
  }
  return CLI_OK;
}

static void input_close(input *in) {
  if (in->spool) fclose(in->spool);
}

/* ---- progress on a terminal ------------------------------------------------------ */

typedef struct progress {
  bool on, shown;
  double start, delay, last;
  const char *pass; /* "" or "pass 1/2, " */
  uint64_t total;   /* requests expected, 0 = unknown */
} progress;

static void progress_init(progress *pg, const sim_opts *o) {
  memset(pg, 0, sizeof *pg);
  pg->on = !o->quiet && isatty(STDERR_FILENO);
  const char *d = getenv("MACHO_PROGRESS_DELAY");
  char *end;
  pg->delay = d && *d ? strtod(d, &end) : 1.5;
  if (!d || !*d || *end || !(pg->delay >= 0)) pg->delay = 1.5;
  pg->start = cli_now();
  pg->pass = "";
}

static void human(char *out, size_t n, double v) {
  if (v >= 1e9) snprintf(out, n, "%.2fG", v / 1e9);
  else if (v >= 1e6) snprintf(out, n, "%.2fM", v / 1e6);
  else if (v >= 1e4) snprintf(out, n, "%.1fk", v / 1e3);
  else snprintf(out, n, "%.0f", v);
}

static void progress_update(progress *pg, const trace *t, uint64_t done) {
  if (!pg->on) return;
  double now = cli_now(), elapsed = now - pg->start;
  if (elapsed < pg->delay || now - pg->last < 0.2) return;
  pg->last = now;
  double frac = -1;
  if (pg->total) frac = (double)done / (double)pg->total;
  else if (trace_raw_size(t)) frac = (double)trace_raw_offset(t) / (double)trace_raw_size(t);
  char reqs[32], rate[32], eta[64] = "";
  human(reqs, sizeof reqs, (double)done);
  human(rate, sizeof rate, (double)done / elapsed);
  if (frac > 0 && frac <= 1)
    snprintf(eta, sizeof eta, ", %.0f%%, ETA %.0f s", 100 * frac, elapsed * (1 - frac) / frac);
  fprintf(stderr, "\r\033[Kmacho sim: %s%s requests, %s/s%s", pg->pass, reqs, rate, eta);
  fflush(stderr);
  pg->shown = true;
}

static void progress_clear(progress *pg) {
  if (pg->shown) fprintf(stderr, "\r\033[K");
  fflush(stderr);
  pg->shown = false;
}

/* ---- the pre-pass ---------------------------------------------------------------- */

typedef struct prepass {
  uint64_t requests, distinct, wss_bytes, bytes_requested, max_size;
  /* bytes mode: weights are max(size, 8); g = their gcd, min_weight the least */
  uint64_t gcd, min_weight;
  /* A value no key of the trace has: key ^ key_xor is never 0, so it can be
   * an object-mode key (a pointer, which may not be NULL). */
  uint64_t key_xor;
  uint32_t *next; /* next-use index per request (NEXT_NONE = never), or NULL */
  size_t next_cap;
} prepass;

static int oom(const char *what) {
  fprintf(stderr, "macho sim: out of memory (%s)\n", what);
  return CLI_FAIL;
}

static int trace_error_exit(trace *t) {
  fprintf(stderr, "macho sim: %s\n", trace_error(t));
  return CLI_FAIL;
}

static int run_prepass(input *in, bool want_next, prepass *pp, progress *pg) {
  trace *t;
  int rc = open_pass(in, true, &t);
  if (rc != CLI_OK) return rc;
  trace_map last;
  trace_req *batch = malloc(BATCH * sizeof *batch);
  if (!batch || trace_map_init(&last, 1 << 16) < 0) {
    free(batch);
    trace_close(t);
    return oom("pre-pass map");
  }
  for (;;) {
    size_t n = trace_read(t, batch, BATCH);
    if (want_next && pp->requests + n > pp->next_cap) {
      if (pp->requests + n >= NEXT_NONE) {
        fprintf(stderr, "macho sim: %s: Belady's pre-pass handles up to 2^32-2 requests\n", in->name);
        rc = CLI_FAIL;
        goto out;
      }
      size_t cap = pp->next_cap ? pp->next_cap * 2 : 1 << 20;
      while (cap < pp->requests + n) cap *= 2;
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
      if (added) pp->wss_bytes += batch[i].size; /* libCacheSim's working set: first sizes */
      pp->bytes_requested += batch[i].size;
      if (batch[i].size > pp->max_size) pp->max_size = batch[i].size;
      uint64_t w = batch[i].size > 8 ? batch[i].size : 8, a = pp->gcd, b = w;
      while (b) { /* Euclid */
        uint64_t rem = a % b;
        a = b;
        b = rem;
      }
      pp->gcd = a;
      if (!pp->min_weight || w < pp->min_weight) pp->min_weight = w;
      if (want_next) {
        if (!added) pp->next[*v] = (uint32_t)idx;
        pp->next[idx] = NEXT_NONE;
        *v = (uint32_t)idx;
      }
    }
    pp->requests += n;
    progress_update(pg, t, pp->requests);
    if (n < BATCH) break;
  }
  if (trace_failed(t)) {
    rc = trace_error_exit(t);
    goto out;
  }
  pp->distinct = last.len;
  for (pp->key_xor = 0x9e3779b97f4a7c15ull; trace_map_find(&last, pp->key_xor);) pp->key_xor++;
  rc = end_pass(in);
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

/* Byte budgets: every weight w (an object's size, at least 8, the key) is a
 * multiple of g, the gcd of all weights in the trace, so the cache can
 * charge each object m*w/g and have the budget C as floor(m*C/g): for sums
 * of multiples of g, "used + w <= C" holds exactly when "m*(used + w)/g <=
 * floor(m*C/g)" does (the left side is a whole number), so every admission
 * and eviction is the one of the unscaled cache. An object is charged
 * MACHO_ENTRY_OVERHEAD + its weigher's answer, so the weigher answers
 * m*w/g - MACHO_ENTRY_OVERHEAD, and m = ceil(MACHO_ENTRY_OVERHEAD*g / min
 * weight) keeps that from going below 0. The weight travels as the value
 * (a pointer-sized number: no bytes are stored). */
typedef struct scale {
  uint64_t m, g;
  uint64_t key_xor; /* prepass.key_xor */
} scale;

static scale scale_of(const prepass *pp) {
  scale sc = {1, 1, pp->key_xor};
  if (pp->gcd && pp->min_weight) {
    sc.g = pp->gcd;
    sc.m = (MACHO_ENTRY_OVERHEAD * sc.g + pp->min_weight - 1) / pp->min_weight;
    if (sc.m < 1) sc.m = 1;
  }
  return sc;
}

/* The stored size of an object of `size` bytes. */
static inline uint64_t scaled_weight(scale sc, uint32_t size) {
  uint64_t w = size > 8 ? size : 8;
  return w / sc.g * sc.m;
}

/* Object-mode callbacks of the byte-budget caches: keys are the trace's ids
 * (xor key_xor, never 0), compared and hashed as numbers (the cache mixes
 * the hash); values are scaled weights (>= MACHO_ENTRY_OVERHEAD, never 0);
 * nothing is owned, so retain and release have nothing to do. */
static int id_hash(void *ctx, const void *key, uint64_t *out) {
  (void)ctx;
  *out = (uint64_t)(uintptr_t)key;
  return 0;
}
static int id_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return a == b;
}
static void id_keep(void *ctx, void *obj) {
  (void)ctx;
  (void)obj;
}
static int weight_of(void *ctx, const void *key, const void *value, uint64_t *out) {
  (void)ctx;
  (void)key;
  *out = (uint64_t)(uintptr_t)value - MACHO_ENTRY_OVERHEAD;
  return 0;
}
static const macho_object_ops id_ops = {id_hash, id_equal, id_keep, id_keep, NULL};

static int open_sim(sim *s, const sim_opts *o, const prepass *pp) {
  if (s->is_belady) return belady_open(&s->opt, s->size) == 0 ? MACHO_OK : MACHO_ENOMEM;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.shards = 1;
  cfg.ttl_seconds = 0;
  cfg.metrics = 0;
  cfg.policy = s->pol;
  cfg.clock = frozen_clock;
  if (o->bytes) {
    /* The byte budget decides; entries never outnumber the distinct keys,
     * nor the budget's 8-byte minimum weights. */
    scale sc = scale_of(pp);
    uint64_t budget = (uint64_t)((unsigned __int128)s->size * sc.m / sc.g);
    if (budget < 1) budget = 1; /* holds nothing, as a budget below every object */
    uint64_t most = budget / MACHO_ENTRY_OVERHEAD;
    uint64_t entries = most < pp->distinct ? most : pp->distinct;
    cfg.capacity_entries = entries ? entries : 1;
    cfg.capacity_bytes = budget;
    cfg.object_ops = &id_ops;
    cfg.weigh = weight_of;
  } else {
    cfg.capacity_entries = s->size;
  }
  const char *why;
  if (macho_config_check(&cfg, &why) != MACHO_OK) return MACHO_EINVAL;
  return macho_open(&cfg, &s->cache);
}

/* What a worker needs besides the batch: a buffer for gets and the byte
 * of the values it puts (entries mode). */
typedef struct scratch {
  char *get_buf;
  size_t get_cap;
  const char *value;
  scale sc;
} scratch;

/* Cache-aside through the real cache: get, and put on a miss. In bytes mode
 * (an object-mode cache, see scale) an entry weighs its object's size; an
 * object larger than the budget is not admitted (MACHO_ETOOBIG), as in
 * libCacheSim. */
static void run_cache(sim *s, const trace_req *r, size_t n, bool bytes, const scratch *sc) {
  uint64_t hits = 0, missed = 0;
  for (size_t i = 0; i < n; i++) {
    int rc;
    void *key = (void *)(uintptr_t)(r[i].key ^ sc->sc.key_xor), *got;
    if (bytes) {
      rc = macho_obj_get(s->cache, key, &got);
    } else {
      size_t vlen;
      rc = macho_get(s->cache, &r[i].key, sizeof r[i].key, sc->get_buf, sc->get_cap, &vlen);
    }
    if (rc == MACHO_OK) {
      hits++;
      continue;
    }
    missed += r[i].size;
    if (rc == MACHO_ENOTFOUND && bytes) {
      rc = macho_obj_put(s->cache, key, (void *)(uintptr_t)scaled_weight(sc->sc, r[i].size));
      if (rc == MACHO_ETOOBIG) rc = MACHO_OK;
    } else if (rc == MACHO_ENOTFOUND) {
      rc = macho_put(s->cache, &r[i].key, sizeof r[i].key, sc->value, 1);
    }
    if (rc != MACHO_OK) {
      s->error = rc;
      break;
    }
  }
  s->hits += hits;
  s->misses += n - hits;
  s->bytes_missed += missed;
}

static void run_belady(sim *s, const trace_req *r, size_t n) {
  uint64_t hits = 0;
  for (size_t i = 0; i < n; i++) hits += (uint64_t)belady_access(s->opt, r[i].key, r[i].next);
  s->hits += hits;
  s->misses += n - hits;
}

static void run_one_sim(sim *s, const trace_req *r, size_t n, bool bytes, const scratch *sc) {
  if (s->error) return;
  double t0 = cpu_now();
  if (s->is_belady) run_belady(s, r, n);
  else run_cache(s, r, n, bytes, sc);
  s->seconds += cpu_now() - t0;
}

/* --jobs N: N workers share out the caches of each batch, two barriers per
 * batch. The batch is the same for every cache and each cache is fed its
 * batches in order; and a cache always runs on the same worker (cache k on
 * worker k mod N), so that it is single-threaded as the policy contract
 * requires for exact results: hits reach LRU-family policies through
 * per-thread read buffers, and a cache handed from one thread to another
 * between batches could have its buffered records replayed out of order
 * (W-TinyLFU, S3-FIFO and ARC then moved by up to 0.3 point from run to
 * run). So the result cannot depend on N. */
typedef struct pool {
  sim *sims;
  int nsims;
  bool bytes;
  const trace_req *batch;
  size_t n;
  atomic_int next;
  int nworkers; /* set before the workers pass the gate */
  bool quit;
  pthread_barrier_t start, done;
  pthread_mutex_t gate; /* held while threads are created: the barriers' size is known after */
  const char *value;
  size_t get_cap;
  scale sc;
} pool;

typedef struct worker_arg {
  pool *p;
  int index;
} worker_arg;

static void *worker_main(void *arg) {
  const worker_arg *w = arg;
  pool *p = w->p;
  pthread_mutex_lock(&p->gate);
  pthread_mutex_unlock(&p->gate);
  scratch sc = {malloc(p->get_cap), p->get_cap, p->value, p->sc};
  for (;;) {
    pthread_barrier_wait(&p->start);
    if (p->quit) break;
    for (int k = w->index; k < p->nsims; k += p->nworkers) {
      if (!sc.get_buf) p->sims[k].error = MACHO_ENOMEM;
      else run_one_sim(&p->sims[k], p->batch, p->n, p->bytes, &sc);
    }
    pthread_barrier_wait(&p->done);
  }
  free(sc.get_buf);
  return NULL;
}

typedef struct pass_result {
  uint64_t requests, distinct, bytes_requested;
} pass_result;

/* Read one batch (next-use indices from the pre-pass filled in, distinct
 * keys counted when there was no pre-pass). 0 at the end, -1 on error. */
static long read_batch(trace *t, trace_req *batch, const prepass *pp, trace_map *seen, uint64_t done,
                       const char *name, pass_result *res) {
  size_t n = trace_read(t, batch, BATCH);
  if (pp->next) {
    if (done + n > pp->requests) { /* the file changed under us */
      fprintf(stderr, "macho sim: %s: the trace changed between passes\n", name);
      return -1;
    }
    for (size_t i = 0; i < n; i++) {
      uint32_t nx = pp->next[done + i];
      batch[i].next = nx == NEXT_NONE ? TRACE_NEVER : nx;
    }
  }
  for (size_t i = 0; i < n; i++) {
    res->bytes_requested += batch[i].size;
    bool added;
    if (seen && !trace_map_upsert(seen, batch[i].key, 0, &added)) {
      oom("distinct keys");
      return -1;
    }
  }
  if (trace_failed(t)) {
    trace_error_exit(t);
    return -1;
  }
  return (long)n;
}

static int main_pass(const sim_opts *o, input *in, sim *sims, int nsims, const prepass *pp, progress *pg,
                     pass_result *res) {
  trace *t;
  int rc = open_pass(in, false, &t);
  if (rc != CLI_OK) return rc;
  trace_map seen = {0};
  bool count = !pp->requests; /* no pre-pass: count distinct keys here */
  trace_req *bufs[2] = {malloc(BATCH * sizeof(trace_req)), malloc(BATCH * sizeof(trace_req))};
  scale scl = scale_of(pp);
  size_t get_cap = 8;
  char *value = calloc(get_cap, 1);
  if (!bufs[0] || !bufs[1] || !value || (count && trace_map_init(&seen, 1 << 16) < 0)) {
    rc = oom("main pass");
    goto out;
  }
  memset(res, 0, sizeof *res);
  int jobs = (int)(o->jobs < (uint64_t)nsims ? o->jobs : (uint64_t)nsims);
  if (jobs > MAX_JOBS) jobs = MAX_JOBS;
  pool p = {.sims = sims, .nsims = nsims, .bytes = o->bytes, .value = value, .get_cap = get_cap, .sc = scl};
  pthread_t threads[MAX_JOBS];
  worker_arg args[MAX_JOBS];
  int started = 0;
  if (jobs > 1) {
    pthread_mutex_init(&p.gate, NULL);
    pthread_mutex_lock(&p.gate);
    for (; started < jobs; started++) {
      args[started] = (worker_arg){&p, started};
      if (pthread_create(&threads[started], NULL, worker_main, &args[started]) != 0) break;
    }
    p.nworkers = started;
    if (started) { /* as many workers as could be started */
      pthread_barrier_init(&p.start, NULL, (unsigned)started + 1);
      pthread_barrier_init(&p.done, NULL, (unsigned)started + 1);
    }
    pthread_mutex_unlock(&p.gate);
  }
  trace_map *seenp = count ? &seen : NULL;
  scratch sc = {NULL, get_cap, value, scl};
  if (!started) {
    sc.get_buf = malloc(get_cap);
    if (!sc.get_buf) {
      rc = oom("main pass");
      goto stop;
    }
  }
  int cur = 0;
  long n = read_batch(t, bufs[cur], pp, seenp, 0, in->name, res);
  while (n > 0) {
    uint64_t done = res->requests;
    long next_n;
    if (started) { /* the workers simulate this batch while the next one is read */
      p.batch = bufs[cur];
      p.n = (size_t)n;
      atomic_store(&p.next, 0);
      pthread_barrier_wait(&p.start);
      next_n = n == BATCH ? read_batch(t, bufs[cur ^ 1], pp, seenp, done + (uint64_t)n, in->name, res) : 0;
      pthread_barrier_wait(&p.done);
    } else {
      for (int k = 0; k < nsims; k++) run_one_sim(&sims[k], bufs[cur], (size_t)n, o->bytes, &sc);
      next_n = n == BATCH ? read_batch(t, bufs[cur ^ 1], pp, seenp, done + (uint64_t)n, in->name, res) : 0;
    }
    res->requests += (uint64_t)n;
    for (int k = 0; k < nsims; k++)
      if (sims[k].error) {
        fprintf(stderr, "macho sim: %s at size %llu: %s\n", sims[k].policy, (unsigned long long)sims[k].size,
                macho_strerror(sims[k].error));
        next_n = -1;
        break;
      }
    progress_update(pg, t, res->requests);
    if (next_n < 0) {
      rc = CLI_FAIL;
      break;
    }
    n = next_n;
    cur ^= 1;
  }
  if (n < 0) rc = CLI_FAIL;
  res->distinct = count ? seen.len : pp->distinct;
stop:
  if (started) {
    p.quit = true;
    pthread_barrier_wait(&p.start);
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&p.start);
    pthread_barrier_destroy(&p.done);
  }
  if (jobs > 1) pthread_mutex_destroy(&p.gate);
  free(sc.get_buf);
out:
  free(bufs[0]);
  free(bufs[1]);
  free(value);
  trace_map_free(&seen);
  trace_close(t);
  return rc;
}

/* ---- output ---------------------------------------------------------------------- */

static double ratio(const sim *s) {
  uint64_t n = s->hits + s->misses;
  return n ? (double)s->misses / (double)n : 0.0;
}

static void print_results(const sim_opts *o, const sim *sims, int nsims, const pass_result *res) {
  if (!o->json) {
    printf("%-9s %*s %12s %10s %12s %12s %10s%s%s\n", "policy", o->bytes ? 14 : 10, "size", "requests", "distinct",
           "hits", "misses", "miss_ratio", o->bytes ? " byte_miss_ratio" : "", o->timing ? "    Mreq/s" : "");
  }
  for (int k = 0; k < nsims; k++) {
    const sim *s = &sims[k];
    double rate = s->seconds > 0 ? (double)res->requests / s->seconds : 0;
    double bmr = res->bytes_requested ? (double)s->bytes_missed / (double)res->bytes_requested : 0;
    if (o->json) {
      printf("{\"trace\":");
      cli_json_string(stdout, strcmp(o->path, "-") ? o->path : "-");
      printf(",\"format\":\"%s\",\"policy\":\"%s\",\"size\":%llu,\"requests\":%llu,"
             "\"distinct\":%llu,\"hits\":%llu,\"misses\":%llu,\"miss_ratio\":%.6f,\"size_unit\":\"%s\"",
             o->fmt->name, s->policy, (unsigned long long)s->size, (unsigned long long)res->requests,
             (unsigned long long)res->distinct, (unsigned long long)s->hits, (unsigned long long)s->misses,
             ratio(s), o->bytes ? "bytes" : "entries");
      if (o->bytes)
        printf(",\"bytes_requested\":%llu,\"bytes_missed\":%llu,\"byte_miss_ratio\":%.6f",
               (unsigned long long)res->bytes_requested, (unsigned long long)s->bytes_missed, bmr);
      if (o->timing) printf(",\"seconds\":%.6f,\"requests_per_second\":%.0f", s->seconds, rate);
      printf("}\n");
    } else {
      printf("%-9s %*llu %12llu %10llu %12llu %12llu %10.4f", s->policy, o->bytes ? 14 : 10,
             (unsigned long long)s->size, (unsigned long long)res->requests, (unsigned long long)res->distinct,
             (unsigned long long)s->hits, (unsigned long long)s->misses, ratio(s));
      if (o->bytes) printf(" %15.4f", bmr);
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
  const char *base = strcmp(o->path, "-") ? strrchr(o->path, '/') : "/stdin";
  base = base ? base + 1 : o->path;
  char ncols[16], bcols[16];
  snprintf(ncols, sizeof ncols, "%d", nnames + 1);
  snprintf(bcols, sizeof bcols, "%d", bcol);
  bool svg = strcmp(strrchr(o->plot, '.'), ".svg") == 0;
  char *argv[] = {"gnuplot", "-c", script, (char *)o->plot, data, (char *)base, svg ? "svg" : "png", ncols,
                  bcols, o->bytes ? "cache size (bytes)" : "cache size (entries)", NULL};
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

static int sim_run(void *p) {
  const sim_opts *o = p;
  if (!strcmp(o->path, "-") && isatty(STDIN_FILENO)) { /* as gzip -d does: never wait on a keyboard */
    fprintf(stderr, "macho sim: TRACE is -, standard input, which is a terminal: pipe or redirect a trace into it\n");
    return CLI_USAGE;
  }
  bool any_percent = false, any_belady = false;
  for (int i = 0; i < o->nsizes; i++) any_percent |= o->sizev[i].percent;
  for (int i = 0; i < o->npols; i++) any_belady |= o->pols[i].is_belady;
  bool want_next = any_belady && !o->fmt->has_next;
  input in;
  input_init(&in, o);
  progress pg;
  progress_init(&pg, o);
  prepass pp = {0};
  int rc = CLI_OK;
  bool two_passes = any_percent || want_next || o->bytes;
  if (two_passes) {
    pg.pass = "pass 1 of 2: ";
    rc = run_prepass(&in, want_next, &pp, &pg);
    if (rc == CLI_OK && pp.requests == 0) {
      fprintf(stderr, "macho sim: %s: the trace holds no requests\n", in.name);
      rc = CLI_FAIL;
    }
    if (rc == CLI_OK && o->bytes && pp.bytes_requested == 0) {
      fprintf(stderr, "macho sim: %s: every object size is 0: the trace carries no sizes for --size-unit bytes%s\n",
              in.name, !strcmp(o->fmt->name, "csv") ? " (its header names no size column)" : "");
      rc = CLI_FAIL;
    }
    pg.pass = "pass 2 of 2: ";
    pg.total = pp.requests;
  }

  sim sims[MAX_SIMS];
  int nsims = 0;
  memset(sims, 0, sizeof sims);
  double base = o->bytes ? (double)pp.wss_bytes : (double)pp.distinct;
  for (int q = 0; q < o->npols && rc == CLI_OK; q++)
    for (int i = 0; i < o->nsizes && rc == CLI_OK; i++) {
      sim *s = &sims[nsims++];
      s->policy = o->pols[q].name;
      s->is_belady = o->pols[q].is_belady;
      s->pol = o->pols[q].pol;
      double size = o->sizev[i].percent ? floor(base * o->sizev[i].value / 100.0) : o->sizev[i].value;
      uint64_t max = o->bytes ? (uint64_t)1e15 : UINT32_MAX / 2;
      s->size = size < 1 ? 1 : size > (double)max ? max : (uint64_t)size;
      int orc = open_sim(s, o, &pp);
      if (orc != MACHO_OK) {
        fprintf(stderr, "macho sim: cannot open a %s cache of %llu %s: %s\n", s->policy, (unsigned long long)s->size,
                o->bytes ? "bytes" : "entries", macho_strerror(orc));
        rc = CLI_FAIL;
      }
    }
  pass_result res = {0};
  if (rc == CLI_OK) rc = main_pass(o, &in, sims, nsims, &pp, &pg, &res);
  progress_clear(&pg);
  if (rc == CLI_OK && res.requests == 0) {
    fprintf(stderr, "macho sim: %s: the trace holds no requests\n", in.name);
    rc = CLI_FAIL;
  }
  if (rc == CLI_OK) {
    print_results(o, sims, nsims, &res);
    if (fflush(stdout) != 0) rc = CLI_FAIL;
    if (rc == CLI_OK && o->plot) rc = plot(o, sims, nsims);
  }
  for (int k = 0; k < nsims; k++) {
    macho_close(sims[k].cache);
    belady_close(sims[k].opt);
  }
  free(pp.next);
  input_close(&in);
  return rc;
}

static const cli_option sim_options[] = {
    {CLI_OPT("format", 'f', CLI_STRING, sim_opts, format, "FMT",
             "the trace's format: lirs, txt, csv, oracleGeneral, vscsi or arc (see FORMATS below)"), .flags = CLI_REQUIRED, .complete = "formats"},
    {CLI_OPT("policy", 'p', CLI_STRING, sim_opts, policies, "P1,P2,...",
             "policies to simulate, or all (every policy of this build, and belady: the offline optimum)"), .flags = CLI_REQUIRED, .complete = "policies"},
    {CLI_OPT("size", 's', CLI_STRING, sim_opts, sizes, "N1,N2%,...",
             "cache sizes: entries (bytes with --size-unit bytes, units K M G T), or N% of the trace's distinct keys "
     "(bytes: of its working set), 0-100"), .flags = CLI_REQUIRED},
    {CLI_OPT("size-unit", 'u', CLI_CHOICE, sim_opts, size_unit, "UNIT",
             "entries: every object counts 1; bytes: a byte budget, each object weighs its size (oracleGeneral, csv, vscsi)"), .choices = "entries|bytes"},
    {CLI_OPT("jobs", 'j', CLI_U64, sim_opts, jobs, "N",
             "simulate on N threads (results are identical to one thread)"), .min = 1, .max = MAX_JOBS, .default_text = "the number of CPUs"},
    {CLI_OPT("json", 0, CLI_FLAG, sim_opts, json, NULL,
             "one JSON object per (policy, size) instead of a table")},
    {CLI_OPT("plot", 'o', CLI_STRING, sim_opts, plot, "FILE",
             "also draw the miss-ratio curves into FILE.svg or FILE.png (needs gnuplot)"), .complete = "file"},
    {CLI_OPT("time", 0, CLI_FLAG, sim_opts, timing, NULL,
             "add each run's throughput (CPU time of its cache calls, not of reading the trace)")},
    {CLI_OPT("quiet", 'q', CLI_FLAG, sim_opts, quiet, NULL,
             "no progress line on a terminal's stderr")},
    {0},
};
static const sim_opts sim_defaults = {.size_unit = "entries", .jobs = 0};

const cli_spec cli_spec_sim = {
    .name = "sim",
    .summary = "replay a cache trace through each policy and report miss ratios",
    .args = "TRACE",
    .min_args = 1,
    .max_args = 1,
    .description =
        "Replays TRACE through the real cache (one shard, TTL off; a get, and a put on a miss) once per "
        "(policy, size), streaming it, and prints requests, distinct keys, hits, misses and the miss "
        "ratio. TRACE may be plain or compressed with gzip, zstd (pzstd too) or xz, detected by content; "
        "- reads standard input, and a pipe works like a file (a trace read only once is spooled to "
        "$TMPDIR when two passes are needed: sizes in %, bytes, or belady on formats without next-use "
        "data). A trace that does not parse stops with its file name and byte offset, and says which "
        "format it looks like; an empty trace is an error.\n\n"
        "FORMATS: lirs (one key per line, '*' checkpoints), txt (one key per line), csv (header names the "
        "key column lbn/obj_id/key/id and the size column size/obj_size/len/bytes; without a header the "
        "5th and 4th columns), oracleGeneral (libCacheSim's 24-byte binary records, with sizes and next "
        "use), vscsi (VMware vSCSI v1/v2 records, key lbn, size len), arc ('START COUNT ...' runs of "
        "blocks, the ARC paper's .lis traces).\n\n"
        "With --size-unit bytes the cache has a byte budget and an object weighs its size, as in "
        "libCacheSim's cachesim: an object larger than the whole cache is never admitted and a hit keeps "
        "the size the object was admitted with; objects under 8 bytes weigh 8 (the key). The byte miss "
        "ratio is then printed too. Progress goes to stderr when it is a terminal and the run takes more "
        "than MACHO_PROGRESS_DELAY seconds (1.5).",
    .examples = "macho sim tests/data/lirs_cpp.trace.gz -f lirs -p all -s 1%,5%,20%\n"
                "macho sim trace.oracleGeneral.bin.zst --format=oracleGeneral --policy=lru,s3fifo,belady "
                "--size=1000,10000 --json --plot mrc.svg\n"
                "xzcat trace.txt.xz | macho sim - -f txt -p lru -s 10000\n"
                "macho sim tests/data/cloudPhysicsIO_20k.vscsi.gz -f vscsi -p lru,s3fifo -s 1%,10% --size-unit bytes",
    .options = sim_options,
    .opts_size = sizeof(sim_opts),
    .defaults = &sim_defaults,
    .check = sim_check,
    .run = sim_run,
};
