/*
 * read.c -- the get path.
 *
 * Bytes mode, lock-free (the common case): hash the key, pick the shard,
 * enter a read section in the thread's record, probe the table (probe.h),
 * copy the value into the caller's buffer, and check that the group's
 * sequence number did not move; if it did, a writer changed the group
 * while we read: go round again (after many rounds, take the lock). The
 * get then counts itself in its thread's record and tells the policy
 * through the policy bits or the read buffer (policy.h). Nothing shared is
 * written unless the policy's access bit flips, a read buffer fills, or the
 * call is one of the 1 in 64 whose latency is sampled.
 *
 * Locked (object mode, caches with a membership filter, huge keys and
 * values, and fallbacks): the shard lock is held for the lookup, as every
 * writer holds it. Object mode keeps the lock because retaining a value must
 * not race its release by a writer; filters because their arrays change in
 * place. Both modes share this path.
 */
#include "internal.h"
#include "hash.h"
#include "policy/policy.h"
#include "probe.h"

#define READ_RETRIES 64

static inline macho__shard *shard_for(macho_cache *c, uint64_t hash) {
  return &c->shards[macho__shard_of(hash, c->nshards)];
}

static inline void dead_flush(macho_cache *c, macho__dead *dead) { macho__dead_flush(c, dead); }

/* ---- telling the policy about a lock-free get ------------------------------------ */
static void record_slow(macho__shard *sh, macho__trec *r, uint64_t rec, bool stored) {
  if (!macho__trylock(sh)) return; /* busy: the record is dropped (lossy by design) */
  if (r->index < MACHO__STRIPES) macho__shard_drain_stripe(sh, r->index); /* ours, flag or not */
  macho__shard_drain(sh);
  if (!stored) sh->pol->on_access(sh->pol_state, sh, &rec, 1);
  macho__unlock(sh);
}

static inline void record(macho__shard *sh, macho__trec *r, uint64_t rec) {
  if (macho__likely(r->index < MACHO__STRIPES)) {
    macho__stripe *st = &sh->stripes[r->index];
    uint32_t t = atomic_load_explicit(&st->tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&st->head, memory_order_acquire);
    if (macho__likely(t - h < MACHO__STRIPE_LEN)) {
      atomic_store_explicit(&st->recs[t % MACHO__STRIPE_LEN], rec, memory_order_relaxed);
      atomic_store_explicit(&st->tail, t + 1, memory_order_release);
      /* The first record since a drain flags the stripe for writers: one
       * shared write per drain cycle, not per hit. */
      if (t == h) atomic_fetch_or_explicit(&sh->pending, 1u << r->index, memory_order_release);
      if (macho__likely(t + 1 - h < MACHO__STRIPE_LEN / 2)) return;
      record_slow(sh, r, rec, true); /* half full: replay while it is cheap */
      return;
    }
    record_slow(sh, r, rec, false);
    return;
  }
  /* More threads than stripes: this thread shares none; try the lock. */
  record_slow(sh, r, rec, false);
}

static inline __attribute__((always_inline)) void on_hit(macho__shard *sh, macho__trec *r, macho__table *t, uint32_t s, uint64_t m) {
  switch (sh->access) {
  case MACHO__ACCESS_NONE: return;
  case MACHO__ACCESS_BIT: {
    uint64_t bit = 1ull << (MACHO__M_POL_SHIFT + sh->pol->access_bit);
    if (!(m & bit)) {
      /* Set it only if the slot still holds what we read. */
      _Atomic uint64_t *w = &t->slots[s].m;
      (void)atomic_compare_exchange_strong_explicit(w, &m, m | bit, memory_order_relaxed,
                                                    memory_order_relaxed);
    }
    return;
  }
  default: record(sh, r, s); return;
  }
}

/* ---- the locked path ----------------------------------------------------------------- */
/* Filter step: false when the filter proves the key absent. */
static inline bool filter_admits(macho__shard *sh, uint64_t hash) {
  if (!sh->fil) return true;
  sh->c.filter_queries++;
  if (sh->fil->maybe_contains(sh->filter, hash)) return true;
  sh->c.filter_negatives++;
  return false;
}

/* Look up under the lock; reclaims an expired entry (and sets *stale). */
static int find_live(macho__shard *sh, const void *key, size_t klen, uint64_t hash, uint32_t *s,
                     uint64_t now, macho__dead *dead, bool *stale) {
  int rc = macho__shard_find(sh, key, klen, hash, s);
  if (rc != MACHO_OK || *s == MACHO__NIL) return rc;
  macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
  uint64_t m = atomic_load_explicit(&t->slots[*s].m, memory_order_relaxed);
  if ((m & MACHO__M_DEADLINE) &&
      macho__m_expired(m, macho__group_epoch_ns(sh, macho__group_of(t, *s)), now)) {
    macho__shard_remove(sh, *s, hash, MACHO_REMOVED_EXPIRED, macho__now_write(sh->cache), false, dead);
    *s = MACHO__NIL;
    if (stale) *stale = true;
  }
  return MACHO_OK;
}

/* The get of both modes under the lock. Bytes mode copies into buf; object
 * mode retains the value into *obj. */
static int get_locked(macho_cache *c, macho__shard *sh, const void *key, size_t klen,
                      uint64_t hash, void *buf, size_t buflen, size_t *vlen, void **obj,
                      macho__lat lat) {
  macho__dead dead; /* no initialiser: zero-filling the array per call showed in profiles */
  macho__dead_init(&dead, sh);
  uint32_t s = MACHO__NIL;
  int rc = MACHO_OK;
  macho__lock(sh);
  macho__shard_drain(sh);
  /* The clock word decides expiry; an entry found expired is removed at
   * the time writes stamp (find_live reads it only then). */
  uint64_t now = macho__now(c);
  if (filter_admits(sh, hash)) {
    bool stale = false;
    rc = find_live(sh, key, klen, hash, &s, now, &dead, &stale);
    if (rc == MACHO_OK && s == MACHO__NIL && sh->fil && !stale) sh->c.filter_false_positives++;
  }
  if (rc == MACHO_OK && s == MACHO__NIL) {
    sh->c.misses++;
    if (sh->mrc) macho__mrc_observe(sh->mrc, hash);
    if (sh->pol->record_misses) {
      uint64_t rec = MACHO__REC_MISS | macho__hash63(hash);
      sh->pol->on_access(sh->pol_state, sh, &rec, 1);
    }
    rc = MACHO_ENOTFOUND;
  } else if (rc == MACHO_OK) {
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    macho__slot *sl = &t->slots[s];
    uint64_t v = atomic_load_explicit(&sl->v, memory_order_relaxed);
    if (c->object_mode) {
      if (v) c->obj_ops.retain(c->obj_ops.ctx, (void *)(uintptr_t)v);
      *obj = (void *)(uintptr_t)v;
    } else {
      uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
      uint32_t f = macho__m_vform(m);
      const void *src;
      size_t n;
      if (f <= MACHO__FORM_INLINE_MAX) {
        src = &v;
        n = f;
      } else if (f == MACHO__FORM_ARENA) {
        n = macho__ref_len(v);
        src = macho__arena_ptr(&sh->arena, macho__ref_off(v));
      } else {
        const uint64_t *h = (const uint64_t *)(uintptr_t)v;
        n = h[0];
        src = h + 1;
      }
      if (vlen) *vlen = n;
      if (n > buflen) {
        if (sh->fil) sh->c.filter_queries--; /* ERANGE counts nothing (macho.h); the caller retries */
        macho__lat_end(c, sh, MACHO__OP_GET, lat);
        macho__unlock(sh);
        if (macho__dead_pending(&dead)) dead_flush(c, &dead);
        return MACHO_ERANGE;
      }
      if (f == MACHO__FORM_ARENA) macho__atomic_copy_out(buf, src, (uint32_t)n);
      else if (n) memcpy(buf, src, n);
    }
    sh->c.hits++;
    if (sh->mrc) macho__mrc_observe(sh->mrc, hash);
    uint64_t rec = s;
    sh->pol->on_access(sh->pol_state, sh, &rec, 1);
  }
  macho__lat_end(c, sh, MACHO__OP_GET, lat);
  macho__unlock(sh);
  if (macho__dead_pending(&dead)) dead_flush(c, &dead);
  return rc;
}

/* A lock-free get found its key expired: count a miss, and let a writer's
 * work be done now if the lock is free (an expired entry costs a table
 * slot until someone removes it). */
static void reclaim_expired(macho_cache *c, macho__shard *sh, const void *key, size_t klen,
                            uint64_t hash) {
  if (!macho__trylock(sh)) return;
  macho__dead dead;
  macho__dead_init(&dead, sh);
  macho__shard_drain(sh);
  uint32_t s;
  (void)find_live(sh, key, klen, hash, &s, macho__now(c), &dead, NULL);
  macho__unlock(sh);
  if (macho__dead_pending(&dead)) dead_flush(c, &dead);
}

/* Every 64th lock-free get of a thread lends a writer's hand to the expiry
 * sweep of its shard, when something there may be due: a cache read and
 * never written still gives back the slots of entries nobody asks for. */
#define GET_SWEEP_SLOTS (4u * MACHO__GROUP_SLOTS)

static void get_side_sweep(macho_cache *c, macho__shard *sh) {
  uint64_t due = atomic_load_explicit(&sh->next_expiry, memory_order_relaxed);
  if (due == UINT64_MAX) return; /* no deadline in the shard: no clock read either */
  uint64_t now = macho__now(c);
  if (now < due || !macho__trylock(sh)) return;
  macho__dead dead;
  macho__dead_init(&dead, sh);
  macho__shard_drain(sh);
  (void)macho__sweep(sh, now, GET_SWEEP_SLOTS, &dead);
  macho__unlock(sh);
  if (macho__dead_pending(&dead)) dead_flush(c, &dead);
}

/* Once per 64 gets of a thread (the latency sample and the sweep take
 * turns within the period), or always with metrics = 2. */
static __attribute__((noinline)) void get_tail(macho_cache *c, macho__shard *sh, uint32_t tick,
                                               uint64_t t0) {
  if ((tick & 63) == 32) get_side_sweep(c, sh);
  if (t0) {
    macho__lat l = {t0, true};
    macho__lat_end_unlocked(c, sh, MACHO__OP_GET, l);
  }
}

static inline void copy_small(void *buf, uint64_t v, size_t n) {
  if (macho__likely(n == 8)) {
    memcpy(buf, &v, 8);
    return;
  }
  unsigned char *d = buf;
  for (size_t i = 0; i < n; i++) d[i] = (unsigned char)(v >> (8 * i));
}

/* ---- public --------------------------------------------------------------------------- */
/* Every get the fast path below does not finish: misses, keys or values
 * longer than 8 bytes, the first group changed or collided, expired
 * entries, the 1 in 32 with a latency sample or a sweep turn, locked reads. */
static __attribute__((noinline)) int get_general(macho_cache *c, const void *key, size_t klen,
                                                 void *buf, size_t buflen, size_t *vlen,
                                                 uint32_t tick, uint64_t known_hash, bool hashed) {
  /* One test for every bad argument (bitwise, so one branch). A caller
   * that already hashed the key (the fast path) checked them. */
  if (!hashed &&
      macho__unlikely(!c | (klen > UINT32_MAX) | (!key & (klen != 0)) | (!buf & (buflen != 0))))
    return MACHO_EINVAL;
  const bool tail = macho__unlikely((tick & 31) == 0 || c->cfg.metrics == 2 ||
                                    macho__lat_warming(c, MACHO__OP_GET));
  uint64_t t0 = 0;
  if (tail && (c->cfg.metrics == 2 ||
               (c->cfg.metrics == 1 && ((tick & 63) == 0 || macho__lat_warming(c, MACHO__OP_GET)))))
    t0 = macho__now_precise(c) | 1; /* 0 means "not sampled" */
  uint64_t hash = hashed ? known_hash : macho__hash_bytes(key, klen, c->cfg.seed);
  macho__shard *sh = shard_for(c, hash);
  macho__trec *r;
  if (macho__unlikely(sh->locked_reads || klen > MACHO__ARENA_MAX) || !(r = macho__trec_get(c))) {
    if (c->object_mode) return MACHO_EMODE;
    macho__lat lat = {t0, t0 != 0};
    return get_locked(c, sh, key, klen, hash, buf, buflen, vlen, NULL, lat);
  }

  const uint64_t kw = macho__key_word(key, klen);
  macho__read_enter(r);
  for (int round = 0;; round++) {
    if (macho__unlikely(round == READ_RETRIES)) {
      /* A writer keeps changing this group (or sleeps inside it): wait on the lock. */
      macho__read_exit(r);
      macho__lat lat = {t0, t0 != 0};
      return get_locked(c, sh, key, klen, hash, buf, buflen, vlen, NULL, lat);
    }
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_acquire);
    uint32_t seq;
    uint64_t m;
    uint32_t s = macho__probe(sh, t, hash, key, klen, kw, &seq, &m);
    if (macho__unlikely(s == MACHO__RETRY)) continue;
    if (s == MACHO__NIL) {
      macho__read_exit(r);
      macho__tcount_add(&r->c[sh->index].misses);
      if (sh->record_misses) record(sh, r, MACHO__REC_MISS | macho__hash63(hash));
      if (macho__unlikely(tail)) get_tail(c, sh, tick, t0);
      return MACHO_ENOTFOUND;
    }
    const macho__slot *sl = &t->slots[s];
    const macho__group *g = macho__group_of(t, s);
    uint64_t v = atomic_load_explicit(&sl->v, memory_order_relaxed);
    uint32_t f = macho__m_vform(m);
    bool expired = false;
    if (m & MACHO__M_DEADLINE) expired = macho__m_expired(m, macho__group_epoch_ns(sh, g), macho__now(c));
    size_t n;
    if (macho__likely(f <= MACHO__FORM_INLINE_MAX)) {
      n = f;
      if (!expired && n <= buflen) copy_small(buf, v, n);
    } else if (f == MACHO__FORM_ARENA) {
      n = macho__ref_len(v);
      if (!expired && n <= buflen) {
        const unsigned char *b = macho__arena_resolve(&sh->arena, macho__ref_off(v), (uint32_t)n);
        if (!b) continue; /* a torn reference: the seq check would fail */
        macho__atomic_copy_out(buf, b, (uint32_t)n);
      }
    } else {
      /* Huge value: read it under the lock. */
      macho__read_exit(r);
      macho__lat lat = {t0, t0 != 0};
      return get_locked(c, sh, key, klen, hash, buf, buflen, vlen, NULL, lat);
    }
    macho__fence(memory_order_acquire);
    if (macho__unlikely(atomic_load_explicit(&g->seq, memory_order_relaxed) != seq)) continue;
    if (macho__likely(!expired && n <= buflen)) {
      /* Still inside the read section: the access bit lives in the table. */
      if (sh->access != MACHO__ACCESS_NONE) on_hit(sh, r, t, s, m);
      macho__read_exit(r);
      if (vlen) *vlen = n;
      macho__tcount_add(&r->c[sh->index].hits);
      if (macho__unlikely(tail)) get_tail(c, sh, tick, t0);
      return MACHO_OK;
    }
    macho__read_exit(r);
    if (macho__unlikely(expired)) {
      macho__tcount_add(&r->c[sh->index].misses);
      if (sh->record_misses) record(sh, r, MACHO__REC_MISS | macho__hash63(hash));
      reclaim_expired(c, sh, key, klen, hash);
      if (macho__unlikely(tail)) get_tail(c, sh, tick, t0);
      return MACHO_ENOTFOUND;
    }
    if (vlen) *vlen = n;
    return MACHO_ERANGE; /* counts nothing (macho.h) */
  }
}


/* What the fast path below hands on. Both are tail calls of six
 * arguments (a jump, so the fast path saves no registers for them); the
 * fast path leaves the hash it computed in the thread's block. */
static __attribute__((noinline)) int get_unchecked(macho_cache *c, const void *key, size_t klen,
                                                   void *buf, size_t buflen, size_t *vlen) {
  return get_general(c, key, klen, buf, buflen, vlen, macho__tl.tick[MACHO__OP_GET], 0, false);
}
static __attribute__((noinline)) int get_hashed(macho_cache *c, const void *key, size_t klen,
                                                void *buf, size_t buflen, size_t *vlen) {
  return get_general(c, key, klen, buf, buflen, vlen, macho__tl.tick[MACHO__OP_GET],
                     macho__tl.get_hash, true);
}
/* A hit whose read-buffer record did not fit the fast path: record it the
 * long way, then leave the read section (still inside it until then, so
 * that the slot number cannot outlive its table). */
static __attribute__((noinline)) int hit_record_slow(macho__shard *sh, macho__trec *r, uint32_t s) {
  record(sh, r, s);
  macho__read_exit(r);
  return MACHO_OK;
}

/* The common get, kept small: a hit in one of the key's two groups, a key
 * of 8 bytes and a value of at most 8, nothing special about the call.
 * Everything else goes to get_general, as a tail call, so that no register
 * is saved for the rare paths. */
int macho_get(macho_cache *c, const void *key, size_t klen, void *buf, size_t buflen,
              size_t *vlen) {
  /* One per-thread tick: every 32nd get is special, and takes turns between
   * a latency sample and a sweep (every get is timed with metrics = 2). */
  uint32_t tick = ++macho__tl.tick[MACHO__OP_GET];
  /* The fast path's own conditions imply valid arguments; get_general
   * checks everything else. */
  if (macho__unlikely(!c || !key || klen != 8 || !buf || (tick & 31) == 0 || c->cfg.metrics == 2 ||
                      macho__lat_warming(c, MACHO__OP_GET)))
    return get_unchecked(c, key, klen, buf, buflen, vlen);
  const uint64_t hash = macho__hash8(key, c->hash8_flip);
  macho__tl.get_hash = hash;
  macho__shard *sh = shard_for(c, hash);
  macho__tl_entry *e = &macho__tl.cache[c->uid & 3];
  if (macho__unlikely(sh->locked_reads || e->uid != c->uid))
    return get_hashed(c, key, klen, buf, buflen, vlen);
  macho__trec *r = e->rec;
  uint64_t kw;
  memcpy(&kw, key, 8);
  macho__read_enter(r);
  const macho__table *t = atomic_load_explicit(&sh->table, memory_order_acquire);
  const uint8_t tag = macho__tag(hash);
  /* The key's two candidate groups, first then second (a hit found in a
   * group is validated by that group's seq alone; an absence is not an
   * answer here: get_general proves it). */
  uint32_t g = macho__home_group(t, hash);
  /* The key's home slot, fetched while the tags are read: with 4 KiB
   * pages and a big table, tags and slot are two misses otherwise. */
  __builtin_prefetch(&t->slots[g * MACHO__GROUP_SLOTS + macho__home_pos(hash)]);
  for (int round = 0; round < 2; round++) {
    const macho__group *gr = &t->groups[g];
    const uint32_t seq = atomic_load_explicit(&gr->seq, memory_order_acquire);
    uint32_t bits = macho__group_match(gr, tag);
    while (bits) {
      uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(bits);
      bits &= bits - 1;
      const macho__slot *sl = &t->slots[s];
      uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
      uint64_t k = atomic_load_explicit(&sl->k, memory_order_relaxed);
      if (k != kw || macho__m_kform(m) != 8) continue;
      uint64_t v = atomic_load_explicit(&sl->v, memory_order_relaxed);
      uint32_t n = macho__m_vform(m);
      if (macho__unlikely(n > MACHO__FORM_INLINE_MAX || n > buflen || (seq & 1)))
        goto general; /* long value, ERANGE, or a writer inside */
      if (m & MACHO__M_DEADLINE) {
        /* Only the clock word and 100 us ticks here (no call: the fast
         * path saves no registers); an injected clock, no ticker, or a
         * deadline in whole seconds goes the long way. */
        if (macho__unlikely((m & MACHO__M_LONG) || c->cfg.clock != NULL ||
                            !atomic_load_explicit(&macho__ticker_live, memory_order_acquire)))
          goto general;
        uint64_t due = macho__group_epoch_ns(sh, gr) + (m & MACHO__M_TIME_MASK) * MACHO__FINE_NS;
        if (macho__unlikely(due <= atomic_load_explicit(&macho__clock_word, memory_order_relaxed)))
          goto general; /* expired */
      }
      copy_small(buf, v, n);
      macho__fence(memory_order_acquire);
      if (macho__unlikely(atomic_load_explicit(&gr->seq, memory_order_relaxed) != seq)) goto general;
      if (vlen) *vlen = n;
      macho__tcount_add(&r->c[sh->index].hits);
      /* Tell the policy, still inside the read section. */
      if (sh->access == MACHO__ACCESS_BIT) {
        uint64_t bit = 1ull << (MACHO__M_POL_SHIFT + sh->pol->access_bit);
        if (!(m & bit))
          (void)atomic_compare_exchange_strong_explicit(&((macho__table *)t)->slots[s].m, &m,
                                                        m | bit, memory_order_relaxed,
                                                        memory_order_relaxed);
      } else if (sh->access == MACHO__ACCESS_BUFFER) {
        /* The common case of record(): room in our stripe, not half full,
         * not the first record since a drain. */
        macho__stripe *st = &sh->stripes[r->index & (MACHO__STRIPES - 1)];
        uint32_t tl = atomic_load_explicit(&st->tail, memory_order_relaxed);
        uint32_t hd = atomic_load_explicit(&st->head, memory_order_acquire);
        if (macho__unlikely(r->index >= MACHO__STRIPES || tl == hd ||
                            tl + 1 - hd >= MACHO__STRIPE_LEN / 2))
          return hit_record_slow(sh, r, s);
        atomic_store_explicit(&st->recs[tl % MACHO__STRIPE_LEN], (uint64_t)s, memory_order_relaxed);
        atomic_store_explicit(&st->tail, tl + 1, memory_order_release);
      }
      macho__read_exit(r);
      return MACHO_OK;
    }
    g = macho__second_group(t, hash);
  }
general:
  macho__read_exit(r);
  return get_hashed(c, key, klen, buf, buflen, vlen);
}

int macho_obj_get(macho_cache *c, const void *key, void **value) {
  if (!c || !key) return MACHO_EINVAL;
  if (!c->object_mode) return MACHO_EMODE;
  if (!value) return MACHO_EINVAL;
  macho__lat lat = macho__lat_begin(c, MACHO__OP_GET);
  uint64_t h;
  if (c->obj_ops.hash(c->obj_ops.ctx, key, &h) != 0) return MACHO_ECALLBACK;
  uint64_t hash = macho__mix64(h ^ c->cfg.seed);
  return get_locked(c, shard_for(c, hash), key, 0, hash, NULL, 0, NULL, value, lat);
}

/* A peek: no counters, no recency. Bytes mode reads without the lock. */
int macho__contains(macho_cache *c, const void *key, size_t klen, uint64_t hash) {
  macho__shard *sh = shard_for(c, hash);
  macho__trec *r;
  if (!c->object_mode && !sh->locked_reads && klen <= MACHO__ARENA_MAX && (r = macho__trec_get(c))) {
    const uint64_t kw = macho__key_word(key, klen);
    macho__read_enter(r);
    for (int round = 0; round < READ_RETRIES; round++) {
      macho__table *t = atomic_load_explicit(&sh->table, memory_order_acquire);
      uint32_t seq;
      uint64_t m;
      uint32_t s = macho__probe(sh, t, hash, key, klen, kw, &seq, &m);
      if (s == MACHO__RETRY) continue;
      int rc = MACHO_ENOTFOUND;
      if (s != MACHO__NIL) {
        const macho__group *g = macho__group_of(t, s);
        bool expired = (m & MACHO__M_DEADLINE) &&
                       macho__m_expired(m, macho__group_epoch_ns(sh, g), macho__now(c));
        macho__fence(memory_order_acquire);
        if (atomic_load_explicit(&g->seq, memory_order_relaxed) != seq) continue;
        rc = expired ? MACHO_ENOTFOUND : MACHO_OK;
      }
      macho__read_exit(r);
      return rc;
    }
    macho__read_exit(r);
  }
  macho__dead dead;
  macho__dead_init(&dead, sh);
  uint32_t s = MACHO__NIL;
  macho__lock(sh);
  macho__shard_drain(sh);
  int rc = find_live(sh, key, klen, hash, &s, macho__now(c), &dead, NULL);
  if (rc == MACHO_OK && s == MACHO__NIL) rc = MACHO_ENOTFOUND;
  macho__unlock(sh);
  if (macho__dead_pending(&dead)) dead_flush(c, &dead);
  return rc;
}
