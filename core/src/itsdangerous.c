/*
 * itsdangerous.c: Flask's and Flask-Security's signed values (layout in
 * fsec/itsdangerous.h). What itsdangerous 2.1.2 and Flask-Login 0.6.2 do,
 * learnt from their behaviour and the vectors in
 * core/tests/test_itsdangerous.c, read more strictly where that costs a
 * genuine token nothing: canonical base64url only, a bounded length, a
 * bounded inflate. The signature is checked before anything it covers is
 * decoded.
 */
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "internal.h"
#include "fsec/itsdangerous.h"

#define SHA1_BYTES 20
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
/* A token's decoded payload is at most this (3/4 of its characters). */
#define DECODED_MAX (FSEC_ITSD_TOKEN_MAX / 4 * 3)
#define TS_CHARS_MAX 11 /* 8 bytes in base64url */

static int64_t clock_now(int64_t now) {
  return now < 0 ? (int64_t)time(NULL) : now;
}

/* The last c in s[0..n), or NULL. */
static const char *last_of(const char *s, size_t n, char c) {
  while (n > 0) {
    if (s[--n] == c) return s + n;
  }
  return NULL;
}

/* dk for one key: itsdangerous' derive_key. */
static int derive(const fsec_itsd_key *k, const char *salt, size_t salt_len,
                  fsec_itsd_kdf kdf, unsigned char dk[SHA1_BYTES]) {
  unsigned int n = 0;
  EVP_MD_CTX *ctx;
  int ok;
  if (kdf == FSEC_ITSD_HMAC)
    return HMAC(EVP_sha1(), k->key, (int)k->len, (const unsigned char *)salt,
                salt_len, dk, &n) != NULL &&
           n == SHA1_BYTES;
  ctx = EVP_MD_CTX_new();
  if (!ctx) return 0;
  ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
       EVP_DigestUpdate(ctx, salt, salt_len) &&
       EVP_DigestUpdate(ctx, "signer", 6) &&
       EVP_DigestUpdate(ctx, k->key, k->len) &&
       EVP_DigestFinal_ex(ctx, dk, &n) && n == SHA1_BYTES;
  EVP_MD_CTX_free(ctx);
  return ok;
}

/* The base64url signature of msg under key (27 characters and a NUL). */
static int signature(const fsec_itsd_key *k, const char *salt, size_t salt_len,
                     fsec_itsd_kdf kdf, const char *msg, size_t n,
                     char sig[FSEC_ITSD_SIG_CHARS + 1]) {
  unsigned char dk[SHA1_BYTES], mac[SHA1_BYTES];
  unsigned int mlen = 0;
  int ok = derive(k, salt, salt_len, kdf, dk) &&
           HMAC(EVP_sha1(), dk, SHA1_BYTES, (const unsigned char *)msg, n,
                mac, &mlen) != NULL &&
           mlen == SHA1_BYTES;
  if (ok) sodium_bin2base64(sig, FSEC_ITSD_SIG_CHARS + 1, mac, SHA1_BYTES, B64);
  sodium_memzero(dk, sizeof dk);
  sodium_memzero(mac, sizeof mac);
  return ok;
}

/* Strict base64url: every character used, canonical final bits. */
static int b64_decode(const char *s, size_t n, unsigned char *out, size_t cap,
                      size_t *len) {
  const char *end = NULL;
  if (n == 0) {
    *len = 0;
    return 1;
  }
  return sodium_base642bin(out, cap, s, n, NULL, len, &end, B64) == 0 &&
         end == s + n;
}

/* The issue time: big-endian bytes, leading zeros dropped by the signer. */
static int decode_ts(const char *s, size_t n, int64_t *ts) {
  unsigned char b[8];
  size_t len = 0, i;
  uint64_t v = 0;
  if (n > TS_CHARS_MAX || !b64_decode(s, n, b, sizeof b, &len)) return 0;
  for (i = 0; i < len; i++) v = v << 8 | b[i];
  if (v > (uint64_t)INT64_MAX) return 0;
  *ts = (int64_t)v;
  return 1;
}

/* zlib-inflate in[0..n) into out, refusing more than cap bytes of output
 * (a few hundred bytes of deflate can stand for megabytes) and anything
 * after the end of the stream. */
static int inflate_capped(const unsigned char *in, size_t n, unsigned char *out,
                          size_t cap, size_t *len) {
  z_stream z;
  int rc;
  memset(&z, 0, sizeof z);
  if (inflateInit(&z) != Z_OK) return 0;
  z.next_in = (unsigned char *)(uintptr_t)in; /* zlib's API is not const */
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = cap > UINT32_MAX ? UINT32_MAX : (uInt)cap; /* uInt: 32 bits */
  rc = inflate(&z, Z_FINISH);
  *len = z.total_out;
  inflateEnd(&z);
  return rc == Z_STREAM_END && z.avail_in == 0;
}

/* The JSON of a signed PAYLOAD (with its leading '.' when compressed). */
static int decode_payload(const char *p, size_t n, unsigned char *out,
                          size_t cap, size_t *len) {
  unsigned char raw[DECODED_MAX];
  size_t rlen = 0;
  int ok;
  if (n == 0 || p[0] != '.') return b64_decode(p, n, out, cap, len);
  ok = b64_decode(p + 1, n - 1, raw, sizeof raw, &rlen) &&
       inflate_capped(raw, rlen, out, cap, len);
  sodium_memzero(raw, rlen);
  return ok;
}

/* The index of the first key whose signature of tok[0..signed_len) is
 * sig, or n_keys. Every key is tried even after a match: the time taken
 * says nothing about which key signed. */
static size_t matching_key(const fsec_itsd_key *keys, size_t n_keys,
                           const char *salt, size_t salt_len,
                           fsec_itsd_kdf kdf, const char *tok,
                           size_t signed_len, const char *sig) {
  char want[FSEC_ITSD_SIG_CHARS + 1];
  size_t i, found = n_keys;
  for (i = 0; i < n_keys; i++) {
    if (signature(&keys[i], salt, salt_len, kdf, tok, signed_len, want) &&
        sodium_memcmp(want, sig, FSEC_ITSD_SIG_CHARS) == 0 && found == n_keys)
      found = i;
  }
  sodium_memzero(want, sizeof want);
  return found;
}

static int bad_keys(const fsec_itsd_key *keys, size_t n_keys) {
  size_t i;
  if (!keys || n_keys == 0 || n_keys > FSEC_ITSD_KEYS_MAX) return 1;
  for (i = 0; i < n_keys; i++)
    if (!keys[i].key || keys[i].len == 0 || keys[i].len > INT32_MAX) return 1;
  return 0;
}

int fsec_itsd_verify(const fsec_itsd_key *keys, size_t n_keys,
                     const char *salt, size_t salt_len, fsec_itsd_kdf kdf,
                     const char *tok, size_t tok_len, int64_t max_age,
                     int64_t now, int *status, unsigned char *out,
                     size_t out_cap, size_t *out_len, int64_t *ts,
                     size_t *key_index) {
  const char *sig_dot, *ts_dot;
  size_t k, signed_len;
  int64_t age;

  *status = FSEC_ITSD_INVALID;
  *out_len = 0;
  *ts = 0;
  if (bad_keys(keys, n_keys) || (kdf != FSEC_ITSD_DJANGO_CONCAT &&
                                 kdf != FSEC_ITSD_HMAC))
    return FSEC_EINVAL;
  if (tok_len > FSEC_ITSD_TOKEN_MAX) return FSEC_OK;
  sig_dot = last_of(tok, tok_len, '.');
  if (!sig_dot || tok + tok_len - (sig_dot + 1) != FSEC_ITSD_SIG_CHARS)
    return FSEC_OK;
  signed_len = (size_t)(sig_dot - tok);
  k = matching_key(keys, n_keys, salt, salt_len, kdf, tok, signed_len,
                   sig_dot + 1);
  if (k == n_keys) return FSEC_OK;
  /* signed: now the parts may be read */
  ts_dot = last_of(tok, signed_len, '.');
  if (!ts_dot ||
      !decode_ts(ts_dot + 1, (size_t)(sig_dot - ts_dot - 1), ts) ||
      !decode_payload(tok, (size_t)(ts_dot - tok), out, out_cap, out_len)) {
    *out_len = 0;
    *ts = 0;
    return FSEC_OK;
  }
  if (key_index) *key_index = k;
  age = clock_now(now) - *ts;
  /* itsdangerous: only with a max_age, both older and future are expired */
  *status = (max_age >= 0 && (age > max_age || age < 0)) ? FSEC_ITSD_EXPIRED
                                                         : FSEC_ITSD_VALID;
  return FSEC_OK;
}

/* base64url of v's big-endian bytes without the leading zero ones. */
static size_t encode_ts(int64_t v, char *out, size_t cap) {
  unsigned char b[8];
  size_t i, skip = 0;
  for (i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
  while (skip < 8 && b[skip] == 0) skip++;
  if (skip == 8) {
    out[0] = '\0';
    return 0;
  }
  sodium_bin2base64(out, cap, b + skip, 8 - skip, B64);
  return strlen(out);
}

/* The payload as itsdangerous writes it: zlib only when it saves over
 * one byte (the '.' it costs). *body is json or the malloc'd buffer. */
static int maybe_compress(const unsigned char *json, size_t len,
                          unsigned char **buf, const unsigned char **body,
                          size_t *blen, int *dot) {
  uLongf clen = compressBound((uLong)len);
  *buf = NULL;
  *body = json;
  *blen = len;
  *dot = 0;
  *buf = malloc(clen ? clen : 1);
  if (!*buf) return 0;
  if (compress2(*buf, &clen, json, (uLong)len, Z_DEFAULT_COMPRESSION) == Z_OK &&
      len > 1 && clen < len - 1) {
    *body = *buf;
    *blen = clen;
    *dot = 1;
  }
  return 1;
}

int fsec_itsd_sign(const fsec_itsd_key *key, const char *salt,
                   size_t salt_len, fsec_itsd_kdf kdf,
                   const unsigned char *json, size_t json_len, int64_t now,
                   char *out, size_t out_cap, size_t *written) {
  unsigned char *buf;
  const unsigned char *body;
  size_t blen, pos, need;
  int dot, rc = FSEC_OK;

  *written = 0;
  if (out_cap) out[0] = '\0';
  /* more than a token can hold may still compress into one */
  if (bad_keys(key, 1) || json_len > FSEC_ITSD_SIGN_INPUT_MAX)
    return FSEC_EINVAL;
  if (!maybe_compress(json, json_len, &buf, &body, &blen, &dot))
    return FSEC_ENOMEM;
  need = (size_t)dot + sodium_base64_ENCODED_LEN(blen, B64) + 1 +
         TS_CHARS_MAX + 1 + FSEC_ITSD_SIG_CHARS + 1;
  if (need > out_cap || need > FSEC_ITSD_TOKEN_MAX + 1) {
    rc = FSEC_ETOOLONG;
  } else {
    pos = 0;
    if (dot) out[pos++] = '.';
    sodium_bin2base64(out + pos, out_cap - pos, body, blen, B64);
    pos += strlen(out + pos);
    out[pos++] = '.';
    pos += encode_ts(clock_now(now), out + pos, out_cap - pos);
    if (!signature(key, salt, salt_len, kdf, out, pos, out + pos + 1)) {
      rc = FSEC_ECRYPTO;
    } else {
      out[pos] = '.';
      *written = pos + 1 + FSEC_ITSD_SIG_CHARS;
    }
  }
  free(buf);
  if (rc != FSEC_OK && out_cap) out[0] = '\0';
  return rc;
}

/* Flask-Login encodes the str SECRET_KEY as latin-1: from UTF-8, every
 * character must be at most U+00FF. out has room for len bytes. */
static int latin1(const fsec_itsd_key *k, unsigned char *out, size_t *len) {
  const unsigned char *s = (const unsigned char *)k->key;
  size_t i = 0, n = 0;
  while (i < k->len) {
    if (s[i] < 0x80) {
      out[n++] = s[i++];
    } else if ((s[i] == 0xC2 || s[i] == 0xC3) && i + 1 < k->len &&
               (s[i + 1] & 0xC0) == 0x80) {
      out[n++] = (unsigned char)((s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F));
      i += 2;
    } else {
      return 0;
    }
  }
  *len = n;
  return 1;
}

/* Lowercase hex of HMAC-SHA512(latin-1(key), payload). */
static int remember_hex(const fsec_itsd_key *k, const char *payload,
                        size_t n, char hex[FSEC_ITSD_REMEMBER_HEX + 1]) {
  unsigned char mac[crypto_auth_hmacsha512_BYTES], *lk;
  crypto_auth_hmacsha512_state st;
  size_t klen = 0;
  int ok;
  lk = malloc(k->len);
  if (!lk) return 0;
  ok = latin1(k, lk, &klen);
  if (ok) {
    crypto_auth_hmacsha512_init(&st, lk, klen);
    crypto_auth_hmacsha512_update(&st, (const unsigned char *)payload, n);
    crypto_auth_hmacsha512_final(&st, mac);
    sodium_bin2hex(hex, FSEC_ITSD_REMEMBER_HEX + 1, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(mac, sizeof mac);
  }
  sodium_memzero(lk, k->len);
  free(lk);
  return ok;
}

int fsec_itsd_remember_verify(const fsec_itsd_key *keys, size_t n_keys,
                              const char *cookie, size_t cookie_len,
                              int *status, size_t *payload_len) {
  char want[FSEC_ITSD_REMEMBER_HEX + 1];
  const char *bar;
  size_t i, plen;
  int found = 0;

  *status = FSEC_ITSD_INVALID;
  *payload_len = 0;
  if (bad_keys(keys, n_keys)) return FSEC_EINVAL;
  if (cookie_len > FSEC_ITSD_TOKEN_MAX) return FSEC_OK;
  bar = last_of(cookie, cookie_len, '|');
  if (!bar || cookie + cookie_len - (bar + 1) != FSEC_ITSD_REMEMBER_HEX)
    return FSEC_OK;
  plen = (size_t)(bar - cookie);
  for (i = 0; i < n_keys; i++) {
    /* the hex as text, in constant time: "AB" is not "ab" */
    if (remember_hex(&keys[i], cookie, plen, want) &&
        sodium_memcmp(want, bar + 1, FSEC_ITSD_REMEMBER_HEX) == 0)
      found = 1;
  }
  sodium_memzero(want, sizeof want);
  if (found) {
    *status = FSEC_ITSD_VALID;
    *payload_len = plen;
  }
  return FSEC_OK;
}

int fsec_itsd_remember_sign(const fsec_itsd_key *key, const char *payload,
                            size_t payload_len, char *out, size_t out_cap,
                            size_t *written) {
  *written = 0;
  if (out_cap) out[0] = '\0';
  if (bad_keys(key, 1) || memchr(payload, '\0', payload_len))
    return FSEC_EINVAL;
  if (payload_len + 1 + FSEC_ITSD_REMEMBER_HEX > FSEC_ITSD_TOKEN_MAX ||
      payload_len + 1 + FSEC_ITSD_REMEMBER_HEX + 1 > out_cap)
    return FSEC_ETOOLONG;
  memcpy(out, payload, payload_len);
  out[payload_len] = '|';
  if (!remember_hex(key, payload, payload_len, out + payload_len + 1)) {
    out[0] = '\0';
    return FSEC_EINVAL;
  }
  *written = payload_len + 1 + FSEC_ITSD_REMEMBER_HEX;
  return FSEC_OK;
}
