/*
 * table.c -- a shard's index: open addressing, linear probing, no tombstones.
 *
 * Each slot is 8 bytes: the low 32 bits of the key hash (the tag) and the
 * entry id. A probe compares tags first, so a mismatch never touches an entry.
 * The home slot is fastrange(tag, nslots), which lets the table have exactly
 * 1.5 slots per entry of slab instead of rounding up to a power of two; at a
 * load of at most 2/3 linear probing averages 2 probes on a hit and 5 on a
 * miss (Knuth). Deletion shifts the following cluster back (Knuth's
 * Algorithm R), so lookups never wade through tombstones after churn.
 */
#include "internal.h"

uint32_t macho__index_slots_for(uint32_t slab_cap) {
  /* 1.5 slots per entry, and always one empty slot so probes terminate. */
  return slab_cap + slab_cap / 2 + 1;
}

static macho__slot *alloc_slots(const macho__alloc *a, uint32_t n) {
  macho__slot *s = macho__malloc(a, (size_t)n * sizeof *s);
  if (!s) return NULL;
  for (uint32_t i = 0; i < n; i++) s[i].id = MACHO__NIL;
  return s;
}

int macho__index_init(macho__shard *sh, uint32_t slab_cap) {
  uint32_t n = macho__index_slots_for(slab_cap);
  macho__slot *s = alloc_slots(sh->alloc, n);
  if (!s) return MACHO_ENOMEM;
  sh->index = s;
  sh->nslots = n;
  return MACHO_OK;
}

void macho__index_free(macho__shard *sh) {
  macho__free(sh->alloc, sh->index, (size_t)sh->nslots * sizeof *sh->index);
  sh->index = NULL;
  sh->nslots = 0;
}

uint32_t macho__index_find_bytes(const macho__shard *sh, uint64_t hash, const void *key,
                                 size_t klen) {
  const uint32_t tag = (uint32_t)hash;
  const macho__slot *idx = sh->index;
  uint32_t pos = macho__fastrange32(tag, sh->nslots);
  for (;;) {
    macho__slot s = idx[pos];
    if (s.id == MACHO__NIL) return MACHO__NIL;
    if (s.tag == tag) {
      const macho__entry *e = &sh->entries[s.id];
      /* klen 0 with key NULL is the empty key: memcmp(NULL, ...) would be UB. */
      if (e->hash == hash && e->val.len.klen == klen && (!klen || memcmp(e->key, key, klen) == 0))
        return s.id;
    }
    if (++pos == sh->nslots) pos = 0;
  }
}

static void insert_slot(macho__slot *idx, uint32_t nslots, uint32_t tag, uint32_t id) {
  uint32_t pos = macho__fastrange32(tag, nslots);
  while (idx[pos].id != MACHO__NIL)
    if (++pos == nslots) pos = 0;
  idx[pos].tag = tag;
  idx[pos].id = id;
}

void macho__index_insert(macho__shard *sh, uint64_t hash, uint32_t id) {
  insert_slot(sh->index, sh->nslots, (uint32_t)hash, id);
  sh->version++;
}

void macho__index_remove(macho__shard *sh, uint64_t hash, uint32_t id) {
  macho__slot *idx = sh->index;
  const uint32_t n = sh->nslots;
  uint32_t i = macho__fastrange32((uint32_t)hash, n);
  while (idx[i].id != id) {
    assert(idx[i].id != MACHO__NIL);
    if (++i == n) i = 0;
  }
  /* Backward shift: move each later member of the cluster into the hole when
   * its home slot does not lie cyclically in (hole, its position]. */
  uint32_t j = i;
  for (;;) {
    if (++j == n) j = 0;
    if (idx[j].id == MACHO__NIL) break;
    uint32_t home = macho__fastrange32(idx[j].tag, n);
    bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
    if (!stays) {
      idx[i] = idx[j];
      i = j;
    }
  }
  idx[i].id = MACHO__NIL;
  sh->version++;
}

int macho__index_resize(macho__shard *sh, uint32_t slab_cap) {
  uint32_t n = macho__index_slots_for(slab_cap);
  macho__slot *s = alloc_slots(sh->alloc, n);
  if (!s) return MACHO_ENOMEM;
  for (uint32_t i = 0; i < sh->nslots; i++)
    if (sh->index[i].id != MACHO__NIL) insert_slot(s, n, sh->index[i].tag, sh->index[i].id);
  macho__index_free(sh);
  sh->index = s;
  sh->nslots = n;
  sh->version++;
  return MACHO_OK;
}
