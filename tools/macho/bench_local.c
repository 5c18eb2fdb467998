/*
 * bench_local.c -- the systems `macho bench` runs inside its own process: the
 * bare open-addressing table (the practical limit of a lookup) and macho
 * itself, through the public API only; and the memory child.
 *
 * The bare table is what a hand-written, single-purpose C hash table costs:
 * no eviction, no locks, no counters, no TTL. Slots are 16 bytes. With 8-byte
 * keys and values the slot *is* the entry ({key, value}, key 0 = empty: the
 * benchmark's keys are printable, so never 0); otherwise the slot holds the
 * 64-bit hash and a pointer to a key+value record bump-allocated from one
 * arena. Linear probing, power-of-two size, load at most 0.7 (a full 1M-entry
 * table sits at 0.48: 2^21 slots). Hash: XXH3-64 over the key bytes, the
 * hash macho uses, so both pay the same hashing cost class. A get copies the
 * value out, as macho_get does. When full (a key space larger than the
 * capacity) it drops new keys instead of evicting, so its hit ratio there is
 * "whatever stayed": it is the limit for hit cells, a reference elsewhere.
 * With more than one thread it runs only read-only cells (no locks).
 *
 * Fairness: both systems run the same request arrays through one loop body
 * (BENCH_LOOP below, instantiated per system so that each call is direct),
 * read the value the get copied (an empty asm with a memory clobber keeps the
 * copy from being optimised away), and open, fill, warm up, time and close a
 * fresh instance in every round (placement of a long-lived table biases
 * whichever was allocated last; see bench_filters in docs/BENCHMARKS.md).
 */
#include "bench.h"
#include "cli.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- timing helpers ------------------------------------------------------------- */
static uint64_t now_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keep the value a get copied alive without reading it (the copy is the work). */
#define BENCH_USE(p) __asm__ volatile("" : : "r"(p) : "memory")

/* ---- the bare table ------------------------------------------------------------- */
typedef struct bare_slot8 {
  uint64_t key, value; /* key 0 = empty */
} bare_slot8;

typedef struct bare_slotp {
  uint64_t hash;
  uint8_t *rec; /* key then value; NULL = empty */
} bare_slotp;

_Static_assert(sizeof(bare_slot8) == 16 && sizeof(bare_slotp) == 16, "bare slots are 16 bytes");

typedef struct bare {
  size_t mask, count, capacity, klen, vlen;
  bare_slot8 *s8;  /* klen == vlen == 8 */
  bare_slotp *sp;  /* otherwise */
  uint8_t *arena;  /* capacity * (klen + vlen) */
} bare;

#define BARE_MAX_LOAD 0.7

/* The same memory the library gets: big blocks aligned to 2 MiB and offered
 * to transparent huge pages (libmacho does so for its tables), so that the
 * limit is not set by the TLB of one side only. */
static void *bare_calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  size_t bytes = n * size;
  if (bytes < (2u << 20)) return calloc(n, size);
  void *p = NULL;
  if (posix_memalign(&p, 2u << 20, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
  memset(p, 0, bytes);
  return p;
}

static int bare_open(bare *t, size_t capacity, size_t klen, size_t vlen) {
  memset(t, 0, sizeof *t);
  size_t n = 16;
  while ((double)n * BARE_MAX_LOAD < (double)capacity) n <<= 1;
  t->mask = n - 1;
  t->capacity = capacity;
  t->klen = klen;
  t->vlen = vlen;
  if (klen == 8 && vlen == 8) {
    t->s8 = bare_calloc(n, sizeof *t->s8);
    return t->s8 ? 0 : -1;
  }
  t->sp = bare_calloc(n, sizeof *t->sp);
  t->arena = malloc(capacity * (klen + vlen) + 1);
  return t->sp && t->arena ? 0 : -1;
}

static void bare_close(bare *t) {
  free(t->s8);
  free(t->sp);
  free(t->arena);
}

static inline int bare8_get(bare *t, const uint8_t *key, size_t klen, uint8_t *buf, size_t vlen) {
  (void)klen;
  (void)vlen;
  uint64_t k;
  memcpy(&k, key, 8);
  size_t i = (size_t)XXH3_64bits(key, 8) & t->mask;
  for (;;) {
    const bare_slot8 *s = &t->s8[i];
    if (s->key == k) {
      memcpy(buf, &s->value, 8);
      return 1;
    }
    if (s->key == 0) return 0;
    i = (i + 1) & t->mask;
  }
}

static inline int bare8_put(bare *t, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen) {
  (void)klen;
  (void)vlen;
  uint64_t k, v;
  memcpy(&k, key, 8);
  memcpy(&v, val, 8);
  size_t i = (size_t)XXH3_64bits(key, 8) & t->mask;
  for (;;) {
    bare_slot8 *s = &t->s8[i];
    if (s->key == k) {
      s->value = v;
      return 0;
    }
    if (s->key == 0) {
      if (t->count == t->capacity) return 0; /* full: no eviction, the key is dropped */
      s->key = k;
      s->value = v;
      t->count++;
      return 0;
    }
    i = (i + 1) & t->mask;
  }
}

static inline int barep_get(bare *t, const uint8_t *key, size_t klen, uint8_t *buf, size_t vlen) {
  uint64_t h = XXH3_64bits(key, klen);
  size_t i = (size_t)h & t->mask;
  for (;;) {
    const bare_slotp *s = &t->sp[i];
    if (!s->rec) return 0;
    if (s->hash == h && memcmp(s->rec, key, klen) == 0) {
      memcpy(buf, s->rec + klen, vlen);
      return 1;
    }
    i = (i + 1) & t->mask;
  }
}

static inline int barep_put(bare *t, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen) {
  uint64_t h = XXH3_64bits(key, klen);
  size_t i = (size_t)h & t->mask;
  for (;;) {
    bare_slotp *s = &t->sp[i];
    if (!s->rec) {
      if (t->count == t->capacity) return 0; /* full: dropped */
      uint8_t *rec = t->arena + t->count * (klen + vlen);
      memcpy(rec, key, klen);
      memcpy(rec + klen, val, vlen);
      s->hash = h;
      s->rec = rec;
      t->count++;
      return 0;
    }
    if (s->hash == h && memcmp(s->rec, key, klen) == 0) {
      memcpy(s->rec + klen, val, vlen);
      return 0;
    }
    i = (i + 1) & t->mask;
  }
}

/* ---- macho through the public API ---------------------------------------------- */
static inline int macho_w_get(macho_cache *c, const uint8_t *key, size_t klen, uint8_t *buf, size_t vlen) {
  size_t n;
  int rc = macho_get(c, key, klen, buf, vlen, &n);
  return rc == MACHO_OK ? 1 : rc == MACHO_ENOTFOUND ? 0 : -1;
}

static inline int macho_w_put(macho_cache *c, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen) {
  return macho_put(c, key, klen, val, vlen) != MACHO_OK;
}

/* ---- one loop body for every system --------------------------------------------- */
typedef struct loop_out {
  uint64_t gets, hits, errs;
} loop_out;

#define BENCH_LOOP(NAME, CTX, GET, PUT)                                                        \
  static void NAME(CTX ctx, const bench_workload *w, const uint32_t *ops, size_t n, uint8_t *buf, \
                   loop_out *o) {                                                              \
    const uint8_t *keys = w->keys, *val = w->value;                                            \
    const size_t klen = w->klen, vlen = w->vlen;                                               \
    uint64_t gets = 0, hits = 0, errs = 0;                                                     \
    for (size_t i = 0; i < n; i++) {                                                           \
      uint32_t op = ops[i];                                                                    \
      const uint8_t *key = keys + (size_t)(op & ~BENCH_PUT) * klen;                            \
      if (op & BENCH_PUT) {                                                                    \
        errs += PUT(ctx, key, klen, val, vlen) != 0;                                           \
        continue;                                                                              \
      }                                                                                        \
      gets++;                                                                                  \
      int r = GET(ctx, key, klen, buf, vlen);                                                  \
      if (r > 0) {                                                                             \
        hits++;                                                                                \
        BENCH_USE(buf);                                                                        \
      } else if (r == 0) {                                                                     \
        errs += PUT(ctx, key, klen, val, vlen) != 0; /* cache-aside: fill on a miss */         \
      } else {                                                                                 \
        errs++;                                                                                \
      }                                                                                        \
    }                                                                                          \
    o->gets += gets;                                                                           \
    o->hits += hits;                                                                           \
    o->errs += errs;                                                                           \
  }

BENCH_LOOP(loop_bare8, bare *, bare8_get, bare8_put)
BENCH_LOOP(loop_barep, bare *, barep_get, barep_put)
BENCH_LOOP(loop_macho, macho_cache *, macho_w_get, macho_w_put)

/* The fill: every system puts the same keys in the same order. */
static int fill_bare(bare *t, const bench_workload *w) {
  for (size_t i = 0; i < w->nfill; i++) {
    const uint8_t *key = w->keys + (size_t)w->fill[i] * w->klen;
    if (t->s8) bare8_put(t, key, 8, w->value, 8);
    else barep_put(t, key, w->klen, w->value, w->vlen);
  }
  return 0;
}

static int fill_macho(macho_cache *c, const bench_workload *w) {
  for (size_t i = 0; i < w->nfill; i++) {
    int rc = macho_put(c, w->keys + (size_t)w->fill[i] * w->klen, w->klen, w->value, w->vlen);
    if (rc != MACHO_OK) {
      bench_warn("macho_put during the fill: %s", macho_strerror(rc));
      return -1;
    }
  }
  return 0;
}

/* ---- threads -------------------------------------------------------------------- */
typedef struct worker {
  const bench_system *sys;
  void *ctx;
  const bench_workload *w;
  unsigned index;
  int cpu; /* -1 = not pinned */
  pthread_barrier_t *go;
  uint64_t t0, t1, cpu_ns;
  loop_out out;
  int pin_failed;
  pthread_t tid;
} worker;

static void run_slice(worker *k, const uint32_t *ops, size_t n, uint8_t *buf) {
  if (strcmp(k->sys->kind, "macho") == 0) loop_macho(k->ctx, k->w, ops, n, buf, &k->out);
  else if (((bare *)k->ctx)->s8) loop_bare8(k->ctx, k->w, ops, n, buf, &k->out);
  else loop_barep(k->ctx, k->w, ops, n, buf, &k->out);
}

static void *worker_main(void *arg) {
  worker *k = arg;
  if (k->cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(k->cpu, &set);
    k->pin_failed = pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0;
  }
  uint8_t *buf = malloc(k->w->vlen + 64);
  const uint32_t *ops = bench_thread_ops(k->w, k->index);
  if (buf) run_slice(k, ops, k->w->nwarm, buf); /* warm-up: untimed, results dropped */
  k->out = (loop_out){0};
  pthread_barrier_wait(k->go);
  k->t0 = now_ns(CLOCK_MONOTONIC);
  uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  if (buf) run_slice(k, ops + k->w->nwarm, k->w->ntimed, buf);
  k->cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  k->t1 = now_ns(CLOCK_MONOTONIC);
  if (!buf) k->out.errs++;
  free(buf);
  return NULL;
}

static int run_threads(bench_system *s, void *ctx, const bench_workload *w, unsigned threads, bool pin,
                       bench_round *out) {
  worker ks[BENCH_MAX_THREADS];
  pthread_barrier_t go;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu < 1) ncpu = 1;
  pthread_barrier_init(&go, NULL, threads);
  unsigned started = 0;
  for (unsigned t = 0; t < threads; t++) {
    ks[t] = (worker){.sys = s, .ctx = ctx, .w = w, .index = t, .go = &go,
                     .cpu = pin ? (int)(t % (unsigned)ncpu) : -1};
    if (pthread_create(&ks[t].tid, NULL, worker_main, &ks[t]) != 0) break;
    started++;
  }
  if (started < threads) {
    /* the barrier would never open: nothing sane to do but say so and stop */
    bench_warn("%s: could not start %u threads", s->label, threads);
    exit(CLI_FAIL);
  }
  uint64_t t0 = UINT64_MAX, t1 = 0, errs = 0;
  int pin_failed = 0;
  *out = (bench_round){0};
  for (unsigned t = 0; t < threads; t++) {
    pthread_join(ks[t].tid, NULL);
    if (ks[t].t0 < t0) t0 = ks[t].t0;
    if (ks[t].t1 > t1) t1 = ks[t].t1;
    out->cpu_ns += (double)ks[t].cpu_ns;
    out->gets += ks[t].out.gets;
    out->hits += ks[t].out.hits;
    errs += ks[t].out.errs;
    pin_failed |= ks[t].pin_failed;
  }
  pthread_barrier_destroy(&go);
  out->wall_ns = (double)(t1 - t0);
  out->ops = (uint64_t)threads * w->ntimed;
  if (pin_failed) bench_warn("%s: pthread_setaffinity_np failed; ran unpinned", s->label);
  if (errs) {
    bench_warn("%s: %llu operations failed", s->label, (unsigned long long)errs);
    return -1;
  }
  return 0;
}

/* ---- the systems ------------------------------------------------------------------ */
static const char *bare_cannot(const bench_system *s, const bench_workload *w, unsigned threads) {
  (void)s;
  if (threads > 1 && (w->get_pct < 100 || w->misses))
    return "has no locks: runs writes on one thread only";
  return NULL;
}

static int bare_run(bench_system *s, const bench_workload *w, unsigned threads, bool pin, bench_round *out) {
  bare t;
  if (bare_open(&t, w->capacity, w->klen, w->vlen) != 0) {
    bare_close(&t);
    bench_warn("bare: out of memory");
    return -1;
  }
  fill_bare(&t, w);
  int rc = run_threads(s, &t, w, threads, pin, out);
  bare_close(&t);
  return rc;
}

static void no_stop(bench_system *s) { (void)s; }

void bench_bare_init(bench_system *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->kind, sizeof s->kind, "bare");
  snprintf(s->label, sizeof s->label, "bare table");
  snprintf(s->version, sizeof s->version, "open addressing, 16 B slots, load <= %.1f, XXH3 %d.%d.%d",
           BARE_MAX_LOAD, XXH_VERSION_MAJOR, XXH_VERSION_MINOR, XXH_VERSION_RELEASE);
  snprintf(s->notes, sizeof s->notes, "no eviction, no locks, no TTL");
  s->cannot = bare_cannot;
  s->run = bare_run;
  s->stop = no_stop;
}

static int open_macho(macho_policy policy, unsigned shards, int metrics, size_t capacity, double ttl_s,
                      uint64_t seed, const macho_allocator *alloc, macho_cache **out) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = capacity;
  cfg.shards = shards;
  cfg.policy = policy;
  cfg.metrics = metrics;
  cfg.ttl_seconds = ttl_s;
  cfg.seed = seed;
  cfg.allocator = alloc;
  const char *why = NULL;
  if (macho_config_check(&cfg, &why) != MACHO_OK) {
    bench_warn("macho config: %s", why ? why : "invalid");
    return -1;
  }
  int rc = macho_open(&cfg, out);
  if (rc != MACHO_OK) {
    bench_warn("macho_open: %s", macho_strerror(rc));
    return -1;
  }
  return 0;
}

static int macho_run(bench_system *s, const bench_workload *w, unsigned threads, bool pin, bench_round *out) {
  macho_cache *c = NULL;
  if (open_macho(s->policy, s->shards, s->metrics, w->capacity, w->ttl_s, w->seed, NULL, &c) != 0) return -1;
  int rc = fill_macho(c, w);
  if (rc == 0) rc = run_threads(s, c, w, threads, pin, out);
  macho_close(c);
  return rc;
}

static const char *macho_cannot(const bench_system *s, const bench_workload *w, unsigned threads) {
  (void)threads;
  if (s->shards > w->capacity) return "more shards than entries";
  return NULL;
}

void bench_macho_init(bench_system *s, macho_policy policy, unsigned shards, int metrics) {
  memset(s, 0, sizeof *s);
  snprintf(s->kind, sizeof s->kind, "macho");
  snprintf(s->label, sizeof s->label, "macho %s %ush%s", macho_policy_name(policy), shards,
           metrics ? "" : " nometrics");
  snprintf(s->version, sizeof s->version, "%s", macho_version_string());
  snprintf(s->notes, sizeof s->notes, "%u shard%s, metrics=%d", shards, shards == 1 ? "" : "s", metrics);
  s->policy = policy;
  s->shards = shards;
  s->metrics = metrics;
  s->has_ttl = true;
  s->cannot = macho_cannot;
  s->run = macho_run;
  s->stop = no_stop;
}

/* ---- the memory child ----------------------------------------------------------------
 * macho bench --memory-child KIND POLICY SHARDS METRICS NKEYS KLEN VLEN TTL SEED
 * Runs in a fresh process (the driver re-executes itself), so nothing an earlier
 * cell allocated is in its heap. Generates the keys, reads RSS, fills NKEYS
 * entries into a cache of capacity NKEYS, reads RSS again and prints
 * {"entries":..,"rss_before":..,"rss_after":..,"own_bytes":..}. */
/* Counting allocator hooks: what the cache holds through config.allocator,
 * to set beside memory_bytes (issue 11: within 2 %) and RSS. */
typedef struct counting {
  uint64_t live;
} counting;
static void *count_malloc(void *ctx, size_t n) {
  void *p = malloc(n);
  if (p) ((counting *)ctx)->live += n;
  return p;
}
static void *count_realloc(void *ctx, void *ptr, size_t old, size_t n) {
  void *p = realloc(ptr, n);
  if (p) ((counting *)ctx)->live += n - old;
  return p;
}
static void count_free(void *ctx, void *ptr, size_t n) {
  if (ptr) ((counting *)ctx)->live -= n;
  free(ptr);
}

int bench_memory_child(int argc, char **argv) {
  if (argc != 11) {
    bench_warn("--memory-child: expected 9 arguments");
    return CLI_USAGE;
  }
  const char *kind = argv[2];
  macho_policy policy;
  if (macho_policy_parse(argv[3], &policy) != MACHO_OK) return CLI_USAGE;
  unsigned shards = (unsigned)strtoul(argv[4], NULL, 10);
  int metrics = atoi(argv[5]);
  size_t nkeys = strtoull(argv[6], NULL, 10), klen = strtoull(argv[7], NULL, 10),
         vlen = strtoull(argv[8], NULL, 10);
  double ttl_s = strtod(argv[9], NULL);
  uint64_t seed = strtoull(argv[10], NULL, 10);
  uint8_t *keys = malloc(nkeys * klen + 1), *value = malloc(vlen + 1);
  if (!keys || !value || nkeys == 0) {
    bench_warn("memory child: out of memory");
    return CLI_FAIL;
  }
  bench_make_keys(keys, nkeys, klen, seed);
  for (size_t i = 0; i < vlen; i++) value[i] = (uint8_t)('a' + i % 26);
  double own = 0, hooks = -1;
  uint64_t entries = 0, before = bench_rss_bytes(0), after = 0;
  if (strcmp(kind, "bare") == 0) {
    bare t;
    if (bare_open(&t, nkeys, klen, vlen) != 0) return CLI_FAIL;
    for (size_t i = 0; i < nkeys; i++) {
      if (t.s8) bare8_put(&t, keys + i * klen, 8, value, 8);
      else barep_put(&t, keys + i * klen, klen, value, vlen);
    }
    after = bench_rss_bytes(0);
    entries = t.count;
    own = (double)((t.mask + 1) * 16 + (t.arena ? t.capacity * (klen + vlen) : 0));
    bare_close(&t);
  } else {
    /* Twice: RSS and memory_bytes with the default allocator (what a user
     * gets: big blocks mapped, so tables freed by growth leave the RSS),
     * then the hooks' count from a second, identical fill. One fill through
     * malloc-backed hooks would leave the outgrown tables on glibc's heap
     * and show them in the RSS. */
    counting cnt = {0};
    macho_allocator alloc = {count_malloc, count_realloc, count_free, &cnt};
    for (int pass = 0; pass < 2; pass++) {
      macho_cache *c = NULL;
      if (open_macho(policy, shards, metrics, nkeys, ttl_s, seed, pass ? &alloc : NULL, &c) != 0) return CLI_FAIL;
      for (size_t i = 0; i < nkeys; i++) {
        int rc = macho_put(c, keys + i * klen, klen, value, vlen);
        if (rc != MACHO_OK) {
          bench_warn("memory child: macho_put: %s", macho_strerror(rc));
          return CLI_FAIL;
        }
      }
      macho_counters ct;
      if (macho_counters_get(c, -1, &ct) != MACHO_OK) return CLI_FAIL;
      if (pass == 0) {
        after = bench_rss_bytes(0);
        entries = ct.entries;
        own = (double)ct.memory_bytes;
      } else {
        hooks = (double)cnt.live;
      }
      macho_close(c);
    }
  }
  printf("{\"entries\":%llu,\"rss_before\":%llu,\"rss_after\":%llu,\"own_bytes\":%.0f,\"hooks_bytes\":%.0f}\n",
         (unsigned long long)entries, (unsigned long long)before, (unsigned long long)after, own, hooks);
  free(keys);
  free(value);
  return before && after ? CLI_OK : CLI_FAIL;
}
