/* test_dashboard.c -- the dashboard over real HTTP on 127.0.0.1: the JSON and
 * Prometheus endpoints, the page and its assets, the 4xx answers to bad
 * requests, the token off loopback, and the management switch. A tiny HTTP/1.1
 * client over a socket stands in for the browser. */
#include "support.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct reply {
  int status;
  char *head, *body; /* body points into the same block */
  size_t body_len;
} reply;

static int dial(unsigned port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* Send raw bytes, read until the server closes; status 0 = no answer. */
static reply raw(unsigned port, const char *req, size_t len) {
  int fd = dial(port);
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += (size_t)n;
  }
  shutdown(fd, SHUT_WR);
  size_t cap = 1 << 16, got = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (got == cap) buf = realloc(buf, (cap *= 2) + 1);
    ssize_t n = recv(fd, buf + got, cap - got, 0);
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  reply r = {0, buf, NULL, 0};
  if (got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0) r.status = atoi(buf + 9);
  char *sep = strstr(buf, "\r\n\r\n");
  if (sep) {
    *sep = '\0';
    r.body = sep + 4;
    r.body_len = got - (size_t)(r.body - buf);
  }
  return r;
}

static reply http(unsigned port, const char *method, const char *path, const char *extra_headers) {
  extra_headers = extra_headers ? extra_headers : "";
  size_t cap = strlen(method) + strlen(path) + strlen(extra_headers) + 128;
  char *req = malloc(cap);
  int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s\r\n", method,
                   path, port, extra_headers);
  reply r = raw(port, req, (size_t)n);
  free(req);
  return r;
}

static void reply_free(reply *r) { free(r->head); }

static const char *header(const reply *r, const char *name) {
  static char value[512];
  size_t n = strlen(name);
  for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
      const char *v = p + 3 + n;
      while (*v == ' ') v++;
      size_t len = strcspn(v, "\r");
      if (len >= sizeof value) len = sizeof value - 1;
      memcpy(value, v, len);
      value[len] = '\0';
      return value;
    }
  }
  return NULL;
}

static unsigned port_of(const macho_dashboard *d) {
  const char *url = macho_dashboard_url(d);
  const char *colon = strrchr(url, ':');
  assert_non_null(colon);
  return (unsigned)atoi(colon + 1);
}

typedef struct fixture {
  macho_cache *cache;
  macho_dashboard *dash;
  unsigned port;
} fixture;

static fixture start(const char *listen, const char *token, int management) {
  fixture f = {0};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 64;
  cfg.shards = 2;
  assert_int_equal(macho_open(&cfg, &f.cache), MACHO_OK);
  for (int i = 0; i < 100; i++) {
    char k[16];
    int n = snprintf(k, sizeof k, "k%d", i % 80);
    assert_int_equal(macho_put(f.cache, k, (size_t)n, "value", 5), MACHO_OK);
    char buf[8];
    (void)!macho_get(f.cache, k, (size_t)n, buf, sizeof buf, NULL);
  }
  macho_dashboard_options o;
  macho_dashboard_options_init(&o);
  o.listen = listen;
  o.token = token;
  o.management = management;
  assert_int_equal(macho_dashboard_start(f.cache, &o, &f.dash), MACHO_OK);
  f.port = port_of(f.dash);
  assert_true(f.port > 0);
  return f;
}

static void stop(fixture *f) {
  macho_dashboard_stop(f->dash);
  macho_close(f->cache);
}

/* ---- a minimal JSON checker: syntax, and the keys an object holds ---------------- */

typedef struct jp {
  const char *p, *end;
} jp;
static void ws(jp *j) {
  while (j->p < j->end && isspace((unsigned char)*j->p)) j->p++;
}
static bool value(jp *j);
static bool string(jp *j) {
  if (j->p >= j->end || *j->p != '"') return false;
  for (j->p++; j->p < j->end; j->p++) {
    if (*j->p == '\\') j->p++;
    else if (*j->p == '"') {
      j->p++;
      return true;
    } else if ((unsigned char)*j->p < 0x20) return false;
  }
  return false;
}
static bool value(jp *j) {
  ws(j);
  if (j->p >= j->end) return false;
  char c = *j->p;
  if (c == '"') return string(j);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) {
      j->p++;
      return true;
    }
    for (;;) {
      if (c == '{') {
        ws(j);
        if (!string(j)) return false;
        ws(j);
        if (j->p >= j->end || *j->p++ != ':') return false;
      }
      if (!value(j)) return false;
      ws(j);
      if (j->p >= j->end) return false;
      if (*j->p == ',') {
        j->p++;
        continue;
      }
      if (*j->p++ != close) return false;
      return true;
    }
  }
  if (!strncmp(j->p, "true", 4)) return j->p += 4, true;
  if (!strncmp(j->p, "false", 5)) return j->p += 5, true;
  if (!strncmp(j->p, "null", 4)) return j->p += 4, true;
  char *e;
  strtod(j->p, &e);
  if (e == j->p) return false;
  j->p = e;
  return true;
}
static bool json_valid(const char *s, size_t n) {
  jp j = {s, s + n};
  if (!value(&j)) return false;
  ws(&j);
  return j.p == j.end;
}

/* ---- tests ------------------------------------------------------------------------ */

static int obj_hash(void *ctx, const void *key, uint64_t *out) {
  (void)ctx;
  *out = (uint64_t)(uintptr_t)key;
  return 0;
}
static int obj_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return a == b;
}
static void obj_nop(void *ctx, void *obj) {
  (void)ctx;
  (void)obj;
}

static void management_is_refused_on_an_object_mode_cache(void **state) {
  (void)state;
  const macho_object_ops ops = {obj_hash, obj_equal, obj_nop, obj_nop, NULL};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.object_ops = &ops;
  macho_cache *c;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  macho_dashboard_options o;
  macho_dashboard_options_init(&o);
  o.management = 1;
  macho_dashboard *d = (macho_dashboard *)&o; /* must be reset to NULL */
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EMODE);
  assert_null(d);
  o.management = 0; /* read-only serving is fine in object mode */
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_OK);
  assert_non_null(macho_dashboard_url(d));
  macho_dashboard_stop(d);
  macho_close(c);
}

static void starts_on_a_free_loopback_port_and_reports_its_url(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 0);
  char want[64];
  snprintf(want, sizeof want, "http://127.0.0.1:%u/", f.port);
  assert_string_equal(macho_dashboard_url(f.dash), want);
  stop(&f);
}

static void stats_json_parses_and_has_the_schema_keys(void **state) {
  (void)state;
  fixture f = start("127.0.0.1:0", NULL, 0);
  reply r = http(f.port, "GET", "/api/stats", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(header(&r, "Content-Type"), "application/json");
  assert_true(json_valid(r.body, r.body_len));
  const char *keys[] = {"\"schema\":\"macho.stats\"", "\"version\":1,", "\"macho_version\":", "\"now_ns\":",
                        "\"config\":{\"policy\":\"lru\"", "\"latency_sample_every\":64", "\"total\":{\"hits\":",
                        "\"shards\":[{\"shard\":0,", "{\"shard\":1,", "\"shards_truncated\":false",
                        "\"latency_ns\":{\"get\":{\"count\":", "\"put\":{\"count\":", "\"p999\":",
                        "\"buckets\":[", "\"lifespan_ns\":{\"evicted\":", "\"expired\":", "\"deleted\":",
                        "\"cleared\":", "\"window\":[", "\"hit_ratio\":", "\"memory_bytes\":"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (!strstr(r.body, keys[i])) fprintf(stderr, "missing %s\n", keys[i]);
    assert_non_null(strstr(r.body, keys[i]));
  }
  assert_null(strstr(r.body, "\"replaced\""));
  reply_free(&r);
  stop(&f);
}

static bool metric_name_ok(const char *s, size_t n) {
  if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':')) return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':')) return false;
  return true;
}

/* The text format, line by line: comments are HELP/TYPE with a valid name;
 * TYPE comes once per family, before its samples; samples are
 * name{label="value",...} value; histograms have ascending le buckets with
 * non-decreasing counts, ending with +Inf equal to _count. */
static void metrics_obey_the_prometheus_text_format(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 0);
  reply r = http(f.port, "GET", "/metrics", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  assert_true(r.body_len > 0 && r.body[r.body_len - 1] == '\n');
  char types[64][64];
  char type_of[64][16];
  int ntypes = 0, samples = 0, hist_buckets = 0;
  double last_le = -1, last_count = -1;
  char cur_hist[160] = "";
  bool saw_hits_shard0 = false;
  char *save, *line;
  for (line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') {
      char kind[8], name[64], rest[16];
      assert_int_equal(sscanf(line, "# %7s %63s %15s", kind, name, rest), 3);
      assert_true(!strcmp(kind, "HELP") || !strcmp(kind, "TYPE"));
      assert_true(metric_name_ok(name, strlen(name)));
      if (!strcmp(kind, "TYPE")) {
        for (int i = 0; i < ntypes; i++) assert_string_not_equal(types[i], name);
        assert_true(!strcmp(rest, "counter") || !strcmp(rest, "gauge") || !strcmp(rest, "histogram"));
        assert_true(ntypes < 64);
        strcpy(types[ntypes], name);
        strcpy(type_of[ntypes++], rest);
      }
      continue;
    }
    size_t n = strcspn(line, "{ ");
    assert_true(metric_name_ok(line, n));
    /* the family: the name, or the name less a histogram suffix */
    int fam = -1;
    for (int i = ntypes - 1; i >= 0 && fam < 0; i--) {
      size_t tl = strlen(types[i]);
      if (tl == n && !strncmp(line, types[i], n)) fam = i;
      else if (!strcmp(type_of[i], "histogram") && !strncmp(line, types[i], tl) &&
               (!strncmp(line + tl, "_bucket", 7) || !strncmp(line + tl, "_sum", 4) ||
                !strncmp(line + tl, "_count", 6)))
        fam = i;
    }
    assert_true(fam >= 0); /* TYPE came first */
    const char *p = line + n;
    char labels[160] = "";
    if (*p == '{') {
      const char *close = strchr(p, '}');
      assert_non_null(close);
      /* each label: name="value" separated by commas */
      const char *q = p + 1;
      while (q < close) {
        size_t ln = strcspn(q, "=");
        assert_true(metric_name_ok(q, ln));
        q += ln + 1;
        assert_true(*q == '"');
        q = strchr(q + 1, '"');
        assert_non_null(q);
        q++;
        assert_true(*q == ',' || *q == '}');
        q++;
      }
      snprintf(labels, sizeof labels, "%.*s", (int)(close - p - 1), p + 1);
      p = close + 1;
    }
    assert_true(*p == ' ');
    char *end;
    double v = strtod(p + 1, &end);
    assert_true(*end == '\0');
    assert_true(v >= 0);
    samples++;
    if (!strncmp(line, "macho_hits_total{shard=\"0\"}", 27)) saw_hits_shard0 = true;
    if (strstr(line, "_bucket{")) {
      const char *le = strstr(labels, "le=\"");
      assert_non_null(le);
      /* series identity: the labels before le */
      char series[160];
      snprintf(series, sizeof series, "%.*s|%.*s", (int)n, line, (int)(le - labels), labels);
      if (strcmp(series, cur_hist)) {
        strcpy(cur_hist, series);
        last_le = -1;
        last_count = -1;
      }
      double lv = !strncmp(le + 4, "+Inf", 4) ? 1e300 : strtod(le + 4, NULL);
      assert_true(lv > last_le);
      assert_true(v >= last_count);
      last_le = lv;
      last_count = v;
      hist_buckets++;
    } else if (strstr(line, "_count") && last_le == 1e300) {
      assert_true(v == last_count); /* +Inf bucket == _count */
    }
  }
  assert_true(saw_hits_shard0);
  assert_true(samples > 50);
  assert_true(hist_buckets > 20);
  reply_free(&r);
  stop(&f);
}

static void page_and_embedded_chart_js_are_served(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 0);
  reply r = http(f.port, "GET", "/", NULL);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "<canvas"));
  assert_non_null(strstr(r.body, "/static/chart.js"));
  assert_non_null(header(&r, "Content-Security-Policy"));
  reply_free(&r);
  r = http(f.port, "GET", "/static/chart.js", NULL);
  assert_int_equal(r.status, 200);
  assert_true(r.body_len > 100000);
  assert_non_null(strstr(r.body, "Chart.js"));
  reply_free(&r);
  r = http(f.port, "GET", "/static/app.js", NULL);
  assert_int_equal(r.status, 200);
  reply_free(&r);
  r = http(f.port, "HEAD", "/static/style.css", NULL);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 0);
  reply_free(&r);
  stop(&f);
}

static void bad_requests_get_4xx(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 0);
  reply r = http(f.port, "GET", "/nope", NULL);
  assert_int_equal(r.status, 404);
  reply_free(&r);
  r = http(f.port, "POST", "/api/stats", NULL);
  assert_int_equal(r.status, 405);
  assert_string_equal(header(&r, "Allow"), "GET, HEAD");
  reply_free(&r);
  r = http(f.port, "PUT", "/metrics", "Content-Length: 3\r\n");
  assert_int_equal(r.status, 413); /* bodies are refused before anything else */
  reply_free(&r);
  const char garbage[] = "\x01\x02 NOT HTTP AT ALL\r\n\r\n";
  r = raw(f.port, garbage, sizeof garbage - 1);
  assert_true(r.status == 0 || (r.status >= 400 && r.status < 500));
  reply_free(&r);
  const char nohost[] = "GET /api/stats HTTP/1.1\r\nConnection: close\r\n\r\n";
  r = raw(f.port, nohost, sizeof nohost - 1);
  assert_true(r.status >= 400 && r.status < 500);
  reply_free(&r);
  const char rebound[] = "GET /api/stats HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n";
  r = raw(f.port, rebound, sizeof rebound - 1); /* DNS rebinding */
  assert_int_equal(r.status, 403);
  reply_free(&r);
  stop(&f);
}

static void oversized_requests_are_rejected(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 0);
  size_t big = 100 * 1024;
  char *path = malloc(big + 2);
  path[0] = '/';
  memset(path + 1, 'a', big);
  path[big + 1] = '\0';
  reply r = http(f.port, "GET", path, NULL);
  assert_true(r.status >= 400 && r.status < 500);
  reply_free(&r);
  char *hdr = malloc(big + 16);
  memcpy(hdr, "X-Big: ", 7);
  memset(hdr + 7, 'b', big);
  memcpy(hdr + 7 + big, "\r\n", 3);
  r = http(f.port, "GET", "/api/stats", hdr);
  assert_true(r.status >= 400 && r.status < 500);
  reply_free(&r);
  path[3000] = '\0'; /* fits the connection's memory, beyond the URL cap */
  r = http(f.port, "GET", path, NULL);
  assert_int_equal(r.status, 414);
  reply_free(&r);
  free(path);
  free(hdr);
  /* still serving */
  r = http(f.port, "GET", "/api/stats", NULL);
  assert_int_equal(r.status, 200);
  reply_free(&r);
  stop(&f);
}

static void every_prefix_of_a_request_is_survived(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 0);
  char req[256];
  int n = snprintf(req, sizeof req, "GET /api/stats?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAccept: */*\r\n\r\n",
                   f.port);
  for (int i = 0; i < n; i++) {
    reply r = raw(f.port, req, (size_t)i);
    assert_true(r.status == 0 || (r.status >= 400 && r.status < 500));
    reply_free(&r);
  }
  reply r = raw(f.port, req, (size_t)n);
  assert_int_equal(r.status, 200);
  reply_free(&r);
  stop(&f);
}

static void a_token_is_required_and_enforced_off_loopback(void **state) {
  (void)state;
  macho_cache *c;
  macho_config cfg;
  macho_config_init(&cfg);
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  macho_dashboard_options o;
  macho_dashboard_options_init(&o);
  o.listen = "0.0.0.0:0";
  macho_dashboard *d = (macho_dashboard *)1;
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EINVAL);
  assert_null(d);
  macho_close(c);

  fixture f = start("0.0.0.0:0", "s3cret-token", 0);
  assert_non_null(strstr(macho_dashboard_url(f.dash), "?token=s3cret-token"));
  const char *paths[] = {"/api/stats", "/metrics", "/", "/static/chart.js"};
  for (int i = 0; i < 4; i++) {
    reply r = http(f.port, "GET", paths[i], NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(header(&r, "WWW-Authenticate"));
    reply_free(&r);
  }
  reply r = http(f.port, "GET", "/api/stats", "Authorization: Bearer wrong\r\n");
  assert_int_equal(r.status, 401);
  reply_free(&r);
  r = http(f.port, "GET", "/api/stats", "Authorization: Bearer s3cret-token\r\n");
  assert_int_equal(r.status, 200);
  reply_free(&r);
  r = http(f.port, "GET", "/metrics?token=s3cret-token", NULL);
  assert_int_equal(r.status, 200);
  reply_free(&r);
  r = http(f.port, "GET", "/metrics?token=s3cret-tokeN", NULL);
  assert_int_equal(r.status, 401);
  reply_free(&r);
  /* the page opened with the token hands its scripts a cookie */
  r = http(f.port, "GET", "/?token=s3cret-token", NULL);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(header(&r, "Set-Cookie"), "HttpOnly"));
  reply_free(&r);
  r = http(f.port, "GET", "/static/chart.js", "Cookie: macho_token=s3cret-token\r\n");
  assert_int_equal(r.status, 200);
  reply_free(&r);
  stop(&f);
}

static void management_endpoints_are_off_by_default(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 0);
  reply r = http(f.port, "POST", "/api/clear", NULL);
  assert_int_equal(r.status, 403);
  reply_free(&r);
  r = http(f.port, "GET", "/api/get?key=k1", NULL);
  assert_int_equal(r.status, 403);
  reply_free(&r);
  r = http(f.port, "DELETE", "/api/key?key=k1", NULL);
  assert_int_equal(r.status, 403);
  reply_free(&r);
  assert_true(macho_len(f.cache) > 0);
  stop(&f);
}

static void management_endpoints_get_delete_and_clear_when_enabled(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 1);
  assert_int_equal(macho_put(f.cache, "hello", 5, "world", 5), MACHO_OK);
  reply r = http(f.port, "GET", "/api/get?key=hello", NULL);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 5);
  assert_memory_equal(r.body, "world", 5);
  reply_free(&r);
  r = http(f.port, "GET", "/api/get", NULL);
  assert_int_equal(r.status, 400);
  reply_free(&r);
  r = http(f.port, "GET", "/api/clear", NULL);
  assert_int_equal(r.status, 405);
  reply_free(&r);
  r = http(f.port, "DELETE", "/api/key?key=hello", "Origin: http://evil.example\r\n");
  assert_int_equal(r.status, 403);
  reply_free(&r);
  r = http(f.port, "DELETE", "/api/key?key=hello", NULL);
  assert_int_equal(r.status, 200);
  reply_free(&r);
  r = http(f.port, "DELETE", "/api/key?key=hello", NULL);
  assert_int_equal(r.status, 404);
  reply_free(&r);
  r = http(f.port, "GET", "/api/get?key=hello", NULL);
  assert_int_equal(r.status, 404);
  reply_free(&r);
  r = http(f.port, "POST", "/api/clear", NULL);
  assert_int_equal(r.status, 200);
  reply_free(&r);
  assert_int_equal(macho_len(f.cache), 0);
  stop(&f);
}

static void bad_arguments_are_rejected(void **state) {
  (void)state;
  macho_cache *c;
  macho_config cfg;
  macho_config_init(&cfg);
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  macho_dashboard *d;
  macho_dashboard_options o;
  macho_dashboard_options_init(&o);
  assert_string_equal(o.listen, "127.0.0.1:0");
  assert_int_equal(macho_dashboard_start(NULL, &o, &d), MACHO_EINVAL);
  assert_int_equal(macho_dashboard_start(c, &o, NULL), MACHO_EINVAL);
  const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "nohost:80", ":80", "[::1:80",
                       "1.2.3:80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o.listen = bad[i];
    assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EINVAL);
  }
  o.listen = "127.0.0.1:0";
  o.token = "has space";
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EINVAL);
  o.token = "";
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EINVAL);
  o.token = NULL;
  o.management = 7;
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EINVAL);
  /* NULL options mean the defaults */
  assert_int_equal(macho_dashboard_start(c, NULL, &d), MACHO_OK);
  assert_non_null(strstr(macho_dashboard_url(d), "http://127.0.0.1:"));
  macho_dashboard_stop(d);
  macho_dashboard_stop(NULL);
  assert_null(macho_dashboard_url(NULL));
  macho_close(c);
}

/* An occupied port is its own status, so the CLI and Python can say "address
 * already in use"; other socket errors stay EIO. */
static void an_occupied_port_is_reported_as_address_in_use(void **state) {
  (void)state;
  macho_cache *c;
  macho_config cfg;
  macho_config_init(&cfg);
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  assert_int_equal(MACHO_EADDRINUSE, -11);
  assert_string_equal(macho_strerror(MACHO_EADDRINUSE), "address already in use");
  assert_string_equal(macho_status_name(MACHO_EADDRINUSE), "EADDRINUSE");

  /* a plain socket holds a port; a dashboard asked for it must say so */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(fd, 1), 0);
  socklen_t alen = sizeof a;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  char listen_at[32];
  snprintf(listen_at, sizeof listen_at, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
  macho_dashboard_options o;
  macho_dashboard_options_init(&o);
  o.listen = listen_at;
  macho_dashboard *d = (macho_dashboard *)&o;
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EADDRINUSE);
  assert_null(d);

  /* so must a second dashboard on the first one's port */
  macho_dashboard *first;
  o.listen = "127.0.0.1:0";
  assert_int_equal(macho_dashboard_start(c, &o, &first), MACHO_OK);
  snprintf(listen_at, sizeof listen_at, "127.0.0.1:%u", port_of(first));
  o.listen = listen_at;
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EADDRINUSE);
  macho_dashboard_stop(first);
  close(fd);

  /* an address this machine does not have (TEST-NET-1) is another error */
  o.listen = "192.0.2.1:0";
  o.token = "tok";
  assert_int_equal(macho_dashboard_start(c, &o, &d), MACHO_EIO);
  assert_null(d);
  macho_close(c);
}

/* Run the CLI, return its exit status and (up to cap bytes of) its stdout. */
static int run_cli(const char *args, char *out, size_t cap) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", MACHO_CLI, args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void the_cli_reads_and_manages_a_running_cache(void **state) {
  (void)state;
  fixture f = start(NULL, NULL, 1);
  assert_int_equal(macho_put(f.cache, "greeting", 8, "hello there", 11), MACHO_OK);
  const char *url = macho_dashboard_url(f.dash);
  static char out[1 << 16];
  char args[256];
  snprintf(args, sizeof args, "stats %s", url);
  assert_int_equal(run_cli(args, out, sizeof out), 0);
  assert_non_null(strstr(out, "policy lru"));
  assert_non_null(strstr(out, "total"));
  assert_non_null(strstr(out, "evicted"));
  snprintf(args, sizeof args, "stats %s --json", url);
  assert_int_equal(run_cli(args, out, sizeof out), 0);
  assert_non_null(strstr(out, "\"schema\":\"macho.stats\""));
  snprintf(args, sizeof args, "stats %s --watch --count 2 --interval 0.1 --json", url);
  assert_int_equal(run_cli(args, out, sizeof out), 0);
  assert_non_null(strstr(strstr(out, "macho.stats") + 1, "macho.stats")); /* two snapshots */
  snprintf(args, sizeof args, "get %s greeting", url);
  assert_int_equal(run_cli(args, out, sizeof out), 0);
  assert_string_equal(out, "hello there");
  snprintf(args, sizeof args, "del %s greeting", url);
  assert_int_equal(run_cli(args, out, sizeof out), 0);
  snprintf(args, sizeof args, "get %s greeting", url);
  assert_int_equal(run_cli(args, out, sizeof out), 1); /* 404 */
  snprintf(args, sizeof args, "clear %s", url);
  assert_int_equal(run_cli(args, out, sizeof out), 0);
  assert_int_equal(macho_len(f.cache), 0);
  assert_int_equal(run_cli("stats ftp://nowhere", out, sizeof out), 2);
  assert_int_equal(run_cli("get", out, sizeof out), 2);
  stop(&f);

  /* with a token: refused without it, accepted with --token or the URL's ?token= */
  f = start("0.0.0.0:0", "tok-123", 0);
  snprintf(args, sizeof args, "stats http://127.0.0.1:%u/", f.port);
  assert_int_equal(run_cli(args, out, sizeof out), 1);
  snprintf(args, sizeof args, "stats http://127.0.0.1:%u/ --token tok-123", f.port);
  assert_int_equal(run_cli(args, out, sizeof out), 0);
  snprintf(args, sizeof args, "stats 'http://127.0.0.1:%u/?token=tok-123'", f.port);
  assert_int_equal(run_cli(args, out, sizeof out), 0);
  snprintf(args, sizeof args, "clear 'http://127.0.0.1:%u/?token=tok-123'", f.port);
  assert_int_equal(run_cli(args, out, sizeof out), 1); /* management off: 403 */
  stop(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(starts_on_a_free_loopback_port_and_reports_its_url),
      cmocka_unit_test(stats_json_parses_and_has_the_schema_keys),
      cmocka_unit_test(metrics_obey_the_prometheus_text_format),
      cmocka_unit_test(page_and_embedded_chart_js_are_served),
      cmocka_unit_test(bad_requests_get_4xx),
      cmocka_unit_test(oversized_requests_are_rejected),
      cmocka_unit_test(every_prefix_of_a_request_is_survived),
      cmocka_unit_test(a_token_is_required_and_enforced_off_loopback),
      cmocka_unit_test(management_endpoints_are_off_by_default),
      cmocka_unit_test(management_endpoints_get_delete_and_clear_when_enabled),
      cmocka_unit_test(bad_arguments_are_rejected),
      cmocka_unit_test(management_is_refused_on_an_object_mode_cache),
      cmocka_unit_test(an_occupied_port_is_reported_as_address_in_use),
      cmocka_unit_test(the_cli_reads_and_manages_a_running_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
