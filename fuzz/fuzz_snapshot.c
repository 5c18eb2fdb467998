/*
 * fuzz_snapshot.c -- the snapshot reader (src/snapshot.c: macho_load_from)
 * fed arbitrary bytes.
 *
 * Input: byte 0 picks the cache (bit 0 = 1 shard or 3, bits 1..2 the
 * policy among LRU, W-TinyLFU, S3-FIFO, SIEVE, bit 3 = a byte budget), the
 * rest is the file. Since the checksum makes random bytes fail early, one
 * input in two gets its trailer fixed up (count, length and XXH3 of what
 * comes before), so that the record parser itself is reached. Checked: the
 * status is one the header documents; a refused file leaves the cache
 * exactly as it was (its entries listed before and after); a loaded one
 * leaves a consistent cache (len = what a listing shows, within capacity
 * and budget); nothing leaks (ASan).
 */
#include <macho/macho.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      fprintf(stderr, "fuzz_snapshot: " __VA_ARGS__);     \
      fprintf(stderr, "\n");                              \
      abort();                                            \
    }                                                     \
  } while (0)

typedef struct listing {
  uint64_t sum, n; /* an order-free digest of (key, value) pairs */
} listing;

static int digest(void *ctx, const macho_entry_view *e) {
  listing *l = ctx;
  uint64_t h = XXH3_64bits(e->key, e->klen) * 31 + XXH3_64bits(e->value, e->vlen);
  l->sum += h * 0x9E3779B97F4A7C15ull;
  l->n++;
  return 0;
}

static listing list(macho_cache *c) {
  listing l = {0, 0};
  CHECK(macho_foreach_entry(c, digest, &l) == MACHO_OK, "listing failed");
  return l;
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A frozen clock: a record's remaining TTL may be a few nanoseconds, and on
 * the real clock it could expire between the listing and the counters (the
 * listing skips an expired entry the counters still hold until reclaimed). */
static uint64_t frozen_clock(void *ctx) {
  (void)ctx;
  return 1000000000000ull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t flags = data[0];
  static const macho_policy pols[4] = {MACHO_POLICY_LRU, MACHO_POLICY_WTINYLFU, MACHO_POLICY_S3FIFO,
                                       MACHO_POLICY_SIEVE};
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 64;
  cfg.shards = flags & 1 ? 3 : 1;
  cfg.policy = pols[(flags >> 1) & 3];
  cfg.capacity_bytes = flags & 8 ? 3000 : 0;
  cfg.ttl_seconds = 0;
  cfg.clock = frozen_clock;
  macho_cache *c = NULL;
  if (macho_open(&cfg, &c) != MACHO_OK) return 0;
  CHECK(macho_put(c, "resident", 8, "value", 5) == MACHO_OK, "put");

  size_t n = size - 1;
  unsigned char *file = malloc(n ? n : 1);
  memcpy(file, data + 1, n);
  if ((flags & 16) && n >= 64) {
    /* Make the trailer agree with the records, so parsing is what fails. */
    unsigned char *t = file + n - 32;
    memcpy(t, "MACHOEND", 8);
    uint64_t bytes = n - 64, count = 0;
    const unsigned char *p = file + 32, *end = file + n - 32;
    while ((size_t)(end - p) >= 24) {
      uint64_t kl = p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
      uint64_t vl = p[4] | (uint64_t)p[5] << 8 | (uint64_t)p[6] << 16 | (uint64_t)p[7] << 24;
      if ((uint64_t)(end - p) - 24 < kl + vl) break;
      p += 24 + kl + vl;
      count++;
    }
    put64(t + 8, count);
    put64(t + 16, bytes);
    put64(t + 24, XXH3_64bits(file, n - 8));
  }

  listing before = list(c);
  int rc = macho_load_from(c, file, n);
  CHECK(rc == MACHO_OK || rc == MACHO_EFORMAT || rc == MACHO_ETRUNCATED || rc == MACHO_ECORRUPT ||
            rc == MACHO_EVERSION || rc == MACHO_EMODE || rc == MACHO_ENOMEM,
        "undocumented status %d (%s)", rc, macho_status_name(rc));
  listing after = list(c);
  if (rc != MACHO_OK && rc != MACHO_ENOMEM)
    CHECK(after.sum == before.sum && after.n == before.n, "a refused file changed the cache (%s)",
          macho_status_name(rc));
  macho_counters ct;
  CHECK(macho_counters_get(c, -1, &ct) == MACHO_OK, "counters");
  CHECK(ct.entries == after.n, "len %llu, listed %llu", (unsigned long long)ct.entries, (unsigned long long)after.n);
  CHECK(ct.entries <= ct.capacity_entries, "over capacity");
  CHECK(!ct.capacity_bytes || ct.charged_bytes <= ct.capacity_bytes, "over budget");
  free(file);
  macho_close(c);
  return 0;
}
