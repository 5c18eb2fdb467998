/*
 * sieve.c -- SIEVE (Zhang, Yang, Yue, Vigfusson, Rashmi: "SIEVE is Simpler
 * than LRU: an Efficient Turn-Key Eviction Algorithm for Web Caches",
 * NSDI'24).
 *
 * One FIFO queue (new entries at the head), one "visited" bit per entry and a
 * hand. A hit only sets the bit: no list write, which is why SIEVE is as cheap
 * as FIFO on hits. To evict, the hand walks from where it stopped last time
 * towards the head, clearing visited bits, and evicts the first unvisited
 * entry; past the head it wraps to the tail. Unlike CLOCK, survivors are not
 * moved to the head: they keep their place, so old popular entries sink to the
 * tail side of the hand and new entries are sifted quickly ("quick demotion").
 *
 * meta = visited bit. The hand is an entry id or NIL (= start at the tail).
 */
#include "../internal.h"

typedef struct sieve_state {
  macho__list queue; /* head = newest */
  uint32_t hand;     /* next entry to examine, NIL = the tail */
} sieve_state;

static int sieve_init(void *st, macho__shard *sh, uint32_t capacity) {
  (void)sh;
  (void)capacity;
  sieve_state *s = st;
  macho__list_init(&s->queue);
  s->hand = MACHO__NIL;
  return MACHO_OK;
}

static void sieve_destroy(void *st, macho__shard *sh) {
  (void)st;
  (void)sh;
}

static void sieve_insert(void *st, macho__shard *sh, uint32_t id) {
  macho__entry_at(sh, id)->meta = 0;
  macho__list_push_front(sh, &((sieve_state *)st)->queue, id);
}

static void sieve_hit(void *st, macho__shard *sh, uint32_t id) {
  (void)st;
  macho__entry_at(sh, id)->meta = 1;
}

static void sieve_remove(void *st, macho__shard *sh, uint32_t id) {
  sieve_state *s = st;
  /* The hand must never point at a freed slot: step it towards the head. */
  if (s->hand == id) s->hand = macho__entry_at(sh, id)->prev;
  macho__list_remove(sh, &s->queue, id);
}

static uint32_t sieve_victim(void *st, macho__shard *sh) {
  sieve_state *s = st;
  assert(s->queue.len > 0);
  uint32_t id = s->hand != MACHO__NIL ? s->hand : s->queue.tail;
  /* At most one full lap: after it every bit is clear. */
  for (;;) {
    macho__entry *e = macho__entry_at(sh, id);
    if (!e->meta) break;
    e->meta = 0;
    id = e->prev != MACHO__NIL ? e->prev : s->queue.tail;
  }
  s->hand = macho__entry_at(sh, id)->prev;
  macho__list_remove(sh, &s->queue, id);
  return id;
}

static void sieve_clear(void *st, macho__shard *sh) {
  sieve_init(st, sh, 0);
}

const macho__policy_ops macho__policy_sieve = {
    .name = "sieve",
    .state_size = sizeof(sieve_state),
    .init = sieve_init,
    .destroy = sieve_destroy,
    .on_insert = sieve_insert,
    .on_hit = sieve_hit,
    .on_remove = sieve_remove,
    .victim = sieve_victim,
    .on_clear = sieve_clear,
};
