/*
 * prometheus.c -- the figures in the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/) for /metrics.
 *
 * Counters and gauges carry a shard="N" label, one series per shard, so that
 * sum() over shards gives the cache. Latencies and lifespans are histograms
 * in seconds (Prometheus' base unit) with fixed `le` bounds: each of our
 * log-linear buckets is counted under the first bound at or above its
 * midpoint, which places it within 1% of where the exact value would go.
 * Latency histograms count timed samples (1 in latency_sample_every calls).
 *
 * Only counters, gauges and histograms: no derived ratios. A hit ratio is
 * rate(macho_hits_total) / rate(macho_gets_total) over whatever window the
 * reader wants (docs/grafana/macho.json does so); a ratio gauge since start
 * could not be aggregated across shards or instances, nor windowed.
 */
#include "dashboard.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#define U64(x) ((unsigned long long)(x))

typedef struct counter_def {
  const char *name, *type, *help;
  size_t offset;
} counter_def;

#define C(field, type, help) {"macho_" #field, type, help, offsetof(macho_counters, field)}
static const counter_def counters[] = {
    {"macho_hits_total", "counter", "Gets that found a live entry.", offsetof(macho_counters, hits)},
    {"macho_misses_total", "counter", "Gets that found no live entry.", offsetof(macho_counters, misses)},
    {"macho_gets_total", "counter", "Get calls.", offsetof(macho_counters, gets)},
    {"macho_puts_total", "counter", "Put calls that succeeded.", offsetof(macho_counters, puts)},
    {"macho_deletes_total", "counter", "Deletes that removed an entry.", offsetof(macho_counters, deletes)},
    {"macho_requests_total", "counter", "Gets plus puts.", offsetof(macho_counters, requests)},
    {"macho_evictions_total", "counter", "Entries evicted by the policy.", offsetof(macho_counters, evictions)},
    {"macho_expirations_total", "counter", "Entries reclaimed after their TTL.",
     offsetof(macho_counters, expirations)},
    {"macho_filter_queries_total", "counter", "Membership filter queries.",
     offsetof(macho_counters, filter_queries)},
    {"macho_filter_negatives_total", "counter", "Filter answers 'certainly absent'.",
     offsetof(macho_counters, filter_negatives)},
    {"macho_filter_false_positives_total", "counter", "Filter answers 'maybe' for an absent key.",
     offsetof(macho_counters, filter_false_positives)},
    C(entries, "gauge", "Entries stored now."),
    C(capacity_entries, "gauge", "Entry capacity."),
    C(capacity_bytes, "gauge", "Byte budget for keys and values (0 = none)."),
    C(payload_bytes, "gauge", "Key and value bytes stored."),
    C(memory_bytes, "gauge", "Bytes the cache holds: index, entries, payload, policy, filter, metrics."),
};
#undef C
#define NCOUNTERS (sizeof counters / sizeof counters[0])

/* Upper bounds in seconds. */
static const double latency_le[] = {1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5,
                                    1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 1e-1, 1};
static const double lifespan_le[] = {1e-3, 1e-2, 0.1, 1, 10, 60, 300, 600, 1800, 3600, 21600, 86400};

static void histogram(macho__buf *b, const char *name, const char *labels, const macho_distribution *d,
                      const double *le, size_t nle) {
  uint32_t bi = 0;
  uint64_t cum = 0;
  for (size_t i = 0; i < nle; i++) {
    double bound_ns = le[i] * 1e9;
    while (bi < d->nbuckets) {
      const macho_bucket *k = &d->buckets[bi];
      double mid = (double)k->lo + (double)(k->hi - k->lo) / 2;
      if (mid > bound_ns) break;
      cum += k->count;
      bi++;
    }
    macho__buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "", le[i],
                      U64(cum));
  }
  macho__buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
                    U64(d->count));
  const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
  macho__buf_printf(b, "%s_sum%s%s%s %.9f\n", name, open, labels, close, (double)d->sum / 1e9);
  macho__buf_printf(b, "%s_count%s%s%s %llu\n", name, open, labels, close, U64(d->count));
}

int macho__stats_prometheus(macho_cache *c, macho__buf *b) {
  uint32_t n = macho_shard_count(c);
  macho_counters *per = macho__dash_calloc(b->a, n ? n : 1, sizeof *per);
  if (!per) return MACHO_ENOMEM;
  for (uint32_t i = 0; i < n; i++)
    if (macho_counters_get(c, (int)i, &per[i]) != MACHO_OK) memset(&per[i], 0, sizeof per[i]);
  macho_stats *s = NULL;
  int rc = macho_stats_get(c, -1, &s);
  macho_config cfg;
  if (rc == MACHO_OK && macho_config_get(c, &cfg) != MACHO_OK) rc = MACHO_EINVAL;
  if (rc != MACHO_OK) {
    macho_stats_free(s);
    macho__dash_free(b->a, per, (size_t)(n ? n : 1) * sizeof *per);
    return rc;
  }

  macho__buf_puts(b, "# HELP macho_info Build and configuration of the cache (value 1).\n"
                     "# TYPE macho_info gauge\n");
  macho__buf_printf(b, "macho_info{version=\"%s\",policy=\"%s\",filter=\"%s\",mode=\"%s\"} 1\n",
                    macho_version_string(), macho_policy_name(cfg.policy), macho_filter_name(cfg.filter),
                    cfg.object_ops ? "objects" : "bytes");
  for (size_t k = 0; k < NCOUNTERS; k++) {
    const counter_def *d = &counters[k];
    macho__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
    for (uint32_t i = 0; i < n; i++) {
      uint64_t v;
      memcpy(&v, (const char *)&per[i] + d->offset, sizeof v);
      macho__buf_printf(b, "%s{shard=\"%u\"} %llu\n", d->name, (unsigned)i, U64(v));
    }
  }
  macho__buf_printf(b, "# HELP macho_latency_sample_every One call in this many is timed (0 = off).\n"
                       "# TYPE macho_latency_sample_every gauge\nmacho_latency_sample_every %u\n",
                    (unsigned)s->latency_sample_every);
  static const struct { const char *name, *help; int op; } lat[] = {
      {"macho_get_latency_seconds", "Latency of timed gets.", 0},
      {"macho_put_latency_seconds", "Latency of timed puts.", 1},
  };
  for (int i = 0; i < 2; i++) {
    macho__buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", lat[i].name, lat[i].help, lat[i].name);
    histogram(b, lat[i].name, "", lat[i].op ? &s->put_latency_ns : &s->get_latency_ns, latency_le,
              sizeof latency_le / sizeof latency_le[0]);
  }
  static const char *const reasons[MACHO_REMOVED_COUNT] = {"evicted", "expired", "deleted", NULL,
                                                            "cleared"};
  macho__buf_puts(b, "# HELP macho_lifespan_seconds Time from insertion to removal, by reason.\n"
                     "# TYPE macho_lifespan_seconds histogram\n");
  for (int r = 0; r < MACHO_REMOVED_COUNT; r++) {
    if (!reasons[r]) continue;
    char label[32];
    snprintf(label, sizeof label, "reason=\"%s\"", reasons[r]);
    histogram(b, "macho_lifespan_seconds", label, &s->lifespan_ns[r], lifespan_le,
              sizeof lifespan_le / sizeof lifespan_le[0]);
  }
  if (s->has_mrc) {
    /* The live miss-ratio curve: one gauge per multiple of the capacity. */
    macho__buf_puts(b, "# HELP macho_mrc_miss_ratio Estimated miss ratio if the cache held `multiple` times "
                       "its capacity (config.mrc).\n# TYPE macho_mrc_miss_ratio gauge\n");
    for (int i = 0; i < MACHO_MRC_POINTS; i++) {
      if (isnan(s->mrc.miss_ratio[i])) continue;
      macho__buf_printf(b, "macho_mrc_miss_ratio{multiple=\"%g\"} ", s->mrc.multiple[i]);
      macho__buf_json_num(b, s->mrc.miss_ratio[i]);
      macho__buf_puts(b, "\n");
    }
    macho__buf_printf(b, "# HELP macho_mrc_sample_rate Fraction of keys the curve simulates.\n"
                         "# TYPE macho_mrc_sample_rate gauge\nmacho_mrc_sample_rate ");
    macho__buf_json_num(b, s->mrc.sample_rate);
    macho__buf_puts(b, "\n");
  }
  macho_policy now = cfg.policy;
  uint64_t changes = 0;
  if (macho_policy_current(c, -1, &now, &changes) != MACHO_OK) changes = 0; /* cannot fail for an open cache */
  macho__buf_printf(b, "# HELP macho_policy_changes_total Times the auto policy changed the policy it follows.\n"
                       "# TYPE macho_policy_changes_total counter\nmacho_policy_changes_total %llu\n"
                       "# HELP macho_policy_current The policy the cache follows now (value 1).\n"
                       "# TYPE macho_policy_current gauge\nmacho_policy_current{policy=\"%s\"} 1\n",
                    U64(changes), macho_policy_name(now));
  macho_stats_free(s);
  macho__dash_free(b->a, per, (size_t)(n ? n : 1) * sizeof *per);
  return b->oom ? MACHO_ENOMEM : MACHO_OK;
}
