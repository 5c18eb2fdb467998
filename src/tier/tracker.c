/*
 * tracker.c -- the Redis tier's invalidation thread: the connection
 * subscribed to __redis__:invalidate, the heartbeat, and failure handling.
 *
 * Tracking uses REDIRECT (RESP2, so Debian's hiredis 0.14 can read it): each
 * data connection runs CLIENT TRACKING ON REDIRECT <id of this connection>,
 * and Redis publishes on this connection the names of keys that changed
 * (or a null list for FLUSHALL/FLUSHDB). In BCAST mode one more connection,
 * owned by this thread, carries CLIENT TRACKING ... BCAST PREFIX ...
 *
 * Redis sends nothing when a tracked connection dies (redis#11767): the
 * keys it read are silently untracked, and invalidations sent to a dead
 * redirect target are dropped. So every failure that can lose an
 * invalidation empties L1 *first* (macho__tier_flush: epoch becomes odd),
 * and tracking is then re-established from scratch: a new invalidation
 * connection, and every data connection re-enables tracking towards it
 * before its reads may be stored again (Lettuce restored tracking only by
 * replaying reads and kept stale entries, lettuce#3885; here nothing read
 * under an old epoch is ever stored). A half-open connection says nothing
 * either: the thread PINGs the invalidation connection every
 * heartbeat_interval_ms and gives up when the PONG is heartbeat_timeout_ms
 * late; it PINGs every idle data connection (and the BCAST one) as well.
 */
#ifdef MACHO_HAVE_HIREDIS
#include "tier.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void macho__tier_wake(struct macho_tier *t) {
  if (t->wake[1] < 0) return; /* during open, before the thread exists */
  char c = 1;
  ssize_t n;
  do n = write(t->wake[1], &c, 1);
  while (n < 0 && errno == EINTR);
  /* EAGAIN: the pipe is full, the thread is awake anyway. */
}

static void drain_wake(struct macho_tier *t) {
  char buf[64];
  while (read(t->wake[0], buf, sizeof buf) > 0) {
  }
}

/* ---- flushing --------------------------------------------------------------- */

bool macho__tier_flush(struct macho_tier *t, int cause, uint64_t down_from_epoch) {
  /* Every stripe lock: no fill can check-and-store across the clear. */
  for (uint32_t i = 0; i < MACHO__TIER_STRIPES; i++) pthread_mutex_lock(&t->stripes[i].mu);
  bool went_down = false;
  uint64_t e = atomic_load(&t->epoch);
  if (down_from_epoch && e == down_from_epoch && (e & 1) == 0) {
    atomic_store(&t->epoch, e + 1);
    went_down = true;
  }
  bool counts = went_down || !down_from_epoch;
  if (counts) {
    atomic_fetch_add(&t->l1_seq, 1);
    macho__tier_l1_clear(t->l1);
  }
  for (uint32_t i = MACHO__TIER_STRIPES; i-- > 0;) pthread_mutex_unlock(&t->stripes[i].mu);
  if (!counts) return false;
  macho__tier_flight_detach_all(&t->flights);
  atomic_fetch_add_explicit(&t->n.flushes[cause], 1, memory_order_relaxed);
  if (went_down) {
    pthread_mutex_lock(&t->state_mu);
    t->inv_id = -1;
    pthread_mutex_unlock(&t->state_mu);
    macho__tier_wake(t);
  }
  if (t->on_invalidate) t->on_invalidate(t->on_invalidate_ctx, NULL, 0, cause);
  return went_down;
}

void macho__tier_conn_failed(struct macho_tier *t, macho__tier_conn *c, int rc, const char *err) {
  uint64_t tracked = c->track_epoch;
  if (c->rc) redisFree(c->rc);
  c->rc = NULL;
  c->track_epoch = 0;
  c->backoff_ms = 0; /* the first reconnect is immediate; backoff grows only on failed connects */
  c->retry_at_ns = 0;
  macho__tier_set_error(t, "data connection %u: %s", c->index, err);
  /* Keys read on it are no longer tracked: L1 must go if it relied on them.
   * In BCAST mode data connections carry no tracking. */
  if (!t->bcast && tracked)
    macho__tier_flush(t, rc == MACHO__RC_TIMEOUT ? MACHO_TIER_FLUSH_TIMEOUT : MACHO_TIER_FLUSH_DATA, tracked);
}

/* ---- invalidation messages ------------------------------------------------------ */

void macho__tier_invalidate_key(struct macho_tier *t, const void *rkey, size_t rklen) {
  if (rklen < t->prefix_len || (t->prefix_len && memcmp(rkey, t->prefix, t->prefix_len) != 0))
    return; /* not one of this tier's keys (BCAST prefixes wider than key_prefix) */
  const char *key = (const char *)rkey + t->prefix_len;
  size_t klen = rklen - t->prefix_len;
  uint64_t h = macho__tier_hash(key, klen);
  uint32_t g = (uint32_t)(h % MACHO__TIER_GENS);
  macho__tier_stripe *s = &t->stripes[g % MACHO__TIER_STRIPES];
  pthread_mutex_lock(&s->mu);
  atomic_fetch_add(&t->gens[g], 1);
  macho__tier_l1_forget(t->l1, key, klen);
  pthread_mutex_unlock(&s->mu);
  macho__tier_flight_detach(&t->flights, key, klen, h);
  atomic_fetch_add_explicit(&t->n.invalidations, 1, memory_order_relaxed);
  if (t->on_invalidate) t->on_invalidate(t->on_invalidate_ctx, key, klen, -1);
}

typedef struct hb_state {
  uint64_t ping_sent_ns; /* 0 = no PING outstanding */
  uint64_t next_ns;      /* next heartbeat */
} hb_state;

/* One message from the subscribed connection. Returns false on a protocol
 * surprise that makes the connection untrustworthy. */
static bool handle_message(struct macho_tier *t, redisReply *r, hb_state *hb) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING) return false;
  const char *kind = r->element[0]->str;
  if (strcmp(kind, "message") == 0 && r->elements == 3) {
    redisReply *payload = r->element[2];
    atomic_fetch_add_explicit(&t->n.inv_messages, 1, memory_order_relaxed);
    if (payload->type == REDIS_REPLY_NIL) {
      macho__tier_flush(t, MACHO_TIER_FLUSH_SERVER, 0); /* FLUSHALL / FLUSHDB */
    } else if (payload->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < payload->elements; i++) {
        redisReply *k = payload->element[i];
        if (k->type == REDIS_REPLY_STRING) macho__tier_invalidate_key(t, k->str, k->len);
      }
    } else if (payload->type == REDIS_REPLY_STRING) {
      macho__tier_invalidate_key(t, payload->str, payload->len);
    } else {
      return false;
    }
    return true;
  }
  if (strcmp(kind, "pong") == 0) {
    if (hb->ping_sent_ns) {
      uint64_t rtt = macho__tier_now_ns() - hb->ping_sent_ns;
      uint64_t max = atomic_load_explicit(&t->n.hb_rtt_max, memory_order_relaxed);
      if (rtt > max) atomic_store_explicit(&t->n.hb_rtt_max, rtt, memory_order_relaxed);
      atomic_fetch_add_explicit(&t->n.heartbeats, 1, memory_order_relaxed);
    }
    hb->ping_sent_ns = 0;
    return true;
  }
  return strcmp(kind, "subscribe") == 0; /* anything else is unexpected */
}

/* ---- establishing tracking ------------------------------------------------------ */

static void close_tracker_conns(struct macho_tier *t) {
  if (t->inv) redisFree(t->inv);
  if (t->bcast_rc) redisFree(t->bcast_rc);
  t->inv = t->bcast_rc = NULL;
}

int macho__tier_establish(struct macho_tier *t, char *err, size_t errlen) {
  close_tracker_conns(t);
  redisContext *inv = macho__tier_connect(t, "macho-tier-invalidations", err, errlen);
  if (!inv) return MACHO_EIO;
  redisReply *r = NULL;
  const char *id_argv[] = {"CLIENT", "ID"};
  int rc = macho__tier_command(inv, &t->alloc, &r, err, errlen, 2, id_argv, NULL);
  if (rc != MACHO__RC_OK || r->type != REDIS_REPLY_INTEGER) {
    if (rc == MACHO__RC_OK) snprintf(err, errlen, "CLIENT ID: unexpected reply");
    if (r) freeReplyObject(r);
    redisFree(inv);
    return rc == MACHO__RC_NOMEM ? MACHO_ENOMEM : MACHO_EIO;
  }
  int64_t id = (int64_t)r->integer;
  freeReplyObject(r);
  const char *sub_argv[] = {"SUBSCRIBE", "__redis__:invalidate"};
  r = NULL;
  rc = macho__tier_command(inv, &t->alloc, &r, err, errlen, 2, sub_argv, NULL);
  if (rc != MACHO__RC_OK || r->type != REDIS_REPLY_ARRAY) {
    if (rc == MACHO__RC_OK) snprintf(err, errlen, "SUBSCRIBE: unexpected reply");
    if (r) freeReplyObject(r);
    redisFree(inv);
    return rc == MACHO__RC_NOMEM ? MACHO_ENOMEM : MACHO_EIO;
  }
  freeReplyObject(r);

  redisContext *bc = NULL;
  if (t->bcast) {
    bc = macho__tier_connect(t, "macho-tier-bcast", err, errlen);
    if (!bc) {
      redisFree(inv);
      return MACHO_EIO;
    }
    /* CLIENT TRACKING ON REDIRECT id BCAST PREFIX p ... (no NOLOOP: a write
     * from any connection must be reported, the tier's own included). */
    size_t argc = 5 + 2 * t->nbcast;
    const char **argv = macho__tier_malloc(&t->alloc, argc * sizeof *argv);
    size_t *lens = macho__tier_malloc(&t->alloc, argc * sizeof *lens);
    char ids[32];
    if (!argv || !lens) {
      macho__tier_free(&t->alloc, argv, argc * sizeof *argv);
      macho__tier_free(&t->alloc, lens, argc * sizeof *lens);
      redisFree(bc);
      redisFree(inv);
      snprintf(err, errlen, "out of memory");
      return MACHO_ENOMEM;
    }
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    argv[0] = "CLIENT", argv[1] = "TRACKING", argv[2] = "ON", argv[3] = "REDIRECT", argv[4] = ids;
    argv[5] = "BCAST";
    for (size_t i = 0; i < 5 + 1; i++) lens[i] = strlen(argv[i]);
    size_t n = 6;
    for (size_t i = 0; i < t->nbcast; i++) {
      argv[n] = "PREFIX", lens[n] = 6, n++;
      argv[n] = t->bcast_prefixes[i], lens[n] = t->bcast_prefix_lens[i], n++;
    }
    rc = macho__tier_command(bc, &t->alloc, NULL, err, errlen, (int)n, argv, lens);
    macho__tier_free(&t->alloc, argv, argc * sizeof *argv);
    macho__tier_free(&t->alloc, lens, argc * sizeof *lens);
    if (rc != MACHO__RC_OK) {
      redisFree(bc);
      redisFree(inv);
      return rc == MACHO__RC_NOMEM ? MACHO_ENOMEM : MACHO_EIO;
    }
  }
  t->inv = inv;
  t->bcast_rc = bc;
  /* Up: an even epoch. L1 was emptied when tracking went down, and nothing
   * was stored while it was odd. */
  pthread_mutex_lock(&t->state_mu);
  uint64_t e = atomic_load(&t->epoch);
  if (e & 1) atomic_store(&t->epoch, e + 1);
  t->inv_id = id;
  pthread_cond_broadcast(&t->state_cv);
  pthread_mutex_unlock(&t->state_mu);
  return MACHO_OK;
}

/* ---- heartbeat --------------------------------------------------------------- */

static bool send_ping(struct macho_tier *t, redisContext *rc, char *err, size_t errlen) {
  macho__tier_req r;
  macho__tier_req_init(&r, &t->alloc);
  const char *argv[] = {"PING"};
  macho__tier_req_cmd(&r, 1, argv, NULL);
  int rcode = macho__tier_send(rc, &r, err, errlen);
  macho__tier_req_free(&r);
  return rcode == MACHO__RC_OK;
}

/* PING each idle data connection (a busy one is being checked by its user's
 * own request) and the BCAST connection. Blocking, bounded by
 * command_timeout_ms each; an answer normally takes microseconds. */
static void ping_others(struct macho_tier *t, uint64_t epoch) {
  char err[MACHO__TIER_ERROR_LEN];
  const char *argv[] = {"PING"};
  for (uint32_t i = 0; i < t->nconns && !atomic_load(&t->stop); i++) {
    macho__tier_conn *c = &t->conns[i];
    if (pthread_mutex_trylock(&c->mu) != 0) continue;
    if (c->rc) {
      int rc = macho__tier_command(c->rc, &t->alloc, NULL, err, sizeof err, 1, argv, NULL);
      if (rc == MACHO__RC_IO || rc == MACHO__RC_TIMEOUT) macho__tier_conn_failed(t, c, rc, err);
    }
    pthread_mutex_unlock(&c->mu);
  }
  if (t->bcast_rc) {
    int rc = macho__tier_command(t->bcast_rc, &t->alloc, NULL, err, sizeof err, 1, argv, NULL);
    if (rc == MACHO__RC_IO || rc == MACHO__RC_TIMEOUT) {
      macho__tier_set_error(t, "BCAST tracking connection: %s", err);
      macho__tier_flush(t, rc == MACHO__RC_TIMEOUT ? MACHO_TIER_FLUSH_TIMEOUT : MACHO_TIER_FLUSH_DATA, epoch);
    }
  }
}

/* ---- the thread -------------------------------------------------------------- */

/* Serve the subscribed connection until it fails, tracking goes down
 * (another thread saw a failure) or the tier stops. */
static void serve(struct macho_tier *t) {
  uint64_t epoch = atomic_load(&t->epoch);
  /* The first heartbeat at once: after a re-establishment it finds data
   * connections that died with the old server before a caller does. */
  hb_state hb = {0, macho__tier_now_ns()};
  char err[MACHO__TIER_ERROR_LEN];
  while (!atomic_load(&t->stop) && atomic_load(&t->epoch) == epoch) {
    uint64_t now = macho__tier_now_ns();
    if (hb.ping_sent_ns && now - hb.ping_sent_ns >= (uint64_t)t->heartbeat_timeout_ms * 1000000u) {
      macho__tier_set_error(t, "invalidation connection: no PONG within heartbeat_timeout_ms (%u ms)",
                            t->heartbeat_timeout_ms);
      macho__tier_flush(t, MACHO_TIER_FLUSH_HEARTBEAT, epoch);
      return;
    }
    if (now >= hb.next_ns) {
      if (!hb.ping_sent_ns) {
        if (!send_ping(t, t->inv, err, sizeof err)) {
          macho__tier_set_error(t, "invalidation connection: %s", err);
          macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
          return;
        }
        hb.ping_sent_ns = now;
      }
      ping_others(t, epoch);
      hb.next_ns = macho__tier_now_ns() + (uint64_t)t->heartbeat_interval_ms * 1000000u;
      continue;
    }
    uint64_t due = hb.next_ns;
    if (hb.ping_sent_ns) {
      uint64_t late = hb.ping_sent_ns + (uint64_t)t->heartbeat_timeout_ms * 1000000u;
      if (late < due) due = late;
    }
    int timeout_ms = (int)((due - now + 999999u) / 1000000u);
    /* The BCAST connection never receives anything unasked (its
     * invalidations go to t->inv): readable means closed or broken. */
    struct pollfd pfd[3] = {{.fd = t->inv->fd, .events = POLLIN},
                            {.fd = t->wake[0], .events = POLLIN},
                            {.fd = t->bcast_rc ? t->bcast_rc->fd : -1, .events = POLLIN}};
    int n = poll(pfd, 3, timeout_ms);
    if (n < 0 && errno != EINTR) {
      macho__tier_set_error(t, "poll: %s", strerror(errno));
      macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
      return;
    }
    if (n <= 0) continue;
    if (pfd[1].revents) drain_wake(t);
    if (pfd[2].revents) {
      macho__tier_set_error(t, "BCAST tracking connection closed");
      macho__tier_flush(t, MACHO_TIER_FLUSH_DATA, epoch);
      return;
    }
    if (pfd[0].revents) {
      if (redisBufferRead(t->inv) != REDIS_OK) {
        macho__tier_set_error(t, "invalidation connection: %s",
                              t->inv->errstr[0] ? t->inv->errstr : "connection closed");
        macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
        return;
      }
      for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(t->inv, &reply) != REDIS_OK) {
          macho__tier_set_error(t, "invalidation connection: protocol error: %s", t->inv->errstr);
          macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
          return;
        }
        if (!reply) break;
        bool ok = handle_message(t, reply, &hb);
        freeReplyObject(reply);
        if (!ok) {
          macho__tier_set_error(t, "invalidation connection: unexpected message");
          macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
          return;
        }
      }
    }
  }
}

/* Sleep up to ms, or until woken (close). */
static void nap(struct macho_tier *t, uint32_t ms) {
  struct pollfd pfd = {.fd = t->wake[0], .events = POLLIN};
  if (poll(&pfd, 1, (int)ms) > 0) drain_wake(t);
}

static void *tracker_main(void *arg) {
  struct macho_tier *t = arg;
  uint32_t backoff_ms = 0;
  while (!atomic_load(&t->stop)) {
    uint64_t e = atomic_load(&t->epoch);
    if ((e & 1) || !t->inv) {
      char err[MACHO__TIER_ERROR_LEN];
      close_tracker_conns(t);
      if (macho__tier_establish(t, err, sizeof err) == MACHO_OK) {
        atomic_fetch_add_explicit(&t->n.reconnects, 1, memory_order_relaxed);
        backoff_ms = 0;
      } else {
        macho__tier_set_error(t, "re-establishing tracking: %s", err);
        backoff_ms = backoff_ms ? backoff_ms * 2 : 10;
        if (backoff_ms > t->reconnect_max_ms) backoff_ms = t->reconnect_max_ms;
        nap(t, backoff_ms);
        continue;
      }
    }
    serve(t);
  }
  close_tracker_conns(t);
  return NULL;
}

int macho__tier_tracker_start(struct macho_tier *t) {
  if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) != 0) return MACHO_EIO;
  if (pthread_create(&t->thread, NULL, tracker_main, t) != 0) return MACHO_ENOMEM;
  t->thread_started = true;
  return MACHO_OK;
}

void macho__tier_tracker_stop(struct macho_tier *t) {
  if (t->thread_started) {
    atomic_store(&t->stop, 1);
    macho__tier_wake(t);
    pthread_join(t->thread, NULL);
    t->thread_started = false;
  }
  close_tracker_conns(t);
  if (t->wake[0] >= 0) close(t->wake[0]);
  if (t->wake[1] >= 0) close(t->wake[1]);
  t->wake[0] = t->wake[1] = -1;
}
#endif /* MACHO_HAVE_HIREDIS */
