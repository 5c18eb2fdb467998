/*
 * filter.c -- the table of membership filters. MACHO_FILTER_NONE has no entry:
 * a shard without a filter skips the filter step entirely. Adding a filter is
 * one file in src/filter/ plus one line here.
 */
#include "../internal.h"

const macho__filter_ops *const macho__filters[MACHO_FILTER_COUNT] = {
    [MACHO_FILTER_NONE] = NULL,
};
