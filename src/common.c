/*
 * common.c -- status table, version, names, config defaults and validation,
 * and the allocator indirection every allocation goes through.
 */
#include "internal.h"
#include "policy/policy.h"

#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>

#define STR2(x) #x
#define STR(x) STR2(x)

const char *macho_strerror(int status) {
  switch (status) {
#define MACHO__STATUS_MSG(name, code, msg) case code: return msg;
    MACHO_STATUS_MAP(MACHO__STATUS_MSG)
#undef MACHO__STATUS_MSG
  }
  return "unknown status";
}

const char *macho_status_name(int status) {
  switch (status) {
#define MACHO__STATUS_NAME(name, code, msg) case code: return #name;
    MACHO_STATUS_MAP(MACHO__STATUS_NAME)
#undef MACHO__STATUS_NAME
  }
  return "UNKNOWN";
}

unsigned macho_version(void) { return MACHO_VERSION; }

const char *macho_version_string(void) {
  return STR(MACHO_VERSION_MAJOR) "." STR(MACHO_VERSION_MINOR) "." STR(MACHO_VERSION_PATCH);
}

static const char *const policy_names[MACHO_POLICY_COUNT] = {
    "lru", "fifo", "random", "lfu", "mfu", "sieve", "s3fifo", "wtinylfu", "arc", "auto"};
static const char *const filter_names[MACHO_FILTER_COUNT] = {"none", "bloom", "cuckoo", "xor"};

const char *macho_policy_name(macho_policy p) {
  return (unsigned)p < MACHO_POLICY_COUNT ? policy_names[p] : NULL;
}

const char *macho_filter_name(macho_filter f) {
  return (unsigned)f < MACHO_FILTER_COUNT ? filter_names[f] : NULL;
}

static int parse_name(const char *name, const char *const *names, int n) {
  if (!name) return -1;
  for (int i = 0; i < n; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return -1;
}

int macho_policy_parse(const char *name, macho_policy *out) {
  int i = parse_name(name, policy_names, MACHO_POLICY_COUNT);
  if (i < 0 || !out) return MACHO_EINVAL;
  *out = (macho_policy)i;
  return MACHO_OK;
}

int macho_filter_parse(const char *name, macho_filter *out) {
  int i = parse_name(name, filter_names, MACHO_FILTER_COUNT);
  if (i < 0 || !out) return MACHO_EINVAL;
  *out = (macho_filter)i;
  return MACHO_OK;
}

int macho_policy_available(macho_policy p) {
  return (unsigned)p < MACHO_POLICY_COUNT && macho__policies[p] != NULL;
}

int macho_filter_available(macho_filter f) {
  return f == MACHO_FILTER_NONE || ((unsigned)f < MACHO_FILTER_COUNT && macho__filters[f] != NULL);
}

void macho_config_init(macho_config *cfg) {
  if (!cfg) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->capacity_entries = 100;
  cfg->ttl_seconds = 600.0;
  cfg->shards = 1;
  cfg->policy = MACHO_POLICY_LRU;
  cfg->filter = MACHO_FILTER_NONE;
  cfg->filter_fp_rate = 0.5;
  cfg->metrics = 1;
}

int macho_config_check(const macho_config *cfg, const char **why) {
  const char *msg = NULL;
  if (!cfg) msg = "config is NULL";
  else if (cfg->capacity_entries == 0) msg = "capacity_entries must be at least 1";
  else if (cfg->shards == 0) msg = "shards must be at least 1";
  else if (cfg->shards > MACHO__MAX_SHARDS) msg = "shards must be at most 65536";
  else if (cfg->shards > cfg->capacity_entries)
    msg = "shards must not exceed capacity_entries (every shard needs room for an entry)";
  else if (cfg->capacity_entries / cfg->shards >= MACHO__MAX_SHARD_ENTRIES)
    msg = "capacity_entries / shards must be below 2^30 - 1 (a shard holds at most 2^30 - 2 entries); "
          "use more shards";
  else if (isnan(cfg->ttl_seconds) || cfg->ttl_seconds < 0)
    msg = "ttl_seconds must be >= 0 (0 or infinity: entries never expire)";
  else if ((unsigned)cfg->policy >= MACHO_POLICY_COUNT) msg = "policy is not a known macho_policy";
  else if (!macho__policies[cfg->policy]) msg = "policy is not implemented in this build";
  else if ((unsigned)cfg->filter >= MACHO_FILTER_COUNT) msg = "filter is not a known macho_filter";
  else if (!macho_filter_available(cfg->filter)) msg = "filter is not implemented in this build";
  else if (!(cfg->filter_fp_rate > 0 && cfg->filter_fp_rate < 1))
    msg = "filter_fp_rate must be in the open interval (0, 1)";
  else if (cfg->filter != MACHO_FILTER_NONE && cfg->filter_fp_rate < MACHO_FILTER_FP_RATE_MIN)
    msg = "filter_fp_rate must be at least 1e-9 (MACHO_FILTER_FP_RATE_MIN) with a filter: "
          "no filter can honour a smaller rate";
  else if (cfg->metrics < 0 || cfg->metrics > 2) msg = "metrics must be 0, 1 or 2";
  else if (cfg->mrc != 0 && cfg->mrc != 1) msg = "mrc must be 0 (off) or 1 (keep the miss-ratio curve)";
  else if (cfg->object_ops && (!cfg->object_ops->hash || !cfg->object_ops->equal ||
                               !cfg->object_ops->retain || !cfg->object_ops->release))
    msg = "object_ops needs all of hash, equal, retain and release";
  else if (cfg->object_ops && cfg->capacity_bytes && !cfg->weigh)
    msg = "capacity_bytes in object mode needs config.weigh (object sizes are unknown to the cache)";
  else if (isnan(cfg->negative_ttl_seconds) || cfg->negative_ttl_seconds < 0)
    msg = "negative_ttl_seconds must be >= 0 (0 = no negative caching)";
  else if (isnan(cfg->refresh_after_seconds) || cfg->refresh_after_seconds < 0)
    msg = "refresh_after_seconds must be >= 0 (0 = no refresh-ahead)";
  else if (cfg->refresh_executor && !(cfg->refresh_after_seconds > 0))
    msg = "refresh_executor needs refresh_after_seconds";
  else if (!(cfg->memory_max_fraction >= 0 && cfg->memory_max_fraction <= 1))
    msg = "memory_max_fraction must be in [0, 1] (0 = off)";
  else if (cfg->capacity_bytes && cfg->capacity_bytes < cfg->shards)
    msg = "capacity_bytes must give every shard at least one byte";
  else if (cfg->allocator &&
           (!cfg->allocator->malloc || !cfg->allocator->realloc || !cfg->allocator->free))
    msg = "allocator needs all of malloc, realloc and free";
  if (why) *why = msg;
  return msg ? MACHO_EINVAL : MACHO_OK;
}

/* ---- allocation ------------------------------------------------------------ */
/* Every allocation goes through here, and `held` counts what is allocated
 * and not yet freed: memory_bytes is that count, so the figure the cache
 * reports is what its allocator holds, by construction.
 *
 * Without hooks, blocks of MMAP_MIN and more (tables, arena chunks, policy
 * arrays) are mapped and unmapped directly, so that memory freed by growth
 * goes back to the system: glibc raises its own mmap threshold after the
 * first such free and would keep the old tables on its heap, and the RSS
 * would then exceed what the cache holds. Such blocks also come zeroed. */
#define MMAP_MIN (256u * 1024u)

static size_t page_round(size_t n) { return (n + 4095) & ~(size_t)4095; }

/* Blocks of 2 MiB and more (a table of 70k entries and up) are aligned to
 * 2 MiB and offered to transparent huge pages: a get touches two places in
 * a table (a group header and a slot), and with 4 KiB pages both usually
 * miss the TLB on a table of millions of entries. */
#define HUGE_PAGE (2u * 1024u * 1024u)

static void *big_alloc(size_t size) {
  if (size > SIZE_MAX - 2 * HUGE_PAGE) return NULL;
  size_t n = page_round(size);
  if (n < HUGE_PAGE) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
  }
  unsigned char *p = mmap(NULL, n + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  unsigned char *a = (unsigned char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  if (a > p) munmap(p, (size_t)(a - p));
  size_t tail = (size_t)(p + n + HUGE_PAGE - (a + n));
  if (tail) munmap(a + n, tail);
#ifdef MADV_HUGEPAGE
  (void)madvise(a, n, MADV_HUGEPAGE);
#endif
  return a;
}

void *macho__malloc_untracked(const macho__alloc *a, size_t size) {
  if (a->hooks.malloc) return a->hooks.malloc(a->hooks.ctx, size);
  return size >= MMAP_MIN ? big_alloc(size) : malloc(size);
}

void macho__free_untracked(const macho__alloc *a, void *p, size_t size) {
  if (!p) return;
  if (a->hooks.free) a->hooks.free(a->hooks.ctx, p, size);
  else if (size >= MMAP_MIN) munmap(p, page_round(size));
  else free(p);
}

void *macho__malloc(macho__alloc *a, size_t size) {
  void *p = macho__malloc_untracked(a, size);
  if (p) atomic_fetch_add_explicit(&a->held, size, memory_order_relaxed);
  return p;
}

void *macho__calloc(macho__alloc *a, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = macho__malloc(a, n * size);
  /* Mapped blocks are zero already; touching them would only cost RSS. */
  if (p && (a->hooks.malloc || n * size < MMAP_MIN)) memset(p, 0, n * size);
  return p;
}

void *macho__calloc64(macho__alloc *a, size_t size, void **raw) {
  *raw = size > SIZE_MAX - 63 ? NULL : macho__calloc(a, 1, macho__size64(size));
  return *raw ? (void *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63) : NULL;
}

void *macho__realloc(macho__alloc *a, void *p, size_t old_size, size_t new_size) {
  void *q;
  if (a->hooks.realloc) {
    q = a->hooks.realloc(a->hooks.ctx, p, old_size, new_size);
  } else if (!p || (old_size < MMAP_MIN && new_size < MMAP_MIN)) {
    q = realloc(p, new_size);
  } else { /* a mapped block on either side: move it by hand */
    q = macho__malloc_untracked(a, new_size);
    if (q && p) {
      memcpy(q, p, old_size < new_size ? old_size : new_size);
      macho__free_untracked(a, p, old_size);
    }
  }
  if (q) {
    atomic_fetch_add_explicit(&a->held, new_size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&a->held, p ? old_size : 0, memory_order_relaxed);
  }
  return q;
}

void macho__free(macho__alloc *a, void *p, size_t size) {
  if (!p) return;
  atomic_fetch_sub_explicit(&a->held, size, memory_order_relaxed);
  macho__free_untracked(a, p, size);
}
