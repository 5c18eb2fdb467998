/*
 * tier_support.h -- what the Redis tier's suites share: a real redis-server
 * of the test's own on a free loopback port (started, stopped, restarted,
 * paused with SIGSTOP), an outside client that plays "another application"
 * and serves as the model (Redis is the truth the tier must agree with), and
 * bounded waits for network events.
 *
 * Waits poll a condition every millisecond up to a deadline: they wait for
 * something the network does (an invalidation message arriving, a heartbeat
 * timing out), never for time itself to pass; the deadlines are generous and
 * only bound a failure. Header-only (static inline) so that each suite that
 * needs it includes it; tests/CMakeLists.txt builds one file per suite.
 */
#ifndef MACHO_TIER_SUPPORT_H
#define MACHO_TIER_SUPPORT_H

#include <macho/macho.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmake/deps.cmake defines MACHO_HAVE_HIREDIS for every target when it
 * found hiredis: the library has the tier, and the tests may link hiredis. */
#ifdef MACHO_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#define TIER_TEST_HAVE_HIREDIS 1
#endif

static inline uint64_t tier_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void tier_nap_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Poll cond(ctx) every millisecond until true or timeout_ms; returns it. */
static inline bool tier_wait_for(bool (*cond)(void *), void *ctx, unsigned timeout_ms) {
  uint64_t until = tier_now_ns() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    if (cond(ctx)) return true;
    if (tier_now_ns() > until) return false;
    tier_nap_ms(1);
  }
}

/* ---- the test's own redis-server ------------------------------------------------ */

typedef struct tier_redis {
  pid_t pid;
  int port;
  char dir[64];
  char addr[32]; /* "127.0.0.1:PORT" */
} tier_redis;

/* The binary: $MACHO_REDIS_SERVER, else redis-server on PATH. NULL if none. */
static inline const char *tier_redis_binary(void) {
  static char found[512];
  const char *env = getenv("MACHO_REDIS_SERVER");
  if (env && *env) return access(env, X_OK) == 0 ? env : NULL;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    if (n && n < sizeof found - 16) {
      memcpy(found, path, n);
      strcpy(found + n, "/redis-server");
      if (access(found, X_OK) == 0) return found;
    }
    path += n + (end ? 1 : 0);
  }
  return NULL;
}

/* A port nothing listens on now (the kernel picks it; a race with another
 * process is possible, then the start fails and is retried). */
static inline int tier_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

#ifdef TIER_TEST_HAVE_HIREDIS
/* An outside client on the test's server (NULL on failure). */
static inline redisContext *tier_client(const tier_redis *r) {
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
  if (!c) return NULL;
  if (c->err) {
    redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, tv);
  return c;
}

static inline bool tier_redis_ping(const tier_redis *r) {
  redisContext *c = tier_client(r);
  if (!c) return false;
  redisReply *rep = redisCommand(c, "PING");
  bool ok = rep && rep->type == REDIS_REPLY_STATUS;
  if (rep) freeReplyObject(rep);
  redisFree(c);
  return ok;
}

static inline int tier_redis_spawn(tier_redis *r) {
  const char *bin = tier_redis_binary();
  if (!bin) return -1;
  char port[16], logfile[96];
  snprintf(port, sizeof port, "%d", r->port);
  snprintf(logfile, sizeof logfile, "%s/redis.log", r->dir);
  pid_t pid = fork();
  if (pid < 0) return -2;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    execl(bin, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r->dir,
          "--logfile", logfile, "--daemonize", "no", "--enable-debug-command", "local", (char *)NULL);
    _exit(127);
  }
  r->pid = pid;
  uint64_t until = tier_now_ns() + 10000000000ull;
  while (tier_now_ns() < until) {
    if (tier_redis_ping(r)) return 0;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) { /* exited: the port was taken, or no binary */
      r->pid = 0;
      return -2;
    }
    tier_nap_ms(5);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  r->pid = 0;
  return -2;
}

/* 0 = running; -1 = no redis-server binary (the caller skips, visibly);
 * -2 = it would not start. */
static inline int tier_redis_start(tier_redis *r) {
  memset(r, 0, sizeof *r);
  if (!tier_redis_binary()) return -1;
  snprintf(r->dir, sizeof r->dir, "/tmp/macho-tier-test.XXXXXX");
  if (!mkdtemp(r->dir)) return -2;
  for (int attempt = 0; attempt < 5; attempt++) {
    r->port = tier_free_port();
    if (r->port <= 0) continue;
    snprintf(r->addr, sizeof r->addr, "127.0.0.1:%d", r->port);
    int rc = tier_redis_spawn(r);
    if (rc == 0 || rc == -1) return rc;
  }
  return -2;
}

static inline void tier_redis_kill(tier_redis *r) {
  if (r->pid <= 0) return;
  kill(r->pid, SIGCONT);
  kill(r->pid, SIGKILL);
  waitpid(r->pid, NULL, 0);
  r->pid = 0;
}

/* Stop and start again on the same port (an empty server: no persistence). */
static inline int tier_redis_restart(tier_redis *r) {
  tier_redis_kill(r);
  return tier_redis_spawn(r);
}

static inline void tier_redis_stop(tier_redis *r) {
  tier_redis_kill(r);
  char path[128];
  snprintf(path, sizeof path, "%s/redis.log", r->dir);
  unlink(path);
  rmdir(r->dir);
}

static inline void tier_redis_pause(tier_redis *r) { kill(r->pid, SIGSTOP); }
static inline void tier_redis_resume(tier_redis *r) { kill(r->pid, SIGCONT); }

/* ---- the outside client: writes of "another application", and the model ---- */

static inline bool ext_set(redisContext *c, const char *key, const char *value) {
  redisReply *rep = redisCommand(c, "SET %s %s", key, value);
  bool ok = rep && rep->type == REDIS_REPLY_STATUS;
  if (rep) freeReplyObject(rep);
  return ok;
}

/* GET into buf; returns false when absent (or on error). */
static inline bool ext_get(redisContext *c, const char *key, char *buf, size_t buflen) {
  redisReply *rep = redisCommand(c, "GET %s", key);
  bool ok = rep && rep->type == REDIS_REPLY_STRING && rep->len < buflen;
  if (ok) {
    memcpy(buf, rep->str, rep->len);
    buf[rep->len] = '\0';
  }
  if (rep) freeReplyObject(rep);
  return ok;
}

static inline long long ext_int(redisContext *c, const char *cmd) {
  redisReply *rep = redisCommand(c, cmd);
  long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -999;
  if (rep) freeReplyObject(rep);
  return v;
}

/* Kill every connection whose CLIENT SETNAME is `name`; returns how many. */
static inline int ext_kill_named(redisContext *c, const char *name) {
  redisReply *rep = redisCommand(c, "CLIENT LIST");
  if (!rep || rep->type != REDIS_REPLY_STRING) {
    if (rep) freeReplyObject(rep);
    return -1;
  }
  int killed = 0;
  char want[96];
  snprintf(want, sizeof want, " name=%s ", name);
  for (char *line = rep->str; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    long long id;
    if (strstr(line, want) && sscanf(line, "id=%lld", &id) == 1) {
      redisReply *k = redisCommand(c, "CLIENT KILL ID %lld", id);
      if (k && k->type == REDIS_REPLY_INTEGER && k->integer == 1) killed++;
      if (k) freeReplyObject(k);
    }
    line = nl ? nl + 1 : NULL;
  }
  freeReplyObject(rep);
  return killed;
}
#endif /* TIER_TEST_HAVE_HIREDIS */

/* ---- the tier under test --------------------------------------------------------- */

static inline macho_tier_stats tier_stats(macho_tier *t) {
  macho_tier_stats s;
  memset(&s, 0, sizeof s);
  if (macho_tier_stats_get(t, &s) != MACHO_OK) abort();
  return s;
}

/* Options for tests: the test's server, a frequent heartbeat (a killed
 * connection is found by its next PING) and quick reconnects. Timeouts stay
 * generous, so that a loaded machine (or a sanitizer) cannot trip them by
 * accident; the tests of timeouts shorten them (tier_test_impatient). */
static inline void tier_test_options(macho_tier_options *o, const tier_redis *r) {
  macho_tier_options_init(o);
  o->redis = r->addr;
  o->key_prefix = "test:";
  o->connect_timeout_ms = 2000;
  o->command_timeout_ms = 2000;
  o->heartbeat_interval_ms = 50;
  o->heartbeat_timeout_ms = 2000;
  o->reconnect_max_ms = 50;
}

/* For the tests where a real timeout must elapse: short, and bounded. */
#define TIER_TEST_HEARTBEAT_TIMEOUT_MS 150u
#define TIER_TEST_COMMAND_TIMEOUT_MS 300u
static inline void tier_test_impatient(macho_tier_options *o) {
  o->heartbeat_timeout_ms = TIER_TEST_HEARTBEAT_TIMEOUT_MS;
  o->command_timeout_ms = TIER_TEST_COMMAND_TIMEOUT_MS;
}

#endif /* MACHO_TIER_SUPPORT_H */
