/*
 * tier.c -- the Redis tier's front door: options, open/close, and the get,
 * put and delete paths over L1 (a libmacho cache in bytes mode, used only
 * through the public API) and Redis (hiredis).
 *
 * A get looks in L1 first: a hit is one macho_get, with no tier lock and no
 * system call. A miss joins or leads the key's single flight (flight.c); the
 * leader takes a snapshot of the key's coherence counters (tier.h), then
 * reads the key from Redis as MULTI / PTTL / GET / EXEC on the key's data
 * connection, which carries CLIENT TRACKING ON REDIRECT <invalidation
 * connection> NOLOOP (reading the key is what makes Redis track it; reading
 * the PTTL in the same transaction, as rueidis does, gives the remaining TTL
 * of exactly that value). The value is then stored in L1 only if the
 * snapshot still holds, with its L1 TTL clamped so that it expires no later
 * than the key does in Redis. Writes go to Redis first (SET + PTTL in one
 * MULTI, so the key is tracked with the value just written), then to L1
 * under the same snapshot rule, and bump the key's generation so that a
 * fill racing the write is refused.
 *
 * Without hiredis (MACHO_HAVE_HIREDIS undefined) every function below the
 * stub line returns MACHO_ENOTSUP.
 */
#include <macho/macho.h>

#include <math.h>
#include <stddef.h>

static const char *const flush_cause_names[MACHO_TIER_FLUSH_COUNT] = {
    "server", "invalidation", "data", "timeout", "heartbeat", "manual",
};

const char *macho_tier_flush_cause_name(int cause) {
  return cause >= 0 && cause < MACHO_TIER_FLUSH_COUNT ? flush_cause_names[cause] : NULL;
}

void macho_tier_options_init(macho_tier_options *o) {
  if (!o) return;
  *o = (macho_tier_options){0};
  o->redis = "127.0.0.1:6379";
  o->connections = 2;
  o->connect_timeout_ms = 1000;
  o->command_timeout_ms = 1000;
  o->heartbeat_interval_ms = 500;
  o->heartbeat_timeout_ms = 500;
  o->reconnect_max_ms = 1000;
}

#ifdef MACHO_HAVE_HIREDIS
#include "tier.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

int macho_tier_available(void) { return 1; }

/* ---- small helpers ------------------------------------------------------------ */

uint64_t macho__tier_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t macho__tier_coarse_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void macho__tier_lease_renew(struct macho_tier *t, uint64_t round_start_ns) {
  /* The coarse clock lags the precise one by up to its resolution: take
   * that off, so that coarse_now < lease implies now < start + bound. */
  uint64_t lease = round_start_ns + t->max_staleness_ns - t->coarse_res_ns;
  uint64_t old = atomic_load(&t->lease_ns);
  while (lease > old && !atomic_compare_exchange_weak(&t->lease_ns, &old, lease)) {
  }
}

void macho__tier_conn_release(struct macho_tier *t, macho__tier_conn *c) {
  pthread_mutex_unlock(&c->mu);
  if (atomic_load_explicit(&c->hb_wanted, memory_order_relaxed) && atomic_exchange(&c->hb_wanted, false))
    macho__tier_wake(t);
}

uint64_t macho__tier_l1_now_ns(const struct macho_tier *t) {
  return t->l1_clock ? t->l1_clock(t->l1_clock_ctx) : macho__tier_now_ns();
}

uint64_t macho__tier_hash(const void *key, size_t klen) { return XXH3_64bits(klen ? key : "", klen); }

void macho__tier_set_error(struct macho_tier *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&t->state_mu);
  vsnprintf(t->last_error, sizeof t->last_error, fmt, ap);
  pthread_mutex_unlock(&t->state_mu);
  va_end(ap);
}

void macho__tier_set_hook(macho_tier *t, macho__tier_hook_fn fn, void *ctx) {
  if (!t) return;
  t->hook = fn;
  t->hook_ctx = ctx;
}

static inline void hook(macho_tier *t, macho__tier_hook_point p, const void *key, size_t klen) {
  if (t->hook) t->hook(t->hook_ctx, p, key, klen);
}

static inline void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static char *dup_str(const macho__tier_alloc *a, const char *s, size_t *len_out) {
  size_t n = strlen(s);
  char *p = macho__tier_malloc(a, n + 1);
  if (p) memcpy(p, s, n + 1);
  if (len_out) *len_out = n;
  return p;
}

static void free_str(const macho__tier_alloc *a, char *s) {
  if (s) macho__tier_free(a, s, strlen(s) + 1);
}

/* The key as Redis sees it: key_prefix + key, in `stack` when it fits. */
typedef struct rkey {
  char *p;
  size_t len;
  char stack[256];
} rkey;

static int rkey_make(macho_tier *t, rkey *r, const void *key, size_t klen) {
  if (klen > SIZE_MAX - t->prefix_len) return MACHO_EINVAL;
  r->len = t->prefix_len + klen;
  r->p = r->len <= sizeof r->stack ? r->stack : macho__tier_malloc(&t->alloc, r->len);
  if (!r->p) return MACHO_ENOMEM;
  if (t->prefix_len) memcpy(r->p, t->prefix, t->prefix_len);
  if (klen) memcpy(r->p + t->prefix_len, key, klen);
  return MACHO_OK;
}

static void rkey_free(macho_tier *t, rkey *r) {
  if (r->p && r->p != r->stack) macho__tier_free(&t->alloc, r->p, r->len);
  r->p = NULL;
}

/* BCAST mode: Redis reports changes only under the prefixes. */
static bool bcast_covers(const macho_tier *t, const rkey *r) {
  for (size_t i = 0; i < t->nbcast; i++)
    if (t->bcast_prefix_lens[i] <= r->len && memcmp(r->p, t->bcast_prefixes[i], t->bcast_prefix_lens[i]) == 0)
      return true;
  return false;
}

/* TTL in whole milliseconds for Redis (rounded up, so a key never expires
 * before it was asked to): 0 = none. -1 for a bad value. */
static long long ttl_to_ms(double ttl_seconds) {
  if (isnan(ttl_seconds) || ttl_seconds < 0) return -1;
  if (ttl_seconds == 0 || isinf(ttl_seconds)) return 0;
  double ms = ceil(ttl_seconds * 1000.0);
  if (ms < 1) ms = 1;
  if (ms > 9.0e15) return 0; /* beyond any real deadline: none */
  return (long long)ms;
}

/* ---- coherence: snapshots and stores ------------------------------------------ */

typedef struct snapshot {
  uint64_t epoch, seq, gen;
  uint64_t t0_ns; /* L1 clock just before the request was sent */
  bool storeable; /* tracking up, and this connection tracked under it */
} snapshot;

static inline uint32_t gen_of(uint64_t h) { return (uint32_t)(h % MACHO__TIER_GENS); }

static void take_snapshot(macho_tier *t, const macho__tier_conn *c, uint64_t h, snapshot *s) {
  s->epoch = atomic_load(&t->epoch);
  s->storeable = (s->epoch & 1) == 0 && (t->bcast || c->track_epoch == s->epoch);
  s->seq = atomic_load(&t->l1_seq);
  s->gen = atomic_load(&t->gens[gen_of(h)]);
  s->t0_ns = macho__tier_l1_now_ns(t);
}

/* Store key -> value in L1 if the snapshot still holds, else make sure L1
 * has no copy. pttl_ms: the key's remaining TTL in Redis read with the value
 * (-1 = none). `local_write`: a put, which also bumps the generation. */
static void l1_store(macho_tier *t, const void *key, size_t klen, uint64_t h, const rkey *rk, const snapshot *s,
                     const void *value, size_t vlen, long long pttl_ms, bool local_write) {
  bool skip = !s->storeable || (t->bcast && !bcast_covers(t, rk));
  double ttl = -1; /* -1: L1's default TTL */
  if (!skip && pttl_ms >= 0) {
    /* Expire no later than Redis does: Redis read the PTTL after t0, so the
     * key lives at least until t0 + pttl. L1 deadlines may be one tick late
     * (README: 100 us, 1 s beyond 119 hours), so take a tick off: 1 ms, or
     * 1 s for TTLs that long. */
    uint64_t elapsed_ns = macho__tier_l1_now_ns(t) - s->t0_ns;
    long long elapsed_ms = (long long)((elapsed_ns + 999999u) / 1000000u);
    long long margin_ms = pttl_ms > 119LL * 3600 * 1000 ? 1000 : 1;
    long long rem = pttl_ms - elapsed_ms - margin_ms;
    if (rem <= 0)
      skip = true;
    else {
      ttl = (double)rem / 1000.0;
      if (t->l1_ttl_seconds > 0 && ttl > t->l1_ttl_seconds) ttl = t->l1_ttl_seconds;
    }
  }
  uint32_t g = gen_of(h);
  macho__tier_lock_gen(t, g);
  bool fresh = atomic_load(&t->epoch) == s->epoch && atomic_load(&t->l1_seq) == s->seq &&
               atomic_load(&t->gens[g]) == s->gen;
  bool stored = false;
  if (!skip && fresh) {
    int rc = ttl < 0 ? macho_put(t->l1, key, klen, value, vlen) : macho_put_ttl(t->l1, key, klen, value, vlen, ttl);
    stored = rc == MACHO_OK;
  }
  if (!stored) macho__tier_l1_forget(t->l1, key, klen);
  if (local_write) atomic_fetch_add(&t->gens[g], 1);
  macho__tier_unlock_gen(t, g);
  if (stored)
    count(&t->n.fills);
  else if (!skip && !fresh)
    count(&t->n.fills_refused);
  else
    count(&t->n.fills_skipped);
}

/* A local write that leaves no copy in L1 (delete, BCAST put, failed put). */
static void l1_drop(macho_tier *t, const void *key, size_t klen, uint64_t h) {
  uint32_t g = gen_of(h);
  macho__tier_lock_gen(t, g);
  macho__tier_l1_forget(t->l1, key, klen);
  atomic_fetch_add(&t->gens[g], 1);
  macho__tier_unlock_gen(t, g);
}

/* ---- data connections ------------------------------------------------------------ */

/* CLIENT TRACKING towards the current invalidation connection, once per
 * epoch. OFF first: ON with other options fails on a connection that already
 * tracks. An error reply (the redirect target just died) leaves the
 * connection untracked: its reads are served but not stored. */
static int ensure_tracking(macho_tier *t, macho__tier_conn *c) {
  pthread_mutex_lock(&t->state_mu);
  uint64_t e = atomic_load(&t->epoch);
  int64_t id = t->inv_id;
  pthread_mutex_unlock(&t->state_mu);
  if ((e & 1) || id < 0 || c->track_epoch == e) return MACHO__RC_OK;
  char ids[32], err[MACHO__TIER_ERROR_LEN];
  snprintf(ids, sizeof ids, "%lld", (long long)id);
  macho__tier_req r;
  macho__tier_req_init(&r, &t->alloc);
  const char *off[] = {"CLIENT", "TRACKING", "OFF"};
  const char *on[] = {"CLIENT", "TRACKING", "ON", "REDIRECT", ids, "NOLOOP"};
  macho__tier_req_cmd(&r, 3, off, NULL);
  macho__tier_req_cmd(&r, 6, on, NULL);
  redisReply *rep[2];
  int rc = macho__tier_roundtrip(c->rc, &r, rep, err, sizeof err);
  macho__tier_req_free(&r);
  if (rc != MACHO__RC_OK) return rc;
  if (rep[0]->type != REDIS_REPLY_ERROR && rep[1]->type != REDIS_REPLY_ERROR)
    c->track_epoch = e;
  else
    macho__tier_set_error(t, "CLIENT TRACKING: %s", rep[1]->type == REDIS_REPLY_ERROR ? rep[1]->str : rep[0]->str);
  freeReplyObject(rep[0]);
  freeReplyObject(rep[1]);
  return MACHO__RC_OK;
}

static int rc_to_status(int rc) {
  switch (rc) {
  case MACHO__RC_OK: return MACHO_OK;
  case MACHO__RC_NOMEM: return MACHO_ENOMEM;
  default: return MACHO_EIO;
  }
}

/* Lock the key's data connection, (re)connecting it and enabling tracking
 * when needed. *fresh tells whether it was connected just now. */
static int conn_acquire(macho_tier *t, uint64_t h, macho__tier_conn **out, bool *fresh) {
  macho__tier_conn *c = &t->conns[(h >> 32) % t->nconns];
  pthread_mutex_lock(&c->mu);
  *fresh = false;
  if (!c->rc) {
    uint64_t now = macho__tier_now_ns();
    if (now < c->retry_at_ns) { /* failing fast while Redis is away */
      macho__tier_conn_release(t, c);
      return MACHO_EIO;
    }
    char err[MACHO__TIER_ERROR_LEN];
    c->rc = macho__tier_connect(t, "macho-tier-data", err, sizeof err);
    if (!c->rc) {
      c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 10;
      if (c->backoff_ms > t->reconnect_max_ms) c->backoff_ms = t->reconnect_max_ms;
      c->retry_at_ns = now + (uint64_t)c->backoff_ms * 1000000u;
      macho__tier_set_error(t, "data connection %u: %s", c->index, err);
      macho__tier_conn_release(t, c);
      return MACHO_EIO;
    }
    c->backoff_ms = 0;
    c->track_epoch = 0;
    *fresh = true;
  }
  if (!t->bcast) {
    int rc = ensure_tracking(t, c);
    if (rc != MACHO__RC_OK) {
      if (rc == MACHO__RC_IO || rc == MACHO__RC_TIMEOUT)
        macho__tier_conn_failed(t, c, rc == MACHO__RC_TIMEOUT ? MACHO_TIER_FLUSH_TIMEOUT : MACHO_TIER_FLUSH_DATA,
                                "CLIENT TRACKING failed");
      macho__tier_conn_release(t, c);
      return rc_to_status(rc);
    }
  }
  *out = c;
  return MACHO_OK;
}

/* Run the request on c (locked), classify the outcome, unlock c. */
static int conn_run(macho_tier *t, macho__tier_conn *c, macho__tier_req *r, redisReply **replies) {
  char err[MACHO__TIER_ERROR_LEN];
  uint64_t sent = macho__tier_now_ns();
  int rc = macho__tier_roundtrip(c->rc, r, replies, err, sizeof err);
  if (rc == MACHO__RC_OK || rc == MACHO__RC_REPLY_ERROR) atomic_store(&c->ok_sent_ns, sent);
  if (rc == MACHO__RC_IO || rc == MACHO__RC_TIMEOUT)
    macho__tier_conn_failed(t, c, rc == MACHO__RC_TIMEOUT ? MACHO_TIER_FLUSH_TIMEOUT : MACHO_TIER_FLUSH_DATA, err);
  macho__tier_conn_release(t, c);
  if (rc != MACHO__RC_OK) count(&t->n.l2_errors);
  return rc;
}

/* An error reply among replies[0..n): set last_error, return true. */
static bool reply_failed(macho_tier *t, redisReply **replies, int n, const char *what) {
  for (int i = 0; i < n; i++) {
    redisReply *x = replies[i];
    if (x->type == REDIS_REPLY_ERROR) {
      macho__tier_set_error(t, "%s: Redis replied: %s", what, x->str);
      return true;
    }
    if (x->type == REDIS_REPLY_ARRAY)
      for (size_t j = 0; j < x->elements; j++)
        if (x->element[j]->type == REDIS_REPLY_ERROR) {
          macho__tier_set_error(t, "%s: Redis replied: %s", what, x->element[j]->str);
          return true;
        }
  }
  return false;
}

static void free_replies(redisReply **replies, int n) {
  for (int i = 0; i < n; i++)
    if (replies[i]) freeReplyObject(replies[i]);
}

/* ---- the read path -------------------------------------------------------------- */

struct macho_tier_load {
  const macho__tier_alloc *a;
  void *value;
  size_t vlen;
  double ttl_seconds;
  bool set;
};

int macho_tier_load_set(macho_tier_load *out, const void *value, size_t vlen, double ttl_seconds) {
  if (!out || (vlen && !value) || isnan(ttl_seconds) || ttl_seconds < 0) return MACHO_EINVAL;
  void *copy = macho__tier_malloc(out->a, vlen);
  if (!copy) return MACHO_ENOMEM;
  if (vlen) memcpy(copy, value, vlen);
  macho__tier_free(out->a, out->value, out->vlen);
  out->value = copy;
  out->vlen = vlen;
  out->ttl_seconds = ttl_seconds;
  out->set = true;
  return MACHO_OK;
}

/* What a read found: the value points into `hold` (a hiredis reply) or
 * `own` (a loaded copy). */
typedef struct found {
  const char *value;
  size_t vlen;
  redisReply *hold;
  void *own;
  size_t own_len;
} found;

static void found_free(macho_tier *t, found *f) {
  if (f->hold) freeReplyObject(f->hold);
  macho__tier_free(&t->alloc, f->own, f->own_len);
  *f = (found){0};
}

/* GET + PTTL from Redis, storing into L1 under the snapshot rule. */
static int l2_read(macho_tier *t, const void *key, size_t klen, uint64_t h, const rkey *rk, found *f) {
  for (int attempt = 0;; attempt++) {
    macho__tier_conn *c;
    bool fresh;
    int st = conn_acquire(t, h, &c, &fresh);
    if (st != MACHO_OK) {
      count(&t->n.l2_errors);
      return st;
    }
    snapshot s;
    take_snapshot(t, c, h, &s);
    hook(t, MACHO__TIER_HOOK_BEFORE_READ, key, klen);
    macho__tier_req r;
    macho__tier_req_init(&r, &t->alloc);
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *pttl[] = {"PTTL", rk->p}, *get[] = {"GET", rk->p};
    size_t klens[] = {4, rk->len}, glens[] = {3, rk->len};
    macho__tier_req_cmd(&r, 1, multi, NULL);
    macho__tier_req_cmd(&r, 2, pttl, klens);
    macho__tier_req_cmd(&r, 2, get, glens);
    macho__tier_req_cmd(&r, 1, exec, NULL);
    redisReply *rep[4] = {0};
    int rc = conn_run(t, c, &r, rep);
    macho__tier_req_free(&r);
    if (rc == MACHO__RC_IO && !fresh && attempt == 0) continue; /* a connection that died idle: once more */
    if (rc != MACHO__RC_OK) return rc_to_status(rc);
    redisReply *ex = rep[3];
    if (reply_failed(t, rep, 4, "GET") || ex->type != REDIS_REPLY_ARRAY || ex->elements != 2 ||
        ex->element[0]->type != REDIS_REPLY_INTEGER ||
        (ex->element[1]->type != REDIS_REPLY_STRING && ex->element[1]->type != REDIS_REPLY_NIL)) {
      if (ex->type != REDIS_REPLY_ERROR) macho__tier_set_error(t, "GET: unexpected reply from Redis");
      free_replies(rep, 4);
      count(&t->n.l2_errors);
      return MACHO_EIO;
    }
    free_replies(rep, 3);
    hook(t, MACHO__TIER_HOOK_BEFORE_STORE, key, klen);
    redisReply *val = ex->element[1];
    if (val->type == REDIS_REPLY_NIL) {
      freeReplyObject(ex);
      count(&t->n.l2_misses);
      return MACHO_ENOTFOUND;
    }
    count(&t->n.l2_hits);
    l1_store(t, key, klen, h, rk, &s, val->str, val->len, ex->element[0]->integer, false);
    f->hold = ex;
    f->value = val->str;
    f->vlen = val->len;
    return MACHO_OK;
  }
}

/* Double miss: run the loader, write its value with SET NX, read back what
 * Redis holds (ours or a concurrent writer's), store that. */
static int load_through(macho_tier *t, const void *key, size_t klen, uint64_t h, const rkey *rk, found *f) {
  macho_tier_load ld = {.a = &t->alloc};
  count(&t->n.loads);
  int st = t->loader(t->loader_ctx, key, klen, &ld);
  if (st == MACHO_ENOTFOUND) {
    macho__tier_free(&t->alloc, ld.value, ld.vlen);
    return MACHO_ENOTFOUND;
  }
  if (st != MACHO_OK || !ld.set) {
    macho__tier_free(&t->alloc, ld.value, ld.vlen);
    count(&t->n.load_errors);
    macho__tier_set_error(t, st == MACHO_OK ? "loader returned MACHO_OK without macho_tier_load_set"
                                            : "loader failed with %d", st);
    return MACHO_ECALLBACK;
  }
  f->own = ld.value;
  f->own_len = ld.vlen;
  f->value = ld.value;
  f->vlen = ld.vlen;
  long long ms = ld.ttl_seconds == 0 ? ttl_to_ms(t->l2_ttl_seconds) : ttl_to_ms(ld.ttl_seconds);

  macho__tier_conn *c;
  bool fresh;
  if (conn_acquire(t, h, &c, &fresh) != MACHO_OK) {
    count(&t->n.l2_errors);
    return MACHO_OK; /* Redis is away: the caller still gets the loaded value, nothing is cached */
  }
  snapshot s;
  take_snapshot(t, c, h, &s);
  macho__tier_req r;
  macho__tier_req_init(&r, &t->alloc);
  char mss[24];
  snprintf(mss, sizeof mss, "%lld", ms);
  const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
  const char *set[] = {"SET", rk->p, ld.value ? ld.value : "", "NX", "PX", mss};
  size_t slens[] = {3, rk->len, ld.vlen, 2, 2, strlen(mss)};
  const char *pttl[] = {"PTTL", rk->p}, *get[] = {"GET", rk->p};
  size_t klens[] = {4, rk->len}, glens[] = {3, rk->len};
  macho__tier_req_cmd(&r, 1, multi, NULL);
  macho__tier_req_cmd(&r, ms > 0 ? 6 : 4, set, slens);
  macho__tier_req_cmd(&r, 2, pttl, klens);
  macho__tier_req_cmd(&r, 2, get, glens);
  macho__tier_req_cmd(&r, 1, exec, NULL);
  redisReply *rep[5] = {0};
  int rc = conn_run(t, c, &r, rep);
  macho__tier_req_free(&r);
  if (rc != MACHO__RC_OK) {
    l1_drop(t, key, klen, h);
    return MACHO_OK;
  }
  redisReply *ex = rep[4];
  if (reply_failed(t, rep, 5, "SET NX") || ex->type != REDIS_REPLY_ARRAY || ex->elements != 3 ||
      ex->element[1]->type != REDIS_REPLY_INTEGER || ex->element[2]->type != REDIS_REPLY_STRING) {
    free_replies(rep, 5);
    count(&t->n.l2_errors);
    l1_drop(t, key, klen, h);
    return MACHO_OK;
  }
  free_replies(rep, 4);
  hook(t, MACHO__TIER_HOOK_BEFORE_STORE, key, klen);
  redisReply *val = ex->element[2];
  l1_store(t, key, klen, h, rk, &s, val->str, val->len, ex->element[1]->integer, false);
  /* What Redis holds wins over what we loaded. */
  macho__tier_free(&t->alloc, f->own, f->own_len);
  f->own = NULL;
  f->own_len = 0;
  f->hold = ex;
  f->value = val->str;
  f->vlen = val->len;
  return MACHO_OK;
}

static int copy_out(const char *value, size_t n, void *buf, size_t buflen, size_t *vlen) {
  if (vlen) *vlen = n;
  if (n > buflen) return MACHO_ERANGE;
  if (n) memcpy(buf, value, n);
  return MACHO_OK;
}

/* The L1 miss path: one flight per key. */
static int tier_miss(macho_tier *t, const void *key, size_t klen, void *buf, size_t buflen, size_t *vlen) {
  uint64_t h = macho__tier_hash(key, klen);
  macho__tier_flight *fl;
  bool leader;
  int st = macho__tier_flight_begin(&t->flights, key, klen, h, &fl, &leader);
  if (st != MACHO_OK) return st;
  if (!leader) {
    count(&t->n.joined);
    return macho__tier_flight_wait(&t->flights, fl, buf, buflen, vlen);
  }
  rkey rk;
  found f = {0};
  st = rkey_make(t, &rk, key, klen);
  if (st == MACHO_OK) {
    st = l2_read(t, key, klen, h, &rk, &f);
    if (st == MACHO_ENOTFOUND && t->loader) st = load_through(t, key, klen, h, &rk, &f);
    rkey_free(t, &rk);
  }
  macho__tier_flight_finish(&t->flights, fl, st, f.value, f.vlen);
  if (st == MACHO_OK) st = copy_out(f.value, f.vlen, buf, buflen, vlen);
  found_free(t, &f);
  return st;
}

int macho_tier_get(macho_tier *t, const void *key, size_t klen, void *buf, size_t buflen, size_t *vlen) {
  if (!t || (klen && !key) || (buflen && !buf)) return MACHO_EINVAL;
  /* L1 answers only under the lease (tier.h): past it, L1 may be behind
   * Redis by more than the bound, so the read goes to Redis. */
  if (macho__tier_coarse_ns() < atomic_load_explicit(&t->lease_ns, memory_order_acquire)) {
    int st = macho_get(t->l1, key, klen, buf, buflen, vlen);
    if (st != MACHO_ENOTFOUND) return st; /* a hit, ERANGE, or a bad argument */
  } else {
    count(&t->n.lease_bypasses);
  }
  return tier_miss(t, key, klen, buf, buflen, vlen);
}

/* ---- the write path ------------------------------------------------------------- */

static int tier_write(macho_tier *t, const void *key, size_t klen, const void *value, size_t vlen, long long ms) {
  uint64_t h = macho__tier_hash(key, klen);
  rkey rk;
  int st = rkey_make(t, &rk, key, klen);
  if (st != MACHO_OK) return st;
  macho__tier_conn *c;
  bool fresh;
  st = conn_acquire(t, h, &c, &fresh);
  if (st != MACHO_OK) {
    count(&t->n.l2_errors);
    l1_drop(t, key, klen, h);
    rkey_free(t, &rk);
    return st;
  }
  snapshot s;
  take_snapshot(t, c, h, &s);
  char mss[24];
  snprintf(mss, sizeof mss, "%lld", ms);
  const char *set[] = {"SET", rk.p, vlen ? (const char *)value : "", "PX", mss};
  size_t slens[] = {3, rk.len, vlen, 2, strlen(mss)};
  macho__tier_req r;
  macho__tier_req_init(&r, &t->alloc);
  int n;
  if (t->bcast) { /* Redis reports our own write back: L1 keeps no copy */
    macho__tier_req_cmd(&r, ms > 0 ? 5 : 3, set, slens);
    n = 1;
  } else {
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *pttl[] = {"PTTL", rk.p};
    size_t klens[] = {4, rk.len};
    macho__tier_req_cmd(&r, 1, multi, NULL);
    macho__tier_req_cmd(&r, ms > 0 ? 5 : 3, set, slens);
    macho__tier_req_cmd(&r, 2, pttl, klens);
    macho__tier_req_cmd(&r, 1, exec, NULL);
    n = 4;
  }
  redisReply *rep[4] = {0};
  int rc = conn_run(t, c, &r, rep);
  macho__tier_req_free(&r);
  if (rc != MACHO__RC_OK) {
    l1_drop(t, key, klen, h);
    rkey_free(t, &rk);
    return rc_to_status(rc);
  }
  redisReply *last = rep[n - 1];
  bool bad = reply_failed(t, rep, n, "SET");
  if (!bad && !t->bcast)
    bad = last->type != REDIS_REPLY_ARRAY || last->elements != 2 || last->element[1]->type != REDIS_REPLY_INTEGER;
  if (bad) {
    count(&t->n.l2_errors);
    l1_drop(t, key, klen, h);
    st = MACHO_EIO;
  } else {
    count(&t->n.puts);
    hook(t, MACHO__TIER_HOOK_BEFORE_STORE, key, klen);
    if (t->bcast)
      l1_drop(t, key, klen, h);
    else
      l1_store(t, key, klen, h, &rk, &s, value, vlen, last->element[1]->integer, true);
  }
  free_replies(rep, n);
  rkey_free(t, &rk);
  return st;
}

int macho_tier_put(macho_tier *t, const void *key, size_t klen, const void *value, size_t vlen) {
  if (!t || (klen && !key) || (vlen && !value)) return MACHO_EINVAL;
  return tier_write(t, key, klen, value, vlen, ttl_to_ms(t->l2_ttl_seconds));
}

int macho_tier_put_ttl(macho_tier *t, const void *key, size_t klen, const void *value, size_t vlen,
                       double ttl_seconds) {
  if (!t || (klen && !key) || (vlen && !value)) return MACHO_EINVAL;
  long long ms = ttl_to_ms(ttl_seconds);
  if (ms < 0) return MACHO_EINVAL;
  return tier_write(t, key, klen, value, vlen, ms);
}

int macho_tier_delete(macho_tier *t, const void *key, size_t klen) {
  if (!t || (klen && !key)) return MACHO_EINVAL;
  uint64_t h = macho__tier_hash(key, klen);
  rkey rk;
  int st = rkey_make(t, &rk, key, klen);
  if (st != MACHO_OK) return st;
  macho__tier_conn *c;
  bool fresh;
  st = conn_acquire(t, h, &c, &fresh);
  if (st == MACHO_OK) {
    macho__tier_req r;
    macho__tier_req_init(&r, &t->alloc);
    const char *del[] = {"DEL", rk.p};
    size_t dlens[] = {3, rk.len};
    macho__tier_req_cmd(&r, 2, del, dlens);
    redisReply *rep = NULL;
    int rc = conn_run(t, c, &r, &rep);
    macho__tier_req_free(&r);
    if (rc != MACHO__RC_OK) {
      st = rc_to_status(rc);
    } else {
      if (rep->type != REDIS_REPLY_INTEGER) {
        if (rep->type == REDIS_REPLY_ERROR) macho__tier_set_error(t, "DEL: Redis replied: %s", rep->str);
        count(&t->n.l2_errors);
        st = MACHO_EIO;
      } else {
        count(&t->n.deletes);
        st = rep->integer > 0 ? MACHO_OK : MACHO_ENOTFOUND;
      }
      freeReplyObject(rep);
    }
  } else {
    count(&t->n.l2_errors);
  }
  l1_drop(t, key, klen, h);
  rkey_free(t, &rk);
  return st;
}

/* ---- open / close --------------------------------------------------------------- */

static void open_error(const macho_tier_options *o, const char *fmt, const char *detail) {
  if (o && o->error_buf && o->error_buf_size) snprintf(o->error_buf, o->error_buf_size, fmt, detail);
}

static void tier_free(macho_tier *t) {
  const macho__tier_alloc a = t->alloc;
  macho__tier_tracker_stop(t);
  macho__tier_notes_free(t);
  if (t->conns) {
    for (uint32_t i = 0; i < t->nconns; i++) {
      if (t->conns[i].rc) redisFree(t->conns[i].rc);
      pthread_mutex_destroy(&t->conns[i].mu);
    }
    macho__tier_free(&a, t->conns, t->nconns * sizeof *t->conns);
  }
  if (t->stripes) {
    for (uint32_t i = 0; i < MACHO__TIER_STRIPES; i++) pthread_mutex_destroy(&t->stripes[i].mu);
    macho__tier_free(&a, t->stripes, MACHO__TIER_STRIPES * sizeof *t->stripes);
  }
  macho__tier_free(&a, (void *)t->gens, MACHO__TIER_GENS * sizeof *t->gens);
  macho__tier_flights_destroy(&t->flights);
  macho_close(t->l1);
  free_str(&a, t->username);
  free_str(&a, t->password);
  macho__tier_free(&a, t->prefix, t->prefix_len + 1);
  for (size_t i = 0; i < t->nbcast; i++) macho__tier_free(&a, t->bcast_prefixes[i], t->bcast_prefix_lens[i] + 1);
  macho__tier_free(&a, t->bcast_prefixes, t->nbcast * sizeof *t->bcast_prefixes);
  macho__tier_free(&a, t->bcast_prefix_lens, t->nbcast * sizeof *t->bcast_prefix_lens);
  pthread_rwlock_destroy(&t->flush_lock);
  pthread_cond_destroy(&t->state_cv);
  pthread_mutex_destroy(&t->state_mu);
  macho__tier_free(&a, t, sizeof *t);
}

static const char *check_options(const macho_tier_options *o, macho__tier_addr *addr) {
  const char *why = NULL;
  if (macho__tier_addr_parse(o->redis, addr, &why) != 0) return why;
  if (o->db < 0) return "db must be 0 or more";
  if (o->username && !o->password) return "username needs a password";
  if (o->bcast != 0 && o->bcast != 1) return "bcast must be 0 or 1";
  if (o->nbcast_prefixes && !o->bcast_prefixes) return "bcast_prefixes is NULL but nbcast_prefixes is not 0";
  if (o->nbcast_prefixes && !o->bcast) return "bcast_prefixes need bcast = 1";
  for (size_t i = 0; i < o->nbcast_prefixes; i++)
    if (!o->bcast_prefixes[i]) return "a BCAST prefix is NULL";
  if (o->connections < 1 || o->connections > MACHO__TIER_MAX_CONNECTIONS) return "connections must be 1 to 64";
  if (o->connect_timeout_ms < 1 || o->command_timeout_ms < 1 || o->heartbeat_interval_ms < 1 ||
      o->heartbeat_timeout_ms < 1 || o->reconnect_max_ms < 1)
    return "timeouts, heartbeat and reconnect_max_ms must be at least 1 ms";
  const uint32_t hour = 3600u * 1000u;
  if (o->connect_timeout_ms > hour || o->command_timeout_ms > hour || o->heartbeat_interval_ms > hour ||
      o->heartbeat_timeout_ms > hour || o->reconnect_max_ms > hour)
    return "timeouts, heartbeat and reconnect_max_ms must be at most one hour";
  if (isnan(o->l2_ttl_seconds) || o->l2_ttl_seconds < 0) return "l2_ttl_seconds must be 0 (none) or positive";
  return NULL;
}

static int copy_options(macho_tier *t, const macho_tier_options *o) {
  const macho__tier_alloc *a = &t->alloc;
  if (o->username && !(t->username = dup_str(a, o->username, NULL))) return MACHO_ENOMEM;
  if (o->password && !(t->password = dup_str(a, o->password, NULL))) return MACHO_ENOMEM;
  if (!(t->prefix = dup_str(a, o->key_prefix ? o->key_prefix : "", &t->prefix_len))) return MACHO_ENOMEM;
  if (t->bcast) {
    /* No prefixes given: key_prefix (everything when it is empty). An empty
     * prefix matches every key, and goes to Redis as no PREFIX at all. */
    size_t n = o->nbcast_prefixes ? o->nbcast_prefixes : 1;
    t->bcast_prefixes = macho__tier_malloc(a, n * sizeof *t->bcast_prefixes);
    t->bcast_prefix_lens = macho__tier_malloc(a, n * sizeof *t->bcast_prefix_lens);
    if (!t->bcast_prefixes || !t->bcast_prefix_lens) return MACHO_ENOMEM;
    for (size_t i = 0; i < n; i++) {
      const char *p = o->nbcast_prefixes ? o->bcast_prefixes[i] : t->prefix;
      if (!(t->bcast_prefixes[i] = dup_str(a, p, &t->bcast_prefix_lens[i]))) return MACHO_ENOMEM;
      t->nbcast = i + 1;
    }
  }
  return MACHO_OK;
}

int macho_tier_open(const macho_tier_options *opts, macho_tier **out) {
  macho_tier_options defaults;
  if (!opts) {
    macho_tier_options_init(&defaults);
    opts = &defaults;
  }
  if (!out) {
    open_error(opts, "%s", "out is NULL");
    return MACHO_EINVAL;
  }
  *out = NULL;
  macho__tier_addr addr;
  const char *why = check_options(opts, &addr);
  if (why) {
    open_error(opts, "%s", why);
    return MACHO_EINVAL;
  }
  macho_config l1cfg;
  if (opts->l1)
    l1cfg = *opts->l1;
  else
    macho_config_init(&l1cfg);
  if (l1cfg.object_ops) {
    open_error(opts, "%s", "the L1 config must be bytes mode (object_ops NULL)");
    return MACHO_EMODE;
  }
  if (macho_config_check(&l1cfg, &why) != MACHO_OK) {
    open_error(opts, "L1 config: %s", why);
    return MACHO_EINVAL;
  }
  macho__tier_alloc alloc = {{0}};
  if (l1cfg.allocator) alloc.hooks = *l1cfg.allocator;

  macho_tier *t = macho__tier_malloc(&alloc, sizeof *t);
  if (!t) {
    open_error(opts, "%s", "out of memory");
    return MACHO_ENOMEM;
  }
  memset(t, 0, sizeof *t);
  t->alloc = alloc;
  t->wake[0] = t->wake[1] = -1;
  t->addr = addr;
  t->db = opts->db;
  t->bcast = opts->bcast == 1;
  t->connect_timeout_ms = opts->connect_timeout_ms;
  t->command_timeout_ms = opts->command_timeout_ms;
  t->heartbeat_interval_ms = opts->heartbeat_interval_ms;
  t->heartbeat_timeout_ms = opts->heartbeat_timeout_ms;
  t->reconnect_max_ms = opts->reconnect_max_ms < 10 ? 10 : opts->reconnect_max_ms;
  t->l2_ttl_seconds = opts->l2_ttl_seconds;
  t->max_staleness_ns = ((uint64_t)opts->heartbeat_interval_ms + opts->heartbeat_timeout_ms) * 1000000u;
  struct timespec res;
  t->coarse_res_ns = clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0
                         ? (uint64_t)res.tv_sec * 1000000000u + (uint64_t)res.tv_nsec
                         : 10000000u;
  if (t->coarse_res_ns >= t->max_staleness_ns) t->coarse_res_ns = t->max_staleness_ns / 2;
  atomic_init(&t->lease_ns, 0);
  t->loader = opts->loader;
  t->loader_ctx = opts->loader_ctx;
  t->on_invalidate = opts->on_invalidate;
  t->on_invalidate_ctx = opts->on_invalidate_ctx;
  t->l1_clock = l1cfg.clock;
  t->l1_clock_ctx = l1cfg.clock_ctx;
  t->l1_ttl_seconds = isinf(l1cfg.ttl_seconds) ? 0 : l1cfg.ttl_seconds;
  t->inv_id = -1;
  atomic_init(&t->epoch, 1); /* down until established */
  atomic_init(&t->l1_seq, 0);
  atomic_init(&t->stop, 0);

  int st = MACHO_ENOMEM;
  /* Mutexes and condition variable first, so that tier_free may destroy them. */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  /* Writers first: a flush must not wait behind a stream of fills. */
  pthread_rwlockattr_t ra;
  pthread_rwlockattr_init(&ra);
  pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int s1 = pthread_mutex_init(&t->state_mu, NULL);
  int s2 = pthread_cond_init(&t->state_cv, &ca);
  int s3 = pthread_rwlock_init(&t->flush_lock, &ra);
  pthread_condattr_destroy(&ca);
  pthread_rwlockattr_destroy(&ra);
  if (s1 || s2 || s3) { /* nothing else exists yet */
    if (!s1) pthread_mutex_destroy(&t->state_mu);
    if (!s2) pthread_cond_destroy(&t->state_cv);
    if (!s3) pthread_rwlock_destroy(&t->flush_lock);
    macho__tier_free(&alloc, t, sizeof *t);
    open_error(opts, "%s", "out of memory");
    return MACHO_ENOMEM;
  }
  if (macho__tier_flights_init(&t->flights, &t->alloc) != MACHO_OK) {
    pthread_rwlock_destroy(&t->flush_lock);
    pthread_cond_destroy(&t->state_cv);
    pthread_mutex_destroy(&t->state_mu);
    macho__tier_free(&alloc, t, sizeof *t);
    open_error(opts, "%s", "out of memory");
    return MACHO_ENOMEM;
  }
  if (copy_options(t, opts) != MACHO_OK) goto fail;
  t->stripes = macho__tier_malloc(&alloc, MACHO__TIER_STRIPES * sizeof *t->stripes);
  t->gens = macho__tier_malloc(&alloc, MACHO__TIER_GENS * sizeof *t->gens);
  t->conns = macho__tier_malloc(&alloc, opts->connections * sizeof *t->conns);
  if (!t->stripes || !t->gens || !t->conns) {
    macho__tier_free(&alloc, t->stripes, MACHO__TIER_STRIPES * sizeof *t->stripes);
    macho__tier_free(&alloc, (void *)t->gens, MACHO__TIER_GENS * sizeof *t->gens);
    macho__tier_free(&alloc, t->conns, opts->connections * sizeof *t->conns);
    t->stripes = NULL, t->gens = NULL, t->conns = NULL;
    goto fail;
  }
  for (uint32_t i = 0; i < MACHO__TIER_STRIPES; i++) pthread_mutex_init(&t->stripes[i].mu, NULL);
  for (uint32_t i = 0; i < MACHO__TIER_GENS; i++) atomic_init(&t->gens[i], 0);
  t->nconns = opts->connections;
  for (uint32_t i = 0; i < t->nconns; i++) {
    t->conns[i] = (macho__tier_conn){.index = i};
    pthread_mutex_init(&t->conns[i].mu, NULL);
  }
  st = macho_open(&l1cfg, &t->l1);
  if (st != MACHO_OK) goto fail;

  /* Connect everything now, so that a wrong address or password fails here
   * with a sentence rather than on the first get. */
  char err[MACHO__TIER_ERROR_LEN];
  st = macho__tier_establish(t, err, sizeof err);
  if (st != MACHO_OK) {
    open_error(opts, "%s", err);
    tier_free(t);
    return st;
  }
  for (uint32_t i = 0; i < t->nconns; i++) {
    macho__tier_conn *c;
    bool fresh;
    /* conns[i] is the one for a hash whose high half is i. */
    st = conn_acquire(t, (uint64_t)i << 32, &c, &fresh);
    if (st == MACHO_OK && !t->bcast && c->track_epoch != atomic_load(&t->epoch)) st = MACHO_EIO;
    if (st == MACHO_OK) macho__tier_conn_release(t, c);
    if (st != MACHO_OK) {
      open_error(opts, "%s", t->last_error);
      tier_free(t);
      return st;
    }
  }
  st = macho__tier_tracker_start(t);
  if (st != MACHO_OK) goto fail;
  *out = t;
  return MACHO_OK;

fail:
  open_error(opts, "%s", st == MACHO_ENOMEM ? "out of memory" : "cannot start the tier's thread");
  tier_free(t);
  return st;
}

void macho_tier_close(macho_tier *t) {
  if (t) tier_free(t);
}

/* ---- the rest ------------------------------------------------------------------ */

int macho_tier_flush_local(macho_tier *t) {
  if (!t) return MACHO_EINVAL;
  macho__tier_flush(t, MACHO_TIER_FLUSH_MANUAL, 0);
  return MACHO_OK;
}

int macho_tier_wait_ready(macho_tier *t, uint32_t timeout_ms) {
  if (!t) return MACHO_EINVAL;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&t->state_mu);
  while (atomic_load(&t->epoch) & 1)
    if (pthread_cond_timedwait(&t->state_cv, &t->state_mu, &until) == ETIMEDOUT) break;
  bool up = (atomic_load(&t->epoch) & 1) == 0;
  pthread_mutex_unlock(&t->state_mu);
  return up ? MACHO_OK : MACHO_EIO;
}

macho_cache *macho_tier_l1(macho_tier *t) { return t ? t->l1 : NULL; }

int macho_tier_stats_get(macho_tier *t, macho_tier_stats *out) {
  if (!t || !out) return MACHO_EINVAL;
  memset(out, 0, sizeof *out);
  macho_counters ct;
  if (macho_counters_get(t->l1, -1, &ct) == MACHO_OK) {
    out->l1_hits = ct.hits;
    out->l1_misses = ct.misses;
  }
#define LOAD(x) atomic_load_explicit(&t->n.x, memory_order_relaxed)
  out->l2_hits = LOAD(l2_hits);
  out->l2_misses = LOAD(l2_misses);
  out->l2_errors = LOAD(l2_errors);
  out->lease_bypasses = LOAD(lease_bypasses);
  out->joined = LOAD(joined);
  out->loads = LOAD(loads);
  out->load_errors = LOAD(load_errors);
  out->puts = LOAD(puts);
  out->deletes = LOAD(deletes);
  out->fills = LOAD(fills);
  out->fills_refused = LOAD(fills_refused);
  out->fills_skipped = LOAD(fills_skipped);
  out->invalidation_messages = LOAD(inv_messages);
  out->invalidations = LOAD(invalidations);
  out->reconnects = LOAD(reconnects);
  out->heartbeats = LOAD(heartbeats);
  out->heartbeat_rtt_ns_max = LOAD(hb_rtt_max);
  for (int i = 0; i < MACHO_TIER_FLUSH_COUNT; i++) out->flushes[i] = LOAD(flushes[i]);
#undef LOAD
  pthread_mutex_lock(&t->state_mu);
  out->tracking = (atomic_load(&t->epoch) & 1) == 0;
  out->invalidation_client_id = out->tracking ? t->inv_id : -1;
  pthread_mutex_unlock(&t->state_mu);
  out->connections = t->nconns;
  return MACHO_OK;
}

int macho_tier_last_error(macho_tier *t, char *buf, size_t buflen) {
  if (!t || !buf || !buflen) return MACHO_EINVAL;
  pthread_mutex_lock(&t->state_mu);
  snprintf(buf, buflen, "%s", t->last_error);
  pthread_mutex_unlock(&t->state_mu);
  return MACHO_OK;
}

#else /* ---- stubs: a build without hiredis -------------------------------------- */
#include "tier.h"

int macho_tier_available(void) { return 0; }
int macho_tier_load_set(macho_tier_load *out, const void *value, size_t vlen, double ttl_seconds) {
  (void)out, (void)value, (void)vlen, (void)ttl_seconds;
  return MACHO_ENOTSUP;
}
int macho_tier_open(const macho_tier_options *opts, macho_tier **out) {
  if (out) *out = NULL;
  if (opts && opts->error_buf && opts->error_buf_size) {
    const char *msg = "this libmacho was built without hiredis: the Redis tier is not available";
    size_t n = 0;
    while (msg[n] && n + 1 < opts->error_buf_size) opts->error_buf[n] = msg[n], n++;
    opts->error_buf[n] = '\0';
  }
  return MACHO_ENOTSUP;
}
void macho_tier_close(macho_tier *tier) { (void)tier; }
int macho_tier_get(macho_tier *t, const void *key, size_t klen, void *buf, size_t buflen, size_t *vlen) {
  (void)t, (void)key, (void)klen, (void)buf, (void)buflen, (void)vlen;
  return MACHO_ENOTSUP;
}
int macho_tier_put(macho_tier *t, const void *key, size_t klen, const void *value, size_t vlen) {
  (void)t, (void)key, (void)klen, (void)value, (void)vlen;
  return MACHO_ENOTSUP;
}
int macho_tier_put_ttl(macho_tier *t, const void *key, size_t klen, const void *value, size_t vlen, double ttl) {
  (void)t, (void)key, (void)klen, (void)value, (void)vlen, (void)ttl;
  return MACHO_ENOTSUP;
}
int macho_tier_delete(macho_tier *t, const void *key, size_t klen) {
  (void)t, (void)key, (void)klen;
  return MACHO_ENOTSUP;
}
int macho_tier_flush_local(macho_tier *t) {
  (void)t;
  return MACHO_ENOTSUP;
}
int macho_tier_wait_ready(macho_tier *t, uint32_t timeout_ms) {
  (void)t, (void)timeout_ms;
  return MACHO_ENOTSUP;
}
macho_cache *macho_tier_l1(macho_tier *t) {
  (void)t;
  return NULL;
}
int macho_tier_stats_get(macho_tier *t, macho_tier_stats *out) {
  (void)t, (void)out;
  return MACHO_ENOTSUP;
}
int macho_tier_last_error(macho_tier *t, char *buf, size_t buflen) {
  (void)t, (void)buf, (void)buflen;
  return MACHO_ENOTSUP;
}
void macho__tier_set_hook(macho_tier *t, macho__tier_hook_fn fn, void *ctx) { (void)t, (void)fn, (void)ctx; }
#endif /* MACHO_HAVE_HIREDIS */
