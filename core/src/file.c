/* file.c: files and folders only their owner can read (fsec/file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsec/errors.h"
#include "fsec/file.h"

#ifndef O_CLOEXEC
#  define O_CLOEXEC 0
#endif
#ifndef O_NOFOLLOW
#  define O_NOFOLLOW 0
#endif

static int write_all(int fd, const unsigned char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int fsec_file_create_private(const char *path, const void *data, size_t len) {
  int fd, failed, saved;
  if (!*path || (len > 0 && !data)) {
    errno = EINVAL;
    return FSEC_EINVAL;
  }
  /* O_EXCL: a name someone else made first (a link planted in a shared
   * folder, a message another process wrote) is never written through */
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST ? FSEC_EEXIST : FSEC_EINVAL;
  failed = write_all(fd, data, len) != 0;
  saved = errno;
  if (close(fd) != 0 && !failed) {
    failed = 1;
    saved = errno;
  }
  if (failed) {
    unlink(path); /* a half-written message is worse than none */
    errno = saved;
    return FSEC_EINVAL;
  }
  return FSEC_OK;
}

int fsec_file_touch_private(const char *path) {
  struct stat st;
  int fd;
  if (!*path) {
    errno = EINVAL;
    return FSEC_EINVAL;
  }
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) return close(fd) == 0 ? FSEC_OK : FSEC_EINVAL;
  if (errno != EEXIST) return FSEC_EINVAL;
  /* There already: a file, or a link. A link to nothing (one planted in
   * a folder others can write) would have SQLite make the file it names,
   * 0644, wherever that is: refused (ELOOP). A link to a file is the
   * owner's choice, and that file keeps its mode. */
  if (stat(path, &st) != 0) {
    if (errno == ENOENT) errno = ELOOP;
    return FSEC_EINVAL;
  }
  return FSEC_OK;
}

/* One folder: made 0700, or already there as a folder. */
static int make_one(const char *path) {
  struct stat st;
  if (mkdir(path, 0700) == 0) return 0;
  if (errno != EEXIST) return -1;
  if (stat(path, &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

int fsec_dir_create_private(const char *path) {
  size_t len = strlen(path), i;
  char *copy;
  int rc = FSEC_OK;
  if (len == 0) {
    errno = EINVAL;
    return FSEC_EINVAL;
  }
  copy = malloc(len + 1);
  if (!copy) return FSEC_ENOMEM;
  memcpy(copy, path, len + 1);
  /* each parent in turn, then the folder itself ("a//b/" works too) */
  for (i = 1; i <= len && rc == FSEC_OK; i++) {
    if (copy[i] != '/' && copy[i] != '\0') continue;
    if (copy[i - 1] == '/') continue;
    copy[i] = '\0';
    if (make_one(copy) != 0) rc = FSEC_EINVAL;
    if (i < len) copy[i] = '/';
  }
  free(copy);
  return rc;
}
