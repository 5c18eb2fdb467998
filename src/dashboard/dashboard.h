/*
 * dashboard.h -- what the dashboard's files share. The dashboard is a client
 * of libmacho like any other: it includes only the public header and reads
 * the cache through macho_stats_get, macho_counters_get, macho_config_get and
 * the bytes-mode calls, so it sees exactly what any other client sees.
 *
 *   server.c      libmicrohttpd glue: the thread, its loop, deadlines, start/stop
 *   request.c     what to answer to a request: a pure function of its bytes
 *   admit.c       who gets a connection slot when they run short
 *   history.c     15 minutes of per-second samples, and /api/history
 *   json.c        /api/stats, and the text buffer the writers share
 *   prometheus.c  /metrics
 *   assets.c      the page and Chart.js, embedded at build time
 */
#ifndef MACHO_DASHBOARD_H
#define MACHO_DASHBOARD_H

#include <macho/macho.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation: through the cache's hooks (NULL = libc) ------------------------ */

/* The allocator macho_config_get reports: the cache's own copy of the hooks,
 * valid until macho_close, or NULL for libc. */
typedef const macho_allocator *macho__dash_alloc;

static inline void *macho__dash_malloc(macho__dash_alloc a, size_t n) {
  return a ? a->malloc(a->ctx, n) : malloc(n);
}
static inline void *macho__dash_calloc(macho__dash_alloc a, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = macho__dash_malloc(a, n * size);
  if (p) memset(p, 0, n * size);
  return p;
}
static inline void *macho__dash_realloc(macho__dash_alloc a, void *p, size_t old_n, size_t n) {
  return a ? a->realloc(a->ctx, p, old_n, n) : realloc(p, n);
}
static inline void macho__dash_free(macho__dash_alloc a, void *p, size_t n) {
  if (!p) return;
  if (a) a->free(a->ctx, p, n);
  else free(p);
}

/* ---- text buffer (json.c) ------------------------------------------------------- */

/* Text built with the cache's allocator. On allocation failure `oom` is set
 * and later appends are dropped: the writer finishes, the caller checks once. */
typedef struct macho__buf {
  char *p;
  size_t len, cap;
  macho__dash_alloc a;
  bool oom;
} macho__buf;

void macho__buf_init(macho__buf *b, macho__dash_alloc a);
void macho__buf_free(macho__buf *b);
void macho__buf_put(macho__buf *b, const char *s, size_t n);
void macho__buf_puts(macho__buf *b, const char *s);
void macho__buf_printf(macho__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included. */
void macho__buf_json_str(macho__buf *b, const char *s, size_t n);
/* A finite double as a JSON number, anything else as null. */
void macho__buf_json_num(macho__buf *b, double v);

/* Shards listed one by one in /api/stats (the total always covers all). */
#define MACHO__DASH_MAX_SHARDS 256u

/* /api/stats, schema docs/STATS_SCHEMA.md. MACHO_OK, or MACHO_ENOMEM. */
int macho__stats_json(macho_cache *c, macho__buf *b);
/* /metrics, Prometheus text exposition format 0.0.4. */
int macho__stats_prometheus(macho_cache *c, macho__buf *b);

/* The Redis tier's figures (tier.c): /api/tier, and more /metrics series. */
int macho__tier_stats_json(macho_tier *t, macho__buf *b);
int macho__tier_stats_prometheus(macho_tier *t, macho__buf *b);

/* ---- page assets (assets.c) ----------------------------------------------------- */

typedef struct macho__asset {
  const char *path, *type;
  const char *data;
  size_t len;
} macho__asset;
/* The asset at exactly `path` (n bytes; "/index.html" is "/"). */
bool macho__asset_find(const char *path, size_t n, macho__asset *out);

/* ---- requests (request.c) ------------------------------------------------------- */

#define MACHO__DASH_MAX_URL 2048u   /* request target, bytes as sent (414 beyond) */
#define MACHO__DASH_MAX_TOKEN 256u
#define MACHO__DASH_MAX_HEADERS 64u /* header lines (431 beyond) */
#define MACHO__DASH_MAX_RESTORE (1ull << 30) /* bytes of a POST /api/restore body (413 beyond) */

/* What the server knows about itself when it judges a request. */
typedef struct macho__dash_site {
  const char *token; /* NULL or "" = no token */
  size_t token_len;
  bool loopback;     /* bound to a loopback address: Host must name loopback */
  unsigned port;     /* the bound port, which Host must carry */
  bool management;   /* clear/get/delete endpoints switched on */
  bool object_mode;  /* the cache holds objects: no byte keys to address */
} macho__dash_site;

typedef struct macho__dash_header {
  const char *name, *value;
  size_t name_len, value_len;
} macho__dash_header;

/* A request as it arrived; nothing is decoded yet. */
typedef struct macho__dash_request {
  const char *method;
  size_t method_len;
  const char *target; /* origin-form "/path?query", undecoded */
  size_t target_len;
  const macho__dash_header *headers;
  size_t nheaders;
} macho__dash_request;

typedef enum macho__dash_route {
  MACHO__ROUTE_ERROR = 0, /* answer `status` with `error` */
  MACHO__ROUTE_ASSET,
  MACHO__ROUTE_STATS,
  MACHO__ROUTE_METRICS,
  MACHO__ROUTE_HISTORY,
  MACHO__ROUTE_TIER,      /* GET /api/tier: the Redis tier's figures (tier.c) */
  MACHO__ROUTE_CLEAR,
  MACHO__ROUTE_GET,
  MACHO__ROUTE_DELETE,
  MACHO__ROUTE_SNAPSHOT, /* GET /api/snapshot: the macho_save_to stream (management + token) */
  MACHO__ROUTE_RESTORE,  /* POST /api/restore: a snapshot body for macho_load_from (management + token) */
} macho__dash_route;

typedef struct macho__dash_decision {
  unsigned status;       /* 200: serve `route`; else an error status */
  macho__dash_route route;
  const char *error;     /* static sentence when status != 200 */
  const char *allow;     /* the Allow header of a 405 */
  bool authenticate;     /* 401: add WWW-Authenticate */
  bool close;            /* close the connection after answering */
  bool head;             /* HEAD: the headers of a GET, no body */
  bool set_cookie;       /* the page opened with ?token=: hand it the cookie */
  macho__asset asset;    /* MACHO__ROUTE_ASSET */
  /* MACHO__ROUTE_GET and _DELETE: the decoded ?key=, a byte string (may hold NUL) */
  size_t key_len;
  char key[MACHO__DASH_MAX_URL];
  /* MACHO__ROUTE_HISTORY: ?seconds= (0 = all kept) and ?since= (sequence number) */
  uint32_t seconds;
  bool has_since;
  uint64_t since;
  /* MACHO__ROUTE_RESTORE: the body's length (Content-Length, 1..MACHO__DASH_MAX_RESTORE) */
  uint64_t body_len;
} macho__dash_decision;

/* Judge a request: which route, or which 4xx and why. Pure: reads only its
 * arguments, writes only *out, never fails. */
void macho__dash_decide(const macho__dash_site *site, const macho__dash_request *req,
                        macho__dash_decision *out);

/* Decode a percent-encoded query value (`+` is a space) into out (capacity
 * cap >= n). Returns the decoded length, or -1 for a malformed escape
 * (`%`, `%0`, `%zz`). */
long macho__dash_unescape(const char *s, size_t n, char *out, size_t cap);

/* Does a Host header value name this loopback server: a literal 127.x.y.z
 * address, "localhost" or "[::1]", with `port`? Parsed, not prefix-matched. */
bool macho__dash_host_is_loopback(const char *host, size_t n, unsigned port);

/* Constant-time comparison (time depends on the expected length only). */
bool macho__dash_token_equal(const char *given, size_t given_len, const char *want, size_t want_len);

/* "HOST:PORT" with HOST an IPv4 address, "localhost" or "[IPv6]" into a socket
 * address; *loopback says whether it is a loopback one, host (capacity
 * host_cap) receives HOST as written. MACHO_OK or MACHO_EINVAL. */
struct sockaddr_storage;
int macho__dash_parse_listen(const char *listen, struct sockaddr_storage *ss, bool *loopback, char *host,
                             size_t host_cap);

/* ---- connection slots (admit.c) ------------------------------------------------- */

typedef enum macho__conn_state {
  MACHO__CONN_FREE = 0,
  MACHO__CONN_HEADER,  /* accepted, or between requests: waiting for a full request head */
  MACHO__CONN_RESPOND, /* answered: the response is being sent */
} macho__conn_state;

typedef struct macho__conn {
  uint8_t state;     /* macho__conn_state */
  bool loopback;     /* the peer is a loopback address */
  bool evicted;      /* shut down to make room; closes on the next turn of the loop */
  uint8_t family;    /* AF_INET or AF_INET6 */
  uint8_t addr[16];  /* peer address (IPv4 in the first 4 bytes) */
  int fd;
  uint64_t since_ms; /* when it entered its state */
  uint64_t deadline_ms;
} macho__conn;

typedef struct macho__admit_limits {
  uint32_t max_connections;  /* live connections at most */
  uint32_t per_ip;           /* live connections per non-loopback address */
  uint32_t loopback_reserve; /* slots non-loopback peers can never take */
} macho__admit_limits;

/* Decide on a new peer (family/addr as in macho__conn). Returns true to
 * admit it; then *victim is the index of a connection to shut down first to
 * make room, or -1. False: refuse it. Pure: reads only its arguments. */
bool macho__dash_admit(const macho__conn *conns, size_t nslots, const macho__admit_limits *lim, int family,
                       const uint8_t addr[16], bool loopback, long *victim);

/* Is a peer address loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104)? */
bool macho__dash_addr_is_loopback(int family, const uint8_t addr[16]);

/* ---- history (history.c) -------------------------------------------------------- */

#define MACHO__HISTORY_SECONDS 900u /* 15 minutes at one sample a second */

/* One sample: what happened between two snapshots, and the gauges at the
 * second one. 168 bytes; the ring holds MACHO__HISTORY_SECONDS of them. */
typedef struct macho__sample {
  uint64_t seq;   /* 1, 2, 3 ... since the dashboard started */
  uint64_t t_ms;  /* wall-clock time of the sample (ms since the epoch) */
  uint32_t dt_ms; /* time since the previous sample */
  bool reset;     /* counters went backwards (macho_stats_reset): figures count since the reset */
  uint64_t gets, hits, misses, puts, deletes, evictions, expirations; /* during dt */
  uint64_t entries, memory_bytes, payload_bytes;                      /* at t */
  uint64_t get_count, get_sum_ns, get_p99_ns, get_max_ns;             /* timed gets during dt */
  uint64_t put_count, put_sum_ns, put_p99_ns, put_max_ns;
} macho__sample;

typedef struct macho__history {
  macho__sample *ring;
  uint32_t cap, head, count; /* head = index of the next write */
  uint64_t next_seq;
  uint32_t interval_ms;      /* sampling period (1000) */
  uint64_t missed;           /* samples not taken (a snapshot failed for memory) */
  macho_stats *prev;         /* the last snapshot, baseline of the next sample */
  uint64_t prev_ms;          /* its time on the sampling clock */
  macho__dash_alloc a;
} macho__history;

int macho__history_init(macho__history *h, macho__dash_alloc a, uint32_t cap, uint32_t interval_ms);
void macho__history_free(macho__history *h);
/* Add the snapshot `cur` (owned from now on) taken at `now_ms` (sampling
 * clock), `wall_ms` (for t_ms): the first one is the baseline, each later
 * one pushes the sample between it and the previous one. cur NULL: the
 * snapshot could not be taken (out of memory), the second counts as missed. */
void macho__history_add(macho__history *h, macho_stats *cur, uint64_t now_ms, uint64_t wall_ms);
/* The sample between two snapshots `dt_ms` apart (exposed for the tests). */
void macho__history_diff(const macho_stats *prev, const macho_stats *cur, macho__sample *out);
/* Push a sample (seq assigned here); the oldest goes when the ring is full. */
void macho__history_push(macho__history *h, const macho__sample *s);
/* /api/history: samples newer than `since` (when has_since) within the last
 * `seconds` (0 = all), oldest first. MACHO_OK or MACHO_ENOMEM. */
int macho__history_json(const macho__history *h, uint32_t seconds, bool has_since, uint64_t since,
                        macho__buf *b);

/* ---- the server's knobs (server.c): defaults in production, short in tests ------ */

typedef struct macho__dash_tuning {
  uint32_t header_ms;   /* a request head must be complete this long after accept or the last answer */
  uint32_t response_ms; /* an answer must be sent within this */
  uint32_t sample_ms;   /* history sampling period */
  macho__admit_limits limits;
  uint32_t sndbuf;      /* SO_SNDBUF of each connection, 0 = the kernel's (tests shrink it
                           so that a client that does not read really blocks an answer) */
  uint64_t (*clock_ms)(void *ctx); /* NULL = CLOCK_MONOTONIC */
  void *clock_ctx;
} macho__dash_tuning;

void macho__dash_tuning_init(macho__dash_tuning *t);
/* macho_dashboard_start with explicit knobs (tuning NULL = defaults). */
int macho__dashboard_start_tuned(macho_cache *cache, const macho_dashboard_options *opts,
                                 const macho__dash_tuning *tuning, macho_dashboard **out);
/* Wake the server's loop so that it looks at its clock again (tests with an
 * injected clock call it after moving the clock). */
void macho__dashboard_kick(macho_dashboard *d);
/* Connections the server holds now in `state` (a macho__conn_state), or in
 * any state when state < 0 (evicted ones not yet closed included). */
uint32_t macho__dashboard_connections(macho_dashboard *d, int state);

#endif /* MACHO_DASHBOARD_H */
