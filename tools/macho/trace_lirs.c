/*
 * trace_lirs.c -- the `lirs` format: the LIRS paper's traces (Jiang & Zhang,
 * SIGMETRICS 2002) as Caffeine's simulator ships them. Text, one unsigned
 * decimal key per line (\n or \r\n); a line holding only `*` marks a
 * checkpoint and is not a request; blank lines are skipped.
 */
#include "trace.h"

#include <string.h>

/* Shared by the line-per-key formats: trim blanks, skip empty lines and (for
 * lirs) `*` markers, parse the key. */
int trace__text_key(trace *t, trace_req *r, bool stars) {
  const char *s;
  size_t n;
  uint64_t off;
  for (;;) {
    int rc = trace_line(t, &s, &n, &off);
    if (rc <= 0) return rc;
    while (n && (*s == ' ' || *s == '\t')) s++, n--, off++;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n == 0 || (stars && n == 1 && *s == '*')) continue;
    if (!trace_parse_u64(s, n, &r->key)) {
      char shown[200];
      return trace_fail(t, off, "expected an unsigned integer key, got '%s'",
                        trace_snippet(s, n, shown, sizeof shown));
    }
    return 1;
  }
}

static int lirs_next(trace *t, trace_req *r) { return trace__text_key(t, r, true); }

const trace_format trace_format_lirs = {
    .name = "lirs",
    .summary = "text, one unsigned key per line; '*' lines are checkpoints (LIRS paper traces)",
    .has_next = false,
    .open = NULL,
    .next = lirs_next,
};
