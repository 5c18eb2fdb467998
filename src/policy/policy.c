/*
 * policy.c -- the table of eviction policies. Adding a policy is one file in
 * src/policy/ plus one line here (and its name in common.c's name table).
 */
#include "policy.h"

extern const macho__policy_ops macho__policy_lru;
extern const macho__policy_ops macho__policy_fifo;
extern const macho__policy_ops macho__policy_random;
extern const macho__policy_ops macho__policy_lfu, macho__policy_mfu; /* lfu.c */
extern const macho__policy_ops macho__policy_sieve;
extern const macho__policy_ops macho__policy_s3fifo;
extern const macho__policy_ops macho__policy_wtinylfu;
extern const macho__policy_ops macho__policy_arc;
extern const macho__policy_ops macho__policy_auto;

const macho__policy_ops *const macho__policies[MACHO_POLICY_COUNT] = {
    [MACHO_POLICY_LRU] = &macho__policy_lru,
    [MACHO_POLICY_FIFO] = &macho__policy_fifo,
    [MACHO_POLICY_RANDOM] = &macho__policy_random,
    [MACHO_POLICY_LFU] = &macho__policy_lfu,
    [MACHO_POLICY_MFU] = &macho__policy_mfu,
    [MACHO_POLICY_SIEVE] = &macho__policy_sieve,
    [MACHO_POLICY_S3FIFO] = &macho__policy_s3fifo,
    [MACHO_POLICY_WTINYLFU] = &macho__policy_wtinylfu,
    [MACHO_POLICY_ARC] = &macho__policy_arc,
    [MACHO_POLICY_AUTO] = &macho__policy_auto,
};
