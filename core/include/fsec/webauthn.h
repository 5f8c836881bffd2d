/*
 * fsec/webauthn.h: the authenticator side of WebAuthn (passkeys), checked
 * as WebAuthn Level 2 says (registration §7.1 steps 12-21, assertion
 * §7.2 steps 15-20): the attestation object, the authenticator data, the
 * COSE public key and the signatures. The client data (type, challenge,
 * origin) is JSON and is checked by the Lua layer; it reaches this code
 * only as its SHA-256 (client_data_hash).
 *
 * Parsing uses libcbor for the CBOR items; signatures use OpenSSL 3 EVP.
 * Every input is untrusted bytes: anything out of bounds or not as the
 * specification lays it out is refused (FSEC_WAN_MALFORMED), never read
 * past. No trust anchors: `packed` attestation with x5c is verified with
 * the certificate's key and the certificate's fields are checked, but its
 * chain is not (like Flask-Security-Too, which accepts any attestation).
 *
 * Results: the functions return FSEC_OK with a decision in *reason
 * (FSEC_WAN_OK = accepted, else why not), or a negative FSEC_E* code for
 * misuse (FSEC_EINVAL: NULL pointer, no algorithm list) or FSEC_ENOMEM.
 * On refusal the output structure is zeroed: no partial results.
 * All functions are thread-safe (no shared state).
 */
#ifndef FSEC_WEBAUTHN_H
#define FSEC_WEBAUTHN_H

#include <stdint.h>

#include "fsec/common.h"

/* Largest attestation object read (packed with a certificate chain is a
 * few KB; a browser's is under 2 KB). */
#define FSEC_WAN_ATTESTATION_MAX 16384
/* Largest authenticator data read (RS256 registration: 359 bytes). */
#define FSEC_WAN_AUTHDATA_MAX 4096
/* Longest credential id (WebAuthn L3 §5.8.3 caps it at 1023 bytes). */
#define FSEC_WAN_CREDENTIAL_ID_MAX 1023
/* Largest COSE public key (an RSA-4096 key is 531 bytes). */
#define FSEC_WAN_PUBLIC_KEY_MAX 1024
/* Largest signature (an RSA-4096 one is 512 bytes). */
#define FSEC_WAN_SIGNATURE_MAX 1024
/* Largest attestation certificate (x5c[0]). */
#define FSEC_WAN_CERTIFICATE_MAX 4096

#define FSEC_WAN_HASH_BYTES 32
#define FSEC_WAN_AAGUID_BYTES 16

/* COSE algorithm identifiers supported. */
#define FSEC_WAN_ES256 (-7)
#define FSEC_WAN_EDDSA (-8)
#define FSEC_WAN_RS256 (-257)

/* Authenticator data flags (L2 §6.1; BE and BS from L3). */
#define FSEC_WAN_FLAG_UP 0x01u
#define FSEC_WAN_FLAG_UV 0x04u
#define FSEC_WAN_FLAG_BE 0x08u
#define FSEC_WAN_FLAG_BS 0x10u
#define FSEC_WAN_FLAG_AT 0x40u
#define FSEC_WAN_FLAG_ED 0x80u

/* Why an input was refused (FSEC_WAN_OK: it was not). */
typedef enum fsec_wan_reason {
  FSEC_WAN_OK = 0,
  FSEC_WAN_MALFORMED,     /* not laid out as the specification says */
  FSEC_WAN_RP_ID,         /* rpIdHash is not SHA-256 of the RP ID */
  FSEC_WAN_USER_PRESENT,  /* UP flag clear */
  FSEC_WAN_USER_VERIFIED, /* UV required and clear */
  FSEC_WAN_ALGORITHM,     /* key alg not allowed, or attStmt alg differs */
  FSEC_WAN_FORMAT,        /* attestation fmt other than none / packed */
  FSEC_WAN_ATTESTATION,   /* attestation statement or certificate refused */
  FSEC_WAN_KEY,           /* the COSE key is not a usable key */
  FSEC_WAN_SIGNATURE      /* the assertion's signature does not verify */
} fsec_wan_reason;

/* The reason's name as the Lua binding returns it ("malformed", "rp_id",
 * ...; "ok" for FSEC_WAN_OK, "unknown" out of range). Static storage. */
FSEC_API const char *fsec_wan_reason_name(int reason);

/* Parsed authenticator data. Every pointer points into the input
 * buffer (valid as long as it is); absent parts are NULL with length 0. */
typedef struct fsec_wan_authdata {
  const unsigned char *rp_id_hash; /* 32 bytes */
  unsigned flags;
  uint32_t sign_count;
  const unsigned char *aaguid; /* 16 bytes, AT only */
  const unsigned char *credential_id;
  size_t credential_id_len;
  const unsigned char *public_key; /* the COSE_Key CBOR, AT only */
  size_t public_key_len;
  const unsigned char *extensions; /* the CBOR map, ED only */
  size_t extensions_len;
} fsec_wan_authdata;

/* Parse authenticator data (L2 §6.1): 37 fixed bytes, then the attested
 * credential data when AT is set (its COSE key one well-formed CBOR
 * item), then one CBOR map when ED is set; nothing may trail. Unknown
 * flag bits are kept, not refused. The key is only delimited here, not
 * checked (fsec_wan_cose_parse does that). Returns FSEC_WAN_OK or
 * FSEC_WAN_MALFORMED (then *out is zeroed). */
FSEC_API FSEC_NODISCARD int fsec_wan_authdata_parse(const unsigned char *in,
                                                    size_t len,
                                                    fsec_wan_authdata *out)
    FSEC_NONNULL(3);

/* A COSE public key's parameters (copied out of the CBOR). */
typedef struct fsec_wan_cose {
  int alg;                    /* FSEC_WAN_ES256, FSEC_WAN_EDDSA or FSEC_WAN_RS256 */
  int kty;                    /* 2 EC2, 1 OKP, 3 RSA */
  int crv;                    /* 1 P-256, 6 Ed25519, 0 for RSA */
  unsigned char x[32], y[32]; /* EC2 x and y; OKP x */
  unsigned char n[512];       /* RSA modulus, n_len bytes, no leading 0 */
  size_t n_len;
  unsigned char e[8]; /* RSA exponent, e_len bytes, no leading 0 */
  size_t e_len;
} fsec_wan_cose;

/* Parse and check a COSE_Key (exactly one CBOR map, nothing trailing):
 * kty, alg and the curve parameters must match one supported algorithm
 * (ES256: EC2, P-256, 32-byte x and y on the curve; EdDSA: OKP, Ed25519,
 * 32-byte x; RS256: RSA, 2048-4096-bit odd n, e odd and > 1); alg must be
 * present; no other label, no label twice. Returns FSEC_WAN_OK,
 * FSEC_WAN_MALFORMED (not a CBOR map) or FSEC_WAN_KEY. */
FSEC_API FSEC_NODISCARD int fsec_wan_cose_parse(const unsigned char *in,
                                                size_t len,
                                                fsec_wan_cose *out)
    FSEC_NONNULL(3);

/* Write the canonical CTAP2 encoding of key into out (at most cap
 * bytes; FSEC_WAN_PUBLIC_KEY_MAX is always enough). Returns FSEC_OK with
 * *len, or FSEC_EINVAL (unsupported alg, no room). */
FSEC_API FSEC_NODISCARD int fsec_wan_cose_encode(const fsec_wan_cose *key,
                                                 unsigned char *out,
                                                 size_t cap, size_t *len)
    FSEC_NONNULL(1, 2, 4);

/* out = SHA-256(in). Returns FSEC_OK or FSEC_ECRYPTO. */
FSEC_API FSEC_NODISCARD int fsec_wan_sha256(const void *in, size_t len,
                                            unsigned char out[32])
    FSEC_NONNULL(3);

/* What to require. */
typedef struct fsec_wan_opts {
  const char *rp_id; /* the RP ID (a host name), rp_id_len bytes */
  size_t rp_id_len;
  int require_uv;  /* the UV flag must be set */
  const int *algs; /* allowed COSE algs (registration only) */
  size_t n_algs;
} fsec_wan_opts;

typedef enum fsec_wan_fmt {
  FSEC_WAN_FMT_NONE = 1,
  FSEC_WAN_FMT_PACKED
} fsec_wan_fmt;
typedef enum fsec_wan_att {
  FSEC_WAN_ATT_NONE = 1, /* fmt none */
  FSEC_WAN_ATT_SELF,     /* packed, signed by the credential key */
  FSEC_WAN_ATT_BASIC     /* packed, signed by x5c[0] (chain not checked) */
} fsec_wan_att;

/* A registration that was accepted. The pointers point into the
 * attestation object given (its authData). */
typedef struct fsec_wan_registration {
  int fmt;         /* fsec_wan_fmt */
  int attestation; /* fsec_wan_att */
  int alg;
  fsec_wan_authdata auth;
} fsec_wan_registration;

/* Check a registration (L2 §7.1 steps 12-19): the attestation object
 * {fmt, attStmt, authData} (one CBOR map, these three keys, nothing
 * trailing), rpIdHash (constant-time), UP, UV if required, AT present,
 * the COSE key valid and its alg in opts->algs, and the attestation
 * statement: "none" with an empty attStmt, or "packed" (self: alg equal to
 * the key's, signature by the credential key; x5c: signature by x5c[0]'s
 * key, which must be a v3 certificate with OU "Authenticator
 * Attestation", basic constraints CA:FALSE and, when it has the FIDO
 * AAGUID extension, the authData's AAGUID). Returns FSEC_OK with *reason,
 * or FSEC_EINVAL / FSEC_ENOMEM. */
FSEC_API FSEC_NODISCARD int fsec_wan_register(
    const unsigned char *att, size_t att_len,
    const unsigned char client_data_hash[32], const fsec_wan_opts *opts,
    fsec_wan_registration *out, int *reason) FSEC_NONNULL(3, 4, 5, 6);

/* Check an assertion (L2 §7.2 steps 15-20) against the stored COSE key:
 * authenticator data without AT, rpIdHash, UP, UV if required, and the
 * signature over authData || client_data_hash (ES256 DER, RS256 PKCS#1
 * v1.5, Ed25519 raw). opts->algs is not used. Returns FSEC_OK with
 * *reason (FSEC_WAN_KEY: the stored key does not parse), or FSEC_EINVAL /
 * FSEC_ENOMEM. The sign count rule is the caller's (it needs the stored
 * count). */
FSEC_API FSEC_NODISCARD int fsec_wan_assert(
    const unsigned char *public_key, size_t public_key_len,
    const unsigned char *auth_data, size_t auth_data_len,
    const unsigned char client_data_hash[32], const unsigned char *sig,
    size_t sig_len, const fsec_wan_opts *opts, fsec_wan_authdata *out,
    int *reason) FSEC_NONNULL(5, 8, 9, 10);

#endif /* FSEC_WEBAUTHN_H */
