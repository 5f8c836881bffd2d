/* test_webauthn.c: fsec/webauthn.h over the recorded fixtures
 * (webauthn_vectors.h, from spec/fixtures/webauthn/ by
 * spec/tools/make_webauthn_fixtures.py): each one accepted or refused
 * with the reason its fixture names, then hostile inputs (every
 * truncation, hand-made keys and authenticator data). */
#include <stdint.h>

#include "fsec.h"
#include "test.h"
#include "webauthn_vectors.h"

#define N_VECTORS (sizeof wan_vectors / sizeof wan_vectors[0])

static const int all_algs[] = {FSEC_WAN_ES256, FSEC_WAN_EDDSA, FSEC_WAN_RS256};

static fsec_wan_opts opts_of(const wan_vector *v) {
  fsec_wan_opts o;
  o.rp_id = "localhost"; /* the fixtures' RP; wrong_rp_id signs another */
  o.rp_id_len = 9;
  o.require_uv = v->require_uv;
  o.algs = all_algs;
  o.n_algs = v->es256_only ? 1 : v->es_eddsa_only ? 2
                                                  : 3;
  return o;
}

/* Run v with its first a_len bytes of a: the reason. */
static int run(const wan_vector *v, unsigned a_len) {
  unsigned char hash[32];
  fsec_wan_opts o = opts_of(v);
  int reason = -1;
  ASSERT_OK(fsec_wan_sha256(v->cdj, v->cdj_len, hash));
  if (v->registration) {
    fsec_wan_registration r;
    ASSERT_OK(fsec_wan_register((const unsigned char *)v->a, a_len, hash, &o, &r, &reason));
    if (reason == FSEC_WAN_OK) {
      /* the spans lie inside the input */
      ASSERT(r.auth.public_key > (const unsigned char *)v->a);
      ASSERT(r.auth.public_key + r.auth.public_key_len <= (const unsigned char *)v->a + a_len);
      ASSERT(r.auth.credential_id_len == 32);
    } else {
      ASSERT_NULL(r.auth.public_key); /* no partial result */
      ASSERT_EQ(r.alg, 0);
    }
  } else {
    fsec_wan_authdata a;
    ASSERT_OK(fsec_wan_assert((const unsigned char *)v->key, v->key_len,
                              (const unsigned char *)v->a, a_len, hash,
                              (const unsigned char *)v->sig, v->sig_len, &o, &a, &reason));
    if (reason != FSEC_WAN_OK) ASSERT_NULL(a.rp_id_hash);
  }
  return reason;
}

static void test_vectors(void) {
  size_t i;
  unsigned n;
  for (i = 0; i < N_VECTORS; i++) {
    const wan_vector *v = &wan_vectors[i];
    const char *got = fsec_wan_reason_name(run(v, v->a_len));
    if (strcmp(got, v->expect) != 0) FAIL_AT("%s: %s, want %s", v->name, got, v->expect);
    /* every shorter input is refused (of one accepted whole; a cut
     * trailing_* one may be valid), none crashes */
    for (n = 0; n < v->a_len; n++)
      if (run(v, n) == FSEC_WAN_OK && strcmp(v->expect, "ok") == 0)
        FAIL_AT("%s cut to %u bytes accepted", v->name, n);
  }
}

static const wan_vector *find(const char *name) {
  size_t i;
  for (i = 0; i < N_VECTORS; i++)
    if (strcmp(wan_vectors[i].name, name) == 0) return &wan_vectors[i];
  FAIL_AT("no vector %s", name);
  return NULL;
}

/* What the registration reports: fmt, attestation, alg, flags, count. */
static void test_registration_fields(void) {
  static const struct {
    const char *name;
    int fmt, att, alg;
  } want[] = {
      {"reg_es256_none", FSEC_WAN_FMT_NONE, FSEC_WAN_ATT_NONE, FSEC_WAN_ES256},
      {"reg_eddsa_packed_self", FSEC_WAN_FMT_PACKED, FSEC_WAN_ATT_SELF, FSEC_WAN_EDDSA},
      {"reg_rs256_packed_x5c", FSEC_WAN_FMT_PACKED, FSEC_WAN_ATT_BASIC, FSEC_WAN_RS256},
  };
  size_t i;
  for (i = 0; i < sizeof want / sizeof want[0]; i++) {
    const wan_vector *v = find(want[i].name);
    unsigned char hash[32];
    fsec_wan_opts o = opts_of(v);
    fsec_wan_registration r;
    fsec_wan_cose k;
    int reason = -1;
    ASSERT_OK(fsec_wan_sha256(v->cdj, v->cdj_len, hash));
    ASSERT_OK(fsec_wan_register((const unsigned char *)v->a, v->a_len, hash, &o, &r, &reason));
    ASSERT_EQ(reason, FSEC_WAN_OK);
    ASSERT_EQ(r.fmt, want[i].fmt);
    ASSERT_EQ(r.attestation, want[i].att);
    ASSERT_EQ(r.alg, want[i].alg);
    ASSERT_EQ(r.auth.flags, 0x45);
    ASSERT_EQ(r.auth.sign_count, 1);
    ASSERT_OK(fsec_wan_cose_parse(r.auth.public_key, r.auth.public_key_len, &k));
    ASSERT_EQ(k.alg, want[i].alg);
  }
}

/* A client data hash that differs: every signature check fails. */
static void test_other_client_data(void) {
  const wan_vector *v = find("asrt_es256"), *r = find("reg_es256_packed_self");
  unsigned char hash[32] = {0};
  fsec_wan_opts o = opts_of(v);
  fsec_wan_authdata a;
  fsec_wan_registration reg;
  int reason = -1;
  ASSERT_OK(fsec_wan_assert((const unsigned char *)v->key, v->key_len,
                            (const unsigned char *)v->a, v->a_len, hash,
                            (const unsigned char *)v->sig, v->sig_len, &o, &a, &reason));
  ASSERT_EQ(reason, FSEC_WAN_SIGNATURE);
  ASSERT_OK(fsec_wan_register((const unsigned char *)r->a, r->a_len, hash, &o, &reg, &reason));
  ASSERT_EQ(reason, FSEC_WAN_ATTESTATION);
  /* and under another RP ID the assertion is refused before the signature */
  o.rp_id = "localhost.evil.test";
  o.rp_id_len = strlen(o.rp_id);
  ASSERT_OK(fsec_wan_assert((const unsigned char *)v->key, v->key_len,
                            (const unsigned char *)v->a, v->a_len, hash,
                            (const unsigned char *)v->sig, v->sig_len, &o, &a, &reason));
  ASSERT_EQ(reason, FSEC_WAN_RP_ID);
}

/* The canonical encodings of wave2.md §4.4 parse back, and hostile keys
 * are refused with the right reason. */
static void test_cose(void) {
  const wan_vector *v = find("asrt_es256");
  unsigned char buf[FSEC_WAN_PUBLIC_KEY_MAX];
  size_t len = 0;
  fsec_wan_cose k, k2;
  ASSERT_OK(fsec_wan_cose_parse((const unsigned char *)v->key, v->key_len, &k));
  ASSERT_OK(fsec_wan_cose_encode(&k, buf, sizeof buf, &len));
  ASSERT_EQ(len, 77);
  ASSERT(memcmp(buf, "\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x20", 10) == 0);
  ASSERT(memcmp(buf, v->key, len) == 0); /* the fixture is canonical too */
  ASSERT_OK(fsec_wan_cose_parse(buf, len, &k2));
  ASSERT(memcmp(&k, &k2, sizeof k) == 0);
  /* point off the curve: y + 1 */
  buf[len - 1] ^= 1;
  ASSERT_EQ(fsec_wan_cose_parse(buf, len, &k2), FSEC_WAN_KEY);
  buf[len - 1] ^= 1;
  /* wrong crv (2, P-384) */
  buf[6] = 0x02;
  ASSERT_EQ(fsec_wan_cose_parse(buf, len, &k2), FSEC_WAN_KEY);
  buf[6] = 0x01;
  /* wrong kty (OKP) */
  buf[2] = 0x01;
  ASSERT_EQ(fsec_wan_cose_parse(buf, len, &k2), FSEC_WAN_KEY);
  buf[2] = 0x02;
  /* a trailing byte, and a cut key */
  buf[len] = 0;
  ASSERT_EQ(fsec_wan_cose_parse(buf, len + 1, &k2), FSEC_WAN_MALFORMED);
  ASSERT_EQ(fsec_wan_cose_parse(buf, len - 1, &k2), FSEC_WAN_MALFORMED);
  /* x of 31 bytes */
  {
    static const unsigned char short_x[] =
        "\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x1f"
        "0123456789012345678901234567890"
        "\x22\x58\x20"
        "01234567890123456789012345678901";
    ASSERT_EQ(fsec_wan_cose_parse(short_x, sizeof short_x - 1, &k2), FSEC_WAN_KEY);
  }
  /* no alg (label 3), an extra label (4), a label twice: all refused */
  {
    static const unsigned char no_alg[] = "\xa3\x01\x01\x20\x06\x21\x58\x20"
                                          "01234567890123456789012345678901";
    static const unsigned char extra[] = "\xa5\x01\x01\x03\x27\x04\x00\x20\x06\x21\x58\x20"
                                         "01234567890123456789012345678901";
    static const unsigned char twice[] = "\xa5\x01\x01\x03\x27\x03\x27\x20\x06\x21\x58\x20"
                                         "01234567890123456789012345678901";
    static const unsigned char es384[] = "\xa5\x01\x02\x03\x38\x22\x20\x02\x21\x58\x20"
                                         "01234567890123456789012345678901"
                                         "\x22\x58\x20"
                                         "01234567890123456789012345678901";
    ASSERT_EQ(fsec_wan_cose_parse(no_alg, sizeof no_alg - 1, &k2), FSEC_WAN_KEY);
    ASSERT_EQ(fsec_wan_cose_parse(extra, sizeof extra - 1, &k2), FSEC_WAN_KEY);
    ASSERT_EQ(fsec_wan_cose_parse(twice, sizeof twice - 1, &k2), FSEC_WAN_KEY);
    ASSERT_EQ(fsec_wan_cose_parse(es384, sizeof es384 - 1, &k2), FSEC_WAN_KEY);
    ASSERT_EQ(fsec_wan_cose_parse((const unsigned char *)"\x80", 1, &k2), FSEC_WAN_MALFORMED);
    ASSERT_EQ(fsec_wan_cose_parse(NULL, 0, &k2), FSEC_WAN_MALFORMED);
  }
}

/* Ed25519 keys: the fixture's parses; small-order points (all zeros,
 * the identity), a non-canonical y and a point off the curve do not. */
static void test_ed25519_key(void) {
  const wan_vector *v = find("reg_eddsa_packed_self");
  unsigned char hash[32];
  fsec_wan_opts o = opts_of(v);
  fsec_wan_registration r;
  fsec_wan_cose k;
  unsigned char key[10 + 32] = "\xa4\x01\x01\x03\x27\x20\x06\x21\x58\x20";
  int reason = -1;
  size_t i;
  ASSERT_OK(fsec_wan_sha256(v->cdj, v->cdj_len, hash));
  ASSERT_OK(fsec_wan_register((const unsigned char *)v->a, v->a_len, hash, &o, &r, &reason));
  ASSERT_EQ(reason, FSEC_WAN_OK);
  ASSERT_EQ(r.auth.public_key_len, sizeof key);
  ASSERT_EQ(fsec_wan_cose_parse(r.auth.public_key, r.auth.public_key_len, &k), FSEC_WAN_OK);
  memcpy(key, r.auth.public_key, sizeof key);
  ASSERT_EQ(fsec_wan_cose_parse(key, sizeof key, &k), FSEC_WAN_OK);
  memset(key + 10, 0, 32); /* y = 0: order 4 */
  ASSERT_EQ(fsec_wan_cose_parse(key, sizeof key, &k), FSEC_WAN_KEY);
  key[10] = 1; /* y = 1: the identity */
  ASSERT_EQ(fsec_wan_cose_parse(key, sizeof key, &k), FSEC_WAN_KEY);
  for (i = 0; i < 32; i++) key[10 + i] = 0xff; /* y >= p: not canonical */
  key[41] = 0x7f;
  ASSERT_EQ(fsec_wan_cose_parse(key, sizeof key, &k), FSEC_WAN_KEY);
  key[10] = 2, key[41] = 0; /* y = 2: no point of the subgroup */
  for (i = 1; i < 31; i++) key[10 + i] = 0;
  ASSERT_EQ(fsec_wan_cose_parse(key, sizeof key, &k), FSEC_WAN_KEY);
}

/* RS256 keys: the fixture's parses; an even modulus is refused. */
static void test_rsa_key(void) {
  const wan_vector *v = find("asrt_rs256");
  unsigned char buf[FSEC_WAN_PUBLIC_KEY_MAX];
  fsec_wan_cose k;
  ASSERT_EQ(v->key_len, 272); /* a4 01 03 03 39 01 00 20 59 01 00 n(256) 21 43 e(3) */
  memcpy(buf, v->key, v->key_len);
  ASSERT_EQ(fsec_wan_cose_parse(buf, v->key_len, &k), FSEC_WAN_OK);
  ASSERT_EQ(k.n_len, 256);
  buf[7 + 4 + 255] ^= 1; /* n's last byte: odd to even */
  ASSERT_EQ(fsec_wan_cose_parse(buf, v->key_len, &k), FSEC_WAN_KEY);
}

/* Authenticator data by hand: unknown flags kept, spans inside. */
static void test_authdata(void) {
  unsigned char ad[40] = {0};
  fsec_wan_authdata a;
  ad[32] = 0x01 | 0x02 | 0x20; /* UP and two RFU bits: not refused */
  ad[36] = 9;
  ASSERT_EQ(fsec_wan_authdata_parse(ad, 37, &a), FSEC_WAN_OK);
  ASSERT_EQ(a.flags, 0x23);
  ASSERT_EQ(a.sign_count, 9);
  ASSERT(a.rp_id_hash == ad);
  ASSERT_NULL(a.public_key);
  ASSERT_EQ(fsec_wan_authdata_parse(ad, 38, &a), FSEC_WAN_MALFORMED); /* trailing */
  ASSERT_NULL(a.rp_id_hash);
  ASSERT_EQ(fsec_wan_authdata_parse(ad, 36, &a), FSEC_WAN_MALFORMED);
  ad[32] = 0x81; /* ED with an empty map */
  ad[37] = 0xa0;
  ASSERT_EQ(fsec_wan_authdata_parse(ad, 38, &a), FSEC_WAN_OK);
  ASSERT(a.extensions == ad + 37 && a.extensions_len == 1);
  ad[37] = 0x80; /* an array is no extensions map */
  ASSERT_EQ(fsec_wan_authdata_parse(ad, 38, &a), FSEC_WAN_MALFORMED);
  /* a map head announcing 2^32 - 1 entries in 5 bytes: refused before
   * libcbor allocates for them (it asked for gigabytes) */
  {
    unsigned char big[37 + 9] = {0};
    big[32] = 0x81;
    big[37] = 0xba, big[38] = 0xff, big[39] = 0xff, big[40] = 0xff, big[41] = 0xff;
    ASSERT_EQ(fsec_wan_authdata_parse(big, sizeof big, &a), FSEC_WAN_MALFORMED);
    big[37] = 0x9b; /* an array of 2^64 - 1 */
    memset(big + 38, 0xff, 8);
    ASSERT_EQ(fsec_wan_authdata_parse(big, sizeof big, &a), FSEC_WAN_MALFORMED);
    big[37] = 0xbf; /* indefinite-length map: not CTAP2 */
    big[38] = 0xff;
    ASSERT_EQ(fsec_wan_authdata_parse(big, 39, &a), FSEC_WAN_MALFORMED);
    big[37] = 0xc1; /* a tag */
    big[38] = 0xa0;
    ASSERT_EQ(fsec_wan_authdata_parse(big, 39, &a), FSEC_WAN_MALFORMED);
  }
  ad[32] = 0x41; /* AT but no room for the AAGUID */
  ASSERT_EQ(fsec_wan_authdata_parse(ad, 40, &a), FSEC_WAN_MALFORMED);
}

/* Misuse is an error code, not a decision. */
static void test_misuse(void) {
  unsigned char hash[32] = {0};
  fsec_wan_opts o = {"localhost", 9, 0, NULL, 0};
  fsec_wan_registration r;
  int reason = 0;
  ASSERT_EQ(fsec_wan_register((const unsigned char *)"\xa0", 1, hash, &o, &r, &reason),
            FSEC_EINVAL); /* no algorithm list */
  ASSERT_STREQ(fsec_wan_reason_name(FSEC_WAN_SIGNATURE), "signature");
  ASSERT_STREQ(fsec_wan_reason_name(99), "unknown");
}

int main(void) {
  test_vectors();
  test_registration_fields();
  test_other_client_data();
  test_cose();
  test_ed25519_key();
  test_rsa_key();
  test_authdata();
  test_misuse();
  return 0;
}
