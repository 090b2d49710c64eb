/* The dropout layer kind (Keras Dropout, inverted): its place in the model,
   over src/nn/dropout.c. The mask of a sample depends on (seed, step,
   global sample index, layer), never on the rank. It runs out of place: in
   place, its input gradient could not take its buffer (a fused ReLU below
   reads it), which costs a spare as large as what it saves. */
#include "fer/layer_kind.h"

#include "fer/rng.h"
#include "model_batch.h"

#include <stdlib.h>
#include <string.h>

static int shape(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    (void)L, (void)classes, (void)offsets, (void)err;
    return FER_OK;
}

static int reserve(fer_model *m, int l, int max_n)
{
    return (m->batch->state_bytes[l] = malloc((size_t)max_n * fer_layer_out_size(&m->layers[l]))) != NULL;
}

static int active(const fer_model *m, int l, const fer_pass *p)
{
    return p->training && p->dropout && m->layers[l].cfg.rate > 0;
}

static void sample_keys(fer_model_batch *b, const fer_pass *p, int l, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t sample = p->sample_ids ? (uint64_t)p->sample_ids[i] : (uint64_t)i;
        b->keys[i] = fer_key(p->seed, FER_STREAM_DROPOUT, p->step, sample) ^ fer_mix64((uint64_t)l + 1);
    }
}

static int forward(fer_model *m, int l, const float *x, int n, const fer_pass *p)
{
    fer_model_batch *b = m->batch;
    size_t out = fer_layer_out_size(&m->layers[l]);
    if (active(m, l, p)) {
        sample_keys(b, p, l, n);
        fer_dropout_forward(b->act[l], b->state_bytes[l], x, n, out, (float)m->layers[l].cfg.rate, b->keys);
    } else {
        memcpy(b->act[l], x, (size_t)n * out * sizeof(float));
    }
    return 1;
}

static void backward(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    size_t out = fer_layer_out_size(&m->layers[l]);
    if (!dx)
        return;
    if (active(m, l, p))
        fer_dropout_backward(dx, dy, m->batch->state_bytes[l], n, out, (float)m->layers[l].cfg.rate);
    else if (dx != dy)
        memcpy(dx, dy, (size_t)n * out * sizeof(float));
}

const fer_layer_kind fer_layer_dropout = {
    .name = "dropout",
    .keras_class = "Dropout",
    .keys = {"rate", NULL},
    .facts = FER_KIND_ELEMENTWISE,
    .shape = shape,
    .reserve = reserve,
    .forward = forward,
    .backward = backward,
};
