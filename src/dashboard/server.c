/*
 * server.c -- the live dashboard: libmicrohttpd's thread answers requests;
 * a second thread of ours samples the cache once a second into the history
 * ring and enforces per-connection deadlines.
 *
 * Both threads share the connection table and the history under one mutex,
 * held only for bookkeeping (never across a cache call or a socket write).
 * The cache only ever sees short public calls (macho_stats_get and friends)
 * and never waits for a client: every answer is built in memory first.
 *
 * Security (the threat model is in docs/RELIABILITY.md, "Dashboard"):
 *   - loopback by default; any other address needs a token, compared in
 *     constant time on every request (request.c decides what to answer);
 *   - on loopback the Host header must name loopback, against DNS rebinding;
 *   - bodies are refused, the target is capped at 2 KiB and the request head
 *     at 32 KiB (libmicrohttpd's per-connection memory);
 *   - deadlines: a request head must arrive within header_ms (10 s) of the
 *     accept or of the previous answer, and an answer must be sent within
 *     response_ms (30 s); past it the connection is shut down however
 *     steadily the client trickles bytes (libmicrohttpd's own timeout is an
 *     idle timeout, which a byte every 2 s resets forever);
 *   - connection slots are shared out by admit.c: per-address limit, a
 *     reserve for loopback, and when full the longest-waiting connection
 *     makes room, so stallers and flooders cannot lock out a token holder;
 *   - management endpoints are off by default, POST/DELETE only, and refuse
 *     cross-origin browsers.
 *
 * Shutting a connection down from our thread is safe because libmicrohttpd
 * reports a connection closed (on_connection, under the mutex, which frees
 * its slot) before it closes the descriptor: a descriptor in a live slot is
 * never one that was closed and reused.
 */
#include "dashboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECTION_MEMORY (32u * 1024u) /* request line + headers must fit */
#define SLOT_SLACK 64u                  /* evicted connections awaiting their close */

struct macho_dashboard {
  macho_cache *cache;
  macho_tier *tier; /* NULL, or a tier whose figures are served too (/api/tier, /metrics) */
  macho__dash_alloc alloc;
  struct MHD_Daemon *daemon;
  macho__dash_site site;
  char token[MACHO__DASH_MAX_TOKEN + 1];
  macho__dash_tuning tune;
  macho__conn *conns;
  size_t nslots;
  macho__history hist;
  uint64_t next_sample_ms, mono0_ms, wall0_ms;
  pthread_mutex_t mu;   /* conns, hist, the fields below */
  pthread_cond_t wake;  /* the ticker waits on it */
  pthread_cond_t done;  /* kickers wait on it */
  uint64_t kicks, kicks_done;
  bool stop, thread_started, sync_made;
  pthread_t ticker;
  char url[96 + 8 + MACHO__DASH_MAX_TOKEN];
};

/* Per request: the target exactly as sent (libmicrohttpd hands the handler a
 * decoded path, in which %00 would already have cut the string), and the
 * decision, made when the head is complete and carried out once the request
 * has ended: a response queued before that makes libmicrohttpd close the
 * connection, which would rule out keep-alive and pipelining. */
typedef struct request_ctx {
  enum { REQ_NEW, REQ_DECIDED, REQ_ANSWERED } phase;
  size_t target_len, alloc_len;
  macho__dash_decision dec;
  unsigned char *body; /* POST /api/restore: dec.body_len bytes, body_got so far */
  size_t body_got;
  char target[];
} request_ctx;

static request_ctx oom_request; /* stands in when a request_ctx could not be allocated */

void macho_dashboard_options_init(macho_dashboard_options *o) {
  if (!o) return;
  o->listen = "127.0.0.1:0";
  o->token = NULL;
  o->management = 0;
  o->tier = NULL;
}

void macho__dash_tuning_init(macho__dash_tuning *t) {
  memset(t, 0, sizeof *t);
  t->header_ms = 10000;
  t->response_ms = 30000;
  t->sample_ms = 1000;
  t->limits.max_connections = 256;
  t->limits.per_ip = 8;
  t->limits.loopback_reserve = 32;
}

static uint64_t clock_ms(int id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(const macho_dashboard *d) {
  return d->tune.clock_ms ? d->tune.clock_ms(d->tune.clock_ctx) : clock_ms(CLOCK_MONOTONIC);
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

typedef struct extra_header {
  const char *name, *value;
} extra_header;

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, const char *type,
                                const void *data, size_t len, enum MHD_ResponseMemoryMode mode,
                                const extra_header *extra, size_t nextra) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
  if (!r) return MHD_NO;
  secure_headers(r);
  MHD_add_response_header(r, "Content-Type", type);
  for (size_t i = 0; i < nextra; i++)
    if (extra[i].name) MHD_add_response_header(r, extra[i].name, extra[i].value);
  enum MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *msg,
                                  const extra_header *extra, size_t nextra) {
  char body[320];
  int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"status\":%u}\n", msg, status);
  if (n < 0 || (size_t)n >= sizeof body) n = snprintf(body, sizeof body, "{\"status\":%u}\n", status);
  return send_buf(conn, status, "application/json", body, (size_t)n, MHD_RESPMEM_MUST_COPY, extra, nextra);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, const char *body) {
  return send_buf(conn, 200, "application/json", body, strlen(body), MHD_RESPMEM_MUST_COPY, NULL, 0);
}

typedef int (*writer_fn)(macho_dashboard *d, macho__buf *b, const macho__dash_decision *dec);

static int write_stats(macho_dashboard *d, macho__buf *b, const macho__dash_decision *dec) {
  (void)dec;
  return macho__stats_json(d->cache, b);
}
static int write_metrics(macho_dashboard *d, macho__buf *b, const macho__dash_decision *dec) {
  (void)dec;
  int rc = macho__stats_prometheus(d->cache, b);
  return rc == MACHO_OK && d->tier ? macho__tier_stats_prometheus(d->tier, b) : rc;
}
/* /api/tier: the tier's figures, or {"enabled":false} (so the page can ask
 * without a failed request). */
static int write_tier(macho_dashboard *d, macho__buf *b, const macho__dash_decision *dec) {
  (void)dec;
  if (!d->tier) {
    macho__buf_puts(b, "{\"enabled\":false}\n");
    return b->oom ? MACHO_ENOMEM : MACHO_OK;
  }
  return macho__tier_stats_json(d->tier, b);
}
static int write_history(macho_dashboard *d, macho__buf *b, const macho__dash_decision *dec) {
  pthread_mutex_lock(&d->mu);
  int rc = macho__history_json(&d->hist, dec->seconds, dec->has_since, dec->since, b);
  pthread_mutex_unlock(&d->mu);
  return rc;
}

static enum MHD_Result send_written(macho_dashboard *d, struct MHD_Connection *conn, writer_fn fn,
                                    const macho__dash_decision *dec, const char *type) {
  macho__buf b;
  macho__buf_init(&b, d->alloc);
  int rc = fn(d, &b, dec);
  enum MHD_Result ret = rc == MACHO_OK ? send_buf(conn, 200, type, b.p, b.len, MHD_RESPMEM_MUST_COPY, NULL, 0)
                                       : send_error(conn, 503, macho_strerror(rc), NULL, 0);
  macho__buf_free(&b);
  return ret;
}

/* POST /api/get: a real get (it counts, and moves the key in the policy). */
static enum MHD_Result get_key(macho_dashboard *d, struct MHD_Connection *conn, const char *key, size_t klen) {
  for (int attempt = 0; attempt < 4; attempt++) {
    size_t need = 0;
    int rc = macho_get(d->cache, key, klen, NULL, 0, &need);
    if (rc == MACHO_ENOTFOUND) return send_error(conn, 404, "key not found", NULL, 0);
    if (rc == MACHO_OK) return send_buf(conn, 200, "application/octet-stream", "", 0, MHD_RESPMEM_PERSISTENT, NULL, 0);
    if (rc != MACHO_ERANGE) return send_error(conn, 500, macho_strerror(rc), NULL, 0);
    char *buf = macho__dash_malloc(d->alloc, need);
    if (!buf) return send_error(conn, 503, "out of memory", NULL, 0);
    size_t got = 0;
    rc = macho_get(d->cache, key, klen, buf, need, &got);
    enum MHD_Result ret = MHD_NO;
    if (rc == MACHO_OK)
      ret = send_buf(conn, 200, "application/octet-stream", buf, got, MHD_RESPMEM_MUST_COPY, NULL, 0);
    else if (rc == MACHO_ENOTFOUND)
      ret = send_error(conn, 404, "key not found", NULL, 0);
    else if (rc != MACHO_ERANGE)
      ret = send_error(conn, 500, macho_strerror(rc), NULL, 0);
    macho__dash_free(d->alloc, buf, need);
    if (rc != MACHO_ERANGE) return ret; /* ERANGE: the value grew meanwhile, ask again */
  }
  return send_error(conn, 503, "value keeps changing size", NULL, 0);
}

/* GET /api/snapshot: the whole snapshot built in memory (a cache call that
 * never waits for the client), then handed to libmicrohttpd, which frees
 * it through the cache's allocator once sent. */
typedef struct owned_buf {
  macho__dash_alloc a;
  char *p;
  size_t cap;
} owned_buf;

static void owned_free(void *cls) {
  owned_buf *o = cls;
  macho__dash_alloc a = o->a;
  macho__dash_free(a, o->p, o->cap);
  macho__dash_free(a, o, sizeof *o);
}

static int buf_writer(void *ctx, const void *data, size_t n) {
  macho__buf *b = ctx;
  macho__buf_put(b, (const char *)data, n);
  return b->oom ? -1 : 0;
}

static enum MHD_Result send_snapshot(macho_dashboard *d, struct MHD_Connection *conn) {
  macho__buf b;
  macho__buf_init(&b, d->alloc);
  int rc = macho_save_to(d->cache, buf_writer, &b);
  if (rc != MACHO_OK) {
    macho__buf_free(&b);
    return send_error(conn, rc == MACHO_EIO || rc == MACHO_ENOMEM ? 503 : 500,
                      rc == MACHO_EIO ? "out of memory" : macho_strerror(rc), NULL, 0);
  }
  owned_buf *o = macho__dash_malloc(d->alloc, sizeof *o);
  if (!o) {
    macho__buf_free(&b);
    return send_error(conn, 503, "out of memory", NULL, 0);
  }
  o->a = d->alloc;
  o->p = b.p;
  o->cap = b.cap;
  struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(b.len, b.p, owned_free, o);
  if (!r) {
    owned_free(o);
    return MHD_NO;
  }
  secure_headers(r);
  MHD_add_response_header(r, "Content-Type", "application/octet-stream");
  MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"macho.snap\"");
  enum MHD_Result ret = MHD_queue_response(conn, 200, r);
  MHD_destroy_response(r);
  return ret;
}

/* POST /api/restore, once the whole body is in: checked entirely before the
 * cache is touched (macho_load_from). */
static enum MHD_Result restore(macho_dashboard *d, struct MHD_Connection *conn, const request_ctx *rq) {
  int rc = macho_load_from(d->cache, rq->body, rq->body_got);
  if (rc == MACHO_EFORMAT || rc == MACHO_ETRUNCATED || rc == MACHO_ECORRUPT || rc == MACHO_EVERSION ||
      rc == MACHO_EMODE || rc == MACHO_EINVAL)
    return send_error(conn, 422, macho_strerror(rc), NULL, 0);
  if (rc != MACHO_OK) return send_error(conn, 503, macho_strerror(rc), NULL, 0);
  macho_counters after;
  if (macho_counters_get(d->cache, -1, &after) != MACHO_OK) memset(&after, 0, sizeof after);
  char body[96];
  snprintf(body, sizeof body, "{\"restored\":true,\"entries\":%llu}\n", (unsigned long long)after.entries);
  return send_json(conn, body);
}

/* ---- connection bookkeeping (libmicrohttpd's thread, under d->mu) ---------------- */

static macho__conn *conn_slot(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

/* Under d->mu. */
static void enter(macho_dashboard *d, macho__conn *c, macho__conn_state st) {
  uint64_t now = now_ms(d);
  c->state = (uint8_t)st;
  c->since_ms = now;
  c->deadline_ms = now + (st == MACHO__CONN_RESPOND ? d->tune.response_ms : d->tune.header_ms);
}

static void set_state(macho_dashboard *d, macho__conn *c, macho__conn_state st) {
  if (!c) return;
  pthread_mutex_lock(&d->mu);
  if (c->state != MACHO__CONN_FREE) enter(d, c, st);
  pthread_mutex_unlock(&d->mu);
}

/* Under d->mu. */
static void evict(macho__conn *c) {
  /* shutdown, not close: libmicrohttpd still owns the descriptor, sees the
   * end of the stream on its next read and closes it itself. */
  shutdown(c->fd, SHUT_RDWR);
  c->evicted = true;
}

static void peer_of(const struct sockaddr *sa, int *family, uint8_t addr[16]) {
  memset(addr, 0, 16);
  *family = sa ? sa->sa_family : AF_UNSPEC;
  if (*family == AF_INET) memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
  else if (*family == AF_INET6) memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len) {
  (void)len;
  macho_dashboard *d = cls;
  int family;
  uint8_t addr[16];
  peer_of(sa, &family, addr);
  long victim = -1;
  pthread_mutex_lock(&d->mu);
  bool ok = macho__dash_admit(d->conns, d->nslots, &d->tune.limits, family, addr,
                              macho__dash_addr_is_loopback(family, addr), &victim);
  if (ok && victim >= 0) evict(&d->conns[victim]);
  pthread_mutex_unlock(&d->mu);
  return ok ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  macho_dashboard *d = cls;
  pthread_mutex_lock(&d->mu);
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    macho__conn *c = *socket_context;
    if (c) {
      c->state = MACHO__CONN_FREE;
      c->evicted = false;
    }
    *socket_context = NULL;
    pthread_mutex_unlock(&d->mu);
    return;
  }
  macho__conn *c = NULL;
  for (size_t i = 0; i < d->nslots && !c; i++)
    if (d->conns[i].state == MACHO__CONN_FREE) c = &d->conns[i];
  const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!c) { /* on_accept keeps a slot free, so this does not happen */
    if (fd) shutdown(fd->connect_fd, SHUT_RDWR);
    *socket_context = NULL;
    pthread_mutex_unlock(&d->mu);
    return;
  }
  const union MHD_ConnectionInfo *ca = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  int family;
  peer_of(ca ? ca->client_addr : NULL, &family, c->addr);
  c->family = (uint8_t)family;
  c->loopback = macho__dash_addr_is_loopback(family, c->addr);
  c->evicted = false;
  c->fd = fd ? fd->connect_fd : -1;
  if (d->tune.sndbuf && c->fd >= 0) {
    int size = (int)d->tune.sndbuf;
    (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  enter(d, c, MACHO__CONN_HEADER);
  *socket_context = c;
  pthread_mutex_unlock(&d->mu);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  (void)conn;
  macho_dashboard *d = cls;
  size_t n = strlen(uri);
  size_t keep = n > MACHO__DASH_MAX_URL ? MACHO__DASH_MAX_URL : n; /* beyond it is a 414 anyway */
  request_ctx *rq = macho__dash_malloc(d->alloc, sizeof *rq + keep + 1);
  if (!rq) return &oom_request;
  rq->phase = REQ_NEW;
  rq->body = NULL;
  rq->body_got = 0;
  rq->target_len = n;
  rq->alloc_len = sizeof *rq + keep + 1;
  memcpy(rq->target, uri, keep);
  rq->target[keep] = '\0';
  return rq;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
  (void)code;
  macho_dashboard *d = cls;
  request_ctx *rq = *con_cls;
  if (rq && rq != &oom_request) {
    macho__dash_free(d->alloc, rq->body, rq->body ? (size_t)rq->dec.body_len : 0);
    macho__dash_free(d->alloc, rq, rq->alloc_len);
  }
  *con_cls = NULL;
  set_state(d, conn_slot(conn), MACHO__CONN_HEADER); /* waiting for the next request head */
}

/* ---- the handler: collect, decide (request.c), carry out ------------------------ */

typedef struct header_list {
  macho__dash_header h[MACHO__DASH_MAX_HEADERS + 1];
  size_t n;
} header_list;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                      const char *value, size_t value_size) {
  (void)kind;
  header_list *l = cls;
  if (l->n < sizeof l->h / sizeof l->h[0])
    l->h[l->n] = (macho__dash_header){key, value ? value : "", key_size, value ? value_size : 0};
  l->n++; /* counted past the array: the decision answers 431 */
  return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
  (void)url;
  (void)version;
  (void)upload_data;
  macho_dashboard *d = cls;
  request_ctx *rq = *con_cls;
  if (rq == &oom_request) {
    *con_cls = NULL;
    return send_error(conn, 503, "out of memory", NULL, 0);
  }
  if (!rq) { /* only after an out-of-memory answer: drop any body */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (rq->phase == REQ_ANSWERED) { /* the rest of a body we refused */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (rq->phase == REQ_DECIDED && rq->dec.route == MACHO__ROUTE_RESTORE && *upload_data_size) {
    /* A restore's body: kept, up to the length announced (no more comes:
     * libmicrohttpd stops at Content-Length). */
    if (!rq->body) {
      rq->body = macho__dash_malloc(d->alloc, (size_t)rq->dec.body_len);
      if (!rq->body) {
        rq->phase = REQ_ANSWERED;
        *upload_data_size = 0;
        return send_error(conn, 503, "out of memory", NULL, 0);
      }
    }
    size_t n = *upload_data_size;
    if (n > rq->dec.body_len - rq->body_got) n = (size_t)(rq->dec.body_len - rq->body_got);
    memcpy(rq->body + rq->body_got, upload_data, n);
    rq->body_got += n;
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (rq->phase == REQ_NEW) { /* the head is complete: decide */
    set_state(d, conn_slot(conn), MACHO__CONN_RESPOND);
    header_list hl;
    hl.n = 0;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_header, &hl);
    /* one line more than allowed is enough for the decision to answer 431 */
    size_t nh = hl.n < sizeof hl.h / sizeof hl.h[0] ? hl.n : sizeof hl.h / sizeof hl.h[0];
    macho__dash_request req = {method, strlen(method), rq->target, rq->target_len, hl.h, nh};
    macho__dash_decide(&d->site, &req, &rq->dec);
    rq->phase = REQ_DECIDED;
    /* A body is refused now, before it is read (the connection then closes). */
    if (!rq->dec.close) return MHD_YES;
  } else if (*upload_data_size) { /* no body was announced, yet bytes came: drop them */
    *upload_data_size = 0;
    return MHD_YES;
  }
  rq->phase = REQ_ANSWERED;
  const macho__dash_decision *dec = &rq->dec;
  if (dec->route == MACHO__ROUTE_ERROR) {
    extra_header extra[2] = {{NULL, NULL}, {NULL, NULL}};
    if (dec->allow) extra[0] = (extra_header){"Allow", dec->allow};
    if (dec->authenticate) extra[0] = (extra_header){"WWW-Authenticate", "Bearer realm=\"macho\""};
    if (dec->close) extra[1] = (extra_header){"Connection", "close"};
    return send_error(conn, dec->status, dec->error, extra, 2);
  }
  switch (dec->route) {
  case MACHO__ROUTE_ASSET: {
    if (dec->set_cookie) {
      /* The page opened with ?token= hands the token to its scripts as a cookie. */
      char cookie[MACHO__DASH_MAX_TOKEN + 64];
      snprintf(cookie, sizeof cookie, "macho_token=%s; Path=/; HttpOnly; SameSite=Strict", d->token);
      extra_header set = {"Set-Cookie", cookie};
      return send_buf(conn, 200, dec->asset.type, dec->asset.data, dec->asset.len, MHD_RESPMEM_PERSISTENT, &set, 1);
    }
    return send_buf(conn, 200, dec->asset.type, dec->asset.data, dec->asset.len, MHD_RESPMEM_PERSISTENT, NULL, 0);
  }
  case MACHO__ROUTE_STATS:
    return send_written(d, conn, write_stats, dec, "application/json");
  case MACHO__ROUTE_METRICS:
    return send_written(d, conn, write_metrics, dec, "text/plain; version=0.0.4; charset=utf-8");
  case MACHO__ROUTE_HISTORY:
    return send_written(d, conn, write_history, dec, "application/json");
  case MACHO__ROUTE_TIER:
    return send_written(d, conn, write_tier, dec, "application/json");
  case MACHO__ROUTE_CLEAR: {
    int rc = macho_clear(d->cache);
    return rc == MACHO_OK ? send_json(conn, "{\"cleared\":true}\n")
                          : send_error(conn, 500, macho_strerror(rc), NULL, 0);
  }
  case MACHO__ROUTE_GET:
    return get_key(d, conn, dec->key, dec->key_len);
  case MACHO__ROUTE_DELETE: {
    int rc = macho_delete(d->cache, dec->key, dec->key_len);
    if (rc == MACHO_ENOTFOUND) return send_error(conn, 404, "key not found", NULL, 0);
    return rc == MACHO_OK ? send_json(conn, "{\"deleted\":true}\n")
                          : send_error(conn, 500, macho_strerror(rc), NULL, 0);
  }
  case MACHO__ROUTE_SNAPSHOT:
    return send_snapshot(d, conn);
  case MACHO__ROUTE_RESTORE:
    if (rq->body_got != dec->body_len) return send_error(conn, 400, "the body ended before its Content-Length", NULL, 0);
    return restore(d, conn, rq);
  case MACHO__ROUTE_ERROR:
    break;
  }
  return send_error(conn, 500, "internal error", NULL, 0);
}

/* ---- the ticker: sampling and deadlines ------------------------------------------ */

/* Shut down connections past their deadline; return the earliest deadline
 * still ahead (UINT64_MAX if none). Under d->mu. */
static uint64_t enforce_deadlines(macho_dashboard *d, uint64_t now) {
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < d->nslots; i++) {
    macho__conn *c = &d->conns[i];
    if (c->state == MACHO__CONN_FREE || c->evicted) continue;
    if (c->deadline_ms <= now) evict(c);
    else if (c->deadline_ms < next) next = c->deadline_ms;
  }
  return next;
}

/* Take the second's snapshot if it is due. Called and returns under d->mu,
 * which it drops around macho_stats_get so that requests are not held up. */
static void sample_if_due(macho_dashboard *d, uint64_t now) {
  if (now < d->next_sample_ms) return;
  d->next_sample_ms += d->tune.sample_ms;
  if (d->next_sample_ms <= now) d->next_sample_ms = now + d->tune.sample_ms; /* late: no burst */
  pthread_mutex_unlock(&d->mu);
  macho_stats *snap = NULL;
  if (macho_stats_get(d->cache, -1, &snap) != MACHO_OK) snap = NULL;
  pthread_mutex_lock(&d->mu);
  /* Wall-clock time for the page's axis, advanced by the monotonic clock so
   * that a clock step (NTP, a suspended laptop) cannot fold the history. */
  macho__history_add(&d->hist, snap, now, d->wall0_ms + (now - d->mono0_ms));
}

static void *ticker(void *arg) {
  macho_dashboard *d = arg;
  pthread_mutex_lock(&d->mu);
  while (!d->stop) {
    uint64_t seen = d->kicks;
    uint64_t now = now_ms(d);
    sample_if_due(d, now);
    uint64_t next = enforce_deadlines(d, now);
    d->kicks_done = seen;
    pthread_cond_broadcast(&d->done);
    if (d->kicks != seen || d->stop) continue;
    /* Sleep until the next sample or deadline, at most 1 s (so that an
     * injected clock that jumps is noticed even without a kick). */
    if (d->next_sample_ms < next) next = d->next_sample_ms;
    uint64_t wait = next > now ? next - now : 0;
    if (wait > 1000) wait = 1000;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(wait / 1000);
    ts.tv_nsec += (long)(wait % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    if (wait) pthread_cond_timedwait(&d->wake, &d->mu, &ts);
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

void macho__dashboard_kick(macho_dashboard *d) {
  if (!d) return;
  pthread_mutex_lock(&d->mu);
  uint64_t mine = ++d->kicks;
  pthread_cond_signal(&d->wake);
  while (d->kicks_done < mine && !d->stop) pthread_cond_wait(&d->done, &d->mu);
  pthread_mutex_unlock(&d->mu);
}

uint32_t macho__dashboard_connections(macho_dashboard *d, int state) {
  if (!d) return 0;
  uint32_t n = 0;
  pthread_mutex_lock(&d->mu);
  for (size_t i = 0; i < d->nslots; i++) {
    const macho__conn *c = &d->conns[i];
    if (c->state != MACHO__CONN_FREE && (state < 0 || (c->state == state && !c->evicted))) n++;
  }
  pthread_mutex_unlock(&d->mu);
  return n;
}

/* ---- start / stop -------------------------------------------------------------- */

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

static bool token_ok(const char *t) {
  size_t n = strlen(t);
  if (n == 0 || n > MACHO__DASH_MAX_TOKEN) return false;
  for (size_t i = 0; i < n; i++) { /* URL- and cookie-safe characters only */
    char ch = t[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == '~';
    if (!ok) return false;
  }
  return true;
}

static void destroy(macho_dashboard *d) {
  if (d->thread_started) {
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->wake);
    pthread_cond_broadcast(&d->done);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->ticker, NULL);
  }
  if (d->daemon) MHD_stop_daemon(d->daemon); /* closes every connection (on_connection sees them) */
  if (d->sync_made) {
    pthread_cond_destroy(&d->done);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->mu);
  }
  macho__history_free(&d->hist);
  macho__dash_free(d->alloc, d->conns, d->nslots * sizeof *d->conns);
  macho__dash_free(d->alloc, d, sizeof *d);
}

static bool make_sync(macho_dashboard *d) {
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0) return false;
  bool ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
  if (ok && pthread_mutex_init(&d->mu, NULL) != 0) ok = false;
  else if (ok && pthread_cond_init(&d->wake, &ca) != 0) {
    pthread_mutex_destroy(&d->mu);
    ok = false;
  } else if (ok && pthread_cond_init(&d->done, &ca) != 0) {
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->mu);
    ok = false;
  }
  pthread_condattr_destroy(&ca);
  return ok;
}

int macho__dashboard_start_tuned(macho_cache *cache, const macho_dashboard_options *opts,
                                 const macho__dash_tuning *tuning, macho_dashboard **out) {
  if (out) *out = NULL;
  if (!cache || !out) return MACHO_EINVAL;
  macho_dashboard_options o;
  macho_dashboard_options_init(&o);
  if (opts) o = *opts;
  if (!o.listen) o.listen = "127.0.0.1:0";
  if (o.management != 0 && o.management != 1) return MACHO_EINVAL;
  macho_config cfg;
  if (macho_config_get(cache, &cfg) != MACHO_OK) return MACHO_EINVAL;
  /* Management takes byte keys, and its clear would release objects on the
   * server thread (for Python: without the GIL): bytes mode only. */
  if (o.management && cfg.object_ops) return MACHO_EMODE;
  if (o.token && !token_ok(o.token)) return MACHO_EINVAL;
  macho__dash_tuning tune;
  macho__dash_tuning_init(&tune);
  if (tuning) tune = *tuning;
  if (!tune.sample_ms || !tune.header_ms || !tune.response_ms || !tune.limits.max_connections)
    return MACHO_EINVAL;

  struct sockaddr_storage ss;
  bool loopback = false;
  char host[80];
  if (macho__dash_parse_listen(o.listen, &ss, &loopback, host, sizeof host) != MACHO_OK) return MACHO_EINVAL;
  if (!loopback && !o.token) return MACHO_EINVAL; /* a token is required off loopback */

  macho__dash_alloc alloc = cfg.allocator;
  macho_dashboard *d = macho__dash_calloc(alloc, 1, sizeof *d);
  if (!d) return MACHO_ENOMEM;
  d->cache = cache;
  d->tier = o.tier;
  d->alloc = alloc;
  d->tune = tune;
  d->nslots = (size_t)tune.limits.max_connections + SLOT_SLACK;
  d->site.management = o.management;
  d->site.object_mode = cfg.object_ops != NULL;
  d->site.loopback = loopback;
  if (o.token) {
    d->site.token_len = strlen(o.token);
    memcpy(d->token, o.token, d->site.token_len + 1);
  }
  d->site.token = d->token;
  int rc = MACHO_OK;
  d->conns = macho__dash_calloc(alloc, d->nslots, sizeof *d->conns);
  if (!d->conns) rc = MACHO_ENOMEM;
  if (rc == MACHO_OK) rc = macho__history_init(&d->hist, alloc, MACHO__HISTORY_SECONDS, tune.sample_ms);
  if (rc == MACHO_OK) {
    /* the baseline snapshot: the first sample follows one period later */
    macho_stats *snap = NULL;
    rc = macho_stats_get(cache, -1, &snap);
    d->mono0_ms = now_ms(d);
    d->wall0_ms = clock_ms(CLOCK_REALTIME);
    d->next_sample_ms = d->mono0_ms + tune.sample_ms;
    if (rc == MACHO_OK) macho__history_add(&d->hist, snap, d->mono0_ms, d->wall0_ms);
  }
  if (rc == MACHO_OK && !(d->sync_made = make_sync(d))) rc = MACHO_ENOMEM;
  int lfd = -1;
  if (rc == MACHO_OK) rc = open_listener(&ss, &lfd);
  if (rc != MACHO_OK) {
    destroy(d);
    return rc;
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
  if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  d->daemon = MHD_start_daemon(
      flags, 0, on_accept, d, handle, d, MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_NOTIFY_CONNECTION,
      on_connection, d, MHD_OPTION_URI_LOG_CALLBACK, on_uri, d, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)d->nslots,
      /* a backstop only: our deadlines are shorter and cannot be reset by trickling */
      MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
  if (!d->daemon) {
    /* libmicrohttpd closes the socket it was handed on some failure paths only */
    if (fcntl(lfd, F_GETFD) != -1) close(lfd);
    destroy(d);
    return MACHO_EIO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->daemon, MHD_DAEMON_INFO_BIND_PORT);
  d->site.port = info ? info->port : 0;
  if (d->site.token_len)
    snprintf(d->url, sizeof d->url, "http://%s:%u/?token=%s", host, d->site.port, d->token);
  else
    snprintf(d->url, sizeof d->url, "http://%s:%u/", host, d->site.port);
  if (pthread_create(&d->ticker, NULL, ticker, d) != 0) {
    destroy(d);
    return MACHO_ENOMEM;
  }
  d->thread_started = true;
  *out = d;
  return MACHO_OK;
}

int macho_dashboard_start(macho_cache *cache, const macho_dashboard_options *opts, macho_dashboard **out) {
  return macho__dashboard_start_tuned(cache, opts, NULL, out);
}

const char *macho_dashboard_url(const macho_dashboard *d) { return d ? d->url : NULL; }

void macho_dashboard_stop(macho_dashboard *d) {
  if (!d) return;
  destroy(d);
}
