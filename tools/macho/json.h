/*
 * json.h -- a small JSON reader for the CLI's dashboard client (`macho
 * stats`): parse a document into a tree, then look values up by path.
 *
 * The input comes from a server, so it is untrusted: strict RFC 8259 syntax,
 * nesting limited to JSON_MAX_DEPTH, every length checked, and the whole tree
 * freed by one call. Numbers are kept as a double and, when they are
 * non-negative integers that fit, exactly as a uint64 (counters pass 2^53).
 */
#ifndef MACHO_CLI_JSON_H
#define MACHO_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json json;
struct json {
  json_type type;
  bool boolean;
  bool exact;     /* number: u64 holds it exactly */
  double number;
  uint64_t u64;
  char *string;   /* string (NUL-terminated; may hold \u0000 as a byte... see len) */
  size_t len;     /* string length, or array/object element count */
  char **keys;    /* object: keys[i] names items[i] */
  json **items;   /* array / object elements */
};

/* Parse n bytes. NULL on a syntax error (message in err, with the byte offset)
 * or out of memory. */
json *json_parse(const char *s, size_t n, char *err, size_t errlen);
void json_free(json *v);

/* The member `key` of an object, or NULL (also when v is not an object). */
const json *json_get(const json *v, const char *key);
/* Members by a dotted path: "total.hits", "latency_ns.get.buckets". */
const json *json_path(const json *v, const char *path);
/* Element i of an array, or NULL. */
const json *json_at(const json *v, size_t i);
/* The number, or dflt when v is absent or not a number. */
double json_num(const json *v, double dflt);
uint64_t json_u64(const json *v, uint64_t dflt);
/* The string, or dflt. */
const char *json_str(const json *v, const char *dflt);

#endif
