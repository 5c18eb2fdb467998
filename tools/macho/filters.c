/*
 * filters.c -- `macho filters`: measure each membership filter in a real cache.
 *
 * For each filter (and "none" as the baseline) it opens a one-shard cache of
 * N entries with the filter at rate P, fills it (N puts), then reads back:
 *   measured_fp  false positives / filter queries over fresh keys that were
 *                never inserted (the cache's own filter counters);
 *   bits_per_key (memory with the filter - memory without) * 8 / N, from the
 *                cache's memory figure, so it is what the filter really holds;
 *   build        fill time per key (a put, the filter's upkeep and the xor
 *                filter's rebuilds included), next to the baseline's;
 *   query_ns     a whole macho_get of an absent key (hash, lock, filter,
 *                and the index probe when the filter says "maybe"), next to
 *                the baseline's; member_query_ns likewise for present keys.
 *                Gets run in three slices and the fastest slice is reported:
 *                on a shared machine the minimum is the least disturbed.
 *                All times are the thread's CPU time, not wall time.
 * With --churn X it then puts X*N new keys (each evicting one) and measures
 * the false-positive rate and bits per key again, and the CPU time of those
 * puts: the steady-state put cost, free of the heap growth that the fill
 * pays (which makes the fill figure swing from run to run). Only the public API is used.
 */
#include "cli.h"

#include <macho/macho.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct filt_opts {
  cli_base base;
  double fp, churn;
  uint64_t n, seed;
  bool json;
} filt_opts;

typedef struct filt_result {
  macho_filter filter;
  double fill_ns, absent_ns, member_ns;
  uint64_t memory;
  double measured_fp, churn_fp;
  double churn_put_ns; /* a put that inserts and evicts, on a warm cache */
  uint64_t churn_memory;
  uint64_t queries;
} filt_result;

#define NONMEMBER_BASE (1ULL << 62)
#define CHURN_BASE (1ULL << 61)

/* Keys are the 8 bytes of a counter: members [0, n), churn keys from
 * CHURN_BASE, fresh non-members from NONMEMBER_BASE (never inserted). */
static int put_range(macho_cache *c, uint64_t first, uint64_t count) {
  for (uint64_t k = first; k < first + count; k++) {
    int rc = macho_put(c, &k, sizeof k, &k, sizeof k);
    if (rc != MACHO_OK) return rc;
  }
  return MACHO_OK;
}

#define ROUNDS 3

/* Thread CPU time: on a shared machine wall time mostly measures the
 * neighbours; CPU time still feels their effect on the caches, less so. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Gets of `count` keys from `first` in ROUNDS slices; the time per get of the
 * fastest slice (the machine may be shared: the minimum is the least
 * disturbed figure). *found counts hits. */
static double time_gets(macho_cache *c, uint64_t first, uint64_t count, uint64_t *found) {
  double best = INFINITY;
  uint64_t slice = count / ROUNDS ? count / ROUNDS : 1, v;
  *found = 0;
  for (uint64_t start = first; start < first + count; start += slice) {
    uint64_t end = start + slice < first + count ? start + slice : first + count;
    double t0 = cpu_now();
    for (uint64_t k = start; k < end; k++) *found += macho_get(c, &k, sizeof k, &v, sizeof v, NULL) == MACHO_OK;
    double ns = (cpu_now() - t0) * 1e9 / (double)(end - start);
    if (ns < best) best = ns;
  }
  return best;
}

/* Absent-key gets; returns ns per get and the false-positive rate. */
static double query_absent(macho_cache *c, uint64_t first, uint64_t count, double *fp) {
  macho_counters a, b;
  uint64_t found;
  if (macho_counters_get(c, -1, &a) != MACHO_OK) return NAN;
  double ns = time_gets(c, first, count, &found);
  if (macho_counters_get(c, -1, &b) != MACHO_OK) return NAN;
  uint64_t q = b.filter_queries - a.filter_queries;
  *fp = q ? (double)(b.filter_false_positives - a.filter_false_positives) / (double)q : NAN;
  return ns;
}

static int measure(const filt_opts *o, macho_filter f, uint64_t queries, filt_result *r) {
  memset(r, 0, sizeof *r);
  r->filter = f;
  r->queries = queries;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = o->n;
  cfg.ttl_seconds = 0;
  cfg.policy = MACHO_POLICY_FIFO;
  cfg.filter = f;
  cfg.filter_fp_rate = o->fp;
  cfg.seed = o->seed;
  cfg.metrics = 0;
  macho_cache *c;
  int rc = macho_open(&cfg, &c);
  if (rc != MACHO_OK) return rc;
  double t0 = cpu_now();
  rc = put_range(c, 0, o->n);
  r->fill_ns = (cpu_now() - t0) * 1e9 / (double)o->n;
  macho_counters ct;
  if (rc == MACHO_OK) rc = macho_counters_get(c, -1, &ct);
  if (rc != MACHO_OK) goto out;
  r->memory = ct.memory_bytes;
  r->absent_ns = query_absent(c, NONMEMBER_BASE, queries, &r->measured_fp);
  uint64_t members = o->n < queries ? o->n : queries, found;
  r->member_ns = time_gets(c, 0, members, &found);
  if (found != members) rc = MACHO_EIO; /* a false negative */
  if (rc != MACHO_OK || o->churn <= 0) goto out;
  uint64_t churn = (uint64_t)(o->churn * (double)o->n);
  t0 = cpu_now();
  rc = put_range(c, CHURN_BASE, churn);
  r->churn_put_ns = churn ? (cpu_now() - t0) * 1e9 / (double)churn : 0;
  if (rc == MACHO_OK) rc = macho_counters_get(c, -1, &ct);
  if (rc != MACHO_OK) goto out;
  r->churn_memory = ct.memory_bytes;
  (void)query_absent(c, NONMEMBER_BASE + queries, queries, &r->churn_fp);
out:
  macho_close(c);
  return rc;
}

/* What each structure needs in theory at rate p (issue #5's figures). */
static double theory_bits(macho_filter f, double p) {
  double l = log2(1.0 / p);
  switch (f) {
  case MACHO_FILTER_BLOOM: return 1.44 * l;
  case MACHO_FILTER_CUCKOO: return (l + 3.0) / 0.955; /* b = 4 at the paper's 95.5% load */
  case MACHO_FILTER_XOR: return 1.13 * l;             /* binary fuse, arity 3 */
  default: return 0;
  }
}

static const char *structure(macho_filter f) {
  switch (f) {
  case MACHO_FILTER_BLOOM: return "counting Bloom, 4-bit";
  case MACHO_FILTER_CUCKOO: return "cuckoo, 4-way";
  case MACHO_FILTER_XOR: return "binary fuse + side table";
  default: return "baseline";
  }
}

static int filters_run(void *p) {
  const filt_opts o = *(const filt_opts *)p;
  /* Enough fresh keys that sampling noise is about 2% of p. */
  double q = 2500.0 / o.fp;
  uint64_t queries = (uint64_t)(q < 100000 ? 100000 : q > 4e6 ? 4e6 : q);
  filt_result base;
  /* The first cache of the process also pays for growing the heap: run the
   * baseline twice and keep the second. */
  int rc = measure(&o, MACHO_FILTER_NONE, queries, &base);
  if (rc == MACHO_OK) rc = measure(&o, MACHO_FILTER_NONE, queries, &base);
  if (rc != MACHO_OK) {
    fprintf(stderr, "macho filters: baseline: %s\n", macho_strerror(rc));
    return CLI_FAIL;
  }
  if (!o.json) {
    printf("n = %llu, target p = %g, %llu fresh non-member queries%s; one shard, FIFO, 8-byte keys\n",
           (unsigned long long)o.n, o.fp, (unsigned long long)queries,
           o.churn > 0 ? ", then churn" : "");
    printf("%-7s %-25s %11s %8s %9s %8s %9s %10s %10s", "filter", "structure", "measured_fp",
           "rel", "bits/key", "theory", "put ns", "absent ns", "member ns");
    if (o.churn > 0) printf(" %12s %8s %9s %12s", "fp_churned", "rel", "bits/key", "churn put ns");
    printf("\n%-7s %-25s %11s %8s %9s %8s %9.1f %10.1f %10.1f", "none", structure(MACHO_FILTER_NONE),
           "-", "-", "-", "-", base.fill_ns, base.absent_ns, base.member_ns);
    if (o.churn > 0) printf(" %12s %8s %9s %12.1f", "-", "-", "-", base.churn_put_ns);
    printf("\n");
  }
  for (int f = MACHO_FILTER_NONE + 1; f < MACHO_FILTER_COUNT; f++) {
    if (!macho_filter_available((macho_filter)f)) continue;
    filt_result r;
    rc = measure(&o, (macho_filter)f, queries, &r);
    if (rc != MACHO_OK) {
      fprintf(stderr, "macho filters: %s: %s\n", macho_filter_name((macho_filter)f),
              rc == MACHO_EIO ? "a member was reported absent (false negative)" : macho_strerror(rc));
      return CLI_FAIL;
    }
    double bits = ((double)r.memory - (double)base.memory) * 8.0 / (double)o.n;
    double cbits = ((double)r.churn_memory - (double)base.churn_memory) * 8.0 / (double)o.n;
    if (o.json) {
      printf("{\"filter\":\"%s\",\"n\":%llu,\"target_fp\":%g,\"measured_fp\":%.6g,"
             "\"bits_per_key\":%.3f,\"theory_bits_per_key\":%.3f,\"build_ns_per_key\":%.1f,"
             "\"baseline_build_ns_per_key\":%.1f,\"query_ns\":%.1f,\"member_query_ns\":%.1f,"
             "\"baseline_query_ns\":%.1f,\"baseline_member_query_ns\":%.1f,\"queries\":%llu",
             macho_filter_name(r.filter), (unsigned long long)o.n, o.fp, r.measured_fp, bits,
             theory_bits(r.filter, o.fp), r.fill_ns, base.fill_ns, r.absent_ns, r.member_ns,
             base.absent_ns, base.member_ns, (unsigned long long)queries);
      if (o.churn > 0)
        printf(",\"churn\":%g,\"measured_fp_after_churn\":%.6g,\"bits_per_key_after_churn\":%.3f,"
               "\"churn_put_ns\":%.1f,\"baseline_churn_put_ns\":%.1f",
               o.churn, r.churn_fp, cbits, r.churn_put_ns, base.churn_put_ns);
      printf("}\n");
    } else {
      printf("%-7s %-25s %11.6f %+7.1f%% %9.2f %8.2f %9.1f %10.1f %10.1f", macho_filter_name(r.filter),
             structure(r.filter), r.measured_fp, 100 * (r.measured_fp - o.fp) / o.fp, bits,
             theory_bits(r.filter, o.fp), r.fill_ns, r.absent_ns, r.member_ns);
      if (o.churn > 0)
        printf(" %12.6f %+7.1f%% %9.2f %12.1f", r.churn_fp, 100 * (r.churn_fp - o.fp) / o.fp, cbits,
               r.churn_put_ns);
      printf("\n");
    }
  }
  return CLI_OK;
}

static const cli_option filters_options[] = {
    {CLI_OPT("fp", 0, CLI_DOUBLE, filt_opts, fp, "P",
             "target false-positive rate of every filter"), .min = 1e-9, .max = 0.999999},
    {CLI_OPT("n", 'n', CLI_U64, filt_opts, n, "N",
             "cache capacity: entries inserted before measuring"), .min = 1, .max = 2147483648.0},
    {CLI_OPT("churn", 0, CLI_DOUBLE, filt_opts, churn, "X",
             "then put X*N new keys (each evicting one) and measure again; 0 = no churn"), .max = 1e4},
    {CLI_OPT("seed", 0, CLI_U64, filt_opts, seed, "S",
             "the caches' hash seed"), .max = 18446744073709551615.0},
    {CLI_OPT("json", 0, CLI_FLAG, filt_opts, json, NULL,
             "one JSON object per filter instead of a table")},
    {0},
};
static const filt_opts filters_defaults = {.fp = 0.01, .churn = 0, .n = 100000, .seed = 20261129, .json = false};

const cli_spec cli_spec_filters = {
    .name = "filters",
    .summary = "measure each membership filter: false-positive rate, bits per key, ns",
    .args = "",
    .description =
        "For each filter (and none, the baseline) opens a one-shard FIFO cache of N entries with the "
        "filter at rate P, fills it, then reads back: the measured false-positive rate over fresh "
        "keys never inserted, the filter's bits per key (from the cache's own memory figure), and "
        "the CPU time of a put, of a get of an absent key and of a get of a present key. Times are "
        "the fastest of three slices of gets, in thread CPU time.",
    .examples = "macho filters --fp 0.01 --n 100000\nmacho filters --fp 0.001 --churn 2 --json",
    .options = filters_options,
    .opts_size = sizeof(filt_opts),
    .defaults = &filters_defaults,
    .run = filters_run,
};
