/* The dataset HDF5 file: write and read back equal, and clear errors for
   missing files, non-HDF5 files and files missing a dataset. */
#include "check.h"
#include "fer/dataset.h"

#include <hdf5.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/fer_test_h5_XXXXXX";

static void check_round_trip(const char *path)
{
    fer_dataset a, b;
    fer_err err;
    CHECK(fer_dataset_synthetic(&a, 30, 9, 5, 3, &err) == FER_OK);
    a.labels[4] = 6;
    int rc = fer_dataset_write_h5(&a, path, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    rc = fer_dataset_read_h5(&b, path, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    if (rc)
        return;
    int same = a.n == b.n && a.h == b.h && a.w == b.w && a.n_classes == b.n_classes &&
               a.synthetic == b.synthetic && !memcmp(a.pixels, b.pixels, (size_t)a.n * a.h * a.w) &&
               !memcmp(a.labels, b.labels, a.n) && !memcmp(a.usage, b.usage, a.n);
    for (int c = 0; c < a.n_classes; c++)
        same &= !strcmp(a.class_names[c], b.class_names[c]);
    printf("round trip of %d images %dx%d (synthetic %d, classes %s..%s): equal %d\n", b.n, b.h, b.w,
           b.synthetic, b.class_names[0], b.class_names[6], same);
    CHECK(same && b.synthetic == 1);
    /* Written under the real name only: no temporary file left behind. */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);
    fer_dataset_free(&a);
    fer_dataset_free(&b);
}

static void expect_error(const char *path, const char *want)
{
    fer_dataset ds;
    fer_err err = {{0}};
    int rc = fer_dataset_read_h5(&ds, path, &err);
    printf("%s -> %s\n", path, err.msg);
    CHECK_MSG(rc == FER_ERROR && strstr(err.msg, want), "want '%s'", want);
    CHECK(ds.pixels == NULL && ds.n == 0);
}

static void check_errors(void)
{
    char path[600];
    expect_error("/nonexistent/data.h5", "/nonexistent/data.h5: cannot open");
    snprintf(path, sizeof path, "%s/text.h5", dir);
    FILE *f = fopen(path, "w");
    fputs("emotion,pixels,Usage\n", f);
    fclose(f);
    expect_error(path, "cannot open (missing, unreadable or not an HDF5 file)");
    /* An HDF5 file with /pixels only. */
    snprintf(path, sizeof path, "%s/partial.h5", dir);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {2, 4, 4};
    uint8_t px[32] = {0};
    hid_t space = H5Screate_simple(3, dims, NULL);
    hid_t set = H5Dcreate2(file, "pixels", H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(set, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
    H5Dclose(set);
    H5Sclose(space);
    H5Fclose(file);
    expect_error(path, "missing dataset /labels");
    fer_dataset ds;
    fer_err err;
    CHECK(fer_dataset_synthetic(&ds, 7, 0, 0, 1, &err) == FER_OK);
    CHECK(fer_dataset_write_h5(&ds, "/nonexistent/out.h5", &err) == FER_ERROR);
    printf("write to a missing folder -> %s\n", err.msg);
    fer_dataset_free(&ds);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    char path[600];
    snprintf(path, sizeof path, "%s/data.h5", dir);
    check_round_trip(path);
    check_errors();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return check_report("test_data_h5");
}
