/*
 * trace_txt.c -- the `txt` format (libCacheSim's plain text traces): one
 * unsigned decimal key per line (\n or \r\n); blank lines are skipped.
 */
#include "trace.h"

static int txt_next(trace *t, trace_req *r) { return trace__text_key(t, r, false); }

const trace_format trace_format_txt = {
    .name = "txt",
    .summary = "text, one unsigned key per line (libCacheSim plain text)",
    .has_next = false,
    .open = NULL,
    .next = txt_next,
};
