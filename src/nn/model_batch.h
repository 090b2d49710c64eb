/* The activation arena of a model (fer_model.batch), private to src/nn/:
   made by fer_model_reserve() (src/nn/model_pass.c) and read by the layer
   kinds' passes (src/nn/layer_*.c). */
#ifndef FER_NN_MODEL_BATCH_H
#define FER_NN_MODEL_BATCH_H

#include "fer/model.h"

#include "conv_kernel_cache.h"

#include <stdint.h>

struct fer_model_batch {
    int max_n, n;
    const float *input;         /* the last forward's input (not owned) */
    float *act[FER_MAX_LAYERS]; /* views: in-place layers share their input's */
    float *act_mem[FER_MAX_LAYERS];
    float *spare[2]; /* activation gradients no dead output can hold */
    float *dlogits;
    float *scratch; /* the layers' shared scratch (fer_layer_kind.scratch_floats) */
    /* State a kind keeps per layer between its forward and backward,
       allocated by its reserve hook, freed with the arena: */
    float *state_floats[FER_MAX_LAYERS][2]; /* BatchNorm: batch mean and 1/std */
    long state_count[FER_MAX_LAYERS];       /* BatchNorm: global rows of the batch */
    uint8_t *state_bytes[FER_MAX_LAYERS];   /* dropout: the kept mask */
    /* Transformed kernels of frozen convolutions, made once rather than on
       every forward; freed when the layer becomes trainable. */
    fer_conv_kernel_cache kernel_cache[FER_MAX_LAYERS];
    uint64_t *keys; /* per-sample keys of a dropout layer's masks */
    int have_loss_grad;
};

/* Layer l's input in the last forward pass. */
static inline const float *fer_batch_input_of(const fer_model *m, int l)
{
    return l == 0 ? m->batch->input : m->batch->act[l - 1];
}

/* How many of n rows of k logits have their largest logit at the label (the
   first one on ties): the step's hits, with hard or soft targets. */
static inline int fer_batch_argmax_hits(const float *logits, const int *labels, int n, int k)
{
    int hits = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            if (logits[(size_t)i * k + j] > logits[(size_t)i * k + best])
                best = j;
        hits += best == labels[i];
    }
    return hits;
}

#endif
