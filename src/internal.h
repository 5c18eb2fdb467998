/*
 * internal.h -- what libmacho's modules share. Nothing here is public.
 *
 * Shape of a shard (see docs/DESIGN.md):
 *   entries[]  a slab of fixed-size entry headers addressed by uint32 id; free
 *              slots are chained through `next`. Ids never move, so policies
 *              link entries with uint32 prev/next (intrusive, no allocation).
 *   index[]    open addressing with linear probing over {hash32, id} slots,
 *              home slot by fastrange (no power-of-two waste), backward-shift
 *              deletion (no tombstones). A probe compares 32 hash bits before
 *              it touches an entry.
 * Everything in a shard is guarded by the shard's lock; counters are plain
 * integers under that lock and are summed when someone reads them.
 */
#ifndef MACHO_INTERNAL_H
#define MACHO_INTERNAL_H

#include "macho/macho.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define MACHO__NIL UINT32_MAX
/* Largest entry count one shard can hold (ids are uint32, NIL reserved). */
#define MACHO__MAX_SHARD_ENTRIES (UINT32_MAX / 2u)
#define MACHO__MAX_SHARDS 65536u
/* Expired entries examined per put, and per get every MACHO__GET_SWEEP_EVERY gets. */
#define MACHO__PUT_SWEEP 8u
#define MACHO__GET_SWEEP 16u
#define MACHO__GET_SWEEP_EVERY 16u
/* Room in a call's list of objects to release after unlock (object mode). */
#define MACHO__DEAD_MAX (2u * (MACHO__GET_SWEEP + MACHO__PUT_SWEEP + 8u))

#if defined(__GNUC__)
#define macho__likely(x) __builtin_expect(!!(x), 1)
#define macho__unlikely(x) __builtin_expect(!!(x), 0)
#else
#define macho__likely(x) (x)
#define macho__unlikely(x) (x)
#endif

typedef struct macho__shard macho__shard;

/* One cached entry. 56 bytes; docs/DESIGN.md explains the path to 24. */
typedef struct macho__entry {
  void *key; /* bytes: blob (key bytes then value bytes); objects: key. NULL = free slot */
  union {
    void *obj;                         /* objects: value */
    struct { uint32_t klen, vlen; } len; /* bytes: lengths inside the blob */
  } val;
  uint64_t hash;      /* full mixed key hash */
  uint64_t expire_ns; /* absolute deadline on the cache clock, 0 = never */
  uint64_t born_ns;   /* insertion time, for lifespans */
  uint32_t prev, next; /* policy list links; `next` chains the free list */
  uint32_t meta;       /* policy-private (frequency, queue, visited bit ...) */
  uint32_t meta2;      /* policy-private */
} macho__entry;
_Static_assert(sizeof(macho__entry) == 56, "entry layout changed: update docs/DESIGN.md");

typedef struct macho__slot {
  uint32_t tag; /* low 32 bits of the entry's hash */
  uint32_t id;  /* entry id, MACHO__NIL = empty */
} macho__slot;

/* ---- allocation: every byte goes through the cache's allocator ---------- */
typedef struct macho__alloc {
  macho_allocator hooks;
} macho__alloc;

void *macho__malloc(const macho__alloc *a, size_t size);
void *macho__calloc(const macho__alloc *a, size_t n, size_t size);
void *macho__realloc(const macho__alloc *a, void *p, size_t old_size, size_t new_size);
void macho__free(const macho__alloc *a, void *p, size_t size);

/* ---- policies (src/policy/) --------------------------------------------- */
/* Every hook runs with the shard lock held. `st` is the policy's per-shard
 * state (state_size bytes, zeroed before init). Entries are reached through
 * macho__entry_at(sh, id); the list helpers below link them. */
typedef struct macho__policy_ops {
  const char *name;
  size_t state_size;
  /* capacity = the shard's entry capacity. May allocate through sh->alloc. */
  int (*init)(void *st, macho__shard *sh, uint32_t capacity);
  void (*destroy)(void *st, macho__shard *sh);
  void (*on_insert)(void *st, macho__shard *sh, uint32_t id); /* new entry, already indexed */
  void (*on_hit)(void *st, macho__shard *sh, uint32_t id);    /* get hit or put on an existing key */
  void (*on_miss)(void *st, macho__shard *sh, uint64_t hash); /* get miss (optional, may be NULL) */
  void (*on_remove)(void *st, macho__shard *sh, uint32_t id); /* leaves for any reason but eviction by victim() */
  /* Choose an entry to evict and unlink it from the policy's structures; the
   * shard then removes it from the index. Only called when the shard holds at
   * least one entry. */
  uint32_t (*victim)(void *st, macho__shard *sh);
  void (*on_clear)(void *st, macho__shard *sh); /* every entry is gone */
  size_t (*memory)(const void *st);             /* bytes allocated (optional) */
} macho__policy_ops;

/* The table of policies, indexed by macho_policy; NULL = not built. */
extern const macho__policy_ops *const macho__policies[MACHO_POLICY_COUNT];

/* ---- filters (src/filter/) ------------------------------------------------ */
/* A membership filter answers for what the shard holds now: add on insert,
 * remove on any removal, clear on clear. No false negatives, ever. */
typedef struct macho__filter_ops {
  const char *name;
  int (*create)(void **out, const macho__alloc *a, uint32_t capacity, double fp_rate, uint64_t seed);
  void (*destroy)(void *f, const macho__alloc *a);
  /* Never fails: a filter that cannot place a key degrades to answering
   * "maybe" (more false positives), never to a false negative. */
  void (*add)(void *f, uint64_t hash);
  void (*remove)(void *f, uint64_t hash);  /* hash was added before */
  int (*maybe_contains)(const void *f, uint64_t hash); /* 0 = certainly absent */
  void (*clear)(void *f);
  size_t (*memory)(const void *f);
  /* Optional, for static filters (xor) that follow churn by rebuilding from
   * the shard's live hashes. After each add/remove the shard asks
   * wants_rebuild (the filter decides its threshold and backs off after a
   * failure); if yes it lists its n live hashes (the array is the filter's
   * to reorder during the call) and calls rebuild. rebuild may fail with
   * MACHO_ENOMEM: the filter then stays as it was, still exact-or-maybe. */
  int (*wants_rebuild)(void *f);
  int (*rebuild)(void *f, uint64_t *hashes, uint32_t n);
} macho__filter_ops;

extern const macho__filter_ops *const macho__filters[MACHO_FILTER_COUNT];

/* ---- shard ---------------------------------------------------------------- */
typedef struct macho__shard_counters {
  uint64_t hits, misses, gets, puts, deletes, evictions, expirations;
  uint64_t filter_queries, filter_negatives, filter_false_positives;
} macho__shard_counters;

struct macho__shard {
  atomic_uint lock; /* 0 free, 1 held: see macho__lock */
  const struct macho_cache *cache;
  const macho__alloc *alloc;

  macho__entry *entries; /* slab, slab_cap entries */
  uint32_t slab_cap;     /* allocated entry slots (grows by doubling up to capacity) */
  uint32_t free_head;    /* free list through entry.next */
  uint32_t len;          /* live entries */
  uint32_t capacity;     /* entry capacity of this shard */

  macho__slot *index;
  uint32_t nslots;

  uint64_t payload_bytes;  /* key + value bytes stored */
  uint64_t capacity_bytes; /* 0 = no byte budget */
  uint64_t version;        /* bumped on every index change (object-mode lookup restarts) */
  uint64_t rng;            /* xorshift state (Random policy, sampling) */
  uint32_t sweep_cursor;   /* next slab slot the expiry sweep examines */
  uint32_t get_tick;       /* gets since the last get-side sweep */
  bool has_ttl;            /* some entry ever had a deadline: sweeps are worth it */

  const macho__policy_ops *pol;
  void *pol_state; /* pol_inline when it fits, else allocated */
  const macho__filter_ops *fil;
  void *filter;

  macho__shard_counters c;
  /* Policy state lives in the shard's own cache lines: allocated separately,
   * the 12-byte LRU heads of neighbouring shards shared one line, and every
   * hit on one core invalidated the other's (2 threads ran at 0.12x of 1). */
  _Alignas(64) unsigned char pol_inline[128];
  struct macho__metrics *metrics; /* histograms and window (metrics.c); NULL when metrics off */
} __attribute__((aligned(64)));

struct macho_cache {
  macho_config cfg;            /* as opened; object_ops/allocator point at the copies below */
  macho_object_ops obj_ops;
  bool object_mode;
  macho__alloc alloc;
  uint64_t default_ttl_ns;     /* 0 = never */
  uint32_t nshards;
  macho__shard *shards;        /* 64-byte aligned inside shards_block (no false sharing) */
  void *shards_block;
  size_t shards_block_size;
};

static inline macho__entry *macho__entry_at(macho__shard *sh, uint32_t id) {
  assert(id < sh->slab_cap);
  return &sh->entries[id];
}

/* xorshift64*: cheap per-shard randomness. */
static inline uint64_t macho__rand(macho__shard *sh) {
  uint64_t x = sh->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  sh->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* Map a 32-bit hash uniformly onto [0, n) without division (Lemire's fastrange). */
static inline uint32_t macho__fastrange32(uint32_t h, uint32_t n) {
  return (uint32_t)(((uint64_t)h * n) >> 32);
}

/* ---- intrusive lists of entry ids (policies) ---------------------------- */
typedef struct macho__list {
  uint32_t head, tail; /* head = most recently pushed */
  uint32_t len;
} macho__list;

static inline void macho__list_init(macho__list *l) {
  l->head = l->tail = MACHO__NIL;
  l->len = 0;
}

static inline void macho__list_push_front(macho__shard *sh, macho__list *l, uint32_t id) {
  macho__entry *e = macho__entry_at(sh, id);
  e->prev = MACHO__NIL;
  e->next = l->head;
  if (l->head != MACHO__NIL) macho__entry_at(sh, l->head)->prev = id;
  else l->tail = id;
  l->head = id;
  l->len++;
}

static inline void macho__list_remove(macho__shard *sh, macho__list *l, uint32_t id) {
  macho__entry *e = macho__entry_at(sh, id);
  if (e->prev != MACHO__NIL) macho__entry_at(sh, e->prev)->next = e->next;
  else l->head = e->next;
  if (e->next != MACHO__NIL) macho__entry_at(sh, e->next)->prev = e->prev;
  else l->tail = e->prev;
  e->prev = e->next = MACHO__NIL;
  assert(l->len > 0);
  l->len--;
}

static inline uint32_t macho__list_pop_back(macho__shard *sh, macho__list *l) {
  uint32_t id = l->tail;
  if (id != MACHO__NIL) macho__list_remove(sh, l, id);
  return id;
}

static inline void macho__list_move_front(macho__shard *sh, macho__list *l, uint32_t id) {
  if (l->head == id) return;
  macho__list_remove(sh, l, id);
  macho__list_push_front(sh, l, id);
}

/* ---- table.c: the index ---------------------------------------------------- */
int macho__index_init(macho__shard *sh, uint32_t slab_cap);
void macho__index_free(macho__shard *sh);
/* Bytes mode lookup; returns the entry id or MACHO__NIL. */
uint32_t macho__index_find_bytes(const macho__shard *sh, uint64_t hash, const void *key, size_t klen);
void macho__index_insert(macho__shard *sh, uint64_t hash, uint32_t id);
void macho__index_remove(macho__shard *sh, uint64_t hash, uint32_t id);
/* Rebuild the index for a new slab size (growth). MACHO_ENOMEM leaves it as it was. */
int macho__index_resize(macho__shard *sh, uint32_t slab_cap);
uint32_t macho__index_slots_for(uint32_t slab_cap);

/* ---- shard.c --------------------------------------------------------------- */
/* Objects to release after the shard lock is dropped (object mode only). */
typedef struct macho__dead {
  void *obj[MACHO__DEAD_MAX];
  uint32_t n;
} macho__dead;

int macho__shard_init(macho__shard *sh, const struct macho_cache *c, uint32_t index,
                      uint32_t capacity, uint64_t capacity_bytes);
void macho__shard_destroy(macho__shard *sh, macho__dead *dead_or_null);
/* Remove a live entry for `reason`: index, policy (unless `from_victim`),
 * filter, counters, lifespan; frees the payload (bytes) or queues the objects
 * on `dead` (objects). */
void macho__shard_remove(macho__shard *sh, uint32_t id, macho_removal reason, uint64_t now,
                         bool from_victim, macho__dead *dead);
/* Let a static filter rebuild from the live hashes when it asks to (after
 * each filter add/remove). */
void macho__shard_filter_maintain(macho__shard *sh);
/* Evict one entry chosen by the policy. */
void macho__shard_evict_one(macho__shard *sh, uint64_t now, macho__dead *dead);
/* Make room for one more entry of `bytes` payload: evicts as needed and grows
 * the slab. MACHO_ENOMEM when the slab cannot grow (nothing evicted then). */
int macho__shard_reserve(macho__shard *sh, uint64_t bytes, uint64_t now, macho__dead *dead);
/* Take a free slot (after reserve), copy *tmpl into it (key, val, hash,
 * expire_ns, born_ns), index it, tell policy and filter. Returns the id. */
uint32_t macho__shard_link_new(macho__shard *sh, const macho__entry *tmpl);
/* Drop every entry. Objects go to the returned slab copy, see shard.c. */
int macho__shard_clear(macho__shard *sh, uint64_t now, macho__dead *dead,
                       macho__entry **old_slab, uint32_t *old_cap);

/* ---- expiry.c -------------------------------------------------------------- */
uint64_t macho__now(const struct macho_cache *c);         /* deadlines: coarse (ms) */
uint64_t macho__now_precise(const struct macho_cache *c); /* latency: ns */
uint64_t macho__ttl_to_ns(double ttl_seconds); /* caller validated: >= 0, not NaN */
static inline bool macho__expired(const macho__entry *e, uint64_t now) {
  return e->expire_ns != 0 && e->expire_ns <= now;
}
/* Examine up to `budget` slab slots from the sweep cursor, reclaiming expired
 * entries. Returns the number reclaimed. */
uint32_t macho__sweep(macho__shard *sh, uint64_t now, uint32_t budget, macho__dead *dead);

/* ---- metrics.c ------------------------------------------------------------- */
void macho__metrics_on_remove(macho__shard *sh, const macho__entry *e, macho_removal reason,
                              uint64_t now);
size_t macho__shard_memory(const macho__shard *sh);
/* Add one shard's counters into *o (shard lock held). */
void macho__shard_add_counters(macho_counters *o, const macho__shard *sh);
/* Histograms of a shard: allocated on the shard's first record when config.metrics != 0. */
int macho__metrics_init(macho__shard *sh);
void macho__metrics_destroy(macho__shard *sh);

/* Latency sampling. A call takes lat_begin() on entry and lat_end() with the
 * shard lock held just before unlocking. Which calls are timed is decided by
 * a per-thread tick, so there is no shared write and no clock read on the
 * calls that are not sampled (none at all with metrics off). */
enum { MACHO__OP_GET = 0, MACHO__OP_PUT = 1 };
typedef struct macho__lat {
  uint64_t t0;
  bool on;
} macho__lat;
extern _Thread_local uint32_t macho__lat_tick[2]; /* per op: an alternating get/put
                                                      pattern must not alias with the period */
void macho__metrics_on_latency(macho__shard *sh, int op, uint64_t t0, uint64_t t1);
static inline macho__lat macho__lat_begin(const struct macho_cache *c, int op) {
  macho__lat l = {0, false};
  int m = c->cfg.metrics;
  if (m == 2 || (m == 1 && (++macho__lat_tick[op] & (MACHO_LATENCY_SAMPLE_EVERY - 1)) == 0)) {
    l.on = true;
    l.t0 = macho__now_precise(c);
  }
  return l;
}
static inline void macho__lat_end(const struct macho_cache *c, macho__shard *sh, int op,
                                  macho__lat l) {
  if (macho__unlikely(l.on)) macho__metrics_on_latency(sh, op, l.t0, macho__now_precise(c));
}

/* ---- lock helpers ---------------------------------------------------------- */
/* The shard lock: test-and-test-and-set with a bounded spin, then yield.
 * Critical sections are tens of nanoseconds, so a waiter almost always gets
 * the lock within a few spins; a pthread mutex instead sleeps in the kernel
 * on contention, and on this VM a futex round trip costs microseconds: two
 * threads on a 4-shard cache ran at 0.12x of one thread with a mutex. The
 * yield keeps a waiter from burning its slice when the holder was preempted. */
void macho__lock_slow(macho__shard *sh);
static inline void macho__lock(macho__shard *sh) {
  if (macho__likely(!atomic_exchange_explicit(&sh->lock, 1u, memory_order_acquire))) return;
  macho__lock_slow(sh);
}
static inline void macho__unlock(macho__shard *sh) {
  atomic_store_explicit(&sh->lock, 0u, memory_order_release);
}

#endif /* MACHO_INTERNAL_H */
