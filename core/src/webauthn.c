/* webauthn.c: WebAuthn registration and assertion checks (fsec/webauthn.h).
 *
 * The authenticator data and the attestation object's top level are
 * walked by hand, so that every span handed back lies inside the caller's
 * buffer; libcbor delimits and decodes the nested items (the COSE key,
 * the extensions map, attStmt). OpenSSL 3 EVP builds the keys and checks
 * the signatures and the attestation certificate. */
#include <string.h>

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "fsec/webauthn.h"
#include "internal.h"

#define FIXED_LEN 37 /* rpIdHash(32) flags(1) signCount(4) */
#define KTY_OKP 1
#define KTY_EC2 2
#define KTY_RSA 3
#define CRV_P256 1
#define CRV_ED25519 6

static const char *const reason_names[] = {
    "ok", "malformed", "rp_id", "user_present", "user_verified",
    "algorithm", "format", "attestation", "key", "signature"};

const char *fsec_wan_reason_name(int reason) {
  if (reason < 0 || reason >= (int)(sizeof reason_names / sizeof *reason_names))
    return "unknown";
  return reason_names[reason];
}

int fsec_wan_sha256(const void *in, size_t len, unsigned char out[32]) {
  unsigned int n = 0;
  if (!in && len) return FSEC_EINVAL;
  if (EVP_Digest(in ? in : "", len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
    return FSEC_ECRYPTO;
  return FSEC_OK;
}

/* ---- CBOR helpers --------------------------------------------------- */

/* One definite CBOR head at *p (major type, argument): advances *p.
 * 0, or -1 when it is cut short, indefinite or reserved. */
static int read_head(const unsigned char **p, const unsigned char *end,
                     int *major, uint64_t *arg) {
  const unsigned char *q = *p;
  unsigned ai, k, n;
  uint64_t v = 0;
  if (q >= end) return -1;
  *major = q[0] >> 5;
  ai = q[0] & 31u;
  q++;
  if (ai < 24) {
    v = ai;
  } else {
    if (ai > 27) return -1; /* reserved, or indefinite (31): not CTAP2 */
    n = 1u << (ai - 24);    /* 1, 2, 4 or 8 bytes follow */
    if ((size_t)(end - q) < n) return -1;
    for (k = 0; k < n; k++) v = v << 8 | q[k];
    q += n;
  }
  *p = q;
  *arg = v;
  return 0;
}

/* A CBOR integer item as int64 within [-2^31, 2^31): 0, else -1. */
static int item_int(const cbor_item_t *it, int64_t *out) {
  uint64_t v;
  if (!cbor_isa_uint(it) && !cbor_isa_negint(it)) return -1;
  v = cbor_get_int(it);
  if (v > 0x7fffffffu) return -1;
  *out = cbor_isa_uint(it) ? (int64_t)v : -1 - (int64_t)v;
  return 0;
}

/* A definite byte string's bytes and length, or NULL. */
static const unsigned char *item_bytes(const cbor_item_t *it, size_t *len) {
  if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it)) return NULL;
  *len = cbor_bytestring_length(it);
  return cbor_bytestring_handle(it);
}

/* Does the definite text string it hold exactly s? */
static int item_is_text(const cbor_item_t *it, const char *s) {
  size_t n = strlen(s);
  return cbor_isa_string(it) && cbor_string_is_definite(it) &&
         cbor_string_length(it) == n && memcmp(cbor_string_handle(it), s, n) == 0;
}

/* How deep the CBOR this code reads may nest (attStmt's x5c is 3 deep;
 * extensions a little more). */
#define CBOR_DEPTH_MAX 16

/* The length of the one well-formed CBOR item at [p, end), or 0. This
 * walk runs before libcbor sees the bytes: libcbor 0.8 allocates what a
 * map or array head announces before it reads the entries (a 9-byte
 * input asked it for gigabytes, found by fuzz_wan_authdata), so every
 * count must first fit in the bytes that remain. Indefinite lengths,
 * tags and nesting deeper than depth are refused (CTAP2 canonical CBOR
 * has none of the first two). */
static size_t item_len(const unsigned char *p, const unsigned char *end, int depth) {
  const unsigned char *q = p;
  uint64_t arg, i, per;
  size_t n;
  int major;
  if (depth <= 0 || read_head(&q, end, &major, &arg)) return 0;
  switch (major) {
  case 0:
  case 1:
  case 7: break; /* integers, simple values, floats */
  case 2:
  case 3: /* byte and text strings */
    if (arg > (uint64_t)(end - q)) return 0;
    q += arg;
    break;
  case 4:
  case 5: /* arrays and maps: each entry takes a byte at least */
    per = major == 5 ? 2 : 1;
    if (arg > (uint64_t)(end - q) / per) return 0;
    for (i = 0; i < arg * per; i++) {
      if ((n = item_len(q, end, depth - 1)) == 0) return 0;
      q += n;
    }
    break;
  default: return 0; /* tags */
  }
  return (size_t)(q - p);
}

/* Load the CBOR item at the start of [p, p + len): the item (caller
 * decrefs) and its encoded length, or NULL (*oom set when libcbor ran
 * out of memory). */
static cbor_item_t *load_one(const unsigned char *p, size_t len, size_t *used,
                             int *oom) {
  struct cbor_load_result r;
  cbor_item_t *it;
  size_t n = p ? item_len(p, p + len, CBOR_DEPTH_MAX) : 0;
  if (n == 0) return NULL;
  it = cbor_load(p, n, &r);
  if (!it) {
    if (r.error.code == CBOR_ERR_MEMERROR) *oom = 1;
    return NULL;
  }
  if (r.read != n) { /* libcbor read otherwise than the walk: refuse */
    cbor_decref(&it);
    return NULL;
  }
  *used = n;
  return it;
}

/* ---- authenticator data --------------------------------------------- */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The length of the one definite CBOR map at [p, p + len), or 0. */
static size_t map_len(const unsigned char *p, size_t len, int *oom) {
  size_t used = 0;
  cbor_item_t *it = load_one(p, len, &used, oom);
  int ok = it && cbor_isa_map(it) && cbor_map_is_definite(it);
  if (it) cbor_decref(&it);
  return ok ? used : 0;
}

static int authdata_parse(const unsigned char *in, size_t len,
                          fsec_wan_authdata *out, int *oom) {
  size_t p = FIXED_LEN, n;
  memset(out, 0, sizeof *out);
  if (!in || len < FIXED_LEN || len > FSEC_WAN_AUTHDATA_MAX) return FSEC_WAN_MALFORMED;
  out->rp_id_hash = in;
  out->flags = in[32];
  out->sign_count = be32(in + 33);
  if (out->flags & FSEC_WAN_FLAG_AT) {
    if (len - p < FSEC_WAN_AAGUID_BYTES + 2) goto bad;
    out->aaguid = in + p;
    p += FSEC_WAN_AAGUID_BYTES;
    n = (size_t)in[p] << 8 | in[p + 1];
    p += 2;
    if (n == 0 || n > FSEC_WAN_CREDENTIAL_ID_MAX || n > len - p) goto bad;
    out->credential_id = in + p;
    out->credential_id_len = n;
    p += n;
    n = map_len(in + p, len - p, oom); /* the COSE key's extent */
    if (n == 0 || n > FSEC_WAN_PUBLIC_KEY_MAX) goto bad;
    out->public_key = in + p;
    out->public_key_len = n;
    p += n;
  }
  if (out->flags & FSEC_WAN_FLAG_ED) {
    n = map_len(in + p, len - p, oom);
    if (n == 0) goto bad;
    out->extensions = in + p;
    out->extensions_len = n;
    p += n;
  }
  if (p != len) goto bad; /* nothing may trail (L2 §6.1) */
  return FSEC_WAN_OK;
bad:
  memset(out, 0, sizeof *out);
  return FSEC_WAN_MALFORMED;
}

int fsec_wan_authdata_parse(const unsigned char *in, size_t len,
                            fsec_wan_authdata *out) {
  int oom = 0;
  return authdata_parse(in, len, out, &oom);
}

/* ---- COSE keys ------------------------------------------------------ */

/* Build the OpenSSL key of a parsed COSE key: the key, or NULL. */
static EVP_PKEY *cose_pkey(const fsec_wan_cose *k) {
  EVP_PKEY *pk = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  OSSL_PARAM *params = NULL;
  BIGNUM *n = NULL, *e = NULL;
  unsigned char pub[65];
  if (k->alg == FSEC_WAN_EDDSA)
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->x, 32);
  bld = OSSL_PARAM_BLD_new();
  if (!bld) return NULL;
  if (k->alg == FSEC_WAN_ES256) {
    pub[0] = 0x04; /* uncompressed point */
    memcpy(pub + 1, k->x, 32);
    memcpy(pub + 33, k->y, 32);
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub))
      goto done;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  } else {
    n = BN_bin2bn(k->n, (int)k->n_len, NULL);
    e = BN_bin2bn(k->e, (int)k->e_len, NULL);
    if (!n || !e || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
      goto done;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
  }
  params = OSSL_PARAM_BLD_to_param(bld);
  if (!ctx || !params || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
    pk = NULL;
done:
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  BN_free(n);
  BN_free(e);
  return pk;
}

/* Is the EC key's point on the curve (OpenSSL's public key check)? */
static int pkey_checks(EVP_PKEY *pk) {
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
  int ok = c && EVP_PKEY_public_check(c) == 1;
  EVP_PKEY_CTX_free(c);
  return ok;
}

/* Labels a COSE key may hold (no other: wave2.md §4.4). */
enum {
  L_KTY,
  L_ALG,
  L_M1,
  L_M2,
  L_M3,
  N_LABELS
};

static int label_slot(int64_t label) {
  switch (label) {
  case 1: return L_KTY;
  case 3: return L_ALG;
  case -1: return L_M1;
  case -2: return L_M2;
  case -3: return L_M3;
  default: return -1;
  }
}

/* Copy a byte string of exactly n bytes (n > 0) into dst: 0, else -1. */
static int take_fixed(const cbor_item_t *it, unsigned char *dst, size_t n) {
  size_t len = 0;
  const unsigned char *b = it ? item_bytes(it, &len) : NULL;
  if (!b || len != n) return -1;
  memcpy(dst, b, n);
  return 0;
}

/* Copy a byte string of lo..hi bytes without a leading zero: 0, else -1. */
static int take_unsigned(const cbor_item_t *it, unsigned char *dst, size_t lo,
                         size_t hi, size_t *len) {
  const unsigned char *b = it ? item_bytes(it, len) : NULL;
  if (!b || *len < lo || *len > hi || b[0] == 0) return -1;
  memcpy(dst, b, *len);
  return 0;
}

/* The parameters of the key whose labels are in v[], as alg says. */
static int cose_params(cbor_item_t *const v[N_LABELS], int64_t kty, int64_t alg,
                       fsec_wan_cose *out) {
  int64_t crv = 0;
  out->alg = (int)alg;
  out->kty = (int)kty;
  if (alg == FSEC_WAN_ES256) {
    if (kty != KTY_EC2 || !v[L_M1] || item_int(v[L_M1], &crv) || crv != CRV_P256 ||
        take_fixed(v[L_M2], out->x, 32) || take_fixed(v[L_M3], out->y, 32))
      return FSEC_WAN_KEY;
  } else if (alg == FSEC_WAN_EDDSA) {
    if (kty != KTY_OKP || !v[L_M1] || item_int(v[L_M1], &crv) ||
        crv != CRV_ED25519 || take_fixed(v[L_M2], out->x, 32) || v[L_M3])
      return FSEC_WAN_KEY;
  } else if (alg == FSEC_WAN_RS256) {
    if (kty != KTY_RSA || v[L_M3] ||
        take_unsigned(v[L_M1], out->n, 256, sizeof out->n, &out->n_len) ||
        take_unsigned(v[L_M2], out->e, 1, sizeof out->e, &out->e_len) ||
        !(out->n[out->n_len - 1] & 1) || /* a modulus is odd */
        !(out->e[out->e_len - 1] & 1) || (out->e_len == 1 && out->e[0] == 1))
      return FSEC_WAN_KEY;
  } else {
    return FSEC_WAN_ALGORITHM; /* a well-formed key of an alg not supported */
  }
  out->crv = (int)crv;
  return FSEC_WAN_OK;
}

/* fsec_wan_cose_parse, telling an unsupported alg (FSEC_WAN_ALGORITHM)
 * apart from a bad key, and building the key to check it. */
static int cose_parse(const unsigned char *in, size_t len, fsec_wan_cose *out,
                      int *oom) {
  cbor_item_t *v[N_LABELS] = {0}, *it;
  struct cbor_pair *pairs;
  size_t used = 0, i, npairs;
  int64_t label, kty = 0, alg = 0;
  int rc = FSEC_WAN_KEY, s;
  EVP_PKEY *pk;
  memset(out, 0, sizeof *out);
  if (!in || len > FSEC_WAN_PUBLIC_KEY_MAX) return FSEC_WAN_MALFORMED;
  it = load_one(in, len, &used, oom);
  if (!it || used != len || !cbor_isa_map(it) || !cbor_map_is_definite(it)) {
    if (it) cbor_decref(&it);
    return FSEC_WAN_MALFORMED;
  }
  pairs = cbor_map_handle(it);
  npairs = cbor_map_size(it);
  for (i = 0; i < npairs; i++) {
    if (item_int(pairs[i].key, &label) || (s = label_slot(label)) < 0 || v[s]) goto done;
    v[s] = pairs[i].value;
  }
  if (!v[L_KTY] || !v[L_ALG] || item_int(v[L_KTY], &kty) || item_int(v[L_ALG], &alg))
    goto done; /* alg must be present (wave2.md §4.4) */
  rc = cose_params(v, kty, alg, out);
  if (rc == FSEC_WAN_OK) {
    pk = cose_pkey(out);
    /* The EC point must be on the curve. Not EVP_PKEY_public_check on
     * RSA keys: its SP 800-56B test of n draws random bases and gave
     * different answers for one n (fuzz_wan_cose); an odd n, checked
     * above, is what verification needs, and a weak key harms only the
     * account that registered it. */
    if (!pk || (out->alg == FSEC_WAN_ES256 && !pkey_checks(pk))) rc = FSEC_WAN_KEY;
    /* An Ed25519 key must be a canonical point of the prime-order
     * subgroup: OpenSSL takes any 32 bytes, and a small-order key (all
     * zeros, the identity) has signatures that hold for many messages. */
    if (out->alg == FSEC_WAN_EDDSA && crypto_core_ed25519_is_valid_point(out->x) != 1)
      rc = FSEC_WAN_KEY;
    EVP_PKEY_free(pk);
  }
done:
  cbor_decref(&it);
  if (rc != FSEC_WAN_OK) memset(out, 0, sizeof *out);
  return rc;
}

int fsec_wan_cose_parse(const unsigned char *in, size_t len, fsec_wan_cose *out) {
  int oom = 0, rc = cose_parse(in, len, out, &oom);
  return rc == FSEC_WAN_ALGORITHM ? FSEC_WAN_KEY : rc;
}

/* A CBOR byte string head for n bytes at o. */
static size_t put_bstr_head(unsigned char *o, size_t n) {
  if (n < 24) {
    o[0] = (unsigned char)(0x40 | n);
    return 1;
  }
  if (n < 256) {
    o[0] = 0x58;
    o[1] = (unsigned char)n;
    return 2;
  }
  o[0] = 0x59;
  o[1] = (unsigned char)(n >> 8);
  o[2] = (unsigned char)n;
  return 3;
}

int fsec_wan_cose_encode(const fsec_wan_cose *k, unsigned char *out, size_t cap,
                         size_t *len) {
  unsigned char buf[FSEC_WAN_PUBLIC_KEY_MAX];
  size_t o = 0;
  /* CTAP2 canonical order: 1, 3, -1, -2, -3 (shorter encodings first) */
  if (k->alg == FSEC_WAN_ES256) {
    static const unsigned char head[] = {0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01};
    memcpy(buf, head, sizeof head);
    o = sizeof head;
    buf[o++] = 0x21;
    o += put_bstr_head(buf + o, 32);
    memcpy(buf + o, k->x, 32), o += 32;
    buf[o++] = 0x22;
    o += put_bstr_head(buf + o, 32);
    memcpy(buf + o, k->y, 32), o += 32;
  } else if (k->alg == FSEC_WAN_EDDSA) {
    static const unsigned char head[] = {0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06};
    memcpy(buf, head, sizeof head);
    o = sizeof head;
    buf[o++] = 0x21;
    o += put_bstr_head(buf + o, 32);
    memcpy(buf + o, k->x, 32), o += 32;
  } else if (k->alg == FSEC_WAN_RS256) {
    static const unsigned char head[] = {0xa4, 0x01, 0x03, 0x03, 0x39, 0x01, 0x00};
    if (k->n_len > sizeof k->n || k->e_len > sizeof k->e) return FSEC_EINVAL;
    memcpy(buf, head, sizeof head);
    o = sizeof head;
    buf[o++] = 0x20;
    o += put_bstr_head(buf + o, k->n_len);
    memcpy(buf + o, k->n, k->n_len), o += k->n_len;
    buf[o++] = 0x21;
    o += put_bstr_head(buf + o, k->e_len);
    memcpy(buf + o, k->e, k->e_len), o += k->e_len;
  } else {
    return FSEC_EINVAL;
  }
  if (o > cap) return FSEC_EINVAL;
  memcpy(out, buf, o);
  *len = o;
  return FSEC_OK;
}

/* ---- signatures ----------------------------------------------------- */

/* Does sig verify over authData || hash with pk under alg? 1 or 0. */
static int verify_sig(EVP_PKEY *pk, int alg, const unsigned char *ad, size_t ad_len,
                      const unsigned char hash[32], const unsigned char *sig,
                      size_t sig_len) {
  unsigned char msg[FSEC_WAN_AUTHDATA_MAX + FSEC_WAN_HASH_BYTES];
  EVP_MD_CTX *ctx;
  int ok;
  if (ad_len > FSEC_WAN_AUTHDATA_MAX || sig_len == 0 || sig_len > FSEC_WAN_SIGNATURE_MAX)
    return 0;
  memcpy(msg, ad, ad_len);
  memcpy(msg + ad_len, hash, FSEC_WAN_HASH_BYTES);
  ctx = EVP_MD_CTX_new();
  if (!ctx) return 0;
  /* Ed25519 signs the message itself: no digest, one shot (wave2.md §4.6);
   * RSA keys default to PKCS#1 v1.5 padding, as RS256 wants */
  ok = EVP_DigestVerifyInit(ctx, NULL, alg == FSEC_WAN_EDDSA ? NULL : EVP_sha256(),
                            NULL, pk) == 1 &&
       EVP_DigestVerify(ctx, sig, sig_len, msg, ad_len + FSEC_WAN_HASH_BYTES) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

/* ---- attestation ---------------------------------------------------- */

/* Does the certificate's key fit alg (type, and curve for ES256)? */
static int pkey_fits_alg(EVP_PKEY *pk, int alg) {
  char group[32];
  size_t glen = 0;
  switch (alg) {
  case FSEC_WAN_ES256:
    return EVP_PKEY_is_a(pk, "EC") &&
           EVP_PKEY_get_group_name(pk, group, sizeof group, &glen) == 1 &&
           strcmp(group, "prime256v1") == 0;
  case FSEC_WAN_EDDSA: return EVP_PKEY_is_a(pk, "ED25519");
  case FSEC_WAN_RS256: return EVP_PKEY_is_a(pk, "RSA");
  default: return 0;
  }
}

/* The subject's first OU is exactly "Authenticator Attestation"? */
static int cert_ou_ok(X509 *x) {
  static const char want[] = "Authenticator Attestation";
  X509_NAME *s = X509_get_subject_name(x);
  int i = s ? X509_NAME_get_index_by_NID(s, NID_organizationalUnitName, -1) : -1;
  const ASN1_STRING *v;
  if (i < 0) return 0;
  v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(s, i));
  return v && ASN1_STRING_length(v) == (int)sizeof want - 1 &&
         memcmp(ASN1_STRING_get0_data(v), want, sizeof want - 1) == 0;
}

/* The FIDO AAGUID extension (1.3.6.1.4.1.45724.1.1.4), if there is one,
 * is not critical and holds an OCTET STRING equal to aaguid. */
static int cert_aaguid_ok(X509 *x, const unsigned char *aaguid) {
  ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
  int i = oid ? X509_get_ext_by_OBJ(x, oid, -1) : -2, ok;
  X509_EXTENSION *ext;
  const ASN1_OCTET_STRING *d;
  const unsigned char *b;
  ASN1_OBJECT_free(oid);
  if (i == -2) return 0;
  if (i < 0) return 1; /* absent: nothing to compare */
  if (X509_get_ext_by_OBJ(x, X509_EXTENSION_get_object(X509_get_ext(x, i)), i) >= 0)
    return 0; /* twice */
  ext = X509_get_ext(x, i);
  d = X509_EXTENSION_get_data(ext);
  if (!d || X509_EXTENSION_get_critical(ext)) return 0;
  b = ASN1_STRING_get0_data(d);
  /* extnValue = DER OCTET STRING (04 10) of the 16-byte AAGUID */
  ok = ASN1_STRING_length(d) == 18 && b[0] == 0x04 && b[1] == 0x10 &&
       CRYPTO_memcmp(b + 2, aaguid, 16) == 0;
  return ok;
}

/* x5c[0] meets WebAuthn's packed attestation certificate rules (L2 §8.2.1)
 * and its key verifies sig under alg. */
static int packed_x5c(const cbor_item_t *x5c, int alg, const unsigned char *sig,
                      size_t sig_len, const unsigned char *ad, size_t ad_len,
                      const unsigned char hash[32], const fsec_wan_authdata *auth) {
  const unsigned char *der, *p;
  size_t der_len = 0;
  X509 *x = NULL;
  EVP_PKEY *pk;
  int ok = 0;
  if (!cbor_isa_array(x5c) || !cbor_array_is_definite(x5c) || cbor_array_size(x5c) < 1)
    return 0;
  der = item_bytes(cbor_array_handle(x5c)[0], &der_len);
  if (!der || der_len == 0 || der_len > FSEC_WAN_CERTIFICATE_MAX) return 0;
  p = der;
  x = d2i_X509(NULL, &p, (long)der_len);
  if (!x || p != der + der_len) goto done; /* nothing may trail the DER */
  if (X509_get_version(x) != 2) goto done; /* v3 */
  /* CA:FALSE, stated (an invalid extension set is refused too) */
  if (X509_get_ext_by_NID(x, NID_basic_constraints, -1) < 0 ||
      (X509_get_extension_flags(x) & (EXFLAG_CA | EXFLAG_INVALID)))
    goto done;
  if (!cert_ou_ok(x) || !cert_aaguid_ok(x, auth->aaguid)) goto done;
  pk = X509_get0_pubkey(x);
  ok = pk && pkey_fits_alg(pk, alg) && verify_sig(pk, alg, ad, ad_len, hash, sig, sig_len);
done:
  X509_free(x);
  return ok;
}

/* The packed statement {alg, sig[, x5c]} (L2 §8.2): the reason, and
 * *att on success. */
static int packed(const cbor_item_t *st, const fsec_wan_cose *key,
                  const unsigned char *ad, size_t ad_len,
                  const unsigned char hash[32], const fsec_wan_authdata *auth,
                  int *att) {
  const cbor_item_t *alg_it = NULL, *sig_it = NULL, *x5c = NULL;
  struct cbor_pair *pairs = cbor_map_handle(st);
  size_t i, sig_len = 0;
  const unsigned char *sig;
  int64_t alg;
  EVP_PKEY *pk;
  int ok;
  for (i = 0; i < cbor_map_size(st); i++) {
    const cbor_item_t **slot = item_is_text(pairs[i].key, "alg")   ? &alg_it
                               : item_is_text(pairs[i].key, "sig") ? &sig_it
                               : item_is_text(pairs[i].key, "x5c") ? &x5c
                                                                   : NULL;
    if (!slot || *slot) return FSEC_WAN_ATTESTATION; /* ecdaaKeyId, twice... */
    *slot = pairs[i].value;
  }
  if (!alg_it || !sig_it || item_int(alg_it, &alg)) return FSEC_WAN_ATTESTATION;
  sig = item_bytes(sig_it, &sig_len);
  if (!sig) return FSEC_WAN_ATTESTATION;
  if (x5c) {
    if (!packed_x5c(x5c, (int)alg, sig, sig_len, ad, ad_len, hash, auth))
      return FSEC_WAN_ATTESTATION;
    *att = FSEC_WAN_ATT_BASIC;
    return FSEC_WAN_OK;
  }
  if (alg != key->alg) return FSEC_WAN_ALGORITHM; /* self: the key's own alg */
  pk = cose_pkey(key);
  ok = pk && verify_sig(pk, key->alg, ad, ad_len, hash, sig, sig_len);
  EVP_PKEY_free(pk);
  if (!ok) return FSEC_WAN_ATTESTATION;
  *att = FSEC_WAN_ATT_SELF;
  return FSEC_WAN_OK;
}

/* The attestation object's top-level map {fmt, attStmt, authData},
 * walked by hand so that authData is a span of the input: the reason.
 * *st is attStmt (caller decrefs). */
static int att_object(const unsigned char *in, size_t len, char fmt[33],
                      cbor_item_t **st, const unsigned char **ad, size_t *ad_len,
                      int *oom) {
  const unsigned char *p = in, *end = in + len, *key;
  uint64_t arg;
  size_t used, klen, i;
  int major, have_fmt = 0;
  if (read_head(&p, end, &major, &arg) || major != 5 || arg != 3)
    return FSEC_WAN_MALFORMED;
  for (i = 0; i < 3; i++) {
    if (read_head(&p, end, &major, &arg) || major != 3 || arg > 8 ||
        arg > (uint64_t)(end - p))
      return FSEC_WAN_MALFORMED;
    key = p;
    klen = (size_t)arg;
    p += klen;
    if (klen == 3 && memcmp(key, "fmt", 3) == 0 && !have_fmt) {
      if (read_head(&p, end, &major, &arg) || major != 3 || arg > 32 ||
          arg > (uint64_t)(end - p))
        return FSEC_WAN_MALFORMED;
      memcpy(fmt, p, (size_t)arg);
      fmt[arg] = '\0';
      if (memchr(fmt, 0, (size_t)arg)) return FSEC_WAN_MALFORMED;
      p += arg;
      have_fmt = 1;
    } else if (klen == 7 && memcmp(key, "attStmt", 7) == 0 && !*st) {
      *st = load_one(p, (size_t)(end - p), &used, oom);
      if (!*st || !cbor_isa_map(*st) || !cbor_map_is_definite(*st))
        return FSEC_WAN_MALFORMED;
      p += used;
    } else if (klen == 8 && memcmp(key, "authData", 8) == 0 && !*ad) {
      if (read_head(&p, end, &major, &arg) || major != 2 ||
          arg > (uint64_t)(end - p))
        return FSEC_WAN_MALFORMED;
      *ad = p;
      *ad_len = (size_t)arg;
      p += arg;
    } else {
      return FSEC_WAN_MALFORMED; /* another key, or one twice */
    }
  }
  return p == end ? FSEC_WAN_OK : FSEC_WAN_MALFORMED; /* nothing may trail */
}

/* Steps 13-15 on parsed authenticator data: rpIdHash, UP, UV. */
static int check_flags(const fsec_wan_authdata *a, const fsec_wan_opts *o) {
  unsigned char h[32];
  if (fsec_wan_sha256(o->rp_id, o->rp_id_len, h) != FSEC_OK ||
      CRYPTO_memcmp(h, a->rp_id_hash, 32) != 0)
    return FSEC_WAN_RP_ID;
  if (!(a->flags & FSEC_WAN_FLAG_UP)) return FSEC_WAN_USER_PRESENT;
  if (o->require_uv && !(a->flags & FSEC_WAN_FLAG_UV)) return FSEC_WAN_USER_VERIFIED;
  return FSEC_WAN_OK;
}

static int alg_allowed(int alg, const fsec_wan_opts *o) {
  size_t i;
  for (i = 0; i < o->n_algs; i++)
    if (o->algs[i] == alg) return 1;
  return 0;
}

/* Registration after the attestation object was split: the reason. */
static int registration(const char *fmt, const cbor_item_t *st,
                        const unsigned char *ad, size_t ad_len,
                        const unsigned char hash[32], const fsec_wan_opts *opts,
                        fsec_wan_registration *out, int *oom) {
  fsec_wan_cose key;
  int rc = authdata_parse(ad, ad_len, &out->auth, oom);
  if (rc != FSEC_WAN_OK) return rc;
  if ((rc = check_flags(&out->auth, opts)) != FSEC_WAN_OK) return rc;
  if (!(out->auth.flags & FSEC_WAN_FLAG_AT)) return FSEC_WAN_MALFORMED;
  rc = cose_parse(out->auth.public_key, out->auth.public_key_len, &key, oom);
  if (rc == FSEC_WAN_MALFORMED) rc = FSEC_WAN_KEY;
  if (rc != FSEC_WAN_OK) return rc;
  if (!alg_allowed(key.alg, opts)) return FSEC_WAN_ALGORITHM;
  out->alg = key.alg;
  if (strcmp(fmt, "none") == 0) { /* case-sensitive (step 18) */
    if (cbor_map_size(st) != 0) return FSEC_WAN_ATTESTATION;
    out->fmt = FSEC_WAN_FMT_NONE;
    out->attestation = FSEC_WAN_ATT_NONE;
    return FSEC_WAN_OK;
  }
  if (strcmp(fmt, "packed") != 0) return FSEC_WAN_FORMAT;
  out->fmt = FSEC_WAN_FMT_PACKED;
  return packed(st, &key, ad, ad_len, hash, &out->auth, &out->attestation);
}

static int opts_ok(const fsec_wan_opts *o, int need_algs) {
  return (o->rp_id || o->rp_id_len == 0) && (!need_algs || (o->algs && o->n_algs > 0));
}

int fsec_wan_register(const unsigned char *att, size_t att_len,
                      const unsigned char client_data_hash[32],
                      const fsec_wan_opts *opts, fsec_wan_registration *out,
                      int *reason) {
  char fmt[33] = "";
  cbor_item_t *st = NULL;
  const unsigned char *ad = NULL;
  size_t ad_len = 0;
  int oom = 0, rc;
  memset(out, 0, sizeof *out);
  *reason = FSEC_WAN_MALFORMED;
  if (!opts_ok(opts, 1) || (!att && att_len)) return FSEC_EINVAL;
  if (att_len > FSEC_WAN_ATTESTATION_MAX) return FSEC_OK;
  rc = att_object(att, att_len, fmt, &st, &ad, &ad_len, &oom);
  if (rc == FSEC_WAN_OK)
    rc = registration(fmt, st, ad, ad_len, client_data_hash, opts, out, &oom);
  if (st) cbor_decref(&st);
  if (rc != FSEC_WAN_OK) memset(out, 0, sizeof *out);
  if (oom) return FSEC_ENOMEM;
  *reason = rc;
  return FSEC_OK;
}

int fsec_wan_assert(const unsigned char *public_key, size_t public_key_len,
                    const unsigned char *auth_data, size_t auth_data_len,
                    const unsigned char client_data_hash[32],
                    const unsigned char *sig, size_t sig_len,
                    const fsec_wan_opts *opts, fsec_wan_authdata *out,
                    int *reason) {
  fsec_wan_cose key;
  EVP_PKEY *pk = NULL;
  int oom = 0, rc;
  memset(out, 0, sizeof *out);
  *reason = FSEC_WAN_MALFORMED;
  if (!opts_ok(opts, 0) || (!public_key && public_key_len) ||
      (!auth_data && auth_data_len) || (!sig && sig_len))
    return FSEC_EINVAL;
  rc = cose_parse(public_key, public_key_len, &key, &oom);
  if (rc != FSEC_WAN_OK) rc = FSEC_WAN_KEY; /* the stored key, not the client's */
  if (rc == FSEC_WAN_OK) rc = authdata_parse(auth_data, auth_data_len, out, &oom);
  if (rc == FSEC_WAN_OK && (out->flags & FSEC_WAN_FLAG_AT))
    rc = FSEC_WAN_MALFORMED; /* assertions never carry AT (L2 §6.1) */
  if (rc == FSEC_WAN_OK) rc = check_flags(out, opts);
  if (rc == FSEC_WAN_OK) {
    pk = cose_pkey(&key);
    if (!pk) rc = FSEC_WAN_KEY;
    else if (!verify_sig(pk, key.alg, auth_data, auth_data_len, client_data_hash,
                         sig, sig_len))
      rc = FSEC_WAN_SIGNATURE;
    EVP_PKEY_free(pk);
  }
  if (rc != FSEC_WAN_OK) memset(out, 0, sizeof *out);
  if (oom) return FSEC_ENOMEM;
  *reason = rc;
  return FSEC_OK;
}
