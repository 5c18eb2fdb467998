/*
 * test_concurrency_load.c -- get-or-load under threads: a hot key is loaded
 * once however many threads miss it together, no key is ever loaded by two
 * threads at once (while other keys load in parallel), errors reach every
 * waiter, and two loaders waiting on each other's keys end with
 * MACHO_EDEADLK instead of a hang. Workers record; the main thread asserts.
 */
#include "support.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8

/* ---- one hot key ----------------------------------------------------------------- */
typedef struct hot {
  macho_cache *c;
  _Atomic int arrived, calls;
  int fail; /* the load fails with this (0 = succeeds) */
} hot;

static int load_hot(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  (void)key;
  (void)klen;
  hot *h = ctx;
  atomic_fetch_add(&h->calls, 1);
  /* Hold the load until every thread has made its call. */
  while (atomic_load(&h->arrived) < THREADS) sched_yield();
  for (int i = 0; i < 1000; i++) sched_yield(); /* and let them reach their wait */
  if (h->fail) return h->fail;
  return macho_loaded_set(out, "the hot value", 13);
}

typedef struct hot_arg {
  hot *h;
  int rc;
  char buf[32];
  size_t n;
} hot_arg;

static void *hot_worker(void *arg) {
  hot_arg *a = arg;
  macho_loader ld = {load_hot, a->h, NULL, NULL, NULL, NULL};
  atomic_fetch_add(&a->h->arrived, 1);
  a->rc = macho_get_or_load(a->h->c, "hot", 3, &ld, a->buf, sizeof a->buf, &a->n);
  return NULL;
}

static macho_cache *open_plain(void) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 64;
  cfg.shards = 4;
  cfg.ttl_seconds = 0;
  cfg.seed = test_seed();
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static void run_hot(int fail, int want_rc) {
  hot h = {open_plain(), 0, 0, fail};
  hot_arg a[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&a[i], 0, sizeof a[i]);
    a[i].h = &h;
    assert_int_equal(pthread_create(&th[i], NULL, hot_worker, &a[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  int got_value = 0;
  for (int i = 0; i < THREADS; i++) {
    if (!fail && a[i].rc == MACHO_OK) {
      assert_int_equal(a[i].n, 13);
      assert_memory_equal(a[i].buf, "the hot value", 13);
      got_value++;
    }
  }
  if (!fail) {
    assert_int_equal(atomic_load(&h.calls), 1); /* many threads, one load */
    assert_int_equal(got_value, THREADS);
  } else {
    /* Every thread that waited got the error; a late one loads again and
     * fails too: all see it, nothing is cached. */
    for (int i = 0; i < THREADS; i++) assert_int_equal(a[i].rc, want_rc);
    assert_true(atomic_load(&h.calls) >= 1);
    assert_int_equal(macho_len(h.c), 0);
  }
  macho_close(h.c);
}

static void a_hot_key_is_loaded_once_by_many_threads(void **state) {
  (void)state;
  run_hot(0, MACHO_OK);
}

static void a_failed_load_reaches_every_waiting_thread(void **state) {
  (void)state;
  run_hot(-77, MACHO_ECALLBACK);
}

/* ---- many keys: never two loads of one key at once -------------------------------- */
#define NKEYS 32
typedef struct many {
  macho_cache *c;
  _Atomic int busy[NKEYS];
  _Atomic uint64_t overlaps, loads, wrong, bad;
} many;

static int load_many(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  many *m = ctx;
  uint32_t k;
  if (klen != 4) return -100;
  memcpy(&k, key, 4);
  if (atomic_exchange(&m->busy[k], 1)) atomic_fetch_add(&m->overlaps, 1);
  atomic_fetch_add(&m->loads, 1);
  for (int i = 0; i < 20; i++) sched_yield();
  atomic_store(&m->busy[k], 0);
  uint64_t v = 1000 + k;
  return macho_loaded_set(out, &v, 8);
}

typedef struct many_arg {
  many *m;
  uint64_t seed;
} many_arg;

static void *many_worker(void *arg) {
  many_arg *a = arg;
  many *m = a->m;
  macho_loader ld = {load_many, m, NULL, NULL, NULL, NULL};
  uint64_t rng = a->seed;
  uint64_t iters = test_scale(20000, 8);
  for (uint64_t i = 0; i < iters; i++) {
    uint64_t r = test_rand(&rng);
    uint32_t k = (uint32_t)(r % NKEYS);
    if ((r >> 20) % 8 == 0) {
      int rc = macho_delete(m->c, &k, 4); /* so that keys are loaded again and again */
      if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) atomic_fetch_add(&m->bad, 1);
      continue;
    }
    uint64_t v = 0;
    size_t n = 0;
    int rc = macho_get_or_load(m->c, &k, 4, &ld, &v, sizeof v, &n);
    if (rc != MACHO_OK) atomic_fetch_add(&m->bad, 1);
    else if (n != 8 || v != 1000 + k) atomic_fetch_add(&m->wrong, 1);
  }
  return NULL;
}

static void no_key_is_loaded_twice_at_once(void **state) {
  (void)state;
  many *m = calloc(1, sizeof *m);
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 16; /* fewer than the keys: evictions reload too */
  cfg.shards = 2;
  cfg.ttl_seconds = 0;
  cfg.seed = test_seed();
  assert_int_equal(macho_open(&cfg, &m->c), MACHO_OK);
  many_arg a[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    a[i].m = m;
    a[i].seed = test_seed() + 101u * (uint64_t)i;
    assert_int_equal(pthread_create(&th[i], NULL, many_worker, &a[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  assert_int_equal(atomic_load(&m->overlaps), 0);
  assert_int_equal(atomic_load(&m->wrong), 0);
  assert_int_equal(atomic_load(&m->bad), 0);
  assert_true(atomic_load(&m->loads) > NKEYS);
  fprintf(stderr, "# %llu loads, none overlapping another of its key\n", (unsigned long long)atomic_load(&m->loads));
  macho_close(m->c);
  free(m);
}

/* ---- two loaders waiting on each other ------------------------------------------------ */
typedef struct cycle {
  macho_cache *c;
  _Atomic int in_a, in_b;
  int inner_a, inner_b, outer_a, outer_b;
} cycle;

static int load_x(void *ctx, const void *key, size_t klen, macho_loaded *out);

static int ask(cycle *cy, const char *key) {
  macho_loader ld = {load_x, cy, NULL, NULL, NULL, NULL};
  char buf[8];
  size_t n;
  return macho_get_or_load(cy->c, key, 1, &ld, buf, sizeof buf, &n);
}

static int load_x(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  (void)klen;
  cycle *cy = ctx;
  bool a = *(const char *)key == 'a';
  /* Both loads are under way before either asks for the other's key. */
  atomic_store(a ? &cy->in_a : &cy->in_b, 1);
  while (!atomic_load(a ? &cy->in_b : &cy->in_a)) sched_yield();
  int rc = ask(cy, a ? "b" : "a");
  if (a) cy->inner_a = rc;
  else cy->inner_b = rc;
  if (rc != MACHO_OK) return rc;
  return macho_loaded_set(out, "x", 1);
}

static void *cycle_a(void *arg) {
  cycle *cy = arg;
  cy->outer_a = ask(cy, "a");
  return NULL;
}
static void *cycle_b(void *arg) {
  cycle *cy = arg;
  cy->outer_b = ask(cy, "b");
  return NULL;
}

static void loaders_waiting_on_each_other_get_edeadlk(void **state) {
  (void)state;
  for (int round = 0; round < (int)test_scale(50, 5); round++) {
    cycle cy = {open_plain(), 0, 0, 0, 0, 0, 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, cycle_a, &cy), 0);
    assert_int_equal(pthread_create(&tb, NULL, cycle_b, &cy), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    /* One of the two inner asks is refused; no thread hangs. */
    int edeadlk = (cy.inner_a == MACHO_EDEADLK) + (cy.inner_b == MACHO_EDEADLK);
    assert_int_equal(edeadlk, 1);
    assert_int_equal(cy.outer_a, MACHO_ECALLBACK);
    assert_int_equal(cy.outer_b, MACHO_ECALLBACK);
    macho_close(cy.c);
  }
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_hot_key_is_loaded_once_by_many_threads),
      cmocka_unit_test(a_failed_load_reaches_every_waiting_thread),
      cmocka_unit_test(no_key_is_loaded_twice_at_once),
      cmocka_unit_test(loaders_waiting_on_each_other_get_edeadlk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
