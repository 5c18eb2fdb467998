/*
 * minisim.c -- a miniature cache over key hashes (see minisim.h).
 *
 * The shell shard holds only what policies touch: the entry slab (links,
 * meta fields, hash, and a non-NULL `key` marking a live slot), its size,
 * the live count, the allocator and a generator. The index maps the hash to
 * the entry id with 32-bit tags (the high half of the hash; the full hash is
 * confirmed in the entry), home slot from the low bits, linear probing and
 * backward-shift deletion, at most half full. Two distinct keys with one
 * 64-bit hash are one key here: with the few thousand keys of a minisim,
 * that happens about once in 10^12 runs.
 */
#include "minisim.h"

/* The `key` of a live slot: any non-NULL pointer (Random checks it). */
static char live_marker;

static size_t index_bytes(const macho__minisim *ms) { return ((size_t)ms->mask + 1) * sizeof(macho__slot); }

int macho__minisim_init(macho__minisim *ms, const macho__alloc *alloc, const macho__policy_ops *ops,
                        uint32_t capacity, uint64_t seed, bool user) {
  memset(ms, 0, sizeof *ms);
  assert(capacity >= 1 && capacity <= MACHO__MAX_SHARD_ENTRIES);
  macho__shard *sh = &ms->sh;
  sh->alloc = alloc;
  sh->capacity = capacity;
  sh->rng = seed | 1u; /* xorshift must not start at 0 */
  size_t slots = 4;
  while (slots < 2u * (size_t)capacity) slots <<= 1;
  sh->entries = macho__calloc(alloc, capacity, sizeof *sh->entries);
  ms->index = macho__malloc(alloc, slots * sizeof *ms->index);
  ms->st = ops->state_size ? macho__calloc(alloc, 1, ops->state_size) : NULL;
  ms->user = user ? macho__malloc(alloc, (size_t)capacity * sizeof *ms->user) : NULL;
  if (!sh->entries || !ms->index || (ops->state_size && !ms->st) || (user && !ms->user)) goto nomem;
  sh->slab_cap = capacity;
  ms->mask = (uint32_t)(slots - 1);
  for (size_t i = 0; i < slots; i++) ms->index[i].id = MACHO__NIL;
  for (uint32_t i = 0; i < capacity; i++) sh->entries[i].next = i + 1 < capacity ? i + 1 : MACHO__NIL;
  sh->free_head = 0;
  if (ops->init(ms->st, sh, capacity) != MACHO_OK) goto nomem;
  ms->ops = ops;
  return MACHO_OK;
nomem:
  macho__free(alloc, sh->entries, (size_t)capacity * sizeof *sh->entries);
  macho__free(alloc, ms->index, slots * sizeof *ms->index);
  macho__free(alloc, ms->st, ops->state_size);
  macho__free(alloc, ms->user, (size_t)capacity * sizeof *ms->user);
  memset(ms, 0, sizeof *ms);
  return MACHO_ENOMEM;
}

void macho__minisim_destroy(macho__minisim *ms) {
  if (!ms->ops) return;
  macho__shard *sh = &ms->sh;
  ms->ops->destroy(ms->st, sh);
  macho__free(sh->alloc, ms->st, ms->ops->state_size);
  macho__free(sh->alloc, sh->entries, (size_t)sh->slab_cap * sizeof *sh->entries);
  macho__free(sh->alloc, ms->index, index_bytes(ms));
  macho__free(sh->alloc, ms->user, (size_t)sh->slab_cap * sizeof *ms->user);
  memset(ms, 0, sizeof *ms);
}

/* Slot of `hash`, or the empty slot where its probe ends. */
static uint32_t probe(const macho__minisim *ms, uint64_t hash) {
  uint32_t tag = (uint32_t)(hash >> 32), i = (uint32_t)hash & ms->mask;
  for (;;) {
    const macho__slot *s = &ms->index[i];
    if (s->id == MACHO__NIL || (s->tag == tag && ms->sh.entries[s->id].hash == hash)) return i;
    i = (i + 1) & ms->mask;
  }
}

static void index_delete(macho__minisim *ms, uint32_t i) {
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & ms->mask;
    if (ms->index[j].id == MACHO__NIL) break;
    uint32_t home = (uint32_t)ms->sh.entries[ms->index[j].id].hash & ms->mask;
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      ms->index[i] = ms->index[j];
      i = j;
    }
  }
  ms->index[i].id = MACHO__NIL;
}

/* Drop a live entry already unlinked from the policy. */
static void free_entry(macho__minisim *ms, uint32_t id) {
  macho__shard *sh = &ms->sh;
  macho__entry *e = &sh->entries[id];
  index_delete(ms, probe(ms, e->hash));
  e->key = NULL;
  e->next = sh->free_head;
  sh->free_head = id;
  sh->len--;
}

bool macho__minisim_access_user(macho__minisim *ms, uint64_t hash, uint32_t **slot, uint32_t *evicted) {
  macho__shard *sh = &ms->sh;
  uint32_t i = probe(ms, hash);
  uint32_t id = ms->index[i].id;
  *evicted = MACHO__NIL;
  if (id != MACHO__NIL) {
    ms->ops->on_hit(ms->st, sh, id);
    *slot = ms->user ? &ms->user[id] : NULL;
    return true;
  }
  if (ms->ops->on_miss) ms->ops->on_miss(ms->st, sh, hash);
  if (sh->len >= sh->capacity) {
    uint32_t v = ms->ops->victim(ms->st, sh);
    if (ms->user) *evicted = ms->user[v];
    free_entry(ms, v);
    i = probe(ms, hash); /* the deletion may have shifted the probe's end */
  }
  id = sh->free_head;
  macho__entry *e = &sh->entries[id];
  sh->free_head = e->next;
  memset(e, 0, sizeof *e);
  e->key = &live_marker;
  e->hash = hash;
  e->prev = e->next = MACHO__NIL;
  sh->len++;
  ms->index[i] = (macho__slot){(uint32_t)(hash >> 32), id};
  if (ms->user) ms->user[id] = MACHO__NIL;
  *slot = ms->user ? &ms->user[id] : NULL;
  ms->ops->on_insert(ms->st, sh, id);
  return false;
}

bool macho__minisim_access(macho__minisim *ms, uint64_t hash) {
  uint32_t *slot, evicted;
  return macho__minisim_access_user(ms, hash, &slot, &evicted);
}

uint32_t *macho__minisim_user(macho__minisim *ms, uint64_t hash) {
  uint32_t id = ms->index[probe(ms, hash)].id;
  return id == MACHO__NIL || !ms->user ? NULL : &ms->user[id];
}

uint32_t macho__minisim_evict(macho__minisim *ms) {
  assert(ms->sh.len > 0);
  uint32_t v = ms->ops->victim(ms->st, &ms->sh);
  uint32_t word = ms->user ? ms->user[v] : MACHO__NIL;
  free_entry(ms, v);
  return word;
}

uint32_t *macho__minisim_user_at(macho__minisim *ms, uint32_t i) {
  return ms->sh.entries[i].key && ms->user ? &ms->user[i] : NULL;
}

void macho__minisim_remove(macho__minisim *ms, uint64_t hash) {
  uint32_t id = ms->index[probe(ms, hash)].id;
  if (id == MACHO__NIL) return;
  ms->ops->on_remove(ms->st, &ms->sh, id);
  free_entry(ms, id);
}

void macho__minisim_clear(macho__minisim *ms) {
  macho__shard *sh = &ms->sh;
  for (uint32_t i = 0; i <= ms->mask; i++) ms->index[i].id = MACHO__NIL;
  for (uint32_t i = 0; i < sh->slab_cap; i++) {
    sh->entries[i].key = NULL;
    sh->entries[i].next = i + 1 < sh->slab_cap ? i + 1 : MACHO__NIL;
  }
  sh->free_head = 0;
  sh->len = 0;
  ms->ops->on_clear(ms->st, sh);
}

size_t macho__minisim_memory(const macho__minisim *ms) {
  if (!ms->ops) return 0;
  return (size_t)ms->sh.slab_cap * (sizeof(macho__entry) + (ms->user ? sizeof *ms->user : 0)) +
         index_bytes(ms) + ms->ops->state_size +
         (ms->ops->memory ? ms->ops->memory(ms->st) : 0);
}
