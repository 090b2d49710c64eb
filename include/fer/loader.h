/* The training input pipeline of one rank: the epoch's permutation from
   (seed, epoch) (the same on every rank), this rank's contiguous shard of each
   global batch, per-sample augmentation keyed by (seed, epoch, sample index),
   grey -> channels, VGG "caffe" preprocessing, and a prefetch thread that
   prepares the next batch while the current one computes. */
#ifndef FER_LOADER_H
#define FER_LOADER_H

#include "fer/config.h"
#include "fer/dataset.h"
#include "fer/error.h"

#include <stdint.h>

/* A set of images already at the model's input size (equalized if asked),
   shared read-only by loaders: n x size x size uint8. Not owned by the
   loader (it may live in an MPI shared-memory window). */
typedef struct {
    int n;
    int size;
    const uint8_t *pixels;
    const uint8_t *labels;
    const int64_t *ids; /* global sample index of each image (keys its randomness) */
} fer_image_set;

/* Builds the input-size image set of one usage from a data set: equalize
   (optional), bilinear upscale, round to uint8. Arrays are malloc'd into
   *pixels, *labels, *ids (caller frees). limit > 0 keeps the first `limit`. */
int fer_image_set_build(uint8_t **pixels, uint8_t **labels, int64_t **ids, int *n, const fer_dataset *ds,
                        int usage, int size, int equalize, int limit, fer_err *err);

/* Writes one preprocessed sample (size x size grey uint8 -> size x size x
   channels float): channels 3 replicates grey and, with caffe, subtracts the
   VGG16 BGR means (103.939, 116.779, 123.68); channels 1 with caffe subtracts
   their average. */
void fer_preprocess(float *dst, const float *grey, int size, int channels, int caffe);

typedef struct {
    float *x;         /* shard x size x size x channels */
    int *labels;      /* shard */
    int64_t *ids;     /* global sample index of each row */
    int n;            /* rows in this rank's shard (may be 0) */
    int global_n;     /* rows in the whole global batch */
    long batch_index; /* index of this batch within the epoch */
    /* Mixup (include/fer/mixup.h): row i is lambda_i * its own sample +
       (1 - lambda_i) * a partner whose label is mix_labels[i]; lambda 1 and
       the row's own label when the row is not mixed. */
    int *mix_labels;   /* shard */
    float *mix_lambda; /* shard */
} fer_batch;

typedef struct fer_loader fer_loader;

typedef struct {
    const fer_image_set *images;
    int batch_size; /* global */
    int rank, nranks;
    int channels, caffe;
    int shuffle; /* 1 for training, 0 for evaluation (natural order) */
    int augment; /* apply cfg augmentation */
    fer_augment_cfg aug;
    uint64_t seed;
    int prefetch; /* background thread */
    /* Mixup of shuffled (training) batches: alpha > 0 mixes each sample,
       with probability mixup_prob, with a partner drawn from the whole set
       (0: off). */
    double mixup_alpha, mixup_prob;
} fer_loader_opts;

int fer_loader_create(fer_loader **out, const fer_loader_opts *o, fer_err *err);
void fer_loader_free(fer_loader *l);

/* Batches per epoch: ceil(n / batch_size). */
long fer_loader_batches(const fer_loader *l);

/* Starts epoch `epoch` at batch `first_batch` (resume mid-epoch). */
void fer_loader_start_epoch(fer_loader *l, int epoch, long first_batch);

/* Next batch of the epoch, or NULL at its end. The batch stays valid until
   the next call. Rank r's shard of a global batch of B rows is rows
   [r*B/P, (r+1)*B/P) (integer division), contiguous and as even as possible. */
const fer_batch *fer_loader_next(fer_loader *l);

/* The shard bounds used above. */
static inline void fer_shard_range(int global_n, int rank, int nranks, int *begin, int *end)
{
    *begin = (int)((long)global_n * rank / nranks);
    *end = (int)((long)global_n * (rank + 1) / nranks);
}

#endif
