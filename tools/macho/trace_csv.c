/*
 * trace_csv.c -- the `csv` format: comma-separated records, one request per
 * line. With a header line (its first field is not a number) the key is the
 * column named lbn, obj_id, key or id and the object size the column named
 * size, obj_size, len or bytes (case-insensitive; the size is optional);
 * without one they are the fifth and fourth columns, as in the CloudPhysics
 * sample (`version,time,op,size,lbn`).
 */
#include "trace.h"

#include <string.h>
#include <strings.h>

#define COLUMN_UNSET (-1)
#define DEFAULT_COLUMN 4
#define DEFAULT_SIZE_COLUMN 3

static int csv_open(trace *t) {
  trace_state(t)->column = COLUMN_UNSET;
  trace_state(t)->size_column = COLUMN_UNSET;
  return 0;
}

/* Field `col` of the line, blanks and quotes trimmed. false when absent. */
static bool field(const char *s, size_t n, int col, const char **f, size_t *flen, size_t *at) {
  size_t start = 0;
  for (int c = 0; c < col; c++) {
    while (start < n && s[start] != ',') start++;
    if (start == n) return false;
    start++;
  }
  size_t end = start;
  while (end < n && s[end] != ',') end++;
  while (start < end && (s[start] == ' ' || s[start] == '\t' || s[start] == '"')) start++;
  while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '"')) end--;
  *f = s + start;
  *flen = end - start;
  *at = start;
  return true;
}

/* The first column named one of names[], or -1. */
static int named_column(const char *s, size_t n, const char *const *names, size_t nnames) {
  for (size_t k = 0; k < nnames; k++) {
    const char *f;
    size_t flen, at;
    for (int col = 0; field(s, n, col, &f, &flen, &at); col++)
      if (flen == strlen(names[k]) && strncasecmp(f, names[k], flen) == 0) return col;
  }
  return -1;
}

static int header_columns(trace *t, const char *s, size_t n, uint64_t off) {
  static const char *const keys[] = {"lbn", "obj_id", "key", "id"};
  static const char *const sizes[] = {"size", "obj_size", "len", "bytes"};
  trace_fmt_state *st = trace_state(t);
  st->column = named_column(s, n, keys, sizeof keys / sizeof keys[0]);
  st->size_column = named_column(s, n, sizes, sizeof sizes / sizeof sizes[0]);
  if (st->column < 0) return trace_fail(t, off, "csv header names no key column (lbn, obj_id, key or id)");
  return 0;
}

static int csv_next(trace *t, trace_req *r) {
  trace_fmt_state *st = trace_state(t);
  const char *s;
  size_t n;
  uint64_t off;
  for (;;) {
    int rc = trace_line(t, &s, &n, &off);
    if (rc <= 0) return rc;
    if (n == 0) continue;
    if (st->column == COLUMN_UNSET) {
      const char *f;
      size_t flen, at;
      uint64_t dummy;
      field(s, n, 0, &f, &flen, &at);
      if (!trace_parse_u64(f, flen, &dummy)) {
        if (header_columns(t, s, n, off) < 0) return -1;
        continue;
      }
      st->column = DEFAULT_COLUMN;
      st->size_column = DEFAULT_SIZE_COLUMN;
    }
    const char *f;
    size_t flen, at;
    if (!field(s, n, st->column, &f, &flen, &at))
      return trace_fail(t, off, "csv record has no column %d", st->column + 1);
    if (!trace_parse_u64(f, flen, &r->key)) {
      char shown[200];
      return trace_fail(t, off + at, "expected an unsigned integer key in column %d, got '%s'",
                        st->column + 1, trace_snippet(f, flen, shown, sizeof shown));
    }
    uint64_t size;
    if (st->size_column >= 0 && field(s, n, st->size_column, &f, &flen, &at)) {
      if (!trace_parse_u64(f, flen, &size) || size > UINT32_MAX) {
        char shown[200];
        return trace_fail(t, off + at, "expected an object size (0 to 2^32-1 bytes) in column %d, got '%s'",
                          st->size_column + 1, trace_snippet(f, flen, shown, sizeof shown));
      }
      r->size = (uint32_t)size;
    }
    return 1;
  }
}

const trace_format trace_format_csv = {
    .name = "csv",
    .summary = "comma-separated lines; key column lbn/obj_id/key/id (or the 5th), size column size/obj_size/len/bytes (or the 4th)",
    .has_next = false,
    .has_size = true,
    .open = csv_open,
    .next = csv_next,
};
