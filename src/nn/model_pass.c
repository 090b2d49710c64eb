/* Forward and backward passes over the layer table, with the activation
   arena sized by fer_model_reserve().

   Backward keeps no gradient buffers of its own beyond two spares: a layer's
   input gradient goes into a buffer no longer needed, its own output (every
   kind but max pooling reads it, if at all, before writing the input
   gradient), its input when that is a convolution's output nothing else
   reads (max pooling and Winograd convolutions, applying that
   convolution's ReLU mask as they overwrite), or an output above it, else
   into a spare. The plan depends on the layer table alone, so
   fer_model_reserve() sizes the spares by running it, and each pass runs
   it again.

   ReLU layers run in place (their output overwrites their input's buffer)
   unless they follow a max pooling, whose backward needs its exact output:
   no backward reads a ReLU's input, and a fused ReLU's mask below one sees
   the same signs. Dropout stays out of place: in place, its input gradient
   could not take its buffer (the fused ReLU below reads it), which costs a
   spare as large as what it saves.

   Forward passes keep the transformed kernels of frozen convolutions
   between steps (fer_conv_kernel_cache), and for a caller that reads only
   the logits (fer_pass.skip_unread_outputs) a convolution followed by max
   pooling writes the pooled output alone when no backward reaches the two
   (pooled_pair). A training pass that stops at a batch normalization read
   by a valid convolution (the frozen-backbone step) gets the
   normalization's parameter gradients from the convolution's kernel
   gradient, without that convolution's input gradient (fold_backward). */
#include "fer/model.h"
#include "fer/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fer_model_batch {
    int max_n, n;
    const float *input;         /* the last forward's input (not owned) */
    float *act[FER_MAX_LAYERS]; /* views: in-place layers share their input's */
    float *act_mem[FER_MAX_LAYERS];
    float *spare[2]; /* activation gradients no dead output can hold */
    float *dlogits;
    float *scratch; /* convolution im2col space */
    /* Transformed kernels of frozen convolutions, made once rather than on
       every forward; freed when the layer becomes trainable. */
    fer_conv_kernel_cache kernel_cache[FER_MAX_LAYERS];
    float *bn_mean[FER_MAX_LAYERS], *bn_invstd[FER_MAX_LAYERS];
    long bn_rows[FER_MAX_LAYERS];
    uint8_t *mask[FER_MAX_LAYERS];
    uint64_t *keys;
    int have_loss_grad;
};

static void batch_free(fer_model_batch *b)
{
    if (!b)
        return;
    for (int l = 0; l < FER_MAX_LAYERS; l++) {
        free(b->act_mem[l]);
        free(b->bn_mean[l]);
        free(b->bn_invstd[l]);
        free(b->mask[l]);
        fer_conv_kernel_cache_free(&b->kernel_cache[l]);
    }
    free(b->spare[0]);
    free(b->spare[1]);
    free(b->dlogits);
    free(b->scratch);
    free(b->keys);
    free(b);
}

void fer_model_free(fer_model *m)
{
    free(m->params);
    free(m->grads);
    free(m->stats);
    batch_free(m->batch);
    m->params = m->grads = m->stats = NULL;
    m->batch = NULL;
}

static void conv_dims(fer_conv_dims *d, const fer_layer *L, int n)
{
    fer_conv_dims_init(d, n, L->in_h, L->in_w, L->in_c, L->out_c, L->cfg.kernel_size, L->cfg.padding_same);
}

static int in_place(const fer_model *m, int l)
{
    fer_layer_type t = m->layers[l].cfg.type;
    return l > 0 && t == FER_LAYER_RELU && m->layers[l - 1].cfg.type != FER_LAYER_MAXPOOL;
}

/* The layer whose buffer holds layer l's output. */
static int root_of(const fer_model *m, int l)
{
    while (in_place(m, l))
        l--;
    return l;
}

/* Whether layer l's backward reads its own output: a fused or plain ReLU's
   mask, max pooling's argmax. */
static int reads_output(const fer_layer *L)
{
    switch (L->cfg.type) {
    case FER_LAYER_CONV2D:
    case FER_LAYER_DENSE:
        return L->cfg.relu;
    case FER_LAYER_RELU:
    case FER_LAYER_MAXPOOL:
        return 1;
    default:
        return 0;
    }
}

/* Buffer ids of a backward plan: 0..n_layers-1 the layer outputs (an
   in-place layer's id names its root's memory), then the two spares. */
static int spare_id(const fer_model *m, int s)
{
    return m->n_layers + s;
}

/* A dead buffer of at least need floats per sample other than busy: the
   smallest layer output from first_dead up that fits, else a spare (grown
   to fit in spare_floats). */
static int pick_dead(const fer_model *m, int first_dead, size_t need, int busy, size_t spare_floats[2])
{
    int best = -1;
    for (int j = first_dead; j < m->n_layers; j++) {
        size_t cap = fer_layer_out_size(&m->layers[j]);
        if (j == root_of(m, j) && j != busy && cap >= need &&
            (best < 0 || cap < fer_layer_out_size(&m->layers[best])))
            best = j;
    }
    if (best >= 0)
        return best;
    int s = busy == spare_id(m, 0) ? 1 : 0;
    if (spare_floats[s] < need)
        spare_floats[s] = need;
    return spare_id(m, s);
}

/* Whether layer l's input gradient (need floats per sample) may overwrite
   the memory of its own output, that of layer root: not for max pooling
   (it reads its output while writing), not while a layer below l sharing
   that memory has yet to read it as its output, and over l's own output
   gradient only for the element-wise kinds. */
static int own_buffer_fits(const fer_model *m, int l, int root, size_t need, int dy)
{
    const fer_layer *L = &m->layers[l];
    if (L->cfg.type == FER_LAYER_MAXPOOL || fer_layer_out_size(&m->layers[root]) < need)
        return 0;
    for (int j = root; j < l; j++)
        if (reads_output(&m->layers[j]))
            return 0;
    fer_layer_type t = L->cfg.type;
    return dy != root || t == FER_LAYER_BATCHNORM || t == FER_LAYER_RELU || t == FER_LAYER_DROPOUT;
}

/* Whether max pooling layer l writes its input gradient over its input, the
   output of the convolution below, which nothing reads after l but that
   convolution's own ReLU mask: the pooling applies the mask as it
   overwrites (fer_maxpool2_backward_in_place). This saves the widest
   buffer of the seed network, a spare for block1_pool's input gradient. */
static int pool_over_input(const fer_model *m, int l, int dy)
{
    return l > 0 && m->layers[l].cfg.type == FER_LAYER_MAXPOOL &&
           m->layers[l - 1].cfg.type == FER_LAYER_CONV2D && root_of(m, l - 1) == l - 1 && dy != l - 1;
}

/* Whether convolution l writes its input gradient over its input, the
   output of the convolution below, which nothing reads after l but that
   convolution's own ReLU mask: l applies the mask as it overwrites, once
   its kernel gradient is done (fer_conv2d_backward_over_input, Winograd
   path). In a chain of convolutions this holds two wide buffers instead
   of three. */
static int conv_over_input(const fer_model *m, int l, int dy)
{
    if (l == 0 || m->layers[l].cfg.type != FER_LAYER_CONV2D ||
        m->layers[l - 1].cfg.type != FER_LAYER_CONV2D || root_of(m, l - 1) != l - 1 || dy == l - 1)
        return 0;
    fer_conv_dims d;
    conv_dims(&d, &m->layers[l], 1);
    return fer_conv2d_backward_over_input_ok(&d);
}

/* Whether a backward pass from layer `from` puts its seed gradient over
   that layer's own output: a convolution, whose backward reads its output
   only for the ReLU mask, applied while seeding (backward_seeded). Filter
   visualization starts from any convolution, and above block1_conv2 no
   dead buffer is as wide as its output. */
static int seeds_own_output(const fer_model *m, int from)
{
    return m->layers[from].cfg.type == FER_LAYER_CONV2D && root_of(m, from) == from;
}

/* Where a backward pass from layer `from` keeps its gradients: dy[l] is
   the buffer of layer l's output gradient, for l from `from` down to 0.
   Outputs above `from` and each layer's own output once used are dead. */
static void plan_backward(const fer_model *m, int from, int dy[], size_t spare_floats[2])
{
    if (seeds_own_output(m, from))
        dy[from] = from;
    else
        dy[from] = pick_dead(m, from + 1, fer_layer_out_size(&m->layers[from]), -1, spare_floats);
    for (int l = from; l > 0; l--) {
        size_t need = fer_layer_out_size(&m->layers[l - 1]);
        int root = root_of(m, l);
        if (pool_over_input(m, l, dy[l]))
            dy[l - 1] = l - 1;
        else if (own_buffer_fits(m, l, root, need, dy[l]))
            dy[l - 1] = root;
        else if (conv_over_input(m, l, dy[l]))
            dy[l - 1] = l - 1;
        else
            dy[l - 1] = pick_dead(m, l + 1, need, dy[l], spare_floats);
    }
}

/* The spares' floats per sample that every plan fits in. */
static void size_spares(const fer_model *m, size_t spare_floats[2])
{
    int plan[FER_MAX_LAYERS];
    spare_floats[0] = spare_floats[1] = 0;
    for (int from = 0; from < m->n_layers; from++)
        plan_backward(m, from, plan, spare_floats);
}

size_t fer_model_backward_spare_floats(const fer_model *m)
{
    size_t spare_floats[2];
    size_spares(m, spare_floats);
    return spare_floats[0] + spare_floats[1];
}

static float *plan_buffer(const fer_model *m, int id)
{
    return id < m->n_layers ? m->batch->act[id] : m->batch->spare[id - m->n_layers];
}

/* The activation memory of a batch of max_n, for messages that say how much
   a batch size asks for. */
static double activation_gib(const fer_model *m, int max_n)
{
    double floats = 0;
    for (int l = 0; l < m->n_layers; l++)
        if (!in_place(m, l))
            floats += (double)fer_layer_out_size(&m->layers[l]);
    return floats * max_n * sizeof(float) / (1024.0 * 1024.0 * 1024.0);
}

int fer_model_reserve(fer_model *m, int max_n, fer_err *err)
{
    if (m->batch && m->batch->max_n >= max_n)
        return FER_OK;
    batch_free(m->batch);
    fer_model_batch *b = m->batch = calloc(1, sizeof *b);
    if (!b)
        return fer_fail(err, "model: out of memory for the activation arena");
    b->max_n = max_n;
    size_t scratch = 1, spare_floats[2];
    int ok = 1;
    size_spares(m, spare_floats);
    for (int l = 0; l < m->n_layers; l++) {
        const fer_layer *L = &m->layers[l];
        size_t out = fer_layer_out_size(L);
        if (in_place(m, l))
            b->act[l] = b->act[l - 1];
        else
            ok &= (b->act[l] = b->act_mem[l] = malloc((size_t)max_n * out * sizeof(float))) != NULL;
        if (L->cfg.type == FER_LAYER_CONV2D) {
            fer_conv_dims d;
            conv_dims(&d, L, max_n);
            size_t s = fer_conv2d_scratch_floats(&d);
            scratch = s > scratch ? s : scratch;
        } else if (L->cfg.type == FER_LAYER_BATCHNORM) {
            ok &= (b->bn_mean[l] = malloc(L->out_c * sizeof(float))) != NULL;
            ok &= (b->bn_invstd[l] = malloc(L->out_c * sizeof(float))) != NULL;
        } else if (L->cfg.type == FER_LAYER_DROPOUT) {
            ok &= (b->mask[l] = malloc((size_t)max_n * out)) != NULL;
        }
    }
    for (int i = 0; i < 2; i++) /* + 1: an unused spare is not a failed malloc(0) */
        ok &= (b->spare[i] = malloc(((size_t)max_n * spare_floats[i] + 1) * sizeof(float))) != NULL;
    ok &= (b->dlogits = malloc((size_t)max_n * m->cfg.classes * sizeof(float))) != NULL;
    ok &= (b->scratch = malloc(scratch * sizeof(float))) != NULL;
    ok &= (b->keys = malloc((size_t)max_n * sizeof(uint64_t))) != NULL;
    if (!ok) {
        batch_free(b);
        m->batch = NULL;
        return fer_fail(err,
                        "model: out of memory for the activations of a batch of %d images (about %.1f GiB); "
                        "lower the batch size (data.batch_size, or --batch)",
                        max_n, activation_gib(m, max_n));
    }
    return FER_OK;
}

float *fer_model_activation(const fer_model *m, int l)
{
    return m->batch->act[l];
}

static void dropout_keys(fer_model_batch *b, const fer_pass *p, int l, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t sample = p->sample_ids ? (uint64_t)p->sample_ids[i] : (uint64_t)i;
        b->keys[i] = fer_key(p->seed, FER_STREAM_DROPOUT, p->step, sample) ^ fer_mix64((uint64_t)l + 1);
    }
}

/* The kernel cache of convolution l, NULL (and emptied) while it trains:
   its kernel changes every step. */
static fer_conv_kernel_cache *kernel_cache(fer_model *m, int l)
{
    fer_conv_kernel_cache *cache = &m->batch->kernel_cache[l];
    if (l < m->first_trainable)
        return cache;
    fer_conv_kernel_cache_free(cache);
    return NULL;
}

/* Whether convolution l writes the output of the max pooling after it
   alone (see fer_pass.skip_unread_outputs): no backward pass will reach
   the two layers. */
static int pooled_pair(const fer_model *m, int l, int n, const fer_pass *p)
{
    if (!p->skip_unread_outputs || l + 1 >= m->n_layers || m->layers[l].cfg.type != FER_LAYER_CONV2D ||
        m->layers[l + 1].cfg.type != FER_LAYER_MAXPOOL || (p->training && l + 1 >= m->first_trainable))
        return 0;
    fer_conv_dims d;
    conv_dims(&d, &m->layers[l], n);
    return fer_conv2d_pool_fusable(&d);
}

/* Forward of layer l; returns the number of layers it ran: 2 when a
   convolution wrote the max pooling's output as well (pooled_pair). */
static int forward_layer(fer_model *m, int l, const float *x, int n, const fer_pass *p)
{
    fer_model_batch *b = m->batch;
    const fer_layer *L = &m->layers[l];
    float *y = b->act[l];
    size_t out = fer_layer_out_size(L);
    switch (L->cfg.type) {
    case FER_LAYER_CONV2D: {
        fer_conv_dims d;
        conv_dims(&d, L, n);
        if (pooled_pair(m, l, n, p)) {
            fer_conv2d_forward_pooled(b->act[l + 1], x, fer_model_weight(m, l, 0), fer_model_weight(m, l, 1),
                                      &d, L->cfg.relu, b->scratch, kernel_cache(m, l));
            return 2;
        }
        fer_conv2d_forward_cached(y, x, fer_model_weight(m, l, 0), fer_model_weight(m, l, 1), &d, L->cfg.relu,
                                  b->scratch, kernel_cache(m, l));
        break;
    }
    case FER_LAYER_MAXPOOL:
        fer_maxpool2_forward(y, x, n, L->in_h, L->in_w, L->in_c);
        break;
    case FER_LAYER_BATCHNORM: {
        int rows = n * L->in_h * L->in_w;
        float eps = (float)L->cfg.epsilon;
        if (p->training)
            b->bn_rows[l] = fer_batchnorm_forward_train(
                y, x, fer_model_weight(m, l, 0), fer_model_weight(m, l, 1), fer_model_weight(m, l, 2),
                fer_model_weight(m, l, 3), b->bn_mean[l], b->bn_invstd[l], rows, L->in_c,
                (float)L->cfg.momentum, eps, &p->reducer);
        else
            fer_batchnorm_forward_infer(y, x, fer_model_weight(m, l, 0), fer_model_weight(m, l, 1),
                                        fer_model_weight(m, l, 2), fer_model_weight(m, l, 3), rows, L->in_c,
                                        eps);
        break;
    }
    case FER_LAYER_RELU:
        fer_relu_forward(y, x, (size_t)n * out);
        break;
    case FER_LAYER_DROPOUT:
        if (p->training && p->dropout && L->cfg.rate > 0) {
            dropout_keys(b, p, l, n);
            fer_dropout_forward(y, b->mask[l], x, n, out, (float)L->cfg.rate, b->keys);
        } else {
            memcpy(y, x, (size_t)n * out * sizeof(float));
        }
        break;
    case FER_LAYER_GAP:
        fer_gap_forward(y, x, n, L->in_h * L->in_w, L->in_c);
        break;
    case FER_LAYER_DENSE:
        fer_dense_forward(y, x, fer_model_weight(m, l, 0), fer_model_weight(m, l, 1), n,
                          L->in_h * L->in_w * L->in_c, L->out_c, L->cfg.relu);
        break;
    }
    return 1;
}

/* Profiling clock of fer_pass.layer_seconds; only read when that is set. */
static double pass_clock(const fer_pass *p)
{
    if (!p->layer_seconds)
        return 0.0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

const float *fer_model_forward(fer_model *m, const float *x, int n, const fer_pass *p)
{
    fer_model_batch *b = m->batch;
    b->n = n;
    b->input = x;
    b->have_loss_grad = 0;
    for (int l = 0; l < m->n_layers;) {
        double start = pass_clock(p);
        int ran = forward_layer(m, l, l == 0 ? x : b->act[l - 1], n, p);
        if (p->layer_seconds)
            p->layer_seconds[l] += pass_clock(p) - start;
        l += ran;
    }
    return b->act[m->n_layers - 1];
}

double fer_model_loss(fer_model *m, const int *labels, const float *sample_weight, int n, long global_n,
                      int *correct, float *probs)
{
    fer_model_batch *b = m->batch;
    int k = m->cfg.classes;
    const float *logits = b->act[m->n_layers - 1];
    double scale = global_n > 0 ? 1.0 / (double)global_n : 0.0;
    double loss =
        n > 0 ? fer_softmax_xent(b->dlogits, probs, logits, labels, sample_weight, n, k, scale) : 0.0;
    b->have_loss_grad = 1;
    if (correct) {
        int hits = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < k; j++)
                if (logits[(size_t)i * k + j] > logits[(size_t)i * k + best])
                    best = j;
            hits += best == labels[i];
        }
        *correct = hits;
    }
    return loss;
}

/* Backward of layer l: dy is this layer's output gradient (may be modified
   in place), dx (may be NULL) receives its input gradient. */
static void backward_layer(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p)
{
    fer_model_batch *b = m->batch;
    const fer_layer *L = &m->layers[l];
    const float *x = l == 0 ? b->input : b->act[l - 1];
    const float *y = b->act[l];
    int trainable = l >= m->first_trainable;
    size_t out = fer_layer_out_size(L);
    switch (L->cfg.type) {
    case FER_LAYER_CONV2D: {
        /* dy over this layer's own output was masked by whoever put it
           there (pool_over_input, seeds_own_output). */
        int relu = L->cfg.relu && dy != y;
        float *dk = trainable ? fer_model_weight_grad(m, l, 0) : NULL;
        float *db = trainable ? fer_model_weight_grad(m, l, 1) : NULL;
        fer_conv_dims d;
        conv_dims(&d, L, n);
        if (dx && dx == x) /* conv_over_input */
            fer_conv2d_backward_over_input(dx, dk, db, dy, fer_model_weight(m, l, 0), y, &d, relu,
                                           m->layers[l - 1].cfg.relu, b->scratch);
        else
            fer_conv2d_backward(dx, dk, db, dy, x, fer_model_weight(m, l, 0), y, &d, relu, b->scratch);
        break;
    }
    case FER_LAYER_MAXPOOL:
        if (dx == x)
            fer_maxpool2_backward_in_place(dx, dy, y, n, L->in_h, L->in_w, L->in_c,
                                           m->layers[l - 1].cfg.relu);
        else if (dx)
            fer_maxpool2_backward(dx, dy, x, y, n, L->in_h, L->in_w, L->in_c);
        break;
    case FER_LAYER_BATCHNORM: {
        float *dgamma = fer_model_weight_grad(m, l, 0), *dbeta = fer_model_weight_grad(m, l, 1);
        if (!p->training) /* inference-mode gradients (saliency): a per-channel affine map */
            break;
        fer_batchnorm_backward(dx, trainable ? dgamma : NULL, trainable ? dbeta : NULL, dy, x,
                               fer_model_weight(m, l, 0), b->bn_mean[l], b->bn_invstd[l],
                               n * L->in_h * L->in_w, b->bn_rows[l], L->in_c, &p->reducer);
        break;
    }
    case FER_LAYER_RELU:
        if (dx)
            fer_relu_backward(dx, dy, y, (size_t)n * out);
        break;
    case FER_LAYER_DROPOUT:
        if (!dx)
            break;
        if (p->training && p->dropout && L->cfg.rate > 0)
            fer_dropout_backward(dx, dy, b->mask[l], n, out, (float)L->cfg.rate);
        else if (dx != dy)
            memcpy(dx, dy, (size_t)n * out * sizeof(float));
        break;
    case FER_LAYER_GAP:
        if (dx)
            fer_gap_backward(dx, dy, n, L->in_h * L->in_w, L->in_c);
        break;
    case FER_LAYER_DENSE:
        fer_dense_backward(dx, trainable ? fer_model_weight_grad(m, l, 0) : NULL,
                           trainable ? fer_model_weight_grad(m, l, 1) : NULL, dy, x,
                           fer_model_weight(m, l, 0), y, n, L->in_h * L->in_w * L->in_c, L->out_c,
                           L->cfg.relu);
        break;
    }
}

/* Inference-mode BatchNorm backward: y = gamma * (x - mean) / sqrt(var + eps) + beta. */
static void batchnorm_infer_backward(fer_model *m, int l, const float *dy, float *dx, int n)
{
    const fer_layer *L = &m->layers[l];
    const float *gamma = fer_model_weight(m, l, 0), *var = fer_model_weight(m, l, 3);
    int c = L->in_c;
    size_t rows = (size_t)n * L->in_h * L->in_w;
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < c; j++)
            dx[r * c + j] = dy[r * c + j] * gamma[j] / sqrtf(var[j] + (float)L->cfg.epsilon);
}

/* Whether convolution l gives the batch normalization below it its
   parameter gradients without an input gradient of its own (fold_backward):
   the normalization is where a training pass stops, trainable, with no
   input gradient asked of it, and the convolution has no padding. */
static int folds_batchnorm(const fer_model *m, int l, int stop, const float *input_grad, const fer_pass *p)
{
    if (!p->training || l != stop + 1 || (stop == 0 && input_grad) || stop < m->first_trainable ||
        m->layers[l].cfg.type != FER_LAYER_CONV2D || m->layers[stop].cfg.type != FER_LAYER_BATCHNORM)
        return 0;
    fer_conv_dims d;
    conv_dims(&d, &m->layers[l], 1);
    return d.pad == 0;
}

/* Backward of convolution l and of the batch normalization l - 1 below it
   (folds_batchnorm): the convolution's kernel gradient from xhat, written
   over the normalization's output, which nothing reads any more, then
   fer_batchnorm_fold_conv_grads. conv2d_1's input gradient was half its
   backward in the frozen-backbone step. */
static void fold_backward(fer_model *m, int l, float *dy)
{
    fer_model_batch *b = m->batch;
    const fer_layer *L = &m->layers[l], *N = &m->layers[l - 1];
    float *xhat = b->act[l - 1], *dk = fer_model_weight_grad(m, l, 0), *db = fer_model_weight_grad(m, l, 1);
    const float *k = fer_model_weight(m, l, 0);
    fer_batchnorm_normalized(xhat, l == 1 ? b->input : b->act[l - 2], b->bn_mean[l - 1], b->bn_invstd[l - 1],
                             b->n * N->in_h * N->in_w, N->in_c);
    fer_conv_dims d;
    conv_dims(&d, L, b->n);
    fer_conv2d_backward(NULL, dk, db, dy, xhat, k, b->act[l], &d, L->cfg.relu && dy != b->act[l], b->scratch);
    fer_batchnorm_fold_conv_grads(dk, fer_model_weight_grad(m, l - 1, 0), fer_model_weight_grad(m, l - 1, 1),
                                  k, db, fer_model_weight(m, l - 1, 0), fer_model_weight(m, l - 1, 1),
                                  L->cfg.kernel_size * L->cfg.kernel_size, L->in_c, L->out_c);
}

/* Layers from..stop backward, with dy already in its planned buffer. */
static void backward_range(fer_model *m, int from, const int plan[], int stop, const fer_pass *p,
                           float *input_grad)
{
    int n = m->batch->n;
    for (int l = from; l >= stop; l--) {
        float *dy = plan_buffer(m, plan[l]), *dx = NULL;
        if (l > stop)
            dx = plan_buffer(m, plan[l - 1]);
        else if (l == 0 && input_grad)
            dx = input_grad;
        double start = pass_clock(p);
        if (folds_batchnorm(m, l, stop, input_grad, p)) {
            fold_backward(m, l, dy);
            if (p->layer_seconds)
                p->layer_seconds[m->n_layers + l] += pass_clock(p) - start;
            if (p->grad_ready) {
                p->grad_ready(l, p->grad_ctx);
                p->grad_ready(l - 1, p->grad_ctx);
            }
            return;
        }
        if (m->layers[l].cfg.type == FER_LAYER_BATCHNORM && !p->training) {
            if (dx)
                batchnorm_infer_backward(m, l, dy, dx, n);
        } else {
            backward_layer(m, l, dy, dx, n, p);
        }
        if (p->layer_seconds)
            p->layer_seconds[m->n_layers + l] += pass_clock(p) - start;
        if (p->grad_ready && l >= m->first_trainable)
            p->grad_ready(l, p->grad_ctx);
    }
}

/* Seeds the plan's first buffer with dy (kernels may mask it in place) and
   runs the pass; it overwrites the activations. */
static void backward_seeded(fer_model *m, int from, const float *dy, int stop, const fer_pass *p,
                            float *input_grad)
{
    int plan[FER_MAX_LAYERS];
    size_t spare_floats[2] = {0, 0}; /* reserve() sized the spares for every plan */
    plan_backward(m, from, plan, spare_floats);
    size_t count = (size_t)m->batch->n * fer_layer_out_size(&m->layers[from]);
    float *seed = plan_buffer(m, plan[from]);
    if (seed == m->batch->act[from] && m->layers[from].cfg.relu) /* over its own output: mask it now */
        fer_relu_backward(seed, dy, seed, count);
    else
        memcpy(seed, dy, count * sizeof(float));
    backward_range(m, from, plan, stop, p, input_grad);
}

void fer_model_backward(fer_model *m, const fer_pass *p, float *input_grad)
{
    int stop = input_grad ? 0 : m->first_trainable;
    memset(m->grads + m->trainable_offset, 0, (m->n_params - m->trainable_offset) * sizeof(float));
    backward_seeded(m, m->n_layers - 1, m->batch->dlogits, stop, p, input_grad);
}

void fer_model_backward_from(fer_model *m, int from, const float *dy, const fer_pass *p, float *input_grad)
{
    backward_seeded(m, from, dy, 0, p, input_grad);
}
