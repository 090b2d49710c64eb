/* Timed steps of the model on synthetic input (fer bench). Medians, not
   means: the machines this runs on are shared, and one preempted step should
   not move the result. */
#include "fer/bench.h"

#include "fer/layer_kind.h"
#include "fer/optimizer.h"
#include "fer/progress.h"
#include "fer/rng.h"

#include <stdlib.h>
#include <string.h>

double fer_bench_layer_flops(const fer_layer *L)
{
    const fer_layer_kind *k = fer_layer_kind_of(L->cfg.type);
    return k && k->flops ? k->flops(L) : 0.0;
}

double fer_bench_step_flops(const fer_model *m, fer_bench_mode mode, int first_trainable)
{
    int first = mode == FER_BENCH_FULL ? -1 : first_trainable;
    double flops = 0.0;
    for (int l = 0; l < m->n_layers; l++) {
        double f = fer_bench_layer_flops(&m->layers[l]);
        flops += f;
        if (mode != FER_BENCH_INFER && l >= first)
            flops += l > first ? 2.0 * f : f; /* kernel gradient, input gradient */
    }
    return flops;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0], v[stride], ... (n values); sorts a copy in tmp. */
static double median(const double *v, int n, int stride, double *tmp)
{
    for (int i = 0; i < n; i++)
        tmp[i] = v[(size_t)i * stride];
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

/* What one run needs besides the model: the synthetic batch, optimizer
   state and per-step timings. One owner, freed together. */
typedef struct {
    float *x;
    int *labels;
    int64_t *ids;
    fer_optimizer_state opt; /* n_params each */
    double *step_seconds;    /* steps */
    double *layer_seconds;   /* steps x 2 n_layers */
    double *tmp;             /* steps, for medians */
} bench_buffers;

static void buffers_free(bench_buffers *b)
{
    free(b->x);
    free(b->labels);
    free(b->ids);
    free(b->opt.m);
    free(b->opt.v);
    free(b->step_seconds);
    free(b->layer_seconds);
    free(b->tmp);
}

/* Inputs uniform over the range of VGG "caffe" preprocessed pixels. */
static int buffers_init(bench_buffers *b, const fer_model *m, const fer_bench_cfg *c)
{
    size_t in = (size_t)c->batch * fer_model_input_size(m), per_step = 2 * (size_t)m->n_layers;
    memset(b, 0, sizeof *b);
    b->x = malloc(in * sizeof *b->x);
    b->labels = malloc((size_t)c->batch * sizeof *b->labels);
    b->ids = malloc((size_t)c->batch * sizeof *b->ids);
    b->opt.m = calloc(m->n_params, sizeof *b->opt.m);
    b->opt.v = calloc(m->n_params, sizeof *b->opt.v);
    b->step_seconds = malloc((size_t)c->steps * sizeof *b->step_seconds);
    b->layer_seconds = calloc((size_t)c->steps * per_step, sizeof *b->layer_seconds);
    b->tmp = malloc((size_t)c->steps * sizeof *b->tmp);
    if (!b->x || !b->labels || !b->ids || !b->opt.m || !b->opt.v || !b->step_seconds || !b->layer_seconds ||
        !b->tmp)
        return FER_ERROR;
    uint64_t key = fer_key(c->seed, FER_STREAM_SYNTHETIC, 0, 0);
    for (size_t i = 0; i < in; i++)
        b->x[i] = (float)fer_uniform_range(key, i, -120.0, 130.0);
    for (int i = 0; i < c->batch; i++) {
        b->labels[i] = (int)(fer_draw64(key, in + (size_t)i) % (uint64_t)m->cfg.classes);
        b->ids[i] = i;
    }
    return FER_OK;
}

/* One step of the mode; layer_seconds (2 n_layers) accumulates its layers. */
static void bench_step(fer_model *m, fer_bench_mode mode, const fer_bench_cfg *c, bench_buffers *b, long step,
                       double *layer_seconds)
{
    fer_pass pass = {.training = mode != FER_BENCH_INFER,
                     .dropout = 1,
                     .seed = c->seed,
                     .step = (uint64_t)step,
                     .sample_ids = b->ids,
                     .layer_seconds = layer_seconds,
                     .skip_unread_outputs = 1}; /* as fer train and fer eval */
    fer_model_forward(m, b->x, c->batch, &pass);
    if (mode == FER_BENCH_INFER)
        return;
    fer_model_loss(m, b->labels, NULL, c->batch, c->batch, NULL, NULL);
    fer_model_backward(m, &pass, NULL);
    size_t off = m->trainable_offset;
    fer_optimizer_state trained = {b->opt.m + off, b->opt.v + off};
    fer_optimizer_step(&c->optimizer, m->params + off, m->grads + off, &trained, m->n_params - off,
                       c->optimizer.lr, step);
}

int fer_bench_run(fer_model *m, fer_bench_mode mode, const fer_bench_cfg *c, fer_bench_result *r,
                  fer_err *err)
{
    if (c->batch < 1 || c->steps < 1)
        return fer_fail(err, "bench: batch %d and steps %d must both be at least 1", c->batch, c->steps);
    if (mode == FER_BENCH_FROZEN && (c->first_trainable < 0 || c->first_trainable >= m->n_layers))
        return fer_fail(err, "bench: first trainable layer %d outside 0..%d", c->first_trainable,
                        m->n_layers - 1);
    if (fer_model_reserve(m, c->batch, err))
        return FER_ERROR;
    bench_buffers b;
    if (buffers_init(&b, m, c)) {
        buffers_free(&b);
        return fer_fail(err, "bench: out of memory for a synthetic batch of %d", c->batch);
    }
    fer_model_set_trainable(m, mode == FER_BENCH_FROZEN ? c->first_trainable : 0);
    const size_t per_step = 2 * (size_t)m->n_layers;
    bench_step(m, mode, c, &b, 0, NULL); /* warm-up: page faults, BLAS thread start */
    for (int s = 0; s < c->steps; s++) {
        double start = fer_now();
        bench_step(m, mode, c, &b, s + 1, b.layer_seconds + (size_t)s * per_step);
        b.step_seconds[s] = fer_now() - start;
    }
    memset(r, 0, sizeof *r);
    r->step_seconds = median(b.step_seconds, c->steps, 1, b.tmp);
    r->fastest_seconds = b.tmp[0];
    for (int l = 0; l < m->n_layers; l++) {
        r->layer_seconds[l] = median(b.layer_seconds + l, c->steps, (int)per_step, b.tmp);
        r->layer_seconds[FER_MAX_LAYERS + l] =
            median(b.layer_seconds + m->n_layers + l, c->steps, (int)per_step, b.tmp);
    }
    buffers_free(&b);
    return FER_OK;
}
