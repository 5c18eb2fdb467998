/*
 * request.c -- what the dashboard answers to a request, decided by a pure
 * function of the request's bytes (method, target as sent, header lines) and
 * of what the server knows about itself. No sockets and no cache here, so the
 * unit tests and the fuzzer (fuzz/fuzz_dashboard_request.c) call it directly,
 * and server.c only carries out the decision.
 *
 * The checks run from cheapest and least revealing to most specific:
 *   414 target too long, 431 too many header lines,
 *   400 a repeated Host/Authorization/Origin/Cookie/Content-Length header,
 *   413 any request body (only POST /api/restore takes one, with a
 *       Content-Length, 411 without),
 *   400 a target that is not a plain path, a malformed %-escape in the query,
 *   403 a Host that does not name this loopback server (DNS rebinding),
 *   401 a missing or wrong token,
 *   404 unknown path, 405 wrong method,
 *   403 management off, or a cross-origin browser asking for a write,
 *   403 snapshot/restore on a dashboard without a token,
 *   400 missing, repeated or malformed parameters, 409 byte keys on an object cache.
 *
 * Query values are decoded into a buffer with a length: a key is a byte
 * string, so `%00` is a byte like any other and `a%00b` addresses exactly the
 * three-byte key, never "a". Paths are matched as sent, without decoding,
 * so no escape can reach a route by another spelling.
 */
#include "dashboard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* ---- small byte helpers ------------------------------------------------------- */

static bool bytes_eq(const char *s, size_t n, const char *lit) {
  size_t m = strlen(lit);
  return n == m && memcmp(s, lit, m) == 0;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool bytes_ieq(const char *s, size_t n, const char *lit) {
  size_t m = strlen(lit);
  if (n != m) return false;
  for (size_t i = 0; i < n; i++)
    if (lower(s[i]) != lower(lit[i])) return false;
  return true;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decimal digits only, no sign, value <= max. */
static bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out) {
  if (n == 0 || n > 20) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

long macho__dash_unescape(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= n) return -1; /* fewer than two characters follow */
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = (char)(hi << 4 | lo);
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    if (o >= cap) return -1; /* cannot happen when cap >= n */
    out[o++] = c;
  }
  return (long)o;
}

bool macho__dash_token_equal(const char *given, size_t given_len, const char *want, size_t want_len) {
  /* Every byte of the expected token is compared whatever the input, so the
   * time says nothing about how much of a guess was right. */
  unsigned char diff = given_len != want_len;
  for (size_t i = 0; i < want_len; i++) {
    unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
    diff |= (unsigned char)(g ^ (unsigned char)want[i]);
  }
  return diff == 0;
}

/* ---- addresses ---------------------------------------------------------------- */

bool macho__dash_addr_is_loopback(int family, const uint8_t addr[16]) {
  if (family == AF_INET) return addr[0] == 127;
  if (family != AF_INET6) return false;
  static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(addr, one, 16) == 0 || (memcmp(addr, mapped, 12) == 0 && addr[12] == 127);
}

bool macho__dash_host_is_loopback(const char *host, size_t n, unsigned port) {
  if (!host || n == 0 || n > 64) return false;
  char name[65];
  size_t name_len;
  const char *rest;
  if (host[0] == '[') { /* [IPv6]:port */
    const char *close = memchr(host, ']', n);
    if (!close) return false;
    name_len = (size_t)(close - host - 1);
    memcpy(name, host + 1, name_len);
    name[name_len] = '\0';
    struct in6_addr a6;
    if (inet_pton(AF_INET6, name, &a6) != 1 || !macho__dash_addr_is_loopback(AF_INET6, a6.s6_addr))
      return false;
    rest = close + 1;
  } else {
    const char *colon = memchr(host, ':', n);
    name_len = colon ? (size_t)(colon - host) : n;
    memcpy(name, host, name_len);
    name[name_len] = '\0';
    struct in_addr a4;
    /* inet_pton takes exactly four decimal parts: "127.1", "0x7f.0.0.1",
     * "127.0.0.1.evil.example" and "127.0.0.01" are all refused. */
    if (!bytes_ieq(name, name_len, "localhost") &&
        !(inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127))
      return false;
    rest = host + name_len;
  }
  size_t left = n - (size_t)(rest - host);
  if (left == 0) return port == 80; /* no port: HTTP's default */
  uint64_t p;
  return rest[0] == ':' && parse_u64(rest + 1, left - 1, 65535, &p) && p == port;
}

int macho__dash_parse_listen(const char *listen, struct sockaddr_storage *ss, bool *loopback, char *host,
                             size_t host_cap) {
  if (!listen || !ss || !loopback || !host || host_cap == 0) return MACHO_EINVAL;
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen) return MACHO_EINVAL;
  uint64_t port;
  if (!parse_u64(colon + 1, strlen(colon + 1), 65535, &port)) return MACHO_EINVAL;
  size_t n = (size_t)(colon - listen);
  if (n >= host_cap) return MACHO_EINVAL;
  memcpy(host, listen, n);
  host[n] = '\0';
  memset(ss, 0, sizeof *ss);
  if (host[0] == '[') {
    /* Every length is checked before a copy: an IPv6 literal is at most
     * INET6_ADDRSTRLEN - 1 characters, a longer one is refused here. */
    char addr[INET6_ADDRSTRLEN];
    if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof addr) return MACHO_EINVAL;
    memcpy(addr, host + 1, n - 2);
    addr[n - 2] = '\0';
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) return MACHO_EINVAL;
    *loopback = macho__dash_addr_is_loopback(AF_INET6, s6->sin6_addr.s6_addr);
    return MACHO_OK;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  s4->sin_family = AF_INET;
  s4->sin_port = htons((uint16_t)port);
  const char *addr = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1) return MACHO_EINVAL;
  uint8_t a4[16] = {0};
  memcpy(a4, &s4->sin_addr, 4);
  *loopback = macho__dash_addr_is_loopback(AF_INET, a4);
  return MACHO_OK;
}

/* ---- the query ---------------------------------------------------------------- */

typedef struct query {
  const char *p;
  size_t n;
} query;

/* Every %-escape well formed? */
static bool query_well_formed(query q) {
  for (size_t i = 0; i < q.n; i++)
    if (q.p[i] == '%' && (i + 2 >= q.n || hexval(q.p[i + 1]) < 0 || hexval(q.p[i + 2]) < 0)) return false;
  return true;
}

/* How many times parameter `name` occurs (names compared after decoding, so
 * `k%65y` is `key`), and the raw bytes of its first value. */
static unsigned query_find(query q, const char *name, const char **val, size_t *val_len) {
  unsigned count = 0;
  size_t i = 0;
  while (i <= q.n && q.n) {
    size_t end = i;
    while (end < q.n && q.p[end] != '&') end++;
    size_t eq = i;
    while (eq < end && q.p[eq] != '=') eq++;
    char decoded[32];
    long dn = eq - i <= sizeof decoded ? macho__dash_unescape(q.p + i, eq - i, decoded, sizeof decoded) : -1;
    if (dn >= 0 && bytes_eq(decoded, (size_t)dn, name)) {
      if (count++ == 0) {
        *val = eq < end ? q.p + eq + 1 : q.p + end;
        *val_len = eq < end ? end - eq - 1 : 0;
      }
    }
    i = end + 1;
  }
  return count;
}

/* ---- the decision ------------------------------------------------------------- */

static void fail(macho__dash_decision *d, unsigned status, const char *why) {
  d->route = MACHO__ROUTE_ERROR;
  d->status = status;
  d->error = why;
}
#define FAIL(status, why)      \
  do {                         \
    fail(d, (status), (why));  \
    return;                    \
  } while (0)

typedef struct found {
  const macho__dash_header *h;
  unsigned count;
} found;

static found header(const macho__dash_request *r, const char *name) {
  found f = {NULL, 0};
  for (size_t i = 0; i < r->nheaders; i++) {
    if (bytes_ieq(r->headers[i].name, r->headers[i].name_len, name)) {
      if (!f.count++) f.h = &r->headers[i];
    }
  }
  return f;
}

/* RFC 9110 token characters (methods, header names). */
static bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "Authorization: Bearer T" (scheme case-insensitive, RFC 6750). */
static bool bearer_ok(const macho__dash_site *s, const macho__dash_header *h) {
  if (!h || h->value_len < 7) return false;
  if (!bytes_ieq(h->value, 6, "bearer") || h->value[6] != ' ') return false;
  size_t i = 7;
  while (i < h->value_len && h->value[i] == ' ') i++;
  size_t end = h->value_len;
  while (end > i && (h->value[end - 1] == ' ' || h->value[end - 1] == '\t')) end--;
  return macho__dash_token_equal(h->value + i, end - i, s->token, s->token_len);
}

/* "Cookie: a=b; macho_token=T; c=d" */
static bool cookie_ok(const macho__dash_site *s, const macho__dash_header *h) {
  if (!h) return false;
  const char *p = h->value, *end = h->value + h->value_len;
  bool ok = false;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == ';')) p++;
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *stop = semi ? semi : end;
    const char *eq = memchr(p, '=', (size_t)(stop - p));
    if (eq && bytes_eq(p, (size_t)(eq - p), "macho_token"))
      ok |= macho__dash_token_equal(eq + 1, (size_t)(stop - eq - 1), s->token, s->token_len);
    p = stop;
  }
  return ok;
}

typedef struct route_def {
  const char *path;
  macho__dash_route route;
  const char *allow; /* methods, as the Allow header lists them */
} route_def;

/* The whole URL space: adding an endpoint is one line here. */
static const route_def routes[] = {
    {"/api/stats", MACHO__ROUTE_STATS, "GET, HEAD"},
    {"/metrics", MACHO__ROUTE_METRICS, "GET, HEAD"},
    {"/api/history", MACHO__ROUTE_HISTORY, "GET, HEAD"},
    {"/api/tier", MACHO__ROUTE_TIER, "GET, HEAD"},
    {"/api/clear", MACHO__ROUTE_CLEAR, "POST"},
    {"/api/get", MACHO__ROUTE_GET, "POST"},
    {"/api/key", MACHO__ROUTE_DELETE, "DELETE"},
    {"/api/snapshot", MACHO__ROUTE_SNAPSHOT, "GET"},
    {"/api/restore", MACHO__ROUTE_RESTORE, "POST"},
};

static bool method_allowed(const char *allow, const char *m, size_t n) {
  /* allow is "GET, HEAD", "POST" or "DELETE": match whole words */
  const char *p = allow;
  while (*p) {
    size_t w = strcspn(p, ", ");
    if (w == n && memcmp(p, m, n) == 0) return true;
    p += w;
    while (*p == ',' || *p == ' ') p++;
  }
  return false;
}

/* One optional parameter, decoded: 0 absent, 1 present, -1 answered 400. */
static int param(macho__dash_decision *d, query q, const char *name, char *out, size_t cap, size_t *len,
                 const char *repeated_why) {
  const char *v = NULL;
  size_t vn = 0;
  unsigned count = query_find(q, name, &v, &vn);
  if (count == 0) return 0;
  if (count > 1) {
    fail(d, 400, repeated_why);
    return -1;
  }
  if (vn > cap) { /* decoding never lengthens: a value that fits raw fits decoded */
    fail(d, 400, "query parameter value too long");
    return -1;
  }
  long dn = macho__dash_unescape(v, vn, out, cap);
  if (dn < 0) {
    fail(d, 400, "malformed percent-escape in the query");
    return -1;
  }
  *len = (size_t)dn;
  return 1;
}

void macho__dash_decide(const macho__dash_site *s, const macho__dash_request *r, macho__dash_decision *d) {
  memset(d, 0, offsetof(macho__dash_decision, key));
  d->key_len = 0;
  d->body_len = 0;
  d->status = 200;
  if (r->target_len > MACHO__DASH_MAX_URL) FAIL(414, "URL too long (2048 bytes at most)");
  if (r->nheaders > MACHO__DASH_MAX_HEADERS) FAIL(431, "too many header lines (64 at most)");

  found host = header(r, "Host"), origin = header(r, "Origin"), auth = header(r, "Authorization"),
        cookie = header(r, "Cookie"), clen = header(r, "Content-Length"),
        te = header(r, "Transfer-Encoding");
  if (host.count > 1) FAIL(400, "more than one Host header");
  if (origin.count > 1 || auth.count > 1 || cookie.count > 1 || clen.count > 1)
    FAIL(400, "a header that may appear once appears twice");

  /* Only a restore takes a body, of a length announced up front; any other
   * is refused before it is read, which keeps memory flat. A body the
   * decision does not end up reading closes the connection. */
  const char *q0 = memchr(r->target, '?', r->target_len);
  bool restore = bytes_eq(r->target, q0 ? (size_t)(q0 - r->target) : r->target_len, "/api/restore");
  uint64_t body = 0;
  if (te.count) {
    d->close = true;
    if (restore) FAIL(411, "send the snapshot with a Content-Length (no chunked bodies)");
    FAIL(413, "request bodies are not accepted");
  }
  if (clen.count) {
    if (!parse_u64(clen.h->value, clen.h->value_len, UINT64_MAX, &body)) {
      d->close = true;
      FAIL(400, "malformed Content-Length");
    }
    if (body && (!restore || body > MACHO__DASH_MAX_RESTORE)) {
      d->close = true;
      FAIL(413, restore ? "snapshot larger than 1 GiB" : "request bodies are not accepted");
    }
  }
  if (body) d->close = true; /* until the decision says the body is read */

  if (r->method_len == 0 || r->method_len > 16) FAIL(400, "malformed method");
  for (size_t i = 0; i < r->method_len; i++)
    if (!is_tchar(r->method[i])) FAIL(400, "malformed method");

  if (r->target_len == 0 || r->target[0] != '/') FAIL(400, "the request target must be a path");
  for (size_t i = 0; i < r->target_len; i++) {
    unsigned char c = (unsigned char)r->target[i];
    if (c <= 0x20 || c >= 0x7f || c == '#') FAIL(400, "invalid character in the request target");
  }
  const char *qmark = memchr(r->target, '?', r->target_len);
  size_t path_len = qmark ? (size_t)(qmark - r->target) : r->target_len;
  query q = {qmark ? qmark + 1 : "", qmark ? r->target_len - path_len - 1 : 0};
  if (!query_well_formed(q)) FAIL(400, "malformed percent-escape in the query");

  /* DNS rebinding: a page on evil.example that resolves to 127.0.0.1 sends
   * Host: evil.example; only literal loopback names get through. */
  if (!host.count) FAIL(400, "missing Host header");
  if (s->loopback && !macho__dash_host_is_loopback(host.h->value, host.h->value_len, s->port))
    FAIL(403, "Host must name this loopback server (127.0.0.1, localhost or [::1] with its port)");

  char tok[MACHO__DASH_MAX_URL]; /* a decoded value is never longer than the target */
  size_t tok_len = 0;
  int has_tok = param(d, q, "token", tok, sizeof tok, &tok_len, "repeated parameter token");
  if (has_tok < 0) return;
  bool query_tok = has_tok > 0 && s->token_len && macho__dash_token_equal(tok, tok_len, s->token, s->token_len);
  if (s->token_len) {
    bool ok = bearer_ok(s, auth.h) || cookie_ok(s, cookie.h) || query_tok;
    if (!ok) {
      d->authenticate = true;
      FAIL(401, "missing or wrong token");
    }
  }

  bool get = bytes_eq(r->method, r->method_len, "GET"), head = bytes_eq(r->method, r->method_len, "HEAD");
  macho__asset a;
  if (macho__asset_find(r->target, path_len, &a)) {
    if (!get && !head) {
      d->allow = "GET, HEAD";
      FAIL(405, "method not allowed");
    }
    d->route = MACHO__ROUTE_ASSET;
    d->asset = a;
    d->head = head;
    d->set_cookie = query_tok && strcmp(a.path, "/") == 0;
    return;
  }
  const route_def *rd = NULL;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !rd; i++)
    if (bytes_eq(r->target, path_len, routes[i].path)) rd = &routes[i];
  if (!rd) FAIL(404, "not found");
  if (!method_allowed(rd->allow, r->method, r->method_len)) {
    d->allow = rd->allow;
    FAIL(405, "method not allowed");
  }
  d->head = head;

  if (rd->route == MACHO__ROUTE_HISTORY) {
    char num[24];
    size_t num_len = 0;
    int has = param(d, q, "seconds", num, sizeof num, &num_len, "repeated parameter seconds");
    if (has < 0) return;
    uint64_t v = 0;
    if (has && (!parse_u64(num, num_len, MACHO__HISTORY_SECONDS, &v) || v == 0))
      FAIL(400, "seconds must be an integer from 1 to 900");
    d->seconds = (uint32_t)v;
    has = param(d, q, "since", num, sizeof num, &num_len, "repeated parameter since");
    if (has < 0) return;
    if (has && !parse_u64(num, num_len, UINT64_MAX, &d->since))
      FAIL(400, "since must be a sample sequence number");
    d->has_since = has > 0;
    d->route = rd->route;
    return;
  }
  if (rd->route != MACHO__ROUTE_CLEAR && rd->route != MACHO__ROUTE_GET && rd->route != MACHO__ROUTE_DELETE &&
      rd->route != MACHO__ROUTE_SNAPSHOT && rd->route != MACHO__ROUTE_RESTORE) {
    d->route = rd->route;
    return;
  }

  /* Management: off unless switched on; from a browser, only the dashboard's
   * own page may ask (a cross-site form or fetch carries its Origin). */
  if (!s->management) FAIL(403, "management is disabled on this dashboard");
  if (origin.count) {
    const macho__dash_header *o = origin.h;
    bool same = o->value_len == 7 + host.h->value_len && memcmp(o->value, "http://", 7) == 0 &&
                memcmp(o->value + 7, host.h->value, host.h->value_len) == 0;
    if (!same) FAIL(403, "cross-origin request refused");
  }
  if (rd->route == MACHO__ROUTE_CLEAR) {
    d->route = rd->route;
    return;
  }
  if (rd->route == MACHO__ROUTE_SNAPSHOT || rd->route == MACHO__ROUTE_RESTORE) {
    /* Every entry goes out, or in: never without a token, even on loopback. */
    if (!s->token_len) FAIL(403, "snapshot and restore need a dashboard token");
    if (s->object_mode) FAIL(409, "this cache holds objects, not bytes");
    if (rd->route == MACHO__ROUTE_RESTORE) {
      if (!clen.count) FAIL(411, "send the snapshot with a Content-Length");
      if (!body) FAIL(400, "an empty body is no snapshot");
      d->body_len = body;
      d->close = false; /* the body is read */
    }
    d->route = rd->route;
    return;
  }
  int has = param(d, q, "key", d->key, sizeof d->key, &d->key_len, "repeated parameter key");
  if (has < 0) return;
  if (!has) FAIL(400, "missing ?key=");
  if (s->object_mode) FAIL(409, "this cache holds objects, not byte keys");
  d->route = rd->route;
}
