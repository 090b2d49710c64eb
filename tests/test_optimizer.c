/* Optimizer updates against Keras 2.2's formulas written out by hand, the
   time-based decay and warm-up, the phase lookup, and balanced class weights. */
#include "check.h"

#include "fer/optimizer.h"
#include "fer/run_data.h"

#include <math.h>
#include <string.h>

static void test_sgd(int nesterov)
{
    fer_optimizer_cfg o = {
        .name = FER_OPT_SGD, .lr = 0.1, .momentum = 0.9, .nesterov = nesterov, .weight_decay = 0.01};
    float p[3] = {1.0f, -2.0f, 0.5f}, v[3] = {0}, g[3] = {0.3f, -0.1f, 0.0f};
    double rp[3] = {1.0, -2.0, 0.5}, rv[3] = {0};
    double worst = 0;
    for (int step = 0; step < 5; step++) {
        double lr = fer_lr_at(&o, step, 0);
        fer_optimizer_step(&o, p, g, &(fer_optimizer_state){.m = v}, 3, lr, step);
        for (int i = 0; i < 3; i++) { /* Keras: v = m v - lr g; p += nesterov ? m v - lr g : v */
            double gi = g[i] + 0.01 * rp[i];
            rv[i] = 0.9 * rv[i] - lr * gi;
            rp[i] += nesterov ? 0.9 * rv[i] - lr * gi : rv[i];
            worst = fmax(worst, fabs(rp[i] - p[i]));
        }
    }
    printf("sgd nesterov=%d: 5 steps, max |p - keras| %.2e (tol 1e-6)\n", nesterov, worst);
    CHECK(worst < 1e-6);
}

static void test_adam(void)
{
    fer_optimizer_cfg o = {
        .name = FER_OPT_ADAM, .lr = 0.01, .decay = 0.1, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-7};
    float p[2] = {0.5f, -0.25f}, m[2] = {0}, v[2] = {0}, g[2] = {0.2f, -0.05f};
    double rp[2] = {0.5, -0.25}, rm[2] = {0}, rv[2] = {0}, worst = 0;
    for (int step = 0; step < 6; step++) {
        double lr = fer_lr_at(&o, step, 0);
        fer_optimizer_step(&o, p, g, &(fer_optimizer_state){m, v}, 2, lr, step);
        double t = step + 1, lr_t = lr * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
        for (int i = 0; i < 2; i++) {
            rm[i] = 0.9 * rm[i] + 0.1 * g[i];
            rv[i] = 0.999 * rv[i] + 0.001 * g[i] * g[i];
            rp[i] -= lr_t * rm[i] / (sqrt(rv[i]) + 1e-7);
            worst = fmax(worst, fabs(rp[i] - p[i]));
        }
    }
    printf("adam with decay: 6 steps, max |p - keras| %.2e (tol 1e-6)\n", worst);
    CHECK(worst < 1e-6);
    CHECK(fer_optimizer_slots(&o) == 2);
}

static void test_schedule(void)
{
    fer_optimizer_cfg o = {.lr = 0.1, .decay = 1e-6};
    double lr = fer_lr_at(&o, 1000000, 0);
    printf("time-based decay: lr after 1e6 iterations %.6f (expect 0.05)\n", lr);
    CHECK(fabs(lr - 0.05) < 1e-12);
    o.decay = 0;
    printf("warm-up over 10 steps: %.3f %.3f %.3f\n", fer_lr_at(&o, 0, 10), fer_lr_at(&o, 4, 10),
           fer_lr_at(&o, 10, 10));
    CHECK(fabs(fer_lr_at(&o, 0, 10) - 0.01) < 1e-12 && fabs(fer_lr_at(&o, 4, 10) - 0.05) < 1e-12);
    CHECK(fer_lr_at(&o, 10, 10) == 0.1);

    fer_config c;
    memset(&c, 0, sizeof c);
    c.n_phases = 2;
    c.schedule[0].epochs = 3;
    c.schedule[1].epochs = 2;
    int first = -1;
    int p0 = fer_schedule_phase(&c, 2, NULL), p1 = fer_schedule_phase(&c, 3, &first);
    printf("phases of 3+2 epochs: epoch 2 -> %d, epoch 3 -> %d (first epoch %d), total %d\n", p0, p1, first,
           fer_schedule_total_epochs(&c));
    CHECK(p0 == 0 && p1 == 1 && first == 3 && fer_schedule_total_epochs(&c) == 5);
}

static void test_class_weights(void)
{
    uint8_t labels[10] = {0, 0, 0, 0, 0, 0, 1, 1, 2, 2};
    fer_image_set s = {.n = 10, .labels = labels};
    float w[4];
    fer_class_weights_balanced(&s, 4, w);
    printf("balanced weights of counts 6,2,2,0: %.4f %.4f %.4f %.4f\n", w[0], w[1], w[2], w[3]);
    CHECK(fabsf(w[0] - 10.0f / 24) < 1e-6f && fabsf(w[1] - 10.0f / 8) < 1e-6f && w[3] == 0.0f);
}

int main(void)
{
    test_sgd(0);
    test_sgd(1);
    test_adam();
    test_schedule();
    test_class_weights();
    return check_report("test_optimizer");
}
