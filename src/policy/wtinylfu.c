/*
 * wtinylfu.c -- W-TinyLFU (Einziger, Friedman, Manes: "TinyLFU: A Highly
 * Efficient Cache Admission Policy", ACM TOS 2017), shaped after Caffeine's
 * BoundedLocalCache and FrequencySketch.
 *
 * New entries enter a small LRU "window" (1% of capacity, at least one entry).
 * An entry pushed out of the window becomes a candidate for the main space, a
 * segmented LRU (probation 20% / protected 80%): it is admitted only if a
 * frequency sketch says it is requested more often than the entry it would
 * displace, probation's LRU; the loser is evicted. A hit in probation
 * promotes to protected; protected overflow is demoted back to probation.
 * The window lets bursts of new keys earn hits before they must prove their
 * frequency; the filter keeps one-hit wonders and scans out of main.
 *
 * The sketch is a count-min sketch of 4-bit counters, depth 4, 16 counters per
 * 64-bit word and two words per entry of capacity (rounded up to a power of
 * two; 16 bytes per entry). Every request (hit or miss) increments it; after
 * 10 x capacity increments every counter is halved so that the sketch follows a changing
 * popularity ("aging" or "reset" in the paper). As in Caffeine, a candidate
 * with a frequency of at least 6 that loses is still admitted with
 * probability 1/128, so an attacker cannot pin a victim by flooding
 * collisions (hash-DoS); the coin is the shard's seeded generator, so runs
 * are reproducible.
 *
 * The window size adapts by hill climbing (Caffeine's climber): every
 * 10 x capacity requests (and at least 10,000) the hit rate of the last sample
 * is compared with the one before; if it improved, the window keeps moving in
 * the same direction, else it turns around. Steps start at 6.25% of capacity, shrink by 2% per
 * sample and restart when the hit rate jumps by 5 points. Recency-skewed
 * traces thus get a large window (LRU-like), frequency-skewed ones a small
 * window. The window never shrinks below one entry. On the short reference
 * traces the climber has few samples: there W-TinyLFU is within half a point
 * of the best published policy at 27 of 36 points and loses where pure
 * recency wins (docs/BENCHMARKS.md lists the variants tried).
 *
 * The shard evicts BEFORE it inserts, while Caffeine inserts then evicts: the
 * victim hook therefore plays the window overflow the coming insert will
 * cause (window LRU -> probation, then the contest). Policy bits 0..1 =
 * queue; links 8 bytes per slot. Hits and misses arrive through the read
 * buffer; the sketch is counted once per request: a miss record counts the
 * missed hash, and insert counts only when it does not follow a miss on the
 * same hash.
 */
#include "policy.h"

enum { Q_WINDOW = 0, Q_PROBATION = 1, Q_PROTECTED = 2 };

#define PERCENT_MAIN 0.99
#define PERCENT_PROTECTED 0.80
#define CLIMB_RESTART_THRESHOLD 0.05
#define CLIMB_STEP_PERCENT 0.0625
#define CLIMB_STEP_DECAY 0.98
#define TRANSFER_MAX 1000u
/* A sampled hit rate has a binomial error of about sqrt(p(1-p)/n): below
 * 10,000 requests that is over half a point, as large as the effect of a step,
 * and small caches (Caffeine samples 10 x capacity) climbed on noise. */
#define CLIMB_MIN_SAMPLE 10000u
#define ADMIT_HASHDOS_THRESHOLD 6u

typedef struct sketch {
  uint64_t *table;
  uint32_t mask;        /* words - 1 */
  uint32_t sample_size; /* increments between halvings */
  uint32_t size;        /* increments since the last halving */
} sketch;

typedef struct wtlfu_state {
  macho__dlist window, probation, protect;
  macho__link *lk;
  uint32_t nslots;
  uint32_t capacity;
  uint32_t window_max, protected_max;
  sketch sk;
  /* hill climber */
  uint32_t hits_in_sample, misses_in_sample;
  double prev_hit_rate, step;
  int64_t adjustment;
  /* the last get miss, so that the put that follows does not count twice */
  uint64_t missed_hash;
  bool missed;
} wtlfu_state;

/* ---- count-min sketch ------------------------------------------------------ */
static const uint64_t SEED[4] = {0xc3a5c85c97cb3127ULL, 0xb492b66fbe98f273ULL,
                                 0x9ae16a3b2f90404fULL, 0xcbf29ce484222325ULL};

static uint32_t sketch_index(const sketch *k, uint64_t hash, int i) {
  uint64_t h = (hash + SEED[i]) * SEED[i];
  h += h >> 32;
  return (uint32_t)h & k->mask;
}

/* Each word holds 16 counters in 4 groups; the hash picks one group and depth
 * i uses counter i of it, so an item touches 4 words, one counter in each. */
/* Middle bits: the top ones pick the shard, so they barely vary inside one. */
static uint32_t sketch_start(uint64_t hash) { return (uint32_t)(hash >> 16 & 3u) << 2; }

static uint32_t sketch_frequency(const sketch *k, uint64_t hash) {
  uint32_t start = sketch_start(hash), f = 15;
  for (int i = 0; i < 4; i++) {
    uint32_t c = (uint32_t)(k->table[sketch_index(k, hash, i)] >> ((start + (uint32_t)i) << 2)) & 15u;
    if (c < f) f = c;
  }
  return f;
}

static void sketch_reset(sketch *k) {
  uint32_t odd = 0;
  for (uint32_t i = 0; i <= k->mask; i++) {
    odd += (uint32_t)__builtin_popcountll(k->table[i] & 0x1111111111111111ULL);
    k->table[i] = (k->table[i] >> 1) & 0x7777777777777777ULL;
  }
  /* Halving drops each odd counter's low bit: account for the lost quarter. */
  k->size = (k->size - (odd >> 2)) >> 1;
}

static void sketch_increment(sketch *k, uint64_t hash) {
  uint32_t start = sketch_start(hash);
  bool added = false;
  for (int i = 0; i < 4; i++) {
    uint64_t *w = &k->table[sketch_index(k, hash, i)];
    uint32_t shift = (start + (uint32_t)i) << 2;
    if (((*w >> shift) & 15u) != 15u) {
      *w += 1ULL << shift;
      added = true;
    }
  }
  if (added && ++k->size >= k->sample_size) sketch_reset(k);
}

static size_t sketch_bytes(const sketch *k) { return k->table ? ((size_t)k->mask + 1) * 8u : 0; }

/* ---- queues ------------------------------------------------------------------ */
static macho__dlist *queue_of(wtlfu_state *s, uint32_t q) {
  return q == Q_WINDOW ? &s->window : q == Q_PROBATION ? &s->probation : &s->protect;
}

static uint32_t q_of(macho__shard *sh, uint32_t id) { return macho__pol_bits(sh, id) & 3u; }

static void move_to(wtlfu_state *s, macho__shard *sh, uint32_t id, uint32_t q) {
  macho__dlist_remove(s->lk, queue_of(s, q_of(sh, id)), id);
  macho__pol_set(sh, id, q);
  macho__dlist_push_front(s->lk, queue_of(s, q), id);
}

static void demote_from_protected(wtlfu_state *s, macho__shard *sh) {
  while (s->protect.len > s->protected_max) move_to(s, sh, s->protect.tail, Q_PROBATION);
}

static void set_sizes(wtlfu_state *s) {
  uint32_t main = (uint32_t)(s->capacity * PERCENT_MAIN);
  s->window_max = s->capacity - main;
  if (s->window_max == 0) s->window_max = 1;
  main = s->capacity - s->window_max;
  s->protected_max = (uint32_t)(main * PERCENT_PROTECTED);
}

/* ---- hill climbing ------------------------------------------------------------- */
static void determine_adjustment(wtlfu_state *s) {
  uint32_t n = s->hits_in_sample + s->misses_in_sample;
  if (n < s->sk.sample_size || n < CLIMB_MIN_SAMPLE) return;
  double hit_rate = (double)s->hits_in_sample / n;
  double change = hit_rate - s->prev_hit_rate;
  double amount = change >= 0 ? s->step : -s->step;
  double restart = CLIMB_STEP_PERCENT * s->capacity * (amount >= 0 ? 1 : -1);
  s->step = (change >= CLIMB_RESTART_THRESHOLD || change <= -CLIMB_RESTART_THRESHOLD)
                ? restart : CLIMB_STEP_DECAY * amount;
  s->prev_hit_rate = hit_rate;
  s->adjustment = (int64_t)amount;
  s->hits_in_sample = s->misses_in_sample = 0;
}

/* Grow the window by taking from protected's share; entries move from main's
 * LRU ends to the window. */
static void increase_window(wtlfu_state *s, macho__shard *sh) {
  if (s->protected_max == 0) return;
  uint32_t quota = s->adjustment < (int64_t)s->protected_max ? (uint32_t)s->adjustment : s->protected_max;
  s->protected_max -= quota;
  s->window_max += quota;
  demote_from_protected(s, sh);
  for (uint32_t i = 0; i < TRANSFER_MAX && quota > 0; i++) {
    uint32_t id = s->probation.tail != MACHO__NIL ? s->probation.tail : s->protect.tail;
    if (id == MACHO__NIL) break;
    quota--;
    move_to(s, sh, id, Q_WINDOW);
  }
  /* Give back what could not be moved; it is tried again next time. */
  s->protected_max += quota;
  s->window_max -= quota;
  s->adjustment = quota;
}

static void decrease_window(wtlfu_state *s, macho__shard *sh) {
  if (s->window_max <= 1) {
    s->adjustment = 0;
    return;
  }
  uint64_t want = (uint64_t)(-s->adjustment);
  uint32_t quota = want < s->window_max - 1u ? (uint32_t)want : s->window_max - 1u;
  s->protected_max += quota;
  s->window_max -= quota;
  for (uint32_t i = 0; i < TRANSFER_MAX && quota > 0; i++) {
    uint32_t id = s->window.tail;
    if (id == MACHO__NIL) break;
    quota--;
    move_to(s, sh, id, Q_PROBATION);
  }
  s->protected_max -= quota;
  s->window_max += quota;
  s->adjustment = -(int64_t)quota;
}

static void climb(wtlfu_state *s, macho__shard *sh) {
  determine_adjustment(s);
  demote_from_protected(s, sh);
  if (s->adjustment > 0) increase_window(s, sh);
  else if (s->adjustment < 0) decrease_window(s, sh);
}

/* ---- hooks ------------------------------------------------------------------------ */
static int wtlfu_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  wtlfu_state *s = st;
  macho__dlist_init(&s->window);
  macho__dlist_init(&s->probation);
  macho__dlist_init(&s->protect);
  s->nslots = nslots;
  s->lk = macho__links_new(sh, nslots);
  if (!s->lk) return MACHO_ENOMEM;
  s->capacity = capacity;
  set_sizes(s);
  /* Two words (32 counters) per entry of capacity up to 64k entries:
   * Caffeine uses one, but these traces have 5-40x more distinct keys than
   * entries and the extra width removed collisions that decided admissions
   * (docs/BENCHMARKS.md). Above, half a word (8 counters, 4 bytes) per
   * entry, so that a million entries cost 4 MB of sketch, not 16: a quarter
   * of the width cost 0.39 points of miss ratio on average over the shared
   * traces when tried at every size (docs/POLICIES.md), the price of the
   * memory target at scale. */
  uint64_t want = capacity <= 65536u ? 2ull * capacity : capacity / 2ull;
  uint32_t words = 8;
  while (words < want && words < (1u << 30)) words <<= 1;
  s->sk.table = macho__calloc(&sh->cache->alloc, words, sizeof(uint64_t));
  if (!s->sk.table) {
    macho__links_free(sh, s->lk, nslots);
    s->lk = NULL;
    return MACHO_ENOMEM;
  }
  s->sk.mask = words - 1;
  s->sk.sample_size = capacity <= UINT32_MAX / 10 ? 10 * (capacity ? capacity : 1) : UINT32_MAX;
  s->step = -CLIMB_STEP_PERCENT * capacity; /* the first move shrinks the window */
  return MACHO_OK;
}

static void wtlfu_destroy(void *st, macho__shard *sh) {
  wtlfu_state *s = st;
  macho__free(&sh->cache->alloc, s->sk.table, sketch_bytes(&s->sk));
  macho__links_free(sh, s->lk, s->nslots);
  s->sk.table = NULL;
  s->lk = NULL;
}

static void wtlfu_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  wtlfu_state *s = st;
  if (!s->missed || s->missed_hash != hash) {
    sketch_increment(&s->sk, hash);
    s->misses_in_sample++;
  }
  s->missed = false;
  macho__pol_set(sh, id, Q_WINDOW);
  macho__dlist_push_front(s->lk, &s->window, id);
  /* Not full yet (victim() was not called): window overflow joins probation. */
  while (s->window.len > s->window_max) move_to(s, sh, s->window.tail, Q_PROBATION);
  climb(s, sh);
}

static void wtlfu_miss(void *st, macho__shard *sh, uint64_t hash) {
  (void)sh;
  wtlfu_state *s = st;
  sketch_increment(&s->sk, hash);
  s->misses_in_sample++;
  s->missed = true;
  s->missed_hash = hash;
}

static void wtlfu_hit(void *st, macho__shard *sh, uint32_t id) {
  wtlfu_state *s = st;
  sketch_increment(&s->sk, macho__pol_hash(sh, id));
  s->hits_in_sample++;
  s->missed = false;
  switch (q_of(sh, id)) {
  case Q_WINDOW: macho__dlist_move_front(s->lk, &s->window, id); break;
  case Q_PROBATION:
    move_to(s, sh, id, Q_PROTECTED);
    demote_from_protected(s, sh);
    break;
  default: macho__dlist_move_front(s->lk, &s->protect, id); break;
  }
  climb(s, sh);
}

static void wtlfu_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    if (recs[i] & MACHO__REC_MISS) wtlfu_miss(st, sh, macho__hash63(recs[i]));
    else if (macho__pol_live(sh, (uint32_t)recs[i])) wtlfu_hit(st, sh, (uint32_t)recs[i]);
  }
}

static void wtlfu_remove(void *st, macho__shard *sh, uint32_t id) {
  wtlfu_state *s = st;
  macho__dlist_remove(s->lk, queue_of(s, q_of(sh, id)), id);
}

static bool admit(wtlfu_state *s, macho__shard *sh, uint32_t candidate, uint32_t victim) {
  uint32_t vf = sketch_frequency(&s->sk, macho__pol_hash(sh, victim));
  uint32_t cf = sketch_frequency(&s->sk, macho__pol_hash(sh, candidate));
  if (cf > vf) return true;
  if (cf >= ADMIT_HASHDOS_THRESHOLD) return (macho__pol_rand(sh) & 127u) == 0;
  return false;
}

static uint32_t wtlfu_victim(void *st, macho__shard *sh) {
  wtlfu_state *s = st;
  /* The coming insert will overflow the window: its LRU entry becomes the
   * candidate and joins probation, then competes with probation's LRU. */
  uint32_t candidate = MACHO__NIL;
  if (s->window.len >= s->window_max && s->window.len > 0) {
    candidate = s->window.tail;
    move_to(s, sh, candidate, Q_PROBATION);
  }
  uint32_t victim = s->probation.tail;
  if (victim == MACHO__NIL) victim = s->protect.tail;
  if (victim == MACHO__NIL) victim = s->window.tail;
  assert(victim != MACHO__NIL);
  uint32_t out = victim;
  if (candidate != MACHO__NIL && candidate != victim && !admit(s, sh, candidate, victim)) {
    out = candidate;
    macho__pol_reject(sh); /* the listener says "rejected" */
  }
  wtlfu_remove(s, sh, out);
  return out;
}

static void wtlfu_clear(void *st, macho__shard *sh) {
  (void)sh;
  wtlfu_state *s = st;
  macho__dlist_init(&s->window);
  macho__dlist_init(&s->probation);
  macho__dlist_init(&s->protect);
  /* Sizes and sketch are kept: they describe the workload, not the contents. */
  s->missed = false;
}

static int wtlfu_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  wtlfu_state *s = st;
  macho__dlist lists[3] = {s->window, s->probation, s->protect};
  macho__link *lk = macho__links_remap(sh, s->lk, lists, 3, map, old_n, new_n);
  if (!lk) return MACHO_ENOMEM;
  s->window = lists[0];
  s->probation = lists[1];
  s->protect = lists[2];
  s->lk = lk;
  s->nslots = new_n;
  return MACHO_OK;
}

static size_t wtlfu_memory(const void *st) {
  const wtlfu_state *s = st;
  return sketch_bytes(&s->sk) + (size_t)s->nslots * sizeof(macho__link);
}

static void wtlfu_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  wtlfu_state *s = st;
  macho__dlist_rename(s->lk, queue_of(s, q_of(sh, to)), from, to);
}

/* Approximately the eviction order with no request to come: probation's
 * LRU end first (where victims come from), then the window, then
 * protected. */
static uint32_t wtlfu_order(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                            uint32_t max) {
  wtlfu_state *s = st;
  if (after != MACHO__NIL && !macho__pol_live(sh, after)) return 0;
  const macho__dlist *lists[3] = {&s->probation, &s->window, &s->protect};
  uint32_t in = 0;
  if (after != MACHO__NIL) {
    uint32_t q = q_of(sh, after);
    in = q == Q_PROBATION ? 0 : q == Q_WINDOW ? 1 : 2;
  }
  return macho__lists_order(s->lk, lists, 3, hottest, in, after, out, max);
}

static uint32_t wtlfu_hint(void *st, macho__shard *sh, uint32_t id) {
  return sketch_frequency(&((wtlfu_state *)st)->sk, macho__pol_hash(sh, id));
}

/* A new capacity: window and main shares follow it (the climber starts
 * over from there); the sketch starts afresh at its new width when that
 * changes (counters of one width cannot be spread over another). */
static int wtlfu_resize(void *st, macho__shard *sh, uint32_t capacity) {
  wtlfu_state *s = st;
  uint64_t want = capacity <= 65536u ? 2ull * capacity : capacity / 2ull; /* as init */
  uint32_t words = 8;
  while (words < want && words < (1u << 30)) words <<= 1;
  if (words != s->sk.mask + 1) {
    uint64_t *t = macho__calloc(&sh->cache->alloc, words, sizeof(uint64_t));
    if (!t) return MACHO_ENOMEM;
    macho__free(&sh->cache->alloc, s->sk.table, sketch_bytes(&s->sk));
    s->sk.table = t;
    s->sk.mask = words - 1;
    s->sk.size = 0;
  }
  s->sk.sample_size = capacity <= UINT32_MAX / 10 ? 10 * (capacity ? capacity : 1) : UINT32_MAX;
  s->capacity = capacity;
  set_sizes(s);
  s->step = -CLIMB_STEP_PERCENT * capacity;
  s->hits_in_sample = s->misses_in_sample = 0;
  s->adjustment = 0;
  /* The window may now be over its share: its overflow joins probation. */
  while (s->window.len > s->window_max) move_to(s, sh, s->window.tail, Q_PROBATION);
  demote_from_protected(s, sh);
  return MACHO_OK;
}

const macho__policy_ops macho__policy_wtinylfu = {
    .name = "wtinylfu",
    .state_size = sizeof(wtlfu_state),
    .init = wtlfu_init,
    .destroy = wtlfu_destroy,
    .access = MACHO__ACCESS_BUFFER,
    .record_misses = true,
    .admission = true,
    .insert = wtlfu_insert,
    .on_access = wtlfu_access,
    .remove = wtlfu_remove,
    .victim = wtlfu_victim,
    .clear = wtlfu_clear,
    .remap = wtlfu_remap,
    .move = wtlfu_move,
    .memory = wtlfu_memory,
    .order = wtlfu_order,
    .hint = wtlfu_hint,
    .resize = wtlfu_resize,
};
