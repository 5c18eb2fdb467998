/*
 * probe.h -- finding a byte key in a table: the one probe that both the
 * lock-free get (read.c) and the writers (shard.c) use.
 *
 * The caller passes the key and its "key word" (the key's bytes zero-padded
 * into 64 bits when it is at most 8 bytes long). A slot matches when its tag
 * matches and its key word and form say the same key: an inline key is one
 * 64-bit compare, a longer one a length compare and an arena comparison.
 * `seq_out`, when not NULL, receives the sequence number of the group the
 * answer came from, read before the group: a lock-free caller validates it
 * afterwards; under the lock the caller passes NULL.
 */
#ifndef MACHO_PROBE_H
#define MACHO_PROBE_H

#include "internal.h"

static inline __attribute__((always_inline)) uint64_t macho__key_word(const void *key, size_t klen) {
  uint64_t w = 0;
  if (macho__likely(klen == 8)) {
    memcpy(&w, key, 8);
  } else {
    const unsigned char *p = key;
    for (size_t i = 0; i < klen && i < 8; i++) w |= (uint64_t)p[i] << (8 * i);
  }
  return w;
}

/* Whether slot sl (meta m, key word k) holds the key. Lock-free callers may
 * see a torn slot: every arena access is bounds-checked, and the answer is
 * validated by the caller. Huge keys are compared only under the lock. */
static inline __attribute__((always_inline)) bool macho__slot_is(const macho__shard *sh, uint64_t m, uint64_t k, const void *key,
                                  size_t klen, uint64_t kw) {
  uint32_t f = macho__m_kform(m);
  if (klen <= MACHO__FORM_INLINE_MAX) return f == klen && k == kw;
  if (klen <= MACHO__ARENA_MAX) {
    if (f != MACHO__FORM_ARENA || macho__ref_len(k) != klen) return false;
    const unsigned char *b = macho__arena_resolve(&sh->arena, macho__ref_off(k), (uint32_t)klen);
    return b && macho__atomic_equal(b, key, (uint32_t)klen);
  }
  /* A huge key: only the locked path gets here (read.c routes such keys
   * there), so the pointer in k is not a torn read. */
  if (f != MACHO__FORM_HUGE) return false;
  const uint64_t *h = (const uint64_t *)(uintptr_t)k;
  return h[0] == klen && memcmp(h + 1, key, klen) == 0;
}

/* The slot holding the key in t, or MACHO__NIL. Bytes mode only. With
 * seq_out set, returns MACHO__NIL + 1 (a retry) when a group changed while
 * it was read; on success *seq_out is the group's sequence number to
 * validate after reading the slot. */
#define MACHO__RETRY (MACHO__NIL - 1u)

/* Look for the key in group g. Returns its slot, MACHO__NIL when absent
 * from this group, or MACHO__RETRY when the group changed while read. With
 * seq_out (lock-free), *seq_out is the group's sequence number as read
 * before the group, and *ovf its overflow count read in the same window. */
static inline __attribute__((always_inline)) uint32_t
macho__probe_group(const macho__shard *sh, const macho__table *t, uint32_t g, uint8_t tag,
                   const void *key, size_t klen, uint64_t kw, uint32_t *seq_out, uint64_t *m_out,
                   uint8_t *ovf) {
  const macho__group *gr = &t->groups[g];
  uint32_t s0 = 0;
  if (seq_out) {
    s0 = atomic_load_explicit(&gr->seq, memory_order_acquire);
    if (macho__unlikely(s0 & 1)) return MACHO__RETRY;
    *seq_out = s0; /* on a hit, and on a miss: what this group was */
  }
  uint32_t bits = macho__group_match(gr, tag);
  while (bits) {
    uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(bits);
    bits &= bits - 1;
    const macho__slot *sl = &t->slots[s];
    uint64_t m = atomic_load_explicit(&sl->m, memory_order_relaxed);
    uint64_t k = atomic_load_explicit(&sl->k, memory_order_relaxed);
    if (macho__slot_is(sh, m, k, key, klen, kw)) {
      if (m_out) *m_out = m;
      return s;
    }
  }
  if (ovf) *ovf = atomic_load_explicit(&gr->ovf, memory_order_relaxed);
  if (seq_out) {
    /* "Not in this group" is an answer too: it must come from one state. */
    macho__fence(memory_order_acquire);
    if (macho__unlikely(atomic_load_explicit(&gr->seq, memory_order_relaxed) != s0))
      return MACHO__RETRY;
  }
  return MACHO__NIL;
}

/* The slot holding the key in t, or MACHO__NIL. Bytes mode only. With
 * seq_out set (lock-free), returns MACHO__RETRY when a group changed while
 * it was read; on success *seq_out is the sequence number of the slot's
 * group, to validate after reading the slot, and *m_out its meta word. */
static inline __attribute__((always_inline)) uint32_t
macho__probe(const macho__shard *sh, const macho__table *t, uint64_t hash, const void *key,
             size_t klen, uint64_t kw, uint32_t *seq_out, uint64_t *m_out) {
  const uint8_t tag = macho__tag(hash);
  const uint32_t g1 = macho__home_group(t, hash);
  uint32_t s = macho__probe_group(sh, t, g1, tag, key, klen, kw, seq_out, m_out, NULL);
  if (macho__likely(s != MACHO__NIL)) return s;
  const uint32_t s1 = seq_out ? *seq_out : 0; /* the first group's seq, read before it */
  uint32_t g = macho__second_group(t, hash);
  for (uint32_t n = 0; n < t->ngroups; n++) {
    uint8_t ovf = 0;
    s = macho__probe_group(sh, t, g, tag, key, klen, kw, seq_out, m_out, &ovf);
    if (s != MACHO__NIL) return s;
    if (!ovf) break;
    if (++g == t->ngroups) g = 0;
  }
  /* Absent from both groups. A cuckoo move from the second group to the
   * first after we passed the first would hide the key from us: it writes
   * the first group, so its seq tells. */
  if (seq_out) {
    macho__fence(memory_order_acquire);
    if (macho__unlikely(atomic_load_explicit(&t->groups[g1].seq, memory_order_relaxed) != s1))
      return MACHO__RETRY;
  }
  return MACHO__NIL;
}

#endif /* MACHO_PROBE_H */
