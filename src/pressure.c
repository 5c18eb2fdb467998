/*
 * pressure.c -- a byte budget that follows the process's cgroup memory
 * limit (config.memory_max_fraction), so that a cache in a container
 * shrinks when the container's limit does, instead of the container being
 * killed by the OOM killer.
 *
 * The idea: the limit lives in one small file (cgroup v2 memory.max, "max"
 * when there is none; v1 memory.limit_in_bytes, a huge number then), which
 * an orchestrator may change at any time (docker update --memory, a
 * Kubernetes in-place resize). It is read at open and then again by a put
 * at most once per second of cache clock (one atomic load per put decides,
 * and only caches with the option pay it; gets never look). When the
 * fraction of the limit changes, the budget in force becomes the smaller of
 * it and the user's own capacity_bytes, and the cache is resized to it on
 * the putting thread (resize.c: evictions in slices, the listener on that
 * thread). The budget bounds what the entries are charged (macho.h:
 * MACHO_ENTRY_OVERHEAD); the index, the policy's structures and the
 * metrics come on top, so choose the fraction with some room (0.5 leaves
 * half of the container to everything else).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK_EVERY_NS 1000000000ull
/* cgroup v1 says "no limit" with a page-rounded LONG_MAX. */
#define NO_LIMIT_ABOVE (1ull << 62)

typedef struct macho__pressure {
  char path[PATH_MAX];
  uint64_t limit; /* bytes; UINT64_MAX = none */
  double fraction;
} macho__pressure;

/* The limit in a file: bytes, or UINT64_MAX for "max" and v1's huge values.
 * MACHO_EIO when unreadable or not a limit. */
static int read_limit(const char *path, uint64_t *out) {
  FILE *f = fopen(path, "re");
  if (!f) return MACHO_EIO;
  char buf[64];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
  if (strcmp(buf, "max") == 0) {
    *out = UINT64_MAX;
    return MACHO_OK;
  }
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno || end == buf || *end || buf[0] == '-') return MACHO_EIO;
  *out = v >= NO_LIMIT_ABOVE ? UINT64_MAX : (uint64_t)v;
  return MACHO_OK;
}

/* This process's cgroup limit file: v2 first, then v1. */
static bool discover(char *out, size_t cap) {
  /* Paths longer than PATH_MAX are cut (and then not found). */
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f) return false;
  char line[PATH_MAX + 64];
  char v2[sizeof line] = "", v1[sizeof line] = "";
  bool have_v2 = false, have_v1 = false;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (strncmp(line, "0::", 3) == 0) {
      snprintf(v2, sizeof v2, "%s", line + 3);
      have_v2 = true;
    } else {
      char *m = strstr(line, ":memory:");
      if (m) {
        snprintf(v1, sizeof v1, "%s", m + 8);
        have_v1 = true;
      }
    }
  }
  fclose(f);
  uint64_t x;
  if (have_v2) {
    /* In a container the cgroup namespace makes the path "/". */
    snprintf(out, cap, "/sys/fs/cgroup%s/memory.max", strcmp(v2, "/") == 0 ? "" : v2);
    if (read_limit(out, &x) == MACHO_OK) return true;
    snprintf(out, cap, "/sys/fs/cgroup/memory.max");
    if (read_limit(out, &x) == MACHO_OK) return true;
  }
  if (have_v1) {
    snprintf(out, cap, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", strcmp(v1, "/") == 0 ? "" : v1);
    if (read_limit(out, &x) == MACHO_OK) return true;
    snprintf(out, cap, "/sys/fs/cgroup/memory/memory.limit_in_bytes");
    if (read_limit(out, &x) == MACHO_OK) return true;
  }
  return false;
}

uint64_t macho__effective_bytes(const macho_cache *c) {
  uint64_t user = c->user_capacity_bytes;
  const macho__pressure *p = c->pressure;
  if (!p || p->limit == UINT64_MAX) return user;
  double share = p->fraction * (double)p->limit;
  uint64_t b = share >= 1.8e19 ? UINT64_MAX : (uint64_t)share;
  if (b < c->nshards) b = c->nshards; /* every shard keeps a byte: the budget stays valid */
  return user && user < b ? user : b;
}

int macho__pressure_open(macho_cache *c) {
  macho__pressure *p = macho__calloc(&c->alloc, 1, sizeof *p);
  if (!p) return MACHO_ENOMEM;
  p->fraction = c->cfg.memory_max_fraction;
  p->limit = UINT64_MAX;
  if (c->cfg.memory_max_path) {
    size_t n = strlen(c->cfg.memory_max_path);
    if (n >= sizeof p->path || read_limit(c->cfg.memory_max_path, &p->limit) != MACHO_OK) {
      macho__free(&c->alloc, p, sizeof *p);
      return n >= sizeof p->path ? MACHO_EINVAL : MACHO_EIO;
    }
    memcpy(p->path, c->cfg.memory_max_path, n + 1);
  } else if (discover(p->path, sizeof p->path)) {
    (void)read_limit(p->path, &p->limit);
  } else {
    p->path[0] = '\0'; /* no cgroup limit to follow: the user's budget alone */
  }
  c->cfg.memory_max_path = p->path[0] ? p->path : NULL;
  c->pressure = p;
  atomic_store_explicit(&c->pressure_next, macho__now(c) + CHECK_EVERY_NS, memory_order_relaxed);
  if (p->limit != UINT64_MAX) {
    macho__resize_lock(c);
    uint64_t entries = 0;
    for (uint32_t i = 0; i < c->nshards; i++) entries += c->shards[i].capacity;
    int rc = macho__resize(c, entries, macho__effective_bytes(c));
    macho__resize_unlock(c);
    if (rc != MACHO_OK) {
      c->pressure = NULL;
      macho__free(&c->alloc, p, sizeof *p);
      return rc;
    }
  }
  return MACHO_OK;
}

void macho__pressure_check(macho_cache *c, uint64_t now) {
  macho__pressure *p = c->pressure;
  uint64_t due = atomic_load_explicit(&c->pressure_next, memory_order_relaxed);
  if (now < due || !p->path[0]) return;
  /* One thread per period does the check. */
  if (!atomic_compare_exchange_strong(&c->pressure_next, &due, now + CHECK_EVERY_NS)) return;
  if (!macho__resize_trylock(c)) return; /* a resize is running: next period */
  uint64_t limit;
  if (read_limit(p->path, &limit) == MACHO_OK && limit != p->limit) {
    p->limit = limit;
    uint64_t entries = 0;
    for (uint32_t i = 0; i < c->nshards; i++) {
      macho__lock(&c->shards[i]);
      entries += c->shards[i].capacity;
      macho__unlock(&c->shards[i]);
    }
    (void)macho__resize(c, entries, macho__effective_bytes(c));
  }
  macho__resize_unlock(c);
}

void macho__pressure_close(macho_cache *c) {
  if (!c->pressure) return;
  macho__free(&c->alloc, c->pressure, sizeof *c->pressure);
  c->pressure = NULL;
}
