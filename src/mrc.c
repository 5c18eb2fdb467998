/*
 * mrc.c -- the live miss-ratio curve (see mrc.h and macho.h), by miniature
 * simulation (Waldspurger, Park, Garthwaite, Ahmad: "Cache Modeling and
 * Optimization using Miniature Simulations", USENIX ATC'17).
 *
 * A key is in the sample when a multiplicative hash of its 64-bit hash falls
 * below R * 2^32 (spatial sampling, SHARDS: Waldspurger et al., FAST'15), so
 * a sampled key is sampled on every request and the sample keeps the
 * workload's reuse pattern, thinned R times. A minisim of capacity x*R*C
 * running the shard's own policy on the sample then misses about as often as
 * a cache of x*C entries would on everything. The whole cache simulates
 * about MACHO__MRC_SAMPLE (3072) entries at 1x, split over its shards (each
 * shard's keys are themselves a spatial sample of the cache's, so the pooled
 * curve has the statistical power of one sample of that size): a shard of C
 * entries samples at R = min(1, (3072 / shards) / C) and the six minisims
 * hold x*R*C entries, about 16 x 3072 in all whatever the capacity. The size
 * is a trade of memory for accuracy, measured with bench/policy_lab --mrc on
 * the 360 (point, multiple) pairs of the shared traces (docs/POLICIES.md):
 * at 1024 the worst error was 2.7 points (LRU), at 3072 1.4, and beyond
 * that the error is the noise of which few thousand keys are sampled
 * (4096 happened to do worse on cloudPhysicsIO than 3072), not a bias.
 *
 * The estimate is misses / (R * gets), not misses / sampled gets: SHARDS's
 * adjustment. The sampled share of the requests wanders around R with the
 * popularity of the few keys that happen to be sampled; a hot key in the
 * sample adds hits, not misses, so dividing by the expected number of
 * sampled requests cancels most of that wander. On the shared traces (with
 * a 1024-entry sample) it cut the mean error of LRU's curve from 0.41 to
 * 0.09 points, and the worst from 8 to 2.7 (bench/policy_lab --mrc).
 *
 * Only gets feed the curve (a cache-aside get that misses is followed by a
 * put, which the simulation models as its insertion); deletes and expiry do
 * not reach the minisims, so a workload that expires much of what it caches
 * will see the curve overestimate its hit ratio.
 */
#include "mrc.h"
#include "policy/policy.h"

#include <math.h>

const double macho__mrc_multiples[MACHO__MRC_POINTS] = {0.25, 0.5, 1, 2, 4, 8};

int macho__mrc_create(macho__mrc **out, macho_cache *owner, const macho__policy_ops *ops,
                      uint32_t capacity, uint32_t base, uint64_t seed) {
  *out = NULL;
  void *raw;
  macho__mrc *m = macho__calloc64(&owner->alloc, sizeof *m, &raw);
  if (!m) return MACHO_ENOMEM;
  m->raw = raw;
  m->capacity = capacity ? capacity : 1;
  m->rate = m->capacity <= base ? 1.0 : (double)base / (double)m->capacity;
  m->threshold = m->rate >= 1.0 ? 1ull << 32 : (uint64_t)(m->rate * 4294967296.0);
  for (int i = 0; i < MACHO__MRC_POINTS; i++) {
    double size = macho__mrc_multiples[i] * m->rate * (double)m->capacity + 0.5;
    if (size > MACHO__MAX_SHARD_ENTRIES) size = MACHO__MAX_SHARD_ENTRIES;
    m->size[i] = size < 1 ? 1 : (uint32_t)size;
    if (macho__minisim_init(&m->sims[i], owner, ops, m->size[i], seed + (uint64_t)i, false) != MACHO_OK) {
      macho__mrc_destroy(m, owner);
      return MACHO_ENOMEM;
    }
  }
  *out = m;
  return MACHO_OK;
}

void macho__mrc_destroy(macho__mrc *m, macho_cache *owner) {
  if (!m) return;
  for (int i = 0; i < MACHO__MRC_POINTS; i++) macho__minisim_destroy(&m->sims[i]);
  macho__free(&owner->alloc, m->raw, macho__size64(sizeof *m));
}

void macho__mrc_observe(macho__mrc *m, uint64_t hash) {
  m->gets++;
  /* Another multiplier than auto's sample: the two samples are independent. */
  if ((uint64_t)(uint32_t)((hash * 0xD6E8FEB86659FD93ULL) >> 32) >= m->threshold) return;
  m->sampled++;
  for (int i = 0; i < MACHO__MRC_POINTS; i++) m->misses[i] += !macho__minisim_access(&m->sims[i], hash);
}

void macho__mrc_clear(macho__mrc *m) {
  for (int i = 0; i < MACHO__MRC_POINTS; i++) macho__minisim_clear(&m->sims[i]);
}

void macho__mrc_reset(macho__mrc *m) {
  m->gets = m->sampled = 0;
  memset(m->misses, 0, sizeof m->misses);
}

/* What the curve holds now: its miniatures' rings and ghosts grow with their
 * entries after creation (shard lock held, or no other thread). */
size_t macho__mrc_memory(const macho__mrc *m) {
  if (!m) return 0;
  size_t b = macho__size64(sizeof *m);
  for (int i = 0; i < MACHO__MRC_POINTS; i++) b += macho__minisim_memory(&m->sims[i]);
  return b;
}

double macho__mrc_estimate(const macho__mrc *m, int i) {
  if (!m->sampled) return NAN;
  double r = (double)m->misses[i] / (m->rate * (double)m->gets);
  return r > 1 ? 1 : r;
}

/* ---- the shard's curve ----------------------------------------------------------- */

int macho__shard_mrc_init(macho__shard *sh, uint32_t nshards) {
  uint32_t base = MACHO__MRC_SAMPLE / (nshards ? nshards : 1);
  if (base < MACHO__MRC_SAMPLE_MIN) base = MACHO__MRC_SAMPLE_MIN;
  return macho__mrc_create(&sh->mrc, sh->cache, sh->pol, sh->capacity, base, sh->rng ^ 0x6d7263u);
}

void macho__shard_mrc_destroy(macho__shard *sh) {
  macho__mrc_destroy(sh->mrc, sh->cache);
  sh->mrc = NULL;
}

/* ---- public -------------------------------------------------------------------- */

int macho_mrc_get(macho_cache *c, int shard, macho_mrc *out) {
  if (!c || !out || shard < -1 || (shard >= 0 && (uint32_t)shard >= c->nshards)) return MACHO_EINVAL;
  if (!c->cfg.mrc) return MACHO_ENOTSUP;
  memset(out, 0, sizeof *out);
  double expected = 0, weighted_rate = 0, misses[MACHO__MRC_POINTS] = {0};
  uint64_t capacity = 0;
  uint32_t from = shard < 0 ? 0 : (uint32_t)shard, to = shard < 0 ? c->nshards : from + 1;
  for (uint32_t s = from; s < to; s++) {
    macho__shard *sh = &c->shards[s];
    macho__lock(sh);
    const macho__mrc *m = sh->mrc;
    out->gets += m->gets;
    out->sampled_gets += m->sampled;
    expected += m->rate * (double)m->gets;
    weighted_rate += m->rate * (double)m->capacity;
    capacity += m->capacity;
    out->memory_bytes += macho__mrc_memory(m);
    for (int i = 0; i < MACHO__MRC_POINTS; i++) misses[i] += (double)m->misses[i];
    macho__unlock(sh);
  }
  out->sample_rate = capacity ? weighted_rate / (double)capacity : 1;
  for (int i = 0; i < MACHO__MRC_POINTS; i++) {
    out->multiple[i] = macho__mrc_multiples[i];
    out->entries[i] = (uint64_t)(macho__mrc_multiples[i] * (double)capacity + 0.5);
    double r = out->sampled_gets ? misses[i] / expected : NAN;
    out->miss_ratio[i] = r > 1 ? 1 : r;
  }
  return MACHO_OK;
}

int macho_mrc_reset(macho_cache *c) {
  if (!c) return MACHO_EINVAL;
  if (!c->cfg.mrc) return MACHO_ENOTSUP;
  for (uint32_t s = 0; s < c->nshards; s++) {
    macho__shard *sh = &c->shards[s];
    macho__lock(sh);
    macho__mrc_reset(sh->mrc);
    macho__unlock(sh);
  }
  return MACHO_OK;
}
