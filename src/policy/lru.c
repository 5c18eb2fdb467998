/*
 * lru.c -- least recently used: one intrusive list, most recent at the head.
 * A hit moves the entry to the head (O(1), four link writes); the victim is
 * the tail. The shard lock is held for every hook.
 */
#include "../internal.h"

typedef struct lru_state {
  macho__list list;
} lru_state;

static int lru_init(void *st, macho__shard *sh, uint32_t capacity) {
  (void)sh;
  (void)capacity;
  macho__list_init(&((lru_state *)st)->list);
  return MACHO_OK;
}

static void lru_destroy(void *st, macho__shard *sh) {
  (void)st;
  (void)sh;
}

static void lru_insert(void *st, macho__shard *sh, uint32_t id) {
  macho__list_push_front(sh, &((lru_state *)st)->list, id);
}

static void lru_hit(void *st, macho__shard *sh, uint32_t id) {
  macho__list_move_front(sh, &((lru_state *)st)->list, id);
}

static void lru_remove(void *st, macho__shard *sh, uint32_t id) {
  macho__list_remove(sh, &((lru_state *)st)->list, id);
}

static uint32_t lru_victim(void *st, macho__shard *sh) {
  return macho__list_pop_back(sh, &((lru_state *)st)->list);
}

static void lru_clear(void *st, macho__shard *sh) {
  (void)sh;
  macho__list_init(&((lru_state *)st)->list);
}

const macho__policy_ops macho__policy_lru = {
    .name = "lru",
    .state_size = sizeof(lru_state),
    .init = lru_init,
    .destroy = lru_destroy,
    .on_insert = lru_insert,
    .on_hit = lru_hit,
    .on_remove = lru_remove,
    .victim = lru_victim,
    .on_clear = lru_clear,
};
