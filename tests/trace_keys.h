/*
 * trace_keys.h -- the whole of a trace's keys in memory, read through the
 * CLI's own trace readers (tools/macho/trace.h), for suites that replay a
 * trace through a real cache (test_sim_arc.c, test_sim_mrc.c).
 * Header-only (a static function).
 */
#ifndef MACHO_TEST_TRACE_KEYS_H
#define MACHO_TEST_TRACE_KEYS_H

#include "support.h"
#include "trace.h"

#include <stdlib.h>

static inline uint64_t *load_keys(const char *path, const char *fmt, size_t *n) {
  trace *t;
  char err[600];
  if (trace_open(&t, path, trace_format_find(fmt), err, sizeof err) < 0) fail_msg("%s", err);
  size_t cap = 1 << 16, len = 0;
  uint64_t *keys = malloc(cap * sizeof *keys);
  trace_req batch[4096];
  size_t got;
  while ((got = trace_read(t, batch, 4096)) > 0) {
    if (len + got > cap) keys = realloc(keys, (cap *= 2) * sizeof *keys);
    for (size_t i = 0; i < got; i++) keys[len++] = batch[i].key;
  }
  assert_false(trace_failed(t));
  trace_close(t);
  *n = len;
  return keys;
}

#endif
