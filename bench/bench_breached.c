/* bench_breached.c: lookups in a breached-password list of N random
 * entries (fsec/breached.h), binary form, mapped from a file.
 * Usage: bench_breached FILE [N=100000000] [LOOKUPS=200000]
 * Writes FILE (N entries generated in order, so no sort: the top 64 bits
 * of entry i are i * 2^64/N plus a random offset within the step, the rest
 * random), then, in a process that maps it:
 *   cold: the file's pages dropped from the page cache first
 *         (posix_fadvise DONTNEED), random lookups, each timed;
 *   warm: the file read once (as a busy server keeps it cached), then
 *         random lookups (each first touch of a page is a minor fault);
 *   again: the same, now that the process has mapped those pages;
 * half the lookups hit a listed hash, half miss. Reports µs per lookup
 * (median, p99, mean) and the process's anonymous (private) and file
 * (shared page cache) resident memory. Removes nothing: bench/run.sh
 * deletes FILE. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fsec.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rng(void) { /* splitmix64: fast, and good enough to spread hashes */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

/* entry i of the list: reproducible, so lookups can name listed hashes */
static void entry(uint64_t i, uint64_t n, unsigned char h[20]) {
  uint64_t step = UINT64_MAX / n, saved = rng_state;
  rng_state = i * 0x2545F4914F6CDD1Du + 1;
  uint64_t top = i * step + rng() % step;
  for (int k = 0; k < 8; k++) h[k] = (unsigned char)(top >> (56 - 8 * k));
  uint64_t a = rng(), b = rng();
  memcpy(h + 8, &a, 8);
  memcpy(h + 16, &b, 4);
  rng_state = saved;
}

static long status_kib(const char *field) {
  char line[256];
  long v = -1;
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, strlen(field)) == 0) v = atol(line + strlen(field) + 1);
  if (f) fclose(f);
  return v;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void run(const char *label, const fsec_breached *b, uint64_t n, size_t lookups) {
  double *t = malloc(lookups * sizeof *t), sum = 0;
  uint64_t found = 0;
  for (size_t i = 0; i < lookups; i++) {
    unsigned char h[20];
    uint64_t c;
    if (i % 2 == 0) entry(rng() % n, n, h);
    else
      for (int k = 0; k < 20; k++) h[k] = (unsigned char)rng();
    double t0 = now_us();
    if (fsec_breached_lookup(b, h, &c) != FSEC_OK) abort();
    t[i] = now_us() - t0;
    sum += t[i];
    found += c != 0;
  }
  qsort(t, lookups, sizeof *t, cmp_d);
  printf("| %s | %zu | %.2f | %.2f | %.2f | %llu | %ld | %ld |\n", label, lookups,
         t[lookups / 2], t[lookups * 99 / 100], sum / lookups, (unsigned long long)found,
         status_kib("RssAnon:") / 1024, status_kib("RssFile:") / 1024);
  free(t);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_breached FILE [N] [LOOKUPS]\n");
    return 2;
  }
  const char *path = argv[1];
  uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000000u;
  size_t lookups = argc > 3 ? strtoul(argv[3], NULL, 10) : 200000;
  char why[512];
  fsec_breached_writer *w;
  fsec_breached *b;
  if (sodium_init() < 0 || n == 0) return 1;
  double t0 = now_us();
  if (fsec_breached_writer_open(path, n, &w, why, sizeof why) != FSEC_OK) {
    fprintf(stderr, "%s\n", why);
    return 1;
  }
  for (uint64_t i = 0; i < n; i++) {
    unsigned char h[20];
    entry(i, n, h);
    if (fsec_breached_writer_add(w, h, (uint32_t)(i % 1000) + 1) != FSEC_OK) {
      fprintf(stderr, "add: %s\n", fsec_breached_writer_error(w));
      return 1;
    }
  }
  if (fsec_breached_writer_finish(w) != FSEC_OK) return 1;
  double built = (now_us() - t0) / 1e6;
  long anon0 = status_kib("RssAnon:") / 1024;
  int fd = open(path, O_RDONLY);
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* cold: out of the page cache */
  close(fd);
  if (fsec_breached_open(path, &b, why, sizeof why) != FSEC_OK) {
    fprintf(stderr, "%s\n", why);
    return 1;
  }
  printf("list: %llu entries, %.2f GiB, built in %.1f s; RssAnon before opening %ld MiB\n\n",
         (unsigned long long)fsec_breached_size(b),
         (double)(64 + n * 24) / (1u << 30), built, anon0);
  printf("| run | lookups | median µs | p99 µs | mean µs | found | RssAnon MiB | RssFile MiB |\n");
  printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  run("cold (page cache dropped)", b, n, lookups / 10);
  /* warm: the whole file read once through the page cache (not through
   * the mapping: RssFile then counts only the pages lookups touch) */
  static char buf[1 << 20];
  fd = open(path, O_RDONLY);
  while (fd >= 0 && read(fd, buf, sizeof buf) > 0) {}
  if (fd >= 0) close(fd);
  run("warm (file in the page cache)", b, n, lookups);
  /* hot: a long-lived worker, its mapping's pages already faulted in */
  run("warm, again (pages mapped)", b, n, lookups);
  fsec_breached_close(b);
  return 0;
}
