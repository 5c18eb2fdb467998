/*
 * table.c -- the writer side of a shard's table: allocation, claiming and
 * releasing slots. The probe itself and the slot encoding are in table.h.
 *
 * Two candidate groups of 16 slots per key (table.h), and, when both are
 * full, linear overflow from the second with F14's overflow counts instead
 * of tombstones: claiming a slot beyond the second group bumps the count of
 * every full group it passes, releasing it drops them again, so a lookup
 * stops at the first group whose count is zero. A table is sized once (growth builds a new one, shard.c), so its
 * groups never move under a reader.
 */
#include "internal.h"

static size_t table_bytes(uint32_t ngroups, bool hashes) {
  size_t n = (size_t)ngroups * MACHO__GROUP_SLOTS;
  size_t head = (sizeof(macho__table) + 63) & ~(size_t)63;
  return head + (size_t)ngroups * sizeof(macho__group) + n * sizeof(macho__slot) +
         (hashes ? n * sizeof(uint64_t) : 0) + 64;
}

macho__table *macho__table_new(macho__alloc *a, uint32_t ngroups, uint32_t max_len, bool final,
                               bool hashes) {
  assert(ngroups > 0);
  size_t bytes = table_bytes(ngroups, hashes);
  unsigned char *p = macho__calloc(a, 1, bytes);
  if (!p) return NULL;
  macho__table *t = (macho__table *)(void *)p;
  /* Groups start on a cache line: two headers per line, never split. */
  uintptr_t g = ((uintptr_t)p + sizeof *t + 63) & ~(uintptr_t)63;
  t->ngroups = ngroups;
  t->nslots = ngroups * MACHO__GROUP_SLOTS;
  t->max_len = max_len;
  t->final = final;
  t->bytes = bytes;
  t->groups = (macho__group *)g;
  t->slots = (macho__slot *)(g + (size_t)ngroups * sizeof(macho__group));
  t->hashes = hashes ? (uint64_t *)(void *)(t->slots + t->nslots) : NULL;
  return t;
}

void macho__table_free(macho__alloc *a, macho__table *t) {
  if (t) macho__free(a, t, t->bytes);
}

/* Occupied slots of group g: a 16-bit popcount without the popcnt
 * instruction (baseline x86-64 lacks it; libgcc's call showed in profiles). */
static uint32_t popcount16(uint32_t x) {
  x = x - ((x >> 1) & 0x5555u);
  x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
  x = (x + (x >> 4)) & 0x0f0fu;
  return (x + (x >> 8)) & 0x1fu;
}
static uint32_t fill(const macho__table *t, uint32_t g) { return popcount16(macho__group_full(&t->groups[g])); }

/* The first free slot of group g at or after the key's home position
 * (macho__home_pos), circularly: a get prefetches the slot there while it
 * reads the group's tags, so most hits wait for one cache miss, not two. */
static uint32_t first_empty(const macho__table *t, uint32_t g, uint64_t hash) {
  uint32_t empty = ~macho__group_full(&t->groups[g]) & 0xffffu;
  uint32_t p = macho__home_pos(hash);
  uint32_t r = ((empty >> p) | (empty << (MACHO__GROUP_SLOTS - p))) & 0xffffu;
  return g * MACHO__GROUP_SLOTS + (((uint32_t)__builtin_ctz(r) + p) & (MACHO__GROUP_SLOTS - 1));
}

uint32_t macho__table_claim(macho__table *t, uint64_t hash) {
  uint32_t g1 = macho__home_group(t, hash);
  uint32_t f1 = fill(t, g1);
  if (f1 < MACHO__PREFER_FIRST) return first_empty(t, g1, hash);
  uint32_t g = g1;
  uint32_t g2 = macho__second_group(t, hash), f2 = fill(t, g2);
  if (f2 < f1) g = g2, f1 = f2;
  return f1 < MACHO__GROUP_SLOTS ? first_empty(t, g, hash) : MACHO__NIL;
}

uint32_t macho__table_claim_overflow(macho__table *t, uint64_t hash) {
  /* Both full and no entry could move aside: overflow linearly from the
   * second group, counting the groups passed before the caller publishes
   * the key, so a reader that finds the key's tag went through raised
   * counts. */
  uint32_t g2 = macho__second_group(t, hash), g = g2;
  for (uint32_t n = 0; n < t->ngroups; n++) {
    if (fill(t, g) < MACHO__GROUP_SLOTS) {
      for (uint32_t p = g2; p != g; p = p + 1 == t->ngroups ? 0 : p + 1) {
        uint8_t o = atomic_load_explicit(&t->groups[p].ovf, memory_order_relaxed);
        if (o != 255) atomic_store_explicit(&t->groups[p].ovf, (uint8_t)(o + 1), memory_order_relaxed);
      }
      return first_empty(t, g, hash);
    }
    if (++g == t->ngroups) g = 0;
  }
  return MACHO__NIL;
}

uint32_t macho__table_room(const macho__table *t, uint32_t g, uint64_t hash) {
  return fill(t, g) < MACHO__GROUP_SLOTS ? first_empty(t, g, hash) : MACHO__NIL;
}

void macho__table_release(macho__table *t, uint32_t s, uint64_t hash, bool beyond) {
  macho__group *gs = macho__group_of(t, s);
  assert(macho__slot_tag(t, s));
  macho__group_write_begin(gs);
  macho__slot_set_tag(t, s, 0);
  macho__group_write_end(gs);
  if (!beyond) return;
  uint32_t end = s / MACHO__GROUP_SLOTS, g = macho__second_group(t, hash);
  while (g != end) { /* it overflowed from its second group */
    uint8_t o = atomic_load_explicit(&t->groups[g].ovf, memory_order_relaxed);
    assert(o > 0);
    /* A saturated count stays: it can no longer tell how many are left. */
    if (o != 255) atomic_store_explicit(&t->groups[g].ovf, (uint8_t)(o - 1), memory_order_relaxed);
    if (++g == t->ngroups) g = 0;
  }
}
