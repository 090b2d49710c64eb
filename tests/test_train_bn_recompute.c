/* fer_bn_recompute: every BatchNorm layer's moving statistics become the
   plain average of the batch statistics of the first K global batches
   with the current weights. Checked against an independent computation:
   the same K batches forwarded one at a time with momentum 0 (each leaves
   its own batch mean and unbiased variance as the moving statistics),
   averaged in double. Also: the weights and the layers' momentum are left
   as they were, and K = 1 gives that batch's statistics exactly. Dropping
   a batch from the average or keeping the old statistics in it fails. */
#include "check.h"
#include "fer/bn_recompute.h"
#include "fer/config.h"
#include "fer/layer_kind.h"
#include "fer/run_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K = 3, BATCH = 32 };

static fer_loader *make_loader(const fer_config *c, const fer_image_set *s)
{
    fer_loader_opts lo = {.images = s,
                          .batch_size = BATCH,
                          .rank = 0,
                          .nranks = 1,
                          .channels = c->model.channels,
                          .caffe = c->model.preprocess_caffe,
                          .shuffle = 1,
                          .augment = 1,
                          .aug = c->augment,
                          .seed = c->seed,
                          .prefetch = 0};
    fer_loader *l = NULL;
    fer_err err;
    if (fer_loader_create(&l, &lo, &err))
        printf("loader: %s\n", err.msg);
    return l;
}

/* The statistics buffer after averaging K batches by hand. */
static void expected_stats(fer_model *m, fer_loader *l, double *avg)
{
    fer_pass p = {.training = 1, .seed = 1};
    memset(avg, 0, m->n_stats * sizeof *avg);
    for (int l2 = 0; l2 < m->n_layers; l2++)
        if (m->layers[l2].cfg.type == FER_LAYER_BATCHNORM)
            m->layers[l2].cfg.momentum = 0.0;
    fer_loader_start_epoch(l, 4, 0);
    for (int k = 0; k < K; k++) {
        const fer_batch *b = fer_loader_next(l);
        p.sample_ids = b->ids;
        fer_model_forward(m, b->x, b->n, &p);
        for (size_t i = 0; i < m->n_stats; i++)
            avg[i] += m->stats[i] / K;
    }
}

int main(void)
{
    fer_config c;
    fer_err err;
    fer_model m;
    fer_run_data d = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/configs/tiny.yaml",
             getenv("FER_SOURCE_DIR") ? getenv("FER_SOURCE_DIR") : ".");
    if (fer_config_load(&c, path, &err) || fer_model_init(&m, &c.model, 3, &err) ||
        fer_model_reserve(&m, BATCH, &err) ||
        fer_run_data_load(&d, &c, NULL, NULL, 1u << FER_SPLIT_TRAIN, &err)) {
        printf("setup: %s\n", err.msg);
        return 1;
    }
    fer_loader *l = make_loader(&c, &d.set[FER_SPLIT_TRAIN]);
    float *params = malloc(m.n_params * sizeof *params), *stats0 = malloc(m.n_stats * sizeof *stats0);
    double *avg = malloc(m.n_stats * sizeof *avg);
    memcpy(params, m.params, m.n_params * sizeof *params);
    memcpy(stats0, m.stats, m.n_stats * sizeof *stats0);
    double momentum = m.layers[fer_model_find(&m, "batch_normalization_1")].cfg.momentum;

    fer_pass base = {.seed = 1};
    fer_bn_recompute(&m, l, 4, K, &base);
    float *got = malloc(m.n_stats * sizeof *got);
    memcpy(got, m.stats, m.n_stats * sizeof *got);
    int weights_kept = !memcmp(params, m.params, m.n_params * sizeof *params);
    int momentum_kept = m.layers[fer_model_find(&m, "batch_normalization_1")].cfg.momentum == momentum;

    expected_stats(&m, l, avg);
    double worst = 0.0;
    for (size_t i = 0; i < m.n_stats; i++) {
        double e = fabs(got[i] - avg[i]) / fmax(fabs(avg[i]), 1e-3);
        worst = e > worst ? e : worst;
    }
    int changed = memcmp(got, stats0, m.n_stats * sizeof *got) != 0;
    printf("recomputed over %d batches of %d: %zu statistics, worst relative difference from the hand "
           "average %.2e (tol 1e-5); changed from before: %s; weights kept: %s; momentum kept: %s\n",
           K, BATCH, m.n_stats, worst, changed ? "yes" : "no", weights_kept ? "yes" : "no",
           momentum_kept ? "yes" : "no");
    CHECK(worst < 1e-5 && changed && weights_kept && momentum_kept);

    /* K = 1: exactly the first batch's statistics */
    memcpy(m.stats, stats0, m.n_stats * sizeof *stats0);
    fer_bn_recompute(&m, l, 4, 1, &base);
    memcpy(got, m.stats, m.n_stats * sizeof *got);
    memcpy(m.stats, stats0, m.n_stats * sizeof *stats0);
    fer_pass p = {.training = 1, .seed = 1};
    for (int l2 = 0; l2 < m.n_layers; l2++)
        if (m.layers[l2].cfg.type == FER_LAYER_BATCHNORM)
            m.layers[l2].cfg.momentum = 0.0;
    fer_loader_start_epoch(l, 4, 0);
    const fer_batch *b = fer_loader_next(l);
    p.sample_ids = b->ids;
    fer_model_forward(&m, b->x, b->n, &p);
    int same = !memcmp(got, m.stats, m.n_stats * sizeof *got);
    printf("one batch: the recomputed statistics are that batch's, bit for bit: %s\n", same ? "yes" : "no");
    CHECK(same);

    fer_loader_free(l);
    fer_run_data_free(&d);
    fer_model_free(&m);
    free(params), free(stats0), free(avg), free(got);
    return check_report("test_train_bn_recompute");
}
