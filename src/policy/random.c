/*
 * random.c -- a uniformly random victim, reproducible from config.seed.
 * No per-entry state at all: the victim is a random occupied slot, found by
 * drawing slots (the table is at least 7/8 full whenever the shard is full,
 * so a draw or two suffices; with a byte budget the table may be sparse,
 * then a scan from the last draw finishes the job).
 */
#include "policy.h"

static int rnd_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  (void)st;
  (void)sh;
  (void)capacity;
  (void)nslots;
  return MACHO_OK;
}

static void rnd_nop(void *st, macho__shard *sh) {
  (void)st;
  (void)sh;
}

static void rnd_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  (void)st;
  (void)sh;
  (void)id;
  (void)hash;
}

static void rnd_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  (void)st;
  (void)sh;
  (void)recs;
  (void)n;
}

static void rnd_remove(void *st, macho__shard *sh, uint32_t id) {
  (void)st;
  (void)sh;
  (void)id;
}

static uint32_t rnd_victim(void *st, macho__shard *sh) {
  (void)st;
  const uint32_t n = macho__pol_nslots(sh);
  uint32_t id = 0;
  for (int tries = 0; tries < 16; tries++) {
    id = macho__fastrange32((uint32_t)(macho__pol_rand(sh) >> 32), n);
    if (macho__pol_live(sh, id)) return id;
  }
  for (;;) {
    if (++id == n) id = 0;
    if (macho__pol_live(sh, id)) return id;
  }
}

static int rnd_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  (void)st;
  (void)sh;
  (void)map;
  (void)old_n;
  (void)new_n;
  return MACHO_OK;
}

static void rnd_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  (void)st;
  (void)sh;
  (void)from;
  (void)to;
}

const macho__policy_ops macho__policy_random = {
    .name = "random",
    .state_size = 0,
    .access = MACHO__ACCESS_NONE,
    .init = rnd_init,
    .destroy = rnd_nop,
    .insert = rnd_insert,
    .on_access = rnd_access,
    .remove = rnd_remove,
    .victim = rnd_victim,
    .clear = rnd_nop,
    .remap = rnd_remap,
    .move = rnd_move,
};
