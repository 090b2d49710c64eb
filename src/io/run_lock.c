/* The run directory's lock file (see fer/run_lock.h). */
#include "fer/run_lock.h"

#include "fer/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define LOCK_NAME ".lock"

/* "HOST PID" of the holder, as it wrote it; "an unknown process" when the
   holder has not written yet. */
static void read_holder(int fd, char *out, size_t cap)
{
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    char host[256];
    long pid;
    if (sscanf(out, "%255s %ld", host, &pid) == 2)
        snprintf(out, cap, "pid %ld on host %s", pid, host);
    else
        snprintf(out, cap, "an unknown process");
}

static void write_holder(int fd)
{
    char host[256] = "unknown";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    char text[320];
    int n = snprintf(text, sizeof text, "%s %ld\n", host, (long)getpid());
    /* Best effort: the lock itself is the flock, the text only names it. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) == n)
        fsync(fd);
}

int fer_run_lock_take(fer_run_lock *l, const char *run_dir, fer_err *err)
{
    l->fd = -1;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", run_dir, LOCK_NAME) >= (int)sizeof path)
        return fer_fail(err, "%s: path too long for the run directory's lock", run_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return fer_fail(err, "%s: cannot open the run directory's lock: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK || e == EINTR) {
            char holder[300];
            read_holder(fd, holder, sizeof holder);
            close(fd);
            return fer_fail(err,
                            "%s: the run directory is in use by another fer train (%s; lock %s); wait for it "
                            "to end or choose another run_dir",
                            run_dir, holder, path);
        }
        close(fd);
        fer_info("%s: cannot lock (%s): a second run on this directory would not be detected", path,
                 strerror(e));
        return FER_OK;
    }
    write_holder(fd);
    l->fd = fd;
    return FER_OK;
}

void fer_run_lock_release(fer_run_lock *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}
