/*
 * conn.c -- the Redis tier's connections: address parsing, connecting
 * (timeouts, AUTH, SELECT, CLIENT SETNAME), and request/reply round trips
 * over hiredis.
 *
 * hiredis (Debian's 0.14) parses replies; requests are formatted here into
 * one buffer per round trip and sent with send(MSG_NOSIGNAL), so that a
 * connection the server closed is an error code, never a SIGPIPE that kills
 * the application (hiredis itself writes with write(2)). Every socket gets
 * SO_RCVTIMEO/SO_SNDTIMEO = command_timeout_ms, so no call blocks longer;
 * a timed-out connection is never reused (its reply may still arrive).
 */
#ifdef MACHO_HAVE_HIREDIS
#include "tier.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

void *macho__tier_malloc(const macho__tier_alloc *a, size_t n) {
  if (n == 0) n = 1;
  return a->hooks.malloc ? a->hooks.malloc(a->hooks.ctx, n) : malloc(n);
}

void macho__tier_free(const macho__tier_alloc *a, void *p, size_t n) {
  if (!p) return;
  if (n == 0) n = 1;
  if (a->hooks.free)
    a->hooks.free(a->hooks.ctx, p, n);
  else
    free(p);
}

/* ---- addresses ------------------------------------------------------------------ */

int macho__tier_addr_parse(const char *s, macho__tier_addr *out, const char **why) {
  memset(out, 0, sizeof *out);
  if (!s || !*s) {
    *why = "redis address is empty";
    return -1;
  }
  if (strncmp(s, "unix:", 5) == 0) {
    size_t n = strlen(s + 5);
    if (n == 0 || n >= sizeof out->host) {
      *why = "redis unix socket path is empty or longer than 255 bytes";
      return -1;
    }
    memcpy(out->host, s + 5, n + 1);
    out->unix_socket = true;
    return 0;
  }
  const char *host = s, *colon;
  size_t hlen;
  if (*s == '[') { /* [IPv6]:PORT */
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':') {
      *why = "redis address '[IPv6]' must be followed by ':PORT'";
      return -1;
    }
    host = s + 1;
    hlen = (size_t)(close - host);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) {
      *why = "redis address must be HOST:PORT, [IPv6]:PORT or unix:/path";
      return -1;
    }
    hlen = (size_t)(colon - s);
    if (memchr(s, ':', hlen)) {
      *why = "an IPv6 redis address must be written [ADDRESS]:PORT";
      return -1;
    }
  }
  if (hlen == 0 || hlen >= sizeof out->host) {
    *why = "redis host is empty or longer than 255 bytes";
    return -1;
  }
  char *end;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end || errno || port < 1 || port > 65535) {
    *why = "redis port must be a number from 1 to 65535";
    return -1;
  }
  memcpy(out->host, host, hlen);
  out->host[hlen] = '\0';
  out->port = (int)port;
  return 0;
}

/* ---- requests ---------------------------------------------------------------- */

void macho__tier_req_init(macho__tier_req *r, const macho__tier_alloc *a) {
  r->p = r->inline_buf;
  r->len = 0;
  r->cap = sizeof r->inline_buf;
  r->ncmds = 0;
  r->oom = false;
  r->a = a;
}

void macho__tier_req_free(macho__tier_req *r) {
  if (r->p != r->inline_buf) macho__tier_free(r->a, r->p, r->cap);
  macho__tier_req_init(r, r->a);
}

static bool req_reserve(macho__tier_req *r, size_t more) {
  if (r->oom) return false;
  if (more <= r->cap - r->len) return true;
  if (more > SIZE_MAX / 2 - r->len) {
    r->oom = true;
    return false;
  }
  size_t cap = r->cap * 2;
  while (cap - r->len < more) cap *= 2;
  char *p = macho__tier_malloc(r->a, cap);
  if (!p) {
    r->oom = true;
    return false;
  }
  memcpy(p, r->p, r->len);
  if (r->p != r->inline_buf) macho__tier_free(r->a, r->p, r->cap);
  r->p = p;
  r->cap = cap;
  return true;
}

static void req_put(macho__tier_req *r, const void *s, size_t n) {
  if (!req_reserve(r, n)) return;
  if (n) memcpy(r->p + r->len, s, n);
  r->len += n;
}

void macho__tier_req_cmd(macho__tier_req *r, int argc, const char *const *argv, const size_t *lens) {
  char head[32];
  int n = snprintf(head, sizeof head, "*%d\r\n", argc);
  req_put(r, head, (size_t)n);
  for (int i = 0; i < argc; i++) {
    size_t len = lens ? lens[i] : strlen(argv[i]);
    n = snprintf(head, sizeof head, "$%zu\r\n", len);
    req_put(r, head, (size_t)n);
    req_put(r, argv[i], len);
    req_put(r, "\r\n", 2);
  }
  r->ncmds++;
}

/* ---- round trips ----------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, const char *detail) {
  if (err && errlen) snprintf(err, errlen, fmt, detail);
}

int macho__tier_send(redisContext *rc, macho__tier_req *r, char *err, size_t errlen) {
  if (r->oom) {
    set_err(err, errlen, "%s", "out of memory building a Redis request");
    return MACHO__RC_NOMEM;
  }
  size_t off = 0;
  while (off < r->len) {
    ssize_t n = send(rc->fd, r->p + off, r->len - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      set_err(err, errlen, "sending to Redis: %s", strerror(e));
      rc->err = REDIS_ERR_IO; /* never reuse this connection */
      return (e == EAGAIN || e == EWOULDBLOCK) ? MACHO__RC_TIMEOUT : MACHO__RC_IO;
    }
    off += (size_t)n;
  }
  return MACHO__RC_OK;
}

static int read_reply(redisContext *rc, redisReply **out, char *err, size_t errlen) {
  void *reply = NULL;
  errno = 0;
  if (redisGetReply(rc, &reply) != REDIS_OK || !reply) {
    int e = errno;
    bool timeout = rc->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK);
    if (timeout)
      set_err(err, errlen, "%s", "Redis did not answer within command_timeout_ms");
    else
      set_err(err, errlen, "reading from Redis: %s", rc->errstr[0] ? rc->errstr : "connection closed");
    if (!rc->err) rc->err = REDIS_ERR_IO;
    return timeout ? MACHO__RC_TIMEOUT : MACHO__RC_IO;
  }
  *out = reply;
  return MACHO__RC_OK;
}

int macho__tier_roundtrip(redisContext *rc, macho__tier_req *r, redisReply **replies, char *err, size_t errlen) {
  if (!rc || rc->err) {
    set_err(err, errlen, "%s", "Redis connection is broken");
    return MACHO__RC_IO;
  }
  int rcode = macho__tier_send(rc, r, err, errlen);
  if (rcode != MACHO__RC_OK) return rcode;
  int got = 0;
  for (; got < r->ncmds; got++) {
    rcode = read_reply(rc, &replies[got], err, errlen);
    if (rcode != MACHO__RC_OK) break;
  }
  if (rcode != MACHO__RC_OK) {
    for (int i = 0; i < got; i++) freeReplyObject(replies[i]);
    return rcode;
  }
  return MACHO__RC_OK;
}

int macho__tier_command(redisContext *rc, const macho__tier_alloc *a, redisReply **out, char *err, size_t errlen,
                        int argc, const char *const *argv, const size_t *lens) {
  macho__tier_req r;
  macho__tier_req_init(&r, a);
  macho__tier_req_cmd(&r, argc, argv, lens);
  redisReply *reply = NULL;
  int rcode = macho__tier_roundtrip(rc, &r, &reply, err, errlen);
  macho__tier_req_free(&r);
  if (rcode != MACHO__RC_OK) return rcode;
  if (reply->type == REDIS_REPLY_ERROR) {
    set_err(err, errlen, "Redis replied: %s", reply->str);
    if (out)
      *out = reply;
    else
      freeReplyObject(reply);
    return MACHO__RC_REPLY_ERROR;
  }
  if (out)
    *out = reply;
  else
    freeReplyObject(reply);
  return MACHO__RC_OK;
}

/* ---- connecting -------------------------------------------------------------- */

static struct timeval ms_tv(uint32_t ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
  return tv;
}

redisContext *macho__tier_connect(struct macho_tier *t, const char *name, char *err, size_t errlen) {
  const macho__tier_addr *ad = &t->addr;
  struct timeval ctv = ms_tv(t->connect_timeout_ms);
  redisContext *rc = ad->unix_socket ? redisConnectUnixWithTimeout(ad->host, ctv)
                                     : redisConnectWithTimeout(ad->host, ad->port, ctv);
  char where[300];
  if (ad->unix_socket)
    snprintf(where, sizeof where, "unix:%s", ad->host);
  else
    snprintf(where, sizeof where, strchr(ad->host, ':') ? "[%s]:%d" : "%s:%d", ad->host, ad->port);
  if (!rc) {
    if (err) snprintf(err, errlen, "connecting to Redis at %s: out of memory", where);
    return NULL;
  }
  if (rc->err) {
    if (err) snprintf(err, errlen, "connecting to Redis at %s: %s", where, rc->errstr);
    redisFree(rc);
    return NULL;
  }
  if (redisSetTimeout(rc, ms_tv(t->command_timeout_ms)) != REDIS_OK) {
    if (err) snprintf(err, errlen, "setting socket timeouts for %s: %s", where, rc->errstr);
    redisFree(rc);
    return NULL;
  }
  if (!ad->unix_socket) (void)redisEnableKeepAlive(rc); /* a second line of defence after the heartbeat */

  /* The handshake as one pipelined request: AUTH, SELECT, CLIENT SETNAME. */
  macho__tier_req r;
  macho__tier_req_init(&r, &t->alloc);
  if (t->password) {
    if (t->username) {
      const char *argv[] = {"AUTH", t->username, t->password};
      macho__tier_req_cmd(&r, 3, argv, NULL);
    } else {
      const char *argv[] = {"AUTH", t->password};
      macho__tier_req_cmd(&r, 2, argv, NULL);
    }
  }
  char dbs[16];
  if (t->db != 0) {
    snprintf(dbs, sizeof dbs, "%d", t->db);
    const char *argv[] = {"SELECT", dbs};
    macho__tier_req_cmd(&r, 2, argv, NULL);
  }
  const char *argv[] = {"CLIENT", "SETNAME", name};
  macho__tier_req_cmd(&r, 3, argv, NULL);
  redisReply *replies[3] = {0};
  char why[MACHO__TIER_ERROR_LEN];
  int rcode = macho__tier_roundtrip(rc, &r, replies, why, sizeof why);
  int n = r.ncmds;
  macho__tier_req_free(&r);
  if (rcode != MACHO__RC_OK) {
    if (err) snprintf(err, errlen, "handshake with Redis at %s: %s", where, why);
    redisFree(rc);
    return NULL;
  }
  bool ok = true;
  for (int i = 0; i < n; i++) {
    if (ok && replies[i]->type == REDIS_REPLY_ERROR) {
      if (err) snprintf(err, errlen, "Redis at %s refused the handshake: %s", where, replies[i]->str);
      ok = false;
    }
    freeReplyObject(replies[i]);
  }
  if (!ok) {
    redisFree(rc);
    return NULL;
  }
  return rc;
}
#endif /* MACHO_HAVE_HIREDIS */
