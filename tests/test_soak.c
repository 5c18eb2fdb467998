/*
 * test_soak.c -- a soak: THREADS workers x millions of mixed operations on
 * one sharded cache per configuration (every filter, four policies, TTLs),
 * while one thread takes stats snapshots and another scrapes the dashboard's
 * /api/stats over loopback. Bounded by operation counts, never by time;
 * fixed seeds (support.h). Under sanitizers (MACHO_SANITIZED=1, set by
 * scripts/test.sh) the counts are cut by SANITIZED_DIVISOR; ctest label
 * "concurrency", so it also runs under ThreadSanitizer.
 *
 * Every put writes a fresh key (thread << 48 | sequence), so every successful
 * put is a put of a new key and the removals can be counted exactly. Gets and
 * deletes aim at keys any thread put recently (rings the writers publish).
 * A value carries its key, the writer's clock reading and its TTL; the clock
 * is a shared atomic the workers advance by 1 ms every CLOCK_EVERY ops.
 * Workers assert nothing: they record, and the main thread checks after the
 * joins:
 *   - every value returned belonged to the key asked for;
 *   - no value was returned more than 1 ms past its TTL: a hit whose clock
 *     reading before the get was at or beyond (the writer's clock reading
 *     after its put) + TTL + 1 ms is a stale read (deferred check against the
 *     writers' logs; the 1 ms is what a core with millisecond ticks may keep);
 *   - entries <= capacity, in every shard and in every snapshot taken
 *     during the run; hits + misses = gets in every snapshot and at the end;
 *     gets, hits, puts and deletes equal what the workers counted;
 *   - every removal counted once: evictions + expirations + deletes + cleared
 *     = puts (all of new keys) - entries left, and the lifespan histograms
 *     count as many removals per reason as the counters;
 *   - after a final clear, memory_bytes and the allocator's live bytes are
 *     back to the baseline taken after a warm-up fill and clear by as many
 *     threads (the cache's structures at full size, every payload gone).
 */
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum {
  THREADS = 4,
  OPS_PER_THREAD = 250000, /* release build; sanitizers: / SANITIZED_DIVISOR */
  SANITIZED_DIVISOR = 20,
  CAPACITY = 3000,
  SHARDS = 8,
  RING = 4096,      /* recent keys each writer publishes */
  CLOCK_EVERY = 64, /* ops between a worker's 1 ms clock steps */
};
#define MS 1000000ull

/* ---- the shared clock ------------------------------------------------------------ */
static _Atomic uint64_t clock_ns;
static uint64_t soak_clock(void *ctx) {
  (void)ctx;
  return atomic_load_explicit(&clock_ns, memory_order_acquire);
}

/* ---- per-worker state -------------------------------------------------------------- */
typedef struct stale_probe {
  uint64_t key;       /* whose write was read */
  uint64_t read_ns;   /* clock before the get */
  uint64_t ttl_ns;
} stale_probe;

typedef struct worker {
  pthread_t tid;
  int index;
  uint64_t rng;
  uint64_t ops;
  /* what it did */
  uint64_t gets, hits, puts, deletes, clears, expires, enomem;
  uint64_t foreign;    /* a value of another key */
  uint64_t bad_status; /* a status the call cannot return here */
  /* writes: w_after[seq] = clock after the put returned (0 = the put failed) */
  uint64_t *w_after;
  uint64_t seq;
  _Atomic uint64_t ring[RING]; /* recent keys, published for the others */
  /* reads of values with a TTL, checked after the joins */
  stale_probe *probes;
  size_t nprobes, probes_cap;
  uint64_t probes_dropped;
} worker;

typedef struct value {
  uint64_t key, w_before, ttl_ns;
} value;

static worker workers[THREADS];
static macho_cache *cache;
static _Atomic int stop_observers;

static uint64_t key_of(int thread, uint64_t seq) { return (uint64_t)(thread + 1) << 48 | seq; }

static uint64_t recent_key(worker *w) {
  uint64_t x = test_rand(&w->rng);
  worker *o = &workers[x % THREADS];
  uint64_t k = atomic_load_explicit(&o->ring[(x >> 8) % RING], memory_order_relaxed);
  return k ? k : key_of(0, x >> 20); /* nothing published there yet: a key never put */
}

static void do_put(worker *w, uint64_t x) {
  uint64_t seq = ++w->seq;
  uint64_t k = key_of(w->index, seq);
  unsigned which = (unsigned)(x >> 40) % 8;
  /* Default TTL (200 ms), never, or 5 / 20 / 100 ms of its own. */
  static const double own[] = {0, 0.005, 0.02, 0.1};
  value v = {k, soak_clock(NULL), 0};
  int rc;
  if (which < 4) {
    v.ttl_ns = 200 * MS;
    rc = macho_put(cache, &k, sizeof k, &v, sizeof v);
  } else {
    double ttl = own[which - 4];
    v.ttl_ns = (uint64_t)(ttl * 1e9 + 0.5);
    rc = macho_put_ttl(cache, &k, sizeof k, &v, sizeof v, ttl);
  }
  if (rc == MACHO_OK) {
    w->puts++;
    w->w_after[seq] = soak_clock(NULL);
    atomic_store_explicit(&w->ring[seq % RING], k, memory_order_relaxed);
  } else if (rc == MACHO_ENOMEM) {
    w->enomem++;
  } else {
    w->bad_status++;
  }
}

static void do_get(worker *w) {
  uint64_t k = recent_key(w);
  value v;
  size_t n = 0;
  uint64_t before = soak_clock(NULL);
  int rc = macho_get(cache, &k, sizeof k, &v, sizeof v, &n);
  w->gets++;
  if (rc == MACHO_OK) {
    w->hits++;
    if (n != sizeof v || v.key != k) {
      w->foreign++;
      return;
    }
    if (v.ttl_ns) {
      if (w->nprobes < w->probes_cap) w->probes[w->nprobes++] = (stale_probe){k, before, v.ttl_ns};
      else w->probes_dropped++;
    }
  } else if (rc != MACHO_ENOTFOUND) {
    w->bad_status++;
  }
}

static void *work(void *arg) {
  worker *w = arg;
  for (uint64_t i = 0; i < w->ops; i++) {
    uint64_t x = test_rand(&w->rng);
    unsigned op = (unsigned)(x % 100000);
    if (i % CLOCK_EVERY == 0) atomic_fetch_add_explicit(&clock_ns, MS, memory_order_acq_rel);
    if (op < 45000) do_put(w, x);
    else if (op < 90000) do_get(w);
    else if (op < 97000) {
      uint64_t k = recent_key(w);
      int rc = macho_delete(cache, &k, sizeof k);
      if (rc == MACHO_OK) w->deletes++;
      else if (rc != MACHO_ENOTFOUND) w->bad_status++;
    } else if (op < 99990) {
      uint64_t k = recent_key(w);
      int rc = macho_contains(cache, &k, sizeof k);
      if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) w->bad_status++;
    } else if (op < 99995) {
      if (macho_expire(cache, NULL) != MACHO_OK) w->bad_status++;
      w->expires++;
    } else {
      if (macho_clear(cache) != MACHO_OK) w->bad_status++; /* 1 in 20000 ops */
      w->clears++;
    }
  }
  return NULL;
}

/* ---- observers: stats snapshots and the dashboard ------------------------------------ */
typedef struct observer {
  pthread_t tid;
  uint64_t snapshots, scrapes;
  uint64_t inconsistent; /* hits + misses != gets, entries > capacity, or counters going back */
  uint64_t failed;       /* a call or request that failed */
  unsigned port;
} observer;

static void *snapshotter(void *arg) {
  observer *o = arg;
  uint64_t last_gets = 0;
  int shard = -1;
  while (!atomic_load(&stop_observers)) {
    macho_stats *st = NULL;
    int rc = macho_stats_get(cache, shard, &st);
    if (rc != MACHO_OK) {
      o->failed++;
      continue;
    }
    o->snapshots++;
    const macho_counters *c = &st->counters;
    if (c->hits + c->misses != c->gets || c->entries > c->capacity_entries) o->inconsistent++;
    if (shard == -1) {
      if (c->gets < last_gets) o->inconsistent++;
      last_gets = c->gets;
    }
    macho_stats_free(st);
    shard = shard + 1 < SHARDS ? shard + 1 : -1;
  }
  return NULL;
}

static int fetch_stats(unsigned port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  char req[160];
  int n = snprintf(req, sizeof req, "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", port);
  (void)!send(fd, req, (size_t)n, MSG_NOSIGNAL);
  static _Thread_local char buf[1 << 16];
  size_t got = 0;
  ssize_t r;
  while (got < sizeof buf - 1 && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0) got += (size_t)r;
  buf[got] = '\0';
  close(fd);
  int status = got > 12 ? atoi(buf + 9) : 0;
  if (status == 200 && !strstr(buf, "\"hits\"")) status = -2; /* a 200 without the figures */
  return status;
}

static void *scraper(void *arg) {
  observer *o = arg;
  while (!atomic_load(&stop_observers)) {
    if (fetch_stats(o->port) != 200) o->failed++;
    o->scrapes++;
  }
  return NULL;
}

/* ---- one soak -------------------------------------------------------------------------- */

/* Fill the cache (shares of 4 x CAPACITY keys below 2^48: never a soak key)
 * and read back. Records failures in `warm_failures`; asserted after the joins. */
static _Atomic int warm_failures;
static pthread_barrier_t warm_barrier;
static void *warm_up(void *arg) {
  uint64_t i = (uint64_t)(uintptr_t)arg;
  for (uint64_t k = 1 + i; k <= 4 * CAPACITY; k += THREADS + 2) {
    value v = {k, 0, 0};
    if (macho_put(cache, &k, sizeof k, &v, sizeof v) != MACHO_OK) atomic_fetch_add(&warm_failures, 1);
    int rc = macho_get(cache, &k, sizeof k, &v, sizeof v, NULL);
    if (rc != MACHO_OK && rc != MACHO_ENOTFOUND) atomic_fetch_add(&warm_failures, 1); /* others may evict it */
  }
  macho_stats *st = NULL;
  if (macho_stats_get(cache, -1, &st) != MACHO_OK) atomic_fetch_add(&warm_failures, 1);
  macho_stats_free(st);
  /* Exit only once every warm-up thread has used the cache: per-thread
   * records are reused after a thread exits, so this leaves as many as the
   * soak can need at once, and the baseline does not depend on timing. */
  pthread_barrier_wait(&warm_barrier);
  return NULL;
}
typedef struct soak_totals {
  uint64_t ops, gets, hits, puts, deletes, evictions, expirations, cleared, snapshots, scrapes, probes;
} soak_totals;
static soak_totals grand;

static void run_soak(macho_policy policy, macho_filter filter) {
  test_alloc ta = {0};
  macho_allocator hooks = test_alloc_hooks(&ta);
  atomic_store(&clock_ns, 1000000 * MS);
  atomic_store(&stop_observers, 0);
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = CAPACITY;
  cfg.shards = SHARDS;
  cfg.policy = policy;
  cfg.filter = filter;
  cfg.filter_fp_rate = 0.01;
  cfg.ttl_seconds = 0.2;
  cfg.seed = test_seed();
  cfg.clock = soak_clock;
  cfg.allocator = &hooks;
  assert_int_equal(macho_open(&cfg, &cache), MACHO_OK);

  /* Baseline: structures at full size (table, metrics blocks, any payload
   * arena at its working size: the soak's key and value sizes), then no
   * payload. Warm-up runs in as many threads as the soak has (workers and
   * observers): a core may keep a per-thread record in the cache (its
   * counters), reused once the thread exits, so memory is bounded by the
   * threads at once, not by the data. */
  pthread_t warm[THREADS + 2];
  assert_int_equal(pthread_barrier_init(&warm_barrier, NULL, THREADS + 2), 0);
  for (int i = 0; i < THREADS + 2; i++)
    if (pthread_create(&warm[i], NULL, warm_up, (void *)(uintptr_t)i) != 0) abort();
  for (int i = 0; i < THREADS + 2; i++) pthread_join(warm[i], NULL);
  pthread_barrier_destroy(&warm_barrier);
  assert_int_equal(atomic_load(&warm_failures), 0);
  assert_int_equal(macho_len(cache), CAPACITY);
  assert_int_equal(macho_clear(cache), MACHO_OK);
  assert_int_equal(macho_stats_reset(cache), MACHO_OK);
  uint64_t base_memory = test_counters(cache).memory_bytes;
  int64_t base_live = ta.live_bytes;

  macho_dashboard *dash = NULL;
  assert_int_equal(macho_dashboard_start(cache, NULL, &dash), MACHO_OK);
  observer snap = {0}, scrape = {0};
  scrape.port = (unsigned)atoi(strrchr(macho_dashboard_url(dash), ':') + 1);

  uint64_t ops = test_scale(OPS_PER_THREAD, SANITIZED_DIVISOR);
  for (int i = 0; i < THREADS; i++) {
    worker *w = &workers[i];
    memset(w, 0, sizeof *w);
    w->index = i;
    w->rng = test_seed() ^ (0x50a4ull * (uint64_t)(i + 1) + (uint64_t)policy * 131 + (uint64_t)filter);
    w->ops = ops;
    w->w_after = calloc(ops + 2, sizeof *w->w_after);
    w->probes_cap = (size_t)ops;
    w->probes = malloc(w->probes_cap * sizeof *w->probes);
    assert_non_null(w->w_after);
    assert_non_null(w->probes);
  }
  /* From here until the joins nothing may assert: threads are running. */
  if (pthread_create(&snap.tid, NULL, snapshotter, &snap) != 0) abort();
  if (pthread_create(&scrape.tid, NULL, scraper, &scrape) != 0) abort();
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&workers[i].tid, NULL, work, &workers[i]) != 0) abort();
  for (int i = 0; i < THREADS; i++) pthread_join(workers[i].tid, NULL);
  atomic_store(&stop_observers, 1);
  pthread_join(snap.tid, NULL);
  pthread_join(scrape.tid, NULL);
  macho_dashboard_stop(dash);

  /* ---- checks ---- */
  const char *what = macho_filter_name(filter);
  uint64_t gets = 0, hits = 0, puts = 0, deletes = 0, probes = 0, stale = 0, first_stale_late = 0;
  for (int i = 0; i < THREADS; i++) {
    worker *w = &workers[i];
    if (w->foreign) fail_msg("%s: thread %d read %llu values of another key", what, i, (unsigned long long)w->foreign);
    if (w->bad_status) fail_msg("%s: thread %d got %llu unexpected statuses", what, i, (unsigned long long)w->bad_status);
    if (w->enomem) fail_msg("%s: thread %d got ENOMEM %llu times with memory to spare", what, i, (unsigned long long)w->enomem);
    gets += w->gets;
    hits += w->hits;
    puts += w->puts;
    deletes += w->deletes;
    for (size_t j = 0; j < w->nprobes; j++) {
      const stale_probe *p = &w->probes[j];
      int t = (int)(p->key >> 48) - 1;
      uint64_t seq = p->key & ((1ull << 48) - 1);
      uint64_t written = workers[t].w_after[seq];
      if (!written) fail_msg("%s: a hit on a key whose put never succeeded", what);
      if (p->read_ns >= written + p->ttl_ns + MS) {
        if (!stale++) first_stale_late = p->read_ns - (written + p->ttl_ns);
      }
    }
    probes += w->nprobes;
  }
  if (stale)
    fail_msg("%s: %llu of %llu reads returned a value past its TTL (the first %llu ns late)", what,
             (unsigned long long)stale, (unsigned long long)probes, (unsigned long long)first_stale_late);
  if (snap.inconsistent) fail_msg("%s: %llu inconsistent snapshots", what, (unsigned long long)snap.inconsistent);
  if (snap.failed || scrape.failed)
    fail_msg("%s: %llu snapshots and %llu scrapes failed", what, (unsigned long long)snap.failed,
             (unsigned long long)scrape.failed);

  macho_stats *st = NULL;
  assert_int_equal(macho_stats_get(cache, -1, &st), MACHO_OK);
  const macho_counters *c = &st->counters;
  assert_int_equal(c->gets, gets);
  assert_int_equal(c->hits, hits);
  assert_int_equal(c->hits + c->misses, c->gets);
  assert_int_equal(c->puts, puts);
  assert_int_equal(c->deletes, deletes);
  assert_true(c->entries <= CAPACITY);
  assert_int_equal(c->entries, macho_len(cache));
  for (int s = 0; s < SHARDS; s++) {
    macho_counters sc;
    assert_int_equal(macho_counters_get(cache, s, &sc), MACHO_OK);
    assert_true(sc.entries <= sc.capacity_entries);
  }
  uint64_t cleared = st->lifespan_ns[MACHO_REMOVED_CLEARED].count;
  if (c->evictions + c->expirations + deletes + cleared != puts - c->entries)
    fail_msg("%s: evictions %llu + expirations %llu + deletes %llu + cleared %llu != puts %llu - entries %llu", what,
             (unsigned long long)c->evictions, (unsigned long long)c->expirations, (unsigned long long)deletes,
             (unsigned long long)cleared, (unsigned long long)puts, (unsigned long long)c->entries);
  assert_int_equal(st->lifespan_ns[MACHO_REMOVED_EVICTED].count, c->evictions);
  assert_int_equal(st->lifespan_ns[MACHO_REMOVED_EXPIRED].count, c->expirations);
  assert_int_equal(st->lifespan_ns[MACHO_REMOVED_DELETED].count, c->deletes);
  assert_true(c->evictions > 0 && c->expirations > 0 && hits > 0); /* the soak reached every path */
  soak_totals t = {THREADS * ops, gets, hits, puts, deletes, c->evictions, c->expirations, cleared,
                   snap.snapshots, scrape.scrapes, probes};
  macho_stats_free(st);

  /* Back to the baseline after a clear. */
  assert_int_equal(macho_clear(cache), MACHO_OK);
  uint64_t mem = test_counters(cache).memory_bytes;
  if (mem != base_memory || ta.live_bytes != base_live)
    fail_msg("%s: after clear memory_bytes %llu (baseline %llu), allocator holds %lld bytes (baseline %lld)", what,
             (unsigned long long)mem, (unsigned long long)base_memory, (long long)ta.live_bytes, (long long)base_live);
  macho_close(cache);
  assert_int_equal(ta.live_bytes, 0);
  assert_int_equal(ta.live_blocks, 0);
  for (int i = 0; i < THREADS; i++) {
    free(workers[i].w_after);
    free(workers[i].probes);
  }
  print_message("# %-6s/%-8s %llu ops (%d threads): %llu gets (%llu hits), %llu puts, %llu deletes, %llu evictions, "
                "%llu expirations, %llu cleared; %llu TTL reads checked; %llu snapshots, %llu scrapes\n",
                macho_filter_name(filter), macho_policy_name(policy), (unsigned long long)t.ops, THREADS,
                (unsigned long long)t.gets, (unsigned long long)t.hits, (unsigned long long)t.puts,
                (unsigned long long)t.deletes, (unsigned long long)t.evictions, (unsigned long long)t.expirations,
                (unsigned long long)t.cleared, (unsigned long long)t.probes, (unsigned long long)t.snapshots,
                (unsigned long long)t.scrapes);
  grand.ops += t.ops;
  grand.probes += t.probes;
  grand.snapshots += t.snapshots;
  grand.scrapes += t.scrapes;
}

static void soak_lru_without_a_filter(void **state) {
  (void)state;
  run_soak(MACHO_POLICY_LRU, MACHO_FILTER_NONE);
}
static void soak_s3fifo_behind_a_bloom_filter(void **state) {
  (void)state;
  run_soak(MACHO_POLICY_S3FIFO, MACHO_FILTER_BLOOM);
}
static void soak_wtinylfu_behind_a_cuckoo_filter(void **state) {
  (void)state;
  run_soak(MACHO_POLICY_WTINYLFU, MACHO_FILTER_CUCKOO);
}
static void soak_sieve_behind_a_rebuilding_xor_filter(void **state) {
  (void)state;
  run_soak(MACHO_POLICY_SIEVE, MACHO_FILTER_XOR);
}

static int print_totals(void **state) {
  (void)state;
  print_message("# soak total: %llu operations, %llu TTL reads checked, %llu snapshots, %llu dashboard scrapes\n",
                (unsigned long long)grand.ops, (unsigned long long)grand.probes,
                (unsigned long long)grand.snapshots, (unsigned long long)grand.scrapes);
  return 0;
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(soak_lru_without_a_filter),
      cmocka_unit_test(soak_s3fifo_behind_a_bloom_filter),
      cmocka_unit_test(soak_wtinylfu_behind_a_cuckoo_filter),
      cmocka_unit_test(soak_sieve_behind_a_rebuilding_xor_filter),
  };
  return cmocka_run_group_tests(tests, NULL, print_totals);
}
