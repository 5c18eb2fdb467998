/*
 * metrics.c -- what a shard counts when an entry leaves, and its memory.
 *
 * Counters are plain integers guarded by the shard lock and summed on read
 * (macho_counters_get), so the hot path pays one increment and no atomics.
 */
#include "internal.h"

void macho__metrics_on_remove(macho__shard *sh, const macho__entry *e, macho_removal reason,
                              uint64_t now) {
  (void)e;
  (void)now;
  switch (reason) {
  case MACHO_REMOVED_EVICTED: sh->c.evictions++; break;
  case MACHO_REMOVED_EXPIRED: sh->c.expirations++; break;
  default: break;
  }
}

size_t macho__shard_memory(const macho__shard *sh) {
  size_t m = sizeof *sh;
  m += (size_t)sh->slab_cap * sizeof(macho__entry);
  m += (size_t)sh->nslots * sizeof(macho__slot);
  m += (size_t)sh->payload_bytes;
  m += sh->pol->state_size;
  if (sh->pol->memory) m += sh->pol->memory(sh->pol_state);
  if (sh->fil && sh->fil->memory) m += sh->fil->memory(sh->filter);
  return m;
}
