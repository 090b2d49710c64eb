/* The conv2d layer kind (Keras Conv2D, stride 1, optional fused ReLU): its
   place in the model, over the kernels of src/nn/conv2d*.c.

   Two fusions with a neighbour are this kind's own decisions: for a caller
   that reads only the logits (fer_pass.skip_unread_outputs) a convolution
   followed by max pooling writes the pooled output alone when no backward
   reaches the two (pooled_pair); and a training pass that stops at a batch
   normalization read by a valid convolution (the frozen-backbone step) gets
   the normalization's parameter gradients from the convolution's kernel
   gradient, without that convolution's input gradient (fold_below). */
#include "fer/layer_kind.h"

#include "model_batch.h"

#include <string.h>

static void dims_of(fer_conv_dims *d, const fer_layer *L, int n)
{
    fer_conv_dims_init(d, n, L->in_h, L->in_w, L->in_c, L->out_c, L->cfg.kernel_size, L->cfg.padding_same);
}

static int bf16(const fer_model *m)
{
    return m->products != FER_PRODUCTS_FP32;
}

static int shape(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    (void)classes;
    const fer_layer_cfg *c = &L->cfg;
    int pad = c->padding_same ? (c->kernel_size - 1) / 2 : 0;
    L->out_h = L->in_h - c->kernel_size + 1 + 2 * pad;
    L->out_w = L->in_w - c->kernel_size + 1 + 2 * pad;
    L->out_c = c->filters;
    if (L->flat_input || L->out_h < 1 || L->out_w < 1)
        return fer_fail(err, "layer %s: a %dx%d %s convolution does not fit its %dx%d input", c->name,
                        c->kernel_size, c->kernel_size, c->padding_same ? "same" : "valid", L->in_h, L->in_w);
    int ks[4] = {c->kernel_size, c->kernel_size, L->in_c, c->filters}, bs[1] = {c->filters};
    fer_layer_add_weight(L, "kernel:0", 0, 4, ks, offsets);
    fer_layer_add_weight(L, "bias:0", 0, 1, bs, offsets);
    return FER_OK;
}

static double flops(const fer_layer *L)
{
    return 2.0 * L->out_h * L->out_w * L->out_c * L->cfg.kernel_size * L->cfg.kernel_size * L->in_c;
}

static int reads_output(const fer_layer *L)
{
    return L->cfg.relu;
}

static size_t scratch_floats(const fer_model *m, int l, int max_n)
{
    fer_conv_dims d;
    dims_of(&d, &m->layers[l], max_n);
    return bf16(m) ? fer_conv2d_bf16_scratch_floats(&d) : fer_conv2d_scratch_floats(&d);
}

/* The kernel cache of layer l, NULL (and emptied) while it trains: its
   kernel changes every step. */
static fer_conv_kernel_cache *kernel_cache(fer_model *m, int l)
{
    fer_conv_kernel_cache *cache = &m->batch->kernel_cache[l];
    if (l < m->first_trainable)
        return cache;
    fer_conv_kernel_cache_free(cache);
    return NULL;
}

/* Whether layer l writes the output of the max pooling after it alone
   (see fer_pass.skip_unread_outputs): no backward pass will reach the
   two layers. */
static int pooled_pair(const fer_model *m, int l, int n, const fer_pass *p)
{
    if (!p->skip_unread_outputs || bf16(m) || l + 1 >= m->n_layers ||
        m->layers[l + 1].cfg.type != FER_LAYER_MAXPOOL || (p->training && l + 1 >= m->first_trainable))
        return 0;
    fer_conv_dims d;
    dims_of(&d, &m->layers[l], n);
    return fer_conv2d_pool_fusable(&d);
}

static int forward(fer_model *m, int l, const float *x, int n, const fer_pass *p)
{
    fer_model_batch *b = m->batch;
    const fer_layer *L = &m->layers[l];
    const float *k = fer_model_weight(m, l, 0), *bias = fer_model_weight(m, l, 1);
    fer_conv_dims d;
    dims_of(&d, L, n);
    if (bf16(m)) {
        fer_conv2d_forward_bf16(m->products, b->act[l], x, k, bias, &d, L->cfg.relu, b->scratch);
        return 1;
    }
    if (pooled_pair(m, l, n, p)) {
        fer_conv2d_forward_pooled(b->act[l + 1], x, k, bias, &d, L->cfg.relu, b->scratch, kernel_cache(m, l));
        return 2;
    }
    fer_conv2d_forward_cached(b->act[l], x, k, bias, &d, L->cfg.relu, b->scratch, kernel_cache(m, l));
    return 1;
}

static void backward(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    (void)p;
    fer_model_batch *b = m->batch;
    const fer_layer *L = &m->layers[l];
    const float *x = fer_batch_input_of(m, l), *y = b->act[l], *k = fer_model_weight(m, l, 0);
    /* dy over this layer's own output was masked by whoever put it there
       (grad_over_input of the layer above, or a seeded pass). */
    int relu = L->cfg.relu && dy != y, trainable = l >= m->first_trainable;
    float *dk = trainable ? fer_model_weight_grad(m, l, 0) : NULL;
    float *db = trainable ? fer_model_weight_grad(m, l, 1) : NULL;
    fer_conv_dims d;
    dims_of(&d, L, n);
    if (bf16(m))
        fer_conv2d_backward_bf16(m->products, dx, dk, db, dy, x, k, y, &d, relu, b->scratch);
    else if (dx && dx == x) /* grad_over_input */
        fer_conv2d_backward_over_input(dx, dk, db, dy, k, y, &d, relu, m->layers[l - 1].cfg.relu, b->scratch);
    else
        fer_conv2d_backward(dx, dk, db, dy, x, k, y, &d, relu, b->scratch);
}

/* Over the output of a convolution below: once the kernel gradient is
   done (the Winograd path). In a chain of convolutions this holds two wide
   buffers instead of three. */
static int grad_over_input(const fer_model *m, int l)
{
    fer_conv_dims d;
    dims_of(&d, &m->layers[l], 1);
    return !bf16(m) && fer_conv2d_backward_over_input_ok(&d);
}

/* Whether layer l gives the batch normalization below it its parameter
   gradients without an input gradient of its own: the normalization is
   where a training pass stops, trainable, with no input gradient asked of
   it, and the convolution has no padding. */
static int folds_below(const fer_model *m, int l, int stop, const float *input_grad, const fer_pass *p)
{
    if (!p->training || l != stop + 1 || (stop == 0 && input_grad) || stop < m->first_trainable ||
        m->layers[stop].cfg.type != FER_LAYER_BATCHNORM)
        return 0;
    fer_conv_dims d;
    dims_of(&d, &m->layers[l], 1);
    return d.pad == 0;
}

/* The kernel gradient from xhat, written over the normalization's output,
   which nothing reads any more, then fer_batchnorm_fold_conv_grads.
   conv2d_1's input gradient was half its backward in the frozen-backbone
   step. */
static int fold_below(fer_model *m, int l, float *dy, int stop, const float *input_grad, const fer_pass *p)
{
    if (!folds_below(m, l, stop, input_grad, p))
        return 0;
    fer_model_batch *b = m->batch;
    const fer_layer *L = &m->layers[l], *N = &m->layers[l - 1];
    float *xhat = b->act[l - 1], *dk = fer_model_weight_grad(m, l, 0), *db = fer_model_weight_grad(m, l, 1);
    const float *k = fer_model_weight(m, l, 0);
    fer_batchnorm_normalized(xhat, fer_batch_input_of(m, l - 1), b->state_floats[l - 1][0],
                             b->state_floats[l - 1][1], b->n * N->in_h * N->in_w, N->in_c);
    fer_conv_dims d;
    dims_of(&d, L, b->n);
    int relu = L->cfg.relu && dy != b->act[l];
    if (bf16(m))
        fer_conv2d_backward_bf16(m->products, NULL, dk, db, dy, xhat, k, b->act[l], &d, relu, b->scratch);
    else
        fer_conv2d_backward(NULL, dk, db, dy, xhat, k, b->act[l], &d, relu, b->scratch);
    fer_batchnorm_fold_conv_grads(dk, fer_model_weight_grad(m, l - 1, 0), fer_model_weight_grad(m, l - 1, 1),
                                  k, db, fer_model_weight(m, l - 1, 0), fer_model_weight(m, l - 1, 1),
                                  L->cfg.kernel_size * L->cfg.kernel_size, L->in_c, L->out_c);
    return 1;
}

const fer_layer_kind fer_layer_conv2d = {
    .name = "conv2d",
    .keras_class = "Conv2D",
    .keys = {"filters", "kernel_size", "padding", "activation", NULL},
    .facts = FER_KIND_OUTPUT_ONLY_MASKED,
    .shape = shape,
    .flops = flops,
    .reads_output = reads_output,
    .scratch_floats = scratch_floats,
    .forward = forward,
    .backward = backward,
    .grad_over_input = grad_over_input,
    .backward_with_below = fold_below,
};
