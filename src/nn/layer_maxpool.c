/* The maxpool layer kind (Keras MaxPooling2D, 2x2, stride 2, 'valid'): its
   place in the model, over src/nn/maxpool.c. */
#include "fer/layer_kind.h"

#include "model_batch.h"

static int shape(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    (void)classes, (void)offsets;
    L->out_h = L->in_h / 2;
    L->out_w = L->in_w / 2;
    if (L->flat_input || L->out_h < 1 || L->out_w < 1)
        return fer_fail(err, "layer %s: 2x2 pooling needs an input of at least 2x2, got %dx%d", L->cfg.name,
                        L->in_h, L->in_w);
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
    const fer_layer *L = &m->layers[l];
    fer_maxpool2_forward(m->batch->act[l], x, n, L->in_h, L->in_w, L->in_c);
    return 1;
}

static void backward(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    (void)p;
    const fer_layer *L = &m->layers[l];
    const float *x = fer_batch_input_of(m, l), *y = m->batch->act[l];
    if (dx && dx == x) /* grad_over_input */
        fer_maxpool2_backward_in_place(dx, dy, y, n, L->in_h, L->in_w, L->in_c, m->layers[l - 1].cfg.relu);
    else if (dx)
        fer_maxpool2_backward(dx, dy, x, y, n, L->in_h, L->in_w, L->in_c);
}

/* Windows do not overlap and each is read before it is written, so the
   input gradient can go over the input: in a VGG-style network that saves
   the widest buffer, a spare for the first block's pooling. */
static int grad_over_input(const fer_model *m, int l)
{
    (void)m, (void)l;
    return 1;
}

const fer_layer_kind fer_layer_maxpool = {
    .name = "maxpool",
    .keras_class = "MaxPooling2D",
    .keys = {NULL},
    .facts = FER_KIND_EXACT_OUTPUT,
    .shape = shape,
    .reads_output = reads_output,
    .forward = forward,
    .backward = backward,
    .grad_over_input = grad_over_input,
};
