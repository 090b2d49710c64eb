/* The avgpool layer kind, added as a new kind is (its file
   src/nn/layer_avgpool.c and its line in include/fer/layer_kinds.def),
   checked through everything else that reads the registry: the config
   accepts `type: avgpool` and refuses keys it does not take, the model
   gives it its shape (9x9 -> 4x4: Keras's floor) and summary class, and
   the gradients of a small network through it (conv2d -> avgpool -> gap
   -> dense) match central finite differences of the loss, for the input
   and for the convolution's kernel below it. The loss is smooth here (no
   ReLU), so the step h = 1e-2 leaves O(h^2) truncation and float noise of
   about 1e-6 / 2h, far inside the 1e-2 tolerance on errors relative to
   max(|analytic|, |numeric|, 0.1 * the largest gradient). */
#include "check.h"
#include "fer/config.h"
#include "fer/layer_kind.h"
#include "fer/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char yaml[] = "model:\n"
                           "  input_size: 9\n"
                           "  channels: 3\n"
                           "  classes: 3\n"
                           "  preprocess_caffe: false\n"
                           "  layers:\n"
                           "    - {name: conv, type: conv2d, filters: 4, kernel_size: 3, padding: same}\n"
                           "    - {name: pool, type: avgpool}\n"
                           "    - {name: gap, type: gap}\n"
                           "    - {name: out, type: dense, activation: softmax}\n"
                           "schedule:\n"
                           "  - {name: all, epochs: 1, trainable: all}\n";

enum { N = 2 };
static const int labels[N] = {1, 2};

/* Mean loss of a forward pass over x. */
static double loss_at(fer_model *m, const float *x)
{
    fer_pass p = {0};
    fer_model_forward(m, x, N, &p);
    return fer_model_loss(m, labels, NULL, N, N, NULL, NULL) / N;
}

/* Worst relative error of analytic against central differences of the
   loss over every element of v (the input or a weight). */
static double worst_error(fer_model *m, float *v, const float *analytic, size_t count, const float *x)
{
    const double h = 1e-2;
    double scale = 0.0, worst = 0.0;
    for (size_t i = 0; i < count; i++)
        scale = fabs(analytic[i]) > scale ? fabs(analytic[i]) : scale;
    for (size_t i = 0; i < count; i++) {
        float keep = v[i];
        v[i] = keep + (float)h;
        double up = loss_at(m, x);
        v[i] = keep - (float)h;
        double down = loss_at(m, x);
        v[i] = keep;
        double numeric = (up - down) / (2 * h), a = analytic[i];
        double denom = fmax(fmax(fabs(a), fabs(numeric)), 0.1 * scale);
        double e = fabs(a - numeric) / denom;
        worst = e > worst ? e : worst;
    }
    return worst;
}

static void test_config_and_shape(fer_model *m)
{
    fer_config c;
    fer_err err;
    int bad =
        fer_config_load_string(&c, "model: {layers: [{name: p, type: avgpool, filters: 3}]}", "bad", &err);
    printf("config: 'filters' on an avgpool layer: %s\n", bad ? err.msg : "accepted");
    CHECK(bad && strstr(err.msg, "takes no 'filters'"));
    int pool = fer_model_find(m, "pool");
    const fer_layer *L = &m->layers[pool];
    printf("model: avgpool %dx%dx%d -> %dx%dx%d, %zu parameters, class %s\n", L->in_h, L->in_w, L->in_c,
           L->out_h, L->out_w, L->out_c, L->n_params, fer_layer_kind_of(L->cfg.type)->keras_class);
    CHECK(L->out_h == 4 && L->out_w == 4 && L->out_c == 4 && L->n_params == 0);
    CHECK(!strcmp(fer_layer_kind_of(L->cfg.type)->keras_class, "AveragePooling2D"));
}

int main(void)
{
    fer_config c;
    fer_err err;
    fer_model m;
    if (fer_config_load_string(&c, yaml, "avgpool.yaml", &err) || fer_config_validate(&c, &err) ||
        fer_model_init(&m, &c.model, 7, &err) || fer_model_reserve(&m, N, &err)) {
        printf("setup: %s\n", err.msg);
        return 1;
    }
    test_config_and_shape(&m);
    size_t nx = (size_t)N * fer_model_input_size(&m);
    float *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *dx);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)sin(0.7 * (double)i) * 2.0f;
    loss_at(&m, x);
    fer_pass p = {0};
    fer_model_backward(&m, &p, dx);
    const size_t nk = m.layers[0].weights[0].count;
    float *dk = malloc(nk * sizeof *dk);
    memcpy(dk, fer_model_weight_grad(&m, 0, 0), nk * sizeof *dk);
    double ex = worst_error(&m, x, dx, nx, x);
    double ek = worst_error(&m, fer_model_weight(&m, 0, 0), dk, nk, x);
    printf("gradients through avgpool vs central differences: input %zu values, worst rel err %.2e; "
           "conv kernel %zu values, worst rel err %.2e (tol 1e-2)\n",
           nx, ex, nk, ek);
    CHECK(ex < 1e-2 && ek < 1e-2);
    free(x), free(dx), free(dk);
    fer_model_free(&m);
    return check_report("test_nn_layer_avgpool");
}
