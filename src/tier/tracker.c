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
 * late; it PINGs every idle data connection (and the BCAST one) in the same
 * round, with the same deadline.
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
  /* The flush lock for writing: no fill can check-and-store across the clear. */
  pthread_rwlock_wrlock(&t->flush_lock);
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
  pthread_rwlock_unlock(&t->flush_lock);
  if (!counts) return false;
  macho__tier_flight_detach_all(&t->flights);
  atomic_fetch_add_explicit(&t->n.flushes[cause], 1, memory_order_relaxed);
  if (went_down) {
    pthread_mutex_lock(&t->state_mu);
    /* Unless the thread has already re-established tracking meanwhile. */
    if (atomic_load(&t->epoch) == down_from_epoch + 1) t->inv_id = -1;
    pthread_mutex_unlock(&t->state_mu);
    macho__tier_wake(t);
  }
  if (t->on_invalidate) t->on_invalidate(t->on_invalidate_ctx, NULL, 0, cause);
  return went_down;
}

void macho__tier_conn_failed(struct macho_tier *t, macho__tier_conn *c, int cause, const char *err) {
  uint64_t tracked = c->track_epoch;
  if (c->rc) redisFree(c->rc);
  c->rc = NULL;
  c->track_epoch = 0;
  c->backoff_ms = 0; /* the first reconnect is immediate; backoff grows only on failed connects */
  c->retry_at_ns = 0;
  macho__tier_set_error(t, "data connection %u: %s", c->index, err);
  /* Keys read on it are no longer tracked: L1 must go if it relied on them.
   * In BCAST mode data connections carry no tracking. */
  if (!t->bcast && tracked) macho__tier_flush(t, cause, tracked);
}

/* ---- invalidation messages ------------------------------------------------------ */

/* ---- listener calls held back during a round ------------------------------------ */

typedef struct macho__tier_note {
  char *key;
  size_t klen;
} macho__tier_note;

/* The listener for one key, now or, while the round holds a data connection,
 * once it has let them all go. Out of memory: now (a listener that blocks then
 * holds that connection's readers, as before). */
static void note_key(struct macho_tier *t, const char *key, size_t klen) {
  if (!t->on_invalidate) return;
  if (t->held_conns) {
    if (t->nnotes == t->capnotes) {
      size_t cap = t->capnotes ? 2 * t->capnotes : 16;
      macho__tier_note *n = macho__tier_malloc(&t->alloc, cap * sizeof *n);
      if (n) {
        if (t->nnotes) memcpy(n, t->notes, t->nnotes * sizeof *n);
        macho__tier_free(&t->alloc, t->notes, t->capnotes * sizeof *n);
        t->notes = n;
        t->capnotes = cap;
      }
    }
    char *copy = t->nnotes < t->capnotes ? macho__tier_malloc(&t->alloc, klen) : NULL;
    if (copy) {
      memcpy(copy, key, klen);
      t->notes[t->nnotes++] = (macho__tier_note){copy, klen};
      return;
    }
  }
  t->on_invalidate(t->on_invalidate_ctx, key, klen, -1);
}

static void notes_flush(struct macho_tier *t) {
  for (size_t i = 0; i < t->nnotes; i++) {
    t->on_invalidate(t->on_invalidate_ctx, t->notes[i].key, t->notes[i].klen, -1);
    macho__tier_free(&t->alloc, t->notes[i].key, t->notes[i].klen);
  }
  t->nnotes = 0;
}

void macho__tier_notes_free(struct macho_tier *t) {
  for (size_t i = 0; i < t->nnotes; i++)
    macho__tier_free(&t->alloc, t->notes[i].key, t->notes[i].klen);
  macho__tier_free(&t->alloc, t->notes, t->capnotes * sizeof *t->notes);
  t->notes = NULL;
  t->nnotes = t->capnotes = 0;
}

/* A data connection of the round is let go; the last one releases the notes. */
static void conn_let_go(struct macho_tier *t) {
  if (t->held_conns && --t->held_conns == 0) notes_flush(t);
}

void macho__tier_invalidate_key(struct macho_tier *t, const void *rkey, size_t rklen) {
  if (rklen < t->prefix_len || (t->prefix_len && memcmp(rkey, t->prefix, t->prefix_len) != 0))
    return; /* not one of this tier's keys (BCAST prefixes wider than key_prefix) */
  const char *key = (const char *)rkey + t->prefix_len;
  size_t klen = rklen - t->prefix_len;
  uint64_t h = macho__tier_hash(key, klen);
  uint32_t g = (uint32_t)(h % MACHO__TIER_GENS);
  macho__tier_lock_gen(t, g);
  atomic_fetch_add(&t->gens[g], 1);
  macho__tier_l1_forget(t->l1, key, klen);
  macho__tier_unlock_gen(t, g);
  macho__tier_flight_detach(&t->flights, key, klen, h);
  atomic_fetch_add_explicit(&t->n.invalidations, 1, memory_order_relaxed);
  note_key(t, key, klen);
}

/* A heartbeat round: one PING on every connection at once, every reply due
 * within heartbeat_timeout_ms. The invalidation connection's PONG arrives
 * among its messages; an idle data connection is locked for the round (its
 * user waits a round trip, microseconds) and read here; a busy one counts
 * as answered once a request it sent after the round began is answered (the
 * tier is woken when it is released). A completed round renews the read
 * lease (tier.h): Redis answered the invalidation connection's PING after
 * queueing every invalidation of earlier writes, and every tracked data
 * connection was alive, so still tracking, after the round began. */
enum { HB_DONE = 0, HB_PENDING, HB_WANTED };
typedef struct hb_state {
  uint64_t sent_ns;  /* when the round began; 0 = no round outstanding */
  uint64_t next_ns;  /* next round */
  bool inv_pending, bcast_pending;
  uint8_t data[MACHO__TIER_MAX_CONNECTIONS];
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
    if (hb->inv_pending) {
      uint64_t rtt = macho__tier_now_ns() - hb->sent_ns;
      uint64_t max = atomic_load_explicit(&t->n.hb_rtt_max, memory_order_relaxed);
      if (rtt > max) atomic_store_explicit(&t->n.hb_rtt_max, rtt, memory_order_relaxed);
      atomic_fetch_add_explicit(&t->n.heartbeats, 1, memory_order_relaxed);
    }
    hb->inv_pending = false;
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
  /* L1 is empty now (it was emptied when tracking went down): whatever it
   * holds later was read after this moment, and is tracked on the new
   * invalidation connection. So the lease may run from here. */
  uint64_t started = macho__tier_now_ns();
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
    size_t argc = 6 + 2 * t->nbcast;
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
    bool all_keys = false;
    for (size_t i = 0; i < t->nbcast; i++) all_keys = all_keys || t->bcast_prefix_lens[i] == 0;
    for (size_t i = 0; i < t->nbcast && !all_keys; i++) { /* an empty prefix: no PREFIX at all */
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
  macho__tier_lease_renew(t, started);
  if (t->thread_started) atomic_fetch_add_explicit(&t->n.reconnects, 1, memory_order_relaxed);
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

/* Data connection i is locked: settle its part of the round. */
static void round_conn(struct macho_tier *t, hb_state *hb, uint32_t i) {
  macho__tier_conn *c = &t->conns[i];
  char err[MACHO__TIER_ERROR_LEN];
  if (!c->rc || atomic_load(&c->ok_sent_ns) >= hb->sent_ns) { /* nothing to lose, or answered since */
    hb->data[i] = HB_DONE;
    macho__tier_conn_release(t, c);
    return;
  }
  if (send_ping(t, c->rc, err, sizeof err)) {
    hb->data[i] = HB_PENDING; /* keeps c->mu until the PONG */
    t->held_conns++;
    return;
  }
  macho__tier_conn_failed(t, c, MACHO_TIER_FLUSH_DATA, err);
  hb->data[i] = HB_DONE;
  macho__tier_conn_release(t, c);
}

/* Try the busy connections of the round again (woken when one is released). */
static void round_retry(struct macho_tier *t, hb_state *hb) {
  for (uint32_t i = 0; i < t->nconns; i++) {
    if (hb->data[i] != HB_WANTED) continue;
    macho__tier_conn *c = &t->conns[i];
    if (atomic_load(&c->ok_sent_ns) >= hb->sent_ns) { /* its user's request, sent since, was answered */
      atomic_store(&c->hb_wanted, false);
      hb->data[i] = HB_DONE;
      continue;
    }
    if (pthread_mutex_trylock(&c->mu) != 0) {
      atomic_store(&c->hb_wanted, true);
      if (pthread_mutex_trylock(&c->mu) != 0) continue; /* its holder will wake us */
    }
    atomic_store(&c->hb_wanted, false);
    round_conn(t, hb, i);
  }
}

/* Start a round. Returns false when the invalidation connection failed. */
static bool round_start(struct macho_tier *t, hb_state *hb, uint64_t epoch, char *err, size_t errlen) {
  hb->sent_ns = macho__tier_now_ns();
  if (!send_ping(t, t->inv, err, errlen)) {
    macho__tier_set_error(t, "invalidation connection: %s", err);
    macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
    return false;
  }
  hb->inv_pending = true;
  for (uint32_t i = 0; i < t->nconns; i++) hb->data[i] = HB_WANTED;
  round_retry(t, hb);
  if (t->bcast_rc) {
    if (!send_ping(t, t->bcast_rc, err, errlen)) {
      macho__tier_set_error(t, "BCAST tracking connection: %s", err);
      macho__tier_flush(t, MACHO_TIER_FLUSH_DATA, epoch);
      return true; /* serve() sees the epoch move */
    }
    hb->bcast_pending = true;
  }
  return true;
}

/* A data connection's PONG (or failure); c->mu is held and released here. */
static void data_pong(struct macho_tier *t, hb_state *hb, uint32_t i) {
  macho__tier_conn *c = &t->conns[i];
  redisReply *r = NULL;
  char err[MACHO__TIER_ERROR_LEN];
  macho__tier_req none;
  macho__tier_req_init(&none, &t->alloc);
  none.ncmds = 1; /* read one reply, send nothing */
  int rc = c->rc ? macho__tier_roundtrip(c->rc, &none, &r, err, sizeof err) : MACHO__RC_IO;
  if (rc == MACHO__RC_OK && r->type != REDIS_REPLY_STATUS) {
    snprintf(err, sizeof err, "unexpected reply to PING");
    rc = MACHO__RC_IO;
  }
  if (r) freeReplyObject(r);
  if (rc == MACHO__RC_OK)
    atomic_store(&c->ok_sent_ns, hb->sent_ns);
  else
    macho__tier_conn_failed(t, c, MACHO_TIER_FLUSH_DATA, err);
  hb->data[i] = HB_DONE;
  macho__tier_conn_release(t, c);
  conn_let_go(t);
}

/* End the round's leftovers: a connection whose PONG is still due has an
 * unread reply, so it cannot be reused. */
static void round_abandon(struct macho_tier *t, hb_state *hb, int cause) {
  for (uint32_t i = 0; i < t->nconns; i++) {
    macho__tier_conn *c = &t->conns[i];
    if (hb->data[i] == HB_PENDING) {
      macho__tier_conn_failed(t, c, cause, "no PONG within heartbeat_timeout_ms");
      macho__tier_conn_release(t, c);
      conn_let_go(t);
    } else if (hb->data[i] == HB_WANTED) {
      atomic_store(&c->hb_wanted, false);
    }
    hb->data[i] = HB_DONE;
  }
  hb->inv_pending = hb->bcast_pending = false;
  hb->sent_ns = 0;
}

static bool round_complete(const struct macho_tier *t, const hb_state *hb) {
  if (hb->inv_pending || hb->bcast_pending) return false;
  for (uint32_t i = 0; i < t->nconns; i++)
    if (hb->data[i] != HB_DONE) return false;
  return true;
}

/* ---- the thread -------------------------------------------------------------- */

/* Serve the subscribed connection until it fails, tracking goes down
 * (another thread saw a failure) or the tier stops. */
static void serve(struct macho_tier *t) {
  uint64_t epoch = atomic_load(&t->epoch);
  const uint64_t interval = (uint64_t)t->heartbeat_interval_ms * 1000000u;
  const uint64_t patience = (uint64_t)t->heartbeat_timeout_ms * 1000000u;
  /* The first round at once: after a re-establishment it finds data
   * connections that died with the old server before a caller does. */
  hb_state hb;
  memset(&hb, 0, sizeof hb);
  hb.next_ns = macho__tier_now_ns();
  char err[MACHO__TIER_ERROR_LEN];
  struct pollfd pfd[3 + MACHO__TIER_MAX_CONNECTIONS];
  uint32_t pfd_conn[3 + MACHO__TIER_MAX_CONNECTIONS];
  while (!atomic_load(&t->stop) && atomic_load(&t->epoch) == epoch) {
    uint64_t now = macho__tier_now_ns();
    if (hb.sent_ns && now - hb.sent_ns >= patience) { /* the round is late */
      if (hb.inv_pending) {
        macho__tier_set_error(t, "invalidation connection: no PONG within heartbeat_timeout_ms (%u ms)",
                              t->heartbeat_timeout_ms);
        macho__tier_flush(t, MACHO_TIER_FLUSH_HEARTBEAT, epoch);
        break;
      }
      if (hb.bcast_pending) {
        macho__tier_set_error(t, "BCAST tracking connection: no PONG within heartbeat_timeout_ms (%u ms)",
                              t->heartbeat_timeout_ms);
        macho__tier_flush(t, MACHO_TIER_FLUSH_HEARTBEAT, epoch);
        break;
      }
      /* A data connection that did not answer is dropped; one that stayed
       * busy all along is left to its user's own timeout. Either way this
       * round renews nothing, and the lease may lapse. */
      round_abandon(t, &hb, MACHO_TIER_FLUSH_HEARTBEAT);
      continue;
    }
    if (hb.sent_ns && round_complete(t, &hb)) {
      macho__tier_lease_renew(t, hb.sent_ns);
      hb.sent_ns = 0;
    }
    if (!hb.sent_ns && now >= hb.next_ns) {
      if (!round_start(t, &hb, epoch, err, sizeof err)) break;
      hb.next_ns = hb.sent_ns + interval;
      continue;
    }
    uint64_t due = hb.sent_ns ? hb.sent_ns + patience : hb.next_ns;
    int timeout_ms = due > now ? (int)((due - now + 999999u) / 1000000u) : 0;
    /* The BCAST connection never receives anything unasked (its
     * invalidations go to t->inv): readable with no PING due means closed. */
    nfds_t n = 0;
    pfd[n] = (struct pollfd){.fd = t->inv->fd, .events = POLLIN}, pfd_conn[n++] = UINT32_MAX;
    pfd[n] = (struct pollfd){.fd = t->wake[0], .events = POLLIN}, pfd_conn[n++] = UINT32_MAX;
    pfd[n] = (struct pollfd){.fd = t->bcast_rc ? t->bcast_rc->fd : -1, .events = POLLIN}, pfd_conn[n++] = UINT32_MAX;
    for (uint32_t i = 0; i < t->nconns; i++)
      if (hb.data[i] == HB_PENDING) pfd[n] = (struct pollfd){.fd = t->conns[i].rc->fd, .events = POLLIN}, pfd_conn[n++] = i;
    int ready = poll(pfd, n, timeout_ms);
    if (ready < 0 && errno != EINTR) {
      macho__tier_set_error(t, "poll: %s", strerror(errno));
      macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
      break;
    }
    if (ready <= 0) continue;
    if (pfd[1].revents) {
      drain_wake(t);
      if (hb.sent_ns) round_retry(t, &hb); /* a busy connection was released */
    }
    for (nfds_t k = 3; k < n; k++)
      if (pfd[k].revents) data_pong(t, &hb, pfd_conn[k]);
    if (pfd[2].revents) {
      if (!hb.bcast_pending) {
        macho__tier_set_error(t, "BCAST tracking connection closed");
        macho__tier_flush(t, MACHO_TIER_FLUSH_DATA, epoch);
        break;
      }
      redisReply *r = NULL;
      macho__tier_req none;
      macho__tier_req_init(&none, &t->alloc);
      none.ncmds = 1;
      int rc = macho__tier_roundtrip(t->bcast_rc, &none, &r, err, sizeof err);
      bool ok = rc == MACHO__RC_OK && r->type == REDIS_REPLY_STATUS;
      if (r) freeReplyObject(r);
      if (!ok) {
        macho__tier_set_error(t, "BCAST tracking connection: %s", rc == MACHO__RC_OK ? "bad PONG" : err);
        macho__tier_flush(t, MACHO_TIER_FLUSH_DATA, epoch);
        break;
      }
      hb.bcast_pending = false;
    }
    if (pfd[0].revents) {
      if (redisBufferRead(t->inv) != REDIS_OK) {
        macho__tier_set_error(t, "invalidation connection: %s",
                              t->inv->errstr[0] ? t->inv->errstr : "connection closed");
        macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
        break;
      }
      bool failed = false;
      for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(t->inv, &reply) != REDIS_OK) {
          macho__tier_set_error(t, "invalidation connection: protocol error: %s", t->inv->errstr);
          failed = true;
          break;
        }
        if (!reply) break;
        bool ok = handle_message(t, reply, &hb);
        freeReplyObject(reply);
        if (!ok) {
          macho__tier_set_error(t, "invalidation connection: unexpected message");
          failed = true;
          break;
        }
      }
      if (failed) {
        macho__tier_flush(t, MACHO_TIER_FLUSH_INVALIDATION, epoch);
        break;
      }
    }
  }
  round_abandon(t, &hb, MACHO_TIER_FLUSH_DATA);
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
  t->thread_started = true; /* before the thread runs: establish() reads it */
  if (pthread_create(&t->thread, NULL, tracker_main, t) != 0) {
    t->thread_started = false;
    return MACHO_ENOMEM;
  }
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
