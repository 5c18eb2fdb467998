/*
 * trace_csv.c -- the `csv` format: comma-separated records, one request per
 * line. With a header line (its first field is not a number) the key is the
 * column named lbn, obj_id, key or id (case-insensitive); without one it is the
 * fifth column, as in the CloudPhysics sample (`version,time,op,size,lbn`).
 */
#include "trace.h"

#include <string.h>
#include <strings.h>

#define COLUMN_UNSET (-1)
#define DEFAULT_COLUMN 4

static int csv_open(trace *t) {
  trace_state(t)->column = COLUMN_UNSET;
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

static int header_column(trace *t, const char *s, size_t n, uint64_t off) {
  static const char *const names[] = {"lbn", "obj_id", "key", "id"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    const char *f;
    size_t flen, at;
    for (int col = 0; field(s, n, col, &f, &flen, &at); col++)
      if (flen == strlen(names[k]) && strncasecmp(f, names[k], flen) == 0) return col;
  }
  return trace_fail(t, off, "csv header names no key column (lbn, obj_id, key or id)");
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
        st->column = header_column(t, s, n, off);
        if (st->column < 0) return -1;
        continue;
      }
      st->column = DEFAULT_COLUMN;
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
    return 1;
  }
}

const trace_format trace_format_csv = {
    .name = "csv",
    .has_next = false,
    .open = csv_open,
    .next = csv_next,
};
