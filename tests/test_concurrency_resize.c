/*
 * test_concurrency_resize.c -- macho_resize up and down while threads use
 * the cache, against what the model promises: once a resize has returned
 * no shard holds more than its new limits (puts respect them from the
 * start), every value read is the one written for its key, and gets never
 * wait for a resize (they are lock-free: a reader thread keeps counting
 * gets while resizes run). Workers record; main asserts.
 */
#include "support.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SHARDS 4
#define KEYS 20000

typedef struct shared {
  macho_cache *c;
  _Atomic int stop;
  _Atomic uint64_t wrong, bad, gets;
} shared;

static void *writer(void *arg) {
  shared *s = arg;
  uint64_t rng = test_seed() ^ (uint64_t)(uintptr_t)&rng;
  while (!atomic_load(&s->stop)) {
    uint64_t r = test_rand(&rng);
    uint32_t k = (uint32_t)((r >> 8) % KEYS);
    uint64_t v[3] = {k, k * 3u, k * 7u}; /* 24 bytes: arena values */
    int rc = macho_put(s->c, &k, 4, v, (r >> 40) % 2 ? sizeof v : 8);
    if (rc != MACHO_OK && rc != MACHO_ETOOBIG) atomic_fetch_add(&s->bad, 1);
  }
  return NULL;
}

static void *reader(void *arg) {
  shared *s = arg;
  uint64_t rng = test_seed() + 5;
  while (!atomic_load(&s->stop)) {
    uint64_t r = test_rand(&rng);
    uint32_t k = (uint32_t)((r >> 8) % KEYS);
    uint64_t v[3] = {0, 0, 0};
    size_t n = 0;
    int rc = macho_get(s->c, &k, 4, v, sizeof v, &n);
    if (rc == MACHO_OK) {
      if (v[0] != k || (n == sizeof v && (v[1] != k * 3u || v[2] != k * 7u))) atomic_fetch_add(&s->wrong, 1);
    } else if (rc != MACHO_ENOTFOUND) {
      atomic_fetch_add(&s->bad, 1);
    }
    atomic_fetch_add(&s->gets, 1);
  }
  return NULL;
}

static void resizes_under_load_keep_the_limits_and_the_values(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 8000;
  cfg.shards = SHARDS;
  cfg.ttl_seconds = 0;
  cfg.seed = test_seed();
  shared s = {0};
  assert_int_equal(macho_open(&cfg, &s.c), MACHO_OK);
  pthread_t w, r;
  assert_int_equal(pthread_create(&w, NULL, writer, &s), 0);
  assert_int_equal(pthread_create(&r, NULL, reader, &s), 0);
  /* Both threads at work before the first resize: a resize takes tens of
   * microseconds, so 300 of them can all be over before a new thread has
   * run at all. */
  while (atomic_load(&s.gets) < 100 || macho_len(s.c) < 100) sched_yield();
  uint64_t rng = test_seed() + 9;
  /* At least `rounds` resizes, and more (up to 100 times as many) until the
   * reader has done 100 gets while resizes ran: progress, not time, decides,
   * so a reader descheduled for a while on a loaded machine is waited for. */
  const uint64_t min_rounds = test_scale(300, 10);
  uint64_t over = 0, rounds = 0, gets_during = 0;
  for (; rounds < min_rounds || (gets_during < 100 && rounds < 100 * min_rounds); rounds++) {
    uint64_t x = test_rand(&rng);
    size_t cap = 400 + (size_t)(x % 16000);
    size_t bytes = x % 3 == 0 ? (size_t)(SHARDS * (MACHO_ENTRY_OVERHEAD + 24) * (50 + (x >> 20) % 2000)) : 0;
    uint64_t g0 = atomic_load(&s.gets);
    assert_int_equal(macho_resize(s.c, cap, bytes), MACHO_OK);
    gets_during += atomic_load(&s.gets) - g0;
    /* Right after it returns, every shard is within the new limits. */
    for (int sh = 0; sh < SHARDS; sh++) {
      macho_counters ct;
      assert_int_equal(macho_counters_get(s.c, sh, &ct), MACHO_OK);
      if (ct.entries > ct.capacity_entries || (ct.capacity_bytes && ct.charged_bytes > ct.capacity_bytes)) over++;
    }
    macho_counters all = test_counters(s.c);
    assert_int_equal(all.capacity_entries, cap);
    assert_int_equal(all.capacity_bytes, bytes);
  }
  atomic_store(&s.stop, 1);
  pthread_join(w, NULL);
  pthread_join(r, NULL);
  assert_int_equal(over, 0);
  assert_int_equal(atomic_load(&s.wrong), 0);
  assert_int_equal(atomic_load(&s.bad), 0);
  assert_true(gets_during > 0); /* reads went on while resizes ran */
  fprintf(stderr, "# %llu resizes, %llu gets while they ran, none wrong\n", (unsigned long long)rounds,
          (unsigned long long)gets_during);
  macho_close(s.c);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(resizes_under_load_keep_the_limits_and_the_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
