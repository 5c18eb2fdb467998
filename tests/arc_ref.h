/*
 * arc_ref.h -- a naive ARC (Megiddo & Modha, FAST'03) for the tests: four
 * arrays of keys (index 0 = least recent) scanned linearly, written from the
 * paper's pseudocode with libCacheSim's choices (real-valued p, a ghost hit
 * consumed when the miss is seen, REPLACE after a ghost hit, case IV
 * otherwise; see src/policy/arc.c). test_policy_arc.c drives it step by step
 * beside the real cache; test_sim_arc.c counts its misses on whole traces.
 * Header-only; needs policy_model.h's ref_array helpers.
 */
#ifndef MACHO_TEST_ARC_REF_H
#define MACHO_TEST_ARC_REF_H

#include "policy_model.h"

typedef struct arc_ref {
  ref_array *t1, *t2, *b1, *b2;
  uint32_t cap;
  double p;
  int pending, pending_b2; /* the last get miss consumed a ghost of pending_key */
  uint64_t pending_key;
} arc_ref;

static inline void *arc_ref_create(uint32_t cap) {
  arc_ref *r = calloc(1, sizeof *r);
  r->cap = cap;
  r->t1 = ref_array_new(cap);
  r->t2 = ref_array_new(cap);
  r->b1 = ref_array_new(cap);
  r->b2 = ref_array_new(cap);
  return r;
}

static inline void arc_ref_destroy(void *p) {
  arc_ref *r = p;
  ref_array_free(r->t1);
  ref_array_free(r->t2);
  ref_array_free(r->b1);
  ref_array_free(r->b2);
  free(r);
}

/* Case II / III: the key is in B1 or B2. Adapt p, forget the ghost. 0, 1 or 2. */
static inline int arc_ref_ghost_hit(arc_ref *r, uint64_t key) {
  int i = ref_find(r->b1, key);
  double n1 = r->b1->n, n2 = r->b2->n;
  if (i >= 0) {
    double delta = n2 / n1 > 1 ? n2 / n1 : 1;
    r->p = r->p + delta < r->cap ? r->p + delta : r->cap;
    ref_take(r->b1, (uint32_t)i);
    return 1;
  }
  i = ref_find(r->b2, key);
  if (i >= 0) {
    double delta = n1 / n2 > 1 ? n1 / n2 : 1;
    r->p = r->p - delta > 0 ? r->p - delta : 0;
    ref_take(r->b2, (uint32_t)i);
    return 2;
  }
  return 0;
}

static inline void arc_ref_remember(arc_ref *r, ref_array *ghost, uint64_t key) {
  if (r->b1->n + r->b2->n == r->cap) ref_take(r->b2->n ? r->b2 : r->b1, 0);
  ref_append(ghost, (ref_slot){key, 0, 0});
}

static inline uint64_t arc_ref_replace(arc_ref *r, int after_b2_hit) {
  double t1 = r->t1->n;
  int from_t1 = r->t2->n == 0 || (r->t1->n > 0 && (t1 > r->p || (t1 == r->p && after_b2_hit)));
  uint64_t key = ref_take(from_t1 ? r->t1 : r->t2, 0).key;
  arc_ref_remember(r, from_t1 ? r->b1 : r->b2, key);
  return key;
}

static inline void arc_ref_miss(void *p, uint64_t key) {
  arc_ref *r = p;
  if (r->pending && r->pending_key == key) return;
  int g = arc_ref_ghost_hit(r, key);
  r->pending = g != 0;
  r->pending_b2 = g == 2;
  r->pending_key = key;
}

static inline void arc_ref_hit(void *p, uint64_t key) {
  arc_ref *r = p;
  r->pending = 0;
  int i = ref_find(r->t1, key);
  if (i >= 0) {
    ref_append(r->t2, ref_take(r->t1, (uint32_t)i));
    return;
  }
  ref_append(r->t2, ref_take(r->t2, (uint32_t)ref_find(r->t2, key)));
}

static inline void arc_ref_insert(void *p, uint64_t key) {
  arc_ref *r = p;
  int seen = (r->pending && r->pending_key == key) || arc_ref_ghost_hit(r, key) != 0;
  r->pending = 0;
  ref_append(seen ? r->t2 : r->t1, (ref_slot){key, 0, 0});
}

static inline uint64_t arc_ref_victim(void *p) {
  arc_ref *r = p;
  if (r->pending) return arc_ref_replace(r, r->pending_b2);
  if (r->t1->n + r->b1->n + 1 > r->cap) { /* case IV A: |L1| = c */
    if (r->b1->n) {
      ref_take(r->b1, 0);
      return arc_ref_replace(r, 0);
    }
    return ref_take(r->t1, 0).key;
  }
  if (r->t1->n + r->b1->n + r->t2->n + r->b2->n >= 2 * r->cap && r->b2->n) ref_take(r->b2, 0);
  return arc_ref_replace(r, 0);
}

static inline void arc_ref_remove(void *p, uint64_t key) {
  arc_ref *r = p;
  int i = ref_find(r->t1, key);
  if (i >= 0) ref_take(r->t1, (uint32_t)i);
  else ref_take(r->t2, (uint32_t)ref_find(r->t2, key));
}

static inline int arc_ref_contains(void *p, uint64_t key) {
  arc_ref *r = p;
  return ref_find(r->t1, key) >= 0 || ref_find(r->t2, key) >= 0;
}

static inline uint32_t arc_ref_len(void *p) { return ((arc_ref *)p)->t1->n + ((arc_ref *)p)->t2->n; }

/* Misses of the cache-aside loop (a get, and on a miss a put) over keys[0..n). */
static inline uint64_t arc_ref_misses(const uint64_t *keys, size_t n, uint32_t cap) {
  arc_ref *r = arc_ref_create(cap);
  uint64_t misses = 0;
  for (size_t i = 0; i < n; i++) {
    if (arc_ref_contains(r, keys[i])) {
      arc_ref_hit(r, keys[i]);
      continue;
    }
    misses++;
    arc_ref_miss(r, keys[i]);
    if (arc_ref_len(r) >= cap) arc_ref_victim(r);
    arc_ref_insert(r, keys[i]);
  }
  arc_ref_destroy(r);
  return misses;
}

#endif
