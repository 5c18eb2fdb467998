/*
 * shard.c -- one shard's entries: the slab, making room, removal, clear.
 *
 * The slab starts small and doubles up to the shard's capacity, so a cache
 * configured for millions of entries costs little until it fills. Every exit
 * of an entry goes through macho__shard_remove(), the one place that keeps
 * index, policy, filter, counters and lifespans in step.
 */
#include "internal.h"
#include "hash.h"

#include <sched.h>

#define INITIAL_SLAB 1024u

static void chain_free(macho__shard *sh, uint32_t from, uint32_t to) {
  /* Push [from, to) so that the lowest id is taken first (locality). */
  for (uint32_t id = to; id-- > from;) {
    sh->entries[id].key = NULL;
    sh->entries[id].next = sh->free_head;
    sh->free_head = id;
  }
}

void macho__lock_slow(macho__shard *sh) {
  for (;;) {
    for (int spin = 0; spin < 128; spin++) {
      if (!atomic_load_explicit(&sh->lock, memory_order_relaxed) &&
          !atomic_exchange_explicit(&sh->lock, 1u, memory_order_acquire))
        return;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    sched_yield();
  }
}

static void free_pol_state(macho__shard *sh) {
  if (sh->pol_state != sh->pol_inline) macho__free(sh->alloc, sh->pol_state, sh->pol->state_size);
  sh->pol_state = NULL;
}

int macho__shard_init(macho__shard *sh, const struct macho_cache *c, uint32_t index,
                      uint32_t capacity, uint64_t capacity_bytes) {
  memset(sh, 0, sizeof *sh);
  sh->cache = c;
  sh->alloc = &c->alloc;
  sh->capacity = capacity;
  sh->capacity_bytes = capacity_bytes;
  sh->free_head = MACHO__NIL;
  sh->rng = macho__mix64(c->cfg.seed + index + 1) | 1;
  sh->has_ttl = c->default_ttl_ns != 0;
  sh->pol = macho__policies[c->cfg.policy];
  sh->fil = macho__filters[c->cfg.filter];

  uint32_t cap = capacity < INITIAL_SLAB ? capacity : INITIAL_SLAB;
  sh->entries = macho__malloc(sh->alloc, (size_t)cap * sizeof(macho__entry));
  if (!sh->entries) goto fail;
  sh->slab_cap = cap;
  chain_free(sh, 0, cap);
  if (macho__index_init(sh, cap) != MACHO_OK) goto fail;

  if (sh->pol->state_size <= sizeof sh->pol_inline) {
    sh->pol_state = sh->pol_inline; /* zeroed by the memset above */
  } else {
    sh->pol_state = macho__calloc(sh->alloc, 1, sh->pol->state_size);
    if (!sh->pol_state) goto fail;
  }
  if (sh->pol->init(sh->pol_state, sh, capacity) != MACHO_OK) goto fail_policy;
  if (sh->fil && sh->fil->create(&sh->filter, sh->alloc, capacity, c->cfg.filter_fp_rate,
                                 c->cfg.seed) != MACHO_OK)
    goto fail_filter;
  if (macho__metrics_init(sh) != MACHO_OK) goto fail_metrics;
  atomic_init(&sh->lock, 0u);
  return MACHO_OK;

fail_metrics:
  if (sh->fil) sh->fil->destroy(sh->filter, sh->alloc);
fail_filter:
  sh->pol->destroy(sh->pol_state, sh);
fail_policy:
  free_pol_state(sh);
  sh->pol_state = NULL;
fail:
  macho__index_free(sh);
  macho__free(sh->alloc, sh->entries, (size_t)sh->slab_cap * sizeof(macho__entry));
  sh->entries = NULL;
  return MACHO_ENOMEM;
}

static void free_payload(macho__shard *sh, macho__entry *e) {
  size_t size = (size_t)e->val.len.klen + e->val.len.vlen;
  macho__free(sh->alloc, e->key, size ? size : 1); /* empty payloads have a 1-byte blob */
}

void macho__shard_destroy(macho__shard *sh, macho__dead *dead_or_null) {
  (void)dead_or_null;
  const macho_cache *c = sh->cache;
  if (!sh->entries) return;
  for (uint32_t id = 0; id < sh->slab_cap; id++) {
    macho__entry *e = &sh->entries[id];
    if (!e->key) continue;
    if (c->object_mode) {
      /* macho_close: no lock is held and nobody else may use the cache. */
      c->obj_ops.release(c->obj_ops.ctx, e->key);
      if (e->val.obj) c->obj_ops.release(c->obj_ops.ctx, e->val.obj);
    } else {
      free_payload(sh, e);
    }
  }
  macho__metrics_destroy(sh);
  if (sh->fil) sh->fil->destroy(sh->filter, sh->alloc);
  sh->pol->destroy(sh->pol_state, sh);
  free_pol_state(sh);
  macho__index_free(sh);
  macho__free(sh->alloc, sh->entries, (size_t)sh->slab_cap * sizeof(macho__entry));
  sh->entries = NULL;
}

static void dead_push(macho__dead *dead, void *obj) {
  if (!obj) return;
  assert(dead && dead->n < MACHO__DEAD_MAX);
  dead->obj[dead->n++] = obj;
}

/* Static filters (src/filter/xor.c) follow churn by rebuilding from the live
 * hashes once enough has changed since their last build. A failed allocation
 * only postpones the rebuild: the filter stays correct, it filters less. */
void macho__shard_filter_maintain(macho__shard *sh) {
  if (!sh->fil->wants_rebuild || !sh->fil->wants_rebuild(sh->filter)) return;
  size_t size = (size_t)(sh->len ? sh->len : 1) * sizeof(uint64_t);
  uint64_t *hashes = macho__malloc(sh->alloc, size);
  if (!hashes) return;
  uint32_t n = 0;
  for (uint32_t id = 0; id < sh->slab_cap && n < sh->len; id++)
    if (sh->entries[id].key) hashes[n++] = sh->entries[id].hash;
  (void)sh->fil->rebuild(sh->filter, hashes, n);
  macho__free(sh->alloc, hashes, size);
}

void macho__shard_remove(macho__shard *sh, uint32_t id, macho_removal reason, uint64_t now,
                         bool from_victim, macho__dead *dead) {
  macho__entry *e = macho__entry_at(sh, id);
  assert(e->key);
  if (!from_victim) sh->pol->on_remove(sh->pol_state, sh, id);
  macho__index_remove(sh, e->hash, id);
  if (sh->fil) sh->fil->remove(sh->filter, e->hash);
  macho__metrics_on_remove(sh, e, reason, now);
  if (sh->cache->object_mode) {
    dead_push(dead, e->key);
    dead_push(dead, e->val.obj);
  } else {
    sh->payload_bytes -= (uint64_t)e->val.len.klen + e->val.len.vlen;
    free_payload(sh, e);
  }
  e->key = NULL;
  e->next = sh->free_head;
  sh->free_head = id;
  sh->len--;
  if (sh->fil) macho__shard_filter_maintain(sh);
}

void macho__shard_evict_one(macho__shard *sh, uint64_t now, macho__dead *dead) {
  assert(sh->len > 0);
  uint32_t id = sh->pol->victim(sh->pol_state, sh);
  macho__shard_remove(sh, id, MACHO_REMOVED_EVICTED, now, true, dead);
}

static int grow_slab(macho__shard *sh) {
  uint32_t old = sh->slab_cap;
  uint32_t cap = old > sh->capacity / 2 ? sh->capacity : old * 2;
  assert(cap > old);
  /* Index first: if the slab cannot grow afterwards, a roomier index is harmless. */
  if (macho__index_resize(sh, cap) != MACHO_OK) return MACHO_ENOMEM;
  macho__entry *e = macho__realloc(sh->alloc, sh->entries, (size_t)old * sizeof *e,
                                   (size_t)cap * sizeof *e);
  if (!e) return MACHO_ENOMEM;
  sh->entries = e;
  sh->slab_cap = cap;
  chain_free(sh, old, cap);
  return MACHO_OK;
}

int macho__shard_reserve(macho__shard *sh, uint64_t bytes, uint64_t now, macho__dead *dead) {
  assert(!sh->capacity_bytes || bytes <= sh->capacity_bytes);
  /* Grow before evicting so that a failed growth leaves the shard untouched. */
  if (sh->free_head == MACHO__NIL && sh->len < sh->capacity && grow_slab(sh) != MACHO_OK)
    return MACHO_ENOMEM;
  while (sh->len >= sh->capacity) macho__shard_evict_one(sh, now, dead);
  while (sh->capacity_bytes && sh->payload_bytes + bytes > sh->capacity_bytes)
    macho__shard_evict_one(sh, now, dead);
  assert(sh->free_head != MACHO__NIL);
  return MACHO_OK;
}

uint32_t macho__shard_link_new(macho__shard *sh, const macho__entry *tmpl) {
  uint32_t id = sh->free_head;
  macho__entry *e = macho__entry_at(sh, id);
  sh->free_head = e->next;
  *e = *tmpl;
  e->prev = e->next = MACHO__NIL;
  e->meta = e->meta2 = 0;
  sh->len++;
  if (e->expire_ns) sh->has_ttl = true;
  if (!sh->cache->object_mode) sh->payload_bytes += (uint64_t)e->val.len.klen + e->val.len.vlen;
  macho__index_insert(sh, e->hash, id);
  sh->pol->on_insert(sh->pol_state, sh, id);
  if (sh->fil) {
    sh->fil->add(sh->filter, e->hash);
    macho__shard_filter_maintain(sh);
  }
  return id;
}

int macho__shard_clear(macho__shard *sh, uint64_t now, macho__dead *dead,
                       macho__entry **old_slab, uint32_t *old_cap) {
  (void)dead;
  *old_slab = NULL;
  *old_cap = 0;
  if (sh->len == 0) {
    /* No entry to drop, but the policy still forgets its history (S3-FIFO's
     * ghost, W-TinyLFU's sketch): a clear must not depend on whether deletes
     * already emptied the shard. */
    sh->pol->on_clear(sh->pol_state, sh);
    if (sh->fil) sh->fil->clear(sh->filter);
    return MACHO_OK;
  }
  if (sh->cache->object_mode) {
    /* Objects must be released with no lock held: hand the whole slab to the
     * caller and start from a fresh one of the same size. */
    macho__entry *fresh = macho__malloc(sh->alloc, (size_t)sh->slab_cap * sizeof *fresh);
    if (!fresh) return MACHO_ENOMEM;
    for (uint32_t id = 0; id < sh->slab_cap; id++)
      if (sh->entries[id].key) macho__metrics_on_remove(sh, &sh->entries[id], MACHO_REMOVED_CLEARED, now);
    *old_slab = sh->entries;
    *old_cap = sh->slab_cap;
    sh->entries = fresh;
  } else {
    for (uint32_t id = 0; id < sh->slab_cap; id++) {
      macho__entry *e = &sh->entries[id];
      if (!e->key) continue;
      macho__metrics_on_remove(sh, e, MACHO_REMOVED_CLEARED, now);
      free_payload(sh, e);
    }
  }
  sh->free_head = MACHO__NIL;
  chain_free(sh, 0, sh->slab_cap);
  for (uint32_t i = 0; i < sh->nslots; i++) sh->index[i].id = MACHO__NIL;
  sh->len = 0;
  sh->payload_bytes = 0;
  sh->version++;
  sh->pol->on_clear(sh->pol_state, sh);
  if (sh->fil) sh->fil->clear(sh->filter);
  return MACHO_OK;
}
