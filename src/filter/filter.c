/*
 * filter.c -- the table of membership filters. MACHO_FILTER_NONE has no entry:
 * a shard without a filter skips the filter step entirely. Adding a filter is
 * one file in src/filter/ plus one line here.
 */
#include "../internal.h"

extern const macho__filter_ops macho__filter_bloom;
extern const macho__filter_ops macho__filter_cuckoo;
extern const macho__filter_ops macho__filter_xor;

const macho__filter_ops *const macho__filters[MACHO_FILTER_COUNT] = {
    [MACHO_FILTER_NONE] = NULL,
    [MACHO_FILTER_BLOOM] = &macho__filter_bloom,
    [MACHO_FILTER_CUCKOO] = &macho__filter_cuckoo,
    [MACHO_FILTER_XOR] = &macho__filter_xor,
};
