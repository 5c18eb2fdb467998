/*
 * belady.c -- Belady's MIN (L. A. Belady, "A study of replacement algorithms
 * for a virtual-storage computer", IBM Systems Journal 5(2), 1966): on a miss
 * with a full cache, evict the entry whose next request lies farthest in the
 * future. With unit-size entries no online policy misses less, so it is the
 * floor every policy's miss ratio is measured against.
 *
 * The caller supplies each request's next-use index (oracleGeneral records
 * carry it; `macho sim` computes it in a pre-pass for the other formats).
 * Cached entries sit in a binary max-heap keyed by next use, indexed so a hit
 * can re-key its entry in place: O(log n) per request, no stale heap entries.
 * A key -> slot map finds entries; slots never move, only heap positions do.
 * Entries never requested again share the key TRACE_NEVER: which of them goes
 * first cannot change the number of misses.
 */
#include "belady.h"
#include "trace.h"

#include <stdlib.h>

typedef struct slot {
  uint64_t key;
  uint64_t next;
  uint32_t pos; /* index in heap[] */
} slot;

struct belady {
  size_t cap, len;
  slot *slots;
  uint32_t *heap; /* slot ids, max-heap on slots[].next */
  trace_map map;  /* key -> slot id */
};

int belady_open(belady **out, size_t capacity) {
  *out = NULL;
  if (capacity == 0 || capacity >= UINT32_MAX) return -1;
  belady *b = calloc(1, sizeof *b);
  if (!b) return -1;
  b->cap = capacity;
  b->slots = malloc(capacity * sizeof *b->slots);
  b->heap = malloc(capacity * sizeof *b->heap);
  if (!b->slots || !b->heap || trace_map_init(&b->map, capacity) < 0) {
    belady_close(b);
    return -1;
  }
  *out = b;
  return 0;
}

void belady_close(belady *b) {
  if (!b) return;
  free(b->slots);
  free(b->heap);
  trace_map_free(&b->map);
  free(b);
}

size_t belady_memory(const belady *b) {
  return sizeof *b + b->cap * (sizeof *b->slots + sizeof *b->heap) +
         b->map.cap * (sizeof *b->map.keys + sizeof *b->map.vals + 1);
}

static inline void place(belady *b, size_t i, uint32_t s) {
  b->heap[i] = s;
  b->slots[s].pos = (uint32_t)i;
}

static void sift_up(belady *b, size_t i) {
  uint32_t s = b->heap[i];
  uint64_t v = b->slots[s].next;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (b->slots[b->heap[parent]].next >= v) break;
    place(b, i, b->heap[parent]);
    i = parent;
  }
  place(b, i, s);
}

static void sift_down(belady *b, size_t i) {
  uint32_t s = b->heap[i];
  uint64_t v = b->slots[s].next;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= b->len) break;
    if (c + 1 < b->len && b->slots[b->heap[c + 1]].next > b->slots[b->heap[c]].next) c++;
    if (b->slots[b->heap[c]].next <= v) break;
    place(b, i, b->heap[c]);
    i = c;
  }
  place(b, i, s);
}

int belady_access(belady *b, uint64_t key, uint64_t next) {
  uint32_t *found = trace_map_find(&b->map, key);
  if (found) {
    slot *e = &b->slots[*found];
    uint64_t old = e->next;
    e->next = next;
    /* The old key was this very request's index, so next use only grows;
     * sift both ways anyway so that odd input cannot corrupt the heap. */
    if (next > old) sift_up(b, e->pos);
    else sift_down(b, e->pos);
    return 1;
  }
  uint32_t s;
  bool added;
  if (b->len == b->cap) {
    s = b->heap[0]; /* farthest next use */
    trace_map_delete(&b->map, b->slots[s].key);
    b->slots[s].key = key;
    b->slots[s].next = next;
    /* The map was sized for cap entries and just lost one: no growth here. */
    *trace_map_upsert(&b->map, key, s, &added) = s;
    sift_down(b, 0);
  } else {
    s = (uint32_t)b->len++;
    b->slots[s].key = key;
    b->slots[s].next = next;
    b->heap[b->len - 1] = s;
    b->slots[s].pos = (uint32_t)(b->len - 1);
    *trace_map_upsert(&b->map, key, s, &added) = s;
    sift_up(b, b->len - 1);
  }
  return 0;
}
