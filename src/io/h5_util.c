/* HDF5 files and float datasets: quiet errors, opening with clear messages,
   checksummed float32 datasets, shape checks. */
#include "fer/h5util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void fer_h5_quiet_begin(fer_h5_quiet *q)
{
    q->fn = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void fer_h5_quiet_end(const fer_h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

hid_t fer_h5_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return H5I_INVALID_HID;
    if (H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    return fapl;
}

hid_t fer_h5_open_read(const char *path, fer_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fer_fail(err, "%s: %s", path, strerror(errno));
        return H5I_INVALID_HID;
    }
    if (S_ISDIR(st.st_mode)) {
        fer_fail(err, "%s: is a directory", path);
        return H5I_INVALID_HID;
    }
    if (H5Fis_hdf5(path) <= 0) {
        fer_fail(err, "%s: not an HDF5 file", path);
        return H5I_INVALID_HID;
    }
    hid_t fapl = fer_h5_fapl();
    hid_t f = fapl < 0 ? H5I_INVALID_HID : H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0)
        fer_fail(err, "%s: truncated or corrupt HDF5 file (HDF5 cannot open it)", path);
    return f;
}

int fer_h5_has(hid_t loc, const char *name)
{
    return H5Lexists(loc, name, H5P_DEFAULT) > 0;
}

static void format_dims(char *out, size_t cap, int ndim, const long long *dims)
{
    size_t used = 0;
    out[0] = '\0';
    used += (size_t)snprintf(out, cap, "(");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%lld", i ? "," : "", dims[i]);
    if (used < cap)
        snprintf(out + used, cap - used, ")");
}

void fer_h5_format_shape(char *out, size_t cap, int ndim, const hsize_t *dims)
{
    long long d[FER_H5_MAX_DIMS];
    for (int i = 0; i < ndim && i < FER_H5_MAX_DIMS; i++)
        d[i] = (long long)dims[i];
    format_dims(out, cap, ndim < FER_H5_MAX_DIMS ? ndim : FER_H5_MAX_DIMS, d);
}

void fer_h5_format_ishape(char *out, size_t cap, int ndim, const int *dims)
{
    long long d[FER_H5_MAX_DIMS];
    for (int i = 0; i < ndim && i < FER_H5_MAX_DIMS; i++)
        d[i] = dims[i];
    format_dims(out, cap, ndim < FER_H5_MAX_DIMS ? ndim : FER_H5_MAX_DIMS, d);
}

int fer_h5_write_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int ndim,
                         const hsize_t *dims, const void *data, fer_err *err)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= dims[i];
    hid_t space = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int ok = space >= 0 && dcpl >= 0;
    /* One chunk per tensor, only to carry the checksum: a flipped bit in a
       checkpoint then fails the read instead of loading silently. */
    if (ok && ndim > 0 && count > 0)
        ok = H5Pset_chunk(dcpl, ndim, dims) >= 0 && H5Pset_fletcher32(dcpl) >= 0;
    hid_t ds = ok ? H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT) : H5I_INVALID_HID;
    ok = ds >= 0 && (count == 0 || H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    if (ds >= 0)
        ok = H5Dclose(ds) >= 0 && ok;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return ok ? FER_OK : fer_fail(err, "%s: cannot write dataset", name);
}

int fer_h5_write_floats(hid_t loc, const char *name, int ndim, const hsize_t *dims, const float *data,
                        fer_err *err)
{
    return fer_h5_write_dataset(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ndim, dims, data, err);
}

int fer_h5_dataset_shape(hid_t ds, int *ndim, hsize_t *dims, fer_err *err)
{
    hid_t space = H5Dget_space(ds);
    int nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (nd < 0 || nd > FER_H5_MAX_DIMS) {
        if (space >= 0)
            H5Sclose(space);
        return fer_fail(err, "unreadable dataspace");
    }
    if (nd > 0)
        H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    *ndim = nd;
    return FER_OK;
}

/* Whether a dataset's chunks pass through a filter that changes their size
   other than Fletcher-32's checksum (shuffle only reorders bytes). */
static int compresses(hid_t plist)
{
    if (H5Pget_layout(plist) != H5D_CHUNKED)
        return 0;
    int nf = H5Pget_nfilters(plist);
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0;
        size_t nvalues = 0;
        H5Z_filter_t f = H5Pget_filter2(plist, (unsigned)i, &flags, &nvalues, NULL, 0, NULL, NULL);
        if (f != H5Z_FILTER_FLETCHER32 && f != H5Z_FILTER_SHUFFLE)
            return 1;
    }
    return 0;
}

int fer_h5_check_stored(hid_t ds, fer_err *err)
{
    hid_t plist = H5Dget_create_plist(ds), type = H5Dget_type(ds), space = H5Dget_space(ds);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    size_t size = type < 0 ? 0 : H5Tget_size(type);
    hsize_t stored = H5Dget_storage_size(ds);
    int rc = FER_OK;
    if (plist < 0 || H5Pget_layout(plist) < 0 || n < 0 || size == 0)
        rc = fer_fail(err, "unreadable dataset layout");
    else if (n > 0 && compresses(plist))
        rc = fer_h5_check_chunks(ds, plist, size, err);
    else if (n > 0 && stored / size < (hsize_t)n)
        rc = fer_fail(err, "%lld elements of %zu bytes declared, %llu bytes stored (damaged file)",
                      (long long)n, size, (unsigned long long)stored);
    if (plist >= 0)
        H5Pclose(plist);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* Reads a numeric dataset of exactly the given shape into dst, converted to
   the native type memtype. */
static int read_numeric(hid_t loc, const char *name, int ndim, const int *shape, hid_t memtype, void *dst,
                        fer_err *err)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return fer_fail(err, "%s: dataset missing or unreadable", name);
    int nd = 0;
    hsize_t dims[FER_H5_MAX_DIMS];
    if (fer_h5_dataset_shape(ds, &nd, dims, err) != FER_OK) {
        H5Dclose(ds);
        return fer_fail_wrap(err, "%s", name);
    }
    int same = nd == ndim;
    size_t count = 1;
    for (int i = 0; same && i < nd; i++) {
        same = dims[i] == (hsize_t)shape[i];
        count *= dims[i];
    }
    if (!same) {
        char got[128], want[128];
        fer_h5_format_shape(got, sizeof got, nd, dims);
        fer_h5_format_ishape(want, sizeof want, ndim, shape);
        H5Dclose(ds);
        return fer_fail(err, "%s: shape %s in file, %s expected", name, got, want);
    }
    hid_t type = H5Dget_type(ds);
    H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    if (type >= 0)
        H5Tclose(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        H5Dclose(ds);
        return fer_fail(err, "%s: not a numeric dataset", name);
    }
    if (fer_h5_check_stored(ds, err) != FER_OK) {
        H5Dclose(ds);
        return fer_fail_wrap(err, "%s", name);
    }
    herr_t rc = count ? H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) : 0;
    H5Dclose(ds);
    if (rc < 0)
        return fer_fail(err, "%s: cannot read the data (checksum mismatch or truncated file)", name);
    return FER_OK;
}

int fer_h5_read_floats(hid_t loc, const char *name, int ndim, const int *shape, float *dst, fer_err *err)
{
    return read_numeric(loc, name, ndim, shape, H5T_NATIVE_FLOAT, dst, err);
}

int fer_h5_read_finite_floats(hid_t loc, const char *name, int ndim, const int *shape, float *dst,
                              fer_err *err)
{
    if (fer_h5_read_floats(loc, name, ndim, shape, dst, err) != FER_OK)
        return FER_ERROR;
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (size_t)shape[i];
    for (size_t i = 0; i < count; i++)
        if (!isfinite(dst[i]))
            return fer_fail(err, "%s: value %zu of %zu is %s; weights and optimizer state must be finite",
                            name, i, count,
                            isnan(dst[i]) ? "NaN"
                            : dst[i] > 0  ? "+Inf"
                                          : "-Inf");
    return FER_OK;
}

int fer_h5_read_ints(hid_t loc, const char *name, int ndim, const int *shape, int *dst, fer_err *err)
{
    return read_numeric(loc, name, ndim, shape, H5T_NATIVE_INT, dst, err);
}
