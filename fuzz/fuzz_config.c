/*
 * fuzz_config.c -- configurations decoded from the input, through
 * macho_config_check, macho_open, a few operations and macho_close.
 *
 * Every field of macho_config is drawn from edge-heavy classes: sizes at
 * 0, 1, powers of two and their neighbours, the shard-entry limit 2^31,
 * SIZE_MAX; doubles including -0, denormals, DBL_MIN, NaNs with payloads,
 * +-inf, values next to 0 and 1; enums and ints out of range; object_ops
 * and allocator tables with missing members; allocators that fail the n-th
 * call, every call after it, past a byte budget or at random; clocks that
 * start anywhere up to UINT64_MAX, frozen or moving on every read.
 *
 * What must hold:
 *  - macho_config_check answers OK or EINVAL; on EINVAL `why` is a
 *    non-empty, printable sentence, the same pointer on every call (static);
 *  - macho_open succeeds exactly when the check says OK, except ENOMEM
 *    when the fuzzed allocator refused something (then nothing leaks and
 *    *out is NULL); EINVAL leaves *out NULL;
 *  - an opened cache reports the configuration back (macho_config_get,
 *    shard count, per-shard capacities split as macho.h says), and a few
 *    operations behave: a put that succeeds is visible to the next get with
 *    its value (clock frozen), statuses are among those documented, counters
 *    add up (hits + misses = gets, requests = gets + puts, entries = len);
 *  - macho_close leaves zero live blocks and bytes in the hooks, object
 *    reference counts back where they started, no stray allocation around
 *    the hooks, and no sanitizer report.
 * Configurations that would make the libc allocator take gigabytes (large
 * capacities or shard counts with allocator == NULL) get the budgeted hook
 * allocator instead, so that huge sizes are still tried, within memory.
 */
#include "fuzz_util.h"

#include <float.h>
#include <limits.h>
#include <math.h>

/* ---- value classes ------------------------------------------------------------------ */
static size_t pick_size(fz_in *in) {
  uint8_t c = fz_u8(in);
  switch (c % 16) {
  case 0: return 0;
  case 1: return 1;
  case 2: return 2 + fz_u8(in) % 14;
  case 3: return fz_u16(in);
  case 4: return (size_t)1 << (fz_u8(in) % 64);
  case 5: return ((size_t)1 << (fz_u8(in) % 64)) - 1;
  case 6: return ((size_t)1 << (fz_u8(in) % 63)) + 1;
  case 7: return SIZE_MAX;
  case 8: return SIZE_MAX - fz_u8(in);
  case 9: return ((size_t)1 << 31) - 1 + fz_u8(in) % 3; /* the per-shard entry limit */
  case 10: return ((size_t)1 << 32) - 1 + fz_u8(in) % 3;
  case 11: return (size_t)fz_u64(in);
  case 12: return 100; /* the default */
  default: return 1 + fz_u16(in) % 512;
  }
}

static uint32_t pick_u32(fz_in *in, size_t capacity) {
  uint8_t c = fz_u8(in);
  switch (c % 14) {
  case 0: return 0;
  case 1: return 1;
  case 2: return 2;
  case 3: return 7;
  case 4: return 1 + fz_u8(in) % 64;
  case 5: return 65536;
  case 6: return 65537;
  case 7: return UINT32_MAX;
  case 8: return fz_u32(in);
  case 9: return capacity <= UINT32_MAX ? (uint32_t)capacity : UINT32_MAX;
  case 10: return capacity < UINT32_MAX ? (uint32_t)capacity + 1 : 0;
  case 11: return 1u << (fz_u8(in) % 32);
  default: return 1 + fz_u8(in) % 8;
  }
}

static double pick_double(fz_in *in) {
  uint8_t c = fz_u8(in);
  uint64_t bits;
  double d;
  switch (c % 28) {
  case 0: return 0.0;
  case 1: return -0.0;
  case 2: return 4.9406564584124654e-324; /* smallest denormal */
  case 3: return DBL_MIN;
  case 4: return DBL_MIN / (double)(2 + fz_u8(in)); /* a denormal */
  case 5: return NAN;
  case 6: /* a NaN with a payload, maybe negative */
    bits = 0x7ff0000000000000ULL | (fz_u64(in) & 0x000fffffffffffffULL) | 1;
    if (fz_u8(in) & 1) bits |= 0x8000000000000000ULL;
    memcpy(&d, &bits, sizeof d);
    return d;
  case 7: return INFINITY;
  case 8: return -INFINITY;
  case 9: return -1.0;
  case 10: return 1.0;
  case 11: return nextafter(1.0, 0.0);
  case 12: return nextafter(1.0, 2.0);
  case 13: return 0.5;
  case 14: return 0.001 * (1 + fz_u8(in));
  case 15: return pow(10.0, -(double)(fz_u8(in) % 310));
  case 16: return 1.0 - pow(10.0, -(double)(1 + fz_u8(in) % 17));
  case 17: return 1e300;
  case 18: return DBL_MAX;
  case 19: return 9.2e9; /* where a TTL becomes "never" */
  case 20: return nextafter(9.2e9, 0.0);
  case 21: return 600.0;
  case 22: return (double)fz_u16(in) / 1000.0;
  case 23: return -(double)fz_u16(in);
  case 24: return 1.8446744073709552e10; /* 2^64 ns */
  default:
    bits = fz_u64(in);
    memcpy(&d, &bits, sizeof d);
    return d;
  }
}

static int pick_int(fz_in *in, int valid_count) {
  uint8_t c = fz_u8(in);
  switch (c % 8) {
  case 0: return -1;
  case 1: return valid_count;
  case 2: return INT_MIN;
  case 3: return INT_MAX;
  case 4: return (int)fz_u32(in);
  default: return (int)(fz_u8(in) % (unsigned)valid_count);
  }
}

/* ---- objects: refcounted keys and values ---------------------------------------------- */
typedef struct fobj {
  uint64_t id;
  int64_t refs; /* references the cache holds */
} fobj;

typedef struct fobj_ctx {
  int hash_fails, equal_fails; /* make the callbacks report errors */
  int64_t retains, releases;
} fobj_ctx;

static int fobj_hash(void *ctx, const void *key, uint64_t *out) {
  fobj_ctx *x = ctx;
  if (x->hash_fails) return -1;
  *out = ((const fobj *)key)->id % 5; /* weak on purpose: collisions exercise equal */
  return 0;
}
static int fobj_equal(void *ctx, const void *a, const void *b) {
  fobj_ctx *x = ctx;
  if (x->equal_fails) return -1;
  return ((const fobj *)a)->id == ((const fobj *)b)->id;
}
static void fobj_retain(void *ctx, void *obj) {
  ((fobj_ctx *)ctx)->retains++;
  ((fobj *)obj)->refs++;
}
static void fobj_release(void *ctx, void *obj) {
  ((fobj_ctx *)ctx)->releases++;
  fobj *o = obj;
  FZ_CHECK(o->refs > 0, "object %llu released more often than retained", (unsigned long long)o->id);
  o->refs--;
}

/* ---- the target ------------------------------------------------------------------------- */
#define NOBJ 8

static void check_why(const macho_config *cfg, int rc, const char *why) {
  if (rc == MACHO_OK) return;
  FZ_CHECK(rc == MACHO_EINVAL, "macho_config_check returned %d (%s)", rc, macho_status_name(rc));
  FZ_CHECK(why && *why, "macho_config_check: EINVAL without a reason");
  size_t n = strlen(why);
  FZ_CHECK(n < 400, "macho_config_check: reason of %zu characters", n);
  for (size_t i = 0; i < n; i++)
    FZ_CHECK(why[i] >= 0x20 && why[i] < 0x7f, "macho_config_check: unprintable reason");
  const char *again = NULL;
  FZ_CHECK(macho_config_check(cfg, &again) == MACHO_EINVAL && again == why,
           "macho_config_check: a second call gave another reason pointer (not static?)");
}

static int status_in(int rc, const int *ok, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (rc == ok[i]) return 1;
  return 0;
}
#define EXPECT_STATUS(rc, what, ...)                                                   \
  do {                                                                               \
    static const int ok_[] = {__VA_ARGS__};                                          \
    FZ_CHECK(status_in((rc), ok_, sizeof ok_ / sizeof ok_[0]), "%s returned %d (%s)", \
             (what), (rc), macho_status_name(rc));                                   \
  } while (0)

typedef struct count_ctx {
  size_t seen, stop_after;
} count_ctx;
static int count_key(void *ctx, const void *key, size_t klen) {
  (void)key;
  (void)klen;
  count_ctx *cc = ctx;
  return cc->seen++ == cc->stop_after ? 7 : 0;
}

/* A few operations on an opened cache; `frozen`: the clock does not move
 * (a successful put is then certainly visible). */
static void exercise(macho_cache *c, const macho_config *cfg, fz_in *in, fobj *objs, int frozen) {
  macho_config got;
  FZ_CHECK(macho_config_get(c, &got) == MACHO_OK, "macho_config_get failed");
  FZ_CHECK(got.capacity_entries == cfg->capacity_entries && got.capacity_bytes == cfg->capacity_bytes &&
               got.shards == cfg->shards && got.policy == cfg->policy && got.filter == cfg->filter &&
               got.seed == cfg->seed && got.metrics == cfg->metrics && got.clock == cfg->clock &&
               got.clock_ctx == cfg->clock_ctx && (got.ttl_seconds == cfg->ttl_seconds ||
                                                   (isnan(got.ttl_seconds) && isnan(cfg->ttl_seconds))),
           "macho_config_get does not give back the configuration opened with");
  FZ_CHECK(!cfg->object_ops == !got.object_ops && !cfg->allocator == !got.allocator,
           "macho_config_get: object_ops/allocator presence changed");
  uint32_t nshards = macho_shard_count(c);
  FZ_CHECK(nshards == cfg->shards, "macho_shard_count %u, configured %u", nshards, cfg->shards);
  macho_counters ct;
  FZ_CHECK(macho_counters_get(c, (int)nshards, &ct) == MACHO_EINVAL, "counters of shard == count accepted");
  FZ_CHECK(macho_counters_get(c, -2, &ct) == MACHO_EINVAL, "counters of shard -2 accepted");
  /* macho.h: capacity is split across shards, the remainder one each to the first. */
  uint32_t probe[3] = {0, nshards / 2, nshards - 1};
  for (int i = 0; i < 3; i++) {
    uint32_t s = probe[i];
    FZ_CHECK(macho_counters_get(c, (int)s, &ct) == MACHO_OK, "counters of shard %u failed", s);
    uint64_t want = cfg->capacity_entries / nshards + (s < cfg->capacity_entries % nshards);
    FZ_CHECK(ct.capacity_entries == want, "shard %u capacity %llu, want %llu", s,
             (unsigned long long)ct.capacity_entries, (unsigned long long)want);
  }
  FZ_CHECK(macho_counters_get(c, -1, &ct) == MACHO_OK, "total counters failed");
  FZ_CHECK(ct.capacity_entries == cfg->capacity_entries && ct.capacity_bytes == cfg->capacity_bytes,
           "total capacity %llu/%llu, configured %zu/%zu", (unsigned long long)ct.capacity_entries,
           (unsigned long long)ct.capacity_bytes, cfg->capacity_entries, cfg->capacity_bytes);

  const int objects = cfg->object_ops != NULL;
  fobj_ctx *octx = objects ? cfg->object_ops->ctx : NULL;
  int nops = fz_u8(in) % 24;
  for (int op = 0; op < nops; op++) {
    uint8_t b = fz_u8(in);
    uint32_t k = fz_u8(in) % NOBJ;
    uint8_t key[24];
    size_t klen = fz_u8(in) % sizeof key;
    for (size_t i = 0; i < klen; i++) key[i] = (uint8_t)(k * 31 + i);
    uint8_t val[64];
    size_t vlen = fz_u8(in) % sizeof val;
    for (size_t i = 0; i < vlen; i++) val[i] = (uint8_t)(b + i);
    int rc;
    switch (b % 12) {
    case 0:
    case 1:
    case 2: { /* put (and, with a frozen clock, the get that must see it) */
      double ttl = (b & 0x10) ? pick_double(in) : -2;
      fz_lib_enter();
      if (objects) {
        if (octx) octx->hash_fails = (b & 0xe0) == 0xe0;
        rc = ttl == -2 ? macho_obj_put(c, &objs[k], &objs[(k + 1) % NOBJ])
                       : macho_obj_put_ttl(c, &objs[k], &objs[(k + 1) % NOBJ], ttl);
      } else {
        rc = ttl == -2 ? macho_put(c, key, klen, val, vlen) : macho_put_ttl(c, key, klen, val, vlen, ttl);
      }
      fz_lib_leave();
      int hash_failed = octx && octx->hash_fails;
      if (octx) octx->hash_fails = 0;
      int bad_ttl = ttl != -2 && (isnan(ttl) || ttl < 0);
      if (bad_ttl) {
        FZ_CHECK(rc == MACHO_EINVAL, "put with TTL %g returned %d, want EINVAL", ttl, rc);
        break;
      }
      if (objects) EXPECT_STATUS(rc, "obj_put", MACHO_OK, MACHO_ENOMEM, MACHO_ECALLBACK);
      else EXPECT_STATUS(rc, "put", MACHO_OK, MACHO_ENOMEM, MACHO_ETOOBIG);
      if (hash_failed) FZ_CHECK(rc == MACHO_ECALLBACK, "obj_put with a failing hash returned %d", rc);
      if (rc == MACHO_ETOOBIG)
        FZ_CHECK(cfg->capacity_bytes && macho_entry_charge(klen, vlen) > cfg->capacity_bytes / nshards,
                 "ETOOBIG for an entry charged %zu bytes under a budget of %zu over %u shards",
                 (size_t)macho_entry_charge(klen, vlen),
                 cfg->capacity_bytes, nshards);
      double eff = ttl == -2 ? cfg->ttl_seconds : ttl;
      if (rc != MACHO_OK || !(frozen || (!cfg->clock && (eff == 0 || eff >= 3600)))) break;
      fz_lib_enter();
      if (objects) {
        void *v = NULL;
        rc = macho_obj_get(c, &objs[k], &v);
        if (rc == MACHO_OK) {
          FZ_CHECK(v == &objs[(k + 1) % NOBJ], "obj_get returned another value");
          fobj_release(octx, v);
        }
      } else {
        uint8_t out[64];
        size_t n = 0;
        rc = macho_get(c, key, klen, out, sizeof out, &n);
        if (rc == MACHO_OK) FZ_CHECK(n == vlen && memcmp(out, val, n) == 0, "get returned another value");
      }
      fz_lib_leave();
      /* A get allocates nothing but the metrics' histograms (dropped on failure). */
      FZ_CHECK(rc == MACHO_OK, "a put succeeded, the get right after returned %d (%s)", rc,
               macho_status_name(rc));
      break;
    }
    case 3: { /* get */
      fz_lib_enter();
      if (objects) {
        void *v = NULL;
        rc = macho_obj_get(c, &objs[k], &v);
        if (rc == MACHO_OK && v) fobj_release(octx, v);
      } else {
        uint8_t out[8];
        size_t n = 0;
        rc = macho_get(c, key, klen, out, b & 0x20 ? 0 : sizeof out, &n);
      }
      fz_lib_leave();
      EXPECT_STATUS(rc, "get", MACHO_OK, MACHO_ENOTFOUND, MACHO_ERANGE);
      break;
    }
    case 4: /* contains */
      fz_lib_enter();
      rc = objects ? macho_obj_contains(c, &objs[k]) : macho_contains(c, key, klen);
      fz_lib_leave();
      EXPECT_STATUS(rc, "contains", MACHO_OK, MACHO_ENOTFOUND);
      break;
    case 5: /* delete */
      fz_lib_enter();
      rc = objects ? macho_obj_delete(c, &objs[k]) : macho_delete(c, key, klen);
      fz_lib_leave();
      EXPECT_STATUS(rc, "delete", MACHO_OK, MACHO_ENOTFOUND);
      if (rc == MACHO_OK) {
        rc = objects ? macho_obj_contains(c, &objs[k]) : macho_contains(c, key, klen);
        FZ_CHECK(rc == MACHO_ENOTFOUND, "a deleted key is still there (%d)", rc);
      }
      break;
    case 6: { /* expire */
      size_t n = 0;
      fz_lib_enter();
      rc = macho_expire(c, &n);
      fz_lib_leave();
      EXPECT_STATUS(rc, "expire", MACHO_OK, MACHO_ENOMEM);
      break;
    }
    case 7: { /* clear */
      fz_lib_enter();
      rc = macho_clear(c);
      fz_lib_leave();
      EXPECT_STATUS(rc, "clear", MACHO_OK, MACHO_ENOMEM);
      if (rc == MACHO_OK) FZ_CHECK(macho_len(c) == 0, "clear left %zu entries", macho_len(c));
      break;
    }
    case 8: { /* stats snapshot of the whole cache or one shard */
      macho_stats *st = NULL;
      int shard = (b & 0x10) ? -1 : (int)(fz_u32(in) % (nshards + 1));
      fz_lib_enter();
      rc = macho_stats_get(c, shard, &st);
      fz_lib_leave();
      if (shard == (int)nshards) {
        FZ_CHECK(rc == MACHO_EINVAL, "stats of shard == count returned %d", rc);
      } else {
        EXPECT_STATUS(rc, "stats_get", MACHO_OK, MACHO_ENOMEM);
        if (rc == MACHO_OK) {
          FZ_CHECK(st->version == MACHO_STATS_VERSION && st->shard == shard && st->shards == nshards &&
                       st->metrics == cfg->metrics,
                   "stats snapshot header does not match the cache");
          const macho_counters *s = &st->counters;
          FZ_CHECK(s->hits + s->misses == s->gets, "stats: hits + misses != gets");
          (void)macho_distribution_quantile(&st->get_latency_ns, 0.5);
        } else {
          FZ_CHECK(st == NULL, "stats_get failed but left a snapshot");
        }
      }
      fz_lib_enter();
      macho_stats_free(st);
      fz_lib_leave();
      break;
    }
    case 9: /* reset */
      fz_lib_enter();
      rc = macho_stats_reset(c);
      fz_lib_leave();
      FZ_CHECK(rc == MACHO_OK, "stats_reset returned %d", rc);
      break;
    case 10: { /* foreach_key: sees every entry, or stops when told */
      count_ctx cc = {0, b & 0x20 ? fz_u8(in) % 4 : SIZE_MAX};
      size_t len = macho_len(c);
      fz_lib_enter();
      rc = macho_foreach_key(c, count_key, &cc);
      int none = macho_foreach_key(c, NULL, NULL);
      fz_lib_leave();
      FZ_CHECK(none == MACHO_EINVAL, "foreach_key with no function returned %d", none);
      if (rc == MACHO_ENOMEM) break;
      /* Expired keys not yet reclaimed count in len but are not listed. */
      if (rc == 7) {
        FZ_CHECK(cc.seen == cc.stop_after + 1, "foreach_key went on after the callback said stop");
      } else {
        FZ_CHECK(rc == MACHO_OK, "foreach_key returned %d", rc);
        FZ_CHECK(cc.seen <= len && cc.seen <= cc.stop_after, "foreach_key saw %zu keys, len %zu", cc.seen, len);
      }
      break;
    }
    default: { /* counters add up */
      FZ_CHECK(macho_counters_get(c, -1, &ct) == MACHO_OK, "counters failed");
      FZ_CHECK(ct.hits + ct.misses == ct.gets && ct.requests == ct.gets + ct.puts,
               "counters do not add up: hits %llu misses %llu gets %llu puts %llu requests %llu",
               (unsigned long long)ct.hits, (unsigned long long)ct.misses, (unsigned long long)ct.gets,
               (unsigned long long)ct.puts, (unsigned long long)ct.requests);
      size_t len = macho_len(c);
      FZ_CHECK(ct.entries == len && len <= cfg->capacity_entries, "entries %llu, len %zu, capacity %zu",
               (unsigned long long)ct.entries, len, cfg->capacity_entries);
      break;
    }
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  fz_watch_strays();
  macho_config cfg;
  macho_config_init(&cfg);
  uint8_t shape = fz_u8(&in);
  if (shape & 1) cfg.capacity_entries = pick_size(&in);
  if (shape & 2) cfg.capacity_bytes = pick_size(&in);
  if (shape & 4) cfg.ttl_seconds = pick_double(&in);
  if (shape & 8) cfg.shards = pick_u32(&in, cfg.capacity_entries);
  int pol = pick_int(&in, MACHO_POLICY_COUNT), fil = pick_int(&in, MACHO_FILTER_COUNT);
  memcpy(&cfg.policy, &pol, sizeof pol); /* any int, valid or not */
  memcpy(&cfg.filter, &fil, sizeof fil);
  if (shape & 16) cfg.filter_fp_rate = pick_double(&in);
  cfg.seed = fz_u64(&in);
  cfg.metrics = pick_int(&in, 3);

  /* Object mode: all four callbacks, or some missing (invalid). */
  fobj_ctx octx = {0};
  macho_object_ops ops = {fobj_hash, fobj_equal, fobj_retain, fobj_release, &octx};
  fobj objs[NOBJ];
  for (int i = 0; i < NOBJ; i++) objs[i] = (fobj){(uint64_t)i, 0};
  uint8_t om = fz_u8(&in);
  if (om & 1) {
    if ((om & 0x1e) == 0x1e) { /* one member missing */
      switch ((om >> 5) & 3) {
      case 0: ops.hash = NULL; break;
      case 1: ops.equal = NULL; break;
      case 2: ops.retain = NULL; break;
      default: ops.release = NULL; break;
      }
    }
    cfg.object_ops = &ops;
  }

  /* Allocator: none (libc), hooks that fail in some way, or hooks with a hole. */
  fz_alloc fa = {0};
  macho_allocator hooks = fz_alloc_hooks(&fa);
  uint8_t am = fz_u8(&in);
  switch (am % 8) {
  case 0:
  case 1: break; /* libc */
  case 2: fa.fail_at = 1 + fz_u8(&in); break;
  case 3: fa.fail_at = 1 + fz_u16(&in) % 4096, fa.fail_after = 1; break;
  case 4: fa.budget = (uint64_t)fz_u16(&in) << (fz_u8(&in) % 10); break;
  case 5: fa.fail_rate = fz_u16(&in), fa.rng = fz_u64(&in); break;
  case 6:
    switch ((am >> 3) & 3) {
    case 0: hooks.malloc = NULL; break;
    case 1: hooks.realloc = NULL; break;
    case 2: hooks.free = NULL; break;
    default: break;
    }
    break;
  default: break; /* hooks that never fail */
  }
  if (am % 8 >= 2) cfg.allocator = &hooks;
  /* Keep libc allocations bounded; the budgeted hooks try the huge sizes. */
  if (!cfg.allocator && (cfg.capacity_entries > 65536 || cfg.shards > 64)) {
    fa.budget = 64u << 20;
    cfg.allocator = &hooks;
  }
  if (cfg.allocator && !fa.budget) fa.budget = 64u << 20;

  fz_clock clk = {0, 0, 0};
  uint8_t cm = fz_u8(&in);
  int frozen = 0;
  if (cm & 1) {
    switch ((cm >> 1) % 4) {
    case 0: clk.now_ns = 0; break;
    case 1: clk.now_ns = UINT64_MAX - fz_u32(&in); break;
    case 2: clk.now_ns = fz_u64(&in); break;
    default: clk.now_ns = (uint64_t)fz_u32(&in) * 1000000u; break;
    }
    clk.step_ns = (cm & 0x80) ? (uint64_t)fz_u16(&in) * 1000u : 0;
    frozen = clk.step_ns == 0;
    cfg.clock = fz_clock_fn;
    cfg.clock_ctx = &clk;
  } else if (cm & 2) {
    cfg.clock_ctx = &clk; /* a context without a clock is ignored */
  }

  /* FUZZ_CONFIG_TRACE=1: print the decoded configuration (debugging an input). */
  static int trace = -1;
  if (trace < 0) trace = getenv("FUZZ_CONFIG_TRACE") != NULL;
  if (trace)
    fprintf(stderr, "config: capacity %zu bytes %zu ttl %g shards %u policy %d filter %d fp %g seed %llu metrics %d "
                    "objects %d allocator %d (fail_at %llu after %d budget %llu rate %u) clock %s start %llu step %llu\n",
            cfg.capacity_entries, cfg.capacity_bytes, cfg.ttl_seconds, cfg.shards, (int)cfg.policy, (int)cfg.filter,
            cfg.filter_fp_rate, (unsigned long long)cfg.seed, cfg.metrics, cfg.object_ops != NULL,
            cfg.allocator != NULL, (unsigned long long)fa.fail_at, fa.fail_after, (unsigned long long)fa.budget,
            fa.fail_rate, cfg.clock ? "injected" : "system", (unsigned long long)clk.now_ns,
            (unsigned long long)clk.step_ns);
  const char *why = NULL;
  int check = macho_config_check(&cfg, &why);
  check_why(&cfg, check, why);
  FZ_CHECK(macho_config_check(NULL, NULL) == MACHO_EINVAL, "config_check(NULL) accepted");

  macho_cache *c = (macho_cache *)&cfg; /* must be overwritten */
  fz_lib_enter();
  int rc = macho_open(&cfg, &c);
  fz_lib_leave();
  if (check != MACHO_OK) {
    FZ_CHECK(rc == MACHO_EINVAL, "config_check said EINVAL (%s), macho_open returned %d (%s)", why, rc,
             macho_status_name(rc));
    FZ_CHECK(c == NULL, "macho_open failed but *out is not NULL");
  } else if (rc == MACHO_ENOMEM) {
    FZ_CHECK(cfg.allocator && fa.failures > 0, "macho_open: ENOMEM although no allocation failed");
    FZ_CHECK(c == NULL, "macho_open: ENOMEM but *out is not NULL");
  } else {
    FZ_CHECK(rc == MACHO_OK, "config_check said OK, macho_open returned %d (%s)", rc, macho_status_name(rc));
    FZ_CHECK(c != NULL, "macho_open: OK but no cache");
    exercise(c, &cfg, &in, objs, frozen);
    fz_lib_enter();
    macho_close(c);
    fz_lib_leave();
  }
  FZ_CHECK(fa.live_blocks == 0 && fa.live_bytes == 0, "after close: %lld blocks, %lld bytes still allocated",
           (long long)fa.live_blocks, (long long)fa.live_bytes);
  for (int i = 0; i < NOBJ; i++)
    FZ_CHECK(objs[i].refs == 0, "after close: object %d still has %lld references", i, (long long)objs[i].refs);
  FZ_CHECK(octx.retains == octx.releases, "retains %lld, releases %lld", (long long)octx.retains,
           (long long)octx.releases);
  if (cfg.allocator) FZ_CHECK(fz_strays == 0, "%llu allocations bypassed config.allocator",
                              (unsigned long long)fz_strays);
  fz_strays = 0;
  return 0;
}
