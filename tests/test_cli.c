/*
 * test_cli.c -- the macho CLI as a user meets it: the built binary
 * (MACHO_CLI) is run with an argv (no shell in between), and its exit
 * status, stdout and stderr are checked: help and flag parsing of every
 * subcommand, validation before output, error messages, the dashboard client
 * against a real `macho demo --dashboard`, `sim` from stdin, pipes and FIFOs,
 * `--jobs` against one thread, progress only on a terminal (a pty), the
 * generated bash completion, and the hostile-input table of
 * docs/RELIABILITY.md ("Hostile CLI input"), which this suite reads and runs
 * row by row. The CLI's JSON reader (tools/macho/json.c) is compiled in and
 * checked directly.
 */
#include "support.h"

#include "json.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA(name) MACHO_TEST_DATA "/" name
#define RELIABILITY_MD MACHO_TEST_DATA "/../../docs/RELIABILITY.md"

typedef struct run_result {
  int status; /* exit status, or 128 + signal */
  char *out, *err;
} run_result;

/* Append what fd has to *buf (grown as needed). false at EOF. */
static int drain(int fd, char **buf, size_t *len, size_t *cap) {
  if (*len + 4096 + 1 > *cap) {
    *cap = (*cap + 4096) * 2;
    *buf = realloc(*buf, *cap);
  }
  ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
  if (n < 0 && errno == EINTR) return 1;
  if (n <= 0) return 0;
  *len += (size_t)n;
  (*buf)[*len] = '\0';
  return 1;
}

/* Run MACHO_CLI with argv (argv[0] is replaced by the binary) feeding `in`
 * (NULL = /dev/null) on stdin; collect stdout and stderr. */
static run_result run_cli(const char *const *argv, const char *in) {
  int pin[2], pout[2], perr[2];
  assert_int_equal(pipe(pin), 0);
  assert_int_equal(pipe(pout), 0);
  assert_int_equal(pipe(perr), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    close(pin[0]), close(pin[1]), close(pout[0]), close(pout[1]), close(perr[0]), close(perr[1]);
    const char *args[64];
    int n = 0;
    args[n++] = MACHO_CLI;
    for (int i = 1; argv[i] && n < 63; i++) args[n++] = argv[i];
    args[n] = NULL;
    execv(MACHO_CLI, (char *const *)args);
    _exit(127);
  }
  close(pin[0]), close(pout[1]), close(perr[1]);
  signal(SIGPIPE, SIG_IGN);
  size_t in_len = in ? strlen(in) : 0, in_pos = 0;
  if (!in_len) close(pin[1]);
  run_result r = {0};
  size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
  r.out = calloc(1, 1), r.err = calloc(1, 1);
  int open_out = 1, open_err = 1;
  while (open_out || open_err) {
    struct pollfd p[3] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
    int np = in_pos < in_len ? 3 : 2;
    if (poll(p, (nfds_t)np, -1) < 0) continue;
    if (open_out && (p[0].revents & (POLLIN | POLLHUP))) open_out = drain(pout[0], &r.out, &olen, &ocap);
    if (open_err && (p[1].revents & (POLLIN | POLLHUP))) open_err = drain(perr[0], &r.err, &elen, &ecap);
    if (np == 3 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(pin[1], in + in_pos, in_len - in_pos);
      if (w > 0) in_pos += (size_t)w;
      if (w < 0 || in_pos == in_len) {
        close(pin[1]);
        in_len = in_pos; /* stop writing */
      }
    }
    if (!open_out) p[0].fd = -1;
  }
  if (in_pos < in_len) close(pin[1]);
  close(pout[0]), close(perr[0]);
  int st;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

/* run_cli with environment variables set in the child ("NAME=value" ..., NULL-terminated). */
static run_result run_cli_env(const char *const *argv, const char *const *env) {
  char *saved[8] = {0};
  char names[8][64];
  int n = 0;
  for (; env && env[n] && n < 8; n++) {
    snprintf(names[n], sizeof names[n], "%.*s", (int)strcspn(env[n], "="), env[n]);
    const char *old = getenv(names[n]);
    saved[n] = old ? strdup(old) : NULL;
    setenv(names[n], env[n] + strlen(names[n]) + 1, 1);
  }
  run_result r = run_cli(argv, NULL);
  for (int i = 0; i < n; i++) {
    if (saved[i]) setenv(names[i], saved[i], 1);
    else unsetenv(names[i]);
    free(saved[i]);
  }
  return r;
}

static void free_result(run_result *r) {
  free(r->out);
  free(r->err);
}

/* Expect exit `status` and `needle` in stderr (NULL = anything). */
static void expect(const char *const *argv, int status, const char *needle) {
  run_result r = run_cli(argv, NULL);
  char shown[512] = "";
  for (int i = 1; argv[i]; i++) {
    strncat(shown, argv[i], sizeof shown - strlen(shown) - 2);
    strncat(shown, " ", sizeof shown - strlen(shown) - 1);
  }
  if (r.status != status || (needle && !strstr(r.err, needle)))
    fail_msg("macho %s: exit %d (want %d), stderr '%s' (want '%s')", shown, r.status, status, r.err,
             needle ? needle : "");
  free_result(&r);
}

/* ---- issue 10 defect 7: URL host parsing ------------------------------------------ */

static void a_url_with_an_unclosed_bracket_is_a_usage_error_for_every_client_command(void **state) {
  (void)state;
  static const char *const urls[] = {"http://[", "http://[::1", "http://[]:80", "http://:80",
                                     "http://host:", "http://host:8x", "http://[::1]x"};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    const char *stats[] = {"macho", "stats", urls[i], NULL};
    const char *clear[] = {"macho", "clear", urls[i], NULL};
    const char *get[] = {"macho", "get", urls[i], "k", NULL};
    const char *del[] = {"macho", "del", urls[i], "k", NULL};
    expect(stats, 2, "cannot parse URL");
    expect(clear, 2, "cannot parse URL");
    expect(get, 2, "cannot parse URL");
    expect(del, 2, "cannot parse URL");
  }
}

static bool contains(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

/* ---- help, version, option syntax --------------------------------------------------- */

static const struct {
  const char *cmd;
  const char *options[16];
} every_option[] = {
    {"demo", {"--policy", "--shards", "--capacity", "--keys", "--seconds", "--json", "--dashboard", "--listen",
              "--port", "--manage", "--token"}},
    {"sim", {"--format", "--policy", "--size", "--size-unit", "--jobs", "--json", "--plot", "--time", "--quiet"}},
    {"stats", {"--watch", "--interval", "--count", "--json", "--token", "--timeout"}},
    {"clear", {"--token", "--timeout"}},
    {"get", {"--token", "--timeout"}},
    {"del", {"--token", "--timeout"}},
    {"filters", {"--fp", "--n", "--churn", "--seed", "--json"}},
    {"help", {"--man", "--bash-completion"}},
};

static void every_command_prints_each_option_with_its_default_for_h_help_and_help_cmd(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof every_option / sizeof every_option[0]; i++) {
    const char *cmd = every_option[i].cmd;
    const char *a[] = {"macho", cmd, "--help", NULL}, *b[] = {"macho", cmd, "-h", NULL},
               *c[] = {"macho", "help", cmd, NULL};
    run_result ra = run_cli(a, NULL), rb = run_cli(b, NULL), rc = run_cli(c, NULL);
    if (ra.status || rb.status || rc.status) fail_msg("%s: help exits %d/%d/%d", cmd, ra.status, rb.status, rc.status);
    assert_string_equal(ra.out, rb.out);
    assert_string_equal(ra.out, rc.out);
    assert_string_equal(ra.err, "");
    char usage[64];
    snprintf(usage, sizeof usage, "usage: macho %s", cmd);
    assert_true(contains(ra.out, usage));
    for (int k = 0; every_option[i].options[k]; k++) {
      /* the option's entry: its name, then (on the same entry, maybe wrapped)
       * a default, (required) or, for a flag, (default: off) */
      const char *at = strstr(strstr(ra.out, "\noptions:\n"), every_option[i].options[k]);
      while (at && at[strlen(every_option[i].options[k])] != '=' && at[strlen(every_option[i].options[k])] != ' ')
        at = strstr(at + 1, every_option[i].options[k]);
      if (!at) fail_msg("macho %s --help lacks %s:\n%s", cmd, every_option[i].options[k], ra.out);
      const char *next = strstr(at + 2, "\n  -");
      size_t span = next ? (size_t)(next - at) : strlen(at);
      char entry[1024];
      size_t e = 0;
      for (size_t x = 0; x < span && e + 1 < sizeof entry; x++) /* undo the wrapping */
        if (!(isspace((unsigned char)at[x]) && e && entry[e - 1] == ' ')) entry[e++] = isspace((unsigned char)at[x]) ? ' ' : at[x];
      entry[e] = '\0';
      if (!contains(entry, "(default: ") && !contains(entry, "(required)"))
        fail_msg("macho %s --help: %s shows no default: %s", cmd, every_option[i].options[k], entry);
    }
    free_result(&ra), free_result(&rb), free_result(&rc);
  }
}

static void version_and_top_level_help_work_everywhere(void **state) {
  (void)state;
  char want[64];
  snprintf(want, sizeof want, "macho %s\n", macho_version_string());
  static const char *const forms[][4] = {{"macho", "--version"}, {"macho", "-V"}, {"macho", "version"},
                                         {"macho", "sim", "--version"}, {"macho", "stats", "-V"}};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    run_result r = run_cli(forms[i], NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, want);
    free_result(&r);
  }
  const char *top[] = {"macho", "--help", NULL};
  run_result r = run_cli(top, NULL);
  assert_int_equal(r.status, 0);
  for (size_t i = 0; i < sizeof every_option / sizeof every_option[0]; i++) {
    char line[64];
    snprintf(line, sizeof line, "\n  %s ", every_option[i].cmd);
    assert_true(contains(r.out, line));
  }
  free_result(&r);
  const char *none[] = {"macho", NULL}, *unknown[] = {"macho", "nope", NULL}, *help_unknown[] = {"macho", "help", "nope", NULL};
  expect(none, 2, "usage: macho COMMAND");
  expect(unknown, 2, "macho: unknown command 'nope'");
  expect(help_unknown, 2, "macho help: unknown command 'nope'");
}

static void option_values_parse_the_same_with_equals_separate_or_short(void **state) {
  (void)state;
  const char *t = DATA("lirs_cpp.trace.gz");
  const char *a[] = {"macho", "sim", t, "--format", "lirs", "--policy", "lru,fifo", "--size", "5,1%", "--json", NULL};
  const char *b[] = {"macho", "sim", "--format=lirs", "--policy=lru,fifo", "--size=5,1%", "--json", t, NULL};
  const char *c[] = {"macho", "sim", "-flirs", "-p", "lru,fifo", "-s5,1%", "--json", "-q", "--", t, NULL};
  const char *d[] = {"macho", "sim", "-qj1", "-f", "lirs", "-plru,fifo", "-s", "5,1%", "--json", t, NULL};
  run_result ra = run_cli(a, NULL), rb = run_cli(b, NULL), rc = run_cli(c, NULL), rd = run_cli(d, NULL);
  assert_int_equal(ra.status, 0);
  assert_true(contains(ra.out, "\"policy\":\"fifo\",\"size\":12,"));
  assert_string_equal(ra.out, rb.out);
  assert_string_equal(ra.out, rc.out);
  assert_string_equal(ra.out, rd.out);
  free_result(&ra), free_result(&rb), free_result(&rc), free_result(&rd);
  /* the last of a repeated option wins (getopt's rule) */
  const char *e[] = {"macho", "sim", t, "-f", "txt", "-f", "lirs", "-p", "lru", "-s", "5", "-q", NULL};
  run_result re = run_cli(e, NULL);
  assert_int_equal(re.status, 0);
  free_result(&re);
}

static void a_bad_argument_prints_nothing_on_stdout_and_names_command_and_cause(void **state) {
  (void)state;
  static const char *const cases[][12] = {
      {"macho", "demo", "--policy", "nope"},
      {"macho", "demo", "--shards", "0"},
      {"macho", "demo", "--shards", "10", "--capacity", "5"}, /* config check: shards > capacity */
      {"macho", "sim", DATA("lirs_cpp.trace.gz"), "-f", "lirs", "-p", "lru", "-s", "5,0"},
      {"macho", "sim", DATA("lirs_cpp.trace.gz"), "-f", "lirs", "-p", "lru,bogus", "-s", "5"},
      {"macho", "stats", "http://[::1"},
      {"macho", "filters", "--fp", "2"},
  };
  static const char *const prefix[] = {"macho demo: ", "macho demo: ", "macho demo: ", "macho sim: ", "macho sim: ",
                                       "macho stats: ", "macho filters: "};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    run_result r = run_cli(cases[i], NULL);
    if (r.status != 2 || r.out[0] || strncmp(r.err, prefix[i], strlen(prefix[i])) != 0)
      fail_msg("case %zu: exit %d, stdout '%s', stderr '%s'", i, r.status, r.out, r.err);
    assert_true(contains(r.err, "--help"));
    free_result(&r);
  }
}

/* ---- demo ------------------------------------------------------------------------------- */

static void demo_json_prints_one_object_per_policy(void **state) {
  (void)state;
  const char *a[] = {"macho", "demo", "--json", "--seconds", "0.05", "--capacity", "1000", "--keys", "10000",
                     "--shards", "1", NULL};
  run_result r = run_cli(a, NULL);
  assert_int_equal(r.status, 0);
  int rows = 0;
  for (char *line = r.out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    char err[200];
    json *j = json_parse(line, strlen(line), err, sizeof err);
    if (!j) fail_msg("not JSON (%s): %s", err, line);
    macho_policy p;
    assert_int_equal(macho_policy_parse(json_str(json_get(j, "policy"), ""), &p), MACHO_OK);
    double hr = json_num(json_get(j, "hit_ratio"), -1);
    assert_true(hr >= 0 && hr <= 1);
    assert_true(json_u64(json_get(j, "ops"), 0) > 0);
    assert_int_equal(json_u64(json_get(j, "capacity"), 0), 1000);
    json_free(j);
    rows++;
  }
  int available = 0;
  for (int p = 0; p < MACHO_POLICY_COUNT; p++) available += macho_policy_available((macho_policy)p);
  assert_int_equal(rows, available);
  free_result(&r);
}

/* A listening socket on a free loopback port; returns the fd, *port set. */
static int listen_any(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(fd, 1), 0);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

static void demo_listen_needs_a_token_off_loopback_and_says_when_the_port_is_taken(void **state) {
  (void)state;
  const char *off[] = {"macho", "demo", "--dashboard", "--listen", "0.0.0.0:0", NULL};
  expect(off, 2, "--listen 0.0.0.0:0 is not a loopback address: it needs --token T");
  const char *bad[] = {"macho", "demo", "--dashboard", "--listen", "example.com:80", NULL};
  expect(bad, 2, "--listen expects HOST:PORT");
  const char *token[] = {"macho", "demo", "--dashboard", "--token", "bad token", NULL};
  expect(token, 2, "--token must be 1-256 of");
  const char *nodash[] = {"macho", "demo", "--listen", "127.0.0.1:0", NULL};
  expect(nodash, 2, "--listen needs --dashboard");
  int port;
  int fd = listen_any(&port);
  char listen_at[64], want[128];
  snprintf(listen_at, sizeof listen_at, "127.0.0.1:%d", port);
  const char *busy[] = {"macho", "demo", "--dashboard", "--listen", listen_at, "--seconds", "0.05", NULL};
  run_result r = run_cli(busy, NULL);
  snprintf(want, sizeof want, "macho demo: cannot start the dashboard on %s: ", listen_at);
  assert_int_equal(r.status, 1);
  assert_string_equal(r.out, ""); /* not even the banner */
  if (!contains(r.err, want)) fail_msg("stderr: %s", r.err);
  if (!contains(r.err, "address already in use")) fail_msg("stderr: %s", r.err); /* MACHO_EADDRINUSE */
  free_result(&r);
  close(fd);
}

/* ---- the dashboard client against a running demo ---------------------------------------- */

typedef struct demo_proc {
  pid_t pid;
  FILE *out; /* kept open: a demo writing to a closed pipe would die of SIGPIPE */
  char url[256], hostport[128];
} demo_proc;

/* Start `macho demo --dashboard ...extra` and read the URL it prints. */
static demo_proc start_demo(const char *const *extra) {
  int out[2];
  assert_int_equal(pipe(out), 0);
  demo_proc d = {0};
  d.pid = fork();
  assert_true(d.pid >= 0);
  if (d.pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    const char *args[32] = {MACHO_CLI, "demo", "--dashboard", "--seconds", "60", "--shards", "2",
                            "--capacity", "1000", "--keys", "20000"};
    int n = 11;
    for (int i = 0; extra && extra[i] && n < 31; i++) args[n++] = extra[i];
    args[n] = NULL;
    execv(MACHO_CLI, (char *const *)args);
    _exit(127);
  }
  close(out[1]);
  FILE *f = fdopen(out[0], "r");
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char *u = strstr(line, "http://");
    if (u) {
      snprintf(d.url, sizeof d.url, "%.*s", (int)strcspn(u, " \n"), u);
      break;
    }
  }
  d.out = f;
  if (!d.url[0]) fail_msg("the demo printed no URL");
  const char *hp = d.url + 7;
  snprintf(d.hostport, sizeof d.hostport, "%.*s", (int)strcspn(hp, "/"), hp);
  return d;
}

static void stop_demo(demo_proc *d) {
  kill(d->pid, SIGTERM);
  int st;
  waitpid(d->pid, &st, 0);
  fclose(d->out);
}

static void stats_reads_a_running_dashboard_with_and_without_http_and_as_json(void **state) {
  (void)state;
  const char *extra[] = {"--manage", NULL};
  demo_proc d = start_demo(extra);
  const char *table[] = {"macho", "stats", d.url, NULL}, *bare[] = {"macho", "stats", d.hostport, NULL};
  run_result r = run_cli(table, NULL), rb = run_cli(bare, NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(rb.status, 0);
  assert_true(contains(r.out, "policy lru"));
  assert_true(contains(r.out, "\ntotal "));
  assert_true(contains(rb.out, "\ntotal "));
  free_result(&r), free_result(&rb);
  const char *js[] = {"macho", "stats", d.hostport, "--json", NULL};
  r = run_cli(js, NULL);
  assert_int_equal(r.status, 0);
  char err[200];
  json *j = json_parse(r.out, strlen(r.out), err, sizeof err);
  if (!j) fail_msg("--json is not JSON: %s", err);
  assert_string_equal(json_str(json_get(j, "schema"), ""), "macho.stats");
  assert_int_equal(json_u64(json_path(j, "config.capacity_entries"), 0), 1000);
  json_free(j);
  free_result(&r);
  /* get and del with management on: absent keys say so (exit 1); hot keys are there */
  const char *del[] = {"macho", "del", d.url, "no-such-key", NULL}, *get[] = {"macho", "get", d.url, "no-such-key", NULL};
  expect(del, 1, "macho del: key not found: no-such-key");
  expect(get, 1, "macho get: key not found: no-such-key");
  int found = 0;
  for (int k = 0; k < 10; k++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", k);
    const char *g[] = {"macho", "get", d.url, key, NULL};
    r = run_cli(g, NULL);
    if (r.status == 0) {
      assert_int_equal(strlen(r.out), 64); /* the demo's values: 64 x 'v' */
      assert_int_equal(strspn(r.out, "v"), 64);
      found++;
    } else {
      assert_int_equal(r.status, 1);
    }
    free_result(&r);
  }
  assert_true(found > 0); /* Zipf's hottest keys in a 1000-entry cache */
  const char *clear[] = {"macho", "clear", d.hostport, NULL};
  r = run_cli(clear, NULL);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "macho clear: ok\n");
  free_result(&r);
  stop_demo(&d);
}

static void stats_watch_prints_interval_rates_without_escape_codes_when_piped(void **state) {
  (void)state;
  demo_proc d = start_demo(NULL);
  const char *w[] = {"macho", "stats", d.url, "--watch", "--count", "3", "--interval", "0.2", NULL};
  run_result r = run_cli(w, NULL);
  assert_int_equal(r.status, 0);
  assert_null(strchr(r.out, '\033'));
  int lines = 0;
  for (const char *p = r.out; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 4); /* one header (not a terminal: never repeated) and 3 rows */
  assert_true(contains(r.out, "hits/s"));
  assert_true(contains(r.out, "evictions/s"));
  assert_true(contains(r.out, "get p99"));
  free_result(&r);
  const char *wj[] = {"macho", "stats", d.url, "-w", "-c", "2", "-i", "0.2", "--json", NULL};
  r = run_cli(wj, NULL);
  assert_int_equal(r.status, 0);
  int rows = 0;
  for (char *line = r.out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    char err[200];
    json *j = json_parse(line, strlen(line), err, sizeof err);
    if (!j) fail_msg("not JSON (%s): %s", err, line);
    assert_true(json_num(json_get(j, "hits_per_s"), -1) > 0); /* the demo is running */
    assert_true(json_num(json_get(j, "misses_per_s"), -1) >= 0);
    assert_true(json_num(json_get(j, "evictions_per_s"), -1) >= 0);
    assert_true(json_get(j, "get_p99_ns") != NULL);
    json_free(j);
    rows++;
  }
  assert_int_equal(rows, 2);
  free_result(&r);
  const char *nowatch[] = {"macho", "stats", d.url, "--count", "2", NULL};
  expect(nowatch, 2, "--count needs --watch");
  stop_demo(&d);
}

static bool ipv6_loopback_works(void) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

static void a_dashboard_with_a_token_refuses_without_it_and_answers_with_it(void **state) {
  (void)state;
  /* on [::1] when this machine has IPv6 loopback: URLs and Host headers with brackets */
  bool v6 = ipv6_loopback_works();
  if (!v6) printf("no IPv6 loopback: the token test runs on 127.0.0.1\n");
  const char *extra[] = {"--token", "t0k3n", "--listen", v6 ? "[::1]:0" : "127.0.0.1:0", NULL};
  demo_proc d = start_demo(extra); /* on loopback, with a token */
  if (v6) assert_true(contains(d.url, "http://[::1]:"));
  assert_true(contains(d.url, "?token=t0k3n"));
  char plain[160];
  snprintf(plain, sizeof plain, "http://%s/", d.hostport);
  const char *no[] = {"macho", "stats", plain, NULL}, *flag[] = {"macho", "stats", plain, "--token", "t0k3n", NULL},
             *inurl[] = {"macho", "stats", d.url, NULL}, *wrong[] = {"macho", "stats", d.url, "--token", "nope", NULL};
  expect(no, 1, "HTTP 401");
  expect(wrong, 1, "HTTP 401");
  run_result a = run_cli(flag, NULL), b = run_cli(inurl, NULL);
  assert_int_equal(a.status, 0);
  assert_int_equal(b.status, 0);
  free_result(&a), free_result(&b);
  const char *inject[] = {"macho", "stats", plain, "--token", "x\r\nX-Evil: 1", NULL};
  expect(inject, 2, "--token must be 1-256 of");
  stop_demo(&d);
}

static void stats_of_a_closed_port_says_connection_refused(void **state) {
  (void)state;
  int port;
  int fd = listen_any(&port);
  close(fd); /* now nothing listens there */
  char url[64];
  snprintf(url, sizeof url, "127.0.0.1:%d", port);
  const char *a[] = {"macho", "stats", url, NULL};
  expect(a, 1, "macho stats: cannot connect to 127.0.0.1");
  expect(a, 1, "Connection refused");
  const char *https[] = {"macho", "stats", "https://127.0.0.1:1/", NULL};
  expect(https, 2, "https is not supported");
}

/* ---- sim: input, jobs, progress ------------------------------------------------------------ */

static char *slurp_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *d = malloc((size_t)n + 1);
  assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
  d[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return d;
}

/* The "trace" field differs by design (the path, or "-"): compare the rest. */
static void strip_trace_fields(char *s) {
  for (char *p = strstr(s, "{\"trace\":\""); p; p = strstr(p + 1, "{\"trace\":\"")) {
    char *end = strstr(p, "\",\"format\"");
    if (end) memmove(p + 1, end + 3, strlen(end + 3) + 1);
  }
}

static void sim_reads_standard_input_and_fifos_like_the_file(void **state) {
  (void)state;
  /* txt on stdin through a shell pipe would need a shell: feed the bytes on stdin */
  static const struct { const char *file, *fmt, *sizes; } cases[] = {
      {DATA("lirs_cpp.trace.gz"), "lirs", "5,1%,20%"},                /* two passes: spooled */
      {DATA("cloudPhysicsIO_20k.txt"), "txt", "100,1000"},            /* one pass */
      {DATA("cloudPhysicsIO_20k.vscsi.gz"), "vscsi", "1%,5%"},         /* binary, gzip, two passes */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *file[] = {"macho", "sim", cases[i].file, "-f", cases[i].fmt, "-p", "lru,sieve,belady", "-s",
                          cases[i].sizes, "--json", NULL};
    const char *in[] = {"macho", "sim", "-", "-f", cases[i].fmt, "-p", "lru,sieve,belady", "-s", cases[i].sizes,
                        "--json", NULL};
    size_t len;
    char *data = slurp_file(cases[i].file, &len);
    assert_int_equal(strlen(data), len == strlen(data) ? len : strlen(data));
    run_result a = run_cli(file, NULL);
    assert_int_equal(a.status, 0);
    /* run_cli feeds a C string: binary (compressed) data needs the FIFO route */
    if (strlen(data) == len) {
      run_result b = run_cli(in, data);
      if (b.status != 0) fail_msg("stdin: exit %d: %s", b.status, b.err);
      strip_trace_fields(a.out);
      strip_trace_fields(b.out);
      assert_string_equal(a.out, b.out);
      free_result(&b);
    }
    /* a FIFO: a path that can be read only once */
    char fifo[128];
    snprintf(fifo, sizeof fifo, "/tmp/macho_test_cli_%d.fifo", (int)getpid());
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t writer = fork();
    if (writer == 0) {
      int fd = open(fifo, O_WRONLY);
      size_t off = 0;
      while (fd >= 0 && off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
      }
      _exit(0);
    }
    const char *viafifo[] = {"macho", "sim", fifo, "-f", cases[i].fmt, "-p", "lru,sieve,belady", "-s", cases[i].sizes,
                             "--json", NULL};
    run_result c = run_cli(viafifo, NULL);
    waitpid(writer, NULL, 0);
    unlink(fifo);
    if (c.status != 0) fail_msg("fifo: exit %d: %s", c.status, c.err);
    strip_trace_fields(a.out);
    strip_trace_fields(c.out);
    assert_string_equal(a.out, c.out);
    free_result(&a), free_result(&c);
    free(data);
  }
}

static void sim_jobs_give_the_results_of_one_thread(void **state) {
  (void)state;
  /* 140,000 requests: more than two batches of 65,536, so the workers
   * simulate one batch while the next is read */
  char big[128];
  snprintf(big, sizeof big, "/tmp/macho_test_cli_%d_140k.txt", (int)getpid());
  size_t len;
  char *cp = slurp_file(DATA("cloudPhysicsIO_20k.txt"), &len);
  FILE *f = fopen(big, "w");
  for (int i = 0; i < 7; i++) fwrite(cp, 1, len, f);
  fclose(f);
  free(cp);
  const struct { const char *file, *fmt, *unit, *pols; } cases[] = {
      {DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), "oracleGeneral", "entries", "all"},
      {DATA("lirs_ps.trace.gz"), "lirs", "entries", "all"},
      {DATA("cloudPhysicsIO_20k.vscsi.gz"), "vscsi", "bytes", "all"},
      {big, "txt", "entries", "all"},
  };
  /* under the sanitizers: the multi-batch trace and the byte-sized one */
  size_t first = getenv("MACHO_SANITIZED") ? 2 : 0;
  for (size_t i = first; i < sizeof cases / sizeof cases[0]; i++) {
    run_result one = {0};
    static const char *const jobs[] = {"1", "3", "2", "8"};
    size_t njobs = getenv("MACHO_SANITIZED") ? 2 : 4; /* 1 and 3 under the sanitizers: slower there */
    for (size_t j = 0; j < njobs; j++) {
      const char *a[] = {"macho", "sim", cases[i].file, "-f", cases[i].fmt, "-p", cases[i].pols, "-s", "1%,5%,20%",
                         "-u", cases[i].unit, "--json", "-j", jobs[j], NULL};
      run_result r = run_cli(a, NULL);
      if (r.status != 0) fail_msg("%s -j %s: exit %d: %s", cases[i].fmt, jobs[j], r.status, r.err);
      if (j == 0) {
        one = r;
        int rows = 0;
        for (const char *p = r.out; *p; p++) rows += *p == '\n';
        assert_true(rows >= 24); /* 8+ policies x 3 sizes */
        continue;
      }
      if (strcmp(one.out, r.out) != 0) fail_msg("%s: -j %s differs from -j 1:\n%s\nvs\n%s", cases[i].fmt, jobs[j], r.out, one.out);
      free_result(&r);
    }
    free_result(&one);
  }
  unlink(big);
}

/* Run the CLI with stderr on a pseudo-terminal (and stdout on /dev/null);
 * return what the terminal received. */
static char *run_on_pty_status(const char *const *argv, const char *delay, int *status) {
  int master;
  pid_t pid = forkpty(&master, NULL, NULL, NULL);
  assert_true(pid >= 0);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    if (delay) setenv("MACHO_PROGRESS_DELAY", delay, 1);
    const char *args[32];
    int n = 0;
    args[n++] = MACHO_CLI;
    for (int i = 1; argv[i] && n < 31; i++) args[n++] = argv[i];
    args[n] = NULL;
    execv(MACHO_CLI, (char *const *)args);
    _exit(127);
  }
  char *buf = calloc(1, 1);
  size_t len = 0, cap = 0;
  while (drain(master, &buf, &len, &cap)) {
  }
  close(master);
  int st;
  waitpid(pid, &st, 0);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return buf;
}

static char *run_on_pty(const char *const *argv, const char *delay) {
  int status;
  char *out = run_on_pty_status(argv, delay, &status);
  if (status != 0) fail_msg("exit %d on a pty: %s", status, out);
  return out;
}

static void sim_shows_progress_on_a_terminal_only_and_never_with_quiet(void **state) {
  (void)state;
  /* 20,000 requests x 2 passes: MACHO_PROGRESS_DELAY=0 so that even this
   * short run draws its progress line (the 1.5 s default is for people). */
  const char *a[] = {"macho", "sim", DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), "-f", "oracleGeneral", "-p",
                     "lru", "-s", "1%", NULL};
  char *tty = run_on_pty(a, "0");
  if (!contains(tty, "requests") || !contains(tty, "\r")) fail_msg("no progress on the terminal: '%s'", tty);
  assert_true(contains(tty, "macho sim: pass 1 of 2: "));
  assert_true(contains(tty, "/s")); /* a rate */
  assert_true(contains(tty, "ETA"));
  free(tty);
  const char *q[] = {"macho", "sim", DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), "-f", "oracleGeneral", "-p",
                     "lru", "-s", "1%", "--quiet", NULL};
  tty = run_on_pty(q, "0");
  assert_string_equal(tty, "");
  free(tty);
  /* the default delay: a run this short stays silent */
  tty = run_on_pty(a, NULL);
  assert_string_equal(tty, "");
  free(tty);
  /* stderr not a terminal: silent */
  const char *env[] = {"MACHO_PROGRESS_DELAY=0", NULL};
  run_result r = run_cli_env(a, env);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  free_result(&r);
}

static void sim_does_not_wait_for_a_trace_typed_on_a_terminal(void **state) {
  (void)state;
  const char *a[] = {"macho", "sim", "-", "-f", "txt", "-p", "lru", "-s", "5", NULL};
  int status;
  char *tty = run_on_pty_status(a, NULL, &status); /* stdin is the terminal */
  assert_int_equal(status, 2);
  assert_true(contains(tty, "standard input, which is a terminal"));
  free(tty);
}

static void sim_rejects_empty_traces_and_sizes_above_the_whole_trace(void **state) {
  (void)state;
  char empty[128];
  snprintf(empty, sizeof empty, "/tmp/macho_test_cli_empty_%d", (int)getpid());
  FILE *f = fopen(empty, "w");
  fputs("\n\n*\n", f); /* nothing but blank lines and a checkpoint */
  fclose(f);
  const char *a[] = {"macho", "sim", empty, "-f", "lirs", "-p", "lru", "-s", "10", NULL};
  const char *b[] = {"macho", "sim", empty, "-f", "lirs", "-p", "lru", "-s", "10%", NULL};
  expect(a, 1, "the trace holds no requests");
  expect(b, 1, "the trace holds no requests");
  run_result r = run_cli(a, NULL);
  assert_string_equal(r.out, ""); /* no table of zeros */
  free_result(&r);
  unlink(empty);
  const char *over[] = {"macho", "sim", DATA("lirs_cpp.trace.gz"), "-f", "lirs", "-p", "lru", "-s", "100.5%", NULL};
  expect(over, 2, "is more than the whole trace");
  const char *full[] = {"macho", "sim", DATA("lirs_cpp.trace.gz"), "-f", "lirs", "-p", "lru", "-s", "100%", "--json", NULL};
  r = run_cli(full, NULL);
  assert_int_equal(r.status, 0);
  assert_true(contains(r.out, "\"size\":1223,")); /* 100% = every distinct key */
  assert_true(contains(r.out, "\"misses\":1223,")); /* so only cold misses */
  free_result(&r);
}

static void sim_names_the_format_a_wrong_format_looks_like(void **state) {
  (void)state;
  char lis[128];
  snprintf(lis, sizeof lis, "/tmp/macho_test_cli_%d.lis", (int)getpid());
  FILE *f = fopen(lis, "w");
  fputs("1 8 0 1\n9 8 0 2\n1 8 0 3\n", f);
  fclose(f);
  const char *a[] = {"macho", "sim", lis, "-f", "lirs", "-p", "lru", "-s", "4", NULL};
  expect(a, 1, "this looks like an ARC trace (lines 'START COUNT IGNORE REQNUM'): try --format arc");
  const char *b[] = {"macho", "sim", lis, "-f", "arc", "-p", "lru", "-s", "16", "--json", NULL};
  run_result r = run_cli(b, NULL);
  assert_int_equal(r.status, 0);
  assert_true(contains(r.out, "\"requests\":24,\"distinct\":16,\"hits\":8,")); /* blocks 1-8 again, all held */
  free_result(&r);
  unlink(lis);
  const char *c[] = {"macho", "sim", DATA("cloudPhysicsIO_20k.vscsi.gz"), "-f", "oracleGeneral", "-p", "lru", "-s", "4", NULL};
  expect(c, 1, "try --format vscsi");
}

/* ---- bash completion --------------------------------------------------------------------- */

/* Source the generated completion and complete the words; returns COMPREPLY. */
static char *complete(const char *words) {
  char script[2048];
  snprintf(script, sizeof script,
           "source <('%s' help --bash-completion) || exit 3\n"
           "COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _macho; printf '%%s\\n' \"${COMPREPLY[@]}\" | sort",
           MACHO_CLI, words);
  const char *argv[] = {"x", NULL};
  (void)argv;
  int out[2];
  assert_int_equal(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl("/bin/bash", "bash", "--norc", "--noprofile", "-c", script, (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  char *buf = calloc(1, 1);
  size_t len = 0, cap = 0;
  while (drain(out[0], &buf, &len, &cap)) {
  }
  close(out[0]);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("bash completion script failed: %s", buf);
  return buf;
}

static void bash_completion_completes_commands_options_and_values(void **state) {
  (void)state;
  if (access("/bin/bash", X_OK) != 0) {
    printf("no /bin/bash: skipping the completion test\n");
    skip();
  }
  char *c = complete("macho de");
  assert_string_equal(c, "del\ndemo\n");
  free(c);
  c = complete("macho sim --for");
  assert_string_equal(c, "--format=\n");
  free(c);
  c = complete("macho sim --format ''");
  assert_true(contains(c, "lirs\n") && contains(c, "oracleGeneral\n") && contains(c, "arc\n"));
  free(c);
  c = complete("macho sim --format = o"); /* --format=o, as bash splits it */
  assert_string_equal(c, "oracleGeneral\n");
  free(c);
  c = complete("macho sim -p lru,s");
  assert_string_equal(c, "lru,s3fifo\nlru,sieve\n");
  free(c);
  c = complete("macho sim --size-unit b");
  assert_string_equal(c, "bytes\n");
  free(c);
  c = complete("macho demo --pol");
  assert_string_equal(c, "--policy=\n");
  free(c);
  c = complete("macho help s");
  assert_string_equal(c, "sim\nsnapshot\nstats\n");
  free(c);
  c = complete("macho re");
  assert_string_equal(c, "restore\n");
  free(c);
}

/* ---- the hostile-input table of docs/RELIABILITY.md ------------------------------------------ */

/* Split a code span into argv: blanks separate, '...' groups, \| is |. */
static int split_argv(char *s, char **argv, int max) {
  int n = 0;
  char *out = s;
  while (*s && n < max - 1) {
    while (*s == ' ') s++;
    if (!*s) break;
    argv[n++] = out;
    while (*s && *s != ' ') {
      if (*s == '\'') {
        for (s++; *s && *s != '\''; s++) *out++ = *s;
        if (*s) s++;
      } else if (s[0] == '\\' && s[1] == '|') {
        *out++ = '|';
        s += 2;
      } else {
        *out++ = *s++;
      }
    }
    if (*s) s++;
    *out++ = '\0';
  }
  argv[n] = NULL;
  return n;
}

/* The code span after *p (the text between the next pair of backticks). */
static bool code_span(char **p, char *out, size_t cap) {
  char *a = strchr(*p, '`');
  if (!a) return false;
  char *b = strchr(a + 1, '`');
  if (!b) return false;
  snprintf(out, cap, "%.*s", (int)(b - a - 1), a + 1);
  *p = b + 1;
  return true;
}

static void every_row_of_the_hostile_cli_input_table_behaves_as_documented(void **state) {
  (void)state;
  size_t len;
  char *doc = slurp_file(RELIABILITY_MD, &len);
  char *sec = strstr(doc, "### Hostile CLI input");
  assert_non_null(sec);
  char *end = strstr(sec + 4, "\n#");
  if (end) *end = '\0';
  int rows = 0;
  char empty[128];
  snprintf(empty, sizeof empty, "/tmp/macho_test_cli_hostile_%d", (int)getpid());
  fclose(fopen(empty, "w"));
  for (char *line = strstr(sec, "\n| `macho "); line; line = strstr(line + 1, "\n| `macho ")) {
    char *p = line, args[1024], want[512], shown[1024];
    assert_true(code_span(&p, args, sizeof args));
    snprintf(shown, sizeof shown, "%s", args);
    char *cell = strchr(p, '|');
    assert_non_null(cell);
    int status = atoi(cell + 1);
    char *q = cell + 1;
    assert_true(code_span(&q, want, sizeof want));
    /* unescape \| in the expected text */
    for (char *w = want; (w = strstr(w, "\\|"));) memmove(w, w + 1, strlen(w));
    /* $DATA and $EMPTY stand for tests/data and an empty file */
    char expanded[2048] = "";
    size_t x = 0;
    for (char *a = args; *a && x + 200 < sizeof expanded;) {
      if (!strncmp(a, "$DATA", 5)) x += (size_t)snprintf(expanded + x, sizeof expanded - x, "%s", MACHO_TEST_DATA), a += 5;
      else if (!strncmp(a, "$EMPTY", 6)) x += (size_t)snprintf(expanded + x, sizeof expanded - x, "%s", empty), a += 6;
      else expanded[x++] = *a++;
    }
    expanded[x] = '\0';
    char *argv[64];
    split_argv(expanded, argv, 64);
    run_result r = run_cli((const char *const *)argv, NULL);
    if (r.status != status || !contains(r.err, want))
      fail_msg("RELIABILITY.md row `%s`: exit %d (documented %d), stderr '%s' (documented '%s')", shown, r.status,
               status, r.err, want);
    if (status == 2 && r.out[0]) fail_msg("row `%s`: a usage error printed on stdout: %s", shown, r.out);
    free_result(&r);
    rows++;
  }
  unlink(empty);
  printf("hostile CLI input: %d rows of docs/RELIABILITY.md checked\n", rows);
  assert_true(rows >= 30);
  free(doc);
}

/* ---- the README's examples ----------------------------------------------------------------- */

/* Every `macho sim` line of the README's shell blocks runs from the source
 * tree as it is (a plain clone: the traces it names are in tests/data/),
 * with the built CLI first on PATH and --plot files sent to /tmp. */
static void the_readme_sim_examples_run_from_a_plain_clone(void **state) {
  (void)state;
  size_t len;
  char *readme = slurp_file(MACHO_TEST_DATA "/../../README.md", &len);
  char bindir[512];
  snprintf(bindir, sizeof bindir, "%s", MACHO_CLI);
  *strrchr(bindir, '/') = '\0';
  int ran = 0;
  for (char *p = strstr(readme, "\n```sh\n"); p; p = strstr(p + 1, "\n```sh\n")) {
    char *end = strstr(p + 7, "\n```");
    if (!end) break;
    for (char *line = p + 7; line < end;) {
      char *nl = strchr(line, '\n');
      char cmd[2048];
      size_t n = 0;
      /* join continuation lines */
      for (;;) {
        size_t l = (size_t)(nl - line);
        bool cont = l && line[l - 1] == '\\';
        if (n + l + 2 >= sizeof cmd) break;
        memcpy(cmd + n, line, cont ? l - 1 : l);
        n += cont ? l - 1 : l;
        line = nl + 1;
        if (!cont || line >= end) break;
        nl = strchr(line, '\n');
      }
      cmd[n] = '\0';
      if (!strstr(cmd, "macho sim ")) continue;
      char *hash = strstr(cmd, "  #");
      if (hash) *hash = '\0';
      char shell[4096], *plot = strstr(cmd, "--plot ");
      if (plot) memcpy(plot, "--time ", 7), memset(plot + 7, ' ', strcspn(plot + 7, " ")); /* no files in the tree */
      snprintf(shell, sizeof shell, "cd '%s/../..' && export PATH='%s':$PATH && %s >/dev/null", MACHO_TEST_DATA, bindir, cmd);
      int st = system(shell);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("README example failed (%d): %s", st, cmd);
      ran++;
    }
  }
  printf("README: %d `macho sim` examples ran\n", ran);
  assert_true(ran >= 3);
  free(readme);
}

/* ---- the JSON reader ----------------------------------------------------------------------- */

static void json_reader_parses_the_rfc_and_refuses_everything_else(void **state) {
  (void)state;
  char err[200];
  const char *good = " {\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\ud83d\\ude00\\n\"],\"big\":18446744073709551615,"
                     "\"o\":{\"k\":{}} , \"e\":[]} ";
  json *j = json_parse(good, strlen(good), err, sizeof err);
  if (!j) fail_msg("%s", err);
  assert_int_equal(json_u64(json_get(j, "big"), 0), UINT64_MAX); /* exact past 2^53 */
  assert_true(json_num(json_at(json_get(j, "a"), 1), 0) == -2500);
  assert_string_equal(json_str(json_at(json_get(j, "a"), 5), ""), "x\xc3\xa9\xf0\x9f\x98\x80\n");
  assert_non_null(json_path(j, "o.k"));
  assert_null(json_path(j, "o.k.z"));
  assert_int_equal(json_get(j, "e")->len, 0);
  json_free(j);
  static const char *const bad[] = {"", " ", "{", "[1,]", "{\"a\"1}", "{\"a\":}", "01", "1.", "-", "1e", "\"\\x\"",
                                    "\"\\ud800\"", "\"\\udc00x\"", "\"a\nb\"", "tru", "nul", "[1] 2", "{\"a\":1,}",
                                    "\"unterminated", "[\"\\u12\"]", "{1:2}", "+1", ".5", "NaN", "[1 2]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
    if (j) fail_msg("accepted '%s'", bad[i]);
    assert_true(contains(err, "byte "));
  }
  /* nesting is bounded: 64 levels parse, 65 do not (no stack exhaustion) */
  char deep[200];
  for (int depth = 64; depth <= 65; depth++) {
    memset(deep, '[', (size_t)depth);
    memset(deep + depth, ']', (size_t)depth);
    j = json_parse(deep, 2 * (size_t)depth, err, sizeof err);
    if (depth == 64) assert_non_null(j);
    else assert_null(j), assert_true(contains(err, "nested too deeply"));
    json_free(j);
  }
  /* a string with a NUL byte (\u0000) keeps its length */
  j = json_parse("\"a\\u0000b\"", 10, err, sizeof err);
  assert_non_null(j);
  assert_int_equal(j->len, 3);
  json_free(j);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_url_with_an_unclosed_bracket_is_a_usage_error_for_every_client_command),
      cmocka_unit_test(every_command_prints_each_option_with_its_default_for_h_help_and_help_cmd),
      cmocka_unit_test(version_and_top_level_help_work_everywhere),
      cmocka_unit_test(option_values_parse_the_same_with_equals_separate_or_short),
      cmocka_unit_test(a_bad_argument_prints_nothing_on_stdout_and_names_command_and_cause),
      cmocka_unit_test(demo_json_prints_one_object_per_policy),
      cmocka_unit_test(demo_listen_needs_a_token_off_loopback_and_says_when_the_port_is_taken),
      cmocka_unit_test(stats_reads_a_running_dashboard_with_and_without_http_and_as_json),
      cmocka_unit_test(stats_watch_prints_interval_rates_without_escape_codes_when_piped),
      cmocka_unit_test(a_dashboard_with_a_token_refuses_without_it_and_answers_with_it),
      cmocka_unit_test(stats_of_a_closed_port_says_connection_refused),
      cmocka_unit_test(sim_reads_standard_input_and_fifos_like_the_file),
      cmocka_unit_test(sim_jobs_give_the_results_of_one_thread),
      cmocka_unit_test(sim_shows_progress_on_a_terminal_only_and_never_with_quiet),
      cmocka_unit_test(sim_does_not_wait_for_a_trace_typed_on_a_terminal),
      cmocka_unit_test(sim_rejects_empty_traces_and_sizes_above_the_whole_trace),
      cmocka_unit_test(sim_names_the_format_a_wrong_format_looks_like),
      cmocka_unit_test(bash_completion_completes_commands_options_and_values),
      cmocka_unit_test(every_row_of_the_hostile_cli_input_table_behaves_as_documented),
      cmocka_unit_test(the_readme_sim_examples_run_from_a_plain_clone),
      cmocka_unit_test(json_reader_parses_the_rfc_and_refuses_everything_else),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
