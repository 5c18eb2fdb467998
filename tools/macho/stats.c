/*
 * stats.c -- `macho stats|clear|get|del URL ...`: talk to a running cache's
 * dashboard from another terminal.
 *
 * The dashboard is on loopback (or behind a token), so a small HTTP/1.1
 * client over a socket is enough: one request per connection,
 * "Connection: close", read to EOF (Content-Length and chunked bodies are
 * both understood), with a connect and read deadline. URLs are what the demo
 * prints, with or without "http://"; the token comes from --token or from the
 * URL's ?token=. Everything that goes into the request -- host, port, path,
 * token, key -- is checked or percent-encoded first, so no argument can add a
 * header or a second request.
 *
 * `stats` prints the figures of /api/stats (docs/STATS_SCHEMA.md) as tables,
 * or the JSON itself. `stats --watch` is `redis-cli --stat` for a cache: one
 * line per interval with per-second rates (hits, misses, evictions), the hit
 * ratio and the get/put p99 *of that interval* (from the difference of two
 * histogram snapshots), never screen-clearing codes, and the header repeated
 * every 20 lines only on a terminal.
 */
#include "cli.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <macho/macho.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE (64u << 20)
#define MAX_KEY 600

typedef struct target {
  char host[256], port[8], token[300], prefix[512];
  bool ipv6;
} target;

typedef struct client_opts {
  cli_base base;
  const char *token;
  bool watch, json;
  double interval, timeout;
  uint64_t count;
  target t; /* parsed by check */
} client_opts;

static bool token_ok(const char *s, size_t n) {
  if (n < 1 || n > 256) return false;
  for (size_t i = 0; i < n; i++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-", s[i]) || !s[i]) return false;
  return true;
}

/* [http://]HOST[:PORT][/PATH][?token=T]; HOST is a name, an IPv4 address or
 * [IPv6]. Every length is checked before it is used (issue 10 defect 7: an
 * unclosed '[' once gave memcpy a negative size). */
static int parse_url(const char *url, const char *token, target *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  const char *h = url;
  const char *scheme = strstr(url, "://");
  if (scheme) {
    if ((size_t)(scheme - url) == 4 && !strncasecmp(url, "http", 4)) h = scheme + 3;
    else if ((size_t)(scheme - url) == 5 && !strncasecmp(url, "https", 5))
      return cli_usage_error(err, errlen, "https is not supported: the dashboard serves plain HTTP (got '%s')", url);
    else return cli_usage_error(err, errlen, "cannot parse URL '%s': only http:// URLs are supported", url);
  }
  const char *end = h + strcspn(h, "/?#");
  const char *host = h, *host_end, *rest;
  if (*h == '[') {
    const char *close = memchr(h, ']', (size_t)(end - h));
    if (!close) goto bad; /* unclosed IPv6 literal */
    host = h + 1;
    host_end = close;
    rest = close + 1;
    if (rest != end && *rest != ':') goto bad; /* junk after ']' */
    t->ipv6 = true;
  } else {
    const char *colon = memchr(h, ':', (size_t)(end - h));
    host_end = colon ? colon : end;
    rest = host_end;
  }
  size_t hl = (size_t)(host_end - host);
  if (hl == 0 || hl >= sizeof t->host) goto bad;
  const char *allowed = t->ipv6 ? "0123456789abcdefABCDEF:.%" : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
  for (size_t i = 0; i < hl; i++)
    if (!host[i] || !strchr(allowed, host[i])) goto bad;
  memcpy(t->host, host, hl);
  if (rest < end) { /* ":PORT" */
    size_t pl = (size_t)(end - rest - 1);
    if (pl == 0 || pl > 5 || strspn(rest + 1, "0123456789") < pl) goto bad;
    memcpy(t->port, rest + 1, pl);
    long port = strtol(t->port, NULL, 10);
    if (port < 1 || port > 65535) goto bad;
  } else {
    strcpy(t->port, "80");
  }
  /* A path is a prefix for the API (a dashboard behind a reverse proxy):
   * printable, no spaces, without its trailing '/'. */
  size_t pathlen = strcspn(end, "?#");
  while (pathlen && end[pathlen - 1] == '/') pathlen--;
  if (pathlen >= sizeof t->prefix) goto bad;
  for (size_t i = 0; i < pathlen; i++)
    if ((unsigned char)end[i] <= 0x20 || (unsigned char)end[i] >= 0x7f) goto bad;
  memcpy(t->prefix, end, pathlen);
  const char *q = end + strcspn(end, "?#");
  const char *tok = NULL;
  if (*q == '?')
    for (const char *p = q + 1; *p && *p != '#'; p += strcspn(p, "&#") + (p[strcspn(p, "&#")] == '&')) {
      if (!strncmp(p, "token=", 6)) tok = p + 6;
      if (!p[strcspn(p, "&#")] || p[strcspn(p, "&#")] == '#') break;
    }
  if (token) {
    if (!token_ok(token, strlen(token)))
      return cli_usage_error(err, errlen, "--token must be 1-256 of A-Z a-z 0-9 . _ ~ -");
    snprintf(t->token, sizeof t->token, "%s", token);
  } else if (tok) {
    size_t tl = strcspn(tok, "&#");
    if (!token_ok(tok, tl))
      return cli_usage_error(err, errlen, "the URL's token must be 1-256 of A-Z a-z 0-9 . _ ~ -");
    memcpy(t->token, tok, tl);
  }
  return CLI_OK;
bad:
  return cli_usage_error(err, errlen, "cannot parse URL '%s' (expected [http://]HOST:PORT/, HOST a name, "
                                      "an IPv4 address or [IPv6])", url);
}

/* Percent-encode a query value. */
static void encode(char *out, size_t cap, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s && o + 4 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-_.~", c)) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
}

/* ---- HTTP ------------------------------------------------------------------------ */

typedef struct response {
  int status;
  char *data; /* whole reply, NUL-terminated */
  char *body; /* NUL-terminated (chunked bodies are decoded in place) */
  size_t body_len;
} response;

static int connect_to(const char *cmd, const target *t, double timeout) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(t->host, t->port, &hints, &res);
  if (gai != 0) {
    fprintf(stderr, "macho %s: cannot resolve %s: %s\n", cmd, t->host, gai_strerror(gai));
    return -1;
  }
  int fd = -1, why = 0;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) {
      why = errno;
      continue;
    }
    /* Non-blocking connect with a deadline: a host that drops packets must
     * not hang the CLI for the kernel's two minutes. */
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      struct pollfd p = {fd, POLLOUT, 0};
      rc = poll(&p, 1, (int)(timeout * 1000));
      if (rc == 0) errno = ETIMEDOUT, rc = -1;
      else if (rc > 0) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr) errno = soerr, rc = -1;
        else rc = 0;
      }
    }
    if (rc != 0) {
      why = errno;
      close(fd);
      fd = -1;
      continue;
    }
    fcntl(fd, F_SETFL, fl);
    struct timeval tv = {(time_t)timeout, (suseconds_t)((timeout - floor(timeout)) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  freeaddrinfo(res);
  if (fd < 0)
    fprintf(stderr, "macho %s: cannot connect to %s%s%s:%s: %s%s\n", cmd, t->ipv6 ? "[" : "", t->host,
            t->ipv6 ? "]" : "", t->port, strerror(why),
            why == ECONNREFUSED ? " (is the dashboard running? `macho demo --dashboard` prints its URL)" : "");
  return fd;
}

/* Decode a chunked body in place; false when malformed. */
static bool dechunk(char *body, size_t *len) {
  char *in = body, *end = body + *len, *out = body;
  for (;;) {
    char *line_end = memchr(in, '\n', (size_t)(end - in));
    if (!line_end) return false;
    char *stop;
    unsigned long n = strtoul(in, &stop, 16);
    if (stop == in || n > (size_t)(end - line_end - 1)) return false;
    if (n == 0) break;
    memmove(out, line_end + 1, n);
    out += n;
    in = line_end + 1 + n;
    if (end - in >= 2 && in[0] == '\r' && in[1] == '\n') in += 2;
    else if (end - in >= 1 && in[0] == '\n') in += 1;
    else return false;
  }
  *out = '\0';
  *len = (size_t)(out - body);
  return true;
}

static bool request(const char *cmd, const target *t, double timeout, const char *method, const char *path,
                    response *r) {
  memset(r, 0, sizeof *r);
  int fd = connect_to(cmd, t, timeout);
  if (fd < 0) return false;
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nAccept: application/json\r\nConnection: close\r\n"
                   "User-Agent: macho/%s\r\n%s%s%s\r\n",
                   method, t->prefix, path, t->ipv6 ? "[" : "", t->host, t->ipv6 ? "]" : "", t->port,
                   macho_version_string(), t->token[0] ? "Authorization: Bearer " : "", t->token,
                   t->token[0] ? "\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
    fprintf(stderr, "macho %s: cannot send the request: %s\n", cmd, n < 0 || (size_t)n >= sizeof req ? "too long" : strerror(errno));
    close(fd);
    return false;
  }
  size_t cap = 1 << 16, got = 0;
  char *buf = malloc(cap + 1);
  int why = 0;
  while (buf) {
    if (got == cap) {
      if (cap >= MAX_RESPONSE) break;
      char *nb = realloc(buf, (cap *= 2) + 1);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
    }
    ssize_t k = recv(fd, buf + got, cap - got, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) why = errno;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  if (!buf) {
    fprintf(stderr, "macho %s: out of memory reading the answer\n", cmd);
    return false;
  }
  buf[got] = '\0';
  r->data = buf;
  char *sep = strstr(buf, "\r\n\r\n");
  if (strncmp(buf, "HTTP/1.", 7) != 0 || !sep || got < 12) {
    if (why == EAGAIN || why == EWOULDBLOCK)
      fprintf(stderr, "macho %s: %s:%s sent no answer within %g s\n", cmd, t->host, t->port, timeout);
    else
      fprintf(stderr, "macho %s: no HTTP answer from %s:%s%s%s\n", cmd, t->host, t->port, why ? ": " : "",
              why ? strerror(why) : "");
    free(buf);
    r->data = NULL;
    return false;
  }
  r->status = atoi(buf + 9);
  r->body = sep + 4;
  r->body_len = got - (size_t)(r->body - buf);
  *sep = '\0'; /* the headers, for the search below */
  bool chunked = false;
  for (char *h = strstr(buf, "\r\n"); h; h = strstr(h + 2, "\r\n"))
    if (!strncasecmp(h + 2, "transfer-encoding:", 18) && strstr(h + 20, "chunked")) chunked = true;
  if (chunked && !dechunk(r->body, &r->body_len)) {
    fprintf(stderr, "macho %s: malformed chunked answer from %s:%s\n", cmd, t->host, t->port);
    free(buf);
    r->data = NULL;
    return false;
  }
  return true;
}

/* Print the server's error and return CLI_FAIL, for a non-2xx answer. */
static int fail_status(const char *cmd, const response *r) {
  const char *hint = r->status == 401   ? " (the dashboard needs a token: --token T, or the URL with ?token=T)"
                     : r->status == 403 ? " (management is off: start the demo with --manage)"
                                        : "";
  fprintf(stderr, "macho %s: HTTP %d%s: %.*s", cmd, r->status, hint, (int)(r->body_len > 500 ? 500 : r->body_len),
          r->body);
  if (!r->body_len || r->body[r->body_len - 1] != '\n') fputc('\n', stderr);
  return CLI_FAIL;
}

/* GET /api/stats, parsed. NULL on any failure (reported). */
static json *fetch_stats(const char *cmd, const client_opts *o, response *keep_raw) {
  response r;
  if (!request(cmd, &o->t, o->timeout, "GET", "/api/stats", &r)) return NULL;
  if (r.status != 200) {
    fail_status(cmd, &r);
    free(r.data);
    return NULL;
  }
  char err[200];
  json *j = json_parse(r.body, r.body_len, err, sizeof err);
  if (!j || json_get(j, "total") == NULL) {
    fprintf(stderr, "macho %s: the answer is not a macho stats document: %s\n", cmd, j ? "no 'total'" : err);
    json_free(j);
    free(r.data);
    return NULL;
  }
  if (keep_raw) *keep_raw = r;
  else free(r.data);
  return j;
}

/* ---- the table ------------------------------------------------------------------- */

static void fmt_ns(char *out, size_t cap, double ns) {
  if (ns < 1e3) snprintf(out, cap, "%.0f ns", ns);
  else if (ns < 1e6) snprintf(out, cap, "%.2f us", ns / 1e3);
  else if (ns < 1e9) snprintf(out, cap, "%.2f ms", ns / 1e6);
  else snprintf(out, cap, "%.2f s", ns / 1e9);
}

static void fmt_bytes(char *out, size_t cap, double b) {
  if (b < 1024) snprintf(out, cap, "%.0f B", b);
  else if (b < 1024.0 * 1024) snprintf(out, cap, "%.1f KiB", b / 1024);
  else if (b < 1024.0 * 1024 * 1024) snprintf(out, cap, "%.1f MiB", b / (1024.0 * 1024));
  else snprintf(out, cap, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

static void counter_row(const char *label, const json *s) {
  char mem[32];
  fmt_bytes(mem, sizeof mem, json_num(json_get(s, "memory_bytes"), 0));
  printf("%-8s %12llu %12llu %12llu %8.2f%% %12llu %12llu %10llu %12s\n", label,
         (unsigned long long)json_u64(json_get(s, "hits"), 0), (unsigned long long)json_u64(json_get(s, "misses"), 0),
         (unsigned long long)json_u64(json_get(s, "puts"), 0), 100 * json_num(json_get(s, "hit_ratio"), 0),
         (unsigned long long)json_u64(json_get(s, "evictions"), 0),
         (unsigned long long)json_u64(json_get(s, "expirations"), 0),
         (unsigned long long)json_u64(json_get(s, "entries"), 0), mem);
}

static void print_table(const json *j) {
  const json *cfg = json_get(j, "config");
  printf("macho %s   policy %s   filter %s   shards %llu   capacity %llu\n", json_str(json_get(j, "macho_version"), "?"),
         json_str(json_get(cfg, "policy"), "?"), json_str(json_get(cfg, "filter"), "?"),
         (unsigned long long)json_u64(json_get(cfg, "shards"), 0),
         (unsigned long long)json_u64(json_get(cfg, "capacity_entries"), 0));
  printf("\n%-8s %12s %12s %12s %9s %12s %12s %10s %12s\n", "shard", "hits", "misses", "puts", "hit%", "evictions",
         "expirations", "entries", "memory");
  const json *shards = json_get(j, "shards");
  for (size_t i = 0; json_at(shards, i); i++) {
    char label[16];
    snprintf(label, sizeof label, "%llu", (unsigned long long)json_u64(json_get(json_at(shards, i), "shard"), i));
    counter_row(label, json_at(shards, i));
  }
  counter_row("total", json_get(j, "total"));
  printf("\n%-10s %10s %10s %10s %10s %10s %10s %10s\n", "latency", "timed", "min", "mean", "p50", "p99", "p99.9",
         "max");
  static const char *const ops[2] = {"get", "put"};
  for (int i = 0; i < 2; i++) {
    const json *d = json_get(json_get(j, "latency_ns"), ops[i]);
    static const char *const f[6] = {"min", "mean", "p50", "p99", "p999", "max"};
    char a[6][24];
    for (int x = 0; x < 6; x++) fmt_ns(a[x], sizeof a[x], json_num(json_get(d, f[x]), 0));
    printf("%-10s %10llu %10s %10s %10s %10s %10s %10s\n", ops[i], (unsigned long long)json_u64(json_get(d, "count"), 0),
           a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  printf("\n%-10s %10s %10s %10s %10s\n", "lifespan", "count", "median", "mean", "max");
  static const char *const rs[4] = {"evicted", "expired", "deleted", "cleared"};
  for (int i = 0; i < 4; i++) {
    const json *d = json_get(json_get(j, "lifespan_ns"), rs[i]);
    char a[3][24];
    fmt_ns(a[0], sizeof a[0], json_num(json_get(d, "p50"), 0));
    fmt_ns(a[1], sizeof a[1], json_num(json_get(d, "mean"), 0));
    fmt_ns(a[2], sizeof a[2], json_num(json_get(d, "max"), 0));
    printf("%-10s %10llu %10s %10s %10s\n", rs[i], (unsigned long long)json_u64(json_get(d, "count"), 0), a[0], a[1],
           a[2]);
  }
  /* What auto follows, and the live miss-ratio curve when the cache keeps one. */
  const json *pc = json_get(j, "policy_current");
  if (pc && strcmp(json_str(json_get(cfg, "policy"), ""), "auto") == 0)
    printf("\nauto follows %s now (%llu changes)\n", json_str(json_get(pc, "policy"), "?"),
           (unsigned long long)json_u64(json_get(pc, "changes"), 0));
  const json *m = json_get(j, "mrc");
  const json *pts = json_get(m, "points");
  if (!json_at(pts, 0)) return; /* no curve (null) */
  printf("\n%-22s %12s %10s\n", "if the cache were", "entries", "hit ratio");
  for (size_t i = 0; json_at(pts, i); i++) {
    const json *p = json_at(pts, i);
    double x = json_num(json_get(p, "multiple"), 0), r = json_num(json_get(p, "miss_ratio"), -1);
    char hit[16] = "-", label[32];
    if (r >= 0) snprintf(hit, sizeof hit, "%.2f%%", 100 * (1 - r));
    if (x == 1) snprintf(label, sizeof label, "as it is (estimate)");
    else snprintf(label, sizeof label, "%gx its size", x);
    printf("%-22s %12llu %10s\n", label, (unsigned long long)json_u64(json_get(p, "entries"), 0), hit);
  }
  printf("(sample: %.1f%% of the keys, %llu of %llu gets)\n", 100 * json_num(json_get(m, "sample_rate"), 0),
         (unsigned long long)json_u64(json_get(m, "sampled_gets"), 0),
         (unsigned long long)json_u64(json_get(m, "gets"), 0));
}

/* ---- --watch: rates per interval ----------------------------------------------------- */

typedef struct bucket {
  double lo, hi;
  uint64_t count;
} bucket;

typedef struct sample {
  double now_ns;
  uint64_t hits, misses, gets, evictions, expirations, entries, memory;
  bucket *lat[2]; /* get, put histograms */
  size_t nlat[2];
} sample;

static void sample_free(sample *s) {
  free(s->lat[0]);
  free(s->lat[1]);
  memset(s, 0, sizeof *s);
}

static bool sample_take(const json *j, sample *s) {
  memset(s, 0, sizeof *s);
  const json *t = json_get(j, "total");
  s->now_ns = json_num(json_get(j, "now_ns"), 0);
  s->hits = json_u64(json_get(t, "hits"), 0);
  s->misses = json_u64(json_get(t, "misses"), 0);
  s->gets = json_u64(json_get(t, "gets"), 0);
  s->evictions = json_u64(json_get(t, "evictions"), 0);
  s->expirations = json_u64(json_get(t, "expirations"), 0);
  s->entries = json_u64(json_get(t, "entries"), 0);
  s->memory = json_u64(json_get(t, "memory_bytes"), 0);
  static const char *const ops[2] = {"get", "put"};
  for (int k = 0; k < 2; k++) {
    const json *b = json_get(json_get(json_get(j, "latency_ns"), ops[k]), "buckets");
    size_t n = b && b->type == JSON_ARRAY ? b->len : 0;
    s->lat[k] = calloc(n ? n : 1, sizeof *s->lat[k]);
    if (!s->lat[k]) return false;
    for (size_t i = 0; i < n; i++) {
      const json *e = json_at(b, i);
      s->lat[k][i] = (bucket){json_num(json_at(e, 0), 0), json_num(json_at(e, 1), 0), json_u64(json_at(e, 2), 0)};
    }
    s->nlat[k] = n;
  }
  return true;
}

/* The q-quantile of the calls timed between snapshots a and b (buckets
 * matched by their lower bound), as the middle of its bucket; NAN when none.
 * A reset between the two (counts that went down) counts b alone. */
static double interval_quantile(const sample *a, const sample *b, int k, double q) {
  size_t n = b->nlat[k];
  uint64_t *delta = calloc(n ? n : 1, sizeof *delta), total = 0;
  if (!delta) return NAN;
  bool reset = false;
  for (size_t i = 0, j = 0; i < n; i++) {
    while (j < a->nlat[k] && a->lat[k][j].lo < b->lat[k][i].lo) j++;
    uint64_t before = j < a->nlat[k] && a->lat[k][j].lo == b->lat[k][i].lo ? a->lat[k][j].count : 0;
    if (before > b->lat[k][i].count) reset = true;
    delta[i] = b->lat[k][i].count - (before > b->lat[k][i].count ? 0 : before);
  }
  for (size_t i = 0; i < n; i++) {
    if (reset) delta[i] = b->lat[k][i].count;
    total += delta[i];
  }
  double v = NAN;
  if (total) {
    uint64_t rank = (uint64_t)ceil(q * (double)total), seen = 0;
    if (rank < 1) rank = 1;
    for (size_t i = 0; i < n; i++) {
      seen += delta[i];
      if (seen >= rank) {
        v = (b->lat[k][i].lo + b->lat[k][i].hi) / 2;
        break;
      }
    }
  }
  free(delta);
  return v;
}

static uint64_t diff(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

static void watch_header(void) {
  printf("%12s %12s %12s %12s %8s %10s %10s %12s\n", "entries", "hits/s", "misses/s", "evictions/s", "hit%",
         "get p99", "put p99", "memory");
}

static void watch_row(const client_opts *o, const sample *a, const sample *b, double wall) {
  double dt = (b->now_ns - a->now_ns) / 1e9;
  if (!(dt > 0)) dt = wall; /* a cache whose clock stands still (an injected test clock) */
  if (!(dt > 0)) dt = o->interval;
  uint64_t dh = diff(b->hits, a->hits), dm = diff(b->misses, a->misses), de = diff(b->evictions, a->evictions);
  double hit = dh + dm ? (double)dh / (double)(dh + dm) : NAN;
  double gp99 = interval_quantile(a, b, 0, 0.99), pp99 = interval_quantile(a, b, 1, 0.99);
  if (o->json) {
    printf("{\"schema\":\"macho.stats.watch\",\"version\":1,\"now_ns\":%.0f,\"interval_s\":%.6f,\"entries\":%llu,\"hits_per_s\":%.3f,\"misses_per_s\":%.3f,"
           "\"evictions_per_s\":%.3f,\"expirations_per_s\":%.3f,\"hit_ratio\":",
           b->now_ns, dt, (unsigned long long)b->entries, (double)dh / dt, (double)dm / dt, (double)de / dt,
           (double)diff(b->expirations, a->expirations) / dt);
    if (isnan(hit)) printf("null");
    else printf("%.6f", hit);
    printf(",\"get_p99_ns\":");
    if (isnan(gp99)) printf("null");
    else printf("%.0f", gp99);
    printf(",\"put_p99_ns\":");
    if (isnan(pp99)) printf("null");
    else printf("%.0f", pp99);
    printf(",\"memory_bytes\":%llu}\n", (unsigned long long)b->memory);
    return;
  }
  char g[24] = "-", p[24] = "-", mem[24], hr[16] = "-";
  if (!isnan(gp99)) fmt_ns(g, sizeof g, gp99);
  if (!isnan(pp99)) fmt_ns(p, sizeof p, pp99);
  if (!isnan(hit)) snprintf(hr, sizeof hr, "%.2f%%", 100 * hit);
  fmt_bytes(mem, sizeof mem, (double)b->memory);
  printf("%12llu %12.0f %12.0f %12.0f %8s %10s %10s %12s\n", (unsigned long long)b->entries, (double)dh / dt,
         (double)dm / dt, (double)de / dt, hr, g, p, mem);
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int watch(const client_opts *o) {
  sample prev, cur;
  json *j = fetch_stats("stats", o, NULL);
  if (!j) return CLI_FAIL;
  bool ok = sample_take(j, &prev);
  json_free(j);
  if (!ok) return CLI_FAIL;
  bool tty = isatty(STDOUT_FILENO);
  double t_prev = cli_now();
  int rc = CLI_OK;
  for (uint64_t n = 0; !o->count || n < o->count; n++) {
    sleep_s(o->interval - (cli_now() - t_prev));
    j = fetch_stats("stats", o, NULL);
    if (!j) {
      rc = CLI_FAIL;
      break;
    }
    double t = cli_now();
    ok = sample_take(j, &cur);
    json_free(j);
    if (!ok) {
      rc = CLI_FAIL;
      sample_free(&cur);
      break;
    }
    if (!o->json && (n == 0 || (tty && n % 20 == 0))) watch_header();
    watch_row(o, &prev, &cur, t - t_prev);
    fflush(stdout);
    sample_free(&prev);
    prev = cur;
    t_prev = t;
  }
  sample_free(&prev);
  return rc;
}

/* ---- the commands ---------------------------------------------------------------------- */

static int client_check(void *p, char *err, size_t errlen) {
  client_opts *o = p;
  int rc = parse_url(o->base.args[0], o->token, &o->t, err, errlen);
  if (rc != CLI_OK) return rc;
  if (o->base.nargs > 1 && strlen(o->base.args[1]) > MAX_KEY)
    return cli_usage_error(err, errlen, "KEY is longer than %d bytes", MAX_KEY);
  if (o->base.nargs > 1 && !*o->base.args[1]) return cli_usage_error(err, errlen, "KEY is empty");
  return CLI_OK;
}

static int stats_check(void *p, char *err, size_t errlen) {
  client_opts *o = p;
  const cli_spec *s = &cli_spec_stats;
  if (!o->watch && (cli_given(s, o, "interval") || cli_given(s, o, "count")))
    return cli_usage_error(err, errlen, "--%s needs --watch", cli_given(s, o, "interval") ? "interval" : "count");
  return client_check(p, err, errlen);
}

static int stats_run(void *p) {
  const client_opts *o = p;
  if (o->watch) return watch(o);
  response raw;
  json *j = fetch_stats("stats", o, &raw);
  if (!j) return CLI_FAIL;
  if (o->json) {
    fwrite(raw.body, 1, raw.body_len, stdout);
    if (!raw.body_len || raw.body[raw.body_len - 1] != '\n') putchar('\n');
  } else {
    print_table(j);
  }
  json_free(j);
  free(raw.data);
  return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static int simple(const char *cmd, const client_opts *o, const char *method, const char *path) {
  char full[2048];
  if (o->base.nargs > 1) {
    char enc[3 * MAX_KEY + 1];
    encode(enc, sizeof enc, o->base.args[1]);
    snprintf(full, sizeof full, "%s?key=%s", path, enc);
  } else {
    snprintf(full, sizeof full, "%s", path);
  }
  response r;
  if (!request(cmd, &o->t, o->timeout, method, full, &r)) return CLI_FAIL;
  int rc = CLI_OK;
  if (r.status == 404 && o->base.nargs > 1) {
    fprintf(stderr, "macho %s: key not found: %s\n", cmd, o->base.args[1]);
    rc = CLI_FAIL;
  } else if (r.status / 100 != 2) {
    rc = fail_status(cmd, &r);
  } else if (!strcmp(path, "/api/get")) {
    fwrite(r.body, 1, r.body_len, stdout);
  } else {
    printf("macho %s: ok\n", cmd);
  }
  free(r.data);
  return rc;
}

static int clear_run(void *p) { return simple("clear", p, "POST", "/api/clear"); }
/* POST: a get counts and moves the key in the policy, so the dashboard takes
 * it as a POST (no crawler or prefetcher fires one; docs/RELIABILITY.md). */
static int get_run(void *p) { return simple("get", p, "POST", "/api/get"); }
static int del_run(void *p) { return simple("del", p, "DELETE", "/api/key"); }

#define TOKEN_OPTION                                                                                  \
  {CLI_OPT("token", 0, CLI_STRING, client_opts, token, "T",                                            \
           "the dashboard's token (1-256 of A-Za-z0-9._~-), sent as a bearer header"),                 \
   .default_text = "the URL's ?token="}
#define TIMEOUT_OPTION                                                                                \
  {CLI_OPT("timeout", 0, CLI_DOUBLE, client_opts, timeout, "S",                                        \
           "give up on connecting or reading after S seconds"),                                         \
   .min = 0.1, .max = 3600}

static const cli_option stats_options[] = {
    {CLI_OPT("watch", 'w', CLI_FLAG, client_opts, watch, NULL,
             "one line per interval: per-second rates, hit ratio and p99 of that interval (as redis-cli --stat)")},
    {CLI_OPT("interval", 'i', CLI_DOUBLE, client_opts, interval, "S",
             "seconds between --watch lines"), .min = 0.1, .max = 3600},
    {CLI_OPT("count", 'c', CLI_U64, client_opts, count, "N",
             "stop after N --watch lines; 0 = until interrupted"), .max = 18446744073709551615.0},
    {CLI_OPT("json", 0, CLI_FLAG, client_opts, json, NULL,
             "the /api/stats JSON as is; with --watch, one JSON object per line")},
    TOKEN_OPTION,
    TIMEOUT_OPTION,
    {0},
};
static const client_opts client_defaults = {.interval = 1.0, .timeout = 10.0};

#define URL_HELP                                                                                             \
  "URL is what `macho demo --dashboard` prints, with or without http://: 127.0.0.1:PORT, "                  \
  "http://[::1]:PORT/?token=T. A path in it prefixes the API (a dashboard behind a reverse proxy)."

const cli_spec cli_spec_stats = {
    .name = "stats",
    .summary = "show a running cache's figures from its dashboard URL",
    .args = "URL",
    .min_args = 1,
    .max_args = 1,
    .description = "Reads /api/stats of a running dashboard and prints the configuration, counters per "
                   "shard, latency percentiles and lifespans by reason. With --watch, one line per interval "
                   "with the rates of that interval; the header is repeated every 20 lines on a terminal, "
                   "and no screen-clearing codes are ever written.\n\n" URL_HELP,
    .examples = "macho stats 127.0.0.1:8080\nmacho stats http://127.0.0.1:8080/ --watch --count 10\n"
                "macho stats 127.0.0.1:8080 --json | python3 -m json.tool",
    .options = stats_options,
    .opts_size = sizeof(client_opts),
    .defaults = &client_defaults,
    .check = stats_check,
    .run = stats_run,
};

static const cli_option simple_options[] = {
    TOKEN_OPTION,
    TIMEOUT_OPTION,
    {0},
};

const cli_spec cli_spec_clear = {
    .name = "clear",
    .summary = "clear a running cache (its dashboard with management on)",
    .args = "URL",
    .min_args = 1,
    .max_args = 1,
    .description = "POST /api/clear: removes every entry. The dashboard must have management on "
                   "(`macho demo --dashboard --manage`).\n\n" URL_HELP,
    .examples = "macho clear 127.0.0.1:8080",
    .options = simple_options,
    .opts_size = sizeof(client_opts),
    .defaults = &client_defaults,
    .check = client_check,
    .run = clear_run,
};

const cli_spec cli_spec_get = {
    .name = "get",
    .summary = "print a key's value from a running cache (management on)",
    .args = "URL KEY",
    .min_args = 2,
    .max_args = 2,
    .description = "POST /api/get?key=KEY: writes the value's bytes to standard output as they are (a get: "
                   "it counts as a hit or a miss and informs the policy). Exit status 1 when the key is absent. "
                   "Use -- before a KEY that starts with '-'.\n\n" URL_HELP,
    .examples = "macho get 127.0.0.1:8080 k42\nmacho get 127.0.0.1:8080 -- -odd-key",
    .options = simple_options,
    .opts_size = sizeof(client_opts),
    .defaults = &client_defaults,
    .check = client_check,
    .run = get_run,
};

const cli_spec cli_spec_del = {
    .name = "del",
    .summary = "delete a key from a running cache (management on)",
    .args = "URL KEY",
    .min_args = 2,
    .max_args = 2,
    .description = "DELETE /api/key?key=KEY. Exit status 1 when the key is absent.\n\n" URL_HELP,
    .examples = "macho del 127.0.0.1:8080 k42",
    .options = simple_options,
    .opts_size = sizeof(client_opts),
    .defaults = &client_defaults,
    .check = client_check,
    .run = del_run,
};
