/* test_identity.c: email folding as mail systems do it (IDNA2008/UTS-46
 * domains, NFC + simple lowercase local parts), and the migration that
 * re-folds the keys of a database written by the NFKC + case-folding
 * code (schema 4). */
#include <sqlite3.h>
#include <unistd.h>
#include <utf8proc.h>

#include "internal.h"
#include "test.h"

#define NOW 1800000000

static char DIR_[256];

static const char *path(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", DIR_, name);
  return p;
}

static int fold(const char *email, char *out) {
  return fsec_identity_email(email, strlen(email), out, 1024);
}

/* Each row: input, folded key (NULL: refused with rc). */
static const struct {
  const char *in, *key;
  int rc;
} TABLE[] = {
    /* ASCII and case */
    {"bob@example.org", "bob@example.org", 0},
    {"Bob.Smith+tag@EXAMPLE.Org", "bob.smith+tag@example.org", 0},
    /* ß: its own letter in IDNA2008 domains and in local parts */
    {"bob@stra\xc3\x9f"
     "e.de",
     "bob@xn--strae-oqa.de", 0},
    {"BOB@STRA\xc3\x9f"
     "E.DE",
     "bob@xn--strae-oqa.de", 0},
    {"bob@strasse.de", "bob@strasse.de", 0},
    {"stra\xc3\x9f"
     "e@example.org",
     "stra\xc3\x9f"
     "e@example.org",
     0},
    {"STRASSE@example.org", "strasse@example.org", 0},
    /* ẞ (capital sharp s) lowercases to ß, not ss */
    {"\xe1\xba\x9e@example.org", "\xc3\x9f@example.org", 0},
    /* punycode input is the same domain as its U-label */
    {"bob@xn--strae-oqa.de", "bob@xn--strae-oqa.de", 0},
    {"bob@XN--STRAE-OQA.DE", "bob@xn--strae-oqa.de", 0},
    /* ideographic, fullwidth and halfwidth full stops are dots */
    {"admin@example\xe3\x80\x82org", "admin@example.org", 0},
    {"admin@example\xef\xbc\x8eorg", "admin@example.org", 0},
    {"admin@example\xef\xbd\xa1org", "admin@example.org", 0},
    /* one trailing root dot names the same domain, in any form */
    {"admin@example.org.", "admin@example.org", 0},
    {"admin@example.org\xe3\x80\x82", "admin@example.org", 0},
    {"admin@example.org..", NULL, FSEC_EIDENTITY},
    {"admin@.", NULL, FSEC_EIDENTITY},
    /* characters no one sees, in a local part: another account that
     * shows as this one (soft hyphen, zero-width space, ZWJ, RLO, line
     * separator, private use, unassigned), as email_validator refuses */
    {"ad\xc2\xad"
     "min@example.org",
     NULL, FSEC_EIDENTITY},
    {"ad\xe2\x80\x8bmin@example.org", NULL, FSEC_EIDENTITY},
    {"ad\xe2\x80\x8dmin@example.org", NULL, FSEC_EIDENTITY},
    {"ad\xe2\x80\xaemin@example.org", NULL, FSEC_EIDENTITY},
    {"ad\xe2\x80\xa8min@example.org", NULL, FSEC_EIDENTITY},
    {"ad\xee\x80\x80min@example.org", NULL, FSEC_EIDENTITY},
    {"ad\xcd\xb8min@example.org", NULL, FSEC_EIDENTITY},
    /* in the domain, IDNA maps a soft hyphen away, as email_validator */
    {"admin@ex\xc2\xad"
     "ample.org",
     "admin@example.org", 0},
    /* fullwidth letters in the domain map (UTS-46 width mapping) */
    {"a@\xef\xbc\xa5\xef\xbc\xb8\xef\xbc\xa1\xef\xbc\xad\xef\xbc\xb0\xef\xbc\xac"
     "\xef\xbc\xa5.org",
     "a@example.org", 0},
    /* ... but not in the local part: another mailbox for mail systems */
    {"\xef\xbd\x81"
     "dmin@example.org",
     "\xef\xbd\x81"
     "dmin@example.org",
     0},
    /* local parts: NFC (decomposed o + diaeresis composes), lowercase */
    {"Jo\xcc\x88rg@example.de", "j\xc3\xb6rg@example.de", 0},
    {"J\xc3\x96RG@example.de", "j\xc3\xb6rg@example.de", 0},
    /* U+0130 and I + U+0307 are canonically one: one key */
    {"\xc4\xb0@example.org", "i@example.org", 0},
    {"I\xcc\x87@example.org", "i@example.org", 0},
    /* mixed script: a Cyrillic a is another domain than paypal.com */
    {"x@p\xd0\xb0ypal.com", "x@xn--pypal-4ve.com", 0},
    {"x@\xce\xb1\xce\xb2\xce\xb3.com", "x@xn--mxacd.com", 0},
    /* LDH names with "--" in place 3-4 stay valid (not A-labels) */
    {"a@r3--sn-abc.example.com", "a@r3--sn-abc.example.com", 0},
    /* invalid IDNA: disallowed code points, bad punycode, joiners, bidi */
    {"a@\xf0\x9f\x92\xa9.la", NULL, FSEC_EIDENTITY},
    {"a@xn--ls8h.la", NULL, FSEC_EIDENTITY},
    {"a@xn--zz.de", NULL, FSEC_EIDENTITY},
    {"a@xn--a.de", NULL, FSEC_EIDENTITY},
    /* an A-label whose U-label (U+207D) maps to '(': not a label */
    {"x@xn--8xg.example", NULL, FSEC_EIDENTITY},
    {"a@a\xe2\x80\x8d"
     "b.com",
     NULL, FSEC_EIDENTITY},
    {"a@\xd9\xa1\xd9\xa2.com", NULL, FSEC_EIDENTITY},
    {"a@\xef\xb7\x90.com", NULL, FSEC_EIDENTITY},
    {"a@a_b.com", NULL, FSEC_EIDENTITY},
    /* ... and mapped to ASCII that is not LDH: fullwidth @ and low line */
    {"a@x\xef\xbc\xa0y.org", NULL, FSEC_EIDENTITY},
    {"a@x\xef\xbc\xbfy.org", NULL, FSEC_EIDENTITY},
    {"a@-a.com", NULL, FSEC_EIDENTITY},
    {"a@a-.com", NULL, FSEC_EIDENTITY},
    {"a@example", NULL, FSEC_EIDENTITY},
    /* too long: a 64-byte label, as typed and once mapped */
    {"a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
     NULL, FSEC_EIDENTITY},
    {"a@\xc3\xa4"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
     NULL, FSEC_EIDENTITY},
};

static void folding_table(void) {
  char out[1024];
  size_t i;
  for (i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++) {
    int rc = fold(TABLE[i].in, out);
    if (TABLE[i].key && (rc != FSEC_OK || strcmp(out, TABLE[i].key) != 0))
      FAIL_AT("#%zu %s: rc %d, \"%s\" want \"%s\"", i, TABLE[i].in, rc, out,
              TABLE[i].key);
    if (!TABLE[i].key && rc != TABLE[i].rc)
      FAIL_AT("#%zu %s: rc %d (\"%s\") want %d", i, TABLE[i].in, rc, out,
              TABLE[i].rc);
  }
}

/* A refused domain says why (libidn2's reason), for the error message. */
static void bad_domains_say_why(void) {
  char out[1024];
  const char *why = "unset", *e = "a@\xf0\x9f\x92\xa9.la";
  ASSERT_EQ(fsec_identity_email_why(e, strlen(e), out, sizeof out, &why),
            FSEC_EIDENTITY);
  ASSERT(why != NULL && strlen(why) > 0);
  ASSERT_STREQ(out, "");
  ASSERT_OK(fsec_identity_email_why("a@b.org", 7, out, sizeof out, &why));
  ASSERT_NULL(why);
}

/* The form stored and mailed to: email_validator's normalization. */
static void display_form_is_email_validators(void) {
  static const struct { const char *in, *shown; } T[] = {
      {"Ann@Example.ORG", "Ann@example.org"},
      {"Bob@STRA\xc3\x9f"
       "E.DE",
       "Bob@stra\xc3\x9f"
       "e.de"},
      {"Bob@XN--STRAE-OQA.DE", "Bob@stra\xc3\x9f"
                               "e.de"},
      {"admin@example.org\xe3\x80\x82", "admin@example.org"},
      {"admin@Example\xef\xbd\xa1org.", "admin@example.org"},
      {"Jo\xcc\x88rg@example.de", "J\xc3\xb6rg@example.de"},
      {"a@r3--sn.example.com", "a@r3--sn.example.com"},
  };
  char out[1024];
  size_t i;
  for (i = 0; i < sizeof T / sizeof T[0]; i++) {
    if (fsec_identity_email_display(T[i].in, strlen(T[i].in), out, sizeof out) != FSEC_OK ||
        strcmp(out, T[i].shown) != 0)
      FAIL_AT("#%zu %s: \"%s\" want \"%s\"", i, T[i].in, out, T[i].shown);
  }
  ASSERT_EQ(fsec_identity_email_display("a@xn--zz.de", 11, out, sizeof out), FSEC_EIDENTITY);
  ASSERT_STREQ(out, "");
}

/* Every code point as a local part and as a domain label: a key folds
 * to itself (one key per identity) and is accepted again; the display
 * form folds to the same key. */
static void every_code_point_folds_stably(void) {
  char in[64], out[1024], again[1024], shown[1024];
  long cp;
  for (cp = 0xa0; cp <= 0x10ffff; cp++) {
    utf8proc_uint8_t u[4];
    utf8proc_ssize_t n;
    int side;
    if (!utf8proc_codepoint_valid((utf8proc_int32_t)cp)) continue;
    n = utf8proc_encode_char((utf8proc_int32_t)cp, u);
    for (side = 0; side < 2; side++) {
      if (side == 0) snprintf(in, sizeof in, "x%.*s@b.org", (int)n, (char *)u);
      else snprintf(in, sizeof in, "x@x%.*s.org", (int)n, (char *)u);
      if (fold(in, out) != FSEC_OK) continue;
      if (fold(out, again) != FSEC_OK || strcmp(out, again) != 0)
        FAIL_AT("U+%04lX: %s -> %s -> %s", cp, in, out, again);
      if (fsec_identity_email_display(in, strlen(in), shown, sizeof shown) != FSEC_OK ||
          fold(shown, again) != FSEC_OK || strcmp(out, again) != 0)
        FAIL_AT("U+%04lX: %s shown %s folds to %s, not %s", cp, in, shown, again, out);
    }
  }
}

/* A database as the NFKC + case-folding code (schema 4) left it: its
 * migrations, then rows with the keys that code computed. */
static void old_database(const char *p, const char *rows) {
  sqlite3 *db;
  int v;
  unlink(p);
  ASSERT_OK(sqlite3_open(p, &db));
  for (v = 1; v <= 4; v++)
    ASSERT_OK(sqlite3_exec(db, fsec__migration_sql(v), NULL, NULL, NULL));
  ASSERT_OK(sqlite3_exec(db, rows, NULL, NULL, NULL));
  ASSERT_OK(sqlite3_exec(db, "PRAGMA user_version = 4", NULL, NULL, NULL));
  sqlite3_close(db);
}

#define ROW(id, email, norm)                                                \
  "INSERT INTO users (id, email, email_norm, fs_uniquifier,"                \
  " create_datetime, update_datetime) VALUES (" #id ", '" email "', '" norm \
  "', 'uq" #id "', 1, 1);"

static int open_rc(const char *p, fsec_store **s, char *err, size_t len) {
  fsec_store_config cfg;
  fsec_store_config_init(&cfg);
  cfg.path = p;
  return fsec_store_open(s, &cfg, err, len);
}

static int64_t add(fsec_store *s, const char *email) {
  fsec_user_new in;
  int64_t id = -1;
  memset(&in, 0, sizeof in);
  in.email = email;
  in.active = 1;
  in.confirmed_at = -1;
  in.now = NOW;
  return fsec_store_user_create(s, &in, &id) == FSEC_OK ? id : -1;
}

static void migration_refolds_old_keys(void) {
  const char *p = path("v4.db");
  fsec_store *s = NULL;
  fsec_user u;
  char err[256] = "";
  old_database(p, ROW(1, "Bob@Stra\xc3\x9f"
                         "e.de",
                      "bob@strasse.de")
                      ROW(2, "J\xc3\x96RG@Example.DE", "j\xc3\xb6rg@example.de")
                          ROW(3, "stra\xc3\x9f"
                                 "e@example.org",
                              "strasse@example.org"));
  if (open_rc(p, &s, err, sizeof err) != FSEC_OK) FAIL_AT("open: %s", err);
  ASSERT_EQ(fsec_store_schema_version(s), FSEC_SCHEMA_VERSION);
  /* the old ß rows are found by their own forms, A-label included */
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "bob@xn--strae-oqa.de", 20, &u));
  ASSERT_EQ(u.id, 1);
  ASSERT_OK(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "j\xc3\xb6rg@example.de", 16, &u));
  ASSERT_EQ(u.id, 2);
  /* ... and no longer squat the ss forms: those register as new users */
  ASSERT_EQ(fsec_store_user_find(s, FSEC_USER_BY_EMAIL, "bob@strasse.de", 14, &u),
            FSEC_ENOTFOUND);
  ASSERT(add(s, "bob@strasse.de") > 3);
  ASSERT(add(s, "strasse@example.org") > 3);
  ASSERT_EQ(add(s, "BOB@STRA\xc3\x9f"
                   "E.DE"),
            -1); /* still one key */
  fsec_store_close(s);
}

/* Two rows that fold alike now: both kept, the migration refused with a
 * message naming both, the file left at schema 4 with its old keys. */
static void migration_refuses_collisions(void) {
  const char *p = path("clash.db");
  fsec_store *s = NULL;
  sqlite3 *db;
  sqlite3_stmt *st;
  char err[256] = "";
  old_database(p, ROW(1, "admin@example.org", "admin@example.org")
                      ROW(2, "Admin@Example.org\xe3\x80\x82", "admin@example.org\xe3\x80\x82"));
  ASSERT_EQ(open_rc(p, &s, err, sizeof err), FSEC_EEXIST);
  ASSERT_NULL(s);
  if (!strstr(err, "users 1 <admin@example.org> and 2 <Admin@Example.org\xe3\x80\x82>"))
    FAIL_AT("message: %s", err);
  ASSERT_OK(sqlite3_open(p, &db));
  ASSERT_OK(sqlite3_prepare_v2(db, "SELECT group_concat(email_norm, ' ') FROM"
                                   " (SELECT email_norm FROM users ORDER BY id)",
                               -1, &st, NULL));
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  ASSERT_STREQ((const char *)sqlite3_column_text(st, 0),
               "admin@example.org admin@example.org\xe3\x80\x82");
  sqlite3_finalize(st);
  ASSERT_OK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL));
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  ASSERT_EQ(sqlite3_column_int(st, 0), 4);
  sqlite3_finalize(st);
  /* the operator changes one email; the next open migrates */
  ASSERT_OK(sqlite3_exec(db, "UPDATE users SET email = 'old-admin@example.org'"
                             " WHERE id = 2",
                         NULL, NULL, NULL));
  sqlite3_close(db);
  if (open_rc(p, &s, err, sizeof err) != FSEC_OK) FAIL_AT("open: %s", err);
  fsec_store_close(s);
}

/* A U-label row and its A-label twin, distinct keys before: they collide.
 * A row whose email IDNA refuses: named, with the reason. */
static void migration_names_twins_and_invalid_rows(void) {
  const char *p = path("twins.db");
  fsec_store *s = NULL;
  char err[256] = "";
  old_database(p, ROW(5, "bob@stra\xc3\x9f"
                         "e.de",
                      "bob@strasse.de")
                      ROW(9, "bob@xn--strae-oqa.de", "bob@xn--strae-oqa.de"));
  ASSERT_EQ(open_rc(p, &s, err, sizeof err), FSEC_EEXIST);
  if (!strstr(err, "users 5 <") || !strstr(err, "and 9 <bob@xn--strae-oqa.de>"))
    FAIL_AT("message: %s", err);
  p = path("emoji.db");
  old_database(p, ROW(7, "p@\xf0\x9f\x92\xa9.la", "p@\xf0\x9f\x92\xa9.la"));
  ASSERT_EQ(open_rc(p, &s, err, sizeof err), FSEC_EIDENTITY);
  if (!strstr(err, "user 7's email <p@\xf0\x9f\x92\xa9.la> is not valid"))
    FAIL_AT("message: %s", err);
}

int main(void) {
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(DIR_, sizeof DIR_, "%s/fsec-test-identity-XXXXXX", tmp);
  if (!mkdtemp(DIR_)) FAIL_AT("mkdtemp");
  RUN(folding_table);
  RUN(bad_domains_say_why);
  RUN(display_form_is_email_validators);
  RUN(every_code_point_folds_stably);
  RUN(migration_refolds_old_keys);
  RUN(migration_refuses_collisions);
  RUN(migration_names_twins_and_invalid_rows);
  return 0;
}
