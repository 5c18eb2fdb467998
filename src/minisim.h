/*
 * minisim.h -- a miniature cache: one eviction policy run over a stream of
 * 64-bit key hashes, without keys or values (src/minisim.c).
 *
 * The `auto` policy (src/policy/auto.c) and the live miss-ratio curve
 * (src/mrc.c) replay a spatially hashed sample of the requests through small
 * simulated caches (Waldspurger, Park, Garthwaite, Ahmad: "Cache Modeling and
 * Optimization using Miniature Simulations", USENIX ATC'17). A minisim runs
 * the real policy code of src/policy/ behind the policy contract
 * (policy/policy.h), so a simulated LRU is LRU, not a model of it: a minisim
 * of capacity C sees exactly what a one-shard cache of capacity C would.
 *
 * Each request is a get that inserts on a miss (cache-aside), delivered as
 * the shard delivers it to its policy: a hit record, or a miss record (when
 * the policy records misses), pre_insert, victim when full, insert. Every
 * structure is sized at init; an access never allocates.
 */
#ifndef MACHO_MINISIM_H
#define MACHO_MINISIM_H

#include "internal.h"
#include "policy/policy.h"

typedef struct macho__minisim {
  macho__shard sh;       /* a shell the policy hooks accept: its table, generator and cache */
  macho__table table;    /* slots (the policy's bits), tags (live or not), hashes */
  const macho__policy_ops *ops;
  void *st;              /* the policy's state */
  uint32_t capacity, len, free_head;
  uint32_t *next_free;   /* free slots, chained */
  uint32_t *index_id;    /* hash -> slot: linear probing, power-of-two size */
  uint32_t mask;
  uint32_t *user;        /* per slot, the caller's word (NULL unless asked for at init) */
} macho__minisim;

/* A minisim of `capacity` entries (>= 1) running `ops`, allocating through
 * owner's allocator (so that its memory is the owner cache's). `seed` seeds
 * the shell's generator (policies that flip coins). With `user`, each entry
 * also carries a 32-bit word for the caller, MACHO__NIL when inserted (auto
 * keeps the live slot of the same key there). MACHO_ENOMEM leaves *ms
 * zeroed; destroying a zeroed minisim is a no-op. */
int macho__minisim_init(macho__minisim *ms, macho_cache *owner, const macho__policy_ops *ops,
                        uint32_t capacity, uint64_t seed, bool user);
void macho__minisim_destroy(macho__minisim *ms);
/* One request for `hash`: true on a hit; a miss inserts (evicting if full). */
bool macho__minisim_access(macho__minisim *ms, uint64_t hash);
/* The same with user words: *slot receives the key's word (after the
 * access) and *evicted the word of the entry a miss evicted (MACHO__NIL). */
bool macho__minisim_access_user(macho__minisim *ms, uint64_t hash, uint32_t **slot, uint32_t *evicted);
/* The user word of `hash`, or NULL when the minisim does not hold it. */
uint32_t *macho__minisim_user(macho__minisim *ms, uint64_t hash);
/* Evict one entry as the policy chooses (it must hold one); returns its word. */
uint32_t macho__minisim_evict(macho__minisim *ms);
/* The user word of slot `i` (< macho__minisim_slots), or NULL when free:
 * for visiting every entry. */
uint32_t *macho__minisim_user_at(macho__minisim *ms, uint32_t i);
static inline uint32_t macho__minisim_slots(const macho__minisim *ms) { return ms->table.nslots; }
/* The key left the real cache (delete, expiry): forget it here too. */
void macho__minisim_remove(macho__minisim *ms, uint64_t hash);
/* Forget every entry (and, as the policy's clear decides, its history). */
void macho__minisim_clear(macho__minisim *ms);
/* Bytes allocated: table, index, free list, user words, policy state and
 * what the policy allocated. */
size_t macho__minisim_memory(const macho__minisim *ms);

#endif
