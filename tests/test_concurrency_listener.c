/*
 * test_concurrency_listener.c -- the removal listener under threads: every
 * value ever written leaves through exactly one report, or is still in the
 * cache at the end.
 *
 * Every put writes a value no other put writes (a token: thread and
 * sequence number in its first 8 bytes), so the accounting is exact: the
 * tokens written must be, as a multiset, the tokens reported (as replaced,
 * evicted, expired, deleted, cleared) plus the tokens left in the cache,
 * each once. Four threads mix puts (short and long values, with TTLs),
 * gets, deletes, expires, clears and resizes while the main thread moves
 * the clock; each listener call also checks it runs on the thread whose
 * call caused it (it writes to that thread's log). Nothing asserts in a
 * worker: logs are compared in the main thread afterwards.
 */
#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define KEYS 600

static _Atomic uint64_t clock_ns = 1000000000ull;
static uint64_t atomic_clock(void *ctx) {
  (void)ctx;
  return atomic_load_explicit(&clock_ns, memory_order_relaxed);
}

typedef struct tlog {
  uint64_t *written;
  size_t nwritten, capw;
  uint64_t *reported;
  uint8_t *reasons;
  size_t nrep, caprep;
  uint64_t deletes_ok;
  uint64_t bad; /* calls that returned a status they must not */
} tlog;

static _Thread_local tlog *my_log;
static _Atomic uint64_t orphan_reports;

static void push(uint64_t **a, size_t *n, size_t *cap, uint64_t x) {
  if (*n == *cap) {
    *cap = *cap ? 2 * *cap : 4096;
    *a = realloc(*a, *cap * sizeof **a);
  }
  (*a)[(*n)++] = x;
}

static void listener(void *ctx, const void *key, size_t klen, const void *value, size_t vlen,
                     macho_removal reason) {
  (void)ctx;
  (void)key;
  (void)klen;
  tlog *l = my_log;
  if (!l) {
    atomic_fetch_add(&orphan_reports, 1);
    return;
  }
  uint64_t tok = 0;
  if (vlen >= 8) memcpy(&tok, value, 8);
  size_t before = l->nrep, cap = l->caprep;
  push(&l->reported, &l->nrep, &l->caprep, tok);
  if (l->caprep != cap || !l->reasons) l->reasons = realloc(l->reasons, l->caprep);
  l->reasons[before] = (uint8_t)reason;
}

typedef struct worker {
  macho_cache *c;
  int id;
  uint64_t seed;
  tlog log;
  uint64_t iters;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  my_log = &w->log;
  uint64_t rng = w->seed;
  uint64_t seq = 0;
  char big[300];
  memset(big, 'x', sizeof big);
  for (uint64_t i = 0; i < w->iters; i++) {
    uint64_t r = test_rand(&rng);
    uint32_t k = (uint32_t)((r >> 8) % KEYS);
    unsigned op = (unsigned)(r % 1000);
    if (op < 500) {
      uint64_t tok = ((uint64_t)(w->id + 1) << 48) | ++seq;
      size_t vlen = op < 100 ? 8 + (r >> 40) % 200 : 8;
      memcpy(big, &tok, 8);
      int rc = op < 50 ? macho_put_ttl(w->c, &k, 4, big, vlen, 0.001 * (double)(1 + (r >> 32) % 20))
                       : macho_put(w->c, &k, 4, big, vlen);
      if (rc == MACHO_OK) push(&w->log.written, &w->log.nwritten, &w->log.capw, tok);
      else w->log.bad++;
    } else if (op < 650) {
      int rc = macho_delete(w->c, &k, 4);
      if (rc == MACHO_OK) w->log.deletes_ok++;
      else if (rc != MACHO_ENOTFOUND) w->log.bad++;
    } else if (op < 995) {
      char buf[400];
      size_t n;
      int rc = macho_get(w->c, &k, 4, buf, sizeof buf, &n);
      if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) w->log.bad++;
    } else if (op < 997) {
      size_t n;
      if (macho_expire(w->c, &n) != MACHO_OK) w->log.bad++;
    } else if (op < 998 && w->id == 0) {
      if (macho_clear(w->c) != MACHO_OK) w->log.bad++;
    } else if (w->id == 1) {
      size_t cap = 100 + (size_t)((r >> 20) % 500);
      if (macho_resize(w->c, cap, MACHO_RESIZE_KEEP) != MACHO_OK) w->log.bad++;
    }
  }
  my_log = NULL;
  return NULL;
}

static int collect(void *ctx, const macho_entry_view *e) {
  tlog *l = ctx;
  uint64_t tok = 0;
  if (e->vlen >= 8) memcpy(&tok, e->value, 8);
  push(&l->reported, &l->nrep, &l->caprep, tok);
  return 0;
}

static int cmp64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void run(macho_policy policy) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 400;
  cfg.shards = 4;
  cfg.policy = policy;
  cfg.ttl_seconds = 0;
  cfg.clock = atomic_clock;
  cfg.on_remove = listener;
  cfg.seed = test_seed();
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  worker w[THREADS];
  pthread_t th[THREADS];
  uint64_t iters = test_scale(60000, 6);
  for (int i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].c = c;
    w[i].id = i;
    w[i].seed = test_seed() * 31 + (uint64_t)i + 7u * (uint64_t)policy;
    w[i].iters = iters;
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < 200; i++) {
    atomic_fetch_add(&clock_ns, 1000000ull); /* 1 ms steps: TTLs run out meanwhile */
    sched_yield();
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);

  /* What is left (expired entries reclaimed first: a listing skips them),
   * then every token accounted for exactly once. */
  tlog left = {0};
  my_log = &left;
  size_t reclaimed = 0;
  assert_int_equal(macho_expire(c, &reclaimed), MACHO_OK);
  my_log = NULL;
  assert_int_equal(left.nrep, reclaimed);
  assert_int_equal(macho_foreach_entry(c, collect, &left), MACHO_OK);
  size_t nw = 0, nr = left.nrep, deletes_ok = 0, deleted_reports = 0;
  for (int i = 0; i < THREADS; i++) {
    nw += w[i].log.nwritten;
    nr += w[i].log.nrep;
    deletes_ok += w[i].log.deletes_ok;
    assert_int_equal(w[i].log.bad, 0);
    for (size_t j = 0; j < w[i].log.nrep; j++) deleted_reports += w[i].log.reasons[j] == MACHO_REMOVED_DELETED;
  }
  assert_int_equal(atomic_load(&orphan_reports), 0); /* all on the calling threads */
  assert_int_equal(nw, nr);
  uint64_t *a = malloc(nw * sizeof *a), *b = malloc(nr * sizeof *b);
  size_t ia = 0, ib = 0;
  for (int i = 0; i < THREADS; i++) {
    memcpy(a + ia, w[i].log.written, w[i].log.nwritten * sizeof *a);
    ia += w[i].log.nwritten;
    memcpy(b + ib, w[i].log.reported, w[i].log.nrep * sizeof *b);
    ib += w[i].log.nrep;
  }
  memcpy(b + ib, left.reported, left.nrep * sizeof *b);
  qsort(a, nw, sizeof *a, cmp64);
  qsort(b, nr, sizeof *b, cmp64);
  for (size_t i = 0; i < nw; i++) {
    if (a[i] != b[i]) fail_msg("token %llx written, %llx accounted for", (unsigned long long)a[i], (unsigned long long)b[i]);
    if (i && a[i] == a[i - 1]) fail_msg("token written twice");
  }
  assert_int_equal(deletes_ok, deleted_reports); /* each successful delete reported once */
  fprintf(stderr, "# %s: %zu values written, every one reported once or still present (%zu)\n",
          macho_policy_name(policy), nw, left.nrep);
  free(a);
  free(b);
  for (int i = 0; i < THREADS; i++) {
    free(w[i].log.written);
    free(w[i].log.reported);
    free(w[i].log.reasons);
  }
  free(left.reported);
  free(left.reasons);
  cfg.on_remove = NULL;
  macho_close(c); /* reports the rest on this thread, which has no log: counted as orphans */
  atomic_store(&orphan_reports, 0);
}

static void every_written_value_is_reported_once_under_threads_lru(void **state) {
  (void)state;
  run(MACHO_POLICY_LRU);
}
static void every_written_value_is_reported_once_under_threads_wtinylfu(void **state) {
  (void)state;
  run(MACHO_POLICY_WTINYLFU);
}
static void every_written_value_is_reported_once_under_threads_sieve(void **state) {
  (void)state;
  run(MACHO_POLICY_SIEVE);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_written_value_is_reported_once_under_threads_lru),
      cmocka_unit_test(every_written_value_is_reported_once_under_threads_wtinylfu),
      cmocka_unit_test(every_written_value_is_reported_once_under_threads_sieve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
