/*
 * lfu.c -- least and most frequently used, O(1) per operation.
 *
 * The frequency-bucket structure of Shah, Mitra and Matani, "An O(1)
 * algorithm for implementing the LFU cache eviction scheme" (2010): a doubly
 * linked list of buckets in increasing frequency, each bucket holding the
 * entries of that frequency in an intrusive list (most recent at the head).
 * A hit moves an entry to the bucket of frequency + 1, creating it right after
 * the current one if it does not exist; empty buckets are unlinked at once, so
 * the lowest bucket is the list head and the highest its tail. No heap, no
 * scan.
 *
 * Ties are broken by recency in both policies: an entry enters a bucket at its
 * head when it is inserted or hit, so the bucket's tail is the least recently
 * used entry of that frequency.
 *   LFU evicts the least recently used entry of the LOWEST frequency.
 *   MFU evicts the least recently used entry of the HIGHEST frequency.
 * Frequencies start at 1 on insert, saturate at UINT32_MAX and are forgotten
 * on eviction (no history, no aging), as in libCacheSim's LFU.
 *
 * Bucket nodes come from a pool preallocated at init: at most one bucket per
 * live entry exists, so `capacity` nodes suffice (20 bytes per entry of
 * capacity) and no operation allocates. meta = the entry's bucket node.
 * LFU and MFU share everything but victim(), hence one file.
 */
#include "../internal.h"

typedef struct bucket {
  uint32_t freq;
  uint32_t prev, next; /* neighbouring buckets (lower, higher frequency) */
  uint32_t head, tail; /* entries of this frequency, head = most recent */
} bucket;

typedef struct lfu_state {
  bucket *pool;
  uint32_t pool_cap;
  uint32_t free_node; /* free nodes chained through `next` */
  uint32_t lowest, highest;
} lfu_state;

static void reset(lfu_state *s) {
  for (uint32_t i = 0; i < s->pool_cap; i++) s->pool[i].next = i + 1 < s->pool_cap ? i + 1 : MACHO__NIL;
  s->free_node = s->pool_cap ? 0 : MACHO__NIL;
  s->lowest = s->highest = MACHO__NIL;
}

static int lfu_init(void *st, macho__shard *sh, uint32_t capacity) {
  lfu_state *s = st;
  s->pool_cap = capacity;
  s->pool = macho__malloc(sh->alloc, (size_t)capacity * sizeof(bucket));
  if (!s->pool) return MACHO_ENOMEM;
  reset(s);
  return MACHO_OK;
}

static void lfu_destroy(void *st, macho__shard *sh) {
  lfu_state *s = st;
  macho__free(sh->alloc, s->pool, (size_t)s->pool_cap * sizeof(bucket));
  s->pool = NULL;
}

/* A new empty bucket of frequency `freq` linked right after `after` (NIL = first). */
static uint32_t bucket_new(lfu_state *s, uint32_t freq, uint32_t after) {
  uint32_t b = s->free_node;
  assert(b != MACHO__NIL);
  bucket *n = &s->pool[b];
  s->free_node = n->next;
  n->freq = freq;
  n->head = n->tail = MACHO__NIL;
  n->prev = after;
  n->next = after == MACHO__NIL ? s->lowest : s->pool[after].next;
  if (n->prev != MACHO__NIL) s->pool[n->prev].next = b;
  else s->lowest = b;
  if (n->next != MACHO__NIL) s->pool[n->next].prev = b;
  else s->highest = b;
  return b;
}

static void bucket_free(lfu_state *s, uint32_t b) {
  bucket *n = &s->pool[b];
  if (n->prev != MACHO__NIL) s->pool[n->prev].next = n->next;
  else s->lowest = n->next;
  if (n->next != MACHO__NIL) s->pool[n->next].prev = n->prev;
  else s->highest = n->prev;
  n->next = s->free_node;
  s->free_node = b;
}

/* The bucket's entry list viewed as a macho__list for the shared helpers. */
static void entry_push(macho__shard *sh, bucket *n, uint32_t id) {
  macho__list l = {n->head, n->tail, 0};
  macho__list_push_front(sh, &l, id);
  n->head = l.head;
  n->tail = l.tail;
}

static void entry_unlink(lfu_state *s, macho__shard *sh, uint32_t id) {
  uint32_t b = macho__entry_at(sh, id)->meta;
  bucket *n = &s->pool[b];
  macho__list l = {n->head, n->tail, 1};
  macho__list_remove(sh, &l, id);
  n->head = l.head;
  n->tail = l.tail;
  if (n->head == MACHO__NIL) bucket_free(s, b);
}

static void lfu_insert(void *st, macho__shard *sh, uint32_t id) {
  lfu_state *s = st;
  uint32_t b = s->lowest;
  if (b == MACHO__NIL || s->pool[b].freq != 1) b = bucket_new(s, 1, MACHO__NIL);
  macho__entry_at(sh, id)->meta = b;
  entry_push(sh, &s->pool[b], id);
}

static void lfu_hit(void *st, macho__shard *sh, uint32_t id) {
  lfu_state *s = st;
  macho__entry *e = macho__entry_at(sh, id);
  uint32_t b = e->meta;
  bucket *n = &s->pool[b];
  if (n->freq == UINT32_MAX) { /* saturated: only recency changes */
    macho__list l = {n->head, n->tail, 1};
    macho__list_move_front(sh, &l, id);
    n->head = l.head;
    n->tail = l.tail;
    return;
  }
  uint32_t f = n->freq + 1;
  if (n->head == id && n->tail == id && (n->next == MACHO__NIL || s->pool[n->next].freq != f)) {
    n->freq = f; /* alone in its bucket: relabel, no node needed */
    return;
  }
  uint32_t nb = n->next;
  if (nb == MACHO__NIL || s->pool[nb].freq != f) nb = bucket_new(s, f, b);
  entry_unlink(s, sh, id);
  e->meta = nb;
  entry_push(sh, &s->pool[nb], id);
}

static void lfu_remove(void *st, macho__shard *sh, uint32_t id) {
  entry_unlink(st, sh, id);
}

static uint32_t take_tail(lfu_state *s, macho__shard *sh, uint32_t b) {
  assert(b != MACHO__NIL);
  uint32_t id = s->pool[b].tail;
  entry_unlink(s, sh, id);
  return id;
}

static uint32_t lfu_victim(void *st, macho__shard *sh) {
  lfu_state *s = st;
  return take_tail(s, sh, s->lowest);
}

static uint32_t mfu_victim(void *st, macho__shard *sh) {
  lfu_state *s = st;
  return take_tail(s, sh, s->highest);
}

static void lfu_clear(void *st, macho__shard *sh) {
  (void)sh;
  reset(st);
}

static size_t lfu_memory(const void *st) {
  return (size_t)((const lfu_state *)st)->pool_cap * sizeof(bucket);
}

const macho__policy_ops macho__policy_lfu = {
    .name = "lfu",
    .state_size = sizeof(lfu_state),
    .init = lfu_init,
    .destroy = lfu_destroy,
    .on_insert = lfu_insert,
    .on_hit = lfu_hit,
    .on_remove = lfu_remove,
    .victim = lfu_victim,
    .on_clear = lfu_clear,
    .memory = lfu_memory,
};

const macho__policy_ops macho__policy_mfu = {
    .name = "mfu",
    .state_size = sizeof(lfu_state),
    .init = lfu_init,
    .destroy = lfu_destroy,
    .on_insert = lfu_insert,
    .on_hit = lfu_hit,
    .on_remove = lfu_remove,
    .victim = mfu_victim,
    .on_clear = lfu_clear,
    .memory = lfu_memory,
};
