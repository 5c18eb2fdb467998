/*
 * fuzz_trace.c -- every trace reader of `macho sim` (tools/macho/trace*.c),
 * raw and compressed, against itself.
 *
 * Input: byte 0 picks the format (low 3 bits, mod the number of formats) and
 * how the rest reaches the reader (bits 3-5): as is (the byte layer detects
 * gzip/zstd/xz/skippable frames/other compressors by magic, so corpus files
 * that are compressed exercise the decoders on mutated streams), or first
 * compressed here with gzip, zstd, zstd behind a pzstd-style skippable frame,
 * xz, or as two gzip members -- so the readers also meet arbitrary content
 * through every decoder. Byte 1 picks the raw read size (1 byte to 64 KiB),
 * so that records and lines straddle every buffer boundary.
 *
 * What must hold, beyond "no crash, leak or sanitizer report":
 *  - the same input read with 1-byte raw reads gives the same requests, the
 *    same end (clean or failed) and the same error message;
 *  - a compressed payload gives exactly the requests of the plain payload
 *    (decompression is transparent), and fails exactly when it fails;
 *  - an error names the file and says "byte N" or the codec; requests read
 *    are counted by trace_requests; the sniffer never crashes on any prefix.
 * Reading stops after 2^16 requests: an arc line expands into up to 2^20,
 * and a slow target finds nothing (the cap is an input class, not a limit of
 * the readers).
 */
#include "trace.h"

#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "FUZZ FAILURE (%s:%d): %s\n", __FILE__, __LINE__, #cond);               \
      abort();                                                                                 \
    }                                                                                          \
  } while (0)

#define MAX_REQUESTS (1u << 16)
#define MAX_PAYLOAD (1u << 16)

typedef struct outcome {
  trace_req *r;
  size_t n;
  int open_failed, failed;
  char err[1200];
} outcome;

static size_t nformats(void) {
  size_t n = 0;
  while (trace_format_at(n)) n++;
  return n;
}

/* Read data[0..len) as format fmt with raw reads of `chunk` bytes. */
static void read_all(const unsigned char *data, size_t len, const trace_format *fmt, size_t chunk, outcome *o) {
  memset(o, 0, sizeof *o);
  FILE *f = len ? fmemopen((void *)data, len, "rb") : fopen("/dev/null", "rb");
  CHECK(f);
  trace_options opts = {.chunk = chunk, .buffer = 2 * TRACE_MAX_RECORD};
  trace *t;
  if (trace_open_stream(&t, f, true, "fuzz-input", fmt, &opts, o->err, sizeof o->err) < 0) {
    o->open_failed = 1;
    CHECK(strstr(o->err, "fuzz-input"));
    return;
  }
  size_t cap = 256;
  o->r = malloc(cap * sizeof *o->r);
  CHECK(o->r);
  for (;;) {
    if (o->n == cap) {
      cap *= 2;
      o->r = realloc(o->r, cap * sizeof *o->r);
      CHECK(o->r);
    }
    size_t want = cap - o->n, got = trace_read(t, o->r + o->n, want);
    o->n += got;
    if (got < want || o->n >= MAX_REQUESTS) break;
  }
  o->failed = trace_failed(t);
  CHECK(trace_requests(t) == o->n);
  if (o->failed) {
    snprintf(o->err, sizeof o->err, "%s", trace_error(t));
    CHECK(strstr(o->err, "fuzz-input"));
  } else {
    CHECK(trace_error(t)[0] == '\0');
  }
  for (size_t i = 0; i < o->n; i++) {
    if (!fmt->has_next) CHECK(o->r[i].next == TRACE_NEVER);
    else CHECK(o->r[i].next == TRACE_NEVER || o->r[i].next > i); /* next use points forward */
    if (!fmt->has_size) CHECK(o->r[i].size == 0);
  }
  trace_close(t);
}

static int same_requests(const outcome *a, const outcome *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->r[i].key != b->r[i].key || a->r[i].next != b->r[i].next || a->r[i].size != b->r[i].size) return 0;
  return 1;
}

/* ---- compressors ---------------------------------------------------------------------- */

static size_t gzip(const unsigned char *src, size_t n, unsigned char *out, size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  z.next_in = (unsigned char *)src;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = deflate(&z, Z_FINISH);
  size_t len = cap - z.avail_out;
  deflateEnd(&z);
  return rc == Z_STREAM_END ? len : 0;
}

static size_t xz(const unsigned char *src, size_t n, unsigned char *out, size_t cap) {
  lzma_options_lzma opt;
  if (lzma_lzma_preset(&opt, 0)) return 0;
  opt.dict_size = 1 << 16; /* the decoder allocates the dictionary: keep runs fast */
  lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
  size_t len = 0;
  return lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, src, n, out, &len, cap) == LZMA_OK ? len : 0;
}

/* Compress payload with mode 1-5 into out; returns the length (0 = failed). */
static size_t compress_mode(int mode, const unsigned char *p, size_t n, unsigned char *out, size_t cap) {
  switch (mode) {
  case 1: return gzip(p, n, out, cap);
  case 2: {
    size_t len = ZSTD_compress(out, cap, p, n, 1);
    return ZSTD_isError(len) ? 0 : len;
  }
  case 3: { /* a skippable frame first, as pzstd writes */
    static const unsigned char skip[12] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 0, 0, 0, 0};
    memcpy(out, skip, sizeof skip);
    size_t len = ZSTD_compress(out + 12, cap - 12, p, n, 1);
    return ZSTD_isError(len) ? 0 : len + 12;
  }
  case 4: return xz(p, n, out, cap);
  case 5: { /* two gzip members */
    size_t half = n / 2, a = gzip(p, half, out, cap);
    if (!a) return 0;
    size_t b = gzip(p + half, n - half, out + a, cap - a);
    return b ? a + b : 0;
  }
  }
  return 0;
}

/* Data whose first bytes a codec would claim: compressing it and reading it
 * back gives its bytes, but reading it plain would decompress it. */
static int starts_with_magic(const unsigned char *p, size_t n) {
  if (n < 2) return 0;
  return p[0] == 0x1f || p[0] == 0x28 || p[0] == 0xfd || (p[0] & 0xf0) == 0x50 || p[0] == 'B' ||
         p[0] == 'P' || p[0] == '7' || p[0] == 0x04 || p[0] == 0x02;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > MAX_PAYLOAD) return 0;
  const trace_format *fmt = trace_format_at((data[0] & 7) % nformats());
  int mode = (data[0] >> 3) % 6;
  static const size_t chunks[] = {65536, 1, 2, 3, 7, 24, 64, 4093};
  size_t chunk = chunks[data[1] % 8];
  const unsigned char *p = data + 2;
  size_t n = size - 2;

  /* the sniffer on every prefix length class */
  char what[400];
  for (size_t k = 0; k <= n; k += n / 7 + 1) (void)trace_sniff(p, k, fmt, what, sizeof what);

  outcome plain, tiny;
  read_all(p, n, fmt, chunk, &plain);
  read_all(p, n, fmt, 1, &tiny);
  if (plain.open_failed != tiny.open_failed) {
    /* A corrupt compressed stream shows at open when the reader decodes a whole
     * first chunk, or at the first read when it is fed a byte at a time:
     * either way an error naming the input, before any request. */
    const outcome *opened = plain.open_failed ? &tiny : &plain;
    CHECK(opened->failed && opened->n == 0);
  }
  if (!plain.open_failed && !tiny.open_failed && plain.n < MAX_REQUESTS && tiny.n < MAX_REQUESTS) {
    CHECK(plain.failed == tiny.failed);
    CHECK(same_requests(&plain, &tiny));
    CHECK(strcmp(plain.err, tiny.err) == 0);
  }
  if (mode) {
    size_t cap = n + n / 2 + 1024;
    unsigned char *z = malloc(cap);
    CHECK(z);
    size_t zn = compress_mode(mode, p, n, z, cap);
    if (zn) {
      outcome packed;
      read_all(z, zn, fmt, chunk, &packed);
      if (!starts_with_magic(p, n)) {
        CHECK(packed.open_failed == plain.open_failed);
        if (!plain.open_failed && plain.n < MAX_REQUESTS && packed.n < MAX_REQUESTS) {
          CHECK(packed.failed == plain.failed);
          CHECK(same_requests(&plain, &packed));
        }
      }
      free(packed.r);
    }
    free(z);
  }
  free(plain.r);
  free(tiny.r);
  return 0;
}
