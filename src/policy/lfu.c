/*
 * lfu.c -- least and most frequently used, O(1) per operation.
 *
 * The frequency-bucket structure of Shah, Mitra and Matani, "An O(1)
 * algorithm for implementing the LFU cache eviction scheme" (2010): a doubly
 * linked list of buckets in increasing frequency, each bucket holding the
 * entries of that frequency in an intrusive list (most recent at the head).
 * A hit moves an entry to the bucket of frequency + 1, creating it right after
 * the current one if it does not exist; empty buckets are unlinked at once, so
 * the lowest bucket is the list head and the highest its tail. No heap, no
 * scan.
 *
 * Ties are broken by recency in both policies: an entry enters a bucket at its
 * head when it is inserted or hit, so the bucket's tail is the least recently
 * used entry of that frequency.
 *   LFU evicts the least recently used entry of the LOWEST frequency.
 *   MFU evicts the least recently used entry of the HIGHEST frequency.
 * Frequencies start at 1 on insert, saturate at UINT32_MAX and are forgotten
 * on eviction (no history, no aging), as in libCacheSim's LFU.
 *
 * Per slot: links (8 bytes) in its bucket's list; its bucket node is kept in
 * the slot's 20 policy bits. Bucket nodes come from a pool that starts at
 * 64 and doubles on demand (one node per distinct frequency present, so it
 * stays small); if it cannot grow, or a frequency would need node 2^20, the
 * entry keeps its frequency and only its recency changes, which is exact
 * until then and never fails an operation. Hits arrive through the read
 * buffer.
 * LFU and MFU share everything but victim(), hence one file.
 */
#include "policy.h"

typedef struct bucket {
  uint32_t freq;
  uint32_t prev, next; /* neighbouring buckets (lower, higher frequency) */
  uint32_t head, tail; /* entries of this frequency, head = most recent */
} bucket;

typedef struct lfu_state {
  bucket *pool;
  uint32_t pool_cap;
  uint32_t free_node; /* free nodes chained through `next` */
  uint32_t lowest, highest;
  macho__link *lk;    /* per slot: neighbours in its bucket */
  uint32_t nslots;
  macho__shard *sh;
} lfu_state;

#define INITIAL_POOL 64u
#define MAX_POOL (1u << MACHO__M_POL_BITS) /* node numbers fit the policy bits */

static uint32_t bucket_of(macho__shard *sh, uint32_t id) { return macho__pol_bits(sh, id); }

/* Chain nodes [from, pool_cap) onto the free list. */
static void chain(lfu_state *s, uint32_t from) {
  for (uint32_t i = s->pool_cap; i-- > from;) {
    s->pool[i].next = s->free_node;
    s->free_node = i;
  }
}

static void reset(lfu_state *s) {
  s->free_node = MACHO__NIL;
  chain(s, 0);
  s->lowest = s->highest = MACHO__NIL;
}

static int lfu_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  (void)capacity;
  lfu_state *s = st;
  s->sh = sh;
  s->pool_cap = INITIAL_POOL;
  s->nslots = nslots;
  s->pool = macho__malloc(&sh->cache->alloc, (size_t)s->pool_cap * sizeof(bucket));
  s->lk = macho__links_new(sh, nslots);
  if (!s->pool || !s->lk) {
    macho__free(&sh->cache->alloc, s->pool, (size_t)s->pool_cap * sizeof(bucket));
    macho__links_free(sh, s->lk, nslots);
    s->pool = NULL;
    s->lk = NULL;
    return MACHO_ENOMEM;
  }
  reset(s);
  return MACHO_OK;
}

static void lfu_destroy(void *st, macho__shard *sh) {
  lfu_state *s = st;
  macho__free(&sh->cache->alloc, s->pool, (size_t)s->pool_cap * sizeof(bucket));
  macho__links_free(sh, s->lk, s->nslots);
  s->pool = NULL;
  s->lk = NULL;
}

/* A free node, doubling the pool when it is empty; NIL when it cannot. */
static bool have_node(lfu_state *s) {
  if (s->free_node != MACHO__NIL) return true;
  if (s->pool_cap >= MAX_POOL) return false;
  uint32_t cap = s->pool_cap * 2 > MAX_POOL ? MAX_POOL : s->pool_cap * 2;
  bucket *p = macho__realloc(&s->sh->cache->alloc, s->pool, (size_t)s->pool_cap * sizeof(bucket),
                             (size_t)cap * sizeof(bucket));
  if (!p) return false;
  s->pool = p;
  uint32_t old = s->pool_cap;
  s->pool_cap = cap;
  chain(s, old);
  return true;
}

/* A new empty bucket of frequency `freq` linked right after `after` (NIL =
 * first). The caller made sure a node is free (have_node). */
static uint32_t bucket_new(lfu_state *s, uint32_t freq, uint32_t after) {
  uint32_t b = s->free_node;
  assert(b != MACHO__NIL);
  bucket *n = &s->pool[b];
  s->free_node = n->next;
  n->freq = freq;
  n->head = n->tail = MACHO__NIL;
  n->prev = after;
  n->next = after == MACHO__NIL ? s->lowest : s->pool[after].next;
  if (n->prev != MACHO__NIL) s->pool[n->prev].next = b;
  else s->lowest = b;
  if (n->next != MACHO__NIL) s->pool[n->next].prev = b;
  else s->highest = b;
  return b;
}

static void bucket_free(lfu_state *s, uint32_t b) {
  bucket *n = &s->pool[b];
  if (n->prev != MACHO__NIL) s->pool[n->prev].next = n->next;
  else s->lowest = n->next;
  if (n->next != MACHO__NIL) s->pool[n->next].prev = n->prev;
  else s->highest = n->prev;
  n->next = s->free_node;
  s->free_node = b;
}

/* The bucket's entry list viewed as a macho__dlist for the shared helpers. */
static void entry_push(lfu_state *s, bucket *n, uint32_t id) {
  macho__dlist l = {n->head, n->tail, 0};
  macho__dlist_push_front(s->lk, &l, id);
  n->head = l.head;
  n->tail = l.tail;
}

static void entry_unlink(lfu_state *s, uint32_t id) {
  uint32_t b = bucket_of(s->sh, id);
  bucket *n = &s->pool[b];
  macho__dlist l = {n->head, n->tail, 1};
  macho__dlist_remove(s->lk, &l, id);
  n->head = l.head;
  n->tail = l.tail;
  if (n->head == MACHO__NIL) bucket_free(s, b);
}

static void lfu_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  (void)hash;
  lfu_state *s = st;
  uint32_t b = s->lowest;
  if (b == MACHO__NIL || s->pool[b].freq != 1) {
    /* No node for frequency 1: join the lowest bucket (there is one: the
     * pool only runs dry while entries are cached). */
    if (have_node(s) || b == MACHO__NIL) b = bucket_new(s, 1, MACHO__NIL);
  }
  macho__pol_set(sh, id, b);
  entry_push(s, &s->pool[b], id);
}

static void hit(lfu_state *s, uint32_t id) {
  macho__shard *sh = s->sh;
  uint32_t b = bucket_of(sh, id);
  bucket *n = &s->pool[b];
  if (n->freq == UINT32_MAX) { /* saturated: only recency changes */
    macho__dlist l = {n->head, n->tail, 1};
    macho__dlist_move_front(s->lk, &l, id);
    n->head = l.head;
    n->tail = l.tail;
    return;
  }
  uint32_t f = n->freq + 1;
  if (n->head == id && n->tail == id && (n->next == MACHO__NIL || s->pool[n->next].freq != f)) {
    n->freq = f; /* alone in its bucket: relabel, no node needed */
    return;
  }
  uint32_t nb = n->next;
  if (nb == MACHO__NIL || s->pool[nb].freq != f) {
    if (!have_node(s)) { /* no node for it: keep the frequency, refresh the recency */
      macho__dlist l = {n->head, n->tail, 1};
      macho__dlist_move_front(s->lk, &l, id);
      n->head = l.head;
      n->tail = l.tail;
      return;
    }
    nb = bucket_new(s, f, b);
    n = &s->pool[b]; /* the pool may have moved */
  }
  entry_unlink(s, id);
  macho__pol_set(sh, id, nb);
  entry_push(s, &s->pool[nb], id);
}

static void lfu_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (!(recs[i] & MACHO__REC_MISS) && macho__pol_live(sh, (uint32_t)recs[i])) hit(st, (uint32_t)recs[i]);
}

static void lfu_remove(void *st, macho__shard *sh, uint32_t id) {
  (void)sh;
  entry_unlink(st, id);
}

static uint32_t take_tail(lfu_state *s, uint32_t b) {
  assert(b != MACHO__NIL);
  uint32_t id = s->pool[b].tail;
  entry_unlink(s, id);
  return id;
}

static uint32_t lfu_victim(void *st, macho__shard *sh) {
  (void)sh;
  lfu_state *s = st;
  return take_tail(s, s->lowest);
}

static uint32_t mfu_victim(void *st, macho__shard *sh) {
  (void)sh;
  lfu_state *s = st;
  return take_tail(s, s->highest);
}

static void lfu_clear(void *st, macho__shard *sh) {
  (void)sh;
  reset(st);
}

/* New slot names: rebuild each bucket's entry list through map (the
 * bucket numbers moved with the policy bits). */
static int lfu_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  lfu_state *s = st;
  macho__link *lk = macho__links_new(sh, new_n);
  if (!lk) return MACHO_ENOMEM;
  if (map) {
    for (uint32_t b = s->lowest; b != MACHO__NIL; b = s->pool[b].next) {
      bucket *n = &s->pool[b];
      macho__dlist l;
      macho__dlist_init(&l);
      for (uint32_t id = n->tail; id != MACHO__NIL; id = s->lk[id].prev) macho__dlist_push_front(lk, &l, map[id]);
      n->head = l.head;
      n->tail = l.tail;
    }
  } else {
    reset(s);
  }
  macho__links_free(sh, s->lk, old_n);
  s->lk = lk;
  s->nslots = new_n;
  return MACHO_OK;
}

static void lfu_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  lfu_state *s = st;
  bucket *n = &s->pool[bucket_of(sh, to)]; /* the bits moved with the entry */
  macho__dlist l = {n->head, n->tail, 1};
  macho__dlist_rename(s->lk, &l, from, to);
  n->head = l.head;
  n->tail = l.tail;
}

static size_t lfu_memory(const void *st) {
  const lfu_state *s = st;
  return (size_t)s->pool_cap * sizeof(bucket) + (size_t)s->nslots * sizeof(macho__link);
}

/* Eviction order: buckets from the victim's end (LFU: the lowest
 * frequency; MFU: the highest), each from its tail (least recent) to its
 * head. `mfu` flips which end of the bucket list is cold. */
static uint32_t walk(lfu_state *s, macho__shard *sh, bool mfu, bool hottest, uint32_t after, uint32_t *out,
                     uint32_t max) {
  if (after != MACHO__NIL && !macho__pol_live(sh, after)) return 0;
  bool up = mfu == hottest; /* walk buckets towards higher frequencies */
  uint32_t k = 0, b, id;
  if (after == MACHO__NIL) {
    b = up ? s->lowest : s->highest;
    id = b == MACHO__NIL ? MACHO__NIL : hottest ? s->pool[b].head : s->pool[b].tail;
  } else {
    b = bucket_of(sh, after);
    id = hottest ? s->lk[after].next : s->lk[after].prev;
  }
  while (b != MACHO__NIL && k < max) {
    for (; id != MACHO__NIL && k < max; id = hottest ? s->lk[id].next : s->lk[id].prev) out[k++] = id;
    b = up ? s->pool[b].next : s->pool[b].prev;
    if (b != MACHO__NIL) id = hottest ? s->pool[b].head : s->pool[b].tail;
  }
  return k;
}

static uint32_t lfu_order(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                          uint32_t max) {
  return walk(st, sh, false, hottest, after, out, max);
}
static uint32_t mfu_order(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                          uint32_t max) {
  return walk(st, sh, true, hottest, after, out, max);
}

static uint32_t lfu_hint(void *st, macho__shard *sh, uint32_t id) {
  lfu_state *s = st;
  return s->pool[bucket_of(sh, id)].freq;
}

/* The pool grows on demand (one node per frequency present): the
 * capacity is not used, so a resize has nothing to do. */
static int lfu_resize(void *st, macho__shard *sh, uint32_t capacity) {
  (void)st;
  (void)sh;
  (void)capacity;
  return MACHO_OK;
}

const macho__policy_ops macho__policy_lfu = {
    .name = "lfu",
    .state_size = sizeof(lfu_state),
    .memory = lfu_memory,
    .access = MACHO__ACCESS_BUFFER,
    .init = lfu_init,
    .destroy = lfu_destroy,
    .insert = lfu_insert,
    .on_access = lfu_access,
    .remove = lfu_remove,
    .victim = lfu_victim,
    .clear = lfu_clear,
    .remap = lfu_remap,
    .move = lfu_move,
    .order = lfu_order,
    .hint = lfu_hint,
    .resize = lfu_resize,
};

const macho__policy_ops macho__policy_mfu = {
    .name = "mfu",
    .state_size = sizeof(lfu_state),
    .memory = lfu_memory,
    .access = MACHO__ACCESS_BUFFER,
    .init = lfu_init,
    .destroy = lfu_destroy,
    .insert = lfu_insert,
    .on_access = lfu_access,
    .remove = lfu_remove,
    .victim = mfu_victim,
    .clear = lfu_clear,
    .remap = lfu_remap,
    .move = lfu_move,
    .order = mfu_order,
    .hint = lfu_hint,
    .resize = lfu_resize,
};
