/* libFuzzer target: the data set reader (fer_dataset_read_h5, what `fer
   train` and `fer eval` open) on HDF5 files mutated from files `fer prepare`
   writes. A file it accepts must hold what the promise says: labels below the
   class count, usages 0..2, and n x h x w readable pixels. */
#include "fer/dataset.h"
#include "fuzz_input.h"

#include <hdf5.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file f;
    fuzz_file_open(&f, data, size, ".h5");
    fer_dataset ds;
    fer_err err = {{0}};
    int rc = fer_dataset_read_h5(&ds, f.path, &err);
    fuzz_note(rc, &err);
    fuzz_file_close(&f);
    fuzz_expect(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "an HDF5 file or object was left open",
                NULL);
    fuzz_expect(rc == FER_OK || err.msg[0], "fer_dataset_read_h5 failed without a message", NULL);
    if (rc != FER_OK)
        return 0;
    fuzz_expect(ds.n >= 0 && ds.h >= 1 && ds.w >= 1, "accepted a data set of impossible size", NULL);
    fuzz_expect(ds.n_classes >= 1 && ds.n_classes <= FER_MAX_CLASSES, "accepted an impossible class count",
                NULL);
    fuzz_touch(ds.pixels, (size_t)ds.n * (size_t)ds.h * (size_t)ds.w);
    for (int i = 0; i < ds.n; i++) {
        fuzz_expect(ds.labels[i] < ds.n_classes, "accepted a label outside the classes", NULL);
        fuzz_expect(ds.usage[i] < FER_N_USAGES, "accepted an unknown usage", NULL);
    }
    fer_dataset_free(&ds);
    return 0;
}
