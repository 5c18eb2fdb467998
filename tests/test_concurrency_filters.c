/*
 * test_concurrency_filters.c -- filters under threads (also run under TSan).
 *
 * Every filter operation happens under its shard's lock, in the same critical
 * section as the index change it mirrors, so no interleaving can show a key
 * in the index but not in the filter. Here threads hammer one sharded cache
 * with put/get/delete on their own keys (the cache is large enough that
 * nothing is evicted), while the xor filter rebuilds under them; each thread
 * checks that a key it has put and not deleted is always found, and that a
 * key it deleted is gone.
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define KEYS_PER_THREAD 1500
#define OPS_PER_THREAD 30000

typedef struct worker {
  macho_cache *cache;
  int id;
  uint64_t seed;
  int errors;
  char msg[160];
} worker;

static void *run(void *arg) {
  worker *w = arg;
  uint64_t rng = w->seed + (uint64_t)w->id * 7919;
  unsigned char present[KEYS_PER_THREAD] = {0};
  for (int op = 0; op < OPS_PER_THREAD && !w->errors; op++) {
    uint32_t k = (uint32_t)(test_rand(&rng) % KEYS_PER_THREAD);
    char kb[32], v[8];
    int klen = snprintf(kb, sizeof kb, "t%d-key-%u", w->id, k);
    uint64_t r = test_rand(&rng) % 10;
    int rc;
    if (r < 5) {
      rc = macho_put(w->cache, kb, (size_t)klen, "v", 1);
      if (rc == MACHO_OK) present[k] = 1;
      else snprintf(w->msg, sizeof w->msg, "put %s: %s", kb, macho_status_name(rc)), w->errors++;
      rc = macho_get(w->cache, kb, (size_t)klen, v, sizeof v, NULL);
      if (rc != MACHO_OK)
        snprintf(w->msg, sizeof w->msg, "key %s just put is not found: %s", kb, macho_status_name(rc)),
            w->errors++;
    } else if (r < 8) {
      rc = macho_get(w->cache, kb, (size_t)klen, v, sizeof v, NULL);
      if (rc != (present[k] ? MACHO_OK : MACHO_ENOTFOUND))
        snprintf(w->msg, sizeof w->msg, "get %s (present=%d): %s", kb, present[k], macho_status_name(rc)),
            w->errors++;
    } else {
      rc = macho_delete(w->cache, kb, (size_t)klen);
      if (rc != (present[k] ? MACHO_OK : MACHO_ENOTFOUND))
        snprintf(w->msg, sizeof w->msg, "delete %s (present=%d): %s", kb, present[k], macho_status_name(rc)),
            w->errors++;
      present[k] = 0;
    }
  }
  return NULL;
}

static void run_threads(macho_filter filter) {
  uint64_t seed = test_seed();
  macho_config cfg;
  macho_config_init(&cfg);
  /* Room for every thread's keys even with uneven shards: nothing is evicted. */
  cfg.capacity_entries = THREADS * KEYS_PER_THREAD * 2;
  cfg.shards = 4;
  cfg.ttl_seconds = 0;
  cfg.filter = filter;
  cfg.filter_fp_rate = 0.01;
  cfg.seed = seed;
  macho_cache *c;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  pthread_t th[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.cache = c, .id = i, .seed = seed};
    if (pthread_create(&th[i], NULL, run, &w[i]) != 0) abort(); /* cannot unwind past running threads */
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < THREADS; i++)
    if (w[i].errors) fail_msg("%s, thread %d: %s (seed %llu)", macho_filter_name(filter), i, w[i].msg,
                              (unsigned long long)seed);
  macho_counters ct;
  assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
  assert_int_equal(ct.evictions, 0);
  assert_true(ct.filter_negatives > 0);
  macho_close(c);
}

static void threads_always_find_their_own_keys_behind_a_bloom_filter(void **state) {
  (void)state;
  run_threads(MACHO_FILTER_BLOOM);
}

static void threads_always_find_their_own_keys_behind_a_cuckoo_filter(void **state) {
  (void)state;
  run_threads(MACHO_FILTER_CUCKOO);
}

static void threads_always_find_their_own_keys_behind_a_rebuilding_xor_filter(void **state) {
  (void)state;
  run_threads(MACHO_FILTER_XOR);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(threads_always_find_their_own_keys_behind_a_bloom_filter),
      cmocka_unit_test(threads_always_find_their_own_keys_behind_a_cuckoo_filter),
      cmocka_unit_test(threads_always_find_their_own_keys_behind_a_rebuilding_xor_filter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
