/*
 * types.h -- the shapes libmacho's modules share: a cache, its shards, a
 * shard's table of slot groups, and the per-thread records readers use.
 * Functions live in internal.h; nothing here is public.
 *
 * A shard's table (table.h has the slot encoding and the probe):
 *
 *   groups[g]   32-byte header per group of 16 slots: 16 tag bytes (0 =
 *               empty, 0x80|7 hash bits = full), the group's sequence number
 *               (odd while a writer changes the group), an overflow count
 *               (keys whose probe passed this group and landed later: a miss
 *               stops at the first group whose count is 0, so deletes need
 *               no tombstones), and the epoch its deadlines count from.
 *   slots[s]    24 bytes per slot, three words: key, value, meta. Keys and
 *               values of up to 8 bytes live in the words themselves; longer
 *               ones live in the shard's arena and the word holds an offset.
 *
 * A get in bytes mode locks nothing: it reads a group header, the matching
 * slot and the header again, and retries when the sequence number moved
 * (a seqlock, as Linux's seqcount). Writers hold the shard lock. Memory a
 * reader may still be reading is never freed under it: arena chunks stay
 * mapped while the cache is open, and a replaced table is freed only after
 * every reader that could hold it has left (a grace period, thread.c).
 */
#ifndef MACHO_TYPES_H
#define MACHO_TYPES_H

#include "macho/macho.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fences of the seqlock and the grace period. ThreadSanitizer does not model
 * fences (gcc refuses them under -Werror=tsan); every access they order is
 * atomic, so it has no race to report either way, and its builds keep only
 * the compiler barrier. */
#if defined(__SANITIZE_THREAD__)
#define macho__fence(order) atomic_signal_fence(order)
#else
#define macho__fence(order) atomic_thread_fence(order)
#endif

#define MACHO__NIL UINT32_MAX
#define MACHO__GROUP_SLOTS 16u
/* Largest entry count one shard can hold. */
#define MACHO__MAX_SHARD_ENTRIES (UINT32_MAX / 4u)
#define MACHO__MAX_SHARDS 65536u
/* Read-buffer stripes per shard (LRU-family recency) and records per stripe. */
#define MACHO__STRIPES 8u
#define MACHO__STRIPE_LEN 64u
#define MACHO__ARENA_CHUNKS 40u
#define MACHO__ARENA_CLASSES 48u

/* ---- allocation: every byte goes through the cache's allocator ------------ */
typedef struct macho__alloc {
  macho_allocator hooks;
  _Atomic uint64_t held; /* bytes allocated and not yet freed: memory_bytes */
} macho__alloc;

/* ---- the table ------------------------------------------------------------- */
typedef struct macho__group {
  _Atomic uint64_t tags[2]; /* tag byte per slot, slot i in byte i%8 of word i/8 */
  _Atomic uint32_t seq;     /* even = stable; odd = a writer is changing the group */
  _Atomic uint8_t ovf;      /* probes that passed this group (saturates at 255) */
  _Atomic uint8_t epoch;    /* index into shard->epoch_ns of its fine deadlines */
  uint8_t pad[10];
} macho__group;
_Static_assert(sizeof(macho__group) == 32, "group header is half a cache line");

typedef struct macho__slot {
  _Atomic uint64_t k, v, m; /* key word, value word, meta word (table.h) */
} macho__slot;
_Static_assert(sizeof(macho__slot) == 24, "slot layout changed: update docs/DESIGN.md");

/* One allocation: this struct, then the group headers, then the slots. A
 * table never changes size; growth builds a bigger one and retires this. */
typedef struct macho__table {
  uint32_t ngroups, nslots;
  uint32_t max_len;  /* entries it takes before the shard grows it */
  uint32_t final;    /* 1 = sized for the shard's capacity: never grows */
  size_t bytes;      /* size of the allocation */
  macho__group *groups;
  macho__slot *slots;
  uint64_t *hashes;  /* object mode: each slot's 64-bit key hash (keys cannot be
                        rehashed under the lock); NULL in bytes mode */
} macho__table;

/* ---- arenas: keys and values longer than 8 bytes ---------------------------- */
/* Chunk i spans byte offsets [base*(2^i - 1), base*(2^(i+1) - 1)), so an
 * offset finds its chunk with one count-leading-zeros and the directory
 * never moves. Blocks come in size classes; freed blocks go on a per-class
 * free list threaded through their first word. */
typedef struct macho__arena {
  _Atomic(unsigned char *) chunk[MACHO__ARENA_CHUNKS];
  uint64_t bump;                        /* next free byte offset */
  uint64_t free_head[MACHO__ARENA_CLASSES]; /* offset + 1 of the first free block, 0 = none */
  uint64_t bytes_held;                  /* chunk bytes allocated */
  uint64_t bytes_used;                  /* bytes in live blocks */
} macho__arena;

/* ---- read buffers: hits on LRU-family policies, replayed by a writer --------- */
/* One producer per stripe (the thread whose record index picks it); the
 * consumer is whoever holds the shard lock. Lossy: a full stripe whose
 * drain cannot get the lock drops the record. */
typedef struct macho__stripe {
  _Atomic uint32_t tail; /* written by the producer */
  uint32_t pad0[15];
  _Atomic uint32_t head; /* written by the consumer */
  uint32_t pad1[15];
  _Atomic uint64_t recs[MACHO__STRIPE_LEN]; /* slot (hit) or MACHO__REC_MISS|hash (miss) */
} macho__stripe;

/* ---- per-thread records (thread.c) ---------------------------------------------- */
typedef struct macho__tcount {
  _Atomic uint64_t hits, misses; /* gets on the lock-free path */
} macho__tcount;

/* One per (thread, cache), written only by its thread, 64-byte aligned. */
typedef struct macho__trec {
  _Atomic uint32_t rseq;   /* odd while the thread is inside a lock-free read */
  void *raw;               /* the allocation (the record is aligned inside it) */
  _Atomic uint32_t owned;  /* 1 = a live thread owns it */
  uint32_t index;          /* position in the cache's registry: picks the stripe */
  uint32_t pad;
  struct macho__trec *next; /* registry list, push-only */
  struct macho_cache *cache;
  uint64_t cache_uid;
  macho__tcount c[];        /* one per shard */
} macho__trec;

/* Everything a thread keeps for libmacho, in one thread-local block so a
 * get computes one TLS address. */
typedef struct macho__tl_entry {
  uint64_t uid;
  macho__trec *rec;
} macho__tl_entry;
typedef struct macho__tls {
  uint32_t tick[2];          /* per operation kind: latency sampling, get-side sweeps */
  uint32_t token;            /* this thread's owner token for records (0 = none yet) */
  uint32_t pad;
  uint64_t get_hash;         /* the key's hash, from macho_get to the general get it hands on to */
  macho__tl_entry cache[4];  /* (cache uid, record) by uid % 4 */
} macho__tls;

#if defined(MACHO_TLS_GLOBAL_DYNAMIC) || !defined(__GNUC__)
#define MACHO__TLS_MODEL
#else
/* Initial-exec: one %fs-relative access, no __tls_get_addr call, also in
 * libmacho.so. A module dlopen()ed late (the Python extension) builds with
 * MACHO_TLS_GLOBAL_DYNAMIC. */
#define MACHO__TLS_MODEL __attribute__((tls_model("initial-exec")))
#endif
extern _Thread_local macho__tls macho__tl MACHO__TLS_MODEL;

/* ---- policies (src/policy/policy.h has the contract) ---------------------------- */
typedef struct macho__policy_ops macho__policy_ops;
typedef struct macho__filter_ops macho__filter_ops;

/* What a hit means to the policy, decided at open: the reader does it. */
enum {
  MACHO__ACCESS_NONE = 0, /* FIFO, Random: a hit changes nothing */
  MACHO__ACCESS_BIT = 1,  /* SIEVE, CLOCK: set one bit of the slot's policy bits */
  MACHO__ACCESS_BUFFER = 2/* LRU, LFU, S3-FIFO, W-TinyLFU, ARC: record the slot in a read buffer */
};

/* ---- shard ------------------------------------------------------------------------ */
typedef struct macho__shard_counters {
  uint64_t hits, misses; /* gets on the locked path (object mode, filters, fallbacks) */
  uint64_t puts, deletes, evictions, expirations, clears;
  uint64_t filter_queries, filter_negatives, filter_false_positives;
} macho__shard_counters;

typedef struct macho__shard macho__shard;
struct macho__shard {
  /* -- read-mostly: every get reads these; written only by growth, clear
   *    and epoch changes, so the line stays shared in every core's cache -- */
  _Atomic(macho__table *) table;
  struct macho_cache *cache;
  _Atomic uint64_t epoch_ns[2]; /* cache-clock time fine deadlines count from */
  _Atomic uint64_t next_expiry; /* no entry expires before this (cache clock ns) */
  uint32_t index;               /* this shard's number */
  uint8_t access;               /* MACHO__ACCESS_* */
  uint8_t locked_reads;         /* 1 = gets take the lock (object mode, filters) */
  uint8_t record_misses;        /* lock-free misses go to the read buffer */
  _Atomic uint32_t pending;     /* bit i: stripe i may hold records (set by its producer) */

  /* -- the lock, on its own line: writers and the readers' trylocks -- */
  _Alignas(64) _Atomic uint32_t lock;

  /* -- writer side: guarded by the lock -- */
  _Alignas(64) uint32_t len;     /* live entries */
  uint32_t capacity;             /* entry capacity of this shard */
  uint64_t capacity_bytes;       /* 0 = no byte budget */
  uint64_t payload_bytes;        /* key + value bytes stored (bytes mode) */
  uint64_t version;              /* bumped by every table change (object-mode probes) */
  uint64_t rng;                  /* xorshift state (Random policy) */
  uint32_t sweep_group;          /* next group the expiry sweep examines */
  uint64_t cycle_min;            /* earliest deadline seen since the sweep last wrapped */
  uint32_t *own_born;            /* per slot: write tick of entries with their own TTL
                                    (allocated on the first such put; NULL = unknown) */
  uint32_t own_born_n;
  uint32_t migrate_group;        /* next group to move to the current epoch */
  uint32_t drains;               /* read-buffer drains so far (every 16th scans all stripes) */
  uint8_t epoch_cur;             /* index of the epoch new deadlines use */
  bool migrating;                /* groups are moving to epoch_cur (expiry.c) */
  bool has_ttl;                  /* some entry ever had a deadline: sweeps are worth it */
  macho__arena arena;
  const macho__policy_ops *pol;
  void *pol_state;
  const macho__filter_ops *fil;
  void *filter;
  macho__shard_counters c;
  uint64_t hits_base, misses_base; /* thread records' sums at the last stats reset */
  struct macho__metrics *metrics; /* histograms and window (metrics.c); NULL until used */
  struct macho__mrc *mrc;         /* the live miss-ratio curve (mrc.c); NULL when config.mrc is 0 */
  macho__stripe *stripes;         /* MACHO__STRIPES of them when access == BUFFER */
  /* -- features (issue 12), guarded by the lock -- */
  uint64_t charged_bytes;         /* entries' charges against capacity_bytes (MACHO_ENTRY_OVERHEAD + payload) */
  struct macho__ext *ext;         /* per slot: weight and last write (weigher, refresh-ahead); NULL = none */
  uint32_t ext_n;                 /* slots in ext */
  uint32_t deferred;              /* removed entries whose payload a listener flush has yet to free */
  uint32_t walkers;               /* sliced iterations in progress: no cuckoo moves meanwhile */
  uint32_t pol_capacity;          /* the capacity the policy's state is sized for */
  uint8_t rejected;               /* the policy's last victim was refused admission (W-TinyLFU) */
};

/* Per-slot data some features need (shard.c keeps it in step with the slots). */
typedef struct macho__ext {
  uint64_t weight;  /* object mode with a budget: weigh(key, value) */
  uint64_t written; /* cache-clock time of the entry's last write (refresh-ahead) */
} macho__ext;

/* ---- the cache ------------------------------------------------------------------------- */
struct macho_cache {
  macho_config cfg;              /* as opened; object_ops/allocator point at the copies below */
  /* Latency samples recorded so far, per op, up to MACHO__LAT_WARMUP: until
   * then every call is timed, so that a cache that has seen a handful of
   * calls already shows latencies. Written only during the warm-up (and by
   * macho_stats_reset); afterwards a read-shared line. */
  _Atomic uint32_t lat_warm[2];
  macho_object_ops obj_ops;
  macho__alloc alloc;
  bool object_mode;
  uint64_t uid;                  /* unique for the process's lifetime (thread records) */
  uint64_t default_ttl_ns;       /* 0 = never */
  uint64_t hash8_flip;           /* macho__hash8_flip(cfg.seed) */
  uint32_t nshards;
  macho__shard *shards;          /* 64-byte aligned inside shards_block */
  void *shards_block;
  size_t shards_block_size;
  _Atomic(macho__trec *) recs;   /* registry of per-thread records */
  _Atomic uint32_t nrecs;
  size_t rec_size;
  /* -- features (issue 12) -- */
  bool listen;                   /* cfg.on_remove set: removals are reported (listen.c) */
  bool need_ext;                 /* shards keep macho__ext per slot */
  bool weigh;                    /* object mode with a budget: puts weigh their entries */
  uint64_t user_capacity_bytes;  /* the budget asked for (open, macho_resize); 0 = none */
  uint64_t refresh_after_ns;     /* 0 = no refresh-ahead */
  uint64_t negative_ttl_ns;      /* 0 = no negative caching */
  struct macho__loads *loads;    /* get_or_load's flights and negatives (load.c) */
  _Atomic uint32_t flights;      /* records in loads (puts and deletes look only when nonzero) */
  struct macho__pressure *pressure; /* cgroup limit follower (pressure.c); NULL = off */
  _Atomic uint64_t pressure_next; /* cache-clock time of the next check of the limit */
  char *memory_max_path;         /* the cache's copy of cfg.memory_max_path */
  _Atomic int resizing;          /* macho_resize calls in progress (one at a time) */
};

#endif /* MACHO_TYPES_H */
