/* test_store.c: the store on real files (SQLite) and, when
 * FSEC_TEST_PG_URI names a PostgreSQL database (ctest core.store_pg starts
 * a real server), on PostgreSQL: the backend-neutral tests run on both.
 * Migrations, users, roles, tracking, transactions, bad input, busy, full,
 * fork, and reservations raced from several connections at once. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

#define NOW 1800000000

static char DIR_[256];

static const char *path(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", DIR_, name);
  return p;
}

/* On PostgreSQL every test gets an empty database: the first open of a
 * test's file name drops what the previous test left. */
static const char *PG_URI;
static int ON_PG;
static char pg_last[512];

static void pg_sql(const char *sql) {
  PGconn *c = PQconnectdb(PG_URI);
  PGresult *r;
  if (PQstatus(c) != CONNECTION_OK) FAIL_AT("connect: %s", PQerrorMessage(c));
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    FAIL_AT("%s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
}

static void pg_reset(const char *p) {
  if (strcmp(p, pg_last) == 0) return;
  snprintf(pg_last, sizeof pg_last, "%s", p);
  pg_sql("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

/* SELECT count(*) FROM table, on the test's database. */
static long long count_rows(const char *p, const char *table) {
  char sql[128];
  long long n = -1;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  if (ON_PG) {
    PGconn *c = PQconnectdb(PG_URI);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) FAIL_AT("%s: %s", sql, PQerrorMessage(c));
    n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
  } else {
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_OK(sqlite3_open(p, &db));
    ASSERT_OK(sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  return n;
}

static fsec_store *open_at(const char *p) {
  fsec_store_config cfg;
  fsec_store *s = NULL;
  char err[256] = "";
  fsec_store_config_init(&cfg);
  cfg.path = p;
  if (ON_PG) {
    pg_reset(p);
    cfg.path = PG_URI;
  }
  if (fsec_store_open(&s, &cfg, err, sizeof err) != FSEC_OK)
    FAIL_AT("open %s: %s", p, err);
  return s;
}

static int64_t create(fsec_store *s, const char *email, const char *const *roles,
                      size_t n) {
  fsec_user_new in;
  int64_t id = -1;
  memset(&in, 0, sizeof in);
  in.email = email;
  in.password = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
  in.active = 1;
  in.confirmed_at = -1;
  in.roles = roles;
  in.n_roles = n;
  in.now = NOW;
  if (fsec_store_user_create(s, &in, &id) != FSEC_OK) return -1;
  return id;
}

static int64_t users(fsec_store *s) {
  int64_t u = -1, r = -1;
  ASSERT_OK(fsec_store_counts(s, &u, &r));
  return u;
}

static void fresh_file_gets_the_schema(void) {
  fsec_store *s = open_at(path("fresh.db"));
  ASSERT_EQ(fsec_store_schema_version(s), FSEC_SCHEMA_VERSION);
  ASSERT_EQ(users(s), 0);
  fsec_store_close(s);
}

/* A database left at version 1 is upgraded in place: rows survive. */
static void old_schema_is_migrated_in_place(void) {
  const char *p = path("v1.db");
  sqlite3 *db;
  fsec_store *s;
  fsec_user u;
  ASSERT_OK(sqlite3_open(p, &db));
  ASSERT_OK(sqlite3_exec(db, fsec__migration_sql(1), NULL, NULL, NULL));
  ASSERT_OK(sqlite3_exec(db,
                         "INSERT INTO users (email, email_norm, fs_uniquifier, create_datetime,"
                         " update_datetime) VALUES ('Old@X.org', 'old@x.org', 'uq-old', 1, 1);"
                         "PRAGMA user_version = 1;",
                         NULL, NULL, NULL));
  sqlite3_close(db);
  s = open_at(p);
  ASSERT_EQ(fsec_store_schema_version(s), FSEC_SCHEMA_VERSION);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "old@X.ORG", 9, &u));
  ASSERT_STREQ(u.email, "Old@X.org");
  fsec_store_close(s);
  ASSERT_OK(sqlite3_open(p, &db)); /* the v2 column exists */
  ASSERT_OK(sqlite3_exec(db, "SELECT failed_login_count FROM users", NULL,
                         NULL, NULL));
  sqlite3_close(db);
}

static void newer_schema_is_refused(void) {
  const char *p = path("v99.db");
  sqlite3 *db;
  fsec_store_config cfg;
  fsec_store *s = NULL;
  char err[256];
  ASSERT_OK(sqlite3_open(p, &db));
  ASSERT_OK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL));
  sqlite3_close(db);
  fsec_store_config_init(&cfg);
  cfg.path = p;
  ASSERT_EQ(fsec_store_open(&s, &cfg, err, sizeof err), FSEC_EDB);
  ASSERT(strstr(err, "newer than this fsec") != NULL);
  ASSERT_NULL(s);
}

static void missing_or_unwritable_folder_fails_loudly(void) {
  fsec_store_config cfg;
  fsec_store *s = NULL;
  char err[256];
  fsec_store_config_init(&cfg);
  cfg.path = "/nonexistent-fsec-dir/auth.db";
  ASSERT(fsec_store_open(&s, &cfg, err, sizeof err) < 0);
  ASSERT(strstr(err, "cannot open database") != NULL);
  ASSERT_NULL(s);
  cfg.path = "/proc/fsec-test.db"; /* a folder nobody can create files in */
  ASSERT(fsec_store_open(&s, &cfg, err, sizeof err) < 0);
  ASSERT_NULL(s);
}

static void create_and_find_by_every_key(void) {
  fsec_store *s = open_at(path("users.db"));
  fsec_user u;
  fsec_user_new in;
  int64_t id;
  char idstr[32];
  memset(&in, 0, sizeof in);
  in.email = "Matt@Example.com";
  in.username = "Matt";
  in.active = 1;
  in.confirmed_at = NOW;
  in.fs_uniquifier = "uq-1";
  in.fs_token_uniquifier = "tuq-1";
  in.now = NOW;
  ASSERT_OK(fsec_store_user_create(s, &in, &id));
  snprintf(idstr, sizeof idstr, "%lld", (long long)id);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_ID, idstr, strlen(idstr), &u));
  ASSERT_STREQ(u.email, "Matt@Example.com");
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "matt@example.COM", 16, &u));
  ASSERT_EQ(u.id, id);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_USERNAME, "MATT", 4, &u));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_UNIQUIFIER, "uq-1", 4, &u));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_TOKEN_UNIQUIFIER, "tuq-1", 5, &u));
  ASSERT_EQ(u.confirmed_at, NOW);
  ASSERT_EQ(u.last_login_at, -1);
  ASSERT_EQ(u.login_count, 0);
  ASSERT_STREQ(u.roles, "");
  ASSERT_NULL(u.password);
  ASSERT_EQ(fsec_store_user_find(s, FSEC_USER_BY_UNIQUIFIER, "uq-2", 4, &u),
            FSEC_ENOTFOUND);
  ASSERT_EQ(fsec_store_user_find(s, FSEC_USER_BY_ID, "01", 2, &u), FSEC_EINVAL);
  /* unified sign-in's phone identity: exact, as stored */
  ASSERT_EQ(fsec_store_user_find(s, FSEC_USER_BY_US_PHONE_NUMBER, "+16505551212", 12, &u),
            FSEC_ENOTFOUND);
  ASSERT_OK(fsec_store_user_set_text(s, id, FSEC_COL_US_PHONE_NUMBER, "+16505551212", 12, NOW,
                                     NULL));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_US_PHONE_NUMBER, "+16505551212", 12, &u));
  ASSERT_EQ(u.id, id);
  ASSERT_EQ(fsec_store_user_find(s, (fsec_user_key)(FSEC_USER_BY_WEBAUTHN_HANDLE + 1), "x", 1, &u),
            FSEC_EINVAL);
  /* case-insensitive uniqueness, and a generated uniquifier */
  ASSERT_EQ(create(s, "MATT@example.com", NULL, 0), -1);
  ASSERT(strstr(fsec_store_errmsg(s), "email already exists") != NULL);
  id = create(s, "other@example.com", NULL, 0);
  ASSERT(id > 0);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "other@example.com", 17, &u));
  ASSERT(u.fs_uniquifier && strlen(u.fs_uniquifier) == 22);
  ASSERT(u.fs_token_uniquifier && strcmp(u.fs_uniquifier, u.fs_token_uniquifier));
  ASSERT_EQ(users(s), 2);
  fsec_store_close(s);
}

/* Unicode case folding: the same address in another case and form. */
static void unicode_emails_fold(void) {
  fsec_store *s = open_at(path("uni.db"));
  fsec_user u;
  const char *lower = "j\xc3\xb6rg@example.de", *upper = "J\xc3\x96RG@EXAMPLE.DE";
  ASSERT(create(s, lower, NULL, 0) > 0);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, upper, strlen(upper), &u));
  ASSERT_STREQ(u.email, lower);
  ASSERT_EQ(create(s, upper, NULL, 0), -1);
  fsec_store_close(s);
}

static void bad_identities_write_nothing(void) {
  static const struct {
    const char *email;
    size_t len;
    int rc;
  } bad[] = {
      {"", 0, FSEC_EIDENTITY},
      {"no-at-sign", 10, FSEC_EIDENTITY},
      {"two@@x.com", 10, FSEC_EIDENTITY},
      {"a@b@x.com", 9, FSEC_EIDENTITY},
      {"space @x.com", 12, FSEC_EIDENTITY},
      {"' OR '1'='1", 11, FSEC_EIDENTITY},
      {"a@nodot", 7, FSEC_EIDENTITY},
      {".a@x.com", 8, FSEC_EIDENTITY},
      {"a..b@x.com", 10, FSEC_EIDENTITY},
      {"a@-x.com", 8, FSEC_EIDENTITY},
      {"a@x.com\n", 8, FSEC_EIDENTITY},
      {"a\0b@x.com", 9, FSEC_ENUL},
      {"\xff@x.com", 7, FSEC_EUTF8},
  };
  fsec_store *s = open_at(path("bad.db"));
  char longmail[300], norm[1024];
  size_t i;
  fsec_user u;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = fsec_identity_email(bad[i].email, bad[i].len, norm, sizeof norm);
    if (rc != bad[i].rc) FAIL_AT("email #%zu: rc %d want %d", i, rc, bad[i].rc);
    ASSERT_EQ(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, bad[i].email,
                                   bad[i].len, &u),
              bad[i].rc);
  }
  memset(longmail, 'a', sizeof longmail);
  memcpy(longmail + 250, "@x.com", 7);
  ASSERT_EQ(fsec_identity_email(longmail, strlen(longmail), norm, sizeof norm),
            FSEC_ETOOLONG);
  ASSERT_EQ(create(s, "not an email", NULL, 0), -1);
  ASSERT_EQ(create(s, longmail, NULL, 0), -1);
  /* SQL-injection text that is a valid address is stored literally */
  ASSERT(create(s, "a'--@x.com", NULL, 0) > 0);
  ASSERT(create(s, "x%27=''/*@x.com", NULL, 0) > 0);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "A'--@X.COM", 10, &u));
  ASSERT_STREQ(u.email, "a'--@x.com");
  ASSERT_EQ(users(s), 2);
  fsec_store_close(s);
}

static void roles_and_permissions(void) {
  fsec_store *s = open_at(path("roles.db"));
  const char *admin[] = {"admin"}, *ghost[] = {"admin", "ghost"};
  fsec_user u;
  fsec_role r;
  int64_t rid, id;
  int changed = -1;
  ASSERT_OK(fsec_store_role_create(s, "admin", 5, "Administrators", 14,
                                   "user-read,user-write", 20, NOW, &rid));
  ASSERT_EQ(fsec_store_role_create(s, "admin", 5, NULL, 0, NULL, 0, NOW, &rid),
            FSEC_EEXIST);
  ASSERT_EQ(fsec_store_role_create(s, "a,b", 3, NULL, 0, NULL, 0, NOW, &rid),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_store_role_create(s, "x", 1, NULL, 0, "a,,b", 4, NOW, &rid),
            FSEC_EINVAL);
  ASSERT_OK(fsec_store_role_create(s, "editor", 6, NULL, 0, NULL, 0, NOW, &rid));
  ASSERT_OK(fsec_store_role_find(s, "admin", 5, &r));
  ASSERT_STREQ(r.description, "Administrators");
  ASSERT_STREQ(r.permissions, "user-read,user-write");
  /* unknown role: nothing created */
  ASSERT_EQ(create(s, "m@x.com", ghost, 2), -1);
  ASSERT(strstr(fsec_store_errmsg(s), "role 'ghost' does not exist") != NULL);
  ASSERT_EQ(users(s), 0);
  id = create(s, "m@x.com", admin, 1);
  ASSERT(id > 0);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "m@x.com", 7, &u));
  ASSERT_STREQ(u.roles, "admin\x1fuser-read,user-write");
  ASSERT_OK(fsec_store_user_add_role(s, id, "editor", 6, &changed));
  ASSERT_EQ(changed, 1);
  ASSERT_OK(fsec_store_user_add_role(s, id, "editor", 6, &changed));
  ASSERT_EQ(changed, 0);
  ASSERT_EQ(fsec_store_user_add_role(s, id, "ghost", 5, &changed), FSEC_ENOTFOUND);
  ASSERT_OK(fsec_store_user_remove_role(s, id, "admin", 5, &changed));
  ASSERT_EQ(changed, 1);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "m@x.com", 7, &u));
  ASSERT_STREQ(u.roles, "editor\x1f");
  ASSERT_OK(fsec_store_role_set_permissions(s, "editor", 6, "post-write", 10,
                                            NOW, &changed));
  ASSERT_EQ(changed, 1);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "m@x.com", 7, &u));
  ASSERT_STREQ(u.roles, "editor\x1fpost-write");
  ASSERT_OK(fsec_store_role_delete(s, "editor", 6, &changed)); /* cascades */
  ASSERT_EQ(changed, 1);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "m@x.com", 7, &u));
  ASSERT_STREQ(u.roles, "");
  fsec_store_close(s);
}

static void set_columns_report_changes(void) {
  fsec_store *s = open_at(path("set.db"));
  int64_t id = create(s, "a@x.com", NULL, 0);
  fsec_user u;
  int changed = -1;
  ASSERT_OK(fsec_store_user_set_int(s, id, FSEC_COL_ACTIVE, 0, 0, NOW + 1, &changed));
  ASSERT_EQ(changed, 1);
  ASSERT_OK(fsec_store_user_set_int(s, id, FSEC_COL_ACTIVE, 0, 0, NOW + 2, &changed));
  ASSERT_EQ(changed, 0); /* deactivate twice: nothing changed */
  ASSERT_EQ(fsec_store_user_set_int(s, id, FSEC_COL_ACTIVE, 2, 0, NOW, &changed),
            FSEC_EINVAL);
  ASSERT_OK(fsec_store_user_set_text(s, id, FSEC_COL_FS_UNIQUIFIER, "new-uq", 6,
                                     NOW + 3, &changed));
  ASSERT_OK(fsec_store_user_set_text(s, id, FSEC_COL_EMAIL, "B@x.com", 7, NOW + 4,
                                     &changed));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "b@X.com", 7, &u));
  ASSERT_EQ(u.active, 0);
  ASSERT_STREQ(u.fs_uniquifier, "new-uq");
  ASSERT_EQ(u.update_datetime, NOW + 4);
  ASSERT_EQ(fsec_store_user_set_text(s, id, FSEC_COL_EMAIL, "bad", 3, NOW, &changed),
            FSEC_EIDENTITY);
  ASSERT_EQ(fsec_store_user_set_text(s, id, FSEC_COL_FS_UNIQUIFIER, NULL, 0, NOW,
                                     &changed),
            FSEC_EINVAL);
  ASSERT_OK(fsec_store_user_set_text(s, 999, FSEC_COL_PASSWORD, "x", 1, NOW, &changed));
  ASSERT_EQ(changed, 0); /* no such user */
  fsec_store_close(s);
}

static void tracking_follows_flask_security(void) {
  fsec_store *s = open_at(path("track.db"));
  int64_t id = create(s, "t@x.com", NULL, 0);
  fsec_user u;
  ASSERT_OK(fsec_store_user_track_login(s, id, "10.0.0.1", 8, NOW));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "t@x.com", 7, &u));
  ASSERT_EQ(u.login_count, 1);
  ASSERT_EQ(u.last_login_at, NOW); /* first login: last = current */
  ASSERT_STREQ(u.last_login_ip, "10.0.0.1");
  ASSERT_OK(fsec_store_user_track_login(s, id, "10.0.0.2", 8, NOW + 60));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "t@x.com", 7, &u));
  ASSERT_EQ(u.login_count, 2);
  ASSERT_EQ(u.last_login_at, NOW);
  ASSERT_STREQ(u.last_login_ip, "10.0.0.1");
  ASSERT_EQ(u.current_login_at, NOW + 60);
  ASSERT_STREQ(u.current_login_ip, "10.0.0.2");
  ASSERT_EQ(fsec_store_user_track_login(s, 4242, NULL, 0, NOW), FSEC_ENOTFOUND);
  fsec_store_close(s);
}

static void delete_cascades(void) {
  fsec_store *s = open_at(path("del.db"));
  const char *admin[] = {"admin"};
  int64_t id;
  int deleted = -1;
  ASSERT_OK(fsec_store_role_create(s, "admin", 5, NULL, 0, NULL, 0, NOW, NULL));
  id = create(s, "d@x.com", admin, 1);
  ASSERT_OK(fsec_store_user_delete(s, id, &deleted));
  ASSERT_EQ(deleted, 1);
  ASSERT_OK(fsec_store_user_delete(s, id, &deleted));
  ASSERT_EQ(deleted, 0);
  fsec_store_close(s);
  ASSERT_EQ(count_rows(path("del.db"), "roles_users"), 0); /* the link went too */
}

static void transactions_group_and_undo(void) {
  fsec_store *s = open_at(path("txn.db"));
  const char *ghost[] = {"ghost"};
  ASSERT_OK(fsec_store_begin(s));
  ASSERT_EQ(fsec_store_begin(s), FSEC_EMISUSE);
  ASSERT(create(s, "t1@x.com", NULL, 0) > 0);
  ASSERT(create(s, "t2@x.com", NULL, 0) > 0);
  ASSERT_OK(fsec_store_rollback(s));
  ASSERT_EQ(users(s), 0);
  ASSERT_OK(fsec_store_begin(s));
  ASSERT(create(s, "t1@x.com", NULL, 0) > 0);
  ASSERT_EQ(create(s, "t3@x.com", ghost, 1), -1); /* undone alone */
  ASSERT_OK(fsec_store_commit(s));
  ASSERT_EQ(users(s), 1);
  ASSERT_EQ(fsec_store_commit(s), FSEC_EMISUSE);
  fsec_store_close(s);
}

/* A deferred transaction commits at synchronous NORMAL, and only that one;
 * the WAL it leaves is made durable by fsec_store_sync_wal. */
static void deferred_commit_then_sync(void) {
  fsec_store *s = open_at(path("defer.db")), *m;
  fsec_store_config cfg;
  char err[256];
  const char *wal;
  int64_t size = -1;
  int deferred = -1, pages, copied;
  ASSERT_EQ(fsec__store_synchronous(s), 2);
  wal = fsec_store_wal_path(s);
  ASSERT(wal != NULL);
  ASSERT(strstr(wal, "defer.db-wal") != NULL);
  ASSERT_OK(fsec_store_begin_deferred(s, &deferred));
  ASSERT_EQ(deferred, 1);
  ASSERT_EQ(fsec__store_synchronous(s), 1);
  ASSERT_EQ(fsec_store_begin_deferred(s, &deferred), FSEC_EMISUSE);
  ASSERT(create(s, "d1@x.com", NULL, 0) > 0);
  ASSERT_OK(fsec_store_commit(s));
  ASSERT_EQ(fsec__store_synchronous(s), 2); /* the next commit fsyncs again */
  ASSERT_EQ(users(s), 1);
  ASSERT_OK(fsec_store_sync_wal(wal, &size, err, sizeof err));
  ASSERT(size > 0);
  /* a rolled back one restores FULL too */
  ASSERT_OK(fsec_store_begin_deferred(s, &deferred));
  ASSERT(create(s, "d2@x.com", NULL, 0) > 0);
  ASSERT_OK(fsec_store_rollback(s));
  ASSERT_EQ(fsec__store_synchronous(s), 2);
  ASSERT_EQ(users(s), 1);
  /* a checkpoint on another connection copies the WAL into the database */
  {
    fsec_store *c = open_at(path("defer.db"));
    ASSERT_OK(fsec_store_set_autocheckpoint(s, 0));
    ASSERT_EQ(fsec_store_set_autocheckpoint(s, -1), FSEC_EINVAL);
    ASSERT_OK(fsec_store_checkpoint(c, &pages, &copied));
    ASSERT(pages > 0);
    ASSERT_EQ(copied, pages);
    ASSERT_OK(fsec_store_begin(c));
    ASSERT_EQ(fsec_store_checkpoint(c, &pages, &copied), FSEC_EMISUSE);
    ASSERT_OK(fsec_store_rollback(c));
    fsec_store_close(c);
  }
  /* no WAL file (checkpointed and removed): nothing to sync */
  {
    FILE *f = fopen(path("none.db"), "w");
    ASSERT(f != NULL);
    fclose(f);
  }
  ASSERT_OK(fsec_store_sync_wal(path("none.db-wal"), &size, err, sizeof err));
  ASSERT_EQ(size, 0);
  /* no WAL and no database either: deleted under a running server */
  ASSERT_EQ(fsec_store_sync_wal(path("gone.db-wal"), &size, err, sizeof err), FSEC_EDB);
  ASSERT(strstr(err, "is gone") != NULL);
  /* a WAL that cannot be opened is an error, with its path */
  ASSERT_EQ(fsec_store_sync_wal("/dev/null/x.db-wal", NULL, err, sizeof err), FSEC_EDB);
  ASSERT(strstr(err, "/dev/null/x.db-wal") != NULL);
  fsec_store_close(s);
  /* nothing to defer: no WAL file (":memory:"), or NORMAL already */
  fsec_store_config_init(&cfg);
  cfg.path = ":memory:";
  ASSERT_OK(fsec_store_open(&m, &cfg, err, sizeof err));
  ASSERT(fsec_store_wal_path(m) == NULL);
  ASSERT_OK(fsec_store_begin_deferred(m, &deferred));
  ASSERT_EQ(deferred, 0);
  ASSERT_OK(fsec_store_commit(m));
  fsec_store_close(m);
  cfg.path = path("normal.db");
  cfg.synchronous = FSEC_SYNC_NORMAL;
  ASSERT_OK(fsec_store_open(&m, &cfg, err, sizeof err));
  ASSERT(fsec_store_wal_path(m) == NULL);
  ASSERT_OK(fsec_store_begin_deferred(m, &deferred));
  ASSERT_EQ(deferred, 0);
  ASSERT_EQ(fsec__store_synchronous(m), 1);
  ASSERT_OK(fsec_store_commit(m));
  ASSERT_EQ(fsec__store_synchronous(m), 1); /* left as configured */
  fsec_store_close(m);
}

/* A writer holding the lock past busy_timeout: a clear EBUSY, no write. */
static void busy_store_is_reported(void) {
  const char *p = path("busy.db");
  fsec_store *a = open_at(p), *b;
  fsec_store_config cfg;
  char err[256];
  fsec_store_config_init(&cfg);
  cfg.path = p;
  cfg.busy_timeout_ms = 100;
  ASSERT_OK(fsec_store_open(&b, &cfg, err, sizeof err));
  ASSERT_OK(fsec_store_begin(a));
  ASSERT(create(a, "a@x.com", NULL, 0) > 0);
  ASSERT_EQ(create(b, "b@x.com", NULL, 0), -1);
  ASSERT(strstr(fsec_store_errmsg(b), "store busy") != NULL);
  ASSERT_OK(fsec_store_commit(a));
  ASSERT(create(b, "b@x.com", NULL, 0) > 0);
  ASSERT_EQ(users(b), 2);
  fsec_store_close(a);
  fsec_store_close(b);
}

/* The database capped at a few pages fills up: clean EFULL, data intact. */
static void full_database_is_clean(void) {
  const char *p = path("full.db");
  fsec_store_config cfg;
  fsec_store *s;
  fsec_user_new in;
  char email[64], err[256];
  int i, ok = 0, rc = FSEC_OK, good = 0;
  fsec_store_config_init(&cfg);
  cfg.path = p;
  cfg.max_pages = 28; /* the schema's tables and indexes, and room for some users */
  ASSERT_OK(fsec_store_open(&s, &cfg, err, sizeof err));
  memset(&in, 0, sizeof in);
  in.active = 1;
  in.confirmed_at = -1;
  in.now = NOW;
  for (i = 0; i < 100000 && rc == FSEC_OK; i++) {
    snprintf(email, sizeof email, "user%06d@example.com", i);
    in.email = email;
    rc = fsec_store_user_create(s, &in, NULL);
    if (rc == FSEC_OK) good++;
  }
  ASSERT_EQ(rc, FSEC_EFULL);
  ASSERT(good > 10);
  ASSERT_EQ(users(s), good);
  ASSERT_OK(fsec_store_integrity_check(s, &ok));
  ASSERT_EQ(ok, 1);
  fsec_store_close(s);
}

/* Schema 7: facts about the database, first writer wins; roles listed
 * in id order. */
static void meta_and_role_listing(void) {
  fsec_store *s = open_at(path("meta.db"));
  const char *v = NULL;
  fsec_role r;
  int added = -1;
  ASSERT_EQ(fsec_store_meta_get(s, "k", 1, &v), FSEC_ENOTFOUND);
  ASSERT_OK(fsec_store_meta_add(s, "k", 1, "first", 5, &added));
  ASSERT_EQ(added, 1);
  ASSERT_OK(fsec_store_meta_add(s, "k", 1, "second", 6, &added));
  ASSERT_EQ(added, 0);
  ASSERT_OK(fsec_store_meta_get(s, "k", 1, &v));
  ASSERT_STREQ(v, "first");
  ASSERT_EQ(fsec_store_meta_add(s, "k", 1, "a\0b", 3, &added), FSEC_ENUL);
  ASSERT_EQ(fsec_store_role_next(s, 0, &r), FSEC_ENOTFOUND);
  ASSERT_OK(fsec_store_role_create(s, "b", 1, NULL, 0, "p,q", 3, NOW, NULL));
  ASSERT_OK(fsec_store_role_create(s, "a", 1, "A", 1, NULL, 0, NOW, NULL));
  ASSERT_OK(fsec_store_role_next(s, 0, &r));
  ASSERT_STREQ(r.name, "b");
  ASSERT_STREQ(r.permissions, "p,q");
  ASSERT_OK(fsec_store_role_next(s, r.id, &r));
  ASSERT_STREQ(r.name, "a");
  ASSERT_STREQ(r.description, "A");
  ASSERT_EQ(fsec_store_role_next(s, r.id, &r), FSEC_ENOTFOUND);
  fsec_store_close(s);
}

static void child_after_fork_is_refused(void) {
  fsec_store *s = open_at(path("fork.db"));
  fsec_user u;
  pid_t pid;
  int status;
  ASSERT(create(s, "f@x.com", NULL, 0) > 0);
  pid = fork();
  if (pid == 0) {
    int rc = fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "f@x.com", 7, &u);
    fsec_store_close(s); /* must not close the parent's SQLite handle */
    _exit(rc == FSEC_EFORK ? 0 : 1);
  }
  ASSERT(waitpid(pid, &status, 0) == pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "f@x.com", 7, &u));
  fsec_store_close(s);
}

/* Sessions: found only while alive and while the uniquifier matches. */
static void memory_is_reported(void) {
  fsec_store *s = open_at(path("mem.db"));
  fsec_store_memory_info m;
  fsec_user u;
  (void)create(s, "m@x.com", NULL, 0);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_ID, "1", 1, &u));
  ASSERT_OK(fsec_store_memory(s, &m));
  ASSERT(m.cache_bytes > 0);     /* pages were read into the cache */
  ASSERT(m.statement_bytes > 0); /* cached prepared statements */
  ASSERT(m.sqlite_heap_bytes >= m.cache_bytes + m.statement_bytes);
  fsec_store_close(s);
}

/* The purge of a user's expired sessions at login (store.c's
 * ST_SESSION_PURGE) seeks to the expired ones through the (user_id,
 * expires_at) index instead of reading every session of the user. */
static void session_purge_reads_only_expired_rows(void) {
  const char *p = path("purge.db");
  sqlite3 *db;
  sqlite3_stmt *st;
  char plan[512] = "";
  fsec_store_close(open_at(p)); /* migrate */
  ASSERT_OK(sqlite3_open(p, &db));
  ASSERT_OK(sqlite3_prepare_v2(db,
                               "EXPLAIN QUERY PLAN DELETE FROM sessions WHERE user_id = ?1 AND "
                               "expires_at <= ?2",
                               -1, &st, NULL));
  while (sqlite3_step(st) == SQLITE_ROW)
    snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s;",
             (const char *)sqlite3_column_text(st, 3));
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (!strstr(plan, "sessions_user_expiry (user_id=? AND expires_at<?)"))
    FAIL_AT("plan: %s", plan);
}

static void sessions_live_and_die(void) {
  fsec_store *s = open_at(path("sess.db"));
  int64_t id = create(s, "s@x.com", NULL, 0), n = -1;
  fsec_user u;
  int deleted = -1;
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_ID, "1", 1, &u));
  {
    char uq[64];
    snprintf(uq, sizeof uq, "%s", u.fs_uniquifier);
    ASSERT_OK(fsec_store_session_create(s, "sid-1", 5, id, NOW, NOW + 100));
    ASSERT_OK(fsec_store_session_create(s, "sid-2", 5, id, NOW, NOW + 100));
    ASSERT_EQ(fsec_store_session_create(s, "sid-1", 5, id, NOW, NOW + 100), FSEC_EEXIST);
    ASSERT_EQ(fsec_store_session_create(s, "sid-x", 5, 999, NOW, NOW + 100), FSEC_ENOTFOUND);
    ASSERT_OK(fsec_store_user_find_session(s, "sid-1", 5, uq, strlen(uq), NOW + 99, &u));
    ASSERT_EQ(u.id, id);
    ASSERT_EQ(fsec_store_user_find_session(s, "sid-1", 5, uq, strlen(uq), NOW + 100, &u),
              FSEC_ENOTFOUND); /* expired */
    ASSERT_EQ(fsec_store_user_find_session(s, "sid-1", 5, "other-uq", 8, NOW, &u),
              FSEC_ENOTFOUND); /* uniquifier rotated */
    ASSERT_OK(fsec_store_session_delete(s, "sid-1", 5, &deleted));
    ASSERT_EQ(deleted, 1);
    ASSERT_EQ(fsec_store_user_find_session(s, "sid-1", 5, uq, strlen(uq), NOW, &u),
              FSEC_ENOTFOUND);
    ASSERT_OK(fsec_store_session_create(s, "sid-3", 5, id, NOW, NOW + 100));
    ASSERT_OK(fsec_store_session_delete_user(s, id, "sid-3", 5, &n));
    ASSERT_EQ(n, 1); /* sid-2 gone, sid-3 kept */
    ASSERT_OK(fsec_store_user_find_session(s, "sid-3", 5, uq, strlen(uq), NOW, &u));
    /* an expired session of the user is purged by the next login */
    ASSERT_OK(fsec_store_session_create(s, "sid-4", 5, id, NOW + 200, NOW + 300));
    ASSERT_OK(fsec_store_session_delete(s, "sid-3", 5, &deleted));
    ASSERT_EQ(deleted, 0);
    ASSERT_OK(fsec_store_user_delete(s, id, &deleted)); /* cascades */
    ASSERT_EQ(fsec_store_user_find_session(s, "sid-4", 5, uq, strlen(uq), NOW + 201, &u),
              FSEC_ENOTFOUND);
  }
  fsec_store_close(s);
}

static void failed_logins_count_in_a_window(void) {
  fsec_store *s = open_at(path("lock.db"));
  int64_t id = create(s, "l@x.com", NULL, 0), n = -1;
  fsec_user u;
  int i;
  for (i = 1; i <= 5; i++) {
    ASSERT_OK(fsec_store_user_failed_login(s, id, NOW + i, 600, &n));
    ASSERT_EQ(n, i);
  }
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "l@x.com", 7, &u));
  ASSERT_EQ(u.failed_login_count, 5);
  ASSERT_EQ(u.failed_login_window, NOW + 1);
  ASSERT_OK(fsec_store_user_failed_login(s, id, NOW + 601, 600, &n));
  ASSERT_EQ(n, 1); /* the window passed: a new one */
  ASSERT_OK(fsec_store_user_reset_failed_logins(s, id));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "l@x.com", 7, &u));
  ASSERT_EQ(u.failed_login_count, 0);
  ASSERT_EQ(u.failed_login_window, -1);
  ASSERT_EQ(fsec_store_user_failed_login(s, 999, NOW, 600, &n), FSEC_ENOTFOUND);
  fsec_store_close(s);
}

/* The reservation is one statement: at the threshold it writes nothing
 * and grants nothing, until the window passes; a release gives one back. */
static void reservations_stop_at_the_threshold(void) {
  fsec_store *s = open_at(path("reserve.db"));
  int64_t id = create(s, "r@x.com", NULL, 0), n = -1;
  int i;
  for (i = 1; i <= 3; i++) {
    ASSERT_OK(fsec_store_user_reserve_login(s, id, NOW, 600, 3, &n));
    ASSERT_EQ(n, i);
  }
  ASSERT_OK(fsec_store_user_reserve_login(s, id, NOW + 599, 600, 3, &n));
  ASSERT_EQ(n, 0); /* locked */
  ASSERT_OK(fsec_store_user_release_login(s, id));
  ASSERT_OK(fsec_store_user_reserve_login(s, id, NOW + 1, 600, 3, &n));
  ASSERT_EQ(n, 3);
  ASSERT_OK(fsec_store_user_reserve_login(s, id, NOW + 600, 600, 3, &n));
  ASSERT_EQ(n, 1); /* a new window */
  ASSERT_OK(fsec_store_user_reserve_login(s, 999, NOW, 600, 3, &n));
  ASSERT_EQ(n, 0); /* no such user: nothing granted */
  ASSERT_EQ(fsec_store_user_reserve_login(s, id, NOW, 600, 0, &n), FSEC_EINVAL);
  for (i = 1; i <= 2; i++) {
    ASSERT_OK(fsec_store_attempt_reserve(s, "k1", 2, NOW, 600, 2, &n));
    ASSERT_EQ(n, i);
  }
  ASSERT_OK(fsec_store_attempt_reserve(s, "k1", 2, NOW, 600, 2, &n));
  ASSERT_EQ(n, 0);
  ASSERT_OK(fsec_store_attempt_reserve(s, "k2", 2, NOW + 600, 600, 2, &n));
  ASSERT_EQ(n, 1); /* and k1, past its window, was pruned */
  ASSERT_EQ(count_rows(path("reserve.db"), "login_attempts"), 1);
  ASSERT_EQ(fsec_store_attempt_reserve(s, "k\0", 2, NOW, 600, 2, &n), FSEC_ENUL);
  /* each row ends by its own window: a caller with a shorter one (an
   * unknown email's meter) prunes none of a longer one's (a WebAuthn
   * challenge marked used), which pruned would be granted again */
  ASSERT_OK(fsec_store_attempt_reserve(s, "long", 4, NOW + 600, 1800, 1, &n));
  ASSERT_EQ(n, 1);
  ASSERT_OK(fsec_store_attempt_reserve(s, "short", 5, NOW + 1600, 60, 1, &n));
  ASSERT_EQ(n, 1);
  ASSERT_OK(fsec_store_attempt_reserve(s, "long", 4, NOW + 1600, 1800, 1, &n));
  ASSERT_EQ(n, 0); /* still used */
  ASSERT_OK(fsec_store_attempt_reserve(s, "short", 5, NOW + 1700, 60, 1, &n));
  ASSERT_EQ(n, 1); /* its own window has passed */
  ASSERT_OK(fsec_store_attempt_reserve(s, "other", 5, NOW + 2400, 60, 1, &n));
  ASSERT_EQ(count_rows(path("reserve.db"), "login_attempts WHERE key = 'long'"), 0); /* at its end */
  /* a count taken with a longer window moves the row's end out, never in */
  ASSERT_OK(fsec_store_attempt_reserve(s, "grow", 4, NOW + 3000, 60, 2, &n));
  ASSERT_EQ(n, 1);
  ASSERT_OK(fsec_store_attempt_reserve(s, "grow", 4, NOW + 3030, 600, 2, &n));
  ASSERT_EQ(n, 2);
  ASSERT_OK(fsec_store_attempt_reserve(s, "other", 5, NOW + 3100, 60, 1, &n));
  ASSERT_OK(fsec_store_attempt_reserve(s, "grow", 4, NOW + 3100, 600, 2, &n));
  ASSERT_EQ(n, 0); /* kept to NOW + 3600 */
  ASSERT_OK(fsec_store_attempt_reserve(s, "grow", 4, NOW + 3030, 10, 2, &n));
  ASSERT_EQ(n, 1); /* a new window: its end is this one's */
  ASSERT_OK(fsec_store_attempt_reserve(s, "other", 5, NOW + 3040, 60, 1, &n));
  ASSERT_EQ(count_rows(path("reserve.db"), "login_attempts WHERE key = 'grow'"), 0);
  fsec_store_close(s);
}

/* Reservations raced from several connections (threads, each its own
 * store, as nginx workers or nodes): at most the threshold is granted in
 * all, and the count never passes it. */
#define RACERS 4
#define TRIES 25
#define THRESHOLD 7
static const char *race_path;
static int64_t race_user;

static void *racer(void *arg) {
  fsec_store *s = open_at(race_path);
  int64_t n, *granted = arg;
  int i, rc;
  for (i = 0; i < TRIES; i++) {
    do
      rc = fsec_store_user_reserve_login(s, race_user, NOW, 600, THRESHOLD, &n);
    while (rc == FSEC_EBUSY);
    ASSERT_OK(rc);
    if (n > 0) (*granted)++;
    ASSERT(n <= THRESHOLD);
  }
  fsec_store_close(s);
  return NULL;
}

static void reservations_hold_across_connections(void) {
  pthread_t t[RACERS];
  int64_t granted[RACERS] = {0}, total = 0;
  fsec_store *s;
  fsec_user u;
  int i;
  race_path = path("race.db");
  s = open_at(race_path);
  race_user = create(s, "race@x.com", NULL, 0);
  for (i = 0; i < RACERS; i++) ASSERT_OK(pthread_create(&t[i], NULL, racer, &granted[i]));
  for (i = 0; i < RACERS; i++) ASSERT_OK(pthread_join(t[i], NULL));
  for (i = 0; i < RACERS; i++) total += granted[i];
  ASSERT_EQ(total, THRESHOLD);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "race@x.com", 10, &u));
  ASSERT_EQ(u.failed_login_count, THRESHOLD);
  fsec_store_close(s);
}

/* The revocation epoch moves with every write that revokes, and only
 * those (a login's session and tracking, a failed login move nothing). */
static void revocation_epoch_moves_with_revoking_writes(void) {
  fsec_store *s = open_at(path("epoch.db"));
  const char *none[] = {"r"};
  int64_t id, e0, e1, n;
  int changed;
  ASSERT_OK(fsec_store_role_create(s, "r", 1, NULL, 0, NULL, 0, NOW, NULL));
  id = create(s, "e@x.com", none, 1);
  ASSERT_OK(fsec_store_revocation_epoch(s, &e0));
  ASSERT_OK(fsec_store_session_create(s, "sid-e", 5, id, NOW, 4000000000LL));
  ASSERT_OK(fsec_store_user_track_login(s, id, "1.2.3.4", 7, NOW));
  ASSERT_OK(fsec_store_user_failed_login(s, id, NOW, 600, &n));
  ASSERT_OK(fsec_store_user_set_text(s, id, FSEC_COL_PASSWORD, "h", 1, NOW, &changed));
  ASSERT_OK(fsec_store_revocation_epoch(s, &e1));
  ASSERT_EQ(e1, e0 + 1); /* the password, nothing else */
  ASSERT_OK(fsec_store_user_set_text(s, id, FSEC_COL_PASSWORD, "h", 1, NOW, &changed));
  ASSERT_EQ(changed, 0);
  ASSERT_OK(fsec_store_revocation_epoch(s, &e0));
  ASSERT_EQ(e0, e1); /* unchanged value: no move */
  ASSERT_OK(fsec_store_session_delete(s, "sid-e", 5, &changed));
  ASSERT_OK(fsec_store_revocation_epoch(s, &e1));
  ASSERT_EQ(e1, e0 + 1); /* a live session ended */
  ASSERT_OK(fsec_store_user_remove_role(s, id, "r", 1, &changed));
  ASSERT_OK(fsec_store_role_set_permissions(s, "r", 1, "p", 1, NOW, &changed));
  ASSERT_OK(fsec_store_user_set_int(s, id, FSEC_COL_ACTIVE, 0, 0, NOW, &changed));
  ASSERT_OK(fsec_store_revocation_epoch(s, &e0));
  ASSERT_EQ(e0, e1 + 3);
  fsec_store_close(s);
}

/* The replay guard: a counter is stored when new or greater, per user
 * and method; the revocation epoch does not move; the rows go with the
 * user. */
static void otp_counters_only_move_forward(void) {
  const char *p = path("otp.db");
  fsec_store *s = open_at(p);
  int64_t a = create(s, "a@x.com", NULL, 0), b = create(s, "b@x.com", NULL, 0);
  int64_t e0, e1;
  int deleted;
  ASSERT_OK(fsec_store_revocation_epoch(s, &e0));
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp", 1000), 1); /* first use */
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp", 1000), 0); /* replay */
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp", 999), 0);  /* older */
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp", 1001), 1);
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp", 1000), 0);
  ASSERT_EQ(fsec_store_otp_advance(s, a, "us_totp", 1000), 1); /* per method */
  ASSERT_EQ(fsec_store_otp_advance(s, b, "totp", 1000), 1);    /* per user */
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp", 0), 0);
  ASSERT_EQ(fsec_store_otp_advance(s, a, "x", 0), 1); /* 0 is a counter too */
  ASSERT_OK(fsec_store_revocation_epoch(s, &e1));
  ASSERT_EQ(e1, e0);
  ASSERT_EQ(fsec_store_otp_advance(s, 999999, "totp", 5), FSEC_ENOTFOUND);
  ASSERT_EQ(fsec_store_otp_advance(s, a, "", 5), FSEC_EINVAL);
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp x", 5), FSEC_EINVAL);
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp'--", 5), FSEC_EINVAL);
  ASSERT_EQ(fsec_store_otp_advance(s, a, "m123456789012345678901234567890123", 5), FSEC_EINVAL);
  ASSERT_EQ(fsec_store_otp_advance(s, a, "m1234567890123456789012345678901", 5), 1); /* 32 */
  ASSERT_EQ(fsec_store_otp_advance(s, a, "totp", -1), FSEC_EINVAL);
  ASSERT_EQ(count_rows(p, "otp_counters"), 5);
  /* inside a transaction: the replay is seen, and a rollback undoes it */
  ASSERT_OK(fsec_store_begin(s));
  ASSERT_EQ(fsec_store_otp_advance(s, b, "totp", 2000), 1);
  ASSERT_EQ(fsec_store_otp_advance(s, b, "totp", 2000), 0);
  ASSERT_OK(fsec_store_rollback(s));
  ASSERT_EQ(fsec_store_otp_advance(s, b, "totp", 2000), 1);
  ASSERT_OK(fsec_store_user_delete(s, a, &deleted));
  ASSERT_EQ(count_rows(p, "otp_counters"), 1); /* b's only */
  fsec_store_close(s);
}

static char *col_of(const char *p, int64_t id, const char *col) {
  static char out[256];
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT coalesce(%s, '<null>') FROM users WHERE id = %lld", col,
           (long long)id);
  out[0] = '\0';
  if (ON_PG) {
    PGconn *c = PQconnectdb(PG_URI);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) FAIL_AT("%s: %s", sql, PQerrorMessage(c));
    if (PQntuples(r)) snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
  } else {
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_OK(sqlite3_open(p, &db));
    ASSERT_OK(sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    if (sqlite3_step(st) == SQLITE_ROW)
      snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  return out;
}

/* Compare-and-set: swapped only from the expected value (NULL: IS NULL),
 * moving the epoch as a set does for a revoking column. */
static void swap_text_is_compare_and_set(void) {
  const char *p = path("swap.db");
  fsec_store *s = open_at(p);
  int64_t id = create(s, "s@x.com", NULL, 0), e0, e1;
  const fsec_user_col RC = FSEC_COL_MF_RECOVERY_CODES;
  ASSERT_OK(fsec_store_revocation_epoch(s, &e0));
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, "a", 1, "b", 1, NOW), 0); /* is NULL */
  ASSERT_STREQ(col_of(p, id, "mf_recovery_codes"), "<null>");
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, NULL, 0, "a,b,c", 5, NOW), 1);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, NULL, 0, "x", 1, NOW), 0);
  ASSERT_STREQ(col_of(p, id, "mf_recovery_codes"), "a,b,c");
  ASSERT_OK(fsec_store_revocation_epoch(s, &e1));
  ASSERT_EQ(e1, e0 + 1);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, "a,b,c", 5, "b,c", 3, NOW), 1);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, "a,b,c", 5, "b,c", 3, NOW), 0); /* spent */
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, "a,b", 3, "b", 1, NOW), 0);     /* no prefix */
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, "B,C", 3, "c", 1, NOW), 0);     /* bytes */
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, "b,c", 3, NULL, 0, NOW), 1);
  ASSERT_STREQ(col_of(p, id, "mf_recovery_codes"), "<null>");
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, "", 0, "y", 1, NOW), 0); /* "" is not NULL */
  ASSERT_EQ(fsec_store_user_swap_text(s, 999999, RC, NULL, 0, "y", 1, NOW), 0);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_USERNAME, NULL, 0, "sam", 3, NOW),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_ACTIVE, NULL, 0, "1", 1, NOW), FSEC_EINVAL);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, "a\0", 2, "b", 1, NOW), FSEC_ENUL);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, RC, NULL, 0, "\xff", 1, NOW), FSEC_EUTF8);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_TF_PRIMARY_METHOD, NULL, 0, "authenticator",
                                      13, NOW),
            1);
  ASSERT_STREQ(col_of(p, id, "tf_primary_method"), "authenticator");
  ASSERT_STREQ(col_of(p, id, "mf_recovery_codes"), "<null>");
  {
    fsec_user u;
    ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "s@x.com", 7, &u));
    ASSERT_STREQ(u.tf_primary_method, "authenticator"); /* read back */
    ASSERT_NULL(u.mf_recovery_codes);
    ASSERT_NULL(u.tf_totp_secret);
  }
  ASSERT_OK(fsec_store_revocation_epoch(s, &e0));
  ASSERT_EQ(e0, e1 + 3); /* every swap that changed a revoking column */
  /* the email compares folded, and moves its norm with it: of two links
   * moving the account from s@x.com, one does */
  create(s, "taken@x.com", NULL, 0);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, "S@X.com", 7, "T@x.com", 7, NOW), 1);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, "s@x.com", 7, "u@x.com", 7, NOW), 0);
  ASSERT_STREQ(col_of(p, id, "email"), "T@x.com");
  ASSERT_STREQ(col_of(p, id, "email_norm"), "t@x.com");
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, "t@x.com", 7, "TAKEN@x.com", 11, NOW),
            FSEC_EEXIST);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, "t@x.com", 7, NULL, 0, NOW), FSEC_EINVAL);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, NULL, 0, "v@x.com", 7, NOW), FSEC_EINVAL);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, "t@x.com", 7, "not an address", 14, NOW),
            FSEC_EIDENTITY);
  {
    fsec_user u;
    ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "t@x.com", 7, &u)); /* found by it */
    ASSERT_EQ(u.id, id);
  }
  ASSERT_OK(fsec_store_revocation_epoch(s, &e1));
  ASSERT_EQ(e1, e0 + 1); /* the email is a revoking column */
  /* an address stored before today's rules (a soft hyphen): it folds no
   * more, so it is compared as stored, and its owner can move away */
  {
    static const char *legacy_sql = "UPDATE users SET email = 'ad\xc2\xadmin@x.com',"
                                    " email_norm = 'ad\xc2\xadmin@x.com' WHERE email_norm = 't@x.com'";
    if (ON_PG) {
      pg_sql(legacy_sql);
    } else {
      sqlite3 *db;
      ASSERT_OK(sqlite3_open(p, &db));
      ASSERT_OK(sqlite3_exec(db, legacy_sql, NULL, NULL, NULL));
      sqlite3_close(db);
    }
    ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, "AD\xc2\xadmin@x.com", 13, "w@x.com", 7,
                                        NOW),
              0); /* as stored: not folded */
    ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, "ad\xc2\xadmin@x.com", 13, "w@x.com", 7,
                                        NOW),
              1);
    ASSERT_STREQ(col_of(p, id, "email_norm"), "w@x.com");
    ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_EMAIL, "w@x.com\0", 8, "v@x.com", 7, NOW),
              FSEC_ENUL); /* the expected value is still checked */
  }
  fsec_store_close(s);
}

/* Racers on their own connections (nginx workers, nodes), released at
 * once by a barrier: each round, of them all exactly one advances the
 * counter, and exactly one spends the value. */
#define ROUNDS 30
static pthread_barrier_t race_barrier;
static int race_wins[RACERS];

static void *otp_racer(void *arg) {
  int me = (int)(intptr_t)arg, i, rc;
  fsec_store *s = open_at(race_path);
  char want[16], next[16];
  for (i = 0; i < ROUNDS; i++) {
    pthread_barrier_wait(&race_barrier);
    do
      rc = fsec_store_otp_advance(s, race_user, "totp", 5000 + i);
    while (rc == FSEC_EBUSY);
    ASSERT(rc == 0 || rc == 1);
    race_wins[me] += rc;
    snprintf(want, sizeof want, "code-%d", i);
    snprintf(next, sizeof next, "code-%d", i + 1);
    pthread_barrier_wait(&race_barrier);
    do
      rc = fsec_store_user_swap_text(s, race_user, FSEC_COL_MF_RECOVERY_CODES, want, strlen(want),
                                     next, strlen(next), NOW);
    while (rc == FSEC_EBUSY);
    ASSERT(rc == 0 || rc == 1);
    race_wins[me] += rc * 1000;
  }
  fsec_store_close(s);
  return NULL;
}

static void one_time_values_are_spent_once_across_connections(void) {
  pthread_t t[RACERS];
  fsec_store *s;
  int i, total = 0;
  race_path = path("race-otp.db");
  s = open_at(race_path);
  race_user = create(s, "otp-race@x.com", NULL, 0);
  ASSERT_EQ(fsec_store_user_swap_text(s, race_user, FSEC_COL_MF_RECOVERY_CODES, NULL, 0, "code-0",
                                      6, NOW),
            1);
  memset(race_wins, 0, sizeof race_wins);
  ASSERT_OK(pthread_barrier_init(&race_barrier, NULL, RACERS));
  for (i = 0; i < RACERS; i++)
    ASSERT_OK(pthread_create(&t[i], NULL, otp_racer, (void *)(intptr_t)i));
  for (i = 0; i < RACERS; i++) ASSERT_OK(pthread_join(t[i], NULL));
  pthread_barrier_destroy(&race_barrier);
  for (i = 0; i < RACERS; i++) total += race_wins[i];
  ASSERT_EQ(total, ROUNDS * 1000 + ROUNDS); /* one of each per round */
  ASSERT_STREQ(col_of(race_path, race_user, "mf_recovery_codes"), "code-30");
  fsec_store_close(s);
}

/* A database of schema 8 (made with the migrations of its day) opens,
 * becomes 9, and keeps its users; the new table is there. */
static void schema_8_is_migrated_to_9(void) {
  const char *p = path("v8.db");
  fsec_store *s;
  fsec_user u;
  int v;
  static const char *insert = "INSERT INTO users (email, email_norm, fs_uniquifier,"
                              " create_datetime, update_datetime)"
                              " VALUES ('Eight@X.org', 'eight@x.org', 'uq-8', 1, 1);";
  if (ON_PG) {
    pg_reset(p);
    pg_sql("CREATE TABLE fsec_schema (version integer NOT NULL);"
           "INSERT INTO fsec_schema VALUES (8)");
    for (v = 1; v <= 8; v++)
      if (*fsec__pg_migration_sql(v)) pg_sql(fsec__pg_migration_sql(v));
    pg_sql(insert);
  } else {
    sqlite3 *db;
    ASSERT_OK(sqlite3_open(p, &db));
    for (v = 1; v <= 8; v++) ASSERT_OK(sqlite3_exec(db, fsec__migration_sql(v), NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, insert, NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, "PRAGMA user_version = 8", NULL, NULL, NULL));
    sqlite3_close(db);
  }
  ASSERT_EQ(count_rows(p, "users"), 1);
  s = open_at(p);
  ASSERT_EQ(fsec_store_schema_version(s), FSEC_SCHEMA_VERSION);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "eight@x.org", 11, &u));
  ASSERT_STREQ(u.email, "Eight@X.org");
  ASSERT_EQ(fsec_store_otp_advance(s, u.id, "totp", 1), 1);
  ASSERT_EQ(fsec_store_otp_advance(s, u.id, "totp", 1), 0);
  ASSERT_EQ(count_rows(p, "otp_counters"), 1);
  fsec_store_close(s);
}

/* A database at schema 9 with a live session: migration 10 gives the
 * session a data column (none yet, version 0) and keeps it live; its data
 * then takes a compare-and-set write, and goes with the session. */
static void schema_9_is_migrated_to_10(void) {
  const char *p = path("v9.db"), *data = NULL;
  fsec_store *s;
  fsec_user u;
  size_t len = 1;
  int64_t version = -1;
  int v, changed = 0, deleted = 0;
  static const char *insert = "INSERT INTO users (email, email_norm, fs_uniquifier,"
                              " create_datetime, update_datetime)"
                              " VALUES ('Nine@X.org', 'nine@x.org', 'uq-9', 1, 1);"
                              "INSERT INTO sessions (id, user_id, created_at, expires_at)"
                              " SELECT 'sid-9', id, 1, 4000000000 FROM users;";
  if (ON_PG) {
    pg_reset(p);
    pg_sql("CREATE TABLE fsec_schema (version integer NOT NULL);"
           "INSERT INTO fsec_schema VALUES (9)");
    for (v = 1; v <= 9; v++)
      if (*fsec__pg_migration_sql(v)) pg_sql(fsec__pg_migration_sql(v));
    pg_sql(insert);
  } else {
    sqlite3 *db;
    ASSERT_OK(sqlite3_open(p, &db));
    for (v = 1; v <= 9; v++) ASSERT_OK(sqlite3_exec(db, fsec__migration_sql(v), NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, insert, NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, "PRAGMA user_version = 9", NULL, NULL, NULL));
    sqlite3_close(db);
  }
  s = open_at(p);
  ASSERT_EQ(fsec_store_schema_version(s), FSEC_SCHEMA_VERSION);
  ASSERT_OK(fsec_store_user_find_session(s, "sid-9", 5, "uq-9", 4, 2, &u));
  ASSERT_OK(fsec_store_session_data_get(s, "sid-9", 5, 2, &data, &len, &version));
  ASSERT_NULL(data);
  ASSERT_EQ(len, 0);
  ASSERT_EQ(version, 0);
  ASSERT_OK(fsec_store_session_data_set(s, "sid-9", 5, "{\"a\":1}", 7, 0, 2, &changed));
  ASSERT_EQ(changed, 1);
  ASSERT_OK(fsec_store_session_data_set(s, "sid-9", 5, "{}", 2, 0, 2, &changed));
  ASSERT_EQ(changed, 0); /* version 0 is gone: the loser writes nothing */
  ASSERT_OK(fsec_store_session_data_get(s, "sid-9", 5, 2, &data, &len, &version));
  ASSERT_STREQ(data, "{\"a\":1}");
  ASSERT_EQ(version, 1);
  /* over the bound: refused before anything is written */
  {
    size_t big = FSEC_SESSION_DATA_MAX + 1;
    char *buf = malloc(big);
    ASSERT(buf != NULL);
    memset(buf, 'x', big);
    ASSERT_EQ(fsec_store_session_data_set(s, "sid-9", 5, buf, big, 1, 2, &changed), FSEC_ETOOLONG);
    free(buf);
  }
  ASSERT_OK(fsec_store_session_delete(s, "sid-9", 5, &deleted));
  ASSERT_EQ(deleted, 1);
  ASSERT_EQ(fsec_store_session_data_get(s, "sid-9", 5, 2, &data, &len, &version), FSEC_ENOTFOUND);
  fsec_store_close(s);
}

/* A database at schema 10 with a user: migration 11 gives users the
 * application's fields column (none yet); a new user is created with
 * fields, they can be set, swapped and removed, and an oversized or
 * non-UTF-8 value is refused before anything is written. */
static void schema_10_is_migrated_to_11(void) {
  const char *p = path("v10.db");
  static const char *const ann = "{\"display_name\":\"Ann\"}";
  fsec_store *s;
  fsec_user u;
  fsec_user_new in;
  int64_t id = 0, epoch = 0;
  int v, changed = 0;
  static const char *insert = "INSERT INTO users (email, email_norm, fs_uniquifier,"
                              " create_datetime, update_datetime)"
                              " VALUES ('Ten@X.org', 'ten@x.org', 'uq-10', 1, 1);";
  if (ON_PG) {
    pg_reset(p);
    pg_sql("CREATE TABLE fsec_schema (version integer NOT NULL);"
           "INSERT INTO fsec_schema VALUES (10)");
    for (v = 1; v <= 10; v++)
      if (*fsec__pg_migration_sql(v)) pg_sql(fsec__pg_migration_sql(v));
    pg_sql(insert);
  } else {
    sqlite3 *db;
    ASSERT_OK(sqlite3_open(p, &db));
    for (v = 1; v <= 10; v++) ASSERT_OK(sqlite3_exec(db, fsec__migration_sql(v), NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, insert, NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, "PRAGMA user_version = 10", NULL, NULL, NULL));
    sqlite3_close(db);
  }
  s = open_at(p);
  ASSERT_EQ(fsec_store_schema_version(s), FSEC_SCHEMA_VERSION);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "ten@x.org", 9, &u));
  ASSERT_NULL(u.fields);
  memset(&in, 0, sizeof in);
  in.email = "eleven@x.org";
  in.active = 1;
  in.confirmed_at = -1;
  in.now = 2;
  in.fields = ann;
  ASSERT_OK(fsec_store_user_create(s, &in, &id));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "eleven@x.org", 12, &u));
  ASSERT_STREQ(u.fields, ann);
  /* a fields change is no revoking write: the epoch stays */
  ASSERT_OK(fsec_store_revocation_epoch(s, &epoch));
  ASSERT_OK(fsec_store_user_set_text(s, id, FSEC_COL_FIELDS, "{}", 2, 3, &changed));
  ASSERT_EQ(changed, 1);
  {
    int64_t after = -1;
    ASSERT_OK(fsec_store_revocation_epoch(s, &after));
    ASSERT_EQ(after, epoch);
  }
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_FIELDS, "{}", 2, ann, strlen(ann), 4), 1);
  ASSERT_EQ(fsec_store_user_swap_text(s, id, FSEC_COL_FIELDS, "{}", 2, NULL, 0, 4), 0);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_ID, "2", 1, &u));
  ASSERT_STREQ(u.fields, ann);
  ASSERT_EQ(fsec_store_user_set_text(s, id, FSEC_COL_FIELDS, "{\"a\":\"\xff\"}", 8, 5, &changed),
            FSEC_EUTF8);
  {
    size_t big = FSEC_FIELDS_MAX + 1;
    char *buf = malloc(big + 1);
    ASSERT(buf != NULL);
    memset(buf, 'x', big);
    buf[big] = '\0';
    ASSERT_EQ(fsec_store_user_set_text(s, id, FSEC_COL_FIELDS, buf, big, 5, &changed), FSEC_ETOOLONG);
    in.email = "twelve@x.org";
    in.fields = buf;
    ASSERT_EQ(fsec_store_user_create(s, &in, &id), FSEC_ETOOLONG);
    free(buf);
  }
  ASSERT_EQ(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "twelve@x.org", 12, &u), FSEC_ENOTFOUND);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_ID, "2", 1, &u));
  ASSERT_STREQ(u.fields, ann);
  ASSERT_OK(fsec_store_user_set_text(s, 2, FSEC_COL_FIELDS, NULL, 0, 6, &changed));
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_ID, "2", 1, &u));
  ASSERT_NULL(u.fields);
  fsec_store_close(s);
}

/* PostgreSQL only: a URI holding a password is refused before any
 * connection, and says so without repeating it. */
static void pg_uri_with_password_is_refused(void) {
  fsec_store_config cfg;
  fsec_store *s = NULL;
  char err[256] = "";
  fsec_store_config_init(&cfg);
  cfg.path = "postgresql://fsec:s3cret-pw@127.0.0.1:1/x";
  ASSERT_EQ(fsec_store_open(&s, &cfg, err, sizeof err), FSEC_EINVAL);
  ASSERT(strstr(err, "password file") != NULL);
  ASSERT(strstr(err, "s3cret-pw") == NULL);
  ASSERT_NULL(s);
  cfg.path = "postgresql://127.0.0.1:1/x?connect_timeout=1"; /* nobody listens */
  ASSERT_EQ(fsec_store_open(&s, &cfg, err, sizeof err), FSEC_EUNAVAILABLE);
  ASSERT_NULL(s);
}

/* PostgreSQL only: a newer schema, or a database of someone else's tables,
 * is refused and left as it was. */
static void pg_newer_or_foreign_schema_is_refused(void) {
  fsec_store_config cfg;
  fsec_store *s = NULL;
  char err[256] = "";
  fsec_store_close(open_at(path("pgv.db")));
  pg_sql("UPDATE fsec_schema SET version = 99");
  fsec_store_config_init(&cfg);
  cfg.path = PG_URI;
  ASSERT_EQ(fsec_store_open(&s, &cfg, err, sizeof err), FSEC_EDB);
  ASSERT(strstr(err, "newer than this fsec") != NULL);
  pg_sql("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
         " CREATE TABLE \"user\" (id integer)");
  ASSERT_EQ(fsec_store_open(&s, &cfg, err, sizeof err), FSEC_EDB);
  ASSERT(strstr(err, "not an fsec database") != NULL);
  ASSERT_EQ(count_rows(NULL, "\"user\""), 0);
  pg_last[0] = '\0';
}

/* PostgreSQL only: the URI's own server options stay (fsec adds its
 * timeouts to them): a search_path given there is where the store lives. */
static void pg_uri_options_are_kept(void) {
  fsec_store_config cfg;
  fsec_store *s = NULL;
  char err[256] = "", uri[600];
  pg_sql("SET client_min_messages = warning; DROP SCHEMA IF EXISTS other CASCADE; CREATE SCHEMA other");
  snprintf(uri, sizeof uri, "%s%soptions=-csearch_path%%3Dother", PG_URI,
           strchr(PG_URI, '?') ? "&" : "?");
  fsec_store_config_init(&cfg);
  cfg.path = uri;
  if (fsec_store_open(&s, &cfg, err, sizeof err) != FSEC_OK) FAIL_AT("open: %s", err);
  ASSERT(create(s, "o@x.com", NULL, 0) > 0);
  fsec_store_close(s);
  ASSERT_EQ(count_rows(NULL, "other.users"), 1);
  pg_sql("SET client_min_messages = warning; DROP SCHEMA other CASCADE");
}

/* Several processes (nodes, workers) opening one new database at the
 * same moment: all open it, one migrates, none calls the others' fresh
 * tables foreign (spec/23's cluster start found this race). */
#define OPENERS 6
static pthread_barrier_t open_barrier;
static const char *open_path;

static void *opener(void *arg) {
  fsec_store_config cfg;
  fsec_store *s = NULL;
  char err[256] = "";
  int *rc = arg;
  fsec_store_config_init(&cfg);
  cfg.path = ON_PG ? PG_URI : open_path;
  pthread_barrier_wait(&open_barrier);
  *rc = fsec_store_open(&s, &cfg, err, sizeof err);
  if (*rc != FSEC_OK) fprintf(stderr, "opener: %s\n", err);
  fsec_store_close(s);
  return NULL;
}

static void first_opens_race_and_all_succeed(void) {
  pthread_t t[OPENERS];
  int rc[OPENERS], i, round;
  char name[32];
  for (round = 0; round < 5; round++) {
    snprintf(name, sizeof name, "race-open-%d.db", round);
    open_path = path(name);
    if (ON_PG) {
      pg_last[0] = '\0';
      pg_reset(open_path);
    }
    ASSERT_OK(pthread_barrier_init(&open_barrier, NULL, OPENERS));
    for (i = 0; i < OPENERS; i++) ASSERT_OK(pthread_create(&t[i], NULL, opener, &rc[i]));
    for (i = 0; i < OPENERS; i++) ASSERT_OK(pthread_join(t[i], NULL));
    pthread_barrier_destroy(&open_barrier);
    for (i = 0; i < OPENERS; i++) ASSERT_OK(rc[i]);
  }
}

/* The tests that hold for every backend. */
/* A database at schema 12 whose user has a WebAuthn handle (an import of
 * Flask-Security-Too's column): migration 13 adds the webauthn table, the
 * handle finds the user, credentials keep their bytes, go with their
 * user and with fsec_store_webauthn_reset. */
static void schema_12_is_migrated_to_13(void) {
  const char *p = path("v12.db");
  static const char cid[] = "\0\x01\xff"
                            "cid",
                    key[] = "\xa5\x01\x02\0\xff";
  fsec_store *s;
  fsec_user u;
  fsec_webauthn w, got;
  int64_t id = 0;
  int v, changed = 0;
  static const char *insert = "INSERT INTO users (email, email_norm, fs_uniquifier,"
                              " fs_webauthn_user_handle, create_datetime, update_datetime)"
                              " VALUES ('Twelve@X.org', 'twelve@x.org', 'uq-12', 'handle-12',"
                              " 1, 1);";
  if (ON_PG) {
    pg_reset(p);
    pg_sql("CREATE TABLE fsec_schema (version integer NOT NULL);"
           "INSERT INTO fsec_schema VALUES (12)");
    for (v = 1; v <= 12; v++)
      if (*fsec__pg_migration_sql(v)) pg_sql(fsec__pg_migration_sql(v));
    pg_sql(insert);
  } else {
    sqlite3 *db;
    ASSERT_OK(sqlite3_open(p, &db));
    for (v = 1; v <= 12; v++) ASSERT_OK(sqlite3_exec(db, fsec__migration_sql(v), NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, insert, NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, "PRAGMA user_version = 12", NULL, NULL, NULL));
    sqlite3_close(db);
  }
  s = open_at(p);
  ASSERT_EQ(fsec_store_schema_version(s), FSEC_SCHEMA_VERSION);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_WEBAUTHN_HANDLE, "handle-12", 9, &u));
  ASSERT_STREQ(u.email, "Twelve@X.org");
  ASSERT_STREQ(u.fs_webauthn_user_handle, "handle-12");
  memset(&w, 0, sizeof w);
  w.user_id = u.id;
  w.credential_id = cid;
  w.credential_id_len = sizeof cid - 1;
  w.public_key = key;
  w.public_key_len = sizeof key - 1;
  w.sign_count = FSEC_WEBAUTHN_SIGN_COUNT_MAX;
  w.transports = "usb,nfc";
  w.name = "key";
  w.usage = "first";
  w.create_datetime = w.lastuse_datetime = 7;
  ASSERT_OK(fsec_store_webauthn_create(s, &w, &id));
  ASSERT_EQ(fsec_store_webauthn_create(s, &w, &id), FSEC_EEXIST);
  ASSERT_OK(fsec_store_webauthn_find(s, cid, sizeof cid - 1, &got));
  ASSERT_EQ(got.credential_id_len, sizeof cid - 1);
  ASSERT(memcmp(got.credential_id, cid, sizeof cid - 1) == 0);
  ASSERT_EQ(got.public_key_len, sizeof key - 1);
  ASSERT(memcmp(got.public_key, key, sizeof key - 1) == 0);
  ASSERT_EQ(got.sign_count, FSEC_WEBAUTHN_SIGN_COUNT_MAX);
  ASSERT_STREQ(got.transports, "usb,nfc");
  ASSERT_EQ(fsec_store_webauthn_find(s, cid, 3, &got), FSEC_ENOTFOUND); /* a prefix */
  w.sign_count = FSEC_WEBAUTHN_SIGN_COUNT_MAX + 1;
  w.credential_id = "other";
  w.credential_id_len = 5;
  ASSERT_EQ(fsec_store_webauthn_create(s, &w, &id), FSEC_EINVAL);
  ASSERT_EQ(fsec_store_webauthn_used(s, got.id, 1, 2, 8, &changed), FSEC_OK);
  ASSERT_EQ(changed, 0); /* not the count it holds */
  ASSERT_OK(fsec_store_webauthn_reset(s, u.id, 9));
  ASSERT_EQ(fsec_store_webauthn_find(s, cid, sizeof cid - 1, &got), FSEC_ENOTFOUND);
  ASSERT_EQ(fsec_store_user_find(s, FSEC_USER_BY_WEBAUTHN_HANDLE, "handle-12", 9, &u),
            FSEC_ENOTFOUND);
  fsec_store_close(s);
}

/* A database at schema 13 with a row of the attempt meter: migration 14
 * gives it an end 30 days after it started (its window is not known), and
 * the meter goes on counting it. */
static void schema_13_is_migrated_to_14(void) {
  const char *p = path("v13.db");
  fsec_store *s;
  int64_t n = -1;
  int v;
  static const char *insert = "INSERT INTO login_attempts (key, n, started) VALUES ('k13', 1, 1000);";
  if (ON_PG) {
    pg_reset(p);
    pg_sql("CREATE TABLE fsec_schema (version integer NOT NULL);"
           "INSERT INTO fsec_schema VALUES (13)");
    for (v = 1; v <= 13; v++)
      if (*fsec__pg_migration_sql(v)) pg_sql(fsec__pg_migration_sql(v));
    pg_sql(insert);
  } else {
    sqlite3 *db;
    ASSERT_OK(sqlite3_open(p, &db));
    for (v = 1; v <= 13; v++) ASSERT_OK(sqlite3_exec(db, fsec__migration_sql(v), NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, insert, NULL, NULL, NULL));
    ASSERT_OK(sqlite3_exec(db, "PRAGMA user_version = 13", NULL, NULL, NULL));
    sqlite3_close(db);
  }
  s = open_at(p);
  ASSERT_EQ(fsec_store_schema_version(s), FSEC_SCHEMA_VERSION);
  ASSERT_EQ(count_rows(p, "login_attempts WHERE expires = 1000 + 2592000"), 1);
  ASSERT_OK(fsec_store_attempt_reserve(s, "k13", 3, 1500, 600, 3, &n));
  ASSERT_EQ(n, 2); /* the same window: counted on */
  ASSERT_OK(fsec_store_attempt_reserve(s, "x", 1, 1000 + 2592000, 60, 3, &n));
  ASSERT_EQ(count_rows(p, "login_attempts WHERE key = 'k13'"), 0); /* pruned at its end */
  fsec_store_close(s);
}

/* Racers on their own connections, released at once by a barrier, each
 * round apply the same new sign count to the count they all read: of
 * them exactly one records it (a cloned authenticator's assertion and
 * the real one racing: one wins, the other sees the count moved). */
static int64_t wan_race_id;
static int wan_wins[RACERS];

static void *wan_racer(void *arg) {
  int me = (int)(intptr_t)arg, i, rc, changed;
  fsec_store *s = open_at(race_path);
  for (i = 0; i < ROUNDS; i++) {
    pthread_barrier_wait(&race_barrier);
    do {
      changed = 0;
      rc = fsec_store_webauthn_used(s, wan_race_id, i, i + 1, NOW, &changed);
    } while (rc == FSEC_EBUSY);
    ASSERT_OK(rc);
    wan_wins[me] += changed;
    pthread_barrier_wait(&race_barrier); /* all tried before the next round */
  }
  fsec_store_close(s);
  return NULL;
}

static void webauthn_sign_count_is_set_once_across_connections(void) {
  pthread_t t[RACERS];
  fsec_store *s;
  fsec_webauthn w;
  int i, total = 0;
  race_path = path("race-wan.db");
  s = open_at(race_path);
  memset(&w, 0, sizeof w);
  w.user_id = create(s, "wan-race@x.com", NULL, 0);
  w.credential_id = "race";
  w.credential_id_len = 4;
  w.public_key = "k";
  w.public_key_len = 1;
  w.name = "race";
  w.usage = "first";
  ASSERT_OK(fsec_store_webauthn_create(s, &w, &wan_race_id));
  memset(wan_wins, 0, sizeof wan_wins);
  ASSERT_OK(pthread_barrier_init(&race_barrier, NULL, RACERS));
  for (i = 0; i < RACERS; i++)
    ASSERT_OK(pthread_create(&t[i], NULL, wan_racer, (void *)(intptr_t)i));
  for (i = 0; i < RACERS; i++) ASSERT_OK(pthread_join(t[i], NULL));
  pthread_barrier_destroy(&race_barrier);
  for (i = 0; i < RACERS; i++) total += wan_wins[i];
  ASSERT_EQ(total, ROUNDS); /* exactly one per round */
  ASSERT_OK(fsec_store_webauthn_find(s, "race", 4, &w));
  ASSERT_EQ(w.sign_count, ROUNDS);
  fsec_store_close(s);
}

static void neutral(void) {
  RUN(fresh_file_gets_the_schema);
  RUN(create_and_find_by_every_key);
  RUN(unicode_emails_fold);
  RUN(bad_identities_write_nothing);
  RUN(roles_and_permissions);
  RUN(set_columns_report_changes);
  RUN(tracking_follows_flask_security);
  RUN(delete_cascades);
  RUN(transactions_group_and_undo);
  RUN(meta_and_role_listing);
  RUN(child_after_fork_is_refused);
  RUN(sessions_live_and_die);
  RUN(failed_logins_count_in_a_window);
  RUN(reservations_stop_at_the_threshold);
  RUN(reservations_hold_across_connections);
  RUN(revocation_epoch_moves_with_revoking_writes);
  RUN(first_opens_race_and_all_succeed);
  RUN(otp_counters_only_move_forward);
  RUN(swap_text_is_compare_and_set);
  RUN(one_time_values_are_spent_once_across_connections);
  RUN(schema_8_is_migrated_to_9);
  RUN(schema_9_is_migrated_to_10);
  RUN(schema_10_is_migrated_to_11);
  RUN(schema_12_is_migrated_to_13);
  RUN(schema_13_is_migrated_to_14);
  RUN(webauthn_sign_count_is_set_once_across_connections);
}

int main(void) {
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(DIR_, sizeof DIR_, "%s/fsec-test-store-XXXXXX", tmp);
  if (!mkdtemp(DIR_)) FAIL_AT("mkdtemp");
  PG_URI = getenv("FSEC_TEST_PG_URI");
  if (PG_URI && *PG_URI) {
    printf("PostgreSQL\n");
    ON_PG = 1;
    neutral();
    RUN(pg_uri_with_password_is_refused);
    RUN(pg_newer_or_foreign_schema_is_refused);
    RUN(pg_uri_options_are_kept);
    ON_PG = 0;
  }
  printf("SQLite\n");
  neutral();
  RUN(old_schema_is_migrated_in_place);
  RUN(newer_schema_is_refused);
  RUN(missing_or_unwritable_folder_fails_loudly);
  RUN(deferred_commit_then_sync);
  RUN(busy_store_is_reported);
  RUN(full_database_is_clean);
  RUN(session_purge_reads_only_expired_rows);
  RUN(memory_is_reported);
  {
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", DIR_);
    return system(cmd) == 0 ? 0 : 1;
  }
}
