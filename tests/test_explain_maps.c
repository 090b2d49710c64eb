/* Grad-CAM, saliency and filter visualization against independent
   computations on randomly initialized models (no training needed):
   - Grad-CAM at a convolution followed only by global average pooling and
     the dense layer equals the class activation map of Zhou et al. 2016,
     ReLU(sum_j W[j, c] A_j) / (h w), computed here from the weights;
   - saliency equals central finite differences of the logit;
   - filter visualization raises each filter's mean activation, is
     deterministic in its seed, and starts from the given image. */
#include "check.h"

#include "fer/explain.h"
#include "fer/rng.h"
#include "source_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load_model(fer_model *m, const char *config, uint64_t seed)
{
    fer_err err;
    int rc = source_model(m, config, seed, &err);
    if (rc)
        printf("cannot build %s: %s\n", config, err.msg);
    return rc;
}

/* Random faces-like inputs: grey noise around mid-grey, preprocessed. */
static void random_inputs(float *x, const fer_model *m, int n, uint64_t seed)
{
    int size = m->cfg.input_size;
    uint8_t *grey = malloc((size_t)n * size * size);
    for (int i = 0; i < n * size * size; i++)
        grey[i] = (uint8_t)(40 + 180 * fer_uniform(seed, (uint64_t)i));
    fer_err err;
    CHECK(fer_face_inputs(x, grey, n, size, m->cfg.channels, m->cfg.preprocess_caffe, &err) == FER_OK);
    free(grey);
}

static void check_gradcam_is_cam(void)
{
    fer_model m;
    if (load_model(&m, "tests/configs/gradcam.yaml", 3))
        return;
    /* Random BatchNorm statistics, so that every layer matters. */
    for (size_t i = 0; i < m.n_stats; i++)
        m.stats[i] = (i % 2 ? 0.5f : 0.0f) + 0.3f * (float)fer_uniform(11, i);
    enum { N = 3 };
    int layer = fer_last_conv_layer(&m), gap = layer + 1, dense = layer + 2, k = m.cfg.classes;
    const fer_layer *L = &m.layers[layer];
    CHECK(m.layers[gap].cfg.type == FER_LAYER_GAP && m.layers[dense].cfg.type == FER_LAYER_DENSE);
    int hw = L->out_h * L->out_w, c = L->out_c;
    float *x = malloc(N * fer_model_input_size(&m) * sizeof(float)), *cam = malloc(N * hw * sizeof(float));
    int classes[N] = {0, 3, 6};
    random_inputs(x, &m, N, 5);
    fer_err err;
    CHECK(fer_gradcam(&m, layer, x, N, classes, cam, &err) == FER_OK);
    /* The activation is still the model's last forward pass of these inputs. */
    const float *act = fer_model_activation(&m, layer), *w = fer_model_weight(&m, dense, 0);
    double worst = 0, top = 0;
    for (int i = 0; i < N; i++)
        for (int p = 0; p < hw; p++) {
            double s = 0;
            for (int j = 0; j < c; j++)
                s += (double)w[j * k + classes[i]] * act[((size_t)i * hw + p) * c + j];
            s = s > 0 ? s / hw : 0;
            worst = fmax(worst, fabs(s - cam[i * hw + p]));
            top = fmax(top, fabs(s));
        }
    printf("Grad-CAM at %s (%dx%dx%d) vs CAM from the dense weights: max abs diff %.2e (max value %.2e, tol "
           "1e-5 relative)\n",
           L->cfg.name, L->out_h, L->out_w, c, worst, top);
    CHECK(top > 0);
    CHECK(worst <= 1e-5 * top);
    free(x);
    free(cam);
    fer_model_free(&m);
}

static double logit(fer_model *m, const float *x, int cls)
{
    fer_pass pass = {.training = 0};
    return fer_model_forward(m, x, 1, &pass)[cls];
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check_saliency_finite_differences(void)
{
    enum { PIXELS = 40 };
    fer_model m;
    if (load_model(&m, "configs/tiny.yaml", 9))
        return;
    fer_err err;
    CHECK(fer_model_reserve(&m, 1, &err) == FER_OK);
    size_t in = fer_model_input_size(&m);
    int size = m.cfg.input_size, ch = m.cfg.channels, cls = 2;
    float *x = malloc(in * sizeof(float)), *sal = malloc((size_t)size * size * sizeof(float));
    random_inputs(x, &m, 1, 21);
    CHECK(fer_saliency(&m, x, 1, &cls, sal, &err) == FER_OK);
    double rel[PIXELS];
    int far = 0;
    for (int t = 0; t < PIXELS; t++) {
        int p = (int)(fer_draw64(77, (uint64_t)t) % (uint64_t)(size * size));
        double best = 0;
        for (int c = 0; c < ch; c++) {
            /* Inputs are grey levels minus means (|x| ~ 100): h = 0.25 keeps
               float32 rounding of the logits far below the difference. */
            const float h = 0.25f;
            float keep = x[(size_t)p * ch + c];
            x[(size_t)p * ch + c] = keep + h;
            double up = logit(&m, x, cls);
            x[(size_t)p * ch + c] = keep - h;
            double down = logit(&m, x, cls);
            x[(size_t)p * ch + c] = keep;
            best = fmax(best, fabs(up - down) / (2 * h));
        }
        rel[t] = fabs(best - sal[p]) / fmax(best, 1e-12);
        far += rel[t] > 0.05;
    }
    qsort(rel, PIXELS, sizeof rel[0], by_value);
    printf("saliency vs central differences (h 0.25) at %d pixels: relative error median %.2e, max %.2e; %d "
           "above "
           "5%% (allowed 4: a ReLU kink within +-h bends a difference)\n",
           PIXELS, rel[PIXELS / 2], rel[PIXELS - 1], far);
    CHECK(rel[PIXELS / 2] < 5e-3);
    CHECK(far <= 4);
    free(x);
    free(sal);
    fer_model_free(&m);
}

static void check_filter_viz(void)
{
    fer_model m;
    if (load_model(&m, "configs/tiny.yaml", 4))
        return;
    enum { COUNT = 4 };
    int size = m.cfg.input_size, pixels = size * size, filters[COUNT];
    fer_err err;
    fer_filter_viz_opts o = {
        .layer = fer_model_find(&m, "block3_conv3"), .steps = 0, .step = 1.0f, .seed = 5};
    CHECK(fer_filter_viz_pick(&m, &o, filters, COUNT, &err) == FER_OK);
    o.filters = filters;
    o.count = COUNT;
    float *start = malloc(COUNT * pixels * sizeof(float)), *after = malloc(COUNT * pixels * sizeof(float)),
          *again = malloc(COUNT * pixels * sizeof(float)), *other = malloc(COUNT * pixels * sizeof(float));
    float a0[COUNT], a1[COUNT], a2[COUNT];
    CHECK(fer_filter_viz(&m, &o, start, a0, &err) == FER_OK);
    int in_noise_range = 1, same_start = 1;
    for (int i = 0; i < COUNT * pixels; i++) {
        in_noise_range &= start[i] >= 118 && start[i] <= 138;
        same_start &= start[i] == start[i % pixels];
    }
    printf("filter viz at block3_conv3: picked filters %d %d %d %d, start activations %.3g %.3g %.3g %.3g\n",
           filters[0], filters[1], filters[2], filters[3], (double)a0[0], (double)a0[1], (double)a0[2],
           (double)a0[3]);
    CHECK(in_noise_range && same_start);
    CHECK(a0[0] >= a0[1] && a0[1] >= a0[2] && a0[2] >= a0[3] && a0[0] > 0);
    o.steps = 20;
    CHECK(fer_filter_viz(&m, &o, after, a1, &err) == FER_OK);
    CHECK(fer_filter_viz(&m, &o, again, a2, &err) == FER_OK);
    int raised = 0, alive = 0;
    for (int i = 0; i < COUNT; i++) {
        alive += a0[i] > 0;
        raised += a0[i] > 0 && a1[i] > 1.5f * a0[i];
    }
    printf("after 20 steps: activations %.3g %.3g %.3g %.3g; raised by > 1.5x: %d of %d active; repeat "
           "identical %d\n",
           (double)a1[0], (double)a1[1], (double)a1[2], (double)a1[3], raised, alive,
           !memcmp(after, again, COUNT * pixels * sizeof(float)));
    CHECK(raised == alive && alive > 0);
    CHECK(!memcmp(after, again, COUNT * pixels * sizeof(float)) && !memcmp(a1, a2, sizeof a1));
    o.seed = 6;
    CHECK(fer_filter_viz(&m, &o, other, NULL, &err) == FER_OK);
    CHECK(memcmp(after, other, COUNT * pixels * sizeof(float)) != 0);

    /* From a given image: the ascent starts there (0 steps returns it). */
    uint8_t *face = malloc(pixels);
    for (int p = 0; p < pixels; p++)
        face[p] = (uint8_t)(p * 7 % 256);
    o.start = face;
    o.steps = 0;
    CHECK(fer_filter_viz(&m, &o, other, NULL, &err) == FER_OK);
    int from_face = 1;
    for (int i = 0; i < COUNT * pixels; i++)
        from_face &= other[i] == face[i % pixels];
    printf("0 steps from a given image returns it for every filter: %d\n", from_face);
    CHECK(from_face);

    /* Display normalization: mean 128, standard deviation 25.5 before clipping. */
    uint8_t shown[24 * 24];
    fer_deprocess_image(shown, after, pixels);
    double mean = 0, sq = 0;
    for (int p = 0; p < pixels; p++)
        mean += shown[p];
    mean /= pixels;
    for (int p = 0; p < pixels; p++)
        sq += (shown[p] - mean) * (shown[p] - mean);
    float flat[16];
    uint8_t flat_shown[16];
    for (int i = 0; i < 16; i++)
        flat[i] = 42.0f;
    fer_deprocess_image(flat_shown, flat, 16);
    printf("deprocessed: mean %.1f sd %.1f (expect about 128 and 25.5); a flat image shows as %d\n", mean,
           sqrt(sq / pixels), flat_shown[0]);
    CHECK(fabs(mean - 128) < 3 && fabs(sqrt(sq / pixels) - 25.5) < 3 && flat_shown[0] == 128);

    int bad_filter = 8;
    o.filters = &bad_filter;
    o.count = 1;
    CHECK(fer_filter_viz(&m, &o, other, NULL, &err) == FER_ERROR);
    printf("filter 8 of an 8-filter layer: %s\n", err.msg);
    o.filters = filters;
    o.layer = m.n_layers;
    CHECK(fer_filter_viz(&m, &o, other, NULL, &err) == FER_ERROR);
    CHECK(fer_filter_viz_pick(&m, &o, filters, 1, &err) == FER_ERROR);
    o.layer = 0;
    CHECK(fer_filter_viz_pick(&m, &o, filters, 5, &err) == FER_ERROR); /* block1_conv1 has 4 */
    free(face);
    free(start);
    free(after);
    free(again);
    free(other);
    fer_model_free(&m);
}

int main(void)
{
    check_gradcam_is_cam();
    check_saliency_finite_differences();
    check_filter_viz();
    return check_report("test_explain_maps");
}
