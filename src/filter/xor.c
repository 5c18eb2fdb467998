/*
 * xor.c -- a binary fuse filter kept in step with churn by periodic rebuilds.
 *
 * Binary fuse filters (Graf & Lemire, "Binary Fuse Filters: Fast and Smaller
 * Than Xor Filters", ACM JEA 2022), the successor of xor filters (Graf &
 * Lemire, JEA 2020): each key hashes to three cells in neighbouring segments
 * of one array, and the cells are filled so that they combine to the key's
 * fingerprint. Building is "peeling": repeatedly take a cell that only one
 * remaining key uses, set that key aside; then assign the cells in reverse
 * order. About 1.13 cells per key, three memory accesses per query.
 *
 * Hitting p exactly. With XOR and b-bit cells the false-positive rate is
 * 2^-b, so only powers of two are reachable. Peeling works in any abelian
 * group, so this filter combines cells by addition modulo r (the cells hold
 * values in [0, r)): a key is accepted when d = (f - c0 - c1 - c2) mod r is
 * below t, with f = hash mod r. A member has d = 0; for a non-member d is
 * uniform, so the rate is exactly t/r. We pick r <= 256 and t
 * with t/r within 0.5% of p (the smallest such r), or t = 1, r = round(1/p)
 * when p < 1/256. Cells are bit-packed in ceil(log2 r) bits, so the space is
 * 1.13 ceil(log2 r) bits per key against the theoretical 1.13 log2(1/p),
 * plus the side table below.
 *
 * Following churn. The built structure is static, so:
 *  - keys added since the build go to a small side table of 32-bit
 *    fingerprints (open addressing), which queries also consult;
 *  - a removed key that the static part still answers for is counted as
 *    stale (it keeps answering "maybe" for that key until the next build);
 *    a removed key the static part rejects must be in the side table and is
 *    taken out of it;
 *  - when side entries (tombstones included) or stale keys reach
 *    S = max(64, capacity/16), the shard hands over its live hashes and the
 *    filter is rebuilt from them.
 * A rebuild costs O(n), and happens at most once per S changes, so the
 * amortised cost is O(n/S) = O(16) cell updates per insert or removal, paid
 * as a pause of one O(n) build under the shard lock every S changes (shard
 * the cache to keep the pause small). If a rebuild cannot allocate, the side
 * table keeps taking keys up to 7/8 load; past that the filter answers
 * "maybe" for everything until a rebuild succeeds. Never a false negative.
 * The side table's own false-positive rate is about (probe run length) / 2^32,
 * negligible next to p.
 */
#include "../internal.h"
#include "../hash.h"

#include <math.h>
#include <stdlib.h>

#define BUILD_ATTEMPTS 32
#define RETRY_AFTER 1024u /* maintenance calls to wait after a failed rebuild */

typedef struct fuse {
  macho__alloc *a;
  uint32_t capacity;
  uint32_t r, t;       /* arithmetic mod r, accept d < t */
  uint32_t bits;       /* bits per cell: ceil(log2 r), cells bit-packed */
  /* static part */
  void *cells;
  uint32_t ncells;     /* array length; 0 = nothing built */
  uint32_t seg_len, seg_mask, seg_count_len;
  uint64_t build_seed;
  uint32_t nkeys;      /* distinct keys in the static part */
  /* dynamic part */
  uint32_t *side;      /* 32-bit fingerprints, 0 = empty slot */
  uint32_t nside;      /* slots */
  uint32_t side_used;  /* live entries */
  uint32_t side_tombs; /* deleted entries' tombstones */
  uint32_t limit;      /* S: side entries or stale keys that trigger a rebuild */
  uint32_t stale;
  bool saturated;      /* side table full: answer "maybe" until a rebuild */
  uint32_t backoff;
  uint64_t seed;
  uint64_t rebuilds;
} fuse;

/* ---- cells and probes ----------------------------------------------------- */

static inline uint64_t mulhi64(uint64_t a, uint64_t b) {
  return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* Cells are bit-packed: cell i occupies bits [i*bits, (i+1)*bits). A cell
 * starts at most 7 bits into a byte and is at most 32 bits wide, so one
 * unaligned 8-byte load (the array has 8 bytes of tail padding) holds it. */
static inline size_t cells_bytes(uint32_t ncells, uint32_t bits) {
  return ncells ? (size_t)(((uint64_t)ncells * bits + 7) / 8) + 8 : 0;
}

static inline uint32_t cell_load(const void *cells, uint32_t bits, uint32_t i) {
  uint64_t bit = (uint64_t)i * bits, v;
  memcpy(&v, (const uint8_t *)cells + (bit >> 3), sizeof v);
  return (uint32_t)((v >> (bit & 7)) & (((uint64_t)1 << bits) - 1));
}

static inline uint32_t cell_get(const fuse *x, uint32_t i) { return cell_load(x->cells, x->bits, i); }

static inline void cell_set(void *cells, uint32_t bits, uint32_t i, uint32_t val) {
  uint64_t bit = (uint64_t)i * bits, v, mask = ((uint64_t)1 << bits) - 1;
  uint8_t *p = (uint8_t *)cells + (bit >> 3);
  memcpy(&v, p, sizeof v);
  v = (v & ~(mask << (bit & 7))) | ((uint64_t)val << (bit & 7));
  memcpy(p, &v, sizeof v);
}

/* (a + b) mod r for a, b < r; 64-bit so that r may reach 2^32 - 1. */
static inline uint32_t addmod(uint32_t a, uint32_t b, uint32_t r) {
  uint64_t s = (uint64_t)a + b;
  return (uint32_t)(s >= r ? s - r : s);
}

/* The three cells of key h, as in Graf & Lemire's reference: a segment from
 * the high bits, the next two segments offset by low bits. */
static inline void cells_of(const fuse *x, uint64_t h, uint32_t out[3]) {
  uint32_t h0 = (uint32_t)mulhi64(h, x->seg_count_len);
  out[0] = h0;
  out[1] = (h0 + x->seg_len) ^ ((uint32_t)(h >> 18) & x->seg_mask);
  out[2] = (h0 + 2 * x->seg_len) ^ ((uint32_t)h & x->seg_mask);
}

static inline uint32_t fingerprint(const fuse *x, uint64_t h) {
  return macho__fastrange32((uint32_t)(macho__mix64(h) >> 32), x->r);
}

static inline uint64_t static_key(uint64_t hash, uint64_t build_seed) {
  return macho__mix64(hash + build_seed);
}

static bool static_has(const fuse *x, uint64_t hash) {
  if (!x->ncells) return false;
  uint64_t h = static_key(hash, x->build_seed);
  uint32_t c[3];
  cells_of(x, h, c);
  uint32_t s = addmod(addmod(cell_get(x, c[0]), cell_get(x, c[1]), x->r), cell_get(x, c[2]), x->r);
  uint32_t f = fingerprint(x, h);
  uint32_t d = f >= s ? f - s : f + x->r - s;
  return d < x->t;
}

/* ---- side table ----------------------------------------------------------
 * Open addressing over 32-bit fingerprints. The home slot comes from the
 * high half of a mix of the hash and the stored fingerprint from the low
 * half, so a query only matches an entry whose 32 independent bits agree:
 * the table's own false-positive rate is (probe run length) / 2^32. As the
 * home cannot be recomputed from a stored entry, deletion leaves a
 * tombstone; tombstones count towards the rebuild threshold and vanish with
 * the table at every rebuild. */
#define SIDE_EMPTY 0u
#define SIDE_TOMB 1u

typedef struct side_key {
  uint32_t home, v;
} side_key;

static inline side_key side_key_of(const fuse *x, uint64_t hash) {
  uint64_t m = macho__mix64(hash ^ x->seed);
  side_key k = {macho__fastrange32((uint32_t)(m >> 32), x->nside), (uint32_t)m};
  if (k.v <= SIDE_TOMB) k.v += 2;
  return k;
}

static inline uint32_t side_next(const fuse *x, uint32_t i) { return i + 1 == x->nside ? 0 : i + 1; }

static bool side_has(const fuse *x, side_key k) {
  for (uint32_t i = k.home;; i = side_next(x, i)) {
    if (x->side[i] == SIDE_EMPTY) return false;
    if (x->side[i] == k.v) return true;
  }
}

/* Occupied slots (live + tombstones) stay below 7/8, so every probe run ends. */
static bool side_put(fuse *x, side_key k) {
  uint32_t i = k.home;
  while (x->side[i] > SIDE_TOMB) i = side_next(x, i);
  if (x->side[i] == SIDE_TOMB) {
    x->side_tombs--;
  } else if (x->side_used + x->side_tombs >= x->nside - x->nside / 8) {
    return false;
  }
  x->side[i] = k.v;
  x->side_used++;
  return true;
}

static bool side_take(fuse *x, side_key k) {
  for (uint32_t i = k.home;; i = side_next(x, i)) {
    if (x->side[i] == SIDE_EMPTY) return false;
    if (x->side[i] == k.v) {
      x->side[i] = SIDE_TOMB;
      x->side_used--;
      x->side_tombs++;
      return true;
    }
  }
}

static void fuse_clear(void *f);

/* ---- building -------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static uint32_t sort_unique(uint64_t *v, uint32_t n) {
  if (n < 2) return n;
  qsort(v, n, sizeof *v, cmp_u64);
  uint32_t j = 1;
  for (uint32_t i = 1; i < n; i++)
    if (v[i] != v[j - 1]) v[j++] = v[i];
  return j;
}

/* Geometry for n keys, after the reference's tuned formulas (arity 3). */
static void geometry(uint32_t n, uint32_t *seg_len, uint32_t *seg_count, uint32_t *ncells) {
  if (n < 2) n = 2;
  uint32_t sl = 1u << (int)floor(log((double)n) / log(3.33) + 2.25);
  if (sl > 262144) sl = 262144;
  double factor = fmax(1.125, 0.875 + 0.25 * log(1e6) / log((double)n));
  uint32_t cap = (uint32_t)round(n * factor);
  uint32_t segs = (cap + sl - 1) / sl;
  segs = segs > 2 ? segs - 2 : 1;
  *seg_len = sl;
  *seg_count = segs;
  *ncells = (segs + 2) * sl;
}

/* Peel and assign into `cells` (zeroed, ncells long). Returns false when the
 * hypergraph does not peel (retry with another seed) -- always the case when
 * the keys hold a duplicate. Scratch arrays are the caller's. */
typedef struct scratch {
  uint32_t *count; /* per cell: (number of keys << 2) | XOR of their slot numbers */
  uint64_t *hx;    /* per cell: XOR of the keys' hashes */
  uint32_t *queue; /* per cell: a cell is queued once, when its count reaches 1 */
  uint64_t *stack; /* per key */
  uint8_t *which;  /* per key: which of its three cells it owns */
} scratch;

static bool peel(const fuse *x, void *cells, const uint64_t *hashes, uint32_t n, scratch *s) {
  memset(s->count, 0, (size_t)x->ncells * sizeof *s->count);
  memset(s->hx, 0, (size_t)x->ncells * sizeof *s->hx);
  /* Visit the keys in the order of their first cell (a counting sort on the
   * top bits into `stack`), so that the counting pass walks the cell arrays
   * in order instead of at random: the reference implementation's trick,
   * several times faster once the arrays outgrow the CPU cache. The bucket
   * counters borrow `queue` (fewer buckets than cells). */
  uint32_t bits = 0, segs = x->seg_count_len / x->seg_len;
  while ((1u << bits) < segs) bits++;
  uint32_t *start = s->queue;
  memset(start, 0, ((size_t)1 << bits) * sizeof *start);
  for (uint32_t k = 0; k < n; k++)
    start[bits ? static_key(hashes[k], x->build_seed) >> (64 - bits) : 0]++;
  for (uint32_t b = 0, sum = 0; b < (1u << bits); b++) {
    uint32_t c = start[b];
    start[b] = sum;
    sum += c;
  }
  for (uint32_t k = 0; k < n; k++) {
    uint64_t h = static_key(hashes[k], x->build_seed);
    s->stack[start[bits ? h >> (64 - bits) : 0]++] = h;
  }
  for (uint32_t k = 0; k < n; k++) {
    uint64_t h = s->stack[k];
    uint32_t c[3];
    cells_of(x, h, c);
    for (uint32_t j = 0; j < 3; j++) {
      s->count[c[j]] = (s->count[c[j]] + 4) ^ j;
      s->hx[c[j]] ^= h;
    }
  }
  uint32_t qn = 0, sn = 0;
  for (uint32_t i = 0; i < x->ncells; i++)
    if ((s->count[i] >> 2) == 1) s->queue[qn++] = i;
  while (qn) {
    uint32_t i = s->queue[--qn];
    if ((s->count[i] >> 2) != 1) continue;
    uint64_t h = s->hx[i];
    uint32_t j = s->count[i] & 3;
    uint32_t c[3];
    cells_of(x, h, c);
    if (j > 2 || c[j] != i) return false; /* a stray XOR: duplicate keys */
    s->stack[sn] = h;
    s->which[sn++] = (uint8_t)j;
    for (uint32_t o = 0; o < 3; o++) {
      uint32_t ci = c[o];
      s->count[ci] = (s->count[ci] - 4) ^ o;
      s->hx[ci] ^= h;
      if ((s->count[ci] >> 2) == 1) s->queue[qn++] = ci;
    }
  }
  if (sn != n) return false;
  for (uint32_t k = n; k-- > 0;) {
    uint64_t h = s->stack[k];
    uint32_t c[3], j = s->which[k];
    cells_of(x, h, c);
    /* cell[c_j] = f - cell[other] - cell[other'] (mod r); the owned cell is 0 now. */
    uint32_t sum = 0;
    for (uint32_t o = 0; o < 3; o++)
      if (o != j) sum = addmod(sum, cell_load(cells, x->bits, c[o]), x->r);
    uint32_t f = fingerprint(x, h);
    cell_set(cells, x->bits, c[j], f >= sum ? f - sum : f + x->r - sum);
  }
  return true;
}

static int fuse_rebuild(void *f, uint64_t *hashes, uint32_t n) {
  fuse *x = f;
  macho__alloc *a = x->a;
  if (n == 0) {
    fuse_clear(x);
    return MACHO_OK;
  }
  fuse next = *x; /* geometry and seed of the candidate */
  uint32_t seg_count;
  geometry(n, &next.seg_len, &seg_count, &next.ncells);
  next.seg_mask = next.seg_len - 1;
  next.seg_count_len = seg_count * next.seg_len;
  size_t nc = next.ncells, nk = n, cb = cells_bytes(next.ncells, x->bits);
  scratch s;
  s.count = macho__malloc(a, nc * sizeof *s.count);
  s.hx = macho__malloc(a, nc * sizeof *s.hx);
  s.queue = macho__malloc(a, nc * sizeof *s.queue);
  s.stack = macho__malloc(a, nk * sizeof *s.stack);
  s.which = macho__malloc(a, nk);
  void *cells = macho__calloc(a, 1, cb);
  bool ok = false;
  if (s.count && s.hx && s.queue && s.stack && s.which && cells) {
    bool deduped = false;
    for (int attempt = 0; attempt < BUILD_ATTEMPTS && !ok; attempt++) {
      next.build_seed = macho__mix64(x->build_seed + (uint64_t)attempt + 0x5eed);
      ok = peel(&next, cells, hashes, n, &s);
      if (!ok) {
        memset(cells, 0, cb);
        if (!deduped) {
          n = sort_unique(hashes, n);
          deduped = true;
        }
      }
    }
  }
  macho__free(a, s.count, nc * sizeof *s.count);
  macho__free(a, s.hx, nc * sizeof *s.hx);
  macho__free(a, s.queue, nc * sizeof *s.queue);
  macho__free(a, s.stack, nk * sizeof *s.stack);
  macho__free(a, s.which, nk);
  if (!ok) {
    macho__free(a, cells, cb);
    return MACHO_ENOMEM;
  }
  macho__free(a, x->cells, cells_bytes(x->ncells, x->bits));
  next.cells = cells;
  next.nkeys = n;
  *x = next;
  memset(x->side, 0, (size_t)x->nside * sizeof *x->side);
  x->side_used = x->side_tombs = 0;
  x->stale = 0;
  x->saturated = false;
  x->backoff = 0;
  x->rebuilds++;
  return MACHO_OK;
}

/* ---- the filter ops ------------------------------------------------------------ */

static void choose_rate(fuse *x, double p) {
  if (p < 1.0 / 256) {
    double r = round(1.0 / p);
    x->r = r > 4294967295.0 ? 4294967295u : (uint32_t)r; /* p below ~2e-10 lands on ~2e-10 */
    x->t = 1;
  } else {
    /* The smallest r (fewest bits per cell) with t/r within 0.5% of p, else
     * the closest t/r with r <= 256. t stays in [1, r - 1]: near p = 1
     * (above 255/256) rounding gave t = r for every r, no pair was chosen,
     * and r = t = 0 rejected every member (issue 10, defect 2). Clamped,
     * such p land on 255/256: fewer false positives than asked, never a
     * false negative. */
    double best = INFINITY;
    x->r = 2;
    x->t = 1;
    for (uint32_t r = 2; r <= 256 && best > 0.005; r++) {
      uint32_t t = (uint32_t)lround(p * r);
      if (t < 1) t = 1;
      if (t > r - 1) t = r - 1;
      double err = fabs((double)t / r - p) / p;
      if (err < best - 1e-12) {
        best = err;
        x->r = r;
        x->t = t;
      }
    }
  }
  x->bits = 1;
  while (x->bits < 32 && ((uint64_t)1 << x->bits) < x->r) x->bits++;
}

static int fuse_create(void **out, macho__alloc *a, uint32_t capacity, double p,
                       uint64_t seed) {
  fuse *x = macho__calloc(a, 1, sizeof *x);
  if (!x) return MACHO_ENOMEM;
  x->a = a;
  x->capacity = capacity;
  choose_rate(x, p);
  x->seed = macho__mix64(seed ^ 0xf05ef11e7ULL);
  x->build_seed = x->seed;
  x->limit = capacity / 16 > 64 ? capacity / 16 : 64;
  /* Room for `limit` entries at load 3/4, and for growth to 7/8 when a
   * rebuild is postponed. */
  x->nside = x->limit + x->limit / 3 + 2;
  x->side = macho__calloc(a, x->nside, sizeof *x->side);
  if (!x->side) {
    macho__free(a, x, sizeof *x);
    return MACHO_ENOMEM;
  }
  *out = x;
  return MACHO_OK;
}

static void fuse_destroy(void *f, macho__alloc *a) {
  fuse *x = f;
  if (!x) return;
  macho__free(a, x->cells, cells_bytes(x->ncells, x->bits));
  macho__free(a, x->side, (size_t)x->nside * sizeof *x->side);
  macho__free(a, x, sizeof *x);
}

static void fuse_add(void *f, uint64_t hash) {
  fuse *x = f;
  if (!x->saturated && !side_put(x, side_key_of(x, hash))) x->saturated = true;
}

static void fuse_remove(void *f, uint64_t hash) {
  fuse *x = f;
  /* The static part answers for it (as a member or a false positive): leave
   * the side table alone, it may hold the key too and must keep it. */
  if (static_has(x, hash)) {
    x->stale++;
    return;
  }
  /* Otherwise it was added after the build, so it is in the side table --
   * unless the table was full then (saturated), which only a rebuild cures. */
  (void)side_take(x, side_key_of(x, hash));
}

static int fuse_maybe_contains(const void *f, uint64_t hash) {
  const fuse *x = f;
  if (macho__unlikely(x->saturated)) return 1;
  if (static_has(x, hash)) return 1;
  return x->side_used && side_has(x, side_key_of(x, hash));
}

static void fuse_clear(void *f) {
  fuse *x = f;
  macho__free(x->a, x->cells, cells_bytes(x->ncells, x->bits));
  x->cells = NULL;
  x->ncells = x->nkeys = 0;
  memset(x->side, 0, (size_t)x->nside * sizeof *x->side);
  x->side_used = x->side_tombs = x->stale = 0;
  x->saturated = false;
  x->backoff = 0;
}

static int fuse_wants_rebuild(void *f) {
  fuse *x = f;
  if (x->backoff) {
    x->backoff--;
    return 0;
  }
  if (x->side_used + x->side_tombs < x->limit && x->stale < x->limit && !x->saturated) return 0;
  x->backoff = RETRY_AFTER; /* cleared by a successful rebuild */
  return 1;
}

static size_t fuse_memory(const void *f) {
  const fuse *x = f;
  return sizeof *x + cells_bytes(x->ncells, x->bits) + (size_t)x->nside * sizeof *x->side;
}

const macho__filter_ops macho__filter_xor = {
    .name = "xor",
    .create = fuse_create,
    .destroy = fuse_destroy,
    .add = fuse_add,
    .remove = fuse_remove,
    .maybe_contains = fuse_maybe_contains,
    .clear = fuse_clear,
    .memory = fuse_memory,
    .wants_rebuild = fuse_wants_rebuild,
    .rebuild = fuse_rebuild,
};
