/*
 * hash.h -- one hash per key per operation, and what each bit range is for.
 *
 * Bytes mode hashes the key with XXH3-64 (seeded by config.seed). Object mode
 * takes the caller's hash (Python's hash(i) == i, so it may be weak) through
 * the splitmix64 finaliser so that every bit is well mixed. Then:
 *   bits 63..32  pick the shard (fastrange over the shard count),
 *   bits 31..0   pick the home slot in the shard's index and are its tag,
 *   all 64 bits  feed the membership filter's probes.
 */
#ifndef MACHO_HASH_H
#define MACHO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t macho__hash_bytes(const void *key, size_t klen, uint64_t seed) {
  /* 8-byte keys, the common case: XXH3's own 4..8-byte path, called
   * directly (the same value, without the length dispatch). */
  if (__builtin_expect(klen == 8, 1))
    return XXH3_len_4to8_64b((const xxh_u8 *)key, 8, XXH3_kSecret, seed);
  return XXH3_64bits_withSeed(key, klen, seed);
}

/* The same XXH3 value for an 8-byte key, with the seed's part computed
 * once per cache (macho__hash8_flip at open): XXH3's 4..8-byte path reads
 * the key as its two 32-bit halves swapped, xors a seed-dependent constant
 * and mixes. test_table's every_seed_finds_keys_of_every_length fails when
 * the two disagree. */
static inline uint64_t macho__hash8_flip(uint64_t seed) {
  seed ^= (uint64_t)XXH_swap32((xxh_u32)seed) << 32;
  return (XXH_readLE64(XXH3_kSecret + 8) ^ XXH_readLE64(XXH3_kSecret + 16)) - seed;
}
static inline uint64_t macho__hash8(const void *key, uint64_t flip) {
  uint64_t w = XXH_readLE64(key);
  return XXH3_rrmxmx(((w << 32) | (w >> 32)) ^ flip, 8);
}

/* splitmix64 finaliser (Steele, Lea, Flood 2014): a bijection with full avalanche. */
static inline uint64_t macho__mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

static inline uint32_t macho__shard_of(uint64_t hash, uint32_t nshards) {
  return (uint32_t)(((hash >> 32) * (uint64_t)nshards) >> 32);
}

#endif /* MACHO_HASH_H */
