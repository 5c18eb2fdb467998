/*
 * hist.h -- log-linear histograms of 64-bit values (nanoseconds), after
 * HdrHistogram (Gil Tene, http://hdrhistogram.org).
 *
 * Values below 2*SUB (= 128) get a bucket each and are exact. Above, each
 * power-of-two range [2^e, 2^(e+1)) is cut into SUB (= 64) equal buckets of
 * width 2^(e-6), so a bucket is at most 1/64 of its lower bound wide and its
 * midpoint lies within 1/128 (0.8%) of every value in it: the 1% error bound.
 * Recording is O(1) (a count-leading-zeros and a shift), memory is fixed by
 * the largest power of two tracked: values at or above 2^max_bits land in the
 * top bucket (count, sum, min and max stay exact regardless; the sum is
 * kept in 128 bits).
 */
#ifndef MACHO_HIST_H
#define MACHO_HIST_H

#include <stddef.h>
#include <stdint.h>

#define MACHO__HIST_SUB_BITS 6u
#define MACHO__HIST_SUB (1u << MACHO__HIST_SUB_BITS)  /* buckets per power of two */
#define MACHO__HIST_EXACT (2u * MACHO__HIST_SUB)      /* values below this are exact */
/* Bucket count for values up to 2^max_bits (max_bits >= 8). */
#define MACHO__HIST_BUCKETS(max_bits) (MACHO__HIST_EXACT + ((max_bits) - 7u) * MACHO__HIST_SUB)

typedef struct macho__hist {
  uint64_t count, sum, min, max; /* min = UINT64_MAX while empty */
  /* Carries out of `sum`: 600 s lifespans wrap 64 bits of nanoseconds after
   * ~3e7 removals (issue 10, defect 12), so the sum is 128 bits wide. */
  uint64_t sum_hi;
  uint32_t nb;                   /* buckets; 0 = a histogram that records nothing */
  uint64_t *b;                   /* nb counts, memory owned by the caller */
} macho__hist;

/* Bucket index of v, before clamping to nb - 1. */
static inline uint32_t macho__hist_index(uint64_t v) {
  if (v < MACHO__HIST_EXACT) return (uint32_t)v;
  uint32_t e = 63u - (uint32_t)__builtin_clzll(v); /* v in [2^e, 2^(e+1)), e >= 7 */
  uint32_t shift = e - MACHO__HIST_SUB_BITS;
  return MACHO__HIST_EXACT + (e - 7u) * MACHO__HIST_SUB +
         (uint32_t)((v >> shift) - MACHO__HIST_SUB);
}

static inline void macho__hist_record(macho__hist *h, uint64_t v) {
  if (!h->nb) return;
  uint32_t i = macho__hist_index(v);
  if (i >= h->nb) i = h->nb - 1;
  h->b[i]++;
  h->count++;
  uint64_t sum = h->sum + v;
  h->sum_hi += sum < v;
  h->sum = sum;
  if (v < h->min) h->min = v;
  if (v > h->max) h->max = v;
}

/* Attach `buckets` (nb zeroed counts) and empty the histogram. */
void macho__hist_init(macho__hist *h, uint64_t *buckets, uint32_t nb);
void macho__hist_reset(macho__hist *h);
/* Add src's counts into dst (dst->nb >= src->nb). */
void macho__hist_merge(macho__hist *dst, const macho__hist *src);
/* Lowest and highest value of bucket i. */
uint64_t macho__hist_lo(uint32_t i);
uint64_t macho__hist_hi(uint32_t i);
/* Value at quantile q in [0, 1]: the midpoint of the bucket holding the
 * ceil(q*count)-th smallest value, clamped to [min, max]. 0 when empty. */
uint64_t macho__hist_quantile(const macho__hist *h, double q);

/* 1-based rank of the q-quantile among n values, as a sorted array's
 * [ceil(q*n) - 1] (0 < q < 1, n >= 1): the one definition the histogram and
 * the public snapshot share. */
static inline uint64_t macho__quantile_rank(uint64_t n, double q) {
  double r = q * (double)n;
  uint64_t rank = (uint64_t)r;
  if ((double)rank < r) rank++;
  return rank < 1 ? 1 : rank;
}

#endif /* MACHO_HIST_H */
