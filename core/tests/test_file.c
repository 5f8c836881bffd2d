/* test_file.c: what fsec creates on disk is its owner's alone, whatever
 * the umask: private files and folders, and a new store's database with
 * its -wal and -shm. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsec.h"
#include "test.h"

static char DIR_[256];

static const char *path(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", DIR_, name);
  return p;
}

static int mode_of(const char *p) {
  struct stat st;
  if (lstat(p, &st) != 0) FAIL_AT("stat %s: %s", p, strerror(errno));
  return (int)(st.st_mode & 07777);
}

static void private_file_is_0600_and_never_reused(void) {
  const char *p = path("msg.eml");
  FILE *f;
  char buf[16] = "";
  ASSERT_OK(fsec_file_create_private(p, "hello", 5));
  ASSERT_EQ(mode_of(p), 0600);
  ASSERT_EQ(fsec_file_create_private(p, "other", 5), FSEC_EEXIST);
  f = fopen(p, "r");
  ASSERT(f != NULL);
  ASSERT(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  ASSERT_STREQ(buf, "hello"); /* the first message kept */
}

static void a_planted_link_is_not_followed(void) {
  const char *target = "/tmp/fsec-test-file-target-never-made";
  unlink(target);
  ASSERT_OK(symlink(target, path("planted.eml")));
  ASSERT_EQ(fsec_file_create_private(path("planted.eml"), "x", 1), FSEC_EEXIST);
  ASSERT(access(target, F_OK) != 0);
}

static void folders_are_0700_parents_included(void) {
  char deep[600];
  snprintf(deep, sizeof deep, "%s/a//b/c/", DIR_);
  ASSERT_OK(fsec_dir_create_private(deep));
  ASSERT_EQ(mode_of(path("a")), 0700);
  ASSERT_EQ(mode_of(path("a/b")), 0700);
  ASSERT_EQ(mode_of(path("a/b/c")), 0700);
  ASSERT_OK(fsec_dir_create_private(deep)); /* there already: fine */
  ASSERT_OK(fsec_file_create_private(path("a/file"), "", 0));
  ASSERT_EQ(fsec_dir_create_private(path("a/file")), FSEC_EINVAL);
  ASSERT_EQ(errno, ENOTDIR);
}

static void touch_keeps_an_existing_file(void) {
  FILE *f = fopen(path("old.db"), "w");
  ASSERT(f != NULL);
  fputs("keep", f);
  fclose(f);
  ASSERT_OK(chmod(path("old.db"), 0640));
  ASSERT_OK(fsec_file_touch_private(path("old.db")));
  ASSERT_EQ(mode_of(path("old.db")), 0640);
  ASSERT_OK(fsec_file_touch_private(path("new.db")));
  ASSERT_EQ(mode_of(path("new.db")), 0600);
}

/* The store's new database and the files SQLite makes beside it while
 * it is open (WAL mode): none readable by group or others. */
static void a_new_store_is_0600_with_its_wal_and_shm(void) {
  fsec_store_config cfg;
  fsec_store *s = NULL;
  fsec_user_new in;
  int64_t id = -1;
  char err[256] = "", wal[600], shm[600];
  fsec_store_config_init(&cfg);
  cfg.path = path("auth.db");
  ASSERT_OK(fsec_store_open(&s, &cfg, err, sizeof err));
  memset(&in, 0, sizeof in);
  in.email = "a@example.org";
  in.password = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
  in.active = 1;
  in.confirmed_at = -1;
  in.now = 1800000000;
  ASSERT_OK(fsec_store_user_create(s, &in, &id));
  snprintf(wal, sizeof wal, "%s-wal", cfg.path);
  snprintf(shm, sizeof shm, "%s-shm", cfg.path);
  ASSERT_EQ(mode_of(cfg.path), 0600);
  ASSERT_EQ(mode_of(wal), 0600);
  ASSERT_EQ(mode_of(shm), 0600);
  fsec_store_close(s);
}

int main(void) {
  snprintf(DIR_, sizeof DIR_, "/tmp/fsec-test-file-XXXXXX");
  if (!mkdtemp(DIR_)) FAIL_AT("mkdtemp");
  umask(022); /* a shell's usual umask: what a server inherits */
  RUN(private_file_is_0600_and_never_reused);
  RUN(a_planted_link_is_not_followed);
  RUN(folders_are_0700_parents_included);
  RUN(touch_keeps_an_existing_file);
  RUN(a_new_store_is_0600_with_its_wal_and_shm);
  return 0;
}
