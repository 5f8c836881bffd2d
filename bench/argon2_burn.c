/*
 * argon2_burn: argon2id (t=2, m=64 MiB, fsec's default) back to back,
 * forever, as nginx's hashing thread runs it during a burst of logins.
 * bench/nginx.sh runs it at nice 19 beside nginx, outside nginx, to
 * measure the floor this machine puts under the head-of-line figure: what
 * the same hashing costs other requests when it shares nothing with them
 * but the cores.
 */
#include <stdio.h>

#include <sodium.h>

int main(void) {
  unsigned char out[32], salt[crypto_pwhash_SALTBYTES] = {0};
  if (sodium_init() < 0) return 1;
  for (;;) {
    if (crypto_pwhash(out, sizeof out, "password", 8, salt, 2, 64u << 20,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
      fprintf(stderr, "argon2_burn: out of memory\n");
      return 1;
    }
  }
}
