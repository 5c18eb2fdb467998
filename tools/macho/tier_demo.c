/*
 * tier_demo.c -- `macho tier-demo`: two processes, each with its own macho
 * tier (L1) in front of one Redis; process A writes, process B sees the
 * change, and the delay from A's write to B's invalidation is measured.
 *
 * For each write: B reads the key (so Redis tracks it for B), tells A; A
 * notes the time and writes a new value through its tier; Redis pushes an
 * invalidation to B, whose listener (options.on_invalidate, on B's
 * invalidation thread) notes the time; B then reads the key again and checks
 * it got A's value. Both processes read CLOCK_MONOTONIC, one clock for the
 * whole machine, so the delay is (B's invalidation) - (start of A's put):
 * A's round trip to Redis, Redis's push, and B's read of it.
 */
#include "cli.h"

#include <errno.h>
#include <macho/macho.h>
#include <math.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* B's listener: the time of the key's invalidation, and a wake-up. */
typedef struct listener {
  _Atomic uint64_t at_ns;
  sem_t sem;
} listener;

static void on_invalidate(void *ctx, const void *key, size_t klen, int cause) {
  listener *l = ctx;
  (void)cause;
  if (key && klen == 8 && memcmp(key, "greeting", 8) == 0) {
    uint64_t expected = 0;
    atomic_compare_exchange_strong(&l->at_ns, &expected, now_ns());
    sem_post(&l->sem);
  }
}

/* What B reports for each write. */
typedef struct report {
  uint64_t invalidated_ns; /* 0 = never within the wait */
  uint8_t saw_new_value;
  char value[64];
} report;

static int open_tier(const char *redis, const char *prefix, listener *l, macho_tier **out, bool quiet) {
  macho_tier_options o;
  macho_tier_options_init(&o);
  char err[256] = "";
  o.redis = redis;
  o.key_prefix = prefix;
  o.error_buf = err;
  o.error_buf_size = sizeof err;
  if (l) {
    o.on_invalidate = on_invalidate;
    o.on_invalidate_ctx = l;
  }
  int rc = macho_tier_open(&o, out);
  if (rc != MACHO_OK && !quiet) fprintf(stderr, "macho tier-demo: %s (%s)\n", err, macho_status_name(rc));
  return rc;
}

static bool write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w <= 0) return false;
    c += w, n -= (size_t)w;
  }
  return true;
}

static bool read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t r = read(fd, c, n);
    if (r <= 0) return false;
    c += r, n -= (size_t)r;
  }
  return true;
}

/* Process B. Exits 0 when every write was seen. */
static int run_reader(const char *redis, const char *prefix, uint64_t writes, int to_a, int from_a) {
  listener l;
  atomic_init(&l.at_ns, 0);
  sem_init(&l.sem, 0, 0);
  macho_tier *b;
  if (open_tier(redis, prefix, &l, &b, true) != MACHO_OK) return CLI_FAIL; /* A reports it */
  char buf[64];
  size_t n;
  int rc = CLI_OK;
  for (uint64_t i = 0; i < writes; i++) {
    /* Read the key (tracked from now on), then let A write. */
    int st = macho_tier_get(b, "greeting", 8, buf, sizeof buf, &n);
    if (st != MACHO_OK && st != MACHO_ENOTFOUND) {
      rc = CLI_FAIL;
      break;
    }
    atomic_store(&l.at_ns, 0);
    while (sem_trywait(&l.sem) == 0) {
    }
    char go = 'R', want[64];
    if (!write_all(to_a, &go, 1) || !read_all(from_a, want, sizeof want)) {
      rc = CLI_FAIL;
      break;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    report r = {0};
    while (sem_timedwait(&l.sem, &until) != 0 && errno == EINTR) {
    }
    r.invalidated_ns = atomic_load(&l.at_ns);
    st = macho_tier_get(b, "greeting", 8, buf, sizeof buf - 1, &n);
    if (st == MACHO_OK) {
      buf[n] = '\0';
      snprintf(r.value, sizeof r.value, "%.63s", buf);
      r.saw_new_value = strcmp(buf, want) == 0;
    }
    if (!write_all(to_a, &r, sizeof r)) {
      rc = CLI_FAIL;
      break;
    }
  }
  macho_tier_stats s;
  if (macho_tier_stats_get(b, &s) == MACHO_OK) write_all(to_a, &s, sizeof s);
  macho_tier_close(b);
  sem_destroy(&l.sem);
  return rc;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double quantile_us(const uint64_t *sorted, size_t n, double q) {
  size_t i = (size_t)ceil(q * (double)n);
  if (i > 0) i--;
  if (i >= n) i = n - 1;
  return (double)sorted[i] / 1000.0;
}

typedef struct tier_demo_opts {
  cli_base base;
  const char *redis;
  uint64_t writes;
  bool json;
} tier_demo_opts;

static int tier_demo_run(void *p) {
  const tier_demo_opts *o = p;
  const char *redis = o->redis;
  uint64_t writes = o->writes;
  bool json = o->json;
  if (!macho_tier_available()) {
    fprintf(stderr, "macho tier-demo: this build has no Redis tier (built without hiredis)\n");
    return CLI_FAIL;
  }
  /* Keys of this run only, so that a shared Redis is not disturbed. */
  char prefix[64];
  snprintf(prefix, sizeof prefix, "macho:tier-demo:%ld:", (long)getpid());

  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0) {
    perror("macho tier-demo: pipe");
    return CLI_FAIL;
  }
  fflush(NULL);
  pid_t pid = fork(); /* before any tier exists here: the child starts with one thread */
  if (pid < 0) {
    perror("macho tier-demo: fork");
    return CLI_FAIL;
  }
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    _exit(run_reader(redis, prefix, writes, up[1], down[0]));
  }
  close(up[1]);
  close(down[0]);
  signal(SIGPIPE, SIG_IGN); /* B may die; we then report it instead */

  macho_tier *a = NULL;
  int rc = open_tier(redis, prefix, NULL, &a, false);
  uint64_t *delays = rc == MACHO_OK ? malloc(writes * sizeof *delays) : NULL;
  uint64_t *puts = rc == MACHO_OK ? malloc(writes * sizeof *puts) : NULL; /* A's own round trip, the baseline */
  size_t nputs = 0;
  size_t ndelays = 0, missed = 0, wrong = 0;
  if (rc == MACHO_OK && (!delays || !puts)) {
    fprintf(stderr, "macho tier-demo: out of memory\n");
    rc = MACHO_ENOMEM;
  }
  if (rc == MACHO_OK && !json)
    printf("process A (pid %ld) writes, process B (pid %ld) reads; both: a macho L1 in front of Redis at %s\n",
           (long)getpid(), (long)pid, redis);
  for (uint64_t i = 0; rc == MACHO_OK && i < writes; i++) {
    char go;
    if (!read_all(up[0], &go, 1)) {
      fprintf(stderr, "macho tier-demo: process B stopped\n");
      rc = MACHO_EIO;
      break;
    }
    char value[64] = {0};
    snprintf(value, sizeof value, "hello from A (write %llu)", (unsigned long long)i + 1);
    uint64_t t0 = now_ns();
    int st = macho_tier_put(a, "greeting", 8, value, strlen(value));
    puts[nputs++] = now_ns() - t0;
    if (st != MACHO_OK) {
      char err[256];
      if (macho_tier_last_error(a, err, sizeof err) != MACHO_OK) err[0] = '\0';
      fprintf(stderr, "macho tier-demo: put: %s (%s)\n", macho_strerror(st), err);
      rc = st;
    }
    if (!write_all(down[1], value, sizeof value)) rc = MACHO_EIO;
    report r;
    if (rc != MACHO_OK || !read_all(up[0], &r, sizeof r)) break;
    if (!r.invalidated_ns)
      missed++;
    else
      delays[ndelays++] = r.invalidated_ns > t0 ? r.invalidated_ns - t0 : 0;
    if (!r.saw_new_value) wrong++;
    if (!json && (i < 3 || i + 1 == writes))
      printf("  A put greeting = \"%s\"; B was told %.1f us later and now reads \"%s\"\n", value,
             r.invalidated_ns ? (double)(r.invalidated_ns - t0) / 1000.0 : NAN, r.value);
    else if (!json && i == 3 && writes > 4)
      printf("  ... (%llu more writes)\n", (unsigned long long)(writes - 4));
  }
  macho_tier_stats bs = {0};
  bool have_bs = rc == MACHO_OK && read_all(up[0], &bs, sizeof bs);
  if (a) {
    if (macho_tier_delete(a, "greeting", 8) != MACHO_OK) { /* tidy up; absent is fine */
    }
    macho_tier_close(a);
  }
  close(up[0]);
  close(down[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (rc == MACHO_OK && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) rc = MACHO_EIO;
  if (rc == MACHO_OK && ndelays) {
    qsort(delays, ndelays, sizeof *delays, cmp_u64);
    double med = quantile_us(delays, ndelays, 0.5), p99 = quantile_us(delays, ndelays, 0.99),
           max = (double)delays[ndelays - 1] / 1000.0, min = (double)delays[0] / 1000.0;
    qsort(puts, nputs, sizeof *puts, cmp_u64);
    double put_med = quantile_us(puts, nputs, 0.5), put_p99 = quantile_us(puts, nputs, 0.99);
    if (json)
      printf("{\"writes\":%llu,\"invalidated\":%zu,\"missed\":%zu,\"stale_reads_after_invalidation\":%zu,"
             "\"delay_us\":{\"min\":%.1f,\"median\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
             "\"put_us\":{\"median\":%.1f,\"p99\":%.1f},"
             "\"b\":{\"l1_hits\":%llu,\"l1_misses\":%llu,\"invalidations\":%llu}}\n",
             (unsigned long long)writes, ndelays, missed, wrong, min, med, p99, max, put_med, put_p99,
             (unsigned long long)bs.l1_hits, (unsigned long long)bs.l1_misses, (unsigned long long)bs.invalidations);
    else {
      printf("invalidation delay (start of A's put -> B's L1 drops the key), %zu writes:\n", ndelays);
      printf("  min %.1f us, median %.1f us, p99 %.1f us, max %.1f us\n", min, med, p99, max);
      printf("  for scale, A's put itself (one round trip to Redis): median %.1f us, p99 %.1f us\n", put_med,
             put_p99);
      if (have_bs)
        printf("process B: %llu L1 hits, %llu L1 misses, %llu invalidations received\n",
               (unsigned long long)bs.l1_hits, (unsigned long long)bs.l1_misses,
               (unsigned long long)bs.invalidations);
    }
  }
  free(delays);
  free(puts);
  if (rc != MACHO_OK) return CLI_FAIL;
  if (missed || wrong) {
    fprintf(stderr, "macho tier-demo: %zu writes were never reported to B, %zu read back wrong\n", missed, wrong);
    return CLI_FAIL;
  }
  return CLI_OK;
}

static const cli_option tier_demo_options[] = {
    {CLI_OPT("redis", 'r', CLI_STRING, tier_demo_opts, redis, "HOST:PORT",
             "the Redis both processes use (HOST:PORT, [IPv6]:PORT or unix:/path)"), .flags = CLI_REQUIRED},
    {CLI_OPT("writes", 'n', CLI_U64, tier_demo_opts, writes, "N",
             "writes by process A, each timed until process B is told"), .min = 1, .max = 10000000},
    {CLI_OPT("json", 0, CLI_FLAG, tier_demo_opts, json, NULL,
             "one JSON object: the delay's min, median, p99, max, and B's counters")},
    {0},
};

static const tier_demo_opts tier_demo_defaults = {.writes = 1000};

const cli_spec cli_spec_tier_demo = {
    .name = "tier-demo",
    .summary = "two processes, one Redis: write in one, watch the other's L1 follow",
    .args = "",
    .description =
        "Forks a second process; each opens a macho tier (a local L1 kept coherent with Redis "
        "through CLIENT TRACKING). Process A writes a key N times; before each write process B "
        "reads it (so Redis tracks it for B), and B's invalidation listener notes when Redis "
        "told it of A's write. Prints what B reads after each of the first writes, then the "
        "delay from the start of A's put to B's invalidation (min, median, p99, max) next to "
        "A's own put round trip. Keys are macho:tier-demo:PID:..., deleted at the end. Exit "
        "status 1 when a write never reached B or B read a stale value after it.",
    .examples = "macho tier-demo --redis 127.0.0.1:6379\nmacho tier-demo --redis 127.0.0.1:6379 --writes 10000 --json",
    .options = tier_demo_options,
    .opts_size = sizeof(tier_demo_opts),
    .defaults = &tier_demo_defaults,
    .run = tier_demo_run,
};
