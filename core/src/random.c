/* random.c: identifiers from libsodium's CSPRNG, base64url without padding. */
#include "internal.h"

size_t fsec_random_id_len(size_t nbytes) {
  return sodium_base64_ENCODED_LEN(nbytes,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING) -
         1;
}

int fsec_random_id(char *out, size_t outlen, size_t nbytes) {
  unsigned char buf[FSEC_RANDOM_ID_MAX_BYTES];
  if (nbytes < FSEC_RANDOM_ID_MIN_BYTES || nbytes > FSEC_RANDOM_ID_MAX_BYTES ||
      outlen < fsec_random_id_len(nbytes) + 1)
    return FSEC_EINVAL;
  if (sodium_init() < 0) return FSEC_ECRYPTO;
  randombytes_buf(buf, nbytes);
  sodium_bin2base64(out, outlen, buf, nbytes,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(buf, sizeof buf);
  return FSEC_OK;
}
