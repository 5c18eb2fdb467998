/*
 * flight.c -- one read of a key from Redis (and the loader) in flight at a
 * time, per tier: the tier's own single-flight, until the library has
 * macho_get_or_load (issue 12), which can then replace this file.
 *
 * Flights live in a small hash table of buckets, each a mutex and a list.
 * The first caller for a key leads: it does the read and publishes the
 * outcome; callers that arrive meanwhile follow: they wait on the flight's
 * condition variable and copy the outcome. A flight leaves the table when
 * it finishes, or earlier when an invalidation or a flush detaches it, so
 * that callers arriving after Redis reported a change never get the value
 * read before it. Flights are reference-counted: the last one out frees it.
 */
#ifdef MACHO_HAVE_HIREDIS
#include "tier.h"

#include <string.h>

struct macho__tier_flight {
  macho__tier_flight *next; /* in its bucket while attached */
  bool attached;
  uint64_t hash;
  size_t klen;
  void *key;
  pthread_t leader;
  pthread_cond_t cv;
  int refs;    /* leader + followers still to leave */
  bool done;
  int status;  /* the leader's outcome */
  void *value; /* copied only when someone follows */
  size_t vlen;
};

static size_t bucket_of(uint64_t hash) { return (size_t)(hash >> 58) % MACHO__TIER_FLIGHT_BUCKETS; }

int macho__tier_flights_init(macho__tier_flights *f, const macho__tier_alloc *a) {
  f->a = a;
  for (size_t i = 0; i < MACHO__TIER_FLIGHT_BUCKETS; i++) {
    if (pthread_mutex_init(&f->bucket[i].mu, NULL) != 0) {
      while (i-- > 0) pthread_mutex_destroy(&f->bucket[i].mu);
      return MACHO_ENOMEM;
    }
    f->bucket[i].head = NULL;
  }
  return MACHO_OK;
}

void macho__tier_flights_destroy(macho__tier_flights *f) {
  /* Close is not concurrent with other calls, so every flight has finished. */
  for (size_t i = 0; i < MACHO__TIER_FLIGHT_BUCKETS; i++) pthread_mutex_destroy(&f->bucket[i].mu);
}

static void flight_free(macho__tier_flights *f, macho__tier_flight *fl) {
  pthread_cond_destroy(&fl->cv);
  macho__tier_free(f->a, fl->value, fl->vlen);
  macho__tier_free(f->a, fl->key, fl->klen);
  macho__tier_free(f->a, fl, sizeof *fl);
}

/* Unlink fl from its bucket (bucket lock held). */
static void detach_locked(macho__tier_flights *f, macho__tier_flight *fl) {
  if (!fl->attached) return;
  macho__tier_flight **pp = &f->bucket[bucket_of(fl->hash)].head;
  while (*pp && *pp != fl) pp = &(*pp)->next;
  if (*pp) *pp = fl->next;
  fl->next = NULL;
  fl->attached = false;
}

int macho__tier_flight_begin(macho__tier_flights *f, const void *key, size_t klen, uint64_t hash,
                             macho__tier_flight **out, bool *leader) {
  size_t b = bucket_of(hash);
  pthread_mutex_lock(&f->bucket[b].mu);
  for (macho__tier_flight *fl = f->bucket[b].head; fl; fl = fl->next) {
    if (fl->hash != hash || fl->klen != klen || (klen && memcmp(fl->key, key, klen) != 0)) continue;
    if (pthread_equal(fl->leader, pthread_self())) {
      pthread_mutex_unlock(&f->bucket[b].mu);
      return MACHO_EBUSY; /* the loader asked for its own key: waiting would never end */
    }
    fl->refs++;
    pthread_mutex_unlock(&f->bucket[b].mu);
    *out = fl;
    *leader = false;
    return MACHO_OK;
  }
  macho__tier_flight *fl = macho__tier_malloc(f->a, sizeof *fl);
  void *kcopy = macho__tier_malloc(f->a, klen);
  if (!fl || !kcopy || pthread_cond_init(&fl->cv, NULL) != 0) {
    pthread_mutex_unlock(&f->bucket[b].mu);
    macho__tier_free(f->a, kcopy, klen);
    macho__tier_free(f->a, fl, sizeof *fl);
    return MACHO_ENOMEM;
  }
  if (klen) memcpy(kcopy, key, klen);
  fl->key = kcopy;
  fl->klen = klen;
  fl->hash = hash;
  fl->leader = pthread_self();
  fl->refs = 1;
  fl->done = false;
  fl->status = MACHO_OK;
  fl->value = NULL;
  fl->vlen = 0;
  fl->next = f->bucket[b].head;
  fl->attached = true;
  f->bucket[b].head = fl;
  pthread_mutex_unlock(&f->bucket[b].mu);
  *out = fl;
  *leader = true;
  return MACHO_OK;
}

void macho__tier_flight_finish(macho__tier_flights *f, macho__tier_flight *fl, int status, const void *value,
                               size_t vlen) {
  size_t b = bucket_of(fl->hash);
  pthread_mutex_lock(&f->bucket[b].mu);
  detach_locked(f, fl);
  fl->status = status;
  if (fl->refs > 1 && status == MACHO_OK) {
    /* Followers copy from here after the leader has gone. */
    fl->value = macho__tier_malloc(f->a, vlen);
    if (fl->value) {
      if (vlen) memcpy(fl->value, value, vlen);
      fl->vlen = vlen;
    } else {
      fl->status = MACHO_ENOMEM;
    }
  }
  fl->done = true;
  pthread_cond_broadcast(&fl->cv);
  bool last = --fl->refs == 0;
  pthread_mutex_unlock(&f->bucket[b].mu);
  if (last) flight_free(f, fl);
}

int macho__tier_flight_wait(macho__tier_flights *f, macho__tier_flight *fl, void *buf, size_t buflen,
                            size_t *vlen) {
  size_t b = bucket_of(fl->hash);
  pthread_mutex_lock(&f->bucket[b].mu);
  while (!fl->done) pthread_cond_wait(&fl->cv, &f->bucket[b].mu);
  int status = fl->status;
  if (status == MACHO_OK) {
    if (vlen) *vlen = fl->vlen;
    if (fl->vlen > buflen)
      status = MACHO_ERANGE;
    else if (fl->vlen)
      memcpy(buf, fl->value, fl->vlen);
  }
  bool last = --fl->refs == 0;
  pthread_mutex_unlock(&f->bucket[b].mu);
  if (last) flight_free(f, fl);
  return status;
}

void macho__tier_flight_detach(macho__tier_flights *f, const void *key, size_t klen, uint64_t hash) {
  size_t b = bucket_of(hash);
  pthread_mutex_lock(&f->bucket[b].mu);
  macho__tier_flight *fl = f->bucket[b].head;
  while (fl) {
    macho__tier_flight *next = fl->next;
    if (fl->hash == hash && fl->klen == klen && (!klen || memcmp(fl->key, key, klen) == 0))
      detach_locked(f, fl);
    fl = next;
  }
  pthread_mutex_unlock(&f->bucket[b].mu);
}

void macho__tier_flight_detach_all(macho__tier_flights *f) {
  for (size_t b = 0; b < MACHO__TIER_FLIGHT_BUCKETS; b++) {
    pthread_mutex_lock(&f->bucket[b].mu);
    while (f->bucket[b].head) detach_locked(f, f->bucket[b].head);
    pthread_mutex_unlock(&f->bucket[b].mu);
  }
}
#endif /* MACHO_HAVE_HIREDIS */
