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

/* Attack review (W2): a link to nothing planted where the database is
 * to be made (a folder others can write) had SQLite make the file it
 * names, 0644, in the planter's folder; and a URI filename (file:a.db)
 * skipped the 0600 step. Refused, and 0600. A link to an existing
 * database is its owner's choice and opens. */
static void a_store_is_not_made_through_a_link_and_uris_are_0600(void) {
  fsec_store_config cfg;
  fsec_store *s = NULL;
  char err[256] = "", uri[600], target[600];
  const char *nowhere = "/tmp/fsec-test-file-db-never-made";
  unlink(nowhere);
  ASSERT_OK(symlink(nowhere, path("linked.db")));
  ASSERT_EQ(fsec_file_touch_private(path("linked.db")), FSEC_EINVAL);
  ASSERT_EQ(errno, ELOOP);
  fsec_store_config_init(&cfg);
  cfg.path = path("linked.db");
  ASSERT_EQ(fsec_store_open(&s, &cfg, err, sizeof err), FSEC_EINVAL);
  ASSERT(strstr(err, "symbolic link") != NULL);
  ASSERT(access(nowhere, F_OK) != 0);
  /* file: URIs, relative to the folder and absolute, %-escaped */
  snprintf(uri, sizeof uri, "file://%s/uri%%20one.db?cache=private", DIR_);
  cfg.path = uri;
  s = NULL;
  ASSERT_OK(fsec_store_open(&s, &cfg, err, sizeof err));
  fsec_store_close(s);
  ASSERT_EQ(mode_of(path("uri one.db")), 0600);
  {
    struct stat st; /* SQLite's schema went into that very file */
    ASSERT_OK(stat(path("uri one.db"), &st));
    ASSERT(st.st_size > 0);
  }
  /* a link to an existing database opens */
  snprintf(target, sizeof target, "%s", path("uri one.db"));
  ASSERT_OK(symlink(target, path("to-existing.db")));
  cfg.path = path("to-existing.db");
  s = NULL;
  ASSERT_OK(fsec_store_open(&s, &cfg, err, sizeof err));
  fsec_store_close(s);
  /* in memory: nothing on disk */
  cfg.path = "file:memdb?mode=memory";
  s = NULL;
  ASSERT_OK(fsec_store_open(&s, &cfg, err, sizeof err));
  fsec_store_close(s);
  ASSERT(access(path("memdb"), F_OK) != 0);
  ASSERT(access("memdb", F_OK) != 0);
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
  RUN(a_store_is_not_made_through_a_link_and_uris_are_0600);
  return 0;
}
