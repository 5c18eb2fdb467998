/*
 * s3fifo.c -- S3-FIFO (Yang, Zhang, Qiu, Yue, Rashmi: "FIFO queues are all you
 * need for cache eviction", SOSP'23), following libCacheSim's S3FIFO.c so that
 * our miss ratios can be compared with its published ones.
 *
 * Three FIFO queues. New entries go to the small queue S (10% of capacity);
 * most of them are requested once and leave soon ("quick demotion"), their
 * hashes going to a ghost queue G. An entry leaving S after at least two hits
 * moves to the main queue M (90%) instead. A missed key whose hash is in G was
 * evicted too early: it is inserted straight into M. M is a CLOCK with a
 * 2-bit counter: an entry at M's tail with a nonzero count is reinserted at
 * M's head with its count minus one; one with count zero is evicted. G holds
 * hashes only, as many as 90% of capacity, oldest forgotten first.
 *
 * Choices inherited from libCacheSim (default parameters): move-to-main
 * threshold 2 hits, ghost 90% of capacity, small = floor(10% of capacity).
 * New entries always enter S, even before the cache is full (so S may hold
 * more than its share until the first evictions drain it). That is the
 * original S3-FIFO (libCacheSim's S3FIFOv0.c) and reproduces the reference
 * miss ratios in ../shared/traces/README.md exactly; the later S3FIFO.c sends
 * entries that find S full to M until the first eviction, which pins those
 * entries in M on scan-like traces (lirs_loop, lirs_cs, lirs_multi*) and
 * moves the figures by up to 14 points. We differ in one place: libCacheSim
 * refuses to cache any object when S would hold a single entry (capacities
 * 10..19), hence its 100% miss ratio there; a cache must store what it is
 * given, so S is at least one entry here.
 *
 * Policy bits: 0..1 = hit count (saturating at 3, which is all either
 * queue's rule looks at: S promotes at 2, M keeps min(count, 3) - 1), bit 2
 * = queue. Hits and misses both arrive through the read buffer, in order
 * (a miss consults the ghost, a hit cancels a pending ghost hit).
 * The ghost is a FIFO list over a preallocated node pool plus an open
 * addressing table from hash to node (backward-shift deletion), all sized at
 * init: no operation allocates. About 40 bytes per entry of capacity.
 */
#include "policy.h"

enum { Q_SMALL = 0, Q_MAIN = 1 };
#define MOVE_TO_MAIN_THRESHOLD 2u
#define MAX_COUNT 3u

typedef struct ghost_node {
  uint64_t hash;
  uint32_t prev, next; /* prev = newer, next = older */
} ghost_node;

/* Index slots carry the hash's high half, so a probe and a backward shift
 * read only the table; a node is touched only on a full match. */
typedef struct ghost_slot {
  uint32_t tag;  /* hash >> 32; its low bits are the home slot */
  uint32_t node; /* NIL = empty */
} ghost_slot;

typedef struct ghost {
  ghost_node *nodes;
  ghost_slot *table;
  uint32_t cap, mask;
  uint32_t head, tail, len, free_node;
} ghost;

#define COUNT_MASK 3u
#define QUEUE_BIT 4u

typedef struct s3fifo_state {
  macho__dlist small, main;
  macho__link *lk;
  uint32_t nslots;
  uint32_t small_cap, main_cap;
  bool ghost_hit;      /* the last get miss found ghost_hash in the ghost */
  uint64_t ghost_hash;
  ghost g;
} s3fifo_state;

/* ---- ghost ---------------------------------------------------------------- */
static size_t ghost_table_slots(uint32_t cap) {
  size_t n = 4;
  while (n < 2u * (size_t)cap) n <<= 1;
  return n;
}

static void ghost_reset(ghost *g) {
  if (!g->cap) return;
  for (uint32_t i = 0; i <= g->mask; i++) g->table[i].node = MACHO__NIL;
  for (uint32_t i = 0; i < g->cap; i++) g->nodes[i].next = i + 1 < g->cap ? i + 1 : MACHO__NIL;
  g->free_node = 0;
  g->head = g->tail = MACHO__NIL;
  g->len = 0;
}

/* Table slot holding `hash`, or the empty slot where the probe ended. The
 * high half picks the home slot: the shard's index uses the low half. */
static uint32_t ghost_probe(const ghost *g, uint64_t hash) {
  uint32_t tag = (uint32_t)(hash >> 32);
  uint32_t i = tag & g->mask;
  while (g->table[i].node != MACHO__NIL &&
         (g->table[i].tag != tag || g->nodes[g->table[i].node].hash != hash))
    i = (i + 1) & g->mask;
  return i;
}

static void ghost_table_delete(ghost *g, uint32_t i) {
  /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & g->mask;
    if (g->table[j].node == MACHO__NIL) break;
    uint32_t home = g->table[j].tag & g->mask;
    /* Move j back to i unless its home lies cyclically in (i, j]. */
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      g->table[i] = g->table[j];
      i = j;
    }
  }
  g->table[i].node = MACHO__NIL;
}

static void ghost_unlink(ghost *g, uint32_t n) {
  ghost_node *x = &g->nodes[n];
  if (x->prev != MACHO__NIL) g->nodes[x->prev].next = x->next;
  else g->head = x->next;
  if (x->next != MACHO__NIL) g->nodes[x->next].prev = x->prev;
  else g->tail = x->prev;
  x->next = g->free_node;
  g->free_node = n;
  g->len--;
}

/* Remove `hash` if present; true when it was. */
static bool ghost_take(ghost *g, uint64_t hash) {
  if (!g->cap) return false;
  uint32_t i = ghost_probe(g, hash);
  uint32_t n = g->table[i].node;
  if (n == MACHO__NIL) return false;
  ghost_table_delete(g, i);
  ghost_unlink(g, n);
  return true;
}

static void ghost_add(ghost *g, uint64_t hash) {
  if (!g->cap) return;
  if (g->table[ghost_probe(g, hash)].node != MACHO__NIL) return; /* already remembered */
  if (g->len == g->cap) {
    uint32_t old = g->tail;
    ghost_table_delete(g, ghost_probe(g, g->nodes[old].hash));
    ghost_unlink(g, old);
  }
  uint32_t n = g->free_node;
  ghost_node *x = &g->nodes[n];
  g->free_node = x->next;
  x->hash = hash;
  x->prev = MACHO__NIL;
  x->next = g->head;
  if (g->head != MACHO__NIL) g->nodes[g->head].prev = n;
  else g->tail = n;
  g->head = n;
  g->len++;
  g->table[ghost_probe(g, hash)] = (ghost_slot){(uint32_t)(hash >> 32), n};
}

static size_t ghost_bytes(const ghost *g) {
  if (!g->cap) return 0;
  return (size_t)g->cap * sizeof(ghost_node) + ((size_t)g->mask + 1) * sizeof(ghost_slot);
}

/* ---- policy ----------------------------------------------------------------- */
static int s3fifo_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  s3fifo_state *s = st;
  macho__dlist_init(&s->small);
  macho__dlist_init(&s->main);
  s->nslots = nslots;
  s->lk = macho__links_new(sh, nslots);
  if (!s->lk) return MACHO_ENOMEM;
  s->small_cap = (uint32_t)(capacity * 0.10);
  if (s->small_cap == 0) s->small_cap = 1;
  s->main_cap = capacity > s->small_cap ? capacity - s->small_cap : 0;
  ghost *g = &s->g;
  g->cap = (uint32_t)(capacity * 0.90);
  if (!g->cap) return MACHO_OK;
  size_t slots = ghost_table_slots(g->cap);
  g->mask = (uint32_t)(slots - 1);
  g->nodes = macho__malloc(&sh->cache->alloc, (size_t)g->cap * sizeof(ghost_node));
  g->table = macho__malloc(&sh->cache->alloc, slots * sizeof(ghost_slot));
  if (!g->nodes || !g->table) {
    macho__free(&sh->cache->alloc, g->nodes, (size_t)g->cap * sizeof(ghost_node));
    macho__free(&sh->cache->alloc, g->table, slots * sizeof(ghost_slot));
    macho__links_free(sh, s->lk, nslots);
    g->nodes = NULL;
    g->table = NULL;
    s->lk = NULL;
    return MACHO_ENOMEM;
  }
  ghost_reset(g);
  return MACHO_OK;
}

static void s3fifo_destroy(void *st, macho__shard *sh) {
  s3fifo_state *s = st;
  macho__links_free(sh, s->lk, s->nslots);
  s->lk = NULL;
  ghost *g = &s->g;
  if (!g->cap) return;
  macho__free(&sh->cache->alloc, g->nodes, (size_t)g->cap * sizeof(ghost_node));
  macho__free(&sh->cache->alloc, g->table, ((size_t)g->mask + 1) * sizeof(ghost_slot));
  g->nodes = NULL;
  g->table = NULL;
}

static void push(macho__shard *sh, s3fifo_state *s, uint32_t id, uint32_t queue, uint32_t count) {
  macho__pol_set(sh, id, (queue == Q_MAIN ? QUEUE_BIT : 0u) | count);
  macho__dlist_push_front(s->lk, queue == Q_SMALL ? &s->small : &s->main, id);
}

static uint32_t queue_of(macho__shard *sh, uint32_t id) {
  return (macho__pol_bits(sh, id) & QUEUE_BIT) ? Q_MAIN : Q_SMALL;
}
static uint32_t count_of(macho__shard *sh, uint32_t id) { return macho__pol_bits(sh, id) & COUNT_MASK; }

static void s3fifo_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  s3fifo_state *s = st;
  bool ghost_hit = (s->ghost_hit && s->ghost_hash == hash) || ghost_take(&s->g, hash);
  s->ghost_hit = false;
  push(sh, s, id, ghost_hit ? Q_MAIN : Q_SMALL, 0);
}

/* A get miss consults the ghost before the put that follows evicts: as in
 * libCacheSim, the evictions that make room must not push the missed key's
 * own hash out of the ghost. */
static void s3fifo_miss(void *st, macho__shard *sh, uint64_t hash) {
  (void)sh;
  s3fifo_state *s = st;
  if (s->ghost_hit && s->ghost_hash == hash) return; /* a repeated miss */
  s->ghost_hit = ghost_take(&s->g, hash);
  s->ghost_hash = hash;
}

static void s3fifo_hit(void *st, macho__shard *sh, uint32_t id) {
  ((s3fifo_state *)st)->ghost_hit = false;
  uint32_t p = macho__pol_bits(sh, id);
  if ((p & COUNT_MASK) < MAX_COUNT) macho__pol_set(sh, id, p + 1);
}

static void s3fifo_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    if (recs[i] & MACHO__REC_MISS) s3fifo_miss(st, sh, macho__hash63(recs[i]));
    else if (macho__pol_live(sh, (uint32_t)recs[i])) s3fifo_hit(st, sh, (uint32_t)recs[i]);
  }
}

static void s3fifo_remove(void *st, macho__shard *sh, uint32_t id) {
  s3fifo_state *s = st;
  macho__dlist_remove(s->lk, queue_of(sh, id) == Q_SMALL ? &s->small : &s->main, id);
}

/* Evict from S: entries hit often enough move to M; the first one that was not
 * is the victim, and its hash goes to the ghost. NIL when S drained into M. */
static uint32_t evict_small(s3fifo_state *s, macho__shard *sh) {
  uint32_t id;
  while ((id = macho__dlist_pop_back(s->lk, &s->small)) != MACHO__NIL) {
    if (count_of(sh, id) >= MOVE_TO_MAIN_THRESHOLD) {
      push(sh, s, id, Q_MAIN, 0);
    } else {
      ghost_add(&s->g, macho__pol_hash(sh, id));
      return id;
    }
  }
  return MACHO__NIL;
}

/* Evict from M: a CLOCK with a 2-bit counter. */
static uint32_t evict_main(s3fifo_state *s, macho__shard *sh) {
  uint32_t id;
  while ((id = macho__dlist_pop_back(s->lk, &s->main)) != MACHO__NIL) {
    uint32_t count = count_of(sh, id);
    if (count == 0) return id;
    push(sh, s, id, Q_MAIN, (count < MAX_COUNT ? count : MAX_COUNT) - 1);
  }
  return MACHO__NIL;
}

static uint32_t s3fifo_victim(void *st, macho__shard *sh) {
  s3fifo_state *s = st;
  uint32_t id = MACHO__NIL;
  if (s->main.len <= s->main_cap && s->small.len > 0) id = evict_small(s, sh);
  if (id == MACHO__NIL) id = evict_main(s, sh);
  assert(id != MACHO__NIL);
  return id;
}

static void s3fifo_clear(void *st, macho__shard *sh) {
  (void)sh;
  s3fifo_state *s = st;
  macho__dlist_init(&s->small);
  macho__dlist_init(&s->main);
  s->ghost_hit = false;
  ghost_reset(&s->g);
}

static int s3fifo_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  s3fifo_state *s = st;
  macho__dlist lists[2] = {s->small, s->main};
  macho__link *lk = macho__links_remap(sh, s->lk, lists, 2, map, old_n, new_n);
  if (!lk) return MACHO_ENOMEM;
  s->small = lists[0];
  s->main = lists[1];
  s->lk = lk;
  s->nslots = new_n;
  return MACHO_OK;
}

static size_t s3fifo_memory(const void *st) {
  return ghost_bytes(&((const s3fifo_state *)st)->g);
}

static void s3fifo_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  s3fifo_state *s = st;
  /* The policy bits (queue, count) moved with the slot: read them at `to`. */
  macho__dlist_rename(s->lk, queue_of(sh, to) == Q_SMALL ? &s->small : &s->main, from, to);
}

const macho__policy_ops macho__policy_s3fifo = {
    .name = "s3fifo",
    .state_size = sizeof(s3fifo_state),
    .init = s3fifo_init,
    .destroy = s3fifo_destroy,
    .access = MACHO__ACCESS_BUFFER,
    .record_misses = true,
    .insert = s3fifo_insert,
    .on_access = s3fifo_access,
    .remove = s3fifo_remove,
    .victim = s3fifo_victim,
    .clear = s3fifo_clear,
    .remap = s3fifo_remap,
    .move = s3fifo_move,
    .memory = s3fifo_memory,
};
