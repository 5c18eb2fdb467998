/*
 * test_concurrency_tier.c -- many threads on one Redis tier, another
 * application writing the same keys, and faults in between; Redis is the
 * model.
 *
 * Each round: four threads get, put and delete a small set of keys through
 * one tier (three data connections, so keys share connections), while an
 * outside client writes and deletes the same keys, and the main thread may
 * inject a fault (kill the invalidation connection, kill the data
 * connections, FLUSHALL, a local flush). Every value names its key, so a
 * torn or misrouted value is caught at once; statuses other than OK,
 * ENOTFOUND (and EIO while a connection is being killed) are failures. The
 * threads record what they saw; the main thread asserts after joining them.
 *
 * Then quiescence: the fault is waited for (its L1 flush counted), tracking
 * is waited for, and a fence key written by the outside client is waited
 * for: Redis delivers invalidations to the one invalidation connection in
 * the order of the writes, so once the fence's has arrived every earlier
 * one has. At that point every key must read the same through the tier, in
 * L1 and in Redis. Seed: fixed, or MACHO_TEST_SEED (printed). Also run under
 * ThreadSanitizer by scripts/test.sh, with fewer operations.
 */
#include "support.h"
#include "tier_support.h"

#include <pthread.h>
#include <stdatomic.h>

#ifndef TIER_TEST_HAVE_HIREDIS
static void tier_is_not_built(void **state) {
  (void)state;
  print_message("[  SKIP    ] this build has no hiredis: no Redis tier to test\n");
  skip();
}
int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(tier_is_not_built)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else

enum { WORKERS = 4, KEYS = 48, ROUNDS = 8 };

static int ops_per_worker(void) {
  const char *s = getenv("MACHO_SANITIZED");
  return s && *s && *s != '0' ? 300 : 3000;
}

static tier_redis server;
static bool have_server;

typedef struct worker {
  pthread_t tid;
  macho_tier *t;
  uint64_t rng;
  int id, round, ops;
  bool faulty_round;
  /* what it saw, asserted by the main thread */
  uint64_t gets, hits, puts, deletes, eio;
  int bad;
  char bad_what[160];
} worker;

static void key_name(int k, char *buf, size_t n) { snprintf(buf, n, "k%02d", k); }

static void *worker_main(void *p) {
  worker *w = p;
  char key[16], val[96], buf[128];
  for (int i = 0; i < w->ops && !w->bad; i++) {
    int k = (int)(test_rand(&w->rng) % KEYS);
    key_name(k, key, sizeof key);
    uint64_t dice = test_rand(&w->rng) % 100;
    int rc;
    if (dice < 70) {
      size_t n = 0;
      rc = macho_tier_get(w->t, key, strlen(key), buf, sizeof buf - 1, &n);
      w->gets++;
      if (rc == MACHO_OK) {
        w->hits++;
        buf[n] = '\0';
        size_t kl = strlen(key);
        if (n <= kl || memcmp(buf, key, kl) != 0 || buf[kl] != '#') {
          w->bad = 1;
          snprintf(w->bad_what, sizeof w->bad_what, "get %s returned '%s'", key, buf);
        }
        continue;
      }
    } else if (dice < 90) {
      int n = snprintf(val, sizeof val, "%s#t%d-r%d-%d", key, w->id, w->round, i);
      rc = macho_tier_put(w->t, key, strlen(key), val, (size_t)n);
      if (rc == MACHO_OK) w->puts++;
    } else {
      rc = macho_tier_delete(w->t, key, strlen(key));
      if (rc == MACHO_OK) w->deletes++;
    }
    if (rc == MACHO_OK || rc == MACHO_ENOTFOUND) continue;
    if (rc == MACHO_EIO && w->faulty_round) {
      w->eio++;
      continue;
    }
    w->bad = 1;
    snprintf(w->bad_what, sizeof w->bad_what, "%s %s: %s", dice < 70 ? "get" : dice < 90 ? "put" : "delete", key,
             macho_status_name(rc));
  }
  return NULL;
}

typedef struct outsider {
  pthread_t tid;
  redisContext *c;
  uint64_t rng;
  int round, ops;
  _Atomic int stop;
  int failed;
} outsider;

static void *outsider_main(void *p) {
  outsider *o = p;
  char key[32];
  for (int i = 0; i < o->ops && !atomic_load(&o->stop); i++) {
    int k = (int)(test_rand(&o->rng) % KEYS);
    snprintf(key, sizeof key, "conc:k%02d", k);
    redisReply *r;
    if (test_rand(&o->rng) % 8 == 0)
      r = redisCommand(o->c, "DEL %s", key);
    else
      r = redisCommand(o->c, "SET %s k%02d#outside-r%d-%d", key, k, o->round, i);
    if (!r || r->type == REDIS_REPLY_ERROR) o->failed++;
    if (r) freeReplyObject(r);
  }
  return NULL;
}

typedef struct waitc {
  macho_tier *t;
  int cause;
  uint64_t before;
} waitc;

static bool flushed(void *p) {
  waitc *w = p;
  return tier_stats(w->t).flushes[w->cause] > w->before;
}

static bool l1_has_fence(void *p) { return macho_contains(macho_tier_l1(p), "fence", 5) == MACHO_OK; }
static bool l1_lost_fence(void *p) { return macho_contains(macho_tier_l1(p), "fence", 5) == MACHO_ENOTFOUND; }

/* Every invalidation of writes made so far has been applied once this returns. */
static void fence(macho_tier *t, redisContext *ext, int round) {
  char v[32], buf[64];
  size_t n;
  snprintf(v, sizeof v, "fence#%d", round);
  redisReply *r = redisCommand(ext, "SET conc:fence %s", v);
  assert_non_null(r);
  freeReplyObject(r);
  /* Read it until L1 holds it (so Redis tracks it for this tier). */
  uint64_t until = tier_now_ns() + 5000000000ull;
  while (!l1_has_fence(t)) {
    int rc = macho_tier_get(t, "fence", 5, buf, sizeof buf, &n);
    assert_true(rc == MACHO_OK || rc == MACHO_EIO);
    if (tier_now_ns() > until) fail_msg("round %d: the fence never reached L1", round);
  }
  r = redisCommand(ext, "SET conc:fence %s-done", v);
  assert_non_null(r);
  freeReplyObject(r);
  if (!tier_wait_for(l1_lost_fence, t, 5000)) fail_msg("round %d: the fence's invalidation never came", round);
}

static void assert_model(macho_tier *t, redisContext *ext, int round) {
  for (int k = 0; k < KEYS; k++) {
    char key[16], rkey[32], want[128], got[128], l1v[128];
    key_name(k, key, sizeof key);
    snprintf(rkey, sizeof rkey, "conc:%s", key);
    bool present = ext_get(ext, rkey, want, sizeof want);
    size_t n = 0;
    if (macho_get(macho_tier_l1(t), key, strlen(key), l1v, sizeof l1v - 1, &n) == MACHO_OK) {
      l1v[n] = '\0';
      if (!present || strcmp(l1v, want) != 0)
        fail_msg("round %d: L1 holds %s=%s, Redis %s", round, key, l1v, present ? want : "(nothing)");
    }
    int rc = macho_tier_get(t, key, strlen(key), got, sizeof got - 1, &n);
    if (rc == MACHO_OK) got[n] = '\0';
    if ((rc == MACHO_OK) != present || (present && strcmp(got, want) != 0))
      fail_msg("round %d: tier says %s=%s (%s), Redis %s", round, key, rc == MACHO_OK ? got : "-",
               macho_status_name(rc), present ? want : "(nothing)");
  }
}

static void many_threads_and_faults_agree_with_redis(void **state) {
  (void)state;
  if (!have_server) {
    print_message("[  SKIP    ] no redis-server binary (install Debian's redis-server: scripts/deps.sh)\n");
    skip();
  }
  /* A fixed seed by default (CI runs the same operations every time); a
   * fresh one with MACHO_TEST_SEED=$RANDOM. Thread interleavings vary anyway. */
  const char *env = getenv("MACHO_TEST_SEED");
  uint64_t seed = env && *env ? strtoull(env, NULL, 0) : 20261201u;
  print_message("# MACHO_TEST_SEED=%llu (set it to replay, or to $RANDOM for a fresh run)\n",
                (unsigned long long)seed);
  redisContext *ext = tier_client(&server);
  assert_non_null(ext);
  macho_config l1;
  macho_config_init(&l1);
  l1.capacity_entries = 32; /* smaller than the key set: evictions too */
  l1.shards = 2;
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.key_prefix = "conc:";
  o.connections = 3;
  o.l1 = &l1;
  char err[256] = "";
  o.error_buf = err;
  o.error_buf_size = sizeof err;
  macho_tier *t = NULL;
  if (macho_tier_open(&o, &t) != MACHO_OK) fail_msg("open: %s", err);

  uint64_t total_gets = 0;
  for (int round = 0; round < ROUNDS; round++) {
    int fault = round % 4; /* 0 none, 1 kill invalidations, 2 kill data, 3 FLUSHALL + local flush */
    macho_tier_stats before = tier_stats(t);
    worker w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
      w[i] = (worker){.t = t, .rng = seed + (uint64_t)(round * WORKERS + i) * 7919u, .id = i, .round = round,
                      .ops = ops_per_worker(), .faulty_round = fault == 1 || fault == 2};
      assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    outsider out = {.c = tier_client(&server), .rng = seed ^ (uint64_t)round, .round = round, .ops = ops_per_worker()};
    assert_non_null(out.c);
    atomic_init(&out.stop, 0);
    assert_int_equal(pthread_create(&out.tid, NULL, outsider_main, &out), 0);

    int cause = -1;
    if (fault == 1) {
      cause = MACHO_TIER_FLUSH_INVALIDATION;
      assert_int_equal(ext_kill_named(ext, "macho-tier-invalidations"), 1);
    } else if (fault == 2) {
      cause = -2; /* data connections: counted as data, timeout or heartbeat depending on who notices */
      assert_true(ext_kill_named(ext, "macho-tier-data") >= 1);
    } else if (fault == 3) {
      redisReply *r = redisCommand(ext, "FLUSHALL");
      freeReplyObject(r);
      assert_int_equal(macho_tier_flush_local(t), MACHO_OK);
      cause = MACHO_TIER_FLUSH_SERVER;
    }

    for (int i = 0; i < WORKERS; i++) pthread_join(w[i].tid, NULL);
    atomic_store(&out.stop, 1);
    pthread_join(out.tid, NULL);
    redisFree(out.c);
    assert_int_equal(out.failed, 0);
    uint64_t gets = 0;
    for (int i = 0; i < WORKERS; i++) {
      if (w[i].bad) fail_msg("round %d, thread %d (seed %llu): %s", round, i, (unsigned long long)seed, w[i].bad_what);
      gets += w[i].gets;
    }
    total_gets += gets;

    /* Quiescence: the fault seen, tracking back, every invalidation in. */
    if (cause >= 0) {
      waitc wc = {.t = t, .cause = cause, .before = before.flushes[cause]};
      assert_true(tier_wait_for(flushed, &wc, 5000));
    } else if (cause == -2) {
      waitc d = {.t = t, .cause = MACHO_TIER_FLUSH_DATA, .before = before.flushes[MACHO_TIER_FLUSH_DATA]};
      waitc m = {.t = t, .cause = MACHO_TIER_FLUSH_TIMEOUT, .before = before.flushes[MACHO_TIER_FLUSH_TIMEOUT]};
      waitc h = {.t = t, .cause = MACHO_TIER_FLUSH_HEARTBEAT, .before = before.flushes[MACHO_TIER_FLUSH_HEARTBEAT]};
      uint64_t until = tier_now_ns() + 5000000000ull;
      while (!flushed(&d) && !flushed(&m) && !flushed(&h)) {
        if (tier_now_ns() > until) fail_msg("round %d: killed data connections were never noticed", round);
        tier_nap_ms(1);
      }
    }
    assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
    macho_tier_stats after = tier_stats(t);
    /* Every get asked L1 first, exactly once. */
    assert_int_equal((after.l1_hits + after.l1_misses) - (before.l1_hits + before.l1_misses), gets);
    fence(t, ext, round);
    assert_model(t, ext, round);
    if (round == ROUNDS - 1)
      print_message("tier under %d threads: %llu gets, %llu L1 hits, %llu fills, %llu refused, %llu invalidations, "
                    "%llu reconnects\n",
                    WORKERS, (unsigned long long)total_gets, (unsigned long long)after.l1_hits,
                    (unsigned long long)after.fills, (unsigned long long)after.fills_refused,
                    (unsigned long long)after.invalidations, (unsigned long long)after.reconnects);
  }
  macho_tier_close(t);
  redisFree(ext);
}

static int group_setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN);
  int rc = tier_redis_start(&server);
  if (rc == -1) return 0;
  if (rc != 0) return -1;
  have_server = true;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (have_server) tier_redis_stop(&server);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(many_threads_and_faults_agree_with_redis),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
#endif /* TIER_TEST_HAVE_HIREDIS */
