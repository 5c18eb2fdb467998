/*
 * ring.c -- allocation and renaming of the FIFO-family rings (ring.h).
 */
#include "ring.h"

static uint32_t width_for(uint32_t nslots) { return nslots < 0xffffffu ? 3u : 4u; }
static uint32_t cap_for(uint32_t entries) { return entries + entries / 16u + 2u; }
static size_t bytes_of(uint32_t cap, uint32_t width) { return (size_t)cap * width + 1u; }

int macho__ring_init(macho__ring *r, macho__shard *sh, uint32_t entries, uint32_t nslots) {
  memset(r, 0, sizeof *r);
  r->width = width_for(nslots);
  r->cap = cap_for(entries);
  r->el = macho__malloc(&sh->cache->alloc, bytes_of(r->cap, r->width));
  return r->el ? MACHO_OK : MACHO_ENOMEM;
}

void macho__ring_free(macho__ring *r, macho__shard *sh) {
  macho__free(&sh->cache->alloc, r->el, bytes_of(r->cap, r->width));
  r->el = NULL;
}

int macho__ring_remap(macho__ring *r, macho__shard *sh, const uint32_t *map, uint32_t new_nslots) {
  macho__ring n = *r;
  n.width = width_for(new_nslots);
  if (n.width != r->width) {
    n.el = macho__malloc(&sh->cache->alloc, bytes_of(n.cap, n.width));
    if (!n.el) return MACHO_ENOMEM;
  }
  if (!map) {
    n.tail = n.head = 0;
  } else {
    /* Same positions, so the entries' remembered positions stay right. */
    for (uint64_t c = r->tail; c < r->head; c++) {
      uint32_t e = macho__ring_get(r, c);
      macho__ring_set(&n, c, e == MACHO__RING_HOLE || map[e] == MACHO__NIL ? MACHO__RING_HOLE : map[e]);
    }
  }
  if (n.el != r->el) macho__ring_free(r, sh);
  *r = n;
  return MACHO_OK;
}
