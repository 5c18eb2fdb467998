/*
 * test_load.c -- get-or-load on one thread: a miss loads once and caches,
 * errors reach the caller and cache nothing, negative answers are
 * remembered for their own TTL, loaders may use the cache (but not wait on
 * their own key), puts win over a load they overtake, and refresh-ahead
 * (injected clock, a test executor that runs the jobs when told) serves the
 * stale value while exactly one reload runs. Threads: test_concurrency_load.c.
 */
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct source {
  int calls;
  int fail;          /* next loads fail with this status (0 = succeed) */
  const char *value; /* what a successful load returns; NULL = absent */
  double ttl;        /* >= 0: macho_loaded_set_ttl */
  macho_cache *c;    /* for loaders that use the cache */
  const char *put_meanwhile;
} source;

static int load(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  source *s = ctx;
  s->calls++;
  if (s->put_meanwhile) {
    int rc = macho_put(s->c, key, klen, s->put_meanwhile, strlen(s->put_meanwhile));
    assert_int_equal(rc, MACHO_OK);
  }
  if (s->fail) return s->fail;
  if (!s->value) return MACHO_ENOTFOUND;
  if (s->ttl >= 0) assert_int_equal(macho_loaded_set_ttl(out, s->ttl), MACHO_OK);
  return macho_loaded_set(out, s->value, strlen(s->value));
}

static macho_cache *open_cache(test_clock *clk, double negative_ttl, double refresh_after,
                               macho_executor_fn exec, void *exec_ctx) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 100;
  cfg.ttl_seconds = 10;
  cfg.clock = test_clock_fn;
  cfg.clock_ctx = clk;
  cfg.negative_ttl_seconds = negative_ttl;
  cfg.refresh_after_seconds = refresh_after;
  cfg.refresh_executor = exec;
  cfg.refresh_executor_ctx = exec_ctx;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static int gol(macho_cache *c, const char *key, source *s, char *buf, size_t *n) {
  macho_loader ld = {load, s, NULL, NULL, NULL, NULL};
  *n = 0;
  int rc = macho_get_or_load(c, key, strlen(key), &ld, buf, 64, n);
  if (rc == MACHO_OK) buf[*n] = '\0';
  return rc;
}

static void a_miss_loads_once_and_caches_the_value(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_cache *c = open_cache(&clk, 0, 0, NULL, NULL);
  source s = {.value = "loaded value", .ttl = -1};
  char buf[64];
  size_t n;
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_string_equal(buf, "loaded value");
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_int_equal(s.calls, 1);
  assert_int_equal(macho_get(c, "k", 1, buf, sizeof buf, &n), MACHO_OK); /* it is in the cache */
  macho_counters ct = test_counters(c);
  assert_int_equal(ct.misses, 1);
  assert_int_equal(ct.hits, 2);
  /* The cache's TTL applies, or the loader's own. */
  double left;
  assert_int_equal(macho_ttl_get(c, "k", 1, &left), MACHO_OK);
  assert_true(fabs(left - 10) < 1e-3);
  s.ttl = 2;
  assert_int_equal(gol(c, "k2", &s, buf, &n), MACHO_OK);
  assert_int_equal(macho_ttl_get(c, "k2", 2, &left), MACHO_OK);
  assert_true(fabs(left - 2) < 1e-3);
  /* A short buffer: ERANGE with the length, and the value is cached. */
  macho_loader ld = {load, &s, NULL, NULL, NULL, NULL};
  s.value = "0123456789";
  assert_int_equal(macho_get_or_load(c, "k3", 2, &ld, buf, 4, &n), MACHO_ERANGE);
  assert_int_equal(n, 10);
  assert_int_equal(macho_get(c, "k3", 2, buf, sizeof buf, &n), MACHO_OK);
  macho_close(c);
}

static void a_loaders_error_reaches_the_caller_and_nothing_is_cached(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_cache *c = open_cache(&clk, 5, 0, NULL, NULL);
  source s = {.value = "v", .ttl = -1, .fail = -42};
  char buf[64];
  size_t n;
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_ECALLBACK);
  assert_int_equal(macho_len(c), 0);
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_ECALLBACK); /* an error is not remembered */
  assert_int_equal(s.calls, 2);
  s.fail = 0;
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_string_equal(buf, "v");
  macho_close(c);
}

static void negative_answers_are_remembered_for_their_own_ttl(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_cache *c = open_cache(&clk, 2.0, 0, NULL, NULL);
  source s = {.value = NULL, .ttl = -1};
  char buf[64];
  size_t n;
  assert_int_equal(gol(c, "gone", &s, buf, &n), MACHO_ENOTFOUND);
  assert_int_equal(gol(c, "gone", &s, buf, &n), MACHO_ENOTFOUND);
  assert_int_equal(s.calls, 1);             /* remembered */
  clk.now_ns += 1999000000ull;
  assert_int_equal(gol(c, "gone", &s, buf, &n), MACHO_ENOTFOUND);
  assert_int_equal(s.calls, 1);
  clk.now_ns += 1000000ull;                 /* 2 s: forgotten */
  s.value = "back";
  assert_int_equal(gol(c, "gone", &s, buf, &n), MACHO_OK);
  assert_int_equal(s.calls, 2);
  /* A put forgets a negative answer, and so does a delete. */
  s.value = NULL;
  assert_int_equal(gol(c, "x", &s, buf, &n), MACHO_ENOTFOUND);
  assert_int_equal(macho_put(c, "x", 1, "put", 3), MACHO_OK);
  assert_int_equal(macho_delete(c, "x", 1), MACHO_OK);
  s.value = "reloaded";
  assert_int_equal(gol(c, "x", &s, buf, &n), MACHO_OK);
  assert_string_equal(buf, "reloaded");
  assert_int_equal(s.calls, 4);
  macho_close(c);
  /* Without negative caching every miss asks again. */
  c = open_cache(&clk, 0, 0, NULL, NULL);
  s.value = NULL;
  s.calls = 0;
  assert_int_equal(gol(c, "gone", &s, buf, &n), MACHO_ENOTFOUND);
  assert_int_equal(gol(c, "gone", &s, buf, &n), MACHO_ENOTFOUND);
  assert_int_equal(s.calls, 2);
  macho_close(c);
}

/* A loader for "a" that fetches "b" through get_or_load (a real chain). */
typedef struct chain {
  macho_cache *c;
  int calls_a, calls_b;
  int inner_rc;
  const char *inner_key; /* what the loader of "a" asks for */
} chain;

static int load_b(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  (void)key;
  (void)klen;
  chain *ch = ctx;
  ch->calls_b++;
  return macho_loaded_set(out, "B", 1);
}

static int load_a(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  (void)key;
  (void)klen;
  chain *ch = ctx;
  ch->calls_a++;
  char buf[8];
  size_t n;
  bool same = strcmp(ch->inner_key, "a") == 0;
  macho_loader ld = {same ? load_a : load_b, ch, NULL, NULL, NULL, NULL};
  ch->inner_rc = macho_get_or_load(ch->c, ch->inner_key, strlen(ch->inner_key), &ld, buf, sizeof buf, &n);
  if (ch->inner_rc != MACHO_OK) return ch->inner_rc;
  return macho_loaded_set(out, "A+B", 3);
}

static void a_loader_may_use_the_cache_for_other_keys(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_cache *c = open_cache(&clk, 0, 0, NULL, NULL);
  chain ch = {c, 0, 0, -99, "b"};
  macho_loader ld = {load_a, &ch, NULL, NULL, NULL, NULL};
  char buf[8];
  size_t n;
  assert_int_equal(macho_get_or_load(c, "a", 1, &ld, buf, sizeof buf, &n), MACHO_OK);
  assert_int_equal(n, 3);
  assert_memory_equal(buf, "A+B", 3);
  assert_int_equal(ch.inner_rc, MACHO_OK);
  assert_int_equal(ch.calls_a, 1);
  assert_int_equal(ch.calls_b, 1);
  assert_int_equal(macho_get(c, "b", 1, buf, sizeof buf, &n), MACHO_OK);
  macho_close(c);
}

static void a_loader_asking_for_its_own_key_gets_edeadlk(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_cache *c = open_cache(&clk, 0, 0, NULL, NULL);
  chain ch = {c, 0, 0, -99, "a"};
  macho_loader ld = {load_a, &ch, NULL, NULL, NULL, NULL};
  char buf[8];
  size_t n;
  /* The inner call fails at once instead of waiting for itself; the outer
   * loader passes that failure on, so the caller sees ECALLBACK. */
  assert_int_equal(macho_get_or_load(c, "a", 1, &ld, buf, sizeof buf, &n), MACHO_ECALLBACK);
  assert_int_equal(ch.inner_rc, MACHO_EDEADLK);
  assert_int_equal(ch.calls_a, 1);
  assert_int_equal(macho_len(c), 0);
  assert_string_equal(macho_status_name(MACHO_EDEADLK), "EDEADLK");
  macho_close(c);
}

static void a_put_made_during_a_load_is_not_overwritten(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_cache *c = open_cache(&clk, 0, 0, NULL, NULL);
  source s = {.value = "loaded", .ttl = -1, .put_meanwhile = "put meanwhile"};
  s.c = c;
  char buf[64];
  size_t n;
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_string_equal(buf, "loaded"); /* the caller gets what the loader said */
  assert_int_equal(macho_get(c, "k", 1, buf, sizeof buf, &n), MACHO_OK);
  assert_int_equal(n, strlen("put meanwhile")); /* but the newer put stays */
  assert_memory_equal(buf, "put meanwhile", n);
  macho_close(c);
}

/* ---- refresh-ahead with a test executor ------------------------------------------- */
typedef struct executor {
  macho_refresh *jobs[16];
  int n;
} executor;

static void submit(void *ctx, macho_refresh *job) {
  executor *e = ctx;
  assert_true(e->n < 16);
  e->jobs[e->n++] = job;
}

static void refresh_ahead_serves_the_stale_value_and_reloads_once(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  executor ex = {0};
  macho_cache *c = open_cache(&clk, 0, 3.0, submit, &ex);
  source s = {.value = "v1", .ttl = -1};
  char buf[64];
  size_t n;
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_int_equal(s.calls, 1);
  clk.now_ns += 2999000000ull; /* not yet due */
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_int_equal(ex.n, 0);
  clk.now_ns += 1000000ull; /* 3 s since the write: due */
  s.value = "v2";
  for (int i = 0; i < 5; i++) { /* each read answers at once, with the current value */
    assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
    assert_string_equal(buf, "v1");
  }
  assert_int_equal(ex.n, 1); /* one reload queued, however many reads */
  assert_int_equal(s.calls, 1);
  macho_refresh_run(ex.jobs[0]);
  assert_int_equal(s.calls, 2);
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_string_equal(buf, "v2"); /* replaced */
  assert_int_equal(ex.n, 1);     /* and fresh again */
  macho_close(c);
}

static void a_failed_reload_keeps_the_old_value_until_its_ttl(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  executor ex = {0};
  macho_cache *c = open_cache(&clk, 0, 1.0, submit, &ex); /* TTL 10 s */
  source s = {.value = "v1", .ttl = -1};
  char buf[64];
  size_t n;
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  clk.now_ns += 1000000000ull;
  s.fail = -5;
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_int_equal(ex.n, 1);
  macho_refresh_run(ex.jobs[0]);
  assert_int_equal(s.calls, 2);
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK);
  assert_string_equal(buf, "v1"); /* the old value stays */
  assert_int_equal(ex.n, 2);     /* still due: the next read tries again */
  macho_refresh_cancel(ex.jobs[1]); /* a cancelled job changes nothing */
  assert_int_equal(s.calls, 2);
  clk.now_ns += 9000000000ull;   /* 10 s after the write: expired */
  s.fail = 0;
  s.value = "v3";
  assert_int_equal(gol(c, "k", &s, buf, &n), MACHO_OK); /* a miss: loaded now, in this call */
  assert_string_equal(buf, "v3");
  assert_int_equal(s.calls, 3);
  macho_close(c);
}

/* The cache's own thread runs the reload: wait for it on a condition. */
#include <pthread.h>
typedef struct slow {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  const char *value;
} slow;

static int load_slow(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  (void)key;
  (void)klen;
  slow *s = ctx;
  pthread_mutex_lock(&s->mu);
  s->calls++;
  const char *v = s->value;
  pthread_mutex_unlock(&s->mu);
  int rc = macho_loaded_set(out, v, strlen(v));
  pthread_mutex_lock(&s->mu);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static void the_caches_own_thread_runs_reloads(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_cache *c = open_cache(&clk, 0, 1.0, NULL, NULL);
  slow s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "v1"};
  macho_loader ld = {load_slow, &s, NULL, NULL, NULL, NULL};
  char buf[16];
  size_t n;
  assert_int_equal(macho_get_or_load(c, "k", 1, &ld, buf, sizeof buf, &n), MACHO_OK);
  pthread_mutex_lock(&s.mu);
  s.value = "v2";
  pthread_mutex_unlock(&s.mu);
  clk.now_ns += 1000000000ull;
  assert_int_equal(macho_get_or_load(c, "k", 1, &ld, buf, sizeof buf, &n), MACHO_OK);
  assert_memory_equal(buf, "v1", 2);
  pthread_mutex_lock(&s.mu);
  while (s.calls < 2) pthread_cond_wait(&s.cv, &s.mu); /* the reload ran, elsewhere */
  pthread_mutex_unlock(&s.mu);
  /* Its put follows the loader's return: poll the cache until it shows. */
  for (int i = 0; i < 1000000; i++) {
    assert_int_equal(macho_peek(c, "k", 1, buf, sizeof buf, &n), MACHO_OK);
    if (buf[1] == '2') break;
    sched_yield();
  }
  assert_memory_equal(buf, "v2", 2);
  macho_close(c); /* joins the thread */
}

static void bad_arguments_are_refused(void **state) {
  (void)state;
  test_clock clk = {1000000000ull};
  macho_cache *c = open_cache(&clk, 0, 0, NULL, NULL);
  source s = {.value = "v", .ttl = -1};
  macho_loader ld = {load, &s, NULL, NULL, NULL, NULL}, none = {NULL, NULL, NULL, NULL, NULL, NULL};
  char buf[8];
  size_t n;
  assert_int_equal(macho_get_or_load(NULL, "k", 1, &ld, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_get_or_load(c, NULL, 1, &ld, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_get_or_load(c, "k", 1, NULL, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_get_or_load(c, "k", 1, &none, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_get_or_load(c, "k", 1, &ld, NULL, 4, &n), MACHO_EINVAL);
  void *v;
  assert_int_equal(macho_obj_get_or_load(c, "k", &ld, &v), MACHO_EMODE);
  assert_int_equal(s.calls, 0);
  assert_int_equal(macho_loaded_set(NULL, "x", 1), MACHO_EINVAL);
  assert_int_equal(macho_loaded_set_ttl(NULL, 1), MACHO_EINVAL);
  macho_close(c);
  macho_config cfg;
  macho_config_init(&cfg);
  const char *why = NULL;
  cfg.negative_ttl_seconds = -1;
  assert_int_equal(macho_config_check(&cfg, &why), MACHO_EINVAL);
  assert_non_null(strstr(why, "negative_ttl_seconds"));
  cfg.negative_ttl_seconds = 0;
  cfg.refresh_after_seconds = NAN;
  assert_int_equal(macho_config_check(&cfg, &why), MACHO_EINVAL);
  cfg.refresh_after_seconds = 0;
  cfg.refresh_executor = submit;
  assert_int_equal(macho_config_check(&cfg, &why), MACHO_EINVAL);
  assert_non_null(strstr(why, "refresh_executor"));
}

/* Object mode: the loader hands an object over; its error object reaches
 * the caller. */
typedef struct ob {
  int refs, id;
} ob;
static int ob_hash(void *ctx, const void *k, uint64_t *out) {
  (void)ctx;
  *out = (uint64_t)((const ob *)k)->id;
  return 0;
}
static int ob_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return ((const ob *)a)->id == ((const ob *)b)->id;
}
static void ob_retain(void *ctx, void *o) {
  (void)ctx;
  ((ob *)o)->refs++;
}
static void ob_release(void *ctx, void *o) {
  (void)ctx;
  ((ob *)o)->refs--;
}
typedef struct ob_src {
  ob *value, *error;
  int calls;
} ob_src;
static int ob_load(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  (void)key;
  (void)klen;
  ob_src *s = ctx;
  s->calls++;
  if (s->error) {
    assert_int_equal(macho_loaded_set_obj(out, s->error), MACHO_OK);
    return -100; /* any status but MACHO_OK and MACHO_ENOTFOUND is a failure */
  }
  return macho_loaded_set_obj(out, s->value);
}

static void object_mode_loads_objects_and_passes_error_objects(void **state) {
  (void)state;
  macho_object_ops ops = {ob_hash, ob_equal, ob_retain, ob_release, NULL};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.object_ops = &ops;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  ob key = {1, 7}, val = {1, 70}, err = {1, -1};
  ob_src s = {&val, &err, 0};
  macho_loader ld = {ob_load, &s, NULL, NULL, NULL, NULL};
  void *got = NULL;
  assert_int_equal(macho_obj_get_or_load(c, &key, &ld, &got), MACHO_ECALLBACK);
  assert_ptr_equal(got, &err);
  ob_release(NULL, got);
  assert_int_equal(err.refs, 1); /* everything handed back */
  assert_int_equal(macho_len(c), 0);
  s.error = NULL;
  assert_int_equal(macho_obj_get_or_load(c, &key, &ld, &got), MACHO_OK);
  assert_ptr_equal(got, &val);
  ob_release(NULL, got);
  assert_int_equal(val.refs, 2); /* ours, the cache's */
  assert_int_equal(macho_obj_get_or_load(c, &key, &ld, &got), MACHO_OK);
  ob_release(NULL, got);
  assert_int_equal(s.calls, 2);
  macho_close(c);
  assert_int_equal(val.refs, 1);
  assert_int_equal(key.refs, 1);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_miss_loads_once_and_caches_the_value),
      cmocka_unit_test(a_loaders_error_reaches_the_caller_and_nothing_is_cached),
      cmocka_unit_test(negative_answers_are_remembered_for_their_own_ttl),
      cmocka_unit_test(a_loader_may_use_the_cache_for_other_keys),
      cmocka_unit_test(a_loader_asking_for_its_own_key_gets_edeadlk),
      cmocka_unit_test(a_put_made_during_a_load_is_not_overwritten),
      cmocka_unit_test(refresh_ahead_serves_the_stale_value_and_reloads_once),
      cmocka_unit_test(a_failed_reload_keeps_the_old_value_until_its_ttl),
      cmocka_unit_test(the_caches_own_thread_runs_reloads),
      cmocka_unit_test(bad_arguments_are_refused),
      cmocka_unit_test(object_mode_loads_objects_and_passes_error_objects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
