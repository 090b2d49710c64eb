/* Crash-safe file replacement for checkpoints and run-directory files:
   write a temporary name in the same directory, fsync it, rename it over the
   real name, fsync the directory. A reader sees the old file or the new one,
   never a partial one, and the new one survives a power cut once we return. */
#ifndef FER_IO_ATOMIC_FILE_H
#define FER_IO_ATOMIC_FILE_H

#include "fer/error.h"

#include <stddef.h>

/* "<path>.tmp.<pid>": unique per process, in the destination's directory so
   that rename() never crosses file systems. */
void fer_atomic_tmp_name(char *out, size_t cap, const char *path);

/* FER_OK when path may be replaced: it does not exist or is a regular file.
   Anything else is refused, because rename() would replace the directory
   entry itself: a device node (`--out /dev/full` as root), a FIFO, a socket,
   a directory, and a symbolic link too (the link would become a plain file
   and its target stay as it was; give the target's path instead). */
int fer_atomic_check_target(const char *path, fer_err *err);

/* fsyncs tmp, renames it to path (after fer_atomic_check_target) and fsyncs
   path's directory. On failure tmp is removed. */
int fer_atomic_commit(const char *tmp, const char *path, fer_err *err);

/* Replaces path with n bytes of data. Errors name the cause (strerror: "No
   space left on device"). */
int fer_atomic_write_bytes(const char *path, const void *data, size_t n, fer_err *err);

/* Replaces path with text. */
int fer_atomic_write_text(const char *path, const char *text, fer_err *err);

/* Replaces dst with a copy of src. */
int fer_atomic_copy(const char *src, const char *dst, fer_err *err);

#endif
