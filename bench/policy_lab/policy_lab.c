/*
 * policy_lab.c -- the research harness behind the `auto` policy's tunables
 * (src/policy/auto.h) and the live miss-ratio curve: replays every (trace,
 * size) point of ../shared/traces/README.md through miniature caches
 * (src/minisim.c, the library's own policy code) with a given set of
 * tunables, fast and in parallel, and prints one JSON line per point.
 *
 * A minisim of capacity C running a policy is exactly a one-shard cache of
 * capacity C under `macho sim` (same hooks in the same order, same 64-bit
 * hashes: XXH3 of the 8-byte key with seed 0), without payloads or the
 * public API around it, so a sweep of tunables over all 60 points takes
 * seconds. The figures that go into docs come from `macho sim` itself.
 *
 *   policy_lab [--shared DIR] [--trace NAME[,NAME]] [--jobs N] [--policy P]
 *              [--events] [--concat A,B] [--sizes S1,S2] [key=value ...]
 *
 * key=value sets an auto tunable: cand=wtinylfu,s3fifo,... start=P mirror_max=N
 * mini_target=N min_rate=R replay_hits=N, and per mode (m. = mirror, s. = sampled)
 * m.epoch_caps= m.epoch_min= m.decay= m.z= m.margin= m.dwell_caps= m.warmup_caps=.
 * --policy runs a plain policy instead of auto. --events prints auto's
 * switches. --concat A,B replays trace A then trace B (keys of B offset so
 * the two never share a key) at --sizes: the workload-shift experiment.
 */
#include "minisim.h"
#include "mrc.h"
#include "hash.h"
#include "policy/auto.h"
#include "policy/policy.h"
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct point {
  char trace[64];
  uint64_t size;
} point;

typedef struct keys {
  uint64_t *h;
  size_t n;
} keys;

static const char *shared_dir = "../shared/traces";
static size_t window_len; /* --windows N: print misses per N requests */
static bool mrc_mode;     /* --mrc: the live curve's estimate against full simulations */
static uint32_t mrc_base = MACHO__MRC_SAMPLE; /* --mrc-base N: its 1x sample size */

static void die(const char *msg) {
  fprintf(stderr, "policy_lab: %s\n", msg);
  exit(1);
}

static void trace_path(const char *name, char *path, size_t n, const char **fmt) {
  struct stat sb;
  snprintf(path, n, "%s/%s.trace.gz", shared_dir, name);
  *fmt = "lirs";
  if (stat(path, &sb) == 0) return;
  snprintf(path, n, "%s/%s.oracleGeneral.bin", shared_dir, name);
  *fmt = "oracleGeneral";
  if (stat(path, &sb) == 0) return;
  snprintf(path, n, "%s/%s.txt.zst", shared_dir, name);
  *fmt = "txt";
}

/* The trace's requests as the cache's 64-bit key hashes. */
static keys load(const char *name, uint64_t key_offset) {
  char path[512], err[600];
  const char *fmt;
  trace_path(name, path, sizeof path, &fmt);
  trace *t;
  if (trace_open(&t, path, trace_format_find(fmt), err, sizeof err) < 0) die(err);
  keys k = {0};
  size_t cap = 1 << 16;
  k.h = malloc(cap * sizeof *k.h);
  trace_req batch[4096];
  size_t got;
  while ((got = trace_read(t, batch, 4096)) > 0) {
    if (k.n + got > cap) k.h = realloc(k.h, (cap *= 2) * sizeof *k.h);
    for (size_t i = 0; i < got; i++) {
      uint64_t key = batch[i].key + key_offset;
      k.h[k.n++] = macho__hash_bytes(&key, sizeof key, 0);
    }
  }
  if (trace_failed(t)) die(trace_error(t));
  trace_close(t);
  return k;
}

static int read_points(point *pts, int max) {
  char readme[512], line[1024];
  snprintf(readme, sizeof readme, "%s/README.md", shared_dir);
  FILE *f = fopen(readme, "r");
  if (!f) die("cannot open the shared README.md (use --shared DIR)");
  int n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    unsigned long long req, distinct, size;
    double x;
    if (sscanf(line, "| %63s | %llu | %llu | %llu | %lf", pts[n].trace, &req, &distinct, &size, &x) == 5) {
      pts[n].size = size;
      n++;
    }
  }
  fclose(f);
  return n;
}

/* ---- tunables ---------------------------------------------------------------- */

static macho__auto_params params;
static int lab_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  return macho__auto_init_with(st, sh, capacity, nslots, &params);
}

/* The owner of every minisim's memory: a cache struct with libc allocation. */
static macho_cache owner;

static void set_param(const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq) die("tunables are key=value");
  size_t klen = (size_t)(eq - kv);
  const char *v = eq + 1;
#define IS(name) (klen == strlen(name) && strncmp(kv, name, klen) == 0)
  if (IS("cand")) {
    char *copy = strdup(v);
    params.ncand = 0;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
      macho_policy p;
      if (macho_policy_parse(tok, &p) != MACHO_OK || params.ncand == MACHO__AUTO_MAX_CAND) die("bad cand");
      params.cand[params.ncand++] = p;
    }
    free(copy);
    if (params.start >= params.ncand) params.start = 0;
  } else if (IS("start")) {
    macho_policy p;
    if (macho_policy_parse(v, &p) != MACHO_OK) die("bad start");
    for (uint32_t i = 0; i < params.ncand; i++)
      if (params.cand[i] == p) params.start = i;
  } else if (IS("mirror_max")) params.mirror_max = (uint32_t)atol(v);
  else if (IS("mini_target")) params.mini_target = (uint32_t)atol(v);
  else if (IS("min_rate")) params.min_rate = atof(v);
  else if (IS("replay_hits")) params.replay_hits = (uint32_t)atol(v);
  else if (klen > 2 && (kv[0] == 'm' || kv[0] == 's') && kv[1] == '.') {
    /* m.NAME / s.NAME: a rule tunable of mirror / sampled mode */
    macho__auto_rule *r = kv[0] == 'm' ? &params.mirror : &params.sampled;
    kv += 2;
    klen -= 2;
    if (IS("epoch_caps")) r->epoch_caps = atof(v);
    else if (IS("epoch_min")) r->epoch_min = (uint32_t)atol(v);
    else if (IS("decay")) r->decay = atof(v);
    else if (IS("z")) r->z = atof(v);
    else if (IS("margin")) r->margin = atof(v);
    else if (IS("cost")) r->cost = atof(v);
    else if (IS("dwell_caps")) r->dwell_caps = atof(v);
    else if (IS("warmup_caps")) r->warmup_caps = atof(v);
    else die("unknown rule tunable");
  }
  else die("unknown tunable");
#undef IS
}

/* ---- runs --------------------------------------------------------------------- */

typedef struct result {
  uint64_t misses, switches;
  macho_policy live;
} result;

static result run(const keys *k, uint32_t size, const char *policy, bool events, const char *label) {
  macho__policy_ops ops;
  macho_policy p = MACHO_POLICY_AUTO;
  if (policy && macho_policy_parse(policy, &p) != MACHO_OK) die("unknown --policy");
  ops = *macho__policies[p];
  if (p == MACHO_POLICY_AUTO) ops.init = lab_init;
  macho__minisim ms;
  if (macho__minisim_init(&ms, &owner, &ops, size, macho__mix64(1), false) != MACHO_OK) die("out of memory");
  result r = {0, 0, p};
  uint32_t seen_switches = 0;
  macho_policy live = p == MACHO_POLICY_AUTO ? macho__auto_live(ms.st) : p;
  uint64_t wmiss = 0;
  for (size_t i = 0; i < k->n; i++) {
    r.misses += !macho__minisim_access(&ms, k->h[i]);
    if (window_len && (i + 1) % window_len == 0) {
      printf("{\"event\":\"window\",\"name\":\"%s\",\"size\":%u,\"end\":%zu,\"miss_ratio\":%.4f,\"live\":\"%s\"}\n",
             label, size, i + 1, (double)(r.misses - wmiss) / window_len,
             macho_policy_name(p == MACHO_POLICY_AUTO ? macho__auto_live(ms.st) : p));
      wmiss = r.misses;
    }
    if (events && p == MACHO_POLICY_AUTO && macho__auto_switches(ms.st) != seen_switches) {
      seen_switches = macho__auto_switches(ms.st);
      macho_policy now = macho__auto_live(ms.st);
      printf("{\"event\":\"switch\",\"name\":\"%s\",\"size\":%u,\"request\":%zu,\"from\":\"%s\",\"to\":\"%s\"}\n",
             label, size, i, macho_policy_name(live), macho_policy_name(now));
      live = now;
    }
  }
  if (p == MACHO_POLICY_AUTO) {
    r.switches = macho__auto_switches(ms.st);
    r.live = macho__auto_live(ms.st);
  }
  macho__minisim_destroy(&ms);
  return r;
}

static void print(const char *name, uint32_t size, const char *policy, size_t n, result r) {
  printf("{\"name\":\"%s\",\"size\":%u,\"policy\":\"%s\",\"requests\":%zu,\"misses\":%llu,"
         "\"miss_ratio\":%.6f,\"switches\":%llu,\"live\":\"%s\"}\n",
         name, size, policy ? policy : "auto", n, (unsigned long long)r.misses,
         n ? (double)r.misses / (double)n : 0.0, (unsigned long long)r.switches,
         macho_policy_name(r.live));
  fflush(stdout);
}

/* --mrc: the curve macho__mrc estimates for a shard of `size` entries,
 * against full-size simulations at each multiple (what `macho sim` measures). */
static void run_mrc(const keys *k, uint32_t size, const char *policy, const char *label) {
  macho_policy p = MACHO_POLICY_LRU;
  if (policy && macho_policy_parse(policy, &p) != MACHO_OK) die("unknown --policy");
  macho__policy_ops ops = *macho__policies[p];
  if (p == MACHO_POLICY_AUTO) ops.init = lab_init;
  macho__mrc *m;
  if (macho__mrc_create(&m, &owner, &ops, size, mrc_base, macho__mix64(1)) != MACHO_OK) die("out of memory");
  macho__minisim full[MACHO__MRC_POINTS];
  uint64_t fmiss[MACHO__MRC_POINTS] = {0};
  for (int i = 0; i < MACHO__MRC_POINTS; i++) {
    double x = macho__mrc_multiples[i] * size + 0.5;
    if (macho__minisim_init(&full[i], &owner, &ops, x < 1 ? 1 : (uint32_t)x, macho__mix64(1), false) != MACHO_OK)
      die("out of memory");
  }
  for (size_t r = 0; r < k->n; r++) {
    macho__mrc_observe(m, k->h[r]);
    for (int i = 0; i < MACHO__MRC_POINTS; i++) fmiss[i] += !macho__minisim_access(&full[i], k->h[r]);
  }
  printf("{\"name\":\"%s\",\"size\":%u,\"policy\":\"%s\",\"rate\":%.5f,\"sampled\":%llu,\"points\":[",
         label, size, macho_policy_name(p), m->rate, (unsigned long long)m->sampled);
  for (int i = 0; i < MACHO__MRC_POINTS; i++) {
    double est = m->sampled ? (double)m->misses[i] / (double)m->sampled : 1.0;
    double truth = (double)fmiss[i] / (double)k->n;
    double adj = macho__mrc_estimate(m, i);
    printf("%s{\"x\":%g,\"est\":%.4f,\"adj\":%.4f,\"sim\":%.4f}", i ? "," : "", macho__mrc_multiples[i], est,
           adj, truth);
    macho__minisim_destroy(&full[i]);
  }
  printf("]}\n");
  fflush(stdout);
  macho__mrc_destroy(m, &owner);
}

int main(int argc, char **argv) {
  params = macho__auto_defaults;
  const char *only = NULL, *policy = NULL, *concat = NULL, *sizes = NULL;
  int jobs = 2;
  bool events = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--shared") == 0 && i + 1 < argc) shared_dir = argv[++i];
    else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) only = argv[++i];
    else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) policy = argv[++i];
    else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) jobs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--concat") == 0 && i + 1 < argc) concat = argv[++i];
    else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) sizes = argv[++i];
    else if (strcmp(argv[i], "--events") == 0) events = true;
    else if (strcmp(argv[i], "--mrc") == 0) mrc_mode = true;
    else if (strcmp(argv[i], "--mrc-base") == 0 && i + 1 < argc) mrc_base = (uint32_t)atol(argv[++i]);
    else if (strcmp(argv[i], "--windows") == 0 && i + 1 < argc) window_len = (size_t)atol(argv[++i]);
    else if (strchr(argv[i], '=')) set_param(argv[i]);
    else die("usage: policy_lab [--shared DIR] [--trace A,B] [--policy P] [--jobs N] [--events] "
             "[--concat A,B --sizes S1,S2] [key=value ...]");
  }
  if (concat) {
    char a[64], b[64];
    const char *comma = strchr(concat, ',');
    if (!comma || !sizes) die("--concat A,B needs --sizes");
    snprintf(a, sizeof a, "%.*s", (int)(comma - concat), concat);
    snprintf(b, sizeof b, "%s", comma + 1);
    keys ka = load(a, 0), kb = load(b, 1ull << 62);
    keys k = {malloc((ka.n + kb.n) * sizeof *k.h), ka.n + kb.n};
    memcpy(k.h, ka.h, ka.n * sizeof *k.h);
    memcpy(k.h + ka.n, kb.h, kb.n * sizeof *k.h);
    char label[160];
    snprintf(label, sizeof label, "%s+%s@%zu", a, b, ka.n);
    char *copy = strdup(sizes);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
      print(label, (uint32_t)atol(tok), policy, k.n, run(&k, (uint32_t)atol(tok), policy, events, label));
    return 0;
  }
  static point pts[256];
  int npts = read_points(pts, 256);
  /* One child per job takes every jobs-th trace; each trace is loaded once. */
  char names[64][64];
  int nnames = 0;
  for (int i = 0; i < npts; i++) {
    bool dup = false;
    for (int j = 0; j < nnames; j++) dup |= strcmp(names[j], pts[i].trace) == 0;
    if (dup) continue;
    if (only) {
      bool want = false;
      char *copy = strdup(only);
      for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) want |= strcmp(tok, pts[i].trace) == 0;
      free(copy);
      if (!want) continue;
    }
    snprintf(names[nnames++], 64, "%.63s", pts[i].trace);
  }
  /* The longest trace first, so that it does not finish last. */
  for (int j = 0; j < nnames; j++)
    if (strcmp(names[j], "cache2k_orm-night") == 0 && j) {
      char tmp[64];
      memcpy(tmp, names[0], 64);
      memcpy(names[0], names[j], 64);
      memcpy(names[j], tmp, 64);
    }
  if (jobs < 1) jobs = 1;
  for (int w = 0; w < jobs; w++) {
    pid_t pid = jobs == 1 ? 0 : fork();
    if (pid < 0) die("fork");
    if (pid > 0) continue;
    for (int j = w; j < nnames; j += jobs) {
      keys k = load(names[j], 0);
      for (int i = 0; i < npts; i++)
        if (strcmp(pts[i].trace, names[j]) == 0 && mrc_mode)
          run_mrc(&k, (uint32_t)pts[i].size, policy, names[j]);
        else if (strcmp(pts[i].trace, names[j]) == 0)
          print(names[j], (uint32_t)pts[i].size, policy, k.n, run(&k, (uint32_t)pts[i].size, policy, events, names[j]));
      free(k.h);
    }
    if (jobs > 1) _exit(0);
  }
  int st;
  while (wait(&st) > 0) {
  }
  return 0;
}
