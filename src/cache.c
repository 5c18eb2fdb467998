/*
 * cache.c -- the front door: argument checks, open/close, routing a key to
 * its shard, and the public operations other than get (read.c).
 *
 * Every public call checks its arguments, hashes the key once, outside any
 * lock, and picks the shard from the hash's high bits. Writes then take that
 * shard's lock and hand over to shard.c; the shard decides everything about
 * entries (cache.c never unlinks or evicts one itself). In object mode
 * callbacks that may re-enter the cache (equal, release) run with no lock
 * held: objects leaving the cache are queued in a per-call list and
 * released after unlock.
 */
#include "internal.h"
#include "hash.h"

#include <math.h>
#include <stdlib.h>

int macho__contains(macho_cache *c, const void *key, size_t klen, uint64_t hash);

static inline void dead_flush(macho_cache *c, macho__dead *dead) { macho__dead_flush(c, dead); }

static inline macho__shard *shard_for(macho_cache *c, uint64_t hash) {
  return &c->shards[macho__shard_of(hash, c->nshards)];
}

static bool ttl_valid(double ttl) { return !isnan(ttl) && ttl >= 0; }

static int hash_obj(const macho_cache *c, const void *key, uint64_t *hash) {
  uint64_t h;
  if (c->obj_ops.hash(c->obj_ops.ctx, key, &h) != 0) return MACHO_ECALLBACK;
  *hash = macho__mix64(h ^ c->cfg.seed);
  return MACHO_OK;
}

/* ---- open / close ------------------------------------------------------------ */

int macho_open(const macho_config *cfg, macho_cache **out) {
  if (!out) return MACHO_EINVAL;
  *out = NULL;
  if (macho_config_check(cfg, NULL) != MACHO_OK) return MACHO_EINVAL;

  macho__alloc alloc;
  memset(&alloc, 0, sizeof alloc);
  if (cfg->allocator) alloc.hooks = *cfg->allocator;
  macho_cache *c = macho__calloc(&alloc, 1, sizeof *c);
  if (!c) return MACHO_ENOMEM;
  c->cfg = *cfg;
  c->alloc.hooks = alloc.hooks;
  atomic_init(&c->alloc.held, atomic_load(&alloc.held));
  c->cfg.allocator = cfg->allocator ? &c->alloc.hooks : NULL;
  if (cfg->object_ops) {
    c->obj_ops = *cfg->object_ops;
    c->cfg.object_ops = &c->obj_ops;
    c->object_mode = true;
  }
  c->default_ttl_ns = macho__ttl_to_ns(cfg->ttl_seconds);
  c->hash8_flip = macho__hash8_flip(cfg->seed);
  c->listen = cfg->on_remove != NULL;
  c->weigh = c->object_mode && cfg->weigh != NULL;
  c->refresh_after_ns = cfg->refresh_after_seconds > 0 ? macho__ttl_to_ns(cfg->refresh_after_seconds) : 0;
  c->negative_ttl_ns = cfg->negative_ttl_seconds > 0 ? macho__ttl_to_ns(cfg->negative_ttl_seconds) : 0;
  c->need_ext = c->weigh || c->refresh_after_ns;
  c->user_capacity_bytes = cfg->capacity_bytes;
  c->nshards = cfg->shards;
  c->rec_size = (sizeof(macho__trec) + (size_t)c->nshards * sizeof(macho__tcount) + 63) & ~(size_t)63;
  if (macho__registry_add(c) != MACHO_OK) goto fail_cache;
  c->shards_block_size = macho__size64((size_t)c->nshards * sizeof *c->shards);
  c->shards = macho__calloc64(&c->alloc, (size_t)c->nshards * sizeof *c->shards, &c->shards_block);
  if (!c->shards) goto fail_registry;
  uint64_t base = cfg->capacity_entries / c->nshards, rem = cfg->capacity_entries % c->nshards;
  uint64_t bbase = cfg->capacity_bytes / c->nshards, brem = cfg->capacity_bytes % c->nshards;
  for (uint32_t i = 0; i < c->nshards; i++) {
    uint32_t cap = (uint32_t)(base + (i < rem));
    uint64_t bytes = cfg->capacity_bytes ? bbase + (i < brem) : 0;
    if (macho__shard_init(&c->shards[i], c, i, cap, bytes) != MACHO_OK) {
      while (i--) macho__shard_destroy(&c->shards[i]);
      macho__free(&c->alloc, c->shards_block, c->shards_block_size);
      goto fail_registry;
    }
  }
  /* The cgroup limit, when asked for, is read before the first put. */
  if (cfg->memory_max_fraction > 0) {
    int rc = macho__pressure_open(c);
    if (rc != MACHO_OK) {
      for (uint32_t i = 0; i < c->nshards; i++) macho__shard_destroy(&c->shards[i]);
      macho__free(&c->alloc, c->shards_block, c->shards_block_size);
      macho__registry_remove(c);
      macho__free(&alloc, c, sizeof *c);
      return rc;
    }
  }
  /* The opening thread's record now, so that its first get does not change
   * memory_bytes (other threads allocate theirs on first use). */
  (void)macho__trec_get(c);
  *out = c;
  return MACHO_OK;

fail_registry:
  macho__registry_remove(c);
fail_cache:
  macho__free(&alloc, c, sizeof *c);
  return MACHO_ENOMEM;
}

void macho_close(macho_cache *c) {
  if (!c) return;
  /* Background reloads first (they use the cache); then, with a listener,
   * every entry leaves through a clear so that each is reported. */
  macho__loads_close(c);
  if (c->listen) {
    int rc = macho_clear(c); /* cannot fail for an open cache */
    (void)rc;
  }
  macho__pressure_close(c);
  macho__registry_remove(c);
  for (uint32_t i = 0; i < c->nshards; i++) macho__shard_destroy(&c->shards[i]);
  macho__records_free(c);
  macho__free(&c->alloc, c->shards_block, c->shards_block_size);
  macho__alloc alloc = {c->alloc.hooks, 0};
  macho__free(&alloc, c, sizeof *c);
}

/* ---- puts --------------------------------------------------------------------- */

/* After a put: the features that watch puts (get_or_load's records, the
 * cgroup limit) look only when they are on. */
static inline void after_put(macho_cache *c, const void *key, size_t klen, uint64_t hash) {
  if (macho__unlikely(atomic_load_explicit(&c->flights, memory_order_relaxed)))
    macho__loads_touch(c, key, klen, hash);
  if (macho__unlikely(c->pressure != NULL)) macho__pressure_check(c, macho__now(c));
}

static int put_bytes(macho_cache *c, const void *key, size_t klen, const void *value,
                     size_t vlen, uint64_t ttl_ns, bool own_ttl) {
  macho__lat lat = macho__lat_begin(c, MACHO__OP_PUT);
  uint64_t hash = macho__hash_bytes(key, klen, c->cfg.seed);
  macho__shard *sh = shard_for(c, hash);
  macho__dead dead;
  macho__dead_init(&dead, sh);
  int rc;
  for (;;) {
    macho__lock(sh);
    rc = macho__shard_put(sh, key, klen, value, vlen, hash, ttl_ns, own_ttl, 0, &dead);
    /* ETOOBIG changes nothing, its latency sample included. */
    if (rc != MACHO__AGAIN && rc != MACHO_ETOOBIG) macho__lat_end(c, sh, MACHO__OP_PUT, lat);
    macho__unlock(sh);
    if (macho__dead_pending(&dead)) dead_flush(c, &dead);
    if (rc != MACHO__AGAIN) break;
  }
  if (rc == MACHO_OK) after_put(c, key, klen, hash);
  return rc;
}

static int check_bytes(const macho_cache *c, const void *key, size_t klen) {
  if (!c || (!key && klen) || klen > UINT32_MAX) return MACHO_EINVAL;
  return c->object_mode ? MACHO_EMODE : MACHO_OK;
}

int macho_put(macho_cache *c, const void *key, size_t klen, const void *value, size_t vlen) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  if ((!value && vlen) || vlen > UINT32_MAX) return MACHO_EINVAL;
  return put_bytes(c, key, klen, value, vlen, c->default_ttl_ns, false);
}

int macho_put_ttl(macho_cache *c, const void *key, size_t klen, const void *value, size_t vlen,
                  double ttl_seconds) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  if ((!value && vlen) || vlen > UINT32_MAX || !ttl_valid(ttl_seconds)) return MACHO_EINVAL;
  uint64_t ttl = macho__ttl_to_ns(ttl_seconds);
  return put_bytes(c, key, klen, value, vlen, ttl, ttl != c->default_ttl_ns);
}

/* ---- contains / delete, both modes --------------------------------------------------- */

static int delete_key(macho_cache *c, const void *key, size_t klen, uint64_t hash) {
  macho__shard *sh = shard_for(c, hash);
  macho__dead dead; /* no initialiser: zero-filling the array per call showed in profiles */
  uint32_t s = MACHO__NIL;
  macho__lock(sh);
  macho__shard_drain(sh);
  /* A delete is no hot path: with metrics on, its lifespan ends on the
   * precise clock. */
  uint64_t now = c->cfg.metrics ? macho__now_precise(c) : macho__now(c);
  macho__dead_init(&dead, sh);
  int rc = macho__shard_find(sh, key, klen, hash, &s);
  if (rc == MACHO_OK && s == MACHO__NIL) rc = MACHO_ENOTFOUND;
  if (rc == MACHO_OK) {
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&t->slots[s].m, memory_order_relaxed);
    bool expired = macho__m_expired(m, macho__group_epoch_ns(sh, macho__group_of(t, s)), now);
    macho__shard_remove(sh, s, hash, expired ? MACHO_REMOVED_EXPIRED : MACHO_REMOVED_DELETED, now,
                        false, &dead);
    if (expired) rc = MACHO_ENOTFOUND;
    else sh->c.deletes++;
  }
  macho__unlock(sh);
  if (macho__dead_pending(&dead)) dead_flush(c, &dead);
  if (rc == MACHO_OK || rc == MACHO_ENOTFOUND) {
    if (macho__unlikely(atomic_load_explicit(&c->flights, memory_order_relaxed)))
      macho__loads_touch(c, key, klen, hash);
  }
  return rc;
}

int macho_contains(macho_cache *c, const void *key, size_t klen) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  return macho__contains(c, key, klen, macho__hash_bytes(key, klen, c->cfg.seed));
}

int macho_delete(macho_cache *c, const void *key, size_t klen) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  return delete_key(c, key, klen, macho__hash_bytes(key, klen, c->cfg.seed));
}

/* ---- object mode ------------------------------------------------------------------ */

static int check_obj(const macho_cache *c, const void *key) {
  if (!c || !key) return MACHO_EINVAL;
  return c->object_mode ? MACHO_OK : MACHO_EMODE;
}

static int put_obj(macho_cache *c, void *key, void *value, uint64_t ttl_ns, bool own_ttl) {
  macho__lat lat = macho__lat_begin(c, MACHO__OP_PUT);
  uint64_t hash;
  int rc = hash_obj(c, key, &hash);
  if (rc != MACHO_OK) return rc;
  /* The weight, for the byte budget: caller code, so no lock is held. */
  uint64_t weight = 0;
  if (c->weigh && c->cfg.weigh(c->obj_ops.ctx, key, value, &weight) != 0) return MACHO_ECALLBACK;
  macho__shard *sh = shard_for(c, hash);
  macho__dead dead;
  macho__dead_init(&dead, sh);
  for (;;) {
    macho__lock(sh);
    rc = macho__shard_put(sh, key, 0, value, 0, hash, ttl_ns, own_ttl, weight, &dead);
    /* ETOOBIG changes nothing, its latency sample included. */
    if (rc != MACHO__AGAIN && rc != MACHO_ETOOBIG) macho__lat_end(c, sh, MACHO__OP_PUT, lat);
    macho__unlock(sh);
    if (macho__dead_pending(&dead)) dead_flush(c, &dead);
    if (rc != MACHO__AGAIN) break;
  }
  if (rc == MACHO_OK) after_put(c, key, 0, hash);
  return rc;
}

int macho_obj_put(macho_cache *c, void *key, void *value) {
  int rc = check_obj(c, key);
  return rc != MACHO_OK ? rc : put_obj(c, key, value, c->default_ttl_ns, false);
}

int macho_obj_put_ttl(macho_cache *c, void *key, void *value, double ttl_seconds) {
  int rc = check_obj(c, key);
  if (rc != MACHO_OK) return rc;
  if (!ttl_valid(ttl_seconds)) return MACHO_EINVAL;
  uint64_t ttl = macho__ttl_to_ns(ttl_seconds);
  return put_obj(c, key, value, ttl, ttl != c->default_ttl_ns);
}

int macho_obj_contains(macho_cache *c, const void *key) {
  int rc = check_obj(c, key);
  if (rc != MACHO_OK) return rc;
  uint64_t hash;
  rc = hash_obj(c, key, &hash);
  return rc != MACHO_OK ? rc : macho__contains(c, key, 0, hash);
}

int macho_obj_delete(macho_cache *c, const void *key) {
  int rc = check_obj(c, key);
  if (rc != MACHO_OK) return rc;
  uint64_t hash;
  rc = hash_obj(c, key, &hash);
  return rc != MACHO_OK ? rc : delete_key(c, key, 0, hash);
}

/* ---- whole cache ------------------------------------------------------------------- */

int macho_clear(macho_cache *c) {
  if (!c) return MACHO_EINVAL;
  /* In slices: no lock is held for more than a slice, nothing is allocated,
   * so a clear always completes; objects are released between slices. */
  for (uint32_t i = 0; i < c->nshards; i++) {
    macho__shard *sh = &c->shards[i];
    macho__cleared old;
    for (;;) {
      macho__dead dead;
      macho__dead_init(&dead, sh);
      macho__lock(sh);
      int empty = macho__shard_clear_slice(sh, &dead);
      /* The last slice's reports are flushed before the shard is reset, so
       * that their payloads are freed first (clear_finish keeps an arena
       * with deferred blocks). */
      if (empty && !macho__dead_pending(&dead)) macho__shard_clear_finish(sh, &old);
      else empty = 0;
      macho__unlock(sh);
      if (macho__dead_pending(&dead)) dead_flush(c, &dead);
      if (empty) break;
      macho__lock_handoff(sh);
    }
    macho__shard_clear_release(sh, &old);
  }
  return MACHO_OK;
}

size_t macho_len(macho_cache *c) {
  if (!c) return 0;
  size_t n = 0;
  for (uint32_t i = 0; i < c->nshards; i++) {
    macho__lock(&c->shards[i]);
    n += c->shards[i].len;
    macho__unlock(&c->shards[i]);
  }
  return n;
}

int macho_expire(macho_cache *c, size_t *reclaimed) {
  if (!c) return MACHO_EINVAL;
  size_t total = 0;
  /* A few groups per lock hold, so writers and object releases interleave. */
  const uint32_t batch = c->object_mode ? (MACHO__DEAD_MAX / 2 / MACHO__GROUP_SLOTS) * MACHO__GROUP_SLOTS
                                        : 64 * MACHO__GROUP_SLOTS;
  for (uint32_t i = 0; i < c->nshards; i++) {
    macho__shard *sh = &c->shards[i];
    macho__lock(sh);
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    uint32_t remaining = t->ngroups; /* groups still to look at */
    sh->sweep_group = 0;
    /* Due now: the pass ends by recomputing the bound. */
    atomic_store_explicit(&sh->next_expiry, 0, memory_order_relaxed);
    sh->cycle_min = UINT64_MAX;
    macho__unlock(sh);
    while (remaining) {
      macho__dead dead;
      macho__dead_init(&dead, sh);
      uint32_t b = remaining * MACHO__GROUP_SLOTS < batch ? remaining * MACHO__GROUP_SLOTS : batch;
      macho__lock(sh);
      macho__shard_drain(sh);
      uint32_t ng = atomic_load_explicit(&sh->table, memory_order_relaxed)->ngroups;
      uint32_t before = sh->sweep_group;
      total += macho__sweep(sh, macho__now_write(c), b, &dead);
      /* A sweep stopped early by a full report list looks at its group
       * again; one that found nothing due (or an empty shard) is done. */
      uint32_t after = sh->sweep_group;
      uint32_t done = after >= before ? after - before : ng - before + after;
      macho__unlock(sh);
      if (macho__dead_pending(&dead)) dead_flush(c, &dead);
      if (!done) break;
      remaining = done >= remaining ? 0 : remaining - done;
    }
  }
  if (reclaimed) *reclaimed = total;
  return MACHO_OK;
}

/* ---- counters ------------------------------------------------------------------------ */

uint32_t macho_shard_count(const macho_cache *c) { return c ? c->nshards : 0; }

static void add_shard(macho_counters *o, macho__shard *sh) {
  macho__lock(sh);
  macho__shard_add_counters(o, sh);
  macho__unlock(sh);
}

int macho_counters_get(macho_cache *c, int shard, macho_counters *out) {
  if (!c || !out || shard < -1 || (shard >= 0 && (uint32_t)shard >= c->nshards))
    return MACHO_EINVAL;
  memset(out, 0, sizeof *out);
  if (shard >= 0) {
    add_shard(out, &c->shards[shard]);
  } else {
    for (uint32_t i = 0; i < c->nshards; i++) add_shard(out, &c->shards[i]);
    /* The whole cache's figure is exactly what the allocator holds. */
    out->memory_bytes = atomic_load_explicit(&c->alloc.held, memory_order_relaxed);
  }
  return MACHO_OK;
}

int macho_config_get(const macho_cache *c, macho_config *out) {
  if (!c || !out) return MACHO_EINVAL;
  *out = c->cfg;
  return MACHO_OK;
}
