/*
 * auto.c -- `auto`: the policy that picks a policy, online, by miniature
 * simulation (Waldspurger, Park, Garthwaite, Ahmad: "Cache Modeling and
 * Optimization using Miniature Simulations", USENIX ATC'17; sampling as in
 * SHARDS, Waldspurger et al., FAST'15).
 *
 * No eviction policy wins everywhere: W-TinyLFU is far ahead on traces mixing
 * scans with a stable hot set, LRU on loops and short reuse, S3-FIFO and ARC
 * on block and web traces, and one trace can move between these regimes.
 * auto runs every candidate (auto.h: W-TinyLFU, S3-FIFO, LRU, ARC) on a
 * simulated cache beside the real one (src/minisim.c: the real policy code
 * over key hashes, no keys or values), counts each one's misses, and makes
 * the live cache behave like the candidate that has been missing least.
 *
 * Mirror mode (shards of up to mirror_max entries). Each candidate is
 * simulated at the shard's full capacity on every request, so each
 * simulated cache holds exactly what that policy would hold. The live cache
 * then needs no policy of its own: it mirrors the leader's simulation. An
 * entry is IN while the leader's simulation holds its key, STALE once the
 * leader has evicted it (or never had it); eviction takes the oldest STALE
 * entry, so an entry the leader keeps is never evicted while a stale one is
 * left. After a change of leader the live cache differs from the new
 * leader's simulated contents only by what the old leader kept and the new
 * one did not (stale now, evicted first) and by what the new one kept and
 * the live cache never had (fetched on its next miss, once): the live
 * cache's misses converge to the leader's own within at most one miss per
 * entry. Switching is cheap, so auto can follow the leader through the
 * phases of a trace. Each simulated entry carries the live id of its key
 * (minisim user words), which is how the leader's evictions reach the live
 * cache.
 *
 * Sampled mode (larger shards). The candidates run on minisims of about
 * mini_target entries fed a spatially hashed sample of the keys: a key is in
 * the sample when a multiplicative hash of its 64-bit hash falls below
 * R * 2^32, so a sampled key is sampled on every request and a minisim of
 * capacity R*C sees what a cache of capacity C would see, thinned R times.
 * The live cache runs the leading policy itself, and a change of leader is
 * a real switch: the old policy is drained through victim() and the new one
 * rebuilt from the live entries, oldest first (by last access, or by
 * insertion for the FIFO-based S3-FIFO), with up to replay_hits of each
 * entry's hits replayed, so that it starts from their history as far as auto
 * knows it. That costs O(entries) once per dwell period (O(1) amortised)
 * and some misses while the new policy relearns, so sampled mode switches
 * only on stronger and longer evidence.
 *
 * When to follow (macho__auto_rule): misses are counted over sampled
 * requests in epochs, and the counts multiplied by `decay` after each, so
 * recent epochs weigh most. After an epoch, the candidate with the fewest
 * misses becomes the leader when it beats the current one by a paired sign
 * test (McNemar: among the requests where exactly one of the two missed, the
 * advantage exceeds z standard deviations), by at least `margin` of the
 * requests, and the last change is at least `dwell_caps` capacities of
 * requests old (and the first not before `warmup_caps`).
 *
 * The tunables were chosen with bench/policy_lab on the shared traces with
 * leave-one-trace-out validation: docs/POLICIES.md has the method, figures
 * and the cost in memory and time.
 */
#include "auto.h"

#include "../minisim.h"
#include "policy.h"

#include <math.h>

const macho__auto_params macho__auto_defaults = {
    .ncand = 4,
    .cand = {MACHO_POLICY_WTINYLFU, MACHO_POLICY_S3FIFO, MACHO_POLICY_LRU, MACHO_POLICY_ARC},
    .start = 0,
    .mirror_max = 4096,
    .mini_target = 2048,
    .min_rate = 0.001,
    .replay_hits = 3,
    .mirror = {.epoch_caps = 2.0, .epoch_min = 256, .decay = 0.9, .z = 2.0, .margin = 0.005,
               .cost = 0, .dwell_caps = 1.0, .warmup_caps = 0},
    .sampled = {.epoch_caps = 2.0, .epoch_min = 256, .decay = 0.9, .z = 2.0, .margin = 0.005,
                .cost = 0, .dwell_caps = 1.0, .warmup_caps = 0},
};

#define NPAIRS (MACHO__AUTO_MAX_CAND * (MACHO__AUTO_MAX_CAND - 1) / 2)

enum { FREE = 0, IN = 1, STALE = 2 }; /* mirror mode: where a live slot stands */

typedef struct auto_state {
  macho__auto_params p;
  const macho__auto_rule *rule; /* &p.mirror or &p.sampled */
  bool mirror;
  uint32_t capacity, len; /* the shard's capacity and its live entries */
  uint32_t nslots;        /* the table's slots: the per-slot arrays' size */
  uint32_t live;          /* index in p.cand: the leader */
  /* sampled mode: the live policy */
  const macho__policy_ops *live_ops;
  void *live_st;
  /* the candidates' simulations */
  macho__minisim *sims; /* p.ncand, 64-byte aligned inside sims_raw */
  void *sims_raw;
  uint32_t mini_cap;
  uint64_t threshold; /* a key is sampled when its mixed hash is below: 2^32 = every key */
  /* decayed counts over sampled requests */
  double req, miss[MACHO__AUTO_MAX_CAND], disc[NPAIRS];
  uint32_t epoch, in_epoch;
  uint64_t requests, last_switch; /* every request the shard saw */
  uint32_t switches;
  /* per slot of the table, on the request clock (32 bits: ages modulo 2^32) */
  uint32_t *touched; /* last access */
  uint32_t *born;    /* sampled mode: insertion */
  uint8_t *hits;     /* sampled mode: hits since insertion, saturating */
  uint8_t *where;    /* mirror mode: FREE, IN or STALE */
  uint32_t *sprev, *snext; /* mirror mode: the stale list, oldest at the head */
  uint32_t stale_head, stale_tail;
  uint64_t missed_hash; /* the last get miss: the put that follows is the same request */
  bool missed;
} auto_state;

static uint32_t pair(uint32_t i, uint32_t j) { /* i < j */
  return j * (j - 1) / 2 + i;
}

static bool sampled(const auto_state *s, uint64_t hash) {
  return (uint64_t)(uint32_t)((hash * 0x9E3779B97F4A7C15ULL) >> 32) < s->threshold;
}

static size_t state_bytes(const macho__policy_ops *ops) { return ops->state_size ? ops->state_size : 1; }

/* ---- per-slot arrays ---------------------------------------------------------------- */

typedef struct slot_arrays {
  uint32_t *touched, *born, *sprev, *snext;
  uint8_t *hits, *where;
} slot_arrays;

static void arrays_free(macho__alloc *a, slot_arrays *x, size_t n) {
  macho__free(a, x->touched, n * sizeof(uint32_t));
  macho__free(a, x->born, n * sizeof(uint32_t));
  macho__free(a, x->sprev, n * sizeof(uint32_t));
  macho__free(a, x->snext, n * sizeof(uint32_t));
  macho__free(a, x->hits, n);
  macho__free(a, x->where, n);
  memset(x, 0, sizeof *x);
}

/* The arrays a mode needs for n slots, zeroed; false (nothing kept) on ENOMEM. */
static bool arrays_new(macho__alloc *a, slot_arrays *x, size_t n, bool mirror) {
  memset(x, 0, sizeof *x);
  x->touched = macho__calloc(a, n, sizeof(uint32_t));
  bool ok = x->touched != NULL;
  if (mirror) {
    x->where = macho__calloc(a, n, 1);
    x->sprev = macho__calloc(a, n, sizeof(uint32_t));
    x->snext = macho__calloc(a, n, sizeof(uint32_t));
    ok = ok && x->where && x->sprev && x->snext;
  } else {
    x->born = macho__calloc(a, n, sizeof(uint32_t));
    x->hits = macho__calloc(a, n, 1);
    ok = ok && x->born && x->hits;
  }
  if (!ok) arrays_free(a, x, n);
  return ok;
}

static slot_arrays arrays_of(const auto_state *s) {
  return (slot_arrays){s->touched, s->born, s->sprev, s->snext, s->hits, s->where};
}

static void arrays_set(auto_state *s, const slot_arrays *x) {
  s->touched = x->touched;
  s->born = x->born;
  s->sprev = x->sprev;
  s->snext = x->snext;
  s->hits = x->hits;
  s->where = x->where;
}

/* ---- mirror mode: the stale list ------------------------------------------------ */

static void stale_push(auto_state *s, uint32_t id) {
  s->where[id] = STALE;
  s->sprev[id] = s->stale_tail;
  s->snext[id] = MACHO__NIL;
  if (s->stale_tail != MACHO__NIL) s->snext[s->stale_tail] = id;
  else s->stale_head = id;
  s->stale_tail = id;
}

static void stale_unlink(auto_state *s, uint32_t id) {
  if (s->sprev[id] != MACHO__NIL) s->snext[s->sprev[id]] = s->snext[id];
  else s->stale_head = s->snext[id];
  if (s->snext[id] != MACHO__NIL) s->sprev[s->snext[id]] = s->sprev[id];
  else s->stale_tail = s->sprev[id];
}

/* The leader holds the key of live slot `id` again. */
static void unstale(auto_state *s, uint32_t id) {
  if (s->where[id] != STALE) return;
  stale_unlink(s, id);
  s->where[id] = IN;
}

/* Forget a live key in every simulation's user words. */
static void unlink_sims(auto_state *s, uint64_t hash) {
  for (uint32_t i = 0; i < s->p.ncand; i++) {
    uint32_t *u = macho__minisim_user(&s->sims[i], hash);
    if (u) *u = MACHO__NIL;
  }
}

/* Tell every simulation holding `hash` that live slot `id` has it; true
 * when the leader holds it. */
static bool link_sims(auto_state *s, uint64_t hash, uint32_t id) {
  bool leader = false;
  for (uint32_t i = 0; i < s->p.ncand; i++) {
    uint32_t *u = macho__minisim_user(&s->sims[i], hash);
    if (u) {
      *u = id;
      leader |= i == s->live;
    }
  }
  return leader;
}

/* ---- switching ---------------------------------------------------------------------- */

/* LSD radix sort of (key << 32 | id) pairs on the key's 32 bits: O(n). */
static void radix_sort(uint64_t *a, uint64_t *tmp, uint32_t n) {
  for (int shift = 32; shift < 64; shift += 8) {
    uint32_t count[257] = {0};
    for (uint32_t i = 0; i < n; i++) count[((a[i] >> shift) & 255u) + 1]++;
    for (int b = 0; b < 256; b++) count[b + 1] += count[b];
    for (uint32_t i = 0; i < n; i++) tmp[count[(a[i] >> shift) & 255u]++] = a[i];
    memcpy(a, tmp, (size_t)n * sizeof *a);
  }
}

/* (oldest first) order key of an age on the request clock */
static uint64_t by_age(uint32_t now, uint32_t stamp, uint32_t id) {
  return (uint64_t)(UINT32_MAX - (now - stamp)) << 32 | id;
}

/* Mirror mode: candidate j leads. Every live entry the new leader holds is
 * IN, the others STALE, oldest access first. Without memory for the sort the
 * stale list is built in slot order: still correct, a little less good. */
static void follow(auto_state *s, macho__shard *sh, uint32_t j) {
  macho__alloc *a = &sh->cache->alloc;
  s->live = j;
  uint32_t n = 0;
  for (uint32_t id = 0; id < s->nslots; id++)
    if (s->where[id] != FREE) s->where[id] = STALE;
  for (uint32_t i = 0; i < macho__minisim_slots(&s->sims[j]); i++) {
    uint32_t *u = macho__minisim_user_at(&s->sims[j], i);
    if (u && *u != MACHO__NIL) s->where[*u] = IN;
  }
  for (uint32_t id = 0; id < s->nslots; id++) n += s->where[id] == STALE;
  uint64_t *order = n ? macho__malloc(a, 2 * (size_t)n * sizeof *order) : NULL;
  s->stale_head = s->stale_tail = MACHO__NIL;
  uint32_t now = (uint32_t)s->requests, k = 0;
  for (uint32_t id = 0; id < s->nslots; id++) {
    if (s->where[id] != STALE) continue;
    if (order) order[k++] = by_age(now, s->touched[id], id);
    else stale_push(s, id);
  }
  if (order) {
    radix_sort(order, order + n, n);
    for (uint32_t i = 0; i < n; i++) stale_push(s, (uint32_t)order[i]);
    macho__free(a, order, 2 * (size_t)n * sizeof *order);
  }
}

/* Sampled mode: the live entries go to candidate j's policy. Everything the
 * switch needs is allocated before the old state is touched: on failure
 * nothing changes. */
static void switch_to(auto_state *s, macho__shard *sh, uint32_t j) {
  macho__alloc *a = &sh->cache->alloc;
  macho_policy np = s->p.cand[j];
  const macho__policy_ops *nops = macho__policies[np];
  void *nst = macho__calloc(a, 1, state_bytes(nops));
  if (!nst) return;
  if (nops->init(nst, sh, s->capacity, s->nslots) != MACHO_OK) {
    macho__free(a, nst, state_bytes(nops));
    return;
  }
  uint32_t n = s->len;
  uint64_t *order = NULL;
  if (n && !(order = macho__malloc(a, 2 * (size_t)n * sizeof *order))) {
    nops->destroy(nst, sh);
    macho__free(a, nst, state_bytes(nops));
    return;
  }
  /* FIFO-based policies order entries by insertion, the others by recency. */
  bool by_insertion = np == MACHO_POLICY_S3FIFO || np == MACHO_POLICY_SIEVE || np == MACHO_POLICY_FIFO;
  uint32_t now = (uint32_t)s->requests;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = s->live_ops->victim(s->live_st, sh);
    order[i] = by_age(now, by_insertion ? s->born[id] : s->touched[id], id);
  }
  radix_sort(order, order + n, n);
  s->live_ops->destroy(s->live_st, sh);
  macho__free(a, s->live_st, state_bytes(s->live_ops));
  s->live_ops = nops;
  s->live_st = nst;
  s->live = j;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = (uint32_t)order[i];
    macho__pol_set(sh, id, 0);
    nops->insert(nst, sh, id, macho__pol_hash(sh, id));
    uint64_t rec = id;
    for (uint32_t h = 0; h < s->hits[id] && h < s->p.replay_hits; h++) nops->on_access(nst, sh, &rec, 1);
  }
  macho__free(a, order, 2 * (size_t)n * sizeof *order);
}

/* What following candidate j would cost in (sampled) misses: a cache's worth. */
static double switch_cost(const auto_state *s) { return s->mini_cap; }

static void end_epoch(auto_state *s, macho__shard *sh) {
  const macho__auto_rule *r = s->rule;
  uint32_t live = s->live, best = live;
  double since = (double)(s->requests - s->last_switch);
  bool may = (double)s->requests >= r->warmup_caps * s->capacity && since >= r->dwell_caps * s->capacity;
  double best_net = 0;
  for (uint32_t j = 0; may && j < s->p.ncand; j++) {
    if (j == live) continue;
    double gain = s->miss[live] - s->miss[j];
    double disc = s->disc[live < j ? pair(live, j) : pair(j, live)];
    if (gain <= r->z * sqrt(disc) || gain <= r->margin * s->req) continue;
    /* The candidate that saves the most once its own switching cost is paid. */
    double net = gain - (r->cost > 0 ? r->cost * switch_cost(s) : 0);
    if (net > best_net) {
      best = j;
      best_net = net;
    }
  }
  if (best != live) {
    uint32_t before = s->live;
    if (s->mirror) follow(s, sh, best);
    else switch_to(s, sh, best);
    if (s->live != before) {
      s->switches++;
      s->last_switch = s->requests;
    }
  }
  s->req *= r->decay;
  for (uint32_t i = 0; i < s->p.ncand; i++) s->miss[i] *= r->decay;
  for (uint32_t i = 0; i < NPAIRS; i++) s->disc[i] *= r->decay;
  s->in_epoch = 0;
}

/* One request for `hash` (of live slot `id`, or NIL when not cached): every
 * candidate's simulation, then a decision after each epoch. */
static void feed(auto_state *s, macho__shard *sh, uint64_t hash, uint32_t id) {
  if (!sampled(s, hash)) return;
  uint32_t missed = 0;
  for (uint32_t i = 0; i < s->p.ncand; i++) {
    bool hit;
    if (s->mirror) {
      uint32_t *slot, evicted;
      hit = macho__minisim_access_user(&s->sims[i], hash, &slot, &evicted);
      if (id != MACHO__NIL) *slot = id;
      if (i == s->live && evicted != MACHO__NIL) {
        assert(s->where[evicted] == IN);
        stale_push(s, evicted);
      }
    } else {
      hit = macho__minisim_access(&s->sims[i], hash);
    }
    if (!hit) missed |= 1u << i;
  }
  s->req += 1;
  for (uint32_t j = 0; j < s->p.ncand; j++) {
    s->miss[j] += (missed >> j) & 1u;
    for (uint32_t i = 0; i < j; i++) s->disc[pair(i, j)] += ((missed >> i) ^ (missed >> j)) & 1u;
  }
  if (++s->in_epoch >= s->epoch) end_epoch(s, sh);
}

/* ---- hooks ---------------------------------------------------------------------------- */

static void free_all(auto_state *s, macho__shard *sh) {
  macho__alloc *a = &sh->cache->alloc;
  if (s->live_st) {
    s->live_ops->destroy(s->live_st, sh);
    macho__free(a, s->live_st, state_bytes(s->live_ops));
    s->live_st = NULL;
  }
  if (s->sims) {
    for (uint32_t i = 0; i < s->p.ncand; i++) macho__minisim_destroy(&s->sims[i]);
    macho__free(a, s->sims_raw, macho__size64(s->p.ncand * sizeof *s->sims));
    s->sims = NULL;
  }
  slot_arrays x = arrays_of(s);
  arrays_free(a, &x, s->nslots);
  arrays_set(s, &x);
}

int macho__auto_init_with(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots,
                          const macho__auto_params *p) {
  auto_state *s = st;
  macho__alloc *a = &sh->cache->alloc;
  assert(p->ncand >= 1 && p->ncand <= MACHO__AUTO_MAX_CAND && p->start < p->ncand);
  s->p = *p;
  s->capacity = capacity ? capacity : 1;
  s->nslots = nslots;
  s->mirror = s->capacity <= p->mirror_max;
  s->rule = s->mirror ? &s->p.mirror : &s->p.sampled;
  s->live = p->start;
  s->stale_head = s->stale_tail = MACHO__NIL;
  if (s->mirror) {
    s->threshold = 1ull << 32;
    s->mini_cap = s->capacity;
  } else {
    double rate = (double)p->mini_target / s->capacity;
    if (rate < p->min_rate) rate = p->min_rate;
    if (rate > 1) rate = 1; /* mirror_max below mini_target: simulate every key, at the shard's size */
    s->threshold = (uint64_t)(rate * 4294967296.0);
    s->mini_cap = (uint32_t)(rate * s->capacity + 0.5);
    if (s->mini_cap < 1) s->mini_cap = 1;
  }
  s->epoch = (uint32_t)(s->rule->epoch_caps * s->mini_cap);
  if (s->epoch < s->rule->epoch_min) s->epoch = s->rule->epoch_min;
  slot_arrays x;
  if (!arrays_new(a, &x, nslots, s->mirror)) return MACHO_ENOMEM;
  arrays_set(s, &x);
  s->sims = macho__calloc64(a, p->ncand * sizeof *s->sims, &s->sims_raw);
  if (!s->sims) goto nomem;
  for (uint32_t i = 0; i < p->ncand; i++) {
    const macho__policy_ops *ops = macho__policies[p->cand[i]];
    assert(ops && p->cand[i] != MACHO_POLICY_RANDOM && p->cand[i] != MACHO_POLICY_AUTO);
    if (macho__minisim_init(&s->sims[i], sh->cache, ops, s->mini_cap, sh->rng + i, s->mirror) != MACHO_OK)
      goto nomem;
  }
  if (!s->mirror) {
    s->live_ops = macho__policies[p->cand[p->start]];
    s->live_st = macho__calloc(a, 1, state_bytes(s->live_ops));
    if (!s->live_st) goto nomem;
    if (s->live_ops->init(s->live_st, sh, s->capacity, nslots) != MACHO_OK) {
      macho__free(a, s->live_st, state_bytes(s->live_ops));
      s->live_st = NULL;
      goto nomem;
    }
  }
  return MACHO_OK;
nomem:
  free_all(s, sh);
  return MACHO_ENOMEM;
}

static int auto_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  return macho__auto_init_with(st, sh, capacity, nslots, &macho__auto_defaults);
}

static void auto_destroy(void *st, macho__shard *sh) { free_all(st, sh); }

static void auto_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  auto_state *s = st;
  bool counted = s->missed && s->missed_hash == hash; /* its get miss was the request */
  s->missed = false;
  s->len++;
  if (!counted) s->requests++;
  s->touched[id] = (uint32_t)s->requests;
  if (s->mirror) {
    stale_push(s, id); /* until the leader is known to hold it */
    if (!counted) feed(s, sh, hash, id);
    if (link_sims(s, hash, id)) unstale(s, id);
    return;
  }
  s->born[id] = (uint32_t)s->requests;
  s->hits[id] = 0;
  s->live_ops->insert(s->live_st, sh, id, hash);
  if (!counted) feed(s, sh, hash, id);
}

static void auto_hit(auto_state *s, macho__shard *sh, uint32_t id, uint64_t rec) {
  s->missed = false;
  s->requests++;
  s->touched[id] = (uint32_t)s->requests;
  uint64_t hash = macho__pol_hash(sh, id);
  if (s->mirror) {
    feed(s, sh, hash, id);
    unstale(s, id); /* the leader has just seen the key: it holds it */
    return;
  }
  if (s->hits[id] < UINT8_MAX) s->hits[id]++;
  s->live_ops->on_access(s->live_st, sh, &rec, 1);
  feed(s, sh, hash, id);
}

static void auto_miss(auto_state *s, macho__shard *sh, uint64_t hash, uint64_t rec) {
  if (!(s->missed && s->missed_hash == hash)) {
    s->requests++;
    feed(s, sh, hash, MACHO__NIL); /* may switch */
  }
  s->missed = true;
  s->missed_hash = hash;
  if (!s->mirror && s->live_ops->record_misses) s->live_ops->on_access(s->live_st, sh, &rec, 1);
}

static void auto_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  auto_state *s = st;
  for (uint32_t i = 0; i < n; i++) {
    if (recs[i] & MACHO__REC_MISS) auto_miss(s, sh, macho__hash63(recs[i]), recs[i]);
    else if (macho__pol_live(sh, (uint32_t)recs[i])) auto_hit(s, sh, (uint32_t)recs[i], recs[i]);
  }
}

static void auto_pre_insert(void *st, macho__shard *sh, uint64_t hash) {
  auto_state *s = st;
  if (!s->mirror && s->live_ops->pre_insert) s->live_ops->pre_insert(s->live_st, sh, hash);
}

static void auto_remove(void *st, macho__shard *sh, uint32_t id) {
  auto_state *s = st;
  uint64_t hash = macho__pol_hash(sh, id);
  s->len--;
  if (s->mirror) {
    if (s->where[id] == STALE) stale_unlink(s, id);
    s->where[id] = FREE;
  } else {
    s->live_ops->remove(s->live_st, sh, id);
  }
  /* Deleted or expired: no simulated cache holds it any more either. */
  if (sampled(s, hash))
    for (uint32_t i = 0; i < s->p.ncand; i++) macho__minisim_remove(&s->sims[i], hash);
}

static uint32_t auto_victim(void *st, macho__shard *sh) {
  auto_state *s = st;
  s->len--;
  if (!s->mirror) return s->live_ops->victim(s->live_st, sh);
  uint32_t id = s->stale_head;
  if (id != MACHO__NIL) {
    stale_unlink(s, id);
  } else {
    /* Every live entry is IN: a put that no get miss announced, or a byte
     * budget. Let the leader evict until it lets go of a live entry (it
     * holds them all, so one comes). */
    do id = macho__minisim_evict(&s->sims[s->live]);
    while (id == MACHO__NIL);
  }
  s->where[id] = FREE;
  unlink_sims(s, macho__pol_hash(sh, id));
  return id;
}

static void auto_clear(void *st, macho__shard *sh) {
  auto_state *s = st;
  s->len = 0;
  s->missed = false;
  if (s->mirror) {
    memset(s->where, FREE, s->nslots);
    s->stale_head = s->stale_tail = MACHO__NIL;
  } else {
    s->live_ops->clear(s->live_st, sh);
  }
  /* The simulated caches empty too; the counts describe the workload and stay. */
  for (uint32_t i = 0; i < s->p.ncand; i++) macho__minisim_clear(&s->sims[i]);
}

/* A cuckoo move: the entry of slot `from` lives in `to` now. */
static void auto_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  auto_state *s = st;
  s->touched[to] = s->touched[from];
  if (!s->mirror) {
    s->born[to] = s->born[from];
    s->hits[to] = s->hits[from];
    s->live_ops->move(s->live_st, sh, from, to);
    return;
  }
  s->where[to] = s->where[from];
  s->where[from] = FREE;
  if (s->where[to] == STALE) { /* take its place in the stale list */
    s->sprev[to] = s->sprev[from];
    s->snext[to] = s->snext[from];
    if (s->sprev[to] != MACHO__NIL) s->snext[s->sprev[to]] = to;
    else s->stale_head = to;
    if (s->snext[to] != MACHO__NIL) s->sprev[s->snext[to]] = to;
    else s->stale_tail = to;
  }
  link_sims(s, macho__pol_hash(sh, to), to);
}

/* The table was rebuilt: slot i is map[i] now (NULL map: no entry moved). */
static int auto_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  auto_state *s = st;
  macho__alloc *a = &sh->cache->alloc;
  slot_arrays x, old = arrays_of(s);
  if (!arrays_new(a, &x, new_n, s->mirror)) return MACHO_ENOMEM;
  if (!s->mirror && s->live_ops->remap(s->live_st, sh, map, old_n, new_n) != MACHO_OK) {
    arrays_free(a, &x, new_n);
    return MACHO_ENOMEM;
  }
  for (uint32_t i = 0; map && i < old_n; i++) {
    uint32_t j = map[i];
    if (j == MACHO__NIL) continue;
    x.touched[j] = old.touched[i];
    if (!s->mirror) {
      x.born[j] = old.born[i];
      x.hits[j] = old.hits[i];
    } else {
      x.where[j] = old.where[i];
    }
  }
  if (s->mirror) {
    /* The stale list in its order, renamed; the simulations' user words too. */
    uint32_t head = MACHO__NIL, tail = MACHO__NIL;
    for (uint32_t i = s->stale_head; map && i != MACHO__NIL; i = old.snext[i]) {
      uint32_t j = map[i];
      x.sprev[j] = tail;
      x.snext[j] = MACHO__NIL;
      if (tail != MACHO__NIL) x.snext[tail] = j;
      else head = j;
      tail = j;
    }
    s->stale_head = head;
    s->stale_tail = tail;
    for (uint32_t k = 0; k < s->p.ncand; k++)
      for (uint32_t i = 0; i < macho__minisim_slots(&s->sims[k]); i++) {
        uint32_t *u = macho__minisim_user_at(&s->sims[k], i);
        if (u && *u != MACHO__NIL) *u = map ? map[*u] : MACHO__NIL;
      }
  }
  arrays_free(a, &old, old_n);
  arrays_set(s, &x);
  s->nslots = new_n;
  return MACHO_OK;
}

static size_t auto_memory(const void *st) {
  const auto_state *s = st;
  size_t per_slot = sizeof(uint32_t) + (s->mirror ? 1 + 2 * sizeof(uint32_t) : sizeof(uint32_t) + 1);
  size_t m = macho__size64(s->p.ncand * sizeof *s->sims) + (size_t)s->nslots * per_slot;
  for (uint32_t i = 0; i < s->p.ncand; i++) m += macho__minisim_memory(&s->sims[i]);
  if (s->live_st) m += state_bytes(s->live_ops) + (s->live_ops->memory ? s->live_ops->memory(s->live_st) : 0);
  return m;
}

macho_policy macho__auto_live(const void *st) {
  const auto_state *s = st;
  return s->p.cand[s->live];
}

uint32_t macho__auto_switches(const void *st) { return ((const auto_state *)st)->switches; }

/* ---- public: what auto follows ------------------------------------------------------ */

int macho_policy_current(macho_cache *c, int shard, macho_policy *policy, uint64_t *changes) {
  if (!c || shard < -1 || (shard >= 0 && (uint32_t)shard >= c->nshards)) return MACHO_EINVAL;
  uint32_t votes[MACHO_POLICY_COUNT] = {0};
  uint64_t total = 0;
  uint32_t from = shard < 0 ? 0 : (uint32_t)shard, to = shard < 0 ? c->nshards : from + 1;
  for (uint32_t i = from; i < to; i++) {
    macho__shard *sh = &c->shards[i];
    macho_policy p = c->cfg.policy;
    if (p == MACHO_POLICY_AUTO) {
      macho__lock(sh);
      macho__shard_drain(sh); /* decisions happen as the records are replayed */
      p = macho__auto_live(sh->pol_state);
      total += macho__auto_switches(sh->pol_state);
      macho__unlock(sh);
    }
    votes[p]++;
  }
  macho_policy best = 0;
  for (int p = 1; p < MACHO_POLICY_COUNT; p++)
    if (votes[p] > votes[best]) best = (macho_policy)p;
  if (policy) *policy = best;
  if (changes) *changes = total;
  return MACHO_OK;
}

/* No order, hint or resize hook: the policy auto follows can change between
 * two calls, and in mirror mode victims come from the miniatures' verdicts,
 * so macho_coldest/macho_hottest answer MACHO_ENOTSUP (as for Random), the
 * entries' frequency is 0, and a new capacity rebuilds the state (shard.c's
 * settle_policy: a fresh auto, the entries inserted coldest first). */
const macho__policy_ops macho__policy_auto = {
    .name = "auto",
    .state_size = sizeof(auto_state),
    .access = MACHO__ACCESS_BUFFER,
    .record_misses = true,
    .init = auto_init,
    .destroy = auto_destroy,
    .insert = auto_insert,
    .on_access = auto_access,
    .pre_insert = auto_pre_insert,
    .remove = auto_remove,
    .victim = auto_victim,
    .clear = auto_clear,
    .move = auto_move,
    .remap = auto_remap,
    .memory = auto_memory,
};
