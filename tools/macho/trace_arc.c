/*
 * trace_arc.c -- the `arc` format: the ARC paper's block traces (Megiddo &
 * Modha, FAST 2003; P1.lis ... as Caffeine's simulator reads them). Text, one
 * run of blocks per line, "START COUNT IGNORE REQNUM" separated by blanks:
 * the line stands for COUNT requests to blocks START, START+1, ...,
 * START+COUNT-1. Only the first two fields are read. A run longer than 2^20
 * blocks is refused: real traces hold runs of a few hundred, and a hostile
 * line must not turn into 2^64 requests.
 */
#include "trace.h"

#define MAX_RUN (1u << 20)

/* The next blank-separated field of [*s, end), or false. */
static bool next_field(const char **s, const char *end, const char **f, size_t *len) {
  const char *p = *s;
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  if (p == end) return false;
  *f = p;
  while (p < end && *p != ' ' && *p != '\t') p++;
  *len = (size_t)(p - *f);
  *s = p;
  return true;
}

static int arc_next(trace *t, trace_req *r) {
  trace_fmt_state *st = trace_state(t);
  while (!st->run_left) {
    const char *s, *f;
    size_t n, flen;
    uint64_t off, start, count;
    int rc = trace_line(t, &s, &n, &off);
    if (rc <= 0) return rc;
    const char *p = s, *end = s + n;
    if (!next_field(&p, end, &f, &flen)) continue; /* blank line */
    char shown[200];
    if (!trace_parse_u64(f, flen, &start))
      return trace_fail(t, off + (uint64_t)(f - s), "expected a start block, got '%s'",
                        trace_snippet(f, flen, shown, sizeof shown));
    if (!next_field(&p, end, &f, &flen) || !trace_parse_u64(f, flen, &count) || count == 0 ||
        count > MAX_RUN)
      return trace_fail(t, off, "expected 'START COUNT ...' with COUNT from 1 to %u, got '%s'", MAX_RUN,
                        trace_snippet(s, n, shown, sizeof shown));
    if (start > UINT64_MAX - (count - 1))
      return trace_fail(t, off, "the run of %llu blocks from %llu passes 2^64", (unsigned long long)count,
                        (unsigned long long)start);
    st->run_key = start;
    st->run_left = count;
  }
  r->key = st->run_key++;
  st->run_left--;
  return 1;
}

const trace_format trace_format_arc = {
    .name = "arc",
    .summary = "text, 'START COUNT IGNORE REQNUM' per line = COUNT blocks from START (ARC paper .lis traces)",
    .has_next = false,
    .open = NULL,
    .next = arc_next,
};
