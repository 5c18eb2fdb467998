/*
 * test_tier.c -- the Redis tier against a real redis-server of its own.
 *
 * Each test talks to a redis-server this suite starts on a free loopback
 * port (skipped, visibly, when the binary is missing), plus an outside
 * hiredis client that plays another application and is the model: after
 * every step, and after every fault, what the tier returns must be what
 * Redis holds. Races are made deterministic with the tier's test hook
 * (src/tier/tier.h): the hook runs between the Redis reply and the L1 store,
 * and there the test changes the key (or kills a connection) and waits
 * until the tier has received the invalidation (or noticed the failure).
 * Faults: FLUSHALL, CLIENT KILL of each kind of connection, SIGSTOP and
 * DEBUG SLEEP (the heartbeat), a restart of the server.
 *
 * Waits are bounded polls for network events (tier_support.h); the tier's
 * heartbeat and timeouts are set to tens of milliseconds, so a fault test
 * takes well under a second.
 */
#include "support.h"
#include "tier_support.h"
#include "tier/tier.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#ifndef TIER_TEST_HAVE_HIREDIS
static void tier_is_not_built(void **state) {
  (void)state;
  assert_int_equal(macho_tier_available(), 0);
  macho_tier *t = (macho_tier *)1;
  char err[128] = "";
  macho_tier_options o;
  macho_tier_options_init(&o);
  o.error_buf = err;
  o.error_buf_size = sizeof err;
  assert_int_equal(macho_tier_open(&o, &t), MACHO_ENOTSUP);
  assert_null(t);
  assert_true(strstr(err, "hiredis") != NULL);
  print_message("[  SKIP    ] this build has no hiredis: the Redis tier returns MACHO_ENOTSUP\n");
  skip();
}
int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(tier_is_not_built)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else

static tier_redis server;
static bool have_server;
static redisContext *ext; /* the outside client */

static void need_server(void) {
  if (!have_server) {
    print_message("[  SKIP    ] no redis-server binary (install Debian's redis-server: scripts/deps.sh)\n");
    skip();
  }
  if (!ext || ext->err) {
    if (ext) redisFree(ext);
    ext = tier_client(&server);
  }
  assert_non_null(ext);
  redisReply *r = redisCommand(ext, "FLUSHALL");
  assert_non_null(r);
  freeReplyObject(r);
}

static int group_setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN); /* the outside client's writes; the tier itself never needs this */
  int rc = tier_redis_start(&server);
  if (rc == -1) return 0; /* each test then skips with a message */
  if (rc != 0) {
    fprintf(stderr, "test_tier: could not start redis-server\n");
    return -1;
  }
  have_server = true;
  print_message("test_tier: redis-server on %s (pid %d)\n", server.addr, (int)server.pid);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (ext) redisFree(ext);
  if (have_server) tier_redis_stop(&server);
  return 0;
}

static macho_tier *open_tier(macho_tier_options *o) {
  char err[256] = "";
  o->error_buf = err;
  o->error_buf_size = sizeof err;
  macho_tier *t = NULL;
  int rc = macho_tier_open(o, &t);
  if (rc != MACHO_OK) fail_msg("macho_tier_open: %s: %s", macho_status_name(rc), err);
  return t;
}

static macho_tier *open_default(void) {
  macho_tier_options o;
  tier_test_options(&o, &server);
  return open_tier(&o);
}

/* The tier's answer for key as a C string ("" and false when absent). */
static bool tier_str(macho_tier *t, const char *key, char *buf, size_t buflen, int *status) {
  size_t n = 0;
  int rc = macho_tier_get(t, key, strlen(key), buf, buflen - 1, &n);
  if (status) *status = rc;
  if (rc != MACHO_OK) {
    buf[0] = '\0';
    return false;
  }
  buf[n] = '\0';
  return true;
}

static bool l1_has(macho_tier *t, const char *key) {
  return macho_contains(macho_tier_l1(t), key, strlen(key)) == MACHO_OK;
}

/* The model check: for every key, what the tier returns is what Redis holds
 * (under key_prefix), and whatever L1 holds is too. */
static void assert_agrees_with_redis(macho_tier *t, const char *prefix, const char *const *keys, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char rkey[128], want[256], got[256], l1v[256];
    snprintf(rkey, sizeof rkey, "%s%s", prefix, keys[i]);
    bool present = ext_get(ext, rkey, want, sizeof want);
    size_t len = 0;
    if (macho_get(macho_tier_l1(t), keys[i], strlen(keys[i]), l1v, sizeof l1v - 1, &len) == MACHO_OK) {
      l1v[len] = '\0';
      if (!present || strcmp(l1v, want) != 0)
        fail_msg("L1 holds %s=%s but Redis has %s", keys[i], l1v, present ? want : "(nothing)");
    }
    int st;
    bool found = tier_str(t, keys[i], got, sizeof got, &st);
    if (present != found || (found && strcmp(got, want) != 0)) {
      char why[256] = "";
      if (macho_tier_last_error(t, why, sizeof why) != MACHO_OK) why[0] = '\0';
      fail_msg("tier says %s=%s (%s; last error: %s) but Redis has %s", keys[i], found ? got : "-",
               macho_status_name(st), why, present ? want : "(nothing)");
    }
  }
}

/* ---- conditions to wait for ----------------------------------------------------- */

typedef struct waitc {
  macho_tier *t;
  uint64_t before;
  int cause;
  const char *key;
} waitc;

static bool invalidations_moved(void *p) {
  waitc *w = p;
  return tier_stats(w->t).invalidations > w->before;
}
static bool flushes_moved(void *p) {
  waitc *w = p;
  return tier_stats(w->t).flushes[w->cause] > w->before;
}
static bool tracking_down(void *p) { return !tier_stats(((waitc *)p)->t).tracking; }
static bool key_left_l1(void *p) {
  waitc *w = p;
  return !l1_has(w->t, w->key);
}

static void wait_invalidation(macho_tier *t, uint64_t before) {
  waitc w = {.t = t, .before = before};
  if (!tier_wait_for(invalidations_moved, &w, 5000)) fail_msg("no invalidation arrived within 5 s");
}

static void wait_flush(macho_tier *t, int cause, uint64_t before) {
  waitc w = {.t = t, .before = before, .cause = cause};
  if (!tier_wait_for(flushes_moved, &w, 5000))
    fail_msg("no L1 flush with cause '%s' within 5 s", macho_tier_flush_cause_name(cause));
}

/* ---- options and arguments -------------------------------------------------------- */

static void open_rejects_bad_options_with_a_sentence(void **state) {
  (void)state;
  assert_int_equal(macho_tier_available(), 1);
  char err[256];
  macho_tier *t = (macho_tier *)1;
  macho_tier_options o;
#define BAD(status, setup)                                     \
  do {                                                         \
    macho_tier_options_init(&o);                               \
    o.error_buf = err;                                         \
    o.error_buf_size = sizeof err;                             \
    err[0] = '\0';                                             \
    setup;                                                     \
    assert_int_equal(macho_tier_open(&o, &t), (status));       \
    assert_null(t);                                            \
    assert_true(strlen(err) > 5);                              \
  } while (0)
  BAD(MACHO_EINVAL, o.redis = "");
  BAD(MACHO_EINVAL, o.redis = "localhost");
  BAD(MACHO_EINVAL, o.redis = "127.0.0.1:0");
  BAD(MACHO_EINVAL, o.redis = "127.0.0.1:65536");
  BAD(MACHO_EINVAL, o.redis = "127.0.0.1:12x");
  BAD(MACHO_EINVAL, o.redis = "::1:6379");
  BAD(MACHO_EINVAL, o.redis = "[::1]6379");
  BAD(MACHO_EINVAL, o.redis = "unix:");
  BAD(MACHO_EINVAL, o.connections = 0);
  BAD(MACHO_EINVAL, o.connections = 65);
  BAD(MACHO_EINVAL, o.db = -1);
  BAD(MACHO_EINVAL, o.username = "u");
  BAD(MACHO_EINVAL, o.bcast = 2);
  BAD(MACHO_EINVAL, (o.bcast = 1, o.nbcast_prefixes = 1));
  static const char *const one[] = {"p:"};
  static const char *const null_one[] = {NULL};
  BAD(MACHO_EINVAL, (o.bcast_prefixes = one, o.nbcast_prefixes = 1));
  BAD(MACHO_EINVAL, (o.bcast = 1, o.bcast_prefixes = null_one, o.nbcast_prefixes = 1));
  BAD(MACHO_EINVAL, o.command_timeout_ms = 0);
  BAD(MACHO_EINVAL, o.heartbeat_interval_ms = 0);
  BAD(MACHO_EINVAL, o.heartbeat_timeout_ms = 3600u * 1000u + 1);
  BAD(MACHO_EINVAL, o.l2_ttl_seconds = -1);
  BAD(MACHO_EINVAL, o.l2_ttl_seconds = NAN);
  macho_config l1;
  macho_config_init(&l1);
  l1.capacity_entries = 0;
  BAD(MACHO_EINVAL, o.l1 = &l1);
  macho_config_init(&l1);
  macho_object_ops ops = {0};
  l1.object_ops = &ops;
  BAD(MACHO_EMODE, o.l1 = &l1);
  /* Nothing listens there: a clear I/O error naming the address. */
  int port = tier_free_port();
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  BAD(MACHO_EIO, (o.redis = addr, o.connect_timeout_ms = 200));
  assert_true(strstr(err, addr) != NULL);
#undef BAD
  macho_tier_options_init(&o);
  assert_int_equal(macho_tier_open(&o, NULL), MACHO_EINVAL);

  /* NULL handles. */
  char buf[8];
  size_t n;
  assert_int_equal(macho_tier_get(NULL, "k", 1, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_tier_put(NULL, "k", 1, "v", 1), MACHO_EINVAL);
  assert_int_equal(macho_tier_put_ttl(NULL, "k", 1, "v", 1, 1.0), MACHO_EINVAL);
  assert_int_equal(macho_tier_delete(NULL, "k", 1), MACHO_EINVAL);
  assert_int_equal(macho_tier_flush_local(NULL), MACHO_EINVAL);
  assert_int_equal(macho_tier_wait_ready(NULL, 1), MACHO_EINVAL);
  assert_int_equal(macho_tier_stats_get(NULL, NULL), MACHO_EINVAL);
  assert_int_equal(macho_tier_last_error(NULL, buf, sizeof buf), MACHO_EINVAL);
  assert_int_equal(macho_tier_load_set(NULL, "v", 1, 0), MACHO_EINVAL);
  assert_null(macho_tier_l1(NULL));
  macho_tier_close(NULL);
  assert_string_equal(macho_tier_flush_cause_name(MACHO_TIER_FLUSH_HEARTBEAT), "heartbeat");
  assert_null(macho_tier_flush_cause_name(MACHO_TIER_FLUSH_COUNT));
  assert_null(macho_tier_flush_cause_name(-1));
}

static void calls_with_bad_arguments_change_nothing(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  char buf[8];
  size_t n;
  assert_int_equal(macho_tier_get(t, NULL, 3, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_tier_get(t, "k", 1, NULL, 4, &n), MACHO_EINVAL);
  assert_int_equal(macho_tier_put(t, NULL, 1, "v", 1), MACHO_EINVAL);
  assert_int_equal(macho_tier_put(t, "k", 1, NULL, 1), MACHO_EINVAL);
  assert_int_equal(macho_tier_put_ttl(t, "k", 1, "v", 1, -1.0), MACHO_EINVAL);
  assert_int_equal(macho_tier_put_ttl(t, "k", 1, "v", 1, NAN), MACHO_EINVAL);
  assert_int_equal(macho_tier_delete(t, NULL, 2), MACHO_EINVAL);
  assert_int_equal(macho_tier_stats_get(t, NULL), MACHO_EINVAL);
  assert_int_equal(macho_tier_last_error(t, NULL, 4), MACHO_EINVAL);
  assert_int_equal(ext_int(ext, "DBSIZE"), 0);
  assert_int_equal(macho_len(macho_tier_l1(t)), 0);
  macho_tier_stats s = tier_stats(t);
  assert_int_equal(s.l2_hits + s.l2_misses + s.puts + s.deletes, 0);
  assert_int_equal(s.tracking, 1);
  assert_true(s.invalidation_client_id > 0);
  macho_tier_close(t);
}

static void running_out_of_memory_is_an_error_that_loses_nothing(void **state) {
  (void)state;
  need_server();
  /* Open: fail the n-th allocation for n = 1, 2, ... until open succeeds;
   * every failure is MACHO_ENOMEM and leaves nothing allocated. */
  test_alloc ta = {0};
  macho_allocator hooks = test_alloc_hooks(&ta);
  macho_config l1;
  macho_config_init(&l1);
  l1.allocator = &hooks;
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.l1 = &l1;
  char err[256];
  o.error_buf = err;
  o.error_buf_size = sizeof err;
  macho_tier *t = NULL;
  int failures = 0;
  for (uint64_t n = 1;; n++) {
    ta = (test_alloc){.fail_at = n};
    int rc = macho_tier_open(&o, &t);
    if (rc == MACHO_OK) break;
    assert_int_equal(rc, MACHO_ENOMEM);
    assert_null(t);
    assert_int_equal(ta.live_blocks, 0);
    failures++;
    assert_true(n < 10000);
  }
  assert_true(failures > 5);
  /* Then each call on its own: a failed allocation is ENOMEM, and the tier
   * and Redis stay as they were. A long key and a large value need heap
   * buffers for the request. */
  char key[600], value[2000], buf[2100];
  memset(key, 'k', sizeof key);
  memset(value, 'v', sizeof value);
  size_t n;
  int oom = 0;
  for (int attempt = 0; attempt < 50; attempt++) {
    ta.fail_at = ta.calls + 1 + (uint64_t)attempt; /* the 1st, then the 2nd, ... allocation of the call */
    int rc = macho_tier_put(t, key, sizeof key, value, sizeof value);
    if (rc == MACHO_ENOMEM) {
      oom++;
      continue;
    }
    assert_int_equal(rc, MACHO_OK);
    ta.fail_at = 0;
    break;
  }
  assert_true(oom > 0);
  ta.fail_at = 0;
  char rkey[sizeof key + 6];
  memcpy(rkey, "test:", 5);
  memcpy(rkey + 5, key, sizeof key);
  rkey[sizeof rkey - 1] = '\0';
  char *got = malloc(4096);
  assert_non_null(got);
  assert_true(ext_get(ext, rkey, got, 4096));
  assert_int_equal(strlen(got), sizeof value);
  free(got);
  assert_int_equal(macho_tier_flush_local(t), MACHO_OK);
  for (int attempt = 0;; attempt++) {
    ta.fail_at = ta.calls + 1 + (uint64_t)attempt;
    int rc = macho_tier_get(t, key, sizeof key, buf, sizeof buf, &n);
    ta.fail_at = 0;
    if (rc == MACHO_OK) break;
    assert_int_equal(rc, MACHO_ENOMEM);
    assert_true(attempt < 50);
  }
  assert_int_equal(n, sizeof value);
  assert_memory_equal(buf, value, sizeof value);
  macho_tier_close(t);
  assert_int_equal(ta.live_blocks, 0);
}

/* ---- read-through, write-through ------------------------------------------------ */

static void get_reads_through_redis_then_answers_from_l1(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  assert_true(ext_set(ext, "test:user:1", "Ada"));
  char buf[64];
  int st;
  assert_true(tier_str(t, "user:1", buf, sizeof buf, &st));
  assert_string_equal(buf, "Ada");
  macho_tier_stats s = tier_stats(t);
  assert_int_equal(s.l1_misses, 1);
  assert_int_equal(s.l2_hits, 1);
  assert_int_equal(s.fills, 1);
  assert_true(l1_has(t, "user:1"));
  for (int i = 0; i < 5; i++) {
    assert_true(tier_str(t, "user:1", buf, sizeof buf, &st));
    assert_string_equal(buf, "Ada");
  }
  s = tier_stats(t);
  assert_int_equal(s.l1_hits, 5);
  assert_int_equal(s.l2_hits, 1); /* Redis was not asked again */
  /* Absent everywhere: ENOTFOUND, and nothing stored. */
  assert_false(tier_str(t, "user:2", buf, sizeof buf, &st));
  assert_int_equal(st, MACHO_ENOTFOUND);
  assert_int_equal(tier_stats(t).l2_misses, 1);
  assert_false(l1_has(t, "user:2"));
  /* A short buffer: ERANGE with the size, then a local retry. */
  size_t need = 0;
  assert_true(ext_set(ext, "test:long", "0123456789"));
  assert_int_equal(macho_tier_get(t, "long", 4, buf, 3, &need), MACHO_ERANGE);
  assert_int_equal(need, 10);
  uint64_t l2 = tier_stats(t).l2_hits;
  assert_int_equal(macho_tier_get(t, "long", 4, buf, sizeof buf, &need), MACHO_OK);
  assert_memory_equal(buf, "0123456789", 10);
  assert_int_equal(tier_stats(t).l2_hits, l2);
  macho_tier_close(t);
}

static void put_and_delete_write_through_to_redis_and_l1(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  char buf[64];
  int st;
  assert_int_equal(macho_tier_put(t, "k", 1, "v1", 2), MACHO_OK);
  assert_true(ext_get(ext, "test:k", buf, sizeof buf));
  assert_string_equal(buf, "v1");
  assert_int_equal(ext_int(ext, "PTTL test:k"), -1); /* no TTL by default */
  assert_true(l1_has(t, "k"));
  uint64_t l2 = tier_stats(t).l2_hits;
  assert_true(tier_str(t, "k", buf, sizeof buf, &st));
  assert_string_equal(buf, "v1");
  assert_int_equal(tier_stats(t).l2_hits, l2); /* served by L1 */

  /* A TTL reaches Redis in whole milliseconds. */
  assert_int_equal(macho_tier_put_ttl(t, "k", 1, "v2", 2, 30.0), MACHO_OK);
  long long pttl = ext_int(ext, "PTTL test:k");
  assert_true(pttl > 25000 && pttl <= 30000);
  assert_true(tier_str(t, "k", buf, sizeof buf, &st));
  assert_string_equal(buf, "v2");
  assert_int_equal(macho_tier_put_ttl(t, "k", 1, "v3", 2, INFINITY), MACHO_OK);
  assert_int_equal(ext_int(ext, "PTTL test:k"), -1);

  /* Delete: gone from Redis and from L1; a second delete finds nothing. */
  assert_int_equal(macho_tier_delete(t, "k", 1), MACHO_OK);
  assert_int_equal(ext_int(ext, "EXISTS test:k"), 0);
  assert_false(l1_has(t, "k"));
  assert_false(tier_str(t, "k", buf, sizeof buf, &st));
  assert_int_equal(st, MACHO_ENOTFOUND);
  assert_int_equal(macho_tier_delete(t, "k", 1), MACHO_ENOTFOUND);

  /* l2_ttl_seconds applies to puts without their own TTL. */
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.l2_ttl_seconds = 60;
  macho_tier *t2 = open_tier(&o);
  assert_int_equal(macho_tier_put(t2, "j", 1, "x", 1), MACHO_OK);
  pttl = ext_int(ext, "PTTL test:j");
  assert_true(pttl > 55000 && pttl <= 60000);
  macho_tier_close(t2);

  /* Binary keys and values, empty ones, and a large value. */
  const char bkey[] = {'a', 0, 'b'}, bval[] = {0, 1, 2, 0, 3};
  assert_int_equal(macho_tier_put(t, bkey, 3, bval, 5), MACHO_OK);
  size_t n = 0;
  assert_int_equal(macho_tier_flush_local(t), MACHO_OK);
  assert_int_equal(macho_tier_get(t, bkey, 3, buf, sizeof buf, &n), MACHO_OK);
  assert_int_equal(n, 5);
  assert_memory_equal(buf, bval, 5);
  assert_int_equal(macho_tier_put(t, "", 0, "", 0), MACHO_OK);
  assert_int_equal(macho_tier_get(t, "", 0, buf, 0, &n), MACHO_OK);
  assert_int_equal(n, 0);
  size_t big = 1u << 20;
  char *v = malloc(big), *back = malloc(big);
  assert_non_null(v);
  assert_non_null(back);
  for (size_t i = 0; i < big; i++) v[i] = (char)(i * 7);
  assert_int_equal(macho_tier_put(t, "big", 3, v, big), MACHO_OK);
  assert_int_equal(macho_tier_flush_local(t), MACHO_OK);
  assert_int_equal(macho_tier_get(t, "big", 3, back, big, &n), MACHO_OK);
  assert_int_equal(n, big);
  assert_memory_equal(back, v, big);
  free(v);
  free(back);
  macho_tier_close(t);
}

static void a_write_elsewhere_drops_the_key_from_l1(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  char buf[64];
  int st;
  assert_true(ext_set(ext, "test:color", "red"));
  assert_true(tier_str(t, "color", buf, sizeof buf, &st));
  assert_true(l1_has(t, "color"));
  uint64_t before = tier_stats(t).invalidations;
  assert_true(ext_set(ext, "test:color", "blue"));
  wait_invalidation(t, before);
  assert_false(l1_has(t, "color"));
  assert_true(tier_str(t, "color", buf, sizeof buf, &st));
  assert_string_equal(buf, "blue");
  /* A delete elsewhere, and an expiry in Redis, are changes too. */
  before = tier_stats(t).invalidations;
  redisReply *r = redisCommand(ext, "DEL test:color");
  freeReplyObject(r);
  wait_invalidation(t, before);
  assert_false(tier_str(t, "color", buf, sizeof buf, &st));
  assert_int_equal(st, MACHO_ENOTFOUND);
  /* Many keys at once (MSET names them all). */
  const char *keys[] = {"a", "b", "c", "d"};
  r = redisCommand(ext, "MSET test:a 1 test:b 2 test:c 3 test:d 4");
  freeReplyObject(r);
  assert_agrees_with_redis(t, "test:", keys, 4);
  before = tier_stats(t).invalidations;
  r = redisCommand(ext, "MSET test:a 10 test:b 20 test:c 30 test:d 40");
  freeReplyObject(r);
  waitc w = {.t = t, .key = "d"};
  assert_true(tier_wait_for(key_left_l1, &w, 5000));
  assert_agrees_with_redis(t, "test:", keys, 4);
  assert_true(tier_stats(t).invalidations >= before + 4);
  macho_tier_close(t);
}

static void flushall_elsewhere_empties_l1(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  const char *keys[] = {"x", "y"};
  assert_int_equal(macho_tier_put(t, "x", 1, "1", 1), MACHO_OK);
  assert_int_equal(macho_tier_put(t, "y", 1, "2", 1), MACHO_OK);
  assert_int_equal(macho_len(macho_tier_l1(t)), 2);
  uint64_t before = tier_stats(t).flushes[MACHO_TIER_FLUSH_SERVER];
  redisReply *r = redisCommand(ext, "FLUSHALL");
  freeReplyObject(r);
  wait_flush(t, MACHO_TIER_FLUSH_SERVER, before);
  assert_int_equal(macho_len(macho_tier_l1(t)), 0);
  assert_int_equal(tier_stats(t).tracking, 1); /* a flush message keeps tracking up */
  assert_agrees_with_redis(t, "test:", keys, 2);
  /* A manual flush is counted apart. */
  assert_int_equal(macho_tier_put(t, "x", 1, "1", 1), MACHO_OK);
  assert_int_equal(macho_tier_flush_local(t), MACHO_OK);
  assert_int_equal(macho_len(macho_tier_l1(t)), 0);
  assert_int_equal(tier_stats(t).flushes[MACHO_TIER_FLUSH_MANUAL], 1);
  macho_tier_close(t);
}

static void key_prefixes_keep_tiers_apart(void **state) {
  (void)state;
  need_server();
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.key_prefix = "app1:";
  macho_tier *a = open_tier(&o);
  o.key_prefix = "app2:";
  macho_tier *b = open_tier(&o);
  char buf[64];
  int st;
  assert_int_equal(macho_tier_put(a, "k", 1, "from a", 6), MACHO_OK);
  assert_false(tier_str(b, "k", buf, sizeof buf, &st));
  assert_int_equal(st, MACHO_ENOTFOUND);
  assert_true(ext_get(ext, "app1:k", buf, sizeof buf));
  assert_string_equal(buf, "from a");
  assert_int_equal(ext_int(ext, "EXISTS app2:k"), 0);
  macho_tier_close(a);
  macho_tier_close(b);
}

/* ---- two processes ---------------------------------------------------------------- */

/* B (a child process with its own tier) reads the key, says "ready", then
 * reads it until it sees each new value, and reports when (CLOCK_MONOTONIC is
 * one clock for the whole machine). A (this process) writes. */
enum { CROSS_ROUNDS = 50 };

static void run_reader_process(const char *addr, int to_parent, int from_parent) {
  macho_tier_options o;
  macho_tier_options_init(&o);
  o.redis = addr;
  o.key_prefix = "cross:";
  macho_tier *b = NULL;
  if (macho_tier_open(&o, &b) != MACHO_OK) _exit(2);
  char buf[64], want[64];
  size_t n;
  for (int round = 0; round < CROSS_ROUNDS; round++) {
    /* Read (and so track) the current value, then tell A to write. */
    if (macho_tier_get(b, "k", 1, buf, sizeof buf, &n) != MACHO_OK) _exit(3);
    char go = 1;
    if (write(to_parent, &go, 1) != 1) _exit(4);
    if (read(from_parent, &go, 1) != 1) _exit(5);
    snprintf(want, sizeof want, "v%d", round + 1);
    uint64_t until = tier_now_ns() + 5000000000ull, seen = 0;
    while (tier_now_ns() < until) {
      int rc = macho_tier_get(b, "k", 1, buf, sizeof buf, &n);
      if (rc == MACHO_OK && n == strlen(want) && memcmp(buf, want, n) == 0) {
        seen = tier_now_ns();
        break;
      }
    }
    if (write(to_parent, &seen, sizeof seen) != sizeof seen) _exit(6);
  }
  macho_tier_stats s;
  if (macho_tier_stats_get(b, &s) != MACHO_OK || s.invalidations < CROSS_ROUNDS) _exit(7);
  macho_tier_close(b);
  _exit(0);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void another_process_sees_a_write_once_invalidated(void **state) {
  (void)state;
  need_server();
  assert_true(ext_set(ext, "cross:k", "v0"));
  int up[2], down[2];
  assert_int_equal(pipe(up), 0);
  assert_int_equal(pipe(down), 0);
  fflush(NULL);
  pid_t pid = fork(); /* no tier is open here yet: the child starts with one thread */
  assert_true(pid >= 0);
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    run_reader_process(server.addr, up[1], down[0]);
  }
  close(up[1]);
  close(down[0]);
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.key_prefix = "cross:";
  macho_tier *a = open_tier(&o);
  uint64_t delays[CROSS_ROUNDS];
  for (int round = 0; round < CROSS_ROUNDS; round++) {
    char go;
    assert_int_equal(read(up[0], &go, 1), 1);
    char v[16];
    int vn = snprintf(v, sizeof v, "v%d", round + 1);
    uint64_t t0 = tier_now_ns();
    assert_int_equal(macho_tier_put(a, "k", 1, v, (size_t)vn), MACHO_OK);
    assert_int_equal(write(down[1], &go, 1), 1);
    uint64_t seen;
    assert_int_equal(read(up[0], &seen, sizeof seen), sizeof seen);
    if (!seen) fail_msg("process B never saw v%d", round + 1);
    delays[round] = seen - t0;
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  qsort(delays, CROSS_ROUNDS, sizeof delays[0], cmp_u64);
  print_message("cross-process: B saw A's write %llu us after A's put began (median of %d; max %llu us)\n",
                (unsigned long long)(delays[CROSS_ROUNDS / 2] / 1000), CROSS_ROUNDS,
                (unsigned long long)(delays[CROSS_ROUNDS - 1] / 1000));
  close(up[0]);
  close(down[1]);
  macho_tier_close(a);
}

static void tier_demo_shows_another_process_follow_a_write(void **state) {
  (void)state;
  need_server();
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s tier-demo --redis %s --writes 30 --json", MACHO_CLI, server.addr);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char out[1024] = "";
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  assert_int_equal(pclose(p), 0);
  assert_non_null(strstr(out, "\"writes\":30,\"invalidated\":30,\"missed\":0,\"stale_reads_after_invalidation\":0"));
  assert_non_null(strstr(out, "\"invalidations\":30"));
  /* Without --redis: a usage error; with nothing listening: a runtime error naming the address. */
  snprintf(cmd, sizeof cmd, "%s tier-demo 2>/dev/null", MACHO_CLI);
  assert_int_equal(WEXITSTATUS(system(cmd)), 2);
  snprintf(cmd, sizeof cmd, "%s tier-demo --redis 127.0.0.1:%d 2>&1", MACHO_CLI, tier_free_port());
  p = popen(cmd, "r");
  assert_non_null(p);
  n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  assert_int_equal(WEXITSTATUS(pclose(p)), 1);
  assert_non_null(strstr(out, "connecting to Redis at 127.0.0.1:"));
}

/* ---- races, made deterministic -------------------------------------------------- */

typedef struct race {
  macho_tier *t;
  const char *rkey, *value; /* the write "elsewhere" the hook makes */
  int action;               /* 0 = write the key, 1 = kill the invalidation connection */
  int fired;
} race;

static void race_hook(void *ctx, macho__tier_hook_point p, const void *key, size_t klen) {
  race *r = ctx;
  (void)key, (void)klen;
  if (p != MACHO__TIER_HOOK_BEFORE_STORE || r->fired++) return;
  macho_tier_stats s = tier_stats(r->t);
  if (r->action == 0) {
    /* Another application writes the key after our read: wait until the
     * tier has been told, then let the store go ahead. */
    redisContext *c = tier_client(&server);
    if (!c) abort();
    ext_set(c, r->rkey, r->value);
    redisFree(c);
    waitc w = {.t = r->t, .before = s.invalidations};
    if (!tier_wait_for(invalidations_moved, &w, 5000)) abort();
  } else {
    redisContext *c = tier_client(&server);
    if (!c) abort();
    if (ext_kill_named(c, "macho-tier-invalidations") != 1) abort();
    redisFree(c);
    waitc w = {.t = r->t, .before = s.flushes[MACHO_TIER_FLUSH_INVALIDATION], .cause = MACHO_TIER_FLUSH_INVALIDATION};
    if (!tier_wait_for(flushes_moved, &w, 5000)) abort();
  }
}

static void a_fill_that_raced_an_invalidation_is_never_stored(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  assert_true(ext_set(ext, "test:r", "old"));
  race r = {.t = t, .rkey = "test:r", .value = "new"};
  macho__tier_set_hook(t, race_hook, &r);
  char buf[64];
  int st;
  assert_true(tier_str(t, "r", buf, sizeof buf, &st));
  assert_int_equal(r.fired, 1);
  assert_string_equal(buf, "old"); /* the racing read itself may answer what it read */
  assert_false(l1_has(t, "r"));    /* ... but it is not kept */
  assert_int_equal(tier_stats(t).fills_refused, 1);
  assert_int_equal(tier_stats(t).fills, 0);
  macho__tier_set_hook(t, NULL, NULL);
  assert_true(tier_str(t, "r", buf, sizeof buf, &st));
  assert_string_equal(buf, "new");
  assert_true(l1_has(t, "r"));
  macho_tier_close(t);
}

static void a_put_that_raced_a_write_elsewhere_leaves_no_stale_copy(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  race r = {.t = t, .rkey = "test:p", .value = "theirs"};
  macho__tier_set_hook(t, race_hook, &r);
  /* The hook fires between our SET+PTTL and the L1 store; their SET lands in
   * Redis after ours. */
  assert_int_equal(macho_tier_put(t, "p", 1, "ours", 4), MACHO_OK);
  assert_int_equal(r.fired, 1);
  assert_false(l1_has(t, "p"));
  macho__tier_set_hook(t, NULL, NULL);
  const char *keys[] = {"p"};
  assert_agrees_with_redis(t, "test:", keys, 1);
  char buf[32];
  assert_true(tier_str(t, "p", buf, sizeof buf, NULL));
  assert_string_equal(buf, "theirs");
  macho_tier_close(t);
}

static void a_fill_that_raced_a_connection_failure_is_never_stored(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  assert_true(ext_set(ext, "test:f", "before"));
  race r = {.t = t, .action = 1};
  macho__tier_set_hook(t, race_hook, &r);
  char buf[64];
  int st;
  assert_true(tier_str(t, "f", buf, sizeof buf, &st));
  assert_int_equal(r.fired, 1);
  assert_false(l1_has(t, "f"));
  macho__tier_set_hook(t, NULL, NULL);
  assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
  assert_true(tier_stats(t).reconnects >= 1);
  assert_true(ext_set(ext, "test:f", "after"));
  const char *keys[] = {"f"};
  assert_agrees_with_redis(t, "test:", keys, 1);
  macho_tier_close(t);
}

/* ---- TTL: L1 never outlives Redis ------------------------------------------------- */

static void l1_entries_never_outlive_the_redis_ttl(void **state) {
  (void)state;
  need_server();
  test_clock clk = {.now_ns = 1000000000ull};
  macho_config l1;
  macho_config_init(&l1);
  l1.capacity_entries = 100;
  l1.ttl_seconds = 20; /* the L1 cap */
  l1.clock = test_clock_fn;
  l1.clock_ctx = &clk;
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.l1 = &l1;
  macho_tier *t = open_tier(&o);
  char buf[32];
  int st;
  redisReply *r = redisCommand(ext, "SET test:short v PX 5000");
  freeReplyObject(r);
  assert_true(ext_set(ext, "test:forever", "w"));
  assert_true(tier_str(t, "short", buf, sizeof buf, &st));
  assert_true(tier_str(t, "forever", buf, sizeof buf, &st));
  uint64_t l2 = tier_stats(t).l2_hits;
  clk.now_ns += 4000ull * 1000000u; /* 4 s on: both still local */
  assert_true(tier_str(t, "short", buf, sizeof buf, &st));
  assert_true(tier_str(t, "forever", buf, sizeof buf, &st));
  assert_int_equal(tier_stats(t).l2_hits, l2);
  clk.now_ns += 1000ull * 1000000u; /* 5 s: the Redis TTL has run out locally */
  assert_false(l1_has(t, "short"));
  assert_true(l1_has(t, "forever"));
  clk.now_ns += 15000ull * 1000000u; /* 20 s: the L1 config's TTL caps keys without one */
  assert_false(l1_has(t, "forever"));
  /* A key about to expire in Redis is served but not kept. */
  r = redisCommand(ext, "SET test:gone v PX 1");
  freeReplyObject(r);
  uint64_t skipped = tier_stats(t).fills_skipped;
  if (tier_str(t, "gone", buf, sizeof buf, &st)) {
    assert_false(l1_has(t, "gone"));
    assert_int_equal(tier_stats(t).fills_skipped, skipped + 1);
  }
  macho_tier_close(t);
}

/* ---- the loader ------------------------------------------------------------------ */

enum { STAMPEDE = 6 };
typedef struct loader_ctx {
  macho_tier *t;
  _Atomic int calls;
  int mode; /* 0 = value, 1 = ENOTFOUND, 2 = error, 3 = re-enter own key, 4 = other key */
  int reentry_status;
} loader_ctx;

static bool all_joined(void *p) { return tier_stats(((loader_ctx *)p)->t).joined >= STAMPEDE - 1; }

static int test_loader(void *ctx, const void *key, size_t klen, macho_tier_load *out) {
  loader_ctx *lc = ctx;
  atomic_fetch_add(&lc->calls, 1);
  char buf[32];
  size_t n;
  switch (lc->mode) {
  case 0:
    /* Hold the load until every other caller has joined it. */
    if (!tier_wait_for(all_joined, lc, 5000)) return MACHO_EIO;
    return macho_tier_load_set(out, "loaded", 6, 0);
  case 1: return MACHO_ENOTFOUND;
  case 2: return -42;
  case 3: lc->reentry_status = macho_tier_get(lc->t, key, klen, buf, sizeof buf, &n); return MACHO_ENOTFOUND;
  case 5: { /* another writer stores the key while we load */
    redisContext *c = tier_client(&server);
    if (!c) return MACHO_EIO;
    ext_set(c, "test:contested", "theirs");
    redisFree(c);
    return macho_tier_load_set(out, "ours", 4, 0);
  }
  default:
    lc->reentry_status = macho_tier_get(lc->t, "other", 5, buf, sizeof buf, &n);
    return macho_tier_load_set(out, "x", 1, 30.0);
  }
}

typedef struct getter {
  pthread_t tid;
  macho_tier *t;
  int status;
  char value[32];
} getter;

static void *getter_main(void *p) {
  getter *g = p;
  size_t n = 0;
  g->status = macho_tier_get(g->t, "hot", 3, g->value, sizeof g->value - 1, &n);
  if (g->status == MACHO_OK) g->value[n] = '\0';
  return NULL;
}

static void the_loader_runs_once_for_a_stampede_and_fills_both_levels(void **state) {
  (void)state;
  need_server();
  loader_ctx lc = {.mode = 0};
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.loader = test_loader;
  o.loader_ctx = &lc;
  macho_tier *t = open_tier(&o);
  lc.t = t;
  getter g[STAMPEDE];
  for (int i = 0; i < STAMPEDE; i++) {
    g[i] = (getter){.t = t};
    assert_int_equal(pthread_create(&g[i].tid, NULL, getter_main, &g[i]), 0);
  }
  for (int i = 0; i < STAMPEDE; i++) pthread_join(g[i].tid, NULL);
  assert_int_equal(atomic_load(&lc.calls), 1);
  for (int i = 0; i < STAMPEDE; i++) {
    assert_int_equal(g[i].status, MACHO_OK);
    assert_string_equal(g[i].value, "loaded");
  }
  macho_tier_stats s = tier_stats(t);
  assert_int_equal(s.loads, 1);
  assert_int_equal(s.joined, STAMPEDE - 1);
  char buf[32];
  assert_true(ext_get(ext, "test:hot", buf, sizeof buf));
  assert_string_equal(buf, "loaded");
  assert_true(l1_has(t, "hot"));
  /* A value already in Redis wins over the loader (SET NX), and the loader is
   * not even called for it. */
  assert_true(ext_set(ext, "test:warm", "redis"));
  lc.mode = 4;
  assert_true(tier_str(t, "warm", buf, sizeof buf, NULL));
  assert_string_equal(buf, "redis");
  assert_int_equal(atomic_load(&lc.calls), 1);
  /* A writer that stores the key while the loader runs wins (SET NX), and
   * the caller gets its value, the one Redis holds. */
  lc.mode = 5;
  assert_true(tier_str(t, "contested", buf, sizeof buf, NULL));
  assert_string_equal(buf, "theirs");
  assert_true(ext_get(ext, "test:contested", buf, sizeof buf));
  assert_string_equal(buf, "theirs");
  assert_int_equal(atomic_load(&lc.calls), 2);
  macho_tier_close(t);
}

static void loader_errors_and_reentry_are_reported(void **state) {
  (void)state;
  need_server();
  loader_ctx lc = {.mode = 1};
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.loader = test_loader;
  o.loader_ctx = &lc;
  macho_tier *t = open_tier(&o);
  lc.t = t;
  char buf[32];
  int st;
  assert_false(tier_str(t, "none", buf, sizeof buf, &st));
  assert_int_equal(st, MACHO_ENOTFOUND);
  assert_int_equal(ext_int(ext, "EXISTS test:none"), 0);
  lc.mode = 2;
  assert_false(tier_str(t, "bad", buf, sizeof buf, &st));
  assert_int_equal(st, MACHO_ECALLBACK);
  assert_int_equal(ext_int(ext, "EXISTS test:bad"), 0);
  assert_false(l1_has(t, "bad"));
  assert_int_equal(tier_stats(t).load_errors, 1);
  char err[128];
  assert_int_equal(macho_tier_last_error(t, err, sizeof err), MACHO_OK);
  assert_true(strstr(err, "loader") != NULL);
  lc.mode = 3; /* the loader asks for its own key: an error, not a deadlock */
  assert_false(tier_str(t, "self", buf, sizeof buf, &st));
  assert_int_equal(lc.reentry_status, MACHO_EBUSY);
  lc.mode = 4; /* ... for another key: fine (its own load is nested) */
  assert_true(tier_str(t, "outer", buf, sizeof buf, &st));
  assert_string_equal(buf, "x");
  assert_int_equal(lc.reentry_status, MACHO_OK);
  long long pttl = ext_int(ext, "PTTL test:outer");
  assert_true(pttl > 25000 && pttl <= 30000); /* the loader's TTL reached Redis */
  macho_tier_close(t);
}

/* ---- faults: after each, no stale read ------------------------------------------ */

static const char *const fault_keys[] = {"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"};
#define NFAULT_KEYS (sizeof fault_keys / sizeof fault_keys[0])

static void fill_fault_keys(macho_tier *t, const char *tag) {
  for (size_t i = 0; i < NFAULT_KEYS; i++) {
    char rk[32], v[32];
    snprintf(rk, sizeof rk, "test:%s", fault_keys[i]);
    snprintf(v, sizeof v, "%s-%zu", tag, i);
    assert_true(ext_set(ext, rk, v));
    char buf[32];
    assert_true(tier_str(t, fault_keys[i], buf, sizeof buf, NULL));
    assert_string_equal(buf, v);
  }
  assert_int_equal(macho_len(macho_tier_l1(t)), NFAULT_KEYS);
}

/* Write new values behind the tier's back (as if while it could not hear). */
static void rewrite_fault_keys(const char *tag) {
  for (size_t i = 0; i < NFAULT_KEYS; i++) {
    char rk[32], v[32];
    snprintf(rk, sizeof rk, "test:%s", fault_keys[i]);
    snprintf(v, sizeof v, "%s-%zu", tag, i);
    assert_true(ext_set(ext, rk, v));
  }
}

static void killing_the_invalidation_connection_empties_l1(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  fill_fault_keys(t, "a");
  uint64_t before = tier_stats(t).flushes[MACHO_TIER_FLUSH_INVALIDATION];
  assert_int_equal(ext_kill_named(ext, "macho-tier-invalidations"), 1);
  wait_flush(t, MACHO_TIER_FLUSH_INVALIDATION, before);
  assert_int_equal(macho_len(macho_tier_l1(t)), 0);
  rewrite_fault_keys("b");
  assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
  assert_agrees_with_redis(t, "test:", fault_keys, NFAULT_KEYS);
  /* Tracking works again: a write elsewhere is reported. */
  uint64_t inv = tier_stats(t).invalidations;
  assert_true(ext_set(ext, "test:f0", "c"));
  wait_invalidation(t, inv);
  assert_agrees_with_redis(t, "test:", fault_keys, NFAULT_KEYS);
  macho_tier_close(t);
}

static void killing_the_data_connections_empties_l1(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  fill_fault_keys(t, "a");
  /* Redis forgets what a killed connection read and says nothing
   * (redis#11767): the tier must find out by itself, here from the heartbeat
   * PING on the idle connection. */
  uint64_t before = tier_stats(t).flushes[MACHO_TIER_FLUSH_DATA];
  assert_int_equal(ext_kill_named(ext, "macho-tier-data"), 2);
  rewrite_fault_keys("b");
  wait_flush(t, MACHO_TIER_FLUSH_DATA, before);
  assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
  assert_agrees_with_redis(t, "test:", fault_keys, NFAULT_KEYS);
  uint64_t inv = tier_stats(t).invalidations;
  assert_true(ext_set(ext, "test:f1", "c"));
  wait_invalidation(t, inv);
  assert_agrees_with_redis(t, "test:", fault_keys, NFAULT_KEYS);
  macho_tier_close(t);
}

static macho_tier *open_impatient(void) {
  macho_tier_options o;
  tier_test_options(&o, &server);
  tier_test_impatient(&o);
  return open_tier(&o);
}

static void a_paused_server_trips_the_heartbeat(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_impatient();
  fill_fault_keys(t, "a");
  uint64_t before = tier_stats(t).flushes[MACHO_TIER_FLUSH_HEARTBEAT];
  uint64_t t0 = tier_now_ns();
  tier_redis_pause(&server); /* half-open, as far as the tier can tell */
  wait_flush(t, MACHO_TIER_FLUSH_HEARTBEAT, before);
  uint64_t detected_ms = (tier_now_ns() - t0) / 1000000u;
  assert_int_equal(macho_len(macho_tier_l1(t)), 0);
  waitc w = {.t = t};
  assert_true(tier_wait_for(tracking_down, &w, 1000));
  /* While the server sleeps, a read fails within the command timeout
   * rather than serving what L1 had. */
  char buf[32];
  int st;
  assert_false(tier_str(t, "f0", buf, sizeof buf, &st));
  assert_int_equal(st, MACHO_EIO);
  tier_redis_resume(&server);
  rewrite_fault_keys("b");
  assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
  assert_agrees_with_redis(t, "test:", fault_keys, NFAULT_KEYS);
  print_message("heartbeat: a paused server was detected after %llu ms (interval 50 ms, timeout %u ms)\n",
                (unsigned long long)detected_ms, TIER_TEST_HEARTBEAT_TIMEOUT_MS);
  macho_tier_close(t);
}

static void debug_sleep_trips_the_heartbeat(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_impatient();
  fill_fault_keys(t, "a");
  uint64_t before = tier_stats(t).flushes[MACHO_TIER_FLUSH_HEARTBEAT];
  redisContext *sleeper = tier_client(&server);
  assert_non_null(sleeper);
  assert_int_equal(redisAppendCommand(sleeper, "DEBUG SLEEP 0.6"), REDIS_OK);
  int done = 0;
  while (!done) assert_int_equal(redisBufferWrite(sleeper, &done), REDIS_OK);
  wait_flush(t, MACHO_TIER_FLUSH_HEARTBEAT, before);
  assert_int_equal(macho_len(macho_tier_l1(t)), 0);
  redisReply *r = NULL;
  assert_int_equal(redisGetReply(sleeper, (void **)&r), REDIS_OK); /* the sleep is over */
  freeReplyObject(r);
  redisFree(sleeper);
  rewrite_fault_keys("b");
  assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
  assert_agrees_with_redis(t, "test:", fault_keys, NFAULT_KEYS);
  macho_tier_close(t);
}

static void a_redis_restart_empties_l1_and_reconnects(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  fill_fault_keys(t, "a");
  uint64_t reconnects = tier_stats(t).reconnects;
  tier_redis_kill(&server);
  waitc w = {.t = t};
  assert_true(tier_wait_for(tracking_down, &w, 5000));
  assert_int_equal(macho_len(macho_tier_l1(t)), 0);
  char buf[32];
  int st;
  assert_false(tier_str(t, "f0", buf, sizeof buf, &st)); /* nothing stale while Redis is away */
  assert_int_equal(st, MACHO_EIO);
  char err[MACHO__TIER_ERROR_LEN];
  assert_int_equal(macho_tier_last_error(t, err, sizeof err), MACHO_OK);
  assert_true(strlen(err) > 0);
  assert_int_equal(tier_redis_restart(&server), 0); /* same port, empty */
  redisFree(ext);
  ext = tier_client(&server);
  assert_non_null(ext);
  /* Half the keys come back with new values, half are gone. */
  for (size_t i = 0; i < NFAULT_KEYS; i += 2) {
    char rk[32];
    snprintf(rk, sizeof rk, "test:%s", fault_keys[i]);
    assert_true(ext_set(ext, rk, "reborn"));
  }
  assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
  assert_true(tier_stats(t).reconnects > reconnects);
  /* Data connections to the old server are found dead and replaced. */
  for (int pass = 0; pass < 2; pass++) assert_agrees_with_redis(t, "test:", fault_keys, NFAULT_KEYS);
  uint64_t inv = tier_stats(t).invalidations;
  assert_true(ext_set(ext, "test:f0", "again"));
  wait_invalidation(t, inv);
  assert_agrees_with_redis(t, "test:", fault_keys, NFAULT_KEYS);
  macho_tier_close(t);
}

/* ---- the read lease: a stuck invalidation thread cannot stretch the bound ---------- */

typedef struct stall {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stalled, released;
} stall;

/* Runs on the tier's invalidation thread: on the key "block" it stops there
 * (as a starved or stuck thread would) until the test lets it go. */
static void stalling_listener(void *ctx, const void *key, size_t klen, int cause) {
  stall *st = ctx;
  (void)cause;
  if (!key || klen != 5 || memcmp(key, "block", 5) != 0) return;
  pthread_mutex_lock(&st->mu);
  st->stalled = true;
  pthread_cond_broadcast(&st->cv);
  while (!st->released) pthread_cond_wait(&st->cv, &st->mu);
  pthread_mutex_unlock(&st->mu);
}

static bool is_stalled(void *p) {
  stall *st = p;
  pthread_mutex_lock(&st->mu);
  bool s = st->stalled;
  pthread_mutex_unlock(&st->mu);
  return s;
}

static void a_stuck_invalidation_thread_cannot_stretch_the_bound(void **state) {
  (void)state;
  need_server();
  stall st = {.stalled = false, .released = false};
  pthread_mutex_init(&st.mu, NULL);
  pthread_cond_init(&st.cv, NULL);
  macho_tier_options o;
  tier_test_options(&o, &server);
  tier_test_impatient(&o); /* bound: 50 + 150 ms */
  o.on_invalidate = stalling_listener;
  o.on_invalidate_ctx = &st;
  macho_tier *t = open_tier(&o);
  char buf[32];
  assert_true(ext_set(ext, "test:x", "v1"));
  assert_true(ext_set(ext, "test:block", "b"));
  assert_true(tier_str(t, "x", buf, sizeof buf, NULL));
  assert_true(tier_str(t, "block", buf, sizeof buf, NULL));
  assert_true(ext_set(ext, "test:block", "b2")); /* its invalidation stops the thread */
  /* Everything is observed first and asserted only once the thread is let
   * go: a failed assertion with the thread still stuck would leave
   * macho_tier_close (in the teardown) waiting for it forever. */
  bool stalled = tier_wait_for(is_stalled, &st, 5000);
  uint64_t t0 = tier_now_ns();
  bool wrote = ext_set(ext, "test:x", "v2"); /* its invalidation waits behind the stuck one */
  /* L1 still holds v1 and nobody will tell it otherwise; the lease runs out
   * and the tier reads Redis instead. */
  uint64_t until = t0 + 5000000000ull;
  bool fresh = false;
  while (stalled && wrote && !fresh && tier_now_ns() < until)
    fresh = tier_str(t, "x", buf, sizeof buf, NULL) && strcmp(buf, "v2") == 0;
  uint64_t waited_ms = (tier_now_ns() - t0) / 1000000u;
  uint64_t bypasses = tier_stats(t).lease_bypasses;
  bool held = l1_has(t, "x");
  pthread_mutex_lock(&st.mu);
  st.released = true;
  pthread_cond_broadcast(&st.cv);
  pthread_mutex_unlock(&st.mu);
  assert_true(stalled);
  assert_true(wrote);
  assert_true(fresh);
  assert_true(bypasses > 0);
  assert_true(held); /* L1 had it all along: only the lease kept it from answering */
  print_message("lease: with the invalidation thread stuck, a write elsewhere was read after %llu ms (bound %u ms)\n",
                (unsigned long long)waited_ms, 50u + TIER_TEST_HEARTBEAT_TIMEOUT_MS);
  /* The thread goes on; its first late round may take tracking down. */
  assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
  const char *keys[] = {"x", "block"};
  assert_agrees_with_redis(t, "test:", keys, 2);
  macho_tier_close(t);
  pthread_cond_destroy(&st.cv);
  pthread_mutex_destroy(&st.mu);
}

/* ---- BCAST ------------------------------------------------------------------------ */

static void bcast_mode_hears_every_key_under_its_prefixes(void **state) {
  (void)state;
  need_server();
  static const char *const prefixes[] = {"test:user:"};
  macho_tier_options o;
  tier_test_options(&o, &server);
  o.bcast = 1;
  o.bcast_prefixes = prefixes;
  o.nbcast_prefixes = 1;
  /* Written before the tier opens: in BCAST mode a write after it is
   * reported, and a report racing the first read would (rightly) keep that
   * read out of L1. */
  assert_true(ext_set(ext, "test:user:1", "a"));
  macho_tier *t = open_tier(&o);
  char buf[32];
  assert_true(tier_str(t, "user:1", buf, sizeof buf, NULL));
  assert_true(l1_has(t, "user:1"));
  uint64_t inv = tier_stats(t).invalidations;
  assert_true(ext_set(ext, "test:user:1", "b"));
  wait_invalidation(t, inv);
  assert_false(l1_has(t, "user:1"));
  assert_true(tier_str(t, "user:1", buf, sizeof buf, NULL));
  assert_string_equal(buf, "b");
  /* Told about keys it never read, too. */
  inv = tier_stats(t).invalidations;
  assert_true(ext_set(ext, "test:user:2", "c"));
  wait_invalidation(t, inv);
  /* Outside the prefixes: served, never kept. */
  assert_true(ext_set(ext, "test:order:1", "o"));
  uint64_t skipped = tier_stats(t).fills_skipped;
  assert_true(tier_str(t, "order:1", buf, sizeof buf, NULL));
  assert_string_equal(buf, "o");
  assert_false(l1_has(t, "order:1"));
  assert_int_equal(tier_stats(t).fills_skipped, skipped + 1);
  /* A put leaves no local copy (Redis reports our own write back). */
  assert_int_equal(macho_tier_put(t, "user:3", 6, "d", 1), MACHO_OK);
  assert_false(l1_has(t, "user:3"));
  /* Killing the BCAST connection empties L1. */
  assert_true(tier_str(t, "user:1", buf, sizeof buf, NULL));
  assert_true(l1_has(t, "user:1"));
  uint64_t before = tier_stats(t).flushes[MACHO_TIER_FLUSH_DATA];
  assert_int_equal(ext_kill_named(ext, "macho-tier-bcast"), 1);
  wait_flush(t, MACHO_TIER_FLUSH_DATA, before);
  assert_false(l1_has(t, "user:1"));
  assert_int_equal(macho_tier_wait_ready(t, 5000), MACHO_OK);
  const char *keys[] = {"user:1", "user:2", "user:3", "order:1"};
  assert_agrees_with_redis(t, "test:", keys, 4);
  macho_tier_close(t);
}

/* ---- the dashboard ------------------------------------------------------------------ */

/* GET path from 127.0.0.1:port; returns the HTTP status, body into buf. */
static int http_get(int port, const char *path, char *buf, size_t buflen) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
  if (write(fd, req, (size_t)n) != n) return -1;
  size_t got = 0;
  ssize_t r;
  while (got + 1 < buflen && (r = read(fd, buf + got, buflen - 1 - got)) > 0) got += (size_t)r;
  buf[got] = '\0';
  close(fd);
  int status = -1;
  sscanf(buf, "HTTP/1.%*d %d", &status);
  return status;
}

static void the_dashboard_shows_the_tier_by_level(void **state) {
  (void)state;
  need_server();
  macho_tier *t = open_default();
  assert_true(ext_set(ext, "test:d", "1"));
  char buf[64];
  assert_true(tier_str(t, "d", buf, sizeof buf, NULL)); /* an L1 miss, an L2 hit */
  assert_true(tier_str(t, "d", buf, sizeof buf, NULL)); /* an L1 hit */
  assert_false(tier_str(t, "nope", buf, sizeof buf, NULL));
  macho_dashboard_options d;
  macho_dashboard_options_init(&d);
  assert_null(d.tier);
  d.tier = t;
  macho_dashboard *dash;
  assert_int_equal(macho_dashboard_start(macho_tier_l1(t), &d, &dash), MACHO_OK);
  int port = 0;
  assert_int_equal(sscanf(macho_dashboard_url(dash), "http://127.0.0.1:%d/", &port), 1);
  static char body[65536];
  assert_int_equal(http_get(port, "/api/tier", body, sizeof body), 200);
  assert_non_null(strstr(body, "{\"enabled\":true,\"tracking\":true"));
  assert_non_null(strstr(body, "\"l1\":{\"hits\":1,\"misses\":2}"));
  assert_non_null(strstr(body, "\"l2\":{\"hits\":1,\"misses\":1,\"errors\":0}"));
  assert_int_equal(http_get(port, "/metrics", body, sizeof body), 200);
  assert_non_null(strstr(body, "macho_hits_total{shard=\"0\"} 1")); /* the cache's own series stay */
  assert_non_null(strstr(body, "macho_tier_gets_total{level=\"l1\",result=\"hit\"} 1\n"));
  assert_non_null(strstr(body, "macho_tier_gets_total{level=\"l2\",result=\"miss\"} 1\n"));
  assert_non_null(strstr(body, "macho_tier_flushes_total{cause=\"heartbeat\"} 0\n"));
  assert_non_null(strstr(body, "macho_tier_tracking 1\n"));
  macho_dashboard_stop(dash);
  /* Without a tier: /api/tier says so and /metrics has no tier series. */
  d.tier = NULL;
  assert_int_equal(macho_dashboard_start(macho_tier_l1(t), &d, &dash), MACHO_OK);
  assert_int_equal(sscanf(macho_dashboard_url(dash), "http://127.0.0.1:%d/", &port), 1);
  assert_int_equal(http_get(port, "/api/tier", body, sizeof body), 200);
  assert_non_null(strstr(body, "{\"enabled\":false}"));
  assert_int_equal(http_get(port, "/metrics", body, sizeof body), 200);
  assert_null(strstr(body, "macho_tier_"));
  macho_dashboard_stop(dash);
  macho_tier_close(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(open_rejects_bad_options_with_a_sentence),
      cmocka_unit_test(calls_with_bad_arguments_change_nothing),
      cmocka_unit_test(running_out_of_memory_is_an_error_that_loses_nothing),
      cmocka_unit_test(get_reads_through_redis_then_answers_from_l1),
      cmocka_unit_test(put_and_delete_write_through_to_redis_and_l1),
      cmocka_unit_test(a_write_elsewhere_drops_the_key_from_l1),
      cmocka_unit_test(flushall_elsewhere_empties_l1),
      cmocka_unit_test(key_prefixes_keep_tiers_apart),
      cmocka_unit_test(another_process_sees_a_write_once_invalidated),
      cmocka_unit_test(tier_demo_shows_another_process_follow_a_write),
      cmocka_unit_test(a_fill_that_raced_an_invalidation_is_never_stored),
      cmocka_unit_test(a_put_that_raced_a_write_elsewhere_leaves_no_stale_copy),
      cmocka_unit_test(a_fill_that_raced_a_connection_failure_is_never_stored),
      cmocka_unit_test(l1_entries_never_outlive_the_redis_ttl),
      cmocka_unit_test(the_loader_runs_once_for_a_stampede_and_fills_both_levels),
      cmocka_unit_test(loader_errors_and_reentry_are_reported),
      cmocka_unit_test(killing_the_invalidation_connection_empties_l1),
      cmocka_unit_test(killing_the_data_connections_empties_l1),
      cmocka_unit_test(a_paused_server_trips_the_heartbeat),
      cmocka_unit_test(debug_sleep_trips_the_heartbeat),
      cmocka_unit_test(a_redis_restart_empties_l1_and_reconnects),
      cmocka_unit_test(a_stuck_invalidation_thread_cannot_stretch_the_bound),
      cmocka_unit_test(bcast_mode_hears_every_key_under_its_prefixes),
      cmocka_unit_test(the_dashboard_shows_the_tier_by_level),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
#endif /* TIER_TEST_HAVE_HIREDIS */
