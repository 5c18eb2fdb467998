/*
 * thread.c -- what lock-free readers need from the process: a record per
 * (thread, cache), grace periods, and a clock word.
 *
 * Records. A get that takes no lock still counts itself and says when it is
 * inside the table. It does both in a 64-byte-aligned record that only its
 * thread writes (plain relaxed stores, no atomic read-modify-write), found
 * through a 4-entry thread-local cache keyed by the cache's uid. Records
 * are claimed from the cache's registry, a push-only list, and handed back
 * when their thread exits (a pthread key's destructor; a process-wide list
 * of open caches tells it which records still exist). Counters stay in a
 * released record: summing every record gives the cache's totals.
 *
 * Grace periods. A writer that retires memory readers may still hold (a
 * table replaced by growth or clear, a cleared arena) waits until every
 * record that was inside a read has left it: each record's rseq is odd
 * while its thread reads. The reader orders its odd store before its loads
 * of the table with only a compiler barrier; the writer makes that safe by
 * calling membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) first, which runs a
 * full barrier on every CPU running one of our threads (liburcu's "memb"
 * flavour, folly's asymmetric fence). Where membarrier is missing, readers
 * issue a full fence instead (macho__read_fence).
 *
 * The clock word. A get on an entry with a TTL needs the time. The vDSO's
 * coarse clock costs 4-13 ns on this VM, a third of a get, so one thread
 * per process stores CLOCK_MONOTONIC into a word every millisecond while
 * any cache that reads the system clock is open (it parks otherwise), and
 * readers load that word. An injected clock (config.clock) is called
 * directly. After fork() the child has no ticker and reads the vDSO.
 */
#include "internal.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- the process-wide registry of open caches ------------------------------------ */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cond = PTHREAD_COND_INITIALIZER;
static macho_cache **reg_caches;
static size_t reg_n, reg_cap;
static size_t reg_clock_users; /* open caches that read the system clock */
static _Atomic uint64_t next_uid = 1;
static _Atomic uint64_t next_thread_token = 1;
static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

bool macho__read_fence = false; /* readers need a full fence: no membarrier */
static bool membarrier_ok = false;

/* ---- the ticker ---------------------------------------------------------------------- */
_Atomic uint64_t macho__clock_word;     /* CLOCK_MONOTONIC ns, refreshed every ms */
_Atomic int macho__ticker_live = 0;     /* 1 while the word is being refreshed */
static bool ticker_started = false;

static uint64_t mono_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *ticker_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&reg_lock);
  for (;;) {
    while (reg_clock_users == 0) {
      /* Park: readers fall back to the vDSO while the word is stale. */
      atomic_store_explicit(&macho__ticker_live, 0, memory_order_release);
      pthread_cond_wait(&reg_cond, &reg_lock);
    }
    atomic_store_explicit(&macho__clock_word, mono_ns(CLOCK_MONOTONIC), memory_order_relaxed);
    atomic_store_explicit(&macho__ticker_live, 1, memory_order_release);
    pthread_mutex_unlock(&reg_lock);
    struct timespec d = {0, 1000000};
    nanosleep(&d, NULL);
    pthread_mutex_lock(&reg_lock);
  }
  return NULL;
}

static void after_fork_child(void) {
  /* The ticker did not survive the fork; the registry lock may be held by a
   * thread that does not exist here. */
  atomic_store_explicit(&macho__ticker_live, 0, memory_order_relaxed);
  ticker_started = false;
  pthread_mutex_init(&reg_lock, NULL);
  pthread_cond_init(&reg_cond, NULL);
}

uint64_t macho__clock_vdso(void) { return mono_ns(CLOCK_MONOTONIC_COARSE); }

uint64_t macho__clock_precise(void) { return mono_ns(CLOCK_MONOTONIC); }

/* ---- records ---------------------------------------------------------------------------- */
_Thread_local macho__tls macho__tl MACHO__TLS_MODEL;

static void release_thread_records(void *unused) {
  (void)unused;
  if (!macho__tl.token) return;
  pthread_mutex_lock(&reg_lock);
  for (size_t i = 0; i < reg_n; i++)
    for (macho__trec *r = atomic_load(&reg_caches[i]->recs); r; r = r->next)
      if (atomic_load_explicit(&r->owned, memory_order_relaxed) == macho__tl.token)
        atomic_store_explicit(&r->owned, 0, memory_order_release);
  pthread_mutex_unlock(&reg_lock);
  memset(macho__tl.cache, 0, sizeof macho__tl.cache);
  macho__tl.token = 0;
}

static void init_once(void) {
  pthread_key_create(&exit_key, release_thread_records);
  pthread_atfork(NULL, NULL, after_fork_child);
#ifdef __NR_membarrier
  long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
      syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
    membarrier_ok = true;
#endif
  macho__read_fence = !membarrier_ok;
}

int macho__registry_add(macho_cache *c) {
  pthread_once(&once, init_once);
  c->uid = atomic_fetch_add(&next_uid, 1);
  pthread_mutex_lock(&reg_lock);
  if (reg_n == reg_cap) {
    size_t cap = reg_cap ? 2 * reg_cap : 16;
    /* Process bookkeeping, not the cache's memory: plain realloc. */
    macho_cache **p = realloc(reg_caches, cap * sizeof *p);
    if (!p) {
      pthread_mutex_unlock(&reg_lock);
      return MACHO_ENOMEM;
    }
    reg_caches = p;
    reg_cap = cap;
  }
  reg_caches[reg_n++] = c;
  if (!c->cfg.clock) {
    if (reg_clock_users++ == 0) {
      atomic_store_explicit(&macho__clock_word, mono_ns(CLOCK_MONOTONIC), memory_order_relaxed);
      pthread_cond_signal(&reg_cond);
    }
    if (!ticker_started) {
      pthread_t t;
      pthread_attr_t at;
      pthread_attr_init(&at);
      pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
      pthread_attr_setstacksize(&at, 64 * 1024);
      if (pthread_create(&t, &at, ticker_main, NULL) == 0) ticker_started = true;
      pthread_attr_destroy(&at); /* no ticker: readers use the vDSO */
    }
  }
  pthread_mutex_unlock(&reg_lock);
  return MACHO_OK;
}

void macho__registry_remove(macho_cache *c) {
  pthread_mutex_lock(&reg_lock);
  for (size_t i = 0; i < reg_n; i++)
    if (reg_caches[i] == c) {
      reg_caches[i] = reg_caches[--reg_n];
      break;
    }
  if (!c->cfg.clock) reg_clock_users--;
  if (reg_n == 0) {
    free(reg_caches);
    reg_caches = NULL;
    reg_cap = 0;
  }
  /* Forget this thread's cached pointer; other threads' entries are told
   * apart by uid, which is never reused. */
  for (int i = 0; i < 4; i++)
    if (macho__tl.cache[i].uid == c->uid) macho__tl.cache[i].uid = 0;
  pthread_mutex_unlock(&reg_lock);
}

static macho__trec *claim(macho_cache *c) {
  if (!macho__tl.token) {
    macho__tl.token = (uint32_t)atomic_fetch_add(&next_thread_token, 1);
    pthread_setspecific(exit_key, (void *)1);
  }
  /* This thread's own record first (the tl cache may have evicted it). */
  for (macho__trec *r = atomic_load_explicit(&c->recs, memory_order_acquire); r; r = r->next)
    if (atomic_load_explicit(&r->owned, memory_order_relaxed) == macho__tl.token) return r;
  for (macho__trec *r = atomic_load_explicit(&c->recs, memory_order_acquire); r; r = r->next) {
    uint32_t want = 0;
    if (atomic_load_explicit(&r->owned, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong(&r->owned, &want, (uint32_t)macho__tl.token))
      return r;
  }
  macho__trec *r = macho__calloc(&c->alloc, 1, c->rec_size);
  if (!r) return NULL;
  r->cache = c;
  r->cache_uid = c->uid;
  atomic_init(&r->owned, (uint32_t)macho__tl.token);
  r->index = atomic_fetch_add(&c->nrecs, 1);
  macho__trec *head = atomic_load_explicit(&c->recs, memory_order_relaxed);
  do r->next = head;
  while (!atomic_compare_exchange_weak_explicit(&c->recs, &head, r, memory_order_release,
                                                memory_order_relaxed));
  return r;
}

macho__trec *macho__trec_slow(macho_cache *c) {
  macho__trec *r = claim(c);
  if (r) {
    macho__tl_entry *e = &macho__tl.cache[c->uid & 3];
    e->uid = c->uid;
    e->rec = r;
  }
  return r;
}


void macho__records_free(macho_cache *c) {
  macho__trec *r = atomic_load(&c->recs);
  while (r) {
    macho__trec *n = r->next;
    macho__free(&c->alloc, r, c->rec_size);
    r = n;
  }
  atomic_store(&c->recs, NULL);
}

/* ---- grace periods ---------------------------------------------------------------------------- */
void macho__synchronize(macho_cache *c) {
#ifdef __NR_membarrier
  if (membarrier_ok) syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  else
#endif
    macho__fence(memory_order_seq_cst);
  for (macho__trec *r = atomic_load_explicit(&c->recs, memory_order_acquire); r; r = r->next) {
    uint32_t s = atomic_load_explicit(&r->rseq, memory_order_acquire);
    if (!(s & 1)) continue;
    for (int spin = 0; atomic_load_explicit(&r->rseq, memory_order_acquire) == s; spin++) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      if (spin > 64) sched_yield();
    }
  }
}
