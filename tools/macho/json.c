/*
 * json.c -- a strict recursive-descent JSON parser (RFC 8259) into a tree.
 *
 * Recursion depth is bounded (JSON_MAX_DEPTH), so hostile nesting cannot
 * exhaust the stack; arrays and objects grow by doubling; on any error the
 * partial tree is freed. Strings are decoded (\uXXXX including surrogate
 * pairs, as UTF-8); invalid escapes, control characters, lone surrogates,
 * leading zeros and trailing garbage are errors, as in the RFC.
 */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const char *s;
  size_t n, pos;
  char *err;
  size_t errlen;
  bool failed;
} parser;

static json *fail(parser *p, const char *what) {
  if (!p->failed && p->errlen) snprintf(p->err, p->errlen, "byte %zu: %s", p->pos, what);
  p->failed = true;
  return NULL;
}

static void skip_ws(parser *p) {
  while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                           p->s[p->pos] == '\r'))
    p->pos++;
}

static json *node(parser *p, json_type t) {
  json *v = calloc(1, sizeof *v);
  if (!v) return fail(p, "out of memory");
  v->type = t;
  return v;
}

void json_free(json *v) {
  if (!v) return;
  for (size_t i = 0; i < v->len && v->items; i++) {
    json_free(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->string);
  free(v);
}

static bool literal(parser *p, const char *word) {
  size_t len = strlen(word);
  if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0) return false;
  p->pos += len;
  return true;
}

static int hex4(parser *p) {
  if (p->n - p->pos < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[p->pos + (size_t)i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  p->pos += 4;
  return v;
}

/* A string at p->pos (the opening quote). Returns a malloc'd copy and its length. */
static char *string(parser *p, size_t *out_len) {
  p->pos++; /* " */
  size_t cap = 16, len = 0;
  char *out = malloc(cap);
  if (!out) return (char *)fail(p, "out of memory");
  for (;;) {
    if (p->pos >= p->n) {
      free(out);
      return (char *)fail(p, "unterminated string");
    }
    unsigned char c = (unsigned char)p->s[p->pos++];
    char buf[4];
    size_t add = 0;
    if (c == '"') break;
    if (c < 0x20) {
      free(out);
      p->pos--;
      return (char *)fail(p, "control character in a string");
    }
    if (c != '\\') {
      buf[0] = (char)c;
      add = 1;
    } else {
      if (p->pos >= p->n) {
        free(out);
        return (char *)fail(p, "unterminated escape");
      }
      char e = p->s[p->pos++];
      const char *simple = strchr("\"\\/bfnrt", e);
      if (e && simple) {
        static const char map[] = "\"\\/\b\f\n\r\t";
        buf[0] = map[simple - "\"\\/bfnrt"];
        add = 1;
      } else if (e == 'u') {
        int u = hex4(p);
        if (u >= 0xd800 && u <= 0xdbff) { /* a surrogate pair */
          int lo = -1;
          if (p->n - p->pos >= 2 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
            p->pos += 2;
            lo = hex4(p);
          }
          u = lo >= 0xdc00 && lo <= 0xdfff ? 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00) : -1;
        } else if (u >= 0xdc00 && u <= 0xdfff) {
          u = -1;
        }
        if (u < 0) {
          free(out);
          return (char *)fail(p, "bad \\u escape");
        }
        if (u < 0x80) buf[add++] = (char)u;
        else if (u < 0x800) buf[add++] = (char)(0xc0 | u >> 6), buf[add++] = (char)(0x80 | (u & 63));
        else if (u < 0x10000)
          buf[add++] = (char)(0xe0 | u >> 12), buf[add++] = (char)(0x80 | (u >> 6 & 63)),
          buf[add++] = (char)(0x80 | (u & 63));
        else
          buf[add++] = (char)(0xf0 | u >> 18), buf[add++] = (char)(0x80 | (u >> 12 & 63)),
          buf[add++] = (char)(0x80 | (u >> 6 & 63)), buf[add++] = (char)(0x80 | (u & 63));
      } else {
        free(out);
        return (char *)fail(p, "bad escape");
      }
    }
    if (len + add + 1 > cap) {
      char *grown = realloc(out, cap *= 2);
      if (!grown) {
        free(out);
        return (char *)fail(p, "out of memory");
      }
      out = grown;
    }
    memcpy(out + len, buf, add);
    len += add;
  }
  out[len] = '\0';
  *out_len = len;
  return out;
}

static json *number(parser *p) {
  size_t start = p->pos;
  if (p->pos < p->n && p->s[p->pos] == '-') p->pos++;
  if (p->pos >= p->n) return fail(p, "bad number");
  if (p->s[p->pos] == '0') p->pos++;
  else if (p->s[p->pos] >= '1' && p->s[p->pos] <= '9')
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
  else return fail(p, "bad number");
  bool integer = true;
  if (p->pos < p->n && p->s[p->pos] == '.') {
    integer = false;
    p->pos++;
    size_t d = p->pos;
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    if (p->pos == d) return fail(p, "bad number");
  }
  if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    integer = false;
    p->pos++;
    if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
    size_t d = p->pos;
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    if (p->pos == d) return fail(p, "bad number");
  }
  size_t len = p->pos - start;
  char buf[64];
  if (len >= sizeof buf) return fail(p, "number too long");
  memcpy(buf, p->s + start, len);
  buf[len] = '\0';
  json *v = node(p, JSON_NUMBER);
  if (!v) return NULL;
  v->number = strtod(buf, NULL);
  if (integer && buf[0] != '-' && len <= 20) {
    uint64_t u = 0;
    bool ok = true;
    for (size_t i = 0; i < len && ok; i++) {
      unsigned dgt = (unsigned)(buf[i] - '0');
      if (u > (UINT64_MAX - dgt) / 10) ok = false;
      else u = u * 10 + dgt;
    }
    v->exact = ok;
    v->u64 = ok ? u : 0;
  }
  return v;
}

static json *value(parser *p, int depth);

/* Append to an array/object, growing it. */
static bool push(parser *p, json *c, json *item, char *key) {
  if (c->len == 0 || (c->len >= 4 && (c->len & (c->len - 1)) == 0)) { /* full at 0, 4, 8, 16 ... */
    size_t cap = c->len ? c->len * 2 : 4;
    json **items = realloc(c->items, cap * sizeof *items);
    if (!items) return fail(p, "out of memory"), false;
    c->items = items;
    if (c->type == JSON_OBJECT) {
      char **keys = realloc(c->keys, cap * sizeof *keys);
      if (!keys) return fail(p, "out of memory"), false;
      c->keys = keys;
    }
  }
  c->items[c->len] = item;
  if (c->type == JSON_OBJECT) c->keys[c->len] = key;
  c->len++;
  return true;
}

static json *container(parser *p, int depth, bool object) {
  if (depth >= JSON_MAX_DEPTH) return fail(p, "nested too deeply");
  p->pos++; /* [ or { */
  json *c = node(p, object ? JSON_OBJECT : JSON_ARRAY);
  if (!c) return NULL;
  char close = object ? '}' : ']';
  skip_ws(p);
  if (p->pos < p->n && p->s[p->pos] == close) {
    p->pos++;
    return c;
  }
  for (;;) {
    char *key = NULL;
    if (object) {
      skip_ws(p);
      size_t klen;
      if (p->pos >= p->n || p->s[p->pos] != '"' || !(key = string(p, &klen))) {
        json_free(c);
        return fail(p, "expected a member name");
      }
      skip_ws(p);
      if (p->pos >= p->n || p->s[p->pos] != ':') {
        free(key);
        json_free(c);
        return fail(p, "expected ':'");
      }
      p->pos++;
    }
    json *item = value(p, depth + 1);
    if (!item || !push(p, c, item, key)) {
      json_free(item);
      free(key);
      json_free(c);
      return NULL;
    }
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->n && p->s[p->pos] == close) {
      p->pos++;
      return c;
    }
    json_free(c);
    return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static json *value(parser *p, int depth) {
  skip_ws(p);
  if (p->pos >= p->n) return fail(p, "unexpected end");
  char c = p->s[p->pos];
  if (c == '{' || c == '[') return container(p, depth, c == '{');
  if (c == '"') {
    size_t len;
    char *s = string(p, &len);
    if (!s) return NULL;
    json *v = node(p, JSON_STRING);
    if (!v) {
      free(s);
      return NULL;
    }
    v->string = s;
    v->len = len;
    return v;
  }
  if (c == '-' || (c >= '0' && c <= '9')) return number(p);
  bool t = literal(p, "true");
  if (t || literal(p, "false")) {
    json *v = node(p, JSON_BOOL);
    if (v) v->boolean = t;
    return v;
  }
  if (literal(p, "null")) return node(p, JSON_NULL);
  return fail(p, "unexpected character");
}

json *json_parse(const char *s, size_t n, char *err, size_t errlen) {
  parser p = {s, n, 0, err, errlen, false};
  if (errlen) err[0] = '\0';
  json *v = value(&p, 0);
  if (!v) return NULL;
  skip_ws(&p);
  if (p.pos != n) {
    json_free(v);
    return fail(&p, "trailing characters");
  }
  return v;
}

const json *json_get(const json *v, const char *key) {
  if (!v || v->type != JSON_OBJECT) return NULL;
  for (size_t i = 0; i < v->len; i++)
    if (strcmp(v->keys[i], key) == 0) return v->items[i];
  return NULL;
}

const json *json_path(const json *v, const char *path) {
  char part[64];
  while (v && *path) {
    size_t len = strcspn(path, ".");
    if (len >= sizeof part) return NULL;
    memcpy(part, path, len);
    part[len] = '\0';
    v = json_get(v, part);
    path += len + (path[len] == '.');
  }
  return v;
}

const json *json_at(const json *v, size_t i) {
  return v && v->type == JSON_ARRAY && i < v->len ? v->items[i] : NULL;
}

double json_num(const json *v, double dflt) { return v && v->type == JSON_NUMBER ? v->number : dflt; }

uint64_t json_u64(const json *v, uint64_t dflt) {
  if (!v || v->type != JSON_NUMBER) return dflt;
  if (v->exact) return v->u64;
  return v->number >= 0 && v->number < 18446744073709551616.0 ? (uint64_t)v->number : dflt;
}

const char *json_str(const json *v, const char *dflt) { return v && v->type == JSON_STRING ? v->string : dflt; }
