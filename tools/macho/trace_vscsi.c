/*
 * trace_vscsi.c -- VMware vSCSI block traces (the CloudPhysics format, as
 * libCacheSim reads them). Two record layouts, both little-endian:
 *   v1, 32 bytes: {u32 sn, len, nSG; u16 cmd, ver; u64 lbn, ts}
 *   v2, 40 bytes: {u16 cmd, ver; u32 sn, len, nSG; u64 lbn, ts, rt}
 * There is no file header: the version is `ver >> 8` of the first records,
 * tried as v2 first and then as v1 (libCacheSim's order). The key is lbn,
 * the object size len.
 */
#include "trace.h"

#define V1_SIZE 32
#define V2_SIZE 40
#define TESTED 2 /* records whose version byte must agree */

static unsigned ver_at(const unsigned char *p, size_t off) { return p[off + 1]; /* u16 >> 8 */ }

static bool looks_like(const unsigned char *p, long have, size_t size, size_t ver_off, unsigned ver) {
  long n = have / (long)size;
  if (n > TESTED) n = TESTED;
  if (n == 0) return false;
  for (long i = 0; i < n; i++)
    if (ver_at(p + i * size, ver_off) != ver) return false;
  return true;
}

static int vscsi_open(trace *t) {
  trace_fmt_state *st = trace_state(t);
  long have = trace_fill(t, TESTED * V2_SIZE);
  if (have < 0) return -1;
  st->version = 1;
  st->record_size = V1_SIZE;
  if (have == 0) return 0; /* an empty trace */
  const unsigned char *p = trace_peek(t);
  if (looks_like(p, have, V2_SIZE, 2, 2)) {
    st->version = 2;
    st->record_size = V2_SIZE;
  } else if (!looks_like(p, have, V1_SIZE, 14, 1)) {
    if (have < V1_SIZE) return trace_fail(t, 0, "truncated record: %ld of %d bytes", have, V1_SIZE);
    return trace_fail(t, 0, "not a vSCSI trace: no v1 or v2 version byte in the first records");
  }
  return 0;
}

static int vscsi_next(trace *t, trace_req *r) {
  trace_fmt_state *st = trace_state(t);
  size_t size = st->record_size;
  long have = trace_fill(t, size);
  if (have <= 0) return (int)have;
  if ((size_t)have < size)
    return trace_fail(t, trace_offset(t), "truncated v%d record: %ld of %zu bytes", st->version,
                      have, size);
  const unsigned char *p = trace_peek(t);
  uint64_t lbn = 0;
  for (int i = 7; i >= 0; i--) lbn = lbn << 8 | p[16 + i]; /* lbn is at offset 16 in both */
  r->key = lbn;
  /* len, the request's size in bytes: offset 4 in v1, 8 in v2 */
  const unsigned char *len = p + (st->version == 2 ? 8 : 4);
  r->size = (uint32_t)len[0] | (uint32_t)len[1] << 8 | (uint32_t)len[2] << 16 | (uint32_t)len[3] << 24;
  trace_skip(t, size);
  st->count++;
  return 1;
}

const trace_format trace_format_vscsi = {
    .name = "vscsi",
    .summary = "VMware vSCSI binary records (CloudPhysics), v1 32 bytes or v2 40 bytes; key lbn, size len",
    .has_next = false,
    .has_size = true,
    .open = vscsi_open,
    .next = vscsi_next,
};
