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
 * In macho the get miss (on_miss) comes before the put's eviction (victim)
 * and insertion (on_insert), as in libCacheSim. A put of a new key that no
 * get announced still finds its ghost at insertion: it then enters T2 and
 * adapts p, but its eviction was chosen by case IV. A byte budget can make
 * the shard evict while fewer than c entries are cached; the ghost pool is
 * then full and the oldest ghost of B2 (else B1) is forgotten first.
 *
 * meta = list (1 = T1, 2 = T2). The ghosts are one node pool of c nodes
 * (hash and links, 16 bytes) with an open-addressing table (8-byte slots,
 * 2-4 per node) whose slots also carry the ghost's list; all sized at init,
 * no operation allocates: 32-48 bytes per entry of capacity.
 */
#include "../internal.h"

enum { T1 = 1, T2 = 2 };
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
  macho__list t1, t2;
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

static int arc_init(void *st, macho__shard *sh, uint32_t capacity) {
  arc_state *s = st;
  macho__list_init(&s->t1);
  macho__list_init(&s->t2);
  s->capacity = capacity;
  s->pool = capacity;
  if (s->pool) {
    size_t slots = table_slots(s->pool);
    s->mask = (uint32_t)(slots - 1);
    s->nodes = macho__malloc(sh->alloc, (size_t)s->pool * sizeof(ghost_node));
    s->table = macho__malloc(sh->alloc, slots * sizeof(ghost_slot));
    if (!s->nodes || !s->table) {
      macho__free(sh->alloc, s->nodes, (size_t)s->pool * sizeof(ghost_node));
      macho__free(sh->alloc, s->table, slots * sizeof(ghost_slot));
      s->nodes = NULL;
      s->table = NULL;
      return MACHO_ENOMEM;
    }
  }
  ghosts_reset(s);
  return MACHO_OK;
}

static void arc_destroy(void *st, macho__shard *sh) {
  arc_state *s = st;
  if (!s->pool) return;
  macho__free(sh->alloc, s->nodes, (size_t)s->pool * sizeof(ghost_node));
  macho__free(sh->alloc, s->table, ((size_t)s->mask + 1) * sizeof(ghost_slot));
  s->nodes = NULL;
  s->table = NULL;
}

static void arc_miss(void *st, macho__shard *sh, uint64_t hash) {
  (void)sh;
  arc_state *s = st;
  if (s->pending && s->pending_hash == hash) return; /* a repeated miss: already consumed */
  int g = ghost_hit(s, hash);
  s->pending = g != 0;
  s->pending_b2 = g == 2;
  s->pending_hash = hash;
}

static void arc_insert(void *st, macho__shard *sh, uint32_t id) {
  arc_state *s = st;
  macho__entry *e = macho__entry_at(sh, id);
  bool seen = (s->pending && s->pending_hash == e->hash) || ghost_hit(s, e->hash) != 0;
  s->pending = false;
  e->meta = seen ? T2 : T1;
  macho__list_push_front(sh, seen ? &s->t2 : &s->t1, id);
}

static void arc_hit(void *st, macho__shard *sh, uint32_t id) {
  arc_state *s = st;
  s->pending = false;
  macho__entry *e = macho__entry_at(sh, id);
  if (e->meta == T1) {
    macho__list_remove(sh, &s->t1, id);
    e->meta = T2;
    macho__list_push_front(sh, &s->t2, id);
  } else {
    macho__list_move_front(sh, &s->t2, id);
  }
}

static void arc_remove(void *st, macho__shard *sh, uint32_t id) {
  arc_state *s = st;
  macho__list_remove(sh, macho__entry_at(sh, id)->meta == T1 ? &s->t1 : &s->t2, id);
}

/* REPLACE: the LRU of T1 or T2 leaves for its ghost list. */
static uint32_t replace(arc_state *s, macho__shard *sh, bool after_b2_hit) {
  double t1 = s->t1.len;
  bool from_t1 = s->t2.len == 0 || (s->t1.len > 0 && (t1 > s->p || (t1 == s->p && after_b2_hit)));
  uint32_t id = macho__list_pop_back(sh, from_t1 ? &s->t1 : &s->t2);
  ghost_push(s, !from_t1, macho__entry_at(sh, id)->hash);
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
    return macho__list_pop_back(sh, &s->t1); /* T1 holds c: evicted, not remembered */
  }
  if ((uint64_t)s->t1.len + s->b1.len + s->t2.len + s->b2.len >= 2ull * s->capacity && s->b2.len > 0)
    ghost_drop_lru(s, true);
  return replace(s, sh, false);
}

static void arc_clear(void *st, macho__shard *sh) {
  (void)sh;
  arc_state *s = st;
  macho__list_init(&s->t1);
  macho__list_init(&s->t2);
  s->p = 0;
  s->pending = false;
  ghosts_reset(s);
}

static size_t arc_memory(const void *st) {
  const arc_state *s = st;
  if (!s->pool) return 0;
  return (size_t)s->pool * sizeof(ghost_node) + ((size_t)s->mask + 1) * sizeof(ghost_slot);
}

const macho__policy_ops macho__policy_arc = {
    .name = "arc",
    .state_size = sizeof(arc_state),
    .init = arc_init,
    .destroy = arc_destroy,
    .on_insert = arc_insert,
    .on_hit = arc_hit,
    .on_miss = arc_miss,
    .on_remove = arc_remove,
    .victim = arc_victim,
    .on_clear = arc_clear,
    .memory = arc_memory,
};
