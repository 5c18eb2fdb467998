/*
 * mrc.h -- the live miss-ratio curve of one shard (src/mrc.c): what the
 * shard's miss ratio would be at 0.25, 0.5, 1, 2, 4 and 8 times its
 * capacity, estimated continuously from miniature simulations of its own
 * policy on a spatially hashed sample of the keys it is asked for.
 *
 * The shard calls macho__mrc_observe() with the 64-bit hash of every get
 * (internal.h), holding the lock that guards the curve (the shard lock).
 * The lab (bench/policy_lab) drives a curve directly through this header.
 */
#ifndef MACHO_MRC_H
#define MACHO_MRC_H

#include "minisim.h"

#define MACHO__MRC_POINTS MACHO_MRC_POINTS
/* The whole cache's 1x simulations hold about this many entries: a shard's
 * sample rate is min(1, (this / shards) / its capacity). */
#define MACHO__MRC_SAMPLE 3072u
#define MACHO__MRC_SAMPLE_MIN 64u /* per shard, however many shards */

struct macho__mrc {
  uint64_t threshold; /* sampled when the mixed hash is below: 2^32 = every key */
  double rate;
  uint64_t gets, sampled;                /* since open or reset */
  uint64_t misses[MACHO__MRC_POINTS];    /* each minisim's, over the sampled gets */
  uint64_t capacity;                     /* the shard's */
  uint32_t size[MACHO__MRC_POINTS];      /* each minisim's capacity */
  macho__minisim sims[MACHO__MRC_POINTS];
  void *raw; /* the allocation (the struct holds shards: 64-byte aligned inside it) */
};
typedef struct macho__mrc macho__mrc;

extern const double macho__mrc_multiples[MACHO__MRC_POINTS];

/* Curve of a shard of `capacity` entries running `ops`, its 1x simulation
 * holding about `base` entries. MACHO_ENOMEM leaves nothing allocated. */
int macho__mrc_create(macho__mrc **out, macho_cache *owner, const macho__policy_ops *ops,
                      uint32_t capacity, uint32_t base, uint64_t seed);
void macho__mrc_destroy(macho__mrc *m, macho_cache *owner);
void macho__mrc_reset(macho__mrc *m);
/* The estimate at multiple i: sampled misses over the sampled gets expected. */
double macho__mrc_estimate(const macho__mrc *m, int i);

#endif
