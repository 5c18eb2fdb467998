/* test_concurrency_metrics.c -- metrics and the dashboard under concurrent
 * load (also run under ThreadSanitizer): workers hammer the cache while other
 * threads take snapshots, reset, and fetch /api/stats and /metrics over HTTP.
 * Afterwards every timed call and every removal must be accounted for. */
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
} shared;

static void *worker(void *arg) {
  shared *s = arg;
  uint64_t rng = s->seed ^ (uint64_t)(uintptr_t)&rng;
  for (int i = 0; i < OPS; i++) {
    uint64_t k = test_rand(&rng) % 5000, v;
    int r = (int)(test_rand(&rng) % 10);
    if (r == 0) (void)!macho_delete(s->cache, &k, sizeof k);
    else if (macho_get(s->cache, &k, sizeof k, &v, sizeof v, NULL) == MACHO_ENOTFOUND)
      assert_int_equal(macho_put(s->cache, &k, sizeof k, &k, sizeof k), MACHO_OK);
  }
  return NULL;
}

static void *snapshotter(void *arg) {
  shared *s = arg;
  while (!atomic_load(&s->stop)) {
    macho_stats *st;
    assert_int_equal(macho_stats_get(s->cache, -1, &st), MACHO_OK);
    assert_true(st->counters.hits + st->counters.misses == st->counters.gets);
    macho_stats_free(st);
    assert_int_equal(macho_stats_get(s->cache, 1, &st), MACHO_OK);
    macho_stats_free(st);
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
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
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
    assert_int_equal(fetch(s->port, "/api/stats"), 200);
    assert_int_equal(fetch(s->port, "/metrics"), 200);
  }
  return NULL;
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
  pthread_create(&snap, NULL, snapshotter, &s);
  pthread_create(&http, NULL, http_client, &s);
  for (int i = 0; i < WORKERS; i++) pthread_create(&w[i], NULL, worker, &s);
  for (int i = 0; i < WORKERS; i++) pthread_join(w[i], NULL);
  atomic_store(&s.stop, 1);
  pthread_join(snap, NULL);
  pthread_join(http, NULL);

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
  for (int i = 0; i < 2; i++) pthread_create(&w[i], NULL, worker, &s);
  for (int i = 0; i < 200; i++) {
    assert_int_equal(macho_stats_reset(s.cache), MACHO_OK);
    macho_stats *st;
    assert_int_equal(macho_stats_get(s.cache, -1, &st), MACHO_OK);
    macho_stats_free(st);
  }
  for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
  macho_stats *st;
  assert_int_equal(macho_stats_get(s.cache, -1, &st), MACHO_OK);
  assert_true(st->counters.entries <= 500);
  macho_stats_free(st);
  macho_close(s.cache);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_timed_call_and_removal_is_counted_under_concurrency),
      cmocka_unit_test(resets_race_safely_with_traffic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
