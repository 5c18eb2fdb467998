/*
 * server.c -- the live dashboard: libmicrohttpd on its own thread serving the
 * page, /api/stats (JSON), /metrics (Prometheus) and, when enabled, the
 * management endpoints.
 *
 * Security stance: the dashboard shows what is in a process, so it binds to
 * loopback by default, and any other address needs a token, which is then
 * checked on every request (Authorization: Bearer, ?token=, or the cookie the
 * page gets when opened with ?token=). On loopback without a token the Host
 * header must name loopback, which defeats DNS rebinding. Requests are small
 * by construction: the URL is capped, bodies are refused, and
 * libmicrohttpd's per-connection memory limit turns oversized headers into
 * 4xx answers. Writes (clear, delete, and get, which touches recency) exist
 * only when management is switched on, and refuse cross-origin callers.
 */
#include "dashboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_URL 2048u
#define MAX_TOKEN 256u
#define CONNECTION_MEMORY (32u * 1024u) /* request line + headers must fit */

struct macho_dashboard {
  macho_cache *cache;
  const macho__alloc *alloc;
  struct MHD_Daemon *daemon;
  char token[MAX_TOKEN + 1]; /* empty = none */
  size_t token_len;
  int management;
  bool loopback;
  char origin[96]; /* "http://HOST:PORT", for the same-origin check */
  char url[96 + 8 + MAX_TOKEN];
};

void macho_dashboard_options_init(macho_dashboard_options *o) {
  if (!o) return;
  o->listen = "127.0.0.1:0";
  o->token = NULL;
  o->management = 0;
}

/* ---- responses ----------------------------------------------------------------- */

static void secure_headers(struct MHD_Response *r) {
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'");
}

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, const char *type,
                                const void *data, size_t len, enum MHD_ResponseMemoryMode mode,
                                const char *extra_name, const char *extra_value) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
  if (!r) return MHD_NO;
  secure_headers(r);
  MHD_add_response_header(r, "Content-Type", type);
  if (extra_name) MHD_add_response_header(r, extra_name, extra_value);
  enum MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *msg,
                                  const char *extra_name, const char *extra_value) {
  char body[256];
  int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"status\":%u}\n", msg, status);
  return send_buf(conn, status, "application/json", body, (size_t)n, MHD_RESPMEM_MUST_COPY, extra_name,
                  extra_value);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, const char *body) {
  return send_buf(conn, status, "application/json", body, strlen(body), MHD_RESPMEM_MUST_COPY, NULL,
                  NULL);
}

/* ---- checks -------------------------------------------------------------------- */

/* Compare in time independent of where the strings differ. */
static bool token_equal(const char *a, size_t alen, const char *b, size_t blen) {
  unsigned char diff = alen != blen;
  for (size_t i = 0; i < blen; i++) diff |= (unsigned char)(a[i < alen ? i : 0] ^ b[i]);
  return diff == 0 && alen == blen;
}

static const char *cookie_token(struct MHD_Connection *conn) {
  return MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "macho_token");
}

static bool authorised(const macho_dashboard *d, struct MHD_Connection *conn) {
  if (!d->token_len) return true;
  const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (h && strncmp(h, "Bearer ", 7) == 0 && token_equal(h + 7, strlen(h + 7), d->token, d->token_len))
    return true;
  const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
  if (q && token_equal(q, strlen(q), d->token, d->token_len)) return true;
  const char *c = cookie_token(conn);
  return c && token_equal(c, strlen(c), d->token, d->token_len);
}

static bool host_is_loopback_name(const char *host) {
  if (!host) return false;
  size_t n = strlen(host);
  const char *colon = strrchr(host, ':');
  if (host[0] == '[') {
    const char *end = strchr(host, ']');
    return end && (size_t)(end - host) == 4 && strncmp(host, "[::1]", 5) == 0;
  }
  if (colon) n = (size_t)(colon - host);
  return (n == 9 && strncmp(host, "localhost", 9) == 0) || (n >= 4 && strncmp(host, "127.", 4) == 0);
}

/* Writes from a browser must come from the dashboard's own page. */
static bool same_origin(const macho_dashboard *d, struct MHD_Connection *conn) {
  const char *o = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
  return !o || strcmp(o, d->origin) == 0;
}

/* ---- handlers ------------------------------------------------------------------ */

typedef int (*writer_fn)(macho_cache *c, macho__buf *b);

static enum MHD_Result send_written(const macho_dashboard *d, struct MHD_Connection *conn, writer_fn fn,
                                    const char *type) {
  macho__buf b;
  macho__buf_init(&b, d->alloc);
  int rc = fn(d->cache, &b);
  enum MHD_Result ret = rc == MACHO_OK ? send_buf(conn, MHD_HTTP_OK, type, b.p, b.len, MHD_RESPMEM_MUST_COPY,
                                                  NULL, NULL)
                                       : send_error(conn, 503, "out of memory", NULL, NULL);
  macho__buf_free(&b);
  return ret;
}

static enum MHD_Result handle_get_key(const macho_dashboard *d, struct MHD_Connection *conn,
                                      const char *key) {
  size_t klen = strlen(key);
  for (int attempt = 0; attempt < 4; attempt++) {
    size_t need = 0;
    int rc = macho_get(d->cache, key, klen, NULL, 0, &need);
    if (rc == MACHO_ENOTFOUND) return send_error(conn, 404, "key not found", NULL, NULL);
    if (rc == MACHO_OK) return send_buf(conn, 200, "application/octet-stream", "", 0, MHD_RESPMEM_PERSISTENT, NULL, NULL);
    if (rc != MACHO_ERANGE) return send_error(conn, 500, macho_strerror(rc), NULL, NULL);
    char *buf = macho__malloc(d->alloc, need);
    if (!buf) return send_error(conn, 503, "out of memory", NULL, NULL);
    size_t got = 0;
    rc = macho_get(d->cache, key, klen, buf, need, &got);
    enum MHD_Result ret = MHD_NO;
    if (rc == MACHO_OK)
      ret = send_buf(conn, 200, "application/octet-stream", buf, got, MHD_RESPMEM_MUST_COPY, NULL, NULL);
    else if (rc == MACHO_ENOTFOUND)
      ret = send_error(conn, 404, "key not found", NULL, NULL);
    macho__free(d->alloc, buf, need);
    if (rc != MACHO_ERANGE) return ret; /* ERANGE: the value grew meanwhile, ask again */
  }
  return send_error(conn, 503, "value keeps changing size", NULL, NULL);
}

static enum MHD_Result handle_manage(macho_dashboard *d, struct MHD_Connection *conn, const char *url,
                                     bool is_get, bool is_post, bool is_delete) {
  bool clear = strcmp(url, "/api/clear") == 0, get = strcmp(url, "/api/get") == 0;
  if ((clear && !is_post) || (get && !is_get) || (!clear && !get && !is_delete))
    return send_error(conn, 405, "method not allowed", "Allow", clear ? "POST" : get ? "GET, HEAD" : "DELETE");
  if (!d->management) return send_error(conn, 403, "management is disabled on this dashboard", NULL, NULL);
  if (!same_origin(d, conn)) return send_error(conn, 403, "cross-origin request refused", NULL, NULL);
  if (clear) {
    int rc = macho_clear(d->cache);
    return rc == MACHO_OK ? send_json(conn, 200, "{\"cleared\":true}\n")
                          : send_error(conn, 500, macho_strerror(rc), NULL, NULL);
  }
  const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
  if (!key) return send_error(conn, 400, "missing ?key=", NULL, NULL);
  if (d->cache->object_mode) return send_error(conn, 409, "this cache holds objects, not byte keys", NULL, NULL);
  if (get) return handle_get_key(d, conn, key);
  int rc = macho_delete(d->cache, key, strlen(key));
  if (rc == MACHO_ENOTFOUND) return send_error(conn, 404, "key not found", NULL, NULL);
  return rc == MACHO_OK ? send_json(conn, 200, "{\"deleted\":true}\n")
                        : send_error(conn, 500, macho_strerror(rc), NULL, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
  (void)version;
  (void)upload_data;
  macho_dashboard *d = cls;
  static int seen;
  if (*con_cls == &seen && *upload_data_size) { /* a body we already refused */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (*con_cls == &seen) return MHD_YES;
  *con_cls = &seen;

  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
  if ((cl && strcmp(cl, "0") != 0) || te)
    return send_error(conn, 413, "request bodies are not accepted", "Connection", "close");
  if (strlen(url) > MAX_URL) return send_error(conn, 414, "URL too long", NULL, NULL);
  if (d->loopback && !d->token_len &&
      !host_is_loopback_name(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)))
    return send_error(conn, 403, "Host must name the loopback address", NULL, NULL);
  if (!authorised(d, conn))
    return send_error(conn, 401, "missing or wrong token", "WWW-Authenticate", "Bearer realm=\"macho\"");

  bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  bool is_post = strcmp(method, "POST") == 0, is_delete = strcmp(method, "DELETE") == 0;
  if (strcmp(url, "/api/clear") == 0 || strcmp(url, "/api/get") == 0 || strcmp(url, "/api/key") == 0)
    return handle_manage(d, conn, url, is_get, is_post, is_delete);

  bool is_stats = strcmp(url, "/api/stats") == 0, is_metrics = strcmp(url, "/metrics") == 0;
  macho__asset a;
  bool is_asset = macho__asset_find(url, &a);
  if (!is_stats && !is_metrics && !is_asset) return send_error(conn, 404, "not found", NULL, NULL);
  if (!is_get) return send_error(conn, 405, "method not allowed", "Allow", "GET, HEAD");
  if (is_stats) return send_written(d, conn, macho__stats_json, "application/json");
  if (is_metrics)
    return send_written(d, conn, macho__stats_prometheus, "text/plain; version=0.0.4; charset=utf-8");

  /* The page opened with ?token= hands the token to its scripts as a cookie. */
  const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
  if (d->token_len && q && strcmp(a.path, "/") == 0) {
    char cookie[MAX_TOKEN + 64];
    snprintf(cookie, sizeof cookie, "macho_token=%s; Path=/; HttpOnly; SameSite=Strict", d->token);
    return send_buf(conn, 200, a.type, a.data, a.len, MHD_RESPMEM_PERSISTENT, "Set-Cookie", cookie);
  }
  return send_buf(conn, 200, a.type, a.data, a.len, MHD_RESPMEM_PERSISTENT, NULL, NULL);
}

/* ---- start / stop -------------------------------------------------------------- */

/* "HOST:PORT" with HOST an IPv4 address, "localhost" or "[IPv6]". */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *loopback, char *host,
                        size_t host_size) {
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen) return MACHO_EINVAL;
  char *end;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end || port > 65535) return MACHO_EINVAL;
  size_t n = (size_t)(colon - listen);
  if (n >= host_size) return MACHO_EINVAL;
  memcpy(host, listen, n);
  host[n] = '\0';
  memset(ss, 0, sizeof *ss);
  if (host[0] == '[') {
    if (n < 3 || host[n - 1] != ']') return MACHO_EINVAL;
    char addr[64];
    memcpy(addr, host + 1, n - 2);
    addr[n - 2] = '\0';
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) return MACHO_EINVAL;
    *loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    return MACHO_OK;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  s4->sin_family = AF_INET;
  s4->sin_port = htons((uint16_t)port);
  const char *addr = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1) return MACHO_EINVAL;
  *loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
  return MACHO_OK;
}

static bool token_ok(const char *t) {
  size_t n = strlen(t);
  if (n == 0 || n > MAX_TOKEN) return false;
  for (size_t i = 0; i < n; i++) { /* URL- and cookie-safe characters only */
    char ch = t[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == '~';
    if (!ok) return false;
  }
  return true;
}

/* The listening socket, made here rather than by libmicrohttpd so that a
 * failed bind tells why: an occupied port is MACHO_EADDRINUSE, anything else
 * MACHO_EIO. IPv6 sockets are IPv6-only, as libmicrohttpd made them. */
static int open_listener(const struct sockaddr_storage *ss, int *out) {
  socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return MACHO_EIO;
  int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss->ss_family == AF_INET6) (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 128) != 0) {
    int rc = errno == EADDRINUSE ? MACHO_EADDRINUSE : MACHO_EIO;
    close(fd);
    return rc;
  }
  *out = fd;
  return MACHO_OK;
}

int macho_dashboard_start(macho_cache *cache, const macho_dashboard_options *opts, macho_dashboard **out) {
  if (out) *out = NULL;
  if (!cache || !out) return MACHO_EINVAL;
  macho_dashboard_options o;
  macho_dashboard_options_init(&o);
  if (opts) o = *opts;
  if (!o.listen) o.listen = "127.0.0.1:0";
  if (o.management != 0 && o.management != 1) return MACHO_EINVAL;
  /* Management takes byte keys, and its clear would release objects on the
   * server thread (for Python: without the GIL): bytes mode only. */
  if (o.management && cache->object_mode) return MACHO_EMODE;
  if (o.token && !token_ok(o.token)) return MACHO_EINVAL;

  struct sockaddr_storage ss;
  bool loopback = false;
  char host[80];
  if (parse_listen(o.listen, &ss, &loopback, host, sizeof host) != MACHO_OK) return MACHO_EINVAL;
  if (!loopback && !o.token) return MACHO_EINVAL; /* a token is required off loopback */

  int lfd = -1;
  int rc = open_listener(&ss, &lfd);
  if (rc != MACHO_OK) return rc;
  macho_dashboard *d = macho__calloc(&cache->alloc, 1, sizeof *d);
  if (!d) {
    close(lfd);
    return MACHO_ENOMEM;
  }
  d->cache = cache;
  d->alloc = &cache->alloc;
  d->management = o.management;
  d->loopback = loopback;
  if (o.token) {
    d->token_len = strlen(o.token);
    memcpy(d->token, o.token, d->token_len + 1);
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
  if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  d->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, d, MHD_OPTION_LISTEN_SOCKET, lfd,
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                               MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                               MHD_OPTION_END);
  if (!d->daemon) {
    close(lfd);
    macho__free(d->alloc, d, sizeof *d);
    return MACHO_EIO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->daemon, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = info ? info->port : 0;
  snprintf(d->origin, sizeof d->origin, "http://%s:%u", host, port);
  if (d->token_len)
    snprintf(d->url, sizeof d->url, "%s/?token=%s", d->origin, d->token);
  else
    snprintf(d->url, sizeof d->url, "%s/", d->origin);
  *out = d;
  return MACHO_OK;
}

const char *macho_dashboard_url(const macho_dashboard *d) { return d ? d->url : NULL; }

void macho_dashboard_stop(macho_dashboard *d) {
  if (!d) return;
  MHD_stop_daemon(d->daemon);
  macho__free(d->alloc, d, sizeof *d);
}
