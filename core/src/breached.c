/*
 * breached.c: the breached-password list, mapped and searched in place
 * (fsec/breached.h). Nothing of the list is copied: a lookup touches the
 * index and one bucket (binary form), or about log2(lines) lines (text).
 */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "internal.h"
#include "fsec/breached.h"

struct fsec_breached {
  const unsigned char *data; /* the mapping (or the caller's bytes) */
  size_t len;
  int mapped; /* munmap on close */
  int binary;
  unsigned bits;  /* binary: index bits */
  uint64_t count; /* binary: entries */
  const unsigned char *entries, *index;
};

/* Write the reason (printf-style) into why, and return rc. */
static int fail(char *why, size_t whylen, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int fail(char *why, size_t whylen, int rc, const char *fmt, ...) {
  if (why && whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static uint64_t get_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  while (n-- > 0) v = (v << 8) | p[n];
  return v;
}

static void put_le(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++, v >>= 8) p[i] = (unsigned char)v;
}

/* The top `bits` bits of a hash. */
static uint32_t prefix_of(const unsigned char *h, unsigned bits) {
  uint32_t top = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
  return bits ? top >> (32 - bits) : 0;
}

/* ---- text form ------------------------------------------------------ */

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parse the line at p (up to end): hash, count, and *next = the start of
 * the next line. 0, or -1 when malformed. */
static int parse_line(const unsigned char *p, const unsigned char *end, unsigned char h[20],
                      uint64_t *count, const unsigned char **next) {
  if (end - p < 40) return -1;
  for (int i = 0; i < 20; i++) {
    int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    h[i] = (unsigned char)(hi << 4 | lo);
  }
  p += 40;
  *count = FSEC_BREACHED_UNCOUNTED;
  if (p < end && *p == ':') {
    uint64_t c = 0;
    const unsigned char *d = ++p;
    while (p < end && *p >= '0' && *p <= '9') {
      c = c * 10 + (uint64_t)(*p++ - '0');
      if (c > FSEC_BREACHED_UNCOUNTED) c = FSEC_BREACHED_UNCOUNTED; /* saturate */
    }
    if (p == d) return -1;
    *count = c;
  }
  if (p < end && *p == '\r') p++;
  if (p < end && *p != '\n') return -1;
  *next = p < end ? p + 1 : p;
  return 0;
}

static const unsigned char *line_start(const unsigned char *base, const unsigned char *p) {
  while (p > base && p[-1] != '\n') p--;
  return p;
}

static size_t line_no(const unsigned char *base, const unsigned char *p) {
  size_t n = 1;
  for (const unsigned char *q = base; q < p; q++) n += *q == '\n';
  return n;
}

/* Check [from, to) line by line: well formed and ascending. */
static int check_text_range(const fsec_breached *b, const unsigned char *p,
                            const unsigned char *to, char *why, size_t whylen) {
  unsigned char prev[20], h[20];
  int first = 1;
  const unsigned char *end = b->data + b->len;
  while (p < to) {
    uint64_t c;
    const unsigned char *next;
    if (parse_line(p, end, h, &c, &next) != 0)
      return fail(why, whylen, FSEC_EINVAL, "line %zu: not HEX40[:COUNT]", line_no(b->data, p));
    if (!first && memcmp(prev, h, 20) > 0)
      return fail(why, whylen, FSEC_EINVAL,
                  "line %zu: not sorted by hash (use HIBP's ordered list, or sort it)",
                  line_no(b->data, p));
    memcpy(prev, h, 20);
    first = 0;
    p = next;
  }
  return FSEC_OK;
}

static int attach_text(fsec_breached *b, char *why, size_t whylen) {
  const unsigned char *d = b->data, *end = d + b->len;
  if (b->len == 0) return fail(why, whylen, FSEC_EINVAL, "empty list");
  if (b->len <= FSEC_BREACHED_TEXT_CHECK_MAX) return check_text_range(b, d, end, why, whylen);
  /* too long to read whole at every start: its first and last MiB */
  int rc = check_text_range(b, d, line_start(d, d + (1u << 20)), why, whylen);
  if (rc == FSEC_OK) rc = check_text_range(b, line_start(d, end - (1u << 20)), end, why, whylen);
  return rc;
}

/* Binary search over the lines; lo is always a line start. */
static int lookup_text(const fsec_breached *b, const unsigned char *key, uint64_t *count) {
  const unsigned char *base = b->data, *end = base + b->len;
  const unsigned char *lo = base, *hi = end;
  *count = 0;
  while (lo < hi) {
    const unsigned char *m = line_start(lo, lo + (hi - lo) / 2), *next;
    unsigned char h[20];
    uint64_t c;
    if (parse_line(m, end, h, &c, &next) != 0) {
      *count = FSEC_BREACHED_UNCOUNTED; /* fail closed */
      return FSEC_EINVAL;
    }
    int cmp = memcmp(h, key, 20);
    if (cmp == 0) {
      *count = c;
      return FSEC_OK;
    }
    if (cmp < 0)
      lo = next;
    else
      hi = m;
  }
  return FSEC_OK;
}

/* ---- binary form ---------------------------------------------------- */

static int attach_binary(fsec_breached *b, char *why, size_t whylen) {
  const unsigned char *d = b->data;
  if (b->len < FSEC_BREACHED_HEADER)
    return fail(why, whylen, FSEC_EINVAL, "truncated header (%zu bytes)", b->len);
  uint64_t version = get_le(d + 8, 4), bits = get_le(d + 12, 4), count = get_le(d + 16, 8);
  if (version != 1) return fail(why, whylen, FSEC_EINVAL, "unknown version %llu", (unsigned long long)version);
  if (bits > FSEC_BREACHED_BITS_MAX)
    return fail(why, whylen, FSEC_EINVAL, "index bits %llu above %d", (unsigned long long)bits,
                FSEC_BREACHED_BITS_MAX);
  uint64_t slots = ((uint64_t)1 << bits) + 1;
  /* the sizes in 64 bits cannot overflow for any count below 2^59 */
  if (count > ((uint64_t)1 << 58))
    return fail(why, whylen, FSEC_EINVAL, "entry count %llu impossible", (unsigned long long)count);
  uint64_t want = FSEC_BREACHED_HEADER + count * FSEC_BREACHED_ENTRY + slots * 8;
  if ((uint64_t)b->len != want)
    return fail(why, whylen, FSEC_EINVAL, "size %zu, header says %llu (truncated or corrupt)",
                b->len, (unsigned long long)want);
  b->bits = (unsigned)bits;
  b->count = count;
  b->entries = d + FSEC_BREACHED_HEADER;
  b->index = b->entries + count * FSEC_BREACHED_ENTRY;
  uint64_t prev = 0;
  for (uint64_t i = 0; i < slots; i++) {
    uint64_t v = get_le(b->index + i * 8, 8);
    if (v < prev || v > count || (i == 0 && v != 0) || (i == slots - 1 && v != count))
      return fail(why, whylen, FSEC_EINVAL, "index slot %llu out of order",
                  (unsigned long long)i);
    prev = v;
  }
  return FSEC_OK;
}

static int lookup_binary(const fsec_breached *b, const unsigned char *key, uint64_t *count) {
  uint32_t p = prefix_of(key, b->bits);
  uint64_t lo = get_le(b->index + (uint64_t)p * 8, 8), hi = get_le(b->index + (uint64_t)p * 8 + 8, 8);
  *count = 0;
  while (lo < hi) { /* open checked lo <= hi <= count */
    uint64_t m = lo + (hi - lo) / 2;
    const unsigned char *e = b->entries + m * FSEC_BREACHED_ENTRY;
    int cmp = memcmp(e, key, 20);
    if (cmp == 0) {
      *count = get_le(e + 20, 4);
      return FSEC_OK;
    }
    if (cmp < 0)
      lo = m + 1;
    else
      hi = m;
  }
  return FSEC_OK;
}

/* ---- open, look up, close ------------------------------------------ */

static int attach(fsec_breached *b, char *why, size_t whylen) {
  size_t m = sizeof FSEC_BREACHED_MAGIC - 1;
  b->binary = b->len >= m && memcmp(b->data, FSEC_BREACHED_MAGIC, m) == 0;
  return b->binary ? attach_binary(b, why, whylen) : attach_text(b, why, whylen);
}

int fsec_breached_open_mem(const void *data, size_t len, fsec_breached **out, char *why,
                           size_t whylen) {
  *out = NULL;
  if (len && !data) return FSEC_EINVAL;
  fsec_breached *b = calloc(1, sizeof *b);
  if (!b) return FSEC_ENOMEM;
  b->data = data;
  b->len = len;
  int rc = attach(b, why, whylen);
  if (rc != FSEC_OK) {
    free(b);
    return rc;
  }
  *out = b;
  return FSEC_OK;
}

int fsec_breached_open(const char *path, fsec_breached **out, char *why, size_t whylen) {
  struct stat st;
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(why, whylen, FSEC_EDB, "%s: %s", path, strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    close(fd);
    return fail(why, whylen, FSEC_EDB, "%s: %s", path, S_ISREG(st.st_mode) ? strerror(e) : "not a file");
  }
  if (st.st_size == 0) {
    close(fd);
    return fail(why, whylen, FSEC_EINVAL, "%s: empty list", path);
  }
  /* MAP_SHARED read-only: the page cache's pages, one copy for all
   * processes; the mapping stays valid after close(fd) */
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) return fail(why, whylen, FSEC_EDB, "%s: mmap: %s", path, strerror(e));
  (void)madvise(p, (size_t)st.st_size, MADV_RANDOM); /* no read-ahead of pages never searched */
  char inner[200] = "";
  int rc = fsec_breached_open_mem(p, (size_t)st.st_size, out, inner, sizeof inner);
  if (rc != FSEC_OK) {
    munmap(p, (size_t)st.st_size);
    return fail(why, whylen, rc, "%s: %s", path, inner);
  }
  (*out)->mapped = 1;
  if ((*out)->binary) { /* every lookup reads the index: fetch it now */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t from = (size_t)((*out)->index - (*out)->data) / page * page;
    (void)madvise((char *)p + from, (size_t)st.st_size - from, MADV_WILLNEED);
  }
  return FSEC_OK;
}

int fsec_breached_lookup(const fsec_breached *b, const unsigned char sha1[20], uint64_t *count) {
  return b->binary ? lookup_binary(b, sha1, count) : lookup_text(b, sha1, count);
}

int fsec_breached_password(const fsec_breached *b, const void *pw, size_t len, uint64_t *count) {
  unsigned char h[SHA_DIGEST_LENGTH];
  *count = FSEC_BREACHED_UNCOUNTED;
  if (len && !pw) return FSEC_EINVAL;
  if (!SHA1(pw, len, h)) return FSEC_ECRYPTO;
  int rc = fsec_breached_lookup(b, h, count);
  sodium_memzero(h, sizeof h); /* a password's unsalted hash */
  return rc;
}

uint64_t fsec_breached_size(const fsec_breached *b) { return b->binary ? b->count : b->len; }

int fsec_breached_is_binary(const fsec_breached *b) { return b->binary; }

void fsec_breached_close(fsec_breached *b) {
  if (!b) return;
  if (b->mapped) munmap((void *)b->data, b->len);
  free(b);
}

/* ---- writing the binary form --------------------------------------- */

struct fsec_breached_writer {
  FILE *f;
  char *path, *tmp;
  unsigned bits;
  uint64_t n, *index;   /* index[p] = first entry of prefix p, filled as we go */
  uint32_t next_prefix; /* prefixes below it have their index slot */
  unsigned char last[20], last_count[4];
  int have_last;
  char err[256];
};

/* Index bits for about 256 entries a bucket: a bucket is 6 KiB, two pages. */
static unsigned bits_for(uint64_t expected) {
  unsigned bits = 0;
  while (bits < FSEC_BREACHED_BITS_MAX && (expected >> bits) > 256) bits++;
  return bits;
}

int fsec_breached_writer_open(const char *path, uint64_t expected, fsec_breached_writer **out,
                              char *why, size_t whylen) {
  *out = NULL;
  fsec_breached_writer *w = calloc(1, sizeof *w);
  if (!w) return FSEC_ENOMEM;
  w->bits = bits_for(expected);
  w->index = calloc(((size_t)1 << w->bits) + 1, sizeof *w->index);
  w->path = strdup(path);
  w->tmp = malloc(strlen(path) + 16);
  if (!w->index || !w->path || !w->tmp) {
    fsec_breached_writer_abort(w);
    return FSEC_ENOMEM;
  }
  sprintf(w->tmp, "%s.tmpXXXXXX", path);
  int fd = mkostemp(w->tmp, O_CLOEXEC);
  if (fd < 0 || !(w->f = fdopen(fd, "wb"))) {
    int rc = fail(why, whylen, FSEC_EDB, "%s: %s", w->tmp, strerror(errno));
    if (fd >= 0) close(fd), unlink(w->tmp);
    free(w->tmp);
    w->tmp = NULL;
    fsec_breached_writer_abort(w);
    return rc;
  }
  (void)fchmod(fd, 0644);                           /* a public list: every worker reads it */
  unsigned char header[FSEC_BREACHED_HEADER] = {0}; /* rewritten by finish */
  if (fwrite(header, sizeof header, 1, w->f) != 1) {
    int rc = fail(why, whylen, FSEC_EDB, "%s: %s", w->tmp, strerror(errno));
    fsec_breached_writer_abort(w);
    return rc;
  }
  *out = w;
  return FSEC_OK;
}

static int write_last(fsec_breached_writer *w) {
  if (!w->have_last) return FSEC_OK;
  uint32_t p = prefix_of(w->last, w->bits);
  while (w->next_prefix <= p) w->index[w->next_prefix++] = w->n;
  if (fwrite(w->last, 20, 1, w->f) != 1 || fwrite(w->last_count, 4, 1, w->f) != 1) {
    snprintf(w->err, sizeof w->err, "write: %s", strerror(errno));
    return FSEC_EDB;
  }
  w->n++;
  return FSEC_OK;
}

int fsec_breached_writer_add(fsec_breached_writer *w, const unsigned char sha1[20],
                             uint32_t count) {
  if (w->have_last) {
    int cmp = memcmp(w->last, sha1, 20);
    if (cmp > 0) {
      snprintf(w->err, sizeof w->err, "entry %llu: not sorted by hash",
               (unsigned long long)w->n + 1);
      return FSEC_EINVAL;
    }
    if (cmp == 0) { /* the same hash again: keep the larger count */
      if (count > get_le(w->last_count, 4)) put_le(w->last_count, count, 4);
      return FSEC_OK;
    }
  }
  int rc = write_last(w); /* held back one entry, for the repeats above */
  if (rc != FSEC_OK) return rc;
  memcpy(w->last, sha1, 20);
  put_le(w->last_count, count, 4);
  w->have_last = 1;
  return FSEC_OK;
}

int fsec_breached_writer_finish(fsec_breached_writer *w) {
  int rc = write_last(w);
  uint64_t slots = ((uint64_t)1 << w->bits) + 1;
  unsigned char buf[8], header[FSEC_BREACHED_HEADER] = {0};
  while (rc == FSEC_OK && w->next_prefix < slots) w->index[w->next_prefix++] = w->n;
  for (uint64_t i = 0; rc == FSEC_OK && i < slots; i++) {
    put_le(buf, w->index[i], 8);
    if (fwrite(buf, 8, 1, w->f) != 1) rc = FSEC_EDB;
  }
  memcpy(header, FSEC_BREACHED_MAGIC, 8);
  put_le(header + 8, 1, 4);
  put_le(header + 12, w->bits, 4);
  put_le(header + 16, w->n, 8);
  if (rc == FSEC_OK && (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(header, sizeof header, 1, w->f) != 1 ||
                        fflush(w->f) != 0 || fsync(fileno(w->f)) != 0))
    rc = FSEC_EDB;
  if (rc == FSEC_OK && fclose(w->f) != 0) rc = FSEC_EDB;
  else if (rc != FSEC_OK) fclose(w->f);
  w->f = NULL;
  if (rc == FSEC_OK && rename(w->tmp, w->path) != 0) rc = FSEC_EDB;
  if (rc != FSEC_OK) unlink(w->tmp);
  free(w->tmp);
  w->tmp = NULL;
  fsec_breached_writer_abort(w);
  return rc;
}

void fsec_breached_writer_abort(fsec_breached_writer *w) {
  if (!w) return;
  if (w->f) fclose(w->f);
  if (w->tmp) unlink(w->tmp);
  free(w->tmp);
  free(w->path);
  free(w->index);
  free(w);
}

const char *fsec_breached_writer_error(const fsec_breached_writer *w) { return w->err; }

int fsec_breached_build(const char *in_path, const char *out_path, uint64_t *entries, char *why,
                        size_t whylen) {
  fsec_breached *in;
  fsec_breached_writer *w;
  *entries = 0;
  int rc = fsec_breached_open(in_path, &in, why, whylen);
  if (rc != FSEC_OK) return rc;
  if (in->binary) {
    fsec_breached_close(in);
    return fail(why, whylen, FSEC_EINVAL, "%s: already a binary list", in_path);
  }
  /* a HIBP line is at least 42 bytes: this over-counts, which only makes
   * the buckets smaller */
  rc = fsec_breached_writer_open(out_path, in->len / 42 + 1, &w, why, whylen);
  const unsigned char *p = in->data, *end = p + in->len;
  while (rc == FSEC_OK && p < end) {
    unsigned char h[20];
    uint64_t c;
    const unsigned char *next;
    if (parse_line(p, end, h, &c, &next) != 0) {
      rc = fail(why, whylen, FSEC_EINVAL, "%s: line %zu: not HEX40[:COUNT]", in_path,
                line_no(in->data, p));
      break;
    }
    rc = fsec_breached_writer_add(w, h, (uint32_t)c);
    if (rc != FSEC_OK)
      fail(why, whylen, rc, "%s: line %zu: %s", in_path, line_no(in->data, p),
           rc == FSEC_EINVAL ? "not sorted by hash" : fsec_breached_writer_error(w));
    p = next;
  }
  if (rc == FSEC_OK) {
    *entries = w->n + (uint64_t)w->have_last;
    rc = fsec_breached_writer_finish(w);
    if (rc != FSEC_OK) fail(why, whylen, rc, "%s: cannot write: %s", out_path, strerror(errno));
  } else if (w) {
    fsec_breached_writer_abort(w);
  }
  fsec_breached_close(in);
  return rc;
}
