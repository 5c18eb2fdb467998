/*
 * bench_tier.c -- what the Redis tier's L1 buys: an L1 hit against a Redis
 * GET over loopback, and the tier's own read-through (an L1 miss), measured
 * in the same run over interleaved rounds (A B C A B C ...).
 *
 *   bench_tier [--redis HOST:PORT] [--rounds R] [--keys N]
 *
 * Without --redis it starts a redis-server of its own on a free loopback
 * port (no persistence) and stops it at the end. Per round: A = N*200 tier
 * gets that hit L1 (all keys were read once), B = N*5 plain hiredis GETs of
 * the same keys (one round trip each, what an application without an L1
 * pays), C = N tier gets right after macho_tier_flush_local (each one an L1
 * miss: MULTI / PTTL / GET / EXEC, then an L1 store). Each figure is the
 * wall time of the batch divided by its size; the table gives the median
 * and min-max over rounds, and the ratio of the medians. Prints figures,
 * asserts nothing. The invalidation delay is measured by `macho tier-demo`.
 */
#include <macho/macho.h>

#include <stdio.h>

#ifndef MACHO_HAVE_HIREDIS /* cmake/deps.cmake defines it when hiredis was found */
int main(void) {
  fprintf(stderr, "bench_tier: this build has no Redis tier (hiredis)\n");
  return 1;
}
#else
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

static pid_t spawn_redis(int port) {
  char ports[16];
  snprintf(ports, sizeof ports, "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execlp("redis-server", "redis-server", "--port", ports, "--bind", "127.0.0.1", "--save", "", "--appendonly",
           "no", "--logfile", "/dev/null", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 1000; i++) {
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = c && !c->err;
    if (c) redisFree(c);
    if (ok) return pid;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  return -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void summary(const char *name, double *v, int n, double *median) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  *median = v[n / 2];
  printf("| %-38s | %10.1f | %10.1f - %-10.1f |\n", name, v[n / 2], v[0], v[n - 1]);
}

int main(int argc, char **argv) {
  const char *redis = NULL;
  int rounds = 11, nkeys = 1000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
      redis = argv[++i];
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
      nkeys = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_tier [--redis HOST:PORT] [--rounds R] [--keys N]\n");
      return 2;
    }
  }
  if (rounds < 1 || rounds > 1000 || nkeys < 1 || nkeys > 1000000) {
    fprintf(stderr, "bench_tier: --rounds 1..1000, --keys 1..1000000\n");
    return 2;
  }
  if (!macho_tier_available()) {
    fprintf(stderr, "bench_tier: this build has no Redis tier (hiredis)\n");
    return 1;
  }
  char addr[64];
  pid_t server = 0;
  if (!redis) {
    int port = free_port();
    server = spawn_redis(port);
    if (server <= 0) {
      fprintf(stderr, "bench_tier: could not start redis-server (pass --redis HOST:PORT)\n");
      return 1;
    }
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    redis = addr;
  }
  char host[64] = "127.0.0.1";
  int port = 6379;
  const char *colon = strrchr(redis, ':');
  if (colon && (size_t)(colon - redis) < sizeof host) {
    memcpy(host, redis, (size_t)(colon - redis));
    host[colon - redis] = '\0';
    port = atoi(colon + 1);
  }

  macho_config l1;
  macho_config_init(&l1);
  l1.capacity_entries = (size_t)nkeys * 2;
  l1.ttl_seconds = 0;
  l1.metrics = 0;
  macho_tier_options o;
  macho_tier_options_init(&o);
  o.redis = redis;
  o.key_prefix = "bench:";
  o.l1 = &l1;
  char err[256] = "";
  o.error_buf = err;
  o.error_buf_size = sizeof err;
  macho_tier *t;
  if (macho_tier_open(&o, &t) != MACHO_OK) {
    fprintf(stderr, "bench_tier: %s\n", err);
    return 1;
  }
  struct timeval tv = {2, 0};
  redisContext *plain = redisConnectWithTimeout(host, port, tv);
  if (!plain || plain->err) {
    fprintf(stderr, "bench_tier: cannot connect a plain client to %s\n", redis);
    return 1;
  }
  char (*keys)[16] = malloc((size_t)nkeys * sizeof *keys);
  char value[64];
  memset(value, 'v', sizeof value);
  for (int k = 0; k < nkeys; k++) {
    snprintf(keys[k], sizeof keys[k], "k%07d", k);
    if (macho_tier_put(t, keys[k], strlen(keys[k]), value, sizeof value) != MACHO_OK) {
      fprintf(stderr, "bench_tier: put failed\n");
      return 1;
    }
  }
  double *hit = malloc((size_t)rounds * sizeof *hit), *get = malloc((size_t)rounds * sizeof *get),
         *miss = malloc((size_t)rounds * sizeof *miss);
  char buf[128];
  size_t n;
  uint64_t sink = 0, errors = 0;
  for (int r = 0; r < rounds; r++) {
    /* A: L1 hits. */
    int na = nkeys * 200;
    uint64_t t0 = now_ns();
    for (int i = 0; i < na; i++) {
      const char *k = keys[(unsigned)i * 2654435761u % (unsigned)nkeys];
      if (macho_tier_get(t, k, 8, buf, sizeof buf, &n) != MACHO_OK) errors++;
      sink += n;
    }
    hit[r] = (double)(now_ns() - t0) / na;
    /* B: plain Redis GETs of the same keys. */
    int nb = nkeys * 5;
    t0 = now_ns();
    for (int i = 0; i < nb; i++) {
      char rk[32];
      int len = snprintf(rk, sizeof rk, "bench:%s", keys[i % nkeys]);
      const char *argv2[] = {"GET", rk};
      size_t lens[] = {3, (size_t)len};
      redisReply *rep = redisCommandArgv(plain, 2, argv2, lens);
      if (!rep || rep->type != REDIS_REPLY_STRING) errors++;
      if (rep) sink += rep->len, freeReplyObject(rep);
    }
    get[r] = (double)(now_ns() - t0) / nb;
    /* C: read-through (L1 misses). */
    if (macho_tier_flush_local(t) != MACHO_OK) errors++;
    t0 = now_ns();
    for (int i = 0; i < nkeys; i++) {
      if (macho_tier_get(t, keys[i], 8, buf, sizeof buf, &n) != MACHO_OK) errors++;
      sink += n;
    }
    miss[r] = (double)(now_ns() - t0) / nkeys;
  }
  if (errors) fprintf(stderr, "bench_tier: %llu operations failed\n", (unsigned long long)errors);
  double mh, mg, mm;
  printf("bench_tier: %d rounds (A B C interleaved), %d keys of 8 bytes, 64-byte values, Redis at %s\n", rounds,
         nkeys, redis);
  printf("| %-38s | %10s | %23s |\n", "ns per operation", "median", "min - max");
  printf("|----------------------------------------|-----------:|------------------------:|\n");
  summary("A: tier get, L1 hit", hit, rounds, &mh);
  summary("B: Redis GET over loopback (hiredis)", get, rounds, &mg);
  summary("C: tier get, L1 miss (read-through)", miss, rounds, &mm);
  printf("B / A (an L1 hit is this many times faster than a GET): %.0fx\n", mg / mh);
  printf("C / B (read-through cost against a plain GET): %.2fx\n", mm / mg);
  macho_tier_stats s;
  if (macho_tier_stats_get(t, &s) == MACHO_OK)
    printf("tier: %llu L1 hits, %llu L1 misses, %llu fills, %llu refused (sink %llu)\n",
           (unsigned long long)s.l1_hits, (unsigned long long)s.l1_misses, (unsigned long long)s.fills,
           (unsigned long long)s.fills_refused, (unsigned long long)(sink & 1));
  for (int k = 0; k < nkeys; k++) { /* tidy up */
    int st = macho_tier_delete(t, keys[k], strlen(keys[k]));
    if (st != MACHO_OK && st != MACHO_ENOTFOUND) break;
  }
  redisFree(plain);
  macho_tier_close(t);
  free(keys);
  free(hit);
  free(get);
  free(miss);
  if (server > 0) {
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
  }
  return errors ? 1 : 0;
}
#endif /* MACHO_HAVE_HIREDIS */
