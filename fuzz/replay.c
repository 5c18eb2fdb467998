/*
 * replay.c -- a main() for any fuzz target, so that ctest runs it without
 * libFuzzer (gcc release and ASan builds; fuzz/CMakeLists.txt links it with
 * each fuzz/fuzz_*.c as fuzz_replay_NAME).
 *
 *   fuzz_replay_NAME [-runs=N] [-max_len=N] [-seed=S] PATH...
 *
 * Runs LLVMFuzzerTestOneInput on every file (PATH may be a file or a
 * directory of files), then on N inputs made from them by a few random
 * mutations each (bit flips, byte sets, inserts, erases, duplicated runs,
 * splices of two files, random tails; some wholly random), the way a
 * fuzzer's first minutes look. The generator is seeded: -seed=S, else
 * $MACHO_TEST_SEED (a number, or "random"), else 1; the seed is printed.
 * N defaults to 2000, or 300 when $MACHO_SANITIZED is set.
 *
 * A target reports a divergence by aborting. A handler for SIGABRT/SIGSEGV
 * (and the sanitizers' death callback) writes the input being run to
 * ./fuzz-replay-crash-NAME and prints its path, so that the failure can be
 * replayed with `fuzz_replay_NAME that-file` or the libFuzzer binary.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

typedef struct input {
  uint8_t *data;
  size_t size;
  char *name;
} input;

static input *inputs;
static size_t ninputs, inputs_cap;

/* What is running now, for the crash handler (async-signal-safe writes only). */
static const uint8_t *cur_data;
static size_t cur_size;
static char crash_path[4096];
static volatile sig_atomic_t dumped;

static void put_str(const char *s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

static void dump_current(void) {
  if (dumped || !cur_data) return;
  dumped = 1;
  int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t off = 0;
    while (off < cur_size) {
      ssize_t w = write(fd, cur_data + off, cur_size - off);
      if (w <= 0) break;
      off += (size_t)w;
    }
    close(fd);
    put_str("replay: crashing input written to ");
    put_str(crash_path);
    put_str("\n");
  }
}

static void on_signal(int sig) {
  dump_current();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void add_input(uint8_t *data, size_t size, const char *name) {
  if (ninputs == inputs_cap) {
    inputs_cap = inputs_cap ? 2 * inputs_cap : 64;
    inputs = realloc(inputs, inputs_cap * sizeof *inputs);
    if (!inputs) abort();
  }
  inputs[ninputs].data = data;
  inputs[ninputs].size = size;
  inputs[ninputs].name = strdup(name);
  ninputs++;
}

static int load_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return -1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) abort();
  add_input(buf, n, path);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every regular file of a directory in name order (reproducible). */
static int load_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: no such file or directory: %s\n", path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) return load_file(path);
  DIR *d = opendir(path);
  if (!d) return -1;
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    if (n == cap) names = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_names);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", path, names[i]);
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && load_file(full) != 0) rc = -1;
    free(names[i]);
  }
  free(names);
  return rc;
}

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Build one mutated input into buf (capacity max_len); returns its size. */
static size_t mutate(uint8_t *buf, size_t max_len) {
  size_t n = 0;
  if (ninputs && below(8) != 0) {
    const input *base = &inputs[below(ninputs)];
    n = base->size < max_len ? base->size : max_len;
    memcpy(buf, base->data, n);
  } else { /* wholly random */
    n = below(max_len < 512 ? max_len + 1 : 513);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rnd();
    return n;
  }
  int rounds = 1 + (int)below(8);
  for (int r = 0; r < rounds; r++) {
    switch (below(7)) {
    case 0: /* flip a bit */
      if (n) buf[below(n)] ^= (uint8_t)(1u << below(8));
      break;
    case 1: /* set a byte, often to an edge value */
      if (n) {
        static const uint8_t edges[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x10};
        buf[below(n)] = below(2) ? edges[below(sizeof edges)] : (uint8_t)rnd();
      }
      break;
    case 2: { /* insert random bytes */
      size_t k = 1 + below(16), at = below(n + 1);
      if (n + k > max_len) break;
      memmove(buf + at + k, buf + at, n - at);
      for (size_t i = 0; i < k; i++) buf[at + i] = (uint8_t)rnd();
      n += k;
      break;
    }
    case 3: { /* erase a run */
      if (!n) break;
      size_t at = below(n), k = 1 + below(n - at < 16 ? n - at : 16);
      memmove(buf + at, buf + at + k, n - at - k);
      n -= k;
      break;
    }
    case 4: { /* duplicate a run (repeats operations) */
      if (!n) break;
      size_t at = below(n), k = 1 + below(n - at < 32 ? n - at : 32);
      if (n + k > max_len) break;
      size_t to = below(n + 1);
      uint8_t tmp[32];
      memcpy(tmp, buf + at, k);
      memmove(buf + to + k, buf + to, n - to);
      memcpy(buf + to, tmp, k);
      n += k;
      break;
    }
    case 5: { /* splice: keep a prefix, append the tail of another input */
      const input *o = &inputs[below(ninputs)];
      size_t keep = below(n + 1), from = below(o->size + 1);
      size_t k = o->size - from;
      if (keep + k > max_len) k = max_len - keep;
      memcpy(buf + keep, o->data + from, k);
      n = keep + k;
      break;
    }
    default: { /* random tail */
      size_t k = below(64);
      if (n + k > max_len) k = max_len - n;
      for (size_t i = 0; i < k; i++) buf[n + i] = (uint8_t)rnd();
      n += k;
      break;
    }
    }
  }
  return n;
}

static void run_one(const uint8_t *data, size_t size) {
  /* A private copy, so that a read past the end is an ASan report. */
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) abort();
  memcpy(copy, data, size);
  cur_data = copy;
  cur_size = size;
  LLVMFuzzerTestOneInput(copy, size);
  cur_data = NULL;
  free(copy);
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  long runs = getenv("MACHO_SANITIZED") ? 300 : 2000;
  size_t max_len = 4096;
  uint64_t seed = 1;
  int seeded = 0;
  const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  int rc = 0, npaths = 0;
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "-runs=", 6) == 0) runs = strtol(argv[i] + 6, NULL, 10);
    else if (strncmp(argv[i], "-max_len=", 9) == 0) max_len = strtoull(argv[i] + 9, NULL, 10);
    else if (strncmp(argv[i], "-seed=", 6) == 0) seed = strtoull(argv[i] + 6, NULL, 0), seeded = 1;
    else if (argv[i][0] == '-') fprintf(stderr, "replay: ignoring libFuzzer flag %s\n", argv[i]);
    else if (load_path(argv[i]) != 0) rc = 1;
    else npaths++;
  }
  if (rc) return 1;
  if (!seeded) {
    const char *s = getenv("MACHO_TEST_SEED");
    if (s && strcmp(s, "random") == 0) seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    else if (s && *s) seed = strtoull(s, NULL, 0);
  }
  if (max_len < 1) max_len = 1;
  snprintf(crash_path, sizeof crash_path, "fuzz-replay-crash-%s", name);
  signal(SIGABRT, on_signal);
  signal(SIGSEGV, on_signal);
  signal(SIGBUS, on_signal);
  signal(SIGFPE, on_signal);
  signal(SIGILL, on_signal);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(dump_current);

  printf("%s: seed %llu (-seed=S or MACHO_TEST_SEED=S|random to change), %zu files, %ld mutated inputs\n",
         name, (unsigned long long)seed, ninputs, runs);
  fflush(stdout);
  for (size_t i = 0; i < ninputs; i++) run_one(inputs[i].data, inputs[i].size);
  rng_state = seed;
  uint8_t *buf = malloc(max_len);
  if (!buf) abort();
  for (long r = 0; r < runs; r++) run_one(buf, mutate(buf, max_len));
  printf("%s: ok, %zu corpus files and %ld mutated inputs ran clean\n", name, ninputs, runs);
  free(buf);
  for (size_t i = 0; i < ninputs; i++) {
    free(inputs[i].data);
    free(inputs[i].name);
  }
  free(inputs);
  return 0;
}
