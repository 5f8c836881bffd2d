/*
 * fsec-argon2: runs argon2 for an fsec engine in a process of its own.
 *
 * Why: libsodium maps and unmaps the whole argon2 memory (64 MiB by
 * default) on every run. On Linux the unmap holds the process's memory-map
 * lock for milliseconds, and every other thread of that process that maps
 * or protects memory waits for it: in nginx, the event loop (LuaJIT making
 * a trace executable, malloc growing the heap). Here the unmap happens in
 * another address space, so the event loop never waits for a hash.
 *
 * The engine starts one helper per thread that hashes (core/src/argon2.c)
 * with the socket on fd 0 and 1, and frames as in argon2_wire.h. The
 * helper exits on end of file (its owner closed the socket, or died) and
 * on any frame out of range; it ignores INT, QUIT and HUP (main says
 * why). It never logs: its input is a password.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#  include <sys/prctl.h>
#endif

#include <sodium.h>

#include "argon2_wire.h"

/* Read exactly n bytes; 0 on success, -1 on end of file or error. */
static int read_all(int fd, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_all(int fd, const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int valid(const fsec__a2_req *q) {
  if (q->magic != FSEC__A2_REQ_MAGIC || q->inlen > FSEC__A2_MAX_INPUT)
    return 0;
  if (q->t < 1 || q->m_kib < 8 ||
      (uint64_t)q->m_kib * 1024 > crypto_pwhash_MEMLIMIT_MAX)
    return 0;
  if (q->op == FSEC__A2_HASH) return q->storedlen == 0;
  return q->op == FSEC__A2_VERIFY && q->storedlen > 10 &&
         q->storedlen <= FSEC__A2_MAX_STORED;
}

/* Run one request; fills resp and out. */
static void run(const fsec__a2_req *q, const char *in, const char *stored,
                fsec__a2_resp *resp, char out[FSEC__A2_MAX_OUT]) {
  int r;
  resp->len = 0;
  if (q->op == FSEC__A2_HASH) {
    r = crypto_pwhash_str_alg(out, in, q->inlen, q->t,
                              (size_t)q->m_kib * 1024,
                              crypto_pwhash_ALG_ARGON2ID13);
    resp->status = r == 0 ? FSEC__A2_OK : FSEC__A2_NOMEM;
    if (r == 0) resp->len = (uint32_t)strlen(out);
    return;
  }
  if (strncmp(stored, "$argon2id$", 10) == 0)
    r = crypto_pwhash_argon2id_str_verify(stored, in, q->inlen);
  else
    r = crypto_pwhash_argon2i_str_verify(stored, in, q->inlen);
  resp->status = r == 0 ? FSEC__A2_OK : FSEC__A2_MISMATCH;
}

int main(void) {
  static char in[FSEC__A2_MAX_INPUT + 1];
  char stored[FSEC__A2_MAX_STORED + 1], out[FSEC__A2_MAX_OUT];
  fsec__a2_req q;
  fsec__a2_resp resp;

  signal(SIGPIPE, SIG_IGN); /* a gone owner is a write error, then exit */
  /* Signals a terminal sends to its whole foreground process group, which
   * nginx's is: Ctrl-C (INT), Ctrl-\ (QUIT), hang-up (HUP). nginx stops
   * (or reloads) on them and closes our socket as its workers end; we end
   * then, by our own exit. Killed here instead, each helper was an
   * "[alert] ... unknown process N exited on signal 2" in nginx's log.
   * TERM still ends us at once. */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
#ifdef __linux__
  /* the thread that started us ends (or its process is killed): so do we,
   * even in the middle of a hash */
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 0; /* it was gone before the line above */
#endif
  if (sodium_init() < 0) return 1;
  while (read_all(0, &q, sizeof q) == 0) {
    resp.magic = FSEC__A2_RESP_MAGIC;
    if (!valid(&q)) {
      resp.status = FSEC__A2_BADREQ;
      resp.len = 0;
      (void)write_all(1, &resp, sizeof resp);
      return 2;
    }
    if (read_all(0, in, q.inlen) != 0 ||
        read_all(0, stored, q.storedlen) != 0)
      break;
    in[q.inlen] = '\0';
    stored[q.storedlen] = '\0';
    run(&q, in, stored, &resp, out);
    sodium_memzero(in, q.inlen);
    if (write_all(1, &resp, sizeof resp) != 0 ||
        write_all(1, out, resp.len) != 0)
      break;
  }
  sodium_memzero(in, sizeof in);
  return 0;
}
