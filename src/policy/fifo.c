/*
 * fifo.c -- first in, first out: insertion order in one intrusive list, the
 * oldest entry is the victim. A hit changes nothing, so a lock-free get
 * writes nothing at all for this policy.
 */
#include "policy.h"

typedef struct fifo_state {
  macho__dlist list;
  macho__link *lk;
  uint32_t nslots;
} fifo_state;

static int fifo_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  (void)capacity;
  fifo_state *s = st;
  macho__dlist_init(&s->list);
  s->lk = macho__links_new(sh, nslots);
  s->nslots = nslots;
  return s->lk ? MACHO_OK : MACHO_ENOMEM;
}

static void fifo_destroy(void *st, macho__shard *sh) {
  fifo_state *s = st;
  macho__links_free(sh, s->lk, s->nslots);
  s->lk = NULL;
}

static void fifo_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  (void)sh;
  (void)hash;
  fifo_state *s = st;
  macho__dlist_push_front(s->lk, &s->list, id);
}

static void fifo_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  (void)st;
  (void)sh;
  (void)recs;
  (void)n;
}

static void fifo_remove(void *st, macho__shard *sh, uint32_t id) {
  (void)sh;
  fifo_state *s = st;
  macho__dlist_remove(s->lk, &s->list, id);
}

static uint32_t fifo_victim(void *st, macho__shard *sh) {
  (void)sh;
  fifo_state *s = st;
  return macho__dlist_pop_back(s->lk, &s->list);
}

static void fifo_clear(void *st, macho__shard *sh) {
  (void)sh;
  macho__dlist_init(&((fifo_state *)st)->list);
}

static int fifo_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  fifo_state *s = st;
  macho__link *lk = macho__links_remap(sh, s->lk, &s->list, 1, map, old_n, new_n);
  if (!lk) return MACHO_ENOMEM;
  s->lk = lk;
  s->nslots = new_n;
  return MACHO_OK;
}

static void fifo_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  (void)sh;
  fifo_state *s = st;
  macho__dlist_rename(s->lk, &s->list, from, to);
}

const macho__policy_ops macho__policy_fifo = {
    .name = "fifo",
    .state_size = sizeof(fifo_state),
    .access = MACHO__ACCESS_NONE,
    .init = fifo_init,
    .destroy = fifo_destroy,
    .insert = fifo_insert,
    .on_access = fifo_access,
    .remove = fifo_remove,
    .victim = fifo_victim,
    .clear = fifo_clear,
    .remap = fifo_remap,
    .move = fifo_move,
};
