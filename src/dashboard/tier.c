/*
 * tier.c -- the Redis tier's figures on the dashboard: /api/tier (JSON) and
 * the macho_tier_* series appended to /metrics, when the dashboard was
 * started with options.tier. Read through the public macho_tier_stats_get,
 * like everything else the dashboard shows. Gets are labelled by level
 * (l1, l2) and result (hit, miss, error), so that
 * sum by (level) (rate(macho_tier_gets_total[1m])) shows where reads go.
 */
#include "dashboard.h"

#define U64(x) ((unsigned long long)(x))

int macho__tier_stats_json(macho_tier *t, macho__buf *b) {
  macho_tier_stats s;
  int rc = macho_tier_stats_get(t, &s);
  if (rc != MACHO_OK) return rc;
  macho__buf_printf(b,
                    "{\"enabled\":true,\"tracking\":%s,\"connections\":%u,\"invalidation_client_id\":%lld,"
                    "\"l1\":{\"hits\":%llu,\"misses\":%llu},"
                    "\"l2\":{\"hits\":%llu,\"misses\":%llu,\"errors\":%llu},\"lease_bypasses\":%llu,"
                    "\"joined\":%llu,\"loads\":%llu,\"load_errors\":%llu,\"puts\":%llu,\"deletes\":%llu,"
                    "\"fills\":{\"stored\":%llu,\"refused\":%llu,\"skipped\":%llu},"
                    "\"invalidation_messages\":%llu,\"invalidations\":%llu,\"reconnects\":%llu,"
                    "\"heartbeats\":%llu,\"heartbeat_rtt_max_ns\":%llu,\"flushes\":{",
                    s.tracking ? "true" : "false", s.connections, (long long)s.invalidation_client_id,
                    U64(s.l1_hits), U64(s.l1_misses), U64(s.l2_hits), U64(s.l2_misses), U64(s.l2_errors),
                    U64(s.lease_bypasses), U64(s.joined), U64(s.loads), U64(s.load_errors), U64(s.puts), U64(s.deletes), U64(s.fills),
                    U64(s.fills_refused), U64(s.fills_skipped), U64(s.invalidation_messages),
                    U64(s.invalidations), U64(s.reconnects), U64(s.heartbeats), U64(s.heartbeat_rtt_ns_max));
  for (int i = 0; i < MACHO_TIER_FLUSH_COUNT; i++)
    macho__buf_printf(b, "%s\"%s\":%llu", i ? "," : "", macho_tier_flush_cause_name(i), U64(s.flushes[i]));
  macho__buf_puts(b, "}}\n");
  return b->oom ? MACHO_ENOMEM : MACHO_OK;
}

static void series_head(macho__buf *b, const char *name, const char *type, const char *help) {
  macho__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int macho__tier_stats_prometheus(macho_tier *t, macho__buf *b) {
  macho_tier_stats s;
  int rc = macho_tier_stats_get(t, &s);
  if (rc != MACHO_OK) return rc;
  series_head(b, "macho_tier_gets_total", "counter",
              "Tier gets by level (l1 = the local cache, l2 = Redis) and result.");
  macho__buf_printf(b,
                    "macho_tier_gets_total{level=\"l1\",result=\"hit\"} %llu\n"
                    "macho_tier_gets_total{level=\"l1\",result=\"miss\"} %llu\n"
                    "macho_tier_gets_total{level=\"l2\",result=\"hit\"} %llu\n"
                    "macho_tier_gets_total{level=\"l2\",result=\"miss\"} %llu\n"
                    "macho_tier_gets_total{level=\"l2\",result=\"error\"} %llu\n",
                    U64(s.l1_hits), U64(s.l1_misses), U64(s.l2_hits), U64(s.l2_misses), U64(s.l2_errors));
  series_head(b, "macho_tier_fills_total", "counter",
              "Values read from Redis: stored in L1, refused (raced an invalidation or failure), skipped.");
  macho__buf_printf(b,
                    "macho_tier_fills_total{outcome=\"stored\"} %llu\nmacho_tier_fills_total{outcome=\"refused\"} "
                    "%llu\nmacho_tier_fills_total{outcome=\"skipped\"} %llu\n",
                    U64(s.fills), U64(s.fills_refused), U64(s.fills_skipped));
  series_head(b, "macho_tier_flushes_total", "counter", "L1 emptied as a whole, by cause.");
  for (int i = 0; i < MACHO_TIER_FLUSH_COUNT; i++)
    macho__buf_printf(b, "macho_tier_flushes_total{cause=\"%s\"} %llu\n", macho_tier_flush_cause_name(i),
                      U64(s.flushes[i]));
  static const struct {
    const char *name, *help;
    size_t off;
  } plain[] = {
      {"macho_tier_invalidations_total", "Keys Redis reported changed.", offsetof(macho_tier_stats, invalidations)},
      {"macho_tier_invalidation_messages_total", "Invalidation messages received.",
       offsetof(macho_tier_stats, invalidation_messages)},
      {"macho_tier_lease_bypasses_total", "Gets that skipped L1 because its lease had lapsed.",
       offsetof(macho_tier_stats, lease_bypasses)},
      {"macho_tier_joined_total", "L1 misses that waited for another caller's read of the key.",
       offsetof(macho_tier_stats, joined)},
      {"macho_tier_loads_total", "Loader calls.", offsetof(macho_tier_stats, loads)},
      {"macho_tier_load_errors_total", "Loader calls that failed.", offsetof(macho_tier_stats, load_errors)},
      {"macho_tier_puts_total", "Writes through the tier.", offsetof(macho_tier_stats, puts)},
      {"macho_tier_deletes_total", "Deletes through the tier.", offsetof(macho_tier_stats, deletes)},
      {"macho_tier_reconnects_total", "Times tracking was re-established after a failure.",
       offsetof(macho_tier_stats, reconnects)},
      {"macho_tier_heartbeats_total", "Heartbeats answered.", offsetof(macho_tier_stats, heartbeats)},
  };
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
    series_head(b, plain[i].name, "counter", plain[i].help);
    macho__buf_printf(b, "%s %llu\n", plain[i].name, U64(*(const uint64_t *)((const char *)&s + plain[i].off)));
  }
  series_head(b, "macho_tier_tracking", "gauge", "1 while tracking is up (L1 in use), 0 while down.");
  macho__buf_printf(b, "macho_tier_tracking %d\n", s.tracking);
  series_head(b, "macho_tier_heartbeat_rtt_max_seconds", "gauge", "Slowest heartbeat round trip so far.");
  macho__buf_printf(b, "macho_tier_heartbeat_rtt_max_seconds %.9f\n", (double)s.heartbeat_rtt_ns_max / 1e9);
  return b->oom ? MACHO_ENOMEM : MACHO_OK;
}
