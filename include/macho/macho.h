/*
 * macho.h -- the whole public API of libmacho, an in-memory cache.
 *
 * A cache is a set of shards; each shard holds a slice of the capacity, its own
 * lock, index, eviction policy state, optional membership filter and counters.
 * Keys are routed to shards by a 64-bit hash (xxHash3 in bytes mode, the
 * caller's hash mixed by a finaliser in object mode).
 *
 * Two key/value modes, fixed when the cache is opened:
 *   - bytes mode (default): binary-safe keys and values, copied in; `get`
 *     copies the value out, so no caller ever holds memory the cache may free.
 *   - object mode (config.object_ops != NULL): keys and values are opaque
 *     pointers that the cache retains and releases through caller callbacks;
 *     `get` hands out a retained reference that the caller releases.
 *
 * Conventions: every function that can fail returns an int status (MACHO_OK = 0,
 * negative codes below); results come back through out-parameters. All
 * functions taking a macho_cache* are thread-safe unless documented otherwise.
 * Free/close functions accept NULL.
 */
#ifndef MACHO_MACHO_H
#define MACHO_MACHO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MACHO_VERSION_MAJOR 0
#define MACHO_VERSION_MINOR 1
#define MACHO_VERSION_PATCH 0
/* major*10000 + minor*100 + patch, as mimalloc and zstd do. */
#define MACHO_VERSION \
  (MACHO_VERSION_MAJOR * 10000 + MACHO_VERSION_MINOR * 100 + MACHO_VERSION_PATCH)

#if defined(_WIN32)
#define MACHO_API
#elif defined(__GNUC__)
#define MACHO_API __attribute__((visibility("default")))
#else
#define MACHO_API
#endif

#if defined(__GNUC__)
#define MACHO_NODISCARD __attribute__((warn_unused_result))
#else
#define MACHO_NODISCARD
#endif

/* ------------------------------------------------------------------------ */
/* Status codes. One table generates the enum, macho_strerror and            */
/* macho_status_name, so codes and messages never drift apart. The numbers   */
/* are part of the ABI and never change.                                      */
/* ------------------------------------------------------------------------ */
#define MACHO_STATUS_MAP(X)                                                          \
  X(OK, 0, "success")                                                                \
  X(ENOTFOUND, -1, "key not found")                                                  \
  X(EINVAL, -2, "invalid argument")                                                  \
  X(ENOMEM, -3, "out of memory")                                                     \
  X(ETOOBIG, -4, "entry larger than the cache's byte budget")                       \
  X(ERANGE, -5, "buffer too small for the value")                                    \
  X(EMODE, -6, "call does not match the cache's key mode (bytes or objects)")       \
  X(ECALLBACK, -7, "a caller-supplied callback reported an error")                   \
  X(EBUSY, -8, "resource busy")                                                      \
  X(EIO, -9, "input/output error")                                                   \
  X(ENOTSUP, -10, "not supported by this build or configuration")                    \
  X(EADDRINUSE, -11, "address already in use")                                      \
  X(EDEADLK, -12, "a loader asked for a key that it (or a loader waiting on it) is loading") \
  X(EFORMAT, -13, "not a macho snapshot (foreign file)")                            \
  X(ETRUNCATED, -14, "snapshot is truncated")                                       \
  X(ECORRUPT, -15, "snapshot is corrupt (checksum or structure)")                   \
  X(EVERSION, -16, "snapshot written by a newer macho (format version unknown)")

typedef enum macho_status {
#define MACHO__STATUS_ENUM(name, code, msg) MACHO_##name = (code),
  MACHO_STATUS_MAP(MACHO__STATUS_ENUM)
#undef MACHO__STATUS_ENUM
} macho_status;

/* A static message for a status code ("unknown status" for anything else). */
MACHO_API const char *macho_strerror(int status);
/* The code's name without prefix, e.g. "EINVAL" ("UNKNOWN" otherwise). */
MACHO_API const char *macho_status_name(int status);

/* Library version as MACHO_VERSION, and as a "major.minor.patch" string. */
MACHO_API unsigned macho_version(void);
MACHO_API const char *macho_version_string(void);

/* ------------------------------------------------------------------------ */
/* Policies and filters                                                       */
/* ------------------------------------------------------------------------ */
typedef enum macho_policy {
  MACHO_POLICY_LRU = 0,   /* least recently used */
  MACHO_POLICY_FIFO,      /* first in, first out */
  MACHO_POLICY_RANDOM,    /* uniform random victim, reproducible from config.seed */
  MACHO_POLICY_LFU,       /* least frequently used, O(1) frequency buckets */
  MACHO_POLICY_MFU,       /* most frequently used */
  MACHO_POLICY_SIEVE,     /* SIEVE (Zhang et al., NSDI'24) */
  MACHO_POLICY_S3FIFO,    /* S3-FIFO (Yang et al., SOSP'23) */
  MACHO_POLICY_WTINYLFU,  /* W-TinyLFU (Einziger et al., ACM TOS 2017) */
  MACHO_POLICY_ARC,       /* ARC (Megiddo & Modha, FAST'03) */
  MACHO_POLICY_AUTO,      /* follows the best of several policies, by miniature simulation */
  MACHO_POLICY_COUNT
} macho_policy;

typedef enum macho_filter {
  MACHO_FILTER_NONE = 0,
  MACHO_FILTER_BLOOM,
  MACHO_FILTER_CUCKOO,
  MACHO_FILTER_XOR,
  MACHO_FILTER_COUNT
} macho_filter;

/* Smallest filter_fp_rate accepted with a filter. Below it no filter here
 * can honour the rate: the Bloom filter's probes are capped (it would size
 * megabytes per few hundred keys for a rate it cannot reach), and the cuckoo
 * and xor filters run out of 32-bit fingerprint bits. Rates in
 * [MACHO_FILTER_FP_RATE_MIN, 1) are all honoured: never a false negative, and
 * a measured rate near p (at most p; near 1 the xor filter lands on 255/256
 * and the cuckoo filter on 1 - 2^-7.2). */
#define MACHO_FILTER_FP_RATE_MIN 1e-9

/* Lower-case names: "lru", "fifo", "random", "lfu", "mfu", "sieve", "s3fifo",
 * "wtinylfu", "arc", "auto"; filters "none", "bloom", "cuckoo", "xor". NULL if out of range. */
MACHO_API const char *macho_policy_name(macho_policy policy);
MACHO_API const char *macho_filter_name(macho_filter filter);
/* Parse a name (case-sensitive). MACHO_EINVAL for an unknown name or NULL args. */
MACHO_API MACHO_NODISCARD int macho_policy_parse(const char *name, macho_policy *out);
MACHO_API MACHO_NODISCARD int macho_filter_parse(const char *name, macho_filter *out);
/* 1 when this build implements the policy / filter, else 0. */
MACHO_API int macho_policy_available(macho_policy policy);
MACHO_API int macho_filter_available(macho_filter filter);

/* Why an entry (or a value) left the cache: lifespan metrics and the
 * removal listener (config.on_remove). */
typedef enum macho_removal {
  MACHO_REMOVED_EVICTED = 0, /* chosen by the policy to make room (entry count, byte budget,
                                macho_resize, memory pressure) */
  MACHO_REMOVED_EXPIRED,     /* its TTL passed */
  MACHO_REMOVED_DELETED,     /* macho_delete */
  MACHO_REMOVED_REPLACED,    /* a put (or a reload) replaced its value: the listener gets the
                                old value; the entry stays */
  MACHO_REMOVED_CLEARED,     /* macho_clear, or macho_close with a listener set */
  MACHO_REMOVED_COUNT,       /* reasons macho_stats keeps lifespans for */
  /* Listener only: W-TinyLFU's admission filter refused the entry a place in
   * the main space (its window candidate lost to the main victim). Counted
   * as an eviction in the counters and in lifespan_ns[MACHO_REMOVED_EVICTED]. */
  MACHO_REMOVED_REJECTED = MACHO_REMOVED_COUNT
} macho_removal;
/* Number of reasons a listener may see (MACHO_REMOVED_REJECTED included). */
#define MACHO_REMOVAL_REASONS (MACHO_REMOVED_REJECTED + 1)
/* "evicted", "expired", "deleted", "replaced", "cleared", "rejected"; NULL otherwise. */
MACHO_API const char *macho_removal_name(macho_removal reason);

/* ------------------------------------------------------------------------ */
/* Configuration                                                              */
/* ------------------------------------------------------------------------ */

/* Object mode callbacks. `ctx` is passed back to each.
 * - hash: write a hash of `key` to *out and return 0, or return nonzero to
 *   signal an error (the call then fails with MACHO_ECALLBACK). Called with no
 *   lock held. The cache mixes the value, so a weak hash (identity) is fine.
 * - equal: return 1 when equal, 0 when not, negative on error. Called with no
 *   lock held; it may call back into the same cache.
 * - retain: take a reference to obj. Called WITH a shard lock held: it must be
 *   quick and must not call into the cache.
 * - release: drop a reference. Called with no lock held; may re-enter.
 * More optional object-mode hooks (weigh, dump, undump) are config fields. */
typedef struct macho_object_ops {
  int (*hash)(void *ctx, const void *key, uint64_t *out);
  int (*equal)(void *ctx, const void *a, const void *b);
  void (*retain)(void *ctx, void *obj);
  void (*release)(void *ctx, void *obj);
  void *ctx;
} macho_object_ops;

/* Allocator hooks: every allocation the cache makes goes through these (tests
 * use them to fail the n-th allocation). All three or none. realloc/free get
 * the old size so that arena and accounting allocators can use it. */
typedef struct macho_allocator {
  void *(*malloc)(void *ctx, size_t size);
  void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
  void (*free)(void *ctx, void *ptr, size_t size);
  void *ctx;
} macho_allocator;

/* Monotonic clock in nanoseconds, used for deadlines, lifespans and latency
 * alike. Tests inject one. NULL = the system's clocks: CLOCK_MONOTONIC_COARSE
 * (the kernel tick, 1-4 ms resolution, a few ns to read) for deadlines,
 * lifespans and snapshot times, CLOCK_MONOTONIC for latency samples. */
typedef uint64_t (*macho_clock_fn)(void *ctx);

/* Removal listener (config.on_remove): called once for every entry that
 * leaves the cache and for every value a put replaces, with the reason.
 * Bytes mode: key/value point at the entry's bytes, valid during the call.
 * Object mode: key and value are the objects (klen = vlen = 0), alive during
 * the call (retain them to keep them).
 * Threading and order: the listener runs on the thread whose call caused the
 * removal (the put that evicted, the get or sweep that found an entry
 * expired, the delete, the clear, the resize; a background reload's
 * replacement on the thread running the reload), after the shard lock is
 * released and before that call returns. No macho lock is held: it may call
 * back into the cache (not macho_close). The removals of one call are
 * reported in the order they happened; calls on different threads report
 * concurrently, in no particular order. Exactly once per removal: a removal
 * is never reported twice nor lost, also when the listener re-enters. */
typedef void (*macho_removal_fn)(void *ctx, const void *key, size_t klen, const void *value,
                                 size_t vlen, macho_removal reason);

/* A background reload (refresh-ahead, config.refresh_after_seconds) handed
 * to an executor (config.refresh_executor): run it with macho_refresh_run,
 * on any thread, or drop it with macho_refresh_cancel. Either frees it. */
typedef struct macho_refresh macho_refresh;
typedef void (*macho_executor_fn)(void *ctx, macho_refresh *job);

/* What the byte budget charges an entry on top of its payload: its slot
 * (24 bytes), its share of the table's spare slots and group headers, and
 * the policy's links. A bytes-mode entry is charged MACHO_ENTRY_OVERHEAD
 * plus, for its key and for its value, 0 bytes when at most 8 bytes long
 * (they live inside the slot), the arena block that holds them up to 64 KiB
 * (the length rounded up to its size class, at most 25% more), or the
 * length + 8 beyond. Object mode: MACHO_ENTRY_OVERHEAD + config.weigh(key, value). */
#define MACHO_ENTRY_OVERHEAD 48u
/* What the byte budget charges a bytes-mode entry with a klen-byte key and
 * a vlen-byte value (the rule above), to size a budget or to tell whether
 * an entry fits in one (a put fails with MACHO_ETOOBIG when the charge
 * exceeds its shard's share of capacity_bytes). */
MACHO_API uint64_t macho_entry_charge(size_t klen, size_t vlen);

typedef struct macho_config {
  size_t capacity_entries;   /* total entries across shards (default 100); capacity_entries /
                                shards must be below 2^30 - 1 */
  size_t capacity_bytes;     /* byte budget, 0 = none: the entries' charges (see
                                MACHO_ENTRY_OVERHEAD) never exceed it; object mode needs
                                config.weigh. Split across shards like capacity_entries */
  double ttl_seconds;        /* default TTL (600); 0 or +inf = entries never expire */
  uint32_t shards;           /* number of shards (1); 1 <= shards <= capacity_entries */
  macho_policy policy;       /* MACHO_POLICY_LRU */
  macho_filter filter;       /* MACHO_FILTER_NONE */
  double filter_fp_rate;     /* target false-positive rate in (0,1) (0.5); with a filter,
                                at least MACHO_FILTER_FP_RATE_MIN */
  uint64_t seed;             /* hashing and Random policy seed (0 is a valid seed) */
  int metrics;               /* 1 = latency/lifespan metrics on, latency timed on 1 op in
                                MACHO_LATENCY_SAMPLE_EVERY (default); 2 = every op timed;
                                0 = counters only, no clock reads for latency */
  const macho_object_ops *object_ops; /* NULL = bytes mode; else object mode (copied at open) */
  const macho_allocator *allocator;   /* NULL = libc (copied at open) */
  macho_clock_fn clock;      /* NULL = CLOCK_MONOTONIC_COARSE (deadlines) + CLOCK_MONOTONIC (latency) */
  void *clock_ctx;
  int mrc;                   /* 1 = keep the live miss-ratio curve (macho_mrc_get); 0 = off (default) */
  /* ---- features; all off by default (the get path costs the same then) ---- */
  macho_removal_fn on_remove;    /* removal listener (see macho_removal_fn), NULL = none */
  void *on_remove_ctx;
  double negative_ttl_seconds;   /* get_or_load remembers a loader's MACHO_ENOTFOUND this long
                                    (0 = not at all): calls meanwhile answer ENOTFOUND at once */
  double refresh_after_seconds;  /* get_or_load of an entry older than this (since its last
                                    write) returns it and reloads it in the background once;
                                    0 = never */
  macho_executor_fn refresh_executor; /* who runs those reloads: NULL = one thread of the cache's
                                    own (started on the first reload); else called with each job */
  void *refresh_executor_ctx;
  double memory_max_fraction;    /* in (0, 1]: capacity_bytes follows this fraction of the
                                    cgroup's memory limit (re-read every second of cache clock,
                                    by puts); 0 = off */
  const char *memory_max_path;   /* file holding the limit in bytes ("max" = none); NULL = this
                                    process's cgroup: v2 memory.max, else v1
                                    memory.limit_in_bytes. Copied at open */
  /* Object mode, optional, each called with object_ops->ctx and no lock held:
   * - weigh: an entry's weight for the byte budget (capacity_bytes in object
   *   mode needs it): write it to *out and return 0, nonzero = error
   *   (MACHO_ECALLBACK). Called once per put. The entry is charged
   *   MACHO_ENTRY_OVERHEAD + its weight.
   * - dump / dump_done / undump: an object as bytes and back, for macho_save
   *   and macho_load. dump points *data at *len bytes valid until
   *   dump_done(ctx, *token); undump makes a new object (a reference the
   *   cache releases after putting it). Nonzero = error (MACHO_ECALLBACK). */
  int (*weigh)(void *ctx, const void *key, const void *value, uint64_t *out);
  int (*dump)(void *ctx, const void *obj, const void **data, size_t *len, void **token);
  void (*dump_done)(void *ctx, void *token);
  int (*undump)(void *ctx, const void *data, size_t len, void **obj);
} macho_config;

/* Fill *cfg with the defaults of the original macho: 100 entries, TTL 600 s,
 * 1 shard, LRU, no filter, false-positive rate 0.5, metrics on. */
MACHO_API void macho_config_init(macho_config *cfg);

/* Check a configuration without opening a cache. Returns MACHO_OK or
 * MACHO_EINVAL; on EINVAL, *why (if why != NULL) points to a static sentence
 * saying which field is wrong and why. */
MACHO_API MACHO_NODISCARD int macho_config_check(const macho_config *cfg, const char **why);

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                   */
/* ------------------------------------------------------------------------ */
typedef struct macho_cache macho_cache;

/* Open a cache. On success *out owns a new cache (close it with macho_close).
 * Returns MACHO_EINVAL for a bad config (see macho_config_check for the
 * reason), MACHO_ENOMEM when allocation fails (nothing leaks). */
MACHO_API MACHO_NODISCARD int macho_open(const macho_config *cfg, macho_cache **out);

/* Close and free a cache; releases every object in object mode. NULL is a
 * no-op. Not thread-safe with respect to other calls on the same cache. */
MACHO_API void macho_close(macho_cache *cache);

/* ------------------------------------------------------------------------ */
/* Bytes mode. Keys and values are copied in; klen may be 0 (key may then be  */
/* NULL), and likewise vlen. Complexity: O(1) expected, amortised.            */
/* ------------------------------------------------------------------------ */

/* Insert or replace key -> value with the configured TTL. May evict entries
 * chosen by the policy. MACHO_ETOOBIG when klen+vlen exceeds a shard's byte
 * budget, MACHO_ENOMEM on allocation failure (the cache is unchanged),
 * MACHO_EMODE on an object-mode cache. */
MACHO_API MACHO_NODISCARD int macho_put(macho_cache *cache, const void *key, size_t klen,
                                        const void *value, size_t vlen);
/* As macho_put with a TTL for this entry: 0 or +inf = never expires;
 * negative or NaN = MACHO_EINVAL. */
MACHO_API MACHO_NODISCARD int macho_put_ttl(macho_cache *cache, const void *key, size_t klen,
                                            const void *value, size_t vlen, double ttl_seconds);

/* Look up key and copy its value into buf (capacity buflen). *vlen receives
 * the value's length (may be NULL). MACHO_ENOTFOUND when absent or expired
 * (counts a miss); MACHO_ERANGE when buflen is too small: nothing is copied,
 * *vlen tells the size needed, and no counter or recency changes. A hit
 * counts as a hit and a request and informs the eviction policy. */
MACHO_API MACHO_NODISCARD int macho_get(macho_cache *cache, const void *key, size_t klen,
                                        void *buf, size_t buflen, size_t *vlen);

/* MACHO_OK when key is present and not expired, else MACHO_ENOTFOUND. A peek:
 * no counters, no recency. */
MACHO_API MACHO_NODISCARD int macho_contains(macho_cache *cache, const void *key, size_t klen);

/* Remove key. MACHO_OK, or MACHO_ENOTFOUND when it was absent. */
MACHO_API MACHO_NODISCARD int macho_delete(macho_cache *cache, const void *key, size_t klen);

/* ------------------------------------------------------------------------ */
/* Object mode. The cache retains key and value on insert (a replace retains  */
/* the new value and keeps the original key, as a dict does). NULL keys are   */
/* rejected with MACHO_EINVAL; NULL values are allowed.                       */
/* ------------------------------------------------------------------------ */
MACHO_API MACHO_NODISCARD int macho_obj_put(macho_cache *cache, void *key, void *value);
MACHO_API MACHO_NODISCARD int macho_obj_put_ttl(macho_cache *cache, void *key, void *value,
                                                double ttl_seconds);
/* On MACHO_OK, *value holds a retained reference the caller must release. */
MACHO_API MACHO_NODISCARD int macho_obj_get(macho_cache *cache, const void *key, void **value);
MACHO_API MACHO_NODISCARD int macho_obj_contains(macho_cache *cache, const void *key);
MACHO_API MACHO_NODISCARD int macho_obj_delete(macho_cache *cache, const void *key);

/* ------------------------------------------------------------------------ */
/* Whole-cache operations                                                     */
/* ------------------------------------------------------------------------ */

/* Remove every entry (reason MACHO_REMOVED_CLEARED). Counters are kept.
 * Needs no allocation, so it always completes: MACHO_OK, or MACHO_EINVAL for
 * NULL. Shards are emptied one after another (object mode: in batches, the
 * objects released between them with no lock held); an entry put
 * concurrently may survive the clear. */
MACHO_API MACHO_NODISCARD int macho_clear(macho_cache *cache);

/* Number of entries stored now, across shards (expired entries not yet
 * reclaimed are included until the next access or sweep). 0 for NULL. */
MACHO_API size_t macho_len(macho_cache *cache);

/* Reclaim every expired entry now (O(n)). Expired entries are also reclaimed
 * automatically, a bounded number per operation. *reclaimed may be NULL. */
MACHO_API MACHO_NODISCARD int macho_expire(macho_cache *cache, size_t *reclaimed);

/* Call fn for every live entry's key, over a snapshot taken in slices: a
 * slice (at most 48 entries or 64 KiB of keys and values) is copied under
 * its shard's lock, then fn runs for it with no lock held (it may use the
 * cache), so a writer never waits for more than one slice. Consistency:
 * every entry present from the start of the iteration to its end is listed
 * exactly once (entries are not moved between groups while an iteration
 * runs, and a table rebuilt meanwhile -- growth, macho_resize -- is walked
 * again with the entries already listed skipped); entries added, deleted or
 * replaced meanwhile may or may not be. Each listing is one consistent state
 * of its entry. Expired keys are never listed.
 * Bytes mode: key/klen are a copy valid during the call. Object mode: key is
 * the object (retained during the call), klen is 0. fn returns 0 to go on,
 * nonzero to stop (that value is then returned). MACHO_ENOMEM possible
 * (the keys listed so far were listed; a shard's listed keys are remembered
 * in 8 bytes each while it is walked). */
typedef int (*macho_key_fn)(void *ctx, const void *key, size_t klen);
MACHO_API MACHO_NODISCARD int macho_foreach_key(macho_cache *cache, macho_key_fn fn, void *ctx);

/* A live entry as macho_foreach_entry shows it. Bytes mode: key and value are
 * copies valid during the call. Object mode: the objects themselves, retained
 * during the call (value may be NULL), klen = vlen = 0. */
typedef struct macho_entry_view {
  const void *key;
  size_t klen;
  const void *value;
  size_t vlen;
  double ttl_remaining; /* seconds until the entry expires (> 0); +INFINITY = never */
  /* The policy's view of the entry, where it has one: LFU/MFU its request
   * count, W-TinyLFU the frequency sketch's estimate, S3-FIFO its 2-bit hit
   * counter, SIEVE its visited bit, ARC 1 in T2 (requested twice); 0 for
   * LRU, FIFO, Random and auto. */
  uint32_t frequency;
} macho_entry_view;
typedef int (*macho_entry_fn)(void *ctx, const macho_entry_view *entry);
/* As macho_foreach_key, for every live entry with its value, remaining TTL
 * and policy hint (copies and pickling). A peek: no counters, no recency.
 * fn returns nonzero to stop (that value is returned). MACHO_EINVAL for NULL
 * cache/fn, MACHO_ENOMEM. */
MACHO_API MACHO_NODISCARD int macho_foreach_entry(macho_cache *cache, macho_entry_fn fn, void *ctx);

/* The n entries the policy would evict first (coldest) or last (hottest),
 * in that order, as macho_foreach_entry shows them (Caffeine's
 * policy().eviction().coldest(n) / hottest(n)). Exact for LRU, FIFO, LFU,
 * MFU (MFU evicts the most frequent first: its coldest are its most used)
 * and SIEVE (the order its hand would evict in if no hit came meanwhile);
 * for S3-FIFO, W-TinyLFU and ARC that order approximately (their victims
 * also move entries between queues).
 * With several shards, each shard's order is kept and the shards are taken
 * in turn (round robin). Each shard lists up to n entries under its lock
 * (O(n): meant for small n). A peek: no counters, no recency. fn returns
 * nonzero to stop (that value is returned). n may exceed the entries
 * (SIZE_MAX = all). MACHO_ENOTSUP for Random (no order) and auto (the
 * policy it follows may change between two calls), MACHO_EINVAL,
 * MACHO_ENOMEM. ARC: T2 (the entries requested twice) first while T1 is
 * within its target, approximately. */
MACHO_API MACHO_NODISCARD int macho_coldest(macho_cache *cache, size_t n, macho_entry_fn fn, void *ctx);
MACHO_API MACHO_NODISCARD int macho_hottest(macho_cache *cache, size_t n, macho_entry_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Peeks and per-entry TTL                                                    */
/* ------------------------------------------------------------------------ */

/* As macho_get, but a peek: no counter, no recency, no policy change; an
 * expired entry is not found. Lock-free in bytes mode. MACHO_ENOTFOUND,
 * MACHO_ERANGE (*vlen = the length needed), MACHO_EINVAL, MACHO_EMODE. */
MACHO_API MACHO_NODISCARD int macho_peek(macho_cache *cache, const void *key, size_t klen,
                                         void *buf, size_t buflen, size_t *vlen);
/* Object mode: *value holds a retained reference the caller releases. */
MACHO_API MACHO_NODISCARD int macho_obj_peek(macho_cache *cache, const void *key, void **value);

/* Seconds until key expires (> 0; +INFINITY = never) into *remaining.
 * MACHO_ENOTFOUND when absent or expired. A peek. */
MACHO_API MACHO_NODISCARD int macho_ttl_get(macho_cache *cache, const void *key, size_t klen,
                                            double *remaining);
MACHO_API MACHO_NODISCARD int macho_obj_ttl_get(macho_cache *cache, const void *key, double *remaining);
/* Give key a new TTL counted from now (0 or +INFINITY = never expires),
 * keeping its value and its place in the policy. MACHO_ENOTFOUND when absent
 * or expired, MACHO_EINVAL for a negative or NaN TTL. */
MACHO_API MACHO_NODISCARD int macho_ttl_set(macho_cache *cache, const void *key, size_t klen,
                                            double ttl_seconds);
MACHO_API MACHO_NODISCARD int macho_obj_ttl_set(macho_cache *cache, const void *key, double ttl_seconds);

/* ------------------------------------------------------------------------ */
/* Runtime resize                                                             */
/* ------------------------------------------------------------------------ */

/* Keep a limit as it is (macho_resize). */
#define MACHO_RESIZE_KEEP SIZE_MAX

/* Change the entry capacity and the byte budget of a live cache
 * (MACHO_RESIZE_KEEP keeps one; capacity_bytes 0 = no budget), split across
 * shards as at open. Growing is immediate: the table grows as entries come.
 * Shrinking evicts by the policy (reason MACHO_REMOVED_EVICTED, listener
 * called) in steps of at most 48 entries per lock hold, then rebuilds a
 * table that became too big (as growth does: lock-free gets go on reading
 * the old one meanwhile); puts respect the new limits from the start, so the
 * cache holds more than them only until this call returns, never more than
 * before. Returns when every shard is within the new limits. MACHO_EINVAL
 * when capacity_entries < shards, or a budget smaller than the shard count,
 * or a budget in object mode without config.weigh; MACHO_ENOMEM when a
 * rebuild could not allocate (the limits then hold anyway, in a table that
 * stays larger than needed). With memory_max_fraction, the budget in force
 * is the smaller of this one and the cgroup's share. Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_resize(macho_cache *cache, size_t capacity_entries,
                                           size_t capacity_bytes);

/* ------------------------------------------------------------------------ */
/* Get-or-load (single flight), negative caching, refresh-ahead              */
/* ------------------------------------------------------------------------ */

/* Where a loader puts what it found (valid during the loader's call only). */
typedef struct macho_loaded macho_loaded;
/* Bytes mode: the value (copied). MACHO_EMODE in object mode, MACHO_ENOMEM. */
MACHO_API MACHO_NODISCARD int macho_loaded_set(macho_loaded *out, const void *value, size_t vlen);
/* Object mode: the value (retained; the loader keeps its own reference).
 * When the loader then fails, this object is the error every caller
 * receives (a Python exception, for instance). MACHO_EMODE in bytes mode. */
MACHO_API MACHO_NODISCARD int macho_loaded_set_obj(macho_loaded *out, void *value);
/* A TTL for the loaded entry (default: the cache's). MACHO_EINVAL if negative or NaN. */
MACHO_API MACHO_NODISCARD int macho_loaded_set_ttl(macho_loaded *out, double ttl_seconds);

/* Load the value of key (klen bytes; object mode: key is the object, klen 0)
 * into *out. Return MACHO_OK (a value was set), MACHO_ENOTFOUND (the source
 * has no such key: nothing is cached but, with negative_ttl_seconds, the
 * answer), or anything else for a failure (nothing is cached; every caller
 * waiting for this load gets MACHO_ECALLBACK). Runs with no macho lock held:
 * it may use the cache, also get_or_load of other keys. MACHO_ENOMEM (from
 * macho_loaded_set, say) reaches the callers as MACHO_ENOMEM. */
typedef int (*macho_load_fn)(void *ctx, const void *key, size_t klen, macho_loaded *out);
typedef struct macho_loader {
  macho_load_fn load;
  void *ctx;
  /* Optional: a background reload (refresh-ahead) keeps ctx after the call
   * returns: retain it when the reload is queued, release when it has run
   * (NULL: ctx must stay valid until macho_close). */
  void (*retain)(void *ctx);
  void (*release)(void *ctx);
  /* Optional: called around the wait for another thread's load of the same
   * key (the Python binding releases its GIL there). */
  void *(*wait_begin)(void *ctx);
  void (*wait_end)(void *ctx, void *token);
} macho_loader;

/* Get key; on a miss, load it: exactly one caller per key runs the loader
 * at a time (single flight), the others for the same key wait for its
 * result, and callers for other keys are not held up. A loaded value is put
 * into the cache (with the loader's TTL, or the cache's) and copied into
 * buf as macho_get does. Returns MACHO_OK; MACHO_ENOTFOUND when the loader
 * said so (or remembered so, negative_ttl_seconds); MACHO_ECALLBACK when the
 * loader failed (for every caller waiting on that load; nothing cached);
 * MACHO_ERANGE when buflen is too small (*vlen = the length; the value is
 * cached); MACHO_EDEADLK when the loader, directly or through loaders it
 * waits for, asks for the key it is loading (instead of a deadlock);
 * MACHO_EINVAL, MACHO_EMODE, MACHO_ENOMEM. A value too big for the byte
 * budget is returned but not cached.
 * Refresh-ahead (refresh_after_seconds): a hit on an entry written longer
 * ago returns its value at once and queues one background reload of it
 * (only one per key at a time); the reload replaces the value when it
 * succeeds (reason REPLACED) and changes nothing when it fails (the old
 * value stays until its TTL), unless the key was put or deleted meanwhile.
 * Hits take the shard lock while refresh-ahead is on. */
MACHO_API MACHO_NODISCARD int macho_get_or_load(macho_cache *cache, const void *key, size_t klen,
                                                const macho_loader *loader, void *buf, size_t buflen,
                                                size_t *vlen);
/* Object mode. MACHO_OK: *value holds a retained reference the caller
 * releases. MACHO_ECALLBACK: *value is the loader's error object (retained;
 * NULL if it gave none). */
MACHO_API MACHO_NODISCARD int macho_obj_get_or_load(macho_cache *cache, const void *key,
                                                    const macho_loader *loader, void **value);
/* Run a background reload handed to config.refresh_executor (any thread, no
 * lock held; the loader runs here), or drop it. Both free the job; every
 * job must get one of them, and macho_close waits until all have. */
MACHO_API void macho_refresh_run(macho_refresh *job);
MACHO_API void macho_refresh_cancel(macho_refresh *job);

/* ------------------------------------------------------------------------ */
/* Snapshots and warm restart (src/snapshot.c; format in docs/DESIGN.md)     */
/* ------------------------------------------------------------------------ */

/* Write every live entry (key, value, remaining TTL, policy order) to path:
 * into a temporary file beside it, fsync, rename over path, fsync the
 * directory, so path holds the old snapshot or the new one, whole, whatever
 * happens (a crash leaves at most a stale "path.tmp.*" file). The walk is
 * the sliced one of macho_foreach_entry: writers wait for one slice at a
 * time, lock-free gets not at all. Object mode needs config.dump.
 * MACHO_EIO (errno tells more), MACHO_ENOMEM, MACHO_ECALLBACK, MACHO_EINVAL,
 * MACHO_ENOTSUP (object mode without dump). */
MACHO_API MACHO_NODISCARD int macho_save(macho_cache *cache, const char *path);
/* The same snapshot through a writer: write(ctx, data, n) returns 0, or
 * nonzero to stop (then MACHO_EIO). */
typedef int (*macho_write_fn)(void *ctx, const void *data, size_t n);
MACHO_API MACHO_NODISCARD int macho_save_to(macho_cache *cache, macho_write_fn write, void *ctx);

/* Read a snapshot and put its entries into the cache (coldest first, so that
 * the policy's order survives; keys already present get the snapshot's
 * value; other entries stay). TTLs count on from what remained at the save,
 * less the wall-clock time since (system clock only; with an injected
 * clock, what remained). The whole file is checked before the cache is
 * touched: MACHO_EFORMAT (not a macho snapshot), MACHO_ETRUNCATED,
 * MACHO_ECORRUPT (checksum or structure), MACHO_EVERSION (a newer format),
 * MACHO_EMODE (written by a cache of the other mode) leave the cache
 * unchanged; MACHO_EIO (reading), MACHO_ECALLBACK (undump failed) too.
 * MACHO_ENOMEM halfway leaves the entries loaded so far. Object mode needs
 * config.undump. */
MACHO_API MACHO_NODISCARD int macho_load(macho_cache *cache, const char *path);
MACHO_API MACHO_NODISCARD int macho_load_from(macho_cache *cache, const void *data, size_t n);

/* ------------------------------------------------------------------------ */
/* Counters                                                                   */
/* ------------------------------------------------------------------------ */
typedef struct macho_counters {
  uint64_t hits, misses;       /* gets that found / did not find a live entry */
  uint64_t gets, puts, deletes;
  uint64_t requests;           /* gets + puts, as the original counted */
  uint64_t evictions, expirations;
  uint64_t entries;            /* stored now */
  uint64_t capacity_entries;
  uint64_t capacity_bytes;     /* 0 = no byte budget */
  uint64_t payload_bytes;      /* key + value bytes stored (bytes mode) */
  uint64_t memory_bytes;       /* everything the cache holds: index, entries, payload, policy, filter */
  uint64_t filter_queries, filter_negatives, filter_false_positives;
  uint64_t charged_bytes;      /* what the entries are charged against capacity_bytes
                                  (MACHO_ENTRY_OVERHEAD each plus payload; object mode
                                  without a weigher: 0) */
} macho_counters;

/* Number of shards. 0 for NULL. */
MACHO_API uint32_t macho_shard_count(const macho_cache *cache);
/* Counters of one shard (shard < count), or the total when shard == -1. */
MACHO_API MACHO_NODISCARD int macho_counters_get(macho_cache *cache, int shard,
                                                 macho_counters *out);
/* The policy a shard runs now and how often it changed: config.policy and 0,
 * except under MACHO_POLICY_AUTO, which follows one of its candidates and may
 * change (src/policy/auto.c). With shard == -1: the policy most shards run
 * (the lowest on a tie) and the changes of all shards. Either out pointer may
 * be NULL. MACHO_EINVAL for bad arguments. Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_policy_current(macho_cache *cache, int shard, macho_policy *policy,
                                                   uint64_t *changes);

/* The configuration the cache was opened with. object_ops and allocator point
 * at the cache's own copies (valid until macho_close); clock_ctx is as given. */
MACHO_API MACHO_NODISCARD int macho_config_get(const macho_cache *cache, macho_config *out);

/* ------------------------------------------------------------------------ */
/* Live miss-ratio curve (src/mrc.c), with config.mrc = 1: the miss ratio     */
/* this cache would have at 0.25, 0.5, 1, 2, 4 and 8 times its capacity,      */
/* same policy, same requests, estimated continuously by miniature            */
/* simulation (Waldspurger et al., USENIX ATC'17) of a spatially hashed       */
/* sample of the keys (SHARDS, FAST'15): every get's key hash is tested with  */
/* one multiply-compare, and the sampled ones (rate min(1, 3072/capacity))    */
/* are replayed through six small simulated caches of the cache's policy.     */
/* Caches of up to 3072 entries are simulated exactly. Only gets feed the     */
/* curve: deletes and expiry do not reach the simulations. Memory: at most    */
/* about 16 x 3072 simulated entries for the whole cache, 4-6 MB (counted in  */
/* memory_bytes); a get of a sampled key costs six simulated requests.       */
/* ------------------------------------------------------------------------ */
#define MACHO_MRC_POINTS 6

typedef struct macho_mrc {
  double multiple[MACHO_MRC_POINTS];   /* 0.25, 0.5, 1, 2, 4, 8 */
  uint64_t entries[MACHO_MRC_POINTS];  /* capacity (of the shard or the cache) x multiple */
  double miss_ratio[MACHO_MRC_POINTS]; /* estimated, in [0, 1]; NaN before the first sampled get */
  uint64_t gets;                       /* gets seen since open or macho_mrc_reset */
  uint64_t sampled_gets;               /* of which replayed through the simulations */
  double sample_rate;                  /* fraction of the keys simulated (1 = every key) */
  uint64_t memory_bytes;               /* the simulations (also part of counters.memory_bytes) */
} macho_mrc;

/* The curve of one shard (0 <= shard < macho_shard_count) or, with
 * shard == -1, of the whole cache (the shards' sampled misses pooled). Each
 * shard is read under its lock, one at a time. MACHO_EINVAL for bad
 * arguments, MACHO_ENOTSUP when the cache was opened with config.mrc == 0.
 * The estimate divides each simulation's sampled misses by the number of
 * sampled gets expected at the sample rate (SHARDS's adjustment), which
 * removes most of the error a few very popular sampled keys would bring.
 * Thread-safe. O(shards). */
MACHO_API MACHO_NODISCARD int macho_mrc_get(macho_cache *cache, int shard, macho_mrc *out);

/* Start the counts afresh (the simulated contents stay: they describe the
 * workload so far). MACHO_EINVAL for NULL, MACHO_ENOTSUP when the curve is
 * off. Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_mrc_reset(macho_cache *cache);

/* ------------------------------------------------------------------------ */
/* Statistics (src/metrics.c, src/hist.c): counters, latency and lifespan     */
/* distributions and a recent window, in one snapshot.                        */
/*                                                                            */
/* Distributions are log-linear histograms (HdrHistogram-style, Tene): values  */
/* below 128 are counted exactly; above, each power-of-two range is cut into   */
/* 64 equal buckets, so any percentile is reported within 1% of the exact     */
/* value (a bucket's midpoint is at most 1/128 from any value in it). Each    */
/* shard keeps its own histograms under its lock (no atomics on the hot path); */
/* a snapshot merges them. Latency covers the public call from argument       */
/* checks to the shard unlock, timed on the cache clock. A shard's histograms */
/* (~110 KiB, counted in memory_bytes) are allocated when it first records.   */
/* ------------------------------------------------------------------------ */
#define MACHO_STATS_VERSION 1         /* bumped when macho_stats changes shape */
#define MACHO_LATENCY_SAMPLE_EVERY 64 /* config.metrics == 1 times 1 op in this many */
#define MACHO_STATS_WINDOW_SECONDS 60 /* length of the recent window */

/* One histogram bucket: `count` values v with lo <= v <= hi. */
typedef struct macho_bucket {
  uint64_t lo, hi, count;
} macho_bucket;

/* A distribution of nanosecond values. Empty when count == 0 (then every
 * field is 0). min, max, sum and mean are exact, except that sum saturates at
 * UINT64_MAX (584 years of nanoseconds; the mean stays exact beyond it, so
 * merge distributions by count-weighted means, not by sums); percentiles are
 * within 1%. */
typedef struct macho_distribution {
  uint64_t count;
  uint64_t min, max, sum;
  double mean;
  uint64_t p50, p90, p99, p999; /* p50 is the median */
  uint32_t nbuckets;            /* non-empty buckets only */
  const macho_bucket *buckets;  /* ascending; owned by the macho_stats */
} macho_distribution;

/* Latency samples of one second of the cache clock (recent window). */
typedef struct macho_window_second {
  uint64_t second;                          /* cache clock time / 1e9 */
  uint64_t get_samples, get_sum_ns, get_max_ns;
  uint64_t put_samples, put_sum_ns, put_max_ns;
} macho_window_second;

typedef struct macho_stats {
  uint32_t version;             /* MACHO_STATS_VERSION */
  int shard;                    /* as asked: a shard index, or -1 for the whole cache */
  uint32_t shards;              /* shards in the cache */
  int metrics;                  /* config.metrics (0: only `counters` is filled) */
  uint32_t latency_sample_every;/* 1 in N operations timed (1, 64, or 0 when off) */
  uint64_t now_ns;              /* cache clock when the snapshot was taken */
  macho_counters counters;      /* as macho_counters_get, memory includes the metrics */
  macho_distribution get_latency_ns; /* gets: hits, misses and ERANGE */
  macho_distribution put_latency_ns; /* successful and failed puts */
  /* Time from insertion to removal of entries that left, by reason
   * (index MACHO_REMOVED_*; MACHO_REMOVED_REPLACED stays empty: a replaced
   * value does not end the entry). */
  macho_distribution lifespan_ns[MACHO_REMOVED_COUNT];
  uint32_t nwindow;             /* seconds in `window`, <= MACHO_STATS_WINDOW_SECONDS */
  const macho_window_second *window; /* oldest first; seconds with no sample omitted */
  int has_mrc;                  /* config.mrc: `mrc` is filled (as macho_mrc_get) */
  macho_mrc mrc;
} macho_stats;

/* Take a snapshot of one shard (0 <= shard < macho_shard_count) or, with
 * shard == -1, of the whole cache (shards merged). Each shard is read under
 * its lock, one at a time, so the cache never stops; figures of one shard are
 * mutually consistent. On MACHO_OK *out owns one allocation (free it with
 * macho_stats_free). MACHO_EINVAL for bad arguments, MACHO_ENOMEM (then *out
 * is NULL). Thread-safe. Cost: O(shards * buckets), about 15k buckets per
 * shard; meant for a dashboard's once-a-second poll, not for a hot path. */
MACHO_API MACHO_NODISCARD int macho_stats_get(macho_cache *cache, int shard, macho_stats **out);

/* Free a snapshot. NULL is a no-op. */
MACHO_API void macho_stats_free(macho_stats *stats);

/* Zero the counters (hits, misses, gets, puts, deletes, evictions,
 * expirations, filter figures), the histograms and the recent window of every
 * shard. Entries, capacity and memory are unaffected. Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_stats_reset(macho_cache *cache);

/* Value at quantile q in [0, 1] of a distribution from a snapshot (within
 * 1%); 0 for an empty one or NULL. O(nbuckets). */
MACHO_API uint64_t macho_distribution_quantile(const macho_distribution *d, double q);

/* ------------------------------------------------------------------------ */
/* Live dashboard (src/dashboard/): an HTTP server on a background thread     */
/* serving the page at /, a JSON snapshot at /api/stats, Prometheus text at   */
/* /metrics and 15 minutes of per-second history at /api/history (schemas:    */
/* docs/STATS_SCHEMA.md). With management on, also POST /api/clear,           */
/* POST /api/get?key=K and DELETE /api/key?key=K (bytes mode); with a token  */
/* too, GET /api/snapshot (the macho_save_to stream) and POST /api/restore    */
/* (a snapshot as the body, at most 1 GiB, loaded by macho_load_from).        */
/* ------------------------------------------------------------------------ */
typedef struct macho_dashboard macho_dashboard;

typedef struct macho_dashboard_options {
  const char *listen; /* "HOST:PORT", default "127.0.0.1:0" (port 0 = pick a free one);
                         HOST is IPv4, "localhost" or "[IPv6]" */
  const char *token;  /* required when HOST is not loopback; checked on every request
                         (Authorization: Bearer, ?token= or the page's cookie); 1-256 of
                         [A-Za-z0-9._~-]; NULL = none */
  int management;     /* 1 = enable the clear/get/del endpoints (default 0: read-only) */
  struct macho_tier *tier; /* also serve this Redis tier's figures: GET /api/tier and the
                              macho_tier_* series in /metrics; NULL = none (default). Pass
                              macho_tier_l1(tier) as the cache; the tier must outlive it. */
} macho_dashboard_options;

/* Fill *opts with the defaults above (NULL is a no-op). */
MACHO_API void macho_dashboard_options_init(macho_dashboard_options *opts);
/* Start serving `cache` (which must outlive the dashboard) on a background
 * thread; opts NULL = defaults. On MACHO_OK *out owns the server; stop it
 * with macho_dashboard_stop before closing the cache. MACHO_EINVAL for NULL
 * cache/out, an unparsable listen address, a non-loopback HOST without a
 * token, a malformed token or management not 0/1; MACHO_EMODE for management
 * on an object-mode cache (its endpoints take byte keys, and a clear would
 * release objects on the server thread); MACHO_EADDRINUSE when another
 * socket holds the address (bind failed with EADDRINUSE); MACHO_EIO for any
 * other socket error (say, an address this machine does not have);
 * MACHO_ENOMEM. The server reads the cache through the
 * public, thread-safe API only (POST /api/get is a real get: it counts). */
MACHO_API MACHO_NODISCARD int macho_dashboard_start(macho_cache *cache,
                                                    const macho_dashboard_options *opts,
                                                    macho_dashboard **out);
/* "http://HOST:PORT/" with the real port, plus "?token=T" when a token is
 * set (so that the printed URL opens the page); valid until
 * macho_dashboard_stop. NULL for NULL. */
MACHO_API const char *macho_dashboard_url(const macho_dashboard *dash);
/* Stop the server (waits for its thread) and free it. NULL is a no-op. */
MACHO_API void macho_dashboard_stop(macho_dashboard *dash);

/* ======================================================================== */
/* Redis tier (src/tier/): macho as a coherent near-cache (L1) in front of   */
/* Redis (L2). Reads look in L1, then Redis, and fill L1; writes go through  */
/* to Redis and L1. Coherence comes from Redis server-assisted client-side   */
/* caching (CLIENT TRACKING, REDIRECT to a connection subscribed to          */
/* __redis__:invalidate; optional BCAST with prefixes): Redis tells the tier */
/* which keys changed and the tier drops them from L1.                        */
/*                                                                            */
/* What the tier promises (README "Near-cache in front of Redis"):            */
/*  - a value read into L1 is dropped when Redis reports a change to its key; */
/*    a fill that raced such a report is never stored;                        */
/*  - on any error, timeout or reconnect of a connection whose tracking L1    */
/*    relies on, L1 is emptied first, and nothing is stored again until      */
/*    tracking is re-established;                                             */
/*  - a silent connection (half-open, paused server) is detected by a         */
/*    heartbeat (a PING on every connection) within heartbeat_interval_ms +  */
/*    heartbeat_timeout_ms, and then L1 is emptied;                           */
/*  - L1 answers only under a lease that each completed heartbeat round       */
/*    renews to (start of the round) + heartbeat_interval_ms +               */
/*    heartbeat_timeout_ms: should the tier's thread stall, gets bypass L1    */
/*    rather than serve past that bound;                                      */
/*  - an L1 entry never outlives the key's TTL in Redis (read with PTTL in   */
/*    the same MULTI as the value) nor the L1 config's TTL.                   */
/* So a value may be served at most (invalidation delivery delay) after a    */
/* write in normal operation, and never more than heartbeat_interval_ms +   */
/* heartbeat_timeout_ms after it. Built only with hiredis; without it every   */
/* macho_tier_* function returns MACHO_ENOTSUP (macho_tier_available()).      */
/* ======================================================================== */
typedef struct macho_tier macho_tier;

/* Why L1 was emptied as a whole (macho_tier_stats.flushes[] index). */
typedef enum macho_tier_flush_cause {
  MACHO_TIER_FLUSH_SERVER = 0,   /* Redis sent a flush message (FLUSHALL / FLUSHDB) */
  MACHO_TIER_FLUSH_INVALIDATION, /* the invalidation connection failed or closed */
  MACHO_TIER_FLUSH_DATA,         /* a tracked data connection failed or closed */
  MACHO_TIER_FLUSH_TIMEOUT,      /* a command on a tracked connection timed out */
  MACHO_TIER_FLUSH_HEARTBEAT,    /* the invalidation connection missed its heartbeat */
  MACHO_TIER_FLUSH_MANUAL,       /* macho_tier_flush_local */
  MACHO_TIER_FLUSH_COUNT
} macho_tier_flush_cause;

/* "server", "invalidation", "data", "timeout", "heartbeat", "manual"; NULL if out of range. */
MACHO_API const char *macho_tier_flush_cause_name(int cause);

/* A loader fills a double miss (absent in L1 and in Redis). It runs on the
 * calling thread, once per key at a time (other callers for the same key wait
 * for its result; other keys are not blocked), with no tier lock held. It
 * returns MACHO_OK after handing the value to macho_tier_load_set,
 * MACHO_ENOTFOUND when the key has no value (nothing is stored), or any other
 * value for an error (every waiter then gets MACHO_ECALLBACK, nothing is
 * stored). The loaded value is written to Redis with SET NX (a value another
 * writer stored meanwhile wins and is what the caller gets), then to L1. A
 * loader may call the tier for other keys; for the same key it gets
 * MACHO_EBUSY instead of a deadlock. */
typedef struct macho_tier_load macho_tier_load;
typedef int (*macho_tier_loader)(void *ctx, const void *key, size_t klen, macho_tier_load *out);
/* Hand the loaded value to the tier (copied). ttl_seconds: its TTL in Redis,
 * 0 = the tier's l2_ttl_seconds, +inf = none; negative or NaN = MACHO_EINVAL.
 * MACHO_ENOMEM possible. Call at most once per load (a second call replaces). */
MACHO_API MACHO_NODISCARD int macho_tier_load_set(macho_tier_load *out, const void *value, size_t vlen,
                                                  double ttl_seconds);

/* Called after L1 dropped what Redis reported: one key (without key_prefix;
 * cause -1), on the tier's invalidation thread; or key NULL / klen 0 when L1
 * was emptied as a whole (cause = a macho_tier_flush_cause), on the thread
 * that saw the failure. A key's call is made with no tier lock held (calls
 * that arrive during a heartbeat round wait for its end, so a slow listener
 * delays later invalidations, never readers); a whole-L1 call may hold
 * tier locks. Either way keep it quick and do not call into the tier from
 * it (record, signal, return). */
typedef void (*macho_tier_invalidate_fn)(void *ctx, const void *key, size_t klen, int cause);

typedef struct macho_tier_options {
  const char *redis;        /* "HOST:PORT" (IPv4, name, or "[IPv6]:PORT") or "unix:/path";
                               default "127.0.0.1:6379" */
  const char *username;     /* ACL user for AUTH (NULL = default user) */
  const char *password;     /* AUTH password, NULL = no AUTH */
  int db;                   /* SELECT this database (0..INT_MAX, default 0). Note that Redis
                               tracks key names across databases. */
  const char *key_prefix;   /* prepended to every key in Redis (NULL or "" = none); L1 keys
                               and invalidation callbacks see keys without it */
  int bcast;                /* 0 = default tracking (Redis remembers which keys this tier
                               read); 1 = BCAST: told about every key under the prefixes */
  const char *const *bcast_prefixes; /* BCAST prefixes of Redis keys (key_prefix included);
                               NULL/0 = { key_prefix } (all keys when it is empty). Keys
                               outside them are served from Redis but never held in L1. */
  size_t nbcast_prefixes;
  uint32_t connections;     /* data connections, keys spread over them by hash (2; 1..64) */
  uint32_t connect_timeout_ms;    /* TCP connect + handshake (1000) */
  uint32_t command_timeout_ms;    /* one request's reply (1000) */
  uint32_t heartbeat_interval_ms; /* PING every connection this often (500) */
  uint32_t heartbeat_timeout_ms;  /* each PONG due within this (500) */
  uint32_t reconnect_max_ms;      /* reconnect backoff doubles from 10 ms up to this (1000) */
  double l2_ttl_seconds;    /* TTL of values written to Redis without their own
                               (0 = none, the default; +inf = none) */
  const macho_config *l1;   /* the local cache (bytes mode); NULL = macho_config_init
                               defaults. Copied; its clock also times the TTL clamp. */
  macho_tier_loader loader; /* NULL = none: a double miss is MACHO_ENOTFOUND */
  void *loader_ctx;
  macho_tier_invalidate_fn on_invalidate; /* NULL = none */
  void *on_invalidate_ctx;
  char *error_buf;          /* when macho_tier_open fails: receives a sentence (may be NULL) */
  size_t error_buf_size;
} macho_tier_options;

/* 1 when this build has the tier (hiredis), else 0. */
MACHO_API int macho_tier_available(void);

/* Fill *opts with the defaults above (NULL is a no-op). */
MACHO_API void macho_tier_options_init(macho_tier_options *opts);

/* Open a tier: opens L1, connects the invalidation connection (SUBSCRIBE) and
 * the data connections, and starts the invalidation thread. Tracking is up
 * when it returns MACHO_OK. MACHO_EINVAL for bad options (the sentence in
 * error_buf says which), MACHO_EMODE when l1 is an object-mode config,
 * MACHO_EIO when Redis cannot be reached or refuses (AUTH, SELECT, CLIENT
 * TRACKING), MACHO_ENOMEM. On error nothing is left behind. */
MACHO_API MACHO_NODISCARD int macho_tier_open(const macho_tier_options *opts, macho_tier **out);

/* Stop the invalidation thread, close the connections and L1, free the tier.
 * NULL is a no-op. Not thread-safe with respect to other calls on the tier. */
MACHO_API void macho_tier_close(macho_tier *tier);

/* Get key: from L1, else from Redis (GET and PTTL in one MULTI, one request
 * per key in flight), else from the loader. The value is copied into buf
 * (capacity buflen) and its length into *vlen (may be NULL). MACHO_OK;
 * MACHO_ENOTFOUND when absent; MACHO_ERANGE when buflen is too small (*vlen
 * says the size needed; a value read from Redis is still held in L1, so the
 * retry is local); MACHO_EIO when Redis fails or times out (detail:
 * macho_tier_last_error); MACHO_ECALLBACK when the loader failed; MACHO_EBUSY
 * when the loader asks for its own key; MACHO_EINVAL for bad arguments. An L1
 * hit takes no tier lock and makes no system call (the lease is checked
 * against CLOCK_MONOTONIC_COARSE, a vDSO read). Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_tier_get(macho_tier *tier, const void *key, size_t klen, void *buf,
                                             size_t buflen, size_t *vlen);

/* Write key -> value to Redis (SET, with l2_ttl_seconds when set) and then
 * to L1 (default tracking; in BCAST mode L1 only drops the key, since Redis
 * reports the tier's own writes back). MACHO_OK, MACHO_EIO (the write may or
 * may not have reached Redis; L1 holds no copy of the key afterwards),
 * MACHO_EINVAL. Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_tier_put(macho_tier *tier, const void *key, size_t klen,
                                             const void *value, size_t vlen);
/* As macho_tier_put with this TTL in Redis (whole milliseconds, rounded up):
 * 0 or +inf = no TTL; negative or NaN = MACHO_EINVAL. */
MACHO_API MACHO_NODISCARD int macho_tier_put_ttl(macho_tier *tier, const void *key, size_t klen,
                                                 const void *value, size_t vlen, double ttl_seconds);

/* Delete key from Redis (DEL) and from L1. MACHO_OK when Redis had it,
 * MACHO_ENOTFOUND when it did not, MACHO_EIO, MACHO_EINVAL. Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_tier_delete(macho_tier *tier, const void *key, size_t klen);

/* Empty L1 (cause MACHO_TIER_FLUSH_MANUAL); Redis is unchanged. Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_tier_flush_local(macho_tier *tier);

/* Wait up to timeout_ms until tracking is up (after a failure the tier
 * reconnects by itself). MACHO_OK, or MACHO_EIO when it is still down. */
MACHO_API MACHO_NODISCARD int macho_tier_wait_ready(macho_tier *tier, uint32_t timeout_ms);

/* The L1 cache, for reading its counters and statistics (macho_counters_get,
 * macho_stats_get, the dashboard). Writing to it directly bypasses coherence.
 * Valid until macho_tier_close. NULL for NULL. */
MACHO_API macho_cache *macho_tier_l1(macho_tier *tier);

typedef struct macho_tier_stats {
  uint64_t l1_hits, l1_misses;   /* gets answered by L1 / not (L1's own hits and misses) */
  uint64_t l2_hits, l2_misses;   /* L1 misses that Redis answered with a value / without */
  uint64_t l2_errors;            /* Redis requests that failed (connection, timeout, error reply) */
  uint64_t lease_bypasses;       /* gets that skipped L1: its lease had lapsed (heartbeat late) */
  uint64_t joined;               /* L1 misses that waited for another caller's read of the key */
  uint64_t loads, load_errors;   /* loader calls, and those that failed */
  uint64_t puts, deletes;        /* successful writes through the tier */
  uint64_t fills;                /* values stored in L1 from Redis (gets, loads, puts) */
  uint64_t fills_refused;        /* not stored: an invalidation or a failure raced the read */
  uint64_t fills_skipped;        /* not stored: tracking down, TTL about to end, key outside BCAST prefixes */
  uint64_t invalidation_messages;/* invalidation messages received */
  uint64_t invalidations;        /* keys they named */
  uint64_t flushes[MACHO_TIER_FLUSH_COUNT]; /* L1 emptied as a whole, by cause */
  uint64_t reconnects;           /* times tracking was re-established after a failure */
  uint64_t heartbeats;           /* PINGs answered on the invalidation connection */
  uint64_t heartbeat_rtt_ns_max; /* the slowest of them */
  int tracking;                  /* 1 = tracking is up now, 0 = down (L1 is bypassed) */
  uint32_t connections;          /* data connections configured */
  int64_t invalidation_client_id;/* CLIENT ID of the invalidation connection (-1 when down) */
} macho_tier_stats;

/* A snapshot of the tier's counters (each read atomically; they move while
 * read). MACHO_OK or MACHO_EINVAL. Thread-safe. */
MACHO_API MACHO_NODISCARD int macho_tier_stats_get(macho_tier *tier, macho_tier_stats *out);

/* The last failure the tier saw as a sentence ("" when none), copied into buf
 * (truncated to buflen, always terminated). MACHO_OK or MACHO_EINVAL. */
MACHO_API MACHO_NODISCARD int macho_tier_last_error(macho_tier *tier, char *buf, size_t buflen);
/* ======================================================================== */
/* end of the Redis tier                                                      */
/* ======================================================================== */

#ifdef __cplusplus
}
#endif
#endif /* MACHO_MACHO_H */
