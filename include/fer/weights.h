/* Keras HDF5 weight files: the save_weights layout, read and written.

   Layout (at the file root for save_weights files and Keras's released VGG16
   files, or under /model_weights for model.save files and our checkpoints):
   attribute `layer_names` (byte strings, every layer including those without
   weights), one group per layer with attribute `weight_names` (byte strings in
   Keras order: kernel, bias / gamma, beta, moving_mean, moving_variance) and
   datasets at <group>/<layer>/<weight name>. Weights are read in the order of
   `weight_names`, never by hard-coded names (Keras's VGG16 file calls them
   block1_conv1_W_1:0 and block1_conv1_b_1:0). */
#ifndef FER_WEIGHTS_H
#define FER_WEIGHTS_H

#include "fer/error.h"
#include "fer/model.h"

#include <hdf5.h>

/* Writes the model's weights (params and stats) in the layout above into
   `loc` (a file or group id) under group name `group` ("model_weights"),
   including layer_names for every model layer and, for the input, a layer
   named "input_1". Also sets attributes keras_version and backend. */
int fer_weights_write(hid_t loc, const char *group, const fer_model *m, fer_err *err);

/* Writes only the gradients of trainable weights, same layout (used for
   reference-state files). */
int fer_weights_write_grads(hid_t loc, const char *group, const fer_model *m, fer_err *err);

typedef struct {
    int loaded;  /* layers of the model with weights found and loaded */
    int missing; /* model layers with weights absent from the file */
    int ignored; /* file layers with weights absent from the model */
    char missing_names[1024];
    char ignored_names[1024];
} fer_weights_report;

/* Loads weights by layer name from the file at path: under /model_weights when
   that group exists, else from the root. strict: every model layer with
   weights must be present (else error naming the layer). Shape mismatches are
   always errors naming the layer, the weight and both shapes. Names, counts
   and shapes are all checked before the first value is copied, so such an
   error leaves the model as it was. A file that is not HDF5 is an error
   naming the path. */
int fer_weights_load(fer_model *m, const char *path, int strict, fer_weights_report *rep, fer_err *err);
/* Same from an open location (file or group id) holding the layout. */
int fer_weights_load_loc(fer_model *m, hid_t loc, const char *what, int strict, fer_weights_report *rep,
                         fer_err *err);

#endif
