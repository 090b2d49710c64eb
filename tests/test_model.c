/* The model built from the seed config: Keras's parameter counts, the
   trainable suffix for every choice of first trainable layer, and that a
   backward pass leaves the frozen prefix's gradients alone. */
#include "check.h"

#include "fer/config.h"
#include "fer/model.h"
#include "fer/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int load(fer_config *c, const char *name)
{
    char path[1024];
    const char *src = getenv("FER_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/configs/%s", src ? src : ".", name);
    fer_err err;
    if (fer_config_load(c, path, &err)) {
        printf("%s\n", err.msg);
        return FER_ERROR;
    }
    return FER_OK;
}

static void test_seed_counts(void)
{
    fer_config c;
    fer_model m;
    fer_err err;
    if (load(&c, "fer2013_vgg16_nin.yaml") || fer_model_init(&m, &c.model, 1, &err)) {
        CHECK(0);
        return;
    }
    printf("seed model: total %zu trainable %zu non-trainable %zu (Keras: 3083847 3082311 1536)\n",
           fer_model_total_params(&m), m.n_params, fer_model_nontrainable_params(&m));
    CHECK(fer_model_total_params(&m) == 3083847 && m.n_params == 3082311 &&
          fer_model_nontrainable_params(&m) == 1536);
    int gap = fer_model_find(&m, "global_average_pooling2d_1"), c1 = fer_model_find(&m, "conv2d_1");
    printf("conv2d_1 output %dx%dx%d (expect 10x10x512), forward %.3f GFLOP/image\n", m.layers[c1].out_h,
           m.layers[c1].out_w, m.layers[c1].out_c, fer_model_forward_flops(&m) * 1e-9);
    CHECK(m.layers[c1].out_h == 10 && m.layers[c1].out_c == 512 && m.layers[gap].out_c == 128);

    /* Activation gradients reuse dead outputs: a max pooling's input
       gradient goes over its input, a convolution's over the output of the
       convolution below it (both applying that convolution's ReLU mask), so
       beyond the outputs backward needs only buffers for the head's
       gradients: less than an eighth of the widest output (block1_conv1's,
       96x96x64), where it used to need one whole widest buffer. */
    size_t widest = 0, outputs = 0, spare = fer_model_backward_spare_floats(&m);
    for (int l = 0; l < m.n_layers; l++) {
        size_t out = fer_layer_out_size(&m.layers[l]);
        outputs += out;
        widest = out > widest ? out : widest;
    }
    printf("per sample: outputs %zu floats, widest %zu, backward spare %zu (%.2fx widest)\n", outputs, widest,
           spare, (double)spare / (double)widest);
    CHECK(spare < widest / 8);
    /* A ReLU after BatchNorm runs in place: both outputs are one buffer. */
    int act1 = fer_model_find(&m, "activation_1");
    CHECK(act1 > 0 && fer_model_reserve(&m, 2, &err) == FER_OK);
    if (act1 > 0 && m.batch) {
        int shared = fer_model_activation(&m, act1) == fer_model_activation(&m, act1 - 1);
        printf("activation_1 in place over %s: %s\n", m.layers[act1 - 1].cfg.name, shared ? "yes" : "no");
        CHECK(shared);
    }
    fer_model_free(&m);

    c.model.input_size = 48; /* the 48x48 variant must build too */
    int ok = fer_model_init(&m, &c.model, 1, &err) == FER_OK;
    printf("48x48 variant builds: %s\n", ok ? "yes" : err.msg);
    CHECK(ok);
    if (ok)
        fer_model_free(&m);
}

/* For every possible first trainable layer, the suffix starts at that
   layer's first parameter (or at the next layer that has parameters). */
static void test_trainable_suffix(void)
{
    fer_config c;
    fer_model m;
    fer_err err;
    if (load(&c, "tiny.yaml") || fer_model_init(&m, &c.model, 1, &err)) {
        CHECK(0);
        return;
    }
    int bad = 0;
    for (int first = 0; first < m.n_layers; first++) {
        fer_model_set_trainable(&m, first);
        size_t expect = m.n_params;
        for (int l = m.n_layers - 1; l >= first; l--)
            if (m.layers[l].n_params > 0)
                expect = m.layers[l].weights[0].offset;
        bad += m.trainable_offset != expect;
    }
    printf("trainable suffix offset right for %d of %d first-trainable choices\n", m.n_layers - bad,
           m.n_layers);
    CHECK(bad == 0);
    fer_model_free(&m);
}

static void test_frozen_prefix_untouched(void)
{
    fer_config c;
    fer_model m;
    fer_err err;
    if (load(&c, "tiny.yaml") || fer_model_init(&m, &c.model, 1, &err) || fer_model_reserve(&m, 4, &err)) {
        CHECK(0);
        return;
    }
    size_t in = fer_model_input_size(&m);
    float *x = malloc(4 * in * sizeof(float));
    int labels[4] = {0, 1, 2, 3};
    for (size_t i = 0; i < 4 * in; i++)
        x[i] = (float)(fer_uniform(3, i) * 2 - 1);
    fer_model_set_trainable(&m, fer_model_find(&m, "batch_normalization_1"));
    for (size_t i = 0; i < m.n_params; i++)
        m.grads[i] = 12345.0f;
    fer_pass p = {.training = 1};
    fer_model_forward(&m, x, 4, &p);
    fer_model_loss(&m, labels, NULL, 4, 4, NULL, NULL);
    fer_model_backward(&m, &p, NULL);
    size_t untouched = 0, nonzero = 0;
    for (size_t i = 0; i < m.trainable_offset; i++)
        untouched += m.grads[i] == 12345.0f;
    for (size_t i = m.trainable_offset; i < m.n_params; i++)
        nonzero += m.grads[i] != 0.0f && m.grads[i] != 12345.0f;
    printf("frozen prefix: %zu of %zu gradients untouched; trainable suffix: %zu of %zu non-zero\n",
           untouched, m.trainable_offset, nonzero, m.n_params - m.trainable_offset);
    CHECK(untouched == m.trainable_offset && nonzero > (m.n_params - m.trainable_offset) / 2);
    free(x);
    fer_model_free(&m);
}

/* One pass of the tiny model with 16-filter blocks (enough for the
   Winograd path): logits, then (training) the gradients. */
static void pass_once(fer_model *m, const float *x, int training, int skip, float *logits, float *grads)
{
    static const int labels[4] = {0, 1, 2, 3};
    fer_pass p = {.training = training, .dropout = 1, .seed = 5, .skip_unread_outputs = skip};
    memcpy(logits, fer_model_forward(m, x, 4, &p), 4 * (size_t)m->cfg.classes * sizeof(float));
    if (!training)
        return;
    fer_model_loss(m, labels, NULL, 4, 4, NULL, NULL);
    fer_model_backward(m, &p, NULL);
    memcpy(grads, m->grads, m->n_params * sizeof(float));
}

/* The tiny model at input_size with 16-filter blocks (enough for the
   Winograd path), reserved for batches of 4. */
static int tiny16(fer_model *m, int input_size)
{
    fer_config c;
    fer_err err;
    if (load(&c, "tiny.yaml"))
        return FER_ERROR;
    c.model.input_size = input_size;
    for (int l = 0; l < c.model.n_layers && strncmp(c.model.layers[l].name, "block", 5) == 0; l++)
        c.model.layers[l].filters = 16;
    if (fer_model_init(m, &c.model, 1, &err) == FER_OK && fer_model_reserve(m, 4, &err) == FER_OK)
        return FER_OK;
    printf("%s\n", err.msg);
    return FER_ERROR;
}

/* skip_unread_outputs: the same logits and gradients, bit for bit, in a
   frozen training pass and in an inference pass, while the convolutions
   before a max pooling leave their own outputs unwritten (poisoned here). */
static void test_skip_unread_outputs(void)
{
    fer_model m;
    if (tiny16(&m, 24)) {
        CHECK(0);
        return;
    }
    size_t in = fer_model_input_size(&m), k = (size_t)m.cfg.classes;
    float *x = malloc(4 * in * sizeof(float)), *stats = malloc((m.n_stats + 1) * sizeof(float));
    float *logits[2] = {malloc(4 * k * sizeof(float)), malloc(4 * k * sizeof(float))};
    float *grads[2] = {malloc(m.n_params * sizeof(float)), malloc(m.n_params * sizeof(float))};
    for (size_t i = 0; i < 4 * in; i++)
        x[i] = (float)(fer_uniform(4, i) * 2 - 1);
    const int pooled[3] = {fer_model_find(&m, "block1_conv2"), fer_model_find(&m, "block2_conv2"),
                           fer_model_find(&m, "block3_conv3")};
    for (int training = 1; training >= 0; training--) {
        fer_model_set_trainable(&m, training ? fer_model_find(&m, "batch_normalization_1") : 0);
        memcpy(stats, m.stats, m.n_stats * sizeof(float));
        pass_once(&m, x, training, 0, logits[0], grads[0]);
        memcpy(m.stats, stats, m.n_stats * sizeof(float)); /* the pass moved the BatchNorm statistics */
        size_t out[3];
        for (int i = 0; i < 3; i++) {
            out[i] = 4 * fer_layer_out_size(&m.layers[pooled[i]]);
            memset(fer_model_activation(&m, pooled[i]), 0xff, out[i] * sizeof(float));
        }
        pass_once(&m, x, training, 1, logits[1], grads[1]);
        int unwritten = 1;
        for (int i = 0; i < 3; i++) {
            const uint32_t *a = (const uint32_t *)fer_model_activation(&m, pooled[i]);
            for (size_t e = 0; e < out[i]; e++)
                unwritten &= a[e] == 0xffffffffu;
        }
        int same = !memcmp(logits[0], logits[1], 4 * k * sizeof(float)) &&
                   (!training || !memcmp(grads[0] + m.trainable_offset, grads[1] + m.trainable_offset,
                                         (m.n_params - m.trainable_offset) * sizeof(float)));
        printf(
            "skip_unread_outputs, %s pass: logits%s identical: %s; the 3 convolutions before a pooling left "
            "their outputs unwritten: %s\n",
            training ? "frozen training" : "inference", training ? " and gradients" : "", same ? "yes" : "no",
            unwritten ? "yes" : "no");
        CHECK(same && unwritten);
    }
    for (int i = 0; i < 2; i++) {
        free(logits[i]);
        free(grads[i]);
    }
    free(stats);
    free(x);
    fer_model_free(&m);
}

/* A frozen step folds batch_normalization_1 into conv2d_1 (its parameter
   gradients without conv2d_1's input gradient): the head's gradients must
   match those of a full step, which forms that input gradient, and
   batch_normalization_1's output must then hold xhat, zero-mean per
   channel where its output y = 2 xhat + 0.5 had mean 0.5. 48x48 input and
   16-filter blocks: conv2d_1 goes 6x6x16 to 4x4x16 on the Winograd path. */
static void test_frozen_batchnorm_fold(void)
{
    fer_model m;
    if (tiny16(&m, 48)) {
        CHECK(0);
        return;
    }
    int bn = fer_model_find(&m, "batch_normalization_1");
    const fer_layer *B = &m.layers[bn];
    size_t in = fer_model_input_size(&m), k = (size_t)m.cfg.classes, rows = 4 * (size_t)B->in_h * B->in_w;
    float *x = malloc(4 * in * sizeof(float)), *stats = malloc((m.n_stats + 1) * sizeof(float));
    float *logits = malloc(4 * k * sizeof(float));
    float *grads[2] = {malloc(m.n_params * sizeof(float)), malloc(m.n_params * sizeof(float))};
    for (size_t i = 0; i < 4 * in; i++)
        x[i] = (float)(fer_uniform(6, i) * 2 - 1);
    for (int j = 0; j < B->in_c; j++) {
        fer_model_weight(&m, bn, 0)[j] = 2.0f;
        fer_model_weight(&m, bn, 1)[j] = 0.5f;
    }
    memcpy(stats, m.stats, m.n_stats * sizeof(float));
    fer_model_set_trainable(&m, bn);
    size_t head = m.trainable_offset;
    pass_once(&m, x, 1, 1, logits, grads[0]);
    double worst_mean = 0.0;
    for (int j = 0; j < B->in_c; j++) {
        double sum = 0.0;
        for (size_t r = 0; r < rows; r++)
            sum += fer_model_activation(&m, bn)[r * B->in_c + j];
        worst_mean = fmax(worst_mean, fabs(sum / (double)rows));
    }
    memcpy(m.stats, stats, m.n_stats * sizeof(float));
    fer_model_set_trainable(&m, 0);
    pass_once(&m, x, 1, 1, logits, grads[1]);
    double worst = 0.0, largest = 0.0;
    for (size_t i = head; i < m.n_params; i++) {
        worst = fmax(worst, fabs((double)grads[0][i] - grads[1][i]));
        largest = fmax(largest, fabs((double)grads[1][i]));
    }
    printf("frozen step with batch_normalization_1 folded into conv2d_1: head gradients differ from a full "
           "step's by at most %.2e of the largest (%.3g); largest channel mean of batch_normalization_1's "
           "output afterwards %.2e (xhat)\n",
           worst / largest, largest, worst_mean);
    CHECK(largest > 0 && worst / largest < 1e-5);
    CHECK(worst_mean < 1e-4);
    for (int i = 0; i < 2; i++)
        free(grads[i]);
    free(logits);
    free(stats);
    free(x);
    fer_model_free(&m);
}

int main(void)
{
    test_seed_counts();
    test_trainable_suffix();
    test_frozen_prefix_untouched();
    test_skip_unread_outputs();
    test_frozen_batchnorm_fold();
    return check_report("test_model");
}
