/*
 * inspect.c -- looking at a cache without disturbing it: iteration over a
 * sliced snapshot (macho_foreach_key/_entry, and the snapshot writer),
 * hottest/coldest entries by the policy's order, peeks, per-entry TTLs.
 *
 * Sliced iteration. A shard is walked group by group; each slice (at most
 * WALK_SLICE entries or WALK_SLICE_BYTES of keys and values) is copied, or
 * its objects retained, under the shard lock, and handed to the callback
 * with no lock held. Writers therefore wait for one slice at a time. What
 * makes the result a snapshot of every entry that stays put: entries only
 * change group through a cuckoo move (shard.c: make_room), which waits
 * while a walk is registered on the shard (sh->walkers: new keys overflow
 * instead), or through a table rebuild (growth, macho_resize), after which
 * the walk starts over on the new table and skips the entries it already
 * listed. Those are recognised by their key word: for a key of up to 8
 * bytes the bytes themselves, else the arena reference or the object
 * pointer, which stay the entry's own while it lives (a rebuild copies
 * words as they are, a replace keeps the key word). So every entry present
 * from start to end is listed exactly once, each listing is one state of
 * its entry, and entries added, replaced or removed meanwhile may or may
 * not be.
 *
 * Order. For snapshots, each entry also gets its rank in the policy's
 * eviction order (policy.h: order), gathered beforehand in bounded steps
 * that resume after the last slot listed; when the order is disturbed
 * (that slot left, or moved to the hot end) the rest of the shard has no
 * rank, and counts as hotter than every ranked entry (the likely reason it
 * moved).
 */
#include "internal.h"
#include "hash.h"
#include "policy/policy.h"
#include "probe.h"

#include <math.h>
#include <stdlib.h>

#define WALK_SLICE 48u
#define WALK_SLICE_BYTES (64u * 1024u)
#define RANK_STEP 256u /* order steps per lock hold */
#define WALK_EMPTY_GROUPS 1024u /* empty groups passed per lock hold */

/* An entry's identity while it lives (see the top comment). */
typedef struct walk_id {
  uint64_t k;
  uint64_t form;
} walk_id;

static int id_cmp(const void *a, const void *b) {
  const walk_id *x = a, *y = b;
  if (x->k != y->k) return x->k < y->k ? -1 : 1;
  return x->form < y->form ? -1 : x->form > y->form;
}

typedef struct walk_item {
  macho_entry_view view;
  uint32_t rank;
} walk_item;

typedef struct walker {
  macho_cache *c;
  macho__shard *sh;
  macho__walk_fn fn;
  void *ctx;
  bool values, ranks;
  /* listed ids of this shard; [0, sorted) sorted at the last rebuild */
  walk_id *ids;
  size_t nids, capids, sorted;
  /* the slice being handed out */
  walk_item items[WALK_SLICE];
  uint32_t nitems;
  unsigned char *buf;
  size_t buflen, bufcap;
  /* ranks by slot of `ranked` (NULL = none) */
  uint32_t *rank;
  uint32_t rank_n;
  const macho__table *ranked;
} walker;

/* At least `need` elements, and an array at all once asked (a slice of empty
 * keys and values still gets a buffer its views can point into). */
static bool grow_to(macho__alloc *a, void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap && *p) return true;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  void *q = macho__realloc(a, *p, *cap * elem, n * elem);
  if (!q) return false;
  *p = q;
  *cap = n;
  return true;
}

static bool listed(const walker *w, const walk_id *id) {
  return w->sorted && bsearch(id, w->ids, w->sorted, sizeof *id, id_cmp) != NULL;
}

/* Ranks of this shard's slots in eviction order, in bounded steps. */
static int gather_ranks(walker *w) {
  macho__shard *sh = w->sh;
  macho_cache *c = w->c;
  if (!sh->pol->order) return MACHO_OK;
  uint32_t step[RANK_STEP];
  uint32_t after = MACHO__NIL, next = 0;
  for (;;) {
    macho__lock(sh);
    macho__shard_drain(sh);
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    if (!w->rank) {
      w->rank = macho__malloc(&c->alloc, (size_t)t->nslots * sizeof(uint32_t));
      if (!w->rank) {
        macho__unlock(sh);
        return MACHO_ENOMEM;
      }
      memset(w->rank, 0xff, (size_t)t->nslots * sizeof(uint32_t));
      w->rank_n = t->nslots;
      w->ranked = t;
    }
    if (t != w->ranked) { /* rebuilt meanwhile: slot numbers changed, no ranks */
      macho__unlock(sh);
      memset(w->rank, 0xff, (size_t)w->rank_n * sizeof(uint32_t));
      return MACHO_OK;
    }
    uint32_t n = sh->pol->order(sh->pol_state, sh, false, after, step, RANK_STEP);
    for (uint32_t i = 0; i < n; i++)
      if (w->rank[step[i]] == UINT32_MAX) w->rank[step[i]] = next++;
    uint32_t len = sh->len;
    macho__unlock(sh);
    if (n < RANK_STEP || next >= len) return MACHO_OK;
    after = step[n - 1];
  }
}

/* Copy one slot into the slice (lock held). */
enum { TAKE_SKIP, TAKE_MORE, TAKE_FULL, TAKE_NO_ROOM, TAKE_ENOMEM };
static int take(walker *w, macho__table *t, uint32_t s, uint64_t now) {
  macho_cache *c = w->c;
  macho__shard *sh = w->sh;
  macho__slot *sl = &t->slots[s];
  uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
  uint64_t epoch = macho__group_epoch_ns(sh, macho__group_of(t, s));
  if (macho__m_expired(m, epoch, now)) return TAKE_SKIP;
  walk_id id = {atomic_load_explicit(&sl->k, memory_order_relaxed), macho__m_kform(m)};
  if (listed(w, &id)) return TAKE_SKIP;
  size_t kl = 0, vl = 0;
  if (!c->object_mode) {
    kl = macho__slot_key(sh, t, s, NULL);
    vl = w->values ? macho__slot_value(sh, t, s, NULL) : 0;
    if (w->nitems && w->buflen + kl + vl > WALK_SLICE_BYTES) return TAKE_NO_ROOM;
    if (!grow_to(&c->alloc, (void **)&w->buf, &w->bufcap, w->buflen + kl + vl, 1)) return TAKE_ENOMEM;
  }
  if (!grow_to(&c->alloc, (void **)&w->ids, &w->capids, w->nids + 1, sizeof(walk_id))) return TAKE_ENOMEM;
  w->ids[w->nids++] = id;
  walk_item *it = &w->items[w->nitems++];
  macho_entry_view *v = &it->view;
  v->ttl_remaining = (m & MACHO__M_DEADLINE) ? (double)(macho__m_time_ns(m, epoch) - now) / 1e9 : INFINITY;
  v->frequency = macho__shard_hint(sh, s);
  it->rank = w->rank && t == w->ranked ? w->rank[s] : UINT32_MAX;
  if (c->object_mode) {
    void *key = (void *)(uintptr_t)id.k;
    void *val = (void *)(uintptr_t)atomic_load_explicit(&sl->v, memory_order_relaxed);
    c->obj_ops.retain(c->obj_ops.ctx, key);
    if (w->values && val) c->obj_ops.retain(c->obj_ops.ctx, val);
    v->key = key;
    v->value = w->values ? val : NULL;
    v->klen = v->vlen = 0;
  } else {
    /* Offsets for now: the buffer may move as it grows. */
    v->key = (const void *)(uintptr_t)w->buflen;
    v->klen = macho__slot_key(sh, t, s, w->buf + w->buflen);
    w->buflen += v->klen;
    v->value = (const void *)(uintptr_t)w->buflen;
    v->vlen = w->values ? macho__slot_value(sh, t, s, w->buf + w->buflen) : 0;
    w->buflen += v->vlen;
  }
  return w->nitems < WALK_SLICE ? TAKE_MORE : TAKE_FULL;
}

/* Hand the slice out with no lock held; release what it retained. */
static int hand_out(walker *w) {
  macho_cache *c = w->c;
  int stop = 0;
  for (uint32_t i = 0; i < w->nitems; i++) {
    macho_entry_view *v = &w->items[i].view;
    if (!c->object_mode) {
      v->key = w->buf + (uintptr_t)v->key;
      v->value = w->buf + (uintptr_t)v->value;
    }
    if (!stop) stop = w->fn(w->ctx, v, w->items[i].rank);
    if (c->object_mode) {
      c->obj_ops.release(c->obj_ops.ctx, (void *)v->key);
      if (v->value) c->obj_ops.release(c->obj_ops.ctx, (void *)v->value);
    }
  }
  w->nitems = 0;
  w->buflen = 0;
  return stop;
}

static int walk_one(walker *w) {
  macho__shard *sh = w->sh;
  macho_cache *c = w->c;
  int rc = MACHO_OK;
  w->nids = w->sorted = 0;
  if (w->ranks) rc = gather_ranks(w);
  const macho__table *seen = NULL;
  uint32_t next = 0; /* the next slot to look at */
  bool done = rc != MACHO_OK;
  while (!done) {
    macho__lock(sh);
    if (!seen) sh->walkers++;
    macho__shard_drain(sh);
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    if (seen && t != seen) {
      /* Rebuilt: walk the new table, skipping what was listed. */
      qsort(w->ids, w->nids, sizeof *w->ids, id_cmp);
      w->sorted = w->nids;
      next = 0;
    }
    seen = t;
    uint64_t now = macho__now(c);
    bool slice_full = false;
    uint32_t empty_groups = 0;
    while (next < t->nslots && !slice_full) {
      uint32_t g = next / MACHO__GROUP_SLOTS;
      uint32_t full = macho__group_full(&t->groups[g]) & (0xffffu << (next % MACHO__GROUP_SLOTS));
      if (!full) {
        next = (g + 1) * MACHO__GROUP_SLOTS;
        /* A sparse table is scanned in bounded steps too. */
        if (++empty_groups == WALK_EMPTY_GROUPS) slice_full = true;
        continue;
      }
      uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(full);
      int r = take(w, t, s, now);
      if (r == TAKE_NO_ROOM) {
        slice_full = true; /* this slot opens the next slice */
        next = s;
      } else if (r == TAKE_ENOMEM) {
        rc = MACHO_ENOMEM;
        slice_full = true;
      } else {
        next = s + 1;
        slice_full = r == TAKE_FULL;
      }
    }
    done = next >= t->nslots || rc != MACHO_OK;
    if (done) sh->walkers--;
    macho__unlock(sh);
    int stop = hand_out(w);
    if (!done) macho__lock_handoff(sh);
    if (stop && rc == MACHO_OK) rc = stop;
    if (stop && !done) {
      macho__lock(sh);
      sh->walkers--;
      macho__unlock(sh);
      done = true;
    }
  }
  if (w->rank) macho__free(&c->alloc, w->rank, (size_t)w->rank_n * sizeof(uint32_t));
  w->rank = NULL;
  w->ranked = NULL;
  return rc;
}

int macho__walk(macho_cache *c, bool values, bool ranks, macho__walk_fn fn, void *ctx) {
  walker *w = macho__calloc(&c->alloc, 1, sizeof *w);
  if (!w) return MACHO_ENOMEM;
  w->c = c;
  w->fn = fn;
  w->ctx = ctx;
  w->values = values;
  w->ranks = ranks;
  int rc = MACHO_OK;
  for (uint32_t i = 0; i < c->nshards && rc == MACHO_OK; i++) {
    w->sh = &c->shards[i];
    rc = walk_one(w);
  }
  macho__free(&c->alloc, w->ids, w->capids * sizeof(walk_id));
  macho__free(&c->alloc, w->buf, w->bufcap);
  macho__free(&c->alloc, w, sizeof *w);
  return rc;
}

/* ---- the public iterations ------------------------------------------------------ */
typedef struct user_fns {
  macho_key_fn key_fn;
  macho_entry_fn entry_fn;
  void *ctx;
} user_fns;

static int to_user(void *ctx, const macho_entry_view *v, uint32_t rank) {
  (void)rank;
  user_fns *u = ctx;
  return u->entry_fn ? u->entry_fn(u->ctx, v) : u->key_fn(u->ctx, v->key, v->klen);
}

int macho_foreach_key(macho_cache *c, macho_key_fn fn, void *ctx) {
  if (!c || !fn) return MACHO_EINVAL;
  user_fns u = {fn, NULL, ctx};
  return macho__walk(c, false, false, to_user, &u);
}

/* A peek at every live entry with its value and remaining TTL, for copies
 * (pickling in the Python binding) and for iterating a cache without
 * disturbing it: no counter, no recency. */
int macho_foreach_entry(macho_cache *c, macho_entry_fn fn, void *ctx) {
  if (!c || !fn) return MACHO_EINVAL;
  user_fns u = {NULL, fn, ctx};
  return macho__walk(c, true, false, to_user, &u);
}

/* ---- hottest / coldest -------------------------------------------------------------- */
/* Each shard's first n entries in the order, copied under its lock; then
 * handed out shard by shard in turn. */
typedef struct ordered {
  walk_item *items;
  uint32_t n, next;
  unsigned char *buf;
  size_t buflen;
} ordered;

static int list_order(macho_cache *c, macho__shard *sh, bool hottest, uint32_t n, ordered *o) {
  /* No more room than the shard's entries (n may be "all", SIZE_MAX): what
   * order() lists below is bounded by n, whatever came in meanwhile. */
  macho__lock(sh);
  if (n > sh->len) n = sh->len ? sh->len : 1;
  macho__unlock(sh);
  uint32_t *slots = macho__malloc(&c->alloc, (size_t)n * sizeof(uint32_t));
  if (!slots) return MACHO_ENOMEM;
  macho__lock(sh);
  macho__shard_drain(sh);
  macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
  uint64_t now = macho__now(c);
  uint32_t got = sh->pol->order(sh->pol_state, sh, hottest, MACHO__NIL, slots, n);
  size_t bytes = 0;
  if (!c->object_mode)
    for (uint32_t i = 0; i < got; i++)
      bytes += macho__slot_key(sh, t, slots[i], NULL) + (size_t)macho__slot_value(sh, t, slots[i], NULL);
  o->items = macho__malloc(&c->alloc, (size_t)(got ? got : 1) * sizeof(walk_item));
  o->buf = macho__malloc(&c->alloc, bytes ? bytes : 1);
  o->buflen = bytes ? bytes : 1;
  if (!o->items || !o->buf) {
    macho__unlock(sh);
    macho__free(&c->alloc, o->items, (size_t)(got ? got : 1) * sizeof(walk_item));
    macho__free(&c->alloc, o->buf, o->buflen);
    macho__free(&c->alloc, slots, (size_t)n * sizeof(uint32_t));
    o->items = NULL;
    o->buf = NULL;
    return MACHO_ENOMEM;
  }
  unsigned char *p = o->buf;
  o->n = 0;
  for (uint32_t i = 0; i < got; i++) {
    uint32_t s = slots[i];
    macho__slot *sl = &t->slots[s];
    uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
    uint64_t epoch = macho__group_epoch_ns(sh, macho__group_of(t, s));
    if (macho__m_expired(m, epoch, now)) continue;
    macho_entry_view *v = &o->items[o->n++].view;
    v->ttl_remaining = (m & MACHO__M_DEADLINE) ? (double)(macho__m_time_ns(m, epoch) - now) / 1e9 : INFINITY;
    v->frequency = macho__shard_hint(sh, s);
    if (c->object_mode) {
      void *key = (void *)(uintptr_t)atomic_load_explicit(&sl->k, memory_order_relaxed);
      void *val = (void *)(uintptr_t)atomic_load_explicit(&sl->v, memory_order_relaxed);
      c->obj_ops.retain(c->obj_ops.ctx, key);
      if (val) c->obj_ops.retain(c->obj_ops.ctx, val);
      v->key = key;
      v->value = val;
      v->klen = v->vlen = 0;
    } else {
      v->key = p;
      v->klen = macho__slot_key(sh, t, s, p);
      p += v->klen;
      v->value = p;
      v->vlen = macho__slot_value(sh, t, s, p);
      p += v->vlen;
    }
  }
  macho__unlock(sh);
  macho__free(&c->alloc, slots, (size_t)n * sizeof(uint32_t));
  return MACHO_OK;
}

static int ends(macho_cache *c, size_t n, bool hottest, macho_entry_fn fn, void *ctx) {
  if (!c || !fn) return MACHO_EINVAL;
  if (!c->shards[0].pol->order) return MACHO_ENOTSUP;
  if (n == 0) return MACHO_OK;
  uint32_t per = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  ordered *o = macho__calloc(&c->alloc, c->nshards, sizeof *o);
  if (!o) return MACHO_ENOMEM;
  int rc = MACHO_OK;
  for (uint32_t i = 0; i < c->nshards && rc == MACHO_OK; i++) rc = list_order(c, &c->shards[i], hottest, per, &o[i]);
  /* Round robin over the shards, n in all. */
  size_t given = 0;
  int stop = 0;
  for (bool any = true; rc == MACHO_OK && any && given < n && !stop;) {
    any = false;
    for (uint32_t i = 0; i < c->nshards && given < n && !stop; i++) {
      if (o[i].next >= o[i].n) continue;
      any = true;
      stop = fn(ctx, &o[i].items[o[i].next++].view);
      given++;
    }
  }
  for (uint32_t i = 0; i < c->nshards; i++) {
    if (c->object_mode)
      for (uint32_t j = 0; j < o[i].n; j++) {
        c->obj_ops.release(c->obj_ops.ctx, (void *)o[i].items[j].view.key);
        if (o[i].items[j].view.value) c->obj_ops.release(c->obj_ops.ctx, (void *)o[i].items[j].view.value);
      }
    if (o[i].items) macho__free(&c->alloc, o[i].items, (size_t)(o[i].n ? o[i].n : 1) * sizeof(walk_item));
    macho__free(&c->alloc, o[i].buf, o[i].buflen);
  }
  macho__free(&c->alloc, o, (size_t)c->nshards * sizeof *o);
  return rc != MACHO_OK ? rc : stop;
}

int macho_coldest(macho_cache *c, size_t n, macho_entry_fn fn, void *ctx) { return ends(c, n, false, fn, ctx); }
int macho_hottest(macho_cache *c, size_t n, macho_entry_fn fn, void *ctx) { return ends(c, n, true, fn, ctx); }

/* ---- peeks and TTLs ---------------------------------------------------------------- */
static inline macho__shard *shard_for(macho_cache *c, uint64_t hash) {
  return &c->shards[macho__shard_of(hash, c->nshards)];
}

static int check_bytes(const macho_cache *c, const void *key, size_t klen) {
  if (!c || (!key && klen) || klen > UINT32_MAX) return MACHO_EINVAL;
  return c->object_mode ? MACHO_EMODE : MACHO_OK;
}

static int check_obj(macho_cache *c, const void *key, uint64_t *hash) {
  if (!c || !key) return MACHO_EINVAL;
  if (!c->object_mode) return MACHO_EMODE;
  uint64_t h;
  if (c->obj_ops.hash(c->obj_ops.ctx, key, &h) != 0) return MACHO_ECALLBACK;
  *hash = macho__mix64(h ^ c->cfg.seed);
  return MACHO_OK;
}

/* The live slot of key, under the lock (which object mode may drop and
 * retake around equal()). MACHO_ENOTFOUND when absent or expired. */
static int find_locked(macho__shard *sh, const void *key, size_t klen, uint64_t hash, uint64_t now,
                       uint32_t *out) {
  int rc = macho__shard_find(sh, key, klen, hash, out);
  if (rc != MACHO_OK) return rc;
  if (*out == MACHO__NIL) return MACHO_ENOTFOUND;
  macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
  uint64_t m = atomic_load_explicit(&t->slots[*out].m, memory_order_relaxed);
  if (macho__m_expired(m, macho__group_epoch_ns(sh, macho__group_of(t, *out)), now)) return MACHO_ENOTFOUND;
  return MACHO_OK;
}

static int peek_locked(macho_cache *c, macho__shard *sh, const void *key, size_t klen, uint64_t hash,
                       void *buf, size_t buflen, size_t *vlen, void **obj) {
  uint32_t s;
  macho__lock(sh);
  int rc = find_locked(sh, key, klen, hash, macho__now(c), &s);
  if (rc == MACHO_OK) {
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    if (c->object_mode) {
      void *v = (void *)(uintptr_t)atomic_load_explicit(&t->slots[s].v, memory_order_relaxed);
      if (v) c->obj_ops.retain(c->obj_ops.ctx, v);
      *obj = v;
    } else {
      size_t n = macho__slot_value(sh, t, s, NULL);
      if (vlen) *vlen = n;
      if (n > buflen) rc = MACHO_ERANGE;
      else if (n) macho__slot_value(sh, t, s, buf);
    }
  }
  macho__unlock(sh);
  return rc;
}

int macho_peek(macho_cache *c, const void *key, size_t klen, void *buf, size_t buflen, size_t *vlen) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  if (!buf && buflen) return MACHO_EINVAL;
  uint64_t hash = macho__hash_bytes(key, klen, c->cfg.seed);
  macho__shard *sh = shard_for(c, hash);
  macho__trec *r;
  if (!sh->locked_reads && klen <= MACHO__ARENA_MAX && (r = macho__trec_get(c))) {
    /* Lock-free, as a get, but nothing is recorded. */
    const uint64_t kw = macho__key_word(key, klen);
    macho__read_enter(r);
    for (int round = 0; round < 64; round++) {
      macho__table *t = atomic_load_explicit(&sh->table, memory_order_acquire);
      uint32_t seq;
      uint64_t m;
      uint32_t s = macho__probe(sh, t, hash, key, klen, kw, &seq, &m);
      if (s == MACHO__RETRY) continue;
      if (s == MACHO__NIL) {
        macho__read_exit(r);
        return MACHO_ENOTFOUND;
      }
      const macho__group *g = macho__group_of(t, s);
      uint32_t f = macho__m_vform(m);
      if (f == MACHO__FORM_HUGE) break; /* read under the lock */
      uint64_t v = atomic_load_explicit(&t->slots[s].v, memory_order_relaxed);
      bool expired = (m & MACHO__M_DEADLINE) && macho__m_expired(m, macho__group_epoch_ns(sh, g), macho__now(c));
      size_t n = f <= MACHO__FORM_INLINE_MAX ? f : macho__ref_len(v);
      if (!expired && n <= buflen) {
        if (f <= MACHO__FORM_INLINE_MAX) {
          if (n) memcpy(buf, &v, n);
        } else {
          const unsigned char *b = macho__arena_resolve(&sh->arena, macho__ref_off(v), (uint32_t)n);
          if (!b) continue;
          macho__atomic_copy_out(buf, b, (uint32_t)n);
        }
      }
      macho__fence(memory_order_acquire);
      if (atomic_load_explicit(&g->seq, memory_order_relaxed) != seq) continue;
      macho__read_exit(r);
      if (expired) return MACHO_ENOTFOUND;
      if (vlen) *vlen = n;
      return n <= buflen ? MACHO_OK : MACHO_ERANGE;
    }
    macho__read_exit(r);
  }
  return peek_locked(c, sh, key, klen, hash, buf, buflen, vlen, NULL);
}

int macho_obj_peek(macho_cache *c, const void *key, void **value) {
  uint64_t hash = 0;
  if (c && c->object_mode && !value) return MACHO_EINVAL;
  int rc = check_obj(c, key, &hash);
  if (rc != MACHO_OK) return rc;
  return peek_locked(c, shard_for(c, hash), key, 0, hash, NULL, 0, NULL, value);
}

static int ttl_get(macho_cache *c, const void *key, size_t klen, uint64_t hash, double *remaining) {
  macho__shard *sh = shard_for(c, hash);
  uint32_t s;
  macho__lock(sh);
  uint64_t now = macho__now(c);
  int rc = find_locked(sh, key, klen, hash, now, &s);
  if (rc == MACHO_OK) {
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&t->slots[s].m, memory_order_relaxed);
    uint64_t epoch = macho__group_epoch_ns(sh, macho__group_of(t, s));
    *remaining = (m & MACHO__M_DEADLINE) ? (double)(macho__m_time_ns(m, epoch) - now) / 1e9 : INFINITY;
  }
  macho__unlock(sh);
  return rc;
}

static int ttl_set(macho_cache *c, const void *key, size_t klen, uint64_t hash, double ttl) {
  macho__shard *sh = shard_for(c, hash);
  uint32_t s;
  macho__lock(sh);
  macho__shard_drain(sh);
  uint64_t now = macho__now_write(c);
  int rc = find_locked(sh, key, klen, hash, now, &s);
  if (rc == MACHO_OK) macho__shard_set_ttl(sh, s, macho__ttl_to_ns(ttl), now);
  macho__unlock(sh);
  return rc;
}

int macho_ttl_get(macho_cache *c, const void *key, size_t klen, double *remaining) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  if (!remaining) return MACHO_EINVAL;
  return ttl_get(c, key, klen, macho__hash_bytes(key, klen, c->cfg.seed), remaining);
}

int macho_obj_ttl_get(macho_cache *c, const void *key, double *remaining) {
  uint64_t hash = 0;
  if (c && c->object_mode && !remaining) return MACHO_EINVAL;
  int rc = check_obj(c, key, &hash);
  return rc != MACHO_OK ? rc : ttl_get(c, key, 0, hash, remaining);
}

int macho_ttl_set(macho_cache *c, const void *key, size_t klen, double ttl_seconds) {
  int rc = check_bytes(c, key, klen);
  if (rc != MACHO_OK) return rc;
  if (isnan(ttl_seconds) || ttl_seconds < 0) return MACHO_EINVAL;
  return ttl_set(c, key, klen, macho__hash_bytes(key, klen, c->cfg.seed), ttl_seconds);
}

int macho_obj_ttl_set(macho_cache *c, const void *key, double ttl_seconds) {
  uint64_t hash = 0;
  if (c && c->object_mode && (isnan(ttl_seconds) || ttl_seconds < 0)) return MACHO_EINVAL;
  int rc = check_obj(c, key, &hash);
  return rc != MACHO_OK ? rc : ttl_set(c, key, 0, hash, ttl_seconds);
}
