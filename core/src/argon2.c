/*
 * argon2.c: where argon2 runs. By default in the calling thread, through
 * libsodium. With fsec_config.argon2_helper set, in a helper process
 * (core/helper/fsec-argon2.c) that belongs to the calling thread: started
 * on its first hash, kept for the next ones, started again if it died.
 *
 * Why a process and not just a thread: libsodium maps and unmaps the whole
 * argon2 memory on every run, and the unmap holds the process's memory-map
 * lock for milliseconds. Any other thread that maps or protects memory
 * meanwhile waits; in nginx that is the event loop (LuaJIT protecting new
 * machine code, malloc growing). Measured on this project's 2-core
 * machine: mprotect p99 14 us alone, 24 ms beside one hashing thread. A
 * helper unmaps in its own address space.
 *
 * The socket is blocking, with a time limit: the caller is a thread that
 * exists to wait for hashes (nginx's thread pool, or a plain Lua program).
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argon2_wire.h"
#include "internal.h"

/* A run at the caps (256 MiB, t=16) takes seconds; a minute is a hang. */
#define HELPER_TIMEOUT_MS 60000

typedef struct helper {
  pid_t pid;   /* 0: none */
  pid_t owner; /* the process that started it (a fork must not share it) */
  int fd;      /* -1: none */
  char *path;  /* what runs: engines naming another program get theirs */
} helper;

static __thread helper current = {0, 0, -1, NULL};

/* A thread that ends takes its helper with it: a key whose destructor
 * runs at thread exit (set once the thread has a helper). */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void helper_drop(void);
static void at_thread_exit(void *unused) {
  (void)unused;
  helper_drop();
}
static void make_exit_key(void) { (void)pthread_key_create(&exit_key, at_thread_exit); }

/* Forget the helper; stop it if this process started it. Closing its
 * socket ends it (it exits 0 at end of input); only one still busy after
 * 200 ms is killed. A killed child is an "[alert] ... exited on signal 9"
 * in nginx's log at every reload. */
static void helper_drop(void) {
  if (current.fd >= 0) close(current.fd);
  if (current.pid > 0 && current.owner == getpid()) {
    int i;
    pid_t r = 0;
    for (i = 0; i < 40; i++) {
      r = waitpid(current.pid, NULL, WNOHANG);
      if (r != 0) break; /* gone (or reaped by nginx's SIGCHLD handler: ECHILD) */
      usleep(5000);
    }
    if (r == 0) {
      kill(current.pid, SIGKILL);
      while (waitpid(current.pid, NULL, 0) < 0 && errno == EINTR) {
      }
    }
  }
  current.pid = 0;
  current.fd = -1;
  free(current.path);
  current.path = NULL;
}

static int helper_spawn(fsec_engine *e) {
  static char *const argv[] = {"fsec-argon2", NULL};
  static char *const envp[] = {NULL};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, all;
  int sv[2], rc;
  pid_t pid;

  if (!(current.path = strdup(e->helper)))
    return fsec__err(e, FSEC_ENOMEM, "out of memory");
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    free(current.path);
    current.path = NULL;
    return fsec__err(e, FSEC_EHELPER, "argon2 helper: socketpair: %s",
                     strerror(errno));
  }
  /* fd 0 and 1 are the socket; nothing else of the caller's (nginx's
   * listening sockets, say) goes across; stderr stays for a crash. */
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  /* no blocked signals and default handlers: nginx blocks and catches
   * some, and ignores SIGPIPE. */
  posix_spawnattr_init(&at);
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  rc = posix_spawn(&pid, e->helper, &fa, &at, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    free(current.path);
    current.path = NULL;
    return fsec__err(e, FSEC_EHELPER, "argon2 helper %s could not start: %s",
                     e->helper, strerror(rc));
  }
  current.pid = pid;
  current.owner = getpid();
  current.fd = sv[0];
  if (pthread_once(&exit_once, make_exit_key) == 0)
    (void)pthread_setspecific(exit_key, &current); /* any non-NULL value */
  return FSEC_OK;
}

static int send_all(int fd, const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* 0 done, -1 closed or failed, -2 timed out. */
static int recv_all(int fd, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t r;
    int ready = poll(&pfd, 1, HELPER_TIMEOUT_MS);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return -2;
    if (ready < 0) return -1;
    r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* One exchange with the current helper: 0, -1 (helper gone or broken:
 * worth one retry with a new one) or -2 (timed out: not worth it). */
static int exchange(const fsec__a2_req *q, const char *in, const char *stored,
                    fsec__a2_resp *resp, char *out) {
  int r;
  if (send_all(current.fd, q, sizeof *q) != 0 ||
      send_all(current.fd, in, q->inlen) != 0 ||
      send_all(current.fd, stored, q->storedlen) != 0)
    return -1;
  r = recv_all(current.fd, resp, sizeof *resp);
  if (r != 0) return r;
  if (resp->magic != FSEC__A2_RESP_MAGIC || resp->len >= FSEC__A2_MAX_OUT)
    return -1;
  return recv_all(current.fd, out, resp->len);
}

static int remote(fsec_engine *e, const fsec__a2_req *q, const char *in,
                  const char *stored, fsec__a2_resp *resp, char *out) {
  int attempt, r = -1;
  for (attempt = 0; attempt < 2; attempt++) {
    if (current.fd >= 0 && current.owner != getpid()) {
      /* inherited through fork(): the parent's, not ours */
      close(current.fd);
      current.fd = -1;
      current.pid = 0;
      free(current.path);
      current.path = NULL;
    }
    if (current.fd >= 0 && strcmp(current.path, e->helper) != 0)
      helper_drop(); /* another engine's program */
    if (current.fd < 0 && helper_spawn(e) != FSEC_OK) return FSEC_EHELPER;
    r = exchange(q, in, stored, resp, out);
    if (r == 0 && resp->status != FSEC__A2_BADREQ) return FSEC_OK;
    helper_drop(); /* a new helper for the next call, whatever happened */
    if (r == -2) break;
  }
  return fsec__err(e, FSEC_EHELPER, "argon2 helper %s %s", e->helper,
                   r == -2 ? "timed out" : "stopped answering");
}

int fsec__argon2_hash(fsec_engine *e, const char *in, size_t inlen,
                      char out[FSEC_PASSWORD_HASH_BYTES]) {
  fsec__a2_req q;
  fsec__a2_resp resp;
  int rc;

  if (!e->helper) {
    if (crypto_pwhash_str_alg(out, in, inlen, e->cfg.argon2_time,
                              (size_t)e->cfg.argon2_memory_kib * 1024,
                              crypto_pwhash_ALG_ARGON2ID13) == 0)
      return FSEC_OK;
    return fsec__err(e, FSEC_ENOMEM, "argon2id could not allocate %u KiB",
                     e->cfg.argon2_memory_kib);
  }
  if (inlen > FSEC__A2_MAX_INPUT)
    return fsec__err(e, FSEC_ETOOLONG, "password too long for argon2");
  q.magic = FSEC__A2_REQ_MAGIC;
  q.op = FSEC__A2_HASH;
  q.t = e->cfg.argon2_time;
  q.m_kib = e->cfg.argon2_memory_kib;
  q.inlen = (uint32_t)inlen;
  q.storedlen = 0;
  rc = remote(e, &q, in, "", &resp, out);
  if (rc != FSEC_OK) return rc;
  out[resp.len] = '\0';
  if (resp.status == FSEC__A2_NOMEM)
    return fsec__err(e, FSEC_ENOMEM, "argon2id could not allocate %u KiB",
                     e->cfg.argon2_memory_kib);
  if (resp.status != FSEC__A2_OK || strncmp(out, "$argon2id$", 10) != 0) {
    helper_drop();
    return fsec__err(e, FSEC_EHELPER, "argon2 helper %s answered nonsense",
                     e->helper);
  }
  return FSEC_OK;
}

int fsec__argon2_verify(fsec_engine *e, const char *in, size_t inlen,
                        const char *stored, int *match) {
  fsec__a2_req q;
  fsec__a2_resp resp;
  char out[FSEC__A2_MAX_OUT];
  size_t slen = strlen(stored);
  int id = strncmp(stored, "$argon2id$", 10) == 0, rc;

  *match = 0;
  if (!e->helper) {
    *match = (id ? crypto_pwhash_argon2id_str_verify(stored, in, inlen)
                 : crypto_pwhash_argon2i_str_verify(stored, in, inlen)) == 0;
    return FSEC_OK;
  }
  if (inlen > FSEC__A2_MAX_INPUT || slen > FSEC__A2_MAX_STORED)
    return fsec__err(e, FSEC_ETOOLONG, "password too long for argon2");
  q.magic = FSEC__A2_REQ_MAGIC;
  q.op = FSEC__A2_VERIFY;
  q.t = 1; /* the stored string carries its own parameters */
  q.m_kib = 8;
  q.inlen = (uint32_t)inlen;
  q.storedlen = (uint32_t)slen;
  rc = remote(e, &q, in, stored, &resp, out);
  if (rc != FSEC_OK) return rc;
  if (resp.len != 0 ||
      (resp.status != FSEC__A2_OK && resp.status != FSEC__A2_MISMATCH)) {
    helper_drop();
    return fsec__err(e, FSEC_EHELPER, "argon2 helper %s answered nonsense",
                     e->helper);
  }
  *match = resp.status == FSEC__A2_OK;
  return FSEC_OK;
}

int fsec_argon2_helper_pid(void) {
  return current.owner == getpid() ? (int)current.pid : 0;
}
