/*
 * fsec.h: umbrella header of the fsec C engine.
 *
 * Anything not declared under core/include is not API.
 */
#ifndef FSEC_H
#define FSEC_H

#define FSEC_VERSION_MAJOR 0
#define FSEC_VERSION_MINOR 1
#define FSEC_VERSION_PATCH 0
#define FSEC_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

#include "fsec/common.h"
#include "fsec/errors.h"
#include "fsec/engine.h"
#include "fsec/password.h"
#include "fsec/token.h"
#include "fsec/itsdangerous.h"
#include "fsec/random.h"
#include "fsec/codec.h"
#include "fsec/identity.h"
#include "fsec/store.h"
#include "fsec/header.h"
#include "fsec/shared.h"
#include "fsec/file.h"
#include "fsec/otp.h"
#include "fsec/seal.h"
#include "fsec/import_secrets.h"
#include "fsec/qr.h"
#include "fsec/strength.h"
#include "fsec/breached.h"
#include "fsec/webauthn.h"

#ifdef __cplusplus
}
#endif

#endif /* FSEC_H */
