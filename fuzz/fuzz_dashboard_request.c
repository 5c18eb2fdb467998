/*
 * fuzz_dashboard_request.c -- the dashboard's request handling without
 * sockets: request.c's pure decision (method, target, query decoding, Host,
 * Origin and token checks), the listen-address parser and the connection
 * admission rules of admit.c, fed from the fuzz input and checked against
 * properties that an independent reading of the rules gives.
 *
 * Input: byte 0 picks the mode and the server's setup, bytes 1-2 its port,
 * the rest is the request as text: "METHOD TARGET\n" then header lines
 * "Name: value\n" (bytes, NUL included). Seeds in fuzz/corpus/dashboard_request/
 * are readable that way.
 *
 * What must hold for every input (any breach aborts, so the fuzzer keeps it):
 *   - the answer is one of the documented statuses, with a route exactly when 200;
 *   - deciding twice gives the same decision (a pure function);
 *   - a 200 on a token-protected server means the request carried the token
 *     (Bearer, ?token= or the macho_token cookie), compared byte for byte;
 *   - a 200 on a loopback server means Host was a literal loopback name
 *     with the server's port;
 *   - reads answer only GET/HEAD, management only its method, only when
 *     switched on, and never to a foreign Origin;
 *   - a decoded key is exactly the %-decoding of the one ?key= value (so a
 *     %00 is a byte of it, never its end);
 *   - parse_listen never writes past its buffers and accepts only what it
 *     can print back;
 *   - admission never picks a free, evicted or (for a remote peer) loopback
 *     victim, and never lets remote peers into the loopback reserve.
 */
#include "dashboard/dashboard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "\nFUZZ FAILURE (%s:%d): ", __FILE__, __LINE__);      \
      fprintf(stderr, __VA_ARGS__);                                          \
      fprintf(stderr, "\n");                                                 \
      abort();                                                               \
    }                                                                        \
  } while (0)

static const char TOKEN[] = "tok-en.9_~";

/* ---- an independent reading of the rules --------------------------------------- */

static int hexv(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode a form value; -1 on a bad escape. */
static long ref_decode(const char *s, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (n - i < 3 || hexv((unsigned char)s[i + 1]) < 0 || hexv((unsigned char)s[i + 2]) < 0) return -1;
      out[o++] = (char)(hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i] == '+' ? ' ' : s[i];
    }
  }
  return (long)o;
}

/* The decoded value of the single parameter `name` of the query; -1 absent,
 * -2 repeated or undecodable. */
static long ref_param(const char *q, size_t n, const char *name, char *out) {
  long found = -1;
  size_t i = 0;
  char dn[MACHO__DASH_MAX_URL + 1];
  while (i <= n && n) {
    size_t end = i;
    while (end < n && q[end] != '&') end++;
    size_t eq = i;
    while (eq < end && q[eq] != '=') eq++;
    long l = ref_decode(q + i, eq - i, dn);
    if (l == (long)strlen(name) && memcmp(dn, name, (size_t)l) == 0) {
      if (found != -1) return -2;
      found = eq < end ? ref_decode(q + eq + 1, end - eq - 1, out) : 0;
      if (found < 0) return -2;
    }
    i = end + 1;
  }
  return found;
}

static char low(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static bool ieq(const char *a, size_t n, const char *lit) {
  if (n != strlen(lit)) return false;
  for (size_t i = 0; i < n; i++)
    if (low(a[i]) != low(lit[i])) return false;
  return true;
}

static const macho__dash_header *find(const macho__dash_request *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (ieq(r->headers[i].name, r->headers[i].name_len, name)) return &r->headers[i];
  return NULL;
}

static bool carries_token(const macho__dash_request *r, const char *q, size_t qn) {
  size_t tl = strlen(TOKEN);
  const macho__dash_header *a = find(r, "Authorization");
  if (a && a->value_len > 7) {
    const char *v = a->value + 7;
    size_t n = a->value_len - 7;
    while (n && *v == ' ') v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (ieq(a->value, 6, "bearer") && n == tl && !memcmp(v, TOKEN, tl)) return true;
  }
  const macho__dash_header *c = find(r, "Cookie");
  if (c) {
    for (size_t i = 0; i + 12 + tl <= c->value_len; i++) {
      if ((i == 0 || c->value[i - 1] == ' ' || c->value[i - 1] == ';') && !memcmp(c->value + i, "macho_token=", 12) &&
          !memcmp(c->value + i + 12, TOKEN, tl) && (i + 12 + tl == c->value_len || c->value[i + 12 + tl] == ';'))
        return true;
    }
  }
  static char v[MACHO__DASH_MAX_URL + 1];
  long n = ref_param(q, qn, "token", v);
  return n == (long)tl && !memcmp(v, TOKEN, tl);
}

static bool host_ok(const char *h, size_t n, unsigned port) {
  char name[80];
  size_t nl;
  const char *rest;
  if (n && h[0] == '[') {
    const char *close = memchr(h, ']', n);
    if (!close || (size_t)(close - h - 1) >= sizeof name) return false;
    nl = (size_t)(close - h - 1);
    memcpy(name, h + 1, nl);
    name[nl] = 0;
    struct in6_addr a;
    if (inet_pton(AF_INET6, name, &a) != 1) return false;
    static const uint8_t one[16] = {[15] = 1};
    bool lo = !memcmp(a.s6_addr, one, 16) ||
              (!memcmp(a.s6_addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) && a.s6_addr[12] == 127);
    if (!lo) return false;
    rest = close + 1;
  } else {
    const char *colon = memchr(h, ':', n);
    nl = colon ? (size_t)(colon - h) : n;
    if (nl >= sizeof name) return false;
    memcpy(name, h, nl);
    name[nl] = 0;
    struct in_addr a;
    if (!ieq(name, nl, "localhost") && !(inet_pton(AF_INET, name, &a) == 1 && ((uint8_t *)&a)[0] == 127))
      return false;
    rest = h + nl;
  }
  size_t left = n - (size_t)(rest - h);
  if (!left) return port == 80;
  if (rest[0] != ':' || left < 2) return false;
  unsigned long p = 0;
  for (size_t i = 1; i < left; i++) {
    if (rest[i] < '0' || rest[i] > '9') return false;
    p = p * 10 + (unsigned long)(rest[i] - '0');
    if (p > 65535) return false;
  }
  return p == port;
}

/* ---- modes ---------------------------------------------------------------------- */

static void fuzz_decide(uint8_t flags, unsigned port, const char *text, size_t n) {
  macho__dash_site s = {0};
  if (flags & 1) {
    s.token = TOKEN;
    s.token_len = strlen(TOKEN);
  }
  s.loopback = flags & 2;
  s.management = flags & 4;
  s.object_mode = flags & 8;
  s.port = port;

  /* "METHOD TARGET\n" then "Name: value\n" lines */
  static macho__dash_header hs[MACHO__DASH_MAX_HEADERS + 8];
  macho__dash_request r = {0};
  const char *eol = memchr(text, '\n', n);
  size_t line = eol ? (size_t)(eol - text) : n;
  const char *sp = memchr(text, ' ', line);
  r.method = text;
  r.method_len = sp ? (size_t)(sp - text) : line;
  r.target = sp ? sp + 1 : text + line;
  r.target_len = sp ? line - r.method_len - 1 : 0;
  r.headers = hs;
  const char *p = eol ? eol + 1 : text + n, *end = text + n;
  while (p < end && r.nheaders < sizeof hs / sizeof hs[0]) {
    const char *e = memchr(p, '\n', (size_t)(end - p));
    size_t ln = e ? (size_t)(e - p) : (size_t)(end - p);
    const char *colon = memchr(p, ':', ln);
    macho__dash_header *h = &hs[r.nheaders++];
    h->name = p;
    h->name_len = colon ? (size_t)(colon - p) : ln;
    const char *v = colon ? colon + 1 : p + ln;
    size_t vl = colon ? ln - h->name_len - 1 : 0;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--; /* as libmicrohttpd trims */
    h->value = v;
    h->value_len = vl;
    p = e ? e + 1 : end;
  }

  static macho__dash_decision d, again;
  macho__dash_decide(&s, &r, &d);
  macho__dash_decide(&s, &r, &again);
  CHECK(d.status == again.status && d.route == again.route && d.key_len == again.key_len &&
            !memcmp(d.key, again.key, d.key_len),
        "two decisions on the same request differ");
  static const unsigned statuses[] = {200, 400, 401, 403, 404, 405, 409, 411, 413, 414, 431};
  bool known = false;
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) known |= d.status == statuses[i];
  CHECK(known, "undocumented status %u", d.status);
  CHECK((d.status == 200) == (d.route != MACHO__ROUTE_ERROR), "status %u with route %d", d.status, d.route);
  CHECK(d.status == 200 || (d.error && *d.error), "an error without a sentence");
  CHECK(d.status != 405 || (d.allow && *d.allow), "405 without Allow");
  CHECK(d.status != 401 || d.authenticate, "401 without WWW-Authenticate");
  if (d.status != 200) return;

  CHECK(r.target_len <= MACHO__DASH_MAX_URL && r.nheaders <= MACHO__DASH_MAX_HEADERS, "limits not applied");
  const char *qm = memchr(r.target, '?', r.target_len);
  const char *q = qm ? qm + 1 : "";
  size_t qn = qm ? r.target_len - (size_t)(qm + 1 - r.target) : 0;
  if (s.token_len) CHECK(carries_token(&r, q, qn), "200 without the token");
  const macho__dash_header *host = find(&r, "Host");
  CHECK(host, "200 without Host");
  if (s.loopback) CHECK(host_ok(host->value, host->value_len, port), "200 for a Host that is not loopback:port");
  const macho__dash_header *cl = find(&r, "Content-Length");
  CHECK(!find(&r, "Transfer-Encoding"), "200 with a body");
  if (cl && d.route != MACHO__ROUTE_RESTORE) { /* only a restore takes a body */
    for (size_t i = 0; i < cl->value_len; i++) CHECK(cl->value[i] == '0', "200 with a body");
  }
  bool get = r.method_len == 3 && !memcmp(r.method, "GET", 3), head = r.method_len == 4 && !memcmp(r.method, "HEAD", 4);
  bool post = r.method_len == 4 && !memcmp(r.method, "POST", 4), del = r.method_len == 6 && !memcmp(r.method, "DELETE", 6);
  switch (d.route) {
  case MACHO__ROUTE_ASSET:
  case MACHO__ROUTE_STATS:
  case MACHO__ROUTE_METRICS:
  case MACHO__ROUTE_HISTORY:
  case MACHO__ROUTE_TIER:
    CHECK(get || head, "a read answered to %.*s", (int)r.method_len, r.method);
    CHECK(d.head == head, "HEAD not flagged");
    if (d.route == MACHO__ROUTE_HISTORY) CHECK(d.seconds <= MACHO__HISTORY_SECONDS, "seconds out of range");
    break;
  case MACHO__ROUTE_CLEAR:
  case MACHO__ROUTE_GET:
  case MACHO__ROUTE_DELETE: {
    CHECK(s.management, "management answered while off");
    CHECK(d.route == MACHO__ROUTE_DELETE ? del : post, "management with the wrong method");
    const macho__dash_header *o = find(&r, "Origin");
    if (o)
      CHECK(o->value_len == 7 + host->value_len && !memcmp(o->value, "http://", 7) &&
                !memcmp(o->value + 7, host->value, host->value_len),
            "a write for a foreign Origin");
    if (d.route != MACHO__ROUTE_CLEAR) {
      CHECK(!s.object_mode, "byte keys on an object cache");
      static char want[MACHO__DASH_MAX_URL + 1];
      long wl = ref_param(q, qn, "key", want);
      CHECK(wl >= 0, "a key without exactly one ?key=");
      CHECK((size_t)wl == d.key_len && !memcmp(want, d.key, d.key_len), "the key is not the decoded ?key=");
    }
    break;
  }
  case MACHO__ROUTE_SNAPSHOT:
  case MACHO__ROUTE_RESTORE: {
    CHECK(s.management && s.token_len && !s.object_mode, "a snapshot without management and a token");
    CHECK(d.route == MACHO__ROUTE_SNAPSHOT ? get : post, "a snapshot with the wrong method");
    if (d.route == MACHO__ROUTE_RESTORE) {
      CHECK(cl && d.body_len > 0 && d.body_len <= MACHO__DASH_MAX_RESTORE, "a restore without a sized body");
      uint64_t want = 0;
      for (size_t i = 0; i < cl->value_len; i++) want = want * 10 + (uint64_t)(cl->value[i] - '0');
      CHECK(want == d.body_len && !d.close, "the restore body is not the Content-Length");
    }
    break;
  }
  case MACHO__ROUTE_ERROR:
    break;
  }
}

static void fuzz_listen(const char *text, size_t n) {
  char listen[512];
  if (n >= sizeof listen) n = sizeof listen - 1;
  memcpy(listen, text, n);
  listen[n] = '\0';
  struct sockaddr_storage ss;
  bool loop = false;
  char host[80];
  memset(host, 0x5a, sizeof host);
  int rc = macho__dash_parse_listen(listen, &ss, &loop, host, sizeof host);
  CHECK(rc == MACHO_OK || rc == MACHO_EINVAL, "status %d", rc);
  if (rc != MACHO_OK) return;
  CHECK(memchr(host, '\0', sizeof host), "host not terminated");
  CHECK(strlen(host) < strlen(listen) && !strncmp(listen, host, strlen(host)), "host is not the prefix given");
  CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6, "family %d", ss.ss_family);
  uint8_t a[16] = {0};
  if (ss.ss_family == AF_INET) memcpy(a, &((struct sockaddr_in *)&ss)->sin_addr, 4);
  else memcpy(a, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
  CHECK(loop == macho__dash_addr_is_loopback(ss.ss_family, a), "loopback misjudged");
}

static void fuzz_admit(const uint8_t *data, size_t n) {
  enum { SLOTS = 24 };
  macho__conn conns[SLOTS];
  memset(conns, 0, sizeof conns);
  if (n < 4) return;
  macho__admit_limits lim = {1u + data[0] % SLOTS, data[1] % 6, data[2] % 8};
  int peer_kind = data[3] % 4;
  data += 4;
  n -= 4;
  for (size_t i = 0; i < SLOTS && n >= 3; i++, data += 3, n -= 3) {
    conns[i].state = (uint8_t)(data[0] % 3);
    conns[i].evicted = data[0] & 4;
    conns[i].family = AF_INET;
    conns[i].addr[0] = data[1] & 1 ? 127 : 10;
    conns[i].addr[3] = data[1] >> 1 & 3;
    conns[i].loopback = conns[i].addr[0] == 127;
    conns[i].since_ms = data[2];
  }
  uint8_t addr[16] = {0};
  addr[0] = peer_kind & 1 ? 127 : 10;
  addr[3] = (uint8_t)(peer_kind >> 1);
  bool lo = macho__dash_addr_is_loopback(AF_INET, addr);
  long victim = -2;
  bool ok = macho__dash_admit(conns, SLOTS, &lim, AF_INET, addr, lo, &victim);
  size_t live = 0, live_remote = 0, same = 0, free_slots = 0;
  for (size_t i = 0; i < SLOTS; i++) {
    if (conns[i].state == MACHO__CONN_FREE) {
      free_slots++;
      continue;
    }
    if (conns[i].evicted) continue;
    live++;
    live_remote += !conns[i].loopback;
    same += !memcmp(conns[i].addr, addr, 4);
  }
  CHECK(victim >= -1 && victim < SLOTS, "victim %ld", victim);
  if (!ok) return;
  CHECK(free_slots > 0, "admitted with no free slot");
  if (!lo) CHECK(same < lim.per_ip, "per-address limit passed");
  if (victim >= 0) {
    const macho__conn *v = &conns[victim];
    CHECK(v->state != MACHO__CONN_FREE && !v->evicted, "victim is not a live connection");
    if (!lo) CHECK(!v->loopback, "a remote peer displaced a loopback connection");
    live--;
    live_remote -= !v->loopback;
  }
  CHECK(live < lim.max_connections, "admitted past max_connections");
  if (!lo) {
    uint32_t cap = lim.max_connections > lim.loopback_reserve ? lim.max_connections - lim.loopback_reserve : 0;
    CHECK(live_remote < cap, "a remote peer in the loopback reserve");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  uint8_t flags = data[0];
  unsigned port = (unsigned)data[1] | (unsigned)data[2] << 8;
  const char *text = (const char *)data + 3;
  size_t n = size - 3;
  switch (flags >> 6) {
  case 0:
  case 1:
    fuzz_decide(flags, port, text, n);
    break;
  case 2:
    fuzz_listen(text, n);
    break;
  default:
    fuzz_admit(data + 3, n);
    break;
  }
  /* the decoder alone: never longer than its input, and %XX of any bytes decodes back */
  static char out[4096], enc[512 * 3 + 1];
  size_t m = n < 512 ? n : 512;
  long dl = macho__dash_unescape(text, n < sizeof out ? n : sizeof out, out, sizeof out);
  CHECK(dl <= (long)(n < sizeof out ? n : sizeof out), "decoded %ld bytes from %zu", dl, n);
  for (size_t i = 0; i < m; i++) snprintf(enc + 3 * i, 4, "%%%02x", (unsigned char)text[i]);
  CHECK(macho__dash_unescape(enc, 3 * m, out, sizeof out) == (long)m && !memcmp(out, text, m),
        "%%XX does not round-trip");
  return 0;
}
