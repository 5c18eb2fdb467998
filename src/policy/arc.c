/*
 * arc.c -- ARC, the Adaptive Replacement Cache (Megiddo & Modha: "ARC: A
 * Self-Tuning, Low Overhead Replacement Cache", FAST'03), following
 * libCacheSim's ARC.c (the float-p version) so that our miss ratios can be
 * compared with its published ones exactly.
 *
 * Two LRU lists hold the cache: T1 the entries seen once recently, T2 those
 * seen at least twice. Two ghost LRU lists hold only the hashes of entries
 * evicted from them: B1 (from T1) and B2 (from T2). A target size p for T1
 * moves with the ghosts: a miss found in B1 says T1 was too small, so p grows
 * by max(|B2|/|B1|, 1); a miss found in B2 shrinks it by max(|B1|/|B2|, 1).
 * The victim comes from T1 while |T1| > p (or = p after a B2 hit), else from
 * T2 ("REPLACE"); a missed key found in a ghost enters T2, any other T1. The
 * lists together remember 2c keys (c = capacity): c cached, up to c ghosts.
 *
 * Details that decide exact figures, taken from libCacheSim (the paper leaves
 * them open): p is a real number, not an integer; the ghost hit is consumed
 * (adapt p, drop the ghost) when the miss is seen, before any eviction; the
 * eviction that follows a ghost hit is a plain REPLACE, otherwise the
 * paper's case IV: when |T1| + |B1| = c, drop B1's LRU and REPLACE, or, B1
 * being empty, evict T1's LRU without remembering it; else drop B2's LRU when
 * all four lists hold 2c, and REPLACE. REPLACE takes T1's LRU when T2 is
 * empty. Deletes and expirations leave T1/T2 without a ghost (libCacheSim's
 * remove).
 *
 * In macho the get miss (a miss record) comes before the put's eviction (victim)
 * and insertion (insert), as in libCacheSim. A put of a new key that no
 * get announced still finds its ghost at insertion: it then enters T2 and
 * adapts p, but its eviction was chosen by case IV. A byte budget can make
 * the shard evict while fewer than c entries are cached; the ghost pool is
 * then full and the oldest ghost of B2 (else B1) is forgotten first.
 *
 * Policy bits: bit 0 = in T2. T1 and T2 are lists over a links array of the
 * table's slots (8 bytes per slot, renamed on moves and rebuilds). The
 * ghosts are one node pool of c nodes (hash and links, 16 bytes) with an
 * open-addressing table (8-byte slots, 2-4 per node) whose slots also carry
 * the ghost's list; sized at init, no operation allocates: 40-56 bytes per
 * entry of capacity. Hits arrive through the read buffer (ARC moves an
 * entry on every hit), misses as records (the ghost is consulted there).
 */
#include "policy.h"

#define IN_T2 1u
#define B2_BIT 0x80000000u /* in a table slot's node field: the ghost is in B2 */

typedef struct ghost_node {
  uint64_t hash;
  uint32_t prev, next; /* prev = more recent */
} ghost_node;

typedef struct ghost_slot {
  uint32_t tag;  /* hash >> 32; its low bits are the home slot */
  uint32_t node; /* node index | B2_BIT, or MACHO__NIL = empty */
} ghost_slot;

typedef struct ghost_list {
  uint32_t head, tail, len; /* head = most recent */
} ghost_list;

typedef struct arc_state {
  macho__dlist t1, t2;
  macho__link *lk;
  uint32_t nslots;
  uint32_t capacity;
  double p; /* target size of T1 */
  /* The last get miss found its hash in a ghost (already consumed). */
  bool pending;
  bool pending_b2;
  uint64_t pending_hash;
  /* ghosts */
  ghost_list b1, b2;
  ghost_node *nodes;
  ghost_slot *table;
  uint32_t pool, mask, free_node;
} arc_state;

/* ---- ghosts ------------------------------------------------------------------ */
static ghost_list *glist(arc_state *s, bool b2) { return b2 ? &s->b2 : &s->b1; }

static void ghosts_reset(arc_state *s) {
  s->b1 = s->b2 = (ghost_list){MACHO__NIL, MACHO__NIL, 0};
  if (!s->pool) return;
  for (uint32_t i = 0; i <= s->mask; i++) s->table[i].node = MACHO__NIL;
  for (uint32_t i = 0; i < s->pool; i++) s->nodes[i].next = i + 1 < s->pool ? i + 1 : MACHO__NIL;
  s->free_node = 0;
}

/* Slot holding `hash`, or the empty slot where its probe ends. The high half
 * picks the home slot: the shard's index uses the low half. */
static uint32_t ghost_probe(const arc_state *s, uint64_t hash) {
  uint32_t tag = (uint32_t)(hash >> 32), i = tag & s->mask;
  for (;;) {
    const ghost_slot *g = &s->table[i];
    if (g->node == MACHO__NIL || (g->tag == tag && s->nodes[g->node & ~B2_BIT].hash == hash)) return i;
    i = (i + 1) & s->mask;
  }
}

static void ghost_slot_delete(arc_state *s, uint32_t i) {
  /* Backward-shift deletion: no tombstones, probe chains stay unbroken. */
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & s->mask;
    if (s->table[j].node == MACHO__NIL) break;
    uint32_t home = s->table[j].tag & s->mask;
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      s->table[i] = s->table[j];
      i = j;
    }
  }
  s->table[i].node = MACHO__NIL;
}

static void ghost_unlink(arc_state *s, ghost_list *l, uint32_t n) {
  ghost_node *x = &s->nodes[n];
  if (x->prev != MACHO__NIL) s->nodes[x->prev].next = x->next;
  else l->head = x->next;
  if (x->next != MACHO__NIL) s->nodes[x->next].prev = x->prev;
  else l->tail = x->prev;
  l->len--;
  x->next = s->free_node;
  s->free_node = n;
}

/* Forget the LRU ghost of B1 or B2. */
static void ghost_drop_lru(arc_state *s, bool b2) {
  ghost_list *l = glist(s, b2);
  uint32_t n = l->tail;
  assert(n != MACHO__NIL);
  ghost_slot_delete(s, ghost_probe(s, s->nodes[n].hash));
  ghost_unlink(s, l, n);
}

static void ghost_push(arc_state *s, bool b2, uint64_t hash) {
  if (!s->pool) return;
  uint32_t i = ghost_probe(s, hash);
  if (s->table[i].node != MACHO__NIL) return; /* a hash collision: remembered once */
  if (s->b1.len + s->b2.len == s->pool) { /* only under a byte budget, see the top */
    ghost_drop_lru(s, s->b2.len > 0);
    i = ghost_probe(s, hash);
  }
  ghost_list *l = glist(s, b2);
  uint32_t n = s->free_node;
  ghost_node *x = &s->nodes[n];
  s->free_node = x->next;
  x->hash = hash;
  x->prev = MACHO__NIL;
  x->next = l->head;
  if (l->head != MACHO__NIL) s->nodes[l->head].prev = n;
  else l->tail = n;
  l->head = n;
  l->len++;
  s->table[i] = (ghost_slot){(uint32_t)(hash >> 32), n | (b2 ? B2_BIT : 0)};
}

/* A request for `hash` missed the cache: if a ghost remembers it, adapt p
 * (case II or III of the paper), forget the ghost and return 1 (B1) or 2 (B2). */
static int ghost_hit(arc_state *s, uint64_t hash) {
  if (!s->pool || s->b1.len + s->b2.len == 0) return 0;
  uint32_t i = ghost_probe(s, hash);
  uint32_t node = s->table[i].node;
  if (node == MACHO__NIL) return 0;
  bool b2 = (node & B2_BIT) != 0;
  double b1n = s->b1.len, b2n = s->b2.len;
  if (!b2) {
    double delta = b2n / b1n > 1.0 ? b2n / b1n : 1.0;
    s->p = s->p + delta < s->capacity ? s->p + delta : s->capacity;
  } else {
    double delta = b1n / b2n > 1.0 ? b1n / b2n : 1.0;
    s->p = s->p - delta > 0.0 ? s->p - delta : 0.0;
  }
  ghost_slot_delete(s, i);
  ghost_unlink(s, glist(s, b2), node & ~B2_BIT);
  return b2 ? 2 : 1;
}

/* ---- policy ------------------------------------------------------------------- */
static size_t table_slots(uint32_t pool) {
  size_t n = 4;
  while (n < 2u * (size_t)pool) n <<= 1;
  return n;
}

static int arc_init(void *st, macho__shard *sh, uint32_t capacity, uint32_t nslots) {
  arc_state *s = st;
  macho__alloc *a = &sh->cache->alloc;
  macho__dlist_init(&s->t1);
  macho__dlist_init(&s->t2);
  s->capacity = capacity;
  s->pool = capacity;
  s->nslots = nslots;
  size_t slots = table_slots(s->pool);
  s->mask = (uint32_t)(slots - 1);
  s->lk = macho__links_new(sh, nslots);
  s->nodes = macho__malloc(a, (size_t)s->pool * sizeof(ghost_node));
  s->table = macho__malloc(a, slots * sizeof(ghost_slot));
  if (!s->lk || !s->nodes || !s->table) {
    if (s->lk) macho__links_free(sh, s->lk, nslots);
    macho__free(a, s->nodes, (size_t)s->pool * sizeof(ghost_node));
    macho__free(a, s->table, slots * sizeof(ghost_slot));
    s->lk = NULL;
    s->nodes = NULL;
    s->table = NULL;
    return MACHO_ENOMEM;
  }
  ghosts_reset(s);
  return MACHO_OK;
}

static void arc_destroy(void *st, macho__shard *sh) {
  arc_state *s = st;
  macho__alloc *a = &sh->cache->alloc;
  macho__links_free(sh, s->lk, s->nslots);
  macho__free(a, s->nodes, (size_t)s->pool * sizeof(ghost_node));
  macho__free(a, s->table, ((size_t)s->mask + 1) * sizeof(ghost_slot));
  s->lk = NULL;
  s->nodes = NULL;
  s->table = NULL;
}

static void arc_miss(arc_state *s, uint64_t hash) {
  if (s->pending && s->pending_hash == hash) return; /* a repeated miss: already consumed */
  int g = ghost_hit(s, hash);
  s->pending = g != 0;
  s->pending_b2 = g == 2;
  s->pending_hash = hash;
}

static macho__dlist *list_of(arc_state *s, macho__shard *sh, uint32_t id) {
  return macho__pol_bits(sh, id) & IN_T2 ? &s->t2 : &s->t1;
}

static void arc_insert(void *st, macho__shard *sh, uint32_t id, uint64_t hash) {
  arc_state *s = st;
  bool seen = (s->pending && s->pending_hash == hash) || ghost_hit(s, hash) != 0;
  s->pending = false;
  macho__pol_set(sh, id, seen ? IN_T2 : 0);
  macho__dlist_push_front(s->lk, seen ? &s->t2 : &s->t1, id);
}

static void arc_hit(arc_state *s, macho__shard *sh, uint32_t id) {
  s->pending = false;
  if (!(macho__pol_bits(sh, id) & IN_T2)) {
    macho__dlist_remove(s->lk, &s->t1, id);
    macho__pol_set(sh, id, IN_T2);
    macho__dlist_push_front(s->lk, &s->t2, id);
  } else {
    macho__dlist_move_front(s->lk, &s->t2, id);
  }
}

static void arc_access(void *st, macho__shard *sh, const uint64_t *recs, uint32_t n) {
  arc_state *s = st;
  for (uint32_t i = 0; i < n; i++) {
    if (recs[i] & MACHO__REC_MISS) arc_miss(s, macho__hash63(recs[i]));
    else if (macho__pol_live(sh, (uint32_t)recs[i])) arc_hit(s, sh, (uint32_t)recs[i]);
  }
}

static void arc_remove(void *st, macho__shard *sh, uint32_t id) {
  arc_state *s = st;
  macho__dlist_remove(s->lk, list_of(s, sh, id), id);
}

/* REPLACE: the LRU of T1 or T2 leaves for its ghost list. */
static uint32_t replace(arc_state *s, macho__shard *sh, bool after_b2_hit) {
  double t1 = s->t1.len;
  bool from_t1 = s->t2.len == 0 || (s->t1.len > 0 && (t1 > s->p || (t1 == s->p && after_b2_hit)));
  uint32_t id = macho__dlist_pop_back(s->lk, from_t1 ? &s->t1 : &s->t2);
  ghost_push(s, !from_t1, macho__pol_hash(sh, id));
  return id;
}

static uint32_t arc_victim(void *st, macho__shard *sh) {
  arc_state *s = st;
  if (s->pending) return replace(s, sh, s->pending_b2);
  /* Case IV: the missed key is in no list. */
  if ((uint64_t)s->t1.len + s->b1.len + 1 > s->capacity) {
    if (s->b1.len > 0) {
      ghost_drop_lru(s, false);
      return replace(s, sh, false);
    }
    return macho__dlist_pop_back(s->lk, &s->t1); /* T1 holds c: evicted, not remembered */
  }
  if ((uint64_t)s->t1.len + s->b1.len + s->t2.len + s->b2.len >= 2ull * s->capacity && s->b2.len > 0)
    ghost_drop_lru(s, true);
  return replace(s, sh, false);
}

static void arc_clear(void *st, macho__shard *sh) {
  (void)sh;
  arc_state *s = st;
  macho__dlist_init(&s->t1);
  macho__dlist_init(&s->t2);
  s->p = 0;
  s->pending = false;
  ghosts_reset(s);
}

static int arc_remap(void *st, macho__shard *sh, const uint32_t *map, uint32_t old_n, uint32_t new_n) {
  arc_state *s = st;
  macho__dlist lists[2] = {s->t1, s->t2};
  macho__link *lk = macho__links_remap(sh, s->lk, lists, 2, map, old_n, new_n);
  if (!lk) return MACHO_ENOMEM;
  s->t1 = lists[0];
  s->t2 = lists[1];
  s->lk = lk;
  s->nslots = new_n;
  return MACHO_OK;
}

static void arc_move(void *st, macho__shard *sh, uint32_t from, uint32_t to) {
  arc_state *s = st;
  /* The policy bits (the list) moved with the slot: read them at `to`. */
  macho__dlist_rename(s->lk, list_of(s, sh, to), from, to);
}

static size_t arc_memory(const void *st) {
  const arc_state *s = st;
  return (size_t)s->nslots * sizeof(macho__link) + (size_t)s->pool * sizeof(ghost_node) +
         ((size_t)s->mask + 1) * sizeof(ghost_slot);
}

/* Approximately the eviction order with no hit to come: REPLACE takes T1's
 * LRU while T1 is above its target p and T2's otherwise, so with T1 at or
 * under its target (the usual state once the workload has repeats) T2 goes
 * first; each list from its LRU end. Exact while p says "T2" for every
 * victim; off where p lets T1 go first, which changes as misses move p. */
static uint32_t arc_order(void *st, macho__shard *sh, bool hottest, uint32_t after, uint32_t *out,
                          uint32_t max) {
  arc_state *s = st;
  if (after != MACHO__NIL && !macho__pol_live(sh, after)) return 0;
  const bool t1_first = (double)s->t1.len > s->p || s->t2.len == 0;
  const macho__dlist *lists[2] = {t1_first ? &s->t1 : &s->t2, t1_first ? &s->t2 : &s->t1};
  uint32_t in = after == MACHO__NIL ? 0 : (list_of(s, sh, after) == lists[0] ? 0 : 1);
  return macho__lists_order(s->lk, lists, 2, hottest, in, after, out, max);
}

/* 1 for an entry in T2 (requested at least twice while cached), 0 in T1. */
static uint32_t arc_hint(void *st, macho__shard *sh, uint32_t id) {
  (void)st;
  return macho__pol_bits(sh, id) & IN_T2 ? 1u : 0u;
}

/* No resize hook: a new capacity rebuilds the state (shard.c's
 * settle_policy), the entries inserted coldest first into a fresh T1 and
 * the ghosts empty, as after a restart. */

const macho__policy_ops macho__policy_arc = {
    .name = "arc",
    .state_size = sizeof(arc_state),
    .init = arc_init,
    .destroy = arc_destroy,
    .access = MACHO__ACCESS_BUFFER,
    .record_misses = true,
    .insert = arc_insert,
    .on_access = arc_access,
    .remove = arc_remove,
    .victim = arc_victim,
    .clear = arc_clear,
    .remap = arc_remap,
    .move = arc_move,
    .memory = arc_memory,
    .order = arc_order,
    .hint = arc_hint,
};
