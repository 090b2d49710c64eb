/* The relu layer kind (Keras Activation('relu')): its place in the model,
   over src/nn/relu.c. It runs in place: no backward reads a ReLU's input,
   and a fused ReLU's mask below one sees the same signs. */
#include "fer/layer_kind.h"

#include "model_batch.h"

static int shape(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    (void)L, (void)classes, (void)offsets, (void)err;
    return FER_OK;
}

static int reads_output(const fer_layer *L)
{
    (void)L;
    return 1;
}

static int forward(fer_model *m, int l, const float *x, int n, const fer_pass *p)
{
    (void)p;
    fer_relu_forward(m->batch->act[l], x, (size_t)n * fer_layer_out_size(&m->layers[l]));
    return 1;
}

static void backward(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    (void)p;
    if (dx)
        fer_relu_backward(dx, dy, m->batch->act[l], (size_t)n * fer_layer_out_size(&m->layers[l]));
}

const fer_layer_kind fer_layer_relu = {
    .name = "relu",
    .keras_class = "Activation",
    .keys = {NULL},
    .facts = FER_KIND_ELEMENTWISE | FER_KIND_IN_PLACE,
    .shape = shape,
    .reads_output = reads_output,
    .forward = forward,
    .backward = backward,
};
