/*
 * test_api_errors.c -- bad input for every public function of the core.
 *
 * The house rule is that every public function validates its arguments and
 * returns a status, and that the cache is unchanged and usable after any
 * error. So each test here feeds one kind of bad input and then checks both
 * the status and that nothing moved (length, counters, contents).
 */
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static macho_cache *open_default(void) {
  macho_config cfg;
  macho_config_init(&cfg);
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

static int o_hash(void *ctx, const void *k, uint64_t *out) {
  (void)ctx;
  *out = (uint64_t)(uintptr_t)k;
  return 0;
}
static int o_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return a == b;
}
static void o_nop(void *ctx, void *o) {
  (void)ctx;
  (void)o;
}
static const macho_object_ops obj_ops = {o_hash, o_equal, o_nop, o_nop, NULL};

static macho_cache *open_objects(void) {
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.object_ops = &obj_ops;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  return c;
}

/* ---- status codes and version ---------------------------------------------- */

static void every_status_has_a_message_and_a_name(void **state) {
  (void)state;
  struct { int code; const char *name; } all[] = {
#define X(name, code, msg) {code, #name},
      MACHO_STATUS_MAP(X)
#undef X
  };
  size_t n = sizeof all / sizeof all[0];
  assert_true(n >= 11);
  for (size_t i = 0; i < n; i++) {
    const char *msg = macho_strerror(all[i].code);
    assert_non_null(msg);
    assert_string_not_equal(msg, "unknown status");
    assert_string_equal(macho_status_name(all[i].code), all[i].name);
    for (size_t j = 0; j < i; j++) {
      assert_int_not_equal(all[i].code, all[j].code);
      assert_string_not_equal(msg, macho_strerror(all[j].code));
    }
  }
  /* Codes are ABI: they never change. */
  assert_int_equal(MACHO_OK, 0);
  assert_int_equal(MACHO_ENOTFOUND, -1);
  assert_int_equal(MACHO_EINVAL, -2);
  assert_int_equal(MACHO_ENOMEM, -3);
  assert_int_equal(MACHO_ERANGE, -5);
  assert_int_equal(MACHO_EMODE, -6);
  assert_int_equal(MACHO_ECALLBACK, -7);
}

static void an_unknown_status_has_a_generic_message(void **state) {
  (void)state;
  const int unknown[] = {1, -100, -999, 12345, INT32_MIN};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    assert_string_equal(macho_strerror(unknown[i]), "unknown status");
    assert_string_equal(macho_status_name(unknown[i]), "UNKNOWN");
  }
}

static void version_macros_match_the_library(void **state) {
  (void)state;
  assert_int_equal(macho_version(), MACHO_VERSION);
  assert_int_equal(MACHO_VERSION,
                   MACHO_VERSION_MAJOR * 10000 + MACHO_VERSION_MINOR * 100 + MACHO_VERSION_PATCH);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", MACHO_VERSION_MAJOR, MACHO_VERSION_MINOR,
           MACHO_VERSION_PATCH);
  assert_string_equal(macho_version_string(), want);
}

static void policy_and_filter_names_round_trip_and_reject_bad_input(void **state) {
  (void)state;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) {
    const char *name = macho_policy_name((macho_policy)p);
    assert_non_null(name);
    macho_policy back = MACHO_POLICY_COUNT;
    assert_int_equal(macho_policy_parse(name, &back), MACHO_OK);
    assert_int_equal(back, p);
  }
  for (int f = 0; f < MACHO_FILTER_COUNT; f++) {
    const char *name = macho_filter_name((macho_filter)f);
    assert_non_null(name);
    macho_filter back = MACHO_FILTER_COUNT;
    assert_int_equal(macho_filter_parse(name, &back), MACHO_OK);
    assert_int_equal(back, f);
  }
  assert_null(macho_policy_name(MACHO_POLICY_COUNT));
  assert_null(macho_policy_name((macho_policy)-1));
  assert_null(macho_filter_name(MACHO_FILTER_COUNT));
  assert_null(macho_filter_name((macho_filter)-1));
  macho_policy p = MACHO_POLICY_FIFO;
  macho_filter f = MACHO_FILTER_BLOOM;
  assert_int_equal(macho_policy_parse("LRU", &p), MACHO_EINVAL); /* case-sensitive */
  assert_int_equal(macho_policy_parse("", &p), MACHO_EINVAL);
  assert_int_equal(macho_policy_parse(NULL, &p), MACHO_EINVAL);
  assert_int_equal(macho_policy_parse("lru", NULL), MACHO_EINVAL);
  assert_int_equal(p, MACHO_POLICY_FIFO); /* untouched on error */
  assert_int_equal(macho_filter_parse("blooom", &f), MACHO_EINVAL);
  assert_int_equal(macho_filter_parse(NULL, &f), MACHO_EINVAL);
  assert_int_equal(macho_filter_parse("none", NULL), MACHO_EINVAL);
  assert_int_equal(f, MACHO_FILTER_BLOOM);
  /* The core's policies are always built; out-of-range ones never are. */
  assert_true(macho_policy_available(MACHO_POLICY_LRU));
  assert_true(macho_policy_available(MACHO_POLICY_FIFO));
  assert_true(macho_policy_available(MACHO_POLICY_RANDOM));
  assert_false(macho_policy_available(MACHO_POLICY_COUNT));
  assert_false(macho_policy_available((macho_policy)-1));
  assert_true(macho_filter_available(MACHO_FILTER_NONE));
  assert_false(macho_filter_available(MACHO_FILTER_COUNT));
  assert_false(macho_filter_available((macho_filter)-1));
}

/* ---- configuration ------------------------------------------------------------- */

static void config_init_fills_the_original_defaults(void **state) {
  (void)state;
  macho_config cfg;
  memset(&cfg, 0xab, sizeof cfg);
  macho_config_init(&cfg);
  assert_int_equal(cfg.capacity_entries, 100);
  assert_true(cfg.ttl_seconds == 600.0);
  assert_int_equal(cfg.shards, 1);
  assert_int_equal(cfg.policy, MACHO_POLICY_LRU);
  assert_int_equal(cfg.filter, MACHO_FILTER_NONE);
  assert_true(cfg.filter_fp_rate == 0.5);
  assert_int_equal(cfg.capacity_bytes, 0);
  assert_null(cfg.object_ops);
  assert_null(cfg.allocator);
  assert_null(cfg.clock);
  const char *why = "x";
  assert_int_equal(macho_config_check(&cfg, &why), MACHO_OK);
  assert_null(why);
  assert_int_equal(macho_config_check(&cfg, NULL), MACHO_OK);
  macho_config_init(NULL); /* no crash */
}

static void *a_malloc(void *ctx, size_t n) {
  (void)ctx;
  (void)n;
  return NULL;
}
static void a_free(void *ctx, void *p, size_t n) {
  (void)ctx;
  (void)p;
  (void)n;
}

/* One invalid field at a time: config_check says EINVAL with a reason, and
 * macho_open refuses without touching *out beyond setting it to NULL. */
static void every_invalid_config_field_is_rejected_with_a_reason(void **state) {
  (void)state;
  static const macho_object_ops no_equal = {o_hash, NULL, o_nop, o_nop, NULL};
  static const macho_allocator half_alloc = {a_malloc, NULL, a_free, NULL};
  enum { NCASES = 24 };
  for (int i = 0; i < NCASES; i++) {
    macho_config cfg;
    macho_config_init(&cfg);
    bool skip = false;
    switch (i) {
    case 0: cfg.capacity_entries = 0; break;
    case 1: cfg.shards = 0; break;
    case 2: cfg.capacity_entries = 1000000; cfg.shards = 65537; break;
    case 3: cfg.capacity_entries = 4; cfg.shards = 5; break;
    case 4: cfg.capacity_entries = (size_t)1 << 32; break; /* 2^32 in one shard */
    case 5: cfg.ttl_seconds = NAN; break;
    case 6: cfg.ttl_seconds = -1; break;
    case 7: cfg.ttl_seconds = -INFINITY; break;
    case 8: cfg.policy = MACHO_POLICY_COUNT; break;
    case 9: cfg.policy = (macho_policy)-1; break;
    case 10: cfg.filter = MACHO_FILTER_COUNT; break;
    case 11: cfg.filter = (macho_filter)-1; break;
    case 12: cfg.filter_fp_rate = 0; break;
    case 13: cfg.filter_fp_rate = 1; break;
    case 14: cfg.filter_fp_rate = NAN; break;
    case 15: cfg.filter_fp_rate = -0.1; break;
    case 16: cfg.metrics = -1; break;
    case 17: cfg.metrics = 3; break;
    case 18: cfg.object_ops = &no_equal; break;
    case 19: cfg.object_ops = &obj_ops; cfg.capacity_bytes = 1000; break;
    case 20: cfg.capacity_bytes = 3; cfg.shards = 4; break;
    case 21: cfg.allocator = &half_alloc; break;
    case 22: { /* a policy this build does not implement, if any */
      int p = 0;
      while (p < MACHO_POLICY_COUNT && macho_policy_available((macho_policy)p)) p++;
      if (p == MACHO_POLICY_COUNT) skip = true;
      else cfg.policy = (macho_policy)p;
      break;
    }
    case 23: { /* a filter this build does not implement, if any */
      int f = 0;
      while (f < MACHO_FILTER_COUNT && macho_filter_available((macho_filter)f)) f++;
      if (f == MACHO_FILTER_COUNT) skip = true;
      else cfg.filter = (macho_filter)f;
      break;
    }
    }
    if (skip) continue;
    const char *why = NULL;
    if (macho_config_check(&cfg, &why) != MACHO_EINVAL) fail_msg("config case %d was accepted", i);
    assert_non_null(why);
    assert_true(strlen(why) > 10);
    macho_cache *c = (macho_cache *)&cfg; /* garbage, must become NULL */
    assert_int_equal(macho_open(&cfg, &c), MACHO_EINVAL);
    assert_null(c);
  }
  const char *why = NULL;
  assert_int_equal(macho_config_check(NULL, &why), MACHO_EINVAL);
  assert_non_null(why);
  macho_cache *c = NULL;
  assert_int_equal(macho_open(NULL, &c), MACHO_EINVAL);
  macho_config cfg;
  macho_config_init(&cfg);
  assert_int_equal(macho_open(&cfg, NULL), MACHO_EINVAL);
}

static void boundary_configs_are_accepted(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 1;
  cfg.ttl_seconds = INFINITY;
  cfg.filter_fp_rate = 1e-9;
  cfg.metrics = 0;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  macho_close(c);
  cfg.capacity_entries = 65536;
  cfg.shards = 65536;
  cfg.capacity_bytes = 65536;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  macho_config got;
  assert_int_equal(macho_config_get(c, &got), MACHO_OK);
  assert_int_equal(got.shards, 65536);
  assert_int_equal(got.capacity_bytes, 65536);
  macho_close(c);
}

/* ---- bytes mode ---------------------------------------------------------------- */

static void bytes_calls_reject_null_and_oversized_arguments(void **state) {
  (void)state;
  macho_cache *c = open_default();
  char buf[8];
  size_t n = 77;
  const size_t huge = (size_t)UINT32_MAX + 1;
  assert_int_equal(macho_put(c, "a", 1, "1", 1), MACHO_OK);
  macho_counters before = test_counters(c);

  assert_int_equal(macho_put(NULL, "k", 1, "v", 1), MACHO_EINVAL);
  assert_int_equal(macho_put(c, NULL, 1, "v", 1), MACHO_EINVAL);
  assert_int_equal(macho_put(c, "k", 1, NULL, 1), MACHO_EINVAL);
  assert_int_equal(macho_put(c, "k", huge, "v", 1), MACHO_EINVAL);
  assert_int_equal(macho_put(c, "k", 1, "v", huge), MACHO_EINVAL);
  assert_int_equal(macho_put_ttl(NULL, "k", 1, "v", 1, 1), MACHO_EINVAL);
  assert_int_equal(macho_put_ttl(c, NULL, 1, "v", 1, 1), MACHO_EINVAL);
  assert_int_equal(macho_put_ttl(c, "k", 1, NULL, 1, 1), MACHO_EINVAL);
  assert_int_equal(macho_put_ttl(c, "k", 1, "v", 1, NAN), MACHO_EINVAL);
  assert_int_equal(macho_put_ttl(c, "k", 1, "v", 1, -1), MACHO_EINVAL);
  assert_int_equal(macho_put_ttl(c, "k", 1, "v", 1, -INFINITY), MACHO_EINVAL);
  assert_int_equal(macho_put_ttl(c, "k", huge, "v", 1, 1), MACHO_EINVAL);
  assert_int_equal(macho_get(NULL, "a", 1, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_get(c, NULL, 1, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_get(c, "a", 1, NULL, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(macho_get(c, "a", huge, buf, sizeof buf, &n), MACHO_EINVAL);
  assert_int_equal(n, 77);
  assert_int_equal(macho_contains(NULL, "a", 1), MACHO_EINVAL);
  assert_int_equal(macho_contains(c, NULL, 1), MACHO_EINVAL);
  assert_int_equal(macho_delete(NULL, "a", 1), MACHO_EINVAL);
  assert_int_equal(macho_delete(c, NULL, 1), MACHO_EINVAL);
  assert_int_equal(macho_delete(c, "a", huge), MACHO_EINVAL);

  macho_counters after = test_counters(c);
  assert_memory_equal(&before, &after, sizeof before);
  assert_int_equal(macho_len(c), 1);
  assert_int_equal(macho_contains(c, "a", 1), MACHO_OK);
  macho_close(c);
}

static void empty_keys_and_values_are_valid(void **state) {
  (void)state;
  macho_cache *c = open_default();
  size_t n = 99;
  assert_int_equal(macho_put(c, NULL, 0, NULL, 0), MACHO_OK); /* the empty key */
  assert_int_equal(macho_get(c, "", 0, NULL, 0, &n), MACHO_OK);
  assert_int_equal(n, 0);
  assert_int_equal(macho_put(c, "", 0, "v", 1), MACHO_OK);
  assert_int_equal(macho_len(c), 1);
  char b[1];
  assert_int_equal(macho_get(c, NULL, 0, b, 1, &n), MACHO_OK);
  assert_int_equal(n, 1);
  assert_int_equal(b[0], 'v');
  assert_int_equal(macho_delete(c, NULL, 0), MACHO_OK);
  assert_int_equal(macho_len(c), 0);
  /* Keys are binary-safe: embedded zero bytes, a prefix is another key. */
  assert_int_equal(macho_put(c, "a\0b", 3, "1", 1), MACHO_OK);
  assert_int_equal(macho_contains(c, "a", 1), MACHO_ENOTFOUND);
  assert_int_equal(macho_contains(c, "a\0b", 3), MACHO_OK);
  assert_int_equal(macho_contains(c, "a\0c", 3), MACHO_ENOTFOUND);
  macho_close(c);
}

static void a_too_small_buffer_copies_nothing_and_counts_nothing(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 2;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  assert_int_equal(macho_put(c, "a", 1, "value", 5), MACHO_OK);
  assert_int_equal(macho_put(c, "b", 1, "xy", 2), MACHO_OK);
  macho_counters before = test_counters(c);
  char buf[4];
  memset(buf, '#', sizeof buf);
  size_t n = 0;
  assert_int_equal(macho_get(c, "a", 1, buf, sizeof buf, &n), MACHO_ERANGE);
  assert_int_equal(n, 5); /* the size needed */
  assert_memory_equal(buf, "####", 4);
  assert_int_equal(macho_get(c, "a", 1, NULL, 0, NULL), MACHO_ERANGE);
  macho_counters after = test_counters(c);
  assert_memory_equal(&before, &after, sizeof before);
  /* No recency either: "a" is still the least recent and goes first. */
  assert_int_equal(macho_put(c, "c", 1, "z", 1), MACHO_OK);
  assert_int_equal(macho_contains(c, "a", 1), MACHO_ENOTFOUND);
  assert_int_equal(macho_contains(c, "b", 1), MACHO_OK);
  /* An exact fit is fine. */
  assert_int_equal(macho_get(c, "b", 1, buf, 2, &n), MACHO_OK);
  assert_memory_equal(buf, "xy", 2);
  macho_close(c);
}

static void a_too_small_buffer_counts_nothing_with_a_filter_either(void **state) {
  (void)state;
  for (int f = 1; f < MACHO_FILTER_COUNT; f++) {
    if (!macho_filter_available((macho_filter)f)) continue;
    macho_config cfg;
    macho_config_init(&cfg);
    cfg.filter = (macho_filter)f;
    macho_cache *c = NULL;
    assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
    assert_int_equal(macho_put(c, "a", 1, "value", 5), MACHO_OK);
    macho_counters before = test_counters(c);
    char buf[2];
    assert_int_equal(macho_get(c, "a", 1, buf, sizeof buf, NULL), MACHO_ERANGE);
    macho_counters after = test_counters(c);
    assert_memory_equal(&before, &after, sizeof before);
    macho_close(c);
  }
}

static void an_entry_larger_than_a_shard_budget_is_too_big(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  /* 64 bytes a shard: MACHO_ENTRY_OVERHEAD + a 16-byte arena block. */
  cfg.capacity_bytes = 2 * (MACHO_ENTRY_OVERHEAD + 16);
  cfg.shards = 2;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  assert_int_equal(macho_put(c, "k", 1, "123456789", 9), MACHO_OK); /* exactly 64 */
  macho_counters before = test_counters(c);
  assert_int_equal(macho_put(c, "k", 1, "12345678901234567", 17), MACHO_ETOOBIG); /* 24-byte block */
  assert_int_equal(macho_put_ttl(c, "kkkkkkkkk", 9, "123456789", 9, 5), MACHO_ETOOBIG); /* two blocks */
  macho_counters after = test_counters(c);
  assert_memory_equal(&before, &after, sizeof before);
  char buf[32];
  size_t n;
  assert_int_equal(macho_get(c, "k", 1, buf, sizeof buf, &n), MACHO_OK);
  assert_int_equal(n, 9); /* the old value stays */
  macho_close(c);
}

static void calls_of_the_other_mode_are_refused(void **state) {
  (void)state;
  macho_cache *b = open_default(), *o = open_objects();
  int key = 1;
  void *v = NULL;
  char buf[4];
  assert_int_equal(macho_obj_put(b, &key, &key), MACHO_EMODE);
  assert_int_equal(macho_obj_put_ttl(b, &key, &key, 1), MACHO_EMODE);
  assert_int_equal(macho_obj_get(b, &key, &v), MACHO_EMODE);
  assert_int_equal(macho_obj_contains(b, &key), MACHO_EMODE);
  assert_int_equal(macho_obj_delete(b, &key), MACHO_EMODE);
  assert_int_equal(macho_put(o, "k", 1, "v", 1), MACHO_EMODE);
  assert_int_equal(macho_put_ttl(o, "k", 1, "v", 1, 1), MACHO_EMODE);
  assert_int_equal(macho_get(o, "k", 1, buf, sizeof buf, NULL), MACHO_EMODE);
  assert_int_equal(macho_contains(o, "k", 1), MACHO_EMODE);
  assert_int_equal(macho_delete(o, "k", 1), MACHO_EMODE);
  assert_int_equal(macho_len(b), 0);
  assert_int_equal(macho_len(o), 0);
  macho_close(b);
  macho_close(o);
}

/* ---- object mode ------------------------------------------------------------------- */

static void object_calls_reject_null_arguments(void **state) {
  (void)state;
  macho_cache *o = open_objects();
  int key = 1, val = 2;
  void *v = &val;
  assert_int_equal(macho_obj_put(o, &key, &val), MACHO_OK);
  assert_int_equal(macho_obj_put(NULL, &key, &val), MACHO_EINVAL);
  assert_int_equal(macho_obj_put(o, NULL, &val), MACHO_EINVAL);
  assert_int_equal(macho_obj_put_ttl(NULL, &key, &val, 1), MACHO_EINVAL);
  assert_int_equal(macho_obj_put_ttl(o, NULL, &val, 1), MACHO_EINVAL);
  assert_int_equal(macho_obj_put_ttl(o, &key, &val, NAN), MACHO_EINVAL);
  assert_int_equal(macho_obj_put_ttl(o, &key, &val, -0.5), MACHO_EINVAL);
  assert_int_equal(macho_obj_get(NULL, &key, &v), MACHO_EINVAL);
  assert_int_equal(macho_obj_get(o, NULL, &v), MACHO_EINVAL);
  assert_int_equal(macho_obj_get(o, &key, NULL), MACHO_EINVAL);
  assert_ptr_equal(v, &val);
  assert_int_equal(macho_obj_contains(NULL, &key), MACHO_EINVAL);
  assert_int_equal(macho_obj_contains(o, NULL), MACHO_EINVAL);
  assert_int_equal(macho_obj_delete(NULL, &key), MACHO_EINVAL);
  assert_int_equal(macho_obj_delete(o, NULL), MACHO_EINVAL);
  assert_int_equal(macho_len(o), 1);
  assert_int_equal(macho_obj_get(o, &key, &v), MACHO_OK);
  assert_ptr_equal(v, &val);
  macho_close(o);
}

/* ---- whole cache, counters, lifetime ------------------------------------------------- */

static int count_keys(void *ctx, const void *key, size_t klen) {
  (void)key;
  (void)klen;
  ++*(int *)ctx;
  return 0;
}

static void whole_cache_calls_reject_null_arguments(void **state) {
  (void)state;
  macho_cache *c = open_default();
  int n = 0;
  macho_counters ct;
  macho_config cfg;
  assert_int_equal(macho_clear(NULL), MACHO_EINVAL);
  assert_int_equal(macho_len(NULL), 0);
  assert_int_equal(macho_expire(NULL, NULL), MACHO_EINVAL);
  assert_int_equal(macho_foreach_key(NULL, count_keys, &n), MACHO_EINVAL);
  assert_int_equal(macho_foreach_key(c, NULL, &n), MACHO_EINVAL);
  assert_int_equal(macho_shard_count(NULL), 0);
  assert_int_equal(macho_counters_get(NULL, -1, &ct), MACHO_EINVAL);
  assert_int_equal(macho_counters_get(c, -1, NULL), MACHO_EINVAL);
  assert_int_equal(macho_counters_get(c, 1, &ct), MACHO_EINVAL);
  assert_int_equal(macho_counters_get(c, -2, &ct), MACHO_EINVAL);
  assert_int_equal(macho_config_get(NULL, &cfg), MACHO_EINVAL);
  assert_int_equal(macho_config_get(c, NULL), MACHO_EINVAL);
  macho_close(NULL); /* a no-op */
  /* The cache is fine afterwards. */
  assert_int_equal(macho_put(c, "k", 1, "v", 1), MACHO_OK);
  assert_int_equal(macho_foreach_key(c, count_keys, &n), MACHO_OK);
  assert_int_equal(n, 1);
  assert_int_equal(macho_shard_count(c), 1);
  macho_close(c);
}

static void config_get_returns_what_was_opened(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 77;
  cfg.shards = 3;
  cfg.policy = MACHO_POLICY_FIFO;
  cfg.ttl_seconds = 12.5;
  cfg.seed = 42;
  macho_cache *c = NULL;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  macho_config got;
  assert_int_equal(macho_config_get(c, &got), MACHO_OK);
  assert_int_equal(got.capacity_entries, 77);
  assert_int_equal(got.shards, 3);
  assert_int_equal(got.policy, MACHO_POLICY_FIFO);
  assert_true(got.ttl_seconds == 12.5);
  assert_int_equal(got.seed, 42);
  macho_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_status_has_a_message_and_a_name),
      cmocka_unit_test(an_unknown_status_has_a_generic_message),
      cmocka_unit_test(version_macros_match_the_library),
      cmocka_unit_test(policy_and_filter_names_round_trip_and_reject_bad_input),
      cmocka_unit_test(config_init_fills_the_original_defaults),
      cmocka_unit_test(every_invalid_config_field_is_rejected_with_a_reason),
      cmocka_unit_test(boundary_configs_are_accepted),
      cmocka_unit_test(bytes_calls_reject_null_and_oversized_arguments),
      cmocka_unit_test(empty_keys_and_values_are_valid),
      cmocka_unit_test(a_too_small_buffer_copies_nothing_and_counts_nothing),
      cmocka_unit_test(a_too_small_buffer_counts_nothing_with_a_filter_either),
      cmocka_unit_test(an_entry_larger_than_a_shard_budget_is_too_big),
      cmocka_unit_test(calls_of_the_other_mode_are_refused),
      cmocka_unit_test(object_calls_reject_null_arguments),
      cmocka_unit_test(whole_cache_calls_reject_null_arguments),
      cmocka_unit_test(config_get_returns_what_was_opened),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
