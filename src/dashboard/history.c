/*
 * history.c -- the last 15 minutes of the cache, one sample a second, kept
 * by the dashboard itself so that a page opened now shows what happened
 * before it was opened (and a paused page can catch up).
 *
 * The dashboard thread takes a public macho_stats_get snapshot of the whole
 * cache every second (server.c) and keeps the previous one; a sample is the
 * difference of the two: requests, hits, misses, puts, deletes, evictions
 * and expirations during the interval, entries and memory at its end, and
 * the latency of the calls timed in it (count, sum, p99, max). Latency comes
 * from subtracting the two cumulative histograms bucket by bucket (both use
 * the same log-linear bucket grid), so the interval's p99 is as exact as the
 * histogram (within 1%), not an average of averages. p99 is the nearest rank
 * (the ceil(0.99 n)-th value); max is exact when the interval raised the
 * cache's maximum, else the midpoint of the top bucket that grew.
 *
 * Memory is fixed when the dashboard starts: a ring of MACHO__HISTORY_SECONDS
 * samples of 168 bytes (151,200 bytes) plus the one snapshot kept as the
 * next baseline (a few KiB to a few hundred KiB with the histograms' buckets).
 * When macho_stats_reset zeroes the counters between two samples, the sample
 * is marked `reset` and counts from the reset.
 */
#include "dashboard.h"

#include <stdio.h>

#define U64(x) ((unsigned long long)(x))

_Static_assert(sizeof(macho__sample) == 168, "the documented size of a history sample");

int macho__history_init(macho__history *h, macho__dash_alloc a, uint32_t cap, uint32_t interval_ms) {
  memset(h, 0, sizeof *h);
  h->a = a;
  h->interval_ms = interval_ms;
  h->cap = cap ? cap : 1;
  h->next_seq = 1;
  h->ring = macho__dash_calloc(a, h->cap, sizeof *h->ring);
  return h->ring ? MACHO_OK : MACHO_ENOMEM;
}

void macho__history_free(macho__history *h) {
  macho__dash_free(h->a, h->ring, (size_t)h->cap * sizeof *h->ring);
  macho_stats_free(h->prev);
  h->ring = NULL;
  h->prev = NULL;
}

void macho__history_push(macho__history *h, const macho__sample *s) {
  macho__sample *slot = &h->ring[h->head];
  *slot = *s;
  slot->seq = h->next_seq++;
  h->head = (h->head + 1) % h->cap;
  if (h->count < h->cap) h->count++;
}

static uint64_t delta(uint64_t cur, uint64_t prev, bool reset) { return reset ? cur : cur - prev; }

/* count, sum, p99 and max of the values added to a distribution between two
 * snapshots. `prev` NULL: everything in `cur` is new. */
static void interval(const macho_distribution *prev, const macho_distribution *cur, uint64_t *count,
                     uint64_t *sum, uint64_t *p99, uint64_t *max) {
  *count = cur->count - (prev ? prev->count : 0);
  *sum = cur->sum - (prev ? prev->sum : 0);
  *p99 = *max = 0;
  if (*count == 0) return;
  uint64_t rank = (*count * 99 + 99) / 100; /* ceil(0.99 n), n >= 1 */
  uint64_t seen = 0;
  uint32_t j = 0;
  const macho_bucket *top = NULL;
  for (uint32_t i = 0; i < cur->nbuckets; i++) {
    const macho_bucket *b = &cur->buckets[i];
    uint64_t before = 0;
    if (prev) {
      while (j < prev->nbuckets && prev->buckets[j].lo < b->lo) j++;
      if (j < prev->nbuckets && prev->buckets[j].lo == b->lo) before = prev->buckets[j].count;
    }
    uint64_t added = b->count > before ? b->count - before : 0;
    if (!added) continue;
    top = b;
    if (seen < rank && seen + added >= rank) *p99 = b->lo + (b->hi - b->lo) / 2;
    seen += added;
  }
  if (!top) return;
  if (!prev || cur->max > prev->max) *max = cur->max; /* this interval set the record: exact */
  else *max = top->lo + (top->hi - top->lo) / 2;
  if (*p99 > *max) *p99 = *max;
}

void macho__history_diff(const macho_stats *prev, const macho_stats *cur, macho__sample *s) {
  memset(s, 0, sizeof *s);
  const macho_counters *p = &prev->counters, *c = &cur->counters;
  bool reset = c->gets < p->gets || c->puts < p->puts || c->hits < p->hits || c->misses < p->misses ||
               c->deletes < p->deletes || c->evictions < p->evictions || c->expirations < p->expirations ||
               cur->get_latency_ns.count < prev->get_latency_ns.count ||
               cur->put_latency_ns.count < prev->put_latency_ns.count;
  s->reset = reset;
  s->gets = delta(c->gets, p->gets, reset);
  s->hits = delta(c->hits, p->hits, reset);
  s->misses = delta(c->misses, p->misses, reset);
  s->puts = delta(c->puts, p->puts, reset);
  s->deletes = delta(c->deletes, p->deletes, reset);
  s->evictions = delta(c->evictions, p->evictions, reset);
  s->expirations = delta(c->expirations, p->expirations, reset);
  s->entries = c->entries;
  s->memory_bytes = c->memory_bytes;
  s->payload_bytes = c->payload_bytes;
  interval(reset ? NULL : &prev->get_latency_ns, &cur->get_latency_ns, &s->get_count, &s->get_sum_ns,
           &s->get_p99_ns, &s->get_max_ns);
  interval(reset ? NULL : &prev->put_latency_ns, &cur->put_latency_ns, &s->put_count, &s->put_sum_ns,
           &s->put_p99_ns, &s->put_max_ns);
}

void macho__history_add(macho__history *h, macho_stats *cur, uint64_t now_ms, uint64_t wall_ms) {
  if (!cur) {
    if (h->prev) h->missed++;
    return;
  }
  if (h->prev) {
    macho__sample s;
    macho__history_diff(h->prev, cur, &s);
    uint64_t dt = now_ms - h->prev_ms;
    s.dt_ms = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
    s.t_ms = wall_ms;
    macho__history_push(h, &s);
  }
  macho_stats_free(h->prev);
  h->prev = cur;
  h->prev_ms = now_ms;
}

static void latency_json(macho__buf *b, const char *op, uint64_t count, uint64_t sum, uint64_t p99,
                         uint64_t max) {
  macho__buf_printf(b, ",\"%s_count\":%llu,\"%s_mean_ns\":", op, U64(count), op);
  if (count) macho__buf_json_num(b, (double)sum / (double)count);
  else macho__buf_puts(b, "null");
  if (count) macho__buf_printf(b, ",\"%s_p99_ns\":%llu,\"%s_max_ns\":%llu", op, U64(p99), op, U64(max));
  else macho__buf_printf(b, ",\"%s_p99_ns\":null,\"%s_max_ns\":null", op, op);
}

int macho__history_json(const macho__history *h, uint32_t seconds, bool has_since, uint64_t since,
                        macho__buf *b) {
  macho__buf_printf(b,
                    "{\"schema\":\"macho.history\",\"version\":1,\"interval_ms\":%u,"
                    "\"capacity\":%u,\"missed\":%llu,\"samples\":[",
                    (unsigned)h->interval_ms, (unsigned)h->cap, U64(h->missed));
  uint32_t oldest = (h->head + h->cap - h->count) % h->cap;
  const macho__sample *newest = h->count ? &h->ring[(h->head + h->cap - 1) % h->cap] : NULL;
  bool first = true;
  for (uint32_t k = 0; k < h->count; k++) {
    const macho__sample *s = &h->ring[(oldest + k) % h->cap];
    if (has_since && s->seq <= since) continue;
    if (seconds && s->t_ms + (uint64_t)seconds * 1000 <= newest->t_ms) continue;
    macho__buf_printf(b,
                      "%s{\"seq\":%llu,\"t_ms\":%llu,\"dt_ms\":%u,\"reset\":%s,\"gets\":%llu,\"hits\":%llu,"
                      "\"misses\":%llu,\"puts\":%llu,\"deletes\":%llu,\"evictions\":%llu,"
                      "\"expirations\":%llu,\"entries\":%llu,\"memory_bytes\":%llu,\"payload_bytes\":%llu",
                      first ? "" : ",", U64(s->seq), U64(s->t_ms), (unsigned)s->dt_ms,
                      s->reset ? "true" : "false", U64(s->gets), U64(s->hits), U64(s->misses), U64(s->puts),
                      U64(s->deletes), U64(s->evictions), U64(s->expirations), U64(s->entries),
                      U64(s->memory_bytes), U64(s->payload_bytes));
    latency_json(b, "get", s->get_count, s->get_sum_ns, s->get_p99_ns, s->get_max_ns);
    latency_json(b, "put", s->put_count, s->put_sum_ns, s->put_p99_ns, s->put_max_ns);
    macho__buf_puts(b, "}");
    first = false;
  }
  macho__buf_puts(b, "]}\n");
  return b->oom ? MACHO_ENOMEM : MACHO_OK;
}
