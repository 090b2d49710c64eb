/* libFuzzer target: the checkpoint reader on HDF5 files mutated from
   checkpoints fer wrote. Runs what `fer train --resume` and `fer eval` run on
   a file: the probe and the full verification (every dataset's checksum),
   then fer_saved_model_open (stored configuration, model built from it,
   weights, optimizer-free load). Anything may be rejected, with a message;
   nothing may crash, leak or read out of bounds. */
#include "fer/checkpoint.h"
#include "fer/saved_model.h"
#include "fuzz_input.h"

#include <hdf5.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file f;
    fuzz_file_open(&f, data, size, ".h5");
    fer_train_state state;
    fer_err err = {{0}};
    int rc = fer_checkpoint_probe(f.path, &state, &err);
    fuzz_note(rc, &err);
    fuzz_expect(rc == FER_OK || err.msg[0], "fer_checkpoint_probe failed without a message", NULL);
    err.msg[0] = '\0';
    rc = fer_checkpoint_verify(f.path, &state, &err);
    fuzz_note(rc, &err);
    fuzz_expect(rc == FER_OK || err.msg[0], "fer_checkpoint_verify failed without a message", NULL);
    err.msg[0] = '\0';
    fer_config cfg;
    fer_model m;
    rc = fer_saved_model_open(f.path, &cfg, &m, &state, &err);
    fuzz_note(rc, &err);
    fuzz_expect(rc == FER_OK || err.msg[0], "fer_saved_model_open failed without a message", NULL);
    if (rc == FER_OK)
        fer_model_free(&m);
    fuzz_file_close(&f);
    fuzz_expect(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "an HDF5 file or object was left open",
                NULL);
    return 0;
}
