/*
 * lru.c -- least recently used: one intrusive list over the slots, most
 * recent at the head. A hit moves the entry to the head (four link writes);
 * the victim is the tail. Hits arrive through the read buffer (policy.h),
 * so a lock-free get writes only its thread's stripe; the list moves happen
 * when a writer replays the buffer. 8 bytes of links per slot.
 */
#include "policy.h"

typedef struct lru_state {
  macho__dlist list;
  macho__link *lk;
  uint32_t nslots;
} lru_state;

static int lru_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  (void)capacity;
  lru_state *s = st;
  macho__dlist_init(&s->list);
  s->lk = macho__links_new(sh, nslots);
  s->nslots = nslots;
  return s->lk ? MACHO_OK : MACHO_ENOMEM;
}

static void lru_destroy(void *st, macho__shard *sh) {
  lru_state *s = st;
  macho__links_free(sh, s->lk, s->nslots);
  s->lk = NULL;
}

static void lru_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  (void)sh;
  (void)hash;
  lru_state *s = st;
  macho__dlist_push_front(s->lk, &s->list, id);
}

static void lru_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  lru_state *s = st;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = (uint32_t)recs[i];
    if (macho__pol_live(sh, id)) macho__dlist_move_front(s->lk, &s->list, id);
  }
}

static void lru_remove(void *st, macho__shard *sh, uint32_t id) {
  (void)sh;
  lru_state *s = st;
  macho__dlist_remove(s->lk, &s->list, id);
}

static uint32_t lru_victim(void *st, macho__shard *sh) {
  (void)sh;
  lru_state *s = st;
  return macho__dlist_pop_back(s->lk, &s->list);
}

static void lru_clear(void *st, macho__shard *sh) {
  (void)sh;
  lru_state *s = st;
  macho__dlist_init(&s->list);
}

static int lru_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  lru_state *s = st;
  macho__link *lk = macho__links_remap(sh, s->lk, &s->list, 1, map, old_n, new_n);
  if (!lk) return MACHO_ENOMEM;
  s->lk = lk;
  s->nslots = new_n;
  return MACHO_OK;
}

static size_t lru_memory(const void *st) { return (size_t)((const lru_state *)st)->nslots * sizeof(macho__link); }

static void lru_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  (void)sh;
  lru_state *s = st;
  macho__dlist_rename(s->lk, &s->list, from, to);
}

/* Least recent at the tail: that is the eviction order. Capacity is not
 * used, so a resize has nothing to do. */
static uint32_t lru_order(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                          uint32_t max) {
  lru_state *s = st;
  if (after != MACHO__NIL && !macho__pol_live(sh, after)) return 0;
  const macho__dlist *l = &s->list;
  return macho__lists_order(s->lk, &l, 1, hottest, 0, after, out, max);
}

static int lru_resize(void *st, macho__shard *sh, uint32_t capacity) {
  (void)st;
  (void)sh;
  (void)capacity;
  return MACHO_OK;
}

const macho__policy_ops macho__policy_lru = {
    .name = "lru",
    .state_size = sizeof(lru_state),
    .access = MACHO__ACCESS_BUFFER,
    .init = lru_init,
    .destroy = lru_destroy,
    .insert = lru_insert,
    .on_access = lru_access,
    .remove = lru_remove,
    .victim = lru_victim,
    .clear = lru_clear,
    .remap = lru_remap,
    .move = lru_move,
    .memory = lru_memory,
    .order = lru_order,
    .resize = lru_resize,
};
