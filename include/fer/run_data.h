/* The data of a run: the data set named by the config (a `fer prepare` HDF5
   file or the embedded synthetic set), turned into input-size image sets for
   the training, validation and test usages. */
#ifndef FER_RUN_DATA_H
#define FER_RUN_DATA_H

#include "fer/config.h"
#include "fer/dataset.h"
#include "fer/loader.h"

enum { FER_SPLIT_TRAIN = 0, FER_SPLIT_VAL = 1, FER_SPLIT_TEST = 2, FER_N_SPLITS = 3 };

typedef struct {
    fer_dataset ds;
    fer_image_set set[FER_N_SPLITS]; /* n = 0 when not loaded */
    uint8_t *pixels[FER_N_SPLITS];   /* owned */
    uint8_t *labels[FER_N_SPLITS];   /* owned */
    int64_t *ids[FER_N_SPLITS];      /* owned */
} fer_run_data;

/* Loads the data set and builds the splits whose bit (1 << FER_SPLIT_*) is
   in `which`. data.path "synthetic" generates the embedded synthetic set
   from the run seed; anything else is read as a dataset HDF5 file. */
int fer_run_data_load(fer_run_data *d, const fer_config *c, const char *path_override, unsigned which,
                      fer_err *err);
void fer_run_data_free(fer_run_data *d);

/* Balanced class weights of a split (Keras/scikit-learn "balanced":
   n / (classes * count_c)); classes absent from the split get weight 0. */
void fer_class_weights_balanced(const fer_image_set *s, int classes, float *weights);

#endif
