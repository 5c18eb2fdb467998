/*
 * json.c -- the figures as JSON for /api/stats (schema: docs/STATS_SCHEMA.md,
 * "macho.stats" version 1), and the text buffer the writers share.
 *
 * One macho_stats snapshot of the whole cache gives the distributions and the
 * window; per-shard rows come from macho_counters_get, which is cheap, so the
 * page can draw every shard without merging histograms per shard. Integers
 * are written exactly; JavaScript reads those above 2^53 approximately,
 * which no figure here reaches in practice.
 */
#include "dashboard.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

void macho__buf_init(macho__buf *b, macho__dash_alloc a) {
  memset(b, 0, sizeof *b);
  b->a = a;
}

void macho__buf_free(macho__buf *b) {
  macho__dash_free(b->a, b->p, b->cap);
  b->p = NULL;
  b->len = b->cap = 0;
}

static bool buf_reserve(macho__buf *b, size_t n) {
  if (b->oom) return false;
  if (b->len + n + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + n + 1) cap *= 2;
  char *p = b->p ? macho__dash_realloc(b->a, b->p, b->cap, cap) : macho__dash_malloc(b->a, cap);
  if (!p) {
    b->oom = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

void macho__buf_put(macho__buf *b, const char *s, size_t n) {
  if (!buf_reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void macho__buf_puts(macho__buf *b, const char *s) { macho__buf_put(b, s, strlen(s)); }

void macho__buf_printf(macho__buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    macho__buf_put(b, small, (size_t)n);
    return;
  }
  if (!buf_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void macho__buf_json_str(macho__buf *b, const char *s, size_t n) {
  macho__buf_put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      char esc[2] = {'\\', (char)ch};
      macho__buf_put(b, esc, 2);
    } else if (ch < 0x20 || ch == 0x7f) {
      macho__buf_printf(b, "\\u%04x", ch);
    } else {
      macho__buf_put(b, (const char *)&ch, 1);
    }
  }
  macho__buf_put(b, "\"", 1);
}

/* ---- /api/stats ---------------------------------------------------------------- */

#define U64(x) ((unsigned long long)(x))

/* JSON has no NaN or infinity. */
void macho__buf_json_num(macho__buf *b, double v) {
  if (!isfinite(v)) macho__buf_puts(b, "null");
  else macho__buf_printf(b, "%.17g", v);
}

#define json_num macho__buf_json_num

static void json_counters(macho__buf *b, const macho_counters *k) {
  macho__buf_printf(b,
                    "\"hits\":%llu,\"misses\":%llu,\"gets\":%llu,\"puts\":%llu,\"deletes\":%llu,"
                    "\"requests\":%llu,\"evictions\":%llu,\"expirations\":%llu,\"entries\":%llu,"
                    "\"capacity_entries\":%llu,\"capacity_bytes\":%llu,\"payload_bytes\":%llu,"
                    "\"memory_bytes\":%llu,\"filter_queries\":%llu,\"filter_negatives\":%llu,"
                    "\"filter_false_positives\":%llu,\"hit_ratio\":",
                    U64(k->hits), U64(k->misses), U64(k->gets), U64(k->puts), U64(k->deletes),
                    U64(k->requests), U64(k->evictions), U64(k->expirations), U64(k->entries),
                    U64(k->capacity_entries), U64(k->capacity_bytes), U64(k->payload_bytes),
                    U64(k->memory_bytes), U64(k->filter_queries), U64(k->filter_negatives),
                    U64(k->filter_false_positives));
  json_num(b, k->gets ? (double)k->hits / (double)k->gets : 0.0);
}

static void json_distribution(macho__buf *b, const macho_distribution *d) {
  macho__buf_printf(b, "{\"count\":%llu,\"min\":%llu,\"max\":%llu,\"sum\":%llu,\"mean\":", U64(d->count),
                    U64(d->min), U64(d->max), U64(d->sum));
  json_num(b, d->mean);
  macho__buf_printf(b, ",\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"buckets\":[", U64(d->p50),
                    U64(d->p90), U64(d->p99), U64(d->p999));
  for (uint32_t i = 0; i < d->nbuckets; i++)
    macho__buf_printf(b, "%s[%llu,%llu,%llu]", i ? "," : "", U64(d->buckets[i].lo),
                      U64(d->buckets[i].hi), U64(d->buckets[i].count));
  macho__buf_puts(b, "]}");
}

static const char *const reason_names[MACHO_REMOVED_COUNT] = {"evicted", "expired", "deleted",
                                                                "replaced", "cleared"};

int macho__stats_json(macho_cache *c, macho__buf *b) {
  macho_stats *s = NULL;
  int rc = macho_stats_get(c, -1, &s);
  if (rc != MACHO_OK) return rc;
  macho_config cfg;
  if (macho_config_get(c, &cfg) != MACHO_OK) { /* cannot fail for an open cache */
    macho_stats_free(s);
    return MACHO_EINVAL;
  }
  macho__buf_printf(b, "{\"schema\":\"macho.stats\",\"version\":%u,\"macho_version\":\"%s\",\"now_ns\":%llu,",
                    (unsigned)s->version, macho_version_string(), U64(s->now_ns));
  macho__buf_printf(b,
                    "\"config\":{\"policy\":\"%s\",\"filter\":\"%s\",\"mode\":\"%s\",\"shards\":%u,"
                    "\"capacity_entries\":%llu,\"capacity_bytes\":%llu,\"ttl_seconds\":",
                    macho_policy_name(cfg.policy), macho_filter_name(cfg.filter),
                    cfg.object_ops ? "objects" : "bytes", (unsigned)cfg.shards,
                    U64(cfg.capacity_entries), U64(cfg.capacity_bytes));
  json_num(b, isfinite(cfg.ttl_seconds) ? cfg.ttl_seconds : 0);
  macho__buf_puts(b, ",\"filter_fp_rate\":");
  json_num(b, cfg.filter_fp_rate);
  macho__buf_printf(b, ",\"metrics\":%d,\"latency_sample_every\":%u},\"total\":{", cfg.metrics,
                    (unsigned)s->latency_sample_every);
  json_counters(b, &s->counters);
  macho__buf_puts(b, "},\"shards\":[");
  uint32_t listed = s->shards < MACHO__DASH_MAX_SHARDS ? s->shards : MACHO__DASH_MAX_SHARDS;
  for (uint32_t i = 0; i < listed; i++) {
    macho_counters k;
    if (macho_counters_get(c, (int)i, &k) != MACHO_OK) memset(&k, 0, sizeof k);
    macho__buf_printf(b, "%s{\"shard\":%u,", i ? "," : "", (unsigned)i);
    json_counters(b, &k);
    macho__buf_puts(b, "}");
  }
  macho__buf_printf(b, "],\"shards_truncated\":%s,\"latency_ns\":{\"get\":",
                    listed < s->shards ? "true" : "false");
  json_distribution(b, &s->get_latency_ns);
  macho__buf_puts(b, ",\"put\":");
  json_distribution(b, &s->put_latency_ns);
  macho__buf_puts(b, "},\"lifespan_ns\":{");
  bool first = true;
  for (int r = 0; r < MACHO_REMOVED_COUNT; r++) {
    if (r == MACHO_REMOVED_REPLACED) continue;
    macho__buf_printf(b, "%s\"%s\":", first ? "" : ",", reason_names[r]);
    json_distribution(b, &s->lifespan_ns[r]);
    first = false;
  }
  macho__buf_puts(b, "},\"window\":[");
  for (uint32_t i = 0; i < s->nwindow; i++) {
    const macho_window_second *w = &s->window[i];
    macho__buf_printf(b,
                      "%s{\"second\":%llu,\"get\":{\"samples\":%llu,\"sum_ns\":%llu,\"max_ns\":%llu},"
                      "\"put\":{\"samples\":%llu,\"sum_ns\":%llu,\"max_ns\":%llu}}",
                      i ? "," : "", U64(w->second), U64(w->get_samples), U64(w->get_sum_ns),
                      U64(w->get_max_ns), U64(w->put_samples), U64(w->put_sum_ns), U64(w->put_max_ns));
  }
  macho__buf_puts(b, "]");
  /* What `auto` follows now (any other policy: itself, 0 changes), and the
   * live miss-ratio curve when config.mrc is on (null otherwise). */
  macho_policy now = cfg.policy;
  uint64_t changes = 0;
  if (macho_policy_current(c, -1, &now, &changes) != MACHO_OK) changes = 0; /* cannot fail for an open cache */
  macho__buf_printf(b, ",\"policy_current\":{\"policy\":\"%s\",\"changes\":%llu},\"mrc\":",
                    macho_policy_name(now), U64(changes));
  if (!s->has_mrc) {
    macho__buf_puts(b, "null");
  } else {
    const macho_mrc *m = &s->mrc;
    macho__buf_printf(b, "{\"gets\":%llu,\"sampled_gets\":%llu,\"sample_rate\":", U64(m->gets),
                      U64(m->sampled_gets));
    json_num(b, m->sample_rate);
    macho__buf_printf(b, ",\"memory_bytes\":%llu,\"points\":[", U64(m->memory_bytes));
    for (int i = 0; i < MACHO_MRC_POINTS; i++) {
      macho__buf_printf(b, "%s{\"multiple\":", i ? "," : "");
      json_num(b, m->multiple[i]);
      macho__buf_printf(b, ",\"entries\":%llu,\"miss_ratio\":", U64(m->entries[i]));
      if (isnan(m->miss_ratio[i])) macho__buf_puts(b, "null");
      else json_num(b, m->miss_ratio[i]);
      macho__buf_puts(b, "}");
    }
    macho__buf_puts(b, "]}");
  }
  macho__buf_puts(b, "}\n");
  macho_stats_free(s);
  return b->oom ? MACHO_ENOMEM : MACHO_OK;
}
