/*
 * fifo.c -- first in, first out: the oldest entry is the victim.
 *
 * Insertion order is a ring of slot numbers (ring.h: 3 bytes per entry,
 * against 8 for list links), each entry's position kept in its 20 policy
 * bits so that a delete or a cuckoo move finds it at once. A hit changes
 * nothing, so a lock-free get writes nothing at all for this policy.
 */
#include "ring.h"

#define POS_BITS MACHO__M_POL_BITS

typedef struct fifo_state {
  macho__ring q;
} fifo_state;

static uint32_t pos_of(uint64_t c) { return (uint32_t)(c & ((1u << POS_BITS) - 1)); }

static int fifo_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  return macho__ring_init(&((fifo_state *)st)->q, sh, capacity, nslots);
}

static void fifo_destroy(void *st, macho__shard *sh) { macho__ring_free(&((fifo_state *)st)->q, sh); }

static uint64_t where(fifo_state *s, macho__shard *sh, uint32_t id) {
  uint64_t c = macho__ring_find(&s->q, id, macho__pol_bits(sh, id), POS_BITS, s->q.tail, s->q.head);
  assert(c < s->q.head);
  return c;
}

/* The ring is full of live entries and holes: squeeze the holes out,
 * renumbering the survivors. */
static void compact(fifo_state *s, macho__shard *sh) {
  macho__ring *q = &s->q;
  uint64_t w = q->tail;
  for (uint64_t c = q->tail; c < q->head; c++) {
    uint32_t e = macho__ring_get(q, c);
    if (e == MACHO__RING_HOLE) continue;
    if (c != w) {
      macho__ring_set(q, w, e);
      macho__pol_set(sh, e, pos_of(w));
    }
    w++;
  }
  q->head = w;
}

static void fifo_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  (void)hash;
  fifo_state *s = st;
  if (macho__ring_len(&s->q) == s->q.cap) compact(s, sh);
  macho__ring_set(&s->q, s->q.head, id);
  macho__pol_set(sh, id, pos_of(s->q.head));
  s->q.head++;
}

static void fifo_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  (void)st;
  (void)sh;
  (void)recs;
  (void)n;
}

static void fifo_remove(void *st, macho__shard *sh, uint32_t id) {
  fifo_state *s = st;
  macho__ring_set(&s->q, where(s, sh, id), MACHO__RING_HOLE);
}

static uint32_t fifo_victim(void *st, macho__shard *sh) {
  (void)sh;
  fifo_state *s = st;
  uint32_t id;
  while ((id = macho__ring_get(&s->q, s->q.tail)) == MACHO__RING_HOLE) s->q.tail++;
  s->q.tail++;
  return id;
}

static void fifo_clear(void *st, macho__shard *sh) {
  (void)sh;
  fifo_state *s = st;
  s->q.tail = s->q.head = 0;
}

static void fifo_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  fifo_state *s = st;
  /* The policy bits moved with the entry: read them at `to`. */
  uint64_t c = macho__ring_find(&s->q, from, macho__pol_bits(sh, to), POS_BITS, s->q.tail, s->q.head);
  assert(c < s->q.head);
  macho__ring_set(&s->q, c, to);
}

static int fifo_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  (void)old_n;
  return macho__ring_remap(&((fifo_state *)st)->q, sh, map, new_n);
}

static size_t fifo_memory(const void *st) { return macho__ring_bytes(&((const fifo_state *)st)->q); }

/* Oldest at the tail: the ring from tail to head is the eviction order. */
static uint32_t fifo_order(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                           uint32_t max) {
  fifo_state *s = st;
  const macho__ring *q = &s->q;
  uint32_t k = 0;
  if (!hottest) {
    uint64_t c = after == MACHO__NIL ? q->tail : where(s, sh, after) + 1;
    for (; c < q->head && k < max; c++) {
      uint32_t e = macho__ring_get(q, c);
      if (e != MACHO__RING_HOLE) out[k++] = e;
    }
  } else {
    uint64_t c = after == MACHO__NIL ? q->head : where(s, sh, after);
    for (; c > q->tail && k < max; c--) {
      uint32_t e = macho__ring_get(q, c - 1);
      if (e != MACHO__RING_HOLE) out[k++] = e;
    }
  }
  return k;
}

/* A new capacity: a ring sized for it (the shard holds no more entries
 * than it when this runs), holes squeezed out first. */
static int fifo_resize(void *st, macho__shard *sh, uint32_t capacity) {
  fifo_state *s = st;
  compact(s, sh);
  return macho__ring_refit(&s->q, sh, capacity);
}

const macho__policy_ops macho__policy_fifo = {
    .name = "fifo",
    .state_size = sizeof(fifo_state),
    .memory = fifo_memory,
    .access = MACHO__ACCESS_NONE,
    .init = fifo_init,
    .destroy = fifo_destroy,
    .insert = fifo_insert,
    .on_access = fifo_access,
    .remove = fifo_remove,
    .victim = fifo_victim,
    .clear = fifo_clear,
    .remap = fifo_remap,
    .move = fifo_move,
    .order = fifo_order,
    .resize = fifo_resize,
};
