/*
 * test_concurrency_budget.c -- a byte budget that holds at every instant,
 * under threads, in bytes mode and in object mode (a weigher), and a
 * memory figure that is exactly what the allocator hooks saw.
 *
 * Writers put values of every size (inline, arena, huge), delete and get;
 * a monitor thread reads each shard's counters as fast as it can (each
 * read is one consistent state of its shard, taken under its lock) and
 * counts any instant where what the entries are charged exceeds the
 * shard's budget. At the end the charges are recomputed from the entries
 * themselves with the documented formula, and memory_bytes is compared
 * with the test allocator's live bytes. Workers record; main asserts.
 */
#include "support.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITERS 3
#define SHARDS 4

/* The documented charge (macho.h: MACHO_ENTRY_OVERHEAD), computed apart
 * from the library: 0 up to 8 bytes, the size class up to 64 KiB (multiples
 * of 8 to 64, then four classes per power of two), len + 8 beyond. */
static uint64_t part(uint64_t n) {
  if (n <= 8) return 0;
  if (n <= 64) return (n + 7) / 8 * 8;
  if (n <= 65536) {
    uint64_t p = 64;
    while (p * 2 < n) p *= 2; /* p < n <= 2p */
    uint64_t q = p / 4;
    return p + (n - p + q - 1) / q * q;
  }
  return n + 8;
}
static uint64_t charge(uint64_t klen, uint64_t vlen) { return MACHO_ENTRY_OVERHEAD + part(klen) + part(vlen); }

typedef struct shared {
  macho_cache *c;
  _Atomic int stop, started, active; /* monitor started; writers running */
  _Atomic uint64_t reads, over, bad;
  bool objects;
} shared;

static void *monitor(void *arg) {
  shared *s = arg;
  atomic_store(&s->started, 1);
  while (!atomic_load(&s->stop)) {
    for (int i = 0; i < SHARDS; i++) {
      macho_counters ct;
      bool during = atomic_load(&s->active) > 0;
      if (macho_counters_get(s->c, i, &ct) != MACHO_OK) atomic_fetch_add(&s->bad, 1);
      else if (ct.charged_bytes > ct.capacity_bytes) atomic_fetch_add(&s->over, 1);
      if (during) atomic_fetch_add(&s->reads, 1); /* a read while writers ran */
    }
  }
  return NULL;
}

/* ---- object mode: objects that know their weight --------------------------------- */
typedef struct wobj {
  _Atomic int refs;
  uint32_t id;
  uint64_t weight;
} wobj;
static int w_hash(void *ctx, const void *k, uint64_t *out) {
  (void)ctx;
  *out = ((const wobj *)k)->id;
  return 0;
}
static int w_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return ((const wobj *)a)->id == ((const wobj *)b)->id;
}
static void w_retain(void *ctx, void *o) {
  (void)ctx;
  atomic_fetch_add(&((wobj *)o)->refs, 1);
}
static void w_release(void *ctx, void *o) {
  (void)ctx;
  if (atomic_fetch_sub(&((wobj *)o)->refs, 1) == 1) free(o);
}
static int w_weigh(void *ctx, const void *key, const void *value, uint64_t *out) {
  (void)ctx;
  *out = ((const wobj *)key)->weight + (value ? ((const wobj *)value)->weight : 0);
  return 0;
}
static wobj *wnew(uint32_t id, uint64_t weight) {
  wobj *o = malloc(sizeof *o);
  atomic_init(&o->refs, 1);
  o->id = id;
  o->weight = weight;
  return o;
}

typedef struct writer {
  shared *s;
  uint64_t seed;
} writer;

static void *write_loop(void *arg) {
  writer *w = arg;
  shared *s = w->s;
  while (!atomic_load(&s->started)) sched_yield(); /* the monitor watches from the first put */
  atomic_fetch_add(&s->active, 1);
  uint64_t rng = w->seed;
  static char v[70000]; /* read only by the cache: all writers may share it */
  uint64_t iters = test_scale(40000, 8);
  for (uint64_t i = 0; i < iters; i++) {
    uint64_t r = test_rand(&rng);
    uint32_t k = (uint32_t)((r >> 8) % 2000);
    unsigned op = (unsigned)(r % 100);
    int rc;
    if (s->objects) {
      wobj probe = {1, k, 0};
      if (op < 60) {
        /* A replace keeps the first key object (as a dict does): keys of
         * one id weigh the same, so the charges can be recomputed. */
        wobj *key = wnew(k, 8 + k % 64), *val = wnew(k, (r >> 30) % 5000);
        rc = macho_obj_put(s->c, key, val);
        w_release(NULL, key);
        w_release(NULL, val);
        if (rc != MACHO_OK && rc != MACHO_ETOOBIG) atomic_fetch_add(&s->bad, 1);
      } else if (op < 75) {
        rc = macho_obj_delete(s->c, &probe);
        if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) atomic_fetch_add(&s->bad, 1);
      } else {
        void *got = NULL;
        rc = macho_obj_get(s->c, &probe, &got);
        if (rc == MACHO_OK) {
          if (((wobj *)got)->id != k) atomic_fetch_add(&s->bad, 1);
          w_release(NULL, got);
        } else if (rc != MACHO_ENOTFOUND) {
          atomic_fetch_add(&s->bad, 1);
        }
      }
      continue;
    }
    if (op < 60) {
      size_t vlen = (r >> 20) % 100 < 3 ? 66000 + (r >> 40) % 3000 : (size_t)((r >> 24) % 3000);
      size_t klen = 4 + (r >> 50) % 20; /* some keys inline, some in the arena */
      char key[32] = {0};
      memcpy(key, &k, 4);
      rc = macho_put(s->c, key, klen, v, vlen);
      if (rc != MACHO_OK && rc != MACHO_ETOOBIG) atomic_fetch_add(&s->bad, 1);
    } else if (op < 75) {
      char key[32] = {0};
      memcpy(key, &k, 4);
      rc = macho_delete(s->c, key, 4 + (r >> 50) % 20);
      if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) atomic_fetch_add(&s->bad, 1);
    } else {
      char key[32] = {0}, buf[4096];
      memcpy(key, &k, 4);
      size_t n;
      rc = macho_get(s->c, key, 4 + (r >> 50) % 20, buf, sizeof buf, &n);
      if (rc != MACHO_OK && rc != MACHO_ENOTFOUND && rc != MACHO_ERANGE) atomic_fetch_add(&s->bad, 1);
    }
    if (i % 512 == 0) sched_yield(); /* let the monitor in on a loaded machine */
  }
  atomic_fetch_sub(&s->active, 1);
  return NULL;
}

typedef struct sum {
  uint64_t charged;
  uint64_t entries;
  bool objects;
} sum;
static int add_charge(void *ctx, const macho_entry_view *e) {
  sum *s = ctx;
  if (s->objects) {
    const wobj *k = e->key, *v = e->value;
    s->charged += MACHO_ENTRY_OVERHEAD + k->weight + (v ? v->weight : 0);
  } else {
    s->charged += charge(e->klen, e->vlen);
  }
  s->entries++;
  return 0;
}

static void run(bool objects) {
  test_alloc ta = {0};
  macho_allocator hooks = test_alloc_hooks(&ta);
  macho_object_ops ops = {w_hash, w_equal, w_retain, w_release, NULL};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 100000;
  cfg.capacity_bytes = SHARDS * 200000;
  cfg.shards = SHARDS;
  cfg.ttl_seconds = 0;
  cfg.allocator = &hooks;
  cfg.seed = test_seed();
  if (objects) {
    cfg.object_ops = &ops;
    cfg.weigh = w_weigh;
  }
  shared s = {0};
  s.objects = objects;
  assert_int_equal(macho_open(&cfg, &s.c), MACHO_OK);
  pthread_t mon, th[WRITERS];
  writer w[WRITERS];
  assert_int_equal(pthread_create(&mon, NULL, monitor, &s), 0);
  for (int i = 0; i < WRITERS; i++) {
    w[i].s = &s;
    w[i].seed = test_seed() + 1000u * (uint64_t)i + (objects ? 17 : 0);
    assert_int_equal(pthread_create(&th[i], NULL, write_loop, &w[i]), 0);
  }
  for (int i = 0; i < WRITERS; i++) pthread_join(th[i], NULL);
  atomic_store(&s.stop, 1);
  pthread_join(mon, NULL);
  assert_int_equal(atomic_load(&s.bad), 0);
  assert_int_equal(atomic_load(&s.over), 0); /* never over, at any instant seen */
  assert_true(atomic_load(&s.reads) > 0); /* it did watch while they wrote */
  /* The charges add up, by the documented formula. */
  sum total = {0, 0, objects};
  assert_int_equal(macho_foreach_entry(s.c, add_charge, &total), MACHO_OK);
  macho_counters ct = test_counters(s.c);
  assert_int_equal(ct.charged_bytes, total.charged);
  assert_int_equal(ct.entries, total.entries);
  assert_true(ct.charged_bytes <= cfg.capacity_bytes);
  assert_true(ct.charged_bytes > cfg.capacity_bytes / 2); /* the budget was the limit */
  /* The memory figure is what the allocator hooks hold. */
  assert_int_equal(ct.memory_bytes, (uint64_t)atomic_load(&ta.live_bytes));
  fprintf(stderr, "# %s: %llu budget reads, never over; %llu entries charged %llu of %llu bytes; memory %llu\n",
          objects ? "objects" : "bytes", (unsigned long long)atomic_load(&s.reads), (unsigned long long)ct.entries,
          (unsigned long long)ct.charged_bytes, (unsigned long long)cfg.capacity_bytes,
          (unsigned long long)ct.memory_bytes);
  macho_close(s.c);
  assert_int_equal(atomic_load(&ta.live_blocks), 0);
}

static void the_byte_budget_holds_at_every_instant_in_bytes_mode(void **state) {
  (void)state;
  run(false);
}

static void the_byte_budget_holds_at_every_instant_in_object_mode(void **state) {
  (void)state;
  run(true);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_byte_budget_holds_at_every_instant_in_bytes_mode),
      cmocka_unit_test(the_byte_budget_holds_at_every_instant_in_object_mode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
