/*
 * test_cli.c -- the macho CLI as a user meets it: the built binary
 * (MACHO_CLI) is run with an argv (no shell in between), and its exit
 * status, stdout and stderr are checked.
 */
#include "support.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_url_with_an_unclosed_bracket_is_a_usage_error_for_every_client_command),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
