/*
 * auto.h -- the tunables of the `auto` policy (src/policy/auto.c), for the
 * research harness bench/policy_lab/ that chose their defaults. Nothing else
 * in the library needs this header.
 */
#ifndef MACHO_POLICY_AUTO_H
#define MACHO_POLICY_AUTO_H

#include "../internal.h"

#define MACHO__AUTO_MAX_CAND 8

/* When the live cache changes policy (one set per mode). Counts of misses
 * are kept per decision epoch of sampled requests and multiplied by `decay`
 * after each; a candidate replaces the live policy when it saved more misses
 * than z standard deviations of a paired sign test, more than `margin` of
 * the requests and more than `cost` times what the change itself will cost
 * (mirror mode: the entries the candidate holds that the live cache lacks;
 * sampled mode: the minisim capacity), and the last switch is old enough. */
typedef struct macho__auto_rule {
  double epoch_caps;  /* an epoch is this many minisim capacities of sampled requests, */
  uint32_t epoch_min; /* and at least this many */
  double decay;
  double z;
  double margin;
  double cost;        /* and saved more than cost x the misses the change itself will cost */
  double dwell_caps;  /* at least this many shard capacities of requests between switches */
  double warmup_caps; /* and before the first one */
} macho__auto_rule;

typedef struct macho__auto_params {
  uint32_t ncand;
  macho_policy cand[MACHO__AUTO_MAX_CAND]; /* the policies auto may follow */
  uint32_t start;                          /* index in cand of the first one */
  /* Shards of up to mirror_max entries simulate every candidate at full size
   * and the live cache mirrors the leader ("mirror mode"); larger ones sample
   * keys at rate max(min_rate, mini_target / capacity) and switch the live
   * policy ("sampled mode"). */
  uint32_t mirror_max;
  uint32_t mini_target;
  double min_rate;
  uint32_t replay_hits; /* sampled mode: a switch replays at most this many hits per entry */
  macho__auto_rule mirror, sampled;
} macho__auto_params;

extern const macho__auto_params macho__auto_defaults;

/* auto's init hook with explicit tunables (the lab calls it; init uses the defaults). */
int macho__auto_init_with(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots,
                          const macho__auto_params *p);
/* The policy auto follows now, and how many times it switched. */
macho_policy macho__auto_live(const void *st);
uint32_t macho__auto_switches(const void *st);

#endif
