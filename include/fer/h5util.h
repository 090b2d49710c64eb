/* Small HDF5 helpers shared by the weight files, checkpoints and the
   reference check: quiet error handling, string-list attributes in the form
   h5py writes them, scalar attributes and float datasets with shape checks.

   Every function returns FER_OK / FER_ERROR and fills err with a message that
   names the attribute or dataset; callers prepend the file name. */
#ifndef FER_H5UTIL_H
#define FER_H5UTIL_H

#include "fer/error.h"

#include <hdf5.h>
#include <stddef.h>

#define FER_H5_MAX_DIMS 8

/* HDF5 prints its error stack on stderr by default; only src/cli/ prints, so
   every public entry point into HDF5 code silences it and restores the
   caller's handler afterwards (HDF5's own state, not ours). */
typedef struct {
    H5E_auto2_t fn;
    void *data;
} fer_h5_quiet;
void fer_h5_quiet_begin(fer_h5_quiet *q);
void fer_h5_quiet_end(const fer_h5_quiet *q);

/* File access properties for files we create and open: closing the file
   closes every object still open in it (no half-closed files), and the 1.8
   object format, whose metadata carries checksums. The caller closes it. */
hid_t fer_h5_fapl(void);

/* Opens an existing file read-only. Errors name the path: a missing or
   unreadable file (the system's reason), "not an HDF5 file", or, when HDF5
   recognizes the signature but cannot open it, "truncated or corrupt".
   Returns the file id or H5I_INVALID_HID. */
hid_t fer_h5_open_read(const char *path, fer_err *err);

/* A new HDF5 file built in memory (core driver, no backing store) with
   fer_h5_fapl's settings. Written in place, a full disk fails inside HDF5:
   H5Fclose then fails too and leaves a half-closed file that crashes HDF5's
   shutdown at exit (1.10.8: SIGSEGV in H5F__close_cb). Built in memory, the
   bytes reach the disk through fer_h5_memory_save, whose errors name the
   cause. name only labels the file in HDF5's messages. */
hid_t fer_h5_memory_create(const char *name, fer_err *err);

/* Closes f (from fer_h5_memory_create, also on failure) and replaces path
   with its bytes: temporary name, fsync, rename (atomic_file.h). */
int fer_h5_memory_save(hid_t f, const char *path, fer_err *err);

/* A list of strings read from an attribute; items owned. */
typedef struct {
    int n;
    char **items;
} fer_h5_strings;
void fer_h5_strings_free(fer_h5_strings *s);

/* Reads a 1-D (or scalar) string attribute, fixed-length or variable-length.
   An empty attribute of any type (Keras writes np.asarray([]), float64) is an
   empty list. Keras splits attributes over 64 KiB into name0, name1, ...;
   those are read and concatenated when `attr` itself is absent. */
int fer_h5_read_strings(hid_t obj, const char *attr, fer_h5_strings *out, fer_err *err);

/* Writes n strings as a 1-D fixed-length, NULL-padded byte-string attribute,
   the form h5py gives np.array([b'...']) (n may be 0). */
int fer_h5_write_strings(hid_t obj, const char *attr, const char *const *items, int n, fer_err *err);

/* Scalar variable-length string attribute (h5py reads it as str). */
int fer_h5_write_string(hid_t obj, const char *attr, const char *value, fer_err *err);
/* Reads a scalar string attribute (fixed or variable length) into a
   malloc'd string the caller frees. */
int fer_h5_read_string(hid_t obj, const char *attr, char **out, fer_err *err);

/* Scalar numeric attributes; type is a native type (H5T_NATIVE_INT, ...).
   Reading requires a scalar (or one-element) numeric attribute. */
int fer_h5_write_scalar(hid_t obj, const char *attr, hid_t type, const void *value, fer_err *err);
int fer_h5_read_scalar(hid_t obj, const char *attr, hid_t type, void *value, fer_err *err);

/* Writes a dataset of the given shape (ndim 0: a scalar), chunked as one
   piece with a Fletcher-32 checksum so that corrupted data fails to read
   back; data is in mem_type, stored as file_type. */
int fer_h5_write_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int ndim,
                         const hsize_t *dims, const void *data, fer_err *err);
/* The same for float32 tensors. */
int fer_h5_write_floats(hid_t loc, const char *name, int ndim, const hsize_t *dims, const float *data,
                        fer_err *err);

/* Reads the dataset's shape: ndim (at most FER_H5_MAX_DIMS) and dims. */
int fer_h5_dataset_shape(hid_t ds, int *ndim, hsize_t *dims, fer_err *err);
/* HDF5 1.10.8 reads past a chunk that a crafted file stores, or that
   inflates, shorter than the chunk's size (heap over-reads inside H5Dread
   that tests/fuzz found): refuses a dataset that stores fewer bytes than its
   elements take or, when compressed, one with a chunk that does not inflate
   to its size. Call it before reading the dataset. */
int fer_h5_check_stored(hid_t ds, fer_err *err);
/* The compressed case: every stored chunk of ds (creation properties plist,
   elements of elem_size bytes), read raw and inflated; deflate, shuffle and
   Fletcher-32 are the filters it knows, any other is refused. */
int fer_h5_check_chunks(hid_t ds, hid_t plist, size_t elem_size, fer_err *err);

/* Reads a numeric dataset (any float or integer type, converted to float)
   whose shape must be exactly ndim/shape (ndim 0: a scalar); a mismatch names both shapes:
   "<name>: shape (3,3,3,32) in file, (3,3,3,64) expected". */
int fer_h5_read_floats(hid_t loc, const char *name, int ndim, const int *shape, float *dst, fer_err *err);
/* fer_h5_read_floats for weights: a NaN or infinity in the data is an error
   naming the dataset and the first such value's index (a model loaded from
   it would only ever predict garbage). */
int fer_h5_read_finite_floats(hid_t loc, const char *name, int ndim, const int *shape, float *dst,
                              fer_err *err);
/* Same for integers (labels); float data is converted by HDF5. */
int fer_h5_read_ints(hid_t loc, const char *name, int ndim, const int *shape, int *dst, fer_err *err);

/* Writes "(3,3,3,64)" into out. */
void fer_h5_format_shape(char *out, size_t cap, int ndim, const hsize_t *dims);
void fer_h5_format_ishape(char *out, size_t cap, int ndim, const int *dims);

/* 1 when loc has a direct child called name (a link), 0 when not. */
int fer_h5_has(hid_t loc, const char *name);

#endif
