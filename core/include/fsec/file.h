/*
 * fsec/file.h: files and folders only their owner can read.
 *
 * Whatever fsec creates on disk (the store's database, the development
 * mailer's messages and folder) holds secrets: reset links, password
 * hashes. Their modes are set here, at creation, not left to the
 * process's umask (a server started from a shell usually has 022, which
 * makes every new file readable by every local user).
 *
 * Each function returns FSEC_OK, FSEC_EEXIST when the path already
 * exists (where that matters), or FSEC_EINVAL; errno then says why.
 */
#ifndef FSEC_FILE_H
#define FSEC_FILE_H

#include "fsec/common.h"

/* Create path as a new file of mode 0600 (never an existing one, never
 * through a symbolic link) holding len bytes of data. On a failed write
 * the partial file is removed. FSEC_EEXIST: the path exists. */
FSEC_API FSEC_NODISCARD int fsec_file_create_private(const char *path, const void *data,
                                                     size_t len) FSEC_NONNULL(1);

/* Make sure path exists: create it empty with mode 0600 when missing, an
 * existing file is left as it is. So that SQLite, which gives a new
 * database 0644 & ~umask and its -wal, -shm and -journal files the
 * database's own mode, makes them all 0600. A symbolic link to nothing
 * is FSEC_EINVAL with errno ELOOP: the file it names is never made. */
FSEC_API FSEC_NODISCARD int fsec_file_touch_private(const char *path) FSEC_NONNULL(1);

/* mkdir -p with mode 0700 for every folder it makes (existing ones are
 * left as they are). */
FSEC_API FSEC_NODISCARD int fsec_dir_create_private(const char *path) FSEC_NONNULL(1);

#endif /* FSEC_FILE_H */
