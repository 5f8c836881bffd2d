/*
 * token.c: purpose-bound signed tokens (format in fsec/token.h and
 * docs/tokens.md). No SQL and no JSON here: the payload is opaque bytes.
 */
#include <string.h>

#include "b64url.h"
#include "internal.h"
#include "mac.h"

#define KDF_LABEL "fsec-token-v1" /* followed by a NUL, then the purpose */
#define MIN_BIN (FSEC_TOKEN_HEADER_BYTES + FSEC_TOKEN_MAC_BYTES)
#define STACK_BIN 3072 /* tokens up to 4096 characters decode on the stack */

typedef char mac_is_hmac_sized[FSEC_TOKEN_MAC_BYTES == FSEC__HMAC_BYTES ? 1 : -1];

typedef fsec__hmac hstate;

size_t fsec_token_encoded_len(size_t payload_len) {
  return sodium_base64_ENCODED_LEN(MIN_BIN + payload_len,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING) -
         1;
}

size_t fsec_token_payload_max(size_t max_chars) {
  size_t bin = max_chars / 4 * 3 + (max_chars % 4 ? max_chars % 4 - 1 : 0);
  return bin > MIN_BIN ? bin - MIN_BIN : 0;
}

static int check_purpose(fsec_engine *e, const char *p, size_t len) {
  if (len == 0 || len > FSEC_TOKEN_PURPOSE_MAX || memchr(p, '\0', len))
    return fsec__err(e, FSEC_EINVAL,
                     "token purpose must be 1..%d bytes without NUL",
                     FSEC_TOKEN_PURPOSE_MAX);
  return FSEC_OK;
}

/* Key one HMAC state per secret key with the purpose's subkey:
 * k_purpose = HMAC-SHA256(secret, "fsec-token-v1" 0x00 purpose). */
static void derive(const fsec_engine *e, const char *p, size_t len,
                   hstate *out) {
  unsigned char sub[FSEC__HMAC_BYTES];
  unsigned char msg[sizeof KDF_LABEL + FSEC_TOKEN_PURPOSE_MAX];
  size_t k, off = 0;
  hstate st;
  memcpy(msg, KDF_LABEL, sizeof KDF_LABEL); /* label and its NUL */
  memcpy(msg + sizeof KDF_LABEL, p, len);   /* len checked by the caller */
  for (k = 0; k < e->n_keys; k++) {
    fsec__hmac_key(&st, e->keys + off, e->key_lens[k]);
    fsec__hmac_mac(&st, msg, sizeof KDF_LABEL + len, sub);
    fsec__hmac_key(&out[k], sub, sizeof sub);
    off += e->key_lens[k];
  }
  sodium_memzero(sub, sizeof sub);
  sodium_memzero(&st, sizeof st);
}

/* The keyed states of a purpose: from the cache, newly cached, or (cache
 * full) derived into scratch, which the caller wipes. */
static const hstate *purpose_states(fsec_engine *e, const char *p, size_t len,
                                    hstate *scratch) {
  size_t i;
  hstate *slot;
  for (i = 0; i < e->n_purposes; i++) {
    if (e->purposes[i].len == len && memcmp(e->purposes[i].name, p, len) == 0)
      return e->states + i * e->n_keys;
  }
  if (e->n_purposes == FSEC__PURPOSE_CACHE) {
    derive(e, p, len, scratch);
    return scratch;
  }
  slot = e->states + e->n_purposes * e->n_keys;
  derive(e, p, len, slot);
  memcpy(e->purposes[e->n_purposes].name, p, len);
  e->purposes[e->n_purposes].len = len;
  e->n_purposes++;
  return slot;
}

static void put_u64(unsigned char *b, uint64_t v) {
  int i;
  for (i = 7; i >= 0; i--) {
    b[i] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
}

/* Big-endian; one load and a bswap where the compiler says how (GCC 12
 * keeps the byte loop as 8 loads and shifts otherwise). */
static uint64_t get_u64(const unsigned char *b) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t v;
  memcpy(&v, b, 8);
  return __builtin_bswap64(v);
#else
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++) v = (v << 8) | b[i];
  return v;
#endif
}

int fsec_token_issue(fsec_engine *e, const char *purpose, size_t purpose_len,
                     const unsigned char *payload, size_t payload_len,
                     int64_t now, char *out, size_t outlen, size_t *written) {
  unsigned char stackbuf[STACK_BIN], *bin = stackbuf;
  hstate scratch[FSEC__MAX_KEYS];
  const hstate *keyed;
  size_t binlen = MIN_BIN + payload_len, enclen;
  int rc = check_purpose(e, purpose, purpose_len);

  if (rc != FSEC_OK) return rc;
  if (payload_len && !payload)
    return fsec__err(e, FSEC_EINVAL, "payload is NULL");
  if (payload_len > fsec_token_payload_max(e->cfg.token_max_length))
    return fsec__err(e, FSEC_ETOOLONG,
                     "token payload too long (at most %zu bytes)",
                     fsec_token_payload_max(e->cfg.token_max_length));
  enclen = fsec_token_encoded_len(payload_len);
  if (outlen <= enclen)
    return fsec__err(e, FSEC_EINVAL, "token buffer too small");
  if (binlen > sizeof stackbuf && !(bin = malloc(binlen)))
    return fsec__err(e, FSEC_ENOMEM, "out of memory");

  bin[0] = FSEC_TOKEN_VERSION;
  put_u64(bin + 1, (uint64_t)fsec__now(now));
  if (payload_len) memcpy(bin + FSEC_TOKEN_HEADER_BYTES, payload, payload_len);
  keyed = purpose_states(e, purpose, purpose_len, scratch);
  fsec__hmac_mac(&keyed[0], bin, binlen - FSEC_TOKEN_MAC_BYTES,
                 bin + binlen - FSEC_TOKEN_MAC_BYTES);
  sodium_bin2base64(out, outlen, bin, binlen,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if (keyed == scratch) sodium_memzero(scratch, sizeof scratch);
  if (bin != stackbuf) free(bin);
  if (written) *written = enclen;
  return FSEC_OK;
}

/* Decode tok (strict base64url: b64url.h) into bin and check its version
 * and MAC, constant-time, against every key of the purpose. On success
 * NULL, and *binlen is the size of the decoded token; otherwise why not. */
static const char *check(fsec_engine *e, const char *purpose,
                         size_t purpose_len, const char *tok, size_t len,
                         unsigned char *bin, size_t cap, size_t *binlen) {
  hstate scratch[FSEC__MAX_KEYS];
  const hstate *keyed;
  size_t m, k;
  int ok = 0;

  if (fsec__b64url_decode(tok, len, bin, cap, binlen) != 0)
    return "token is not canonical base64url";
  if (*binlen < MIN_BIN) return "token too short";
  if (bin[0] != FSEC_TOKEN_VERSION) return "unknown token version";
  m = *binlen - FSEC_TOKEN_MAC_BYTES; /* bytes under the MAC */
  keyed = purpose_states(e, purpose, purpose_len, scratch);
  for (k = 0; k < e->n_keys && !ok; k++) /* the first key, then older ones */
    ok = fsec__hmac_verify(&keyed[k], bin, m, bin + m);
  if (keyed == scratch) sodium_memzero(scratch, sizeof scratch);
  return ok ? NULL : "token signature does not match";
}

static int invalid(fsec_engine *e, int *status, const char *why) {
  *status = FSEC_TOKEN_INVALID;
  fsec__err(e, FSEC_ETOKEN, "%s", why);
  return FSEC_OK;
}

int fsec_token_verify(fsec_engine *e, const char *purpose, size_t purpose_len,
                      const char *token, size_t token_len, int64_t max_age,
                      int64_t now, int *status, unsigned char *payload,
                      size_t payload_cap, size_t *payload_len,
                      int64_t *issued_at) {
  unsigned char stackbuf[STACK_BIN], *bin = stackbuf;
  size_t binlen = 0, cap, plen;
  uint64_t iat;
  const char *why;
  int rc = check_purpose(e, purpose, purpose_len);

  *status = FSEC_TOKEN_INVALID;
  if (rc != FSEC_OK) return rc;
  if (token_len > e->cfg.token_max_length)
    return invalid(e, status, "token too long");
  cap = token_len / 4 * 3 + 3;
  if (cap > sizeof stackbuf && !(bin = malloc(cap)))
    return fsec__err(e, FSEC_ENOMEM, "out of memory");

  if ((why = check(e, purpose, purpose_len, token, token_len, bin, cap,
                   &binlen)) != NULL) {
    rc = invalid(e, status, why);
  } else {
    /* Only now, with the MAC verified, is anything else read. */
    iat = get_u64(bin + 1);
    now = fsec__now(now);
    plen = binlen - MIN_BIN;
    if (iat > (uint64_t)INT64_MAX || (int64_t)iat - e->cfg.token_skew > now) {
      rc = invalid(e, status, "token issued in the future");
    } else if (payload && plen > payload_cap) {
      rc = fsec__err(e, FSEC_EINVAL, "payload buffer too small");
    } else {
      *status = (max_age >= 0 && now - (int64_t)iat > max_age)
                    ? FSEC_TOKEN_EXPIRED
                    : FSEC_TOKEN_VALID;
      if (payload && plen) memcpy(payload, bin + FSEC_TOKEN_HEADER_BYTES, plen);
      if (payload_len) *payload_len = plen;
      if (issued_at) *issued_at = (int64_t)iat;
      rc = FSEC_OK;
    }
  }
  if (bin != stackbuf) free(bin);
  return rc;
}
