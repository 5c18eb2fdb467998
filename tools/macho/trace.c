/*
 * trace.c -- the table of trace formats and the byte layer under them.
 *
 * The byte layer streams a file, a pipe or standard input through two fixed
 * buffers: raw bytes (64 KiB reads) and decompressed bytes (1 MiB). It never
 * seeks, so a pipe works like a file. The codec is chosen by the magic bytes
 * at the start of the stream, not by the name, because traces get renamed and
 * recompressed: gzip (1f 8b), zstd (28 b5 2f fd, or a skippable frame
 * 5? 2a 4d 18 as pzstd writes first), xz (fd 37 7a 58 5a 00); anything else
 * is read as is, except other archive and compression formats (bzip2, lz4,
 * zip, 7z, compress), which are named and refused rather than parsed as
 * garbage. Readers ask for "n bytes at the cursor" (trace_fill) and get fewer
 * only at the true end of the stream, so a truncated record is always seen
 * as truncated, never read past. Concatenated gzip members, zstd frames and
 * xz streams are read as one stream (what gzip -d, zstd -d and xz -d do); a
 * stream that stops inside a member or frame is an error. The first 4 KiB of
 * decompressed data are kept, so that an error before the first request can
 * say what the data looks like (trace_sniff.c).
 */
#include "trace.h"

#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

extern const trace_format trace_format_lirs;
extern const trace_format trace_format_txt;
extern const trace_format trace_format_csv;
extern const trace_format trace_format_oracle;
extern const trace_format trace_format_vscsi;
extern const trace_format trace_format_arc;

static const trace_format *const formats[] = {
    &trace_format_lirs,   &trace_format_txt,   &trace_format_csv,
    &trace_format_oracle, &trace_format_vscsi, &trace_format_arc,
};
#define NFORMATS (sizeof formats / sizeof formats[0])

const trace_format *trace_format_find(const char *name) {
  for (size_t i = 0; i < NFORMATS; i++)
    if (name && strcmp(formats[i]->name, name) == 0) return formats[i];
  return NULL;
}

const trace_format *trace_format_at(size_t i) { return i < NFORMATS ? formats[i] : NULL; }

const char *trace_format_names(void) {
  static char names[128];
  if (!names[0])
    for (size_t i = 0; i < NFORMATS; i++) {
      if (i) strcat(names, "|");
      strcat(names, formats[i]->name);
    }
  return names;
}

/* ---- the byte layer ------------------------------------------------------- */

#define BUF_CAP (1u << 20)
#define IN_CAP (1u << 16)
#define IN_SLACK 8 /* room to append a chunk after the magic bytes gathered at open */
#define HEAD_CAP 4096u
/* xz streams can ask for a dictionary of up to 1.5 GiB; refuse above this
 * (xz -9 needs 65 MiB to decompress). */
#define XZ_MEMLIMIT (256u << 20)

enum codec { CODEC_PLAIN, CODEC_GZIP, CODEC_ZSTD, CODEC_XZ };

struct trace {
  const trace_format *fmt;
  char *path;
  FILE *f;
  bool owns;
  FILE *tee;
  enum codec codec;
  size_t chunk;

  unsigned char *buf; /* decompressed bytes [pos, len) not yet consumed */
  size_t cap, pos, len;
  uint64_t buf_off;   /* stream offset of buf[0] */
  bool eof;           /* the stream has no more bytes beyond buf[len) */

  unsigned char *in;  /* raw bytes [in_pos, in_len) not yet decoded */
  size_t in_pos, in_len;
  bool in_eof;
  uint64_t raw_read, raw_size;

  z_stream z;
  bool z_init, z_live;
  ZSTD_DStream *zs;
  size_t zs_last;     /* last ZSTD_decompressStream result: 0 = at a frame boundary */
  lzma_stream xz;
  bool xz_init, xz_done;

  unsigned char head[HEAD_CAP]; /* the first decompressed bytes, for trace_sniff */
  size_t head_len;

  bool failed;
  char err[1024];
  uint64_t nreq;
  trace_fmt_state st;
};

/* Append "; this looks like ..." to an error in the first bytes of the
 * stream: there the likeliest cause is a wrong --format. */
static void add_sniff(trace *t, uint64_t off) {
  if (off >= t->head_len) return;
  char what[400];
  const char *s = trace_sniff(t->head, t->head_len, t->fmt, what, sizeof what);
  size_t n = strlen(t->err);
  if (s && n + 16 < sizeof t->err) snprintf(t->err + n, sizeof t->err - n, "; %s", s);
}

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
  add_sniff(t, off);
  return -1;
}

static inline size_t in_avail(const trace *t) { return t->in_len - t->in_pos; }

/* Read up to one chunk of raw bytes after those not yet decoded (moved to
 * the front). Sets in_eof at the end of the file. -1 on a read or tee error. */
static int read_raw(trace *t) {
  if (t->in_eof) return 0;
  if (t->in_pos) {
    memmove(t->in, t->in + t->in_pos, in_avail(t));
    t->in_len -= t->in_pos;
    t->in_pos = 0;
  }
  size_t want = IN_CAP + IN_SLACK - t->in_len;
  if (want > t->chunk) want = t->chunk;
  size_t n = fread(t->in + t->in_len, 1, want, t->f);
  if (n < want) {
    if (ferror(t->f)) return fail_raw(t, "read error: %s", strerror(errno));
    if (n == 0) t->in_eof = true;
  }
  if (n && t->tee && fwrite(t->in + t->in_len, 1, n, t->tee) != n)
    return fail_raw(t, "cannot spool the input to a temporary file: %s", strerror(errno));
  t->raw_read += n;
  t->in_len += n;
  return 0;
}

/* The raw offset of the next undecoded byte, for error messages. */
static inline unsigned long long raw_at(const trace *t) {
  return (unsigned long long)(t->raw_read - in_avail(t));
}

/* Append up to `room` decompressed bytes at dst. Returns the count, 0 at the
 * end of the stream, -1 on error. */
static long produce(trace *t, unsigned char *dst, size_t room) {
  for (;;) {
    if (!in_avail(t) && read_raw(t) < 0) return -1;
    bool drained = !in_avail(t) && t->in_eof;
    switch (t->codec) {
    case CODEC_PLAIN: {
      size_t n = in_avail(t) < room ? in_avail(t) : room;
      memcpy(dst, t->in + t->in_pos, n);
      t->in_pos += n;
      if (n || drained) return (long)n;
      break;
    }
    case CODEC_GZIP: {
      if (drained) {
        if (t->z_live)
          return fail_raw(t, "gzip stream truncated at compressed byte %llu", raw_at(t));
        return 0;
      }
      z_stream *z = &t->z;
      if (!t->z_live) { /* another member follows the last one */
        if (inflateReset(z) != Z_OK) return fail_raw(t, "zlib: cannot reset");
        t->z_live = true;
      }
      z->next_in = t->in + t->in_pos;
      z->avail_in = (uInt)in_avail(t);
      z->next_out = dst;
      z->avail_out = (uInt)room;
      int rc = inflate(z, Z_NO_FLUSH);
      t->in_pos = t->in_len - z->avail_in;
      if (rc == Z_STREAM_END) t->z_live = false;
      else if (rc != Z_OK && rc != Z_BUF_ERROR)
        return fail_raw(t, "gzip stream corrupt at compressed byte %llu: %s", raw_at(t),
                        z->msg ? z->msg : "inflate failed");
      if (room - z->avail_out) return (long)(room - z->avail_out);
      break;
    }
    case CODEC_ZSTD: {
      if (drained) {
        if (t->zs_last != 0)
          return fail_raw(t, "zstd stream truncated at compressed byte %llu", raw_at(t));
        return 0;
      }
      ZSTD_outBuffer out = {dst, room, 0};
      ZSTD_inBuffer zin = {t->in, t->in_len, t->in_pos};
      size_t rc = ZSTD_decompressStream(t->zs, &out, &zin);
      t->in_pos = zin.pos;
      if (ZSTD_isError(rc))
        return fail_raw(t, "zstd stream corrupt at compressed byte %llu: %s", raw_at(t),
                        ZSTD_getErrorName(rc));
      t->zs_last = rc;
      if (out.pos) return (long)out.pos;
      break;
    }
    case CODEC_XZ: {
      if (t->xz_done) return 0;
      lzma_stream *x = &t->xz;
      x->next_in = t->in + t->in_pos;
      x->avail_in = in_avail(t);
      x->next_out = dst;
      x->avail_out = room;
      lzma_ret rc = lzma_code(x, drained ? LZMA_FINISH : LZMA_RUN);
      t->in_pos = t->in_len - x->avail_in;
      size_t made = room - x->avail_out;
      if (rc == LZMA_STREAM_END) {
        t->xz_done = true;
        return (long)made;
      }
      if (rc == LZMA_BUF_ERROR && drained)
        return fail_raw(t, "xz stream truncated at compressed byte %llu", raw_at(t));
      if (rc == LZMA_MEMLIMIT_ERROR)
        return fail_raw(t, "xz stream needs more than %u MiB of memory to decompress", XZ_MEMLIMIT >> 20);
      if (rc != LZMA_OK && rc != LZMA_BUF_ERROR)
        return fail_raw(t, "xz stream corrupt at compressed byte %llu (liblzma error %d)", raw_at(t), (int)rc);
      if (made) return (long)made;
      break;
    }
    }
  }
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
    long got = produce(t, t->buf + t->len, t->cap - t->len);
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

bool trace__looks_like_text(trace *t, size_t want) {
  if (t->head_len < want) return false;
  for (size_t i = 0; i < t->head_len; i++) {
    unsigned char c = t->head[i];
    if (!((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t')) return false;
  }
  return true;
}

/* ---- open / read / close -------------------------------------------------- */

/* Formats that are compressed or archived in a way this layer does not
 * inflate: named, so that the user is told what to do instead of reading a
 * parse error about garbage. */
static const struct {
  const char *name, *tool;
  unsigned char magic[6];
  size_t len;
} foreign[] = {
    {"bzip2", "bzcat", {'B', 'Z', 'h'}, 3},
    {"lz4", "lz4cat", {0x04, 0x22, 0x4d, 0x18}, 4},
    {"lz4 (legacy)", "lz4cat", {0x02, 0x21, 0x4c, 0x18}, 4},
    {"zip", "unzip -p", {'P', 'K', 3, 4}, 4},
    {"7z", "7z x -so", {'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}, 6},
    {"compress (.Z)", "zcat", {0x1f, 0x9d}, 2},
};

static bool has_magic(const trace *t, const unsigned char *magic, size_t n) {
  return in_avail(t) >= n && memcmp(t->in + t->in_pos, magic, n) == 0;
}

/* Choose the codec from the first raw bytes (left in the raw buffer). */
static int detect_codec(trace *t, char *err, size_t errlen) {
  while (in_avail(t) < 6 && !t->in_eof)
    if (read_raw(t) < 0) {
      snprintf(err, errlen, "%s", t->err);
      return -1;
    }
  const unsigned char *p = t->in + t->in_pos;
  size_t n = in_avail(t);
  static const unsigned char gz[] = {0x1f, 0x8b}, zs[] = {0x28, 0xb5, 0x2f, 0xfd},
                             xz[] = {0xfd, '7', 'z', 'X', 'Z', 0};
  if (has_magic(t, gz, sizeof gz)) t->codec = CODEC_GZIP;
  else if (has_magic(t, zs, sizeof zs)) t->codec = CODEC_ZSTD;
  /* A zstd skippable frame (magic 0x184D2A50..5F, little-endian), as pzstd
   * writes before each frame: libzstd skips it while decompressing. */
  else if (n >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18)
    t->codec = CODEC_ZSTD;
  else if (has_magic(t, xz, sizeof xz)) t->codec = CODEC_XZ;
  else {
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
      /* bzip2's "BZh" is followed by the block size digit 1-9 */
      bool bz = strcmp(foreign[i].name, "bzip2") == 0;
      if (has_magic(t, foreign[i].magic, foreign[i].len) && (!bz || (n > 3 && p[3] >= '1' && p[3] <= '9'))) {
        snprintf(err, errlen,
                 "%s: %s data, which macho sim does not decompress (it reads plain, gzip, zstd and "
                 "xz traces); decompress it on the way: %s FILE | macho sim - ...",
                 t->path, foreign[i].name, foreign[i].tool);
        return -1;
      }
    }
    t->codec = CODEC_PLAIN;
  }
  return 0;
}

static int start_codec(trace *t) {
  switch (t->codec) {
  case CODEC_GZIP:
    if (inflateInit2(&t->z, 15 + 16) != Z_OK) return -1; /* 16: gzip wrapper only */
    t->z_init = t->z_live = true;
    return 0;
  case CODEC_ZSTD:
    t->zs = ZSTD_createDStream();
    if (!t->zs) return -1;
    t->zs_last = 1;
    return 0;
  case CODEC_XZ: {
    lzma_stream init = LZMA_STREAM_INIT;
    t->xz = init;
    if (lzma_stream_decoder(&t->xz, XZ_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK) return -1;
    t->xz_init = true;
    return 0;
  }
  default:
    return 0;
  }
}

int trace_open_stream(trace **out, FILE *f, bool owns, const char *name, const trace_format *fmt,
                      const trace_options *opts, char *err, size_t errlen) {
  *out = NULL;
  if (errlen) err[0] = '\0';
  trace *t = calloc(1, sizeof *t);
  if (!t) {
    if (owns) fclose(f);
    snprintf(err, errlen, "%s: out of memory", name);
    return -1;
  }
  t->f = f;
  t->owns = owns;
  t->fmt = fmt;
  t->path = strdup(name);
  t->cap = opts && opts->buffer >= 2 * TRACE_MAX_RECORD ? opts->buffer : BUF_CAP;
  t->buf = malloc(t->cap);
  t->in = malloc(IN_CAP + IN_SLACK);
  t->chunk = opts && opts->chunk && opts->chunk < IN_CAP ? opts->chunk : IN_CAP;
  t->tee = opts ? opts->tee : NULL;
  if (!t->path || !t->buf || !t->in) goto oom;
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) t->raw_size = (uint64_t)sb.st_size;
  if (detect_codec(t, err, errlen) < 0) goto fail;
  if (start_codec(t) < 0) goto oom;
  /* Keep the first bytes for trace_sniff (this also catches a stream that
   * fails to decompress at its very start). */
  long head = trace_fill(t, HEAD_CAP);
  if (head < 0) {
    snprintf(err, errlen, "%s", t->err);
    goto fail;
  }
  memcpy(t->head, trace_peek(t), (size_t)head);
  t->head_len = (size_t)head;
  if (fmt->open && fmt->open(t) < 0) {
    snprintf(err, errlen, "%s", t->err);
    goto fail;
  }
  *out = t;
  return 0;
oom:
  snprintf(err, errlen, "%s: out of memory", name);
fail:
  trace_close(t);
  return -1;
}

int trace_open_ex(trace **out, const char *path, const trace_format *fmt,
                  const trace_options *opts, char *err, size_t errlen) {
  *out = NULL;
  if (strcmp(path, "-") == 0) return trace_open_stream(out, stdin, false, "stdin", fmt, opts, err, errlen);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    snprintf(err, errlen, "%s: is a directory, not a trace", path);
    fclose(f);
    return -1;
  }
  return trace_open_stream(out, f, true, path, fmt, opts, err, errlen);
}

int trace_open(trace **out, const char *path, const trace_format *fmt, char *err, size_t errlen) {
  return trace_open_ex(out, path, fmt, NULL, err, errlen);
}

size_t trace_read(trace *t, trace_req *out, size_t max) {
  size_t n = 0;
  while (n < max && !t->failed) {
    out[n].next = TRACE_NEVER;
    out[n].size = 0;
    int rc = t->fmt->next(t, &out[n]);
    if (rc <= 0) break;
    n++;
    t->nreq++;
  }
  return n;
}

bool trace_failed(const trace *t) { return t->failed; }
const char *trace_error(const trace *t) { return t->err; }
uint64_t trace_requests(const trace *t) { return t->nreq; }
uint64_t trace_raw_offset(const trace *t) { return t->raw_read; }
uint64_t trace_raw_size(const trace *t) { return t->raw_size; }

const char *trace_codec(const trace *t) {
  static const char *const names[] = {"plain", "gzip", "zstd", "xz"};
  return names[t->codec];
}

void trace_close(trace *t) {
  if (!t) return;
  if (t->f && t->owns) fclose(t->f);
  if (t->z_init) inflateEnd(&t->z);
  if (t->xz_init) lzma_end(&t->xz);
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
