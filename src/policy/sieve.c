/*
 * sieve.c -- SIEVE (Zhang, Yang, Yue, Vigfusson, Rashmi: "SIEVE is Simpler
 * than LRU: an Efficient Turn-Key Eviction Algorithm for Web Caches",
 * NSDI'24).
 *
 * One FIFO queue (new entries at the head), one "visited" bit per entry and a
 * hand. A hit only sets the bit: the lock-free reader does it itself with a
 * CAS on the slot's policy bits, and only when the bit is clear, so a hot
 * entry costs one write per eviction round, not one per hit. To evict, the
 * hand walks from where it stopped last time towards the head, clearing
 * visited bits, and evicts the first unvisited entry; past the head it wraps
 * to the tail. Unlike CLOCK, survivors are not moved to the head: they keep
 * their place, so old popular entries sink to the tail side of the hand and
 * new entries are sifted quickly ("quick demotion").
 *
 * Policy bit 0 = visited. The hand is a slot or NIL (= start at the tail).
 */
#include "policy.h"

#define VISITED 1u

typedef struct sieve_state {
  macho__dlist queue; /* head = newest */
  uint32_t hand;      /* next entry to examine, NIL = the tail */
  macho__link *lk;
  uint32_t nslots;
} sieve_state;

static int sieve_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  (void)capacity;
  sieve_state *s = st;
  macho__dlist_init(&s->queue);
  s->hand = MACHO__NIL;
  s->lk = macho__links_new(sh, nslots);
  s->nslots = nslots;
  return s->lk ? MACHO_OK : MACHO_ENOMEM;
}

static void sieve_destroy(void *st, macho__shard *sh) {
  sieve_state *s = st;
  macho__links_free(sh, s->lk, s->nslots);
  s->lk = NULL;
}

static void sieve_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  (void)hash;
  sieve_state *s = st;
  macho__pol_set(sh, id, 0);
  macho__dlist_push_front(s->lk, &s->queue, id);
}

/* Locked gets (object mode, filters) deliver hits here. */
static void sieve_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  (void)st;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = (uint32_t)recs[i];
    if (!(recs[i] & MACHO__REC_MISS) && macho__pol_live(sh, id)) macho__pol_set(sh, id, VISITED);
  }
}

static void sieve_remove(void *st, macho__shard *sh, uint32_t id) {
  (void)sh;
  sieve_state *s = st;
  /* The hand must never point at a freed slot: step it towards the head. */
  if (s->hand == id) s->hand = s->lk[id].prev;
  macho__dlist_remove(s->lk, &s->queue, id);
}

static uint32_t sieve_victim(void *st, macho__shard *sh) {
  sieve_state *s = st;
  assert(s->queue.len > 0);
  uint32_t id = s->hand != MACHO__NIL ? s->hand : s->queue.tail;
  /* At most one full lap: after it every bit is clear. */
  for (;;) {
    if (!(macho__pol_bits(sh, id) & VISITED)) break;
    macho__pol_set(sh, id, 0);
    id = s->lk[id].prev != MACHO__NIL ? s->lk[id].prev : s->queue.tail;
  }
  s->hand = s->lk[id].prev;
  macho__dlist_remove(s->lk, &s->queue, id);
  return id;
}

static void sieve_clear(void *st, macho__shard *sh) {
  (void)sh;
  sieve_state *s = st;
  macho__dlist_init(&s->queue);
  s->hand = MACHO__NIL;
}

static int sieve_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  sieve_state *s = st;
  uint32_t hand = s->hand;
  macho__link *lk = macho__links_remap(sh, s->lk, &s->queue, 1, map, old_n, new_n);
  if (!lk) return MACHO_ENOMEM;
  s->lk = lk;
  s->nslots = new_n;
  s->hand = (map && hand != MACHO__NIL) ? map[hand] : MACHO__NIL;
  return MACHO_OK;
}

static void sieve_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  (void)sh;
  sieve_state *s = st;
  macho__dlist_rename(s->lk, &s->queue, from, to);
  if (s->hand == from) s->hand = to;
}

const macho__policy_ops macho__policy_sieve = {
    .name = "sieve",
    .state_size = sizeof(sieve_state),
    .access = MACHO__ACCESS_BIT,
    .access_bit = 0,
    .init = sieve_init,
    .destroy = sieve_destroy,
    .insert = sieve_insert,
    .on_access = sieve_access,
    .remove = sieve_remove,
    .victim = sieve_victim,
    .clear = sieve_clear,
    .remap = sieve_remap,
    .move = sieve_move,
};
