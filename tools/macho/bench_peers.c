/*
 * bench_peers.c -- the systems `macho bench` runs in their own process: the
 * harnesses in bench/peers/ (Caffeine in Java, Ristretto and hashicorp
 * golang-lru in Go, lru-cache in Node) and the Redis and memcached servers
 * (memory per item only).
 *
 * The protocol is deliberately tiny, so that a harness in any language is a
 * page of code. The driver writes the cell's arrays to files (keys.bin:
 * nkeys x klen bytes; fill.bin and ops.bin: little-endian u32, the op's top
 * bit = put) and starts the harness with their paths and the workload's
 * sizes as arguments. The harness loads them, warms up (its JIT too), prints
 * one JSON line {"ready":true,"version":...,"notes":...,"ttl":true|false},
 * then answers each "run THREADS" line on stdin with one JSON line
 * {"wall_ns":..,"cpu_ns":..,"ops":..,"gets":..,"hits":..}: open a fresh
 * cache, fill, run the untimed warm-up slice, time the timed slice on
 * THREADS threads, drop the cache and collect its garbage before answering
 * (so that no collector runs during another system's round). "quit" ends it.
 * With --memory it fills --nkeys entries once and prints
 * {"entries":..,"rss_before":..,"rss_after":..,"own_bytes":..,"own_what":..}.
 * A harness that is not built or whose runtime is missing is skipped with a
 * message: never a silent pass.
 */
#include "bench.h"
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers --------------------------------------------------------------- */
static bool exists(const char *p) { return access(p, F_OK) == 0; }

static bool in_path(const char *prog) {
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", d, prog);
    if (access(p, X_OK) == 0) return true;
  }
  return false;
}

static bool json_str(const char *line, const char *key, char *out, size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(line, pat);
  if (!p) return false;
  p += strlen(pat);
  size_t j = 0;
  for (; *p && *p != '"' && j + 1 < n; p++) {
    if (*p == '\\' && p[1]) p++;
    out[j++] = *p;
  }
  out[j] = 0;
  return true;
}

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int write_file(const char *path, const void *buf, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  int rc = write_all(fd, buf, n);
  if (close(fd) != 0) rc = -1;
  return rc;
}

int bench_write_files(const bench_workload *w, const char *dir) {
  char p[512];
  snprintf(p, sizeof p, "%s/keys.bin", dir);
  if (write_file(p, w->keys, w->nkeys * w->klen) != 0) return -1;
  /* u32 arrays are written as they are in memory: x86-64 and every target we
   * build for are little-endian, which is what the harnesses read. */
  snprintf(p, sizeof p, "%s/fill.bin", dir);
  if (write_file(p, w->fill, w->nfill * sizeof *w->fill) != 0) return -1;
  snprintf(p, sizeof p, "%s/ops.bin", dir);
  return write_file(p, w->ops, (size_t)w->max_threads * (w->nwarm + w->ntimed) * sizeof *w->ops);
}

void bench_peers_build(const char *peers_dir, const char *build_dir) {
  char script[600];
  snprintf(script, sizeof script, "%s/build.sh", peers_dir);
  if (access(script, X_OK) != 0) {
    bench_warn("peers: %s not found (give --peers DIR): every peer will be skipped", script);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(2, 1); /* its messages go with ours, to stderr */
    execl(script, script, build_dir, (char *)NULL);
    _exit(127);
  }
  int st;
  if (pid > 0) waitpid(pid, &st, 0);
}

/* ---- how to start each harness --------------------------------------------------- */
typedef struct peer_cmd {
  char *argv[64];
  char store[64][600];
  int argc;
} peer_cmd;

static void arg(peer_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(peer_cmd *c, const char *fmt, ...) {
  if (c->argc >= 63) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->store[c->argc], sizeof c->store[c->argc], fmt, ap);
  va_end(ap);
  c->argv[c->argc] = c->store[c->argc];
  c->argv[++c->argc] = NULL;
}

/* Fill c with the harness command for kind, or return why it cannot run. */
static const char *peer_command(const char *kind, const char *peers_dir, const char *build_dir, size_t heap_mb,
                                bool memory, peer_cmd *c) {
  c->argc = 0;
  if (strcmp(kind, "caffeine") == 0) {
    char cls[600];
    snprintf(cls, sizeof cls, "%s/caffeine/CaffeineBench.class", build_dir);
    if (!in_path("java")) return "no java (scripts/bench-deps.sh installs default-jdk-headless)";
    if (!exists("/usr/share/java/caffeine.jar")) return "no /usr/share/java/caffeine.jar (libcaffeine-java)";
    if (!exists(cls)) return "harness not built (bench/peers/build.sh needs javac)";
    arg(c, "java");
    /* A fixed heap sized to the data (no resizing during rounds); G1, the JDK's
     * default collector. Memory runs start small so RSS shows the growth. */
    if (!memory) arg(c, "-Xms%zum", heap_mb);
    arg(c, "-Xmx%zum", heap_mb);
    arg(c, "-XX:+UseG1GC");
    arg(c, "-cp");
    arg(c, "%s/caffeine:/usr/share/java/caffeine.jar", build_dir);
    arg(c, "CaffeineBench");
    return NULL;
  }
  if (strcmp(kind, "ristretto") == 0 || strcmp(kind, "golang-lru") == 0) {
    char bin[600];
    snprintf(bin, sizeof bin, "%s/go/gobench", build_dir);
    if (!exists(bin)) return "harness not built (bench/peers/build.sh needs golang-go and the Debian Go packages)";
    arg(c, "%s", bin);
    arg(c, "--system");
    arg(c, "%s", kind);
    return NULL;
  }
  if (strcmp(kind, "lru-cache") == 0) {
    char js[600], mod[600];
    snprintf(js, sizeof js, "%s/node/bench.js", peers_dir);
    snprintf(mod, sizeof mod, "%s/node/node_modules/lru-cache/package.json", peers_dir);
    if (!in_path("node")) return "no node (scripts/bench-deps.sh installs nodejs)";
    if (!exists(js)) return "bench/peers/node/bench.js not found";
    if (!exists(mod)) return "lru-cache not installed (scripts/bench-deps.sh runs npm ci in bench/peers/node)";
    arg(c, "node");
    arg(c, "--expose-gc");
    arg(c, "--max-old-space-size=%zu", heap_mb);
    arg(c, "%s", js);
    return NULL;
  }
  return "unknown peer";
}

static size_t heap_mb_for(size_t nkeys, size_t klen, size_t capacity, size_t vlen, size_t ops) {
  /* two key objects per key (insert and lookup copies), the cache, the op arrays, twice for the collector */
  double b = 2.0 * (double)nkeys * (double)(klen + 64) + (double)capacity * (double)(vlen + 160) + 4.0 * (double)ops;
  return (size_t)(512 + 2.5 * b / 1048576.0);
}

static int spawn(peer_cmd *c, int *to_fd, FILE **from, pid_t *pid_out) {
  int in[2], outp[2];
  if (pipe(in) != 0) return -1;
  if (pipe(outp) != 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(outp[1], 1);
    close(in[0]);
    close(in[1]);
    close(outp[0]);
    close(outp[1]);
    execvp(c->argv[0], c->argv);
    fprintf(stderr, "macho bench: cannot run %s: %s\n", c->argv[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(outp[1]);
  fcntl(in[1], F_SETFD, FD_CLOEXEC);
  fcntl(outp[0], F_SETFD, FD_CLOEXEC);
  *to_fd = in[1];
  *from = fdopen(outp[0], "r");
  *pid_out = pid;
  bench_child_started(pid);
  return *from ? 0 : -1;
}

/* One line from the peer; JSON lines only (anything else a harness prints is passed to stderr). */
static bool read_json_line(FILE *f, char *line, size_t n) {
  while (fgets(line, (int)n, f)) {
    if (line[0] == '{') return true;
    fprintf(stderr, "  peer: %s", line);
  }
  return false;
}

static void reap(bench_system *s) {
  if (s->to_fd >= 0) close(s->to_fd);
  s->to_fd = -1;
  if (s->from) fclose(s->from);
  s->from = NULL;
  if (s->pid > 0) {
    int st;
    for (int i = 0; i < 100; i++) { /* 10 s to leave, then it is killed */
      if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
        bench_child_ended(s->pid);
        s->pid = 0;
        return;
      }
      struct timespec ts = {0, 100000000};
      nanosleep(&ts, NULL);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    bench_child_ended(s->pid);
    s->pid = 0;
  }
}

static void peer_stop(bench_system *s) {
  if (s->to_fd >= 0) (void)write_all(s->to_fd, "quit\n", 5);
  reap(s);
}

static const char *peer_cannot(const bench_system *s, const bench_workload *w, unsigned threads) {
  (void)w;
  if (strcmp(s->kind, "lru-cache") == 0 && threads > 1)
    return "single-threaded (one JavaScript event loop; workers would each need their own cache)";
  return NULL;
}

static int peer_run(bench_system *s, const bench_workload *w, unsigned threads, bool pin, bench_round *out) {
  char cmd[64], line[2048];
  int n = snprintf(cmd, sizeof cmd, "run %u %d\n", threads, pin ? 1 : 0);
  if (!s->from || write_all(s->to_fd, cmd, (size_t)n) != 0 || !read_json_line(s->from, line, sizeof line)) {
    bench_warn("%s: the harness stopped answering", s->label);
    reap(s);
    return -1;
  }
  char err[256];
  if (json_str(line, "error", err, sizeof err)) {
    bench_warn("%s: %s", s->label, err);
    return -1;
  }
  double wall, cpu = 0, ops, gets, hits;
  if (!bench_json_num(line, "wall_ns", &wall) || !bench_json_num(line, "ops", &ops) ||
      !bench_json_num(line, "gets", &gets) || !bench_json_num(line, "hits", &hits)) {
    bench_warn("%s: malformed answer: %s", s->label, line);
    return -1;
  }
  bench_json_num(line, "cpu_ns", &cpu);
  if ((uint64_t)ops != (uint64_t)threads * w->ntimed) {
    bench_warn("%s: ran %.0f requests, expected %llu", s->label, ops,
               (unsigned long long)threads * w->ntimed);
    return -1;
  }
  *out = (bench_round){.wall_ns = wall, .cpu_ns = cpu, .ops = (uint64_t)ops, .gets = (uint64_t)gets,
                       .hits = (uint64_t)hits};
  return 0;
}

static void common_args(peer_cmd *c, const char *files_dir, size_t nkeys, size_t klen, size_t vlen, double ttl_s) {
  arg(c, "--keys");
  arg(c, "%s/keys.bin", files_dir);
  arg(c, "--nkeys");
  arg(c, "%zu", nkeys);
  arg(c, "--klen");
  arg(c, "%zu", klen);
  arg(c, "--vlen");
  arg(c, "%zu", vlen);
  arg(c, "--ttl");
  arg(c, "%g", ttl_s);
}

int bench_peer_start(bench_system *s, const char *kind, const char *peers_dir, const char *build_dir,
                     const char *files_dir, const bench_workload *w) {
  memset(s, 0, sizeof *s);
  s->to_fd = -1;
  snprintf(s->kind, sizeof s->kind, "%s", kind);
  snprintf(s->label, sizeof s->label, "%s", kind);
  peer_cmd c;
  size_t ops = (size_t)w->max_threads * (w->nwarm + w->ntimed);
  const char *why = peer_command(kind, peers_dir, build_dir, heap_mb_for(w->nkeys, w->klen, w->capacity, w->vlen, ops),
                                 false, &c);
  if (why) {
    bench_warn("%s: %s", kind, why);
    return -1;
  }
  common_args(&c, files_dir, w->nkeys, w->klen, w->vlen, w->ttl_s);
  arg(&c, "--fill");
  arg(&c, "%s/fill.bin", files_dir);
  arg(&c, "--ops");
  arg(&c, "%s/ops.bin", files_dir);
  arg(&c, "--nfill");
  arg(&c, "%zu", w->nfill);
  arg(&c, "--capacity");
  arg(&c, "%zu", w->capacity);
  arg(&c, "--warm");
  arg(&c, "%zu", w->nwarm);
  arg(&c, "--timed");
  arg(&c, "%zu", w->ntimed);
  arg(&c, "--threads");
  arg(&c, "%u", w->max_threads);
  pid_t pid;
  if (spawn(&c, &s->to_fd, &s->from, &pid) != 0) {
    bench_warn("%s: cannot start the harness", kind);
    return -1;
  }
  s->pid = pid;
  char line[2048];
  fprintf(stderr, "macho bench: starting %s (loading the workload, warming up)\n", kind);
  if (!read_json_line(s->from, line, sizeof line) || !strstr(line, "\"ready\":true")) {
    bench_warn("%s: the harness did not start (no ready line)", kind);
    reap(s);
    return -1;
  }
  json_str(line, "version", s->version, sizeof s->version);
  json_str(line, "notes", s->notes, sizeof s->notes);
  s->has_ttl = strstr(line, "\"ttl\":true") != NULL;
  s->cannot = peer_cannot;
  s->run = peer_run;
  s->stop = peer_stop;
  signal(SIGPIPE, SIG_IGN); /* a harness that dies must not kill the driver */
  return 0;
}

/* ---- servers: Redis and memcached ---------------------------------------------------- */
static int free_port(void) {
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

static int connect_port(int port) {
  for (int i = 0; i < 100; i++) { /* up to 10 s for the server to listen */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    close(fd);
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

/* Read until `until` appears in the accumulated reply (or n bytes are read). */
static ssize_t read_until(int fd, char *buf, size_t n, const char *until) {
  size_t len = 0;
  while (len + 1 < n) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 30000) <= 0) return -1;
    ssize_t r = read(fd, buf + len, n - 1 - len);
    if (r <= 0) return -1;
    len += (size_t)r;
    buf[len] = 0;
    if (strstr(buf, until)) return (ssize_t)len;
  }
  return (ssize_t)len;
}

static int count_lines(int fd, size_t want, bool *error) {
  char buf[65536];
  size_t got = 0;
  while (got < want) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 30000) <= 0) return -1;
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) return -1;
    for (ssize_t i = 0; i < r; i++) {
      if (buf[i] == '-') *error = true;
      got += buf[i] == '\n';
    }
  }
  return 0;
}

static int redis_fill(int fd, const uint8_t *keys, size_t nkeys, size_t klen, const uint8_t *val, size_t vlen,
                      double ttl_s) {
  size_t batch = 1000, cap = batch * (klen + vlen + 96);
  char *buf = malloc(cap);
  if (!buf) return -1;
  char ttl[32];
  snprintf(ttl, sizeof ttl, "%.0f", ttl_s);
  for (size_t i = 0; i < nkeys; i += batch) {
    size_t n = nkeys - i < batch ? nkeys - i : batch, len = 0;
    for (size_t j = 0; j < n; j++) {
      len += (size_t)snprintf(buf + len, cap - len, "*%d\r\n$3\r\nSET\r\n$%zu\r\n", ttl_s > 0 ? 5 : 3, klen);
      memcpy(buf + len, keys + (i + j) * klen, klen);
      len += klen;
      len += (size_t)snprintf(buf + len, cap - len, "\r\n$%zu\r\n", vlen);
      memcpy(buf + len, val, vlen);
      len += vlen;
      if (ttl_s > 0) len += (size_t)snprintf(buf + len, cap - len, "\r\n$2\r\nEX\r\n$%zu\r\n%s", strlen(ttl), ttl);
      len += (size_t)snprintf(buf + len, cap - len, "\r\n");
    }
    bool err = false;
    if (write_all(fd, buf, len) != 0 || count_lines(fd, n, &err) != 0 || err) {
      free(buf);
      return -1;
    }
  }
  free(buf);
  return 0;
}

static int memcached_fill(int fd, const uint8_t *keys, size_t nkeys, size_t klen, const uint8_t *val, size_t vlen,
                          double ttl_s) {
  size_t batch = 1000, cap = batch * (klen + vlen + 64);
  char *buf = malloc(cap);
  if (!buf) return -1;
  for (size_t i = 0; i < nkeys; i += batch) {
    size_t n = nkeys - i < batch ? nkeys - i : batch, len = 0;
    for (size_t j = 0; j < n; j++) {
      memcpy(buf + len, "set ", 4);
      len += 4;
      memcpy(buf + len, keys + (i + j) * klen, klen);
      len += klen;
      len += (size_t)snprintf(buf + len, cap - len, " 0 %.0f %zu\r\n", ttl_s, vlen);
      memcpy(buf + len, val, vlen);
      len += vlen;
      memcpy(buf + len, "\r\n", 2);
      len += 2;
    }
    bool err = false;
    /* one STORED line per set: pipelined in batches, every reply checked */
    if (write_all(fd, buf, len) != 0 || count_lines(fd, n, &err) != 0) {
      free(buf);
      return -1;
    }
  }
  free(buf);
  return 0;
}

static double info_field(const char *text, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\n%s", key);
  const char *p = strstr(text, pat);
  if (!p) return -1;
  p += strlen(pat);
  while (*p == ':' || *p == ' ') p++;
  return strtod(p, NULL);
}

static void text_field(const char *text, const char *key, char *out, size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "%s", key);
  const char *p = strstr(text, pat);
  out[0] = 0;
  if (!p) return;
  p += strlen(pat);
  while (*p == ':' || *p == ' ') p++;
  size_t j = 0;
  while (*p && *p != '\r' && *p != '\n' && j + 1 < n) out[j++] = *p++;
  out[j] = 0;
}

static int server_memory(const char *kind, const char *files_dir, size_t nkeys, size_t klen, size_t vlen,
                         double ttl_s, uint64_t seed, bench_memory *out) {
  bool redis = strcmp(kind, "redis") == 0;
  const char *prog = redis ? "redis-server" : "memcached";
  if (!in_path(prog)) {
    bench_warn("%s: no %s (scripts/bench-deps.sh installs it)", kind, prog);
    return -1;
  }
  int port = free_port();
  if (port < 0) return -1;
  peer_cmd c;
  c.argc = 0;
  size_t mc_mb = 64 + nkeys * (klen + vlen + 128) / 1048576;
  arg(&c, "%s", prog);
  if (redis) {
    arg(&c, "--port");
    arg(&c, "%d", port);
    arg(&c, "--bind");
    arg(&c, "127.0.0.1");
    arg(&c, "--save");
    arg(&c, "%s", "");
    arg(&c, "--appendonly");
    arg(&c, "no");
    arg(&c, "--dir");
    arg(&c, "%s", files_dir);
    arg(&c, "--logfile");
    arg(&c, "%s/redis.log", files_dir);
    arg(&c, "--daemonize");
    arg(&c, "no");
  } else {
    arg(&c, "-l");
    arg(&c, "127.0.0.1");
    arg(&c, "-p");
    arg(&c, "%d", port);
    arg(&c, "-U");
    arg(&c, "0");
    arg(&c, "-m");
    arg(&c, "%zu", mc_mb);
    arg(&c, "-u");
    arg(&c, "root"); /* memcached refuses to run as root without it */
  }
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    execvp(c.argv[0], c.argv);
    _exit(127);
  }
  bench_child_started(pid);
  int rc = -1, fd = connect_port(port);
  uint8_t *keys = malloc(nkeys * klen), *val = malloc(vlen);
  char *reply = malloc(1 << 20);
  memset(out, 0, sizeof *out);
  out->hooks_bytes = -1;
  snprintf(out->kind, sizeof out->kind, "%s", kind);
  snprintf(out->label, sizeof out->label, "%s", kind);
  if (fd < 0 || !keys || !val || !reply) {
    bench_warn("%s: the server on port %d did not answer", kind, port);
    goto done;
  }
  bench_make_keys(keys, nkeys, klen, seed);
  for (size_t i = 0; i < vlen; i++) val[i] = (uint8_t)('a' + i % 26);
  const char *stats = redis ? "*2\r\n$4\r\nINFO\r\n$3\r\nALL\r\n" : "stats\r\n";
  const char *end = redis ? "# Keyspace" : "END\r\n";
  if (write_all(fd, stats, strlen(stats)) != 0 || read_until(fd, reply, 1 << 20, end) < 0) goto done;
  double own0 = redis ? info_field(reply, "used_memory") : info_field(reply, "STAT bytes ");
  double hash0 = redis ? 0 : info_field(reply, "STAT hash_bytes ");
  char ver[64];
  text_field(reply, redis ? "redis_version" : "STAT version ", ver, sizeof ver);
  uint64_t rss0 = bench_rss_bytes(pid);
  if ((redis ? redis_fill : memcached_fill)(fd, keys, nkeys, klen, val, vlen, ttl_s) != 0) {
    bench_warn("%s: the fill failed", kind);
    goto done;
  }
  if (write_all(fd, stats, strlen(stats)) != 0 || read_until(fd, reply, 1 << 20, end) < 0) goto done;
  uint64_t rss1 = bench_rss_bytes(pid);
  double own1 = redis ? info_field(reply, "used_memory") : info_field(reply, "STAT bytes ");
  double hash1 = redis ? 0 : info_field(reply, "STAT hash_bytes ");
  double items = redis ? -1 : info_field(reply, "STAT curr_items ");
  if (redis) { /* db0:keys=N,... */
    const char *p = strstr(reply, "db0:keys=");
    items = p ? strtod(p + 9, NULL) : -1;
  }
  if (items != (double)nkeys) {
    bench_warn("%s holds %.0f items after putting %zu", kind, items, nkeys);
    goto done;
  }
  snprintf(out->version, sizeof out->version, "%s %s", kind, ver);
  if (redis) snprintf(out->notes, sizeof out->notes, "no persistence, %s", ttl_s > 0 ? "SET ... EX ttl" : "no TTL");
  else snprintf(out->notes, sizeof out->notes, "-m %zu MB (no eviction), exptime %.0f s", mc_mb, ttl_s);
  out->entries = nkeys;
  out->rss_delta = (double)rss1 - (double)rss0;
  out->own_bytes = (own1 - own0) + (hash1 - hash0);
  out->own_what = redis ? "used_memory" : "stats bytes + hash_bytes";
  out->ok = rss0 && rss1;
  rc = out->ok ? 0 : -1;
done:
  if (fd >= 0) close(fd);
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  bench_child_ended(pid);
  free(keys);
  free(val);
  free(reply);
  char log[600];
  snprintf(log, sizeof log, "%s/redis.log", files_dir);
  unlink(log);
  return rc;
}

int bench_peer_memory(const char *kind, const char *peers_dir, const char *build_dir, const char *files_dir,
                      size_t nkeys, size_t klen, size_t vlen, double ttl_s, uint64_t seed, bench_memory *out) {
  if (strcmp(kind, "redis") == 0 || strcmp(kind, "memcached") == 0)
    return server_memory(kind, files_dir, nkeys, klen, vlen, ttl_s, seed, out);
  memset(out, 0, sizeof *out);
  out->hooks_bytes = -1;
  peer_cmd c;
  const char *why = peer_command(kind, peers_dir, build_dir, heap_mb_for(nkeys, klen, nkeys, vlen, 0), true, &c);
  if (why) {
    bench_warn("%s: %s", kind, why);
    return -1;
  }
  uint8_t *keys = malloc(nkeys * klen);
  char path[600];
  snprintf(path, sizeof path, "%s/keys.bin", files_dir);
  if (!keys) return -1;
  bench_make_keys(keys, nkeys, klen, seed);
  int wrc = write_file(path, keys, nkeys * klen);
  free(keys);
  if (wrc != 0) return -1;
  common_args(&c, files_dir, nkeys, klen, vlen, ttl_s);
  arg(&c, "--memory");
  int to;
  FILE *from;
  pid_t pid;
  if (spawn(&c, &to, &from, &pid) != 0) return -1;
  char line[2048];
  bool ok = read_json_line(from, line, sizeof line);
  close(to);
  fclose(from);
  int st;
  waitpid(pid, &st, 0);
  bench_child_ended(pid);
  unlink(path);
  double entries, before, after, own;
  if (!ok || !bench_json_num(line, "entries", &entries) || !bench_json_num(line, "rss_before", &before) ||
      !bench_json_num(line, "rss_after", &after) || !bench_json_num(line, "own_bytes", &own)) {
    bench_warn("%s: no memory figures from the harness", kind);
    return -1;
  }
  static char whats[8][96];
  static unsigned nwhat;
  char *what = whats[nwhat++ % 8];
  if (!json_str(line, "own_what", what, 96)) snprintf(what, 96, "own figure");
  snprintf(out->kind, sizeof out->kind, "%s", kind);
  snprintf(out->label, sizeof out->label, "%s", kind);
  json_str(line, "version", out->version, sizeof out->version);
  json_str(line, "notes", out->notes, sizeof out->notes);
  out->entries = (uint64_t)entries;
  out->rss_delta = after - before;
  out->own_bytes = own;
  out->own_what = what;
  out->ok = entries > 0;
  return out->ok ? 0 : -1;
}
