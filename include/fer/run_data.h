/* The data of a run: the data set named by the config (a `fer prepare` HDF5
   file or the embedded synthetic set), turned into input-size image sets for
   the training, validation and test usages. Under MPI the sets are held once
   per node (include/fer/shared_images.h): only the node's local rank 0 reads
   the file and builds them, the node's other ranks read that copy. */
#ifndef FER_RUN_DATA_H
#define FER_RUN_DATA_H

#include "fer/config.h"
#include "fer/dataset.h"
#include "fer/dist.h"
#include "fer/loader.h"
#include "fer/shared_images.h"

enum { FER_SPLIT_TRAIN = 0, FER_SPLIT_VAL = 1, FER_SPLIT_TEST = 2, FER_N_SPLITS = 3 };

typedef struct {
    /* The data set's description on every rank: n, h, w, n_classes,
       class_names, synthetic. Its pixels, labels and usage are NULL: the raw
       images are dropped once the sets are built. */
    fer_dataset ds;
    fer_image_set set[FER_N_SPLITS]; /* n = 0 when not loaded */
    fer_shared_images images;        /* owns the sets' memory */
} fer_run_data;

/* Loads the data set and builds the splits whose bit (1 << FER_SPLIT_*) is
   in `which`. data.path "synthetic" generates the embedded synthetic set
   from the run seed; anything else is read as a dataset HDF5 file.
   dist NULL: this process reads and builds on its own (tools, tests). With a
   dist: collective over each node's ranks (dist->node_comm); the node's
   local rank 0 reads and builds into the node's shared window while the
   others wait, and a failure there fails every rank of the node with its
   message. */
int fer_run_data_load(fer_run_data *d, const fer_config *c, const fer_dist *dist, const char *path_override,
                      unsigned which, fer_err *err);
/* Collective over the node when loaded with a dist (it frees the shared
   window); a zeroed struct is a no-op. */
void fer_run_data_free(fer_run_data *d);

/* Balanced class weights of a split (Keras/scikit-learn "balanced":
   n / (classes * count_c)); classes absent from the split get weight 0. */
void fer_class_weights_balanced(const fer_image_set *s, int classes, float *weights);

#endif
