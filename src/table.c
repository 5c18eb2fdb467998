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

static uint32_t fill(const macho__table *t, uint32_t g) {
  return (uint32_t)__builtin_popcount(macho__group_full(&t->groups[g]));
}

uint32_t macho__table_claim(macho__table *t, uint64_t hash) {
  uint32_t g1 = macho__home_group(t, hash), g2 = macho__second_group(t, hash);
  uint32_t f1 = fill(t, g1);
  uint32_t g = g1;
  if (f1 >= MACHO__PREFER_FIRST) {
    uint32_t f2 = fill(t, g2);
    if (f2 < f1) g = g2, f1 = f2;
  }
  if (f1 < MACHO__GROUP_SLOTS) {
    uint32_t empty = ~macho__group_full(&t->groups[g]) & 0xffffu;
    return g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(empty);
  }
  /* Both full: overflow linearly from the second group, counting the groups
   * passed before the caller publishes the key, so a reader that finds the
   * key's tag went through raised counts. */
  g = g2;
  for (uint32_t n = 0; n < t->ngroups; n++) {
    uint32_t empty = ~macho__group_full(&t->groups[g]) & 0xffffu;
    if (empty) {
      for (uint32_t p = g2; p != g; p = p + 1 == t->ngroups ? 0 : p + 1) {
        uint8_t o = atomic_load_explicit(&t->groups[p].ovf, memory_order_relaxed);
        if (o != 255) atomic_store_explicit(&t->groups[p].ovf, (uint8_t)(o + 1), memory_order_relaxed);
      }
      return g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(empty);
    }
    if (++g == t->ngroups) g = 0;
  }
  return MACHO__NIL;
}

void macho__table_release(macho__table *t, uint32_t s, uint64_t hash) {
  macho__group *gs = macho__group_of(t, s);
  macho__group_write_begin(gs);
  macho__slot_set_tag(t, s, 0);
  macho__group_write_end(gs);
  uint32_t end = s / MACHO__GROUP_SLOTS, g = macho__second_group(t, hash);
  if (end == macho__home_group(t, hash) || end == g) return;
  while (g != end) { /* it overflowed from its second group */
    uint8_t o = atomic_load_explicit(&t->groups[g].ovf, memory_order_relaxed);
    assert(o > 0);
    /* A saturated count stays: it can no longer tell how many are left. */
    if (o != 255) atomic_store_explicit(&t->groups[g].ovf, (uint8_t)(o - 1), memory_order_relaxed);
    if (++g == t->ngroups) g = 0;
  }
}
