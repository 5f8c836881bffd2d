/* seal.c: the keyring of fsec/seal.h: argon2id-stretched tagged secrets,
 * XChaCha20-Poly1305 sealing under the current one. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define MAC_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define PREFIX "$fsec$1$"
#define PREFIX_LEN (sizeof PREFIX - 1)
#define SALT_CONTEXT "fsec keyring v1" /* and its NUL: sizeof */
#define KDF_OPS 2
#define KDF_MEM (8u << 20)

typedef char fsec__seal_overhead_ok[NONCE_BYTES + MAC_BYTES == FSEC_SEAL_OVERHEAD ? 1 : -1];

struct fsec_keyring {
  size_t n, current;
  char tags[FSEC_KEYRING_MAX][FSEC_KEYRING_TAG_MAX + 1];
  size_t taglens[FSEC_KEYRING_MAX];
  unsigned char *keys; /* sodium_malloc: n * KEY_BYTES, read-only */
};

/* ---- building ----------------------------------------------------------- */

static int tag_ok(const char *t, size_t len) {
  size_t i;
  if (len == 0 || len > FSEC_KEYRING_TAG_MAX) return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)t[i];
    int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                (c >= 'A' && c <= 'Z');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return 0;
  }
  return 1;
}

static int all_digits(const char *t, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    if (t[i] < '0' || t[i] > '9') return 0;
  return 1;
}

/* a > b as numbers written in decimal (any length: no overflow) */
static int num_greater(const char *a, size_t alen, const char *b, size_t blen) {
  while (alen > 1 && *a == '0') a++, alen--;
  while (blen > 1 && *b == '0') b++, blen--;
  if (alen != blen) return alen > blen;
  return memcmp(a, b, alen) > 0;
}

/* a > b by bytes, a prefix below the longer string (Python's str order for
 * these ASCII tags). */
static int lex_greater(const char *a, size_t alen, const char *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  return c != 0 ? c > 0 : alen > blen;
}

static size_t pick_current(const fsec_keyring *kr) {
  size_t i, best = 0;
  int digits = 1;
  for (i = 0; i < kr->n; i++) digits &= all_digits(kr->tags[i], kr->taglens[i]);
  for (i = 1; i < kr->n; i++) {
    const char *t = kr->tags[i], *b = kr->tags[best];
    size_t tl = kr->taglens[i], bl = kr->taglens[best];
    if (digits ? num_greater(t, tl, b, bl) : lex_greater(t, tl, b, bl)) best = i;
  }
  return best;
}

/* key = argon2id(secret, salt = BLAKE2b-256("fsec keyring v1\0" || tag)[0..16)) */
static int derive(const unsigned char *secret, size_t slen, const char *tag,
                  size_t taglen, unsigned char key[KEY_BYTES]) {
  unsigned char h[crypto_generichash_BYTES];
  crypto_generichash_state st;
  if (crypto_generichash_init(&st, NULL, 0, sizeof h) != 0 ||
      crypto_generichash_update(&st, (const unsigned char *)SALT_CONTEXT,
                                sizeof SALT_CONTEXT) != 0 ||
      crypto_generichash_update(&st, (const unsigned char *)tag, taglen) != 0 ||
      crypto_generichash_final(&st, h, sizeof h) != 0)
    return FSEC_ECRYPTO;
  if (crypto_pwhash(key, KEY_BYTES, (const char *)secret, slen, h, KDF_OPS,
                    KDF_MEM, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return FSEC_ENOMEM; /* libsodium's one failure here: no memory */
  return FSEC_OK;
}

/* Free kr, put "keyring tag 'TAG': why" (or only why, tag NULL) in err,
 * return rc. */
static int fail(fsec_keyring *kr, int rc, char *err, size_t errcap,
                const char *why, const char *tag, size_t taglen) {
  if (err && errcap && tag)
    snprintf(err, errcap, "keyring tag '%.*s': %s", (int)taglen, tag, why);
  else if (err && errcap)
    snprintf(err, errcap, "keyring: %s", why);
  fsec_keyring_free(kr);
  return rc;
}

int fsec_keyring_new(fsec_keyring **out, const char *const *tags,
                     const size_t *taglens, const unsigned char *const *secrets,
                     const size_t *secretlens, size_t n, char *err,
                     size_t errcap) {
  fsec_keyring *kr;
  size_t i, j;
  int rc;
  *out = NULL;
  if (n == 0 || n > FSEC_KEYRING_MAX || !tags || !taglens || !secrets || !secretlens)
    return fail(NULL, FSEC_EINVAL, err, errcap, "1..32 secrets are needed", NULL, 0);
  if (sodium_init() < 0) return fail(NULL, FSEC_ECRYPTO, err, errcap, "libsodium failed to start", NULL, 0);
  if ((kr = calloc(1, sizeof *kr)) == NULL ||
      (kr->keys = sodium_malloc(n * KEY_BYTES)) == NULL)
    return fail(kr, FSEC_ENOMEM, err, errcap, "out of memory", NULL, 0);
  for (i = 0; i < n; i++) {
    /* a bad tag is named only by its index: it may be anything */
    if (!tag_ok(tags[i], taglens[i]))
      return fail(kr, FSEC_EINVAL, err, errcap,
                  "a tag must match [a-z0-9][a-z0-9_.-]* (at most 32 characters)",
                  NULL, 0);
    for (j = 0; j < i; j++)
      if (taglens[j] == taglens[i] && memcmp(tags[j], tags[i], taglens[i]) == 0)
        return fail(kr, FSEC_EINVAL, err, errcap, "given twice", tags[i], taglens[i]);
    if (!secrets[i] || secretlens[i] < FSEC_KEYRING_SECRET_MIN ||
        secretlens[i] > FSEC_KEYRING_SECRET_MAX)
      return fail(kr, FSEC_EINVAL, err, errcap,
                  "its secret must be 16..4096 bytes", tags[i], taglens[i]);
    memcpy(kr->tags[i], tags[i], taglens[i]);
    kr->taglens[i] = taglens[i];
    kr->n = i + 1;
    if ((rc = derive(secrets[i], secretlens[i], tags[i], taglens[i],
                     kr->keys + i * KEY_BYTES)) != FSEC_OK)
      return fail(kr, rc, err, errcap, "key derivation failed", tags[i], taglens[i]);
  }
  kr->current = pick_current(kr);
  sodium_mprotect_readonly(kr->keys);
  *out = kr;
  return FSEC_OK;
}

void fsec_keyring_free(fsec_keyring *kr) {
  if (kr == NULL) return;
  sodium_free(kr->keys); /* wipes the keys; NULL is a no-op */
  free(kr);
}

const char *fsec_keyring_current(const fsec_keyring *kr) {
  return kr->tags[kr->current];
}

/* ---- sealing ------------------------------------------------------------ */

size_t fsec_keyring_sealed_len(const fsec_keyring *kr, size_t n) {
  return PREFIX_LEN + kr->taglens[kr->current] + 1 +
         fsec_base64_encoded_len(FSEC_BASE64_URLSAFE, n + FSEC_SEAL_OVERHEAD);
}

/* The data the cipher authenticates: BLAKE2b-256 of the prefix up to and
 * including the '$' before the payload, then the caller's aad (the tag has
 * no '$', so the split is unambiguous). */
static int bind_ad(const char *prefix, size_t plen, const void *aad,
                   size_t aadlen, unsigned char ad[crypto_generichash_BYTES]) {
  crypto_generichash_state st;
  if (crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES) != 0 ||
      crypto_generichash_update(&st, (const unsigned char *)prefix, plen) != 0 ||
      (aadlen && crypto_generichash_update(&st, aad, aadlen) != 0) ||
      crypto_generichash_final(&st, ad, crypto_generichash_BYTES) != 0)
    return FSEC_ECRYPTO;
  return FSEC_OK;
}

int fsec_keyring_seal(const fsec_keyring *kr, const void *pt, size_t ptlen,
                      const void *aad, size_t aadlen, char *out, size_t outcap,
                      size_t *outlen) {
  unsigned char ad[crypto_generichash_BYTES], *box;
  size_t tl = kr->taglens[kr->current], plen = PREFIX_LEN + tl + 1;
  size_t boxlen = ptlen + FSEC_SEAL_OVERHEAD;
  int rc;
  *outlen = 0;
  if (ptlen > FSEC_SEAL_PLAIN_MAX || (ptlen && !pt) || (aadlen && !aad) ||
      outcap < fsec_keyring_sealed_len(kr, ptlen) + 1)
    return FSEC_EINVAL;
  memcpy(out, PREFIX, PREFIX_LEN);
  memcpy(out + PREFIX_LEN, kr->tags[kr->current], tl);
  out[plen - 1] = '$';
  if ((rc = bind_ad(out, plen, aad, aadlen, ad)) != FSEC_OK) return rc;
  if ((box = malloc(boxlen)) == NULL) return FSEC_ENOMEM;
  randombytes_buf(box, NONCE_BYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      box + NONCE_BYTES, NULL, pt, ptlen, ad, sizeof ad, NULL, box,
      kr->keys + kr->current * KEY_BYTES);
  rc = fsec_base64_encode(FSEC_BASE64_URLSAFE, box, boxlen, out + plen,
                          outcap - plen);
  free(box); /* ciphertext and nonce: nothing secret */
  if (rc != FSEC_OK) return rc;
  *outlen = plen + fsec_base64_encoded_len(FSEC_BASE64_URLSAFE, boxlen);
  return FSEC_OK;
}

/* Index of the tag s[0..len) in the keyring, or -1. */
static long find_tag(const fsec_keyring *kr, const char *s, size_t len) {
  size_t i;
  for (i = 0; i < kr->n; i++)
    if (kr->taglens[i] == len && memcmp(kr->tags[i], s, len) == 0) return (long)i;
  return -1;
}

int fsec_keyring_unseal(const fsec_keyring *kr, const char *sealed,
                        size_t slen, const void *aad, size_t aadlen, void *out,
                        size_t cap, size_t *outlen, const char **tag) {
  unsigned char ad[crypto_generichash_BYTES], *box = NULL;
  const char *t, *dollar;
  size_t tl, plen, boxlen = 0;
  long k;
  int rc;
  *outlen = 0;
  *tag = NULL;
  if (!sealed || slen <= PREFIX_LEN || memcmp(sealed, PREFIX, PREFIX_LEN) != 0 ||
      (aadlen && !aad))
    return FSEC_EINVAL;
  t = sealed + PREFIX_LEN;
  dollar = memchr(t, '$', slen - PREFIX_LEN);
  if (dollar == NULL) return FSEC_EINVAL;
  tl = (size_t)(dollar - t);
  plen = PREFIX_LEN + tl + 1;
  if (!tag_ok(t, tl) || slen - plen > fsec_base64_encoded_len(
                                          FSEC_BASE64_URLSAFE, FSEC_SEAL_PLAIN_MAX + FSEC_SEAL_OVERHEAD))
    return FSEC_EINVAL;
  if ((box = malloc(slen - plen + 1)) == NULL) return FSEC_ENOMEM;
  rc = fsec_base64_decode(FSEC_BASE64_URLSAFE, sealed + plen, slen - plen, box,
                          slen - plen + 1, &boxlen);
  if (rc != FSEC_OK || boxlen < FSEC_SEAL_OVERHEAD) {
    rc = FSEC_EINVAL;
  } else if ((k = find_tag(kr, t, tl)) < 0) {
    rc = FSEC_EKEY;
  } else if (cap < boxlen - FSEC_SEAL_OVERHEAD) {
    rc = FSEC_EINVAL;
  } else if ((rc = bind_ad(sealed, plen, aad, aadlen, ad)) == FSEC_OK) {
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, NULL, NULL, box + NONCE_BYTES, boxlen - NONCE_BYTES, ad,
            sizeof ad, box, kr->keys + (size_t)k * KEY_BYTES) != 0) {
      sodium_memzero(out, boxlen - FSEC_SEAL_OVERHEAD);
      rc = FSEC_EAUTH;
    } else {
      *outlen = boxlen - FSEC_SEAL_OVERHEAD;
      *tag = kr->tags[k];
    }
  }
  free(box);
  return rc;
}
