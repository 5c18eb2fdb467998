/*
 * resize.c -- changing the entry capacity and the byte budget of a live
 * cache (macho_resize), and applying the budget the cgroup limit dictates
 * (pressure.c).
 *
 * The idea: the new limits take effect at once (under each shard's lock,
 * so every put from then on respects them), and the shard is then brought
 * down to them in steps: at most a slice of evictions per lock hold, their
 * listener reports flushed between holds, so writers wait for one slice at
 * a time and lock-free gets not at all. Once a shard holds no more than its
 * new capacity, a table bigger than that capacity needs is rebuilt at the
 * right size, the way growth rebuilds one (shard.c: readers go on reading
 * the old table, freed after a grace period). Growing needs no work now:
 * the table grows as entries come, as after open.
 */
#include "internal.h"

#include <sched.h>

/* Evictions per lock hold while shrinking (the listener's list holds 48). */
#define RESIZE_SLICE 48u

/* Split a total across shards as macho_open does (the remainder one each
 * to the first shards). */
static uint64_t share(uint64_t total, uint32_t nshards, uint32_t i) {
  return total / nshards + (i < total % nshards);
}

static bool over(const macho__shard *sh) {
  return sh->len > sh->capacity || (sh->capacity_bytes && sh->charged_bytes > sh->capacity_bytes);
}

/* Bring one shard down to its limits, a slice at a time. */
static int shrink(macho_cache *c, macho__shard *sh) {
  for (;;) {
    macho__dead dead;
    macho__dead_init(&dead, sh);
    macho__lock(sh);
    macho__shard_drain(sh);
    uint64_t now = macho__now_write(c);
    for (uint32_t n = 0; n < RESIZE_SLICE && sh->len && over(sh) && macho__dead_room(&dead); n++)
      macho__shard_evict(sh, now, &dead);
    bool done = !over(sh) || !sh->len;
    int rc = MACHO_OK;
    if (done) {
      /* The policy follows the capacity now that the shard fits in it, and
       * a table bigger than the capacity needs gives its memory back. */
      rc = macho__shard_settle(sh);
      macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
      uint32_t fin = macho__shard_final_groups(sh);
      if (t->ngroups > fin && sh->len < fin * MACHO__GROUP_SLOTS) {
        int r = macho__shard_rebuild(sh, fin);
        if (rc == MACHO_OK) rc = r;
        if (r == MACHO_OK) (void)macho__shard_settle(sh);
      }
    }
    macho__unlock(sh);
    if (macho__dead_pending(&dead)) macho__dead_flush(c, &dead);
    if (done) return rc;
    macho__lock_handoff(sh);
  }
}

/* One resize at a time: two interleaved would leave shards with a mix. */
void macho__resize_lock(macho_cache *c) {
  int busy = 0;
  while (!atomic_compare_exchange_weak(&c->resizing, &busy, 1)) {
    busy = 0;
    sched_yield();
  }
}
bool macho__resize_trylock(macho_cache *c) {
  int busy = 0;
  return atomic_compare_exchange_strong(&c->resizing, &busy, 1);
}
void macho__resize_unlock(macho_cache *c) { atomic_store(&c->resizing, 0); }

/* Caller holds the resize lock. */
int macho__resize(macho_cache *c, uint64_t entries, uint64_t bytes) {
  int rc = MACHO_OK;
  for (uint32_t i = 0; i < c->nshards; i++) {
    macho__shard *sh = &c->shards[i];
    macho__lock(sh);
    macho__shard_drain(sh);
    int r = macho__shard_set_capacity(sh, (uint32_t)share(entries, c->nshards, i));
    if (r == MACHO_OK) sh->capacity_bytes = bytes ? share(bytes, c->nshards, i) : 0;
    macho__unlock(sh);
    if (r != MACHO_OK) {
      rc = r;
      continue;
    }
    r = shrink(c, sh);
    if (r != MACHO_OK && rc == MACHO_OK) rc = r;
  }
  return rc;
}

int macho_resize(macho_cache *c, size_t capacity_entries, size_t capacity_bytes) {
  if (!c) return MACHO_EINVAL;
  macho__resize_lock(c);
  uint64_t entries = 0;
  for (uint32_t i = 0; i < c->nshards; i++) {
    macho__shard *sh = &c->shards[i];
    macho__lock(sh);
    entries += sh->capacity;
    macho__unlock(sh);
  }
  if (capacity_entries != MACHO_RESIZE_KEEP) entries = capacity_entries;
  uint64_t user = capacity_bytes == MACHO_RESIZE_KEEP ? c->user_capacity_bytes : capacity_bytes;
  int rc = MACHO_EINVAL;
  if (entries >= c->nshards && entries / c->nshards < MACHO__MAX_SHARD_ENTRIES &&
      !(user && user < c->nshards) && !(user && c->object_mode && !c->weigh)) {
    c->user_capacity_bytes = user;
    rc = macho__resize(c, entries, macho__effective_bytes(c));
  }
  macho__resize_unlock(c);
  return rc;
}
