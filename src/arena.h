/*
 * arena.h -- where a shard keeps keys and values longer than 8 bytes.
 *
 * Blocks come in size classes (multiples of 8 up to 64 bytes, then four per
 * power of two up to MACHO__ARENA_MAX), carved by a bump pointer from
 * chunks that double in size, and recycled through a free list per class.
 * A slot names its block by offset, not pointer: a reader holding a stale
 * or torn reference resolves it through the chunk directory with bounds
 * checks, so it can read the wrong bytes (and then fail its seqlock check)
 * but never an unmapped address. Chunks are freed only when the arena is
 * (close, or after the grace period of a clear), so bytes a reader may still
 * be copying are never returned to the system under it. Reads and writes of
 * block contents are relaxed atomic word accesses: the race with a reader
 * is defined behaviour.
 *
 * Payloads above MACHO__ARENA_MAX are "huge": allocated one by one through
 * the allocator, and read only under the shard lock.
 */
#ifndef MACHO_ARENA_H
#define MACHO_ARENA_H

#include "types.h"

#include <string.h>

#define MACHO__ARENA_BASE 4096u          /* chunk 0's size; chunk i is BASE << i */
#define MACHO__ARENA_MAX (64u * 1024u)   /* largest block; longer payloads are huge */

/* Byte offset where chunk i starts, and the chunk an offset lies in. */
static inline uint64_t macho__chunk_start(uint32_t i) {
  return (uint64_t)MACHO__ARENA_BASE * ((1ull << i) - 1);
}
static inline uint32_t macho__chunk_of(uint64_t off) {
  return 63u - (uint32_t)__builtin_clzll(off / MACHO__ARENA_BASE + 1);
}

/* Reader side: the address of [off, off+len) or NULL when that range is not
 * inside one allocated chunk (a torn reference). */
static inline const unsigned char *macho__arena_resolve(const macho__arena *a, uint64_t off,
                                                        uint32_t len) {
  uint32_t i = macho__chunk_of(off);
  if (i >= MACHO__ARENA_CHUNKS) return NULL;
  const unsigned char *base = atomic_load_explicit(&a->chunk[i], memory_order_acquire);
  uint64_t in = off - macho__chunk_start(i);
  if (!base || in + len > ((uint64_t)MACHO__ARENA_BASE << i)) return NULL;
  return base + in;
}

/* Copy len bytes out of / into an 8-byte-aligned block with relaxed word
 * accesses (the last word is read whole: blocks are multiples of 8). */
static inline void macho__atomic_copy_out(void *dst, const unsigned char *src, uint32_t len) {
  const _Atomic uint64_t *w = (const _Atomic uint64_t *)(const void *)src;
  unsigned char *d = dst;
  uint32_t n = len / 8;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t x = atomic_load_explicit(&w[i], memory_order_relaxed);
    memcpy(d + 8 * i, &x, 8);
  }
  if (len % 8) {
    uint64_t x = atomic_load_explicit(&w[n], memory_order_relaxed);
    memcpy(d + 8 * n, &x, len % 8);
  }
}

static inline void macho__atomic_copy_in(unsigned char *dst, const void *src, uint32_t len) {
  _Atomic uint64_t *w = (_Atomic uint64_t *)(void *)dst;
  const unsigned char *s = src;
  uint32_t n = len / 8;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t x;
    memcpy(&x, s + 8 * i, 8);
    atomic_store_explicit(&w[i], x, memory_order_relaxed);
  }
  if (len % 8) {
    uint64_t x = 0;
    memcpy(&x, s + 8 * n, len % 8);
    atomic_store_explicit(&w[n], x, memory_order_relaxed);
  }
}

/* 1 when the block's first len bytes equal key. */
static inline bool macho__atomic_equal(const unsigned char *blk, const void *key, uint32_t len) {
  const _Atomic uint64_t *w = (const _Atomic uint64_t *)(const void *)blk;
  const unsigned char *k = key;
  uint32_t n = len / 8;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t x = atomic_load_explicit(&w[i], memory_order_relaxed), y;
    memcpy(&y, k + 8 * i, 8);
    if (x != y) return false;
  }
  if (len % 8) {
    uint64_t x = atomic_load_explicit(&w[n], memory_order_relaxed), y = 0;
    memcpy(&y, k + 8 * n, len % 8);
    if ((x & ((1ull << (8 * (len % 8))) - 1)) != y) return false;
  }
  return true;
}

struct macho__alloc;
/* Writer side (shard lock held). */
void macho__arena_init(macho__arena *a);
/* A block for len bytes (1..MACHO__ARENA_MAX); MACHO_ENOMEM leaves the arena unchanged. */
int macho__arena_alloc(macho__arena *a, struct macho__alloc *al, uint32_t len, uint64_t *off);
void macho__arena_free(macho__arena *a, uint64_t off, uint32_t len);
unsigned char *macho__arena_ptr(const macho__arena *a, uint64_t off);
/* Free every chunk (nobody may read the arena any more). */
void macho__arena_destroy(macho__arena *a, struct macho__alloc *al);
/* Size of the block the arena hands out for len bytes. */
uint32_t macho__arena_block_size(uint32_t len);

#endif /* MACHO_ARENA_H */
