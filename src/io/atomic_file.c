/* Crash-safe replacement of files: temporary name, fsync, rename, fsync of
   the directory (see atomic_file.h). */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fer_atomic_tmp_name(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "%s.tmp.%ld", path, (long)getpid());
}

static int fsync_path(const char *path, int flags, fer_err *err)
{
    int fd = open(path, flags);
    if (fd < 0)
        return fer_fail(err, "%s: cannot open for fsync: %s", path, strerror(errno));
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return fer_fail(err, "%s: fsync failed: %s", path, strerror(saved));
    return FER_OK;
}

/* The directory holding path ("." for a bare name). */
static void parent_dir(char *out, size_t cap, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

static const char *kind_of(mode_t mode)
{
    return S_ISLNK(mode)    ? "a symbolic link (give the path of its target)"
           : S_ISDIR(mode)  ? "a directory"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

int fer_atomic_check_target(const char *path, fer_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? FER_OK : fer_fail(err, "%s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode))
        return FER_OK;
    return fer_fail(err, "%s: is %s; fer only writes new files or replaces regular ones", path,
                    kind_of(st.st_mode));
}

int fer_atomic_commit(const char *tmp, const char *path, fer_err *err)
{
    if (fer_atomic_check_target(path, err) != FER_OK) {
        unlink(tmp);
        return FER_ERROR;
    }
    if (fsync_path(tmp, O_RDONLY, err) != FER_OK) {
        unlink(tmp);
        return FER_ERROR;
    }
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return fer_fail(err, "%s: cannot rename %s into place: %s", path, tmp, strerror(saved));
    }
    char dir[4096];
    parent_dir(dir, sizeof dir, path);
    return fsync_path(dir, O_RDONLY | O_DIRECTORY, err);
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FER_ERROR;
        buf += w;
        n -= (size_t)w;
    }
    return FER_OK;
}

int fer_atomic_write_bytes(const char *path, const void *data, size_t n, fer_err *err)
{
    char tmp[4096];
    fer_atomic_tmp_name(tmp, sizeof tmp, path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fer_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
    errno = 0;
    int ok = write_all(fd, data, n) == FER_OK;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        return fer_fail(err, "%s: cannot write: %s", tmp, saved ? strerror(saved) : "short write");
    }
    return fer_atomic_commit(tmp, path, err);
}

int fer_atomic_write_text(const char *path, const char *text, fer_err *err)
{
    return fer_atomic_write_bytes(path, text, strlen(text), err);
}

/* Copies every byte of the open src descriptor to dst. */
static int copy_fd(int src, int dst)
{
    char buf[1 << 16];
    for (;;) {
        ssize_t r = read(src, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return FER_ERROR;
        if (r == 0)
            return FER_OK;
        if (write_all(dst, buf, (size_t)r) != FER_OK)
            return FER_ERROR;
    }
}

int fer_atomic_copy(const char *src, const char *dst, fer_err *err)
{
    int in = open(src, O_RDONLY);
    if (in < 0)
        return fer_fail(err, "%s: cannot open: %s", src, strerror(errno));
    char tmp[4096];
    fer_atomic_tmp_name(tmp, sizeof tmp, dst);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        int saved = errno;
        close(in);
        return fer_fail(err, "%s: cannot create: %s", tmp, strerror(saved));
    }
    int ok = copy_fd(in, out) == FER_OK;
    int saved = errno;
    close(in);
    ok = close(out) == 0 && ok;
    if (!ok) {
        unlink(tmp);
        return fer_fail(err, "%s: cannot copy %s: %s", dst, src, strerror(saved));
    }
    return fer_atomic_commit(tmp, dst, err);
}
