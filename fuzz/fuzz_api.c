/*
 * fuzz_api.c -- the public C API as a byte stream of operations, compared
 * step by step with a reference model.
 *
 * The first bytes choose a cache: policy (any macho_policy_available says is
 * built), filter (none/bloom/cuckoo/xor at a valid rate), key mode (bytes, or
 * objects with the refcounted objects below), 1/2/4/7 shards, a capacity of
 * 1 to ~400 entries, an optional byte budget, an optional default TTL, a
 * metrics level, a clock start (up to 400 days of uptime) and a key universe.
 * The rest is operations from the table `OPS` (adding one is one line there):
 * put, put_ttl, get (buffers exact, roomy, short, empty), contains, delete,
 * clear, expire, foreach_key (stopping early, re-entering), len, counters,
 * stats snapshots, stats_reset, moving the injected clock (whole ms,
 * forwards, sometimes backwards), arming an allocation failure, calls with
 * invalid arguments, and in object mode hash/equal callbacks that fail or
 * re-enter the cache.
 *
 * The model knows for each key whether it is ABSENT, PRESENT (put and not
 * evicted since it was last seen) or MAYBE (its shard evicted something
 * since), its last value and its deadline. Two strengths:
 *
 *  - exact: one shard and a deterministic policy (LRU, FIFO, LFU, MFU,
 *    SIEVE, S3-FIFO): the step-by-step references of tests/test_policy_*.c
 *    are ported below and predict every victim; the outcome of every call,
 *    every counter, the payload and the lifespans by reason must match. TTLs
 *    are settled at once: after a clock move that expires anything, the
 *    clock steps past the 1 ms tick window and macho_expire() must reclaim
 *    exactly the keys the model says expired, so no lazily reclaimed entry
 *    makes the victim uncertain.
 *  - invariant: several shards, Random, W-TinyLFU, ARC, auto, or expiry left to the
 *    cache's own sweeps. Victims are learned by observation (and, when the
 *    configuration says so, named at once by peeking at the evicting shard's
 *    keys: then the keys gone must be exactly the evictions). What must hold
 *    whatever the victim: a returned value is the last one put and not past
 *    its deadline (+1 ms); a key that is certainly live is found; a key that
 *    vanished while live is covered by its shard's eviction count; per
 *    shard, (keys certainly present) <= entries <= (keys possibly present)
 *    and entries <= capacity; evictions happen only in the shard of a put
 *    that needed room; entries change exactly by inserts - evictions -
 *    expirations - deletes - cleared.
 *
 * Both: hits + misses = gets, requests = gets + puts, filter counters
 * bounded by misses (and 0 without a filter), the total equal to the sum of
 * the shards, statuses only those macho.h documents, ENOMEM only where it is
 * documented and changing nothing, the key->shard mapping stable; object
 * references exact after every call (a stored key and its current value
 * hold one cache reference each, everything else none: an eviction shows up
 * here at once); no leak after macho_close (the checking allocator of
 * fuzz_util.h, which also checks sized frees), no sanitizer report.
 *
 * A divergence prints the configuration and the last operations, then
 * aborts. FUZZ_API_TRACE=1 prints every operation as it runs.
 */
#include "fuzz_util.h"

#include <math.h>

/* Where a lifespan starts. macho.h: "time from insertion to removal" (a
 * replace does not end the entry). The rewritten core keeps one time per
 * slot: an entry without a deadline keeps its insertion time through
 * replaces, but one with a TTL (before or after the replace) restarts its
 * lifespan at its last write (shard.c: "With one, the TTL restarts now").
 * 1 follows the core; 0 checks macho.h's words. */
#define FZ_LIFESPAN_TTL_RESTARTS 1
/* memory_bytes equals what the allocator hooks hold, after every step (the
 * rewritten core promises it; 0 checks only memory_bytes >= payload). */
#define FZ_CHECK_MEMORY_EXACT 1

#define MAXSH 7
#define MAXKEYS 256
#define MAXCAP 512
#define MS 1000000ull
#define NVOBJ 4096
#define LOGN 24

enum { ABSENT = 0, PRESENT = 1, MAYBE = 2 };

/* ---- objects (object mode) --------------------------------------------------------- */
#define FOBJ_MAGIC 0x0b1ec7u
typedef struct fobj {
  uint32_t magic;
  int key;          /* key index, or -1 for a value */
  uint32_t serial;  /* values: which put made it */
  int64_t cache_refs; /* retains - releases by the cache */
  int dead;           /* nobody may hold it any more */
} fobj;

/* ---- the model ------------------------------------------------------------------------- */
typedef struct mkey {
  uint8_t state;
  int8_t shard;      /* learned from the counters; -1 unknown */
  uint32_t ver, vlen; /* last value put */
  uint64_t deadline; /* cache clock ns, 0 = never */
  uint64_t hw;       /* latest clock reading since the put (the clock may go back) */
  uint64_t born;     /* where its lifespan starts (see FZ_LIFESPAN_TTL_RESTARTS) */
  int lingering;     /* reported absent past its deadline: maybe still held, unreturnable until the clock goes back */
  fobj *stored;      /* object mode: the key object the cache holds */
  fobj *vobj;        /* object mode: the current value (NULL allowed) */
} mkey;

/* References ported from tests/test_policy_*.c (arrays, oldest first). */
typedef struct rslot {
  uint16_t key;
  uint32_t a;
  uint64_t b;
} rslot;
typedef struct rq {
  rslot s[MAXCAP + 1];
  uint32_t n;
} rq;

typedef struct ref {
  macho_policy pol;
  uint32_t cap;
  rq q;                   /* LRU, FIFO, LFU/MFU, SIEVE */
  rq small, main, ghost;  /* S3-FIFO */
  uint32_t small_cap, main_cap, ghost_cap;
  int pending;            /* S3-FIFO: key whose miss found it in the ghost, -1 none */
  int hand;               /* SIEVE: key the hand is on, -1 = the oldest */
  uint64_t tick;
} ref;

typedef struct oplog {
  const char *name;
  int key, rc;
  uint64_t a, b;
} oplog;

typedef struct run {
  /* configuration */
  macho_config cfg;
  macho_policy policy;
  macho_filter filter;
  int objects, weak_hash, reenter, lazy_expiry, exact;
  int observe; /* invariant model: name the victims of every eviction by peeking */
  uint32_t nshards, universe;
  uint32_t cap[MAXSH];
  uint64_t budget[MAXSH];
  uint64_t t0;
  /* the cache, its clock and allocator */
  macho_cache *c;
  fz_clock clk;
  fz_alloc fa;
  macho_allocator hooks;
  macho_object_ops ops;
  /* model */
  mkey k[MAXKEYS];
  ref r;
  uint64_t unexplained[MAXSH]; /* evictions not yet matched to a vanished key */
  uint64_t ambiguous_gone[MAXSH]; /* keys that vanished past their deadline: evicted or expired */
  uint64_t cleared; /* entries cleared since the last reset */
  struct { uint64_t count, sum, min, max; } life[MACHO_REMOVED_COUNT]; /* exact mode, since the last reset */
  uint64_t m_evictions, m_expirations, m_deletes, m_hits, m_misses, m_puts;
  uint32_t ver;
  int alloc_failed;   /* an allocation failed in this input: metrics may have dropped samples, and an
                         entry whose birth was not kept stays unrecorded after a reset too */
  int callback_error; /* a callback failed since the last reset (filter_queries may run ahead) */
  uint64_t get_calls, put_calls; /* since the last reset, for latency counts */
  /* counters before and after the current operation */
  macho_counters bef[MAXSH], aft[MAXSH], tot;
  /* objects */
  fobj kobj[MAXKEYS], twin[MAXKEYS];
  fobj vpool[NVOBJ];
  uint32_t nv;
  int hash_fail, equal_fail, in_callback;
  int cb_failed;      /* this operation: 1 = hash reported an error, 2 = equal did */
  int64_t value_refs; /* cache references held on value objects */
  int probe_k, probe_twin; /* the key object the operation passed */
  /* bookkeeping */
  int step;
  const char *opname;
  oplog log[LOGN];
  int trace;
} run;

static run R; /* one at a time; static so that an input costs no big allocation */

/* ---- failure reporting --------------------------------------------------------------- */
static void dump(const run *r) {
  fprintf(stderr, "\n== fuzz_api divergence at step %d (%s) ==\n", r->step, r->opname ? r->opname : "open");
  fprintf(stderr, "config: policy %s, filter %s (p=%g), %s mode%s, %u shards, capacity %zu, budget %zu, "
                  "ttl %g s, metrics %d, clock start %llu ns, %u keys, %s%s%s\n",
          macho_policy_name(r->policy), macho_filter_name(r->filter), r->cfg.filter_fp_rate,
          r->objects ? "object" : "bytes", r->weak_hash ? " (colliding hashes)" : "", r->nshards,
          r->cfg.capacity_entries, r->cfg.capacity_bytes, r->cfg.ttl_seconds, r->cfg.metrics,
          (unsigned long long)r->t0, r->universe, r->exact ? "exact model" : "invariant model",
          r->lazy_expiry ? ", lazy expiry" : "", r->reenter ? ", re-entrant callbacks" : "");
  fprintf(stderr, "clock now %llu ns (+%llu ms since open)\nlast operations (oldest first):\n",
          (unsigned long long)r->clk.now_ns, (unsigned long long)((r->clk.now_ns - r->t0) / MS));
  for (int i = LOGN; i > 0; i--) {
    int s = r->step - i;
    if (s < 0) continue;
    const oplog *l = &r->log[s % LOGN];
    if (!l->name) continue;
    fprintf(stderr, "  step %d: %s key %d a=%llu b=%llu -> %d (%s)\n", s, l->name, l->key,
            (unsigned long long)l->a, (unsigned long long)l->b, l->rc, macho_status_name(l->rc));
  }
}

#define DIVERGE(...)  \
  do {                \
    dump(&R);         \
    FZ_FAIL(__VA_ARGS__); \
  } while (0)
#define EXPECT(cond, ...)         \
  do {                            \
    if (!(cond)) DIVERGE(__VA_ARGS__); \
  } while (0)

static void note(run *r, int key, int rc, uint64_t a, uint64_t b) {
  oplog *l = &r->log[r->step % LOGN];
  *l = (oplog){r->opname, key, rc, a, b};
  if (r->trace) fz_hook_depth++;
  if (r->trace)
    fprintf(stderr, "step %d: %s key %d a=%llu b=%llu -> %s\n", r->step, r->opname, key,
            (unsigned long long)a, (unsigned long long)b, macho_status_name(rc));
  if (r->trace) fz_hook_depth--;
}

/* ---- keys and values ------------------------------------------------------------------- */
/* Key k's bytes: k itself in the first two bytes (unique), then a pattern;
 * lengths from 0 to 300 so that inline and out-of-line keys both occur. */
static size_t key_len(int k) {
  static const uint8_t lens[10] = {2, 3, 4, 8, 15, 16, 17, 24, 40, 7};
  if (k == 0) return 0;
  if (k == 1) return 1;
  if (k % 37 == 5) return 300;
  return lens[k % 10];
}
#define KEYBUF 512
static uint8_t keybuf[KEYBUF]; /* keys end at the array's end: an over-read is an ASan report */
static const uint8_t *key_bytes(int k, size_t *len) {
  size_t n = key_len(k);
  uint8_t *p = keybuf + KEYBUF - n;
  for (size_t i = 0; i < n; i++) p[i] = i == 0 ? (uint8_t)k : i == 1 ? (uint8_t)(k >> 8) : (uint8_t)(k * 7 + i);
  *len = n;
  return p;
}
/* The key index of bytes the cache gave back, or -1. */
static int key_of(const void *key, size_t klen) {
  const uint8_t *b = key;
  int k = klen == 0 ? 0 : klen == 1 ? b[0] : b[0] | b[1] << 8;
  if (k >= MAXKEYS || key_len(k) != klen) return -1;
  size_t n;
  const uint8_t *want = key_bytes(k, &n);
  return n == 0 || memcmp(want, key, n) == 0 ? k : -1;
}

static uint8_t val_byte(int k, uint32_t ver, size_t i) {
  uint64_t z = ((uint64_t)ver << 20 ^ (uint64_t)k) * 0x9E3779B97F4A7C15ULL;
  return (uint8_t)(z >> ((i % 8) * 8)) ^ (uint8_t)i;
}
#define VALBUF 8192
static uint8_t valbuf[VALBUF];
static const uint8_t *val_bytes(int k, uint32_t ver, size_t n) {
  uint8_t *p = valbuf + VALBUF - n;
  for (size_t i = 0; i < n; i++) p[i] = val_byte(k, ver, i);
  return p;
}
static const uint32_t VLENS[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 100, 200, 255, 256, 1000, 4000};

/* ---- time ---------------------------------------------------------------------------------- */
/* An entry never leaves before its deadline and may stay up to 1 ms past it
 * (the core keeps deadlines as millisecond ticks). Once the clock has passed
 * the deadline, a sweep may have taken the entry even if the clock went back. */
static int live_certain(const run *r, const mkey *m) {
  (void)r;
  return !m->deadline || m->hw < m->deadline;
}
static int expired_certain(const run *r, const mkey *m) {
  return m->deadline && r->clk.now_ns > m->deadline + MS;
}

/* ---- references (exact mode) ------------------------------------------------------------- */
static int rq_find(const rq *q, int key) {
  for (uint32_t i = 0; i < q->n; i++)
    if (q->s[i].key == key) return (int)i;
  return -1;
}
static rslot rq_take(rq *q, uint32_t i) {
  rslot x = q->s[i];
  memmove(&q->s[i], &q->s[i + 1], (q->n - i - 1) * sizeof x);
  q->n--;
  return x;
}
static void rq_append(rq *q, rslot x) {
  if (q->n > MAXCAP) FZ_FAIL("reference queue overflow");
  q->s[q->n++] = x;
}

static void ref_init(ref *f, macho_policy pol, uint32_t cap) {
  f->pol = pol;
  f->cap = cap;
  f->q.n = f->small.n = f->main.n = f->ghost.n = 0;
  f->small_cap = cap / 10 ? cap / 10 : 1;
  f->main_cap = cap - f->small_cap;
  f->ghost_cap = (uint32_t)(cap * 0.9);
  f->pending = -1;
  f->hand = -1;
  f->tick = 0;
}

static int s3_ghost_take(ref *f, int key) {
  int i = rq_find(&f->ghost, key);
  if (i < 0) return 0;
  rq_take(&f->ghost, (uint32_t)i);
  return 1;
}

/* A get missed. */
static void ref_miss(ref *f, int key) {
  if (f->pol != MACHO_POLICY_S3FIFO) return;
  if (f->pending == key) return;
  f->pending = s3_ghost_take(f, key) ? key : -1;
}

/* A get hit, or a put on a present key. */
static void ref_hit(ref *f, int key) {
  int i;
  switch (f->pol) {
  case MACHO_POLICY_LRU:
    i = rq_find(&f->q, key);
    rq_append(&f->q, rq_take(&f->q, (uint32_t)i));
    break;
  case MACHO_POLICY_LFU:
  case MACHO_POLICY_MFU:
    i = rq_find(&f->q, key);
    f->q.s[i].a++;
    f->q.s[i].b = ++f->tick;
    break;
  case MACHO_POLICY_SIEVE: f->q.s[rq_find(&f->q, key)].a = 1; break;
  case MACHO_POLICY_S3FIFO: {
    rq *q = rq_find(&f->small, key) >= 0 ? &f->small : &f->main;
    q->s[rq_find(q, key)].a++;
    f->pending = -1;
    break;
  }
  default: break; /* FIFO */
  }
}

/* A new key, room already made. */
static void ref_insert(ref *f, int key) {
  switch (f->pol) {
  case MACHO_POLICY_LFU:
  case MACHO_POLICY_MFU: rq_append(&f->q, (rslot){(uint16_t)key, 1, ++f->tick}); break;
  case MACHO_POLICY_S3FIFO: {
    int to_main = f->pending == key || s3_ghost_take(f, key);
    f->pending = -1;
    rq_append(to_main ? &f->main : &f->small, (rslot){(uint16_t)key, 0, 0});
    break;
  }
  default: rq_append(&f->q, (rslot){(uint16_t)key, 0, 0}); break;
  }
}

/* SIEVE: forget index i; a hand on it moves on to the next newer key. */
static int sv_take(ref *f, uint32_t i) {
  if (f->hand == f->q.s[i].key) f->hand = i + 1 < f->q.n ? f->q.s[i + 1].key : -1;
  return rq_take(&f->q, i).key;
}

/* Choose and forget the victim. */
static int ref_victim(ref *f) {
  switch (f->pol) {
  case MACHO_POLICY_LRU:
  case MACHO_POLICY_FIFO: return rq_take(&f->q, 0).key;
  case MACHO_POLICY_LFU:
  case MACHO_POLICY_MFU: {
    uint32_t best = 0;
    for (uint32_t i = 1; i < f->q.n; i++) {
      const rslot *x = &f->q.s[i], *y = &f->q.s[best];
      int better = f->pol == MACHO_POLICY_MFU ? x->a > y->a : x->a < y->a;
      if (better || (x->a == y->a && x->b < y->b)) best = i;
    }
    return rq_take(&f->q, best).key;
  }
  case MACHO_POLICY_SIEVE: {
    uint32_t i = f->hand >= 0 ? (uint32_t)rq_find(&f->q, f->hand) : 0;
    while (f->q.s[i].a) {
      f->q.s[i].a = 0;
      i = i + 1 < f->q.n ? i + 1 : 0;
    }
    f->hand = f->q.s[i].key;
    return sv_take(f, i);
  }
  case MACHO_POLICY_S3FIFO:
    if (f->main.n <= f->main_cap) {
      while (f->small.n) {
        rslot x = rq_take(&f->small, 0);
        if (x.a >= 2) {
          rq_append(&f->main, (rslot){x.key, 0, 0});
          continue;
        }
        if (f->ghost_cap && rq_find(&f->ghost, x.key) < 0) {
          if (f->ghost.n == f->ghost_cap) rq_take(&f->ghost, 0);
          rq_append(&f->ghost, (rslot){x.key, 0, 0});
        }
        return x.key;
      }
    }
    for (;;) {
      rslot x = rq_take(&f->main, 0);
      if (x.a == 0) return x.key;
      rq_append(&f->main, (rslot){x.key, (x.a < 3 ? x.a : 3) - 1, 0});
    }
  default: FZ_FAIL("no reference for this policy");
  }
}

/* Delete, expiry, or the budget path of a replace: not a victim. */
static void ref_remove(ref *f, int key) {
  if (f->pol == MACHO_POLICY_S3FIFO) {
    int i = rq_find(&f->small, key);
    if (i >= 0) rq_take(&f->small, (uint32_t)i);
    else rq_take(&f->main, (uint32_t)rq_find(&f->main, key));
  } else if (f->pol == MACHO_POLICY_SIEVE) {
    sv_take(f, (uint32_t)rq_find(&f->q, key));
  } else {
    rq_take(&f->q, (uint32_t)rq_find(&f->q, key));
  }
}

/* ---- object callbacks ---------------------------------------------------------------------- */
static fobj *as_obj(const void *p, const char *who) {
  fobj *o = (fobj *)p;
  if (!o || o->magic != FOBJ_MAGIC) DIVERGE("%s got a pointer that is not one of our objects", who);
  if (o->dead) DIVERGE("%s got an object already released for good (use after release)", who);
  return o;
}
static int cb_hash(void *ctx, const void *key, uint64_t *out) {
  run *r = ctx;
  fobj *o = as_obj(key, "hash");
  if (o->key < 0) DIVERGE("hash called on a value object");
  if (r->hash_fail && !r->in_callback) {
    r->hash_fail = 0;
    r->callback_error = 1;
    r->cb_failed = 1;
    return -1;
  }
  /* Weak hash: keys 2j and 2j+1 share a hash, so equal() decides. */
  *out = r->weak_hash ? (uint64_t)(o->key >> 1) : (uint64_t)o->key * 0x9E3779B97F4A7C15ULL + 1;
  return 0;
}
static int cb_equal(void *ctx, const void *a, const void *b) {
  run *r = ctx;
  fobj *x = as_obj(a, "equal"), *y = as_obj(b, "equal");
  if (r->equal_fail && !r->in_callback) {
    r->equal_fail = 0;
    r->callback_error = 1;
    r->cb_failed = 2;
    return -1;
  }
  /* macho.h: equal runs with no lock held and may call into the same cache. */
  if (r->reenter && !r->in_callback) {
    r->in_callback = 1;
    int rc = macho_obj_contains(r->c, &r->kobj[(x->key + 1) % (int)r->universe]);
    if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) DIVERGE("re-entrant obj_contains returned %d", rc);
    (void)macho_len(r->c);
    r->in_callback = 0;
  }
  return x->key == y->key;
}
static void cb_retain(void *ctx, void *obj) {
  run *r = ctx;
  fobj *o = as_obj(obj, "retain");
  o->cache_refs++;
  if (o->key < 0) r->value_refs++;
}
static void cb_release(void *ctx, void *obj) {
  run *r = ctx;
  fobj *o = as_obj(obj, "release");
  if (o->cache_refs <= 0) DIVERGE("object released more often than retained (key %d serial %u)", o->key, o->serial);
  o->cache_refs--;
  if (o->key < 0) r->value_refs--;
}

static fobj *new_value(run *r) {
  if (r->nv == NVOBJ) return NULL; /* out of value objects: store NULL values */
  fobj *o = &r->vpool[r->nv];
  *o = (fobj){FOBJ_MAGIC, -1, r->nv, 0, 0};
  r->nv++;
  return o;
}
/* The model no longer needs value v: nobody may use it once the cache lets go. */
static void drop_value(fobj *v) {
  if (v && v->cache_refs == 0) v->dead = 1;
}

/* ---- counters ---------------------------------------------------------------------------------- */
FZ_NO_COVERAGE static void read_counters(run *r, macho_counters *dst) {
  macho_counters sum = {0};
  for (uint32_t s = 0; s < r->nshards; s++) {
    EXPECT(macho_counters_get(r->c, (int)s, &dst[s]) == MACHO_OK, "counters_get(%u) failed", s);
    const macho_counters *x = &dst[s];
    sum.hits += x->hits, sum.misses += x->misses, sum.gets += x->gets, sum.puts += x->puts;
    sum.deletes += x->deletes, sum.requests += x->requests, sum.evictions += x->evictions;
    sum.expirations += x->expirations, sum.entries += x->entries, sum.payload_bytes += x->payload_bytes;
    sum.capacity_entries += x->capacity_entries, sum.capacity_bytes += x->capacity_bytes;
    sum.filter_queries += x->filter_queries, sum.filter_negatives += x->filter_negatives;
    sum.filter_false_positives += x->filter_false_positives, sum.memory_bytes += x->memory_bytes;
  }
  EXPECT(macho_counters_get(r->c, -1, &r->tot) == MACHO_OK, "counters_get(-1) failed");
  const macho_counters *t = &r->tot;
  EXPECT(t->hits == sum.hits && t->misses == sum.misses && t->gets == sum.gets && t->puts == sum.puts &&
             t->deletes == sum.deletes && t->requests == sum.requests && t->evictions == sum.evictions &&
             t->expirations == sum.expirations && t->entries == sum.entries &&
             t->payload_bytes == sum.payload_bytes && t->capacity_entries == sum.capacity_entries &&
             t->capacity_bytes == sum.capacity_bytes && t->filter_queries == sum.filter_queries &&
             t->filter_negatives == sum.filter_negatives &&
             t->filter_false_positives == sum.filter_false_positives && t->memory_bytes >= sum.memory_bytes,
         "the total counters are not the sum of the shards'");
}

#define D(s, f) ((int64_t)r->aft[s].f - (int64_t)r->bef[s].f)

/* The one shard whose `field` moved by +1 in this operation (-1 if none). */
FZ_NO_COVERAGE static int shard_moved(run *r, size_t offset) {
  int found = -1;
  for (uint32_t s = 0; s < r->nshards; s++) {
    uint64_t a = *(const uint64_t *)((const char *)&r->aft[s] + offset);
    uint64_t b = *(const uint64_t *)((const char *)&r->bef[s] + offset);
    if (a == b) continue;
    EXPECT(a == b + 1 && found < 0, "%s moved by %lld in shard %u", r->opname, (long long)(a - b), s);
    found = (int)s;
  }
  return found;
}
#define SHARD_MOVED(field) shard_moved(r, offsetof(macho_counters, field))

static void learn_shard(run *r, int k, int s) {
  if (s < 0) return;
  EXPECT(r->k[k].shard < 0 || r->k[k].shard == s, "key %d moved from shard %d to shard %d", k, r->k[k].shard, s);
  r->k[k].shard = (int8_t)s;
}

/* ---- model state changes -------------------------------------------------------------------- */
/* Exact mode: key k leaves now for `reason`; its lifespan as the cache must record it. */
static void lifespan(run *r, int k, macho_removal reason) {
  uint64_t now = r->clk.now_ns, born = r->k[k].born;
  uint64_t ns = now > born ? now - born : 0;
  if (!r->life[reason].count || ns < r->life[reason].min) r->life[reason].min = ns;
  if (ns > r->life[reason].max) r->life[reason].max = ns;
  r->life[reason].count++;
  r->life[reason].sum += ns;
}

static void set_absent(run *r, int k) {
  mkey *m = &r->k[k];
  m->state = ABSENT;
  m->lingering = 0;
  m->stored = NULL;
  drop_value(m->vobj);
  m->vobj = NULL;
}

/* The cache says k is not there: `gone` when it has certainly let go of
 * it (its key object was released); a lookup's "not found" past the
 * deadline may also be an expired entry still in its slot (a lock-free get
 * leaves its removal to a writer), which still counts in len. */
static void observed_absent(run *r, int k, const char *how, int gone) {
  mkey *m = &r->k[k];
  if (m->state == ABSENT) return;
  if (live_certain(r, m)) {
    EXPECT(m->state != PRESENT, "key %d vanished (%s) while live; nothing evicted in its shard since it was put", k, how);
    int s = m->shard;
    EXPECT(r->unexplained[s] > 0, "key %d vanished (%s) while live; shard %d's evictions are all accounted for", k, how, s);
    r->unexplained[s]--;
    set_absent(r, k);
    return;
  }
  /* Past its deadline: evicted, expired, or still lingering. */
  if (!m->lingering) r->ambiguous_gone[m->shard]++;
  if (gone) {
    set_absent(r, k);
  } else {
    m->state = MAYBE;
    m->lingering = 1;
  }
}

/* The cache returned k (a hit, ERANGE, or a key in foreach). */
static void observed_present(run *r, int k, const char *how) {
  mkey *m = &r->k[k];
  EXPECT(m->state != ABSENT, "key %d returned (%s) but it was never put, or was deleted/cleared since", k, how);
  EXPECT(!expired_certain(r, m), "key %d returned (%s) %llu ms after its deadline", k, how,
         (unsigned long long)((r->clk.now_ns - m->deadline) / MS));
  m->state = PRESENT;
  m->lingering = 0;
}

/* Shard s evicted n entries we cannot name: its present keys may be gone. */
static void evicted_unknown(run *r, int s, uint64_t n) {
  r->unexplained[s] += n;
  for (uint32_t k = 0; k < r->universe; k++)
    if (r->k[k].state == PRESENT && r->k[k].shard == s) r->k[k].state = MAYBE;
}

/* ---- checks after every operation ----------------------------------------------------------- */
FZ_NO_COVERAGE static void check_objects(run *r) {
  int64_t want_value_refs = 0;
  for (uint32_t k = 0; k < r->universe; k++) {
    mkey *m = &r->k[k];
    fobj *pair[2] = {&r->kobj[k], &r->twin[k]};
    int held = 0;
    for (int i = 0; i < 2; i++) {
      EXPECT(pair[i]->cache_refs >= 0 && pair[i]->cache_refs <= 1, "key object %u holds %lld cache references", k,
             (long long)pair[i]->cache_refs);
      if (pair[i]->cache_refs) {
        EXPECT(m->state != ABSENT, "key %u is held by the cache but was deleted/cleared/never put", k);
        EXPECT(m->stored == pair[i], "key %u: the cache holds the %s object, not the one first inserted", k,
               i ? "twin" : "canonical");
        held = 1;
      }
    }
    if (!held) {
      observed_absent(r, (int)k, "its key object was released", 1);
    } else if (m->vobj) {
      EXPECT(m->vobj->cache_refs == 1, "key %u is held but its current value has %lld cache references", k,
             (long long)m->vobj->cache_refs);
      want_value_refs++;
    }
  }
  /* Only current values of held keys: a replaced, deleted or evicted value is released. */
  EXPECT(r->value_refs == want_value_refs, "the cache holds %lld value references, %lld keys hold a value",
         (long long)r->value_refs, (long long)want_value_refs);
}

/* After every operation (which has read the counters into aft/tot). */
FZ_NO_COVERAGE static void check_after(run *r) {
  const macho_counters *t = &r->tot;
  EXPECT(t->hits + t->misses == t->gets, "hits %llu + misses %llu != gets %llu", (unsigned long long)t->hits,
         (unsigned long long)t->misses, (unsigned long long)t->gets);
  EXPECT(t->requests == t->gets + t->puts, "requests != gets + puts");
  size_t len = macho_len(r->c);
  EXPECT(t->entries == len, "entries %llu, macho_len %zu", (unsigned long long)t->entries, len);
  EXPECT(len <= r->cfg.capacity_entries, "len %zu above capacity %zu", len, r->cfg.capacity_entries);
  if (r->filter == MACHO_FILTER_NONE)
    EXPECT(!t->filter_queries && !t->filter_negatives && !t->filter_false_positives, "filter counters without a filter");
  EXPECT(t->filter_negatives + t->filter_false_positives <= t->misses,
         "filter negatives %llu + false positives %llu exceed misses %llu", (unsigned long long)t->filter_negatives,
         (unsigned long long)t->filter_false_positives, (unsigned long long)t->misses);
  if (r->filter != MACHO_FILTER_NONE && !r->callback_error)
    EXPECT(t->filter_queries == t->gets, "filter queries %llu, gets %llu", (unsigned long long)t->filter_queries,
           (unsigned long long)t->gets);
  EXPECT(t->capacity_entries == r->cfg.capacity_entries && t->capacity_bytes == r->cfg.capacity_bytes,
         "capacity counters changed");
  if (r->objects) check_objects(r);
  uint64_t certain[MAXSH] = {0}, possible[MAXSH] = {0}, pay_certain[MAXSH] = {0}, pay_possible[MAXSH] = {0};
  for (uint32_t k = 0; k < r->universe; k++) {
    const mkey *m = &r->k[k];
    if (m->state == ABSENT) continue;
    int s = m->shard;
    uint64_t sz = r->objects ? 0 : key_len((int)k) + m->vlen;
    possible[s]++, pay_possible[s] += sz;
    if (m->state == PRESENT && live_certain(r, m)) certain[s]++, pay_certain[s] += sz;
  }
  for (uint32_t s = 0; s < r->nshards; s++) {
    const macho_counters *a = &r->aft[s];
    EXPECT(a->entries <= r->cap[s], "shard %u holds %llu entries, capacity %u", s, (unsigned long long)a->entries, r->cap[s]);
    if (r->budget[s])
      EXPECT(a->charged_bytes <= r->budget[s], "shard %u is charged %llu bytes, budget %llu", s,
             (unsigned long long)a->charged_bytes, (unsigned long long)r->budget[s]);
    EXPECT(certain[s] <= a->entries && a->entries <= possible[s],
           "shard %u holds %llu entries; the model says at least %llu (certainly live) and at most %llu", s,
           (unsigned long long)a->entries, (unsigned long long)certain[s], (unsigned long long)possible[s]);
    EXPECT(pay_certain[s] <= a->payload_bytes && a->payload_bytes <= pay_possible[s],
           "shard %u holds %llu payload bytes; the model says %llu..%llu", s, (unsigned long long)a->payload_bytes,
           (unsigned long long)pay_certain[s], (unsigned long long)pay_possible[s]);
    if (r->exact)
      EXPECT(certain[s] == a->entries && possible[s] == a->entries, "exact model: %llu entries, model %llu",
             (unsigned long long)a->entries, (unsigned long long)possible[s]);
  }
  if (r->exact) {
    EXPECT(t->evictions == r->m_evictions && t->expirations == r->m_expirations && t->deletes == r->m_deletes &&
               t->hits == r->m_hits && t->misses == r->m_misses && t->puts == r->m_puts,
           "exact model: counters evictions %llu/%llu expirations %llu/%llu deletes %llu/%llu hits %llu/%llu "
           "misses %llu/%llu puts %llu/%llu (cache/model)",
           (unsigned long long)t->evictions, (unsigned long long)r->m_evictions, (unsigned long long)t->expirations,
           (unsigned long long)r->m_expirations, (unsigned long long)t->deletes, (unsigned long long)r->m_deletes,
           (unsigned long long)t->hits, (unsigned long long)r->m_hits, (unsigned long long)t->misses,
           (unsigned long long)r->m_misses, (unsigned long long)t->puts, (unsigned long long)r->m_puts);
  }
#if FZ_CHECK_MEMORY_EXACT
  EXPECT(t->memory_bytes == (uint64_t)r->fa.live_bytes, "memory_bytes %llu, the allocator holds %lld",
         (unsigned long long)t->memory_bytes, (long long)r->fa.live_bytes);
#else
  EXPECT(t->memory_bytes >= t->payload_bytes, "memory_bytes below payload_bytes");
#endif
}

/* Counter deltas every operation but put and clear must respect. */
FZ_NO_COVERAGE static void check_plain_deltas(run *r) {
  for (uint32_t s = 0; s < r->nshards; s++) {
    EXPECT(D(s, evictions) == 0, "%s evicted %lld entries in shard %u", r->opname, (long long)D(s, evictions), s);
    EXPECT(D(s, puts) == 0, "%s counted a put", r->opname);
    EXPECT(D(s, expirations) >= 0 && D(s, deletes) >= 0 && D(s, gets) >= 0, "%s: a counter went backwards", r->opname);
    EXPECT(D(s, entries) == -D(s, expirations) - D(s, deletes),
           "%s in shard %u: entries moved by %lld, expirations %lld, deletes %lld", r->opname, s,
           (long long)D(s, entries), (long long)D(s, expirations), (long long)D(s, deletes));
  }
}

/* Exact mode: nothing may expire on its own (settle() reclaims at once). */
FZ_NO_COVERAGE static void check_no_expiry(run *r) {
  if (!r->exact) return;
  for (uint32_t s = 0; s < r->nshards; s++)
    EXPECT(D(s, expirations) == 0, "exact model: %s expired %lld entries, none was due", r->opname,
           (long long)D(s, expirations));
}

/* ---- operations ---------------------------------------------------------------------------- */
typedef struct op_ctx {
  run *r;
  fz_in *in;
} op_ctx;

static int pick_key(run *r, fz_in *in) { return (int)(fz_u8(in) % r->universe); }

/* The object to pass for key k: the canonical one or its twin (equal, other pointer). */
static fobj *probe_obj(run *r, int k, int twin) {
  r->probe_k = k, r->probe_twin = twin;
  return twin ? &r->twin[k] : &r->kobj[k];
}

/* Could an object-mode call on key k meet equal()? (Twin, or a colliding partner held.) */
static int equal_possible(run *r, int k, int twin) {
  if (twin) return 1;
  if (!r->weak_hash) return r->k[k].stored && r->k[k].stored != &r->kobj[k];
  int partner = k ^ 1;
  return (partner < (int)r->universe && r->k[partner].state != ABSENT) ||
         (r->k[k].stored && r->k[k].stored != &r->kobj[k]);
}

/* Arm the object callbacks to fail from the op's flag byte. Whether the
 * call then reports ECALLBACK is checked after every step (cb_failed). */
static void arm_callbacks(run *r, uint8_t flags) {
  if (!r->objects) return;
  r->hash_fail = (flags & 0x30) == 0x30;
  r->equal_fail = !r->hash_fail && (flags & 0x30) == 0x20 && (flags & 0x40);
}
static void disarm_callbacks(run *r) { r->hash_fail = r->equal_fail = 0; }

/* Invariant model, after shard s evicted: peek at each key of s that may be
 * gone, so that the victims are named (a peek changes no counter and no
 * recency; it may reclaim an expired entry, so the counters are read again).
 * When no key of s can be expired, the keys found gone must be exactly the
 * evictions. */
static void identify_victims(run *r, int s, int except) {
  int ambiguous = 0;

  for (uint32_t x = 0; x < r->universe; x++) {
    mkey *m = &r->k[x];
    if ((int)x == except || m->state == ABSENT || m->shard != s) continue;
    if (!live_certain(r, m)) ambiguous = 1;
    if (m->state != MAYBE) continue;
    size_t xl;
    const uint8_t *xb = key_bytes((int)x, &xl);
    fz_lib_enter();
    int rc = r->objects ? macho_obj_contains(r->c, &r->kobj[x]) : macho_contains(r->c, xb, xl);
    fz_lib_leave();
    if (rc == MACHO_OK) observed_present(r, (int)x, "a peek after an eviction");
    else if (rc == MACHO_ENOTFOUND) observed_absent(r, (int)x, "a peek after an eviction", 0);
    else DIVERGE("contains returned %d (%s)", rc, macho_status_name(rc));
  }
  /* Evictions not matched to a live key that vanished must be matched by keys
   * that vanished past their deadline (evicted or expired: either is fine). */
  if (!ambiguous) {
    EXPECT(r->unexplained[s] <= r->ambiguous_gone[s],
           "shard %d counted %llu evictions that no vanished key accounts for", s,
           (unsigned long long)(r->unexplained[s] - r->ambiguous_gone[s]));
    r->unexplained[s] = r->ambiguous_gone[s] = 0;
  }
  read_counters(r, r->aft);
}

/* A put (ttl < 0: the default TTL). */
static void do_put(run *r, fz_in *in, int with_ttl) {
  int k = pick_key(r, in);
  uint8_t flags = fz_u8(in);
  mkey *m = &r->k[k];
  double ttl = -1;
  uint64_t ttl_ns = r->cfg.ttl_seconds ? (uint64_t)llround(r->cfg.ttl_seconds * 1000) * MS : 0;
  if (with_ttl) {
    uint8_t t = fz_u8(in);
    switch (t % 8) {
    case 0: ttl = 0, ttl_ns = 0; break;
    case 1: ttl = INFINITY, ttl_ns = 0; break;
    case 2: ttl = 1e6, ttl_ns = 1000000ull * 1000 * MS; break;
    default: {
      uint32_t ms = 1 + (t >> 3) * (t % 8 == 7 ? 97u : 3u);
      ttl = ms / 1000.0, ttl_ns = (uint64_t)ms * MS;
      break;
    }
    }
  }
  int twin = r->objects && (flags & 0x80);
  arm_callbacks(r, flags);
  int rc;
  uint32_t vlen = 0;
  fobj *v = NULL;
  uint32_t ver = ++r->ver;
  r->put_calls++;
  fz_lib_enter();
  if (r->objects) {
    v = (flags & 0x0f) == 0x0f ? NULL : new_value(r);
    fobj *key = probe_obj(r, k, twin);
    rc = with_ttl ? macho_obj_put_ttl(r->c, key, v, ttl) : macho_obj_put(r->c, key, v);
  } else {
    vlen = VLENS[(flags & 0x7f) % (sizeof VLENS / sizeof VLENS[0])];
    size_t klen;
    const uint8_t *key = key_bytes(k, &klen);
    const uint8_t *val = val_bytes(k, ver, vlen);
    rc = with_ttl ? macho_put_ttl(r->c, key, klen, val, vlen, ttl) : macho_put(r->c, key, klen, val, vlen);
  }
  disarm_callbacks(r);
  /* A put that succeeds leaves its key present (a peek: no counters, no
   * recency; its re-entrant callbacks count with the put). */
  int present_after = MACHO_OK;
  if (rc == MACHO_OK) {
    size_t pl;
    const uint8_t *pk = key_bytes(k, &pl);
    present_after = r->objects ? macho_obj_contains(r->c, &r->kobj[k]) : macho_contains(r->c, pk, pl);
  }
  fz_lib_leave();
  note(r, k, rc, vlen, ttl_ns / MS);
  read_counters(r, r->aft);

  /* What the budget charges the entry (macho.h: MACHO_ENTRY_OVERHEAD). */
  size_t bytes = r->objects ? 0 : (size_t)macho_entry_charge(key_len(k), vlen);
  int s = SHARD_MOVED(puts);
  if (rc != MACHO_OK) {
    EXPECT(s < 0, "a failed put counted a put");
    if (rc == MACHO_ENOMEM) {
      EXPECT(r->fa.failures > 0, "put: ENOMEM though no allocation failed");
      r->alloc_failed = 1;
    } else if (rc == MACHO_ETOOBIG) {
      EXPECT(!r->objects && r->cfg.capacity_bytes, "ETOOBIG without a byte budget");
      uint64_t lo = r->budget[r->nshards - 1]; /* the smallest: the remainder goes to the first shards */
      if (m->shard >= 0) lo = r->budget[m->shard];
      EXPECT(bytes > lo, "ETOOBIG for %zu bytes, budget %llu", bytes, (unsigned long long)lo);
    } else if (rc != MACHO_ECALLBACK) {
      DIVERGE("put returned %d (%s)", rc, macho_status_name(rc));
    }
    if (rc != MACHO_ETOOBIG && r->budget[0] && !r->objects)
      EXPECT(bytes <= r->budget[0], "a put of %zu bytes, above every shard's budget, returned %s", bytes,
             macho_status_name(rc));
    if (r->objects && v) v->dead = v->cache_refs == 0; /* never stored */
    if (r->objects) EXPECT(!v || v->cache_refs == 0, "a failed put kept a reference to its value");
    check_plain_deltas(r);
    check_no_expiry(r);
    return;
  }
  EXPECT(s >= 0, "a put succeeded but no shard counted it");
  learn_shard(r, k, s);
  if (r->budget[0] && !r->objects) EXPECT(bytes <= r->budget[s], "put of %zu bytes accepted, shard budget %llu", bytes,
                                          (unsigned long long)r->budget[s]);
  /* A put works in one shard (a re-entrant peek from equal() may reclaim expired entries elsewhere). */
  for (uint32_t o = 0; o < r->nshards; o++) {
    if ((int)o == s) continue;
    EXPECT(D(o, entries) == -D(o, expirations) && D(o, evictions) == 0 && (r->reenter || D(o, expirations) == 0),
           "a put in shard %d changed shard %u", s, o);
  }
  int64_t ev = D(s, evictions), ex = D(s, expirations);
  int64_t inserted = D(s, entries) + ev + ex;
  EXPECT(inserted == 0 || inserted == 1, "put: entries %lld, evictions %lld, expirations %lld do not add up",
         (long long)D(s, entries), (long long)ev, (long long)ex);
  EXPECT(ev >= 0 && ex >= 0, "put: a counter went backwards");
  int was_certain = m->state == PRESENT && live_certain(r, m);
  if (was_certain) EXPECT(inserted == 0, "put on a present, live key %d inserted a new entry", k);
  if (m->state == ABSENT) EXPECT(inserted == 1, "put on an absent key %d did not insert", k);
  if (!r->budget[s]) {
    EXPECT(ev <= 1, "put evicted %lld entries without a byte budget", (long long)ev);
    if (ev) EXPECT(inserted && r->bef[s].entries >= r->cap[s], "put evicted from shard %d, which had room (%llu of %u)",
                   s, (unsigned long long)r->bef[s].entries, r->cap[s]);
  } else if (ev) {
    EXPECT(r->bef[s].entries >= r->cap[s] || r->bef[s].charged_bytes + bytes > r->budget[s],
           "put evicted %lld from shard %d which had room for %zu bytes", (long long)ev, s, bytes);
  }

  if (r->exact) {
    /* Predict: a present key is replaced (hit), an absent one inserted. */
    r->m_puts++;
    uint64_t payload = r->bef[s].charged_bytes; /* what the budget counts */
    int victims[MAXCAP + 1];
    int nvict = 0;
    if (m->state == PRESENT) {
      /* Room first (the budget holds at every instant): the key leaves the
       * policy while others go and comes back as newly inserted; then the
       * replace counts as its hit. */
      payload = payload - macho_entry_charge(key_len(k), m->vlen) + bytes;
      if (r->budget[s] && payload > r->budget[s]) {
        ref_remove(&r->r, k);
        while (payload > r->budget[s]) {
          int x = ref_victim(&r->r);
          victims[nvict++] = x;
          payload -= macho_entry_charge(key_len(x), r->k[x].vlen);
        }
        ref_insert(&r->r, k);
      }
      ref_hit(&r->r, k);
    } else {
      uint32_t len = (uint32_t)r->bef[s].entries;
      while (len >= r->cap[s]) {
        int x = ref_victim(&r->r);
        victims[nvict++] = x;
        len--;
        payload -= r->objects ? 0 : macho_entry_charge(key_len(x), r->k[x].vlen);
      }
      while (r->budget[s] && payload + bytes > r->budget[s]) {
        int x = ref_victim(&r->r);
        victims[nvict++] = x;
        payload -= macho_entry_charge(key_len(x), r->k[x].vlen);
      }
      ref_insert(&r->r, k);
    }
    EXPECT(ex == 0, "exact model: put expired %lld entries, none was due", (long long)ex);
    EXPECT(inserted == (m->state != PRESENT), "exact model: put %s", inserted ? "inserted a present key" : "did not insert");
    EXPECT(ev == nvict, "exact model: put evicted %lld entries, the %s reference %d", (long long)ev,
           macho_policy_name(r->policy), nvict);
    for (int i = 0; i < nvict; i++) {
      int x = victims[i];
      lifespan(r, x, MACHO_REMOVED_EVICTED);
      set_absent(r, x);
      r->m_evictions++;
    }
    m->state = PRESENT;
    for (int i = 0; i < nvict; i++) {
      int x = victims[i];
      size_t xl;
      const uint8_t *xb = key_bytes(x, &xl);
      int crc = r->objects ? macho_obj_contains(r->c, &r->kobj[x]) : macho_contains(r->c, xb, xl);
      EXPECT(crc == MACHO_ENOTFOUND, "exact model: the %s reference evicted key %d, the cache kept it (%s)",
             macho_policy_name(r->policy), x, macho_status_name(crc));
    }
  } else {
    if (inserted && m->state == MAYBE && live_certain(r, m)) {
      EXPECT(r->unexplained[s] > 0, "key %d was gone before this put; no eviction in shard %d explains it", k, s);
      r->unexplained[s]--;
    }
    if (ev) evicted_unknown(r, s, (uint64_t)ev);
    if (ex) {
      /* Expired entries are only those past their deadline: lazily reclaimed. */
      uint64_t due = 0;
      for (uint32_t x = 0; x < r->universe; x++)
        if (r->k[x].state != ABSENT && r->k[x].shard == s && r->k[x].deadline && r->clk.now_ns >= r->k[x].deadline) due++;
      EXPECT((uint64_t)ex <= due, "put expired %lld entries in shard %d; only %llu were due", (long long)ex, s,
             (unsigned long long)due);
    }
  }
  /* The key now holds the new value, deadline as put. */
  if (inserted || (FZ_LIFESPAN_TTL_RESTARTS && (ttl_ns || m->deadline))) m->born = r->clk.now_ns;
  if (r->objects) {
    if (inserted) m->stored = probe_obj(r, k, twin);
    if (m->vobj != v) drop_value(m->vobj);
    m->vobj = v;
  }
  m->state = PRESENT;
  m->lingering = 0;
  m->ver = ver;
  m->vlen = vlen;
  m->deadline = ttl_ns ? r->clk.now_ns + ttl_ns : 0;
  m->hw = r->clk.now_ns;
  EXPECT(present_after == MACHO_OK, "key %d not present right after a successful put (%s)", k,
         macho_status_name(present_after));
  if (!r->exact && r->observe && ev) identify_victims(r, s, k);
}

static void op_put(op_ctx *x) { do_put(x->r, x->in, 0); }
static void op_put_ttl(op_ctx *x) { do_put(x->r, x->in, 1); }

/* get (and, in bytes mode, the ERANGE path with short buffers). */
#define GETBUF 8192
static uint8_t getbuf[GETBUF];
static void op_get(op_ctx *x) {
  run *r = x->r;
  int k = pick_key(r, x->in);
  uint8_t flags = fz_u8(x->in);
  mkey *m = &r->k[k];
  int twin = r->objects && (flags & 0x80);
  arm_callbacks(r, flags);
  int rc;
  size_t vlen = (size_t)-1, buflen = 0;
  void *vout = (void *)1;
  r->get_calls++;
  fz_lib_enter();
  if (r->objects) {
    rc = macho_obj_get(r->c, probe_obj(r, k, twin), &vout);
  } else {
    switch (flags & 3) {
    case 0: buflen = m->vlen; break;           /* exact */
    case 1: buflen = GETBUF; break;            /* roomy */
    case 2: buflen = m->vlen ? m->vlen - 1 : 0; break; /* one short */
    default: buflen = flags & 4 ? 0 : 8; break;
    }
    size_t klen;
    const uint8_t *kb = key_bytes(k, &klen);
    rc = macho_get(r->c, kb, klen, buflen ? getbuf + GETBUF - buflen : NULL, buflen, flags & 8 ? NULL : &vlen);
  }
  fz_lib_leave();
  disarm_callbacks(r);
  note(r, k, rc, buflen, 0);
  read_counters(r, r->aft);
  check_plain_deltas(r);
  check_no_expiry(r);
  int s = SHARD_MOVED(gets);
  if (rc == MACHO_OK || rc == MACHO_ENOTFOUND) {
    EXPECT(s >= 0, "a get was not counted");
    learn_shard(r, k, s);
    EXPECT(D(s, hits) == (rc == MACHO_OK) && D(s, misses) == (rc != MACHO_OK), "get: hits/misses moved wrongly");
  } else {
    EXPECT(s < 0, "get returning %s counted a get", macho_status_name(rc));
  }
  if (rc == MACHO_OK) {
    observed_present(r, k, "get");
    if (r->objects) {
      EXPECT(vout == m->vobj, "obj_get returned value %p, the last put stored %p", vout, (void *)m->vobj);
      if (vout) {
        fobj *v = as_obj(vout, "obj_get's value");
        EXPECT(v->cache_refs == 2, "obj_get returned a value without a reference for the caller");
        cb_release(r, v); /* our reference, as a caller would */
      }
    } else {
      if (!(flags & 8)) EXPECT(vlen == m->vlen, "get: value of %zu bytes, the last put stored %u", vlen, m->vlen);
      const uint8_t *got = getbuf + GETBUF - buflen;
      for (uint32_t i = 0; i < m->vlen; i++)
        EXPECT(got[i] == val_byte(k, m->ver, i), "get: byte %u of key %d's value differs from the last put", i, k);
    }
    if (r->exact) {
      ref_hit(&r->r, k);
      r->m_hits++;
    }
  } else if (rc == MACHO_ENOTFOUND) {
    observed_absent(r, k, "get", 0);
    if (r->exact) {
      ref_miss(&r->r, k);
      r->m_misses++;
    }
  } else if (rc == MACHO_ERANGE) {
    EXPECT(!r->objects && buflen < m->vlen, "ERANGE with a buffer of %zu for a value of %u", buflen, m->vlen);
    observed_present(r, k, "get (ERANGE)");
    if (!(flags & 8)) EXPECT(vlen == m->vlen, "ERANGE: needed size %zu, the value has %u", vlen, m->vlen);
    for (uint32_t s2 = 0; s2 < r->nshards; s2++)
      EXPECT(D(s2, filter_queries) == 0 && D(s2, hits) == 0 && D(s2, misses) == 0, "ERANGE counted something");
  } else if (rc != MACHO_ECALLBACK) {
    DIVERGE("get returned %d (%s)", rc, macho_status_name(rc));
  }
}

static void op_contains(op_ctx *x) {
  run *r = x->r;
  int k = pick_key(r, x->in);
  uint8_t flags = fz_u8(x->in);
  int twin = r->objects && (flags & 0x80);
  arm_callbacks(r, flags);
  size_t klen;
  const uint8_t *kb = key_bytes(k, &klen);
  fz_lib_enter();
  int rc = r->objects ? macho_obj_contains(r->c, probe_obj(r, k, twin)) : macho_contains(r->c, kb, klen);
  fz_lib_leave();
  disarm_callbacks(r);
  note(r, k, rc, 0, 0);
  read_counters(r, r->aft);
  check_plain_deltas(r);
  check_no_expiry(r);
  for (uint32_t s = 0; s < r->nshards; s++)
    EXPECT(D(s, gets) == 0 && D(s, hits) == 0 && D(s, misses) == 0 && D(s, deletes) == 0 && D(s, filter_queries) == 0,
           "contains counted something (it is a peek)");
  if (rc == MACHO_OK) observed_present(r, k, "contains");
  else if (rc == MACHO_ENOTFOUND) observed_absent(r, k, "contains", 0);
  else if (rc != MACHO_ECALLBACK) DIVERGE("contains returned %d (%s)", rc, macho_status_name(rc));
}

static void op_delete(op_ctx *x) {
  run *r = x->r;
  int k = pick_key(r, x->in);
  uint8_t flags = fz_u8(x->in);
  int twin = r->objects && (flags & 0x80);
  arm_callbacks(r, flags);
  size_t klen;
  const uint8_t *kb = key_bytes(k, &klen);
  fz_lib_enter();
  int rc = r->objects ? macho_obj_delete(r->c, probe_obj(r, k, twin)) : macho_delete(r->c, kb, klen);
  fz_lib_leave();
  disarm_callbacks(r);
  note(r, k, rc, 0, 0);
  read_counters(r, r->aft);
  check_plain_deltas(r);
  check_no_expiry(r);
  int s = SHARD_MOVED(deletes);
  if (rc == MACHO_OK) {
    EXPECT(s >= 0, "a delete was not counted");
    learn_shard(r, k, s);
    observed_present(r, k, "delete");
    if (r->exact) {
      ref_remove(&r->r, k);
      lifespan(r, k, MACHO_REMOVED_DELETED);
      r->m_deletes++;
    }
    set_absent(r, k);
  } else if (rc == MACHO_ENOTFOUND) {
    EXPECT(s < 0, "a delete of an absent key was counted");
    observed_absent(r, k, "delete", 0);
  } else if (rc == MACHO_ECALLBACK) {
    EXPECT(s < 0, "delete: ECALLBACK counted a delete");
  } else {
    DIVERGE("delete returned %d (%s)", rc, macho_status_name(rc));
  }
}

static void op_clear(op_ctx *x) {
  run *r = x->r;
  (void)x->in;
  uint64_t before = r->tot.entries;
  fz_lib_enter();
  int rc = macho_clear(r->c);
  fz_lib_leave();
  note(r, -1, rc, before, 0);
  read_counters(r, r->aft);
  for (uint32_t s = 0; s < r->nshards; s++)
    EXPECT(D(s, evictions) == 0 && D(s, deletes) == 0 && D(s, puts) == 0, "clear moved a counter");
  if (rc == MACHO_ENOMEM) {
    EXPECT(r->fa.failures > 0 && r->objects, "clear: ENOMEM (bytes mode, or no allocation failed)");
    r->alloc_failed = 1;
    for (uint32_t s = 0; s < r->nshards; s++)
      EXPECT(D(s, entries) == -D(s, expirations), "clear failed with ENOMEM but changed the cache");
    return;
  }
  EXPECT(rc == MACHO_OK, "clear returned %d (%s)", rc, macho_status_name(rc));
  EXPECT(r->tot.entries == 0 && r->tot.payload_bytes == 0, "clear left %llu entries", (unsigned long long)r->tot.entries);
  uint64_t exp = 0;
  for (uint32_t s = 0; s < r->nshards; s++) exp += (uint64_t)D(s, expirations);
  r->cleared += before - exp;
  for (uint32_t k = 0; k < r->universe; k++) {
    if (r->exact && r->k[k].state != ABSENT) lifespan(r, (int)k, MACHO_REMOVED_CLEARED);
    set_absent(r, (int)k);
  }
  for (uint32_t s = 0; s < r->nshards; s++) r->unexplained[s] = r->ambiguous_gone[s] = 0;
  if (r->exact) ref_init(&r->r, r->policy, r->cap[0]);
  check_no_expiry(r);
}

/* The clock read now_ns: every key has seen it. */
FZ_NO_COVERAGE static void update_hw(run *r) {
  for (uint32_t k = 0; k < r->universe; k++)
    if (r->k[k].hw < r->clk.now_ns) r->k[k].hw = r->clk.now_ns;
}

/* exact mode: after a clock move, step past every key's 1 ms window and reclaim what expired. */
static void settle(run *r) {
  for (int moved = 1; moved;) {
    moved = 0;
    for (uint32_t k = 0; k < r->universe; k++) {
      const mkey *m = &r->k[k];
      if (m->state != ABSENT && m->deadline && !live_certain(r, m) && !expired_certain(r, m)) {
        r->clk.now_ns += MS;
        update_hw(r);
        moved = 1;
      }
    }
  }
  int due = 0;
  for (uint32_t k = 0; k < r->universe; k++)
    if (r->k[k].state != ABSENT && expired_certain(r, &r->k[k])) due++;
  if (!due) return;
  size_t reclaimed = 0;
  fz_lib_enter();
  int rc = macho_expire(r->c, &reclaimed);
  fz_lib_leave();
  EXPECT(rc == MACHO_OK, "expire returned %d", rc);
  EXPECT(reclaimed == (size_t)due, "exact model: expire reclaimed %zu entries, %d were past their deadline", reclaimed, due);
  for (uint32_t k = 0; k < r->universe; k++) {
    if (r->k[k].state == ABSENT || !expired_certain(r, &r->k[k])) continue;
    ref_remove(&r->r, (int)k);
    lifespan(r, (int)k, MACHO_REMOVED_EXPIRED);
    set_absent(r, (int)k);
    r->m_expirations++;
  }
}

static void op_advance(op_ctx *x) {
  run *r = x->r;
  uint8_t b = fz_u8(x->in);
  static const uint32_t steps_ms[16] = {1, 1, 2, 3, 5, 10, 17, 50, 100, 250, 500, 1000, 2000, 10000, 60000, 3600000};
  uint64_t d = (uint64_t)steps_ms[b & 15] * MS;
  if ((b & 0xf0) == 0xf0) { /* backwards, never before the time the cache opened */
    r->clk.now_ns = r->clk.now_ns - r->t0 > d ? r->clk.now_ns - d : r->t0;
  } else {
    r->clk.now_ns += d;
  }
  note(r, -1, 0, d / MS, (b & 0xf0) == 0xf0);
  update_hw(r);
  if (r->exact) {
    read_counters(r, r->bef);
    settle(r);
  }
  read_counters(r, r->aft);
  check_plain_deltas(r);
}

static void op_expire(op_ctx *x) {
  run *r = x->r;
  (void)x->in;
  size_t reclaimed = (size_t)-1;
  fz_lib_enter();
  int rc = macho_expire(r->c, (r->step & 1) ? &reclaimed : NULL);
  fz_lib_leave();
  note(r, -1, rc, reclaimed, 0);
  EXPECT(rc == MACHO_OK, "expire returned %d (%s)", rc, macho_status_name(rc));
  read_counters(r, r->aft);
  check_plain_deltas(r);
  check_no_expiry(r);
  int64_t exp = 0;
  for (uint32_t s = 0; s < r->nshards; s++) exp += D(s, expirations);
  if (r->step & 1) EXPECT((int64_t)reclaimed == exp, "expire reclaimed %zu, expirations moved by %lld", reclaimed, (long long)exp);
  /* Everything past its deadline (+1 ms) is gone now. */
  for (uint32_t k = 0; k < r->universe; k++)
    if (r->k[k].state != ABSENT && expired_certain(r, &r->k[k])) set_absent(r, (int)k);
}

typedef struct fe_ctx {
  run *r;
  size_t seen, stop_after;
  uint8_t seen_key[MAXKEYS];
} fe_ctx;

static int fe_key(void *ctx, const void *key, size_t klen) {
  fe_ctx *f = ctx;
  run *r = f->r;
  int k;
  if (r->objects) {
    EXPECT(klen == 0, "foreach_key: object mode with klen %zu", klen);
    fobj *o = as_obj(key, "foreach_key");
    EXPECT(o->key >= 0 && o->cache_refs >= 1, "foreach_key: a key object the cache does not hold");
    k = o->key;
    EXPECT(r->k[k].stored == o, "foreach_key: key %d given as the wrong object", k);
  } else {
    k = key_of(key, klen);
    EXPECT(k >= 0, "foreach_key: bytes that are none of our keys (%zu bytes)", klen);
  }
  EXPECT(!f->seen_key[k], "foreach_key: key %d twice", k);
  f->seen_key[k] = 1;
  /* fn may use the cache (macho.h): peek at the key. */
  if (r->reenter) {
    int rc = r->objects ? macho_obj_contains(r->c, key) : macho_contains(r->c, key, klen);
    EXPECT(rc == MACHO_OK || rc == MACHO_ENOTFOUND, "contains inside foreach_key returned %d", rc);
  }
  return ++f->seen > f->stop_after ? 9 : 0;
}

static void op_foreach(op_ctx *x) {
  run *r = x->r;
  uint8_t b = fz_u8(x->in);
  static fe_ctx f;
  memset(&f, 0, sizeof f);
  f.r = r;
  f.stop_after = (b & 0x80) ? (size_t)(b & 0x3f) : SIZE_MAX;
  fz_lib_enter();
  int rc = macho_foreach_key(r->c, fe_key, &f);
  fz_lib_leave();
  note(r, -1, rc, f.seen, f.stop_after);
  read_counters(r, r->aft);
  if (r->reenter) { /* the peeks may reclaim expired keys */
    for (uint32_t s = 0; s < r->nshards; s++)
      EXPECT(D(s, entries) == -D(s, expirations) && D(s, evictions) == 0, "foreach_key changed the cache");
  } else {
    for (uint32_t s = 0; s < r->nshards; s++)
      EXPECT(D(s, entries) == 0 && D(s, expirations) == 0, "foreach_key changed the cache");
  }
  if (rc == MACHO_ENOMEM) {
    EXPECT(r->fa.failures > 0, "foreach_key: ENOMEM though no allocation failed");
    r->alloc_failed = 1;
    return;
  }
  if (f.seen > f.stop_after) {
    EXPECT(rc == 9 && f.seen == f.stop_after + 1, "foreach_key went on after the callback said stop (%d)", rc);
    for (uint32_t k = 0; k < r->universe; k++)
      if (f.seen_key[k]) observed_present(r, (int)k, "foreach_key");
    return;
  }
  EXPECT(rc == MACHO_OK, "foreach_key returned %d (%s)", rc, macho_status_name(rc));
  /* A full pass: every key seen is held and live, every live key held was seen. */
  for (uint32_t k = 0; k < r->universe; k++) {
    if (f.seen_key[k]) observed_present(r, (int)k, "foreach_key");
    else if (live_certain(r, &r->k[k])) observed_absent(r, (int)k, "foreach_key", 0);
  }
  EXPECT(f.seen <= r->tot.entries, "foreach_key saw %zu keys, the cache holds %llu", f.seen,
         (unsigned long long)r->tot.entries);
}

static void op_len(op_ctx *x) {
  run *r = x->r;
  (void)x->in;
  size_t n = macho_len(r->c);
  note(r, -1, 0, n, 0);
  EXPECT(macho_len(NULL) == 0 && macho_shard_count(NULL) == 0, "len/shard_count of NULL");
  EXPECT(macho_shard_count(r->c) == r->nshards, "shard count changed");
  read_counters(r, r->aft);
  check_plain_deltas(r);
}

static void op_counters(op_ctx *x) {
  run *r = x->r;
  (void)x->in;
  macho_counters ct;
  int a = macho_counters_get(r->c, (int)r->nshards, &ct), b = macho_counters_get(r->c, -2, &ct),
      c = macho_counters_get(r->c, 0, NULL), d = macho_counters_get(NULL, -1, &ct);
  note(r, -1, a, 0, 0);
  EXPECT(a == MACHO_EINVAL && b == MACHO_EINVAL && c == MACHO_EINVAL && d == MACHO_EINVAL,
         "counters_get accepted a bad shard, NULL out or NULL cache");
  read_counters(r, r->aft);
  check_plain_deltas(r);
}

FZ_NO_COVERAGE static int same_counters(const macho_counters *a, const macho_counters *b) {
  return a->hits == b->hits && a->misses == b->misses && a->gets == b->gets && a->puts == b->puts &&
         a->deletes == b->deletes && a->requests == b->requests && a->evictions == b->evictions &&
         a->expirations == b->expirations && a->entries == b->entries && a->payload_bytes == b->payload_bytes &&
         a->capacity_entries == b->capacity_entries && a->capacity_bytes == b->capacity_bytes &&
         a->filter_queries == b->filter_queries && a->filter_negatives == b->filter_negatives &&
         a->filter_false_positives == b->filter_false_positives;
}

FZ_NO_COVERAGE static void check_dist(run *r, const macho_distribution *d, const char *what) {
  (void)r;
  if (!d->count) {
    EXPECT(!d->min && !d->max && !d->sum && !d->nbuckets && !d->p50, "%s: empty but not zero", what);
    return;
  }
  EXPECT(d->min <= d->max, "%s: min above max", what);
  EXPECT(d->p50 <= d->p90 && d->p90 <= d->p99 && d->p99 <= d->p999, "%s: percentiles out of order", what);
  EXPECT(d->p50 + 1 >= d->min - d->min / 64 && d->p999 <= d->max + d->max / 64 + 1, "%s: percentiles outside min..max", what);
  uint64_t n = 0;
  for (uint32_t i = 0; i < d->nbuckets; i++) {
    EXPECT(d->buckets[i].lo <= d->buckets[i].hi && d->buckets[i].count, "%s: bad bucket", what);
    if (i) EXPECT(d->buckets[i - 1].hi < d->buckets[i].lo, "%s: buckets not ascending", what);
    n += d->buckets[i].count;
  }
  EXPECT(n == d->count, "%s: buckets hold %llu values, count %llu", what, (unsigned long long)n,
         (unsigned long long)d->count);
  EXPECT(macho_distribution_quantile(d, 0) <= macho_distribution_quantile(d, 1), "%s: quantile(0) > quantile(1)", what);
}

static void op_stats(op_ctx *x) {
  run *r = x->r;
  uint8_t b = fz_u8(x->in);
  /* A snapshot merges ~15k buckets per shard: 25x an average step, so 3 in 4 are skipped. */
  if (b & 0x60) return;
  int shard = (b & 1) ? -1 : (int)((b >> 1) % r->nshards);
  macho_stats *st = NULL;
  fz_lib_enter();
  int rc = macho_stats_get(r->c, shard, &st);
  fz_lib_leave();
  note(r, -1, rc, (uint64_t)(shard + 1), 0);
  read_counters(r, r->aft);
  check_plain_deltas(r);
  if (rc == MACHO_ENOMEM) {
    EXPECT(r->fa.failures > 0 && st == NULL, "stats_get: ENOMEM though no allocation failed, or a snapshot left");
    r->alloc_failed = 1;
    return;
  }
  EXPECT(rc == MACHO_OK && st, "stats_get returned %d (%s)", rc, macho_status_name(rc));
  EXPECT(st->version == MACHO_STATS_VERSION && st->shard == shard && st->shards == r->nshards &&
             st->metrics == r->cfg.metrics && st->now_ns == r->clk.now_ns,
         "stats header: version %u shard %d shards %u metrics %d now %llu", st->version, st->shard, st->shards,
         st->metrics, (unsigned long long)st->now_ns);
  const macho_counters *want = shard < 0 ? &r->tot : &r->aft[shard];
  EXPECT(same_counters(&st->counters, want), "stats counters differ from counters_get");
  EXPECT(st->nwindow <= MACHO_STATS_WINDOW_SECONDS, "stats window of %u seconds", st->nwindow);
  check_dist(r, &st->get_latency_ns, "get latency");
  check_dist(r, &st->put_latency_ns, "put latency");
  for (int i = 0; i < MACHO_REMOVED_COUNT; i++) check_dist(r, &st->lifespan_ns[i], "lifespan");
  EXPECT(st->lifespan_ns[MACHO_REMOVED_REPLACED].count == 0, "lifespans of replaced values recorded");
  if (r->cfg.metrics == 0) {
    EXPECT(st->latency_sample_every == 0 && !st->get_latency_ns.count && !st->put_latency_ns.count &&
               !st->lifespan_ns[MACHO_REMOVED_EVICTED].count,
           "metrics off but distributions filled");
  } else if (shard < 0 && !r->alloc_failed) {
    /* Every removal is counted once, under its reason. */
    const macho_counters *t = &r->tot;
    EXPECT(st->lifespan_ns[MACHO_REMOVED_EVICTED].count == t->evictions &&
               st->lifespan_ns[MACHO_REMOVED_EXPIRED].count == t->expirations &&
               st->lifespan_ns[MACHO_REMOVED_DELETED].count == t->deletes,
           "lifespans: evicted %llu/%llu expired %llu/%llu deleted %llu/%llu (histogram/counter)",
           (unsigned long long)st->lifespan_ns[MACHO_REMOVED_EVICTED].count, (unsigned long long)t->evictions,
           (unsigned long long)st->lifespan_ns[MACHO_REMOVED_EXPIRED].count, (unsigned long long)t->expirations,
           (unsigned long long)st->lifespan_ns[MACHO_REMOVED_DELETED].count, (unsigned long long)t->deletes);
    EXPECT(st->lifespan_ns[MACHO_REMOVED_CLEARED].count == r->cleared, "lifespans: %llu cleared, the model counts %llu",
           (unsigned long long)st->lifespan_ns[MACHO_REMOVED_CLEARED].count, (unsigned long long)r->cleared);
    /* Exact model: every lifespan is known (min, max and sum are exact, macho.h). */
    for (int why = 0; r->exact && why < MACHO_REMOVED_COUNT; why++) {
      const macho_distribution *d = &st->lifespan_ns[why];
      EXPECT(d->count == r->life[why].count && d->sum == r->life[why].sum && d->min == r->life[why].min &&
                 d->max == r->life[why].max,
             "exact model: lifespans of reason %d: count %llu/%llu sum %llu/%llu min %llu/%llu max %llu/%llu "
             "(cache/model)", why, (unsigned long long)d->count, (unsigned long long)r->life[why].count,
             (unsigned long long)d->sum, (unsigned long long)r->life[why].sum, (unsigned long long)d->min,
             (unsigned long long)r->life[why].min, (unsigned long long)d->max, (unsigned long long)r->life[why].max);
    }
    if (r->cfg.metrics == 2) {
      EXPECT(st->latency_sample_every == 1, "metrics 2 samples 1 in %u", st->latency_sample_every);
      EXPECT(st->get_latency_ns.count >= t->gets && st->get_latency_ns.count <= r->get_calls,
             "metrics 2: %llu get latencies for %llu gets (%llu calls)", (unsigned long long)st->get_latency_ns.count,
             (unsigned long long)t->gets, (unsigned long long)r->get_calls);
      EXPECT(st->put_latency_ns.count >= t->puts && st->put_latency_ns.count <= r->put_calls,
             "metrics 2: %llu put latencies for %llu puts", (unsigned long long)st->put_latency_ns.count,
             (unsigned long long)t->puts);
    }
  }
  fz_lib_enter();
  macho_stats_free(st);
  fz_lib_leave();
}

static void op_reset(op_ctx *x) {
  run *r = x->r;
  (void)x->in;
  fz_lib_enter();
  int rc = macho_stats_reset(r->c);
  fz_lib_leave();
  note(r, -1, rc, 0, 0);
  EXPECT(rc == MACHO_OK, "stats_reset returned %d", rc);
  read_counters(r, r->aft);
  const macho_counters *t = &r->tot;
  EXPECT(!t->hits && !t->misses && !t->gets && !t->puts && !t->deletes && !t->evictions && !t->expirations &&
             !t->filter_queries && !t->filter_negatives && !t->filter_false_positives && !t->requests,
         "stats_reset left counters");
  for (uint32_t s = 0; s < r->nshards; s++)
    EXPECT(r->aft[s].entries == r->bef[s].entries && r->aft[s].payload_bytes == r->bef[s].payload_bytes,
           "stats_reset changed the entries");
  r->m_evictions = r->m_expirations = r->m_deletes = r->m_hits = r->m_misses = r->m_puts = 0;
  r->cleared = 0;
  memset(r->life, 0, sizeof r->life);
  r->callback_error = 0; /* alloc_failed stays: see its comment */
  r->get_calls = r->put_calls = 0;
}

/* Arm the allocator to fail one of the next few allocations (ENOMEM must be
 * clean wherever it lands, and calls that cannot fail must absorb it). */
static void op_fail_alloc(op_ctx *x) {
  run *r = x->r;
  uint8_t b = fz_u8(x->in);
  r->fa.fail_at = r->fa.calls + 1 + (b % 8);
  r->fa.fail_after = (b & 0x80) && (b & 0x40); /* sometimes: everything after it too, for one op */
  note(r, -1, 0, b % 8, r->fa.fail_after);
  read_counters(r, r->aft);
}

/* Invalid arguments: each call fails with the documented status and changes nothing. */
static void op_bad_args(op_ctx *x) {
  run *r = x->r;
  uint8_t b = fz_u8(x->in);
  int k = (int)(b % r->universe);
  size_t klen;
  const uint8_t *kb = key_bytes(k, &klen);
  uint8_t buf[8];
  size_t n;
  void *v = NULL;
  int bad = 0;
  fz_lib_enter();
  bad |= macho_put(NULL, kb, klen, buf, 1) != MACHO_EINVAL;
  bad |= macho_get(NULL, kb, klen, buf, 1, &n) != MACHO_EINVAL;
  bad |= macho_clear(NULL) != MACHO_EINVAL;
  bad |= macho_expire(NULL, NULL) != MACHO_EINVAL;
  bad |= macho_stats_get(r->c, (int)r->nshards, (macho_stats **)&v) != MACHO_EINVAL;
  bad |= macho_stats_get(r->c, -1, NULL) != MACHO_EINVAL;
  bad |= macho_stats_reset(NULL) != MACHO_EINVAL;
  bad |= macho_foreach_key(r->c, NULL, NULL) != MACHO_EINVAL;
  if (r->objects) {
    bad |= macho_put(r->c, kb, klen, buf, 1) != MACHO_EMODE;
    bad |= macho_get(r->c, kb, klen, buf, 1, &n) != MACHO_EMODE;
    bad |= macho_contains(r->c, kb, klen) != MACHO_EMODE;
    bad |= macho_delete(r->c, kb, klen) != MACHO_EMODE;
    bad |= macho_obj_put(r->c, NULL, &r->kobj[k]) != MACHO_EINVAL;
    bad |= macho_obj_get(r->c, &r->kobj[k], NULL) != MACHO_EINVAL;
    bad |= macho_obj_get(r->c, NULL, &v) != MACHO_EINVAL;
    bad |= macho_obj_put_ttl(r->c, &r->kobj[k], NULL, NAN) != MACHO_EINVAL;
    bad |= macho_obj_put_ttl(r->c, &r->kobj[k], NULL, -1) != MACHO_EINVAL;
    bad |= macho_obj_delete(r->c, NULL) != MACHO_EINVAL;
  } else {
    bad |= macho_obj_put(r->c, &r->kobj[k], NULL) != MACHO_EMODE;
    bad |= macho_obj_get(r->c, &r->kobj[k], &v) != MACHO_EMODE;
    bad |= macho_obj_contains(r->c, &r->kobj[k]) != MACHO_EMODE;
    bad |= macho_put(r->c, NULL, 3, buf, 1) != MACHO_EINVAL;
    bad |= macho_put(r->c, kb, klen, NULL, 5) != MACHO_EINVAL;
    bad |= macho_get(r->c, kb, klen, NULL, 5, &n) != MACHO_EINVAL;
    bad |= macho_put_ttl(r->c, kb, klen, buf, 1, NAN) != MACHO_EINVAL;
    bad |= macho_put_ttl(r->c, kb, klen, buf, 1, -INFINITY) != MACHO_EINVAL;
    bad |= macho_put_ttl(r->c, kb, klen, buf, 1, -1e-300) != MACHO_EINVAL;
    bad |= macho_delete(r->c, NULL, 1) != MACHO_EINVAL;
    bad |= macho_contains(r->c, NULL, 2) != MACHO_EINVAL;
  }
  fz_lib_leave();
  note(r, k, bad, 0, 0);
  EXPECT(!bad, "a call with invalid arguments did not fail as macho.h says");
  read_counters(r, r->aft);
  for (uint32_t s = 0; s < r->nshards; s++)
    EXPECT(same_counters(&r->aft[s], &r->bef[s]), "a call with invalid arguments changed shard %u", s);
}

/* The operations. Weights set how often random bytes pick each (the fuzzer
 * mutates freely anyway). Adding an operation is one line here; a future
 * resize API would be {"resize", 2, op_resize}. */
typedef struct op_def {
  const char *name;
  int weight;
  void (*fn)(op_ctx *);
} op_def;
static const op_def OPS[] = {
    {"put", 20, op_put},
    {"put_ttl", 10, op_put_ttl},
    {"get", 24, op_get},
    {"contains", 6, op_contains},
    {"delete", 6, op_delete},
    {"clear", 1, op_clear},
    {"advance", 8, op_advance},
    {"expire", 2, op_expire},
    {"foreach_key", 2, op_foreach},
    {"len", 1, op_len},
    {"counters", 1, op_counters},
    {"stats", 1, op_stats},
    {"stats_reset", 1, op_reset},
    {"fail_alloc", 1, op_fail_alloc},
    {"bad_args", 1, op_bad_args},
};
#define NOPS (sizeof OPS / sizeof OPS[0])
static uint8_t op_table[256];

static void build_op_table(void) {
  int total = 0;
  for (size_t i = 0; i < NOPS; i++) total += OPS[i].weight;
  int at = 0;
  for (size_t i = 0; i < NOPS; i++) {
    int n = (OPS[i].weight * 256 + total / 2) / total;
    if (n < 1) n = 1;
    for (int j = 0; j < n && at < 256; j++) op_table[at++] = (uint8_t)i;
  }
  while (at < 256) op_table[at++] = 0;
}

/* ---- configuration --------------------------------------------------------------------- */
/* Valid rates, the edges included: near 1 (issue 10 defect 2) and the smallest accepted. */
static const double FP_RATES[16] = {0.5, 0.1, 0.01, 0.001, 0.25, 0.9, 1e-4, 0.03,
                                    0.999, 0.9999, 1e-9, 0.75, 0.6, 1e-6, 0.05, 0.99999};
static const uint32_t SHARDS[4] = {1, 2, 4, 7};

static int setup(run *r, fz_in *in) {
  macho_policy avail[MACHO_POLICY_COUNT];
  int navail = 0;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++)
    if (macho_policy_available((macho_policy)p)) avail[navail++] = (macho_policy)p;
  macho_filter favail[MACHO_FILTER_COUNT];
  int nf = 0;
  for (int f = 0; f < MACHO_FILTER_COUNT; f++)
    if (macho_filter_available((macho_filter)f)) favail[nf++] = (macho_filter)f;
  uint8_t b0 = fz_u8(in), b1 = fz_u8(in), b2 = fz_u8(in), b3 = fz_u8(in), b4 = fz_u8(in), b5 = fz_u8(in);
  uint8_t b6 = fz_u8(in), b7 = fz_u8(in);
  r->policy = avail[b0 % navail];
  r->filter = favail[b1 % nf];
  r->objects = b2 & 1;
  r->nshards = SHARDS[(b2 >> 1) & 3];
  int budget = !r->objects && (b2 & 8);
  int ttl_on = b2 & 16;
  int metrics = ((b2 >> 5) & 3) % 3;
  r->weak_hash = r->objects && (b2 & 0x80);
  r->reenter = (b0 & 0x80) != 0;
  r->lazy_expiry = (b0 & 0x40) != 0;
  r->observe = (b1 & 0x40) != 0;
  uint32_t cap = b3 < 128 ? 1u + b3 % 16u : 16u + (uint32_t)(b3 - 128) * 3u;
  if (cap < r->nshards) cap = r->nshards;
  r->universe = 2 + (b4 % 254);
  if (r->universe > 2 * cap + 8) r->universe = 2 * cap + 8;
  if (r->universe > MAXKEYS) r->universe = MAXKEYS;
  static const uint64_t T0[8] = {1000 * MS, 1000000 * MS, 4320000000ull * MS /* 50 days */,
                                 4294967296ull * MS - 3000 * MS /* 2^32 ms - 3 s */, 400ull * 86400000 * MS,
                                 1 * MS, 1000 * MS, 86400000ull * MS};
  r->t0 = T0[b5 & 7];

  macho_config *cfg = &r->cfg;
  macho_config_init(cfg);
  cfg->capacity_entries = cap;
  cfg->shards = r->nshards;
  cfg->policy = r->policy;
  cfg->filter = r->filter;
  cfg->filter_fp_rate = FP_RATES[(b1 >> 2) & 15];
  cfg->seed = (uint64_t)b6 << 8 | b7;
  cfg->metrics = metrics;
  cfg->ttl_seconds = ttl_on ? (1 + (b5 >> 3) * 7) / 1000.0 : 0; /* whole ms: 1..218 */
  /* From one entry's overhead up: smaller budgets would refuse every put. */
  cfg->capacity_bytes = budget ? (size_t)r->nshards * (MACHO_ENTRY_OVERHEAD + 16 + (size_t)fz_u8(in) * 8) : 0;
  r->clk = (fz_clock){r->t0, 0, 0};
  cfg->clock = fz_clock_fn;
  cfg->clock_ctx = &r->clk;
  r->fa = (fz_alloc){0};
  r->hooks = fz_alloc_hooks(&r->fa);
  cfg->allocator = &r->hooks;
  r->ops = (macho_object_ops){cb_hash, cb_equal, cb_retain, cb_release, r};
  if (r->objects) cfg->object_ops = &r->ops;
  for (uint32_t s = 0; s < r->nshards; s++) {
    r->cap[s] = cap / r->nshards + (s < cap % r->nshards);
    r->budget[s] = cfg->capacity_bytes ? cfg->capacity_bytes / r->nshards + (s < cfg->capacity_bytes % r->nshards) : 0;
  }
  /* ARC and auto have no reference ported here (ARC's is tests/test_policy_arc.c; auto follows
   * whichever candidate its miniatures favour): invariant checks only. */
  r->exact = r->nshards == 1 && !r->lazy_expiry && r->policy != MACHO_POLICY_RANDOM &&
             r->policy != MACHO_POLICY_WTINYLFU && r->policy != MACHO_POLICY_ARC &&
             r->policy != MACHO_POLICY_AUTO && !(r->weak_hash && r->policy == MACHO_POLICY_S3FIFO);
  for (uint32_t k = 0; k < MAXKEYS; k++) {
    r->k[k] = (mkey){ABSENT, -1, 0, 0, 0, 0, 0, 0, NULL, NULL};
    r->kobj[k] = (fobj){FOBJ_MAGIC, (int)k, 0, 0, 0};
    r->twin[k] = (fobj){FOBJ_MAGIC, (int)k, 1, 0, 0};
  }
  r->nv = 0;
  memset(r->unexplained, 0, sizeof r->unexplained);
  memset(r->ambiguous_gone, 0, sizeof r->ambiguous_gone);
  r->cleared = 0;
  memset(r->life, 0, sizeof r->life);
  r->m_evictions = r->m_expirations = r->m_deletes = r->m_hits = r->m_misses = r->m_puts = 0;
  r->alloc_failed = r->callback_error = 0;
  r->get_calls = r->put_calls = 0;
  r->ver = 0;
  r->hash_fail = r->equal_fail = r->in_callback = r->cb_failed = 0;
  r->value_refs = 0;
  memset(r->log, 0, sizeof r->log);
  r->step = 0;
  r->opname = NULL;
  ref_init(&r->r, r->policy, cap);

  const char *why = NULL;
  EXPECT(macho_config_check(cfg, &why) == MACHO_OK, "config rejected: %s", why);
  fz_lib_enter();
  int rc = macho_open(cfg, &r->c);
  fz_lib_leave();
  EXPECT(rc == MACHO_OK, "open returned %d (%s)", rc, macho_status_name(rc));
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) {
    build_op_table();
    fz_watch_strays();
    R.trace = getenv("FUZZ_API_TRACE") != NULL;
    init = 1;
  }
  run *r = &R;
  fz_in in = {data, size};
  setup(r, &in);
  read_counters(r, r->bef);
  memcpy(r->aft, r->bef, sizeof r->aft); /* ops read the latest counters from aft */
  op_ctx ctx = {r, &in};
  while (in.n) {
    const op_def *op = &OPS[op_table[fz_u8(&in)]];
    r->opname = op->name;
    r->cb_failed = 0;
    r->log[r->step % LOGN] = (oplog){op->name, -1, 0, 0, 0}; /* ops that do nothing leave this */
    uint64_t failures = r->fa.failures;
    op->fn(&ctx);
    if (r->fa.failures != failures) r->alloc_failed = 1; /* metrics may have dropped a sample */
    /* ECALLBACK exactly when a callback reported an error (and equal only when it can run). */
    int rc = r->log[r->step % LOGN].rc;
    EXPECT((rc == MACHO_ECALLBACK) == (r->cb_failed != 0), "%s returned %s; a callback %s", op->name,
           macho_status_name(rc), r->cb_failed ? "failed" : "did not fail");
    /* A failed call changes nothing, so the state after it says whether equal could run. */
    if (r->cb_failed == 2)
      EXPECT(equal_possible(r, r->probe_k, r->probe_twin), "equal() ran though key %d has no hash twin held", r->probe_k);
    check_after(r);
    if (r->fa.fail_after && r->fa.fail_at && r->fa.calls >= r->fa.fail_at) r->fa.fail_at = 0, r->fa.fail_after = 0;
    memcpy(r->bef, r->aft, sizeof r->bef);
    r->step++;
  }
  r->opname = "close";
  fz_lib_enter();
  macho_close(r->c);
  fz_lib_leave();
  r->c = NULL;
  EXPECT(r->fa.live_blocks == 0 && r->fa.live_bytes == 0, "after close: %lld blocks, %lld bytes still allocated",
         (long long)r->fa.live_blocks, (long long)r->fa.live_bytes);
  for (uint32_t k = 0; k < MAXKEYS; k++)
    EXPECT(r->kobj[k].cache_refs == 0 && r->twin[k].cache_refs == 0, "after close: key %u still referenced", k);
  for (uint32_t i = 0; i < r->nv; i++)
    EXPECT(r->vpool[i].cache_refs == 0, "after close: value %u still referenced", i);
  EXPECT(fz_strays == 0, "%llu allocations bypassed config.allocator", (unsigned long long)fz_strays);
  return 0;
}
