/*
 * bench_core.c -- single-thread get-hit and put throughput of libmacho next to
 * a bare open-addressing hash table, measured in the same run.
 *
 * The bare table is the practical limit for a lookup: linear probing over
 * slots that hold the 8-byte key and value inline, the same XXH3 hash, no
 * lock, no policy, no counters. macho pays for a lock, an entry indirection,
 * a policy update and counters on top of that; the ratio macho/bare says how
 * much (issue 3 asks for a get-hit within 1.5x of the table eventually).
 * Both do the same keys in the same random order. Figures on a shared,
 * loaded machine are noisy, so each figure is the best of several rounds and
 * only ratios within one run should be compared. Benchmarks print; they never
 * assert speed.
 *
 *   bench_core [--quick] [--policy NAME] [--metrics 0|1|2]
 *     --quick   10k entries only, fewer rounds (a smoke run)
 *     --policy  the cache's policy (default lru), --metrics its config.metrics
 *               (default 1, the library default): to see what each costs
 */
#include <macho/macho.h>

#include "hash.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void die(const char *what, int rc) {
  fprintf(stderr, "bench_core: %s: %s\n", what, macho_strerror(rc));
  exit(1);
}

/* ---- the bare table ------------------------------------------------------------ */
typedef struct bare_slot {
  uint64_t key, value;
  uint8_t used;
} bare_slot;

typedef struct bare {
  bare_slot *slots;
  uint64_t mask;
} bare;

static void bare_init(bare *t, size_t n) {
  size_t cap = 16;
  while (cap < n + n / 2) cap <<= 1; /* load <= 2/3, as macho's index */
  t->slots = calloc(cap, sizeof *t->slots);
  t->mask = cap - 1;
  if (!t->slots) die("bare table", MACHO_ENOMEM);
}

static void bare_put(bare *t, uint64_t key, uint64_t value) {
  uint64_t i = macho__hash_bytes(&key, 8, 0) & t->mask;
  while (t->slots[i].used && t->slots[i].key != key) i = (i + 1) & t->mask;
  t->slots[i] = (bare_slot){key, value, 1};
}

static inline int bare_get(const bare *t, uint64_t key, uint64_t *value) {
  uint64_t i = macho__hash_bytes(&key, 8, 0) & t->mask;
  for (;;) {
    const bare_slot *s = &t->slots[i];
    if (!s->used) return 0;
    if (s->key == key) {
      *value = s->value;
      return 1;
    }
    i = (i + 1) & t->mask;
  }
}

/* ---- workloads ---------------------------------------------------------------------- */
typedef struct workload {
  size_t n;          /* entries */
  uint64_t *keys;    /* n distinct random keys */
  uint32_t *order;   /* lookups: indices into keys, random */
  size_t nlookups;
} workload;

static void workload_make(workload *w, size_t n, size_t nlookups, uint64_t seed) {
  w->n = n;
  w->nlookups = nlookups;
  w->keys = malloc(n * sizeof *w->keys);
  w->order = malloc(nlookups * sizeof *w->order);
  if (!w->keys || !w->order) die("workload", MACHO_ENOMEM);
  for (size_t i = 0; i < n; i++) w->keys[i] = splitmix(&seed); /* 64-bit: distinct in practice */
  for (size_t i = 0; i < nlookups; i++) w->order[i] = (uint32_t)(splitmix(&seed) % n);
}

static macho_policy opt_policy = MACHO_POLICY_LRU;
static int opt_metrics = -1; /* -1 = the default */

static macho_cache *open_cache(size_t n, uint32_t shards) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.policy = opt_policy;
  if (opt_metrics >= 0) cfg.metrics = opt_metrics;
  cfg.capacity_entries = n;
  cfg.ttl_seconds = 0;
  cfg.shards = shards;
  macho_cache *c = NULL;
  int rc = macho_open(&cfg, &c);
  if (rc != MACHO_OK) die("macho_open", rc);
  return c;
}

static volatile uint64_t sink; /* keeps lookups from being optimised away */

/* The machine is shared and loaded (several builds at once on 2 cores), so a
 * long timed loop is mostly a measure of how often it was descheduled. Each
 * loop is therefore timed in chunks of CHUNK operations; a chunk that ran
 * undisturbed is what the code costs, so we report the best chunk, and the
 * median chunk to show the spread. */
#define CHUNK 4096u

typedef struct timing {
  double *chunk_ns; /* per-operation ns of each chunk */
  size_t n, cap;
} timing;

static void timing_add(timing *t, double seconds, size_t ops) {
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 1024;
    t->chunk_ns = realloc(t->chunk_ns, t->cap * sizeof *t->chunk_ns);
    if (!t->chunk_ns) die("timing", MACHO_ENOMEM);
  }
  t->chunk_ns[t->n++] = seconds * 1e9 / (double)ops;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* best and median ns per operation */
static void timing_summary(timing *t, double *best, double *median) {
  qsort(t->chunk_ns, t->n, sizeof *t->chunk_ns, cmp_d);
  *best = t->chunk_ns[0];
  *median = t->chunk_ns[t->n / 2];
}

static void time_macho_gets(macho_cache *c, const workload *w, size_t from, size_t count,
                            timing *t) {
  uint64_t sum = 0;
  for (size_t i = from; i < from + count;) {
    size_t end = i + CHUNK < from + count ? i + CHUNK : from + count, ops = end - i;
    double t0 = now_s();
    for (; i < end; i++) {
      uint64_t k = w->keys[w->order[i]], v = 0;
      if (macho_get(c, &k, 8, &v, 8, NULL) != MACHO_OK) die("macho_get missed", MACHO_ENOTFOUND);
      sum += v;
    }
    if (t) timing_add(t, now_s() - t0, ops);
  }
  sink += sum;
}

static void time_bare_gets(const bare *b, const workload *w, timing *t) {
  uint64_t sum = 0;
  for (size_t i = 0; i < w->nlookups;) {
    size_t end = i + CHUNK < w->nlookups ? i + CHUNK : w->nlookups, ops = end - i;
    double t0 = now_s();
    for (; i < end; i++) {
      uint64_t v = 0;
      if (!bare_get(b, w->keys[w->order[i]], &v)) die("bare_get missed", MACHO_ENOTFOUND);
      sum += v;
    }
    timing_add(t, now_s() - t0, ops);
  }
  sink += sum;
}

static void row(size_t n, const char *op, timing *m, timing *b) {
  double mb, mm, bb, bm;
  timing_summary(m, &mb, &mm);
  timing_summary(b, &bb, &bm);
  printf("%-8zu %-9s %8.1f %9.1f %7.2f   %9.1f %9.1f %7.2f\n", n, op, mb, bb, mb / bb, mm, bm,
         mm / bm);
  free(m->chunk_ns);
  free(b->chunk_ns);
}

static void single_thread(size_t n, size_t nlookups, int rounds) {
  workload w;
  workload_make(&w, n, nlookups, 42 + n);
  timing put_m = {0}, put_b = {0}, get_m = {0}, get_b = {0}, evict_m = {0};
  macho_cache *c = NULL;
  bare t = {0};
  for (int r = 0; r < rounds; r++) {
    /* Puts: n new keys into an empty cache sized for them (slab growth included). */
    if (c) macho_close(c);
    c = open_cache(n, 1);
    for (size_t i = 0; i < n;) {
      size_t end = i + CHUNK < n ? i + CHUNK : n, ops = end - i;
      double t0 = now_s();
      for (; i < end; i++) {
        int rc = macho_put(c, &w.keys[i], 8, &w.keys[i], 8);
        if (rc != MACHO_OK) die("macho_put", rc);
      }
      timing_add(&put_m, now_s() - t0, ops);
    }
    free(t.slots);
    bare_init(&t, n);
    for (size_t i = 0; i < n;) {
      size_t end = i + CHUNK < n ? i + CHUNK : n, ops = end - i;
      double t0 = now_s();
      for (; i < end; i++) bare_put(&t, w.keys[i], w.keys[i]);
      timing_add(&put_b, now_s() - t0, ops);
    }
    /* Get hits: the same random order for both, interleaved round by round. */
    time_macho_gets(c, &w, 0, nlookups, &get_m);
    time_bare_gets(&t, &w, &get_b);
    /* Steady state of a full cache: n more new keys, each evicting one (no
     * slab growth, no fresh pages); the bare table's figure is its insert. */
    macho_cache *full = open_cache(n, 1);
    for (size_t i = 0; i < n; i++) {
      int rc = macho_put(full, &w.keys[i], 8, &w.keys[i], 8);
      if (rc != MACHO_OK) die("macho_put", rc);
    }
    for (size_t i = 0; i < n;) {
      size_t end = i + CHUNK < n ? i + CHUNK : n, ops = end - i;
      double t0 = now_s();
      for (; i < end; i++) {
        uint64_t k = ~w.keys[i];
        int rc = macho_put(full, &k, 8, &k, 8);
        if (rc != MACHO_OK) die("macho_put", rc);
      }
      timing_add(&evict_m, now_s() - t0, ops);
    }
    macho_close(full);
  }
  macho_counters ct;
  if (macho_counters_get(c, -1, &ct) == MACHO_OK && ct.entries != n) die("entries", MACHO_EINVAL);
  row(n, "get-hit", &get_m, &get_b);
  /* The bare insert timings serve twice: copy them for the second row. */
  timing put_b2 = {0};
  for (size_t i = 0; i < put_b.n; i++) timing_add(&put_b2, put_b.chunk_ns[i] * 1e-9, 1);
  row(n, "put-new", &put_m, &put_b);
  row(n, "put-evict", &evict_m, &put_b2);
  macho_close(c);
  free(t.slots);
  free(w.keys);
  free(w.order);
}

static double min_d(double a, double b) { return a < b ? a : b; }

/* ---- two threads on a sharded cache ------------------------------------------------- */
typedef struct job {
  macho_cache *c;
  const workload *w;
  size_t from, count;
  double seconds;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  double t0 = now_s();
  time_macho_gets(j->c, j->w, j->from, j->count, NULL);
  j->seconds = now_s() - t0;
  return NULL;
}

static void two_threads(size_t n, size_t nlookups, uint32_t shards, int rounds) {
  workload w;
  workload_make(&w, n, nlookups, 7 + n);
  macho_cache *c = open_cache(n * 2, shards); /* room: no shard overflows */
  for (size_t i = 0; i < n; i++) {
    int rc = macho_put(c, &w.keys[i], 8, &w.keys[i], 8);
    if (rc != MACHO_OK) die("macho_put", rc);
  }
  double one = 1e9, two = 1e9;
  for (int r = 0; r < rounds; r++) {
    double t0 = now_s();
    time_macho_gets(c, &w, 0, nlookups, NULL);
    one = min_d(one, now_s() - t0);
    /* Two threads, each half of the same lookups: wall time of the slower. */
    job j[2] = {{c, &w, 0, nlookups / 2, 0}, {c, &w, nlookups / 2, nlookups - nlookups / 2, 0}};
    pthread_t tid[2];
    t0 = now_s();
    for (int i = 0; i < 2; i++) pthread_create(&tid[i], NULL, run_job, &j[i]);
    for (int i = 0; i < 2; i++) pthread_join(tid[i], NULL);
    two = min_d(two, now_s() - t0);
  }
  printf("%-8zu get-hit shards=%-3u 1 thread %7.2f Mops/s, 2 threads %7.2f Mops/s, 2T/1T %.2f\n",
         n, shards, nlookups / one / 1e6, nlookups / two / 1e6, one / two);
  macho_close(c);
  free(w.keys);
  free(w.order);
}

int main(int argc, char **argv) {
  int quick = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
    } else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) {
      if (macho_policy_parse(argv[++i], &opt_policy) != MACHO_OK) die("--policy", MACHO_EINVAL);
    } else if (strcmp(argv[i], "--metrics") == 0 && i + 1 < argc) {
      opt_metrics = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_core [--quick] [--policy NAME] [--metrics 0|1|2]\n");
      return 2;
    }
  }
  int rounds = quick ? 2 : 7;
  printf("bench_core: policy %s, metrics %s; 8-byte keys and values, capacity = entries, TTL off.\n",
         macho_policy_name(opt_policy), opt_metrics < 0 ? "default" : opt_metrics ? "on" : "off");
  printf(
         "ns per operation, timed in chunks of %u over %d rounds: best chunk, median chunk;\n"
         "ratio = macho / bare (1.00 = as fast as the bare table; the target is <= 1.5)\n\n",
         CHUNK, rounds);
  printf("%-8s %-9s %8s %9s %7s   %9s %9s %7s\n", "entries", "op", "macho", "bare", "ratio",
         "macho", "bare", "ratio");
  printf("%-8s %-8s %27s   %27s\n", "", "", "best chunk (ns/op)", "median chunk (ns/op)");
  single_thread(10000, quick ? 1000000 : 5000000, rounds);
  if (!quick) single_thread(1000000, 5000000, 3);
  printf("\nwall-clock throughput, best of %d rounds (on a loaded 2-core machine this mostly\n"
         "shows whether the second thread found a free core):\n", rounds);
  two_threads(10000, quick ? 1000000 : 4000000, 4, rounds);
  if (!quick) two_threads(1000000, 4000000, 4, 3);
  if (!quick) two_threads(1000000, 4000000, 1, 3);
  return 0;
}
