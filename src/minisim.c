/*
 * minisim.c -- a miniature cache over key hashes (see minisim.h).
 *
 * The shell shard holds only what the policy contract reads: a table whose
 * slots carry the policy's 20 bits, whose tag bytes say which slots are live
 * (macho__pol_live), and whose `hashes` array answers macho__pol_hash (the
 * way object-mode tables do), plus a generator and the owner cache (the
 * allocator). The table never grows, so remap and move are never called.
 * Slots are handed out from a free list; the index maps a hash to its slot
 * by linear probing over the slot numbers (the full hash is compared in
 * `hashes`), at most half full, backward-shift deletion. Two distinct keys
 * with one 64-bit hash are one key here: with the few thousand keys of a
 * minisim, about once in 10^12 runs.
 */
#include "minisim.h"

static uint32_t index_slots(uint32_t capacity) {
  uint32_t n = 4;
  while (n < 2u * capacity) n <<= 1;
  return n;
}

static size_t table_bytes(uint32_t nslots) {
  return (size_t)nslots / MACHO__GROUP_SLOTS * sizeof(macho__group) + (size_t)nslots * sizeof(macho__slot) +
         (size_t)nslots * sizeof(uint64_t);
}

static void reset(macho__minisim *ms) {
  macho__table *t = &ms->table;
  memset(t->groups, 0, (size_t)t->ngroups * sizeof *t->groups);
  memset(t->slots, 0, (size_t)t->nslots * sizeof *t->slots);
  for (uint32_t i = 0; i <= ms->mask; i++) ms->index_id[i] = MACHO__NIL;
  for (uint32_t i = 0; i < t->nslots; i++) ms->next_free[i] = i + 1 < ms->capacity ? i + 1 : MACHO__NIL;
  ms->free_head = 0;
  ms->len = 0;
}

static void free_all(macho__minisim *ms, macho__alloc *a, const macho__policy_ops *ops) {
  uint32_t n = ms->table.nslots;
  macho__free(a, ms->table.groups, table_bytes(n));
  macho__free(a, ms->next_free, (size_t)n * sizeof *ms->next_free);
  macho__free(a, ms->index_id, ((size_t)ms->mask + 1) * sizeof *ms->index_id);
  macho__free(a, ms->user, (size_t)n * sizeof *ms->user);
  macho__free(a, ms->st, ops->state_size ? ops->state_size : 1);
  memset(ms, 0, sizeof *ms);
}

int macho__minisim_init(macho__minisim *ms, macho_cache *owner, const macho__policy_ops *ops,
                        uint32_t capacity, uint64_t seed, bool user) {
  memset(ms, 0, sizeof *ms);
  assert(capacity >= 1 && capacity <= MACHO__MAX_SHARD_ENTRIES);
  macho__alloc *a = &owner->alloc;
  uint32_t nslots = (capacity + MACHO__GROUP_SLOTS - 1) / MACHO__GROUP_SLOTS * MACHO__GROUP_SLOTS;
  macho__table *t = &ms->table;
  t->ngroups = nslots / MACHO__GROUP_SLOTS;
  t->nslots = nslots;
  t->max_len = capacity;
  t->final = 1;
  /* One block: group headers, slots, hashes. */
  unsigned char *block = macho__malloc(a, table_bytes(nslots));
  ms->mask = index_slots(capacity) - 1;
  ms->next_free = macho__malloc(a, (size_t)nslots * sizeof *ms->next_free);
  ms->index_id = macho__malloc(a, ((size_t)ms->mask + 1) * sizeof *ms->index_id);
  ms->user = user ? macho__malloc(a, (size_t)nslots * sizeof *ms->user) : NULL;
  ms->st = macho__calloc(a, 1, ops->state_size ? ops->state_size : 1);
  t->groups = (macho__group *)block;
  if (!block || !ms->next_free || !ms->index_id || (user && !ms->user) || !ms->st) {
    free_all(ms, a, ops);
    return MACHO_ENOMEM;
  }
  t->slots = (macho__slot *)(block + (size_t)t->ngroups * sizeof(macho__group));
  t->hashes = (uint64_t *)(block + (size_t)t->ngroups * sizeof(macho__group) + (size_t)nslots * sizeof(macho__slot));
  t->bytes = table_bytes(nslots);
  ms->capacity = capacity;
  reset(ms);
  macho__shard *sh = &ms->sh;
  sh->cache = owner;
  sh->capacity = capacity;
  sh->rng = seed | 1u; /* xorshift must not start at 0 */
  atomic_init(&sh->table, t);
  if (ops->init(ms->st, sh, capacity, nslots) != MACHO_OK) {
    free_all(ms, a, ops);
    return MACHO_ENOMEM;
  }
  ms->ops = ops;
  return MACHO_OK;
}

void macho__minisim_destroy(macho__minisim *ms) {
  if (!ms->ops) return;
  const macho__policy_ops *ops = ms->ops;
  ops->destroy(ms->st, &ms->sh);
  free_all(ms, &ms->sh.cache->alloc, ops);
}

/* Index position of `hash`, or of the empty entry where its probe ends. */
static uint32_t probe(const macho__minisim *ms, uint64_t hash) {
  uint32_t i = (uint32_t)hash & ms->mask;
  for (;;) {
    uint32_t s = ms->index_id[i];
    if (s == MACHO__NIL || ms->table.hashes[s] == hash) return i;
    i = (i + 1) & ms->mask;
  }
}

static void index_delete(macho__minisim *ms, uint32_t i) {
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & ms->mask;
    uint32_t s = ms->index_id[j];
    if (s == MACHO__NIL) break;
    uint32_t home = (uint32_t)ms->table.hashes[s] & ms->mask;
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      ms->index_id[i] = s;
      i = j;
    }
  }
  ms->index_id[i] = MACHO__NIL;
}

/* Free slot s (already forgotten by the policy). */
static void free_slot(macho__minisim *ms, uint32_t s) {
  index_delete(ms, probe(ms, ms->table.hashes[s]));
  macho__slot_set_tag(&ms->table, s, 0);
  ms->next_free[s] = ms->free_head;
  ms->free_head = s;
  ms->len--;
}

bool macho__minisim_access_user(macho__minisim *ms, uint64_t hash, uint32_t **slot, uint32_t *evicted) {
  macho__shard *sh = &ms->sh;
  const macho__policy_ops *ops = ms->ops;
  uint32_t i = probe(ms, hash);
  uint32_t s = ms->index_id[i];
  *evicted = MACHO__NIL;
  if (s != MACHO__NIL) {
    uint64_t rec = s;
    ops->on_access(ms->st, sh, &rec, 1);
    *slot = ms->user ? &ms->user[s] : NULL;
    return true;
  }
  uint64_t h63 = macho__hash63(hash);
  if (ops->record_misses) {
    uint64_t rec = MACHO__REC_MISS | h63;
    ops->on_access(ms->st, sh, &rec, 1);
  }
  if (ops->pre_insert) ops->pre_insert(ms->st, sh, h63);
  if (ms->len >= ms->capacity) {
    uint32_t v = ops->victim(ms->st, sh);
    if (ms->user) *evicted = ms->user[v];
    free_slot(ms, v);
    i = probe(ms, hash); /* the deletion may have shifted the probe's end */
  }
  s = ms->free_head;
  ms->free_head = ms->next_free[s];
  ms->len++;
  ms->table.hashes[s] = hash;
  macho__slot_set_tag(&ms->table, s, macho__tag(hash));
  ms->index_id[i] = s;
  if (ms->user) ms->user[s] = MACHO__NIL;
  *slot = ms->user ? &ms->user[s] : NULL;
  ops->insert(ms->st, sh, s, h63);
  return false;
}

bool macho__minisim_access(macho__minisim *ms, uint64_t hash) {
  uint32_t *slot, evicted;
  return macho__minisim_access_user(ms, hash, &slot, &evicted);
}

uint32_t *macho__minisim_user(macho__minisim *ms, uint64_t hash) {
  uint32_t s = ms->index_id[probe(ms, hash)];
  return s == MACHO__NIL || !ms->user ? NULL : &ms->user[s];
}

uint32_t macho__minisim_evict(macho__minisim *ms) {
  assert(ms->len > 0);
  uint32_t v = ms->ops->victim(ms->st, &ms->sh);
  uint32_t word = ms->user ? ms->user[v] : MACHO__NIL;
  free_slot(ms, v);
  return word;
}

uint32_t *macho__minisim_user_at(macho__minisim *ms, uint32_t i) {
  return ms->user && macho__slot_tag(&ms->table, i) ? &ms->user[i] : NULL;
}

void macho__minisim_remove(macho__minisim *ms, uint64_t hash) {
  uint32_t s = ms->index_id[probe(ms, hash)];
  if (s == MACHO__NIL) return;
  ms->ops->remove(ms->st, &ms->sh, s);
  free_slot(ms, s);
}

void macho__minisim_clear(macho__minisim *ms) {
  reset(ms);
  ms->ops->clear(ms->st, &ms->sh);
}

size_t macho__minisim_memory(const macho__minisim *ms) {
  if (!ms->ops) return 0;
  uint32_t n = ms->table.nslots;
  return table_bytes(n) + (size_t)n * sizeof(uint32_t) * (ms->user ? 2 : 1) +
         ((size_t)ms->mask + 1) * sizeof(uint32_t) + (ms->ops->state_size ? ms->ops->state_size : 1) +
         (ms->ops->memory ? ms->ops->memory(ms->st) : 0);
}
