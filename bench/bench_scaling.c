/*
 * bench_scaling.c -- how far this machine lets two threads scale, with no
 * shared writes at all: each thread does random reads of its own array.
 * The ceiling for any "2 threads vs 1" figure of macho measured on the same
 * machine (bench_core's two-thread rows).
 *
 *   bench_scaling [elements]      default 10000, then 8000000
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct job {
  uint64_t *a;
  size_t n;
  uint64_t iters, sum;
} job;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *p) {
  job *j = p;
  uint64_t x = 12345, s = 0;
  for (uint64_t i = 0; i < j->iters; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL; /* LCG: independent per thread */
    s += j->a[(x >> 20) % j->n];
  }
  j->sum = s;
  return NULL;
}

static void measure(size_t n) {
  const uint64_t iters = 20000000;
  job j[2];
  for (int i = 0; i < 2; i++) {
    j[i] = (job){calloc(n, sizeof(uint64_t)), n, iters, 0};
    if (!j[i].a) {
      fprintf(stderr, "bench_scaling: out of memory\n");
      exit(1);
    }
    for (size_t k = 0; k < n; k++) j[i].a[k] = k; /* fault the pages in before timing */
  }
  double t0 = now_s();
  run(&j[0]);
  double one = now_s() - t0;
  pthread_t t[2];
  t0 = now_s();
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, run, &j[i]);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  double two = now_s() - t0;
  printf("%-9zu 1 thread %8.1f Mops/s, 2 threads %8.1f Mops/s total, 2T/1T %.2f\n", n,
         iters / one / 1e6, 2 * iters / two / 1e6, (2 * iters / two) / (iters / one));
  for (int i = 0; i < 2; i++) free(j[i].a);
}

int main(int argc, char **argv) {
  if (argc > 1) {
    measure((size_t)strtoull(argv[1], NULL, 10));
  } else {
    measure(10000);
    measure(8000000);
  }
  return 0;
}
