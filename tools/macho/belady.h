/*
 * belady.h -- Belady's offline optimal replacement (MIN), the lower bound on
 * the miss ratio of any online policy; simulator-only (`--policy belady`).
 */
#ifndef MACHO_BELADY_H
#define MACHO_BELADY_H

#include <stddef.h>
#include <stdint.h>

typedef struct belady belady;

/* A cache of `capacity` (>= 1) entries. 0, or -1 when out of memory. */
int belady_open(belady **out, size_t capacity);
/* One request: key and the index of its next request (TRACE_NEVER for none).
 * Returns 1 for a hit, 0 for a miss (the key is then admitted). */
int belady_access(belady *b, uint64_t key, uint64_t next);
/* Bytes held, for the docs' memory figures. */
size_t belady_memory(const belady *b);
void belady_close(belady *b);

#endif
