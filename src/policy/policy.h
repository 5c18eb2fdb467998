/*
 * policy.h -- the contract between a shard and its eviction policy, and the
 * helpers a policy may use. A policy sees its shard only through this file.
 *
 * Entries are named by slot index (uint32_t, stable while the entry lives;
 * a table rebuild renames every slot at once through remap()). A policy
 * keeps its per-entry state either in the slot's 20 policy bits
 * (macho__pol_bits/macho__pol_set) or in arrays of its own sized from the
 * slot count (links for lists, rings, counters), allocated through the
 * shard's allocator.
 *
 * Every hook runs with the shard lock held. Hits reach the policy in one of
 * three ways, declared by `access`:
 *   MACHO__ACCESS_NONE    hits change nothing (FIFO, Random);
 *   MACHO__ACCESS_BIT     the reader sets bit `access_bit` of the slot's
 *                         policy bits itself, with a CAS, only when it is
 *                         clear (SIEVE, CLOCK);
 *   MACHO__ACCESS_BUFFER  the reader appends the slot to a read buffer and
 *                         the shard replays the buffer through access() in
 *                         batches (LRU, LFU, S3-FIFO, W-TinyLFU), Caffeine's scheme.
 * A policy that wants to see misses (W-TinyLFU's sketch, S3-FIFO's ghost)
 * sets record_misses: get misses then go through the buffer too, as
 * records flagged MACHO__REC_MISS carrying the key's hash.
 * Single-threaded, every record reaches the policy, in order, before the
 * next insert/remove/victim call: a simulation is exact. With several
 * threads a full buffer may drop records and a record may name a slot
 * refilled since (then it promotes the newcomer); the bound is
 * MACHO__STRIPES * MACHO__STRIPE_LEN records per shard.
 *
 * Hashes reach policies with their top bit cleared (macho__pol_hash63), in
 * every hook, so that a miss record fits in one word.
 */
#ifndef MACHO_POLICY_H
#define MACHO_POLICY_H

#include "../internal.h"

struct macho__policy_ops {
  const char *name;
  size_t state_size;  /* zeroed before init */
  uint8_t access;     /* MACHO__ACCESS_* */
  uint8_t access_bit; /* BIT/COUNT: position in the policy bits */
  bool record_misses; /* get misses reach access() as MACHO__REC_MISS records */
  bool admission;     /* an admission filter that keeps the first comers on ties
                         (W-TinyLFU): a snapshot loads the hottest first, not last */
  /* capacity = the shard's entry capacity, nslots = its table's slot count.
   * May allocate (sh->alloc). */
  int (*init)(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots);
  void (*destroy)(void *st, macho__shard *sh);
  /* A new entry in slot s; its policy bits hold what the slot's previous
   * occupant left (0 in a fresh table). `hash` is the key's hash. */
  void (*insert)(void *st, macho__shard *sh, uint32_t s, uint64_t hash);
  /* Hits (and puts that replaced a value) and, with record_misses, get
   * misses, oldest first. A hit record is a slot number; a slot may be
   * named that is no longer occupied: skip it (macho__pol_live). A miss
   * record is MACHO__REC_MISS | the key's 63-bit hash. */
  void (*on_access)(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n);
  /* Optional: a key absent from the shard is about to be inserted, before
   * the evictions that make room for it (S3-FIFO consults its ghost here). */
  void (*pre_insert)(void *st, macho__shard *sh, uint64_t hash);
  /* Slot s leaves for any reason but eviction by victim(). */
  void (*remove)(void *st, macho__shard *sh, uint32_t s);
  /* Choose an entry to evict and forget it; the shard then removes it.
   * Called only while the shard holds at least one entry. */
  uint32_t (*victim)(void *st, macho__shard *sh);
  /* Every entry is gone. */
  void (*clear)(void *st, macho__shard *sh);
  /* The entry in slot `from` now lives in slot `to` (a cuckoo move that
   * made room for an insert; its policy bits moved with it). */
  void (*move)(void *st, macho__shard *sh, uint32_t from, uint32_t to);
  /* The table was rebuilt: map[old] = new slot, or MACHO__NIL for slots that
   * were free; new_nslots slots now. MACHO_ENOMEM leaves the state as it
   * was (the shard keeps the old table). */
  int (*remap)(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_nslots,
               uint32_t new_nslots);
  size_t (*memory)(const void *st); /* bytes allocated (optional) */
  /* ---- optional hooks for inspection and resizing (NULL = not offered) ---- */
  /* The shard's entry capacity changed (macho_resize; the shard holds no
   * more entries than the new capacity when it is called). Without this
   * hook, or when it returns MACHO_ENOTSUP, a policy with state is rebuilt:
   * a fresh init for the new capacity and every entry inserted again in
   * the order victim() hands them out (coldest first). */
  int (*resize)(void *st, macho__shard *sh, uint32_t capacity);
  /* Up to max slots in eviction order without changing anything: from the
   * next victim on (hottest = false) or from the last one back (true),
   * starting after slot `after` (MACHO__NIL = at the end). Returns how many.
   * Approximate where hits to come decide (SIEVE, S3-FIFO, W-TinyLFU). */
  uint32_t (*order)(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                    uint32_t max);
  /* What the policy knows of slot s (macho_entry_view.frequency). */
  uint32_t (*hint)(void *st, macho__shard *sh, uint32_t s);
};

/* The table of policies, indexed by macho_policy; NULL = not built. */
extern const macho__policy_ops *const macho__policies[MACHO_POLICY_COUNT];

/* ---- what a policy may read and change of its shard ---------------------------- */
static inline macho__table *macho__pol_table(macho__shard *sh) {
  return atomic_load_explicit(&sh->table, memory_order_relaxed); /* lock held */
}
static inline uint32_t macho__pol_bits(macho__shard *sh, uint32_t s) {
  return macho__slot_pol(macho__slot_at(macho__pol_table(sh), s));
}
static inline void macho__pol_set(macho__shard *sh, uint32_t s, uint32_t bits) {
  macho__slot_set_pol(macho__slot_at(macho__pol_table(sh), s), bits);
}
/* victim() is handing back an entry the admission filter refused (the
 * removal listener then says MACHO_REMOVED_REJECTED, W-TinyLFU). */
static inline void macho__pol_reject(macho__shard *sh) { sh->rejected = 1; }
/* Slots in the table now (policies size their arrays from it). */
static inline uint32_t macho__pol_nslots(macho__shard *sh) { return macho__pol_table(sh)->nslots; }
/* Whether slot s holds an entry now. */
static inline bool macho__pol_live(macho__shard *sh, uint32_t s) {
  macho__table *t = macho__pol_table(sh);
  return s < t->nslots && macho__slot_tag(t, s) != 0;
}
/* The hash of slot s's key (recomputed in bytes mode), top bit cleared. */
uint64_t macho__pol_hash(macho__shard *sh, uint32_t s);
#define MACHO__REC_MISS (1ull << 63)
static inline uint64_t macho__hash63(uint64_t h) { return h & ~MACHO__REC_MISS; }

/* xorshift64*: cheap per-shard randomness, reproducible from config.seed. */
static inline uint64_t macho__pol_rand(macho__shard *sh) {
  uint64_t x = sh->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  sh->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* ---- intrusive doubly linked lists over a links array ------------------------------ */
typedef struct macho__link {
  uint32_t prev, next;
} macho__link;

typedef struct macho__dlist {
  uint32_t head, tail; /* head = most recently pushed */
  uint32_t len;
} macho__dlist;

static inline void macho__dlist_init(macho__dlist *l) {
  l->head = l->tail = MACHO__NIL;
  l->len = 0;
}

static inline void macho__dlist_push_front(macho__link *lk, macho__dlist *l, uint32_t id) {
  lk[id].prev = MACHO__NIL;
  lk[id].next = l->head;
  if (l->head != MACHO__NIL) lk[l->head].prev = id;
  else l->tail = id;
  l->head = id;
  l->len++;
}

static inline void macho__dlist_remove(macho__link *lk, macho__dlist *l, uint32_t id) {
  macho__link *e = &lk[id];
  if (e->prev != MACHO__NIL) lk[e->prev].next = e->next;
  else l->head = e->next;
  if (e->next != MACHO__NIL) lk[e->next].prev = e->prev;
  else l->tail = e->prev;
  e->prev = e->next = MACHO__NIL;
  assert(l->len > 0);
  l->len--;
}

static inline uint32_t macho__dlist_pop_back(macho__link *lk, macho__dlist *l) {
  uint32_t id = l->tail;
  if (id != MACHO__NIL) macho__dlist_remove(lk, l, id);
  return id;
}

/* The entry `from` of list l is now named `to` (same place in the list). */
static inline void macho__dlist_rename(macho__link *lk, macho__dlist *l, uint32_t from, uint32_t to) {
  lk[to] = lk[from];
  if (lk[to].prev != MACHO__NIL) lk[lk[to].prev].next = to;
  else l->head = to;
  if (lk[to].next != MACHO__NIL) lk[lk[to].next].prev = to;
  else l->tail = to;
  lk[from].prev = lk[from].next = MACHO__NIL;
}

static inline void macho__dlist_move_front(macho__link *lk, macho__dlist *l, uint32_t id) {
  if (l->head == id) return;
  macho__dlist_remove(lk, l, id);
  macho__dlist_push_front(lk, l, id);
}

/* The order() hook of list-based policies: lists[0..nl) from the coldest
 * list to the hottest, each with its coldest entry at the tail. Lists
 * `after` (in list `in`) or, with after = MACHO__NIL, from the cold end
 * (hottest = false: tail to head, list after list) or the hot end. */
static inline uint32_t macho__lists_order(const macho__link *lk, const macho__dlist *const *lists,
                                          uint32_t nl, bool hottest, uint32_t in, uint32_t after,
                                          uint32_t *out, uint32_t max) {
  uint32_t k = 0;
  if (!hottest) {
    for (uint32_t li = after == MACHO__NIL ? 0 : in; li < nl && k < max; li++) {
      uint32_t id = li == in && after != MACHO__NIL ? lk[after].prev : lists[li]->tail;
      for (; id != MACHO__NIL && k < max; id = lk[id].prev) out[k++] = id;
    }
  } else {
    for (uint32_t li = after == MACHO__NIL ? nl : in + 1; li-- > 0 && k < max;) {
      uint32_t id = li == in && after != MACHO__NIL ? lk[after].next : lists[li]->head;
      for (; id != MACHO__NIL && k < max; id = lk[id].next) out[k++] = id;
    }
  }
  return k;
}

/* Links for nslots slots (allocated through the shard), and their renaming
 * after a rebuild: every list's ids go through map. */
macho__link *macho__links_new(macho__shard *sh, uint32_t nslots);
void macho__links_free(macho__shard *sh, macho__link *lk, uint32_t nslots);
/* Build the links of the new table from the old ones: each of the nlists
 * lists is renamed through map. Returns the new array (the old one is
 * freed) or NULL on ENOMEM (nothing changed). */
macho__link *macho__links_remap(macho__shard *sh, macho__link *lk, macho__dlist *lists,
                                uint32_t nlists, const uint32_t *map, uint32_t old_nslots,
                                uint32_t new_nslots);

#endif /* MACHO_POLICY_H */
