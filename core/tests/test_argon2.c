/*
 * test_argon2.c: argon2 in a helper process (fsec_config.argon2_helper).
 * Usage: test_argon2 PATH-OF-fsec-argon2 (ctest passes it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "fixtures.h"

static const char *helper_path;

static fsec_engine *open_helper_engine(const char *path, uint32_t m_kib) {
  fsec_config cfg;
  test_config(&cfg, "salt");
  cfg.argon2_helper = path;
  cfg.argon2_memory_kib = m_kib;
  return open_engine_cfg(&cfg);
}

/* VmHWM (peak resident set) of this process, in KiB. */
static long peak_rss_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");
  ASSERT(f != NULL);
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

/* Parent pid of pid, from /proc. */
static int parent_of(int pid) {
  char path[64], buf[512], *p;
  int ppid = -1;
  FILE *f;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  f = fopen(path, "r");
  ASSERT(f != NULL);
  ASSERT(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  p = strrchr(buf, ')'); /* the name may hold spaces */
  ASSERT(p && sscanf(p + 2, "%*c %d", &ppid) == 1);
  return ppid;
}

static void helper_hashes_match_in_process_ones(void) {
  fsec_engine *h = open_helper_engine(helper_path, 1024);
  fsec_engine *l = open_engine("salt"); /* same salt, in-process */
  char a[FSEC_PASSWORD_HASH_BYTES], b[FSEC_PASSWORD_HASH_BYTES];
  int match = 0;
  ASSERT_OK(fsec_password_hash(h, "hunter2", 7, a, sizeof a));
  ASSERT(strncmp(a, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
  ASSERT_OK(fsec_password_verify(l, "hunter2", 7, a, strlen(a), &match));
  ASSERT_EQ(match, 1);
  ASSERT_OK(fsec_password_verify(h, "hunter3", 7, a, strlen(a), &match));
  ASSERT_EQ(match, 0);
  ASSERT_OK(fsec_password_hash(l, "pw", 2, b, sizeof b));
  ASSERT_OK(fsec_password_verify(h, "pw", 2, b, strlen(b), &match));
  ASSERT_EQ(match, 1);
  ASSERT_EQ(fsec_engine_hash_count(h), 3); /* counted as before */
  fsec_engine_close(h);
  fsec_engine_close(l);
}

static void argon2i_hashes_verify_in_the_helper(void) {
  char s[crypto_pwhash_STRBYTES], in[256];
  int match = 0;
  /* a single-hash engine: the stored string is libsodium's own */
  fsec_config cfg;
  fsec_engine *single;
  test_config(&cfg, NULL);
  cfg.argon2_helper = helper_path;
  single = open_engine_cfg(&cfg);
  strcpy(in, "correct horse");
  ASSERT_OK(crypto_pwhash_str_alg(s, in, strlen(in), 3, 1024 * 1024,
                                  crypto_pwhash_ALG_ARGON2I13));
  ASSERT_OK(fsec_password_verify(single, in, strlen(in), s, strlen(s), &match));
  ASSERT_EQ(match, 1);
  ASSERT_OK(fsec_password_verify(single, "wrong", 5, s, strlen(s), &match));
  ASSERT_EQ(match, 0);
  fsec_engine_close(single);
}

static void helper_is_a_child_kept_between_calls(void) {
  fsec_engine *h = open_helper_engine(helper_path, 1024);
  char a[FSEC_PASSWORD_HASH_BYTES];
  int pid;
  ASSERT_OK(fsec_password_hash(h, "x", 1, a, sizeof a));
  pid = fsec_argon2_helper_pid();
  ASSERT(pid > 0 && pid != getpid());
  ASSERT_EQ(parent_of(pid), getpid());
  ASSERT_OK(fsec_password_hash(h, "y", 1, a, sizeof a));
  ASSERT_EQ(fsec_argon2_helper_pid(), pid); /* one process, many hashes */
  fsec_engine_close(h);
}

static void a_killed_helper_is_replaced(void) {
  fsec_engine *h = open_helper_engine(helper_path, 1024);
  char a[FSEC_PASSWORD_HASH_BYTES];
  int pid, match = 0;
  ASSERT_OK(fsec_password_hash(h, "x", 1, a, sizeof a));
  pid = fsec_argon2_helper_pid();
  ASSERT_OK(kill(pid, SIGKILL));
  ASSERT_EQ(waitpid(pid, NULL, 0), pid); /* gone before the next call */
  ASSERT_OK(fsec_password_verify(h, "x", 1, a, strlen(a), &match));
  ASSERT_EQ(match, 1);
  ASSERT(fsec_argon2_helper_pid() > 0 && fsec_argon2_helper_pid() != pid);
  fsec_engine_close(h);
}

static void a_wrong_program_is_an_error_never_a_match(void) {
  /* cat echoes the request: its magic is not a response's */
  const char *progs[] = {"/bin/cat", "/bin/true", "/bin/false"};
  char ok[FSEC_PASSWORD_HASH_BYTES], out[FSEC_PASSWORD_HASH_BYTES];
  fsec_engine *l = open_engine("salt");
  size_t i;
  ASSERT_OK(fsec_password_hash(l, "pw", 2, ok, sizeof ok));
  for (i = 0; i < sizeof progs / sizeof *progs; i++) {
    fsec_engine *h = open_helper_engine(progs[i], 1024);
    int match = 1;
    ASSERT_EQ(fsec_password_verify(h, "pw", 2, ok, strlen(ok), &match),
              FSEC_EHELPER);
    ASSERT_EQ(match, 0);
    ASSERT(strstr(fsec_errmsg(h), progs[i]) != NULL);
    strcpy(out, "junk");
    ASSERT_EQ(fsec_password_hash(h, "pw", 2, out, sizeof out), FSEC_EHELPER);
    ASSERT_STREQ(out, "");
    fsec_engine_close(h);
  }
  /* the real helper takes over again for engines that name it */
  {
    fsec_engine *h = open_helper_engine(helper_path, 1024);
    int match = 0;
    ASSERT_OK(fsec_password_verify(h, "pw", 2, ok, strlen(ok), &match));
    ASSERT_EQ(match, 1);
    fsec_engine_close(h);
  }
  fsec_engine_close(l);
}

static void a_missing_helper_fails_at_open(void) {
  fsec_config cfg;
  fsec_engine *e = NULL;
  char err[256] = "";
  test_config(&cfg, NULL);
  cfg.argon2_helper = "/nonexistent/fsec-argon2";
  ASSERT_EQ(fsec_engine_open(&e, &cfg, err, sizeof err), FSEC_EINVAL);
  ASSERT_NULL(e);
  ASSERT(strstr(err, "argon2_helper") != NULL);
  cfg.argon2_helper = "";
  ASSERT_EQ(fsec_engine_open(&e, &cfg, err, sizeof err), FSEC_EINVAL);
}

static void *hash_in_thread(void *arg) {
  fsec_engine *h = arg;
  char a[FSEC_PASSWORD_HASH_BYTES];
  static int pids[2];
  static int n;
  int i;
  if (fsec_password_hash(h, "t", 1, a, sizeof a) != FSEC_OK) return NULL;
  i = __atomic_fetch_add(&n, 1, __ATOMIC_SEQ_CST);
  pids[i & 1] = fsec_argon2_helper_pid();
  return &pids[i & 1];
}

static void each_thread_has_its_own_helper(void) {
  fsec_engine *h = open_helper_engine(helper_path, 1024);
  pthread_t t1, t2;
  void *r1, *r2;
  ASSERT_OK(pthread_create(&t1, NULL, hash_in_thread, h));
  ASSERT_OK(pthread_join(t1, &r1)); /* one after the other: pids differ */
  ASSERT_OK(pthread_create(&t2, NULL, hash_in_thread, h));
  ASSERT_OK(pthread_join(t2, &r2));
  ASSERT(r1 && r2);
  ASSERT(*(int *)r1 > 0 && *(int *)r2 > 0 && *(int *)r1 != *(int *)r2);
  /* a thread that ended took its helper with it (stopped and reaped) */
  ASSERT(kill(*(int *)r1, 0) != 0 && errno == ESRCH);
  ASSERT(kill(*(int *)r2, 0) != 0 && errno == ESRCH);
  fsec_engine_close(h);
}

static void a_fork_gets_its_own_helper(void) {
  fsec_engine *h = open_helper_engine(helper_path, 1024);
  char a[FSEC_PASSWORD_HASH_BYTES];
  int parent_helper, status, match = 0;
  pid_t child;
  ASSERT_OK(fsec_password_hash(h, "f", 1, a, sizeof a));
  parent_helper = fsec_argon2_helper_pid();
  child = fork();
  ASSERT(child >= 0);
  if (child == 0) {
    /* the parent's helper is not this process's: not reported, not used */
    int ok = fsec_argon2_helper_pid() == 0 &&
             fsec_password_verify(h, "f", 1, a, strlen(a), &match) == FSEC_OK &&
             match == 1 && fsec_argon2_helper_pid() != parent_helper &&
             parent_of(fsec_argon2_helper_pid()) == getpid();
    _exit(ok ? 0 : 1);
  }
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(fsec_argon2_helper_pid(), parent_helper);
  ASSERT_OK(fsec_password_verify(h, "f", 1, a, strlen(a), &match));
  ASSERT_EQ(match, 1);
  fsec_engine_close(h);
}

/* The point of the helper: this process never maps argon2's memory. A
 * 64 MiB hash here would raise the peak resident set by 64 MiB. */
static void argon2_memory_stays_out_of_this_process(void) {
  fsec_engine *h = open_helper_engine(helper_path, 65536);
  char a[FSEC_PASSWORD_HASH_BYTES];
  int match = 0;
  long before = peak_rss_kib();
  ASSERT_OK(fsec_password_hash(h, "big", 3, a, sizeof a));
  ASSERT_OK(fsec_password_verify(h, "big", 3, a, strlen(a), &match));
  ASSERT_EQ(match, 1);
  ASSERT(strstr(a, "m=65536") != NULL);
  if (peak_rss_kib() - before > 16 * 1024)
    FAIL_AT("peak RSS grew by %ld KiB", peak_rss_kib() - before);
  fsec_engine_close(h);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_argon2 PATH-OF-fsec-argon2\n");
    return 2;
  }
  helper_path = argv[1];
  signal(SIGPIPE, SIG_IGN);
  RUN(argon2_memory_stays_out_of_this_process); /* first: a clean peak */
  RUN(helper_hashes_match_in_process_ones);
  RUN(argon2i_hashes_verify_in_the_helper);
  RUN(helper_is_a_child_kept_between_calls);
  RUN(a_killed_helper_is_replaced);
  RUN(a_wrong_program_is_an_error_never_a_match);
  RUN(a_missing_helper_fails_at_open);
  RUN(each_thread_has_its_own_helper);
  RUN(a_fork_gets_its_own_helper);
  return 0;
}
