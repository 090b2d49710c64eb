/* The batchnorm layer kind (Keras BatchNormalization over the last axis):
   its place in the model, over src/nn/batchnorm.c. Training passes
   normalize with the global batch's statistics (synchronized across ranks
   through fer_pass.reducer) and keep them for backward; inference passes
   use the moving statistics, and their backward (saliency) is the
   per-channel affine map they are. */
#include "fer/layer_kind.h"

#include "model_batch.h"

#include <math.h>
#include <stdlib.h>

static int shape(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    (void)classes, (void)err;
    int cs[1] = {L->in_c};
    fer_layer_add_weight(L, "gamma:0", 0, 1, cs, offsets);
    fer_layer_add_weight(L, "beta:0", 0, 1, cs, offsets);
    fer_layer_add_weight(L, "moving_mean:0", 1, 1, cs, offsets);
    fer_layer_add_weight(L, "moving_variance:0", 1, 1, cs, offsets);
    return FER_OK;
}

static int reserve(fer_model *m, int l, int max_n)
{
    (void)max_n;
    float **state = m->batch->state_floats[l];
    size_t c = (size_t)m->layers[l].out_c;
    return (state[0] = malloc(c * sizeof(float))) != NULL && (state[1] = malloc(c * sizeof(float))) != NULL;
}

static int forward(fer_model *m, int l, const float *x, int n, const fer_pass *p)
{
    fer_model_batch *b = m->batch;
    const fer_layer *L = &m->layers[l];
    int rows = n * L->in_h * L->in_w;
    float eps = (float)L->cfg.epsilon;
    float *gamma = fer_model_weight(m, l, 0), *beta = fer_model_weight(m, l, 1);
    float *mean = fer_model_weight(m, l, 2), *var = fer_model_weight(m, l, 3);
    if (p->training)
        b->state_count[l] = fer_batchnorm_forward_train(b->act[l], x, gamma, beta, mean, var,
                                                        b->state_floats[l][0], b->state_floats[l][1], rows,
                                                        L->in_c, (float)L->cfg.momentum, eps, &p->reducer);
    else
        fer_batchnorm_forward_infer(b->act[l], x, gamma, beta, mean, var, rows, L->in_c, eps);
    return 1;
}

/* y = gamma * (x - mean) / sqrt(var + eps) + beta. */
static void infer_backward(fer_model *m, int l, const float *dy, float *dx, int n)
{
    const fer_layer *L = &m->layers[l];
    const float *gamma = fer_model_weight(m, l, 0), *var = fer_model_weight(m, l, 3);
    int c = L->in_c;
    size_t rows = (size_t)n * L->in_h * L->in_w;
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < c; j++)
            dx[r * c + j] = dy[r * c + j] * gamma[j] / sqrtf(var[j] + (float)L->cfg.epsilon);
}

static void backward(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    fer_model_batch *b = m->batch;
    const fer_layer *L = &m->layers[l];
    if (!p->training) {
        if (dx)
            infer_backward(m, l, dy, dx, n);
        return;
    }
    int trainable = l >= m->first_trainable;
    fer_batchnorm_backward(dx, trainable ? fer_model_weight_grad(m, l, 0) : NULL,
                           trainable ? fer_model_weight_grad(m, l, 1) : NULL, dy, fer_batch_input_of(m, l),
                           fer_model_weight(m, l, 0), b->state_floats[l][0], b->state_floats[l][1],
                           n * L->in_h * L->in_w, b->state_count[l], L->in_c, &p->reducer);
}

const fer_layer_kind fer_layer_batchnorm = {
    .name = "batchnorm",
    .keras_class = "BatchNormalization",
    .keys = {"momentum", "epsilon", NULL},
    .facts = FER_KIND_ELEMENTWISE,
    .shape = shape,
    .reserve = reserve,
    .forward = forward,
    .backward = backward,
};
