/* mkdir -p, for the run directory and the report folders (see fer/path.h). */
#include "fer/path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Creates one component; an existing directory is fine, anything else in
   its place is not. */
static int make_one(const char *path, fer_err *err)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return fer_fail(err, "%s: cannot create directory: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fer_fail(err, "%s: cannot create directory: not a directory", path);
    return FER_OK;
}

int fer_make_dirs(const char *dir, fer_err *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return fer_fail(err, "%.64s...: directory path longer than %d bytes", dir, PATH_MAX - 1);
    if (!path[0])
        return fer_fail(err, "cannot create a directory with an empty name");
    for (char *p = path + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        int rc = make_one(path, err);
        *p = '/';
        if (rc)
            return FER_ERROR;
    }
    return make_one(path, err);
}
