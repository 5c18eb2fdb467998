/*
 * stats.c -- `macho stats|clear|get|del URL ...`: talk to a running cache's
 * dashboard from another terminal.
 *
 * The dashboard is on loopback (or behind a token), so a tiny HTTP/1.1 client
 * over a socket is enough: one request per connection, "Connection: close",
 * read to EOF. The token comes from --token or from the ?token= of the URL
 * that `macho demo --dashboard` prints. The table is read straight out of the
 * /api/stats JSON (schema docs/STATS_SCHEMA.md) by key, which is all a fixed,
 * documented schema needs.
 */
#include "cli.h"

#include <macho/macho.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct target {
  char host[256], port[8], token[300];
} target;

typedef struct response {
  int status;
  char *data; /* whole reply, NUL-terminated */
  char *body;
  size_t body_len;
} response;

/* http://HOST[:PORT][/...][?token=T]; HOST is a name, an IPv4 address or
 * [IPv6]. Every length is checked before it is used: an unclosed '[' or an
 * empty host is a parse error, never a negative copy length (issue 10 defect 7). */
static bool parse_url(const char *url, const char *token, target *t) {
  memset(t, 0, sizeof *t);
  if (strncmp(url, "http://", 7) != 0) {
    fprintf(stderr, "macho: URL must start with http:// (got '%s')\n", url);
    return false;
  }
  const char *h = url + 7, *end = h + strcspn(h, "/?#");
  const char *host = h, *host_end, *rest;
  if (*h == '[') {
    const char *close = memchr(h, ']', (size_t)(end - h));
    if (!close) goto bad; /* unclosed IPv6 literal */
    host = h + 1;
    host_end = close;
    rest = close + 1;
    if (rest != end && *rest != ':') goto bad; /* junk after ']' */
  } else {
    const char *colon = memchr(h, ':', (size_t)(end - h));
    host_end = colon ? colon : end;
    rest = host_end;
  }
  size_t hl = (size_t)(host_end - host);
  if (hl == 0 || hl >= sizeof t->host) goto bad;
  memcpy(t->host, host, hl);
  if (rest < end) { /* ":PORT" */
    size_t pl = (size_t)(end - rest - 1);
    if (pl == 0 || pl >= sizeof t->port || strspn(rest + 1, "0123456789") < pl) goto bad;
    memcpy(t->port, rest + 1, pl);
  } else {
    strcpy(t->port, "80");
  }
  const char *q = strstr(end, "token=");
  if (token) snprintf(t->token, sizeof t->token, "%s", token);
  else if (q) snprintf(t->token, sizeof t->token, "%.*s", (int)strcspn(q + 6, "&#"), q + 6);
  return true;
bad:
  fprintf(stderr, "macho: cannot parse URL '%s' (expected http://HOST:PORT/)\n", url);
  return false;
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

static bool request(const target *t, const char *method, const char *path, response *r) {
  memset(r, 0, sizeof *r);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(t->host, t->port, &hints, &res);
  if (gai != 0) {
    fprintf(stderr, "macho: cannot resolve %s: %s\n", t->host, gai_strerror(gai));
    return false;
  }
  int fd = -1;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fprintf(stderr, "macho: cannot connect to %s:%s\n", t->host, t->port);
    return false;
  }
  char req[4096];
  int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n%s%s%s\r\n", method,
                   path, t->host, t->port, t->token[0] ? "Authorization: Bearer " : "", t->token,
                   t->token[0] ? "\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
    close(fd);
    fprintf(stderr, "macho: request too long or send failed\n");
    return false;
  }
  size_t cap = 1 << 16, got = 0;
  char *buf = malloc(cap + 1);
  for (; buf;) {
    if (got == cap) {
      char *nb = realloc(buf, (cap *= 2) + 1);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
    }
    ssize_t k = recv(fd, buf + got, cap - got, 0);
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  if (!buf) return false;
  buf[got] = '\0';
  r->data = buf;
  char *sep = strstr(buf, "\r\n\r\n");
  if (strncmp(buf, "HTTP/1.", 7) != 0 || !sep) {
    fprintf(stderr, "macho: no HTTP answer from %s:%s\n", t->host, t->port);
    free(buf);
    r->data = NULL;
    return false;
  }
  r->status = atoi(buf + 9);
  r->body = sep + 4;
  r->body_len = got - (size_t)(r->body - buf);
  return true;
}

/* Print the server's error and return CLI_FAIL, for a non-2xx answer. */
static int fail_status(const response *r) {
  fprintf(stderr, "macho: HTTP %d: %.*s", r->status, (int)r->body_len, r->body);
  if (!r->body_len || r->body[r->body_len - 1] != '\n') fputc('\n', stderr);
  return CLI_FAIL;
}

/* ---- reading /api/stats by key --------------------------------------------------- */

/* The number after "key": inside the object that starts at `from`. */
static double num_in(const char *from, const char *key) {
  if (!from) return 0;
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(from, pat);
  return p ? strtod(p + strlen(pat), NULL) : 0;
}

static const char *str_in(const char *from, const char *key, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = from ? strstr(from, pat) : NULL;
  if (!p) return "?";
  p += strlen(pat);
  snprintf(out, cap, "%.*s", (int)strcspn(p, "\""), p);
  return out;
}

static void fmt_ns(char *out, size_t cap, double ns) {
  if (ns < 1e3) snprintf(out, cap, "%.0f ns", ns);
  else if (ns < 1e6) snprintf(out, cap, "%.2f us", ns / 1e3);
  else if (ns < 1e9) snprintf(out, cap, "%.2f ms", ns / 1e6);
  else snprintf(out, cap, "%.2f s", ns / 1e9);
}

static void print_table(const char *j) {
  char pol[32], fil[32], ver[32];
  const char *cfg = strstr(j, "\"config\":"), *tot = strstr(j, "\"total\":");
  const char *lat = strstr(j, "\"latency_ns\":"), *life = strstr(j, "\"lifespan_ns\":");
  printf("macho %s   policy %s   filter %s   shards %.0f   capacity %.0f\n", str_in(j, "macho_version", ver, sizeof ver),
         str_in(cfg, "policy", pol, sizeof pol), str_in(cfg, "filter", fil, sizeof fil), num_in(cfg, "shards"),
         num_in(cfg, "capacity_entries"));
  printf("\n%-8s %12s %12s %12s %9s %12s %12s %10s %12s\n", "shard", "hits", "misses", "puts", "hit%", "evictions",
         "expirations", "entries", "memory-KiB");
  const char *row = strstr(j, "\"shards\":[");
  for (const char *s = row ? strstr(row, "{\"shard\":") : NULL; s && (!lat || s < lat);
       s = strstr(s + 1, "{\"shard\":")) {
    printf("%-8.0f %12.0f %12.0f %12.0f %8.2f%% %12.0f %12.0f %10.0f %12.1f\n", num_in(s, "shard"), num_in(s, "hits"),
           num_in(s, "misses"), num_in(s, "puts"), 100 * num_in(s, "hit_ratio"), num_in(s, "evictions"),
           num_in(s, "expirations"), num_in(s, "entries"), num_in(s, "memory_bytes") / 1024);
  }
  printf("%-8s %12.0f %12.0f %12.0f %8.2f%% %12.0f %12.0f %10.0f %12.1f\n", "total", num_in(tot, "hits"),
         num_in(tot, "misses"), num_in(tot, "puts"), 100 * num_in(tot, "hit_ratio"), num_in(tot, "evictions"),
         num_in(tot, "expirations"), num_in(tot, "entries"), num_in(tot, "memory_bytes") / 1024);
  printf("\n%-10s %10s %10s %10s %10s %10s %10s %10s\n", "latency", "timed", "min", "mean", "p50", "p99", "p99.9", "max");
  const char *ops[2] = {"get", "put"};
  for (int i = 0; i < 2; i++) {
    char k[16];
    snprintf(k, sizeof k, "\"%s\":{", ops[i]);
    const char *d = lat ? strstr(lat, k) : NULL;
    char a[6][24];
    const char *f[6] = {"min", "mean", "p50", "p99", "p999", "max"};
    for (int x = 0; x < 6; x++) fmt_ns(a[x], sizeof a[x], num_in(d, f[x]));
    printf("%-10s %10.0f %10s %10s %10s %10s %10s %10s\n", ops[i], num_in(d, "count"), a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  printf("\n%-10s %10s %10s %10s %10s\n", "lifespan", "count", "median", "mean", "max");
  const char *rs[4] = {"evicted", "expired", "deleted", "cleared"};
  for (int i = 0; i < 4; i++) {
    char k[24];
    snprintf(k, sizeof k, "\"%s\":{", rs[i]);
    const char *d = life ? strstr(life, k) : NULL;
    char a[3][24];
    fmt_ns(a[0], sizeof a[0], num_in(d, "p50"));
    fmt_ns(a[1], sizeof a[1], num_in(d, "mean"));
    fmt_ns(a[2], sizeof a[2], num_in(d, "max"));
    printf("%-10s %10.0f %10s %10s %10s\n", rs[i], num_in(d, "count"), a[0], a[1], a[2]);
  }
}

/* ---- commands -------------------------------------------------------------------- */

/* Shared parsing: URL [ARG] [--token T] plus the flags a command allows. */
typedef struct args {
  const char *url, *arg, *token;
  bool watch, json;
  double interval;
  uint64_t count; /* --watch refreshes (0 = until interrupted) */
} args;

static bool parse_args(int argc, char **argv, bool want_arg, bool stats_flags, args *a) {
  memset(a, 0, sizeof *a);
  a->interval = 1.0;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(s, "--token") && v) a->token = argv[++i];
    else if (stats_flags && !strcmp(s, "--watch")) a->watch = true;
    else if (stats_flags && !strcmp(s, "--json")) a->json = true;
    else if (stats_flags && !strcmp(s, "--interval") && v) {
      if (!cli_parse_double(s, argv[++i], 0.1, 3600, &a->interval)) return false;
    } else if (stats_flags && !strcmp(s, "--count") && v) {
      if (!cli_parse_u64(s, argv[++i], 1, UINT64_MAX, &a->count)) return false;
    } else if (s[0] == '-' && s[1] == '-') {
      fprintf(stderr, "macho %s: unknown or incomplete option '%s'\n", argv[0], s);
      return false;
    } else if (!a->url) a->url = s;
    else if (want_arg && !a->arg) a->arg = s;
    else {
      fprintf(stderr, "macho %s: unexpected argument '%s'\n", argv[0], s);
      return false;
    }
  }
  if (!a->url || (want_arg && !a->arg)) {
    fprintf(stderr, "usage: %s", cli_find(argv[0])->usage);
    return false;
  }
  return true;
}

int cmd_stats(int argc, char **argv) {
  args a;
  target t;
  if (!parse_args(argc, argv, false, true, &a)) return CLI_USAGE;
  if (!parse_url(a.url, a.token, &t)) return CLI_USAGE;
  for (uint64_t n = 0;; n++) {
    response r;
    if (!request(&t, "GET", "/api/stats", &r)) return CLI_FAIL;
    if (r.status != 200) {
      int rc = fail_status(&r);
      free(r.data);
      return rc;
    }
    if (a.watch && !a.json) printf("\033[H\033[2J");
    if (a.json) fwrite(r.body, 1, r.body_len, stdout);
    else print_table(r.body);
    fflush(stdout);
    free(r.data);
    if (!a.watch || (a.count && n + 1 >= a.count)) return CLI_OK;
    usleep((useconds_t)(a.interval * 1e6));
  }
}

static int simple(int argc, char **argv, const char *method, const char *path, bool want_key) {
  args a;
  target t;
  if (!parse_args(argc, argv, want_key, false, &a)) return CLI_USAGE;
  if (!parse_url(a.url, a.token, &t)) return CLI_USAGE;
  char full[2048];
  if (want_key) {
    char enc[1500];
    if (strlen(a.arg) > 400) {
      fprintf(stderr, "macho %s: key longer than 400 bytes\n", argv[0]);
      return CLI_USAGE;
    }
    encode(enc, sizeof enc, a.arg);
    snprintf(full, sizeof full, "%s?key=%s", path, enc);
  } else {
    snprintf(full, sizeof full, "%s", path);
  }
  response r;
  if (!request(&t, method, full, &r)) return CLI_FAIL;
  int rc = CLI_OK;
  if (r.status / 100 != 2) rc = fail_status(&r);
  else if (!strcmp(method, "GET")) fwrite(r.body, 1, r.body_len, stdout);
  else printf("macho %s: ok\n", argv[0]);
  free(r.data);
  return rc;
}

int cmd_clear(int argc, char **argv) { return simple(argc, argv, "POST", "/api/clear", false); }
int cmd_get(int argc, char **argv) { return simple(argc, argv, "GET", "/api/get", true); }
int cmd_del(int argc, char **argv) { return simple(argc, argv, "DELETE", "/api/key", true); }
