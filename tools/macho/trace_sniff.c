/*
 * trace_sniff.c -- say what the first bytes of a trace look like, so that a
 * trace given with the wrong --format (an ARC .lis file as lirs, a binary
 * oracleGeneral file as txt, a csv as vscsi) gets an error that names the
 * format it probably is, and what to type instead.
 *
 * The guess is made from at most the first 4 KiB of decompressed data, by
 * evidence that is hard to fake by accident: binary records whose version
 * bytes (vSCSI) or next-access indices (oracleGeneral) are consistent over
 * every record seen; text whose lines all have one shape (one integer, '*'
 * markers, N comma fields, N blank-separated integers, "OP 0xADDR"). It only
 * ever adds to an error message; it never chooses a reader by itself.
 */
#include "trace.h"

#include <stdio.h>
#include <string.h>

#define MAX_LINES 64

static bool is_text(const unsigned char *p, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    if (c == 0) return false;
    if (!((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t')) bad++;
  }
  return bad * 50 <= n; /* a little UTF-8 in a header is still text */
}

static bool all_digits(const char *s, size_t n) {
  if (!n) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/* Blank-separated fields of a line: how many, and whether all are integers. */
static int blank_fields(const char *s, size_t n, bool *all_int, bool *addr) {
  int k = 0;
  *all_int = true;
  *addr = false;
  size_t i = 0;
  while (i < n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i == n) break;
    size_t start = i;
    while (i < n && s[i] != ' ' && s[i] != '\t') i++;
    if (!all_digits(s + start, i - start)) *all_int = false;
    if (k == 1 && i - start > 2 && s[start] == '0' && (s[start + 1] == 'x' || s[start + 1] == 'X'))
      *addr = true;
    k++;
  }
  return k;
}

enum shape { S_NONE, S_INT, S_STAR, S_CSV, S_BLANK_INTS, S_ADDR, S_OTHER };

static enum shape line_shape(const char *s, size_t n, int *fields, bool *numeric_first) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
  *fields = 0;
  *numeric_first = false;
  if (!n) return S_NONE;
  if (n == 1 && *s == '*') return S_STAR;
  if (all_digits(s, n)) return S_INT;
  if (memchr(s, ',', n)) {
    int k = 1;
    for (size_t i = 0; i < n; i++) k += s[i] == ',';
    *fields = k;
    size_t first = strcspn(s, ",");
    while (first && (s[first - 1] == ' ' || s[first - 1] == '"')) first--;
    size_t lead = 0;
    while (lead < first && (s[lead] == ' ' || s[lead] == '"')) lead++;
    *numeric_first = all_digits(s + lead, first - lead);
    return S_CSV;
  }
  bool all_int, addr;
  int k = blank_fields(s, n, &all_int, &addr);
  *fields = k;
  if (k >= 2 && all_int) return S_BLANK_INTS;
  if (k >= 2 && addr) return S_ADDR;
  return S_OTHER;
}

static const char *say(char *out, size_t outlen, const trace_format *given, const char *fmt_name,
                       const char *what) {
  if (fmt_name && given && strcmp(given->name, fmt_name) == 0) return NULL;
  if (fmt_name) snprintf(out, outlen, "this looks like %s: try --format %s", what, fmt_name);
  else snprintf(out, outlen, "this looks like %s", what);
  return out;
}

static const char *sniff_text(const unsigned char *p, size_t n, bool cut, const trace_format *given,
                              char *out, size_t outlen) {
  int counts[S_OTHER + 1] = {0}, lines = 0, csv_fields = -1, blank_n = -1;
  bool csv_same = true, blank_same = true, header = false;
  char first_line[64] = "";
  size_t pos = 0;
  while (pos < n && lines < MAX_LINES) {
    const unsigned char *nl = memchr(p + pos, '\n', n - pos);
    if (!nl && cut) break; /* a partial last line proves nothing */
    size_t len = nl ? (size_t)(nl - (p + pos)) : n - pos;
    int fields;
    bool numeric_first;
    enum shape s = line_shape((const char *)p + pos, len, &fields, &numeric_first);
    if (s != S_NONE) {
      if (!lines) snprintf(first_line, sizeof first_line, "%.*s", (int)(len < 40 ? len : 40), p + pos);
      if (s == S_CSV) {
        if (!lines && !numeric_first) header = true;
        if (csv_fields < 0) csv_fields = fields;
        else csv_same &= csv_fields == fields;
      }
      if (s == S_BLANK_INTS) {
        if (blank_n < 0) blank_n = fields;
        else blank_same &= blank_n == fields;
      }
      counts[s]++;
      lines++;
    }
    pos += len + 1;
  }
  if (!lines) return NULL;
  /* Mostly the shape the given reader expects: a bad line, not a wrong format. */
  const char *g = given ? given->name : "";
  if ((!strcmp(g, "lirs") && counts[S_INT] * 2 >= lines) ||
      (!strcmp(g, "txt") && counts[S_INT] * 2 >= lines && !counts[S_STAR]) ||
      (!strcmp(g, "csv") && counts[S_CSV] * 2 >= lines) || (!strcmp(g, "arc") && counts[S_BLANK_INTS] * 2 >= lines))
    return NULL;
  char what[300];
  if (counts[S_INT] + counts[S_STAR] == lines) {
    if (counts[S_STAR]) return say(out, outlen, given, "lirs", "a lirs trace (one key per line, '*' checkpoints)");
    if (given && strcmp(given->name, "lirs") == 0) return NULL; /* lirs reads these too */
    return say(out, outlen, given, "txt", "a text trace with one key per line");
  }
  if (counts[S_CSV] == lines && csv_same && csv_fields > 1) {
    first_line[strcspn(first_line, "\r")] = '\0';
    if (header) snprintf(what, sizeof what, "a csv trace (%d columns, header '%s')", csv_fields, first_line);
    else snprintf(what, sizeof what, "a csv trace (%d columns)", csv_fields);
    return say(out, outlen, given, "csv", what);
  }
  if (counts[S_BLANK_INTS] == lines && blank_same) {
    if (blank_n == 4)
      return say(out, outlen, given, "arc", "an ARC trace (lines 'START COUNT IGNORE REQNUM')");
    snprintf(what, sizeof what,
             "lines of %d blank-separated numbers (such as 'TIME ID SIZE'), which macho sim does not "
             "read: keep the key column, e.g. awk '{print $2}' FILE | macho sim - --format txt", blank_n);
    return say(out, outlen, given, NULL, what);
  }
  if (counts[S_ADDR] == lines)
    return say(out, outlen, given, NULL,
               "a memory address trace (lines 'OP 0xADDR ...'), which macho sim does not read: "
               "write one decimal key per line and use --format txt");
  snprintf(what, sizeof what, "text in none of the formats macho sim reads (%s)", trace_format_names());
  return say(out, outlen, given, NULL, what);
}

static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Every one of the first records has the version byte: vSCSI v1 (32-byte
 * records, ver >> 8 == 1 at offset 14) or v2 (40 bytes, == 2 at offset 2). */
static int vscsi_version(const unsigned char *p, size_t n) {
  for (int v = 2; v >= 1; v--) {
    size_t size = v == 2 ? 40 : 32, at = v == 2 ? 3 : 15, k = n / size;
    if (k < 2) continue;
    if (k > 16) k = 16;
    bool ok = true;
    for (size_t i = 0; i < k && ok; i++) ok = p[i * size + at] == v;
    if (ok) return v;
  }
  return 0;
}

/* oracleGeneral: every next_access_vtime seen is -1 or points forward. */
static bool oracle_like(const unsigned char *p, size_t n) {
  size_t k = n / 24;
  if (k < 2) return false;
  if (k > 128) k = 128;
  for (size_t i = 0; i < k; i++) {
    int64_t next = (int64_t)le(p + i * 24 + 16, 8);
    if (next != -1 && (next < (int64_t)i + 2 || next > ((int64_t)1 << 40))) return false;
  }
  return true;
}

const char *trace_sniff(const unsigned char *p, size_t n, const trace_format *given, char *out,
                        size_t outlen) {
  if (!n || !outlen) return NULL;
  if (n > 262 && memcmp(p + 257, "ustar", 5) == 0)
    return say(out, outlen, given, NULL, "a tar archive: extract the trace from it first");
  if (is_text(p, n)) {
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')) i++;
    if (i < n && (p[i] == '{' || p[i] == '['))
      return say(out, outlen, given, NULL, "JSON, not a trace");
    if (i < n && p[i] == '<') return say(out, outlen, given, NULL, "HTML or XML, not a trace");
    return sniff_text(p, n, n >= 4096, given, out, outlen);
  }
  int v = vscsi_version(p, n);
  if (v) return say(out, outlen, given, "vscsi", v == 2 ? "a vSCSI v2 trace (40-byte records)"
                                                       : "a vSCSI v1 trace (32-byte records)");
  if (oracle_like(p, n))
    return say(out, outlen, given, "oracleGeneral", "an oracleGeneral trace (24-byte binary records)");
  char what[200];
  snprintf(what, sizeof what, "binary data in none of the formats macho sim reads (%s)", trace_format_names());
  return say(out, outlen, given, NULL, what);
}
