/*
 * random.c -- uniform random victim, no per-entry state at all.
 *
 * Picks a random slab slot until it hits a live entry. Evictions happen when
 * the shard is full, and then the slab is full too, so the first pick almost
 * always succeeds; under a byte budget the slab may be sparse, so after a few
 * misses it scans on from a random slot (still uniform enough, and bounded).
 * The shard's xorshift state is seeded from config.seed: runs are reproducible.
 */
#include "../internal.h"

static int rnd_init(void *st, macho__shard *sh, uint32_t capacity) {
  (void)st;
  (void)sh;
  (void)capacity;
  return MACHO_OK;
}

static void rnd_nop(void *st, macho__shard *sh) {
  (void)st;
  (void)sh;
}

static void rnd_nop_id(void *st, macho__shard *sh, uint32_t id) {
  (void)st;
  (void)sh;
  (void)id;
}

static uint32_t rnd_victim(void *st, macho__shard *sh) {
  (void)st;
  uint32_t id = 0;
  for (int tries = 0; tries < 16; tries++) {
    id = macho__fastrange32((uint32_t)(macho__rand(sh) >> 32), sh->slab_cap);
    if (sh->entries[id].key) return id;
  }
  for (;;) {
    if (++id == sh->slab_cap) id = 0;
    if (sh->entries[id].key) return id;
  }
}

const macho__policy_ops macho__policy_random = {
    .name = "random",
    .state_size = 0,
    .init = rnd_init,
    .destroy = rnd_nop,
    .on_insert = rnd_nop_id,
    .on_hit = rnd_nop_id,
    .on_remove = rnd_nop_id,
    .victim = rnd_victim,
    .on_clear = rnd_nop,
};
