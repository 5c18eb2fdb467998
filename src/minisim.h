/*
 * minisim.h -- a miniature cache: one eviction policy run over a stream of
 * 64-bit key hashes, without keys or values (src/minisim.c).
 *
 * The `auto` policy (src/policy/auto.c) and the live miss-ratio curve
 * (src/mrc.c) replay a spatially hashed sample of the requests through small
 * simulated caches (Waldspurger, Park, Garthwaite, Ahmad: "Cache Modeling and
 * Optimization using Miniature Simulations", USENIX ATC'17). A minisim runs
 * the real policy code of src/policy/ behind macho__policy_ops, so a
 * simulated LRU is LRU, not a model of it: at full rate, a minisim of
 * capacity C sees exactly what a one-shard cache of capacity C would.
 *
 * Each request is a get that inserts on a miss (cache-aside), in the order a
 * shard calls the policy: on_hit, or on_miss, victim when full, on_insert.
 * Every structure is sized at init; an access never allocates.
 */
#ifndef MACHO_MINISIM_H
#define MACHO_MINISIM_H

#include "internal.h"

typedef struct macho__minisim {
  macho__shard sh; /* a shell the policy hooks accept: entries, slab_cap, len, alloc, rng */
  const macho__policy_ops *ops;
  void *st;             /* the policy's state, ops->state_size bytes */
  macho__slot *index;   /* {hash tag, id}, linear probing, power-of-two size */
  uint32_t mask;
  uint32_t *user;       /* per entry, the caller's word (NULL unless asked for at init) */
} macho__minisim;

/* A minisim of `capacity` entries (>= 1) running `ops`. `seed` seeds the
 * shell's generator (policies that flip coins). With `user`, each entry also
 * carries a 32-bit word for the caller, MACHO__NIL when inserted (auto keeps
 * the live entry id of the same key there). MACHO_ENOMEM leaves *ms zeroed;
 * destroying a zeroed minisim is a no-op. */
int macho__minisim_init(macho__minisim *ms, const macho__alloc *alloc, const macho__policy_ops *ops,
                        uint32_t capacity, uint64_t seed, bool user);
void macho__minisim_destroy(macho__minisim *ms);
/* One request for `hash`: true on a hit; a miss inserts (evicting if full).
 * With user words: *slot receives the key's word (after the access) and
 * *evicted the word of the entry a miss evicted (MACHO__NIL when none). */
bool macho__minisim_access(macho__minisim *ms, uint64_t hash);
bool macho__minisim_access_user(macho__minisim *ms, uint64_t hash, uint32_t **slot, uint32_t *evicted);
/* The user word of `hash`, or NULL when the minisim does not hold it. */
uint32_t *macho__minisim_user(macho__minisim *ms, uint64_t hash);
/* Evict one entry as the policy chooses (it must hold one); returns its word. */
uint32_t macho__minisim_evict(macho__minisim *ms);
/* The user word of entry slot `i` (< capacity), or NULL when the slot is free:
 * for visiting every entry. */
uint32_t *macho__minisim_user_at(macho__minisim *ms, uint32_t i);
/* The key left the real cache (delete, expiry): forget it here too. */
void macho__minisim_remove(macho__minisim *ms, uint64_t hash);
/* Forget every entry (and, as the policy's on_clear decides, its history). */
void macho__minisim_clear(macho__minisim *ms);
/* Bytes allocated: entries, index, policy state and what the policy allocated. */
size_t macho__minisim_memory(const macho__minisim *ms);

#endif
