/*
 * fsec/qr.h: the QR code of an otpauth:// URI as an SVG image, for the
 * authenticator set-up page (libqrencode: error correction M, 8-bit mode,
 * case kept, the smallest version that fits).
 */
#ifndef FSEC_QR_H
#define FSEC_QR_H

#include "fsec/common.h"

#define FSEC_QR_TEXT_MAX 1024 /* bytes of text encoded */
#define FSEC_QR_BORDER 4      /* quiet zone, modules (the standard's minimum) */
#define FSEC_QR_MODULE_PX 10  /* width/height attributes: px per module */

/* *svg = a standalone SVG document (NUL-terminated, *svglen bytes without
 * the NUL) of the QR code of text[0..len): a white background rect and one
 * black <path> made of a rectangle per horizontal run of dark modules, in
 * module units (viewBox), shape-rendering="crispEdges". Allocated by fsec:
 * release it with fsec_qr_free(). Returns FSEC_OK, FSEC_ETOOLONG (len above
 * FSEC_QR_TEXT_MAX), FSEC_ENUL (a NUL byte in text), FSEC_EINVAL (empty) or
 * FSEC_ENOMEM; on error *svg is NULL. Thread-safe where libqrencode was
 * built with pthread (Debian's is). */
FSEC_API FSEC_NODISCARD int fsec_qr_svg(const char *text, size_t len,
                                        char **svg, size_t *svglen)
    FSEC_NONNULL(3, 4);

/* Free what fsec_qr_svg returned. NULL is a no-op. */
FSEC_API void fsec_qr_free(char *svg);

#endif /* FSEC_QR_H */
