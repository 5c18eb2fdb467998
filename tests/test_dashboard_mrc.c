/* test_dashboard_mrc.c -- the live miss-ratio curve and the policy `auto`
 * follows, as the dashboard serves them: /api/stats (`mrc`, `policy_current`,
 * docs/STATS_SCHEMA.md) and /metrics (macho_mrc_miss_ratio{multiple},
 * macho_policy_current{policy}, macho_policy_changes_total), with the same
 * figures as macho_mrc_get; `mrc` is null with the curve off. */
#include "support.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* GET path over HTTP/1.1; returns the body (malloc'd). */
static char *get(unsigned port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", path, port);
  assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
  size_t cap = 1 << 16, got = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (got == cap) buf = realloc(buf, (cap *= 2) + 1);
    ssize_t r = recv(fd, buf + got, cap - got, 0);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  buf[got] = '\0';
  assert_non_null(strstr(buf, "HTTP/1.1 200"));
  char *body = strstr(buf, "\r\n\r\n");
  assert_non_null(body);
  char *out = strdup(body + 4);
  free(buf);
  return out;
}

static unsigned start(macho_cache *c, macho_dashboard **d) {
  assert_int_equal(macho_dashboard_start(c, NULL, d), MACHO_OK);
  const char *colon = strrchr(macho_dashboard_url(*d), ':');
  return (unsigned)atoi(colon + 1);
}

static macho_cache *open_cache(macho_policy p, int mrc) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 400;
  cfg.shards = 2;
  cfg.ttl_seconds = 0;
  cfg.policy = p;
  cfg.mrc = mrc;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  uint64_t rng = 5;
  for (int i = 0; i < 20000; i++) {
    uint64_t x = test_rand(&rng) % 3000, y = test_rand(&rng) % 3000, k = x < y ? x : y;
    char v[8];
    if (macho_get(c, &k, 8, v, sizeof v, NULL) != MACHO_OK) assert_int_equal(macho_put(c, &k, 8, "v", 1), MACHO_OK);
  }
  return c;
}

static void stats_and_metrics_show_the_curve(void **state) {
  (void)state;
  macho_cache *c = open_cache(MACHO_POLICY_AUTO, 1);
  macho_dashboard *d;
  unsigned port = start(c, &d);
  char *json = get(port, "/api/stats");
  char *prom = get(port, "/metrics");
  macho_mrc m;
  assert_int_equal(macho_mrc_get(c, -1, &m), MACHO_OK);
  macho_policy p;
  uint64_t changes;
  assert_int_equal(macho_policy_current(c, -1, &p, &changes), MACHO_OK);
  /* /api/stats: the curve's six points with the library's figures. */
  char want[256];
  snprintf(want, sizeof want, "\"policy_current\":{\"policy\":\"%s\",\"changes\":%llu}", macho_policy_name(p),
           (unsigned long long)changes);
  if (!strstr(json, want)) fail_msg("%s not in %s", want, json);
  char *mrc = strstr(json, "\"mrc\":{\"gets\":");
  assert_non_null(mrc);
  for (int i = 0; i < MACHO_MRC_POINTS; i++) {
    snprintf(want, sizeof want, "{\"multiple\":%g,\"entries\":%llu,\"miss_ratio\":", m.multiple[i],
             (unsigned long long)m.entries[i]);
    char *at = strstr(mrc, want);
    if (!at) fail_msg("%s not in %s", want, mrc);
    double shown = strtod(at + strlen(want), NULL);
    assert_true(fabs(shown - m.miss_ratio[i]) < 1e-6);
  }
  /* /metrics: one gauge per multiple, and what auto follows. */
  for (int i = 0; i < MACHO_MRC_POINTS; i++) {
    snprintf(want, sizeof want, "macho_mrc_miss_ratio{multiple=\"%g\"} ", m.multiple[i]);
    char *at = strstr(prom, want);
    if (!at) fail_msg("%s not in /metrics", want);
    assert_true(fabs(strtod(at + strlen(want), NULL) - m.miss_ratio[i]) < 1e-6);
  }
  snprintf(want, sizeof want, "macho_policy_current{policy=\"%s\"} 1", macho_policy_name(p));
  assert_non_null(strstr(prom, want));
  assert_non_null(strstr(prom, "# TYPE macho_policy_changes_total counter"));
  /* macho stats prints the curve and what auto follows. */
  char cmd[512], out[128];
  snprintf(out, sizeof out, "/tmp/macho_dash_mrc_%d.out", (int)getpid());
  snprintf(cmd, sizeof cmd, "'%s' stats '%s' >%s 2>&1", MACHO_CLI, macho_dashboard_url(d), out);
  assert_int_equal(system(cmd), 0);
  FILE *f = fopen(out, "r");
  char text[8192] = {0};
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  unlink(out);
  text[n] = '\0';
  char hit[16];
  snprintf(hit, sizeof hit, "%.2f%%", 100 * (1 - m.miss_ratio[3]));
  snprintf(want, sizeof want, "%-22s %12llu %10s", "2x its size", (unsigned long long)m.entries[3], hit);
  if (!strstr(text, "if the cache were") || !strstr(text, want)) fail_msg("'%s' not in:\n%s", want, text);
  snprintf(want, sizeof want, "auto follows %s now", macho_policy_name(p));
  if (!strstr(text, want)) fail_msg("'%s' not in:\n%s", want, text);
  free(json);
  free(prom);
  macho_dashboard_stop(d);
  macho_close(c);
}

static void the_curve_is_null_when_off(void **state) {
  (void)state;
  macho_cache *c = open_cache(MACHO_POLICY_LRU, 0);
  macho_dashboard *d;
  unsigned port = start(c, &d);
  char *json = get(port, "/api/stats");
  char *prom = get(port, "/metrics");
  assert_non_null(strstr(json, "\"policy_current\":{\"policy\":\"lru\",\"changes\":0},\"mrc\":null}"));
  assert_null(strstr(prom, "macho_mrc_miss_ratio"));
  free(json);
  free(prom);
  macho_dashboard_stop(d);
  macho_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stats_and_metrics_show_the_curve),
      cmocka_unit_test(the_curve_is_null_when_off),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
