/*
 * bloom.c -- a counting Bloom filter that forgets evicted keys.
 *
 * The original macho put a plain Bloom filter (Bloom 1970) in front of the
 * cache and never removed anything from it: after enough churn every bit was
 * set and it answered "maybe" for every key. A cache's membership changes all
 * the time, so this filter keeps a 4-bit counter per position instead of a
 * bit (counting Bloom filter, Fan, Cao, Almeida & Broder, "Summary Cache",
 * IEEE/ACM ToN 2000): add increments the k counters of a key, remove
 * decrements them, and a query answers "certainly absent" when one of them
 * is zero. Its false-positive rate after any amount of churn is therefore the
 * rate of a filter built fresh from the keys held now.
 *
 * Why counting and not "plain Bloom + rebuild when churn crosses a
 * threshold": the counting filter is exact under churn at every moment (no
 * drift between rebuilds, no O(n) pause under the shard lock, no allocation
 * after open), at the price of 4 bits per position instead of 1. The space-
 * frugal deletable structure is the cuckoo filter next door; the xor filter
 * shows the rebuild approach.
 *
 * Saturation: a counter that reaches 15 is never incremented nor decremented
 * again (until clear). A saturated counter can only cause false positives,
 * never a false negative: every counter below 15 has never saturated and so
 * equals exactly the number of live probes that land on it. Fan et al. show
 * that with the optimal k a 4-bit counter overflows with probability about
 * 1.37e-15 per counter, so in practice nothing leaks.
 *
 * Sizing to hit p, not merely stay under it: k = round(log2(1/p)) (at least
 * 1), then the number of counters m solves (1 - e^(-kn/m))^k = p exactly for
 * n = capacity, i.e. m = -k n / ln(1 - p^(1/k)). Probes come from the one
 * 64-bit key hash by enhanced double hashing (Kirsch & Mitzenmacher, "Less
 * hashing, same performance", ESA 2006), each mapped onto [0, m) by a
 * multiply-high (Lemire's fastrange), so m needs not be a power of two.
 * Theoretical space of a plain Bloom filter: 1.44 log2(1/p) bits per key;
 * this one uses four times the optimal m's bits, about 5.8 log2(1/p).
 *
 * Not adopted: a blocked layout (all k counters of a key in one 64-byte line,
 * Putze, Sanders & Singler 2007) reads one cache line instead of k, but sized
 * exactly for p (occupancy DP per block, Poisson keys per block) it needed
 * 14% (p = 0.01) to 35% (p = 0.001) more counters, and with fewer independent
 * units its measured rate strayed up to 11% from p at 30 000 keys.
 */
#include "../internal.h"
#include "../hash.h"

#include <math.h>

#define COUNTER_MAX 15u

typedef struct bloom {
  uint64_t *words; /* 16 four-bit counters per word */
  size_t nwords;
  uint64_t m;      /* counters */
  uint32_t k;      /* probes per key */
  uint64_t seed;
} bloom;

static inline uint64_t mulhi64(uint64_t a, uint64_t b) {
  return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static inline uint32_t counter_get(const bloom *b, uint64_t pos) {
  return (uint32_t)(b->words[pos >> 4] >> ((pos & 15) * 4)) & 15u;
}

/* First probe and step for a key; probe i is mulhi(h1 + i*h2 + i(i-1)/2 ..). */
static inline void probes_init(const bloom *b, uint64_t hash, uint64_t *h1, uint64_t *h2) {
  uint64_t x = macho__mix64(hash ^ b->seed);
  *h1 = x;
  *h2 = (x >> 32 | x << 32) * 0x9E3779B97F4A7C15ULL | 1;
}

static int bloom_create(void **out, macho__alloc *a, uint32_t capacity, double p,
                        uint64_t seed) {
  uint32_t k = (uint32_t)lround(log2(1.0 / p));
  if (k < 1) k = 1;
  if (k > 32) k = 32;
  double n = capacity ? (double)capacity : 1.0;
  double m = -(double)k * n / log1p(-pow(p, 1.0 / k));
  if (!(m >= 16)) m = 16;
  bloom *b = macho__calloc(a, 1, sizeof *b);
  if (!b) return MACHO_ENOMEM;
  b->m = (uint64_t)ceil(m);
  b->k = k;
  b->seed = macho__mix64(seed ^ 0xb100f11e7ULL);
  b->nwords = (size_t)((b->m + 15) / 16);
  b->words = macho__calloc(a, b->nwords, sizeof *b->words);
  if (!b->words) {
    macho__free(a, b, sizeof *b);
    return MACHO_ENOMEM;
  }
  *out = b;
  return MACHO_OK;
}

static void bloom_destroy(void *f, macho__alloc *a) {
  bloom *b = f;
  if (!b) return;
  macho__free(a, b->words, b->nwords * sizeof *b->words);
  macho__free(a, b, sizeof *b);
}

static void bloom_add(void *f, uint64_t hash) {
  bloom *b = f;
  uint64_t h1, h2;
  probes_init(b, hash, &h1, &h2);
  for (uint32_t i = 0; i < b->k; i++) {
    uint64_t pos = mulhi64(h1, b->m);
    if (counter_get(b, pos) < COUNTER_MAX) b->words[pos >> 4] += 1ULL << ((pos & 15) * 4);
    h1 += h2;
    h2 += i;
  }
}

static void bloom_remove(void *f, uint64_t hash) {
  bloom *b = f;
  uint64_t h1, h2;
  probes_init(b, hash, &h1, &h2);
  for (uint32_t i = 0; i < b->k; i++) {
    uint64_t pos = mulhi64(h1, b->m);
    uint32_t c = counter_get(b, pos);
    /* c == 0 would mean remove without add: a caller bug; stay consistent. */
    assert(c > 0);
    if (c > 0 && c < COUNTER_MAX) b->words[pos >> 4] -= 1ULL << ((pos & 15) * 4);
    h1 += h2;
    h2 += i;
  }
}

static int bloom_maybe_contains(const void *f, uint64_t hash) {
  const bloom *b = f;
  uint64_t h1, h2;
  probes_init(b, hash, &h1, &h2);
  for (uint32_t i = 0; i < b->k; i++) {
    if (counter_get(b, mulhi64(h1, b->m)) == 0) return 0;
    h1 += h2;
    h2 += i;
  }
  return 1;
}

static void bloom_clear(void *f) {
  bloom *b = f;
  memset(b->words, 0, b->nwords * sizeof *b->words);
}

static size_t bloom_memory(const void *f) {
  const bloom *b = f;
  return sizeof *b + b->nwords * sizeof *b->words;
}

const macho__filter_ops macho__filter_bloom = {
    .name = "bloom",
    .create = bloom_create,
    .destroy = bloom_destroy,
    .add = bloom_add,
    .remove = bloom_remove,
    .maybe_contains = bloom_maybe_contains,
    .clear = bloom_clear,
    .memory = bloom_memory,
};
