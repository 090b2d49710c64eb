/* The dense layer kind (Keras Dense on a flat input, optional fused ReLU;
   "softmax" is left to the loss): its place in the model, over
   src/nn/dense.c. With bf16 products it is the 1x1 convolution of n pixels
   it amounts to (src/nn/conv2d_bf16.c). */
#include "fer/layer_kind.h"

#include "model_batch.h"

static int in_floats(const fer_layer *L)
{
    return L->in_h * L->in_w * L->in_c;
}

/* A dense layer as a 1x1 convolution over n pixels, for bf16 products. */
static void dims_of(fer_conv_dims *d, const fer_layer *L, int n)
{
    fer_conv_dims_init(d, n, 1, 1, in_floats(L), L->out_c, 1, 0);
}

static int shape(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    int units = L->cfg.units > 0 ? L->cfg.units : classes;
    if (!L->flat_input && (L->in_h != 1 || L->in_w != 1))
        return fer_fail(
            err, "layer %s: dense needs a flat input (add global average pooling before it), got %dx%dx%d",
            L->cfg.name, L->in_h, L->in_w, L->in_c);
    L->out_h = L->out_w = 1;
    L->out_c = units;
    int ks[2] = {in_floats(L), units}, bs[1] = {units};
    fer_layer_add_weight(L, "kernel:0", 0, 2, ks, offsets);
    fer_layer_add_weight(L, "bias:0", 0, 1, bs, offsets);
    return FER_OK;
}

static double flops(const fer_layer *L)
{
    return 2.0 * in_floats(L) * L->out_c;
}

static int reads_output(const fer_layer *L)
{
    return L->cfg.relu;
}

static size_t scratch_floats(const fer_model *m, int l, int max_n)
{
    if (m->products == FER_PRODUCTS_FP32)
        return 0;
    fer_conv_dims d;
    dims_of(&d, &m->layers[l], max_n);
    return fer_conv2d_bf16_scratch_floats(&d);
}

static int forward(fer_model *m, int l, const float *x, int n, const fer_pass *p)
{
    (void)p;
    const fer_layer *L = &m->layers[l];
    float *y = m->batch->act[l];
    const float *w = fer_model_weight(m, l, 0), *b = fer_model_weight(m, l, 1);
    if (m->products != FER_PRODUCTS_FP32) {
        fer_conv_dims d;
        dims_of(&d, L, n);
        fer_conv2d_forward_bf16(m->products, y, x, w, b, &d, L->cfg.relu, m->batch->scratch);
    } else {
        fer_dense_forward(y, x, w, b, n, in_floats(L), L->out_c, L->cfg.relu);
    }
    return 1;
}

static void backward(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    (void)p;
    const fer_layer *L = &m->layers[l];
    int trainable = l >= m->first_trainable;
    float *dw = trainable ? fer_model_weight_grad(m, l, 0) : NULL;
    float *db = trainable ? fer_model_weight_grad(m, l, 1) : NULL;
    const float *x = fer_batch_input_of(m, l), *y = m->batch->act[l], *w = fer_model_weight(m, l, 0);
    if (m->products != FER_PRODUCTS_FP32) {
        fer_conv_dims d;
        dims_of(&d, L, n);
        fer_conv2d_backward_bf16(m->products, dx, dw, db, dy, x, w, y, &d, L->cfg.relu, m->batch->scratch);
    } else {
        fer_dense_backward(dx, dw, db, dy, x, w, y, n, in_floats(L), L->out_c, L->cfg.relu);
    }
}

const fer_layer_kind fer_layer_dense = {
    .name = "dense",
    .keras_class = "Dense",
    .keys = {"activation", "units", NULL},
    .facts = FER_KIND_FLATTENS,
    .shape = shape,
    .flops = flops,
    .reads_output = reads_output,
    .scratch_floats = scratch_floats,
    .forward = forward,
    .backward = backward,
};
