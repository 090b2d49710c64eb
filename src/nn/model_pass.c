/* Forward and backward passes over the layer table, with the activation
   arena sized by fer_model_reserve(). Every step asks the layer's kind
   (include/fer/layer_kind.h) what to do and what its buffers allow; the
   comments below name the kinds of today's registry as examples.

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

   A kind may fuse a layer with its neighbour: its forward may compute the
   next layer too (a convolution writing the max pooling's output), and
   its backward_with_below may end a training pass with the layer below
   (a convolution giving the batch normalization below it its gradients). */
#include "fer/layer_kind.h"
#include "fer/model.h"

#include "model_batch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const fer_layer_kind *kind(const fer_model *m, int l)
{
    return fer_layer_kind_of(m->layers[l].cfg.type);
}

static int has(const fer_model *m, int l, unsigned fact)
{
    return (kind(m, l)->facts & fact) != 0;
}

static void batch_free(fer_model_batch *b)
{
    if (!b)
        return;
    for (int l = 0; l < FER_MAX_LAYERS; l++) {
        free(b->act_mem[l]);
        free(b->state_floats[l][0]);
        free(b->state_floats[l][1]);
        free(b->state_bytes[l]);
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

void fer_model_set_products(fer_model *m, fer_products products)
{
    if (m->products == products)
        return;
    m->products = products;
    batch_free(m->batch);
    m->batch = NULL;
}

/* Whether layer l writes its output over its input's buffer: a kind that
   may, unless the layer below needs its exact output in backward. */
static int in_place(const fer_model *m, int l)
{
    return l > 0 && has(m, l, FER_KIND_IN_PLACE) && !has(m, l - 1, FER_KIND_EXACT_OUTPUT);
}

/* The layer whose buffer holds layer l's output. */
static int root_of(const fer_model *m, int l)
{
    while (in_place(m, l))
        l--;
    return l;
}

static int reads_output(const fer_model *m, int l)
{
    const fer_layer_kind *k = kind(m, l);
    return k->reads_output && k->reads_output(&m->layers[l]);
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
   the memory of its own output, that of layer root: not when its backward
   compares output and input as it writes, not while a layer below l
   sharing that memory has yet to read it as its output, and over l's own
   output gradient only for the element-wise kinds. */
static int own_buffer_fits(const fer_model *m, int l, int root, size_t need, int dy)
{
    if (has(m, l, FER_KIND_EXACT_OUTPUT) || fer_layer_out_size(&m->layers[root]) < need)
        return 0;
    for (int j = root; j < l; j++)
        if (reads_output(m, j))
            return 0;
    return dy != root || has(m, l, FER_KIND_ELEMENTWISE);
}

/* Whether layer l writes its input gradient over its input, the output of
   the layer below, which nothing reads after l but that layer's own ReLU
   mask: l applies the mask as it overwrites (max pooling always, a
   Winograd convolution once its kernel gradient is done). */
static int over_input(const fer_model *m, int l, int dy)
{
    const fer_layer_kind *k = kind(m, l);
    return l > 0 && k->grad_over_input && has(m, l - 1, FER_KIND_OUTPUT_ONLY_MASKED) &&
           root_of(m, l - 1) == l - 1 && dy != l - 1 && k->grad_over_input(m, l);
}

/* Whether a backward pass from layer `from` puts its seed gradient over
   that layer's own output, which its backward reads only for the ReLU
   mask, applied while seeding (backward_seeded). Filter visualization
   starts from any convolution, and above the first block no dead buffer
   is as wide as its output. */
static int seeds_own_output(const fer_model *m, int from)
{
    return has(m, from, FER_KIND_OUTPUT_ONLY_MASKED) && root_of(m, from) == from;
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
        if (own_buffer_fits(m, l, root, need, dy[l]))
            dy[l - 1] = root;
        else if (over_input(m, l, dy[l]))
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

/* Layer outputs, the kinds' own state and the shared scratch. */
static int reserve_layers(fer_model *m, int max_n, size_t *scratch)
{
    fer_model_batch *b = m->batch;
    int ok = 1;
    for (int l = 0; l < m->n_layers; l++) {
        const fer_layer_kind *k = kind(m, l);
        if (in_place(m, l))
            b->act[l] = b->act[l - 1];
        else
            ok &= (b->act[l] = b->act_mem[l] =
                       malloc((size_t)max_n * fer_layer_out_size(&m->layers[l]) * sizeof(float))) != NULL;
        size_t s = k->scratch_floats ? k->scratch_floats(m, l, max_n) : 0;
        *scratch = s > *scratch ? s : *scratch;
        if (k->reserve)
            ok &= k->reserve(m, l, max_n);
    }
    return ok;
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
    size_spares(m, spare_floats);
    int ok = reserve_layers(m, max_n, &scratch);
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
        int ran = kind(m, l)->forward(m, l, fer_batch_input_of(m, l), n, p);
        if (p->layer_seconds)
            p->layer_seconds[l] += pass_clock(p) - start;
        l += ran;
    }
    return b->act[m->n_layers - 1];
}

/* Layers from..stop backward, with dy already in its planned buffer. */
static void backward_range(fer_model *m, int from, const int plan[], int stop, const fer_pass *p,
                           float *input_grad)
{
    int n = m->batch->n;
    for (int l = from; l >= stop; l--) {
        const fer_layer_kind *k = kind(m, l);
        float *dy = plan_buffer(m, plan[l]), *dx = NULL;
        if (l > stop)
            dx = plan_buffer(m, plan[l - 1]);
        else if (l == 0 && input_grad)
            dx = input_grad;
        double start = pass_clock(p);
        if (k->backward_with_below && k->backward_with_below(m, l, dy, stop, input_grad, p)) {
            if (p->layer_seconds)
                p->layer_seconds[m->n_layers + l] += pass_clock(p) - start;
            if (p->grad_ready) {
                p->grad_ready(l, p->grad_ctx);
                p->grad_ready(l - 1, p->grad_ctx);
            }
            return;
        }
        k->backward(m, l, dy, dx, n, p);
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
