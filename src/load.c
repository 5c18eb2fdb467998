/*
 * load.c -- get-or-load: one loader per key under a stampede (single
 * flight), negative caching, refresh-ahead in the background.
 *
 * The idea: a table of "flights", one record per key being loaded (or
 * remembered as absent), beside the cache and outside its shards. A miss
 * looks the key up there under the table's mutex: nobody loading it makes
 * the caller the leader (it inserts a record and runs the loader with no
 * lock held at all), somebody loading it makes the caller wait on that
 * record's condition variable. Keys never wait for each other: the mutex
 * is held for a lookup, never across a loader or a wait. The leader puts
 * the value into the cache, stores it in the record for the waiters, and
 * wakes them; an error goes to every waiter the same way (and nothing is
 * cached). Records are reference counted, so the last one out frees it.
 *
 * Re-entry. Each thread has an id; a record knows its leader's, and a
 * waiting thread registers what it waits on. Before waiting, a caller
 * follows the chain "record -> its leader -> what that leader waits on ->
 * its leader ..."; reaching itself means the wait could never end (a loader
 * asking for its own key, directly or through loaders it waits for), and
 * the call fails with MACHO_EDEADLK instead.
 *
 * Negative caching: a loader's MACHO_ENOTFOUND turns the record into a
 * negative one with a deadline; misses meanwhile answer ENOTFOUND without
 * loading. At most capacity_entries of them are kept, oldest forgotten
 * first (they all live equally long, so the oldest also expires first).
 *
 * Puts and deletes. While the table holds records (c->flights, one load on
 * the put path), a put or delete of a key drops its negative record, and
 * marks a load in flight as superseded: its result is still handed to the
 * callers waiting for it, but not written over the newer put.
 *
 * Refresh-ahead (refresh_after_seconds): a hit on an entry whose last write
 * is older than that queues one reload (a record marked `refresh`, so a
 * second hit does not queue another, and a miss meanwhile waits for it)
 * and returns the current value at once. The reload runs on the cache's
 * own thread (started on the first one) or on the user's executor; a
 * failure leaves the entry as it was, to expire by its TTL.
 *
 * Object mode keeps its key objects retained in the records and compares
 * them with equal() with the mutex dropped (a change of the table
 * meanwhile restarts the lookup, as the shards' lookup does).
 */
#include "internal.h"
#include "hash.h"
#include "policy/policy.h"
#include "probe.h"

#include <math.h>
#include <pthread.h>

enum { F_LOADING = 0, F_NEGATIVE = 1 };

typedef struct flight flight;
struct flight {
  flight *next;            /* hash chain */
  flight *older, *newer;   /* negatives, oldest first */
  uint64_t hash;
  const void *key;         /* bytes: key_bytes; objects: the retained key */
  size_t klen;
  uint32_t leader;         /* thread id of whoever runs the loader (0 = queued) */
  uint32_t refs;           /* the table's, the leader's, each waiter's */
  uint8_t state;
  bool in_table, done, superseded, committing, refresh;
  int status;              /* the result once done */
  unsigned char *value;    /* bytes: the loaded value (vcap bytes allocated) */
  size_t vlen, vcap;
  void *obj;               /* objects: the loaded value or the loader's error object */
  uint64_t deadline;       /* negatives: absent until then */
  pthread_cond_t cond;
  unsigned char key_bytes[];
};

/* A thread waiting on a record (on its stack while it waits). */
typedef struct waiter {
  struct waiter *next;
  uint32_t thread;
  flight *on;
} waiter;

struct macho_refresh {
  macho_cache *c;
  flight *f;
  macho_loader loader;
  macho_refresh *next; /* the own thread's queue */
};

typedef struct macho__loads {
  pthread_mutex_t mu;
  flight **buckets;
  uint32_t nbuckets, count; /* power of two; records in the table */
  uint64_t version;         /* bumped by every insert/remove (object-mode lookups) */
  flight *oldest_neg, *newest_neg;
  uint32_t nneg, max_neg;
  waiter *waiters;
  /* refresh: the own thread and its queue, and jobs handed out */
  pthread_t thread;
  bool thread_started, stopping;
  pthread_cond_t work, idle;
  macho_refresh *queue_head, *queue_tail;
  uint64_t outstanding;     /* jobs not yet run or cancelled */
} macho__loads;

struct macho_loaded {
  macho_cache *c;
  unsigned char *value;
  size_t vlen, cap;
  void *obj;
  bool set;
  uint64_t ttl_ns;
  bool own_ttl;
};

/* ---- threads ----------------------------------------------------------------------- */
static _Atomic uint32_t next_thread_id = 1;
static _Thread_local uint32_t my_thread_id;
static uint32_t me(void) {
  if (!my_thread_id) my_thread_id = atomic_fetch_add(&next_thread_id, 1);
  return my_thread_id;
}

/* ---- the table ---------------------------------------------------------------------- */
static macho__loads *loads_of(macho_cache *c) {
  macho__loads *L = atomic_load_explicit((_Atomic(macho__loads *) *)&c->loads, memory_order_acquire);
  if (L) return L;
  L = macho__calloc(&c->alloc, 1, sizeof *L);
  if (!L) return NULL;
  L->nbuckets = 64;
  L->buckets = macho__calloc(&c->alloc, L->nbuckets, sizeof *L->buckets);
  pthread_condattr_t ca;
  bool ok = L->buckets && pthread_condattr_init(&ca) == 0;
  if (ok) {
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    ok = pthread_mutex_init(&L->mu, NULL) == 0;
    if (ok && pthread_cond_init(&L->work, &ca) != 0) ok = false;
    if (ok && pthread_cond_init(&L->idle, &ca) != 0) ok = false;
    pthread_condattr_destroy(&ca);
  }
  if (!ok) {
    macho__free(&c->alloc, L->buckets, (size_t)L->nbuckets * sizeof *L->buckets);
    macho__free(&c->alloc, L, sizeof *L);
    return NULL;
  }
  L->max_neg = c->cfg.capacity_entries > UINT32_MAX ? UINT32_MAX : (uint32_t)c->cfg.capacity_entries;
  macho__loads *expected = NULL;
  if (!atomic_compare_exchange_strong((_Atomic(macho__loads *) *)&c->loads, &expected, L)) {
    /* Another thread made it first. */
    pthread_cond_destroy(&L->idle);
    pthread_cond_destroy(&L->work);
    pthread_mutex_destroy(&L->mu);
    macho__free(&c->alloc, L->buckets, (size_t)L->nbuckets * sizeof *L->buckets);
    macho__free(&c->alloc, L, sizeof *L);
    return expected;
  }
  return L;
}

static flight *flight_new(macho_cache *c, const void *key, size_t klen, uint64_t hash) {
  size_t extra = c->object_mode ? 0 : klen;
  flight *f = macho__calloc(&c->alloc, 1, sizeof *f + extra);
  if (!f) return NULL;
  if (pthread_cond_init(&f->cond, NULL) != 0) {
    macho__free(&c->alloc, f, sizeof *f + extra);
    return NULL;
  }
  f->hash = hash;
  f->klen = klen;
  if (c->object_mode) {
    c->obj_ops.retain(c->obj_ops.ctx, (void *)key);
    f->key = key;
  } else {
    if (klen) memcpy(f->key_bytes, key, klen);
    f->key = f->key_bytes;
  }
  return f;
}

/* No lock held: release() may run caller code. */
static void flight_free(macho_cache *c, flight *f) {
  pthread_cond_destroy(&f->cond);
  if (c->object_mode) {
    c->obj_ops.release(c->obj_ops.ctx, (void *)f->key);
    if (f->obj) c->obj_ops.release(c->obj_ops.ctx, f->obj);
  }
  macho__free(&c->alloc, f->value, f->vcap);
  macho__free(&c->alloc, f, sizeof *f + (c->object_mode ? 0 : f->klen));
}

static void table_grow(macho_cache *c, macho__loads *L) {
  uint32_t n = L->nbuckets * 2;
  flight **b = macho__calloc(&c->alloc, n, sizeof *b);
  if (!b) return; /* longer chains, still correct */
  for (uint32_t i = 0; i < L->nbuckets; i++)
    for (flight *f = L->buckets[i], *next; f; f = next) {
      next = f->next;
      flight **head = &b[f->hash & (n - 1)];
      f->next = *head;
      *head = f;
    }
  macho__free(&c->alloc, L->buckets, (size_t)L->nbuckets * sizeof *L->buckets);
  L->buckets = b;
  L->nbuckets = n;
}

/* mu held. */
static void table_insert(macho_cache *c, macho__loads *L, flight *f) {
  if (L->count >= L->nbuckets) table_grow(c, L);
  flight **head = &L->buckets[f->hash & (L->nbuckets - 1)];
  f->next = *head;
  *head = f;
  f->in_table = true;
  f->refs++;
  L->count++;
  L->version++;
  atomic_store_explicit(&c->flights, L->count, memory_order_relaxed);
}

static void neg_unlink(macho__loads *L, flight *f) {
  if (f->older) f->older->newer = f->newer;
  else L->oldest_neg = f->newer;
  if (f->newer) f->newer->older = f->older;
  else L->newest_neg = f->older;
  f->older = f->newer = NULL;
  L->nneg--;
}

/* mu held. Returns the record when its last reference went with it: the
 * caller frees it after unlocking. */
static flight *table_remove(macho_cache *c, macho__loads *L, flight *f) {
  if (!f->in_table) return NULL;
  flight **p = &L->buckets[f->hash & (L->nbuckets - 1)];
  while (*p != f) p = &(*p)->next;
  *p = f->next;
  f->next = NULL;
  f->in_table = false;
  if (f->state == F_NEGATIVE) neg_unlink(L, f);
  L->count--;
  L->version++;
  atomic_store_explicit(&c->flights, L->count, memory_order_relaxed);
  return --f->refs == 0 ? f : NULL;
}

/* mu held; drop a reference. Returns the record to free after unlocking. */
static flight *unref(flight *f) { return --f->refs == 0 ? f : NULL; }

/* Find key's record (mu held; object mode may drop and retake it around
 * equal(), which may then free records: `dead` collects those). MACHO_OK
 * with *out (or NULL), MACHO_ECALLBACK when equal() failed. */
static int find(macho_cache *c, macho__loads *L, const void *key, size_t klen, uint64_t hash, flight **out,
                flight **dead) {
restart:
  for (flight *f = L->buckets[hash & (L->nbuckets - 1)]; f; f = f->next) {
    if (f->hash != hash) continue;
    if (!c->object_mode) {
      if (f->klen == klen && (klen == 0 || memcmp(f->key, key, klen) == 0)) {
        *out = f;
        return MACHO_OK;
      }
      continue;
    }
    if (f->key == key) {
      *out = f;
      return MACHO_OK;
    }
    uint64_t version = L->version;
    f->refs++;
    pthread_mutex_unlock(&L->mu);
    int eq = c->obj_ops.equal(c->obj_ops.ctx, key, f->key);
    pthread_mutex_lock(&L->mu);
    flight *gone = unref(f);
    if (gone) {
      gone->next = *dead;
      *dead = gone;
    }
    if (eq < 0) return MACHO_ECALLBACK;
    if (L->version != version) goto restart;
    if (eq) {
      *out = f;
      return MACHO_OK;
    }
  }
  *out = NULL;
  return MACHO_OK;
}

static void free_list(macho_cache *c, flight *dead) {
  while (dead) {
    flight *n = dead->next;
    flight_free(c, dead);
    dead = n;
  }
}

/* mu held: forget negatives past their deadline, oldest first. */
static void trim_negatives(macho_cache *c, macho__loads *L, uint64_t now, flight **dead) {
  while (L->oldest_neg && (L->oldest_neg->deadline <= now || L->nneg > L->max_neg)) {
    flight *g = table_remove(c, L, L->oldest_neg);
    if (g) {
      g->next = *dead;
      *dead = g;
    }
  }
}

void macho__loads_touch(macho_cache *c, const void *key, size_t klen, uint64_t hash) {
  macho__loads *L = c->loads;
  if (!L) return;
  flight *dead = NULL, *f = NULL;
  pthread_mutex_lock(&L->mu);
  trim_negatives(c, L, macho__now(c), &dead);
  if (find(c, L, key, klen, hash, &f, &dead) == MACHO_OK && f) {
    if (f->state == F_NEGATIVE) {
      flight *g = table_remove(c, L, f);
      if (g) {
        g->next = dead;
        dead = g;
      }
    } else if (!(f->committing && f->leader == me())) {
      f->superseded = true; /* its result is not written over this */
    }
  }
  pthread_mutex_unlock(&L->mu);
  free_list(c, dead);
}

/* ---- the loader's side ------------------------------------------------------------- */
int macho_loaded_set(macho_loaded *out, const void *value, size_t vlen) {
  if (!out || (!value && vlen) || vlen > UINT32_MAX) return MACHO_EINVAL;
  macho_cache *c = out->c;
  if (c->object_mode) return MACHO_EMODE;
  if (vlen > out->cap) {
    unsigned char *b = macho__malloc(&c->alloc, vlen);
    if (!b) return MACHO_ENOMEM;
    macho__free(&c->alloc, out->value, out->cap);
    out->value = b;
    out->cap = vlen;
  }
  if (vlen) memcpy(out->value, value, vlen);
  out->vlen = vlen;
  out->set = true;
  return MACHO_OK;
}

int macho_loaded_set_obj(macho_loaded *out, void *value) {
  if (!out) return MACHO_EINVAL;
  macho_cache *c = out->c;
  if (!c->object_mode) return MACHO_EMODE;
  if (value) c->obj_ops.retain(c->obj_ops.ctx, value);
  if (out->obj) c->obj_ops.release(c->obj_ops.ctx, out->obj);
  out->obj = value;
  out->set = true;
  return MACHO_OK;
}

int macho_loaded_set_ttl(macho_loaded *out, double ttl_seconds) {
  if (!out || isnan(ttl_seconds) || ttl_seconds < 0) return MACHO_EINVAL;
  out->ttl_ns = macho__ttl_to_ns(ttl_seconds);
  out->own_ttl = true;
  return MACHO_OK;
}

/* Run the loader for f and publish what it said; f->leader is us. */
static void run_load(macho_cache *c, macho__loads *L, flight *f, const macho_loader *ld) {
  macho_loaded out;
  memset(&out, 0, sizeof out);
  out.c = c;
  int rc = ld->load(ld->ctx, f->key, f->klen, &out);
  if (rc == MACHO_OK && !out.set && !c->object_mode) out.set = true; /* an empty value */
  /* The loader's own failure is ECALLBACK; running out of memory (its
   * macho_loaded_set, say) stays ENOMEM. */
  int status = rc == MACHO_OK || rc == MACHO_ENOTFOUND || rc == MACHO_ENOMEM ? rc : MACHO_ECALLBACK;
  flight *dead = NULL;
  bool write = false;
  pthread_mutex_lock(&L->mu);
  /* A reload that finds the key gone from the source removes it. */
  if ((status == MACHO_OK || (status == MACHO_ENOTFOUND && f->refresh)) && !f->superseded) {
    f->committing = true;
    write = true;
  }
  pthread_mutex_unlock(&L->mu);
  if (write) {
    /* Into the cache (a value too big for the budget is returned anyway:
     * the put's status does not change the load's). */
    int prc;
    double secs = out.ttl_ns ? (double)out.ttl_ns / 1e9 : 0;
    if (status == MACHO_ENOTFOUND)
      prc = c->object_mode ? macho_obj_delete(c, f->key) : macho_delete(c, f->key, f->klen);
    else if (c->object_mode)
      prc = out.own_ttl ? macho_obj_put_ttl(c, (void *)f->key, out.obj, secs) : macho_obj_put(c, (void *)f->key, out.obj);
    else
      prc = out.own_ttl ? macho_put_ttl(c, f->key, f->klen, out.value, out.vlen, secs)
                        : macho_put(c, f->key, f->klen, out.value, out.vlen);
    (void)prc;
  }
  pthread_mutex_lock(&L->mu);
  f->status = status;
  if (c->object_mode) {
    f->obj = out.obj; /* the value, or the error object */
    out.obj = NULL;
  } else if (status == MACHO_OK) {
    f->value = out.value;
    f->vlen = out.vlen;
    f->vcap = out.cap;
    out.value = NULL;
    out.cap = 0;
  }
  f->done = true;
  f->committing = false;
  if (status == MACHO_ENOTFOUND && c->negative_ttl_ns && f->in_table && !f->superseded) {
    f->state = F_NEGATIVE;
    f->deadline = macho__now(c) + c->negative_ttl_ns;
    f->older = L->newest_neg;
    f->newer = NULL;
    if (L->newest_neg) L->newest_neg->newer = f;
    else L->oldest_neg = f;
    L->newest_neg = f;
    L->nneg++;
    trim_negatives(c, L, macho__now(c), &dead);
  } else {
    flight *g = table_remove(c, L, f);
    if (g) {
      g->next = dead;
      dead = g;
    }
  }
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&L->mu);
  free_list(c, dead);
  macho__free(&c->alloc, out.value, out.cap);
  if (out.obj) c->obj_ops.release(c->obj_ops.ctx, out.obj);
}

/* ---- refresh-ahead ----------------------------------------------------------------- */
static void job_free(macho_refresh *j) {
  macho_cache *c = j->c;
  if (j->loader.release) j->loader.release(j->loader.ctx);
  macho__free(&c->alloc, j, sizeof *j);
}

/* Finish a job: its record leaves the table (waiters retry), the count of
 * outstanding jobs drops. */
static void job_done(macho_refresh *j, bool ran) {
  macho_cache *c = j->c;
  macho__loads *L = c->loads;
  flight *f = j->f, *dead = NULL;
  pthread_mutex_lock(&L->mu);
  if (!ran) {
    f->status = MACHO__AGAIN; /* waiters load it themselves */
    f->done = true;
    flight *g = table_remove(c, L, f);
    if (g) {
      g->next = dead;
      dead = g;
    }
    pthread_cond_broadcast(&f->cond);
  }
  flight *g = unref(f); /* the job's reference */
  if (g) {
    g->next = dead;
    dead = g;
  }
  L->outstanding--;
  pthread_cond_broadcast(&L->idle);
  pthread_mutex_unlock(&L->mu);
  free_list(c, dead);
  job_free(j);
}

void macho_refresh_run(macho_refresh *j) {
  if (!j) return;
  macho_cache *c = j->c;
  macho__loads *L = c->loads;
  pthread_mutex_lock(&L->mu);
  j->f->leader = me();
  pthread_mutex_unlock(&L->mu);
  run_load(c, L, j->f, &j->loader);
  job_done(j, true);
}

void macho_refresh_cancel(macho_refresh *j) {
  if (j) job_done(j, false);
}

static void *refresher(void *arg) {
  macho_cache *c = arg;
  macho__loads *L = c->loads;
  pthread_mutex_lock(&L->mu);
  for (;;) {
    while (!L->queue_head && !L->stopping) pthread_cond_wait(&L->work, &L->mu);
    if (L->stopping) break;
    macho_refresh *j = L->queue_head;
    L->queue_head = j->next;
    if (!L->queue_head) L->queue_tail = NULL;
    pthread_mutex_unlock(&L->mu);
    macho_refresh_run(j);
    pthread_mutex_lock(&L->mu);
  }
  pthread_mutex_unlock(&L->mu);
  return NULL;
}

/* A hit on an entry due for a reload (no lock held). */
static void queue_refresh(macho_cache *c, const void *key, size_t klen, uint64_t hash, const macho_loader *ld) {
  macho__loads *L = loads_of(c);
  if (!L) return; /* no memory: no reload this time */
  flight *dead = NULL, *f = NULL;
  pthread_mutex_lock(&L->mu);
  if (L->stopping || find(c, L, key, klen, hash, &f, &dead) != MACHO_OK || f) {
    /* Closing, or a load or reload is on its way already (or a stale
     * negative record: the value is here, the next put drops it). */
    pthread_mutex_unlock(&L->mu);
    free_list(c, dead);
    return;
  }
  pthread_mutex_unlock(&L->mu);
  /* Allocations with no lock held (object mode retains the key). */
  f = flight_new(c, key, klen, hash);
  macho_refresh *j = f ? macho__calloc(&c->alloc, 1, sizeof *j) : NULL;
  if (!j) {
    if (f) flight_free(c, f);
    free_list(c, dead);
    return;
  }
  j->c = c;
  j->f = f;
  j->loader = *ld;
  if (ld->retain) ld->retain(ld->ctx);
  f->refresh = true;
  f->refs = 1; /* the job's */
  pthread_mutex_lock(&L->mu);
  flight *other = NULL;
  int frc = find(c, L, key, klen, hash, &other, &dead);
  if (L->stopping || frc != MACHO_OK || other) {
    pthread_mutex_unlock(&L->mu);
    free_list(c, dead);
    flight_free(c, f);
    j->f = NULL;
    job_free(j);
    return;
  }
  table_insert(c, L, f);
  L->outstanding++;
  bool own = c->cfg.refresh_executor == NULL;
  if (own) {
    j->next = NULL;
    if (L->queue_tail) L->queue_tail->next = j;
    else L->queue_head = j;
    L->queue_tail = j;
    if (!L->thread_started) {
      pthread_attr_t at;
      pthread_attr_init(&at);
      pthread_attr_setstacksize(&at, 256 * 1024);
      if (pthread_create(&L->thread, &at, refresher, c) == 0) L->thread_started = true;
      pthread_attr_destroy(&at);
    }
    pthread_cond_signal(&L->work);
  }
  bool started = L->thread_started;
  pthread_mutex_unlock(&L->mu);
  free_list(c, dead);
  if (!own) c->cfg.refresh_executor(c->cfg.refresh_executor_ctx, j);
  else if (!started) { /* no thread: this reload does not happen */
    pthread_mutex_lock(&L->mu);
    if (L->queue_head == j) {
      L->queue_head = L->queue_tail = NULL;
      pthread_mutex_unlock(&L->mu);
      macho_refresh_cancel(j);
    } else {
      pthread_mutex_unlock(&L->mu);
    }
  }
}

void macho__loads_close(macho_cache *c) {
  macho__loads *L = c->loads;
  if (!L) return;
  pthread_mutex_lock(&L->mu);
  L->stopping = true;
  pthread_cond_broadcast(&L->work);
  bool joined = L->thread_started;
  pthread_mutex_unlock(&L->mu);
  if (joined) pthread_join(L->thread, NULL);
  /* Jobs still queued for the own thread are dropped; the executor's must
   * all come back (run or cancelled). */
  for (;;) {
    pthread_mutex_lock(&L->mu);
    macho_refresh *j = L->queue_head;
    if (j) {
      L->queue_head = j->next;
      if (!L->queue_head) L->queue_tail = NULL;
    }
    pthread_mutex_unlock(&L->mu);
    if (!j) break;
    macho_refresh_cancel(j);
  }
  pthread_mutex_lock(&L->mu);
  while (L->outstanding) pthread_cond_wait(&L->idle, &L->mu);
  flight *dead = NULL;
  for (uint32_t i = 0; i < L->nbuckets; i++)
    while (L->buckets[i]) {
      flight *g = table_remove(c, L, L->buckets[i]);
      if (g) {
        g->next = dead;
        dead = g;
      }
    }
  pthread_mutex_unlock(&L->mu);
  free_list(c, dead);
  pthread_cond_destroy(&L->idle);
  pthread_cond_destroy(&L->work);
  pthread_mutex_destroy(&L->mu);
  macho__free(&c->alloc, L->buckets, (size_t)L->nbuckets * sizeof *L->buckets);
  macho__free(&c->alloc, L, sizeof *L);
  c->loads = NULL;
  atomic_store(&c->flights, 0);
}

/* ---- get-or-load ------------------------------------------------------------------- */
static inline macho__shard *shard_for(macho_cache *c, uint64_t hash) {
  return &c->shards[macho__shard_of(hash, c->nshards)];
}

/* A hit under the shard lock, for refresh-ahead: the value (copied, or
 * retained) and whether it is due for a reload. Counts as a get. */
static int get_aged(macho_cache *c, const void *key, size_t klen, uint64_t hash, void *buf, size_t buflen,
                    size_t *vlen, void **obj, bool *due) {
  macho__shard *sh = shard_for(c, hash);
  macho__dead dead;
  macho__dead_init(&dead, sh);
  *due = false;
  uint32_t s = MACHO__NIL;
  macho__lock(sh);
  macho__shard_drain(sh);
  uint64_t now = macho__now_write(c);
  int rc = macho__shard_find(sh, key, klen, hash, &s);
  if (rc == MACHO_OK && s != MACHO__NIL) {
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&t->slots[s].m, memory_order_relaxed);
    if (macho__m_expired(m, macho__group_epoch_ns(sh, macho__group_of(t, s)), now)) {
      macho__shard_remove(sh, s, hash, MACHO_REMOVED_EXPIRED, now, false, &dead);
      s = MACHO__NIL;
    }
  }
  if (rc == MACHO_OK && s == MACHO__NIL) {
    rc = MACHO_ENOTFOUND;
    sh->c.misses++;
  } else if (rc == MACHO_OK) {
    macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    if (c->object_mode) {
      void *v = (void *)(uintptr_t)atomic_load_explicit(&t->slots[s].v, memory_order_relaxed);
      if (v) c->obj_ops.retain(c->obj_ops.ctx, v);
      *obj = v;
    } else {
      size_t n = macho__slot_value(sh, t, s, NULL);
      if (vlen) *vlen = n;
      if (n > buflen) rc = MACHO_ERANGE;
      else if (n) macho__slot_value(sh, t, s, buf);
    }
    if (rc == MACHO_OK) {
      sh->c.hits++;
      uint64_t rec = s;
      sh->pol->on_access(sh->pol_state, sh, &rec, 1);
      *due = sh->ext && now - sh->ext[s].written >= c->refresh_after_ns && now >= sh->ext[s].written;
    }
  }
  macho__unlock(sh);
  if (macho__dead_pending(&dead)) macho__dead_flush(c, &dead);
  return rc;
}

/* Wait for f (mu held, a reference taken). MACHO_EDEADLK when the wait
 * could never end. */
static int would_deadlock(macho__loads *L, flight *f) {
  uint32_t self = me();
  for (uint32_t hops = 0; f && hops <= L->count + 1; hops++) {
    if (f->leader == self) return 1;
    if (!f->leader) return 0;
    waiter *w = L->waiters;
    while (w && w->thread != f->leader) w = w->next;
    f = w ? w->on : NULL;
  }
  return 0;
}

/* A finished flight's outcome for one caller (L->mu held): the value copied
 * out (bytes mode) or retained (object mode), and the status. */
static int take_result(macho_cache *c, const flight *f, void *buf, size_t buflen, size_t *vlen, void **obj) {
  int rc = f->status;
  if (rc != MACHO_OK && rc != MACHO_ECALLBACK) return rc;
  if (c->object_mode) {
    if (f->obj) c->obj_ops.retain(c->obj_ops.ctx, f->obj);
    *obj = f->obj;
  } else if (rc == MACHO_OK) {
    size_t n = f->vlen;
    if (vlen) *vlen = n;
    if (n > buflen) return MACHO_ERANGE;
    if (n) memcpy(buf, f->value, n);
  }
  return rc;
}

static int get_or_load(macho_cache *c, const void *key, size_t klen, uint64_t hash, const macho_loader *ld,
                       void *buf, size_t buflen, size_t *vlen, void **obj) {
  for (;;) {
    /* The cache first: a hit returns at once (and maybe queues a reload). */
    int rc;
    bool due = false;
    if (c->refresh_after_ns) {
      rc = get_aged(c, key, klen, hash, buf, buflen, vlen, obj, &due);
    } else if (c->object_mode) {
      rc = macho_obj_get(c, key, obj);
    } else {
      rc = macho_get(c, key, klen, buf, buflen, vlen);
    }
    if (rc == MACHO_OK && due) queue_refresh(c, key, klen, hash, ld);
    if (rc != MACHO_ENOTFOUND) return rc;

    macho__loads *L = loads_of(c);
    if (!L) return MACHO_ENOMEM;
    flight *dead = NULL, *f = NULL;
    pthread_mutex_lock(&L->mu);
    uint64_t now = macho__now(c);
    trim_negatives(c, L, now, &dead);
    rc = find(c, L, key, klen, hash, &f, &dead);
    if (rc != MACHO_OK) {
      pthread_mutex_unlock(&L->mu);
      free_list(c, dead);
      return rc;
    }
    if (f && f->state == F_NEGATIVE) {
      pthread_mutex_unlock(&L->mu);
      free_list(c, dead);
      return MACHO_ENOTFOUND; /* remembered: no load */
    }
    if (f) {
      /* Somebody is loading it: wait, unless that would never end. */
      if (would_deadlock(L, f)) {
        pthread_mutex_unlock(&L->mu);
        free_list(c, dead);
        return MACHO_EDEADLK;
      }
      waiter w = {L->waiters, me(), f};
      L->waiters = &w;
      f->refs++;
      void *token = NULL;
      if (ld->wait_begin) {
        pthread_mutex_unlock(&L->mu);
        token = ld->wait_begin(ld->ctx);
        pthread_mutex_lock(&L->mu);
      }
      while (!f->done) pthread_cond_wait(&f->cond, &L->mu);
      waiter **p = &L->waiters;
      while (*p != &w) p = &(*p)->next;
      *p = w.next;
      if (ld->wait_end) {
        pthread_mutex_unlock(&L->mu);
        ld->wait_end(ld->ctx, token);
        pthread_mutex_lock(&L->mu);
      }
      rc = take_result(c, f, buf, buflen, vlen, obj);
      flight *g = unref(f);
      pthread_mutex_unlock(&L->mu);
      if (g) flight_free(c, g);
      free_list(c, dead);
      if (rc == MACHO__AGAIN) continue; /* a dropped reload: look again */
      return rc;
    }
    /* Nobody: we lead. */
    pthread_mutex_unlock(&L->mu);
    free_list(c, dead);
    dead = NULL;
    f = flight_new(c, key, klen, hash);
    if (!f) return MACHO_ENOMEM;
    f->leader = me();
    f->refs = 1; /* ours */
    pthread_mutex_lock(&L->mu);
    flight *other = NULL;
    rc = find(c, L, key, klen, hash, &other, &dead);
    if (rc != MACHO_OK || other) { /* it changed meanwhile: start over */
      pthread_mutex_unlock(&L->mu);
      free_list(c, dead);
      flight_free(c, f);
      if (rc != MACHO_OK) return rc;
      continue;
    }
    table_insert(c, L, f);
    pthread_mutex_unlock(&L->mu);
    free_list(c, dead);
    /* A load that finished between our miss and our record put the value
     * in the cache: look once more, without counting, before loading. */
    int peek = c->object_mode ? macho_obj_peek(c, key, obj) : macho_peek(c, key, klen, buf, buflen, vlen);
    if (peek == MACHO_OK || peek == MACHO_ERANGE) {
      pthread_mutex_lock(&L->mu);
      f->status = MACHO__AGAIN; /* waiters look again too */
      f->done = true;
      flight *g = table_remove(c, L, f);
      pthread_cond_broadcast(&f->cond);
      flight *h = unref(f);
      pthread_mutex_unlock(&L->mu);
      if (g) flight_free(c, g);
      if (h) flight_free(c, h);
      return peek;
    }
    run_load(c, L, f, ld);
    pthread_mutex_lock(&L->mu);
    rc = take_result(c, f, buf, buflen, vlen, obj);
    flight *g = unref(f);
    pthread_mutex_unlock(&L->mu);
    if (g) flight_free(c, g);
    return rc;
  }
}

int macho_get_or_load(macho_cache *c, const void *key, size_t klen, const macho_loader *loader, void *buf,
                      size_t buflen, size_t *vlen) {
  if (!c || (!key && klen) || klen > UINT32_MAX || !loader || !loader->load || (!buf && buflen))
    return MACHO_EINVAL;
  if (c->object_mode) return MACHO_EMODE;
  return get_or_load(c, key, klen, macho__hash_bytes(key, klen, c->cfg.seed), loader, buf, buflen, vlen, NULL);
}

int macho_obj_get_or_load(macho_cache *c, const void *key, const macho_loader *loader, void **value) {
  if (!c || !key || !loader || !loader->load || !value) return MACHO_EINVAL;
  if (!c->object_mode) return MACHO_EMODE;
  *value = NULL;
  uint64_t h;
  if (c->obj_ops.hash(c->obj_ops.ctx, key, &h) != 0) return MACHO_ECALLBACK;
  return get_or_load(c, key, 0, macho__mix64(h ^ c->cfg.seed), loader, NULL, 0, NULL, value);
}
