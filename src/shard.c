/*
 * shard.c -- the writer side of a shard: put, remove, evict, grow, clear.
 * Everything here runs with the shard lock held, except where a comment
 * says otherwise.
 *
 * Every exit of an entry goes through macho__shard_remove(), the one place
 * that keeps table, policy, filter, arena, counters and lifespans in step.
 * Allocation happens before anything is evicted or overwritten, so an
 * out-of-memory failure leaves the shard as it was.
 *
 * Growth. The table starts at 64 groups (1024 slots) or the shard's final
 * size if smaller, and doubles when it reaches 7/8 load, up to the final
 * size (capacity at 92% load), which never grows. A rebuild copies every
 * slot into the new table under the lock while lock-free readers go on
 * reading the old one (nothing changes it: writers wait for the lock), then
 * publishes the new table and frees the old one after a grace period.
 */
#include "internal.h"
#include "hash.h"
#include "policy/policy.h"
#include "probe.h"

#include <math.h>
#include <sched.h>

#define FINAL_LOAD 0.94
#define GROW_LOAD_NUM 7u /* an intermediate table grows at 7/8 full */
#define GROW_LOAD_DEN 8u
#define INITIAL_GROUPS 64u

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

void macho__lock_handoff(macho__shard *sh) {
  for (int spin = 0; spin < 256 && !atomic_load_explicit(&sh->lock, memory_order_relaxed); spin++) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

static void drop_own_births(macho__shard *sh);

static macho__table *table_of(const macho__shard *sh) {
  return atomic_load_explicit(&((macho__shard *)sh)->table, memory_order_relaxed);
}

static uint32_t final_groups(uint32_t capacity) {
  double g = ceil((double)capacity / (MACHO__GROUP_SLOTS * FINAL_LOAD));
  return g < 1 ? 1u : (uint32_t)g;
}

/* A table of `ngroups` for this shard: final when it reaches the final size. */
static macho__table *new_table(macho__shard *sh, uint32_t ngroups) {
  uint32_t fin = final_groups(sh->capacity);
  if (ngroups >= fin) ngroups = fin;
  bool final = ngroups == fin;
  uint32_t nslots = ngroups * MACHO__GROUP_SLOTS;
  uint32_t max_len = final ? sh->capacity : nslots / GROW_LOAD_DEN * GROW_LOAD_NUM;
  macho__table *t = macho__table_new(&sh->cache->alloc, ngroups, max_len, final,
                                     sh->cache->object_mode);
  if (t)
    for (uint32_t g = 0; g < ngroups; g++)
      atomic_store_explicit(&t->groups[g].epoch, sh->epoch_cur, memory_order_relaxed);
  return t;
}

static uint32_t initial_groups(const macho__shard *sh) {
  uint32_t fin = final_groups(sh->capacity);
  return fin < INITIAL_GROUPS ? fin : INITIAL_GROUPS;
}

/* ---- keys and values in slot words ------------------------------------------------- */
typedef struct word {
  uint64_t w;
  uint32_t form; /* 0..8 inline length, MACHO__FORM_ARENA, MACHO__FORM_HUGE */
} word;

static int encode_long(macho__shard *sh, const void *p, size_t len, word *out);
static inline int encode(macho__shard *sh, const void *p, size_t len, word *out) {
  if (macho__likely(len <= MACHO__FORM_INLINE_MAX)) {
    out->w = macho__key_word(p, len);
    out->form = (uint32_t)len;
    return MACHO_OK;
  }
  return encode_long(sh, p, len, out);
}

static int encode_long(macho__shard *sh, const void *p, size_t len, word *out) {
  if (len <= MACHO__ARENA_MAX) {
    uint64_t off;
    if (macho__arena_alloc(&sh->arena, &sh->cache->alloc, (uint32_t)len, &off) != MACHO_OK)
      return MACHO_ENOMEM;
    macho__atomic_copy_in(macho__arena_ptr(&sh->arena, off), p, (uint32_t)len);
    out->w = macho__ref(off, (uint32_t)len);
    out->form = MACHO__FORM_ARENA;
    return MACHO_OK;
  }
  uint64_t *h = macho__malloc(&sh->cache->alloc, 8 + len);
  if (!h) return MACHO_ENOMEM;
  h[0] = len;
  memcpy(h + 1, p, len);
  out->w = (uint64_t)(uintptr_t)h;
  out->form = MACHO__FORM_HUGE;
  return MACHO_OK;
}

static uint64_t word_len(uint64_t w, uint32_t form) {
  if (form <= MACHO__FORM_INLINE_MAX) return form;
  if (form == MACHO__FORM_ARENA) return macho__ref_len(w);
  return ((const uint64_t *)(uintptr_t)w)[0];
}

/* Free what a word points to. An arena block may still be read by a
 * lock-free reader: it only goes back on a free list (the chunk stays), and
 * the reader's seqlock check rejects what it read. Huge blocks are read
 * only under the lock. */
static void release_word(macho__shard *sh, uint64_t w, uint32_t form) {
  if (form <= MACHO__FORM_INLINE_MAX) return;
  if (form == MACHO__FORM_ARENA) {
    macho__arena_free(&sh->arena, macho__ref_off(w), macho__ref_len(w));
    return;
  }
  uint64_t *h = (uint64_t *)(uintptr_t)w;
  macho__free(&sh->cache->alloc, h, 8 + h[0]);
}

uint32_t macho__slot_key(const macho__shard *sh, const macho__table *t, uint32_t s, void *buf) {
  const macho__slot *sl = &t->slots[s];
  uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
  uint64_t k = atomic_load_explicit(&sl->k, memory_order_relaxed);
  uint32_t f = macho__m_kform(m);
  uint32_t len = (uint32_t)word_len(k, f);
  if (!buf) return len;
  if (f <= MACHO__FORM_INLINE_MAX) memcpy(buf, &k, len);
  else if (f == MACHO__FORM_ARENA)
    macho__atomic_copy_out(buf, macho__arena_ptr(&sh->arena, macho__ref_off(k)), len);
  else memcpy(buf, (const uint64_t *)(uintptr_t)k + 1, len);
  return len;
}

uint32_t macho__slot_value(const macho__shard *sh, const macho__table *t, uint32_t s, void *buf) {
  const macho__slot *sl = &t->slots[s];
  uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
  uint64_t v = atomic_load_explicit(&sl->v, memory_order_relaxed);
  uint32_t f = macho__m_vform(m);
  uint32_t len = (uint32_t)word_len(v, f);
  if (!buf) return len;
  if (f <= MACHO__FORM_INLINE_MAX) memcpy(buf, &v, len);
  else if (f == MACHO__FORM_ARENA)
    macho__atomic_copy_out(buf, macho__arena_ptr(&sh->arena, macho__ref_off(v)), len);
  else memcpy(buf, (const uint64_t *)(uintptr_t)v + 1, len);
  return len;
}

uint64_t macho__slot_hash(const macho__shard *sh, const macho__table *t, uint32_t s) {
  if (t->hashes) return t->hashes[s];
  const macho__slot *sl = &t->slots[s];
  uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
  uint64_t k = atomic_load_explicit(&sl->k, memory_order_relaxed);
  uint32_t f = macho__m_kform(m);
  uint64_t seed = sh->cache->cfg.seed;
  if (f <= MACHO__FORM_INLINE_MAX) return macho__hash_bytes(&k, f, seed);
  if (f == MACHO__FORM_ARENA) {
    /* Under the lock the block is stable: hash it in place. */
    return macho__hash_bytes(macho__arena_ptr(&sh->arena, macho__ref_off(k)), macho__ref_len(k), seed);
  }
  const uint64_t *h = (const uint64_t *)(uintptr_t)k;
  return macho__hash_bytes(h + 1, h[0], seed);
}

uint64_t macho__pol_hash(macho__shard *sh, uint32_t s) {
  return macho__hash63(macho__slot_hash(sh, table_of(sh), s));
}

/* ---- init / destroy ------------------------------------------------------------------ */
int macho__shard_init(macho__shard *sh, macho_cache *c, uint32_t index, uint32_t capacity,
                      uint64_t capacity_bytes) {
  memset(sh, 0, sizeof *sh);
  sh->cache = c;
  sh->index = index;
  sh->capacity = capacity;
  sh->pol_capacity = capacity;
  sh->capacity_bytes = capacity_bytes;
  sh->rng = macho__mix64(c->cfg.seed + index + 1) | 1;
  sh->has_ttl = c->default_ttl_ns != 0;
  uint64_t now = macho__now(c);
  atomic_init(&sh->epoch_ns[0], now);
  atomic_init(&sh->epoch_ns[1], now);
  atomic_init(&sh->lock, 0u);
  atomic_init(&sh->next_expiry, UINT64_MAX);
  sh->cycle_min = UINT64_MAX;
  macho__arena_init(&sh->arena);
  sh->pol = macho__policies[c->cfg.policy];
  sh->fil = macho__filters[c->cfg.filter];
  sh->access = sh->pol->access;
  /* The curve's simulations run under the lock: with it on, gets take it. */
  sh->locked_reads = c->object_mode || sh->fil != NULL || c->cfg.mrc;
  sh->record_misses = sh->pol->record_misses;

  macho__table *t = new_table(sh, initial_groups(sh));
  if (!t) return MACHO_ENOMEM;
  atomic_init(&sh->table, t);
  if (c->need_ext) {
    sh->ext = macho__calloc(&c->alloc, t->nslots, sizeof *sh->ext);
    if (!sh->ext) goto fail_table;
    sh->ext_n = t->nslots;
  }
  if ((sh->access == MACHO__ACCESS_BUFFER || sh->record_misses) && !sh->locked_reads) {
    sh->stripes = macho__calloc(&c->alloc, MACHO__STRIPES, sizeof *sh->stripes);
    if (!sh->stripes) goto fail_table;
  }
  sh->pol_state = macho__calloc(&c->alloc, 1, sh->pol->state_size ? sh->pol->state_size : 1);
  if (!sh->pol_state) goto fail_stripes;
  if (sh->pol->init(sh->pol_state, sh, capacity, t->nslots) != MACHO_OK) goto fail_pol;
  if (sh->fil && sh->fil->create(&sh->filter, &c->alloc, capacity, c->cfg.filter_fp_rate,
                                 c->cfg.seed) != MACHO_OK)
    goto fail_policy;
  if (c->cfg.mrc && macho__shard_mrc_init(sh, c->nshards) != MACHO_OK) goto fail_mrc;
  return MACHO_OK;

fail_mrc:
  if (sh->fil) sh->fil->destroy(sh->filter, &c->alloc);
fail_policy:
  sh->pol->destroy(sh->pol_state, sh);
fail_pol:
  macho__free(&c->alloc, sh->pol_state, sh->pol->state_size ? sh->pol->state_size : 1);
  sh->pol_state = NULL;
fail_stripes:
  macho__free(&c->alloc, sh->stripes, MACHO__STRIPES * sizeof *sh->stripes);
  sh->stripes = NULL;
fail_table:
  macho__free(&c->alloc, sh->ext, (size_t)sh->ext_n * sizeof *sh->ext);
  sh->ext = NULL;
  macho__table_free(&c->alloc, t);
  atomic_store(&sh->table, NULL);
  return MACHO_ENOMEM;
}

/* Release the objects or huge payloads of every entry of a table nobody
 * can reach any more (macho_close). */
static void drop_entries(macho__shard *sh, macho__table *t) {
  macho_cache *c = sh->cache;
  for (uint32_t g = 0; g < t->ngroups; g++) {
    uint32_t full = macho__group_full(&t->groups[g]);
    while (full) {
      uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(full);
      full &= full - 1;
      macho__slot *sl = &t->slots[s];
      uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
      uint64_t k = atomic_load_explicit(&sl->k, memory_order_relaxed);
      uint64_t v = atomic_load_explicit(&sl->v, memory_order_relaxed);
      if (c->object_mode) {
        c->obj_ops.release(c->obj_ops.ctx, (void *)(uintptr_t)k);
        if (v) c->obj_ops.release(c->obj_ops.ctx, (void *)(uintptr_t)v);
        continue;
      }
      /* Arena blocks go with their arena; only huge blocks are separate. */
      if (macho__m_kform(m) == MACHO__FORM_HUGE) release_word(sh, k, MACHO__FORM_HUGE);
      if (macho__m_vform(m) == MACHO__FORM_HUGE) release_word(sh, v, MACHO__FORM_HUGE);
    }
  }
}

void macho__shard_destroy(macho__shard *sh) {
  macho_cache *c = sh->cache;
  macho__table *t = table_of(sh);
  if (!t) return;
  drop_entries(sh, t);
  macho__shard_mrc_destroy(sh);
  macho__metrics_destroy(sh);
  drop_own_births(sh);
  if (sh->fil) sh->fil->destroy(sh->filter, &c->alloc);
  sh->pol->destroy(sh->pol_state, sh);
  macho__free(&c->alloc, sh->pol_state, sh->pol->state_size ? sh->pol->state_size : 1);
  macho__free(&c->alloc, sh->stripes, MACHO__STRIPES * sizeof *sh->stripes);
  macho__free(&c->alloc, sh->ext, (size_t)sh->ext_n * sizeof *sh->ext);
  sh->ext = NULL;
  macho__arena_destroy(&sh->arena, &c->alloc);
  macho__table_free(&c->alloc, t);
  atomic_store(&sh->table, NULL);
}

/* ---- read buffers ------------------------------------------------------------------------- */
void macho__shard_drain_stripe(macho__shard *sh, uint32_t i) {
  macho__stripe *st = &sh->stripes[i];
  uint64_t batch[MACHO__STRIPE_LEN];
  uint32_t h = atomic_load_explicit(&st->head, memory_order_relaxed);
  uint32_t t = atomic_load_explicit(&st->tail, memory_order_acquire);
  if (h == t) return;
  uint32_t n = 0;
  for (; h != t && n < MACHO__STRIPE_LEN; h++)
    batch[n++] = atomic_load_explicit(&st->recs[h % MACHO__STRIPE_LEN], memory_order_relaxed);
  atomic_store_explicit(&st->head, h, memory_order_release);
  sh->pol->on_access(sh->pol_state, sh, batch, n);
}

/* Producers flag a stripe when they find it empty (read.c), so a writer
 * usually looks only at stripes that may hold records. A flag can be lost
 * to a race between a producer and this exchange; such a stripe is still
 * drained by its producer when half full, and by every 16th drain here,
 * which looks at all stripes. */
void macho__shard_drain(macho__shard *sh) {
  if (!sh->stripes) return;
  uint32_t pending = atomic_exchange_explicit(&sh->pending, 0u, memory_order_acquire);
  if (++sh->drains % 16 == 0) pending = (1u << MACHO__STRIPES) - 1;
  for (uint32_t i = 0; pending; i++, pending >>= 1)
    if (pending & 1u) macho__shard_drain_stripe(sh, i);
}

/* ---- lookups under the lock -------------------------------------------------------------------- */
/* Object-mode lookup. May drop the lock around the equality callback:
 * equal() runs on a retained candidate with no lock held, and a change of
 * the shard's version meanwhile restarts the probe (as CPython's dict). */
static int find_obj(macho__shard *sh, const void *key, uint64_t hash, uint32_t *out) {
  macho_cache *c = sh->cache;
restart:;
  macho__table *t = table_of(sh);
  const uint8_t tag = macho__tag(hash);
  uint32_t g = macho__home_group(t, hash), second = macho__second_group(t, hash);
  for (uint32_t n = 0; n <= t->ngroups; n++) {
    uint32_t bits = macho__group_match(&t->groups[g], tag);
    while (bits) {
      uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(bits);
      bits &= bits - 1;
      if (t->hashes[s] != hash) continue;
      void *cand = (void *)(uintptr_t)atomic_load_explicit(&t->slots[s].k, memory_order_relaxed);
      if (cand == key) {
        *out = s;
        return MACHO_OK;
      }
      uint64_t version = sh->version;
      c->obj_ops.retain(c->obj_ops.ctx, cand);
      macho__unlock(sh);
      int eq = c->obj_ops.equal(c->obj_ops.ctx, key, cand);
      c->obj_ops.release(c->obj_ops.ctx, cand);
      macho__lock(sh);
      if (eq < 0) return MACHO_ECALLBACK;
      if (sh->version != version) goto restart;
      if (eq) {
        *out = s;
        return MACHO_OK;
      }
    }
    /* First group, then the second and its overflow chain. */
    if (n == 0) g = second;
    else if (!atomic_load_explicit(&t->groups[g].ovf, memory_order_relaxed)) break;
    else if (++g == t->ngroups) g = 0;
  }
  *out = MACHO__NIL;
  return MACHO_OK;
}

int macho__shard_find(macho__shard *sh, const void *key, size_t klen, uint64_t hash,
                      uint32_t *slot) {
  if (sh->cache->object_mode) return find_obj(sh, key, hash, slot);
  *slot = macho__probe(sh, table_of(sh), hash, key, klen, macho__key_word(key, klen), NULL, NULL);
  return MACHO_OK;
}

/* ---- removal ----------------------------------------------------------------------------------- */
static void dead_push(macho__dead *dead, void *obj) {
  if (!obj) return;
  assert(dead && dead->n < MACHO__DEAD_MAX);
  dead->obj[dead->n++] = obj;
}

/* Static filters (xor) follow churn by rebuilding from the live hashes once
 * enough has changed since their last build. A failed allocation only
 * postpones the rebuild: the filter stays correct, it filters less. */
static void filter_maintain(macho__shard *sh) {
  if (!sh->fil->wants_rebuild || !sh->fil->wants_rebuild(sh->filter)) return;
  macho__table *t = table_of(sh);
  size_t size = (size_t)(sh->len ? sh->len : 1) * sizeof(uint64_t);
  uint64_t *hashes = macho__malloc(&sh->cache->alloc, size);
  if (!hashes) return;
  uint32_t n = 0;
  for (uint32_t g = 0; g < t->ngroups && n < sh->len; g++) {
    uint32_t full = macho__group_full(&t->groups[g]);
    while (full) {
      uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(full);
      full &= full - 1;
      hashes[n++] = macho__slot_hash(sh, t, s);
    }
  }
  (void)sh->fil->rebuild(sh->filter, hashes, n);
  macho__free(&sh->cache->alloc, hashes, size);
}

void macho__shard_remove(macho__shard *sh, uint32_t s, uint64_t hash, macho_removal reason,
                         uint64_t now, bool from_victim, macho__dead *dead) {
  macho_cache *c = sh->cache;
  macho__table *t = table_of(sh);
  macho__slot *sl = &t->slots[s];
  assert(macho__slot_tag(t, s) != 0);
  assert(!c->listen || dead); /* every removal of a listened cache is reported */
  uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
  uint64_t k = atomic_load_explicit(&sl->k, memory_order_relaxed);
  uint64_t v = atomic_load_explicit(&sl->v, memory_order_relaxed);
  if (!from_victim) sh->pol->remove(sh->pol_state, sh, s);
  if (sh->fil) sh->fil->remove(sh->filter, hash);
  /* A rejection is an eviction to the counters and lifespans (macho.h). */
  macho_removal counted = reason == MACHO_REMOVED_REJECTED ? MACHO_REMOVED_EVICTED : reason;
  if (sh->cache->cfg.metrics) { /* a lifespan costs a birth computed from the time field */
    uint32_t ep = atomic_load_explicit(&macho__group_of(t, s)->epoch, memory_order_relaxed);
    macho__metrics_on_remove(sh, macho__m_birth(sh, m, ep, s), counted, now);
  }
  macho__table_release(t, s, hash, (m & MACHO__M_BEYOND) != 0);
  if (c->object_mode) {
    dead_push(dead, (void *)(uintptr_t)k);
    dead_push(dead, (void *)(uintptr_t)v);
    if (c->weigh && sh->ext) sh->charged_bytes -= MACHO_ENTRY_OVERHEAD + sh->ext[s].weight;
    if (c->listen) macho__dead_report(dead, k, v, 0, 0, reason, false, NULL, 0);
  } else {
    uint32_t kf = macho__m_kform(m), vf = macho__m_vform(m);
    uint64_t kl = word_len(k, kf), vl = word_len(v, vf);
    sh->payload_bytes -= kl + vl;
    sh->charged_bytes -= macho__charge(kl, vl);
    if (c->listen) {
      /* The listener reads the bytes after unlock: blocks wait for the flush. */
      bool defer = kf > MACHO__FORM_INLINE_MAX || vf > MACHO__FORM_INLINE_MAX;
      macho__dead_report(dead, k, v, kf, vf, reason, defer, NULL, 0);
      if (defer) sh->deferred++;
    } else {
      release_word(sh, k, kf);
      release_word(sh, v, vf);
    }
  }
  sh->len--;
  sh->version++;
  if (counted == MACHO_REMOVED_EVICTED) sh->c.evictions++;
  else if (reason == MACHO_REMOVED_EXPIRED) sh->c.expirations++;
  if (sh->fil) filter_maintain(sh);
}

void macho__shard_free_gone(macho__shard *sh, const macho__gone *g) {
  assert(g->deferred && sh->deferred > 0);
  release_word(sh, g->k, g->kform);
  release_word(sh, g->v, g->vform);
  sh->deferred--;
}

/* The hash of the entry in slot s, only if removing it needs one (a
 * filter, or an entry that overflowed); else 0. */
uint64_t macho__hash_for_removal(const macho__shard *sh, const macho__table *t, uint32_t s) {
  if (!sh->fil && !(atomic_load_explicit(&t->slots[s].m, memory_order_relaxed) & MACHO__M_BEYOND))
    return 0;
  return macho__slot_hash(sh, t, s);
}

static inline void evict_one(macho__shard *sh, uint64_t now, macho__dead *dead) {
  assert(sh->len > 0);
  sh->rejected = 0;
  uint32_t s = sh->pol->victim(sh->pol_state, sh);
  macho_removal why = sh->rejected ? MACHO_REMOVED_REJECTED : MACHO_REMOVED_EVICTED;
  sh->rejected = 0;
  macho__shard_remove(sh, s, macho__hash_for_removal(sh, table_of(sh), s), why, now, true, dead);
}

void macho__shard_evict(macho__shard *sh, uint64_t now, macho__dead *dead) { evict_one(sh, now, dead); }

/* ---- growth ------------------------------------------------------------------------------------ */
/* Rebuild into a table of `ngroups` (growth doubles; macho_resize also
 * shrinks to the final size of a smaller capacity). The per-slot side data
 * (ext) follows the slots; when it cannot, nothing changes (ENOMEM). */
int macho__shard_rebuild(macho__shard *sh, uint32_t ngroups) {
  macho_cache *c = sh->cache;
  macho__table *old = table_of(sh);
  /* Every time is copied as is: put them all on the current epoch first. */
  for (uint32_t g = 0; g < old->ngroups; g++) macho__group_rebase(sh, old, g);
  sh->migrating = false;
  macho__table *t = new_table(sh, ngroups);
  if (!t) return MACHO_ENOMEM;
  assert(t->nslots > sh->len);
  size_t map_bytes = (size_t)old->nslots * sizeof(uint32_t);
  uint32_t *map = macho__malloc(&c->alloc, map_bytes);
  macho__ext *ext = NULL;
  if (map && sh->ext) ext = macho__calloc(&c->alloc, t->nslots, sizeof *ext);
  if (!map || (sh->ext && !ext)) {
    macho__free(&c->alloc, map, map_bytes);
    macho__table_free(&c->alloc, t);
    return MACHO_ENOMEM;
  }
  for (uint32_t s = 0; s < old->nslots; s++) {
    uint8_t tag = macho__slot_tag(old, s);
    if (!tag) {
      map[s] = MACHO__NIL;
      continue;
    }
    uint64_t h = macho__slot_hash(sh, old, s);
    uint32_t n = macho__table_claim(t, h);
    uint64_t beyond = 0;
    if (n == MACHO__NIL) { /* a new table is roomy: rare */
      n = macho__table_claim_overflow(t, h);
      beyond = MACHO__M_BEYOND;
    }
    assert(n != MACHO__NIL);
    macho__slot *a = &old->slots[s], *b = &t->slots[n];
    /* Nobody reads t yet: no write sections needed. */
    atomic_store_explicit(&b->k, atomic_load_explicit(&a->k, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&b->v, atomic_load_explicit(&a->v, memory_order_relaxed), memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&a->m, memory_order_relaxed) & ~MACHO__M_BEYOND;
    atomic_store_explicit(&b->m, m | beyond, memory_order_relaxed);
    macho__slot_set_tag(t, n, tag);
    if (t->hashes) t->hashes[n] = h;
    map[s] = n;
  }
  if (sh->pol->remap(sh->pol_state, sh, map, old->nslots, t->nslots) != MACHO_OK) {
    macho__free(&c->alloc, ext, (size_t)t->nslots * sizeof *ext);
    macho__free(&c->alloc, map, map_bytes);
    macho__table_free(&c->alloc, t);
    return MACHO_ENOMEM;
  }
  if (ext) {
    for (uint32_t s = 0; s < old->nslots; s++)
      if (map[s] != MACHO__NIL) ext[map[s]] = sh->ext[s];
    macho__free(&c->alloc, sh->ext, (size_t)sh->ext_n * sizeof *sh->ext);
    sh->ext = ext;
    sh->ext_n = t->nslots;
  }
  if (sh->own_born) { /* births follow their slots; if that fails they are forgotten */
    uint32_t *nb = macho__calloc(&c->alloc, t->nslots, sizeof(uint32_t));
    if (nb)
      for (uint32_t s = 0; s < old->nslots; s++)
        if (map[s] != MACHO__NIL) nb[map[s]] = sh->own_born[s];
    drop_own_births(sh);
    sh->own_born = nb;
    sh->own_born_n = nb ? t->nslots : 0;
  }
  macho__free(&c->alloc, map, map_bytes);
  atomic_store_explicit(&sh->table, t, memory_order_release);
  sh->version++;
  sh->sweep_group = 0;
  /* Readers that loaded `old` before the store may still be in it. */
  macho__synchronize(c);
  macho__table_free(&c->alloc, old);
  return MACHO_OK;
}

static int grow(macho__shard *sh) { return macho__shard_rebuild(sh, table_of(sh)->ngroups * 2); }

uint32_t macho__shard_final_groups(const macho__shard *sh) { return final_groups(sh->capacity); }

/* A new entry capacity (macho_resize, lock held). The capacity applies at
 * once: puts evict down to it. The policy is told (resize hook), or rebuilt
 * from its own eviction order, once the shard holds no more entries than
 * the capacity (shrinking evicts down first, by the old policy state, which
 * is sized for more); a final table becomes an intermediate one again when
 * the capacity grew past it, so inserts grow it as they come. Shrinking the
 * table itself is the caller's (macho__shard_rebuild). ENOMEM when growing
 * changes nothing. */
static int settle_policy(macho__shard *sh) {
  macho_cache *c = sh->cache;
  uint32_t capacity = sh->capacity;
  if (sh->pol_capacity == capacity || sh->len > capacity) return MACHO_OK;
  int hook = sh->pol->resize ? sh->pol->resize(sh->pol_state, sh, capacity) : MACHO_ENOTSUP;
  if (hook != MACHO_OK && hook != MACHO_ENOTSUP) return hook;
  if (hook == MACHO_ENOTSUP && sh->pol->state_size) {
    /* A fresh state for the new capacity; the entries go in coldest first,
     * in the order the old state would have evicted them. */
    uint32_t n = sh->len;
    size_t bytes = (size_t)(n ? n : 1) * sizeof(uint32_t);
    uint32_t *order = macho__malloc(&c->alloc, bytes);
    void *st = macho__calloc(&c->alloc, 1, sh->pol->state_size);
    int rc = order && st ? sh->pol->init(st, sh, capacity, table_of(sh)->nslots) : MACHO_ENOMEM;
    if (rc != MACHO_OK) {
      macho__free(&c->alloc, order, bytes);
      macho__free(&c->alloc, st, st ? sh->pol->state_size : 0);
      return MACHO_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) order[i] = sh->pol->victim(sh->pol_state, sh);
    sh->pol->destroy(sh->pol_state, sh);
    macho__free(&c->alloc, sh->pol_state, sh->pol->state_size);
    sh->pol_state = st;
    for (uint32_t i = 0; i < n; i++) sh->pol->insert(st, sh, order[i], macho__pol_hash(sh, order[i]));
    macho__free(&c->alloc, order, bytes);
  }
  sh->pol_capacity = capacity;
  return MACHO_OK;
}

static void settle_table(macho__shard *sh) {
  macho__table *t = table_of(sh);
  uint32_t fin = final_groups(sh->capacity);
  if (t->ngroups < fin) {
    t->final = 0;
    t->max_len = t->nslots / GROW_LOAD_DEN * GROW_LOAD_NUM;
  } else {
    t->final = 1; /* as big as needed, or bigger: macho_resize may shrink it */
    t->max_len = sh->capacity;
  }
}

int macho__shard_set_capacity(macho__shard *sh, uint32_t capacity) {
  uint32_t old = sh->capacity;
  sh->capacity = capacity;
  int rc = settle_policy(sh);
  if (rc != MACHO_OK && capacity > old) {
    sh->capacity = old; /* a policy sized for fewer entries cannot take more */
    return rc;
  }
  settle_table(sh);
  return MACHO_OK;
}

int macho__shard_settle(macho__shard *sh) {
  int rc = settle_policy(sh);
  settle_table(sh);
  return rc;
}

/* ---- births of entries with their own TTL ------------------------------------------------- */
/* Their time field holds the deadline, and the TTL is their own, so the
 * write time cannot be derived: keep it in a side array, allocated on the
 * first such put (4 bytes per slot, only in caches that use put_ttl with
 * other TTLs than the default). Without it, their lifespans go unrecorded:
 * metrics never fail an operation. */
static void note_own_birth(macho__shard *sh, uint32_t s, uint64_t now) {
  macho__table *t = table_of(sh);
  if (!sh->own_born) {
    if (!sh->cache->cfg.metrics) return;
    sh->own_born = macho__calloc(&sh->cache->alloc, t->nslots, sizeof(uint32_t));
    if (!sh->own_born) return;
    sh->own_born_n = t->nslots;
  }
  uint64_t epoch = atomic_load_explicit(&sh->epoch_ns[sh->epoch_cur], memory_order_relaxed);
  uint64_t w = now > epoch ? (now - epoch) / MACHO__FINE_NS : 0;
  sh->own_born[s] = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

static void drop_own_births(macho__shard *sh) {
  macho__free(&sh->cache->alloc, sh->own_born, (size_t)sh->own_born_n * sizeof(uint32_t));
  sh->own_born = NULL;
  sh->own_born_n = 0;
}

/* ---- making room: a one-step cuckoo move ---------------------------------------------------- */
/* Both candidate groups of a new key are full: move one of their entries
 * to its own other group, if that has room, and hand back the slot it
 * left. Without this, churn at 92% load left one key in ten overflowing
 * and misses walking eight groups (docs/DESIGN.md). The destination is
 * written first, then the source cleared: a lock-free reader sees the
 * entry in one place or the other, and a miss re-checks the first group's
 * sequence number (probe.h) for the move from second to first. */
static uint32_t make_room(macho__shard *sh, macho__table *t, uint64_t hash) {
  /* A sliced iteration walks groups in order: an entry moved behind its
   * cursor would be missed. While one runs, new keys overflow instead. */
  if (sh->walkers) return MACHO__NIL;
  const uint32_t cand[2] = {macho__home_group(t, hash), macho__second_group(t, hash)};
  for (int i = 0; i < 2; i++) {
    uint32_t src = cand[i];
    uint32_t full = macho__group_full(&t->groups[src]);
    while (full) {
      uint32_t x = src * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(full);
      full &= full - 1;
      uint64_t hx = macho__slot_hash(sh, t, x);
      uint32_t a = macho__home_group(t, hx), b = macho__second_group(t, hx);
      if ((src != a && src != b) || a == b ||
          (atomic_load_explicit(&t->slots[x].m, memory_order_relaxed) & MACHO__M_BEYOND))
        continue; /* overflowed (its counts pin it), or nowhere to go */
      uint32_t y = macho__table_room(t, src == a ? b : a, hx);
      if (y == MACHO__NIL) continue;
      macho__group_rebase(sh, t, x / MACHO__GROUP_SLOTS); /* a time moves as it is */
      macho__group_rebase(sh, t, y / MACHO__GROUP_SLOTS);
      macho__slot *from = &t->slots[x], *to = &t->slots[y];
      macho__group *gy = macho__group_of(t, y), *gx = macho__group_of(t, x);
      macho__group_write_begin(gy);
      atomic_store_explicit(&to->k, atomic_load_explicit(&from->k, memory_order_relaxed), memory_order_relaxed);
      atomic_store_explicit(&to->v, atomic_load_explicit(&from->v, memory_order_relaxed), memory_order_relaxed);
      atomic_store_explicit(&to->m, atomic_load_explicit(&from->m, memory_order_relaxed), memory_order_relaxed);
      macho__slot_set_tag(t, y, macho__slot_tag(t, x));
      macho__group_write_end(gy);
      macho__group_write_begin(gx);
      macho__slot_set_tag(t, x, 0);
      macho__group_write_end(gx);
      if (t->hashes) t->hashes[y] = t->hashes[x];
      if (sh->own_born && y < sh->own_born_n && x < sh->own_born_n) sh->own_born[y] = sh->own_born[x];
      if (sh->ext) sh->ext[y] = sh->ext[x];
      sh->pol->move(sh->pol_state, sh, x, y);
      sh->version++;
      return x;
    }
  }
  return MACHO__NIL;
}

/* A free slot for a new key; *beyond says it overflowed past its groups. */
static uint32_t claim(macho__shard *sh, macho__table *t, uint64_t hash, bool *beyond) {
  *beyond = false;
  uint32_t s = macho__table_claim(t, hash);
  if (s == MACHO__NIL) s = make_room(sh, t, hash);
  if (s == MACHO__NIL) {
    s = macho__table_claim_overflow(t, hash);
    *beyond = true;
  }
  return s;
}

/* ---- put ---------------------------------------------------------------------------------------- */
static uint64_t make_meta(uint32_t kform, uint32_t vform, uint64_t time, uint32_t pol) {
  return time | ((uint64_t)kform << MACHO__M_KFORM_SHIFT) | ((uint64_t)vform << MACHO__M_VFORM_SHIFT) |
         ((uint64_t)pol << MACHO__M_POL_SHIFT);
}

/* A bigger value may push the shard over its byte budget: evict others
 * first, never the entry about to be written (a put that succeeds must
 * leave its key present), so the budget holds at every instant. The entry
 * is taken out of the policy while the others go, so no policy can pick it
 * (re-inserting a picked entry loops forever under LFU), and comes back as
 * newly inserted. Policies without per-entry structures (Random) may still
 * draw it: draw again. MACHO__AGAIN when the call's dead list filled up. */
static int budget_keeping(macho__shard *sh, uint32_t keep, uint64_t co, uint64_t cn, uint64_t hash,
                          uint64_t now, macho__dead *dead) {
  if (!sh->capacity_bytes || sh->charged_bytes - co + cn <= sh->capacity_bytes) return MACHO_OK;
  sh->pol->remove(sh->pol_state, sh, keep);
  int rc = MACHO_OK;
  while (sh->charged_bytes - co + cn > sh->capacity_bytes) {
    if (!macho__dead_room(dead)) {
      rc = MACHO__AGAIN;
      break;
    }
    sh->rejected = 0;
    uint32_t victim = sh->pol->victim(sh->pol_state, sh);
    macho_removal why = sh->rejected ? MACHO_REMOVED_REJECTED : MACHO_REMOVED_EVICTED;
    sh->rejected = 0;
    if (victim != keep)
      macho__shard_remove(sh, victim, macho__hash_for_removal(sh, table_of(sh), victim), why, now, true,
                          dead);
  }
  sh->pol->insert(sh->pol_state, sh, keep, macho__hash63(hash));
  return rc;
}

uint64_t macho_entry_charge(size_t klen, size_t vlen) { return macho__charge(klen, vlen); }

/* What slot s is charged now (lock held). */
static uint64_t slot_charge(const macho__shard *sh, const macho__table *t, uint32_t s) {
  if (sh->cache->object_mode)
    return sh->cache->weigh && sh->ext ? MACHO_ENTRY_OVERHEAD + sh->ext[s].weight : 0;
  return macho__charge(macho__slot_key(sh, t, s, NULL), macho__slot_value(sh, t, s, NULL));
}

int macho__shard_put(macho__shard *sh, const void *key, size_t klen, const void *value,
                     size_t vlen, uint64_t hash, uint64_t ttl_ns, bool own_ttl, uint64_t weight,
                     macho__dead *dead) {
  macho_cache *c = sh->cache;
  const bool obj = c->object_mode;
  /* What the new entry is charged; too big for the budget changes nothing. */
  const uint64_t cn = obj ? (c->weigh ? MACHO_ENTRY_OVERHEAD + weight : 0) : macho__charge(klen, vlen);
  if (sh->capacity_bytes && cn > sh->capacity_bytes) return MACHO_ETOOBIG;
  macho__shard_drain(sh);
  uint64_t now = macho__now_write(c);
  macho__epoch_tick(sh, now);
  if (sh->has_ttl) macho__sweep(sh, now, MACHO__PUT_SWEEP, dead);
  uint32_t s;
  int rc = macho__shard_find(sh, key, klen, hash, &s);
  if (rc != MACHO_OK) return rc;
  macho__table *t = table_of(sh);
  if (s != MACHO__NIL) {
    uint64_t m = atomic_load_explicit(&t->slots[s].m, memory_order_relaxed);
    if (macho__m_expired(m, macho__group_epoch_ns(sh, macho__group_of(t, s)), now)) {
      if (!macho__dead_room(dead)) return MACHO__AGAIN;
      macho__shard_remove(sh, s, hash, MACHO_REMOVED_EXPIRED, now, false, dead);
      s = MACHO__NIL;
    }
  }
  uint64_t time = macho__m_time(sh, now, ttl_ns, own_ttl);

  if (s != MACHO__NIL) { /* replace the value, keep the key */
    macho__slot *sl = &t->slots[s];
    if (!macho__dead_room(dead)) return MACHO__AGAIN;
    /* The new value's block first (ENOMEM changes nothing), then room: the
     * budget holds before, during and after the write. */
    word nv = {0, 0};
    if (!obj && encode(sh, value, vlen, &nv) != MACHO_OK) return MACHO_ENOMEM;
    rc = budget_keeping(sh, s, slot_charge(sh, t, s), cn, hash, now, dead);
    if (rc != MACHO_OK) {
      if (!obj) release_word(sh, nv.w, nv.form);
      return rc;
    }
    uint64_t co = slot_charge(sh, t, s);
    uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
    uint64_t oldv = atomic_load_explicit(&sl->v, memory_order_relaxed);
    if (obj) {
      if (value) c->obj_ops.retain(c->obj_ops.ctx, (void *)value); /* NULL values are allowed */
      nv.w = (uint64_t)(uintptr_t)value;
      nv.form = 0;
    }
    if (time & MACHO__M_DEADLINE) {
      sh->has_ttl = true;
      macho__note_deadline(sh, time);
    }
    macho__group *g = macho__group_of(t, s);
    macho__group_rebase(sh, t, s / MACHO__GROUP_SLOTS);
    m = atomic_load_explicit(&sl->m, memory_order_relaxed); /* its time, rebased */
    macho__group_write_begin(g);
    atomic_store_explicit(&sl->v, nv.w, memory_order_relaxed);
    uint64_t keep = m & (((uint64_t)15 << MACHO__M_KFORM_SHIFT) | MACHO__M_POL_MASK);
    /* Without a deadline the time field is the entry's birth: a replace
     * keeps it (the entry lives on). With one, the TTL restarts now. */
    if (!(time & MACHO__M_DEADLINE) && !(m & MACHO__M_DEADLINE)) time = m & (MACHO__M_TIME_MASK | MACHO__M_LONG);
    atomic_store_explicit(&sl->m, keep | time | ((uint64_t)nv.form << MACHO__M_VFORM_SHIFT),
                          memory_order_relaxed);
    macho__group_write_end(g);
    if (time & MACHO__M_OWN_TTL) note_own_birth(sh, s, now);
    sh->charged_bytes = sh->charged_bytes - co + cn;
    if (sh->ext) {
      sh->ext[s].weight = weight;
      sh->ext[s].written = now;
    }
    if (obj) {
      if (oldv) dead_push(dead, (void *)(uintptr_t)oldv);
      if (c->listen) macho__dead_report(dead, 0, oldv, 0, 0, MACHO_REMOVED_REPLACED, false, key, 0);
    } else {
      uint32_t of = macho__m_vform(m);
      sh->payload_bytes += vlen;
      sh->payload_bytes -= word_len(oldv, of);
      if (c->listen) {
        /* The key is the caller's (the entry keeps its own); the old value's
         * block waits for the flush. */
        bool defer = of > MACHO__FORM_INLINE_MAX;
        macho__dead_report(dead, 0, oldv, 0, of, MACHO_REMOVED_REPLACED, defer, key, klen);
        if (defer) sh->deferred++;
      } else {
        release_word(sh, oldv, of);
      }
    }
    uint64_t rec = s;
    sh->pol->on_access(sh->pol_state, sh, &rec, 1);
    sh->c.puts++;
    return MACHO_OK;
  }

  /* Insert: allocate everything first, then make room. */
  uint32_t needed = sh->len + 1 < sh->capacity ? sh->len + 1 : sh->capacity;
  if (needed > t->max_len && !t->final && grow(sh) != MACHO_OK &&
      sh->len + 1 >= t->nslots - t->nslots / 16)
    return MACHO_ENOMEM; /* could not grow and the table is nearly full */
  t = table_of(sh);
  word kw, vw;
  if (obj) {
    kw.w = (uint64_t)(uintptr_t)key;
    vw.w = (uint64_t)(uintptr_t)value;
    kw.form = vw.form = 0;
  } else {
    if (encode(sh, key, klen, &kw) != MACHO_OK) return MACHO_ENOMEM;
    if (encode(sh, value, vlen, &vw) != MACHO_OK) {
      release_word(sh, kw.w, kw.form);
      return MACHO_ENOMEM;
    }
  }
  if (sh->pol->pre_insert) sh->pol->pre_insert(sh->pol_state, sh, macho__hash63(hash));
  /* Above the entry capacity only while a shrink is under way (macho_resize
   * brings the shard down in slices): this put then evicts two and leaves the
   * rest to the resize, instead of doing the whole shrink inside one call
   * (bench_pauses: one put took 177 ms). The size never grows meanwhile. */
  uint32_t count_evictions = sh->len > sh->capacity ? 2 : UINT32_MAX;
  while (((sh->len >= sh->capacity && count_evictions) ||
          (sh->capacity_bytes && sh->len && sh->charged_bytes + cn > sh->capacity_bytes))) {
    if (count_evictions && sh->len >= sh->capacity) count_evictions--;
    if (!macho__dead_room(dead)) { /* report what went so far, then try again */
      if (!obj) {
        release_word(sh, kw.w, kw.form);
        release_word(sh, vw.w, vw.form);
      }
      return MACHO__AGAIN;
    }
    evict_one(sh, now, dead);
  }
  if (time & MACHO__M_DEADLINE) {
    sh->has_ttl = true;
    macho__note_deadline(sh, time);
  }
  if (obj) {
    c->obj_ops.retain(c->obj_ops.ctx, (void *)key);
    if (value) c->obj_ops.retain(c->obj_ops.ctx, (void *)value);
  }
  bool beyond;
  s = claim(sh, t, hash, &beyond);
  assert(s != MACHO__NIL);
  macho__group_rebase(sh, t, s / MACHO__GROUP_SLOTS);
  macho__slot *sl = &t->slots[s];
  uint32_t prev_pol = macho__slot_pol(sl); /* what the slot's last occupant left */
  macho__group *g = macho__group_of(t, s);
  macho__group_write_begin(g);
  atomic_store_explicit(&sl->k, kw.w, memory_order_relaxed);
  atomic_store_explicit(&sl->v, vw.w, memory_order_relaxed);
  atomic_store_explicit(&sl->m, make_meta(kw.form, vw.form, time, prev_pol) | (beyond ? MACHO__M_BEYOND : 0),
                        memory_order_relaxed);
  macho__slot_set_tag(t, s, macho__tag(hash));
  macho__group_write_end(g);
  if (t->hashes) t->hashes[s] = hash;
  if (time & MACHO__M_OWN_TTL) note_own_birth(sh, s, now);
  if (sh->ext) {
    sh->ext[s].weight = weight;
    sh->ext[s].written = now;
  }
  sh->len++;
  sh->payload_bytes += obj ? 0 : (uint64_t)klen + vlen;
  sh->charged_bytes += cn;
  sh->version++;
  sh->pol->insert(sh->pol_state, sh, s, macho__hash63(hash));
  if (sh->fil) {
    sh->fil->add(sh->filter, hash);
    filter_maintain(sh);
  }
  sh->c.puts++;
  return MACHO_OK;
}

/* Slot s gets a new deadline, now + ttl_ns (0 = never), keeping its value
 * and its place in the policy (lock held). Its birth is kept aside as for
 * a put with its own TTL, so that its lifespan stays measurable. */
void macho__shard_set_ttl(macho__shard *sh, uint32_t s, uint64_t ttl_ns, uint64_t now) {
  macho__table *t = table_of(sh);
  macho__slot *sl = &t->slots[s];
  macho__group *g = macho__group_of(t, s);
  macho__group_rebase(sh, t, s / MACHO__GROUP_SLOTS); /* the new time counts from the current epoch */
  uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
  uint64_t born = macho__m_birth(sh, m, atomic_load_explicit(&g->epoch, memory_order_relaxed), s);
  uint64_t time = macho__m_time(sh, now, ttl_ns, true);
  if (!(time & MACHO__M_DEADLINE)) {
    /* No deadline: the time field holds the birth again. */
    time = macho__m_time(sh, born == UINT64_MAX ? now : born, 0, false);
  } else {
    sh->has_ttl = true;
    macho__note_deadline(sh, time);
  }
  uint64_t keep = m & ~(MACHO__M_TIME_MASK | MACHO__M_DEADLINE | MACHO__M_LONG | MACHO__M_OWN_TTL);
  macho__group_write_begin(g);
  /* The policy bits may change under us (a reader's CAS): keep them. */
  uint64_t cur = m, want;
  do {
    keep = cur & ~(MACHO__M_TIME_MASK | MACHO__M_DEADLINE | MACHO__M_LONG | MACHO__M_OWN_TTL);
    want = keep | time;
  } while (!atomic_compare_exchange_weak_explicit(&sl->m, &cur, want, memory_order_relaxed,
                                                  memory_order_relaxed));
  macho__group_write_end(g);
  if ((time & MACHO__M_OWN_TTL) && born != UINT64_MAX) note_own_birth(sh, s, born);
}

uint32_t macho__shard_hint(macho__shard *sh, uint32_t s) {
  return sh->pol->hint ? sh->pol->hint(sh->pol_state, sh, s) : 0;
}

/* ---- clear ----------------------------------------------------------------------------------- */
/* One slice of a clear: remove up to MACHO__DEAD_MAX / 2 entries through the
 * removal point (so policy, filter, arena and lifespans follow), objects
 * going to `dead` for release after unlock. Returns 1 when the shard is
 * empty. Writers may run between slices: a clear never holds the lock for
 * more than one slice, and needs no memory. */
int macho__shard_clear_slice(macho__shard *sh, macho__dead *dead) {
  macho__shard_drain(sh);
  macho__table *t = table_of(sh);
  uint64_t now = macho__now_write(sh->cache);
  uint32_t budget = MACHO__DEAD_MAX / 2;
  for (uint32_t g = 0; g < t->ngroups && sh->len && budget && macho__dead_room(dead); g++) {
    uint32_t full = macho__group_full(&t->groups[g]);
    while (full && budget && macho__dead_room(dead)) {
      uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(full);
      full &= full - 1;
      macho__shard_remove(sh, s, macho__hash_for_removal(sh, t, s), MACHO_REMOVED_CLEARED, now, false, dead);
      budget--;
    }
  }
  return sh->len == 0;
}

/* The shard is empty (lock held): forget history and give memory back.
 * The policy forgets its history (S3-FIFO's ghost, W-TinyLFU's sketch) even
 * when deletes had already emptied the shard. The arena and a grown table
 * go back to what a new shard holds; they are handed to the caller to free
 * after a grace period (readers may still be in them). */
void macho__shard_clear_finish(macho__shard *sh, macho__cleared *out) {
  macho_cache *c = sh->cache;
  memset(out, 0, sizeof *out);
  assert(sh->len == 0);
  sh->pol->clear(sh->pol_state, sh);
  if (sh->fil) sh->fil->clear(sh->filter);
  if (sh->mrc) macho__mrc_clear(sh->mrc);
  sh->payload_bytes = 0;
  sh->charged_bytes = 0;
  sh->sweep_group = 0;
  sh->cycle_min = UINT64_MAX;
  atomic_store_explicit(&sh->next_expiry, UINT64_MAX, memory_order_relaxed);
  drop_own_births(sh);
  sh->c.clears++;
  /* Every block in the arena is free now: hand its chunks over (readers
   * still copying from them keep them until the grace period ends). Not
   * while a listener flush has yet to read and free removed payloads: the
   * arena then stays as it is (correct, only not given back). */
  macho__arena_init(&out->arena);
  if (sh->deferred) return;
  for (uint32_t i = 0; i < MACHO__ARENA_CHUNKS; i++)
    atomic_store_explicit(&out->arena.chunk[i],
                          atomic_load_explicit(&sh->arena.chunk[i], memory_order_relaxed),
                          memory_order_relaxed);
  out->arena.bytes_held = sh->arena.bytes_held;
  macho__arena_init(&sh->arena);
  macho__table *old = table_of(sh);
  if (old->ngroups == initial_groups(sh)) return;
  macho__table *t = new_table(sh, initial_groups(sh));
  if (!t) return; /* keep the big (empty) table: still correct */
  macho__ext *ext = sh->ext ? macho__calloc(&c->alloc, t->nslots, sizeof *ext) : NULL;
  if ((sh->ext && !ext) || sh->pol->remap(sh->pol_state, sh, NULL, old->nslots, t->nslots) != MACHO_OK) {
    macho__free(&c->alloc, ext, ext ? (size_t)t->nslots * sizeof *ext : 0);
    macho__table_free(&c->alloc, t);
    return;
  }
  if (ext) {
    macho__free(&c->alloc, sh->ext, (size_t)sh->ext_n * sizeof *sh->ext);
    sh->ext = ext;
    sh->ext_n = t->nslots;
  }
  atomic_store_explicit(&sh->table, t, memory_order_release);
  sh->version++;
  out->table = old;
}

/* No lock held: free what clear_finish retired, after a grace period. */
void macho__shard_clear_release(macho__shard *sh, macho__cleared *old) {
  macho_cache *c = sh->cache;
  bool arena = false;
  for (uint32_t i = 0; i < MACHO__ARENA_CHUNKS; i++) arena |= old->arena.chunk[i] != NULL;
  if (!old->table && !arena) return;
  macho__synchronize(c);
  macho__arena_destroy(&old->arena, &c->alloc);
  macho__table_free(&c->alloc, old->table);
  old->table = NULL;
}

/* ---- policy helpers -------------------------------------------------------------------------- */
macho__link *macho__links_new(macho__shard *sh, uint32_t nslots) {
  macho__link *lk = macho__malloc(&sh->cache->alloc, (size_t)nslots * sizeof *lk);
  if (lk) memset(lk, 0xff, (size_t)nslots * sizeof *lk);
  return lk;
}

void macho__links_free(macho__shard *sh, macho__link *lk, uint32_t nslots) {
  macho__free(&sh->cache->alloc, lk, (size_t)nslots * sizeof *lk);
}

macho__link *macho__links_remap(macho__shard *sh, macho__link *lk, macho__dlist *lists,
                                uint32_t nlists, const uint32_t *map, uint32_t old_nslots,
                                uint32_t new_nslots) {
  macho__link *nk = macho__links_new(sh, new_nslots);
  if (!nk) return NULL;
  for (uint32_t i = 0; i < nlists; i++) {
    macho__dlist nl;
    macho__dlist_init(&nl);
    if (map)
      for (uint32_t id = lists[i].tail; id != MACHO__NIL; id = lk[id].prev)
        macho__dlist_push_front(nk, &nl, map[id]);
    lists[i] = nl;
  }
  macho__links_free(sh, lk, old_nslots);
  return nk;
}
