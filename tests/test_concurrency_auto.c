/*
 * test_concurrency_auto.c -- `auto` and the live miss-ratio curve under
 * threads (also run under TSan). auto switches policies and the curve runs
 * its simulations inside the shard's critical sections, so threads that
 * get, put and delete on shared keys while another reads the curve, the
 * followed policy and stats snapshots must leave a consistent cache: no
 * more entries than capacity, every get counted once as a hit or a miss,
 * and every get seen by the curve. Workers only record; the main thread
 * asserts after joining.
 */
#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 3
#define CAPACITY 6000 /* 4 shards of 1500: mirror mode */

typedef struct worker {
  macho_cache *cache;
  int id;
  uint64_t seed, ops, gets, errors;
  char msg[160];
} worker;

static atomic_int stop;

/* Phases of zigzag loops and of a hot set with scans, so that auto switches. */
static void *run(void *arg) {
  worker *w = arg;
  uint64_t rng = w->seed + (uint64_t)w->id * 7919;
  for (uint64_t op = 0; op < w->ops; op++) {
    uint64_t phase = (op / (w->ops / 10 + 1)) & 1, k; /* ten phases, however many ops */
    if (phase) {
      uint64_t len = 9000, lap = op / len, pos = op % len;
      k = 1000000 + (lap & 1 ? len - 1 - pos : pos);
    } else {
      uint64_t a = test_rand(&rng) % 4000, b = test_rand(&rng) % 4000;
      k = test_rand(&rng) % 4 ? (a < b ? a : b) : 2000000 + test_rand(&rng) % 1000000;
    }
    char v[16];
    int rc = macho_get(w->cache, &k, 8, v, sizeof v, NULL);
    w->gets++;
    if (rc == MACHO_ENOTFOUND) rc = macho_put(w->cache, &k, 8, &k, 8);
    else if (rc == MACHO_OK && test_rand(&rng) % 50 == 0) rc = macho_delete(w->cache, &k, 8);
    if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) {
      snprintf(w->msg, sizeof w->msg, "op %llu key %llu: %s", (unsigned long long)op, (unsigned long long)k,
               macho_status_name(rc));
      w->errors++;
    }
  }
  return NULL;
}

typedef struct reader {
  macho_cache *cache;
  uint64_t reads, errors, switches_seen;
} reader;

static void *observe(void *arg) {
  reader *r = arg;
  while (!atomic_load(&stop)) {
    macho_mrc m;
    macho_policy p;
    uint64_t changes;
    macho_stats *s = NULL;
    if (macho_mrc_get(r->cache, -1, &m) != MACHO_OK) r->errors++;
    if (macho_policy_current(r->cache, -1, &p, &changes) != MACHO_OK) r->errors++;
    if (macho_stats_get(r->cache, 1, &s) != MACHO_OK || !s->has_mrc) r->errors++;
    macho_stats_free(s);
    if (changes > r->switches_seen) r->switches_seen = changes;
    r->reads++;
  }
  return NULL;
}

static void auto_and_the_curve_stay_consistent_under_threads(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = CAPACITY;
  cfg.shards = 4;
  cfg.ttl_seconds = 0;
  cfg.policy = MACHO_POLICY_AUTO;
  cfg.mrc = 1;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  worker w[THREADS];
  pthread_t t[THREADS + 1];
  reader rd = {c, 0, 0, 0};
  atomic_store(&stop, 0);
  uint64_t seed = test_seed();
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.cache = c, .id = i, .seed = seed, .ops = test_scale(200000, 10)};
    assert_int_equal(pthread_create(&t[i], NULL, run, &w[i]), 0);
  }
  assert_int_equal(pthread_create(&t[THREADS], NULL, observe, &rd), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  atomic_store(&stop, 1);
  pthread_join(t[THREADS], NULL);

  uint64_t gets = 0;
  for (int i = 0; i < THREADS; i++) {
    if (w[i].errors) fail_msg("worker %d: %llu errors, last: %s", i, (unsigned long long)w[i].errors, w[i].msg);
    gets += w[i].gets;
  }
  assert_int_equal(rd.errors, 0);
  macho_counters ct = test_counters(c);
  assert_true(ct.entries <= CAPACITY);
  assert_int_equal(ct.gets, gets);
  assert_int_equal(ct.hits + ct.misses, gets);
  macho_mrc m;
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
  assert_int_equal(m.gets, gets);
  uint64_t changes;
  assert_int_equal(macho_policy_current(c, -1, NULL, &changes), MACHO_OK);
  printf("# %llu gets, %llu reads by the observer, %llu policy changes; curve x1 %.4f, actual %.4f\n",
         (unsigned long long)gets, (unsigned long long)rd.reads, (unsigned long long)changes, m.miss_ratio[2],
         (double)ct.misses / (double)ct.gets);
  assert_true(changes > 0); /* the phases did make auto switch while others read */
  macho_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(auto_and_the_curve_stay_consistent_under_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
