/* fer_make_dirs, the one mkdir -p of fer (run directories, report folders):
   nested creation, an existing tree, the mode (0777 less the umask), doubled
   and trailing slashes, and the refusals: a regular file where a directory
   should be (as the last component and as a parent), an empty name and a
   path longer than PATH_MAX. */
#include "check.h"
#include "fer/path.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void expect_ok(const char *path, const char *created)
{
    fer_err err = {{0}};
    int rc = fer_make_dirs(path, &err);
    printf("make_dirs(%s): rc %d%s%s; %s is a directory: %s\n", path, rc, rc ? ", " : "", err.msg, created,
           is_dir(created) ? "yes" : "no");
    CHECK(rc == FER_OK);
    CHECK(is_dir(created));
}

static void expect_refused(const char *path, const char *named)
{
    fer_err err = {{0}};
    int rc = fer_make_dirs(path, &err);
    printf("make_dirs(%.60s): rc %d, \"%.120s\" (should name %s)\n", path, rc, err.msg, named);
    CHECK(rc == FER_ERROR);
    CHECK(strstr(err.msg, named) != NULL);
}

int main(void)
{
    char root[] = "/tmp/fer-make-dirs-XXXXXX", path[4 * PATH_MAX];
    if (!mkdtemp(root))
        return 1;
    mode_t old = umask(022);

    snprintf(path, sizeof path, "%s/a/b/c", root);
    expect_ok(path, path);
    expect_ok(path, path); /* again: already there */
    struct stat st;
    CHECK(stat(path, &st) == 0);
    printf("mode of a new directory with umask 022: %03o (want 755)\n", (unsigned)(st.st_mode & 0777));
    CHECK((st.st_mode & 0777) == 0755);

    char doubled[PATH_MAX];
    snprintf(doubled, sizeof doubled, "%s//d///e/", root);
    snprintf(path, sizeof path, "%s/d/e", root);
    expect_ok(doubled, path);

    /* A regular file where a directory should be. */
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s/file", root);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    expect_refused(file, "not a directory");
    snprintf(path, sizeof path, "%s/file/sub", root);
    expect_refused(path, file);

    expect_refused("", "empty name");
    memset(path, 'x', PATH_MAX + 10);
    path[0] = '/';
    path[PATH_MAX + 10] = '\0';
    expect_refused(path, "longer than");

    umask(old);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    return check_report("test_io_make_dirs");
}
