/*
 * test_trace.c -- the trace readers (tools/macho/trace*.c) and Belady
 * (tools/macho/belady.c), compiled into this test.
 *
 * The same 20,000 CloudPhysics requests are stored in five formats
 * (tests/data/README.md), each with a different codec: every reader must
 * return the identical sequence, with the same object sizes where formats
 * carry them. Binary formats are fed every prefix of a small file, plain,
 * gzip, zstd and xz (from memory streams): a reader must return exactly the
 * whole records in the prefix and then either end cleanly (prefix on a
 * record boundary) or fail with a message naming the file and an offset;
 * never a crash (this suite runs under ASan). Pipes read like files at every
 * raw read size from 1 byte up; other compressors are named, not parsed; a
 * trace given with the wrong format gets an error naming the likely one.
 * Belady is checked against a brute-force optimum on random traces.
 */
#include "support.h"

#include "belady.h"
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lzma.h>
#include <pthread.h>
#include <zlib.h>
#include <zstd.h>

#define CP_N 20000
#define DATA(name) MACHO_TEST_DATA "/" name

/* Read every request of a file; returns the count, *out malloc'd. Fails the test on error. */
static size_t read_all(const char *path, const char *fmt, trace_req **out) {
  trace *t;
  char err[600];
  const trace_format *f = trace_format_find(fmt);
  assert_non_null(f);
  if (trace_open(&t, path, f, err, sizeof err) < 0) fail_msg("%s", err);
  size_t cap = 1024, n = 0;
  trace_req *r = malloc(cap * sizeof *r);
  for (;;) {
    if (n == cap) r = realloc(r, (cap *= 2) * sizeof *r);
    size_t got = trace_read(t, r + n, cap - n);
    n += got;
    if (got == 0) break;
  }
  if (trace_failed(t)) fail_msg("%s", trace_error(t));
  assert_int_equal(trace_requests(t), n);
  trace_close(t);
  *out = r;
  return n;
}

static char *tmp_path(const char *suffix) {
  static int counter;
  char *p = malloc(256);
  snprintf(p, 256, "/tmp/macho_test_trace_%d_%d%s", (int)getpid(), counter++, suffix);
  return p;
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(data, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

/* ---- the same sequence in every format ------------------------------------- */

static void every_format_reads_the_same_request_sequence(void **state) {
  (void)state;
  static const struct { const char *file, *fmt; } files[] = {
      {DATA("cloudPhysicsIO_20k.txt"), "txt"},
      {DATA("cloudPhysicsIO_20k.lirs.gz"), "lirs"},
      {DATA("cloudPhysicsIO_20k.csv.zst"), "csv"},
      {DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), "oracleGeneral"},
      {DATA("cloudPhysicsIO_20k.vscsi.gz"), "vscsi"},
  };
  trace_req *base;
  size_t n = read_all(files[0].file, files[0].fmt, &base);
  assert_int_equal(n, CP_N);
  assert_int_equal(base[0].key, 42932745);
  for (size_t k = 1; k < sizeof files / sizeof files[0]; k++) {
    trace_req *r;
    size_t m = read_all(files[k].file, files[k].fmt, &r);
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++)
      if (r[i].key != base[i].key)
        fail_msg("%s: request %zu has key %llu, txt has %llu", files[k].fmt, i,
                 (unsigned long long)r[i].key, (unsigned long long)base[i].key);
    free(r);
  }
  free(base);
}

static void oracle_next_use_matches_the_request_sequence(void **state) {
  (void)state;
  trace_req *r;
  size_t n = read_all(DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), "oracleGeneral", &r);
  /* Recompute next use backwards with a map of key -> next index. */
  trace_map next;
  assert_int_equal(trace_map_init(&next, n), 0);
  for (size_t i = n; i-- > 0;) {
    uint32_t *v = trace_map_find(&next, r[i].key);
    uint64_t want = v ? *v : TRACE_NEVER;
    if (r[i].next != want)
      fail_msg("request %zu: next %llu, expected %llu", i, (unsigned long long)r[i].next,
               (unsigned long long)want);
    bool added;
    *trace_map_upsert(&next, r[i].key, 0, &added) = (uint32_t)i;
  }
  trace_map_free(&next);
  free(r);
}

/* ---- text formats ----------------------------------------------------------------- */

static void lirs_reader_skips_checkpoints_blank_lines_and_crlf(void **state) {
  (void)state;
  char *p = tmp_path(".lirs");
  const char text[] = "1\r\n*\r\n\r\n 22 \n*\n18446744073709551615\n3"; /* no final newline */
  write_file(p, text, sizeof text - 1);
  trace_req *r;
  size_t n = read_all(p, "lirs", &r);
  assert_int_equal(n, 4);
  assert_int_equal(r[0].key, 1);
  assert_int_equal(r[1].key, 22);
  assert_int_equal(r[2].key, UINT64_MAX);
  assert_int_equal(r[3].key, 3);
  assert_int_equal(r[0].next, TRACE_NEVER);
  free(r);
  unlink(p);
  free(p);
}

/* Open and read to the end, expecting an error that contains `needle`. */
static void expect_error(const char *path, const char *fmt, const char *needle) {
  trace *t;
  char err[600];
  if (trace_open(&t, path, trace_format_find(fmt), err, sizeof err) == 0) {
    trace_req r[64];
    while (trace_read(t, r, 64) == 64) {
    }
    assert_true(trace_failed(t));
    snprintf(err, sizeof err, "%s", trace_error(t));
    trace_close(t);
  }
  if (!strstr(err, needle) || !strstr(err, path)) fail_msg("error '%s' lacks '%s' or the path", err, needle);
}

static void malformed_text_names_the_file_and_byte_offset(void **state) {
  (void)state;
  char *p = tmp_path(".txt");
  write_file(p, "12\n7x\n", 6);
  expect_error(p, "txt", "byte 3: expected an unsigned integer key, got '7x'");
  write_file(p, "1\n99999999999999999999\n", 23); /* overflows uint64 */
  expect_error(p, "txt", "byte 2:");
  write_file(p, "1\n*\n", 4); /* `*` is a lirs marker only */
  expect_error(p, "txt", "byte 2:");
  write_file(p, "1\n-5\n", 5);
  expect_error(p, "lirs", "byte 2:");
  unlink(p);
  free(p);
}

static void csv_header_chooses_the_key_column(void **state) {
  (void)state;
  char *p = tmp_path(".csv");
  const char with_header[] = "time,obj_id,size\n1,100,5\n2, 200 ,5\n";
  write_file(p, with_header, sizeof with_header - 1);
  trace_req *r;
  assert_int_equal(read_all(p, "csv", &r), 2);
  assert_int_equal(r[0].key, 100);
  assert_int_equal(r[1].key, 200);
  free(r);
  const char no_header[] = "1,2,2a,512,77\n1,2,2a,512,78\n";
  write_file(p, no_header, sizeof no_header - 1);
  assert_int_equal(read_all(p, "csv", &r), 2);
  assert_int_equal(r[1].key, 78);
  free(r);
  write_file(p, "a,b,c\n1,2,3\n", 12);
  expect_error(p, "csv", "byte 0: csv header names no key column");
  write_file(p, "1,2,3,4,5\n1,2,3\n", 16);
  expect_error(p, "csv", "byte 10: csv record has no column 5");
  unlink(p);
  free(p);
}

/* ---- compression ---------------------------------------------------------------------- */

static size_t gzip_bytes(const void *src, size_t n, unsigned char **out) {
  z_stream z = {0};
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  size_t cap = deflateBound(&z, n);
  *out = malloc(cap);
  z.next_in = (unsigned char *)src;
  z.avail_in = (uInt)n;
  z.next_out = *out;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  size_t len = cap - z.avail_out;
  deflateEnd(&z);
  return len;
}

static size_t zstd_bytes(const void *src, size_t n, unsigned char **out) {
  size_t cap = ZSTD_compressBound(n);
  *out = malloc(cap);
  size_t len = ZSTD_compress(*out, cap, src, n, 3);
  assert_false(ZSTD_isError(len));
  return len;
}

/* xz with a 64 KiB dictionary: the decoder allocates the dictionary at
 * open, and the prefix tests open thousands of these. */
static size_t xz_bytes(const void *src, size_t n, unsigned char **out) {
  size_t cap = lzma_stream_buffer_bound(n), len = 0;
  *out = malloc(cap);
  lzma_options_lzma opt;
  assert_false(lzma_lzma_preset(&opt, 6));
  opt.dict_size = 1 << 16;
  lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
  assert_int_equal(lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC64, NULL, src, n, *out, &len, cap), LZMA_OK);
  return len;
}

/* data compressed with codec 0 gzip, 1 zstd, 2 xz */
static size_t compress_with(int codec, const void *src, size_t n, unsigned char **out) {
  return codec == 0 ? gzip_bytes(src, n, out) : codec == 1 ? zstd_bytes(src, n, out) : xz_bytes(src, n, out);
}

static void compression_is_detected_by_content_not_by_name(void **state) {
  (void)state;
  const char text[] = "5\n6\n7\n";
  unsigned char *gz, *zs;
  size_t ngz = gzip_bytes(text, 6, &gz), nzs = zstd_bytes(text, 6, &zs);
  char *p = tmp_path(".txt"); /* a plain name on compressed content */
  trace_req *r;
  write_file(p, gz, ngz);
  assert_int_equal(read_all(p, "txt", &r), 3);
  assert_int_equal(r[2].key, 7);
  free(r);
  write_file(p, zs, nzs);
  assert_int_equal(read_all(p, "txt", &r), 3);
  assert_int_equal(r[0].key, 5);
  free(r);
  /* Two concatenated gzip members read as one stream, as gzip -d does. */
  unsigned char *two = malloc(2 * ngz);
  memcpy(two, gz, ngz);
  memcpy(two + ngz, gz, ngz);
  write_file(p, two, 2 * ngz);
  assert_int_equal(read_all(p, "txt", &r), 6);
  free(r);
  /* A corrupted deflate stream is an error, not garbage keys. */
  memset(two + 12, 0xff, ngz - 20);
  write_file(p, two, ngz);
  expect_error(p, "txt", "gzip stream");
  free(two);
  /* xz, and two concatenated xz streams as xz -d reads them */
  unsigned char *xz;
  size_t nxz = xz_bytes(text, 6, &xz);
  write_file(p, xz, nxz);
  assert_int_equal(read_all(p, "txt", &r), 3);
  assert_int_equal(r[1].key, 6);
  free(r);
  two = malloc(2 * nxz);
  memcpy(two, xz, nxz);
  memcpy(two + nxz, xz, nxz);
  write_file(p, two, 2 * nxz);
  assert_int_equal(read_all(p, "txt", &r), 6);
  free(r);
  write_file(p, xz, nxz - 3);
  expect_error(p, "txt", "xz stream truncated");
  memset(two + 20, 0x5a, nxz - 30);
  write_file(p, two, nxz);
  expect_error(p, "txt", "xz stream corrupt");
  free(two);
  free(xz);
  free(gz);
  free(zs);
  unlink(p);
  free(p);
}

/* Issue 10 defect 9: pzstd writes a skippable frame (magic 0x184D2A50) before
 * each zstd frame; such a file was taken for plain text and rejected. */
static void zstd_starting_with_a_skippable_frame_is_read_as_zstd(void **state) {
  (void)state;
  const char text[] = "5\n6\n7\n";
  unsigned char *zs;
  size_t nzs = zstd_bytes(text, 6, &zs);
  unsigned char *file = malloc(12 + nzs);
  const unsigned char skippable[12] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 0x13, 0, 0, 0};
  memcpy(file, skippable, 12);
  memcpy(file + 12, zs, nzs);
  char *p = tmp_path(".txt.zst");
  write_file(p, file, 12 + nzs);
  trace_req *r;
  assert_int_equal(read_all(p, "txt", &r), 3);
  assert_int_equal(r[0].key, 5);
  assert_int_equal(r[2].key, 7);
  free(r);
  /* The last skippable magic (0x184D2A5F) too, and one between two frames. */
  file[0] = 0x5f;
  unsigned char *two = malloc(2 * (12 + nzs));
  memcpy(two, file, 12 + nzs);
  memcpy(two + 12 + nzs, file, 12 + nzs);
  write_file(p, two, 2 * (12 + nzs));
  assert_int_equal(read_all(p, "txt", &r), 6);
  free(r);
  free(two);
  free(file);
  free(zs);
  /* And what pzstd itself writes, when it is installed. */
  if (system("command -v pzstd >/dev/null 2>&1") == 0) {
    char *src = tmp_path(".txt"), cmd[600];
    write_file(src, "11\n12\n", 6);
    snprintf(cmd, sizeof cmd, "pzstd -q -f '%s' -o '%s'", src, p);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(p, "rb");
    unsigned char magic[4] = {0};
    assert_int_equal(fread(magic, 1, 4, f), 4);
    fclose(f);
    assert_int_equal(magic[0], 0x50); /* pzstd's output does start with a skippable frame */
    assert_int_equal(read_all(p, "txt", &r), 2);
    assert_int_equal(r[1].key, 12);
    free(r);
    unlink(src);
    free(src);
  } else {
    printf("pzstd absent: checked hand-made skippable frames only\n");
  }
  unlink(p);
  free(p);
}

/* ---- every prefix of binary traces ----------------------------------------------------- */

/* The first `bytes` of a compressed data file, decompressed. */
static unsigned char *load_head(const char *path, size_t bytes) {
  unsigned char *buf = malloc(bytes);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  unsigned char magic[4];
  assert_int_equal(fread(magic, 1, 4, f), 4);
  fclose(f);
  if (magic[0] == 0x1f) {
    gzFile g = gzopen(path, "rb");
    assert_int_equal(gzread(g, buf, (unsigned)bytes), (int)bytes);
    gzclose(g);
  } else {
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *in = malloc((size_t)n);
    assert_int_equal(fread(in, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer zin = {in, (size_t)n, 0};
    ZSTD_outBuffer zout = {buf, bytes, 0};
    while (zout.pos < bytes) assert_false(ZSTD_isError(ZSTD_decompressStream(d, &zout, &zin)));
    ZSTD_freeDCtx(d);
    free(in);
  }
  return buf;
}

/* Open len bytes of memory as a trace named "prefix" (no disk: the prefix
 * tests open thousands). */
static int open_mem(const void *data, size_t len, const char *fmt, trace **t, char *err, size_t errlen) {
  FILE *f = len ? fmemopen((void *)data, len, "rb") : fopen("/dev/null", "rb");
  assert_non_null(f);
  return trace_open_stream(t, f, true, "prefix", trace_format_find(fmt), NULL, err, errlen);
}

/* Read `data` cut to `len` bytes; check what comes out. */
static void check_prefix(const unsigned char *data, size_t len, const char *fmt, const trace_req *want,
                         size_t want_n, bool whole) {
  const char *path = "prefix";
  trace *t;
  char err[600];
  unsigned char *copy = malloc(len + 1); /* exactly len bytes for ASan to guard */
  memcpy(copy, data, len);
  int rc = open_mem(copy, len, fmt, &t, err, sizeof err);
  if (rc < 0) {
    free(copy);
    /* Rejected at open (too short to tell the version): only with no whole record. */
    if (whole && want_n > 0) fail_msg("open failed on a whole-record prefix: %s", err);
    assert_non_null(strstr(err, path));
    return;
  }
  trace_req r[16];
  size_t n = 0;
  for (;;) {
    size_t got = trace_read(t, r, 16);
    for (size_t i = 0; i < got; i++, n++) {
      assert_true(n < want_n);
      assert_int_equal(r[i].key, want[n].key);
    }
    if (got < 16) break;
  }
  if (whole) {
    if (trace_failed(t)) fail_msg("%s", trace_error(t));
    assert_int_equal(n, want_n);
  } else {
    assert_true(trace_failed(t));
    assert_int_equal(n, want_n);
    assert_non_null(strstr(trace_error(t), path));
  }
  trace_close(t);
  free(copy);
}

/* Feed every prefix of `data` (records of `rec` bytes), plain, gzip and zstd. */
static void every_prefix(const char *fmt, const unsigned char *data, size_t records, size_t rec) {
  size_t total = records * rec;
  trace_req *want;
  char *full = tmp_path(".bin");
  write_file(full, data, total);
  assert_int_equal(read_all(full, fmt, &want), records);
  unlink(full);
  free(full);
  for (size_t len = 0; len <= total; len++) check_prefix(data, len, fmt, want, len / rec, len % rec == 0);
  /* Compressed: every prefix of the compressed file decodes a prefix of the
   * records, and only the complete file ends cleanly. */
  for (int codec = 0; codec < 3; codec++) {
    unsigned char *z;
    size_t nz = compress_with(codec, data, total, &z);
    for (size_t len = 0; len <= nz; len++) {
      trace *t;
      char err[600];
      if (open_mem(z, len, fmt, &t, err, sizeof err) < 0) {
        assert_true(len < nz);
        continue;
      }
      trace_req r[16];
      size_t n = 0, got;
      while ((got = trace_read(t, r, 16)) > 0) {
        for (size_t i = 0; i < got; i++, n++) {
          assert_true(n < records);
          assert_int_equal(r[i].key, want[n].key);
        }
        if (got < 16) break;
      }
      if (len == nz || len == 0) assert_false(trace_failed(t));
      else assert_true(trace_failed(t));
      if (len == nz) assert_int_equal(n, records);
      trace_close(t);
    }
    free(z);
  }
  free(want);
}

static void every_prefix_of_an_oracle_trace_reads_whole_records_or_fails(void **state) {
  (void)state;
  unsigned char *d = load_head(DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), 60 * 24);
  /* Cut at 60 records: next uses beyond the cut become "never". */
  for (size_t i = 0; i < 60; i++) {
    int64_t nx;
    memcpy(&nx, d + i * 24 + 16, 8);
    if (nx > 60) {
      nx = -1;
      memcpy(d + i * 24 + 16, &nx, 8);
    }
  }
  every_prefix("oracleGeneral", d, 60, 24);
  free(d);
}

static void every_prefix_of_a_vscsi_trace_reads_whole_records_or_fails(void **state) {
  (void)state;
  unsigned char *d = load_head(DATA("cloudPhysicsIO_20k.vscsi.gz"), 50 * 32);
  every_prefix("vscsi", d, 50, 32);
  free(d);
}

static void oracle_rejects_next_use_that_does_not_point_forward(void **state) {
  (void)state;
  unsigned char rec[48] = {0};
  int64_t self = 1; /* request 1 claiming itself as its next use */
  rec[4] = 9;
  memcpy(rec + 16, &self, 8);
  char *p = tmp_path(".bin");
  write_file(p, rec, 24);
  expect_error(p, "oracleGeneral", "byte 16: next_access_vtime 1 of request 1 does not point forward");
  unlink(p);
  free(p);
}

static void vscsi_rejects_a_file_without_version_bytes(void **state) {
  (void)state;
  unsigned char junk[64];
  memset(junk, 0x55, sizeof junk);
  char *p = tmp_path(".vscsi");
  write_file(p, junk, sizeof junk);
  expect_error(p, "vscsi", "byte 0: not a vSCSI trace");
  unlink(p);
  free(p);
}

/* ---- streams, chunks, sizes ------------------------------------------------------------- */

/* Read every request of an open stream. */
static size_t read_stream(trace *t, trace_req **out) {
  size_t cap = 1024, n = 0;
  trace_req *r = malloc(cap * sizeof *r);
  for (;;) {
    if (n == cap) r = realloc(r, (cap *= 2) * sizeof *r);
    size_t got = trace_read(t, r + n, cap - n);
    n += got;
    if (got == 0) break;
  }
  if (trace_failed(t)) fail_msg("%s", trace_error(t));
  *out = r;
  return n;
}

typedef struct feeder {
  int fd;
  const unsigned char *data;
  size_t len;
} feeder;

static void *feed(void *arg) { /* writes in small pieces, as a slow producer would */
  feeder *f = arg;
  for (size_t off = 0; off < f->len;) {
    size_t n = f->len - off < 1000 ? f->len - off : 1000;
    ssize_t w = write(f->fd, f->data + off, n);
    if (w <= 0) break;
    off += (size_t)w;
  }
  close(f->fd);
  return NULL;
}

static unsigned char *slurp_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  unsigned char *d = malloc((size_t)n + 1);
  assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return d;
}

static void a_pipe_reads_like_the_file_in_every_codec_and_at_every_chunk_size(void **state) {
  (void)state;
  static const struct { const char *file, *fmt; } files[] = {
      {DATA("cloudPhysicsIO_20k.lirs.gz"), "lirs"},
      {DATA("cloudPhysicsIO_20k.csv.zst"), "csv"},
      {DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), "oracleGeneral"},
      {DATA("cloudPhysicsIO_20k.vscsi.gz"), "vscsi"},
  };
  for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
    trace_req *want, *got;
    size_t n = read_all(files[k].file, files[k].fmt, &want), len;
    unsigned char *raw = slurp_file(files[k].file, &len);
    static const size_t chunks[] = {0, 1, 7, 4093};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
      int fds[2];
      assert_int_equal(pipe(fds), 0);
      feeder fd = {fds[1], raw, len};
      pthread_t th;
      pthread_create(&th, NULL, feed, &fd);
      FILE *in = fdopen(fds[0], "rb");
      trace *t;
      char err[600];
      trace_options o = {.chunk = chunks[c]};
      if (trace_open_stream(&t, in, true, "pipe", trace_format_find(files[k].fmt), &o, err, sizeof err) < 0)
        fail_msg("%s", err);
      assert_int_equal(trace_raw_size(t), 0); /* a pipe has no size: no ETA */
      size_t m = read_stream(t, &got);
      assert_int_equal(trace_raw_offset(t), len);
      trace_close(t);
      pthread_join(th, NULL);
      assert_int_equal(m, n);
      for (size_t i = 0; i < n; i++)
        if (got[i].key != want[i].key || got[i].next != want[i].next || got[i].size != want[i].size)
          fail_msg("%s chunk %zu: request %zu differs", files[k].fmt, chunks[c], i);
      free(got);
    }
    free(raw);
    free(want);
  }
}

static void tee_copies_every_raw_byte(void **state) {
  (void)state;
  FILE *spool = tmpfile();
  assert_non_null(spool);
  trace *t;
  char err[600];
  trace_options o = {.chunk = 333, .tee = spool};
  if (trace_open_ex(&t, DATA("lirs_cpp.trace.gz"), trace_format_find("lirs"), &o, err, sizeof err) < 0)
    fail_msg("%s", err);
  trace_req *r;
  size_t n = read_stream(t, &r);
  assert_int_equal(n, 9047);
  trace_close(t);
  free(r);
  size_t len;
  unsigned char *raw = slurp_file(DATA("lirs_cpp.trace.gz"), &len);
  assert_int_equal(ftell(spool), (long)len);
  rewind(spool);
  unsigned char *copy = malloc(len);
  assert_int_equal(fread(copy, 1, len, spool), len);
  assert_memory_equal(copy, raw, len);
  fclose(spool);
  free(copy);
  free(raw);
}

static void sizes_come_from_oracle_vscsi_and_csv_records(void **state) {
  (void)state;
  trace_req *csv, *vscsi, *oracle;
  size_t n = read_all(DATA("cloudPhysicsIO_20k.csv.zst"), "csv", &csv);
  assert_int_equal(read_all(DATA("cloudPhysicsIO_20k.vscsi.gz"), "vscsi", &vscsi), n);
  assert_int_equal(read_all(DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), "oracleGeneral", &oracle), n);
  assert_int_equal(csv[0].size, 512); /* 1,5633898,2a,512,42932745 */
  assert_int_equal(oracle[0].size, 512);
  uint64_t nonzero = 0;
  for (size_t i = 0; i < n; i++) {
    if (vscsi[i].size != csv[i].size) fail_msg("request %zu: vscsi len %u, csv size %u", i, vscsi[i].size, csv[i].size);
    nonzero += oracle[i].size > 0;
  }
  assert_int_equal(nonzero, n);
  free(csv), free(vscsi), free(oracle);
  trace_req *txt;
  read_all(DATA("cloudPhysicsIO_20k.txt"), "txt", &txt);
  assert_int_equal(txt[0].size, 0); /* a format without sizes */
  free(txt);
  char *p = tmp_path(".csv");
  write_str(p, "time,obj_id,SIZE\n1,100,5\n2,200,4294967295\n");
  trace_req *r;
  assert_int_equal(read_all(p, "csv", &r), 2);
  assert_int_equal(r[0].size, 5);
  assert_int_equal(r[1].size, UINT32_MAX);
  free(r);
  write_str(p, "obj_id,size\n1,4294967296\n");
  expect_error(p, "csv", "expected an object size (0 to 2^32-1 bytes) in column 2, got '4294967296'");
  write_str(p, "obj_id\n7\n"); /* no size column: size 0 */
  assert_int_equal(read_all(p, "csv", &r), 1);
  assert_int_equal(r[0].size, 0);
  free(r);
  unlink(p);
  free(p);
}

static void arc_runs_expand_into_consecutive_blocks(void **state) {
  (void)state;
  char *p = tmp_path(".lis");
  const char text[] = "1 3 0 1\n\n  10\t2 0 2\r\n18446744073709551615 1 0 3\n";
  write_file(p, text, sizeof text - 1);
  trace_req *r;
  assert_int_equal(read_all(p, "arc", &r), 6);
  const uint64_t want[] = {1, 2, 3, 10, 11, UINT64_MAX};
  for (int i = 0; i < 6; i++) assert_int_equal(r[i].key, want[i]);
  free(r);
  write_str(p, "5 0 0 1\n");
  expect_error(p, "arc", "byte 0: expected 'START COUNT ...' with COUNT from 1 to 1048576");
  write_str(p, "5 1048577 0 1\n");
  expect_error(p, "arc", "COUNT from 1 to 1048576");
  write_str(p, "1 1 0 1\n18446744073709551615 2 0 1\n");
  expect_error(p, "arc", "byte 8: the run of 2 blocks from 18446744073709551615 passes 2^64");
  write_str(p, "1 1\nx 1\n");
  expect_error(p, "arc", "byte 4: expected a start block, got 'x'");
  unlink(p);
  free(p);
}

static void other_compressors_are_named_not_parsed(void **state) {
  (void)state;
  static const struct { const char *bytes; size_t n; const char *name; } cases[] = {
      {"BZh91AY&SY", 10, "bzip2 data"},
      {"\x04\x22\x4d\x18\x64\x40", 6, "lz4 data"},
      {"PK\x03\x04\x14\x00", 6, "zip data"},
      {"7z\xbc\xaf\x27\x1c\x00", 7, "7z data"},
      {"\x1f\x9d\x90\x31", 4, "compress (.Z) data"},
  };
  char *p = tmp_path(".bin");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_file(p, cases[i].bytes, cases[i].n);
    expect_error(p, "txt", cases[i].name);
    expect_error(p, "txt", "decompress it on the way");
  }
  write_str(p, "BZh\n"); /* not bzip2: no block-size digit */
  expect_error(p, "txt", "expected an unsigned integer key");
  unlink(p);
  free(p);
}

/* A trace read with the wrong --format: the error names the right one. */
static void a_wrong_format_gets_an_error_naming_the_likely_one(void **state) {
  (void)state;
  char *p = tmp_path(".trace");
  write_str(p, "1 8 0 1\n20 4 0 2\n");
  expect_error(p, "lirs", "this looks like an ARC trace (lines 'START COUNT IGNORE REQNUM'): try --format arc");
  write_str(p, "1\n2\n*\n3\n1\n2\n*\n3\n1\n2\n*\n3\n1\n2\n*\n3\n1\n2\n*\n3\n1\n2\n*\n3\n1\n2\n*\n3\n");
  expect_error(p, "oracleGeneral", "text, not the 24-byte binary records of oracleGeneral; this looks like a lirs trace");
  write_str(p, "time,obj_id\n1,2\n");
  expect_error(p, "txt", "this looks like a csv trace (2 columns, header 'time,obj_id'): try --format csv");
  write_str(p, "1 5 100\n2 6 200\n");
  expect_error(p, "txt", "this looks like lines of 3 blank-separated numbers");
  write_str(p, "l 0x7fff0010 4\ns 0x7fff0014 4\n");
  expect_error(p, "arc", "this looks like a memory address trace");
  write_str(p, "{\"a\": 1}\n");
  expect_error(p, "txt", "this looks like JSON, not a trace");
  /* binary formats given as text or as each other */
  unsigned char *oracle = load_head(DATA("cloudPhysicsIO_20k.oracleGeneral.bin.zst"), 24 * 100);
  write_file(p, oracle, 24 * 100);
  expect_error(p, "txt", "this looks like an oracleGeneral trace (24-byte binary records): try --format oracleGeneral");
  expect_error(p, "vscsi", "try --format oracleGeneral");
  unsigned char *vscsi = load_head(DATA("cloudPhysicsIO_20k.vscsi.gz"), 32 * 100);
  write_file(p, vscsi, 32 * 100);
  expect_error(p, "oracleGeneral", "this looks like a vSCSI v1 trace (32-byte records): try --format vscsi");
  expect_error(p, "csv", "try --format vscsi");
  free(oracle);
  free(vscsi);
  /* A bad line in a trace of the right shape is reported without guesses. */
  write_str(p, "12\n7x\n");
  trace *t;
  char err[600];
  assert_int_equal(trace_open(&t, p, trace_format_find("txt"), err, sizeof err), 0);
  trace_req r[4];
  assert_int_equal(trace_read(t, r, 4), 1);
  assert_null(strstr(trace_error(t), "looks like"));
  trace_close(t);
  unlink(p);
  free(p);
}

static void sniffing_names_each_shape_and_never_the_format_given(void **state) {
  (void)state;
  char out[400];
  const trace_format *lirs = trace_format_find("lirs"), *txt = trace_format_find("txt");
  const unsigned char ints[] = "1\n2\n3\n";
  assert_non_null(strstr(trace_sniff(ints, 6, NULL, out, sizeof out), "--format txt"));
  assert_null(trace_sniff(ints, 6, txt, out, sizeof out));
  assert_null(trace_sniff(ints, 6, lirs, out, sizeof out)); /* lirs reads these too */
  const unsigned char stars[] = "1\n*\n3\n";
  assert_non_null(strstr(trace_sniff(stars, 6, txt, out, sizeof out), "--format lirs"));
  assert_null(trace_sniff(stars, 6, lirs, out, sizeof out));
  const unsigned char html[] = "  <html><body>";
  assert_non_null(strstr(trace_sniff(html, 14, NULL, out, sizeof out), "HTML"));
  unsigned char zeros[512] = {0};
  assert_non_null(strstr(trace_sniff(zeros, sizeof zeros, NULL, out, sizeof out), "binary data in none"));
  assert_null(trace_sniff(zeros, 0, NULL, out, sizeof out));
  unsigned char tar[600];
  memset(tar, 'a', sizeof tar);
  memcpy(tar + 257, "ustar", 5);
  assert_non_null(strstr(trace_sniff(tar, sizeof tar, NULL, out, sizeof out), "tar archive"));
}

/* ---- the map and Belady ---------------------------------------------------------------- */

static void trace_map_agrees_with_a_plain_array_under_random_churn(void **state) {
  (void)state;
  uint64_t seed = test_seed();
  enum { KEYS = 512 };
  int64_t model[KEYS];
  for (int i = 0; i < KEYS; i++) model[i] = -1;
  trace_map m;
  assert_int_equal(trace_map_init(&m, 4), 0);
  size_t live = 0;
  for (int step = 0; step < 200000; step++) {
    uint64_t k = test_rand(&seed) % KEYS;
    uint64_t key = k * 0x10000 + 7; /* clustered keys */
    if (test_rand(&seed) % 3 == 0) {
      trace_map_delete(&m, key);
      if (model[k] >= 0) live--;
      model[k] = -1;
    } else {
      bool added;
      uint32_t *v = trace_map_upsert(&m, key, (uint32_t)step, &added);
      assert_non_null(v);
      assert_int_equal(added, model[k] < 0);
      if (added) live++;
      else *v = (uint32_t)step;
      model[k] = step;
    }
    assert_int_equal(m.len, live);
    uint64_t probe = test_rand(&seed) % KEYS;
    uint32_t *f = trace_map_find(&m, probe * 0x10000 + 7);
    if (model[probe] < 0) assert_null(f);
    else {
      assert_non_null(f);
      assert_int_equal(*f, model[probe]);
    }
  }
  trace_map_free(&m);
}

/* Brute-force MIN: scan the cache for the farthest next use. O(n * capacity). */
static uint64_t brute_min_misses(const uint64_t *keys, size_t n, size_t cap) {
  uint64_t cached[64];
  size_t len = 0, misses = 0;
  for (size_t i = 0; i < n; i++) {
    size_t j;
    for (j = 0; j < len && cached[j] != keys[i]; j++) {
    }
    if (j < len) continue;
    misses++;
    if (len < cap) {
      cached[len++] = keys[i];
      continue;
    }
    size_t worst = 0, far = 0;
    for (j = 0; j < len; j++) {
      size_t t = i + 1;
      while (t < n && keys[t] != cached[j]) t++;
      if (t >= far) {
        far = t;
        worst = j;
      }
    }
    cached[worst] = keys[i];
  }
  return misses;
}

static void belady_misses_as_often_as_a_brute_force_optimum(void **state) {
  (void)state;
  uint64_t seed = test_seed();
  for (int round = 0; round < 200; round++) {
    size_t n = 50 + test_rand(&seed) % 400, cap = 1 + test_rand(&seed) % 20;
    uint64_t universe = 2 + test_rand(&seed) % 60;
    uint64_t keys[450];
    for (size_t i = 0; i < n; i++) keys[i] = test_rand(&seed) % universe;
    belady *b;
    assert_int_equal(belady_open(&b, cap), 0);
    uint64_t misses = 0;
    for (size_t i = 0; i < n; i++) {
      size_t t = i + 1;
      while (t < n && keys[t] != keys[i]) t++;
      misses += !belady_access(b, keys[i], t < n ? t : TRACE_NEVER);
    }
    belady_close(b);
    uint64_t want = brute_min_misses(keys, n, cap);
    if (misses != want)
      fail_msg("round %d (n=%zu cap=%zu): belady %llu misses, brute force %llu", round, n, cap,
               (unsigned long long)misses, (unsigned long long)want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_format_reads_the_same_request_sequence),
      cmocka_unit_test(oracle_next_use_matches_the_request_sequence),
      cmocka_unit_test(lirs_reader_skips_checkpoints_blank_lines_and_crlf),
      cmocka_unit_test(malformed_text_names_the_file_and_byte_offset),
      cmocka_unit_test(csv_header_chooses_the_key_column),
      cmocka_unit_test(compression_is_detected_by_content_not_by_name),
      cmocka_unit_test(zstd_starting_with_a_skippable_frame_is_read_as_zstd),
      cmocka_unit_test(every_prefix_of_an_oracle_trace_reads_whole_records_or_fails),
      cmocka_unit_test(every_prefix_of_a_vscsi_trace_reads_whole_records_or_fails),
      cmocka_unit_test(oracle_rejects_next_use_that_does_not_point_forward),
      cmocka_unit_test(vscsi_rejects_a_file_without_version_bytes),
      cmocka_unit_test(a_pipe_reads_like_the_file_in_every_codec_and_at_every_chunk_size),
      cmocka_unit_test(tee_copies_every_raw_byte),
      cmocka_unit_test(sizes_come_from_oracle_vscsi_and_csv_records),
      cmocka_unit_test(arc_runs_expand_into_consecutive_blocks),
      cmocka_unit_test(other_compressors_are_named_not_parsed),
      cmocka_unit_test(a_wrong_format_gets_an_error_naming_the_likely_one),
      cmocka_unit_test(sniffing_names_each_shape_and_never_the_format_given),
      cmocka_unit_test(trace_map_agrees_with_a_plain_array_under_random_churn),
      cmocka_unit_test(belady_misses_as_often_as_a_brute_force_optimum),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
