/*
 * metrics.c -- what a shard measures, and the snapshot that reads it.
 *
 * Counters are plain integers guarded by the shard lock and summed on read
 * (macho_counters_get), so the hot path pays one increment and no atomics.
 * With config.metrics on, each shard that sees traffic also owns one block
 * (struct macho__metrics, allocated on first use) holding log-linear histograms (hist.h) of get and put
 * latency and of the lifespans of entries that left, by reason, plus a ring
 * of per-second latency sums for the recent window. Everything is written
 * under the shard lock it belongs to, and a snapshot merges the shards one
 * lock at a time, so reading never stops the cache.
 *
 * Latency is sampled: one call in MACHO_LATENCY_SAMPLE_EVERY per thread is
 * timed (two clock reads). Which call is picked does not depend on the call's
 * duration, so the sampled distribution is an unbiased estimate of the whole
 * one, at 1/64 of the clock reads; config.metrics = 2 times every call.
 * (1 in 16 cost 5% of throughput in bench_metrics, 1 in 64 costs 2%: see
 * docs/BENCHMARKS.md; at a million calls a second that still times 15k.)
 */
#include "internal.h"
#include "hist.h"
#include "policy/policy.h"


_Static_assert((MACHO_LATENCY_SAMPLE_EVERY & (MACHO_LATENCY_SAMPLE_EVERY - 1)) == 0,
               "the sampling mask needs a power of two");

/* Latency beyond 2^32 ns (4.3 s) lands in the top bucket; lifespans are
 * resolved up to 2^48 ns (78 hours). */
#define LAT_BITS 32u
#define LIFE_BITS 48u
#define LAT_NB MACHO__HIST_BUCKETS(LAT_BITS)
#define LIFE_NB MACHO__HIST_BUCKETS(LIFE_BITS)
#define WINDOW_SLOTS 64u /* a power of two >= MACHO_STATS_WINDOW_SECONDS */


typedef struct window_slot {
  uint64_t second;          /* which second this slot holds (UINT64_MAX = none) */
  uint64_t n[2], sum[2], max[2]; /* by MACHO__OP_* */
} window_slot;

/* A removal reason that ends an entry's life (REPLACED does not). */
static bool reason_ends_life(int r) { return r != MACHO_REMOVED_REPLACED; }

struct macho__metrics {
  macho__hist lat[2];
  macho__hist life[MACHO_REMOVED_COUNT];
  window_slot window[WINDOW_SLOTS];
  uint64_t buckets[]; /* every histogram's counts, one after another */
};

static size_t metrics_buckets(void) { return 2u * LAT_NB + (MACHO_REMOVED_COUNT - 1u) * LIFE_NB; }
static size_t metrics_size(void) {
  return sizeof(struct macho__metrics) + metrics_buckets() * sizeof(uint64_t);
}

static void metrics_reset(struct macho__metrics *m) {
  for (int i = 0; i < 2; i++) macho__hist_reset(&m->lat[i]);
  for (int r = 0; r < MACHO_REMOVED_COUNT; r++) macho__hist_reset(&m->life[r]);
  memset(m->window, 0, sizeof m->window);
  for (uint32_t i = 0; i < WINDOW_SLOTS; i++) m->window[i].second = UINT64_MAX;
}

int macho__metrics_init(macho__shard *sh) {
  sh->metrics = NULL; /* allocated on first use: see metrics_of() */
  return MACHO_OK;
}

/* The shard's metrics block, allocated the first time the shard records
 * something (lock held). A cache of 65536 shards that never sees traffic on
 * most of them then costs nothing for them; ~110 KiB per busy shard, counted
 * in memory_bytes. If the allocation fails the sample is dropped (and the
 * allocation retried next time): metrics never fail an operation. */
static struct macho__metrics *metrics_of(macho__shard *sh) {
  struct macho__metrics *m = sh->metrics;
  if (macho__likely(m != NULL) || !sh->cache->cfg.metrics) return m;
  m = macho__malloc(&sh->cache->alloc, metrics_size());
  if (!m) return NULL;
  uint64_t *b = m->buckets;
  for (int i = 0; i < 2; i++, b += LAT_NB) macho__hist_init(&m->lat[i], b, LAT_NB);
  for (int r = 0; r < MACHO_REMOVED_COUNT; r++) {
    uint32_t nb = reason_ends_life(r) ? LIFE_NB : 0;
    macho__hist_init(&m->life[r], b, nb);
    b += nb;
  }
  metrics_reset(m);
  sh->metrics = m;
  return m;
}

void macho__metrics_destroy(macho__shard *sh) {
  if (sh->metrics) macho__free(&sh->cache->alloc, sh->metrics, metrics_size());
  sh->metrics = NULL;
}

/* `born` is UINT64_MAX when unknown (an entry written with its own TTL:
 * its slot keeps only the deadline). */
void macho__metrics_on_remove(macho__shard *sh, uint64_t born, macho_removal reason, uint64_t now) {
  if (born == UINT64_MAX || !sh->cache->cfg.metrics) return;
  struct macho__metrics *m = metrics_of(sh);
  if (m && (unsigned)reason < MACHO_REMOVED_COUNT)
    macho__hist_record(&m->life[reason], now > born ? now - born : 0);
}

void macho__lat_end_unlocked(const macho_cache *c, macho__shard *sh, int op, macho__lat l) {
  if (macho__likely(!l.on)) return;
  uint64_t t1 = macho__now_precise(c);
  /* metrics = 2 (every call timed, and counted) takes the lock here. The
   * 1-in-64 sample of metrics = 1 takes it only if it is free: a lock-free
   * get never waits behind a writer for its sample (bench_pauses: 32 ms
   * behind a shrink); that sample is dropped instead, and the calls that
   * did wait record theirs under the lock they hold. */
  if (c->cfg.metrics == 2) macho__lock(sh);
  else if (!macho__trylock(sh)) return;
  macho__metrics_on_latency(sh, op, l.t0, t1);
  macho__unlock(sh);
}

void macho__metrics_on_latency(macho__shard *sh, int op, uint64_t t0, uint64_t t1) {
  struct macho__metrics *m = metrics_of(sh);
  if (!m) return;
  /* Count the warm-up (internal.h: MACHO__LAT_WARMUP). Two threads may both
   * add past the limit; it only has to stop growing. */
  _Atomic uint32_t *warm = &sh->cache->lat_warm[op];
  if (atomic_load_explicit(warm, memory_order_relaxed) < MACHO__LAT_WARMUP)
    atomic_fetch_add_explicit(warm, 1u, memory_order_relaxed);
  uint64_t ns = t1 > t0 ? t1 - t0 : 0;
  macho__hist_record(&m->lat[op], ns);
  uint64_t sec = t1 / 1000000000u;
  window_slot *w = &m->window[sec % WINDOW_SLOTS];
  if (w->second != sec) {
    memset(w, 0, sizeof *w);
    w->second = sec;
  }
  w->n[op]++;
  w->sum[op] += ns;
  if (ns > w->max[op]) w->max[op] = ns;
}

/* One shard's share (the whole cache's figure is the allocator's count). */
size_t macho__shard_memory(const macho__shard *sh) {
  const macho__table *t = atomic_load_explicit(&((macho__shard *)sh)->table, memory_order_relaxed);
  size_t m = sizeof *sh + (t ? t->bytes : 0) + (size_t)sh->arena.bytes_held + sh->pol->state_size;
  if (sh->stripes) m += MACHO__STRIPES * sizeof(macho__stripe);
  if (sh->pol->memory) m += sh->pol->memory(sh->pol_state);
  if (sh->fil && sh->fil->memory) m += sh->fil->memory(sh->filter);
  if (sh->metrics) m += metrics_size();
  m += macho__mrc_memory(sh->mrc);
  return m;
}

/* ---- snapshot ------------------------------------------------------------------ */

/* What the shards merge into before the snapshot is laid out. */
typedef struct merged {
  macho__hist h[2 + MACHO_REMOVED_COUNT]; /* get, put, lifespans by reason */
  macho_window_second win[MACHO_STATS_WINDOW_SECONDS];
} merged;

static void merge_shard(merged *mg, const struct macho__metrics *m, uint64_t now_sec) {
  macho__hist_merge(&mg->h[0], &m->lat[0]);
  macho__hist_merge(&mg->h[1], &m->lat[1]);
  for (int r = 0; r < MACHO_REMOVED_COUNT; r++) macho__hist_merge(&mg->h[2 + r], &m->life[r]);
  for (uint32_t i = 0; i < WINDOW_SLOTS; i++) {
    const window_slot *w = &m->window[i];
    if (w->second == UINT64_MAX || w->second > now_sec ||
        now_sec - w->second >= MACHO_STATS_WINDOW_SECONDS)
      continue;
    macho_window_second *o =
        &mg->win[MACHO_STATS_WINDOW_SECONDS - 1 - (now_sec - w->second)];
    o->second = w->second;
    o->get_samples += w->n[0];
    o->get_sum_ns += w->sum[0];
    if (w->max[0] > o->get_max_ns) o->get_max_ns = w->max[0];
    o->put_samples += w->n[1];
    o->put_sum_ns += w->sum[1];
    if (w->max[1] > o->put_max_ns) o->put_max_ns = w->max[1];
  }
}

static uint32_t nonempty(const macho__hist *h) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < h->nb; i++) n += h->b[i] != 0;
  return n;
}

static void fill_distribution(macho_distribution *d, const macho__hist *h, macho_bucket *out) {
  memset(d, 0, sizeof *d);
  d->buckets = out;
  if (!h->count) return;
  d->count = h->count;
  d->min = h->min;
  d->max = h->max;
  /* The public sum is 64 bits: it saturates (584 years of nanoseconds); the
   * mean comes from the full 128-bit sum. */
  d->sum = h->sum_hi ? UINT64_MAX : h->sum;
  d->mean = ((double)h->sum_hi * 18446744073709551616.0 + (double)h->sum) / (double)h->count;
  d->p50 = macho__hist_quantile(h, 0.50);
  d->p90 = macho__hist_quantile(h, 0.90);
  d->p99 = macho__hist_quantile(h, 0.99);
  d->p999 = macho__hist_quantile(h, 0.999);
  for (uint32_t i = 0; i < h->nb; i++) {
    if (!h->b[i]) continue;
    macho_bucket *b = &out[d->nbuckets++];
    b->lo = macho__hist_lo(i);
    b->hi = macho__hist_hi(i);
    if (i == h->nb - 1 && h->max > b->hi) b->hi = h->max; /* top bucket is open-ended */
    b->count = h->b[i];
  }
}

/* Counters of one shard added into *o (lock held): its own, plus what the
 * lock-free gets counted in every thread's record, minus what was there at
 * the last macho_stats_reset. */
void macho__shard_add_counters(macho_counters *o, macho__shard *sh) {
  uint64_t hits = sh->c.hits, misses = sh->c.misses;
  for (macho__trec *r = atomic_load_explicit(&sh->cache->recs, memory_order_acquire); r; r = r->next) {
    hits += atomic_load_explicit(&r->c[sh->index].hits, memory_order_relaxed);
    misses += atomic_load_explicit(&r->c[sh->index].misses, memory_order_relaxed);
  }
  hits -= sh->hits_base;
  misses -= sh->misses_base;
  o->hits += hits;
  o->misses += misses;
  o->gets += hits + misses;
  o->puts += sh->c.puts;
  o->deletes += sh->c.deletes;
  o->requests += hits + misses + sh->c.puts;
  o->evictions += sh->c.evictions;
  o->expirations += sh->c.expirations;
  o->entries += sh->len;
  o->capacity_entries += sh->capacity;
  o->capacity_bytes += sh->capacity_bytes;
  o->payload_bytes += sh->payload_bytes;
  o->charged_bytes += sh->charged_bytes;
  o->memory_bytes += macho__shard_memory(sh);
  o->filter_queries += sh->c.filter_queries;
  o->filter_negatives += sh->c.filter_negatives;
  o->filter_false_positives += sh->c.filter_false_positives;
}

/* A snapshot remembers the allocator that made it, so that macho_stats_free
 * needs no cache (which may be closed by then). */
typedef struct stats_block {
  macho_stats stats; /* first: the pointer handed out is the block's */
  macho_allocator hooks;
  size_t size;
} stats_block;

int macho_stats_get(macho_cache *c, int shard, macho_stats **out) {
  if (out) *out = NULL;
  if (!c || !out || shard < -1 || (shard >= 0 && (uint32_t)shard >= c->nshards))
    return MACHO_EINVAL;
  const int nh = 2 + MACHO_REMOVED_COUNT;
  merged *mg = NULL;
  size_t mg_size = sizeof *mg + (c->cfg.metrics ? 2u * LAT_NB + MACHO_REMOVED_COUNT * (size_t)LIFE_NB : 0) *
                                     sizeof(uint64_t);
  mg = macho__malloc_untracked(&c->alloc, mg_size); /* transient: not the cache's memory */
  if (!mg) return MACHO_ENOMEM;
  memset(mg, 0, sizeof *mg);
  uint64_t *b = (uint64_t *)(mg + 1);
  for (int i = 0; i < nh; i++) {
    uint32_t nb = !c->cfg.metrics ? 0 : i < 2 ? LAT_NB : LIFE_NB;
    memset(b, 0, (size_t)nb * sizeof *b);
    macho__hist_init(&mg->h[i], b, nb);
    b += nb;
  }

  macho_counters cnt;
  memset(&cnt, 0, sizeof cnt);
  uint64_t now = macho__now(c), now_sec = now / 1000000000u;
  uint32_t from = shard < 0 ? 0 : (uint32_t)shard, to = shard < 0 ? c->nshards : from + 1;
  for (uint32_t i = from; i < to; i++) {
    macho__shard *sh = &c->shards[i];
    macho__lock(sh);
    macho__shard_add_counters(&cnt, sh);
    if (sh->metrics) merge_shard(mg, sh->metrics, now_sec);
    macho__unlock(sh);
  }
  if (shard < 0) cnt.memory_bytes = atomic_load_explicit(&c->alloc.held, memory_order_relaxed);

  /* One allocation: the struct, the window, then every distribution's buckets. */
  uint32_t nwin = 0, nbk = 0;
  for (int i = 0; i < MACHO_STATS_WINDOW_SECONDS; i++)
    nwin += mg->win[i].get_samples + mg->win[i].put_samples != 0;
  for (int i = 0; i < nh; i++) nbk += nonempty(&mg->h[i]);
  size_t size = sizeof(stats_block) + (size_t)nwin * sizeof(macho_window_second) +
                (size_t)nbk * sizeof(macho_bucket);
  /* Not counted in the cache's memory: the caller owns it, may keep it
   * after macho_close, and frees it with no cache at hand. */
  stats_block *blk = macho__malloc_untracked(&c->alloc, size);
  if (!blk) {
    macho__free_untracked(&c->alloc, mg, mg_size);
    return MACHO_ENOMEM;
  }
  blk->hooks = c->alloc.hooks;
  blk->size = size;
  macho_stats *s = &blk->stats;
  memset(s, 0, sizeof *s);
  s->version = MACHO_STATS_VERSION;
  s->shard = shard;
  s->shards = c->nshards;
  s->metrics = c->cfg.metrics;
  s->latency_sample_every = c->cfg.metrics == 2 ? 1 : c->cfg.metrics ? MACHO_LATENCY_SAMPLE_EVERY : 0;
  s->now_ns = now;
  s->counters = cnt;
  macho_window_second *win = (macho_window_second *)(blk + 1);
  for (int i = 0; i < MACHO_STATS_WINDOW_SECONDS; i++)
    if (mg->win[i].get_samples + mg->win[i].put_samples) win[s->nwindow++] = mg->win[i];
  s->window = win;
  macho_bucket *bk = (macho_bucket *)(win + nwin);
  fill_distribution(&s->get_latency_ns, &mg->h[0], bk);
  bk += s->get_latency_ns.nbuckets;
  fill_distribution(&s->put_latency_ns, &mg->h[1], bk);
  bk += s->put_latency_ns.nbuckets;
  for (int r = 0; r < MACHO_REMOVED_COUNT; r++) {
    fill_distribution(&s->lifespan_ns[r], &mg->h[2 + r], bk);
    bk += s->lifespan_ns[r].nbuckets;
  }
  macho__free_untracked(&c->alloc, mg, mg_size);
  s->has_mrc = c->cfg.mrc && macho_mrc_get(c, shard, &s->mrc) == MACHO_OK;
  *out = s;
  return MACHO_OK;
}

void macho_stats_free(macho_stats *s) {
  if (!s) return;
  stats_block *blk = (stats_block *)s;
  macho__alloc a;
  memset(&a, 0, sizeof a);
  a.hooks = blk->hooks;
  macho__free_untracked(&a, blk, blk->size);
}

int macho_stats_reset(macho_cache *c) {
  if (!c) return MACHO_EINVAL;
  for (int op = 0; op < 2; op++) atomic_store_explicit(&c->lat_warm[op], 0u, memory_order_relaxed);
  for (uint32_t i = 0; i < c->nshards; i++) {
    macho__shard *sh = &c->shards[i];
    macho__lock(sh);
    memset(&sh->c, 0, sizeof sh->c);
    /* Thread records are written by their threads only: remember where
     * they stand instead of zeroing them. */
    uint64_t h = 0, m = 0;
    for (macho__trec *r = atomic_load_explicit(&c->recs, memory_order_acquire); r; r = r->next) {
      h += atomic_load_explicit(&r->c[i].hits, memory_order_relaxed);
      m += atomic_load_explicit(&r->c[i].misses, memory_order_relaxed);
    }
    sh->hits_base = h;
    sh->misses_base = m;
    if (sh->metrics) metrics_reset(sh->metrics);
    macho__unlock(sh);
  }
  return MACHO_OK;
}

uint64_t macho_distribution_quantile(const macho_distribution *d, double q) {
  if (!d || !d->count) return 0;
  if (!(q > 0)) return d->min;
  if (q >= 1) return d->max;
  uint64_t rank = macho__quantile_rank(d->count, q);
  uint64_t seen = 0;
  for (uint32_t i = 0; i < d->nbuckets; i++) {
    seen += d->buckets[i].count;
    if (seen >= rank) {
      const macho_bucket *b = &d->buckets[i];
      uint64_t mid = b->lo + (b->hi - b->lo) / 2;
      return mid < d->min ? d->min : mid > d->max ? d->max : mid;
    }
  }
  return d->max;
}
