/* Growing a fer_dataset one sample at a time (CSV rows, image files), with
   amortized doubling. Internal to src/data. */
#ifndef FER_DATA_DATASET_BUILDER_H
#define FER_DATA_DATASET_BUILDER_H

#include "fer/dataset.h"

typedef struct {
    fer_dataset *ds; /* ds->n counts committed samples */
    int cap;         /* samples the arrays can hold */
} fer_dataset_builder;

/* Starts an empty h x w dataset with the 7 FER2013 class names. */
void fer_builder_init(fer_dataset_builder *b, fer_dataset *ds, int h, int w);

/* 1 (and err says why) when the data set already holds FER_MAX_IMAGES. */
int fer_builder_full(const fer_dataset_builder *b, fer_err *err);

/* Pixel slot of the next sample (h*w bytes), growing the arrays; NULL when out
   of memory. The sample counts only once committed. */
uint8_t *fer_builder_next(fer_dataset_builder *b);
void fer_builder_commit(fer_dataset_builder *b, int label, int usage);

/* Shrinks the arrays to size. */
void fer_builder_finish(fer_dataset_builder *b);

#endif
