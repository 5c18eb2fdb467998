/*
 * internal.h -- the functions libmacho's modules share. Types are in
 * types.h, the table's encoding and probe in table.h, arenas in arena.h,
 * the policy contract in policy/policy.h. Nothing here is public.
 */
#ifndef MACHO_INTERNAL_H
#define MACHO_INTERNAL_H

#include "types.h"
#include "table.h"
#include "arena.h"

#include <assert.h>
#include <string.h>

#if defined(__GNUC__)
#define macho__likely(x) __builtin_expect(!!(x), 1)
#define macho__unlikely(x) __builtin_expect(!!(x), 0)
#else
#define macho__likely(x) (x)
#define macho__unlikely(x) (x)
#endif

/* Expired entries examined (in slots) per put. */
#define MACHO__PUT_SWEEP 16u
/* Room in a call's list of objects to release after unlock (object mode). */
#define MACHO__DEAD_MAX 96u

/* ---- allocation (common.c): every byte goes through the cache's hooks ------------ */
void *macho__malloc(macho__alloc *a, size_t size);
void *macho__calloc(macho__alloc *a, size_t n, size_t size);
/* Zeroed, 64-byte aligned (for structs that hold a macho__shard): the
 * allocation is *raw, of macho__size64(size) bytes, to pass to macho__free. */
void *macho__calloc64(macho__alloc *a, size_t size, void **raw);
static inline size_t macho__size64(size_t size) { return size + 63; }
void *macho__realloc(macho__alloc *a, void *p, size_t old_size, size_t new_size);
void macho__free(macho__alloc *a, void *p, size_t size);
/* Through the hooks but not counted in memory_bytes (stats snapshots). */
void *macho__malloc_untracked(const macho__alloc *a, size_t size);
void macho__free_untracked(const macho__alloc *a, void *p, size_t size);

/* ---- filters (src/filter/) ------------------------------------------------------ */
/* A membership filter answers for what the shard holds now: add on insert,
 * remove on any removal, clear on clear. No false negatives, ever. Used
 * under the shard lock only (a cache with a filter reads under the lock). */
struct macho__filter_ops {
  const char *name;
  int (*create)(void **out, macho__alloc *a, uint32_t capacity, double fp_rate, uint64_t seed);
  void (*destroy)(void *f, macho__alloc *a);
  /* Never fails: a filter that cannot place a key degrades to answering
   * "maybe" (more false positives), never to a false negative. */
  void (*add)(void *f, uint64_t hash);
  void (*remove)(void *f, uint64_t hash);  /* hash was added before */
  int (*maybe_contains)(const void *f, uint64_t hash); /* 0 = certainly absent */
  void (*clear)(void *f);
  size_t (*memory)(const void *f);
  /* Optional, for static filters (xor) that follow churn by rebuilding from
   * the shard's live hashes: see filter.c. */
  int (*wants_rebuild)(void *f);
  int (*rebuild)(void *f, uint64_t *hashes, uint32_t n);
};
extern const macho__filter_ops *const macho__filters[MACHO_FILTER_COUNT];

/* ---- thread.c: records, grace periods, the clock word ------------------------------ */
extern bool macho__read_fence;
int macho__registry_add(macho_cache *c);
void macho__registry_remove(macho_cache *c);
macho__trec *macho__trec_slow(macho_cache *c);
/* This thread's record for c; NULL on ENOMEM (then take the locked path). */
static inline macho__trec *macho__trec_get(macho_cache *c) {
  macho__tl_entry *e = &macho__tl.cache[c->uid & 3];
  if (__builtin_expect(e->uid == c->uid, 1)) return e->rec;
  return macho__trec_slow(c);
}
void macho__records_free(macho_cache *c);
/* Wait until every reader that was inside a lock-free read has left it. */
void macho__synchronize(macho_cache *c);
extern _Atomic uint64_t macho__clock_word;
extern _Atomic int macho__ticker_live;
uint64_t macho__clock_vdso(void);
/* The clock word while the ticker runs, else the vDSO's coarse clock. */
static inline uint64_t macho__clock_system(void) {
  if (__builtin_expect(atomic_load_explicit(&macho__ticker_live, memory_order_acquire), 1))
    return atomic_load_explicit(&macho__clock_word, memory_order_relaxed);
  return macho__clock_vdso();
}
uint64_t macho__clock_precise(void); /* CLOCK_MONOTONIC */

static inline void macho__read_enter(macho__trec *r) {
  uint32_t s = atomic_load_explicit(&r->rseq, memory_order_relaxed);
  atomic_store_explicit(&r->rseq, s + 1, memory_order_relaxed);
  if (macho__unlikely(macho__read_fence)) macho__fence(memory_order_seq_cst);
  else atomic_signal_fence(memory_order_seq_cst); /* the writer's membarrier does the rest */
}
static inline void macho__read_exit(macho__trec *r) {
  uint32_t s = atomic_load_explicit(&r->rseq, memory_order_relaxed);
  atomic_store_explicit(&r->rseq, s + 1, memory_order_release);
}
static inline void macho__tcount_add(_Atomic uint64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* One removal to report to the listener after unlock (listen.c). Bytes
 * mode: k and v are the slot's words; when `deferred`, their arena or huge
 * blocks are still allocated (the flush frees them, under the lock again)
 * so that the listener reads the bytes without a copy. `key`, when set, is
 * the caller's own key (a put that replaced a value: the entry, and its
 * key, stay in the cache). Object mode: k and v are the objects, kept alive
 * by the obj list until after the listener ran. */
typedef struct macho__gone {
  uint64_t k, v;
  const void *key;
  uint32_t klen;
  uint8_t kform, vform;
  uint8_t reason;
  bool deferred;
} macho__gone;
#define MACHO__GONE_MAX 48u

/* What a call must do after it drops the shard lock: report removals to
 * the listener, free their deferred payloads, release objects. Lives on
 * the caller's stack; macho__dead_init before use (no initialiser: zeroing
 * the arrays per call showed in profiles). */
typedef struct macho__dead {
  void *obj[MACHO__DEAD_MAX];
  uint32_t n;
  uint32_t ngone;
  struct macho__shard *sh;
  macho__gone gone[MACHO__GONE_MAX];
} macho__dead;
static inline void macho__dead_init(macho__dead *d, struct macho__shard *sh) {
  d->n = 0;
  d->ngone = 0;
  d->sh = sh;
}
/* Room for one more removal (two objects and a report)? */
static inline bool macho__dead_room(const macho__dead *d) {
  return !d || (d->n + 3 <= MACHO__DEAD_MAX && d->ngone < MACHO__GONE_MAX);
}
static inline bool macho__dead_pending(const macho__dead *d) { return d->n || d->ngone; }
/* listen.c: with no lock held, report, free, release (the list is empty after). */
void macho__dead_flush(macho_cache *c, macho__dead *d);
/* Lock held: queue a report (bytes-mode payloads: `deferred` says whether
 * their blocks wait for the flush). */
void macho__dead_report(macho__dead *d, uint64_t k, uint64_t v, uint32_t kform, uint32_t vform,
                        macho_removal reason, bool deferred, const void *key, size_t klen);
/* Internal status of shard writers: the call's dead list is full; unlock,
 * flush and call again. Never returned to users. */
#define MACHO__AGAIN 1

/* ---- expiry.c: time ------------------------------------------------------------------ */
static inline uint64_t macho__now(const macho_cache *c) {
  return c->cfg.clock ? c->cfg.clock(c->cfg.clock_ctx) : macho__clock_system();
}
static inline uint64_t macho__now_precise(const macho_cache *c) {
  return c->cfg.clock ? c->cfg.clock(c->cfg.clock_ctx) : macho__clock_precise();
}
/* The time a write stamps on an entry: the clock word (1 ms steps) in bytes
 * mode; in object mode with metrics on, the precise clock, so that
 * lifespans in small examples (the Python binding's) resolve below a
 * millisecond. Calls there cost far more than the clock read. */
static inline uint64_t macho__now_write(const macho_cache *c) {
  return c->object_mode && c->cfg.metrics ? macho__now_precise(c) : macho__now(c);
}
uint64_t macho__ttl_to_ns(double ttl_seconds); /* caller validated: >= 0, not NaN */
/* The meta word's time bits for an entry written at `now` with `ttl_ns`
 * (0 = none), counted from the shard's current epoch. */
uint64_t macho__m_time(const macho__shard *sh, uint64_t now, uint64_t ttl_ns, bool own_ttl);
/* Cache-clock time the entry was written (its lifespan start), or
 * UINT64_MAX when unknown (its own TTL). */
uint64_t macho__m_birth(const macho__shard *sh, uint64_t m, uint32_t group_epoch, uint32_t slot);
/* The time field (and LONG flag) of an entry without deadline written at `at`. */
uint64_t macho__write_time(uint64_t at, uint64_t epoch);
/* Epochs (lock held): every write calls epoch_tick, which starts a rebase
 * every 60 hours and moves one group per call; a write into group g first
 * calls group_rebase (nothing when the group is on the current epoch). */
void macho__epoch_tick(macho__shard *sh, uint64_t now);
void macho__group_rebase(macho__shard *sh, macho__table *t, uint32_t g);
/* A deadline was written (lock held): keep next_expiry a lower bound. */
void macho__note_deadline(macho__shard *sh, uint64_t m);
/* Examine up to `budget` slots from the sweep cursor, removing expired entries. */
uint32_t macho__sweep(macho__shard *sh, uint64_t now, uint32_t budget, macho__dead *dead);
static inline uint64_t macho__group_epoch_ns(const macho__shard *sh, const macho__group *g) {
  return atomic_load_explicit(&sh->epoch_ns[atomic_load_explicit(&g->epoch, memory_order_relaxed)],
                              memory_order_relaxed);
}

/* ---- shard.c: the writer side ------------------------------------------------------- */

void macho__lock_slow(macho__shard *sh);
static inline void macho__lock(macho__shard *sh) {
  if (macho__likely(!atomic_exchange_explicit(&sh->lock, 1u, memory_order_acquire))) return;
  macho__lock_slow(sh);
}
static inline bool macho__trylock(macho__shard *sh) {
  return !atomic_load_explicit(&sh->lock, memory_order_relaxed) &&
         !atomic_exchange_explicit(&sh->lock, 1u, memory_order_acquire);
}
static inline void macho__unlock(macho__shard *sh) {
  atomic_store_explicit(&sh->lock, 0u, memory_order_release);
}
/* Between two slices of a long operation (resize, a walk, clear), after the
 * unlock: the lock is not fair, and retaking it at once would keep a waiting
 * writer out for the whole operation (bench_pauses: a put waited 148 ms
 * behind a shrink of 1M entries). Give a spinning waiter a moment to take
 * it; about a microsecond when nobody waits. */
void macho__lock_handoff(macho__shard *sh);

int macho__shard_init(macho__shard *sh, macho_cache *c, uint32_t index, uint32_t capacity,
                      uint64_t capacity_bytes);
void macho__shard_destroy(macho__shard *sh);
/* Replay the read buffers into the policy (lock held). */
void macho__shard_drain(macho__shard *sh);
void macho__shard_drain_stripe(macho__shard *sh, uint32_t i);
/* The slot holding a key, or MACHO__NIL (lock held). Object mode may drop
 * and retake the lock around the equality callback: MACHO_ECALLBACK then. */
int macho__shard_find(macho__shard *sh, const void *key, size_t klen, uint64_t hash,
                      uint32_t *slot);
/* The one removal point: policy (unless from_victim), filter, metrics,
 * arena, table, counters; objects are queued on `dead`. */
void macho__shard_remove(macho__shard *sh, uint32_t s, uint64_t hash, macho_removal reason,
                         uint64_t now, bool from_victim, macho__dead *dead);
/* Insert or replace. Bytes mode: key/klen and value/vlen are copied.
 * Object mode: key and value are objects (retained here). */
int macho__shard_put(macho__shard *sh, const void *key, size_t klen, const void *value,
                     size_t vlen, uint64_t hash, uint64_t ttl_ns, bool own_ttl, uint64_t weight,
                     macho__dead *dead);
/* Clearing, in slices that need no memory (macho_clear runs them): remove
 * up to a slice of entries (1 when the shard is then empty); once empty,
 * reset history and retire the grown table and the arena (lock held); then,
 * with no lock held, free what was retired after a grace period. */
typedef struct macho__cleared {
  macho__table *table;
  macho__arena arena;
} macho__cleared;
int macho__shard_clear_slice(macho__shard *sh, macho__dead *dead);
void macho__shard_clear_finish(macho__shard *sh, macho__cleared *out);
void macho__shard_clear_release(macho__shard *sh, macho__cleared *old);
/* The hash removing slot s needs (0 when nothing needs it: no filter and
 * the entry did not overflow). */
uint64_t macho__hash_for_removal(const macho__shard *sh, const macho__table *t, uint32_t s);
/* Hash of the key in slot s (bytes mode recomputes it). */
uint64_t macho__slot_hash(const macho__shard *sh, const macho__table *t, uint32_t s);
/* Copy slot s's key out (bytes mode); returns its length. buf may be NULL to ask. */
uint32_t macho__slot_key(const macho__shard *sh, const macho__table *t, uint32_t s, void *buf);
uint32_t macho__slot_value(const macho__shard *sh, const macho__table *t, uint32_t s, void *buf);

/* ---- mrc.c: the live miss-ratio curve, fed every get's hash (lock held) --------------- */
int macho__shard_mrc_init(macho__shard *sh, uint32_t nshards);
void macho__shard_mrc_destroy(macho__shard *sh);
void macho__mrc_observe(struct macho__mrc *m, uint64_t hash); /* one multiply-compare unless sampled */
void macho__mrc_clear(struct macho__mrc *m);                  /* the shard was cleared */
size_t macho__mrc_memory(const struct macho__mrc *m);
/* What the byte budget charges an entry (macho.h: MACHO_ENTRY_OVERHEAD). */
static inline uint64_t macho__part_charge(uint64_t len) {
  if (len <= MACHO__FORM_INLINE_MAX) return 0;
  if (len <= MACHO__ARENA_MAX) return macho__arena_block_size((uint32_t)len);
  return len + 8;
}
static inline uint64_t macho__charge(uint64_t klen, uint64_t vlen) {
  return MACHO_ENTRY_OVERHEAD + macho__part_charge(klen) + macho__part_charge(vlen);
}
/* Free a removed entry's deferred payload (lock held; listen.c's flush). */
void macho__shard_free_gone(macho__shard *sh, const macho__gone *g);
/* Put with the weight (object mode budget) and the time it was written. */
/* Rebuild the table into `ngroups` groups (lock held; ENOMEM changes nothing). */
int macho__shard_rebuild(macho__shard *sh, uint32_t ngroups);
/* Evict one entry by the policy (lock held, shard not empty). */
void macho__shard_evict(macho__shard *sh, uint64_t now, macho__dead *dead);
/* A new entry capacity (lock held): puts respect it at once; the policy
 * and table follow when the shard fits in it (now, or macho__shard_settle
 * after evicting down). */
int macho__shard_set_capacity(macho__shard *sh, uint32_t capacity);
int macho__shard_settle(macho__shard *sh);
/* Groups of the final table for the shard's capacity. */
uint32_t macho__shard_final_groups(const macho__shard *sh);
/* Give slot s a new TTL from now (lock held). */
void macho__shard_set_ttl(macho__shard *sh, uint32_t s, uint64_t ttl_ns, uint64_t now);
/* A live slot (lock held): its value word view for listings. */
uint32_t macho__shard_hint(macho__shard *sh, uint32_t s);

/* ---- inspect.c: the sliced walk (foreach, snapshots) --------------------------------------- */
/* rank: the entry's place in its shard's eviction order (0 = next victim;
 * UINT32_MAX = unknown, counted as hotter than every ranked one), gathered
 * only when `ranks`. fn runs with no lock held; nonzero stops the walk. */
typedef int (*macho__walk_fn)(void *ctx, const macho_entry_view *v, uint32_t rank);
int macho__walk(macho_cache *c, bool values, bool ranks, macho__walk_fn fn, void *ctx);

/* ---- load.c: get-or-load ----------------------------------------------------------------- */
/* A put or delete of this key happened (no lock held): forget a negative
 * answer for it and tell a load in flight that its result is stale. */
void macho__loads_touch(macho_cache *c, const void *key, size_t klen, uint64_t hash);
void macho__loads_close(macho_cache *c);
/* ---- pressure.c: the cgroup limit -------------------------------------------------------- */
int macho__pressure_open(macho_cache *c);
void macho__pressure_check(macho_cache *c, uint64_t now);
void macho__pressure_close(macho_cache *c);
/* The budget in force: the smaller of the user's and the cgroup's share. */
uint64_t macho__effective_bytes(const macho_cache *c);
/* resize.c: apply limits (both as totals; capacity_bytes 0 = none), with
 * the resize lock held (one resize at a time). */
int macho__resize(macho_cache *c, uint64_t capacity_entries, uint64_t capacity_bytes);
void macho__resize_lock(macho_cache *c);
bool macho__resize_trylock(macho_cache *c);
void macho__resize_unlock(macho_cache *c);

/* ---- metrics.c ------------------------------------------------------------------------ */
void macho__metrics_on_remove(macho__shard *sh, uint64_t born, macho_removal reason, uint64_t now);
size_t macho__shard_memory(const macho__shard *sh);
/* Add one shard's counters into *o (lock held; thread records are summed too). */
void macho__shard_add_counters(macho_counters *o, macho__shard *sh);
int macho__contains(macho_cache *c, const void *key, size_t klen, uint64_t hash);
void macho__metrics_destroy(macho__shard *sh);

/* Latency sampling: lat_begin() on entry, lat_end() before returning. Which
 * calls are timed is decided by a per-thread tick, so an unsampled call
 * writes nothing shared and reads no clock. A lock-free get records its
 * sample only when it can take the shard lock at once. */
enum { MACHO__OP_GET = 0, MACHO__OP_PUT = 1 };
typedef struct macho__lat {
  uint64_t t0;
  bool on;
} macho__lat;
void macho__metrics_on_latency(macho__shard *sh, int op, uint64_t t0, uint64_t t1);
/* With config.metrics == 1, every call is timed until this many samples of
 * its op exist in the cache (since open or the last macho_stats_reset), then
 * 1 in MACHO_LATENCY_SAMPLE_EVERY: five puts and two gets show latencies. */
#define MACHO__LAT_WARMUP MACHO_LATENCY_SAMPLE_EVERY
static inline bool macho__lat_warming(const macho_cache *c, int op) {
  /* Only sampled timing warms up: metrics 0 times nothing, 2 everything. */
  return c->cfg.metrics == 1 &&
         atomic_load_explicit(&c->lat_warm[op], memory_order_relaxed) < MACHO__LAT_WARMUP;
}
static inline macho__lat macho__lat_begin(const macho_cache *c, int op) {
  macho__lat l = {0, false};
  int m = c->cfg.metrics;
  if (m == 2 || (m == 1 && ((++macho__tl.tick[op] & (MACHO_LATENCY_SAMPLE_EVERY - 1)) == 0 ||
                            macho__unlikely(macho__lat_warming(c, op))))) {
    l.on = true;
    l.t0 = macho__now_precise(c);
  }
  return l;
}
/* Lock held. */
static inline void macho__lat_end(const macho_cache *c, macho__shard *sh, int op, macho__lat l) {
  if (macho__unlikely(l.on)) macho__metrics_on_latency(sh, op, l.t0, macho__now_precise(c));
}
/* No lock held: records if the lock is free right now. */
void macho__lat_end_unlocked(const macho_cache *c, macho__shard *sh, int op, macho__lat l);

#endif /* MACHO_INTERNAL_H */
