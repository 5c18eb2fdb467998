/*
 * trace.h -- reading cache traces for `macho sim`: one reader per format
 * behind one small interface, over one decompression layer.
 *
 * A trace is a sequence of requests to 64-bit keys (with an object size when
 * the format carries one). The caller opens a trace with a format, then pulls
 * requests in batches; nothing ever holds the whole file. The byte layer
 * below the readers (trace.c) streams a file, a pipe or standard input
 * through fixed buffers and inflates gzip, zstd or xz transparently, chosen
 * by the magic bytes at the start of the stream, never by its name. Readers
 * (trace_<fmt>.c) only see decompressed bytes; each reports malformed or
 * truncated input as an error naming the file and the byte offset, and never
 * reads past what the byte layer said is there. When a reader fails before
 * its first request, the error also says what the data looks like
 * (trace_sniff), so a trace given with the wrong --format names the right one.
 *
 * Adding a format: one trace_<name>.c defining a trace_format, and one line in
 * trace.c's table.
 */
#ifndef MACHO_TRACE_H
#define MACHO_TRACE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "Never requested again" as a next-use index. */
#define TRACE_NEVER UINT64_MAX

typedef struct trace_req {
  uint64_t key;
  /* 0-based index of the next request to the same key, or TRACE_NEVER. Only
   * formats with has_next (oracleGeneral) fill it; otherwise TRACE_NEVER. */
  uint64_t next;
  /* Object size in bytes for formats with has_size (oracleGeneral, csv with a
   * size column, vscsi); 0 otherwise. */
  uint32_t size;
} trace_req;

typedef struct trace trace;

typedef struct trace_format {
  const char *name;
  const char *summary; /* one line for help texts: what the records look like */
  bool has_next;       /* records carry next-use indices (Belady needs no pre-pass) */
  bool has_size;       /* records carry object sizes (--size-unit bytes) */
  /* Check the start of the stream (header, version). 0 or -1 (trace_fail called). */
  int (*open)(trace *t);
  /* Next request: 1 = *r filled, 0 = clean end, -1 = error (trace_fail called). */
  int (*next)(trace *t, trace_req *r);
} trace_format;

/* The format called `name`, or NULL. */
const trace_format *trace_format_find(const char *name);
/* The i-th format (0-based), NULL past the last: for help texts and completion. */
const trace_format *trace_format_at(size_t i);
/* "lirs|txt|csv|oracleGeneral|vscsi|arc", for usage messages. */
const char *trace_format_names(void);

typedef struct trace_options {
  /* Raw (compressed) bytes read from the file at a time, 1..65536; 0 = 65536.
   * Tests and the fuzzer use tiny reads to cross every buffer boundary. */
  size_t chunk;
  /* Bytes of the decompressed buffer, at least 2 x TRACE_MAX_RECORD; 0 = 1 MiB.
   * The fuzzer uses the least (allocating 1 MiB per open is most of its time). */
  size_t buffer;
  /* When set, every raw byte read is also written here: `macho sim` spools a
   * pipe it must read twice. A write error fails the trace. */
  FILE *tee;
} trace_options;

/* Open `path` ("-" = standard input) for reading in format `fmt`. Returns 0
 * and *out, or -1 with a message in err (always NUL-terminated) and *out = NULL. */
int trace_open(trace **out, const char *path, const trace_format *fmt, char *err, size_t errlen);
/* The same with options (opts may be NULL). */
int trace_open_ex(trace **out, const char *path, const trace_format *fmt,
                  const trace_options *opts, char *err, size_t errlen);
/* Read from an open stream f (not closed by the trace unless `owns`); `name`
 * is what messages call it. Works on pipes: the stream is never rewound. */
int trace_open_stream(trace **out, FILE *f, bool owns, const char *name, const trace_format *fmt,
                      const trace_options *opts, char *err, size_t errlen);
/* Read up to max requests. Returns how many; fewer than max means the end or
 * an error: tell them apart with trace_failed(). */
size_t trace_read(trace *t, trace_req *out, size_t max);
bool trace_failed(const trace *t);
const char *trace_error(const trace *t); /* "" when none */
uint64_t trace_requests(const trace *t); /* requests returned so far */
const char *trace_codec(const trace *t); /* "plain", "gzip", "zstd" or "xz" */
/* Raw bytes read from the file so far, and the file's size (0 when unknown:
 * a pipe): progress and ETA. */
uint64_t trace_raw_offset(const trace *t);
uint64_t trace_raw_size(const trace *t);
void trace_close(trace *t);

/* What the first bytes of a decompressed trace look like, in words naming the
 * format ("an ARC trace (lines 'START COUNT ...'): try --format arc"), or NULL
 * when nothing is recognised. `given` is the format the caller tried; it is
 * never suggested. For error messages. */
const char *trace_sniff(const unsigned char *p, size_t n, const trace_format *given, char *out,
                        size_t outlen);

/* ---- for readers (trace_FMT.c) ------------------------------------------ */

/* Make n bytes available at trace_peek(t). Returns how many are available:
 * n, or fewer at the end of the stream; -1 on an I/O or decompression error
 * (already reported). n must be at most TRACE_MAX_RECORD. */
#define TRACE_MAX_RECORD 65536
long trace_fill(trace *t, size_t n);
const unsigned char *trace_peek(const trace *t);
void trace_skip(trace *t, size_t n);
/* Offset of trace_peek(t) in the (decompressed) stream. */
uint64_t trace_offset(const trace *t);
/* Record an error at stream offset `off`; returns -1. The message reads
 * "PATH: byte OFF[ of the decompressed stream]: MESSAGE[; this looks like ...]". */
int trace_fail(trace *t, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Per-reader state (version, record size, key column ...), zeroed at open. */
typedef struct trace_fmt_state {
  size_t record_size;
  int version;
  int column;      /* csv: key column */
  int size_column; /* csv: size column, -1 = none */
  uint64_t count;  /* records read so far (binary readers) */
  uint64_t run_key, run_left; /* arc: the rest of the current block run */
} trace_fmt_state;
trace_fmt_state *trace_state(trace *t);

/* One text line without its terminator (\n, \r\n). 1 = line and len set (valid
 * until the next call), 0 = end, -1 = error (a line longer than
 * TRACE_MAX_RECORD). *off receives the line's stream offset. */
int trace_line(trace *t, const char **line, size_t *len, uint64_t *off);
/* Parse a decimal unsigned 64-bit integer that spans exactly [s, s+len).
 * false on anything else (empty, sign, overflow, other characters). */
bool trace_parse_u64(const char *s, size_t len, uint64_t *out);
/* A printable copy of at most 40 bytes of s (others as \xHH, "..." when cut),
 * for error messages about input that may be binary. Returns out. */
const char *trace_snippet(const char *s, size_t n, char *out, size_t outlen);
/* The next key of a line-per-key text trace (lirs, txt): blanks trimmed,
 * empty lines (and `*` lines when stars) skipped. Returns as next(). */
int trace__text_key(trace *t, trace_req *r, bool stars);
/* true when the first bytes of the stream are text (printable ASCII and line
 * breaks), which no binary trace's records are: binary readers refuse it. */
bool trace__looks_like_text(trace *t, size_t want);

/* ---- a uint64 -> uint32 hash map (open addressing, backward-shift delete) --- */
/* Used for distinct-key counts, Belady's next-use pre-pass and its cache. */
typedef struct trace_map {
  uint64_t *keys;
  uint32_t *vals;
  uint8_t *used;
  size_t cap, len; /* cap is a power of two */
} trace_map;

/* 0 or -1 (out of memory). Grows by itself; expect = expected entries. */
int trace_map_init(trace_map *m, size_t expect);
void trace_map_free(trace_map *m);
/* Pointer to key's value, or NULL when absent. Valid until the next insert/delete. */
uint32_t *trace_map_find(const trace_map *m, uint64_t key);
/* Pointer to key's value, inserting it with value `init` when absent (*added
 * tells which). NULL when out of memory. */
uint32_t *trace_map_upsert(trace_map *m, uint64_t key, uint32_t init, bool *added);
void trace_map_delete(trace_map *m, uint64_t key);

#endif
