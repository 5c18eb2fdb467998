/*
 * bench.c -- `macho bench`: macho's speed and memory against the practical
 * limit (a bare open-addressing table) and its peers, in one run.
 *
 * A run is a list of cells (a workload: distribution, get share, key space,
 * capacity, key and value size) and, per cell, a list of instances (a system
 * at a thread count). Rounds are interleaved: round 1 runs every instance
 * once, A B C ..., then round 2 does the same, so that whatever the shared
 * machine does to one round lands on every system alike. Round 0 is a
 * warm-up for everyone (and the JIT's round for Java) and is dropped. Each
 * figure is the median over the timed rounds with its min and max, and each
 * ratio ("x bare", "x caffeine", "2T/1T") is the median of the *same-round*
 * ratios, never a ratio of two medians measured at different times.
 *
 * Requests are drawn before anything is timed (a Zipf draw costs more than a
 * get): one key array, one shuffled fill order, one stream per thread. Every
 * system gets the same arrays (peers read them from files), fills the same
 * keys, runs the same untimed warm-up slice and the same timed slice. A get
 * that misses is followed by a put (cache-aside); a put request replaces.
 *
 * Memory is measured separately, one fresh process per system: fill N
 * entries, and report the RSS delta per entry minus key and value bytes, next
 * to the system's own figure (macho's memory_bytes, Redis's used_memory, a
 * JVM's used heap after GC...) and, for macho, what its allocator hooks hold.
 *
 * Output: Markdown on stdout (or JSON lines with --json), and with --out DIR
 * (default docs/bench for --preset): PRESET-report.md, PRESET.json, a gnuplot
 * plot (PRESET.svg, with its .dat and .gp) and targets.md, where each target
 * of issue 11 says where it stands.
 */
#include "bench.h"
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 16
#define MAX_CELLS 512
#define MAX_SYSTEMS 96
#define MAX_ROUNDS 64
#define MAX_SUMMARIES 16384
#define MAX_MEMORY 64

/* ---- small helpers shared with bench_local.c and bench_peers.c ------------------- */
/* Children (peers, servers, memory children) to stop if the driver is interrupted,
 * and the workload directory to empty: a Ctrl-C or a kill leaves no server behind. */
static volatile sig_atomic_t child_pids[64];
static char files_dir_copy[256];

void bench_child_started(int pid) {
  for (int i = 0; i < 64; i++)
    if (child_pids[i] == 0) {
      child_pids[i] = pid;
      return;
    }
}

void bench_child_ended(int pid) {
  for (int i = 0; i < 64; i++)
    if (child_pids[i] == pid) child_pids[i] = 0;
}

static void on_signal(int sig) {
  for (int i = 0; i < 64; i++)
    if (child_pids[i] > 0) kill(child_pids[i], SIGKILL);
  for (int i = 0; i < 64; i++) /* gone before their files are (a server may be writing its log) */
    if (child_pids[i] > 0) waitpid(child_pids[i], NULL, 0);
  if (files_dir_copy[0]) { /* only async-signal-safe calls here */
    static const char *const names[] = {"keys.bin", "fill.bin", "ops.bin", "redis.log"};
    char p[320];
    for (int i = 0; i < 4; i++) {
      size_t n = strlen(files_dir_copy), m = strlen(names[i]);
      if (n + m + 2 > sizeof p) break;
      memcpy(p, files_dir_copy, n);
      p[n] = '/';
      memcpy(p + n + 1, names[i], m + 1);
      unlink(p);
    }
    rmdir(files_dir_copy);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void bench_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("macho bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

uint64_t bench_rss_bytes(int pid) {
  char path[64];
  if (pid) snprintf(path, sizeof path, "/proc/%d/statm", pid);
  else snprintf(path, sizeof path, "/proc/self/statm");
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  int n = fscanf(f, "%llu %llu", &size, &resident);
  fclose(f);
  return n == 2 ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Keys: printable (so every peer, memcached's text protocol included, takes
 * them as they are) and distinct. The first 8 bytes spell a 48-bit bijective
 * mix of the index in a 64-letter alphabet; longer keys continue with
 * pseudo-random letters. */
static const char key_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void bench_make_keys(uint8_t *keys, size_t nkeys, size_t klen, uint64_t seed) {
  const uint64_t m48 = (1ULL << 48) - 1;
  for (size_t i = 0; i < nkeys; i++) {
    uint64_t x = ((uint64_t)i + seed) & m48; /* each step below is a bijection mod 2^48 */
    x = (x * 0x9E3779B97F4BULL) & m48;
    x ^= x >> 24;
    x = (x * 0xC2B2AE3D27D5ULL) & m48;
    x ^= x >> 21;
    uint8_t *k = keys + i * klen;
    for (int j = 0; j < 8; j++) k[j] = (uint8_t)key_alphabet[(x >> (6 * j)) & 63];
    uint64_t r = seed ^ (i * 0xD1B54A32D192ED03ULL);
    for (size_t j = 8; j < klen; j++) k[j] = (uint8_t)key_alphabet[cli_rand(&r) & 63];
  }
}

/* ---- options ------------------------------------------------------------------------- */
typedef struct cell_spec {
  char dist[16];     /* "zipf0.99", "zipf1.2", "uniform" */
  double zipf_s;     /* 0 = uniform */
  unsigned get_pct;
  bool misses;
  size_t capacity, klen, vlen;
  unsigned threads[MAX_LIST], nthreads;
  unsigned shards[MAX_LIST], nshards;
  int metrics[MAX_LIST], nmetrics;
} cell_spec;

typedef struct mem_spec {
  size_t entries, klen, vlen;
} mem_spec;

typedef struct opts {
  const char *preset; /* NULL, "targets", "full", "quick" */
  /* dimension lists; n* == 0 = not given */
  char dists[MAX_LIST][16];
  unsigned ndists;
  unsigned gets[MAX_LIST], ngets;
  int keyspace[MAX_LIST], nkeyspace; /* 0 hit, 1 miss */
  size_t caps[MAX_LIST];
  unsigned ncaps;
  size_t klens[MAX_LIST], nklens, vlens[MAX_LIST], nvlens;
  unsigned threads[MAX_LIST], nthreads;
  unsigned shards[MAX_LIST], nshards;
  int metrics[MAX_LIST], nmetrics;
  macho_policy policies[MACHO_POLICY_COUNT];
  unsigned npolicies;
  char systems[MAX_LIST][24];
  unsigned nsystems;
  unsigned rounds;
  uint64_t ops, warm;     /* per thread per round; 0 = by capacity */
  uint64_t mem_entries;   /* 0 = preset's */
  double ttl_s;
  unsigned key_factor;    /* key space / capacity in miss cells */
  bool pin, json, no_memory, memory_only, no_throughput;
  const char *out;        /* NULL = preset's default */
  const char *peers_dir, *build_dir;
  uint64_t seed;
  char argv_line[1024];
} opts;

static bool parse_size(const char *s, size_t *out) {
  char *end;
  if (!s || !*s || *s == '-') return false;
  double v = strtod(s, &end);
  if (end == s) return false;
  if (*end == 'k' || *end == 'K') v *= 1e3, end++;
  else if (*end == 'M' || *end == 'm') v *= 1e6, end++;
  else if (*end == 'G' || *end == 'g') v *= 1e9, end++;
  if (*end || !(v >= 1) || v > 1e12 || v != floor(v)) return false;
  *out = (size_t)v;
  return true;
}

/* Split a comma list; calls fn on each item; false (with a message) on a bad one. */
static bool each_item(const char *opt, const char *list, bool (*fn)(opts *, const char *), opts *o) {
  char buf[512];
  if (!list || strlen(list) >= sizeof buf) {
    bench_warn("%s: missing or too long a list", opt);
    return false;
  }
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save))
    if (!fn(o, it)) {
      bench_warn("%s: bad item '%s'", opt, it);
      return false;
    }
  return true;
}

static bool add_dist(opts *o, const char *s) {
  if (o->ndists == MAX_LIST) return false;
  if (strcmp(s, "uniform") != 0) {
    char *end;
    if (strncmp(s, "zipf", 4) != 0) return false;
    double v = strtod(s + 4, &end);
    if (*end || !(v > 0) || v > 5) return false;
  }
  snprintf(o->dists[o->ndists++], 16, "%s", s);
  return true;
}
static bool add_gets(opts *o, const char *s) {
  uint64_t v;
  char *end;
  v = strtoull(s, &end, 10);
  if (*end || v > 100 || o->ngets == MAX_LIST) return false;
  o->gets[o->ngets++] = (unsigned)v;
  return true;
}
static bool add_keyspace(opts *o, const char *s) {
  if (o->nkeyspace == MAX_LIST) return false;
  if (strcmp(s, "hit") == 0 || strcmp(s, "hits") == 0) o->keyspace[o->nkeyspace++] = 0;
  else if (strcmp(s, "miss") == 0 || strcmp(s, "misses") == 0) o->keyspace[o->nkeyspace++] = 1;
  else return false;
  return true;
}
static bool add_cap(opts *o, const char *s) {
  size_t v;
  if (!parse_size(s, &v) || o->ncaps == MAX_LIST || v > (1u << 30)) return false;
  o->caps[o->ncaps++] = v;
  return true;
}
static bool add_klen(opts *o, const char *s) {
  size_t v;
  if (!parse_size(s, &v) || v < 8 || v > 250 || o->nklens == MAX_LIST) return false; /* memcached: <= 250 */
  o->klens[o->nklens++] = v;
  return true;
}
static bool add_vlen(opts *o, const char *s) {
  size_t v;
  if (!parse_size(s, &v) || v < 8 || v > 65536 || o->nvlens == MAX_LIST) return false;
  o->vlens[o->nvlens++] = v;
  return true;
}
static bool add_threads(opts *o, const char *s) {
  size_t v;
  if (!parse_size(s, &v) || v > BENCH_MAX_THREADS || o->nthreads == MAX_LIST) return false;
  o->threads[o->nthreads++] = (unsigned)v;
  return true;
}
static bool add_shards(opts *o, const char *s) {
  size_t v;
  if (!parse_size(s, &v) || v > 4096 || o->nshards == MAX_LIST) return false;
  o->shards[o->nshards++] = (unsigned)v;
  return true;
}
static bool add_metrics(opts *o, const char *s) {
  if (o->nmetrics == MAX_LIST) return false;
  if (strcmp(s, "0") == 0 || strcmp(s, "off") == 0) o->metrics[o->nmetrics++] = 0;
  else if (strcmp(s, "1") == 0 || strcmp(s, "on") == 0) o->metrics[o->nmetrics++] = 1;
  else if (strcmp(s, "2") == 0) o->metrics[o->nmetrics++] = 2;
  else return false;
  return true;
}
static bool add_policy(opts *o, const char *s) {
  if (strcmp(s, "all") == 0) {
    o->npolicies = 0;
    for (int p = 0; p < MACHO_POLICY_COUNT; p++)
      if (macho_policy_available((macho_policy)p)) o->policies[o->npolicies++] = (macho_policy)p;
    return true;
  }
  macho_policy p;
  if (macho_policy_parse(s, &p) != MACHO_OK || !macho_policy_available(p)) return false;
  o->policies[o->npolicies++] = p;
  return true;
}

static const char *const known_systems[] = {"bare", "macho", "caffeine", "ristretto", "golang-lru",
                                            "lru-cache", "redis", "memcached"};
#define NKNOWN (sizeof known_systems / sizeof known_systems[0])
static const char *const peer_systems[] = {"caffeine", "ristretto", "golang-lru", "lru-cache"};
#define NPEERS (sizeof peer_systems / sizeof peer_systems[0])

static bool add_system(opts *o, const char *s) {
  if (strcmp(s, "all") == 0) {
    o->nsystems = 0;
    for (size_t i = 0; i < NKNOWN; i++) snprintf(o->systems[o->nsystems++], 24, "%s", known_systems[i]);
    return true;
  }
  if (strcmp(s, "peers") == 0) {
    for (size_t i = 0; i < NPEERS; i++) add_system(o, peer_systems[i]);
    return true;
  }
  for (size_t i = 0; i < NKNOWN; i++)
    if (strcmp(s, known_systems[i]) == 0) {
      if (o->nsystems == MAX_LIST) return false;
      snprintf(o->systems[o->nsystems++], 24, "%s", s);
      return true;
    }
  return false;
}

static bool want_system(const opts *o, const char *s) {
  if (o->nsystems == 0) return true;
  for (unsigned i = 0; i < o->nsystems; i++)
    if (strcmp(o->systems[i], s) == 0) return true;
  return false;
}

const char cli_bench_usage[] =
    "macho bench [--preset targets|full] [--quick] [FILTERS] [--rounds R] [--ops N] [--warm N]\n"
    "            [--pin] [--json] [--out DIR] [--no-memory|--memory-only] [--seed S]\n"
    "  --preset targets  exactly the cells issue 11's targets name (writes docs/bench/)\n"
    "  --preset full     the whole cross product below (hours); --quick: a smoke run (seconds)\n"
    "  filters (comma lists; with a preset they select its cells, without one they span them):\n"
    "  --workload zipf0.99,zipf1.2,uniform   --gets 100,95,50   --keyspace hit,miss\n"
    "  --capacity 10k,1M   --key 8,32   --value 8,100,1k   --threads 1,2,N\n"
    "  --systems bare,macho,caffeine,ristretto,golang-lru,lru-cache,redis,memcached|peers|all\n"
    "  --policy lru,...|all   --shards 1,4   --metrics 1,0   --ttl S (600; 0 = none)\n"
    "  --keys-factor F   key space = F x capacity in miss cells (10)\n"
    "  --memory-entries N  entries filled for the memory table (1M; --quick 10k)\n"
    "  --peers DIR (bench/peers)  --build-dir DIR (where peers are built; BUILD/peers)\n"
    "Rounds are interleaved (A B C A B C ...), round 0 is a warm-up; figures are medians\n"
    "[min-max] over rounds; ratios are medians of same-round ratios. See docs/BENCHMARKS.md.\n";

static int parse_opts(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  o->ttl_s = 600;
  o->key_factor = 10;
  o->seed = 42;
  size_t pos = 0;
  for (int i = 0; i < argc && pos < sizeof o->argv_line - 1; i++)
    pos += (size_t)snprintf(o->argv_line + pos, sizeof o->argv_line - pos, "%s%s", i ? " " : "", argv[i]);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define LIST(name, fn)                                  \
  if (strcmp(a, name) == 0) {                           \
    if (!each_item(name, v, fn, o)) return CLI_USAGE;   \
    i++;                                                \
    continue;                                           \
  }
    LIST("--workload", add_dist)
    LIST("--gets", add_gets)
    LIST("--keyspace", add_keyspace)
    LIST("--capacity", add_cap)
    LIST("--key", add_klen)
    LIST("--value", add_vlen)
    LIST("--threads", add_threads)
    LIST("--shards", add_shards)
    LIST("--metrics", add_metrics)
    LIST("--policy", add_policy)
    LIST("--systems", add_system)
#undef LIST
    uint64_t u;
    if (strcmp(a, "--preset") == 0) {
      if (!v || (strcmp(v, "targets") != 0 && strcmp(v, "full") != 0 && strcmp(v, "quick") != 0)) {
        bench_warn("--preset expects targets, full or quick");
        return CLI_USAGE;
      }
      o->preset = v;
      i++;
    } else if (strcmp(a, "--quick") == 0) {
      o->preset = "quick";
    } else if (strcmp(a, "--rounds") == 0) {
      if (!cli_parse_u64(a, v, 1, MAX_ROUNDS - 1, &u)) return CLI_USAGE;
      o->rounds = (unsigned)u;
      i++;
    } else if (strcmp(a, "--ops") == 0) {
      if (!cli_parse_u64(a, v, 1000, 1u << 28, &o->ops)) return CLI_USAGE;
      i++;
    } else if (strcmp(a, "--warm") == 0) {
      if (!cli_parse_u64(a, v, 0, 1u << 28, &o->warm)) return CLI_USAGE;
      i++;
    } else if (strcmp(a, "--memory-entries") == 0) {
      size_t n;
      if (!v || !parse_size(v, &n) || n < 1000 || n > (1u << 28)) {
        bench_warn("--memory-entries expects 1000 to 2^28");
        return CLI_USAGE;
      }
      o->mem_entries = n;
      i++;
    } else if (strcmp(a, "--keys-factor") == 0) {
      if (!cli_parse_u64(a, v, 2, 1000, &u)) return CLI_USAGE;
      o->key_factor = (unsigned)u;
      i++;
    } else if (strcmp(a, "--ttl") == 0) {
      if (!cli_parse_double(a, v, 0, 1e9, &o->ttl_s)) return CLI_USAGE;
      i++;
    } else if (strcmp(a, "--seed") == 0) {
      if (!cli_parse_u64(a, v, 0, UINT64_MAX, &o->seed)) return CLI_USAGE;
      i++;
    } else if (strcmp(a, "--out") == 0 && v) {
      o->out = v;
      i++;
    } else if (strcmp(a, "--peers") == 0 && v) {
      o->peers_dir = v;
      i++;
    } else if (strcmp(a, "--build-dir") == 0 && v) {
      o->build_dir = v;
      i++;
    } else if (strcmp(a, "--pin") == 0) {
      o->pin = true;
    } else if (strcmp(a, "--json") == 0) {
      o->json = true;
    } else if (strcmp(a, "--no-memory") == 0) {
      o->no_memory = true;
    } else if (strcmp(a, "--memory-only") == 0) {
      o->memory_only = true;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(cli_bench_usage, stdout);
      return -1;
    } else {
      bench_warn("unknown option '%s'\nusage: %s", a, cli_bench_usage);
      return CLI_USAGE;
    }
  }
  if (o->no_memory && o->memory_only) {
    bench_warn("--no-memory and --memory-only exclude each other");
    return CLI_USAGE;
  }
  if (o->npolicies == 0) add_policy(o, "all");
  return CLI_OK;
}

/* ---- cells ------------------------------------------------------------------------------ */
static double dist_s(const char *d) { return strcmp(d, "uniform") == 0 ? 0 : strtod(d + 4, NULL); }

static cell_spec make_cell(const char *dist, unsigned gets, bool misses, size_t cap, size_t klen, size_t vlen,
                           const unsigned *threads, unsigned nthreads, const unsigned *shards, unsigned nshards,
                           const int *metrics, unsigned nmetrics) {
  cell_spec c;
  memset(&c, 0, sizeof c);
  snprintf(c.dist, sizeof c.dist, "%s", dist);
  c.zipf_s = dist_s(dist);
  c.get_pct = gets;
  c.misses = misses;
  c.capacity = cap;
  c.klen = klen;
  c.vlen = vlen;
  memcpy(c.threads, threads, nthreads * sizeof *threads);
  c.nthreads = nthreads;
  memcpy(c.shards, shards, nshards * sizeof *shards);
  c.nshards = nshards;
  memcpy(c.metrics, metrics, nmetrics * sizeof *metrics);
  c.nmetrics = (int)nmetrics;
  return c;
}

static bool in_u(const unsigned *l, unsigned n, unsigned v) {
  for (unsigned i = 0; i < n; i++)
    if (l[i] == v) return true;
  return false;
}
static bool in_z(const size_t *l, size_t n, size_t v) {
  for (size_t i = 0; i < n; i++)
    if (l[i] == v) return true;
  return false;
}

/* Does a preset's cell pass the user's filters? Threads/shards/metrics lists
 * are intersected instead (an empty intersection drops the cell). */
static bool cell_filter(const opts *o, cell_spec *c) {
  if (o->ndists) {
    bool ok = false;
    for (unsigned i = 0; i < o->ndists; i++) ok |= strcmp(o->dists[i], c->dist) == 0;
    if (!ok) return false;
  }
  if (o->ngets && !in_u(o->gets, o->ngets, c->get_pct)) return false;
  if (o->nkeyspace) {
    bool ok = false;
    for (int i = 0; i < o->nkeyspace; i++) ok |= o->keyspace[i] == (int)c->misses;
    if (!ok) return false;
  }
  if (o->ncaps && !in_z(o->caps, o->ncaps, c->capacity)) return false;
  if (o->nklens && !in_z(o->klens, o->nklens, c->klen)) return false;
  if (o->nvlens && !in_z(o->vlens, o->nvlens, c->vlen)) return false;
  if (o->nthreads) { /* the user's thread counts replace the preset's */
    memcpy(c->threads, o->threads, o->nthreads * sizeof *o->threads);
    c->nthreads = o->nthreads;
  }
  if (o->nshards) {
    memcpy(c->shards, o->shards, o->nshards * sizeof *o->shards);
    c->nshards = o->nshards;
  }
  if (o->nmetrics) {
    memcpy(c->metrics, o->metrics, (size_t)o->nmetrics * sizeof *o->metrics);
    c->nmetrics = o->nmetrics;
  }
  return true;
}

typedef struct plan {
  cell_spec cells[MAX_CELLS];
  unsigned ncells;
  mem_spec mem[8];
  unsigned nmem;
  unsigned rounds;
  uint64_t ops_small, ops_large; /* timed requests per thread per round: capacity < / >= 1M */
  const char *name;              /* file stem: targets, full, quick, custom */
} plan;

static void plan_add(plan *p, const opts *o, cell_spec c) {
  if (p->ncells < MAX_CELLS && cell_filter(o, &c)) p->cells[p->ncells++] = c;
}

static void make_plan(const opts *o, plan *p) {
  memset(p, 0, sizeof *p);
  static const unsigned t12[] = {1, 2}, s1[] = {1}, s14[] = {1, 4}, s4[] = {4};
  static const int m10[] = {1, 0}, m1[] = {1};
  p->rounds = 5;
  p->ops_small = 2000000;
  p->ops_large = 2000000;
  const char *preset = o->preset ? o->preset : "";
  if (strcmp(preset, "targets") == 0) {
    p->name = "targets";
    /* get-hit, 8 B keys and values: 1 thread (vs bare) and 2 threads (scaling), 1 and 4
     * shards; metrics on and off at 10k (where their cost shows most), on at 1M. The 1M
     * cell is the longest (a 1M fill per instance per round), so it runs last, with 1M
     * timed requests per thread. */
    p->ops_large = 1000000;
    plan_add(p, o, make_cell("zipf0.99", 100, false, 10000, 8, 8, t12, 2, s14, 2, m10, 2));
    /* mixed with misses and evictions, as the issue measured it: capacity 100k, 1M keys */
    plan_add(p, o, make_cell("zipf0.99", 95, true, 100000, 8, 8, t12, 2, s4, 1, m1, 1));
    plan_add(p, o, make_cell("zipf0.99", 50, true, 100000, 8, 8, t12, 2, s4, 1, m1, 1));
    plan_add(p, o, make_cell("zipf0.99", 100, false, 1000000, 8, 8, t12, 2, s14, 2, m1, 1));
    p->mem[p->nmem++] = (mem_spec){1000000, 8, 8};
  } else if (strcmp(preset, "full") == 0) {
    p->name = "full";
    p->rounds = 3;
    p->ops_large = 1000000;
    static const char *dists[] = {"zipf0.99", "zipf1.2", "uniform"};
    static const unsigned gets[] = {100, 95, 50};
    static const size_t caps[] = {10000, 1000000}, kl[] = {8, 32}, vl[] = {8, 100, 1024};
    for (int d = 0; d < 3; d++)
      for (int g = 0; g < 3; g++)
        for (int m = 0; m < 2; m++)
          for (int c = 0; c < 2; c++)
            for (int k = 0; k < 2; k++)
              for (int v = 0; v < 3; v++)
                plan_add(p, o, make_cell(dists[d], gets[g], m, caps[c], kl[k], vl[v], t12, 2, s4, 1, m1, 1));
    p->mem[p->nmem++] = (mem_spec){1000000, 8, 8};
    p->mem[p->nmem++] = (mem_spec){1000000, 32, 100};
    p->mem[p->nmem++] = (mem_spec){1000000, 32, 1024};
  } else if (strcmp(preset, "quick") == 0) {
    p->name = "quick";
    p->rounds = 3;
    p->ops_small = p->ops_large = 50000;
    plan_add(p, o, make_cell("zipf0.99", 100, false, 10000, 8, 8, t12, 2, s14, 2, m10, 2));
    plan_add(p, o, make_cell("zipf0.99", 95, true, 10000, 8, 8, t12, 2, s4, 1, m1, 1));
    p->mem[p->nmem++] = (mem_spec){10000, 8, 8};
  } else {
    /* no preset: the cross product of the lists given, one default each */
    p->name = "custom";
    char d0[1][16] = {"zipf0.99"};
    unsigned g0[] = {100}, t0[] = {1, 2}, sh0[] = {4};
    int k0[] = {0}, me0[] = {1};
    size_t c0[] = {10000}, kl0[] = {8}, vl0[] = {8};
    const unsigned nd = o->ndists ? o->ndists : 1, ng = o->ngets ? o->ngets : 1,
                   nk = o->nkeyspace ? (unsigned)o->nkeyspace : 1, nc = o->ncaps ? o->ncaps : 1,
                   nkl = o->nklens ? (unsigned)o->nklens : 1, nvl = o->nvlens ? (unsigned)o->nvlens : 1;
    for (unsigned d = 0; d < nd; d++)
      for (unsigned g = 0; g < ng; g++)
        for (unsigned k = 0; k < nk; k++)
          for (unsigned c = 0; c < nc; c++)
            for (unsigned kl = 0; kl < nkl; kl++)
              for (unsigned vl = 0; vl < nvl; vl++) {
                cell_spec cs = make_cell(o->ndists ? o->dists[d] : d0[0], o->ngets ? o->gets[g] : g0[0],
                                         o->nkeyspace ? o->keyspace[k] : k0[0], o->ncaps ? o->caps[c] : c0[0],
                                         o->nklens ? o->klens[kl] : kl0[0], o->nvlens ? o->vlens[vl] : vl0[0],
                                         o->nthreads ? o->threads : t0, o->nthreads ? o->nthreads : 2,
                                         o->nshards ? o->shards : sh0, o->nshards ? o->nshards : 1,
                                         o->nmetrics ? o->metrics : me0, o->nmetrics ? (unsigned)o->nmetrics : 1);
                if (p->ncells < MAX_CELLS) p->cells[p->ncells++] = cs;
              }
    for (unsigned kl = 0; kl < nkl; kl++)
      for (unsigned vl = 0; vl < nvl && p->nmem < 8; vl++)
        p->mem[p->nmem++] = (mem_spec){1000000, o->nklens ? o->klens[kl] : 8, o->nvlens ? o->vlens[vl] : 8};
  }
  (void)s1;
  if (o->rounds) p->rounds = o->rounds;
  if (o->ops) p->ops_small = p->ops_large = o->ops;
  if (o->mem_entries)
    for (unsigned i = 0; i < p->nmem; i++) p->mem[i].entries = o->mem_entries;
  if (o->memory_only) p->ncells = 0;
  if (o->no_memory) p->nmem = 0;
}

/* ---- workloads -------------------------------------------------------------------------- */
static void cell_name(const cell_spec *c, size_t nkeys, char *out, size_t n) {
  snprintf(out, n, "%s get%u %s cap%zu keys%zu k%zu v%zu", c->dist, c->get_pct, c->misses ? "miss" : "hit",
           c->capacity, nkeys, c->klen, c->vlen);
}

static void cell_title(const cell_spec *c, size_t nkeys, char *out, size_t n) {
  snprintf(out, n, "%s, %u %% gets, %s, capacity %zu, %zu keys, %zu B keys, %zu B values", c->dist,
           c->get_pct, c->misses ? "key space > capacity (misses, evictions)" : "key space = capacity (hits)",
           c->capacity, nkeys, c->klen, c->vlen);
}

static void workload_free(bench_workload *w) {
  free(w->keys);
  free(w->fill);
  free(w->ops);
  free(w->value);
  memset(w, 0, sizeof *w);
}

static int workload_make(bench_workload *w, const cell_spec *c, const opts *o, const plan *p) {
  memset(w, 0, sizeof *w);
  w->zipf_s = c->zipf_s;
  w->get_pct = c->get_pct;
  w->misses = c->misses;
  w->capacity = c->capacity;
  w->nkeys = c->misses ? c->capacity * o->key_factor : c->capacity;
  w->klen = c->klen;
  w->vlen = c->vlen;
  w->ttl_s = o->ttl_s;
  w->nfill = w->capacity < w->nkeys ? w->capacity : w->nkeys;
  w->ntimed = c->capacity >= 1000000 ? p->ops_large : p->ops_small;
  w->nwarm = o->warm ? o->warm : w->ntimed / 4;
  w->seed = o->seed;
  w->max_threads = 1;
  for (unsigned i = 0; i < c->nthreads; i++)
    if (c->threads[i] > w->max_threads) w->max_threads = c->threads[i];
  cell_name(c, w->nkeys, w->name, sizeof w->name);
  if (w->nkeys >= BENCH_PUT) {
    bench_warn("%s: too many keys", w->name);
    return -1;
  }
  size_t per = w->nwarm + w->ntimed;
  w->keys = malloc(w->nkeys * w->klen);
  w->fill = malloc(w->nfill * sizeof *w->fill);
  w->ops = malloc((size_t)w->max_threads * per * sizeof *w->ops);
  w->value = malloc(w->vlen);
  if (!w->keys || !w->fill || !w->ops || !w->value) {
    bench_warn("%s: out of memory for the workload", w->name);
    workload_free(w);
    return -1;
  }
  bench_make_keys(w->keys, w->nkeys, w->klen, w->seed);
  for (size_t i = 0; i < w->vlen; i++) w->value[i] = (uint8_t)('a' + i % 26);
  /* Fill: the nfill hottest keys (ranks 0..nfill-1; for uniform any nfill), shuffled
   * so that insertion order favours no policy. */
  uint64_t rng = w->seed ^ 0xF111;
  for (size_t i = 0; i < w->nfill; i++) w->fill[i] = (uint32_t)i;
  for (size_t i = w->nfill; i > 1; i--) {
    size_t j = (size_t)(cli_rand(&rng) % i);
    uint32_t t = w->fill[i - 1];
    w->fill[i - 1] = w->fill[j];
    w->fill[j] = t;
  }
  for (unsigned t = 0; t < w->max_threads; t++) {
    uint32_t *ops = w->ops + (size_t)t * per;
    cli_zipf z;
    uint64_t r = w->seed * 1000003u + t + 1;
    if (w->zipf_s > 0) cli_zipf_init(&z, w->nkeys, w->zipf_s, r);
    for (size_t i = 0; i < per; i++) {
      uint32_t k = w->zipf_s > 0 ? (uint32_t)cli_zipf_next(&z) : (uint32_t)(cli_rand(&r) % w->nkeys);
      bool put = (cli_rand(&r) % 100) >= w->get_pct;
      ops[i] = k | (put ? BENCH_PUT : 0);
    }
  }
  return 0;
}

/* ---- statistics ------------------------------------------------------------------------- */
typedef struct stat3 {
  double med, min, max;
  bool ok;
} stat3;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static stat3 stat_of(const double *v, unsigned n) {
  stat3 s = {0};
  if (n == 0) return s;
  double t[MAX_ROUNDS];
  memcpy(t, v, n * sizeof *v);
  qsort(t, n, sizeof *t, cmp_double);
  s.med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
  s.min = t[0];
  s.max = t[n - 1];
  s.ok = true;
  return s;
}

enum { BASE_BARE, BASE_CAFFEINE, BASE_RISTRETTO, NBASE };
static const char *const base_kind[NBASE] = {"bare", "caffeine", "ristretto"};

typedef struct instance {
  bench_system *sys;
  unsigned threads;
  bench_round r[MAX_ROUNDS]; /* r[0] = warm-up */
  unsigned nr;
  bool dead;
} instance;

typedef struct summary {
  cell_spec cell;
  size_t nkeys;
  char kind[24], label[64], version[96];
  macho_policy policy;
  unsigned shards;
  int metrics;
  unsigned threads, rounds;
  bool has_ttl;
  stat3 ns, mops, cpu, cpu_ns; /* cpu: share of threads x wall spent on a CPU; cpu_ns: CPU ns per request */
  double hit_ratio;
  stat3 vs[NBASE];   /* throughput / the baseline's at the same thread count, same round */
  stat3 vs_cpu[NBASE]; /* the same per CPU-second */
  stat3 scale;       /* throughput at `threads` / own throughput at 1 thread, same round */
  stat3 scale_bare;  /* scale / the bare table's scale, same round */
} summary;

static summary *summaries;
static unsigned nsummaries;
static bench_memory memories[MAX_MEMORY * 8];
static unsigned nmemories;
static mem_spec memory_specs[MAX_MEMORY * 8];

/* Every system a run used, with its version and setup, for the report's last table. */
typedef struct seen_system {
  char kind[24], label[64], version[96], notes[160];
} seen_system;
static seen_system seen[MAX_SYSTEMS * 2];
static unsigned nseen;

static void remember(const char *kind, const char *label, const char *version, const char *notes) {
  for (unsigned i = 0; i < nseen; i++)
    if (strcmp(seen[i].label, label) == 0 && strcmp(seen[i].version, version) == 0) return;
  if (nseen == sizeof seen / sizeof seen[0]) return;
  seen_system *x = &seen[nseen++];
  snprintf(x->kind, sizeof x->kind, "%s", kind);
  snprintf(x->label, sizeof x->label, "%s", label);
  snprintf(x->version, sizeof x->version, "%s", version);
  snprintf(x->notes, sizeof x->notes, "%s", notes);
}

static double round_ops_s(const bench_round *r) { return r->wall_ns > 0 ? (double)r->ops / r->wall_ns * 1e9 : 0; }

static instance *find_inst(instance *in, unsigned n, const char *kind, const char *label, unsigned threads) {
  for (unsigned i = 0; i < n; i++)
    if (!in[i].dead && in[i].threads == threads && strcmp(in[i].sys->kind, kind) == 0 &&
        (!label || strcmp(in[i].sys->label, label) == 0))
      return &in[i];
  return NULL;
}

/* Same-round ratio of requests per CPU-second (the base's CPU ns per request over
 * a's): the steadier measure on a loaded machine, where wall time is mostly
 * the other tenants. */
static stat3 cpu_ratio_stat(const instance *a, const instance *b, unsigned rounds) {
  double v[MAX_ROUNDS];
  unsigned n = 0;
  for (unsigned r = 1; r <= rounds && r < a->nr && r < b->nr; r++)
    if (a->r[r].cpu_ns > 0 && b->r[r].cpu_ns > 0)
      v[n++] = (b->r[r].cpu_ns / (double)b->r[r].ops) / (a->r[r].cpu_ns / (double)a->r[r].ops);
  return stat_of(v, n);
}

static stat3 ratio_stat(const instance *a, const instance *b, unsigned rounds) {
  double v[MAX_ROUNDS];
  unsigned n = 0;
  for (unsigned r = 1; r <= rounds && r < a->nr && r < b->nr; r++) {
    double y = round_ops_s(&b->r[r]);
    if (y > 0) v[n++] = round_ops_s(&a->r[r]) / y;
  }
  return stat_of(v, n);
}

static void summarize(const cell_spec *c, size_t nkeys, instance *in, unsigned n, unsigned rounds) {
  for (unsigned i = 0; i < n; i++) {
    instance *x = &in[i];
    if (x->dead || x->nr < 2) continue;
    if (nsummaries == MAX_SUMMARIES) return;
    summary *s = &summaries[nsummaries++];
    memset(s, 0, sizeof *s);
    s->cell = *c;
    s->nkeys = nkeys;
    snprintf(s->kind, sizeof s->kind, "%s", x->sys->kind);
    snprintf(s->label, sizeof s->label, "%s", x->sys->label);
    snprintf(s->version, sizeof s->version, "%s", x->sys->version);
    s->policy = x->sys->policy;
    s->shards = x->sys->shards;
    s->metrics = x->sys->metrics;
    s->threads = x->threads;
    s->has_ttl = x->sys->has_ttl;
    s->rounds = x->nr - 1;
    double ns[MAX_ROUNDS], mops[MAX_ROUNDS], cpu[MAX_ROUNDS], cpuns[MAX_ROUNDS];
    uint64_t gets = 0, hits = 0;
    unsigned k = 0, kc = 0;
    for (unsigned r = 1; r < x->nr; r++) {
      const bench_round *b = &x->r[r];
      ns[k] = b->wall_ns * x->threads / (double)b->ops;
      mops[k++] = round_ops_s(b) / 1e6;
      if (b->cpu_ns > 0) {
        cpuns[kc] = b->cpu_ns / (double)b->ops;
        cpu[kc++] = b->cpu_ns / (b->wall_ns * x->threads);
      }
      gets += b->gets;
      hits += b->hits;
    }
    s->ns = stat_of(ns, k);
    s->mops = stat_of(mops, k);
    s->cpu = stat_of(cpu, kc);
    s->cpu_ns = stat_of(cpuns, kc);
    s->hit_ratio = gets ? (double)hits / (double)gets : 0;
    for (int b = 0; b < NBASE; b++) {
      instance *base = find_inst(in, n, base_kind[b], NULL, x->threads);
      if (base && base != x) {
        s->vs[b] = ratio_stat(x, base, rounds);
        s->vs_cpu[b] = cpu_ratio_stat(x, base, rounds);
      }
    }
    if (x->threads > 1) {
      instance *one = find_inst(in, n, x->sys->kind, x->sys->label, 1);
      instance *bare = find_inst(in, n, "bare", NULL, x->threads), *bare1 = find_inst(in, n, "bare", NULL, 1);
      if (one) s->scale = ratio_stat(x, one, rounds);
      if (one && bare && bare1) {
        double v[MAX_ROUNDS];
        unsigned m = 0;
        for (unsigned r = 1; r < x->nr && r < one->nr && r < bare->nr && r < bare1->nr; r++) {
          double a = round_ops_s(&x->r[r]) / round_ops_s(&one->r[r]);
          double bb = round_ops_s(&bare->r[r]) / round_ops_s(&bare1->r[r]);
          if (bb > 0) v[m++] = a / bb;
        }
        s->scale_bare = stat_of(v, m);
      }
    }
  }
}

/* ---- output ------------------------------------------------------------------------------- */
typedef struct report_out {
  FILE *md;   /* the whole Markdown report */
  char *md_buf;
  size_t md_len;
  FILE *js;   /* JSON lines */
  char *js_buf;
  size_t js_len;
  bool json_stdout;
} report_out;

static report_out R;

static void md(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void md(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (!R.json_stdout) {
    va_list aq;
    va_copy(aq, ap);
    vfprintf(stdout, fmt, aq);
    va_end(aq);
  }
  vfprintf(R.md, fmt, ap);
  va_end(ap);
}

static void js(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void js(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (R.json_stdout) {
    va_list aq;
    va_copy(aq, ap);
    vfprintf(stdout, fmt, aq);
    va_end(aq);
    fflush(stdout);
  }
  vfprintf(R.js, fmt, ap);
  va_end(ap);
}

/* JSON string: the benchmark's strings are plain ASCII; escape quotes and backslashes. */
static const char *jstr(const char *s, char *buf, size_t n) {
  size_t j = 0;
  for (; *s && j + 2 < n; s++) {
    if (*s == '"' || *s == '\\') buf[j++] = '\\';
    buf[j++] = (*s >= 32 && *s < 127) ? *s : '?';
  }
  buf[j] = 0;
  return buf;
}

static void js_stat(const char *name, stat3 s) {
  if (s.ok) js(",\"%s\":{\"median\":%.6g,\"min\":%.6g,\"max\":%.6g}", name, s.med, s.min, s.max);
  else js(",\"%s\":null", name);
}

static void js_cell(const cell_spec *c, size_t nkeys) {
  char name[128];
  cell_name(c, nkeys, name, sizeof name);
  js("\"cell\":\"%s\",\"workload\":\"%s\",\"gets_pct\":%u,\"keyspace\":\"%s\",\"capacity\":%zu,"
     "\"keys\":%zu,\"key_bytes\":%zu,\"value_bytes\":%zu",
     name, c->dist, c->get_pct, c->misses ? "miss" : "hit", c->capacity, nkeys, c->klen, c->vlen);
}

static void fmt_stat(char *buf, size_t n, stat3 s, const char *f) {
  if (!s.ok) {
    snprintf(buf, n, "-");
    return;
  }
  char a[32], b[32], c[32];
  snprintf(a, sizeof a, f, s.med);
  snprintf(b, sizeof b, f, s.min);
  snprintf(c, sizeof c, f, s.max);
  snprintf(buf, n, "%s [%s-%s]", a, b, c);
}

static void report_cell(const cell_spec *c, size_t nkeys, unsigned first, unsigned last, double ttl_s) {
  char title[192];
  cell_title(c, nkeys, title, sizeof title);
  bool base[NBASE] = {0}, scale = false;
  for (unsigned i = first; i < last; i++) {
    for (int b = 0; b < NBASE; b++) base[b] |= summaries[i].vs[b].ok || strcmp(summaries[i].kind, base_kind[b]) == 0;
    scale |= summaries[i].threads > 1;
  }
  md("\n### %s\n\n| system | threads | Mops/s | ns/op median [min-max] | cpu ns/op | hit ratio |", title);
  for (int b = 0; b < NBASE; b++)
    if (base[b]) md(" x %s |", base_kind[b]);
  if (scale) md(" NT/1T | NT/1T / bare's |");
  md("\n|---|---:|---:|---:|---:|---:|");
  for (int b = 0; b < NBASE; b++)
    if (base[b]) md("---:|");
  if (scale) md("---:|---:|");
  md("\n");
  for (unsigned i = first; i < last; i++) {
    summary *s = &summaries[i];
    char ns[64], buf[64];
    fmt_stat(ns, sizeof ns, s->ns, "%.1f");
    char cpuns[32] = "-";
    if (s->cpu_ns.ok) snprintf(cpuns, sizeof cpuns, "%.1f", s->cpu_ns.med);
    md("| %s%s | %u | %.2f | %s | %s | %.4f |", s->label, (ttl_s > 0 && !s->has_ttl) ? " (no TTL)" : "", s->threads,
       s->mops.med, ns, cpuns, s->hit_ratio);
    for (int b = 0; b < NBASE; b++)
      if (base[b]) {
        fmt_stat(buf, sizeof buf, s->vs[b], "%.2f");
        md(" %s |", buf);
      }
    if (scale) {
      fmt_stat(buf, sizeof buf, s->scale, "%.2f");
      md(" %s |", buf);
      fmt_stat(buf, sizeof buf, s->scale_bare, "%.2f");
      md(" %s |", buf);
    }
    md("\n");
    char e1[200], e2[200];
    js("{\"type\":\"throughput\",");
    js_cell(c, nkeys);
    js(",\"ttl_s\":%g,\"system\":\"%s\",\"label\":\"%s\",\"version\":\"%s\",\"has_ttl\":%s", ttl_s, s->kind,
       jstr(s->label, e1, sizeof e1), jstr(s->version, e2, sizeof e2), s->has_ttl ? "true" : "false");
    if (strcmp(s->kind, "macho") == 0)
      js(",\"policy\":\"%s\",\"shards\":%u,\"metrics\":%d", macho_policy_name(s->policy), s->shards, s->metrics);
    js(",\"threads\":%u,\"rounds\":%u,\"hit_ratio\":%.6f", s->threads, s->rounds, s->hit_ratio);
    js_stat("ns_per_op", s->ns);
    js_stat("mops", s->mops);
    js_stat("cpu_share", s->cpu);
    js_stat("cpu_ns_per_op", s->cpu_ns);
    for (int b = 0; b < NBASE; b++) {
      char k[32];
      snprintf(k, sizeof k, "vs_%s", base_kind[b]);
      js_stat(k, s->vs[b]);
      snprintf(k, sizeof k, "vs_%s_cpu", base_kind[b]);
      js_stat(k, s->vs_cpu[b]);
    }
    js_stat("scaling", s->scale);
    js_stat("scaling_vs_bare", s->scale_bare);
    js("}\n");
  }
}

/* ---- running a cell --------------------------------------------------------------------- */
typedef struct ctx {
  const opts *o;
  plan *p;
  const char *peers_dir, *build_dir;
  char files_dir[256];
  bool peers_built;
} ctx;

static void skip_msg(const char *label, const char *why, const cell_spec *c, size_t nkeys) {
  bench_warn("skipped %s: %s", label, why);
  char e1[96], e2[256];
  js("{\"type\":\"skip\",");
  if (c) {
    js_cell(c, nkeys);
    js(",");
  }
  js("\"system\":\"%s\",\"reason\":\"%s\"}\n", jstr(label, e1, sizeof e1), jstr(why, e2, sizeof e2));
}

static int run_cell(ctx *x, const cell_spec *c, unsigned index) {
  const opts *o = x->o;
  bench_workload w;
  char title[192];
  if (workload_make(&w, c, o, x->p) != 0) return -1;
  cell_title(c, w.nkeys, title, sizeof title);
  fprintf(stderr, "macho bench: cell %u/%u: %s\n", index + 1, x->p->ncells, title);
  static bench_system sys[MAX_SYSTEMS];
  unsigned nsys = 0;
  if (want_system(o, "bare")) bench_bare_init(&sys[nsys++]);
  if (want_system(o, "macho"))
    for (unsigned pi = 0; pi < o->npolicies; pi++)
      for (unsigned si = 0; si < c->nshards; si++)
        for (int mi = 0; mi < c->nmetrics && nsys < MAX_SYSTEMS; mi++)
          bench_macho_init(&sys[nsys++], o->policies[pi], c->shards[si], c->metrics[mi]);
  bool files = false;
  for (size_t pi = 0; pi < NPEERS && nsys < MAX_SYSTEMS; pi++) {
    if (!want_system(o, peer_systems[pi])) continue;
    if (!x->peers_built) {
      bench_peers_build(x->peers_dir, x->build_dir);
      x->peers_built = true;
    }
    if (!files) {
      if (bench_write_files(&w, x->files_dir) != 0) {
        skip_msg("peers", "could not write the workload files", c, w.nkeys);
        break;
      }
      files = true;
    }
    if (bench_peer_start(&sys[nsys], peer_systems[pi], x->peers_dir, x->build_dir, x->files_dir, &w) == 0) nsys++;
    else skip_msg(peer_systems[pi], "not available (see the message above)", c, w.nkeys);
  }
  for (unsigned i = 0; i < nsys; i++)
    if (strcmp(sys[i].kind, "macho") != 0 || (sys[i].policy == o->policies[0] && sys[i].metrics == c->metrics[0]))
      remember(sys[i].kind, strcmp(sys[i].kind, "macho") == 0 ? "macho" : sys[i].label, sys[i].version,
               strcmp(sys[i].kind, "macho") == 0 ? "public API (macho.h); every policy, N shards, metrics on/off"
                                                 : sys[i].notes);
  static instance in[MAX_SYSTEMS * MAX_LIST];
  unsigned nin = 0;
  for (unsigned ti = 0; ti < c->nthreads; ti++)
    for (unsigned s = 0; s < nsys; s++) {
      const char *why = sys[s].cannot ? sys[s].cannot(&sys[s], &w, c->threads[ti]) : NULL;
      if (why) {
        char l[96];
        snprintf(l, sizeof l, "%s at %u threads", sys[s].label, c->threads[ti]);
        skip_msg(l, why, c, w.nkeys);
        continue;
      }
      in[nin] = (instance){.sys = &sys[s], .threads = c->threads[ti]};
      nin++;
    }
  unsigned rounds = x->p->rounds;
  for (unsigned r = 0; r <= rounds; r++) {
    fprintf(stderr, "macho bench:   round %u/%u%s\n", r, rounds, r == 0 ? " (warm-up, dropped)" : "");
    for (unsigned i = 0; i < nin; i++) {
      instance *it = &in[i];
      if (it->dead) continue;
      if (it->sys->run(it->sys, &w, it->threads, o->pin, &it->r[it->nr]) != 0) {
        bench_warn("%s at %u threads failed in round %u; dropped from this cell", it->sys->label, it->threads, r);
        it->dead = true;
        continue;
      }
      it->nr++;
    }
  }
  for (unsigned s = 0; s < nsys; s++) sys[s].stop(&sys[s]);
  if (files) {
    const char *names[] = {"keys.bin", "fill.bin", "ops.bin"};
    for (int i = 0; i < 3; i++) {
      char path[512];
      snprintf(path, sizeof path, "%s/%s", x->files_dir, names[i]);
      unlink(path);
    }
  }
  unsigned first = nsummaries;
  summarize(c, w.nkeys, in, nin, rounds);
  report_cell(c, w.nkeys, first, nsummaries, w.ttl_s);
  workload_free(&w);
  return 0;
}

/* ---- memory ------------------------------------------------------------------------------- */
static int run_child(char *const argv[], char *line, size_t n) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  bench_child_started(pid);
  FILE *f = fdopen(fds[0], "r");
  line[0] = 0;
  if (f) {
    if (!fgets(line, (int)n, f)) line[0] = 0;
    fclose(f);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  bench_child_ended(pid);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 && line[0] ? 0 : -1;
}

bool bench_json_num(const char *line, const char *key, double *out) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  if (!p) return false;
  char *end;
  double v = strtod(p + strlen(pat), &end);
  if (end == p + strlen(pat)) return false;
  *out = v;
  return true;
}

static void memory_local(const char *kind, macho_policy pol, unsigned shards, const mem_spec *m, const opts *o,
                         bench_memory *out) {
  memset(out, 0, sizeof *out);
  char a[9][32];
  snprintf(a[0], 32, "%s", kind);
  snprintf(a[1], 32, "%s", macho_policy_name(pol));
  snprintf(a[2], 32, "%u", shards);
  snprintf(a[3], 32, "%d", 1);
  snprintf(a[4], 32, "%zu", m->entries);
  snprintf(a[5], 32, "%zu", m->klen);
  snprintf(a[6], 32, "%zu", m->vlen);
  snprintf(a[7], 32, "%g", o->ttl_s);
  snprintf(a[8], 32, "%llu", (unsigned long long)o->seed);
  char exe[] = "/proc/self/exe";
  char *argv[] = {exe, "bench", "--memory-child", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], NULL};
  char line[512];
  if (strcmp(kind, "bare") == 0) {
    bench_system s;
    bench_bare_init(&s);
    snprintf(out->label, sizeof out->label, "%s", s.label);
    snprintf(out->version, sizeof out->version, "%s", s.version);
    snprintf(out->notes, sizeof out->notes, "%s", s.notes);
    out->own_what = "slots + arena allocated";
  } else {
    snprintf(out->label, sizeof out->label, "macho %s", macho_policy_name(pol));
    snprintf(out->version, sizeof out->version, "%s", macho_version_string());
    snprintf(out->notes, sizeof out->notes, "%u shard%s, metrics on, TTL %g s", shards, shards == 1 ? "" : "s",
             o->ttl_s);
    out->own_what = "memory_bytes";
  }
  snprintf(out->kind, sizeof out->kind, "%s", kind);
  fprintf(stderr, "macho bench: memory of %s (%zu entries)\n", out->label, m->entries);
  double entries, before, after, own, hooks = -1;
  if (run_child(argv, line, sizeof line) != 0 || !bench_json_num(line, "entries", &entries) ||
      !bench_json_num(line, "rss_before", &before) || !bench_json_num(line, "rss_after", &after) ||
      !bench_json_num(line, "own_bytes", &own)) {
    bench_warn("memory child for %s failed", out->label);
    return;
  }
  bench_json_num(line, "hooks_bytes", &hooks);
  out->entries = (uint64_t)entries;
  out->rss_delta = after - before;
  out->own_bytes = own;
  out->hooks_bytes = hooks;
  out->ok = entries > 0;
}

static void report_memory(const mem_spec *m, unsigned first, unsigned last, double ttl_s) {
  md("\n### Memory: %zu entries, %zu B keys, %zu B values, TTL %g s (bytes per entry beyond key and value)\n\n",
     m->entries, m->klen, m->vlen, ttl_s);
  md("| system | entries | RSS delta | own figure | allocator hooks | own figure is | version | setup |\n"
     "|---|---:|---:|---:|---:|---|---|---|\n");
  double kv = (double)(m->klen + m->vlen);
  for (unsigned i = first; i < last; i++) {
    bench_memory *b = &memories[i];
    if (!b->ok) continue;
    double e = (double)b->entries;
    char hooks[32] = "-";
    if (b->hooks_bytes >= 0) snprintf(hooks, sizeof hooks, "%.1f", b->hooks_bytes / e - kv);
    md("| %s | %llu | %.1f | %.1f | %s | %s | %s | %s |\n", b->label, (unsigned long long)b->entries,
       b->rss_delta / e - kv, b->own_bytes / e - kv, hooks, b->own_what ? b->own_what : "-", b->version, b->notes);
    char e1[200], e2[200], e3[400];
    js("{\"type\":\"memory\",\"entries\":%llu,\"key_bytes\":%zu,\"value_bytes\":%zu,\"ttl_s\":%g,"
       "\"system\":\"%s\",\"label\":\"%s\",\"version\":\"%s\",\"setup\":\"%s\",\"rss_delta_bytes\":%.0f,"
       "\"own_bytes\":%.0f,\"rss_overhead_per_entry\":%.3f,\"own_overhead_per_entry\":%.3f",
       (unsigned long long)b->entries, m->klen, m->vlen, ttl_s, b->kind, jstr(b->label, e1, sizeof e1),
       jstr(b->version, e2, sizeof e2), jstr(b->notes, e3, sizeof e3), b->rss_delta, b->own_bytes,
       b->rss_delta / e - kv, b->own_bytes / e - kv);
    if (b->hooks_bytes >= 0) js(",\"hooks_overhead_per_entry\":%.3f", b->hooks_bytes / e - kv);
    js("}\n");
  }
}

static void run_memory(ctx *x, const mem_spec *m) {
  const opts *o = x->o;
  unsigned first = nmemories;
  if (want_system(o, "bare") && nmemories < MAX_MEMORY * 8) {
    memory_local("bare", MACHO_POLICY_LRU, 1, m, o, &memories[nmemories]);
    memory_specs[nmemories++] = *m;
  }
  if (want_system(o, "macho"))
    for (unsigned pi = 0; pi < o->npolicies && nmemories < MAX_MEMORY * 8; pi++) {
      memory_local("macho", o->policies[pi], o->nshards ? o->shards[0] : 1, m, o, &memories[nmemories]);
      memory_specs[nmemories++] = *m;
    }
  static const char *const servers[] = {"caffeine", "ristretto", "golang-lru", "lru-cache", "redis", "memcached"};
  for (size_t i = 0; i < sizeof servers / sizeof servers[0] && nmemories < MAX_MEMORY * 8; i++) {
    if (!want_system(o, servers[i])) continue;
    if (!x->peers_built && i < 4) {
      bench_peers_build(x->peers_dir, x->build_dir);
      x->peers_built = true;
    }
    fprintf(stderr, "macho bench: memory of %s (%zu entries)\n", servers[i], m->entries);
    if (bench_peer_memory(servers[i], x->peers_dir, x->build_dir, x->files_dir, m->entries, m->klen, m->vlen,
                          o->ttl_s, o->seed, &memories[nmemories]) == 0)
      memory_specs[nmemories++] = *m;
    else
      skip_msg(servers[i], "memory not measured (see the message above)", NULL, 0);
  }
  for (unsigned i = first; i < nmemories; i++)
    if (memories[i].ok && strcmp(memories[i].kind, "macho") != 0)
      remember(memories[i].kind, memories[i].label, memories[i].version, memories[i].notes);
  report_memory(m, first, nmemories, o->ttl_s);
}

static void report_systems(void) {
  if (!nseen) return;
  md("\n### Systems\n\n| system | version | setup |\n|---|---|---|\n");
  for (unsigned i = 0; i < nseen; i++) md("| %s | %s | %s |\n", seen[i].label, seen[i].version, seen[i].notes);
}

/* ---- targets (issue 11, "Targets") --------------------------------------------------------- */
static FILE *T; /* targets.md being written */
static unsigned targets_met, targets_missed, targets_unmeasured;

static char last_target[192];

/* One row of targets.md: a section per target, a row per system. met: 1 met, 0
 * missed, -1 not measured, -2 a reference row (a peer or the bare table). */
static void trow(const char *target, const char *system, const char *measured, const char *goal, int met) {
  const char *v = met == -2 ? "(reference)" : met < 0 ? "not measured" : met ? "**met**" : "missed";
  if (met == -1) targets_unmeasured++;
  else if (met == 1) targets_met++;
  else if (met == 0) targets_missed++;
  if (strcmp(last_target, target) != 0) {
    snprintf(last_target, sizeof last_target, "%s", target);
    fprintf(T, "\n### %s\n\n| system | measured: median [min-max] over rounds | goal | |\n|---|---|---|---|\n",
            target);
  }
  fprintf(T, "| %s | %s | %s | %s |\n", system, measured, goal, v);
  char e1[256], e2[128], e3[400], e4[64];
  js("{\"type\":\"target\",\"target\":\"%s\",\"system\":\"%s\",\"measured\":\"%s\",\"goal\":\"%s\",\"met\":%s}\n",
     jstr(target, e1, sizeof e1), jstr(system, e2, sizeof e2), jstr(measured, e3, sizeof e3),
     jstr(goal, e4, sizeof e4), met == -2 ? "\"reference\"" : met < 0 ? "null" : met ? "true" : "false");
}

static bool cell_is(const cell_spec *c, unsigned gets, bool misses, size_t cap) {
  return c->get_pct == gets && c->misses == misses && c->capacity == cap && c->klen == 8 && c->vlen == 8 &&
         strncmp(c->dist, "zipf", 4) == 0;
}

static void target_vs_bare(size_t cap, double goal) {
  char t[160], m[192], g[32];
  snprintf(t, sizeof t, "get-hit, %s entries, 8 B keys and values, 1 thread: share of the bare table's throughput",
           cap >= 1000000 ? "1M" : "10k");
  snprintf(g, sizeof g, ">= %.2f", goal);
  bool any = false;
  for (unsigned i = 0; i < nsummaries; i++) {
    summary *s = &summaries[i];
    if (!cell_is(&s->cell, 100, false, cap) || s->threads != 1 || strcmp(s->kind, "bare") == 0) continue;
    if (!s->vs[BASE_BARE].ok) continue;
    char w[64], c[64];
    fmt_stat(w, sizeof w, s->vs[BASE_BARE], "%.3f");
    fmt_stat(c, sizeof c, s->vs_cpu[BASE_BARE], "%.3f");
    snprintf(m, sizeof m, "%s (per CPU-second: %s)", w, c);
    bool macho = strcmp(s->kind, "macho") == 0;
    trow(t, s->label, m, macho ? g : "", macho ? s->vs[BASE_BARE].med >= goal : -2);
    any = true;
  }
  if (!any) trow(t, "macho", "cell not run (needs bare and macho)", g, -1);
}

static void target_scaling(size_t cap) {
  char t[160], m[192];
  snprintf(t, sizeof t, "2 threads / 1 thread, read-only Zipf, %s entries: share of the bare table's own ratio",
           cap >= 1000000 ? "1M" : "10k");
  bool any = false;
  for (unsigned i = 0; i < nsummaries; i++) {
    summary *s = &summaries[i];
    if (!cell_is(&s->cell, 100, false, cap) || s->threads != 2) continue;
    if (strcmp(s->kind, "bare") == 0) {
      fmt_stat(m, sizeof m, s->scale, "%.2f");
      char l[96];
      snprintf(l, sizeof l, "bare table (its 2T/1T)");
      trow(t, l, m, "", -2);
      continue;
    }
    if (!s->scale_bare.ok) continue;
    char a[64], b[64];
    fmt_stat(a, sizeof a, s->scale_bare, "%.2f");
    fmt_stat(b, sizeof b, s->scale, "%.2f");
    snprintf(m, sizeof m, "%s (2T/1T %s)", a, b);
    bool macho = strcmp(s->kind, "macho") == 0;
    trow(t, s->label, m, macho ? ">= 0.90" : "", macho ? s->scale_bare.med >= 0.9 : -2);
    any = true;
  }
  if (!any) trow(t, "macho", "cell not run (needs bare and macho at 1 and 2 threads)", ">= 0.90", -1);
}

static void target_mixed(unsigned gets) {
  char t[160];
  snprintf(t, sizeof t, "mixed %u/%u Zipf with misses and evictions: throughput x Caffeine and x Ristretto", gets,
           100 - gets);
  bool any = false;
  for (unsigned i = 0; i < nsummaries; i++) {
    summary *s = &summaries[i];
    if (s->cell.get_pct != gets || !s->cell.misses || strcmp(s->kind, "macho") != 0) continue;
    char m[320], a[64], b[64], ac[64], bc[64], l[96];
    fmt_stat(a, sizeof a, s->vs[BASE_CAFFEINE], "%.2f");
    fmt_stat(b, sizeof b, s->vs[BASE_RISTRETTO], "%.2f");
    fmt_stat(ac, sizeof ac, s->vs_cpu[BASE_CAFFEINE], "%.2f");
    fmt_stat(bc, sizeof bc, s->vs_cpu[BASE_RISTRETTO], "%.2f");
    snprintf(m, sizeof m, "x caffeine %s, x ristretto %s (per CPU-second: %s, %s)", a, b, ac, bc);
    snprintf(l, sizeof l, "%s, %u thread%s", s->label, s->threads, s->threads == 1 ? "" : "s");
    int met = (!s->vs[BASE_CAFFEINE].ok || !s->vs[BASE_RISTRETTO].ok)
                  ? -1
                  : s->vs[BASE_CAFFEINE].med >= 3 && s->vs[BASE_RISTRETTO].med >= 3;
    trow(t, l, m, ">= 3 and >= 3", met);
    any = true;
  }
  if (!any) trow(t, "macho", "cell not run", ">= 3", -1);
}

static void target_memory(void) {
  const char *t = "overhead beyond key and value, 1M entries, 8 B keys and values, TTL on, RSS-measured";
  bool any = false;
  for (unsigned i = 0; i < nmemories; i++) {
    bench_memory *b = &memories[i];
    mem_spec *m = &memory_specs[i];
    if (!b->ok || m->klen != 8 || m->vlen != 8 || m->entries < 1000000) continue;
    double e = (double)b->entries, rss = b->rss_delta / e - 16, own = b->own_bytes / e - 16;
    char meas[160];
    snprintf(meas, sizeof meas, "%.1f B (own figure %.1f B)", rss, own);
    if (strcmp(b->kind, "macho") != 0) {
      trow(t, b->label, meas, "", -2);
      continue;
    }
    const char *pol = b->label + 6;
    bool small = strcmp(pol, "fifo") == 0 || strcmp(pol, "random") == 0 || strcmp(pol, "sieve") == 0 ||
                 strcmp(pol, "clock") == 0;
    double goal = small ? 16 : 24;
    char g[32];
    snprintf(g, sizeof g, "<= %.0f B", goal);
    trow(t, b->label, meas, g, rss <= goal);
    any = true;
  }
  if (!any) trow(t, "macho", "memory at 1M entries, 8 B / 8 B not run", "<= 16 / 24 B", -1);
  for (unsigned i = 0; i < nmemories; i++) { /* every memory figure macho measured, any size */
    bench_memory *b = &memories[i];
    if (!b->ok || strcmp(b->kind, "macho") != 0 || b->hooks_bytes <= 0) continue;
    double e = (double)b->entries, d = (b->own_bytes - b->hooks_bytes) / b->hooks_bytes;
    char meas[160], l[128];
    snprintf(meas, sizeof meas, "memory_bytes %.1f B/entry vs hooks %.1f B/entry: %+.1f %%", b->own_bytes / e,
             b->hooks_bytes / e, d * 100);
    snprintf(l, sizeof l, "%s, %llu entries of %zu+%zu B", b->label, (unsigned long long)b->entries,
             memory_specs[i].klen, memory_specs[i].vlen);
    trow("memory figure equals what the allocator hooks hold", l, meas, "within 2 %", fabs(d) <= 0.02);
  }
}

/* macho sim LRU on the shared CloudPhysics trace, CPU time (sim --time). */
static void target_sim(const opts *o) {
  const char *t = "macho sim LRU, shared CloudPhysics trace, requests/s of CPU time";
  const char *cands[] = {"../shared/traces/cloudPhysicsIO.oracleGeneral.bin",
                         "../../shared/traces/cloudPhysicsIO.oracleGeneral.bin",
                         "/work/shared/traces/cloudPhysicsIO.oracleGeneral.bin"};
  const char *trace = NULL;
  for (size_t i = 0; i < sizeof cands / sizeof cands[0] && !trace; i++)
    if (access(cands[i], R_OK) == 0) trace = cands[i];
  if (!trace || o->memory_only) {
    trow(t, "macho lru", trace ? "not run (--memory-only)" : "trace not found (../shared/traces)", ">= 20 M/s", -1);
    return;
  }
  fprintf(stderr, "macho bench: macho sim lru on %s\n", trace);
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl("/proc/self/exe", "macho", "sim", trace, "--format", "oracleGeneral", "--policy", "lru", "--size",
          "1%,5%,20%", "--time", "--json", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  if (pid > 0) bench_child_started(pid);
  FILE *f = fdopen(fds[0], "r");
  char line[1024];
  while (f && fgets(line, sizeof line, f)) {
    double size, rate, mr;
    if (!bench_json_num(line, "size", &size) || !bench_json_num(line, "requests_per_second", &rate)) continue;
    bench_json_num(line, "miss_ratio", &mr);
    char l[64], m[96];
    snprintf(l, sizeof l, "macho lru, %.0f entries", size);
    snprintf(m, sizeof m, "%.1f M/s (miss ratio %.4f)", rate / 1e6, mr);
    trow(t, l, m, ">= 20 M/s", rate >= 20e6);
  }
  if (f) fclose(f);
  int st;
  if (pid > 0) {
    waitpid(pid, &st, 0);
    bench_child_ended(pid);
  }
}

static void write_targets(const opts *o, const char *dir, const char *header) {
  char path[512];
  snprintf(path, sizeof path, "%s/targets.md", dir);
  T = fopen(path, "w");
  if (!T) {
    bench_warn("cannot write %s: %s", path, strerror(errno));
    return;
  }
  fprintf(T, "# Issue 11 targets: where macho stands\n\nWritten by `macho bench` (docs/BENCHMARKS.md says how "
             "to run it and what each column means).\n\n%s\n"
             "Ratios are medians of same-round ratios over interleaved rounds, [min-max] across rounds.\n",
          header);
  target_vs_bare(1000000, 0.67);
  target_vs_bare(10000, 0.5);
  target_scaling(10000);
  target_scaling(1000000);
  target_mixed(95);
  target_mixed(50);
  target_memory();
  if (o->preset && strcmp(o->preset, "targets") == 0) target_sim(o);
  else trow("macho sim LRU, shared CloudPhysics trace, requests/s of CPU time", "macho lru",
            "run by --preset targets only", ">= 20 M/s", -1);
  trow("Python binding: get-hit faster than before the rewrite", "macho.Cache",
       "measured by bench/bench_python.py (its own section of docs/BENCHMARKS.md)", "faster than before", -1);
  fprintf(T, "\nRows: %u met, %u missed, %u not measured by this run (reference rows not counted).\n", targets_met,
          targets_missed, targets_unmeasured);
  fclose(T);
  fprintf(stderr, "macho bench: wrote %s\n", path);
}

/* ---- plot ------------------------------------------------------------------------------- */
static void gp_label(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) fputc(*s == '"' ? '\'' : *s, f);
  fputc('"', f);
}

static void write_plot(const char *dir, const char *stem) {
  char dat[512], gp[512], svg[512];
  snprintf(dat, sizeof dat, "%s/%s.dat", dir, stem);
  snprintf(gp, sizeof gp, "%s/%s.gp", dir, stem);
  snprintf(svg, sizeof svg, "%s.svg", stem);
  FILE *d = fopen(dat, "w"), *g = fopen(gp, "w");
  if (!d || !g) {
    if (d) fclose(d);
    if (g) fclose(g);
    bench_warn("cannot write the plot files in %s", dir);
    return;
  }
  /* one panel per cell (at most 6, the first ones), one cluster per system, one bar per thread count */
  unsigned panels = 0, threads[MAX_LIST], nth = 0;
  char titles[7][192];
  for (unsigned i = 0; i < nsummaries; i++)
    if (!in_u(threads, nth, summaries[i].threads) && nth < MAX_LIST) threads[nth++] = summaries[i].threads;
  for (unsigned i = 0; i < nsummaries && panels < 6;) {
    unsigned j = i;
    while (j < nsummaries && memcmp(&summaries[j].cell, &summaries[i].cell, sizeof(cell_spec)) == 0) j++;
    cell_title(&summaries[i].cell, summaries[i].nkeys, titles[panels], sizeof titles[panels]);
    fprintf(d, "# %s\n", titles[panels]);
    for (unsigned k = i; k < j; k++) {
      bool dup = false;
      for (unsigned q = i; q < k; q++) dup |= strcmp(summaries[q].label, summaries[k].label) == 0;
      if (dup) continue;
      gp_label(d, summaries[k].label);
      for (unsigned t = 0; t < nth; t++) {
        double v = NAN;
        for (unsigned q = i; q < j; q++)
          if (strcmp(summaries[q].label, summaries[k].label) == 0 && summaries[q].threads == threads[t])
            v = summaries[q].mops.med;
        if (isnan(v)) fprintf(d, " ?");
        else fprintf(d, " %.4f", v);
      }
      fputc('\n', d);
    }
    fprintf(d, "\n\n");
    panels++;
    i = j;
  }
  bool mem = false;
  for (unsigned i = 0; i < nmemories; i++)
    if (memories[i].ok && memory_specs[i].klen == memory_specs[0].klen && memory_specs[i].vlen == memory_specs[0].vlen) {
      if (!mem) fprintf(d, "# memory\n");
      mem = true;
      double e = (double)memories[i].entries, kv = (double)(memory_specs[i].klen + memory_specs[i].vlen);
      gp_label(d, memories[i].label);
      fprintf(d, " %.2f %.2f\n", memories[i].rss_delta / e - kv, memories[i].own_bytes / e - kv);
    }
  fclose(d);
  unsigned rows = panels + (mem ? 1 : 0);
  fprintf(g, "# gnuplot script written by macho bench; data in %s.dat\n", stem);
  fprintf(g, "set terminal svg size 1200,%u dynamic font 'sans,9'\nset output '%s'\n", 120 + 380 * (rows ? rows : 1),
          svg);
  fprintf(g, "set datafile missing '?'\nset style data histograms\nset style histogram clustered gap 1\n"
             "set style fill solid 0.85 border -1\nset xtics rotate by -40 scale 0 font ',8'\n"
             "set grid ytics\nset key top right\nset bmargin 9\n");
  fprintf(g, "set multiplot layout %u,1 title 'macho bench (%s): throughput per cell, memory per entry'\n",
          rows ? rows : 1, stem);
  fprintf(g, "set logscale y\nset ylabel 'Mops/s (median of rounds, log scale)'\n");
  for (unsigned p = 0; p < panels; p++) {
    fprintf(g, "set title '%s'\nplot '%s.dat' index %u using 2:xtic(1) title '%u thread%s'", titles[p], stem, p,
            threads[0], threads[0] == 1 ? "" : "s");
    for (unsigned t = 1; t < nth; t++)
      fprintf(g, ", '' index %u using %u title '%u threads'", p, t + 2, threads[t]);
    fputc('\n', g);
  }
  if (mem) {
    fprintf(g, "unset logscale y\nset ylabel 'bytes per entry beyond key + value'\nset title 'memory, %zu B keys, "
               "%zu B values'\nplot '%s.dat' index %u using 2:xtic(1) title 'RSS delta', '' index %u using 3 "
               "title 'own figure'\n",
            memory_specs[0].klen, memory_specs[0].vlen, stem, panels, panels);
  }
  fprintf(g, "unset multiplot\n");
  fclose(g);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp' 2>&1", dir, stem);
  if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
    bench_warn("gnuplot not installed: wrote %s and %s but no plot (scripts/deps.sh installs gnuplot-nox)", dat, gp);
    return;
  }
  if (system(cmd) != 0) bench_warn("gnuplot failed on %s", gp);
  else fprintf(stderr, "macho bench: wrote %s/%s\n", dir, svg);
}

/* ---- the run ------------------------------------------------------------------------------ */
static void read_load(char *buf, size_t n) {
  FILE *f = fopen("/proc/loadavg", "r");
  buf[0] = 0;
  if (f) {
    double a, b, c;
    if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) snprintf(buf, n, "%.2f, %.2f, %.2f", a, b, c);
    fclose(f);
  }
}

static void cpu_model(char *buf, size_t n) {
  snprintf(buf, n, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p) {
        p += 2;
        p[strcspn(p, "\n")] = 0;
        snprintf(buf, n, "%s", p);
      }
      break;
    }
  fclose(f);
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void find_dirs(const opts *o, char *peers, char *build, size_t n) {
  char exe[400];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[len > 0 ? len : 0] = 0;
  char *slash = strrchr(exe, '/');
  if (slash) *slash = 0;
  const char *env = getenv("MACHO_BENCH_PEERS");
  if (o->peers_dir) snprintf(peers, n, "%s", o->peers_dir);
  else if (env && *env) snprintf(peers, n, "%s", env);
  else {
    char c[512];
    snprintf(peers, n, "bench/peers");
    const char *rel[] = {"/../../bench/peers", "/../bench/peers", "/bench/peers"};
    if (!is_dir(peers))
      for (int i = 0; i < 3; i++) {
        snprintf(c, sizeof c, "%s%s", exe, rel[i]);
        if (is_dir(c)) {
          snprintf(peers, n, "%s", c);
          break;
        }
      }
  }
  if (o->build_dir) snprintf(build, n, "%s", o->build_dir);
  else snprintf(build, n, "%s/peers", exe[0] ? exe : ".");
}

static int mkdir_p(const char *dir) {
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(tmp, 0755);
      *p = '/';
    }
  return mkdir(tmp, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

int cmd_bench(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--memory-child") == 0) return bench_memory_child(argc, argv);
  static opts o;
  int rc = parse_opts(argc, argv, &o);
  if (rc < 0) return CLI_OK; /* --help */
  if (rc != CLI_OK) return rc;
  static plan p;
  make_plan(&o, &p);
  if (p.ncells == 0 && p.nmem == 0) {
    bench_warn("nothing to run: the filters match no cell of the preset");
    return CLI_USAGE;
  }
  const char *outdir = o.out;
  if (!outdir && o.preset && (strcmp(o.preset, "targets") == 0 || strcmp(o.preset, "full") == 0))
    outdir = "docs/bench";
  if (outdir && mkdir_p(outdir) != 0) {
    bench_warn("cannot create %s: %s", outdir, strerror(errno));
    return CLI_FAIL;
  }
  summaries = calloc(MAX_SUMMARIES, sizeof *summaries);
  R.md = open_memstream(&R.md_buf, &R.md_len);
  R.js = open_memstream(&R.js_buf, &R.js_len);
  if (!summaries || !R.md || !R.js) {
    bench_warn("out of memory");
    return CLI_FAIL;
  }
  R.json_stdout = o.json;
  static ctx x;
  x.o = &o;
  x.p = &p;
  static char peers[512], build[512];
  find_dirs(&o, peers, build, sizeof peers);
  x.peers_dir = peers;
  x.build_dir = build;
  snprintf(x.files_dir, sizeof x.files_dir, "%s/macho-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(x.files_dir)) {
    bench_warn("mkdtemp %s: %s", x.files_dir, strerror(errno));
    return CLI_FAIL;
  }
  snprintf(files_dir_copy, sizeof files_dir_copy, "%s", x.files_dir);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_signal);

  char load0[64], model[128], date[64];
  read_load(load0, sizeof load0);
  cpu_model(model, sizeof model);
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  struct utsname un;
  uname(&un);
  char header[3000];
  snprintf(header, sizeof header,
           "Command: `macho %s` (macho %s). Machine: nproc = %ld, %s, %s %s. Date: %s. Load average "
           "(1, 5, 15 min) at the start: %s.\nRounds: %u timed (+1 warm-up, dropped), interleaved; TTL %g s for "
           "every system that has one; key space x%u in miss cells; seed %llu%s.\n",
           o.argv_line, macho_version_string(), sysconf(_SC_NPROCESSORS_ONLN), model, un.sysname, un.release, date,
           load0, p.rounds, o.ttl_s, o.key_factor, (unsigned long long)o.seed, o.pin ? "; threads pinned" : "");
  md("## macho bench: %s\n\n%s", p.name, header);
  char e1[1024], e2[200];
  js("{\"type\":\"run\",\"preset\":\"%s\",\"command\":\"macho %s\",\"macho\":\"%s\",\"nproc\":%ld,\"cpu\":\"%s\","
     "\"date\":\"%s\",\"load_start\":\"%s\",\"rounds\":%u,\"ttl_s\":%g,\"seed\":%llu,\"pin\":%s}\n",
     p.name, jstr(o.argv_line, e1, sizeof e1), macho_version_string(), sysconf(_SC_NPROCESSORS_ONLN),
     jstr(model, e2, sizeof e2), date, load0, p.rounds, o.ttl_s, (unsigned long long)o.seed,
     o.pin ? "true" : "false");
  if (p.ncells) md("\nThroughput (see docs/BENCHMARKS.md for the columns):\n");
  for (unsigned i = 0; i < p.ncells; i++) run_cell(&x, &p.cells[i], i);
  for (unsigned i = 0; i < p.nmem; i++) run_memory(&x, &p.mem[i]);
  report_systems();
  char load1[64];
  read_load(load1, sizeof load1);
  md("\nLoad average at the end: %s.\n", load1);
  js("{\"type\":\"end\",\"load_end\":\"%s\"}\n", load1);
  rmdir(x.files_dir);
  if (outdir) {
    char path[512];
    snprintf(header + strlen(header), sizeof header - strlen(header), "Load average at the end: %s.\n", load1);
    if (strcmp(p.name, "targets") == 0 || o.preset == NULL || strcmp(p.name, "quick") == 0)
      write_targets(&o, outdir, header);
    fflush(R.md);
    fflush(R.js);
    snprintf(path, sizeof path, "%s/%s-report.md", outdir, p.name); /* not PRESET.md: targets.md is the targets table */
    FILE *f = fopen(path, "w");
    if (f) {
      fwrite(R.md_buf, 1, R.md_len, f);
      fclose(f);
    }
    snprintf(path, sizeof path, "%s/%s.json", outdir, p.name);
    f = fopen(path, "w");
    if (f) {
      fwrite(R.js_buf, 1, R.js_len, f);
      fclose(f);
    }
    write_plot(outdir, p.name);
    fprintf(stderr, "macho bench: wrote %s/%s-report.md, %s.json, %s.svg\n", outdir, p.name, p.name, p.name);
  }
  fclose(R.md);
  fclose(R.js);
  free(R.md_buf);
  free(R.js_buf);
  free(summaries);
  return CLI_OK;
}
