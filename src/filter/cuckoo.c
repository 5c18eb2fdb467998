/*
 * cuckoo.c -- a cuckoo filter: fingerprints in 4-way buckets, with deletion.
 *
 * Fan, Andersen, Kaminsky & Mitzenmacher, "Cuckoo Filter: Practically Better
 * Than Bloom", CoNEXT 2014. Each key stores a small fingerprint f in one of
 * two buckets of four slots. Partial-key cuckoo hashing finds the other
 * bucket from a bucket and the fingerprint alone, so an entry can be moved
 * ("kicked") without knowing its key, and deletion removes one copy of f.
 *
 * Two departures from the paper, both so that the false-positive rate lands
 * on the requested p instead of somewhere below it:
 *  - the alternate bucket is alt(i, f) = (H(f) - i) mod B. It is its own
 *    inverse like the paper's i XOR H(f), but works for any bucket count B,
 *    so B is sized to the load we want instead of rounded up to a power of 2.
 *  - fingerprints are 1 + (hash mod r) for any r (0 marks an empty slot), not
 *    an r that is a power of two. A non-member is compared with the ~8a
 *    fingerprints of its two buckets (a = load), so
 *        FP = 1 - (1 - 1/r)^(8a).
 *    We take the largest r whose load stays at or below 0.9 and then solve
 *    the load, hence B, exactly for p at n = capacity.
 * Fingerprints are bit-packed in slots of w = ceil(log2(r + 1)) bits; the
 * theoretical space is (log2(1/p) + 3) / a bits per key, the real one w / a
 * (w = log2(8a/p) rounded up, so at most one bit over log2(1/p) + 3).
 *
 * When an insert fails (a kick chain of MAX_KICKS ends without a free slot),
 * the homeless entry -- some other key's fingerprint, not necessarily the new
 * one -- goes to a small stash, checked by every query. If the stash is full
 * the entry is dropped and `lost` counts it: while lost > 0 every query
 * answers "maybe" (no false negative, just no filtering). A remove that
 * finds its fingerprint nowhere must belong to a dropped entry and decrements
 * `lost`, so the filter heals itself as the cache churns. (Invariant: for each
 * (fingerprint, bucket pair) class, stored copies <= live keys, and the sum
 * of the shortfalls is `lost`.) Removes also move stashed entries back into
 * buckets that gained room.
 */
#include "../internal.h"
#include "../hash.h"

#include <math.h>

#define SLOTS 4u
#define MAX_KICKS 500u
#define STASH 8u
#define MAX_LOAD 0.9

typedef struct stashed {
  uint32_t bucket; /* either of the entry's two buckets */
  uint32_t fp;
} stashed;

typedef struct cuckoo {
  void *slots;        /* nbuckets * SLOTS fingerprints, uint8_t or uint16_t */
  uint32_t nbuckets;
  uint32_t r;         /* fingerprints are in [1, r] */
  uint32_t bits;      /* bits per slot: enough for the r + 1 values 0..r */
  uint64_t mask;
  uint32_t nstash;
  stashed stash[STASH];
  uint64_t lost;      /* entries dropped: answer "maybe" while nonzero */
  uint64_t rng;       /* which slot to kick */
  uint64_t seed;
} cuckoo;

/* Slots are bit-packed: slot i occupies bits [i*bits, (i+1)*bits). A slot
 * starts at most 7 bits into a byte and is at most 32 bits wide, so one
 * unaligned 8-byte load (the array has 8 bytes of tail padding) holds it. */
static inline uint32_t slot_get(const cuckoo *c, uint32_t i) {
  uint64_t bit = (uint64_t)i * c->bits, v;
  memcpy(&v, (const uint8_t *)c->slots + (bit >> 3), sizeof v);
  return (uint32_t)((v >> (bit & 7)) & c->mask);
}

static inline void slot_set(cuckoo *c, uint32_t i, uint32_t fp) {
  uint64_t bit = (uint64_t)i * c->bits, v;
  uint8_t *p = (uint8_t *)c->slots + (bit >> 3);
  memcpy(&v, p, sizeof v);
  v = (v & ~(c->mask << (bit & 7))) | ((uint64_t)fp << (bit & 7));
  memcpy(p, &v, sizeof v);
}

static inline uint64_t next_rand(cuckoo *c) { /* xorshift64 */
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 7;
  c->rng ^= c->rng << 17;
  return c->rng;
}

static inline uint32_t alt_bucket(const cuckoo *c, uint32_t i, uint32_t fp) {
  uint32_t h = macho__fastrange32((uint32_t)macho__mix64(fp), c->nbuckets);
  return h >= i ? h - i : h + c->nbuckets - i;
}

/* Fingerprint and first bucket from the key hash: disjoint 32-bit halves. */
static inline void locate(const cuckoo *c, uint64_t hash, uint32_t *fp, uint32_t *i1) {
  uint64_t x = macho__mix64(hash ^ c->seed);
  *i1 = macho__fastrange32((uint32_t)(x >> 32), c->nbuckets);
  *fp = 1 + macho__fastrange32((uint32_t)x, c->r);
}

static inline bool bucket_has(const cuckoo *c, uint32_t b, uint32_t fp) {
  for (uint32_t s = 0; s < SLOTS; s++)
    if (slot_get(c, b * SLOTS + s) == fp) return true;
  return false;
}

/* Put fp into a free slot of bucket b; false when the bucket is full. */
static inline bool bucket_put(cuckoo *c, uint32_t b, uint32_t fp) {
  for (uint32_t s = 0; s < SLOTS; s++) {
    if (slot_get(c, b * SLOTS + s) == 0) {
      slot_set(c, b * SLOTS + s, fp);
      return true;
    }
  }
  return false;
}

static inline bool bucket_take(cuckoo *c, uint32_t b, uint32_t fp) {
  for (uint32_t s = 0; s < SLOTS; s++) {
    if (slot_get(c, b * SLOTS + s) == fp) {
      slot_set(c, b * SLOTS + s, 0);
      return true;
    }
  }
  return false;
}

static size_t slots_bytes(const cuckoo *c) {
  return (size_t)(((uint64_t)c->nbuckets * SLOTS * c->bits + 7) / 8) + 8;
}

static int cuckoo_create(void **out, macho__alloc *a, uint32_t capacity, double p,
                         uint64_t seed) {
  double n = capacity ? (double)capacity : 1.0;
  /* Largest r with load <= MAX_LOAD: 1 - (1 - 1/r)^(8 MAX_LOAD) = p. */
  double r = floor(1.0 / -expm1(log1p(-p) / (2.0 * SLOTS * MAX_LOAD)));
  if (r < 2) r = 2;
  if (r > 4294967295.0 - 1) r = 4294967295.0 - 1;
  /* The load that makes FP exactly p with this integer r. Below p ~ 1e-9 even
   * 32-bit fingerprints would need a nearly empty table: keep it at least half
   * full, and the rate lands on ~1e-9 instead. */
  double load = log1p(-p) / (2.0 * SLOTS * log1p(-1.0 / r));
  if (load > MAX_LOAD) load = MAX_LOAD;
  if (load < 0.5) load = 0.5;
  double nb = ceil(n / (SLOTS * load));
  if (nb > (double)(UINT32_MAX / SLOTS)) return MACHO_ENOMEM;
  cuckoo *c = macho__calloc(a, 1, sizeof *c);
  if (!c) return MACHO_ENOMEM;
  c->nbuckets = nb < 1 ? 1 : (uint32_t)nb;
  c->r = (uint32_t)r;
  c->bits = 1;
  while (c->bits < 32 && ((uint64_t)1 << c->bits) <= c->r) c->bits++;
  c->mask = ((uint64_t)1 << c->bits) - 1;
  c->seed = macho__mix64(seed ^ 0xc0c0f11e7ULL);
  c->rng = c->seed | 1;
  c->slots = macho__calloc(a, 1, slots_bytes(c));
  if (!c->slots) {
    macho__free(a, c, sizeof *c);
    return MACHO_ENOMEM;
  }
  *out = c;
  return MACHO_OK;
}

static void cuckoo_destroy(void *f, macho__alloc *a) {
  cuckoo *c = f;
  if (!c) return;
  macho__free(a, c->slots, slots_bytes(c));
  macho__free(a, c, sizeof *c);
}

static void cuckoo_add(void *f, uint64_t hash) {
  cuckoo *c = f;
  uint32_t fp, i1;
  locate(c, hash, &fp, &i1);
  uint32_t i2 = alt_bucket(c, i1, fp);
  if (bucket_put(c, i1, fp) || bucket_put(c, i2, fp)) return;
  /* Both full: kick a random entry to its other bucket, and so on. */
  uint32_t b = (next_rand(c) & 1) ? i1 : i2;
  for (uint32_t kick = 0; kick < MAX_KICKS; kick++) {
    uint32_t s = b * SLOTS + (uint32_t)(next_rand(c) >> 32) % SLOTS;
    uint32_t victim = slot_get(c, s);
    slot_set(c, s, fp);
    fp = victim;
    b = alt_bucket(c, b, fp);
    if (bucket_put(c, b, fp)) return;
  }
  if (c->nstash < STASH) c->stash[c->nstash++] = (stashed){b, fp};
  else c->lost++;
}

/* After a remove: bring stashed entries home when their buckets have room. */
static void unstash(cuckoo *c) {
  for (uint32_t j = 0; j < c->nstash;) {
    stashed e = c->stash[j];
    if (bucket_put(c, e.bucket, e.fp) || bucket_put(c, alt_bucket(c, e.bucket, e.fp), e.fp))
      c->stash[j] = c->stash[--c->nstash];
    else
      j++;
  }
}

static void cuckoo_remove(void *f, uint64_t hash) {
  cuckoo *c = f;
  uint32_t fp, i1;
  locate(c, hash, &fp, &i1);
  uint32_t i2 = alt_bucket(c, i1, fp);
  if (bucket_take(c, i1, fp) || bucket_take(c, i2, fp)) {
    if (c->nstash) unstash(c);
    return;
  }
  for (uint32_t j = 0; j < c->nstash; j++) {
    if (c->stash[j].fp == fp && (c->stash[j].bucket == i1 || c->stash[j].bucket == i2)) {
      c->stash[j] = c->stash[--c->nstash];
      return;
    }
  }
  /* Not stored anywhere: its copy was dropped when the stash overflowed. */
  assert(c->lost > 0);
  if (c->lost) c->lost--;
}

static int cuckoo_maybe_contains(const void *f, uint64_t hash) {
  const cuckoo *c = f;
  if (macho__unlikely(c->lost)) return 1;
  uint32_t fp, i1;
  locate(c, hash, &fp, &i1);
  uint32_t i2 = alt_bucket(c, i1, fp);
  if (bucket_has(c, i1, fp) || bucket_has(c, i2, fp)) return 1;
  for (uint32_t j = 0; j < c->nstash; j++)
    if (c->stash[j].fp == fp && (c->stash[j].bucket == i1 || c->stash[j].bucket == i2)) return 1;
  return 0;
}

static void cuckoo_clear(void *f) {
  cuckoo *c = f;
  memset(c->slots, 0, slots_bytes(c));
  c->nstash = 0;
  c->lost = 0;
}

static size_t cuckoo_memory(const void *f) {
  const cuckoo *c = f;
  return sizeof *c + slots_bytes(c);
}

const macho__filter_ops macho__filter_cuckoo = {
    .name = "cuckoo",
    .create = cuckoo_create,
    .destroy = cuckoo_destroy,
    .add = cuckoo_add,
    .remove = cuckoo_remove,
    .maybe_contains = cuckoo_maybe_contains,
    .clear = cuckoo_clear,
    .memory = cuckoo_memory,
};
