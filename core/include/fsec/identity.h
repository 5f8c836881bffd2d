/*
 * fsec/identity.h: checking and folding emails and usernames into the
 * unique keys the store keeps (core/src/identity.c; README "Email
 * identity"), and checking stored text. Needs no store; thread-safe.
 */
#ifndef FSEC_IDENTITY_H
#define FSEC_IDENTITY_H

#include "fsec/common.h"

/* Limits on identities (bytes). Longer input: FSEC_ETOOLONG. */
#define FSEC_EMAIL_MAX 254
#define FSEC_USERNAME_MAX 64

/* Check an email (syntax, length, UTF-8, no control characters) and write
 * its folded form to out (capacity outlen, NUL-terminated): the local part
 * NFC and simply lowercased, the domain mapped as IDNA2008/UTS-46 lookup
 * does (nontransitional: ß stays ß) in its A-label form, one trailing
 * root dot dropped. E.g. "Bob@Straße.DE" -> "bob@xn--strae-oqa.de".
 * Returns FSEC_OK, FSEC_EIDENTITY, FSEC_ETOOLONG, FSEC_EUTF8, FSEC_ENUL or
 * FSEC_ENOMEM. This function needs no store and is thread-safe. */
FSEC_API FSEC_NODISCARD int fsec_identity_email(const char *email, size_t len,
                                                char *out, size_t outlen)
    FSEC_NONNULL(1, 3);

/* The same, and when it fails on the domain, *why (if why is not NULL)
 * points to a static text saying why (libidn2's reason, e.g. a disallowed
 * code point), else NULL. */
FSEC_API FSEC_NODISCARD int fsec_identity_email_why(const char *email,
                                                    size_t len, char *out,
                                                    size_t outlen,
                                                    const char **why)
    FSEC_NONNULL(1, 3);

/* The form of a valid email to store, show and mail to, as
 * Flask-Security's email_validator normalizes it: the local part NFC (its
 * case kept), the domain as the U-labels of its folded form (mapped, lower
 * case, no root dot: "Ann@Example｡ORG." -> "Ann@example.org",
 * "a@XN--STRAE-OQA.DE" -> "a@straße.de"); the A-labels when the U-labels
 * would be longer than FSEC_EMAIL_MAX bytes. It folds to the same key as
 * the email given. Returns what fsec_identity_email returns. */
FSEC_API FSEC_NODISCARD int fsec_identity_email_display(const char *email,
                                                        size_t len, char *out,
                                                        size_t outlen)
    FSEC_NONNULL(1, 3);

/* The same for a username: 1..FSEC_USERNAME_MAX bytes, no control
 * characters, no '@' (so it can never be confused with an email). */
FSEC_API FSEC_NODISCARD int fsec_identity_username(const char *name,
                                                   size_t len, char *out,
                                                   size_t outlen)
    FSEC_NONNULL(1, 3);

/* Check a stored text value: at most max bytes (FSEC_ETOOLONG), no NUL
 * (FSEC_ENUL), valid UTF-8 (FSEC_EUTF8). Thread-safe; can't fail
 * otherwise. */
FSEC_API FSEC_NODISCARD int fsec_text_check(const char *s, size_t len,
                                            size_t max) FSEC_NONNULL(1);

#endif /* FSEC_IDENTITY_H */
