/*
 * fifo.c -- first in, first out: insertion order only; hits change nothing,
 * so a hit costs no write at all. Shares LRU's list and differs in on_hit.
 */
#include "../internal.h"

typedef struct fifo_state {
  macho__list list;
} fifo_state;

static int fifo_init(void *st, macho__shard *sh, uint32_t capacity) {
  (void)sh;
  (void)capacity;
  macho__list_init(&((fifo_state *)st)->list);
  return MACHO_OK;
}

static void fifo_destroy(void *st, macho__shard *sh) {
  (void)st;
  (void)sh;
}

static void fifo_insert(void *st, macho__shard *sh, uint32_t id) {
  macho__list_push_front(sh, &((fifo_state *)st)->list, id);
}

static void fifo_hit(void *st, macho__shard *sh, uint32_t id) {
  (void)st;
  (void)sh;
  (void)id;
}

static void fifo_remove(void *st, macho__shard *sh, uint32_t id) {
  macho__list_remove(sh, &((fifo_state *)st)->list, id);
}

static uint32_t fifo_victim(void *st, macho__shard *sh) {
  return macho__list_pop_back(sh, &((fifo_state *)st)->list);
}

static void fifo_clear(void *st, macho__shard *sh) {
  (void)sh;
  macho__list_init(&((fifo_state *)st)->list);
}

const macho__policy_ops macho__policy_fifo = {
    .name = "fifo",
    .state_size = sizeof(fifo_state),
    .init = fifo_init,
    .destroy = fifo_destroy,
    .on_insert = fifo_insert,
    .on_hit = fifo_hit,
    .on_remove = fifo_remove,
    .victim = fifo_victim,
    .on_clear = fifo_clear,
};
