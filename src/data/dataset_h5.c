/* The dataset HDF5 file (layout in fer/dataset.h). Written to a temporary
   name, fsync'd and renamed (atomic_file.h), so an interrupted `fer prepare`
   leaves no half file. */
#include "../io/atomic_file.h"
#include "fer/dataset.h"
#include "fer/dist.h"
#include "fer/h5util.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* HDF5 reads chunks that were never written as fill values, so a 6 KB file
   can declare a million images; a dataset must store at least 1/1100 of its
   declared bytes (deflate, which `fer prepare` writes with, packs at most
   about 1032:1). */
enum { NAME_LEN = 32, MAX_DEFLATE_RATIO = 1100 };

/* HDF5 prints its own error stack unless told not to; the library reports
   errors through fer_err instead, so printing is off while we work. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static void quiet_begin(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static int write_u8(hid_t file, const char *name, int rank, const hsize_t *dims, const uint8_t *data)
{
    hsize_t chunk[3] = {dims[0] < 1024 ? (dims[0] ? dims[0] : 1) : 1024, rank > 1 ? dims[1] : 0,
                        rank > 2 ? dims[2] : 0};
    if (rank == 1)
        chunk[0] = dims[0] < 65536 ? (dims[0] ? dims[0] : 1) : 65536;
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(plist, rank, chunk);
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0)
        H5Pset_deflate(plist, 1); /* level 1: most of the gain, little time */
    /* Last in the pipeline, so checked first on reading: a corrupted chunk
       fails to read instead of giving wrong pixels or reaching the inflater. */
    H5Pset_fletcher32(plist);
    hid_t set = H5Dcreate2(file, name, H5T_STD_U8LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    herr_t rc = set < 0 ? -1 : H5Dwrite(set, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (set >= 0)
        H5Dclose(set);
    H5Pclose(plist);
    H5Sclose(space);
    return rc < 0 ? FER_ERROR : FER_OK;
}

static int write_names_attr(hid_t file, const char *name, const char *names, int n)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, NAME_LEN);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, type, names);
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    return rc < 0 ? FER_ERROR : FER_OK;
}

static int write_int_attr(hid_t file, const char *name, int value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_INT, &value);
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return rc < 0 ? FER_ERROR : FER_OK;
}

static int write_contents(hid_t file, const fer_dataset *ds)
{
    char class_names[FER_MAX_CLASSES][NAME_LEN] = {{0}}, usage_names[FER_N_USAGES][NAME_LEN] = {{0}};
    for (int c = 0; c < ds->n_classes; c++)
        strncpy(class_names[c], ds->class_names[c], NAME_LEN);
    for (int u = 0; u < FER_N_USAGES; u++)
        strncpy(usage_names[u], fer_usage_name(u), NAME_LEN);
    hsize_t image_dims[3] = {(hsize_t)ds->n, (hsize_t)ds->h, (hsize_t)ds->w}, n[1] = {(hsize_t)ds->n};
    if (write_u8(file, "pixels", 3, image_dims, ds->pixels) || write_u8(file, "labels", 1, n, ds->labels) ||
        write_u8(file, "usage", 1, n, ds->usage))
        return FER_ERROR;
    if (write_names_attr(file, "class_names", &class_names[0][0], ds->n_classes) ||
        write_names_attr(file, "usage_names", &usage_names[0][0], FER_N_USAGES))
        return FER_ERROR;
    return write_int_attr(file, "synthetic", ds->synthetic);
}

int fer_dataset_write_h5(const fer_dataset *ds, const char *path, fer_err *err)
{
    if (ds->n_classes < 1 || ds->n_classes > FER_MAX_CLASSES)
        return fer_fail(err, "%s: cannot write a data set with %d classes", path, ds->n_classes);
    if (fer_atomic_check_target(path, err))
        return FER_ERROR;
    char tmp[4096];
    fer_atomic_tmp_name(tmp, sizeof tmp, path);
    if (strlen(tmp) >= sizeof tmp - 1)
        return fer_fail(err, "%s: path too long", path);
    h5_quiet q;
    quiet_begin(&q);
    errno = 0;
    hid_t fapl = fer_h5_fapl(); /* the 1.8 format: metadata with checksums */
    hid_t file = fapl < 0 ? H5I_INVALID_HID : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    int rc = file < 0 ? FER_ERROR : write_contents(file, ds);
    if (file >= 0 && H5Fclose(file) < 0)
        rc = FER_ERROR;
    int saved = errno;
    quiet_end(&q);
    if (rc) {
        unlink(tmp);
        return fer_fail(err, "%s: cannot write the data set: %s", path,
                        saved ? strerror(saved) : "HDF5 error (directory missing or not writable?)");
    }
    /* A stop request (SIGTERM, Ctrl-C) during the write: the caller polls
       for it, and the half-made data set must not be left behind. */
    if (fer_stop_requested()) {
        unlink(tmp);
        return fer_fail(err, "%s: not written: stopped by signal %d", path, fer_stop_signal());
    }
    return fer_atomic_commit(tmp, path, err);
}

/* A 1-D integer dataset stored wider than a byte (int32 labels written by
   another tool): HDF5's conversion would clamp -1 to 0 and 300 to 255, so
   the values are read whole and any outside 0..255 is an error. */
static int read_wide_u8(hid_t set, const char *path, const char *name, size_t n, uint8_t **data, fer_err *err)
{
    long long *wide = malloc((n ? n : 1) * sizeof *wide);
    *data = malloc(n ? n : 1);
    if (!wide || !*data) {
        free(wide);
        return fer_fail(err, "%s: out of memory for /%s (%zu values)", path, name, n);
    }
    if (H5Dread(set, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, wide) < 0) {
        free(wide);
        return fer_fail(err, "%s: cannot read /%s (corrupt file?)", path, name);
    }
    for (size_t i = 0; i < n; i++) {
        if (wide[i] < 0 || wide[i] > 255) {
            long long v = wide[i];
            free(wide);
            return fer_fail(err, "%s: /%s[%zu] = %lld, outside 0..255", path, name, i, v);
        }
        (*data)[i] = (uint8_t)wide[i];
    }
    free(wide);
    return FER_OK;
}

/* Reads a 1-D or 3-D integer dataset of bytes; *data is malloc'd. */
static int read_u8(hid_t file, const char *path, const char *name, int rank, hsize_t *dims, uint8_t **data,
                   fer_err *err)
{
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
        return fer_fail(err, "%s: missing dataset /%s (not a `fer prepare` file?)", path, name);
    hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
    if (set < 0)
        return fer_fail(err, "%s: cannot open dataset /%s", path, name);
    hid_t space = H5Dget_space(set), type = H5Dget_type(set);
    int ok = H5Sget_simple_extent_ndims(space) == rank && H5Tget_class(type) == H5T_INTEGER;
    int is_u8 = ok && H5Tget_size(type) == 1 && H5Tget_sign(type) == H5T_SGN_NONE;
    if (ok)
        H5Sget_simple_extent_dims(space, dims, NULL);
    H5Tclose(type);
    H5Sclose(space);
    if (!ok) {
        H5Dclose(set);
        return fer_fail(err, "%s: /%s must be a %d-D integer array", path, name, rank);
    }
    long long h = rank == 3 ? (long long)dims[1] : 1, w = rank == 3 ? (long long)dims[2] : 1;
    int bad = dims[0] > (hsize_t)FER_MAX_IMAGES
                  ? fer_fail(err, "%llu images, more than the %d a data set may hold (docs/limits.md)",
                             (unsigned long long)dims[0], FER_MAX_IMAGES)
                  : fer_dataset_check_size((long long)dims[0], h, w, err);
    size_t bytes = bad ? 0 : (size_t)dims[0] * (size_t)h * (size_t)w;
    hsize_t stored = H5Dget_storage_size(set);
    if (!bad && bytes > 0 && (stored == 0 || bytes / stored > MAX_DEFLATE_RATIO))
        bad = fer_fail(err, "%zu bytes declared but only %llu stored (not a file `fer prepare` wrote)", bytes,
                       (unsigned long long)stored);
    if (!bad)
        bad = fer_h5_check_stored(set, err);
    if (bad) {
        H5Dclose(set);
        return fer_fail_wrap(err, "%s: /%s", path, name);
    }
    if (rank == 1 && !is_u8) {
        int rc = read_wide_u8(set, path, name, bytes, data, err);
        H5Dclose(set);
        return rc;
    }
    *data = malloc(bytes ? bytes : 1);
    herr_t rc = *data ? H5Dread(set, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) : -1;
    H5Dclose(set);
    if (rc < 0)
        return fer_fail(err, "%s: cannot read /%s (%s)", path, name,
                        *data ? "corrupt file?" : "out of memory");
    return FER_OK;
}

/* Reads a 1-D string attribute (fixed or variable length) into names. */
static int read_names_attr(hid_t file, const char *path, const char *name, char names[][32], int max, int *n,
                           fer_err *err)
{
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    if (attr < 0)
        return fer_fail(err, "%s: missing attribute %s", path, name);
    hid_t space = H5Aget_space(attr), type = H5Aget_type(attr);
    hsize_t count = 0;
    int ok = H5Tget_class(type) == H5T_STRING && H5Sget_simple_extent_ndims(space) == 1;
    if (ok)
        H5Sget_simple_extent_dims(space, &count, NULL);
    ok = ok && count >= 1 && count <= (hsize_t)max;
    herr_t rc = -1;
    if (ok && H5Tis_variable_str(type) > 0) {
        char *vlen[FER_MAX_CLASSES] = {0};
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        rc = H5Aread(attr, mem, vlen);
        for (hsize_t i = 0; rc >= 0 && i < count; i++)
            snprintf(names[i], 32, "%s", vlen[i] ? vlen[i] : "");
        if (rc >= 0)
            H5Dvlen_reclaim(mem, space, H5P_DEFAULT, vlen);
        H5Tclose(mem);
    } else if (ok) {
        size_t size = H5Tget_size(type);
        char *raw = calloc(count, size + 1);
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, size + 1);
        H5Tset_strpad(mem, H5T_STR_NULLTERM);
        rc = raw ? H5Aread(attr, mem, raw) : -1;
        for (hsize_t i = 0; rc >= 0 && i < count; i++)
            snprintf(names[i], 32, "%s", raw + i * (size + 1));
        H5Tclose(mem);
        free(raw);
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Aclose(attr);
    if (!ok || rc < 0)
        return fer_fail(err, "%s: attribute %s must hold 1 to %d strings", path, name, max);
    *n = (int)count;
    return FER_OK;
}

static int read_int_attr(hid_t file, const char *name, int *value)
{
    *value = 0;
    if (H5Aexists(file, name) <= 0)
        return FER_OK;
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Aread(attr, H5T_NATIVE_INT, value);
    if (attr >= 0)
        H5Aclose(attr);
    return rc < 0 ? FER_ERROR : FER_OK;
}

static int check_values(const fer_dataset *ds, const char *path, fer_err *err)
{
    for (int i = 0; i < ds->n; i++) {
        if (ds->labels[i] >= ds->n_classes)
            return fer_fail(err, "%s: /labels[%d] = %d, outside 0..%d", path, i, ds->labels[i],
                            ds->n_classes - 1);
        if (ds->usage[i] >= FER_N_USAGES)
            return fer_fail(err, "%s: /usage[%d] = %d, outside 0..2", path, i, ds->usage[i]);
    }
    return FER_OK;
}

static int read_contents(fer_dataset *ds, hid_t file, const char *path, fer_err *err)
{
    hsize_t pd[3], ld[1], ud[1];
    if (read_u8(file, path, "pixels", 3, pd, &ds->pixels, err) ||
        read_u8(file, path, "labels", 1, ld, &ds->labels, err) ||
        read_u8(file, path, "usage", 1, ud, &ds->usage, err))
        return FER_ERROR;
    if (ld[0] != pd[0] || ud[0] != pd[0] || pd[0] > (hsize_t)1 << 30)
        return fer_fail(err, "%s: /pixels has %llu images but /labels %llu and /usage %llu", path,
                        (unsigned long long)pd[0], (unsigned long long)ld[0], (unsigned long long)ud[0]);
    ds->n = (int)pd[0];
    ds->h = (int)pd[1];
    ds->w = (int)pd[2];
    char usage_names[FER_MAX_CLASSES][32];
    int n_usages = 0;
    if (read_names_attr(file, path, "class_names", ds->class_names, FER_MAX_CLASSES, &ds->n_classes, err) ||
        read_names_attr(file, path, "usage_names", usage_names, FER_MAX_CLASSES, &n_usages, err))
        return FER_ERROR;
    for (int u = 0; u < n_usages && u < FER_N_USAGES; u++)
        if (strcmp(usage_names[u], fer_usage_name(u)))
            return fer_fail(err, "%s: usage_names[%d] is '%s', expected '%s'", path, u, usage_names[u],
                            fer_usage_name(u));
    if (read_int_attr(file, "synthetic", &ds->synthetic))
        return fer_fail(err, "%s: attribute synthetic must be an integer", path);
    return check_values(ds, path, err);
}

int fer_dataset_read_h5(fer_dataset *ds, const char *path, fer_err *err)
{
    memset(ds, 0, sizeof *ds);
    h5_quiet q;
    quiet_begin(&q);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = file < 0 ? fer_fail(err, "%s: cannot open (missing, unreadable or not an HDF5 file)", path)
                      : read_contents(ds, file, path, err);
    if (file >= 0)
        H5Fclose(file);
    quiet_end(&q);
    if (rc)
        fer_dataset_free(ds);
    return rc;
}
