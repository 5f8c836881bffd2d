/*
 * argon2_wire.h: the frames between the engine and its argon2 helper
 * process (core/helper/fsec-argon2.c), over a socketpair of one machine,
 * so in host byte order. One request, then one response, at a time.
 *
 *   request:  fsec__a2_req, then inlen bytes of (prepared) password, then
 *             storedlen bytes of the stored PHC string (verify only)
 *   response: fsec__a2_resp, then len bytes (the new PHC string, hash only)
 *
 * Both carry a magic number, so a wrong program at the helper's path (one
 * that echoes, or prints anything) is an error and never a match.
 */
#ifndef FSEC_ARGON2_WIRE_H
#define FSEC_ARGON2_WIRE_H

#include <stdint.h>

#define FSEC__A2_REQ_MAGIC 0x66613271u  /* "fa2q" */
#define FSEC__A2_RESP_MAGIC 0x66613272u /* "fa2r" */
#define FSEC__A2_HASH 1u
#define FSEC__A2_VERIFY 2u
/* The longest inputs the helper reads: a normalized password (at most
 * 65536 bytes before normalization, which may expand it) and a stored
 * string (FSEC_PASSWORD_STORED_MAX). */
#define FSEC__A2_MAX_INPUT (1u << 20)
#define FSEC__A2_MAX_STORED 512u
#define FSEC__A2_MAX_OUT 128u /* FSEC_PASSWORD_HASH_BYTES */

/* Response status: 0 done (hash made, or the password matches). */
#define FSEC__A2_OK 0
#define FSEC__A2_MISMATCH 1
#define FSEC__A2_NOMEM (-1)  /* argon2 could not get its memory */
#define FSEC__A2_BADREQ (-2) /* a frame out of range: the helper exits */

typedef struct fsec__a2_req {
  uint32_t magic, op, t, m_kib, inlen, storedlen;
} fsec__a2_req;

typedef struct fsec__a2_resp {
  uint32_t magic;
  int32_t status;
  uint32_t len;
} fsec__a2_resp;

#endif /* FSEC_ARGON2_WIRE_H */
