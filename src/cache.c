/*
 * cache.c -- the front door: argument checks, open/close, routing a key to
 * its shard, and the public operations.
 *
 * Every public call hashes the key once, outside any lock, picks the shard
 * from the hash's high bits, then does all its work under that shard's lock.
 * In bytes mode the payload is allocated before the lock and freed after it,
 * so the critical section holds no malloc of the caller's data. In object
 * mode caller callbacks that may re-enter the cache (equal, release) run
 * with no lock held: equality is tested on a retained candidate between
 * unlock and relock, and a change of the shard's version restarts the probe
 * (the way CPython's dict survives a mutating __eq__); objects leaving the
 * cache are queued in a per-call list and released after unlock.
 */
#include "internal.h"
#include "hash.h"

#include <math.h>
#include <stdlib.h>

static void dead_flush(const macho_cache *c, macho__dead *dead) {
  for (uint32_t i = 0; i < dead->n; i++) c->obj_ops.release(c->obj_ops.ctx, dead->obj[i]);
  dead->n = 0;
}

static inline macho__shard *shard_for(macho_cache *c, uint64_t hash) {
  return &c->shards[macho__shard_of(hash, c->nshards)];
}

static inline uint64_t deadline(uint64_t now, uint64_t ttl_ns) {
  if (!ttl_ns) return 0;
  uint64_t d = now + ttl_ns;
  return d < now ? 0 : d; /* beyond the clock's range: never */
}

static bool ttl_valid(double ttl) { return !isnan(ttl) && ttl >= 0; }

/* ---- open / close ------------------------------------------------------------ */

int macho_open(const macho_config *cfg, macho_cache **out) {
  if (!out) return MACHO_EINVAL;
  *out = NULL;
  if (macho_config_check(cfg, NULL) != MACHO_OK) return MACHO_EINVAL;

  macho__alloc alloc = {{0}};
  if (cfg->allocator) alloc.hooks = *cfg->allocator;
  macho_cache *c = macho__calloc(&alloc, 1, sizeof *c);
  if (!c) return MACHO_ENOMEM;
  c->cfg = *cfg;
  c->alloc = alloc;
  c->cfg.allocator = cfg->allocator ? &c->alloc.hooks : NULL;
  if (cfg->object_ops) {
    c->obj_ops = *cfg->object_ops;
    c->cfg.object_ops = &c->obj_ops;
    c->object_mode = true;
  }
  c->default_ttl_ns = macho__ttl_to_ns(cfg->ttl_seconds);
  c->nshards = cfg->shards;
  c->shards_block_size = (size_t)c->nshards * sizeof *c->shards + 63;
  c->shards_block = macho__calloc(&c->alloc, 1, c->shards_block_size);
  c->shards = (macho__shard *)(((uintptr_t)c->shards_block + 63) & ~(uintptr_t)63);
  if (!c->shards_block) {
    macho__free(&c->alloc, c, sizeof *c);
    return MACHO_ENOMEM;
  }
  uint64_t base = cfg->capacity_entries / c->nshards, rem = cfg->capacity_entries % c->nshards;
  uint64_t bbase = cfg->capacity_bytes / c->nshards, brem = cfg->capacity_bytes % c->nshards;
  for (uint32_t i = 0; i < c->nshards; i++) {
    uint32_t cap = (uint32_t)(base + (i < rem));
    uint64_t bytes = cfg->capacity_bytes ? bbase + (i < brem) : 0;
    if (macho__shard_init(&c->shards[i], c, i, cap, bytes) != MACHO_OK) {
      while (i--) macho__shard_destroy(&c->shards[i], NULL);
      macho__free(&c->alloc, c->shards_block, c->shards_block_size);
      macho__free(&c->alloc, c, sizeof *c);
      return MACHO_ENOMEM;
    }
  }
  *out = c;
  return MACHO_OK;
}

void macho_close(macho_cache *c) {
  if (!c) return;
  for (uint32_t i = 0; i < c->nshards; i++) macho__shard_destroy(&c->shards[i], NULL);
  macho__alloc alloc = c->alloc;
  macho__free(&alloc, c->shards_block, c->shards_block_size);
  macho__free(&alloc, c, sizeof *c);
}

/* ---- lookups ----------------------------------------------------------------- */

/* Object-mode lookup with the lock held on entry and on return. May drop the
 * lock around the equality callback. *id = MACHO__NIL when absent. */
static int find_obj(macho_cache *c, macho__shard *sh, const void *key, uint64_t hash,
                    uint32_t *id) {
  const uint32_t tag = (uint32_t)hash;
restart:;
  uint32_t pos = macho__fastrange32(tag, sh->nslots);
  for (;;) {
    macho__slot s = sh->index[pos];
    if (s.id == MACHO__NIL) break;
    if (s.tag == tag) {
      macho__entry *e = &sh->entries[s.id];
      if (e->hash == hash) {
        if (e->key == key) {
          *id = s.id;
          return MACHO_OK;
        }
        void *cand = e->key;
        uint64_t version = sh->version;
        c->obj_ops.retain(c->obj_ops.ctx, cand);
        macho__unlock(sh);
        int eq = c->obj_ops.equal(c->obj_ops.ctx, key, cand);
        c->obj_ops.release(c->obj_ops.ctx, cand);
        macho__lock(sh);
        if (eq < 0) return MACHO_ECALLBACK;
        if (sh->version != version) goto restart;
        if (eq) {
          *id = s.id;
          return MACHO_OK;
        }
      }
    }
    if (++pos == sh->nslots) pos = 0;
  }
  *id = MACHO__NIL;
  return MACHO_OK;
}

/* A key's hash and shard, and its lookup, for either mode. */
typedef struct keyref {
  const void *key;
  size_t klen;
  uint64_t hash;
} keyref;

static int find(macho_cache *c, macho__shard *sh, const keyref *k, uint32_t *id) {
  if (c->object_mode) return find_obj(c, sh, k->key, k->hash, id);
  *id = macho__index_find_bytes(sh, k->hash, k->key, k->klen);
  return MACHO_OK;
}

static int hash_key(macho_cache *c, keyref *k) {
  if (!c->object_mode) {
    k->hash = macho__hash_bytes(k->key, k->klen, c->cfg.seed);
    return MACHO_OK;
  }
  uint64_t h;
  if (c->obj_ops.hash(c->obj_ops.ctx, k->key, &h) != 0) return MACHO_ECALLBACK;
  k->hash = macho__mix64(h ^ c->cfg.seed);
  return MACHO_OK;
}

/* Filter step of a get: false when the filter proves the key absent. */
static inline bool filter_admits(macho__shard *sh, uint64_t hash) {
  if (!sh->fil) return true;
  sh->c.filter_queries++;
  if (sh->fil->maybe_contains(sh->filter, hash)) return true;
  sh->c.filter_negatives++;
  return false;
}

/* Lock held. Look a key up for reading; reclaims it when expired, and then sets *stale
 * (may be NULL): the key was there, so a filter that said "maybe" was right. */
static int find_live(macho_cache *c, macho__shard *sh, const keyref *k, uint32_t *id,
                     macho__dead *dead, bool *stale) {
  int rc = find(c, sh, k, id);
  if (rc != MACHO_OK || *id == MACHO__NIL) return rc;
  macho__entry *e = &sh->entries[*id];
  if (e->expire_ns) {
    uint64_t now = macho__now(c);
    if (macho__expired(e, now)) {
      macho__shard_remove(sh, *id, MACHO_REMOVED_EXPIRED, now, false, dead);
      *id = MACHO__NIL;
      if (stale) *stale = true;
    }
  }
  return MACHO_OK;
}

static void get_side_sweep(macho_cache *c, macho__shard *sh, macho__dead *dead) {
  if (sh->has_ttl && ++sh->get_tick >= MACHO__GET_SWEEP_EVERY) {
    sh->get_tick = 0;
    macho__sweep(sh, macho__now(c), MACHO__GET_SWEEP, dead);
  }
}

static void count_miss(macho__shard *sh, uint64_t hash) {
  sh->c.gets++;
  sh->c.misses++;
  if (sh->pol->on_miss) sh->pol->on_miss(sh->pol_state, sh, hash);
}

/* ---- put ------------------------------------------------------------------------ */

/* Insert or replace. `payload` is the new blob (bytes mode, already filled) or
 * the value object; ownership passes to the cache on MACHO_OK. */
static int put_locked(macho_cache *c, macho__shard *sh, const keyref *k, void *payload,
                      uint32_t vlen, uint64_t ttl_ns, macho__dead *dead, void **old_blob,
                      size_t *old_size) {
  uint64_t now = macho__now(c);
  macho__sweep(sh, now, MACHO__PUT_SWEEP, dead);
  uint32_t id;
  int rc = find(c, sh, k, &id);
  if (rc != MACHO_OK) return rc;
  if (id != MACHO__NIL && macho__expired(&sh->entries[id], now)) {
    macho__shard_remove(sh, id, MACHO_REMOVED_EXPIRED, now, false, dead);
    id = MACHO__NIL;
  }
  if (id != MACHO__NIL) {
    macho__entry *e = &sh->entries[id];
    if (c->object_mode) {
      if (payload) c->obj_ops.retain(c->obj_ops.ctx, payload); /* NULL values are allowed */
      if (e->val.obj) dead->obj[dead->n++] = e->val.obj;
      e->val.obj = payload;
    } else {
      *old_blob = e->key;
      *old_size = (size_t)e->val.len.klen + e->val.len.vlen;
      if (!*old_size) *old_size = 1; /* see put_bytes */
      sh->payload_bytes += (uint64_t)vlen - e->val.len.vlen;
      e->key = payload;
      e->val.len.vlen = vlen;
    }
    e->expire_ns = deadline(now, ttl_ns);
    if (e->expire_ns) sh->has_ttl = true;
    sh->pol->on_hit(sh->pol_state, sh, id);
    /* A bigger value may push the shard over its byte budget: evict others,
     * never the entry just written (a put that succeeds must leave its key
     * present); it comes back as newly inserted. */
    if (sh->capacity_bytes && sh->payload_bytes > sh->capacity_bytes) {
      /* Take the entry out of the policy while the others go, so no policy
       * can pick it (re-inserting a picked entry loops forever under LFU,
       * where it lands alone in the lowest bucket). Policies without
       * per-entry structures (Random) may still draw it: draw again. Others
       * exist while the budget is exceeded, since this entry fits alone. */
      sh->pol->on_remove(sh->pol_state, sh, id);
      while (sh->payload_bytes > sh->capacity_bytes) {
        uint32_t victim = sh->pol->victim(sh->pol_state, sh);
        if (victim != id) macho__shard_remove(sh, victim, MACHO_REMOVED_EVICTED, now, true, dead);
      }
      e->prev = e->next = MACHO__NIL;
      e->meta = e->meta2 = 0;
      sh->pol->on_insert(sh->pol_state, sh, id);
    }
    sh->c.puts++;
    return MACHO_OK;
  }
  uint64_t bytes = c->object_mode ? 0 : (uint64_t)k->klen + vlen;
  rc = macho__shard_reserve(sh, bytes, now, dead);
  if (rc != MACHO_OK) return rc;
  macho__entry tmpl = {0};
  tmpl.hash = k->hash;
  tmpl.expire_ns = deadline(now, ttl_ns);
  tmpl.born_ns = now;
  if (c->object_mode) {
    c->obj_ops.retain(c->obj_ops.ctx, (void *)k->key);
    if (payload) c->obj_ops.retain(c->obj_ops.ctx, payload);
    tmpl.key = (void *)k->key;
    tmpl.val.obj = payload;
  } else {
    tmpl.key = payload;
    tmpl.val.len.klen = (uint32_t)k->klen;
    tmpl.val.len.vlen = vlen;
  }
  macho__shard_link_new(sh, &tmpl);
  sh->c.puts++;
  return MACHO_OK;
}

static int put_bytes(macho_cache *c, const void *key, size_t klen, const void *value,
                     size_t vlen, uint64_t ttl_ns) {
  macho__lat lat = macho__lat_begin(c, MACHO__OP_PUT);
  keyref k = {key, klen, 0};
  hash_key(c, &k);
  macho__shard *sh = shard_for(c, k.hash);
  size_t size = klen + vlen;
  if (sh->capacity_bytes && size > sh->capacity_bytes) return MACHO_ETOOBIG;
  /* An empty key and value still get a 1-byte blob: entry.key == NULL marks a
   * free slot. The allocator is told the size it allocated (sized frees). */
  size_t blob_size = size ? size : 1;
  char *blob = macho__malloc(&c->alloc, blob_size);
  if (!blob) return MACHO_ENOMEM;
  if (klen) memcpy(blob, key, klen);
  if (vlen) memcpy(blob + klen, value, vlen);
  void *old = NULL;
  size_t old_size = 0;
  macho__lock(sh);
  int rc = put_locked(c, sh, &k, blob, (uint32_t)vlen, ttl_ns, NULL, &old, &old_size);
  macho__lat_end(c, sh, MACHO__OP_PUT, lat);
  macho__unlock(sh);
  if (rc != MACHO_OK) macho__free(&c->alloc, blob, blob_size);
  macho__free(&c->alloc, old, old_size);
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
  return put_bytes(c, key, klen, value, vlen, c->default_ttl_ns);
}

int macho_put_ttl(macho_cache *c, const void *key, size_t klen, const void *value, size_t vlen,
                  double ttl_seconds) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  if ((!value && vlen) || vlen > UINT32_MAX || !ttl_valid(ttl_seconds)) return MACHO_EINVAL;
  return put_bytes(c, key, klen, value, vlen, macho__ttl_to_ns(ttl_seconds));
}

/* ---- bytes-mode reads ------------------------------------------------------------ */

int macho_get(macho_cache *c, const void *key, size_t klen, void *buf, size_t buflen,
              size_t *vlen) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  if (!buf && buflen) return MACHO_EINVAL;
  macho__lat lat = macho__lat_begin(c, MACHO__OP_GET);
  keyref k = {key, klen, macho__hash_bytes(key, klen, c->cfg.seed)};
  macho__shard *sh = shard_for(c, k.hash);
  uint32_t id = MACHO__NIL;
  macho__lock(sh);
  if (filter_admits(sh, k.hash)) {
    bool stale = false;
    find_live(c, sh, &k, &id, NULL, &stale);
    if (id == MACHO__NIL && sh->fil && !stale) sh->c.filter_false_positives++;
  }
  if (id == MACHO__NIL) {
    count_miss(sh, k.hash);
    get_side_sweep(c, sh, NULL);
    macho__lat_end(c, sh, MACHO__OP_GET, lat);
    macho__unlock(sh);
    return MACHO_ENOTFOUND;
  }
  macho__entry *e = &sh->entries[id];
  uint32_t n = e->val.len.vlen;
  if (vlen) *vlen = n;
  if (n > buflen) {
    if (sh->fil) sh->c.filter_queries--; /* ERANGE counts nothing (macho.h); the caller retries */
    macho__lat_end(c, sh, MACHO__OP_GET, lat);
    macho__unlock(sh);
    return MACHO_ERANGE;
  }
  if (n) memcpy(buf, (const char *)e->key + e->val.len.klen, n);
  sh->c.gets++;
  sh->c.hits++;
  sh->pol->on_hit(sh->pol_state, sh, id);
  get_side_sweep(c, sh, NULL);
  macho__lat_end(c, sh, MACHO__OP_GET, lat);
  macho__unlock(sh);
  return MACHO_OK;
}

/* contains/delete share one shape in both modes. */
static int peek_or_delete(macho_cache *c, keyref *k, bool del) {
  int rc = hash_key(c, k);
  if (rc != MACHO_OK) return rc;
  macho__shard *sh = shard_for(c, k->hash);
  macho__dead dead;
  dead.n = 0; /* no initialiser: zero-filling 520 bytes per call showed in profiles */
  uint32_t id = MACHO__NIL;
  macho__lock(sh);
  rc = find_live(c, sh, k, &id, &dead, NULL);
  if (rc == MACHO_OK && id == MACHO__NIL) rc = MACHO_ENOTFOUND;
  if (rc == MACHO_OK && del) {
    macho__shard_remove(sh, id, MACHO_REMOVED_DELETED, macho__now(c), false, &dead);
    sh->c.deletes++;
  }
  macho__unlock(sh);
  dead_flush(c, &dead);
  return rc;
}

int macho_contains(macho_cache *c, const void *key, size_t klen) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  keyref k = {key, klen, 0};
  return peek_or_delete(c, &k, false);
}

int macho_delete(macho_cache *c, const void *key, size_t klen) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  keyref k = {key, klen, 0};
  return peek_or_delete(c, &k, true);
}

/* ---- object mode ------------------------------------------------------------------ */

static int check_obj(const macho_cache *c, const void *key) {
  if (!c || !key) return MACHO_EINVAL;
  return c->object_mode ? MACHO_OK : MACHO_EMODE;
}

static int put_obj(macho_cache *c, void *key, void *value, uint64_t ttl_ns) {
  macho__lat lat = macho__lat_begin(c, MACHO__OP_PUT);
  keyref k = {key, 0, 0};
  int rc = hash_key(c, &k);
  if (rc != MACHO_OK) return rc;
  macho__shard *sh = shard_for(c, k.hash);
  macho__dead dead;
  dead.n = 0; /* no initialiser: zero-filling 520 bytes per call showed in profiles */
  macho__lock(sh);
  rc = put_locked(c, sh, &k, value, 0, ttl_ns, &dead, NULL, NULL);
  macho__lat_end(c, sh, MACHO__OP_PUT, lat);
  macho__unlock(sh);
  dead_flush(c, &dead);
  return rc;
}

int macho_obj_put(macho_cache *c, void *key, void *value) {
  int rc = check_obj(c, key);
  return rc != MACHO_OK ? rc : put_obj(c, key, value, c->default_ttl_ns);
}

int macho_obj_put_ttl(macho_cache *c, void *key, void *value, double ttl_seconds) {
  int rc = check_obj(c, key);
  if (rc != MACHO_OK) return rc;
  if (!ttl_valid(ttl_seconds)) return MACHO_EINVAL;
  return put_obj(c, key, value, macho__ttl_to_ns(ttl_seconds));
}

int macho_obj_get(macho_cache *c, const void *key, void **value) {
  int rc = check_obj(c, key);
  if (rc != MACHO_OK) return rc;
  if (!value) return MACHO_EINVAL;
  macho__lat lat = macho__lat_begin(c, MACHO__OP_GET);
  keyref k = {key, 0, 0};
  rc = hash_key(c, &k);
  if (rc != MACHO_OK) return rc;
  macho__shard *sh = shard_for(c, k.hash);
  macho__dead dead;
  dead.n = 0; /* no initialiser: zero-filling 520 bytes per call showed in profiles */
  uint32_t id = MACHO__NIL;
  macho__lock(sh);
  if (filter_admits(sh, k.hash)) {
    bool stale = false;
    rc = find_live(c, sh, &k, &id, &dead, &stale);
    if (rc == MACHO_OK && id == MACHO__NIL && sh->fil && !stale) sh->c.filter_false_positives++;
  }
  if (rc == MACHO_OK && id == MACHO__NIL) {
    count_miss(sh, k.hash);
    rc = MACHO_ENOTFOUND;
  } else if (rc == MACHO_OK) {
    macho__entry *e = &sh->entries[id];
    if (e->val.obj) c->obj_ops.retain(c->obj_ops.ctx, e->val.obj);
    *value = e->val.obj;
    sh->c.gets++;
    sh->c.hits++;
    sh->pol->on_hit(sh->pol_state, sh, id);
  }
  get_side_sweep(c, sh, &dead);
  macho__lat_end(c, sh, MACHO__OP_GET, lat);
  macho__unlock(sh);
  dead_flush(c, &dead);
  return rc;
}

int macho_obj_contains(macho_cache *c, const void *key) {
  int rc = check_obj(c, key);
  if (rc != MACHO_OK) return rc;
  keyref k = {key, 0, 0};
  return peek_or_delete(c, &k, false);
}

int macho_obj_delete(macho_cache *c, const void *key) {
  int rc = check_obj(c, key);
  if (rc != MACHO_OK) return rc;
  keyref k = {key, 0, 0};
  return peek_or_delete(c, &k, true);
}

/* ---- whole cache ------------------------------------------------------------------- */

/* Object mode: objects must be released with no lock held, so a shard is
 * emptied in batches of MACHO__DEAD_MAX / 2 entries, each released after its
 * unlock. This needs no allocation (a static filter's rebuild, attempted
 * as entries leave, is best effort), so a clear cannot fail halfway (issue 10,
 * defect 12: the old path swapped in a freshly allocated slab per shard and,
 * out of memory, stopped with some shards cleared and others not). Entries
 * put into the shard while it is being emptied may survive, as entries put
 * into a shard already cleared do. */
static void clear_objects(macho_cache *c, macho__shard *sh) {
  uint32_t cursor = 0;
  for (;;) {
    macho__dead dead;
    dead.n = 0;
    macho__lock(sh);
    uint64_t now = macho__now(c);
    while (cursor < sh->slab_cap && dead.n + 2 <= MACHO__DEAD_MAX) {
      if (sh->entries[cursor].key)
        macho__shard_remove(sh, cursor, MACHO_REMOVED_CLEARED, now, false, &dead);
      cursor++;
    }
    bool done = cursor >= sh->slab_cap;
    if (done && sh->len == 0) {
      /* The policy and filter forget their history too, as a bytes-mode
       * clear does; skipped if a concurrent put already added an entry. */
      sh->pol->on_clear(sh->pol_state, sh);
      if (sh->fil) sh->fil->clear(sh->filter);
    }
    macho__unlock(sh);
    dead_flush(c, &dead);
    if (done) return;
  }
}

int macho_clear(macho_cache *c) {
  if (!c) return MACHO_EINVAL;
  for (uint32_t i = 0; i < c->nshards; i++) {
    macho__shard *sh = &c->shards[i];
    if (c->object_mode) {
      clear_objects(c, sh);
      continue;
    }
    macho__entry *old = NULL;
    uint32_t old_cap = 0;
    macho__lock(sh);
    /* Bytes mode frees payloads under the lock and allocates nothing. */
    int rc = macho__shard_clear(sh, macho__now(c), NULL, &old, &old_cap);
    macho__unlock(sh);
    assert(rc == MACHO_OK && !old);
    (void)rc;
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
  /* Object mode releases after each small batch, with no lock held. */
  const uint32_t batch = c->object_mode ? MACHO__DEAD_MAX / 2 : 4096;
  for (uint32_t i = 0; i < c->nshards; i++) {
    macho__shard *sh = &c->shards[i];
    macho__lock(sh);
    uint32_t remaining = sh->slab_cap;
    sh->sweep_cursor = 0;
    macho__unlock(sh);
    while (remaining) {
      macho__dead dead;
      dead.n = 0;
      uint32_t b = remaining < batch ? remaining : batch;
      macho__lock(sh);
      total += macho__sweep(sh, macho__now(c), b, &dead);
      macho__unlock(sh);
      dead_flush(c, &dead);
      remaining -= b;
    }
  }
  if (reclaimed) *reclaimed = total;
  return MACHO_OK;
}

int macho_foreach_key(macho_cache *c, macho_key_fn fn, void *ctx) {
  if (!c || !fn) return MACHO_EINVAL;
  for (uint32_t s = 0; s < c->nshards; s++) {
    macho__shard *sh = &c->shards[s];
    macho__lock(sh);
    uint32_t n = sh->len;
    if (n == 0) {
      /* Nothing to copy: no snapshot block, and no arithmetic on a NULL one
       * (issue 10, defect 10: UBSan's "zero offset to null pointer"). */
      macho__unlock(sh);
      continue;
    }
    size_t bytes = 0;
    for (uint32_t id = 0; id < sh->slab_cap && !c->object_mode; id++)
      if (sh->entries[id].key) bytes += sh->entries[id].val.len.klen;
    /* One block: n (pointer, length) pairs, then the key bytes (bytes mode). */
    size_t size = (size_t)n * (sizeof(void *) + sizeof(size_t)) + bytes;
    char *snap = macho__malloc(&c->alloc, size);
    if (!snap) {
      macho__unlock(sh);
      return MACHO_ENOMEM;
    }
    void **keys = (void **)snap;
    size_t *lens = (size_t *)(snap + (size_t)n * sizeof(void *));
    char *data = (char *)(lens + n);
    /* An expired entry is never returned, by any call (issue 10, defect 12:
     * foreach listed them until a sweep took them). The block is sized for
     * every entry; expired ones are skipped, not reclaimed (a snapshot must
     * not change the cache). */
    uint64_t now = sh->has_ttl ? macho__now(c) : 0;
    uint32_t k = 0, seen = 0;
    for (uint32_t id = 0; id < sh->slab_cap && seen < n; id++) {
      macho__entry *e = &sh->entries[id];
      if (!e->key) continue;
      seen++;
      if (macho__expired(e, now)) continue;
      if (c->object_mode) {
        c->obj_ops.retain(c->obj_ops.ctx, e->key);
        keys[k] = e->key;
        lens[k] = 0;
      } else {
        memcpy(data, e->key, e->val.len.klen);
        keys[k] = data;
        lens[k] = e->val.len.klen;
        data += e->val.len.klen;
      }
      k++;
    }
    macho__unlock(sh);
    int stop = 0;
    for (uint32_t i = 0; i < k; i++) {
      if (!stop) stop = fn(ctx, keys[i], lens[i]);
      if (c->object_mode) c->obj_ops.release(c->obj_ops.ctx, keys[i]);
    }
    macho__free(&c->alloc, snap, size);
    if (stop) return stop;
  }
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
    out->memory_bytes += sizeof *c;
  }
  return MACHO_OK;
}

int macho_config_get(const macho_cache *c, macho_config *out) {
  if (!c || !out) return MACHO_EINVAL;
  *out = c->cfg;
  return MACHO_OK;
}
