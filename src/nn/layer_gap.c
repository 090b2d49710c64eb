/* The gap layer kind (Keras GlobalAveragePooling2D): its place in the
   model, over src/nn/gap.c. */
#include "fer/layer_kind.h"

#include "model_batch.h"

static int shape(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    (void)classes, (void)offsets;
    if (L->flat_input)
        return fer_fail(err, "layer %s: global average pooling needs a spatial input", L->cfg.name);
    L->out_h = L->out_w = 1;
    return FER_OK;
}

static int forward(fer_model *m, int l, const float *x, int n, const fer_pass *p)
{
    (void)p;
    const fer_layer *L = &m->layers[l];
    fer_gap_forward(m->batch->act[l], x, n, L->in_h * L->in_w, L->in_c);
    return 1;
}

static void backward(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    (void)p;
    const fer_layer *L = &m->layers[l];
    if (dx)
        fer_gap_backward(dx, dy, n, L->in_h * L->in_w, L->in_c);
}

const fer_layer_kind fer_layer_gap = {
    .name = "gap",
    .keras_class = "GlobalAveragePooling2D",
    .keys = {NULL},
    .facts = FER_KIND_FLATTENS,
    .shape = shape,
    .forward = forward,
    .backward = backward,
};
