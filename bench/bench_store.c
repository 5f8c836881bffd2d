/*
 * bench_store.c: the store beside raw SQLite, side by side in one process.
 *
 *   find by email: fsec_store_user_find (folding, user + roles in one
 *                  statement, row copied out) vs a raw cached prepared
 *                  SELECT of the same row by its indexed key
 *   track login:   fsec_store_user_track_login vs the same UPDATE, raw
 *   insert:        fsec_store_user_create vs a raw INSERT, one commit each
 *
 * Usage: bench_store DB USERS [pairs=9]
 * The database is created with USERS users when it does not exist yet.
 * Prints one markdown row per measurement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fsec.h"
#include "bench_util.h"

#define NOW 1800000000
#define KEYS 4096


static void die(const char *what, const char *msg) {
  fprintf(stderr, "bench_store: %s: %s\n", what, msg);
  exit(1);
}

static fsec_store *open_store(const char *path) {
  fsec_store_config cfg;
  fsec_store *s;
  char err[256];
  fsec_store_config_init(&cfg);
  cfg.path = path;
  if (fsec_store_open(&s, &cfg, err, sizeof err)) die("open", err);
  return s;
}

static void email_of(long i, char *out, size_t n) {
  snprintf(out, n, "User%08ld@Example.org", i);
}

/* Populate with fsec's own API, in one transaction (bulk load). */
static void populate(const char *path, long users) {
  fsec_store *s = open_store(path);
  const char *role[] = {"member"};
  fsec_user_new in;
  char email[64];
  double t0 = now_ns();
  long i;
  if (fsec_store_role_create(s, "member", 6, NULL, 0, "read", 4, NOW, NULL))
    die("role", fsec_store_errmsg(s));
  if (fsec_store_begin(s)) die("begin", fsec_store_errmsg(s));
  memset(&in, 0, sizeof in);
  in.active = 1;
  in.confirmed_at = NOW;
  in.password = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
  in.roles = role;
  in.n_roles = 1;
  in.now = NOW;
  for (i = 0; i < users; i++) {
    email_of(i, email, sizeof email);
    in.email = email;
    if (fsec_store_user_create(s, &in, NULL)) die("create", fsec_store_errmsg(s));
  }
  if (fsec_store_commit(s)) die("commit", fsec_store_errmsg(s));
  fprintf(stderr, "populated %ld users in %.1f s (%.1f us/user, one transaction)\n",
          users, (now_ns() - t0) / 1e9, (now_ns() - t0) / 1e3 / (double)users);
  fsec_store_close(s);
}

static sqlite3 *raw_open(const char *path) {
  sqlite3 *db;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    die("raw open", sqlite3_errmsg(db));
  sqlite3_busy_timeout(db, 5000);
  /* the same settings fsec uses: WAL, FULL, 8 MiB cache */
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   " PRAGMA cache_size=-8192; PRAGMA foreign_keys=ON",
               NULL, NULL, NULL);
  return db;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL))
    die("prepare", sqlite3_errmsg(db));
  return st;
}

static char KEY[KEYS][64], NORM[KEYS][64];
static volatile long SINK;

int main(int argc, char **argv) {
  const char *path;
  long users, i;
  int pairs, p, k;
  fsec_store *s;
  sqlite3 *db;
  sqlite3_stmt *raw_find, *raw_row, *raw_track, *raw_insert;
  fsec_user u;
  double a[64], b[64], r[64], c[64], rc[64];
  const int batch = 20000;

  if (argc < 3) {
    fprintf(stderr, "usage: bench_store DB USERS [pairs]  (pairs 0: only create DB)\n");
    return 2;
  }
  path = argv[1];
  users = atol(argv[2]);
  pairs = argc > 3 ? atoi(argv[3]) : 9;
  if (users < 1 || pairs < 0 || pairs > 64) return 2;
  if (access(path, F_OK) != 0) populate(path, users);
  if (pairs == 0) return 0; /* bench/nginx.sh: a database to serve */

  srand(42);
  for (k = 0; k < KEYS; k++) {
    long i2 = (long)(((double)rand() / RAND_MAX) * (double)(users - 1));
    email_of(i2, KEY[k], sizeof KEY[k]);
    for (i = 0; KEY[k][i]; i++) /* the stored folded form (ASCII here) */
      NORM[k][i] = (char)((KEY[k][i] >= 'A' && KEY[k][i] <= 'Z') ? KEY[k][i] + 32 : KEY[k][i]);
    NORM[k][i] = '\0';
  }
  s = open_store(path);
  db = raw_open(path);
  /* The same data find_user returns: the row and its roles, in one
   * statement (what authentication needs). bench_lookup() also runs the
   * bare row SELECT, for reference. */
  raw_find = prep(db,
                  "SELECT id, email, username, password, active, confirmed_at,"
                  " fs_uniquifier, fs_token_uniquifier, last_login_at, current_login_at,"
                  " last_login_ip, current_login_ip, login_count, create_datetime,"
                  " update_datetime, COALESCE((SELECT group_concat(r.name || char(31) ||"
                  " r.permissions, char(30)) FROM roles_users ru JOIN roles r"
                  " ON r.id = ru.role_id WHERE ru.user_id = users.id), '')"
                  " FROM users WHERE email_norm = ?1");
  raw_row = prep(db,
                 "SELECT id, email, username, password, active, confirmed_at,"
                 " fs_uniquifier, fs_token_uniquifier, last_login_at, current_login_at,"
                 " last_login_ip, current_login_ip, login_count, create_datetime,"
                 " update_datetime FROM users WHERE email_norm = ?1");

  /* find by email, alternating batches */
  for (p = 0; p < pairs; p++) {
    double t0 = now_ns();
    for (k = 0; k < batch; k++) {
      const char *e = KEY[k % KEYS];
      if (fsec_store_user_find(s, FSEC_USER_BY_EMAIL, e, strlen(e), &u))
        die("find", fsec_store_errmsg(s));
      SINK += u.id;
    }
    a[p] = (now_ns() - t0) / batch;
    t0 = now_ns();
    for (k = 0; k < batch; k++) {
      sqlite3_bind_text(raw_find, 1, NORM[k % KEYS], -1, SQLITE_STATIC);
      if (sqlite3_step(raw_find) != SQLITE_ROW) die("raw find", sqlite3_errmsg(db));
      SINK += sqlite3_column_int64(raw_find, 0);
      sqlite3_reset(raw_find);
    }
    b[p] = (now_ns() - t0) / batch;
    r[p] = a[p] / b[p];
    t0 = now_ns();
    for (k = 0; k < batch; k++) {
      sqlite3_bind_text(raw_row, 1, NORM[k % KEYS], -1, SQLITE_STATIC);
      if (sqlite3_step(raw_row) != SQLITE_ROW) die("raw row", sqlite3_errmsg(db));
      SINK += sqlite3_column_int64(raw_row, 0);
      sqlite3_reset(raw_row);
    }
    c[p] = (now_ns() - t0) / batch;
    rc[p] = a[p] / c[p];
  }
  printf("| find_user by email, %7ld users | %7.2f us | raw SELECT row+roles %7.2f us | %5.2fx | <= 1.5x |\n",
         users, median(a, pairs) / 1e3, median(b, pairs) / 1e3, median(r, pairs));
  printf("|   (for reference: the bare row)   |            | raw SELECT row only  %7.2f us | %5.2fx |         |\n",
         median(c, pairs) / 1e3, median(rc, pairs));

  /* tracking update, one commit each (WAL + FULL, as configured) */
  raw_track = prep(db,
                   "UPDATE users SET last_login_at = COALESCE(current_login_at, ?2),"
                   " last_login_ip = CASE WHEN current_login_at IS NULL THEN ?3"
                   " ELSE current_login_ip END, current_login_at = ?2,"
                   " current_login_ip = ?3, login_count = login_count + 1 WHERE id = ?1");
  for (p = 0; p < pairs; p++) {
    double t0 = now_ns();
    for (k = 0; k < 100; k++)
      if (fsec_store_user_track_login(s, 1 + k, "192.0.2.1", 9, NOW + p))
        die("track", fsec_store_errmsg(s));
    a[p] = (now_ns() - t0) / 100;
    t0 = now_ns();
    for (k = 0; k < 100; k++) {
      sqlite3_bind_int64(raw_track, 1, 101 + k);
      sqlite3_bind_int64(raw_track, 2, NOW + p);
      sqlite3_bind_text(raw_track, 3, "192.0.2.1", -1, SQLITE_STATIC);
      if (sqlite3_step(raw_track) != SQLITE_DONE) die("raw track", sqlite3_errmsg(db));
      sqlite3_reset(raw_track);
    }
    b[p] = (now_ns() - t0) / 100;
    r[p] = a[p] / b[p];
  }
  printf("| track login (1 commit each)       | %7.1f us | raw UPDATE           %7.1f us | %5.2fx |         |\n",
         median(a, pairs) / 1e3, median(b, pairs) / 1e3, median(r, pairs));

  /* registration insert, one commit each */
  raw_insert = prep(db,
                    "INSERT INTO users (email, email_norm, password, active, fs_uniquifier,"
                    " fs_token_uniquifier, create_datetime, update_datetime)"
                    " VALUES (?1, ?2, 'x', 1, ?3, ?4, 1, 1)");
  for (p = 0; p < pairs; p++) {
    fsec_user_new in;
    char email[64], norm[64], uq[32], tuq[32];
    double t0 = now_ns();
    memset(&in, 0, sizeof in);
    in.active = 1;
    in.confirmed_at = -1;
    in.password = "x";
    in.now = NOW;
    for (k = 0; k < 100; k++) {
      snprintf(email, sizeof email, "new-%d-%d-%ld@example.org", p, k, (long)getpid());
      in.email = email;
      if (fsec_store_user_create(s, &in, NULL)) die("insert", fsec_store_errmsg(s));
    }
    a[p] = (now_ns() - t0) / 100;
    t0 = now_ns();
    for (k = 0; k < 100; k++) {
      snprintf(email, sizeof email, "Raw-%d-%d-%ld@example.org", p, k, (long)getpid());
      snprintf(norm, sizeof norm, "raw-%d-%d-%ld@example.org", p, k, (long)getpid());
      if (fsec_random_id(uq, sizeof uq, 16) || fsec_random_id(tuq, sizeof tuq, 16)) return 1;
      sqlite3_bind_text(raw_insert, 1, email, -1, SQLITE_STATIC);
      sqlite3_bind_text(raw_insert, 2, norm, -1, SQLITE_STATIC);
      sqlite3_bind_text(raw_insert, 3, uq, -1, SQLITE_STATIC);
      sqlite3_bind_text(raw_insert, 4, tuq, -1, SQLITE_STATIC);
      if (sqlite3_step(raw_insert) != SQLITE_DONE) die("raw insert", sqlite3_errmsg(db));
      sqlite3_reset(raw_insert);
    }
    b[p] = (now_ns() - t0) / 100;
    r[p] = a[p] / b[p];
  }
  printf("| register insert (1 commit each)   | %7.1f us | raw INSERT           %7.1f us | %5.2fx |         |\n",
         median(a, pairs) / 1e3, median(b, pairs) / 1e3, median(r, pairs));

  /* bulk registration: 1000 inserts inside one transaction */
  for (p = 0; p < pairs; p++) {
    fsec_user_new in;
    char email[64], norm[64], uq[32], tuq[32];
    double t0 = now_ns();
    memset(&in, 0, sizeof in);
    in.active = 1;
    in.confirmed_at = -1;
    in.password = "x";
    in.now = NOW;
    if (fsec_store_begin(s)) die("begin", fsec_store_errmsg(s));
    for (k = 0; k < 1000; k++) {
      snprintf(email, sizeof email, "bulk-%d-%d-%ld@example.org", p, k, (long)getpid());
      in.email = email;
      if (fsec_store_user_create(s, &in, NULL)) die("bulk", fsec_store_errmsg(s));
    }
    if (fsec_store_commit(s)) die("commit", fsec_store_errmsg(s));
    a[p] = (now_ns() - t0) / 1000;
    t0 = now_ns();
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (k = 0; k < 1000; k++) {
      snprintf(email, sizeof email, "Rawbulk-%d-%d-%ld@example.org", p, k, (long)getpid());
      snprintf(norm, sizeof norm, "rawbulk-%d-%d-%ld@example.org", p, k, (long)getpid());
      if (fsec_random_id(uq, sizeof uq, 16) || fsec_random_id(tuq, sizeof tuq, 16)) return 1;
      sqlite3_bind_text(raw_insert, 1, email, -1, SQLITE_STATIC);
      sqlite3_bind_text(raw_insert, 2, norm, -1, SQLITE_STATIC);
      sqlite3_bind_text(raw_insert, 3, uq, -1, SQLITE_STATIC);
      sqlite3_bind_text(raw_insert, 4, tuq, -1, SQLITE_STATIC);
      if (sqlite3_step(raw_insert) != SQLITE_DONE) die("raw bulk", sqlite3_errmsg(db));
      sqlite3_reset(raw_insert);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) die("raw commit", sqlite3_errmsg(db));
    b[p] = (now_ns() - t0) / 1000;
    r[p] = a[p] / b[p];
  }
  printf("| register, bulk (1000 per commit)  | %7.1f us | raw INSERT           %7.1f us | %5.2fx |         |\n",
         median(a, pairs) / 1e3, median(b, pairs) / 1e3, median(r, pairs));

  sqlite3_finalize(raw_find);
  sqlite3_finalize(raw_row);
  sqlite3_finalize(raw_track);
  sqlite3_finalize(raw_insert);
  sqlite3_close(db);
  fsec_store_close(s);
  return 0;
}
