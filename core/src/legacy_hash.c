/*
 * legacy_hash.c: verification of the hash formats an existing
 * Flask-Security database may hold, so migrated users can still log in:
 * bcrypt and sha256/sha512-crypt through libxcrypt's crypt_r, passlib's
 * pbkdf2_sha256/sha512 through OpenSSL's PKCS5_PBKDF2_HMAC, and plaintext.
 * Every parser checks the format and the cost caps before any expensive
 * work runs. Inputs are NUL-terminated (callers guarantee it).
 */
#include <string.h>

#include <crypt.h>
#include <openssl/evp.h>

#include "internal.h"

#define BCRYPT_LEN 60
#define BCRYPT_MAX_KEY 72 /* bcrypt reads at most 72 bytes of the key */
#define CRYPT_DEFAULT_ROUNDS 5000
#define CRYPT_SALT_MAX 16
#define PBKDF2_SALT_MAX 64

static int is_crypt64(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '/';
}

static int all_crypt64(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!is_crypt64(s[i])) return 0;
  return 1;
}

/* $2b$NN$ + 22 salt + 31 hash characters; *cost is NN. */
static int check_bcrypt(fsec_engine *e, const char *h, size_t len,
                        uint32_t *cost_out) {
  uint32_t cost;
  if (len != BCRYPT_LEN || h[6] != '$' || h[4] < '0' || h[4] > '3' ||
      h[5] < '0' || h[5] > '9' || !all_crypt64(h + 7, len - 7))
    return fsec__err(e, FSEC_EHASHFMT, "stored bcrypt hash is malformed");
  cost = (uint32_t)((h[4] - '0') * 10 + (h[5] - '0'));
  if (cost < 4 || cost > 31)
    return fsec__err(e, FSEC_EHASHFMT, "stored bcrypt cost is out of range");
  if (cost > e->cfg.caps.bcrypt_cost)
    return fsec__err(e, FSEC_EHASHCAP, "stored bcrypt cost %u is above cap",
                     cost);
  *cost_out = cost;
  return FSEC_OK;
}

/* $6$[rounds=N$]salt$hash (sha512: 86 chars; sha256: 43 chars); *out is
 * N (5000 when absent). */
static int check_shacrypt(fsec_engine *e, const char *h, size_t len,
                          size_t hashchars, uint32_t *out) {
  size_t i = 3, s;
  uint32_t rounds = CRYPT_DEFAULT_ROUNDS;
  if (len - i >= 7 && memcmp(h + i, "rounds=", 7) == 0) {
    i += 7;
    if (fsec__parse_u32(h, len, &i, &rounds) || i >= len || h[i] != '$')
      return fsec__err(e, FSEC_EHASHFMT, "stored crypt rounds are malformed");
    i++;
  }
  for (s = i; i < len && h[i] != '$'; i++)
    if (!is_crypt64(h[i]))
      return fsec__err(e, FSEC_EHASHFMT, "stored crypt salt is malformed");
  if (i - s > CRYPT_SALT_MAX || i >= len ||
      len - i - 1 != hashchars || !all_crypt64(h + i + 1, hashchars))
    return fsec__err(e, FSEC_EHASHFMT, "stored crypt hash is malformed");
  if (rounds > e->cfg.caps.crypt_rounds)
    return fsec__err(e, FSEC_EHASHCAP, "stored crypt rounds %u above cap",
                     rounds);
  *out = rounds;
  return FSEC_OK;
}

static int check_crypt(fsec_engine *e, const char *h, size_t len, int scheme,
                       uint32_t *param) {
  if (scheme == FSEC_SCHEME_BCRYPT) return check_bcrypt(e, h, len, param);
  return check_shacrypt(e, h, len, scheme == FSEC_SCHEME_SHA512_CRYPT ? 86 : 43,
                        param);
}

int fsec__verify_crypt(fsec_engine *e, const char *in, size_t inlen,
                       const char *hash, size_t hashlen, int scheme,
                       int *match) {
  char key[BCRYPT_MAX_KEY + 1];
  const char *k = in, *res;
  struct crypt_data *cd;
  uint32_t param;
  int rc;

  *match = 0;
  rc = check_crypt(e, hash, hashlen, scheme, &param);
  if (rc != FSEC_OK) return rc;
  if (scheme == FSEC_SCHEME_BCRYPT && inlen > BCRYPT_MAX_KEY) {
    /* The 72-byte rule, made explicit instead of left to the library. */
    memcpy(key, in, BCRYPT_MAX_KEY);
    key[BCRYPT_MAX_KEY] = '\0';
    k = key;
  }
  cd = calloc(1, sizeof *cd); /* ~32 KiB: too big for an nginx stack */
  if (!cd) return fsec__err(e, FSEC_ENOMEM, "out of memory");
  fsec__count_hash(e);
  res = crypt_r(k, hash, cd);
  /* On failure libxcrypt returns a string starting with '*'. */
  if (res && res[0] == '$' && strlen(res) == hashlen)
    *match = sodium_memcmp(res, hash, hashlen) == 0;
  sodium_memzero(cd, sizeof *cd);
  free(cd);
  sodium_memzero(key, sizeof key);
  return FSEC_OK;
}

/* passlib's "adapted base64": standard alphabet with '.' for '+', no '='. */
static int ab64_decode(const char *s, size_t n, unsigned char *out,
                       size_t cap, size_t *outlen) {
  char tmp[128];
  size_t i;
  if (n == 0 || n >= sizeof tmp) return -1;
  for (i = 0; i < n; i++) {
    if (s[i] == '+' || s[i] == '=') return -1;
    tmp[i] = s[i] == '.' ? '+' : s[i];
  }
  return fsec_base64_decode(FSEC_BASE64_STANDARD_NOPAD, tmp, n, out, cap,
                            outlen) == FSEC_OK
             ? 0
             : -1;
}

typedef struct pbkdf2_parts {
  uint32_t rounds;
  unsigned char salt[PBKDF2_SALT_MAX], want[64];
  size_t saltlen, wantlen;
} pbkdf2_parts;

/* $pbkdf2-sha512$ROUNDS$salt$checksum (passlib), format and cap. */
static int parse_pbkdf2(fsec_engine *e, const char *hash, size_t hashlen,
                        int scheme, pbkdf2_parts *pp) {
  size_t i = strlen("$pbkdf2-sha512$"), dollar;
  size_t mdlen = scheme == FSEC_SCHEME_PBKDF2_SHA512 ? 64 : 32;
  const char *p;

  if (fsec__parse_u32(hash, hashlen, &i, &pp->rounds) || pp->rounds == 0 ||
      i >= hashlen || hash[i] != '$')
    return fsec__err(e, FSEC_EHASHFMT, "stored pbkdf2 rounds are malformed");
  i++;
  p = memchr(hash + i, '$', hashlen - i);
  if (!p) return fsec__err(e, FSEC_EHASHFMT, "stored pbkdf2 hash is malformed");
  dollar = (size_t)(p - hash);
  if (ab64_decode(hash + i, dollar - i, pp->salt, sizeof pp->salt,
                  &pp->saltlen) ||
      ab64_decode(hash + dollar + 1, hashlen - dollar - 1, pp->want, mdlen,
                  &pp->wantlen))
    return fsec__err(e, FSEC_EHASHFMT, "stored pbkdf2 hash is malformed");
  /* passlib always stores the whole digest: a shorter checksum is a
   * truncated hash, and comparing on its length would let 1 password in
   * 2^(8 x length) match. */
  if (pp->wantlen != mdlen)
    return fsec__err(e, FSEC_EHASHFMT, "stored pbkdf2 checksum is truncated");
  if (pp->rounds > e->cfg.caps.pbkdf2_rounds)
    return fsec__err(e, FSEC_EHASHCAP, "stored pbkdf2 rounds %u above cap",
                     pp->rounds);
  return FSEC_OK;
}

int fsec__verify_pbkdf2(fsec_engine *e, const char *in, size_t inlen,
                        const char *hash, size_t hashlen, int scheme,
                        int *match) {
  pbkdf2_parts pp;
  unsigned char got[64];
  const EVP_MD *md =
      scheme == FSEC_SCHEME_PBKDF2_SHA512 ? EVP_sha512() : EVP_sha256();
  int rc;

  *match = 0;
  rc = parse_pbkdf2(e, hash, hashlen, scheme, &pp);
  if (rc != FSEC_OK) return rc;
  fsec__count_hash(e);
  if (PKCS5_PBKDF2_HMAC(in, (int)inlen, pp.salt, (int)pp.saltlen,
                        (int)pp.rounds, md, (int)pp.wantlen, got) != 1)
    return fsec__err(e, FSEC_ECRYPTO, "PBKDF2 failed");
  *match = sodium_memcmp(got, pp.want, pp.wantlen) == 0;
  sodium_memzero(got, sizeof got);
  return FSEC_OK;
}

int fsec__legacy_param(fsec_engine *e, const char *hash, size_t hashlen,
                       int scheme, uint32_t *param) {
  pbkdf2_parts pp;
  int rc;
  *param = 0;
  switch (scheme) {
  case FSEC_SCHEME_PLAINTEXT: return FSEC_OK;
  case FSEC_SCHEME_PBKDF2_SHA512:
  case FSEC_SCHEME_PBKDF2_SHA256:
    rc = parse_pbkdf2(e, hash, hashlen, scheme, &pp);
    if (rc == FSEC_OK) *param = pp.rounds;
    return rc;
  default: return check_crypt(e, hash, hashlen, scheme, param);
  }
}

int fsec__verify_plaintext(const char *in, size_t inlen, const char *hash,
                           size_t hashlen, int *match) {
  /* Compare digests so neither the content nor the length of the stored
   * value leaks through timing. */
  unsigned char a[32], b[32];
  crypto_generichash(a, sizeof a, (const unsigned char *)in, inlen, NULL, 0);
  crypto_generichash(b, sizeof b, (const unsigned char *)hash, hashlen, NULL,
                     0);
  *match = sodium_memcmp(a, b, sizeof a) == 0;
  sodium_memzero(a, sizeof a); /* a digest of the password */
  sodium_memzero(b, sizeof b);
  return FSEC_OK;
}
