/*
 * table.h -- a shard's table: the slot encoding, the probe, and the seqlock
 * discipline that lets gets read it without the shard lock.
 *
 * A key's 64-bit hash picks its shard (bits 63..32, cache.c), two candidate
 * groups (fastrange of bits 31..0, and of a remix of the whole hash) and a
 * 7-bit tag (bits 6..0). A new key goes to its first group while that group
 * has room to spare (PREFER slots), else to the less full of the two. When
 * both are full, one entry of theirs moves to its own other group if that
 * has room (a one-step cuckoo move; shard.c), and only when none can does
 * the key overflow linearly from its second group, the overflow count of
 * each group passed saying so (F14's scheme: no tombstones). A probe reads
 * a group's 16 tag bytes, compares them with the tag in one SSE2 compare and
 * looks only at matching slots. Under churn at 92% load, hits need about
 * 1.15 groups and misses 2 (a simulation without the moves: 10% of keys
 * overflowed and misses walked 8 groups; linear probing without churn: 1.30
 * and 5.2).
 *
 * A slot is three 64-bit words:
 *   k  the key's bytes (length <= 8, zero-padded), or an arena reference;
 *      in object mode the key pointer
 *   v  the value's bytes (length <= 8), or an arena reference, or a pointer
 *      to a huge block; in object mode the value pointer
 *   m  meta: bits 0..31 time (a deadline; or, when the entry has none, its
 *      write time, signed: it may precede a later epoch), 32..35 key form, 36..39 value form (0..8 = inline length,
 *      ARENA, HUGE), bit 40 DEADLINE, 41 LONG (the deadline counts 1 s
 *      ticks instead of 100 us), 42 OWN_TTL (written with a TTL other than the
 *      default: its birth is kept aside), 43 BEYOND (it overflowed past its
 *      second group), 44..63 the policy's 20 bits.
 * An arena reference is an 8-byte-aligned offset (bits 0..39, in units of 8
 * bytes) and a length (bits 40..63).
 *
 * Times are ticks of 100 us from one of the shard's two epochs (the group
 * header says which), so a 32-bit deadline reaches 119 hours ahead; longer
 * TTLs switch to ticks of one second (LONG). Deadlines round up: an entry
 * never expires early and at most one tick late; TTLs and clock steps in
 * whole milliseconds are exact.
 *
 * Concurrency: every change to a group's tags or to a slot's key, value or
 * time happens between group_write_begin and group_write_end (seq odd, then
 * even again), under the shard lock. A reader loads seq (acquire), reads
 * with relaxed atomic loads, issues an acquire fence and loads seq again;
 * equal and even means what it read was one state of the group (the Linux
 * seqcount pattern; every access is atomic, so the race is defined
 * behaviour and invisible to ThreadSanitizer). The policy's bits in m are
 * outside the protocol: readers may set access bits in them with a CAS, and
 * writers change them with a CAS too.
 */
#ifndef MACHO_TABLE_H
#define MACHO_TABLE_H

#include "types.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Time units of the meta word: decimal, so that TTLs and clocks in whole
 * milliseconds or seconds are exact. */
#define MACHO__FINE_NS 100000ull     /* 100 us: 2^32 ticks reach 119 hours */
#define MACHO__LONG_NS 1000000000ull /* 1 s: 136 years */

#define MACHO__M_TIME_MASK 0xffffffffull
#define MACHO__M_KFORM_SHIFT 32u
#define MACHO__M_VFORM_SHIFT 36u
#define MACHO__M_DEADLINE (1ull << 40)
#define MACHO__M_LONG (1ull << 41)
#define MACHO__M_OWN_TTL (1ull << 42)
#define MACHO__M_BEYOND (1ull << 43) /* overflowed past its second group (rare) */
#define MACHO__M_POL_SHIFT 44u
#define MACHO__M_POL_BITS 20u
#define MACHO__M_POL_MASK (((1ull << MACHO__M_POL_BITS) - 1) << MACHO__M_POL_SHIFT)

/* Forms of a key or value word. */
#define MACHO__FORM_INLINE_MAX 8u
#define MACHO__FORM_HUGE 14u  /* value only: v points to {u64 len; bytes} outside the arena */
#define MACHO__FORM_ARENA 15u

#define MACHO__REF_OFF_BITS 40u
#define MACHO__REF_LEN_MAX ((1u << 24) - 1u)

static inline uint32_t macho__m_kform(uint64_t m) { return (uint32_t)(m >> MACHO__M_KFORM_SHIFT) & 15u; }
static inline uint32_t macho__m_vform(uint64_t m) { return (uint32_t)(m >> MACHO__M_VFORM_SHIFT) & 15u; }
static inline uint32_t macho__m_pol(uint64_t m) { return (uint32_t)(m >> MACHO__M_POL_SHIFT); }

static inline uint64_t macho__ref(uint64_t off, uint32_t len) {
  return (off >> 3) | ((uint64_t)len << MACHO__REF_OFF_BITS);
}
static inline uint64_t macho__ref_off(uint64_t ref) { return (ref & ((1ull << MACHO__REF_OFF_BITS) - 1)) << 3; }
static inline uint32_t macho__ref_len(uint64_t ref) { return (uint32_t)(ref >> MACHO__REF_OFF_BITS); }

/* ---- hashing into the table -------------------------------------------------------- */
static inline uint32_t macho__fastrange32(uint32_t h, uint32_t n) {
  return (uint32_t)(((uint64_t)h * n) >> 32);
}
static inline uint32_t macho__home_group(const macho__table *t, uint64_t hash) {
  return macho__fastrange32((uint32_t)hash, t->ngroups);
}
static inline uint32_t macho__second_group(const macho__table *t, uint64_t hash) {
  return macho__fastrange32((uint32_t)(((hash ^ (hash >> 29)) * 0x9E3779B97F4A7C15ull) >> 32), t->ngroups);
}
/* A key goes to its first group while fewer than this many slots are taken. */
#define MACHO__PREFER_FIRST 12u
static inline uint8_t macho__tag(uint64_t hash) { return (uint8_t)(0x80u | (hash & 0x7fu)); }
/* Where in its group a key is put when that slot is free (else the next
 * free one, circularly): bits 10..7, beside the tag's. */
static inline uint32_t macho__home_pos(uint64_t hash) { return (uint32_t)(hash >> 7) & (MACHO__GROUP_SLOTS - 1u); }

static inline macho__slot *macho__slot_at(const macho__table *t, uint32_t s) { return &t->slots[s]; }
static inline macho__group *macho__group_of(const macho__table *t, uint32_t s) {
  return &t->groups[s / MACHO__GROUP_SLOTS];
}

/* Bit i set when slot i of the group has tag `tag`. */
static inline uint32_t macho__group_match(const macho__group *g, uint8_t tag) {
  uint64_t lo = atomic_load_explicit(&g->tags[0], memory_order_relaxed);
  uint64_t hi = atomic_load_explicit(&g->tags[1], memory_order_relaxed);
#if defined(__SSE2__)
  __m128i w = _mm_set_epi64x((long long)hi, (long long)lo);
  return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(w, _mm_set1_epi8((char)tag)));
#else
  uint32_t bits = 0;
  for (uint32_t i = 0; i < 8; i++) {
    bits |= (uint32_t)(((lo >> (8 * i)) & 0xff) == tag) << i;
    bits |= (uint32_t)(((hi >> (8 * i)) & 0xff) == tag) << (8 + i);
  }
  return bits;
#endif
}

/* Bit i set when slot i of the group is occupied. */
static inline uint32_t macho__group_full(const macho__group *g) {
  uint64_t lo = atomic_load_explicit(&g->tags[0], memory_order_relaxed);
  uint64_t hi = atomic_load_explicit(&g->tags[1], memory_order_relaxed);
#if defined(__SSE2__)
  __m128i w = _mm_set_epi64x((long long)hi, (long long)lo);
  return (uint32_t)_mm_movemask_epi8(w); /* the top bit of a tag byte marks a full slot */
#else
  uint32_t bits = 0;
  for (uint32_t i = 0; i < 8; i++) {
    bits |= (uint32_t)((lo >> (8 * i + 7)) & 1u) << i;
    bits |= (uint32_t)((hi >> (8 * i + 7)) & 1u) << (8 + i);
  }
  return bits;
#endif
}

static inline uint8_t macho__slot_tag(const macho__table *t, uint32_t s) {
  const macho__group *g = macho__group_of(t, s);
  uint32_t i = s % MACHO__GROUP_SLOTS;
  uint64_t w = atomic_load_explicit(&g->tags[i / 8], memory_order_relaxed);
  return (uint8_t)(w >> (8 * (i % 8)));
}

/* ---- the seqlock, writer side (shard lock held) ------------------------------------ */
static inline void macho__group_write_begin(macho__group *g) {
  uint32_t s = atomic_load_explicit(&g->seq, memory_order_relaxed);
  atomic_store_explicit(&g->seq, s + 1, memory_order_relaxed);
  /* Order the odd seq before the writes that follow it (Linux's
   * write_seqcount_begin: smp_wmb after the increment). */
  macho__fence(memory_order_release);
}
static inline void macho__group_write_end(macho__group *g) {
  uint32_t s = atomic_load_explicit(&g->seq, memory_order_relaxed);
  atomic_store_explicit(&g->seq, s + 1, memory_order_release);
}

/* Set slot s's tag byte (0 = empty); inside a write section. */
static inline void macho__slot_set_tag(macho__table *t, uint32_t s, uint8_t tag) {
  macho__group *g = macho__group_of(t, s);
  uint32_t i = s % MACHO__GROUP_SLOTS;
  uint64_t w = atomic_load_explicit(&g->tags[i / 8], memory_order_relaxed);
  uint32_t sh = 8 * (i % 8);
  w = (w & ~(0xffull << sh)) | ((uint64_t)tag << sh);
  atomic_store_explicit(&g->tags[i / 8], w, memory_order_relaxed);
}

/* Replace the policy's bits of slot s (writer side: readers may CAS access
 * bits into the same word concurrently, so this is a CAS loop too). */
static inline void macho__slot_set_pol(macho__slot *sl, uint32_t pol) {
  uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
  uint64_t want;
  do {
    want = (m & ~MACHO__M_POL_MASK) | ((uint64_t)pol << MACHO__M_POL_SHIFT);
  } while (!atomic_compare_exchange_weak_explicit(&sl->m, &m, want, memory_order_relaxed,
                                                  memory_order_relaxed));
}
static inline uint32_t macho__slot_pol(const macho__slot *sl) {
  return macho__m_pol(atomic_load_explicit(&sl->m, memory_order_relaxed));
}

/* ---- times -------------------------------------------------------------------------- */
/* Absolute cache-clock time (ns) of a slot's time field, given its group's
 * epoch. Deadlines saturate at UINT64_MAX - 1 ("never" is no DEADLINE bit). */
static inline uint64_t macho__m_time_ns(uint64_t m, uint64_t epoch_ns) {
  uint64_t t = m & MACHO__M_TIME_MASK;
  return epoch_ns + t * ((m & MACHO__M_LONG) ? MACHO__LONG_NS : MACHO__FINE_NS);
}
static inline bool macho__m_expired(uint64_t m, uint64_t epoch_ns, uint64_t now_ns) {
  return (m & MACHO__M_DEADLINE) && macho__m_time_ns(m, epoch_ns) <= now_ns;
}

/* ---- table.c ---------------------------------------------------------------------------- */
struct macho__alloc;
/* A zeroed table of `ngroups` groups; `hashes` adds a 64-bit hash per slot
 * (object mode: keys cannot be rehashed under the lock). NULL on ENOMEM. */
macho__table *macho__table_new(struct macho__alloc *a, uint32_t ngroups, uint32_t max_len,
                               bool final, bool hashes);
void macho__table_free(struct macho__alloc *a, macho__table *t);
/* Claim a free slot for a key with `hash` (the key must be absent): the
 * first empty slot on its probe path, bumping the overflow counts of the
 * groups it passes. Returns MACHO__NIL when the table is full. The caller
 * fills the slot and sets its tag inside a write section of its group. */
uint32_t macho__table_claim(macho__table *t, uint64_t hash);
/* When claim found both groups full and nothing could move aside (shard.c
 * tries a cuckoo move first): the first free slot after the second group. */
uint32_t macho__table_claim_overflow(macho__table *t, uint64_t hash);
/* A free slot in group g for a key of `hash`, or MACHO__NIL. */
uint32_t macho__table_room(const macho__table *t, uint32_t g, uint64_t hash);
/* Release slot s: clears the tag inside a write section and, when the
 * entry had overflowed (BEYOND; its key had `hash`), drops the overflow
 * counts on its path from the second group. */
void macho__table_release(macho__table *t, uint32_t s, uint64_t hash, bool beyond);

#endif /* MACHO_TABLE_H */
