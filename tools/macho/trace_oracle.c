/*
 * trace_oracle.c -- the `oracleGeneral` format of libCacheSim: packed
 * little-endian 24-byte records {uint32 time; uint64 id; uint32 size;
 * int64 next_access_vtime}, where next_access_vtime is the 1-based index of
 * the next request to the same id, or -1 for none. Because each record
 * carries its next use, Belady runs on this format without a pre-pass.
 * A next_access_vtime that does not point forward is rejected: Belady would
 * silently compute a wrong bound from it; so is one beyond 2^40, and text
 * at the start (neither is ever a record: the bytes are another format).
 */
#include "trace.h"

#define RECORD 24
/* No trace has 2^40 requests (24 TiB of records): a next_access_vtime beyond
 * it means the bytes are not oracleGeneral records. */
#define MAX_VTIME ((int64_t)1 << 40)

/* Text is never a run of these records (a size or next_access_vtime always
 * holds bytes outside printable ASCII): refuse it rather than read garbage. */
static int oracle_open(trace *t) {
  if (trace__looks_like_text(t, 2 * RECORD))
    return trace_fail(t, 0, "text, not the 24-byte binary records of oracleGeneral");
  return 0;
}

static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static int oracle_next(trace *t, trace_req *r) {
  trace_fmt_state *st = trace_state(t);
  long have = trace_fill(t, RECORD);
  if (have <= 0) return (int)have;
  if (have < RECORD)
    return trace_fail(t, trace_offset(t), "truncated record: %ld of %d bytes", have, RECORD);
  const unsigned char *p = trace_peek(t);
  r->key = le(p + 4, 8);
  r->size = (uint32_t)le(p + 12, 4);
  int64_t next = (int64_t)le(p + 16, 8);
  uint64_t index = st->count; /* 0-based index of this request */
  if (next == -1) {
    r->next = TRACE_NEVER;
  } else if (next > MAX_VTIME) {
    return trace_fail(t, trace_offset(t) + 16,
                      "next_access_vtime %lld of request %llu is beyond 2^40 requests",
                      (long long)next, (unsigned long long)index + 1);
  } else if (next < 0 || (uint64_t)next < index + 2) {
    return trace_fail(t, trace_offset(t) + 16,
                      "next_access_vtime %lld of request %llu does not point forward",
                      (long long)next, (unsigned long long)index + 1);
  } else {
    r->next = (uint64_t)next - 1;
  }
  trace_skip(t, RECORD);
  st->count++;
  return 1;
}

const trace_format trace_format_oracle = {
    .name = "oracleGeneral",
    .summary = "libCacheSim binary: 24-byte records {u32 time; u64 id; u32 size; i64 next_access_vtime}",
    .has_next = true,
    .has_size = true,
    .open = oracle_open,
    .next = oracle_next,
};
