/*
 * fuzz_util.h -- helpers shared by the fuzz targets (header-only, static):
 * a reader that turns the fuzz input into values (running dry yields zeros,
 * so every input is valid), a failure macro that names what diverged and
 * aborts (libFuzzer and replay.c then keep the input), and a checking
 * allocator for macho_config.allocator.
 *
 * The allocator puts a 16-byte header before each block holding its size,
 * so that it checks the library's sized frees (macho.h: realloc and free get
 * the old size) on every call, counts live blocks and bytes (a leak is any
 * live byte after macho_close), and fails on demand: the n-th call, every
 * call after it, past a byte budget, or at a seeded random rate. Under a
 * sanitizer it also catches allocations that bypass the hooks: between
 * fz_lib_enter() and fz_lib_leave() (around calls into a cache that has
 * hooks), any malloc the sanitizer sees that the hooks did not make is a
 * stray (macho.h: "every allocation the cache makes goes through these");
 * the flags are per thread, since the fuzzer's own threads allocate too.
 */
#ifndef MACHO_FUZZ_UTIL_H
#define MACHO_FUZZ_UTIL_H

#include <macho/macho.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define FZ_UNUSED __attribute__((unused))
#else
#define FZ_UNUSED
#endif

/* Checks that run after every step need no coverage feedback of their own:
 * without trace-cmp callbacks they cost a fraction (clang's libFuzzer build). */
#if defined(__clang__) && defined(MACHO_LIBFUZZER)
#define FZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FZ_NO_COVERAGE
#endif

/* Report a broken expectation and abort: the fuzzer keeps the input. */
#define FZ_FAIL(...)                                   \
  do {                                                 \
    fprintf(stderr, "\nFUZZ FAILURE (%s:%d): ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__);                      \
    fprintf(stderr, "\n");                             \
    abort();                                           \
  } while (0)
#define FZ_CHECK(cond, ...)      \
  do {                           \
    if (!(cond)) FZ_FAIL(__VA_ARGS__); \
  } while (0)

/* ---- input reader ---------------------------------------------------------- */
typedef struct fz_in {
  const uint8_t *p;
  size_t n;
} fz_in;

static FZ_UNUSED uint8_t fz_u8(fz_in *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}
static FZ_UNUSED uint16_t fz_u16(fz_in *in) {
  uint16_t lo = fz_u8(in);
  return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}
static FZ_UNUSED uint32_t fz_u32(fz_in *in) {
  uint32_t lo = fz_u16(in);
  return lo | (uint32_t)fz_u16(in) << 16;
}
static FZ_UNUSED uint64_t fz_u64(fz_in *in) {
  uint64_t lo = fz_u32(in);
  return lo | (uint64_t)fz_u32(in) << 32;
}
/* A value in [0, n) (n > 0) from one or two bytes. */
static FZ_UNUSED uint32_t fz_below(fz_in *in, uint32_t n) {
  return n <= 256 ? fz_u8(in) % n : fz_u16(in) % n;
}

/* ---- checking allocator ---------------------------------------------------------- */
#define FZ_ALLOC_MAGIC 0x6d6163686f7a7a21ULL /* "macho zz!" */
#define FZ_FREED_MAGIC 0x6465616462656566ULL

typedef struct fz_alloc {
  uint64_t calls;     /* malloc + realloc calls */
  uint64_t failures;  /* calls that returned NULL on purpose */
  uint64_t fail_at;   /* fail this call (1-based; 0 = never) */
  int fail_after;     /* ... and every call after it */
  uint64_t budget;    /* fail when live bytes would exceed it (0 = no budget) */
  uint32_t fail_rate; /* fail a call with probability fail_rate / 65536 */
  uint64_t rng;       /* for fail_rate */
  int64_t live_blocks, live_bytes;
} fz_alloc;

typedef struct fz_hdr {
  uint64_t size, magic;
} fz_hdr;

/* Sanitizer hooks (weak: absent from a plain release build, then no check). */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *))
    __attribute__((weak));
static _Thread_local volatile int fz_hook_depth;   /* > 0 while our hooks call malloc themselves (volatile: the
                                      compiler assumes malloc reads no globals) */
static _Thread_local volatile int fz_in_lib;       /* > 0 while the library runs with hooks installed */
static volatile uint64_t fz_strays;  /* mallocs seen inside the library not made by the hooks */
void __sanitizer_print_stack_trace(void) __attribute__((weak));
static void fz_san_malloc(const volatile void *p, size_t size) {
  (void)p;
  (void)size;
  if (fz_in_lib && !fz_hook_depth) {
    fz_strays++;
    /* FUZZ_STRAY_STACKS=1 shows where a stray allocation came from. */
    static int show = -1;
    if (show < 0) show = getenv("FUZZ_STRAY_STACKS") != NULL;
    if (show && __sanitizer_print_stack_trace) __sanitizer_print_stack_trace();
  }
}
static void fz_san_free(const volatile void *p) { (void)p; }
/* Process-wide bookkeeping is not a cache's memory: the registry of open
 * caches (src/thread.c, plain realloc, freed when the last cache closes)
 * and the clock ticker thread (its stack and TLS). One cache kept open for
 * the life of the process makes both happen once, before the watch starts,
 * so that every allocation seen later belongs to the cache under test. */
static FZ_UNUSED void fz_watch_strays(void) {
  static int installed;
  static macho_cache *keeper;
  if (installed) return;
  installed = 1;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 1;
  if (macho_open(&cfg, &keeper) != MACHO_OK) keeper = NULL;
  if (__sanitizer_install_malloc_and_free_hooks)
    __sanitizer_install_malloc_and_free_hooks(fz_san_malloc, fz_san_free);
}
static FZ_UNUSED void fz_lib_enter(void) { fz_in_lib++; }
static FZ_UNUSED void fz_lib_leave(void) { fz_in_lib--; }

static int fz_should_fail(fz_alloc *a, size_t grow) {
  a->calls++;
  int fail = 0;
  if (a->fail_at && (a->calls == a->fail_at || (a->fail_after && a->calls > a->fail_at))) fail = 1;
  if (a->budget && (uint64_t)a->live_bytes + grow > a->budget) fail = 1;
  if (a->fail_rate) {
    uint64_t z = (a->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    if (((z ^ (z >> 31)) & 0xffff) < a->fail_rate) fail = 1;
  }
  if (fail) a->failures++;
  return fail;
}

static fz_hdr *fz_hdr_of(void *p, const char *what, size_t told) {
  fz_hdr *h = (fz_hdr *)p - 1;
  FZ_CHECK(h->magic == FZ_ALLOC_MAGIC, "%s of a pointer the hooks did not hand out (or freed twice)", what);
  FZ_CHECK(h->size == told, "%s told the block has %zu bytes; it has %llu (sized free broken)", what,
           told, (unsigned long long)h->size);
  return h;
}

static void *fz_malloc(void *ctx, size_t size) {
  fz_alloc *a = ctx;
  if (size > SIZE_MAX - sizeof(fz_hdr) || fz_should_fail(a, size)) return NULL;
  fz_hook_depth++;
  fz_hdr *h = malloc(sizeof *h + size);
  fz_hook_depth--;
  if (!h) return NULL;
  h->size = size;
  h->magic = FZ_ALLOC_MAGIC;
  a->live_blocks++;
  a->live_bytes += (int64_t)size;
  return h + 1;
}

static void *fz_realloc(void *ctx, void *p, size_t old_size, size_t new_size) {
  fz_alloc *a = ctx;
  if (!p) {
    FZ_CHECK(old_size == 0, "realloc(NULL) told an old size of %zu", old_size);
    return fz_malloc(ctx, new_size);
  }
  fz_hdr_of(p, "realloc", old_size);
  size_t grow = new_size > old_size ? new_size - old_size : 0;
  if (new_size > SIZE_MAX - sizeof(fz_hdr) || fz_should_fail(a, grow)) return NULL;
  fz_hook_depth++;
  fz_hdr *h = realloc((fz_hdr *)p - 1, sizeof *h + new_size);
  fz_hook_depth--;
  if (!h) return NULL;
  h->size = new_size;
  a->live_bytes += (int64_t)new_size - (int64_t)old_size;
  return h + 1;
}

static void fz_free(void *ctx, void *p, size_t size) {
  fz_alloc *a = ctx;
  if (!p) return;
  fz_hdr *h = fz_hdr_of(p, "free", size);
  h->magic = FZ_FREED_MAGIC;
  a->live_blocks--;
  a->live_bytes -= (int64_t)size;
  fz_hook_depth++;
  free(h);
  fz_hook_depth--;
}

static FZ_UNUSED macho_allocator fz_alloc_hooks(fz_alloc *a) {
  macho_allocator h = {fz_malloc, fz_realloc, fz_free, a};
  return h;
}

/* ---- injected clock ---------------------------------------------------------------- */
/* Time moves only when a target says so (now_ns), or by step_ns per read. */
typedef struct fz_clock {
  uint64_t now_ns, step_ns, reads;
} fz_clock;
static FZ_UNUSED uint64_t fz_clock_fn(void *ctx) {
  fz_clock *c = ctx;
  c->reads++;
  uint64_t t = c->now_ns;
  c->now_ns += c->step_ns;
  return t;
}

#endif /* MACHO_FUZZ_UTIL_H */
