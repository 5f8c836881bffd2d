/* import_secrets.c: passlib's enckey and Fernet tokens, decrypted with
 * OpenSSL (fsec/import_secrets.h). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"

/* ---- passlib enckey v1 -------------------------------------------------- */

/* out = AES-CTR or AES-CBC (cipher) decryption of in; *outlen set. The
 * CBC padding is checked by OpenSSL (padding on): FSEC_EINVAL when bad. */
static int aes_decrypt(const EVP_CIPHER *cipher, const unsigned char *key,
                       const unsigned char *iv, const unsigned char *in,
                       size_t inlen, unsigned char *out, size_t *outlen) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n1 = 0, n2 = 0, rc = FSEC_ECRYPTO;
  if (ctx == NULL) return FSEC_ENOMEM;
  if (EVP_DecryptInit_ex(ctx, cipher, NULL, key, iv) == 1 &&
      EVP_DecryptUpdate(ctx, out, &n1, in, (int)inlen) == 1)
    rc = EVP_DecryptFinal_ex(ctx, out + n1, &n2) == 1 ? FSEC_OK : FSEC_EINVAL;
  EVP_CIPHER_CTX_free(ctx); /* wipes the key schedule */
  *outlen = rc == FSEC_OK ? (size_t)n1 + (size_t)n2 : 0;
  return rc;
}

int fsec_passlib_totp_decrypt(const void *secret, size_t secretlen,
                              const void *salt, size_t saltlen, const void *ct,
                              size_t ctlen, int cost, void *out, size_t cap) {
  unsigned char keyiv[48];
  size_t n = 0;
  int rc;
  if (cost < FSEC_PASSLIB_COST_MIN || cost > FSEC_PASSLIB_COST_MAX ||
      (secretlen && !secret) || !salt || saltlen == 0 || !ct || ctlen == 0 ||
      ctlen > FSEC_IMPORT_MAX || cap < ctlen || secretlen > FSEC_IMPORT_MAX ||
      saltlen > FSEC_IMPORT_MAX)
    return FSEC_EINVAL;
  if (PKCS5_PBKDF2_HMAC(secretlen ? secret : "", (int)secretlen, salt,
                        (int)saltlen, 1 << cost, EVP_sha256(), sizeof keyiv,
                        keyiv) != 1)
    return FSEC_ECRYPTO;
  rc = aes_decrypt(EVP_aes_256_ctr(), keyiv, keyiv + 32, ct, ctlen, out, &n);
  OPENSSL_cleanse(keyiv, sizeof keyiv);
  if (rc == FSEC_OK && n != ctlen) rc = FSEC_ECRYPTO;
  return rc;
}

/* ---- Fernet ------------------------------------------------------------- */

#define FERNET_VERSION 0x80
#define FERNET_HEAD 25 /* version, time (8), IV (16) */
#define FERNET_MAC 32
#define FERNET_SKEW 60 /* seconds a token may be ahead of the clock */

/* Base64url, padded or not (Python's urlsafe_b64decode pads for us, and
 * keys are written both ways), into out. */
static int b64url_loose(const char *s, size_t len, unsigned char *out,
                        size_t cap, size_t *outlen) {
  size_t pads = 0;
  while (len > 0 && s[len - 1] == '=' && pads < 2) len--, pads++;
  if (pads && (len + pads) % 4 != 0) return FSEC_EINVAL;
  return fsec_base64_decode(FSEC_BASE64_URLSAFE, s, len, out, cap, outlen);
}

static uint64_t be64(const unsigned char *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

int fsec_fernet_decrypt(const char *key, size_t keylen, const char *token,
                        size_t tokenlen, int64_t ttl, int64_t now, void *out,
                        size_t cap, size_t *outlen) {
  unsigned char k[33], tok[FSEC_IMPORT_MAX], mac[EVP_MAX_MD_SIZE];
  unsigned char plain[FSEC_IMPORT_MAX + 16]; /* OpenSSL's room for CBC */
  size_t plen = 0;
  unsigned int maclen = 0;
  size_t klen = 0, n = 0, body;
  int rc = FSEC_EINVAL;
  *outlen = 0;
  if (b64url_loose(key, keylen, k, sizeof k, &klen) != FSEC_OK || klen != 32)
    goto done;
  if (tokenlen > FSEC_IMPORT_MAX ||
      b64url_loose(token, tokenlen, tok, sizeof tok, &n) != FSEC_OK ||
      n < FERNET_HEAD + 16 + FERNET_MAC || tok[0] != FERNET_VERSION ||
      (n - FERNET_HEAD - FERNET_MAC) % 16 != 0)
    goto done;
  body = n - FERNET_MAC;
  /* first half of the key signs, second half encrypts */
  if (HMAC(EVP_sha256(), k, 16, tok, body, mac, &maclen) == NULL ||
      maclen != FERNET_MAC) {
    rc = FSEC_ECRYPTO;
    goto done;
  }
  if (CRYPTO_memcmp(mac, tok + body, FERNET_MAC) != 0) {
    rc = FSEC_EAUTH;
    goto done;
  }
  if (ttl >= 0) {
    uint64_t ts = be64(tok + 1), t = (uint64_t)fsec__now(now);
    if (ts > UINT64_MAX - (uint64_t)ttl || ts + (uint64_t)ttl < t ||
        t + FERNET_SKEW < ts) {
      rc = FSEC_EEXPIRED;
      goto done;
    }
  }
  rc = aes_decrypt(EVP_aes_128_cbc(), k + 16, tok + 9, tok + FERNET_HEAD,
                   body - FERNET_HEAD, plain, &plen);
  if (rc == FSEC_OK && plen > cap) rc = FSEC_EINVAL;
  if (rc == FSEC_OK) {
    memcpy(out, plain, plen);
    *outlen = plen;
  }
done:
  OPENSSL_cleanse(plain, sizeof plain);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(tok, n);
  OPENSSL_cleanse(mac, sizeof mac);
  return rc;
}
