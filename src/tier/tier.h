/*
 * tier.h -- what the Redis tier's files share (nothing here is public).
 *
 * The tier keeps L1 coherent with Redis by one rule: a value read from Redis
 * is stored in L1 only if nothing that could have made it stale happened
 * between the moment just before the read was sent and the moment of the
 * store. "Something" is one of three counters, all checked under the key's
 * stripe lock at store time:
 *   - the key's generation (one of 4096 counters, by hash), bumped by every
 *     invalidation of the key and by every local put or delete (a fill that
 *     raced either loses);
 *   - the L1 sequence, bumped whenever L1 is emptied as a whole (flush
 *     message, failure, manual flush), under the flush lock held for writing
 *     (every check-and-store holds it for reading);
 *   - the tracking epoch: odd while tracking is down, even while it is up;
 *     bumped on each failure and each re-establishment. A data connection
 *     records the epoch under which it enabled tracking (REDIRECT to that
 *     epoch's invalidation connection); only a read made on a connection
 *     tracked under the current epoch may be stored.
 * Causality makes this sufficient: an invalidation for a write that follows
 * the read in Redis is sent after the read, so it reaches the tier after the
 * snapshot; it then arrives either before the store (the generation moved:
 * refused) or after it (the entry is dropped). Local writes use NOLOOP and
 * one connection per key (by hash), so Redis does not echo the tier's own
 * writes; the generation bump of every local write covers the same-process
 * races that NOLOOP hides.
 */
#ifndef MACHO_TIER_H
#define MACHO_TIER_H

#include <macho/macho.h>

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Test hook points (tests/test_tier.c makes races deterministic with them). */
typedef enum macho__tier_hook_point {
  MACHO__TIER_HOOK_BEFORE_STORE = 0, /* a Redis reply is in hand, its L1 store not yet checked */
  MACHO__TIER_HOOK_BEFORE_READ,      /* the snapshot is taken, the request not yet sent */
} macho__tier_hook_point;
typedef void (*macho__tier_hook_fn)(void *ctx, macho__tier_hook_point point, const void *key, size_t klen);
/* Tests: install a hook (NULL to remove) before using the tier from threads.
 * A no-op in a build without the tier. */
void macho__tier_set_hook(macho_tier *t, macho__tier_hook_fn fn, void *ctx);

#ifdef MACHO_HAVE_HIREDIS
#include <hiredis/hiredis.h>

#define MACHO__TIER_STRIPES 256u  /* locks, by key hash */
#define MACHO__TIER_GENS 4096u    /* generation counters; gen i is guarded by lock i % STRIPES */
#define MACHO__TIER_FLIGHT_BUCKETS 64u
#define MACHO__TIER_MAX_CONNECTIONS 64u
#define MACHO__TIER_ERROR_LEN 256u

/* ---- memory: the L1 config's allocator when it has one, else libc ---------- */
typedef struct macho__tier_alloc {
  macho_allocator hooks; /* .malloc NULL = libc */
} macho__tier_alloc;
void *macho__tier_malloc(const macho__tier_alloc *a, size_t n);
void macho__tier_free(const macho__tier_alloc *a, void *p, size_t n);

/* ---- connections (conn.c) ----------------------------------------------------- */
typedef struct macho__tier_addr {
  char host[256];   /* TCP host, or the socket path when unix */
  int port;
  bool unix_socket;
} macho__tier_addr;

/* Parse "HOST:PORT", "[IPv6]:PORT" or "unix:/path". 0 or -1 (why says why). */
int macho__tier_addr_parse(const char *s, macho__tier_addr *out, const char **why);

/* A request being built: RESP commands appended into one buffer, sent with
 * one send() (MSG_NOSIGNAL: a closed socket is an error, never a SIGPIPE). */
typedef struct macho__tier_req {
  char *p;
  size_t len, cap;
  int ncmds;
  bool oom;
  const macho__tier_alloc *a;
  char inline_buf[512];
} macho__tier_req;
void macho__tier_req_init(macho__tier_req *r, const macho__tier_alloc *a);
void macho__tier_req_free(macho__tier_req *r);
/* Append one command of argc arguments (binary-safe). */
void macho__tier_req_cmd(macho__tier_req *r, int argc, const char *const *argv, const size_t *lens);

/* Outcome classes of a round trip. */
enum {
  MACHO__RC_OK = 0,
  MACHO__RC_REPLY_ERROR = 1, /* Redis answered with an error: the connection is fine */
  MACHO__RC_IO = 2,          /* the connection failed or closed: it must be dropped */
  MACHO__RC_TIMEOUT = 3,     /* no reply within command_timeout_ms: it must be dropped */
  MACHO__RC_NOMEM = 4
};

struct macho_tier;
/* Connect, set timeouts, AUTH, SELECT, CLIENT SETNAME name. NULL on failure
 * (err gets a sentence). */
redisContext *macho__tier_connect(struct macho_tier *t, const char *name, char *err, size_t errlen);
/* Send the request and read its r->ncmds replies into replies[] (caller
 * frees each with freeReplyObject; on a non-OK result none is left). Error
 * replies are returned as replies: the caller reads them. */
int macho__tier_roundtrip(redisContext *rc, macho__tier_req *r, redisReply **replies, char *err, size_t errlen);
/* Send only (the tracker's PING on the subscribed connection). */
int macho__tier_send(redisContext *rc, macho__tier_req *r, char *err, size_t errlen);
/* One command, one reply; an error reply is MACHO__RC_REPLY_ERROR (the reply
 * is still handed out when out != NULL). */
int macho__tier_command(redisContext *rc, const macho__tier_alloc *a, redisReply **out, char *err, size_t errlen,
                        int argc, const char *const *argv, const size_t *lens);

/* One data connection: requests for a key always use conns[hash % n]. */
typedef struct macho__tier_conn {
  pthread_mutex_t mu;
  redisContext *rc;     /* NULL = not connected */
  uint64_t track_epoch; /* epoch under which CLIENT TRACKING was enabled (0 = none) */
  uint64_t retry_at_ns; /* no reconnect before (backoff) */
  _Atomic uint64_t ok_sent_ns; /* send time of the last request answered: it was alive after that */
  uint32_t backoff_ms;
  uint32_t index;
  _Atomic bool hb_wanted; /* the heartbeat found it busy: whoever unlocks it wakes the thread */
} macho__tier_conn;

/* Unlock a data connection, waking the invalidation thread if its heartbeat
 * round is waiting for this connection. */
void macho__tier_conn_release(struct macho_tier *t, macho__tier_conn *c);

/* ---- single flight (flight.c) ------------------------------------------------- */
typedef struct macho__tier_flight macho__tier_flight;
typedef struct macho__tier_flights {
  struct {
    pthread_mutex_t mu;
    macho__tier_flight *head;
  } bucket[MACHO__TIER_FLIGHT_BUCKETS];
  const macho__tier_alloc *a;
} macho__tier_flights;

int macho__tier_flights_init(macho__tier_flights *f, const macho__tier_alloc *a);
void macho__tier_flights_destroy(macho__tier_flights *f);
/* Join the flight for key, or start one. Returns MACHO_OK with *leader = true
 * (the caller loads, then calls _finish) or false (the caller waits with
 * _wait); MACHO_EBUSY when this thread already leads the key's flight (a
 * loader asking for its own key); MACHO_ENOMEM. */
int macho__tier_flight_begin(macho__tier_flights *f, const void *key, size_t klen, uint64_t hash,
                             macho__tier_flight **out, bool *leader);
/* Leader: publish the outcome (status, value) to the waiters and leave. */
void macho__tier_flight_finish(macho__tier_flights *f, macho__tier_flight *fl, int status, const void *value,
                               size_t vlen);
/* Follower: wait for the leader, copy its outcome out, leave. */
int macho__tier_flight_wait(macho__tier_flights *f, macho__tier_flight *fl, void *buf, size_t buflen,
                            size_t *vlen);
/* Detach the key's flight(s) (an invalidation arrived): later callers start a new read. */
void macho__tier_flight_detach(macho__tier_flights *f, const void *key, size_t klen, uint64_t hash);
void macho__tier_flight_detach_all(macho__tier_flights *f);

/* ---- the tier ---------------------------------------------------------------- */

typedef struct macho__tier_stripe {
  pthread_mutex_t mu;
} macho__tier_stripe;

struct macho_tier {
  macho_cache *l1;
  macho__tier_alloc alloc;
  macho_clock_fn l1_clock; /* NULL = CLOCK_MONOTONIC */
  void *l1_clock_ctx;
  double l1_ttl_seconds;   /* L1's default TTL (0 = none): caps every L1 entry */

  /* options, copied */
  macho__tier_addr addr;
  char *username, *password;
  int db;
  char *prefix;
  size_t prefix_len;
  bool bcast;
  char **bcast_prefixes;
  size_t *bcast_prefix_lens;
  size_t nbcast;
  uint32_t connect_timeout_ms, command_timeout_ms, heartbeat_interval_ms, heartbeat_timeout_ms,
      reconnect_max_ms;
  double l2_ttl_seconds;
  macho_tier_loader loader;
  void *loader_ctx;
  macho_tier_invalidate_fn on_invalidate;
  void *on_invalidate_ctx;

  macho__tier_conn *conns;
  uint32_t nconns;
  macho__tier_stripe *stripes;
  _Atomic uint64_t *gens; /* MACHO__TIER_GENS */
  pthread_rwlock_t flush_lock; /* read: one key's check-and-store; write: a whole-L1 flush */
  macho__tier_flights flights;

  /* The read lease (CLOCK_MONOTONIC_COARSE ns): L1 answers gets only before
   * it. A completed heartbeat round proves that every change made in Redis
   * before the round began has reached L1; the round renews the lease to
   * (start of the round) + max_staleness, so a thread that stops (starved,
   * stuck) cannot make L1 serve past the bound: L1 is then bypassed. */
  _Atomic uint64_t lease_ns;
  uint64_t max_staleness_ns; /* heartbeat_interval_ms + heartbeat_timeout_ms */
  uint64_t coarse_res_ns;    /* resolution of CLOCK_MONOTONIC_COARSE */
  _Atomic uint64_t epoch;  /* odd = tracking down, even = up */
  _Atomic uint64_t l1_seq; /* bumped on every whole-L1 flush */

  pthread_mutex_t state_mu; /* inv_id, last_error; state_cv signals "up" */
  pthread_cond_t state_cv;
  int64_t inv_id;           /* CLIENT ID of the invalidation connection for `epoch` (-1) */
  char last_error[MACHO__TIER_ERROR_LEN];

  /* the invalidation thread (tracker.c) owns these */
  pthread_t thread;
  bool thread_started;
  int wake[2];               /* pipe: write a byte to wake the thread */
  _Atomic int stop;
  redisContext *inv;         /* SUBSCRIBEd to __redis__:invalidate */
  redisContext *bcast_rc;    /* BCAST mode: the connection that carries the BCAST tracking */
  /* on_invalidate calls for keys, held back while the thread holds a data
   * connection for a heartbeat round (a listener that blocks or uses the
   * tier must not hold readers of that connection): tracker.c */
  struct macho__tier_note *notes;
  size_t nnotes, capnotes;
  uint32_t held_conns;       /* data connections the round holds (HB_PENDING) */

  macho__tier_hook_fn hook;  /* tests only */
  void *hook_ctx;

  struct {
    _Atomic uint64_t l2_hits, l2_misses, l2_errors, lease_bypasses, joined, loads, load_errors, puts, deletes, fills,
        fills_refused, fills_skipped, inv_messages, invalidations, reconnects, heartbeats, hb_rtt_max;
    _Atomic uint64_t flushes[MACHO_TIER_FLUSH_COUNT];
  } n;
};

/* Drop key from L1 / empty L1. They cannot fail on a valid bytes-mode cache
 * (absent is fine); the results are checked in debug builds. */
static inline void macho__tier_l1_forget(macho_cache *l1, const void *key, size_t klen) {
  int rc = macho_delete(l1, key, klen);
  assert(rc == MACHO_OK || rc == MACHO_ENOTFOUND);
  (void)rc;
}
static inline void macho__tier_l1_clear(macho_cache *l1) {
  int rc = macho_clear(l1);
  assert(rc == MACHO_OK);
  (void)rc;
}

/* Exclusive use of generation g and its L1 key (the stripe lock), with no
 * whole-L1 flush in between (the flush lock, shared). */
static inline void macho__tier_lock_gen(struct macho_tier *t, uint32_t g) {
  pthread_rwlock_rdlock(&t->flush_lock);
  pthread_mutex_lock(&t->stripes[g % MACHO__TIER_STRIPES].mu);
}
static inline void macho__tier_unlock_gen(struct macho_tier *t, uint32_t g) {
  pthread_mutex_unlock(&t->stripes[g % MACHO__TIER_STRIPES].mu);
  pthread_rwlock_unlock(&t->flush_lock);
}

/* Monotonic nanoseconds (CLOCK_MONOTONIC): network timing. */
uint64_t macho__tier_now_ns(void);
/* CLOCK_MONOTONIC_COARSE: the lease check on every get (a few ns). */
uint64_t macho__tier_coarse_ns(void);
/* Renew the read lease: every change made before `round_start_ns` is in L1. */
void macho__tier_lease_renew(struct macho_tier *t, uint64_t round_start_ns);
/* The L1 clock (config.clock or CLOCK_MONOTONIC): TTL arithmetic. */
uint64_t macho__tier_l1_now_ns(const struct macho_tier *t);
void macho__tier_set_error(struct macho_tier *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t macho__tier_hash(const void *key, size_t klen);

/* Empty L1 as a whole (under every stripe lock), count the cause, tell the
 * listener. When `down_from_epoch` is the current even epoch, tracking also
 * goes down (epoch becomes odd) and the invalidation thread is woken to
 * re-establish it; pass 0 for a flush that keeps tracking up. Returns true
 * when it took tracking down. */
bool macho__tier_flush(struct macho_tier *t, int cause, uint64_t down_from_epoch);
/* A data connection failed: drop it, and empty L1 (counted under `cause`, a
 * macho_tier_flush_cause) if tracking relied on it. Called with c->mu held. */
void macho__tier_conn_failed(struct macho_tier *t, macho__tier_conn *c, int cause, const char *err);
/* Drop one key from L1 because Redis said it changed (the tracker). */
void macho__tier_invalidate_key(struct macho_tier *t, const void *rkey, size_t rklen);
/* Drop listener calls still held back (the thread has stopped). */
void macho__tier_notes_free(struct macho_tier *t);

/* tracker.c: first establishment (synchronous, in open), thread start/stop. */
int macho__tier_establish(struct macho_tier *t, char *err, size_t errlen);
int macho__tier_tracker_start(struct macho_tier *t);
void macho__tier_tracker_stop(struct macho_tier *t);
void macho__tier_wake(struct macho_tier *t);

#endif /* MACHO_HAVE_HIREDIS */
#endif /* MACHO_TIER_H */
