/*
 * snapshot.c -- `macho snapshot URL FILE` and `macho restore URL FILE`: save
 * a running cache to a file on this machine, and load one into it, through
 * its dashboard (GET /api/snapshot, POST /api/restore; management on and a
 * token required, since a snapshot is every entry).
 *
 * The file is the library's snapshot format (docs/DESIGN.md), so a FILE
 * from `macho snapshot` also loads with macho_load, and one from
 * macho_save restores here. `snapshot` writes FILE the way macho_save does:
 * a temporary file beside it, fsync, rename, fsync of the directory, and
 * only once the whole answer has arrived and looks like a snapshot (its
 * length, magic and trailer), so FILE is never left half written. The
 * server checks a restored snapshot entirely before it touches the cache.
 *
 * A small HTTP/1.1 client of its own (one request per connection, read to
 * EOF), as stats.c has.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct endpoint {
  char host[256], port[8], token[300];
} endpoint;

static bool parse_target(const char *url, const char *token, endpoint *e) {
  memset(e, 0, sizeof *e);
  if (strncmp(url, "http://", 7) != 0) {
    fprintf(stderr, "macho: URL must start with http:// (got '%s')\n", url);
    return false;
  }
  const char *h = url + 7, *end = h + strcspn(h, "/?");
  const char *hp = h, *he = end, *colon = NULL;
  if (*h == '[') {
    const char *close = memchr(h, ']', (size_t)(end - h));
    if (!close) goto bad;
    hp = h + 1;
    he = close;
    colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
  } else {
    colon = memchr(h, ':', (size_t)(end - h));
    if (colon) he = colon;
  }
  if (he <= hp || (size_t)(he - hp) >= sizeof e->host) goto bad;
  memcpy(e->host, hp, (size_t)(he - hp));
  if (colon) {
    size_t pl = (size_t)(end - colon - 1);
    if (pl == 0 || pl >= sizeof e->port) goto bad;
    memcpy(e->port, colon + 1, pl);
  } else {
    strcpy(e->port, "80");
  }
  const char *q = strstr(end, "token=");
  if (token) snprintf(e->token, sizeof e->token, "%s", token);
  else if (q) snprintf(e->token, sizeof e->token, "%.*s", (int)strcspn(q + 6, "&#"), q + 6);
  return true;
bad:
  fprintf(stderr, "macho: cannot parse URL '%s'\n", url);
  return false;
}

static int dial(const endpoint *e) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(e->host, e->port, &hints, &res);
  if (gai != 0) {
    fprintf(stderr, "macho: cannot resolve %s: %s\n", e->host, gai_strerror(gai));
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    struct timeval tv = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) fprintf(stderr, "macho: cannot connect to %s:%s\n", e->host, e->port);
  return fd;
}

static bool send_all(int fd, const void *p, size_t n) {
  const char *b = p;
  while (n) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    b += w;
    n -= (size_t)w;
  }
  return true;
}

/* The whole answer (status line, headers, body) into a growing buffer. */
typedef struct answer {
  char *data;
  size_t len;
  int status;
  const char *body;
  size_t body_len;
} answer;

static bool exchange(const endpoint *e, const char *method, const char *path, const void *body, size_t body_len,
                     answer *a) {
  memset(a, 0, sizeof *a);
  int fd = dial(e);
  if (fd < 0) return false;
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nConnection: close\r\n%s%s%s"
                   "Content-Length: %zu\r\n\r\n",
                   method, path, strchr(e->host, ':') ? "[" : "", e->host, strchr(e->host, ':') ? "]" : "", e->port,
                   e->token[0] ? "Authorization: Bearer " : "", e->token, e->token[0] ? "\r\n" : "", body_len);
  if (n < 0 || (size_t)n >= sizeof head || !send_all(fd, head, (size_t)n) || (body_len && !send_all(fd, body, body_len))) {
    close(fd);
    fprintf(stderr, "macho: sending the request failed\n");
    return false;
  }
  size_t cap = 1 << 20;
  a->data = malloc(cap + 1);
  while (a->data) {
    if (a->len == cap) {
      char *nb = realloc(a->data, 2 * cap + 1);
      if (!nb) {
        free(a->data);
        a->data = NULL;
        break;
      }
      a->data = nb;
      cap *= 2;
    }
    ssize_t k = recv(fd, a->data + a->len, cap - a->len, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    a->len += (size_t)k;
  }
  close(fd);
  if (!a->data) {
    fprintf(stderr, "macho: out of memory reading the answer\n");
    return false;
  }
  a->data[a->len] = '\0';
  char *sep = strstr(a->data, "\r\n\r\n");
  if (strncmp(a->data, "HTTP/1.", 7) != 0 || !sep) {
    fprintf(stderr, "macho: no HTTP answer from %s:%s\n", e->host, e->port);
    free(a->data);
    a->data = NULL;
    return false;
  }
  a->status = atoi(a->data + 9);
  a->body = sep + 4;
  a->body_len = a->len - (size_t)(a->body - a->data);
  /* A Content-Length that the body does not reach means a cut connection. */
  for (char *h = strstr(a->data, "\r\n"); h && h < sep; h = strstr(h + 2, "\r\n")) {
    if (strncasecmp(h + 2, "Content-Length:", 15) == 0) {
      unsigned long long want = strtoull(h + 17, NULL, 10);
      if (want != a->body_len) {
        fprintf(stderr, "macho: the answer was cut short (%zu of %llu bytes)\n", a->body_len, want);
        free(a->data);
        a->data = NULL;
        return false;
      }
    }
  }
  return true;
}

static int http_failure(const answer *a) {
  fprintf(stderr, "macho: HTTP %d: %.*s", a->status, (int)a->body_len, a->body);
  if (!a->body_len || a->body[a->body_len - 1] != '\n') fputc('\n', stderr);
  return CLI_FAIL;
}

static bool parse(int argc, char **argv, const char **url, const char **file, const char **token) {
  *url = *file = *token = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--token") && i + 1 < argc) *token = argv[++i];
    else if (argv[i][0] == '-' && argv[i][1] == '-') {
      fprintf(stderr, "macho %s: unknown or incomplete option '%s'\n", argv[0], argv[i]);
      return false;
    } else if (!*url) *url = argv[i];
    else if (!*file) *file = argv[i];
    else {
      fprintf(stderr, "macho %s: unexpected argument '%s'\n", argv[0], argv[i]);
      return false;
    }
  }
  if (!*url || !*file) {
    fprintf(stderr, "usage: %s", cli_find(argv[0])->usage);
    return false;
  }
  return true;
}

/* What a snapshot looks like from the outside: magic first, trailer last. */
static bool looks_like_snapshot(const char *b, size_t n) {
  return n >= 64 && memcmp(b, "MACHOSNP", 8) == 0 && memcmp(b + n - 32, "MACHOEND", 8) == 0;
}

/* FILE, atomically: temporary file, fsync, rename, fsync of the directory. */
static bool write_atomically(const char *file, const char *data, size_t n) {
  char tmp[PATH_MAX], dir[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", file) >= (int)sizeof tmp) return false;
  int fd = mkstemp(tmp);
  if (fd < 0) return false;
  const char *p = data;
  size_t left = n;
  bool ok = true;
  while (ok && left) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) ok = false;
    else {
      p += w;
      left -= (size_t)w;
    }
  }
  ok = ok && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  ok = ok && rename(tmp, file) == 0;
  if (!ok) {
    int saved = errno;
    unlink(tmp);
    errno = saved;
    return false;
  }
  const char *slash = strrchr(file, '/');
  if (slash == file) snprintf(dir, sizeof dir, "/");
  else if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
  else snprintf(dir, sizeof dir, ".");
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ok = fsync(dfd) == 0;
    close(dfd);
  }
  return ok;
}

int cmd_snapshot(int argc, char **argv) {
  const char *url, *file, *token;
  endpoint e;
  if (!parse(argc, argv, &url, &file, &token) || !parse_target(url, token, &e)) return CLI_USAGE;
  answer a;
  if (!exchange(&e, "GET", "/api/snapshot", NULL, 0, &a)) return CLI_FAIL;
  int rc = CLI_OK;
  if (a.status != 200) rc = http_failure(&a);
  else if (!looks_like_snapshot(a.body, a.body_len)) {
    fprintf(stderr, "macho snapshot: the answer is not a snapshot (%zu bytes); %s unchanged\n", a.body_len, file);
    rc = CLI_FAIL;
  } else if (!write_atomically(file, a.body, a.body_len)) {
    fprintf(stderr, "macho snapshot: cannot write %s: %s\n", file, strerror(errno));
    rc = CLI_FAIL;
  } else {
    printf("macho snapshot: %zu bytes written to %s\n", a.body_len, file);
  }
  free(a.data);
  return rc;
}

int cmd_restore(int argc, char **argv) {
  const char *url, *file, *token;
  endpoint e;
  if (!parse(argc, argv, &url, &file, &token) || !parse_target(url, token, &e)) return CLI_USAGE;
  FILE *f = fopen(file, "rb");
  if (!f) {
    fprintf(stderr, "macho restore: cannot open %s: %s\n", file, strerror(errno));
    return CLI_FAIL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "macho restore: %s is not a regular file\n", file);
    fclose(f);
    return CLI_FAIL;
  }
  size_t n = (size_t)st.st_size;
  char *data = malloc(n ? n : 1);
  if (!data || fread(data, 1, n, f) != n) {
    fprintf(stderr, "macho restore: cannot read %s\n", file);
    free(data);
    fclose(f);
    return CLI_FAIL;
  }
  fclose(f);
  answer a;
  bool sent = exchange(&e, "POST", "/api/restore", data, n, &a);
  free(data);
  if (!sent) return CLI_FAIL;
  int rc = CLI_OK;
  if (a.status != 200) rc = http_failure(&a);
  else printf("macho restore: %.*s", (int)a.body_len, a.body);
  free(a.data);
  return rc;
}
