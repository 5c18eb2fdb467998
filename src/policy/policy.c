/*
 * policy.c -- the table of eviction policies. Adding a policy is one file in
 * src/policy/ plus one line here (and its name in common.c's name table).
 */
#include "../internal.h"

extern const macho__policy_ops macho__policy_lru;
extern const macho__policy_ops macho__policy_fifo;
extern const macho__policy_ops macho__policy_random;

const macho__policy_ops *const macho__policies[MACHO_POLICY_COUNT] = {
    [MACHO_POLICY_LRU] = &macho__policy_lru,
    [MACHO_POLICY_FIFO] = &macho__policy_fifo,
    [MACHO_POLICY_RANDOM] = &macho__policy_random,
};
