/*
 * dashboard.h -- what the dashboard's files share: a growable text buffer and
 * the two writers of a cache's figures (JSON for /api/stats, Prometheus text
 * for /metrics). The writers use only the public API (macho_stats_get and
 * friends), so they see exactly what any other client of libmacho sees.
 */
#ifndef MACHO_DASHBOARD_H
#define MACHO_DASHBOARD_H

#include "../internal.h"

/* Text built with the cache's allocator. On allocation failure `oom` is set
 * and later appends are dropped: the writer finishes, the caller checks once. */
typedef struct macho__buf {
  char *p;
  size_t len, cap;
  macho__alloc *a;
  bool oom;
} macho__buf;

void macho__buf_init(macho__buf *b, macho__alloc *a);
void macho__buf_free(macho__buf *b);
void macho__buf_put(macho__buf *b, const char *s, size_t n);
void macho__buf_puts(macho__buf *b, const char *s);
void macho__buf_printf(macho__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included. */
void macho__buf_json_str(macho__buf *b, const char *s, size_t n);

/* Shards listed one by one in /api/stats (the total always covers all). */
#define MACHO__DASH_MAX_SHARDS 256u

/* /api/stats, schema docs/STATS_SCHEMA.md. MACHO_OK, or MACHO_ENOMEM. */
int macho__stats_json(macho_cache *c, macho__buf *b);
/* /metrics, Prometheus text exposition format 0.0.4. */
int macho__stats_prometheus(macho_cache *c, macho__buf *b);

/* Page assets embedded at build time (assets.c). */
typedef struct macho__asset {
  const char *path, *type;
  const char *data;
  size_t len;
} macho__asset;
bool macho__asset_find(const char *path, macho__asset *out);

#endif /* MACHO_DASHBOARD_H */
