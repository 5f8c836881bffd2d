/* fuzz_base64.c: fsec's Base64 codec (fsec/codec.h: tokens, password
 * hashes, HTTP Basic credentials) and the token encoding over it, checked
 * against an independent strict codec written here.
 *
 * Oracles:
 *   - codec: in each variant (standard with padding, standard without,
 *     url-safe without), fsec_base64_decode accepts the input exactly
 *     when the reference does, with the same bytes, and encoding the
 *     input gives the reference's string, which decodes back to it;
 *   - encode: the input as a token payload gives a token of exactly
 *     fsec_token_encoded_len() characters of the base64url alphabet, that
 *     the reference decodes to 0x01 || iat || input || mac and re-encodes
 *     to the same string; fsec reads the payload back byte for byte;
 *   - one spelling: that token with '=' padding, a set leftover bit, '+'
 *     or '/' for '-' or '_', a space or newline inside, a NUL after it, or
 *     its last character dropped, is refused;
 *   - decode: the input as a token string is refused as "not canonical
 *     base64url" exactly when the reference says it is not canonical
 *     (fsec_errmsg names the reason; see core/src/token.c). */
#include "fuzz_common.h"

#define NOW 1800000000
#define NOT_CANONICAL "token is not canonical base64url"
#define MAX_TOKEN 65600

static const char ALPHA[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char STD_ALPHA[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A reference variant: its alphabet, whether it pads, fsec's name. */
typedef struct ref_variant {
  const char *alpha;
  int pad, fsec;
} ref_variant;

static const ref_variant URLSAFE = {ALPHA, 0, FSEC_BASE64_URLSAFE};
static const ref_variant VARIANTS[] = {
    {STD_ALPHA, 1, FSEC_BASE64_STANDARD},
    {STD_ALPHA, 0, FSEC_BASE64_STANDARD_NOPAD},
    {ALPHA, 0, FSEC_BASE64_URLSAFE}};

/* Value of a character of the alphabet, -1 for any other byte (a table
 * per alphabet: this runs on every byte of every input). */
static int val_in(const char *alpha, unsigned char c) {
  static signed char table[2][256];
  static int ready;
  int i, a;
  if (!ready) {
    memset(table, -1, sizeof table);
    for (i = 0; i < 64; i++) {
      table[0][(unsigned char)ALPHA[i]] = (signed char)i;
      table[1][(unsigned char)STD_ALPHA[i]] = (signed char)i;
    }
    ready = 1;
  }
  a = alpha == ALPHA ? 0 : 1;
  return table[a][c];
}

static int val(unsigned char c) { return val_in(ALPHA, c); }

/* Reference encoder: the variant's alphabet, '=' padding when it pads.
 * Returns the length. */
static size_t ref_encode_v(const ref_variant *rv, const uint8_t *in, size_t n,
                           char *out) {
  const char *A = rv->alpha;
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = A[v >> 18];
    out[o++] = A[v >> 12 & 63];
    out[o++] = A[v >> 6 & 63];
    out[o++] = A[v & 63];
  }
  if (n - i == 1) {
    out[o++] = A[in[i] >> 2];
    out[o++] = A[(in[i] & 3) << 4];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
    out[o++] = A[v >> 10];
    out[o++] = A[v >> 4 & 63];
    out[o++] = A[(v & 15) << 2];
  }
  while (rv->pad && o % 4) out[o++] = '=';
  return o;
}

static size_t ref_encode(const uint8_t *in, size_t n, char *out) {
  return ref_encode_v(&URLSAFE, in, n, out);
}

/* Reference strict decoder: alphabet only, a length of characters that is
 * not 1 mod 4, leftover bits zero; when the variant pads, exactly the '='
 * that bring the length to a multiple of 4, and nothing after them.
 * Returns 0 and the bytes, or -1. */
static int ref_decode_v(const ref_variant *rv, const char *s, size_t n,
                        uint8_t *out, size_t *outlen) {
  uint32_t acc = 0;
  size_t i, o = 0, m = n;
  int bits = 0, v;
  if (rv->pad) {
    if (n % 4 != 0) return -1;
    while (m > 0 && n - m < 2 && s[m - 1] == '=') m--;
  }
  if (m % 4 == 1) return -1;
  for (i = 0; i < m; i++) {
    if ((v = val_in(rv->alpha, (unsigned char)s[i])) < 0) return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return -1; /* leftover bits must be zero */
  *outlen = o;
  return 0;
}

static int ref_decode(const char *s, size_t n, uint8_t *out, size_t *outlen) {
  return ref_decode_v(&URLSAFE, s, n, out, outlen);
}

static int verify_status(const char *t, size_t n) {
  int status;
  ORACLE(fsec_token_verify(fuzz_engine(), "b64", 3, t, n, -1, NOW, &status,
                           NULL, 0, NULL, NULL) == FSEC_OK);
  return status;
}

/* Every other spelling of the valid token t (length n) is refused. The
 * variant is built in v (capacity n + 3). */
static void other_spellings(const char *t, size_t n, size_t pos, char *v) {
  size_t i;
  int last = val((unsigned char)t[n - 1]);
  memcpy(v, t, n);
  memcpy(v + n, "==", 2);
  ORACLE(verify_status(v, n + 1) == FSEC_TOKEN_INVALID);
  ORACLE(verify_status(v, n + 2) == FSEC_TOKEN_INVALID);
  v[n] = '\0';
  ORACLE(verify_status(v, n + 1) == FSEC_TOKEN_INVALID);
  ORACLE(verify_status(v, n - 1) == FSEC_TOKEN_INVALID);
  if (n % 4 != 0) { /* the low bit of the last character is left over */
    v[n - 1] = ALPHA[last | 1];
    ORACLE(verify_status(v, n) == FSEC_TOKEN_INVALID);
    v[n - 1] = t[n - 1];
  }
  for (i = 0; i < n; i++) { /* the standard alphabet's twin of a character */
    size_t at = (pos + i) % n;
    if (t[at] == '-' || t[at] == '_') {
      v[at] = t[at] == '-' ? '+' : '/';
      ORACLE(verify_status(v, n) == FSEC_TOKEN_INVALID);
      v[at] = t[at];
      break;
    }
  }
  memmove(v + pos + 1, v + pos, n - pos);
  v[pos] = ' ';
  ORACLE(verify_status(v, n + 1) == FSEC_TOKEN_INVALID);
  v[pos] = '\n';
  ORACLE(verify_status(v, n + 1) == FSEC_TOKEN_INVALID);
}

/* The input as a payload: encode, decode, compare. */
static void round_trip(const uint8_t *data, size_t size) {
  static char t[MAX_TOKEN], again[MAX_TOKEN], v[MAX_TOKEN + 3];
  static uint8_t bin[MAX_TOKEN], payload[MAX_TOKEN];
  size_t n = 0, binlen = 0, plen = 0, i;
  int64_t iat = 0;
  int status;
  fsec_engine *e = fuzz_engine();
  if (fsec_token_issue(e, "b64", 3, data, size, NOW, t, sizeof t, &n) != FSEC_OK)
    return; /* longer than the engine's token_max_length allows */
  ORACLE(n == fsec_token_encoded_len(size) && strlen(t) == n);
  for (i = 0; i < n; i++) ORACLE(val((unsigned char)t[i]) >= 0);
  ORACLE(ref_decode(t, n, bin, &binlen) == 0);
  ORACLE(binlen == FSEC_TOKEN_HEADER_BYTES + size + FSEC_TOKEN_MAC_BYTES);
  ORACLE(bin[0] == FSEC_TOKEN_VERSION);
  for (i = 0; i < 8; i++) ORACLE(bin[1 + i] == (uint8_t)((uint64_t)NOW >> (56 - 8 * i)));
  ORACLE(size == 0 || memcmp(bin + FSEC_TOKEN_HEADER_BYTES, data, size) == 0);
  ORACLE(ref_encode(bin, binlen, again) == n && memcmp(again, t, n) == 0);
  ORACLE(fsec_token_verify(e, "b64", 3, t, n, -1, NOW, &status, payload,
                           sizeof payload, &plen, &iat) == FSEC_OK);
  ORACLE(status == FSEC_TOKEN_VALID && iat == NOW && plen == size);
  ORACLE(size == 0 || memcmp(payload, data, size) == 0);
  other_spellings(t, n, size ? data[0] % n : 0, v);
}

/* The input as a token string: fsec's decoder agrees with the reference
 * on what is canonical. */
static void decode_agrees(const uint8_t *data, size_t size) {
  static uint8_t bin[MAX_TOKEN];
  size_t binlen;
  fsec_engine *e = fuzz_engine();
  int canonical = ref_decode((const char *)data, size, bin, &binlen) == 0;
  int status = verify_status((const char *)data, size);
  if (size > FSEC_DEFAULT_TOKEN_MAX_LENGTH) return; /* refused unread */
  ORACLE(status == FSEC_TOKEN_INVALID);             /* no key, no valid MAC */
  ORACLE(canonical == (strcmp(fsec_errmsg(e), NOT_CANONICAL) != 0));
}

/* The input through the codec itself, in every variant. */
static void codec_agrees(const uint8_t *data, size_t size) {
  static uint8_t want[16384], got[16384];
  static char enc[21848], ref[21848];
  size_t i, wlen = 0, glen = 99, elen;
  for (i = 0; i < sizeof VARIANTS / sizeof VARIANTS[0]; i++) {
    const ref_variant *rv = &VARIANTS[i];
    int ok = ref_decode_v(rv, (const char *)data, size, want, &wlen) == 0;
    int rc = fsec_base64_decode(rv->fsec, (const char *)data, size, got,
                                sizeof got, &glen);
    ORACLE(ok ? rc == FSEC_OK : rc == FSEC_EINVAL);
    ORACLE(ok ? glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0)
              : glen == 0);
    elen = ref_encode_v(rv, data, size, ref);
    ORACLE(fsec_base64_encoded_len(rv->fsec, size) == elen);
    ORACLE(fsec_base64_encode(rv->fsec, data, size, enc, sizeof enc) == FSEC_OK);
    ORACLE(strlen(enc) == elen && memcmp(enc, ref, elen) == 0);
    ORACLE(fsec_base64_decode(rv->fsec, enc, elen, got, sizeof got, &glen) == FSEC_OK);
    ORACLE(glen == size && (size == 0 || memcmp(got, data, size) == 0));
    /* one byte short of room is refused as too long, never overrun */
    if (size > 0)
      ORACLE(fsec_base64_decode(rv->fsec, enc, elen, got, size - 1, &glen) ==
             FSEC_ETOOLONG);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  codec_agrees(data, size);
  round_trip(data, size);
  decode_agrees(data, size);
  return 0;
}
