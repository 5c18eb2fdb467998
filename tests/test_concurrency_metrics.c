/* test_concurrency_metrics.c -- metrics and the dashboard under concurrent
 * load (also run under ThreadSanitizer): workers hammer the cache while other
 * threads take snapshots, reset, and fetch /api/stats and /metrics over HTTP.
 * Afterwards every timed call and every removal must be accounted for.
 * Threads only record what went wrong (assertions in a worker thread would
 * crash the runner instead of reporting); the main thread joins them all,
 * then asserts. */
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { WORKERS = 3, OPS = 20000 };

typedef struct shared {
  macho_cache *cache;
  unsigned port;
  atomic_int stop;
  uint64_t seed;
  atomic_int next_worker;  /* each worker's stream: seed ^ its index */
  atomic_int failures;     /* recorded by any thread, asserted by the main one */
  char first_failure[128]; /* written by the first failure only, read after the joins */
} shared;

static void record_failure(shared *s, const char *what, int rc) {
  if (atomic_fetch_add(&s->failures, 1) == 0)
    snprintf(s->first_failure, sizeof s->first_failure, "%s (%d)", what, rc);
}

static void *worker(void *arg) {
  shared *s = arg;
  uint64_t rng = s->seed ^ (uint64_t)(atomic_fetch_add(&s->next_worker, 1) + 1) * 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < OPS; i++) {
    uint64_t k = test_rand(&rng) % 5000, v;
    int r = (int)(test_rand(&rng) % 10);
    if (r == 0) {
      int rc = macho_delete(s->cache, &k, sizeof k);
      if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) record_failure(s, "delete", rc);
    } else {
      int rc = macho_get(s->cache, &k, sizeof k, &v, sizeof v, NULL);
      if (rc == MACHO_ENOTFOUND) rc = macho_put(s->cache, &k, sizeof k, &k, sizeof k);
      else if (rc == MACHO_OK && v != k) record_failure(s, "get returned another key's value", 0);
      if (rc != MACHO_OK) record_failure(s, "get or put", rc);
    }
  }
  return NULL;
}

static void *snapshotter(void *arg) {
  shared *s = arg;
  while (!atomic_load(&s->stop)) {
    macho_stats *st;
    int rc = macho_stats_get(s->cache, -1, &st);
    if (rc != MACHO_OK) {
      record_failure(s, "stats_get(-1)", rc);
      continue;
    }
    if (st->counters.hits + st->counters.misses != st->counters.gets)
      record_failure(s, "a snapshot with hits + misses != gets", 0);
    macho_stats_free(st);
    rc = macho_stats_get(s->cache, 1, &st);
    if (rc != MACHO_OK) record_failure(s, "stats_get(1)", rc);
    else macho_stats_free(st);
  }
  return NULL;
}

static int fetch(unsigned port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  char req[256], buf[4096];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", path, port);
  (void)!send(fd, req, (size_t)n, MSG_NOSIGNAL);
  ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
  int status = got > 12 ? atoi(buf + 9) : 0;
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
  close(fd);
  return status;
}

static void *http_client(void *arg) {
  shared *s = arg;
  while (!atomic_load(&s->stop)) {
    int st = fetch(s->port, "/api/stats");
    if (st != 200) record_failure(s, "GET /api/stats", st);
    st = fetch(s->port, "/metrics");
    if (st != 200) record_failure(s, "GET /metrics", st);
  }
  return NULL;
}

static void assert_no_failure(shared *s) {
  if (atomic_load(&s->failures))
    fail_msg("%d failures in threads, the first: %s", atomic_load(&s->failures), s->first_failure);
}

static void every_timed_call_and_removal_is_counted_under_concurrency(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 2000;
  cfg.shards = 4;
  cfg.metrics = 2;
  shared s = {0};
  s.seed = test_seed();
  assert_int_equal(macho_open(&cfg, &s.cache), MACHO_OK);
  macho_dashboard *d;
  assert_int_equal(macho_dashboard_start(s.cache, NULL, &d), MACHO_OK);
  const char *colon = strrchr(macho_dashboard_url(d), ':');
  s.port = (unsigned)atoi(colon + 1);

  pthread_t w[WORKERS], snap, http;
  assert_int_equal(pthread_create(&snap, NULL, snapshotter, &s), 0);
  assert_int_equal(pthread_create(&http, NULL, http_client, &s), 0);
  for (int i = 0; i < WORKERS; i++)
    if (pthread_create(&w[i], NULL, worker, &s) != 0) abort(); /* cannot unwind past running threads */
  for (int i = 0; i < WORKERS; i++) pthread_join(w[i], NULL);
  atomic_store(&s.stop, 1);
  pthread_join(snap, NULL);
  pthread_join(http, NULL);
  assert_no_failure(&s);

  macho_stats *st;
  assert_int_equal(macho_stats_get(s.cache, -1, &st), MACHO_OK);
  assert_int_equal(st->get_latency_ns.count, st->counters.gets);
  assert_int_equal(st->put_latency_ns.count, st->counters.puts);
  assert_int_equal(st->lifespan_ns[MACHO_REMOVED_EVICTED].count, st->counters.evictions);
  assert_int_equal(st->lifespan_ns[MACHO_REMOVED_DELETED].count, st->counters.deletes);
  assert_true(st->counters.evictions > 0);
  macho_stats_free(st);
  macho_dashboard_stop(d);
  macho_close(s.cache);
}

static void resets_race_safely_with_traffic(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 500;
  cfg.shards = 2;
  shared s = {0};
  s.seed = test_seed() + 1;
  assert_int_equal(macho_open(&cfg, &s.cache), MACHO_OK);
  pthread_t w[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&w[i], NULL, worker, &s) != 0) abort();
  for (int i = 0; i < 200; i++) {
    int rc = macho_stats_reset(s.cache);
    if (rc != MACHO_OK) record_failure(&s, "stats_reset", rc);
    macho_stats *st;
    rc = macho_stats_get(s.cache, -1, &st);
    if (rc != MACHO_OK) record_failure(&s, "stats_get", rc);
    else macho_stats_free(st);
  }
  for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
  assert_no_failure(&s);
  macho_stats *st;
  assert_int_equal(macho_stats_get(s.cache, -1, &st), MACHO_OK);
  assert_true(st->counters.entries <= 500);
  macho_stats_free(st);
  macho_close(s.cache);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_timed_call_and_removal_is_counted_under_concurrency),
      cmocka_unit_test(resets_race_safely_with_traffic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
