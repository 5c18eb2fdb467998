/*
 * test_concurrency_stress.c -- many threads, one sharded cache, mixed calls.
 *
 * Six threads run put / put_ttl / get / contains / delete / len / counters
 * and, rarely, clear and expire on a small sharded cache (so evictions and
 * expirations happen all the time), in bytes mode and in object mode, while
 * another thread moves the injected clock. Every value carries its key, so a
 * read that returns another key's value (a torn or misrouted entry) is caught
 * at once. At the end: each shard within its capacity, the counters equal
 * what the threads did (hits + misses == gets, puts == successful puts), and
 * in object mode every reference the cache took was given back.
 *
 * scripts/test.sh also runs this under ThreadSanitizer; it sets
 * MACHO_SANITIZED=1 there, and the test then does fewer iterations.
 */
#include "support.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 6, SHARDS = 8, CAPACITY = 1000, KEYS = 3000 };

static int iterations(void) { return test_sanitized() ? 15000 : 1000000; }

/* ---- a clock other threads move ---------------------------------------------- */
static _Atomic uint64_t now_ns;
static uint64_t atomic_clock(void *ctx) {
  (void)ctx;
  return atomic_load_explicit(&now_ns, memory_order_relaxed);
}

typedef struct tally {
  uint64_t gets, hits, puts, deletes;
} tally;

typedef struct worker {
  pthread_t tid;
  macho_cache *c;
  uint64_t seed;
  int iters;
  bool objects;
  tally t;
  int bad; /* wrong value or unexpected status seen */
} worker;

/* ---- object mode: refcounted objects with atomic counts ------------------------ */
typedef struct aobj {
  _Atomic int refs;
  uint64_t id;     /* keys: the key id; values: the id of the key they belong to */
} aobj;

static aobj keys_a[KEYS], keys_b[KEYS]; /* two equal objects per key */
static aobj vals[KEYS];

static int a_hash(void *ctx, const void *k, uint64_t *out) {
  (void)ctx;
  *out = ((const aobj *)k)->id;
  return 0;
}
static int a_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return ((const aobj *)a)->id == ((const aobj *)b)->id;
}
static void a_retain(void *ctx, void *o) {
  (void)ctx;
  atomic_fetch_add_explicit(&((aobj *)o)->refs, 1, memory_order_relaxed);
}
/* Set when the cache released a reference it did not hold; checked by the
 * main thread after the joins (a worker thread must not assert). */
static _Atomic int over_released;
static void a_release(void *ctx, void *o) {
  (void)ctx;
  int before = atomic_fetch_sub_explicit(&((aobj *)o)->refs, 1, memory_order_acq_rel);
  if (before <= 1) atomic_fetch_add(&over_released, 1);
}

/* ---- the workers ------------------------------------------------------------------ */

static void bytes_step(worker *w, uint64_t x) {
  uint64_t k = (x >> 8) % KEYS;
  unsigned op = (unsigned)(x % 1000);
  uint64_t val[2] = {k, x};
  int rc;
  if (op < 350) {
    rc = macho_put(w->c, &k, sizeof k, val, sizeof val);
    if (rc == MACHO_OK) w->t.puts++;
    else w->bad++;
  } else if (op < 400) {
    rc = macho_put_ttl(w->c, &k, sizeof k, val, sizeof val, (double)(x >> 40 & 3));
    if (rc == MACHO_OK) w->t.puts++;
    else w->bad++;
  } else if (op < 800) {
    uint64_t got[2] = {0, 0};
    size_t n = 0;
    rc = macho_get(w->c, &k, sizeof k, got, sizeof got, &n);
    w->t.gets++;
    if (rc == MACHO_OK) {
      w->t.hits++;
      if (n != sizeof got || got[0] != k) w->bad++;
    } else if (rc != MACHO_ENOTFOUND) {
      w->bad++;
    }
  } else if (op < 880) {
    rc = macho_contains(w->c, &k, sizeof k);
    if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) w->bad++;
  } else if (op < 960) {
    rc = macho_delete(w->c, &k, sizeof k);
    if (rc == MACHO_OK) w->t.deletes++;
    else if (rc != MACHO_ENOTFOUND) w->bad++;
  } else if (op < 975) {
    if (macho_len(w->c) > CAPACITY) w->bad++;
  } else if (op < 990) {
    macho_counters ct;
    if (macho_counters_get(w->c, (int)((x >> 20) % SHARDS), &ct) != MACHO_OK) w->bad++;
    if (ct.entries > ct.capacity_entries) w->bad++;
  } else if (op < 998) {
    if (macho_expire(w->c, NULL) != MACHO_OK) w->bad++;
  } else if ((x >> 32) % 50 == 0) { /* rare: 1 call in 25000 */
    if (macho_clear(w->c) != MACHO_OK) w->bad++;
  }
}

static void object_step(worker *w, uint64_t x) {
  uint64_t i = (x >> 8) % KEYS;
  aobj *k = (x >> 50) & 1 ? &keys_a[i] : &keys_b[i];
  unsigned op = (unsigned)(x % 1000);
  int rc;
  if (op < 400) {
    rc = (x >> 45) & 7 ? macho_obj_put(w->c, k, &vals[i])
                       : macho_obj_put_ttl(w->c, k, &vals[i], (double)(x >> 40 & 3));
    if (rc == MACHO_OK) w->t.puts++;
    else w->bad++;
  } else if (op < 800) {
    void *v = NULL;
    rc = macho_obj_get(w->c, k, &v);
    w->t.gets++;
    if (rc == MACHO_OK) {
      w->t.hits++;
      if (!v || ((aobj *)v)->id != i) w->bad++;
      if (v) a_release(NULL, v);
    } else if (rc != MACHO_ENOTFOUND) {
      w->bad++;
    }
  } else if (op < 880) {
    rc = macho_obj_contains(w->c, k);
    if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) w->bad++;
  } else if (op < 960) {
    rc = macho_obj_delete(w->c, k);
    if (rc == MACHO_OK) w->t.deletes++;
    else if (rc != MACHO_ENOTFOUND) w->bad++;
  } else if (op < 990) {
    if (macho_len(w->c) > CAPACITY) w->bad++;
  } else if (op < 998) {
    if (macho_expire(w->c, NULL) != MACHO_OK) w->bad++;
  } else if ((x >> 32) % 50 == 0) { /* rare: 1 call in 25000 */
    if (macho_clear(w->c) != MACHO_OK) w->bad++;
  }
}

static void *work(void *arg) {
  worker *w = arg;
  uint64_t rng = w->seed;
  for (int it = 0; it < w->iters; it++) {
    uint64_t x = test_rand(&rng);
    if (w->objects) object_step(w, x);
    else bytes_step(w, x);
  }
  return NULL;
}

static _Atomic int clock_stop;
static void *tick(void *arg) {
  (void)arg;
  while (!atomic_load(&clock_stop)) {
    atomic_fetch_add_explicit(&now_ns, 1000000, memory_order_relaxed); /* 1 ms per tick */
    sched_yield();
  }
  return NULL;
}

static void run_stress(bool objects) {
  static const macho_object_ops ops = {a_hash, a_equal, a_retain, a_release, NULL};
  for (int i = 0; i < KEYS; i++) {
    atomic_store(&keys_a[i].refs, 1);
    atomic_store(&keys_b[i].refs, 1);
    atomic_store(&vals[i].refs, 1);
    keys_a[i].id = keys_b[i].id = vals[i].id = (uint64_t)i;
  }
  atomic_store(&now_ns, 1);
  atomic_store(&clock_stop, 0);
  atomic_store(&over_released, 0);
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = CAPACITY;
  cfg.shards = SHARDS;
  cfg.ttl_seconds = 2;
  cfg.seed = test_seed();
  cfg.clock = atomic_clock;
  cfg.object_ops = objects ? &ops : NULL;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);

  pthread_t clock_thread;
  assert_int_equal(pthread_create(&clock_thread, NULL, tick, NULL), 0);
  static worker ws[THREADS];
  for (int i = 0; i < THREADS; i++) {
    ws[i] = (worker){.c = c, .seed = test_seed() * 31 + (uint64_t)i, .iters = iterations(), .objects = objects};
    if (pthread_create(&ws[i].tid, NULL, work, &ws[i]) != 0) abort(); /* cannot unwind past running threads */
  }
  tally sum = {0, 0, 0, 0};
  /* Join everything before any assertion can leave this function. */
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_join(ws[i].tid, NULL), 0);
  atomic_store(&clock_stop, 1);
  assert_int_equal(pthread_join(clock_thread, NULL), 0);
  assert_int_equal(atomic_load(&over_released), 0);
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(ws[i].bad, 0);
    sum.gets += ws[i].t.gets;
    sum.hits += ws[i].t.hits;
    sum.puts += ws[i].t.puts;
    sum.deletes += ws[i].t.deletes;
  }

  macho_counters ct;
  assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
  assert_int_equal(ct.gets, sum.gets);
  assert_int_equal(ct.hits, sum.hits);
  assert_int_equal(ct.hits + ct.misses, ct.gets);
  assert_int_equal(ct.puts, sum.puts);
  assert_int_equal(ct.deletes, sum.deletes);
  assert_int_equal(ct.requests, ct.gets + ct.puts);
  assert_true(ct.entries <= CAPACITY);
  assert_int_equal(ct.entries, macho_len(c));
  assert_true(ct.evictions + ct.expirations > 0);
  assert_true(ct.hits > 0);
  for (int s = 0; s < SHARDS; s++) {
    macho_counters sc;
    assert_int_equal(macho_counters_get(c, s, &sc), MACHO_OK);
    assert_true(sc.entries <= sc.capacity_entries);
  }
  if (objects) {
    int held = 0;
    for (int i = 0; i < KEYS; i++)
      held += atomic_load(&keys_a[i].refs) - 1 + atomic_load(&keys_b[i].refs) - 1 + atomic_load(&vals[i].refs) - 1;
    assert_int_equal(held, 2 * (int)macho_len(c)); /* one key and one value per entry */
  }
  macho_close(c);
  for (int i = 0; i < KEYS && objects; i++) {
    assert_int_equal(atomic_load(&keys_a[i].refs), 1);
    assert_int_equal(atomic_load(&keys_b[i].refs), 1);
    assert_int_equal(atomic_load(&vals[i].refs), 1);
  }
}

static void threads_sharing_a_bytes_cache_keep_its_invariants(void **state) {
  (void)state;
  run_stress(false);
}

static void threads_sharing_an_object_cache_keep_its_invariants_and_refcounts(void **state) {
  (void)state;
  run_stress(true);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(threads_sharing_a_bytes_cache_keep_its_invariants),
      cmocka_unit_test(threads_sharing_an_object_cache_keep_its_invariants_and_refcounts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
