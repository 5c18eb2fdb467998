/*
 * test_concurrency_reads.c -- lock-free gets racing every kind of writer.
 *
 * Gets in bytes mode take no lock: they read a group of slots and check its
 * sequence number afterwards. This suite runs readers against writers that
 * replace values, insert (growing the table from its first size to its
 * last), evict, delete, expire and clear, and checks every value a reader
 * is handed: it must belong to the key asked for (not a neighbour's, not a
 * freed block's new tenant) and be whole (not half of an old value and half
 * of a new one). Values carry their key, a version and a checksum; they are
 * 8 bytes (inline in the slot), 40 and 300 bytes (arena blocks that are
 * recycled while readers copy them). Under ThreadSanitizer (ctest label
 * concurrency) any unsynchronised access fails the suite too.
 *
 * Bounded by operation counts (scaled down under sanitizers), fixed seeds;
 * worker threads record failures and the main thread asserts.
 */
#include "support.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { READERS = 2, WRITERS = 2, MAXV = 300 };

typedef struct shared {
  macho_cache *c;
  uint32_t keys;
  uint32_t vlen;
  uint64_t ops;
  uint64_t seed;
  bool clears;
  _Atomic int stop;
  _Atomic uint64_t bad_foreign, bad_torn, bad_len, bad_status, hits;
  char first_error[200];
  _Atomic int have_error;
} shared;

static void note(shared *s, _Atomic uint64_t *what, const char *fmt, uint64_t a, uint64_t b) {
  atomic_fetch_add(what, 1);
  int expect = 0;
  if (atomic_compare_exchange_strong(&s->have_error, &expect, 1))
    snprintf(s->first_error, sizeof s->first_error, fmt, (unsigned long long)a, (unsigned long long)b);
}

/* 8 bytes: key in the high 48 bits, version in the low 16 (one word: cannot tear).
 * Longer: key, version, then bytes derived from both, then their sum. */
static void make_value(unsigned char *v, uint32_t len, uint64_t key, uint64_t version) {
  if (len == 8) {
    uint64_t w = (key << 16) | (version & 0xffff);
    memcpy(v, &w, 8);
    return;
  }
  memcpy(v, &key, 8);
  memcpy(v + 8, &version, 8);
  uint64_t x = key * 0x9e3779b97f4a7c15ULL ^ version, sum = 0;
  for (uint32_t i = 16; i + 8 <= len; i += 8) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ULL;
    memcpy(v + i, &x, 8);
    sum += x;
  }
  memcpy(v + len - 8, &sum, 8);
}

static void check_value(shared *s, const unsigned char *v, size_t n, uint64_t key) {
  if (n != s->vlen) {
    note(s, &s->bad_len, "key %llu: length %llu", key, n);
    return;
  }
  if (n == 8) {
    uint64_t w;
    memcpy(&w, v, 8);
    if (w >> 16 != key) note(s, &s->bad_foreign, "key %llu got a value of key %llu", key, w >> 16);
    return;
  }
  uint64_t k, version;
  memcpy(&k, v, 8);
  memcpy(&version, v + 8, 8);
  if (k != key) {
    note(s, &s->bad_foreign, "key %llu got a value of key %llu", key, k);
    return;
  }
  unsigned char want[MAXV];
  make_value(want, (uint32_t)n, key, version);
  if (memcmp(want, v, n) != 0) note(s, &s->bad_torn, "key %llu version %llu is torn", key, version);
}

static void *reader(void *arg) {
  shared *s = arg;
  uint64_t rng = s->seed ^ (uint64_t)(uintptr_t)&rng;
  unsigned char buf[MAXV];
  while (!atomic_load(&s->stop)) {
    uint64_t key = test_rand(&rng) % s->keys;
    size_t n = 0;
    int rc = macho_get(s->c, &key, 8, buf, sizeof buf, &n);
    if (rc == MACHO_OK) {
      atomic_fetch_add_explicit(&s->hits, 1, memory_order_relaxed);
      check_value(s, buf, n, key);
    } else if (rc != MACHO_ENOTFOUND) {
      note(s, &s->bad_status, "key %llu: status %llu", key, (uint64_t)(int64_t)rc);
    }
  }
  return NULL;
}

static void *writer(void *arg) {
  shared *s = arg;
  uint64_t rng = s->seed ^ 0x5151 ^ (uint64_t)(uintptr_t)&rng;
  unsigned char v[MAXV];
  for (uint64_t i = 0; i < s->ops; i++) {
    uint64_t key = test_rand(&rng) % s->keys;
    uint32_t op = (uint32_t)(test_rand(&rng) % 1000);
    int rc;
    if (op < 700) {
      make_value(v, s->vlen, key, i);
      rc = macho_put(s->c, &key, 8, v, s->vlen);
    } else if (op < 900) {
      make_value(v, s->vlen, key, i);
      rc = macho_put_ttl(s->c, &key, 8, v, s->vlen, 0.001); /* soon expired, swept */
    } else if (op < 998 || !s->clears) {
      rc = macho_delete(s->c, &key, 8);
      if (rc == MACHO_ENOTFOUND) rc = MACHO_OK;
    } else {
      rc = macho_clear(s->c);
    }
    if (rc != MACHO_OK) note(s, &s->bad_status, "writer op %llu: status %llu", op, (uint64_t)(int64_t)rc);
  }
  return NULL;
}

static void run(macho_policy policy, uint32_t shards, uint32_t vlen, size_t capacity, bool clears) {
  shared s;
  memset(&s, 0, sizeof s);
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = capacity;
  cfg.shards = shards;
  cfg.policy = policy;
  cfg.ttl_seconds = 0;
  assert_int_equal(macho_open(&cfg, &s.c), MACHO_OK);
  s.keys = (uint32_t)(capacity * 3 / 2); /* more keys than room: evictions */
  s.vlen = vlen;
  s.seed = test_seed();
  s.clears = clears;
  s.ops = test_scale(400000, 10);
  pthread_t r[READERS], w[WRITERS];
  for (int i = 0; i < READERS; i++)
    if (pthread_create(&r[i], NULL, reader, &s) != 0) abort();
  for (int i = 0; i < WRITERS; i++)
    if (pthread_create(&w[i], NULL, writer, &s) != 0) abort();
  for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
  atomic_store(&s.stop, 1);
  for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
  if (atomic_load(&s.have_error))
    fprintf(stderr, "%s shards=%u vlen=%u: %s\n", macho_policy_name(policy), shards, vlen, s.first_error);
  assert_int_equal(atomic_load(&s.bad_foreign), 0);
  assert_int_equal(atomic_load(&s.bad_torn), 0);
  assert_int_equal(atomic_load(&s.bad_len), 0);
  assert_int_equal(atomic_load(&s.bad_status), 0);
  /* The readers were not starved into seeing nothing. */
  assert_true(atomic_load(&s.hits) > 0);
  macho_counters ct = test_counters(s.c);
  assert_true(ct.entries <= capacity);
  assert_int_equal(ct.hits + ct.misses, ct.gets);
  macho_close(s.c);
}

static void readers_never_see_a_foreign_or_torn_inline_value(void **state) {
  (void)state;
  const macho_policy ps[] = {MACHO_POLICY_LRU, MACHO_POLICY_SIEVE, MACHO_POLICY_FIFO, MACHO_POLICY_S3FIFO};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
    run(ps[i], 1, 8, 4000, false);
    run(ps[i], 4, 8, 4000, true);
  }
}

static void readers_never_see_a_recycled_arena_block(void **state) {
  (void)state;
  run(MACHO_POLICY_LRU, 1, 40, 4000, false);
  run(MACHO_POLICY_WTINYLFU, 2, 300, 3000, true);
  run(MACHO_POLICY_RANDOM, 1, 300, 500, true);
}

/* From an empty table of 1024 slots to the final size while readers read:
 * every table a reader may still hold stays valid until it has left. */
static void readers_survive_growth_and_clear(void **state) {
  (void)state;
  run(MACHO_POLICY_SIEVE, 1, 8, 60000, true);
  run(MACHO_POLICY_LFU, 2, 40, 60000, true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(readers_never_see_a_foreign_or_torn_inline_value),
      cmocka_unit_test(readers_never_see_a_recycled_arena_block),
      cmocka_unit_test(readers_survive_growth_and_clear),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
