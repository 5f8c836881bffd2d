/*
 * fsec/breached.h: a breached-password list (SHA-1 hashes of passwords
 * seen in breaches, with how often), mapped read-only and shared (mmap
 * MAP_SHARED: every process reads the one copy in the page cache) and
 * searched in place: nothing is loaded.
 *
 * Two forms:
 * - text, as Have I Been Pwned publishes it ordered by hash: one
 *   "HEX40[:COUNT]" a line (CRLF or LF, either case of hex), sorted by
 *   hash; binary search over the lines. A line without a count counts as
 *   FSEC_BREACHED_UNCOUNTED (always refused).
 * - binary, built from the text by fsec_breached_build (fsec breached
 *   build): a header, the entries (20-byte hash + 32-bit count, sorted),
 *   and an index of where each hash prefix of `bits` bits starts, so a
 *   lookup searches a few hundred entries, one or two pages.
 *
 * Binary layout, integers little-endian:
 *   0  magic "FSECBRL1"       8  u32 version (1)   12 u32 bits (0..24)
 *   16 u64 count              24 u64 reserved (0)  ... up to 64: zero
 *   64 count entries of 24 bytes: hash[20], u32 count
 *   then 2^bits + 1 u64 entry numbers: prefix p's entries are
 *   [index[p], index[p+1]); index[0] = 0, index[2^bits] = count.
 * fsec_breached_open checks the magic, version, bits, the exact size and
 * that the index is ordered within count, so a truncated or hostile file
 * is an error and never makes a lookup read outside the mapping.
 */
#ifndef FSEC_BREACHED_H
#define FSEC_BREACHED_H

#include <stdint.h>

#include "fsec/common.h"

#define FSEC_BREACHED_MAGIC "FSECBRL1"
#define FSEC_BREACHED_HEADER 64
#define FSEC_BREACHED_ENTRY 24
#define FSEC_BREACHED_BITS_MAX 24
#define FSEC_BREACHED_UNCOUNTED UINT32_MAX
/* text lists up to this size are checked whole (sorted, well formed) when
 * opened; a longer one only at its ends: build the binary form of it */
#define FSEC_BREACHED_TEXT_CHECK_MAX (256u << 20)

typedef struct fsec_breached fsec_breached;

/* Map the list at path (either form, told by the magic). On error *out is
 * NULL and why (whylen bytes) says what is wrong, with the line or offset.
 * Returns FSEC_OK, FSEC_EINVAL (malformed, unsorted, truncated), FSEC_EDB
 * (cannot open, stat or map the file: errno's text in why) or FSEC_ENOMEM. */
FSEC_API FSEC_NODISCARD int fsec_breached_open(const char *path, fsec_breached **out,
                                               char *why, size_t whylen)
    FSEC_NONNULL(1, 2);

/* The same over data[0..len) that the caller keeps alive and unchanged
 * until fsec_breached_close (tests, the fuzz target). */
FSEC_API FSEC_NODISCARD int fsec_breached_open_mem(const void *data, size_t len,
                                                   fsec_breached **out, char *why,
                                                   size_t whylen)
    FSEC_NONNULL(3);

/* *count = times the hash sha1[0..20) was seen, 0 when not listed.
 * Returns FSEC_OK, or FSEC_EINVAL when a text list has a malformed line
 * on the search path (*count is then FSEC_BREACHED_UNCOUNTED: refuse).
 * Thread-safe (reads only). */
FSEC_API FSEC_NODISCARD int fsec_breached_lookup(const fsec_breached *b,
                                                 const unsigned char sha1[20],
                                                 uint64_t *count)
    FSEC_NONNULL(1, 2, 3);

/* The same for a password: SHA-1 of its bytes (as HIBP hashes them). */
FSEC_API FSEC_NODISCARD int fsec_breached_password(const fsec_breached *b, const void *pw,
                                                   size_t len, uint64_t *count)
    FSEC_NONNULL(1, 4);

/* Entries of a binary list, bytes of a text one. */
FSEC_API uint64_t fsec_breached_size(const fsec_breached *b) FSEC_NONNULL(1);
FSEC_API int fsec_breached_is_binary(const fsec_breached *b) FSEC_NONNULL(1);

/* Unmap and free. NULL is a no-op. */
FSEC_API void fsec_breached_close(fsec_breached *b);

/* Writing a binary list, entries in ascending hash order (a repeated hash
 * keeps the larger count). The file is written beside path and renamed
 * over it by finish, so a reader never maps half a list. */
typedef struct fsec_breached_writer fsec_breached_writer;

FSEC_API FSEC_NODISCARD int fsec_breached_writer_open(const char *path, uint64_t expected,
                                                      fsec_breached_writer **out,
                                                      char *why, size_t whylen)
    FSEC_NONNULL(1, 3);
/* FSEC_EINVAL when hash is below the previous one (why says so). */
FSEC_API FSEC_NODISCARD int fsec_breached_writer_add(fsec_breached_writer *w,
                                                     const unsigned char sha1[20],
                                                     uint32_t count)
    FSEC_NONNULL(1, 2);
/* Write the index and header, fsync, rename; frees w either way. */
FSEC_API FSEC_NODISCARD int fsec_breached_writer_finish(fsec_breached_writer *w)
    FSEC_NONNULL(1);
/* Drop an unfinished list (removes the temporary file); NULL is a no-op. */
FSEC_API void fsec_breached_writer_abort(fsec_breached_writer *w);
/* The writer's last error text. */
FSEC_API const char *fsec_breached_writer_error(const fsec_breached_writer *w)
    FSEC_NONNULL(1);

/* Build the binary form at out_path from the text list at in_path (sorted
 * by hash, as HIBP's ordered download; CRLF or LF). *entries = entries
 * written. Errors name the line. */
FSEC_API FSEC_NODISCARD int fsec_breached_build(const char *in_path, const char *out_path,
                                                uint64_t *entries, char *why, size_t whylen)
    FSEC_NONNULL(1, 2, 3);

#endif /* FSEC_BREACHED_H */
