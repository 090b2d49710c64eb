/* HDF5 attributes in the forms Keras and h5py use: lists of byte strings,
   scalar strings and scalar numbers. */
#include "fer/h5util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fer_h5_strings_free(fer_h5_strings *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    s->n = 0;
    s->items = NULL;
}

static int strings_push(fer_h5_strings *s, const char *text, size_t len)
{
    char **grown = realloc(s->items, (size_t)(s->n + 1) * sizeof *grown);
    if (!grown)
        return FER_ERROR;
    s->items = grown;
    char *copy = malloc(len + 1);
    if (!copy)
        return FER_ERROR;
    memcpy(copy, text, len);
    copy[len] = '\0';
    s->items[s->n++] = copy;
    return FER_OK;
}

static int read_vlen_strings(hid_t a, hid_t space, hid_t memtype, hssize_t n, fer_h5_strings *out)
{
    char **buf = calloc((size_t)n, sizeof *buf);
    if (!buf)
        return FER_ERROR;
    int ok = H5Aread(a, memtype, buf) >= 0;
    for (hssize_t i = 0; ok && i < n; i++)
        ok = strings_push(out, buf[i] ? buf[i] : "", buf[i] ? strlen(buf[i]) : 0) == FER_OK;
    H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, buf);
    free(buf);
    return ok ? FER_OK : FER_ERROR;
}

static int read_fixed_strings(hid_t a, hid_t memtype, hssize_t n, fer_h5_strings *out)
{
    size_t size = H5Tget_size(memtype);
    char *buf = size ? calloc((size_t)n, size) : NULL;
    if (!buf)
        return FER_ERROR;
    int ok = H5Aread(a, memtype, buf) >= 0;
    for (hssize_t i = 0; ok && i < n; i++) {
        const char *s = buf + (size_t)i * size;
        ok = strings_push(out, s, strnlen(s, size)) == FER_OK;
    }
    free(buf);
    return ok ? FER_OK : FER_ERROR;
}

/* Appends the strings of one attribute to out. */
static int read_string_attr(hid_t obj, const char *attr, fer_h5_strings *out, fer_err *err)
{
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0)
        return fer_fail(err, "attribute %s: unreadable", attr);
    hid_t space = H5Aget_space(a), type = H5Aget_type(a);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    int nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    int rc = FER_OK;
    if (n < 0 || nd < 0 || nd > 1 || type < 0)
        rc = fer_fail(err, "attribute %s: not a list", attr);
    else if (n > 0 && H5Tget_class(type) != H5T_STRING)
        rc = fer_fail(err, "attribute %s: not a list of strings", attr);
    else if (n > 0) {
        hid_t memtype = H5Tget_native_type(type, H5T_DIR_ASCEND);
        if (memtype < 0)
            rc = fer_fail(err, "attribute %s: unreadable string type", attr);
        else {
            rc = H5Tis_variable_str(type) > 0 ? read_vlen_strings(a, space, memtype, n, out)
                                              : read_fixed_strings(a, memtype, n, out);
            H5Tclose(memtype);
            if (rc != FER_OK)
                fer_fail(err, "attribute %s: cannot read", attr);
        }
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(a);
    return rc;
}

int fer_h5_read_strings(hid_t obj, const char *attr, fer_h5_strings *out, fer_err *err)
{
    out->n = 0;
    out->items = NULL;
    int rc = FER_OK;
    if (H5Aexists(obj, attr) > 0) {
        rc = read_string_attr(obj, attr, out, err);
    } else {
        /* Keras's load_attributes_from_hdf5_group: chunks name0, name1, ... */
        char part[256];
        int chunk = 0;
        for (;; chunk++) {
            snprintf(part, sizeof part, "%s%d", attr, chunk);
            if (H5Aexists(obj, part) <= 0)
                break;
            if ((rc = read_string_attr(obj, part, out, err)) != FER_OK)
                break;
        }
        if (rc == FER_OK && chunk == 0)
            rc = fer_fail(err, "attribute %s missing", attr);
    }
    if (rc != FER_OK)
        fer_h5_strings_free(out);
    return rc;
}

/* Removes attr when present so that writers can overwrite. */
static void drop_attr(hid_t obj, const char *attr)
{
    if (H5Aexists(obj, attr) > 0)
        H5Adelete(obj, attr);
}

static int write_attr(hid_t obj, const char *attr, hid_t type, hid_t space, const void *buf)
{
    drop_attr(obj, attr);
    hid_t a = H5Acreate2(obj, attr, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return FER_ERROR;
    int ok = H5Awrite(a, type, buf) >= 0;
    ok = H5Aclose(a) >= 0 && ok;
    return ok ? FER_OK : FER_ERROR;
}

static hid_t fixed_string_type(size_t size)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0)
        return type;
    if (H5Tset_size(type, size ? size : 1) < 0 || H5Tset_strpad(type, H5T_STR_NULLPAD) < 0) {
        H5Tclose(type);
        return H5I_INVALID_HID;
    }
    return type;
}

int fer_h5_write_strings(hid_t obj, const char *attr, const char *const *items, int n, fer_err *err)
{
    if (n < 0)
        return fer_fail(err, "attribute %s: negative count", attr);
    size_t width = 1;
    for (int i = 0; i < n; i++)
        if (strlen(items[i]) > width)
            width = strlen(items[i]);
    char *buf = calloc(n ? (size_t)n : 1, width);
    if (!buf)
        return fer_fail(err, "attribute %s: out of memory", attr);
    for (int i = 0; i < n; i++)
        memcpy(buf + (size_t)i * width, items[i], strlen(items[i]));
    hsize_t dims[1] = {(hsize_t)n};
    hid_t type = fixed_string_type(width), space = H5Screate_simple(1, dims, NULL);
    int rc = type >= 0 && space >= 0 ? write_attr(obj, attr, type, space, buf) : FER_ERROR;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    free(buf);
    return rc == FER_OK ? FER_OK : fer_fail(err, "attribute %s: cannot write", attr);
}

int fer_h5_write_string(hid_t obj, const char *attr, const char *value, fer_err *err)
{
    /* Fixed length, as h5py 2 wrote np.bytes_: Keras calls .decode() on it. */
    hid_t type = fixed_string_type(strlen(value)), space = H5Screate(H5S_SCALAR);
    int rc = FER_ERROR;
    if (type >= 0 && space >= 0) {
        size_t size = strlen(value) ? strlen(value) : 1;
        char *buf = calloc(1, size);
        if (buf) {
            memcpy(buf, value, strlen(value));
            rc = write_attr(obj, attr, type, space, buf);
            free(buf);
        }
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return rc == FER_OK ? FER_OK : fer_fail(err, "attribute %s: cannot write", attr);
}

int fer_h5_read_string(hid_t obj, const char *attr, char **out, fer_err *err)
{
    *out = NULL;
    if (H5Aexists(obj, attr) <= 0)
        return fer_fail(err, "attribute %s missing", attr);
    fer_h5_strings s = {0, NULL};
    if (read_string_attr(obj, attr, &s, err) != FER_OK) {
        fer_h5_strings_free(&s);
        return FER_ERROR;
    }
    if (s.n != 1) {
        fer_h5_strings_free(&s);
        return fer_fail(err, "attribute %s: expected one string", attr);
    }
    *out = s.items[0];
    free(s.items);
    return FER_OK;
}

int fer_h5_write_scalar(hid_t obj, const char *attr, hid_t type, const void *value, fer_err *err)
{
    hid_t space = H5Screate(H5S_SCALAR);
    int rc = space >= 0 ? write_attr(obj, attr, type, space, value) : FER_ERROR;
    if (space >= 0)
        H5Sclose(space);
    return rc == FER_OK ? FER_OK : fer_fail(err, "attribute %s: cannot write", attr);
}

int fer_h5_read_scalar(hid_t obj, const char *attr, hid_t type, void *value, fer_err *err)
{
    if (H5Aexists(obj, attr) <= 0)
        return fer_fail(err, "attribute %s missing", attr);
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0)
        return fer_fail(err, "attribute %s: unreadable", attr);
    hid_t space = H5Aget_space(a), ftype = H5Aget_type(a);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    H5T_class_t cls = ftype < 0 ? H5T_NO_CLASS : H5Tget_class(ftype);
    int rc = FER_OK;
    if (n != 1 || (cls != H5T_INTEGER && cls != H5T_FLOAT))
        rc = fer_fail(err, "attribute %s: expected one number", attr);
    else if (H5Aread(a, type, value) < 0)
        rc = fer_fail(err, "attribute %s: cannot read", attr);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(a);
    return rc;
}
