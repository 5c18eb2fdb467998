/* quickstart.c -- the README's C quick start: open a cache, put, get, count. */
#include <macho/macho.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  macho_config cfg;
  macho_config_init(&cfg);        /* 100 entries, TTL 600 s, 1 shard, LRU */
  cfg.capacity_entries = 10000;
  cfg.shards = 4;                 /* 4 locks: threads on different keys rarely wait */
  cfg.ttl_seconds = 60;

  const char *why = NULL;
  if (macho_config_check(&cfg, &why) != MACHO_OK) {
    fprintf(stderr, "bad config: %s\n", why);
    return 1;
  }
  macho_cache *cache = NULL;
  int rc = macho_open(&cfg, &cache);
  if (rc != MACHO_OK) {
    fprintf(stderr, "macho_open: %s\n", macho_strerror(rc));
    return 1;
  }

  /* Keys and values are bytes, copied in. */
  rc = macho_put(cache, "user:42", 7, "Ada Lovelace", 12);
  if (rc == MACHO_OK) rc = macho_put_ttl(cache, "session:9", 9, "token", 5, 1.5); /* own TTL */
  if (rc != MACHO_OK) {
    fprintf(stderr, "macho_put: %s\n", macho_strerror(rc));
    macho_close(cache);
    return 1;
  }

  /* get copies the value out: no pointer into the cache is ever handed out. */
  char name[64];
  size_t len = 0;
  rc = macho_get(cache, "user:42", 7, name, sizeof name, &len);
  if (rc == MACHO_OK) printf("user:42 -> %.*s\n", (int)len, name);
  rc = macho_get(cache, "user:7", 6, name, sizeof name, &len);
  printf("user:7 -> %s\n", macho_strerror(rc)); /* "key not found" */

  macho_counters ct;
  if (macho_counters_get(cache, -1, &ct) == MACHO_OK)
    printf("entries %llu, hits %llu, misses %llu\n", (unsigned long long)ct.entries,
           (unsigned long long)ct.hits, (unsigned long long)ct.misses);

  macho_close(cache);
  return 0;
}
