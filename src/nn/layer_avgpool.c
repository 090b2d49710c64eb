/* The avgpool layer kind (Keras AveragePooling2D, 2x2, stride 2, 'valid'):
   each output is the mean of its window; with an odd side the last row or
   column is dropped, as Keras's floor does.
   x: n x h x w x c, y: n x h/2 x w/2 x c. */
#include "fer/layer_kind.h"

#include "model_batch.h"

#include <string.h>

static int shape(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    (void)classes, (void)offsets;
    L->out_h = L->in_h / 2;
    L->out_w = L->in_w / 2;
    if (L->flat_input || L->out_h < 1 || L->out_w < 1)
        return fer_fail(err, "layer %s: 2x2 average pooling needs an input of at least 2x2, got %dx%d",
                        L->cfg.name, L->in_h, L->in_w);
    return FER_OK;
}

static int forward(fer_model *m, int l, const float *x, int n, const fer_pass *p)
{
    (void)p;
    const fer_layer *L = &m->layers[l];
    const int c = L->in_c, row = L->in_w * c;
    float *y = m->batch->act[l];
    for (int s = 0; s < n; s++)
        for (int i = 0; i < L->out_h; i++)
            for (int j = 0; j < L->out_w; j++) {
                const float *a = x + ((size_t)s * L->in_h + 2 * i) * row + (size_t)2 * j * c, *b = a + row;
                for (int k = 0; k < c; k++, y++)
                    *y = 0.25f * ((a[k] + a[c + k]) + (b[k] + b[c + k]));
            }
    return 1;
}

/* Each input of a window gets a quarter of its output's gradient; rows and
   columns no window covers get zero. */
static void backward(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    (void)p;
    if (!dx)
        return;
    const fer_layer *L = &m->layers[l];
    const int c = L->in_c, row = L->in_w * c;
    memset(dx, 0, (size_t)n * L->in_h * row * sizeof *dx);
    for (int s = 0; s < n; s++)
        for (int i = 0; i < L->out_h; i++)
            for (int j = 0; j < L->out_w; j++) {
                float *a = dx + ((size_t)s * L->in_h + 2 * i) * row + (size_t)2 * j * c, *b = a + row;
                for (int k = 0; k < c; k++, dy++) {
                    float g = 0.25f * *dy;
                    a[k] = a[c + k] = b[k] = b[c + k] = g;
                }
            }
}

const fer_layer_kind fer_layer_avgpool = {
    .name = "avgpool",
    .keras_class = "AveragePooling2D",
    .keys = {NULL},
    .shape = shape,
    .forward = forward,
    .backward = backward,
};
