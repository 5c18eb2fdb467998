/* bench/hitloop_features.c -- instructions per get on a hit loop (10k entries,
 * 8-byte keys) with issue 12's features off or on, for callgrind: the
 * figure is (Ir at 200k gets - Ir at 100k gets) / 100k, setup cancelled.
 * usage: hitloop POLICY(fifo|lru) GETS; HL_LISTENER / HL_BUDGET / HL_REFRESH=1
 * turn on a removal listener, a byte budget, refresh_after (docs/BENCHMARKS.md). */
#include <macho/macho.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void ignore(void *ctx, const void *k, size_t kl, const void *v, size_t vl, macho_removal why) {
  (void)ctx, (void)k, (void)kl, (void)v, (void)vl, (void)why;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 10000;
  cfg.ttl_seconds = 0;
  cfg.policy = strcmp(argv[1], "lru") == 0 ? MACHO_POLICY_LRU : MACHO_POLICY_FIFO;
  if (getenv("HL_LISTENER")) cfg.on_remove = ignore; /* never called: a hit loop removes nothing */
  if (getenv("HL_BUDGET")) cfg.capacity_bytes = 100u << 20;
  if (getenv("HL_REFRESH")) cfg.refresh_after_seconds = 3600;
  macho_cache *c;
  if (macho_open(&cfg, &c) != MACHO_OK) return 1;
  for (uint64_t k = 0; k < 10000; k++)
    if (macho_put(c, &k, 8, &k, 8) != MACHO_OK) return 2;
  long gets = atol(argv[2]);
  uint64_t v, sum = 0;
  size_t n;
  for (long i = 0; i < gets; i++) {
    uint64_t k = (uint64_t)(i * 7919) % 10000;
    if (macho_get(c, &k, 8, &v, sizeof v, &n) == MACHO_OK) sum += v;
  }
  printf("%llu\n", (unsigned long long)sum);
  macho_close(c);
  return 0;
}
