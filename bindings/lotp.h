/*
 * lotp.h: the multi-factor functions of fsec.core (lotp.c: TOTP, Base32,
 * imports, QR) and the fsec.Keyring userdata (lkeyring.c).
 */
#ifndef LFSEC_LOTP_H
#define LFSEC_LOTP_H

#include "compat.h"

/* Add otp_secret, base32_*, totp_*, passlib_totp_decrypt, fernet_decrypt,
 * qr_svg and keyring to the table on top of the stack. */
void lfsec_otp_open(lua_State *L);
/* Register the fsec.Keyring metatable. */
void lfsec_keyring_register(lua_State *L);
/* core.keyring(map) */
int lfsec_keyring_new(lua_State *L);

#endif /* LFSEC_LOTP_H */
