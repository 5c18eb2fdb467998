/*
 * arena.c -- the writer side of a shard's arena (see arena.h): size classes,
 * the bump pointer over doubling chunks, free lists.
 */
#include "internal.h"

/* Class of a block for len bytes: 0..7 are 8..64 bytes by 8, then four
 * classes per power of two (internal waste at most 25%). */
static uint32_t class_of(uint32_t len) {
  if (len <= 64) return len ? (len - 1) / 8 : 0;
  uint32_t e = 31u - (uint32_t)__builtin_clz(len - 1); /* 2^e < len <= 2^(e+1) */
  uint32_t quarter = (uint32_t)(((len - 1) >> (e - 2)) & 3u);
  return 8u + (e - 6u) * 4u + quarter;
}

static uint32_t class_size(uint32_t c) {
  if (c < 8) return 8u * (c + 1);
  uint32_t e = 6u + (c - 8u) / 4u, q = (c - 8u) % 4u;
  return (1u << e) + (q + 1u) * (1u << (e - 2));
}

uint32_t macho__arena_block_size(uint32_t len) { return class_size(class_of(len)); }

/* The directory is read by lock-free readers while a clear resets it:
 * atomic stores, not memset. */
void macho__arena_init(macho__arena *a) {
  for (uint32_t i = 0; i < MACHO__ARENA_CHUNKS; i++)
    atomic_store_explicit(&a->chunk[i], NULL, memory_order_relaxed);
  a->bump = a->bytes_held = a->bytes_used = 0;
  memset(a->free_head, 0, sizeof a->free_head);
}

unsigned char *macho__arena_ptr(const macho__arena *a, uint64_t off) {
  uint32_t i = macho__chunk_of(off);
  unsigned char *base = atomic_load_explicit(&a->chunk[i], memory_order_relaxed);
  assert(base);
  return base + (off - macho__chunk_start(i));
}

int macho__arena_alloc(macho__arena *a, macho__alloc *al, uint32_t len, uint64_t *off) {
  assert(len > 0 && len <= MACHO__ARENA_MAX);
  uint32_t c = class_of(len), size = class_size(c);
  _Static_assert(MACHO__ARENA_CLASSES >= 48, "classes up to 64 KiB");
  if (a->free_head[c]) {
    uint64_t o = a->free_head[c] - 1;
    _Atomic uint64_t *w = (_Atomic uint64_t *)(void *)macho__arena_ptr(a, o);
    a->free_head[c] = atomic_load_explicit(w, memory_order_relaxed);
    a->bytes_used += size;
    *off = o;
    return MACHO_OK;
  }
  uint64_t o = a->bump;
  uint32_t i = macho__chunk_of(o);
  uint64_t end = macho__chunk_start(i) + ((uint64_t)MACHO__ARENA_BASE << i);
  if (o + size > end) { /* the block would straddle: start at the next chunk (big enough) */
    while (((uint64_t)MACHO__ARENA_BASE << ++i) < size) {}
    o = macho__chunk_start(i);
  }
  if (i >= MACHO__ARENA_CHUNKS) return MACHO_ENOMEM;
  if (!atomic_load_explicit(&a->chunk[i], memory_order_relaxed)) {
    size_t bytes = (size_t)MACHO__ARENA_BASE << i;
    unsigned char *p = macho__malloc(al, bytes);
    if (!p) return MACHO_ENOMEM;
    a->bytes_held += bytes;
    atomic_store_explicit(&a->chunk[i], p, memory_order_release);
  }
  a->bump = o + size;
  a->bytes_used += size;
  *off = o;
  return MACHO_OK;
}

void macho__arena_free(macho__arena *a, uint64_t off, uint32_t len) {
  uint32_t c = class_of(len);
  _Atomic uint64_t *w = (_Atomic uint64_t *)(void *)macho__arena_ptr(a, off);
  atomic_store_explicit(w, a->free_head[c], memory_order_relaxed);
  a->free_head[c] = off + 1;
  a->bytes_used -= class_size(c);
}

void macho__arena_destroy(macho__arena *a, macho__alloc *al) {
  for (uint32_t i = 0; i < MACHO__ARENA_CHUNKS; i++) {
    unsigned char *p = atomic_load_explicit(&a->chunk[i], memory_order_relaxed);
    if (p) macho__free(al, p, (size_t)MACHO__ARENA_BASE << i);
  }
  macho__arena_init(a);
}
