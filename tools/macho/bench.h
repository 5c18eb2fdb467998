/*
 * bench.h -- what the three files of `macho bench` share.
 *
 *   bench.c        options, presets, cells, interleaved rounds, statistics, reports
 *   bench_local.c  the systems that run inside this process: the bare table and
 *                  macho (every policy, metrics on/off, any shard count), and the
 *                  memory child (one fresh process per memory measurement)
 *   bench_peers.c  the systems that run in their own process (Caffeine, Ristretto,
 *                  golang-lru, node lru-cache) over a line protocol, and the
 *                  per-item memory of Redis and memcached
 *
 * Every system replays the same pre-generated requests: one key array, one
 * fill order, one operation stream per thread (a u32 per request: the key's
 * index, top bit set for a put). A get that misses is followed by a put of the
 * same key (cache-aside), so the hit ratio is the system's own.
 */
#ifndef MACHO_BENCH_H
#define MACHO_BENCH_H

#include <macho/macho.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_PUT 0x80000000u /* op flag: a put; otherwise a get (put on a miss) */
#define BENCH_MAX_THREADS 64

/* One cell's workload: everything the systems replay. */
typedef struct bench_workload {
  char name[96];       /* "zipf0.99 get95 miss cap100000 k8 v8" */
  double zipf_s;       /* Zipf exponent; 0 = uniform */
  unsigned get_pct;    /* share of requests that are gets (the rest are puts) */
  bool misses;         /* key space larger than the capacity (10x) */
  size_t capacity;     /* entries */
  size_t nkeys;        /* distinct keys */
  size_t klen, vlen;   /* bytes */
  double ttl_s;        /* TTL given to every system that has one; 0 = none */
  size_t nfill;        /* keys put before warm-up: min(capacity, nkeys) */
  size_t nwarm;        /* untimed requests per thread before the timed ones */
  size_t ntimed;       /* timed requests per thread */
  unsigned max_threads;
  uint64_t seed;
  uint8_t *keys;       /* nkeys * klen bytes, printable, distinct */
  uint32_t *fill;      /* nfill key indices, shuffled */
  uint32_t *ops;       /* max_threads * (nwarm + ntimed) */
  uint8_t *value;      /* vlen bytes: the value every put stores (copied by each system) */
} bench_workload;

static inline const uint32_t *bench_thread_ops(const bench_workload *w, unsigned t) {
  return w->ops + (size_t)t * (w->nwarm + w->ntimed);
}

/* One timed round of one system at one thread count. */
typedef struct bench_round {
  double wall_ns;   /* first thread's start to last thread's end */
  double cpu_ns;    /* CPU time of the timing threads, summed (0 = not measured) */
  uint64_t ops;     /* requests timed, all threads */
  uint64_t gets, hits;
} bench_round;

typedef struct bench_system bench_system;
struct bench_system {
  char kind[24];      /* "bare", "macho", "caffeine", "ristretto", "golang-lru", "lru-cache" */
  char label[64];     /* unique in a run: "macho lru 4sh", "macho lru 4sh nometrics" */
  char version[96];
  char notes[160];    /* how it was set up (GC, buffers, TTL support...) */
  /* macho's variant */
  macho_policy policy;
  unsigned shards;
  int metrics;
  /* peers: the child process */
  int pid, to_fd;
  FILE *from;
  bool has_ttl;       /* the system applied the TTL */
  /* NULL reason = runs at this thread count */
  const char *(*cannot)(const bench_system *s, const bench_workload *w, unsigned threads);
  /* 0 = ok, else a message was printed and the system is dropped */
  int (*run)(bench_system *s, const bench_workload *w, unsigned threads, bool pin, bench_round *out);
  void (*stop)(bench_system *s);
};

/* bench.c */
void bench_make_keys(uint8_t *keys, size_t nkeys, size_t klen, uint64_t seed);
uint64_t bench_rss_bytes(int pid); /* 0 = self; 0 on failure */
void bench_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Register / forget a child process that an interrupted run must stop. */
void bench_child_started(int pid);
void bench_child_ended(int pid);

/* bench_local.c */
void bench_bare_init(bench_system *s);
void bench_macho_init(bench_system *s, macho_policy policy, unsigned shards, int metrics);
/* Memory of one in-process system, measured in a fresh child (this executable,
 * re-run with --memory-child): fills nkeys entries and prints one JSON line. */
int bench_memory_child(int argc, char **argv);

/* A memory measurement: bytes per entry beyond key + value. */
typedef struct bench_memory {
  char kind[24], label[64], version[96], notes[160];
  uint64_t entries;
  double rss_delta;      /* bytes */
  double own_bytes;      /* the system's own figure (macho memory_bytes, used_memory, heap) */
  double hooks_bytes;    /* macho: bytes its allocator hooks hold; < 0 = not measured */
  const char *own_what;  /* what the own figure is */
  bool ok;
} bench_memory;

bool bench_json_num(const char *line, const char *key, double *out);

/* bench_peers.c: start a peer for one cell (0 = started; else prints why skipped). */
int bench_peer_start(bench_system *s, const char *kind, const char *peers_dir, const char *build_dir,
                     const char *files_dir, const bench_workload *w);
/* Memory of a peer or server, filled with nkeys entries of klen/vlen bytes. */
int bench_peer_memory(const char *kind, const char *peers_dir, const char *build_dir,
                      const char *files_dir, size_t nkeys, size_t klen, size_t vlen, double ttl_s,
                      uint64_t seed, bench_memory *out);
/* Write the workload's files for peers into dir (keys.bin, fill.bin, ops.bin). */
int bench_write_files(const bench_workload *w, const char *dir);
/* Build the peer harnesses into build_dir (bench/peers/build.sh); prints what it skipped. */
void bench_peers_build(const char *peers_dir, const char *build_dir);

#endif
