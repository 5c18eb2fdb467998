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
 * The queue is a ring of slot numbers (ring.h, 3 bytes per entry) in
 * insertion order. An eviction leaves a hole at the hand; survivors the hand
 * passes slide down over the holes behind it (a write cursor trails the
 * hand), so when the hand reaches the head the examined part is dense again
 * and order is kept. The same CAS that clears a survivor's visited bit
 * records its new position. Policy bits: 0 = visited, 1..19 = position.
 */
#include "ring.h"

#define VISITED 1u
#define POS_BITS (MACHO__M_POL_BITS - 1u)

typedef struct sieve_state {
  macho__ring q;
  uint64_t hand; /* next position to examine */
  uint64_t wr;   /* survivors the hand passed this round are in [tail, wr); [wr, hand) is free */
} sieve_state;

static uint32_t bits_for(uint64_t c, bool visited) {
  return (uint32_t)((c & ((1u << POS_BITS) - 1)) << 1) | (visited ? VISITED : 0u);
}
static uint32_t pos_bits(macho__shard *sh, uint32_t id) { return macho__pol_bits(sh, id) >> 1; }

static int sieve_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  sieve_state *s = st;
  s->hand = s->wr = 0;
  return macho__ring_init(&s->q, sh, capacity, nslots);
}

static void sieve_destroy(void *st, macho__shard *sh) { macho__ring_free(&((sieve_state *)st)->q, sh); }

/* Where a live entry is: the examined part or the unexamined part. */
static uint64_t where(sieve_state *s, uint32_t id, uint32_t pos) {
  uint64_t c = macho__ring_find(&s->q, id, pos, POS_BITS, s->q.tail, s->wr);
  if (c >= s->wr) c = macho__ring_find(&s->q, id, pos, POS_BITS, s->hand, s->q.head);
  assert(c < s->q.head);
  return c;
}

/* Slide a run of the ring down to `w`, skipping holes, renumbering what
 * moves; returns the next free position. */
static uint64_t slide(sieve_state *s, macho__shard *sh, uint64_t from, uint64_t to, uint64_t w) {
  for (uint64_t c = from; c < to; c++) {
    uint32_t e = macho__ring_get(&s->q, c);
    if (e == MACHO__RING_HOLE) continue;
    if (c != w) {
      macho__ring_set(&s->q, w, e);
      macho__pol_set(sh, e, bits_for(w, macho__pol_bits(sh, e) & VISITED));
    }
    w++;
  }
  return w;
}

/* Full (entries, holes and the gap behind the hand fill the ring): make the
 * examined and the unexamined parts dense again; the gap closes. */
static void compact(sieve_state *s, macho__shard *sh) {
  uint64_t w = slide(s, sh, s->q.tail, s->wr, s->q.tail);
  uint64_t head = slide(s, sh, s->hand, s->q.head, w);
  s->wr = s->hand = w;
  s->q.head = head;
}

static void sieve_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  (void)hash;
  sieve_state *s = st;
  if (macho__ring_len(&s->q) == s->q.cap) compact(s, sh);
  macho__ring_set(&s->q, s->q.head, id);
  macho__pol_set(sh, id, bits_for(s->q.head, false));
  s->q.head++;
}

/* Locked gets (object mode, filters) deliver hits here. */
static void sieve_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  (void)st;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = (uint32_t)recs[i];
    if (!(recs[i] & MACHO__REC_MISS) && macho__pol_live(sh, id))
      macho__pol_set(sh, id, macho__pol_bits(sh, id) | VISITED);
  }
}

/* Past the head: the survivors [tail, wr) are the queue; the hand goes to the tail. */
static void wrap(sieve_state *s) {
  s->q.head = s->wr;
  s->hand = s->wr = s->q.tail;
}

/* After an eviction or a removal at or after the hand: the hand rests on the
 * next live entry, skipping holes, and past the head wraps at once, as the
 * list version moves its hand to a removed node's newer neighbour or to NIL.
 * Else an entry inserted while the hand rests on holes at the head would be
 * examined before the tail (fuzz_api's exact model caught it). */
static void rest_hand(sieve_state *s) {
  while (s->hand < s->q.head && macho__ring_get(&s->q, s->hand) == MACHO__RING_HOLE) s->hand++;
  if (s->hand == s->q.head) wrap(s);
}

static void sieve_remove(void *st, macho__shard *sh, uint32_t id) {
  sieve_state *s = st;
  uint64_t c = where(s, id, pos_bits(sh, id));
  macho__ring_set(&s->q, c, MACHO__RING_HOLE);
  if (c >= s->hand) rest_hand(s);
}

static uint32_t sieve_victim(void *st, macho__shard *sh) {
  sieve_state *s = st;
  macho__ring *q = &s->q;
  for (;;) {
    if (s->hand == q->head) {
      wrap(s);
      continue;
    }
    uint32_t e = macho__ring_get(q, s->hand);
    if (e == MACHO__RING_HOLE) {
      s->hand++;
      continue;
    }
    if (macho__pol_bits(sh, e) & VISITED) { /* a survivor: clear the bit, slide it down */
      if (s->wr != s->hand) macho__ring_set(q, s->wr, e);
      macho__pol_set(sh, e, bits_for(s->wr, false));
      s->wr++;
      s->hand++;
      continue;
    }
    s->hand++; /* its place joins the gap */
    rest_hand(s);
    return e;
  }
}

static void sieve_clear(void *st, macho__shard *sh) {
  (void)sh;
  sieve_state *s = st;
  s->q.tail = s->q.head = s->hand = s->wr = 0;
}

static void sieve_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  sieve_state *s = st;
  macho__ring_set(&s->q, where(s, from, pos_bits(sh, to)), to); /* bits moved with it */
}

static int sieve_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  (void)old_n;
  sieve_state *s = st;
  int rc = macho__ring_remap(&s->q, sh, map, new_n);
  if (rc == MACHO_OK && !map) s->hand = s->wr = 0;
  return rc;
}

static size_t sieve_memory(const void *st) { return macho__ring_bytes(&((const sieve_state *)st)->q); }

/* What the hand would do with no hit to come: walk [hand, head) evicting
 * the unvisited entries and sliding the visited ones (bits cleared) behind
 * [tail, wr), wrap; the next round evicts the unvisited of [tail, wr), then
 * the survivors it just slid (their bits clear now), and clears the visited
 * of [tail, wr), which a third round evicts. So the coldest are, in order:
 * the unvisited of [hand, head), the unvisited of [tail, wr), the visited
 * of [hand, head), the visited of [tail, wr); the hottest are that
 * backwards. Resuming after a slot: its position and bit say which of the
 * four runs it is in. */
typedef struct run {
  uint64_t from, to;
  bool visited; /* the run takes the entries whose bit is this */
} run;

static uint32_t sieve_order(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                            uint32_t max) {
  sieve_state *s = st;
  const macho__ring *q = &s->q;
  const run runs[4] = {
      {s->hand, q->head, false}, {q->tail, s->wr, false}, {s->hand, q->head, true}, {q->tail, s->wr, true}};
  int first = hottest ? 3 : 0;
  uint64_t c = 0;
  bool resume = after != MACHO__NIL;
  if (resume) {
    if (!macho__pol_live(sh, after)) return 0;
    uint64_t at = where(s, after, pos_bits(sh, after));
    first = (at < s->wr ? 1 : 0) + ((macho__pol_bits(sh, after) & VISITED) ? 2 : 0);
    c = hottest ? at : at + 1; /* the next position in the walk's direction */
  }
  uint32_t k = 0;
  for (int r = first; r >= 0 && r <= 3 && k < max; r += hottest ? -1 : 1) {
    const run *x = &runs[r];
    uint64_t p = resume ? c : hottest ? x->to : x->from;
    resume = false;
    for (;;) {
      if (hottest ? p <= x->from : p >= x->to) break;
      uint64_t at = hottest ? p - 1 : p;
      uint32_t e = macho__ring_get(q, at);
      if (e != MACHO__RING_HOLE && ((macho__pol_bits(sh, e) & VISITED) != 0) == x->visited) {
        out[k++] = e;
        if (k == max) break;
      }
      p = hottest ? p - 1 : p + 1;
    }
  }
  return k;
}

static uint32_t sieve_hint(void *st, macho__shard *sh, uint32_t id) {
  (void)st;
  return macho__pol_bits(sh, id) & VISITED;
}

/* A new capacity: a ring sized for it (the shard holds no more entries
 * than it when this runs), the holes and the gap squeezed out first. */
static int sieve_resize(void *st, macho__shard *sh, uint32_t capacity) {
  sieve_state *s = st;
  compact(s, sh);
  return macho__ring_refit(&s->q, sh, capacity);
}

const macho__policy_ops macho__policy_sieve = {
    .name = "sieve",
    .state_size = sizeof(sieve_state),
    .memory = sieve_memory,
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
    .order = sieve_order,
    .hint = sieve_hint,
    .resize = sieve_resize,
};
