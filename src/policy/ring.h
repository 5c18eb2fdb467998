/*
 * ring.h -- an insertion-order queue of slots in 3 or 4 bytes per entry,
 * for the FIFO-family policies (FIFO, SIEVE, S3-FIFO's queues).
 *
 * A doubly linked list costs 8 bytes per slot; this costs 3 (4 when a shard
 * has 2^24 slots or more) per entry of capacity plus 1/16 slack. Positions
 * are 64-bit counters [tail, head); element c lives at c % cap. An entry
 * knows its position modulo 2^bits from its slot's policy bits, so a delete
 * or a cuckoo move finds it in O(1) (1 or 2 candidates); a deleted entry
 * leaves a HOLE, skipped when the tail passes it, and when the ring fills
 * up with holes it is compacted (the holes are at least 1/16 of it then, so
 * compaction costs O(1) amortised). Only the shard lock's holder touches a
 * ring: no atomics.
 */
#ifndef MACHO_RING_H
#define MACHO_RING_H

#include "policy.h"

#define MACHO__RING_HOLE UINT32_MAX

typedef struct macho__ring {
  unsigned char *el; /* cap elements of `width` bytes (+ 1 byte of slack for 3-byte loads) */
  uint32_t width;    /* 3 or 4 */
  uint32_t cap;
  uint64_t tail, head;
} macho__ring;

static inline uint32_t macho__ring_get(const macho__ring *r, uint64_t c) {
  const unsigned char *p = r->el + (size_t)(c % r->cap) * r->width;
  uint32_t x;
  memcpy(&x, p, 4); /* the allocation has a spare byte for the last 3-byte element */
  if (r->width == 3) {
    x &= 0xffffffu;
    return x == 0xffffffu ? MACHO__RING_HOLE : x;
  }
  return x;
}

static inline void macho__ring_set(macho__ring *r, uint64_t c, uint32_t v) {
  unsigned char *p = r->el + (size_t)(c % r->cap) * r->width;
  memcpy(p, &v, r->width); /* little-endian: the low 3 bytes; a HOLE stays all ones */
}

/* Room for `entries` (the shard's capacity, plus 1/16) slots numbered below
 * nslots; or room for exactly `cap`. */
int macho__ring_init(macho__ring *r, macho__shard *sh, uint32_t entries, uint32_t nslots);
int macho__ring_init_cap(macho__ring *r, macho__shard *sh, uint32_t cap, uint32_t entries);
/* A new array of `cap` (>= the span in use) under the same counters. */
int macho__ring_resize(macho__ring *r, macho__shard *sh, uint32_t cap);
/* The array and element width macho__ring_init gives `entries` (a new shard
 * capacity, macho_resize), under the same counters; the span in use must
 * fit. ENOMEM changes nothing. */
int macho__ring_refit(macho__ring *r, macho__shard *sh, uint32_t entries);
void macho__ring_free(macho__ring *r, macho__shard *sh);
/* Bytes the ring's array holds (its policy's memory hook). */
static inline size_t macho__ring_bytes(const macho__ring *r) { return r->el ? (size_t)r->cap * r->width + 1u : 0; }
static inline uint64_t macho__ring_len(const macho__ring *r) { return r->head - r->tail; }

/* Where slot s is, given its position modulo 2^bits; r->head if absent. */
static inline uint64_t macho__ring_find(const macho__ring *r, uint32_t s, uint32_t pos, uint32_t bits,
                                        uint64_t from, uint64_t to) {
  const uint64_t span = 1ull << bits;
  uint64_t c = from + ((pos - (from & (span - 1))) & (span - 1));
  for (; c < to; c += span)
    if (macho__ring_get(r, c) == s) return c;
  return r->head;
}

/* Every element renamed through map (NULL = emptied), in place: the width
 * follows the capacity, so this never allocates and never fails. */
int macho__ring_remap(macho__ring *r, macho__shard *sh, const uint32_t *map, uint32_t new_nslots);

#endif /* MACHO_RING_H */
