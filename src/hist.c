/*
 * hist.c -- the cold half of the log-linear histograms (see hist.h): bucket
 * bounds, merging and quantiles. Recording is inline in hist.h.
 */
#include "hist.h"

#include <string.h>

void macho__hist_init(macho__hist *h, uint64_t *buckets, uint32_t nb) {
  h->b = buckets;
  h->nb = nb;
  macho__hist_reset(h);
}

void macho__hist_reset(macho__hist *h) {
  h->count = h->sum = h->sum_hi = h->max = 0;
  h->min = UINT64_MAX;
  if (h->nb) memset(h->b, 0, (size_t)h->nb * sizeof *h->b);
}

void macho__hist_merge(macho__hist *dst, const macho__hist *src) {
  if (!src->count) return;
  for (uint32_t i = 0; i < src->nb; i++) dst->b[i < dst->nb ? i : dst->nb - 1] += src->b[i];
  dst->count += src->count;
  uint64_t sum = dst->sum + src->sum;
  dst->sum_hi += src->sum_hi + (sum < src->sum);
  dst->sum = sum;
  if (src->min < dst->min) dst->min = src->min;
  if (src->max > dst->max) dst->max = src->max;
}

uint64_t macho__hist_lo(uint32_t i) {
  if (i < MACHO__HIST_EXACT) return i;
  uint32_t j = i - MACHO__HIST_EXACT;
  uint32_t e = 7u + j / MACHO__HIST_SUB, sub = j % MACHO__HIST_SUB;
  return (uint64_t)(MACHO__HIST_SUB + sub) << (e - MACHO__HIST_SUB_BITS);
}

uint64_t macho__hist_hi(uint32_t i) {
  if (i < MACHO__HIST_EXACT) return i;
  uint32_t e = 7u + (i - MACHO__HIST_EXACT) / MACHO__HIST_SUB;
  return macho__hist_lo(i) + ((uint64_t)1 << (e - MACHO__HIST_SUB_BITS)) - 1;
}

uint64_t macho__hist_quantile(const macho__hist *h, double q) {
  if (!h->count) return 0;
  if (!(q > 0)) return h->min; /* also NaN */
  if (q >= 1) return h->max;
  uint64_t rank = macho__quantile_rank(h->count, q);
  uint64_t seen = 0;
  for (uint32_t i = 0; i < h->nb; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      uint64_t lo = macho__hist_lo(i), hi = macho__hist_hi(i);
      uint64_t mid = lo + (hi - lo) / 2;
      if (i == h->nb - 1 && h->max > hi) mid = h->max; /* the clamped top bucket */
      return mid < h->min ? h->min : mid > h->max ? h->max : mid;
    }
  }
  return h->max;
}
