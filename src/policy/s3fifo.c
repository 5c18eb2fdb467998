/*
 * s3fifo.c -- S3-FIFO (Yang, Zhang, Qiu, Yue, Rashmi: "FIFO queues are all you
 * need for cache eviction", SOSP'23), following libCacheSim's S3FIFO.c so that
 * our miss ratios can be compared with its published ones.
 *
 * Three FIFO queues. New entries go to the small queue S (10% of capacity);
 * most of them are requested once and leave soon ("quick demotion"), their
 * hashes going to a ghost queue G. An entry leaving S after at least two hits
 * moves to the main queue M (90%) instead. A missed key whose hash is in G was
 * evicted too early: it is inserted straight into M. M is a CLOCK with a
 * 2-bit counter: an entry at M's tail with a nonzero count is reinserted at
 * M's head with its count minus one; one with count zero is evicted. G holds
 * hashes only, as many as 90% of capacity, oldest forgotten first.
 *
 * Choices inherited from libCacheSim (default parameters): move-to-main
 * threshold 2 hits, ghost 90% of capacity, small = floor(10% of capacity).
 * New entries always enter S, even before the cache is full (so S may hold
 * more than its share until the first evictions drain it). That is the
 * original S3-FIFO (libCacheSim's S3FIFOv0.c) and reproduces the reference
 * miss ratios in ../shared/traces/README.md exactly; the later S3FIFO.c sends
 * entries that find S full to M until the first eviction, which pins those
 * entries in M on scan-like traces (lirs_loop, lirs_cs, lirs_multi*) and
 * moves the figures by up to 14 points. We differ in one place: libCacheSim
 * refuses to cache any object when S would hold a single entry (capacities
 * 10..19), hence its 100% miss ratio there; a cache must store what it is
 * given, so S is at least one entry here.
 *
 * Memory (about 11 bytes per entry of capacity beyond the table, against 40
 * with lists and a node pool): S and M are rings of 3-byte slot numbers
 * (ring.h) that grow and shrink with their queues, positions kept in the
 * policy bits: 0..1 = hit count (saturating at 3, which is all either
 * queue's rule looks at: S promotes at 2, M keeps min(count, 3) - 1), bit 2
 * = queue, 3..19 = position. Hits and misses both arrive through the read
 * buffer, in order (a miss consults the ghost, a hit cancels a pending
 * ghost hit). The ghost (below) is a FIFO with removal in about 9 bytes per
 * entry of ghost.
 */
#include "ring.h"

enum { Q_SMALL = 0, Q_MAIN = 1 };
#define MOVE_TO_MAIN_THRESHOLD 2u
#define MAX_COUNT 3u
#define COUNT_MASK 3u
#define QUEUE_BIT 4u
#define POS_SHIFT 3u
#define POS_BITS (MACHO__M_POL_BITS - POS_SHIFT)
#define MIN_RING 64u

/* ---- ghost ---------------------------------------------------------------------- */
/* A FIFO of the last G hashes evicted from S, with removal (a key found in
 * the ghost leaves it), as libCacheSim's list is, in about 9 bytes per entry
 * instead of 32. Hashes get consecutive insertion numbers; a bitmap over
 * those numbers says which are still in the FIFO, so forgetting the oldest
 * is advancing `cutoff` to the next set bit, and a removal clears a bit.
 * Membership goes through a table of 8-byte entries (a 40-bit fingerprint,
 * the 24-bit insertion number) in buckets of 8, each fingerprint with two
 * buckets, the second derived from the first and the fingerprint (a
 * partial-key cuckoo table: an entry can move to its other bucket without
 * its hash), at up to 90% load. Exact but for fingerprint collisions (one
 * false hit in 10^11 lookups). Small caches are chaotic: with 16-bit
 * fingerprints one false ghost hit moved a 56-entry cache's miss ratio by
 * 1.3 points on lirs_multi2. */
#define GHOST_WAYS 8u
#define GHOST_SEQ_MASK 0xffffffu
#define GHOST_MAX (1u << 21)      /* the bitmap window (4 G) must stay below 2^24 */

typedef struct ghost {
  uint64_t *e;        /* nb buckets of GHOST_WAYS entries: fp << 24 | insertion number; 0 = free */
  uint64_t *bits;     /* window bits: insertion n is in the FIFO iff bit n % window */
  uint32_t nb;
  uint32_t cap;       /* G */
  uint32_t window;    /* a power of two >= 4 G */
  uint32_t seq;       /* the next insertion number, modulo 2^24 */
  uint32_t cutoff;    /* numbers before it are forgotten */
  uint32_t len;       /* hashes in the FIFO */
} ghost;

static size_t ghost_table_bytes(const ghost *g) { return (size_t)g->nb * GHOST_WAYS * sizeof(uint64_t); }
static size_t ghost_bits_bytes(const ghost *g) { return (size_t)g->window / 8; }
/* The fingerprint comes from a remix, so it owes nothing to the bits that
 * chose the bucket. Never 0. */
static uint64_t fp_of(uint64_t hash) { return ((hash * 0x9E3779B97F4A7C15ull) >> 24) | 1u; }
static uint64_t fp_in(uint64_t x) { return x >> 24; }
static uint32_t seq_of(uint64_t x) { return (uint32_t)(x & GHOST_SEQ_MASK); }
static bool bit(const ghost *g, uint32_t n) { return (g->bits[(n & (g->window - 1)) / 64] >> (n % 64)) & 1u; }
static void set_bit(ghost *g, uint32_t n, bool on) {
  uint64_t *w = &g->bits[(n & (g->window - 1)) / 64];
  uint64_t m = 1ull << (n % 64);
  *w = on ? *w | m : *w & ~m;
}
static uint32_t dist(uint32_t a, uint32_t b) { return (b - a) & GHOST_SEQ_MASK; } /* b - a */
static bool in_fifo(const ghost *g, uint64_t x) {
  return x && dist(g->cutoff, seq_of(x)) < dist(g->cutoff, g->seq) && bit(g, seq_of(x));
}
static uint32_t bucket1(const ghost *g, uint64_t hash) { return macho__fastrange32((uint32_t)hash, g->nb); }
/* The other bucket of fingerprint f in bucket b: (F - b) mod nb, its own inverse. */
static uint32_t other(const ghost *g, uint32_t b, uint64_t f) {
  uint32_t F = (uint32_t)(f % g->nb);
  return (F + g->nb - b) % g->nb;
}

static void ghost_reset(ghost *g) {
  if (g->e) memset(g->e, 0, ghost_table_bytes(g));
  if (g->bits) memset(g->bits, 0, ghost_bits_bytes(g));
  g->seq = g->cutoff = g->len = 0;
}

/* Where the hash's entry is, or SIZE_MAX. */
static size_t ghost_find(const ghost *g, uint64_t hash) {
  const uint64_t f = fp_of(hash);
  const uint32_t b1 = bucket1(g, hash), b[2] = {b1, other(g, b1, f)};
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < GHOST_WAYS; i++) {
      uint64_t x = g->e[(size_t)b[k] * GHOST_WAYS + i];
      if (fp_in(x) == f && in_fifo(g, x)) return (size_t)b[k] * GHOST_WAYS + i;
    }
  return SIZE_MAX;
}

static void forget_oldest(ghost *g) {
  while (!bit(g, g->cutoff)) g->cutoff = (g->cutoff + 1) & GHOST_SEQ_MASK;
  set_bit(g, g->cutoff, false);
  g->cutoff = (g->cutoff + 1) & GHOST_SEQ_MASK;
  g->len--;
}

/* Remove `hash` if present; true when it was. */
static bool ghost_take(ghost *g, uint64_t hash) {
  if (!g->cap) return false;
  size_t i = ghost_find(g, hash);
  if (i == SIZE_MAX) return false;
  set_bit(g, seq_of(g->e[i]), false);
  g->e[i] = 0;
  g->len--;
  return true;
}

/* A free (or forgotten) place in bucket b, or SIZE_MAX. */
static size_t room_in(const ghost *g, uint32_t b) {
  for (uint32_t i = 0; i < GHOST_WAYS; i++)
    if (!in_fifo(g, g->e[(size_t)b * GHOST_WAYS + i])) return (size_t)b * GHOST_WAYS + i;
  return SIZE_MAX;
}

static void ghost_add(ghost *g, uint64_t hash) {
  if (!g->cap || ghost_find(g, hash) != SIZE_MAX) return; /* already remembered */
  if (g->len == g->cap) forget_oldest(g);
  /* Removals leave gaps in the numbering: when the oldest is a whole window
   * behind, forget it to reuse its bit (the list would have kept it). */
  while (g->len && dist(g->cutoff, g->seq) >= g->window - 1) forget_oldest(g);
  const uint64_t f = fp_of(hash);
  const uint32_t b[2] = {bucket1(g, hash), other(g, bucket1(g, hash), f)};
  size_t at = room_in(g, b[0]);
  if (at == SIZE_MAX) at = room_in(g, b[1]);
  for (int k = 0; k < 2 && at == SIZE_MAX; k++) /* both full: move one aside (one cuckoo step) */
    for (uint32_t i = 0; i < GHOST_WAYS && at == SIZE_MAX; i++) {
      size_t from = (size_t)b[k] * GHOST_WAYS + i;
      size_t to = room_in(g, other(g, b[k], fp_in(g->e[from])));
      if (to == SIZE_MAX) continue;
      g->e[to] = g->e[from];
      at = from;
    }
  if (at == SIZE_MAX) { /* nowhere: the oldest of the 16 goes early (very rare at 90% load) */
    uint32_t oldest = 0;
    for (int k = 0; k < 2; k++)
      for (uint32_t i = 0; i < GHOST_WAYS; i++) {
        size_t j = (size_t)b[k] * GHOST_WAYS + i;
        uint32_t age = dist(seq_of(g->e[j]), g->seq);
        if (age >= oldest) oldest = age, at = j;
      }
    set_bit(g, seq_of(g->e[at]), false);
    g->len--;
  }
  g->e[at] = (f << 24) | g->seq;
  set_bit(g, g->seq, true);
  g->seq = (g->seq + 1) & GHOST_SEQ_MASK;
  g->len++;
}

static size_t ghost_cap_for(uint32_t capacity) {
  size_t cap = (size_t)(capacity * 0.90);
  return cap > GHOST_MAX ? GHOST_MAX : cap;
}

/* An empty ghost for a shard of `capacity` entries; ENOMEM leaves *g empty
 * (no memory held). */
static int ghost_alloc(ghost *g, macho__shard *sh, uint32_t capacity) {
  memset(g, 0, sizeof *g);
  g->cap = (uint32_t)ghost_cap_for(capacity);
  if (!g->cap) return MACHO_OK;
  /* 90% load over buckets of 8 with two choices and a cuckoo step. Small
   * ghosts get room to spare (a handful of buckets fills unevenly). */
  double load = g->cap <= 4096 ? 0.5 : 0.9;
  g->nb = (uint32_t)((g->cap / load + GHOST_WAYS - 1) / GHOST_WAYS);
  if (g->nb < 4) g->nb = 4;
  g->window = 8192; /* numbers a removal skipped must not push the oldest out */
  while (g->window < 4u * g->cap) g->window *= 2;
  g->e = macho__calloc(&sh->cache->alloc, 1, ghost_table_bytes(g));
  g->bits = macho__calloc(&sh->cache->alloc, 1, ghost_bits_bytes(g));
  if (g->e && g->bits) return MACHO_OK;
  if (g->e) macho__free(&sh->cache->alloc, g->e, ghost_table_bytes(g));
  if (g->bits) macho__free(&sh->cache->alloc, g->bits, ghost_bits_bytes(g));
  memset(g, 0, sizeof *g);
  return MACHO_ENOMEM;
}

static void ghost_free(ghost *g, macho__shard *sh) {
  if (g->e) macho__free(&sh->cache->alloc, g->e, ghost_table_bytes(g));
  if (g->bits) macho__free(&sh->cache->alloc, g->bits, ghost_bits_bytes(g));
  g->e = NULL;
  g->bits = NULL;
}

/* ---- queues: rings that grow and shrink -------------------------------------------- */
typedef struct fq {
  macho__ring r;
  uint32_t len; /* live entries */
} fq;

typedef struct s3fifo_state {
  fq small, main;
  uint32_t small_cap, main_cap;
  bool ghost_hit;      /* the last get miss found ghost_hash in the ghost */
  uint64_t ghost_hash;
  ghost g;
} s3fifo_state;

static uint32_t queue_of(macho__shard *sh, uint32_t id) {
  return (macho__pol_bits(sh, id) & QUEUE_BIT) ? Q_MAIN : Q_SMALL;
}
static uint32_t count_of(macho__shard *sh, uint32_t id) { return macho__pol_bits(sh, id) & COUNT_MASK; }
static uint32_t pos_of(macho__shard *sh, uint32_t id) { return macho__pol_bits(sh, id) >> POS_SHIFT; }
static uint32_t bits_for(uint32_t queue, uint32_t count, uint64_t c) {
  return (queue == Q_MAIN ? QUEUE_BIT : 0u) | count | (uint32_t)((c & ((1u << POS_BITS) - 1)) << POS_SHIFT);
}
static fq *q_of(s3fifo_state *s, uint32_t queue) { return queue == Q_SMALL ? &s->small : &s->main; }

/* Room at the head: squeeze holes out when they are a quarter or more, else
 * double. A ring that cannot grow is compacted (it holds at most capacity
 * live entries and has room for them). */
static void make_room(fq *q, macho__shard *sh, uint32_t queue) {
  macho__ring *r = &q->r;
  if (macho__ring_len(r) < r->cap) return;
  if (q->len > r->cap / 4 * 3 && macho__ring_resize(r, sh, r->cap * 2) == MACHO_OK) return;
  uint64_t w = r->tail;
  for (uint64_t c = r->tail; c < r->head; c++) {
    uint32_t e = macho__ring_get(r, c);
    if (e == MACHO__RING_HOLE) continue;
    if (c != w) {
      macho__ring_set(r, w, e);
      macho__pol_set(sh, e, bits_for(queue, count_of(sh, e), w));
    }
    w++;
  }
  r->head = w;
  if (macho__ring_len(r) == r->cap) (void)macho__ring_resize(r, sh, r->cap * 2); /* full of live ones */
}

static void maybe_shrink(fq *q, macho__shard *sh) {
  macho__ring *r = &q->r;
  if (r->cap > MIN_RING && macho__ring_len(r) < r->cap / 4) (void)macho__ring_resize(r, sh, r->cap / 2);
}

static void push(macho__shard *sh, s3fifo_state *s, uint32_t id, uint32_t queue, uint32_t count) {
  fq *q = q_of(s, queue);
  make_room(q, sh, queue);
  macho__ring_set(&q->r, q->r.head, id);
  macho__pol_set(sh, id, bits_for(queue, count, q->r.head));
  q->r.head++;
  q->len++;
}

static uint32_t pop(macho__shard *sh, fq *q) {
  if (!q->len) return MACHO__NIL;
  uint32_t id;
  while ((id = macho__ring_get(&q->r, q->r.tail)) == MACHO__RING_HOLE) q->r.tail++;
  q->r.tail++;
  q->len--;
  maybe_shrink(q, sh);
  return id;
}

static uint64_t where(fq *q, uint32_t id, uint32_t pos) {
  uint64_t c = macho__ring_find(&q->r, id, pos, POS_BITS, q->r.tail, q->r.head);
  assert(c < q->r.head);
  return c;
}

/* ---- policy ----------------------------------------------------------------- */
static int s3fifo_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  s3fifo_state *s = st;
  s->small_cap = (uint32_t)(capacity * 0.10);
  if (s->small_cap == 0) s->small_cap = 1;
  s->main_cap = capacity > s->small_cap ? capacity - s->small_cap : 0;
  (void)nslots;
  if (macho__ring_init_cap(&s->small.r, sh, MIN_RING, capacity) != MACHO_OK) return MACHO_ENOMEM;
  if (macho__ring_init_cap(&s->main.r, sh, MIN_RING, capacity) != MACHO_OK) goto fail_small;
  if (ghost_alloc(&s->g, sh, capacity) != MACHO_OK) {
    macho__ring_free(&s->main.r, sh);
    goto fail_small;
  }
  return MACHO_OK;
fail_small:
  macho__ring_free(&s->small.r, sh);
  return MACHO_ENOMEM;
}

static void s3fifo_destroy(void *st, macho__shard *sh) {
  s3fifo_state *s = st;
  macho__ring_free(&s->small.r, sh);
  macho__ring_free(&s->main.r, sh);
  ghost_free(&s->g, sh);
}

static void s3fifo_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  s3fifo_state *s = st;
  bool ghost_hit = (s->ghost_hit && s->ghost_hash == hash) || ghost_take(&s->g, hash);
  s->ghost_hit = false;
  push(sh, s, id, ghost_hit ? Q_MAIN : Q_SMALL, 0);
}

/* A get miss consults the ghost before the put that follows evicts: as in
 * libCacheSim, the evictions that make room must not push the missed key's
 * own hash out of the ghost. */
static void s3fifo_miss(void *st, macho__shard *sh, uint64_t hash) {
  (void)sh;
  s3fifo_state *s = st;
  if (s->ghost_hit && s->ghost_hash == hash) return; /* a repeated miss */
  s->ghost_hit = ghost_take(&s->g, hash);
  s->ghost_hash = hash;
}

static void s3fifo_hit(void *st, macho__shard *sh, uint32_t id) {
  ((s3fifo_state *)st)->ghost_hit = false;
  uint32_t p = macho__pol_bits(sh, id);
  if ((p & COUNT_MASK) < MAX_COUNT) macho__pol_set(sh, id, p + 1);
}

static void s3fifo_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    if (recs[i] & MACHO__REC_MISS) s3fifo_miss(st, sh, macho__hash63(recs[i]));
    else if (macho__pol_live(sh, (uint32_t)recs[i])) s3fifo_hit(st, sh, (uint32_t)recs[i]);
  }
}

static void s3fifo_remove(void *st, macho__shard *sh, uint32_t id) {
  s3fifo_state *s = st;
  fq *q = q_of(s, queue_of(sh, id));
  macho__ring_set(&q->r, where(q, id, pos_of(sh, id)), MACHO__RING_HOLE);
  q->len--;
}

/* Evict from S: entries hit often enough move to M; the first one that was not
 * is the victim, and its hash goes to the ghost. NIL when S drained into M. */
static uint32_t evict_small(s3fifo_state *s, macho__shard *sh) {
  uint32_t id;
  while ((id = pop(sh, &s->small)) != MACHO__NIL) {
    if (count_of(sh, id) >= MOVE_TO_MAIN_THRESHOLD) {
      push(sh, s, id, Q_MAIN, 0);
    } else {
      ghost_add(&s->g, macho__pol_hash(sh, id));
      return id;
    }
  }
  return MACHO__NIL;
}

/* Evict from M: a CLOCK with a 2-bit counter. */
static uint32_t evict_main(s3fifo_state *s, macho__shard *sh) {
  uint32_t id;
  while ((id = pop(sh, &s->main)) != MACHO__NIL) {
    uint32_t count = count_of(sh, id);
    if (count == 0) return id;
    push(sh, s, id, Q_MAIN, (count < MAX_COUNT ? count : MAX_COUNT) - 1);
  }
  return MACHO__NIL;
}

static uint32_t s3fifo_victim(void *st, macho__shard *sh) {
  s3fifo_state *s = st;
  uint32_t id = MACHO__NIL;
  if (s->main.len <= s->main_cap && s->small.len > 0) id = evict_small(s, sh);
  if (id == MACHO__NIL) id = evict_main(s, sh);
  assert(id != MACHO__NIL);
  return id;
}

static void s3fifo_clear(void *st, macho__shard *sh) {
  (void)sh;
  s3fifo_state *s = st;
  s->small.r.tail = s->small.r.head = s->main.r.tail = s->main.r.head = 0;
  s->small.len = s->main.len = 0;
  s->ghost_hit = false;
  ghost_reset(&s->g);
}

static int s3fifo_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  (void)old_n;
  s3fifo_state *s = st;
  /* Ring widths follow the capacity, not the table: renaming never
   * allocates, so it cannot fail half way. */
  (void)macho__ring_remap(&s->small.r, sh, map, new_n);
  (void)macho__ring_remap(&s->main.r, sh, map, new_n);
  if (!map) s->small.len = s->main.len = 0;
  return MACHO_OK;
}

static void s3fifo_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  s3fifo_state *s = st;
  /* The policy bits (queue, count, position) moved with the slot: read them at `to`. */
  fq *q = q_of(s, queue_of(sh, to));
  macho__ring_set(&q->r, where(q, from, pos_of(sh, to)), to);
}

static size_t s3fifo_memory(const void *st) {
  const s3fifo_state *s = st;
  return macho__ring_bytes(&s->small.r) + macho__ring_bytes(&s->main.r) +
         (s->g.e ? ghost_table_bytes(&s->g) + ghost_bits_bytes(&s->g) : 0);
}

/* The eviction order with no hit to come, approximately (exactly when no
 * entry of S is promoted nor any of M recycled in between). While M is within
 * its share, victim() drains S from its tail: entries hit fewer than twice
 * leave, the others move to M's head with a count of 0; then M's CLOCK
 * evicts its count-0 entries in a first lap, the promoted ones after them
 * and the ones at count c in lap c + 1 (each lap takes one off). So:
 * S with count 0..1, M with 0, S with 2..3, M with 1, 2, 3, each run in
 * queue order (tail first); with M over its share, M's count-0 run comes
 * first. The hottest are that backwards. Resuming after a slot: its queue
 * and count say which run it is in, its position where. */
typedef struct run {
  uint32_t queue, lo, hi; /* the entries of that queue with lo <= count <= hi */
} run;

static uint32_t s3fifo_order(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                             uint32_t max) {
  s3fifo_state *s = st;
  run runs[6] = {{Q_SMALL, 0, 1}, {Q_MAIN, 0, 0}, {Q_SMALL, 2, 3}, {Q_MAIN, 1, 1}, {Q_MAIN, 2, 2}, {Q_MAIN, 3, 3}};
  if (s->main.len > s->main_cap) {
    runs[0] = (run){Q_MAIN, 0, 0};
    runs[1] = (run){Q_SMALL, 0, 1};
  }
  int first = hottest ? 5 : 0;
  uint64_t c = 0;
  bool resume = after != MACHO__NIL;
  if (resume) {
    if (!macho__pol_live(sh, after)) return 0;
    uint32_t qa = queue_of(sh, after), ca = count_of(sh, after);
    for (first = 0; first < 6 && !(runs[first].queue == qa && runs[first].lo <= ca && ca <= runs[first].hi);)
      first++;
    uint64_t at = where(q_of(s, qa), after, pos_of(sh, after));
    c = hottest ? at : at + 1; /* the next position in the walk's direction */
  }
  uint32_t k = 0;
  for (int ri = first; ri >= 0 && ri <= 5 && k < max; ri += hottest ? -1 : 1) {
    const run *x = &runs[ri];
    const macho__ring *r = &q_of(s, x->queue)->r;
    uint64_t p = resume ? c : hottest ? r->head : r->tail;
    resume = false;
    while (k < max && (hottest ? p > r->tail : p < r->head)) {
      uint32_t e = macho__ring_get(r, hottest ? p - 1 : p);
      if (e != MACHO__RING_HOLE) {
        uint32_t n = count_of(sh, e);
        if (x->lo <= n && n <= x->hi) out[k++] = e;
      }
      p = hottest ? p - 1 : p + 1;
    }
  }
  return k;
}

static uint32_t s3fifo_hint(void *st, macho__shard *sh, uint32_t id) {
  (void)st;
  return count_of(sh, id);
}

/* A new capacity: the queues' shares follow it (their rings grow and shrink
 * by themselves). The ghost remembers 90% of the capacity: one that should
 * shrink by at most half keeps its table and forgets its oldest down to the
 * new size; otherwise it is replaced by an empty one of the new size (its
 * fingerprints cannot be moved to a table of another size), so a cache
 * shrunk a lot gives that memory back and one grown a lot learns a ghost of
 * the new size, starting over. Rings whose element width the new capacity
 * changes (past 15 million entries a shard) are rebuilt whole
 * (MACHO_ENOTSUP: the shard re-inserts every entry in eviction order).
 * ENOMEM (a new ghost) changes nothing. */
static int s3fifo_resize(void *st, macho__shard *sh, uint32_t capacity) {
  s3fifo_state *s = st;
  if ((capacity < 15000000u) != (s->small.r.width == 3)) return MACHO_ENOTSUP;
  ghost *g = &s->g;
  size_t want = ghost_cap_for(capacity);
  if (want <= g->cap && want >= g->cap / 2 && want) {
    g->cap = (uint32_t)want;
    while (g->len > g->cap) forget_oldest(g);
  } else if (want != g->cap) {
    ghost ng;
    if (ghost_alloc(&ng, sh, capacity) != MACHO_OK) return MACHO_ENOMEM;
    ghost_free(g, sh);
    *g = ng;
    s->ghost_hit = false;
  }
  s->small_cap = (uint32_t)(capacity * 0.10);
  if (s->small_cap == 0) s->small_cap = 1;
  s->main_cap = capacity > s->small_cap ? capacity - s->small_cap : 0;
  return MACHO_OK;
}

const macho__policy_ops macho__policy_s3fifo = {
    .name = "s3fifo",
    .state_size = sizeof(s3fifo_state),
    .access = MACHO__ACCESS_BUFFER,
    .record_misses = true,
    .init = s3fifo_init,
    .destroy = s3fifo_destroy,
    .insert = s3fifo_insert,
    .on_access = s3fifo_access,
    .remove = s3fifo_remove,
    .victim = s3fifo_victim,
    .clear = s3fifo_clear,
    .remap = s3fifo_remap,
    .move = s3fifo_move,
    .memory = s3fifo_memory,
    .order = s3fifo_order,
    .hint = s3fifo_hint,
    .resize = s3fifo_resize,
};
