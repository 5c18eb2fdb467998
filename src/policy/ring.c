/*
 * ring.c -- allocation and renaming of the FIFO-family rings (ring.h).
 */
#include "ring.h"

/* 3-byte slot numbers while every table the shard can have fits them. The
 * argument is the shard's capacity in entries: its final table has about
 * 1.07 slots per entry, so the width never changes as the table grows. */
static uint32_t width_for(uint32_t entries) { return entries < 15000000u ? 3u : 4u; }
static uint32_t cap_for(uint32_t entries) { return entries + entries / 16u + 2u; }
static size_t bytes_of(uint32_t cap, uint32_t width) { return (size_t)cap * width + 1u; }

int macho__ring_init_cap(macho__ring *r, macho__shard *sh, uint32_t cap, uint32_t entries) {
  memset(r, 0, sizeof *r);
  r->width = width_for(entries);
  r->cap = cap;
  r->el = macho__malloc(&sh->cache->alloc, bytes_of(r->cap, r->width));
  return r->el ? MACHO_OK : MACHO_ENOMEM;
}

int macho__ring_init(macho__ring *r, macho__shard *sh, uint32_t entries, uint32_t nslots) {
  (void)nslots;
  return macho__ring_init_cap(r, sh, cap_for(entries), entries);
}

int macho__ring_resize(macho__ring *r, macho__shard *sh, uint32_t cap) {
  assert(r->head - r->tail <= cap);
  macho__ring n = *r;
  n.cap = cap;
  n.el = macho__malloc(&sh->cache->alloc, bytes_of(cap, n.width));
  if (!n.el) return MACHO_ENOMEM;
  /* Elements keep their counters (so the positions the entries remember
   * stay right); only the array under them changes. */
  for (uint64_t c = r->tail; c < r->head; c++) macho__ring_set(&n, c, macho__ring_get(r, c));
  macho__ring_free(r, sh);
  *r = n;
  return MACHO_OK;
}

int macho__ring_refit(macho__ring *r, macho__shard *sh, uint32_t entries) {
  uint32_t cap = cap_for(entries);
  if (cap < r->head - r->tail) cap = (uint32_t)(r->head - r->tail);
  macho__ring n = *r;
  n.cap = cap;
  n.width = width_for(entries);
  n.el = macho__malloc(&sh->cache->alloc, bytes_of(cap, n.width));
  if (!n.el) return MACHO_ENOMEM;
  for (uint64_t c = r->tail; c < r->head; c++) macho__ring_set(&n, c, macho__ring_get(r, c));
  macho__ring_free(r, sh);
  *r = n;
  return MACHO_OK;
}

void macho__ring_free(macho__ring *r, macho__shard *sh) {
  macho__free(&sh->cache->alloc, r->el, bytes_of(r->cap, r->width));
  r->el = NULL;
}

int macho__ring_remap(macho__ring *r, macho__shard *sh, const uint32_t *map, uint32_t new_nslots) {
  (void)sh;
  (void)new_nslots;
  macho__ring n = *r; /* same width (it follows the capacity): renamed in place */
  if (!map) {
    n.tail = n.head = 0;
  } else {
    /* Same positions, so the entries' remembered positions stay right. */
    for (uint64_t c = r->tail; c < r->head; c++) {
      uint32_t e = macho__ring_get(r, c);
      macho__ring_set(&n, c, e == MACHO__RING_HOLE || map[e] == MACHO__NIL ? MACHO__RING_HOLE : map[e]);
    }
  }
  *r = n;
  return MACHO_OK;
}
