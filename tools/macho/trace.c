/*
 * trace.c -- the table of trace formats and the byte layer under them.
 *
 * The byte layer streams a file through one fixed buffer (1 MiB) and, when
 * the file starts with the gzip magic (1f 8b) or the zstd magic
 * (28 b5 2f fd), inflates it on the way with zlib or libzstd; anything else
 * is read as is. Detection by content, not by name, because traces get
 * renamed and recompressed. Readers ask for "n bytes at the cursor"
 * (trace_fill) and get fewer only at the true end of the stream, so a
 * truncated record is always seen as truncated, never read past. Concatenated
 * gzip members and zstd frames are read as one stream (what gzip -d and
 * zstd -d do); a stream that stops inside a member or frame is an error.
 */
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

extern const trace_format trace_format_lirs;
extern const trace_format trace_format_txt;
extern const trace_format trace_format_csv;
extern const trace_format trace_format_oracle;
extern const trace_format trace_format_vscsi;

static const trace_format *const formats[] = {
    &trace_format_lirs, &trace_format_txt, &trace_format_csv, &trace_format_oracle,
    &trace_format_vscsi,
};
#define NFORMATS (sizeof formats / sizeof formats[0])

const trace_format *trace_format_find(const char *name) {
  for (size_t i = 0; i < NFORMATS; i++)
    if (name && strcmp(formats[i]->name, name) == 0) return formats[i];
  return NULL;
}

const char *trace_format_names(void) { return "lirs|txt|csv|oracleGeneral|vscsi"; }

/* ---- the byte layer ------------------------------------------------------- */

#define BUF_CAP (1u << 20)
#define IN_CAP (1u << 16)

enum codec { CODEC_PLAIN, CODEC_GZIP, CODEC_ZSTD };

struct trace {
  const trace_format *fmt;
  char *path;
  FILE *f;
  enum codec codec;

  unsigned char *buf; /* decompressed bytes [pos, len) not yet consumed */
  size_t pos, len;
  uint64_t buf_off;   /* stream offset of buf[0] */
  bool eof;           /* the stream has no more bytes beyond buf[len) */

  /* compressed input */
  unsigned char *in;
  z_stream z;
  bool z_live;
  ZSTD_DStream *zs;
  ZSTD_inBuffer zin;
  size_t zs_last;     /* last ZSTD_decompressStream result: 0 = at a frame boundary */
  bool in_eof;
  uint64_t raw_read;  /* compressed bytes read from the file */

  bool failed;
  char err[512];
  uint64_t nreq;
  trace_fmt_state st;
};

static int fail_raw(trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_raw(trace *t, const char *fmt, ...) {
  if (t->failed) return -1;
  t->failed = true;
  int n = snprintf(t->err, sizeof t->err, "%s: ", t->path);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof t->err) vsnprintf(t->err + n, sizeof t->err - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

int trace_fail(trace *t, uint64_t off, const char *fmt, ...) {
  if (t->failed) return -1;
  t->failed = true;
  int n = snprintf(t->err, sizeof t->err, "%s: byte %llu%s: ", t->path, (unsigned long long)off,
                   t->codec == CODEC_PLAIN ? "" : " of the decompressed stream");
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof t->err) vsnprintf(t->err + n, sizeof t->err - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* Read compressed input when the input buffer is empty. -1 on error. */
static int read_input(trace *t, size_t *avail, const unsigned char **next) {
  if (*avail || t->in_eof) return 0;
  size_t n = fread(t->in, 1, IN_CAP, t->f);
  if (n == 0) {
    if (ferror(t->f)) return fail_raw(t, "read error: %s", strerror(errno));
    t->in_eof = true;
  }
  t->raw_read += n;
  *avail = n;
  *next = t->in;
  return 0;
}

/* Append up to `room` decompressed bytes at dst. Returns the count, 0 at the
 * end of the stream, -1 on error. */
static long produce(trace *t, unsigned char *dst, size_t room) {
  if (t->codec == CODEC_PLAIN) {
    size_t n = fread(dst, 1, room, t->f);
    if (n == 0 && ferror(t->f)) return fail_raw(t, "read error: %s", strerror(errno));
    return (long)n;
  }
  if (t->codec == CODEC_GZIP) {
    z_stream *z = &t->z;
    z->next_out = dst;
    z->avail_out = (uInt)room;
    while (z->avail_out == room) {
      size_t avail = z->avail_in;
      const unsigned char *next = z->next_in;
      if (read_input(t, &avail, &next) < 0) return -1;
      z->avail_in = (uInt)avail;
      z->next_in = (unsigned char *)next;
      if (z->avail_in == 0 && t->in_eof) {
        if (t->z_live)
          return fail_raw(t, "gzip stream truncated at compressed byte %llu",
                          (unsigned long long)t->raw_read);
        return 0;
      }
      if (!t->z_live) { /* another member follows the last one */
        if (inflateReset(z) != Z_OK) return fail_raw(t, "zlib: cannot reset");
        t->z_live = true;
      }
      int rc = inflate(z, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        t->z_live = false;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return fail_raw(t, "gzip stream corrupt at compressed byte %llu: %s",
                        (unsigned long long)(t->raw_read - z->avail_in),
                        z->msg ? z->msg : "inflate failed");
      }
    }
    return (long)(room - z->avail_out);
  }
  /* zstd */
  ZSTD_outBuffer out = {dst, room, 0};
  while (out.pos == 0) {
    if (t->zin.pos == t->zin.size && !t->in_eof) {
      size_t avail = 0;
      const unsigned char *next = NULL;
      if (read_input(t, &avail, &next) < 0) return -1;
      t->zin.src = next;
      t->zin.size = avail;
      t->zin.pos = 0;
    }
    if (t->zin.pos == t->zin.size && t->in_eof) {
      if (t->zs_last != 0)
        return fail_raw(t, "zstd stream truncated at compressed byte %llu",
                        (unsigned long long)t->raw_read);
      return 0;
    }
    size_t rc = ZSTD_decompressStream(t->zs, &out, &t->zin);
    if (ZSTD_isError(rc))
      return fail_raw(t, "zstd stream corrupt at compressed byte %llu: %s",
                      (unsigned long long)(t->raw_read - (t->zin.size - t->zin.pos)),
                      ZSTD_getErrorName(rc));
    t->zs_last = rc;
  }
  return (long)out.pos;
}

long trace_fill(trace *t, size_t n) {
  if (t->failed) return -1;
  if (t->len - t->pos >= n) return (long)n;
  if (n > TRACE_MAX_RECORD) n = TRACE_MAX_RECORD;
  if (t->pos) {
    memmove(t->buf, t->buf + t->pos, t->len - t->pos);
    t->buf_off += t->pos;
    t->len -= t->pos;
    t->pos = 0;
  }
  while (t->len < n && !t->eof) {
    long got = produce(t, t->buf + t->len, BUF_CAP - t->len);
    if (got < 0) return -1;
    if (got == 0) t->eof = true;
    t->len += (size_t)got;
  }
  return (long)(t->len < n ? t->len : n);
}

const unsigned char *trace_peek(const trace *t) { return t->buf + t->pos; }

void trace_skip(trace *t, size_t n) {
  if (n > t->len - t->pos) n = t->len - t->pos;
  t->pos += n;
}

uint64_t trace_offset(const trace *t) { return t->buf_off + t->pos; }
trace_fmt_state *trace_state(trace *t) { return &t->st; }

int trace_line(trace *t, const char **line, size_t *len, uint64_t *off) {
  size_t scanned = 0; /* bytes known to hold no newline */
  for (;;) {
    size_t have = t->len - t->pos;
    const unsigned char *p = t->buf + t->pos;
    const unsigned char *nl = have > scanned ? memchr(p + scanned, '\n', have - scanned) : NULL;
    if (nl || t->eof) {
      size_t n = nl ? (size_t)(nl - p) : have;
      if (!nl && n == 0) return 0;
      *off = trace_offset(t);
      *line = (const char *)p;
      t->pos += n + (nl ? 1 : 0);
      if (n && p[n - 1] == '\r') n--;
      *len = n;
      return 1;
    }
    if (have >= TRACE_MAX_RECORD)
      return trace_fail(t, trace_offset(t), "line longer than %u bytes", TRACE_MAX_RECORD);
    scanned = have;
    long got = trace_fill(t, have + 1);
    if (got < 0) return -1;
  }
}

bool trace_parse_u64(const char *s, size_t len, uint64_t *out) {
  if (len == 0 || len > 20) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (d > 9) return false;
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

const char *trace_snippet(const char *s, size_t n, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < n && i < 40 && o + 8 < outlen; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
    else o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
  }
  if (n > 40 && o + 4 < outlen) o += (size_t)snprintf(out + o, outlen - o, "...");
  out[o] = '\0';
  return out;
}

/* ---- open / read / close -------------------------------------------------- */

int trace_open(trace **out, const char *path, const trace_format *fmt, char *err, size_t errlen) {
  *out = NULL;
  if (errlen) err[0] = '\0';
  trace *t = calloc(1, sizeof *t);
  if (!t) goto oom;
  t->fmt = fmt;
  t->path = strdup(path);
  t->buf = malloc(BUF_CAP);
  if (!t->path || !t->buf) goto oom;
  t->f = fopen(path, "rb");
  if (!t->f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    trace_close(t);
    return -1;
  }
  unsigned char magic[4] = {0};
  size_t m = fread(magic, 1, sizeof magic, t->f);
  if (ferror(t->f) || fseek(t->f, 0, SEEK_SET) != 0) {
    snprintf(err, errlen, "%s: cannot read: %s (a regular file is needed)", path, strerror(errno));
    trace_close(t);
    return -1;
  }
  if (m >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) t->codec = CODEC_GZIP;
  else if (m >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    t->codec = CODEC_ZSTD;
  /* A zstd skippable frame (magic 0x184D2A50..5F, little-endian), as pzstd
   * writes before each frame: libzstd skips it while decompressing. */
  else if (m >= 4 && (magic[0] & 0xf0) == 0x50 && magic[1] == 0x2a && magic[2] == 0x4d && magic[3] == 0x18)
    t->codec = CODEC_ZSTD;
  if (t->codec != CODEC_PLAIN) {
    t->in = malloc(IN_CAP);
    if (!t->in) goto oom;
  }
  if (t->codec == CODEC_GZIP) {
    if (inflateInit2(&t->z, 15 + 16) != Z_OK) goto oom; /* 16: gzip wrapper only */
    t->z_live = true;
  } else if (t->codec == CODEC_ZSTD) {
    t->zs = ZSTD_createDStream();
    if (!t->zs) goto oom;
    t->zs_last = 1;
  }
  if (fmt->open && fmt->open(t) < 0) {
    snprintf(err, errlen, "%s", t->err);
    trace_close(t);
    return -1;
  }
  *out = t;
  return 0;
oom:
  snprintf(err, errlen, "%s: out of memory", path);
  trace_close(t);
  return -1;
}

size_t trace_read(trace *t, trace_req *out, size_t max) {
  size_t n = 0;
  while (n < max && !t->failed) {
    out[n].next = TRACE_NEVER;
    int rc = t->fmt->next(t, &out[n]);
    if (rc <= 0) break;
    n++;
  }
  t->nreq += n;
  return n;
}

bool trace_failed(const trace *t) { return t->failed; }
const char *trace_error(const trace *t) { return t->err; }
uint64_t trace_requests(const trace *t) { return t->nreq; }

const char *trace_codec(const trace *t) {
  return t->codec == CODEC_GZIP ? "gzip" : t->codec == CODEC_ZSTD ? "zstd" : "plain";
}

void trace_close(trace *t) {
  if (!t) return;
  if (t->f) fclose(t->f);
  if (t->codec == CODEC_GZIP) inflateEnd(&t->z);
  ZSTD_freeDStream(t->zs);
  free(t->in);
  free(t->buf);
  free(t->path);
  free(t);
}

/* ---- trace_map ------------------------------------------------------------ */

/* A strong 64-bit finaliser (Stafford's mix13, as splitmix64 uses): trace
 * keys are often sequential block numbers, which identity hashing clusters. */
static inline size_t map_hash(uint64_t k, size_t mask) {
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebULL;
  k ^= k >> 31;
  return (size_t)k & mask;
}

static int map_alloc(trace_map *m, size_t cap) {
  m->keys = malloc(cap * sizeof *m->keys);
  m->vals = malloc(cap * sizeof *m->vals);
  m->used = calloc(cap, 1);
  m->cap = cap;
  m->len = 0;
  if (m->keys && m->vals && m->used) return 0;
  trace_map_free(m);
  return -1;
}

int trace_map_init(trace_map *m, size_t expect) {
  size_t cap = 16;
  while (cap < expect * 2) cap *= 2;
  return map_alloc(m, cap);
}

void trace_map_free(trace_map *m) {
  free(m->keys);
  free(m->vals);
  free(m->used);
  m->keys = NULL;
  m->vals = NULL;
  m->used = NULL;
  m->cap = m->len = 0;
}

uint32_t *trace_map_find(const trace_map *m, uint64_t key) {
  size_t mask = m->cap - 1;
  for (size_t i = map_hash(key, mask);; i = (i + 1) & mask) {
    if (!m->used[i]) return NULL;
    if (m->keys[i] == key) return &m->vals[i];
  }
}

static int map_grow(trace_map *m) {
  trace_map old = *m;
  if (map_alloc(m, old.cap * 2) < 0) {
    *m = old;
    return -1;
  }
  size_t mask = m->cap - 1;
  for (size_t j = 0; j < old.cap; j++) {
    if (!old.used[j]) continue;
    size_t i = map_hash(old.keys[j], mask);
    while (m->used[i]) i = (i + 1) & mask;
    m->used[i] = 1;
    m->keys[i] = old.keys[j];
    m->vals[i] = old.vals[j];
    m->len++;
  }
  trace_map_free(&old);
  return 0;
}

uint32_t *trace_map_upsert(trace_map *m, uint64_t key, uint32_t init, bool *added) {
  size_t mask = m->cap - 1, i;
  for (i = map_hash(key, mask); m->used[i]; i = (i + 1) & mask)
    if (m->keys[i] == key) {
      *added = false;
      return &m->vals[i];
    }
  if ((m->len + 1) * 2 > m->cap) { /* load factor 1/2: probes stay short */
    if (map_grow(m) < 0) return NULL;
    mask = m->cap - 1;
    for (i = map_hash(key, mask); m->used[i]; i = (i + 1) & mask) {
    }
  }
  m->used[i] = 1;
  m->keys[i] = key;
  m->vals[i] = init;
  m->len++;
  *added = true;
  return &m->vals[i];
}

void trace_map_delete(trace_map *m, uint64_t key) {
  size_t mask = m->cap - 1, i;
  for (i = map_hash(key, mask);; i = (i + 1) & mask) {
    if (!m->used[i]) return;
    if (m->keys[i] == key) break;
  }
  /* Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones, so
   * lookups never slow down as the cache churns. */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->used[j]) break;
    size_t home = map_hash(m->keys[j], mask);
    /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
    if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j)) continue;
    m->keys[i] = m->keys[j];
    m->vals[i] = m->vals[j];
    i = j;
  }
  m->used[i] = 0;
  m->len--;
}
