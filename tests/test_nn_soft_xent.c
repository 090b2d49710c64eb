/* Softmax cross-entropy against soft targets (train.label_smoothing,
   train.mixup_alpha): the targets, the loss against a hand computation and
   against PyTorch's F.cross_entropy(label_smoothing=), its gradient
   against central differences, and the one-hot loss as its eps = 0 case,
   bit for bit. */
#include "check.h"
#include "fer/nn.h"

#include <math.h>
#include <string.h>

enum { N = 3, K = 7 };

static const float logits0[N * K] = {1.0f,   2.0f,    3.0f, -1.0f, 0.5f,   0.25f, -2.0f,
                                     0.375f, -0.625f, 2.5f, 1.5f,  -1.25f, 0.0f,  4.0f,
                                     10.0f,  -10.0f,  0.0f, 5.0f,  2.0f,   -3.0f, 1.0f};
static const int labels[N] = {2, 0, 6};

/* The smoothed loss of the rows from its definition, in long double:
   sum_i log sum_j exp(l_ij) - ((1 - eps) l_iy + eps / K sum_j l_ij). */
static double hand_loss(const float *logits, double eps)
{
    long double total = 0.0L;
    for (int i = 0; i < N; i++) {
        const float *l = logits + i * K;
        long double s = 0.0L, sum_l = 0.0L;
        for (int j = 0; j < K; j++) {
            s += expl(l[j]);
            sum_l += l[j];
        }
        total += logl(s) - ((1.0L - eps) * l[labels[i]] + eps / K * sum_l);
    }
    return (double)total;
}

static double smoothed_loss(const float *logits, double eps, float *dlogits)
{
    float targets[N * K];
    fer_soft_targets(targets, labels, NULL, NULL, N, K, eps);
    return fer_softmax_xent_soft(dlogits, NULL, logits, targets, NULL, N, K, 1.0);
}

static void check_targets(void)
{
    float t[2 * K];
    const int y[2] = {1, 4}, partner[2] = {5, 4};
    const float lambda[2] = {0.75f, 0.25f};
    fer_soft_targets(t, y, partner, lambda, 2, K, 0.1);
    /* Row 0: 0.75 * s(1) + 0.25 * s(5); row 1: both labels 4, so s(4). */
    double e0 = 0.1 / K, worst = 0, sum0 = 0, sum1 = 0;
    for (int j = 0; j < K; j++) {
        double want0 = e0 + (j == 1 ? 0.75 * 0.9 : 0) + (j == 5 ? 0.25 * 0.9 : 0);
        double want1 = e0 + (j == 4 ? 0.9 : 0);
        worst = fmax(worst, fmax(fabs(t[j] - want0), fabs(t[K + j] - want1)));
        sum0 += t[j];
        sum1 += t[K + j];
    }
    printf("mixup + smoothing targets: max error %.1e vs hand (tol 1e-7), rows sum to %.8f %.8f\n", worst,
           sum0, sum1);
    CHECK(worst < 1e-7 && fabs(sum0 - 1) < 1e-6 && fabs(sum1 - 1) < 1e-6);
    int bad[1] = {K};
    fer_soft_targets(t, bad, NULL, NULL, 1, K, 0.1);
    printf("a label outside [0, K) gives NaN targets: %g\n", t[0]);
    CHECK(isnan(t[0]));
}

static void check_values(void)
{
    /* PyTorch 1.13, float64: F.cross_entropy(logits, labels,
       label_smoothing=eps, reduction='sum') for these rows (all exact in
       float). The targets are floats: eps / K and 1 - eps + eps / K carry
       float rounding, hence the tolerance. */
    const double eps[3] = {0.0, 0.1, 0.3};
    const double torch[3] = {13.45892598276004, 13.678568839902896, 14.117854554188611};
    for (int e = 0; e < 3; e++) {
        double got = smoothed_loss(logits0, eps[e], NULL), hand = hand_loss(logits0, eps[e]);
        printf("eps %.1f: loss %.15f, hand %.15f, PyTorch %.15f (rel tol 1e-7)\n", eps[e], got, hand,
               torch[e]);
        CHECK(fabs(got - hand) < 1e-7 * hand && fabs(got - torch[e]) < 1e-7 * torch[e]);
    }
}

/* Central differences of the loss in double against dlogits (scale 1). */
static void check_gradient(double eps)
{
    float l[N * K], grad[N * K];
    memcpy(l, logits0, sizeof l);
    smoothed_loss(l, eps, grad);
    double worst = 0;
    for (int i = 0; i < N * K; i++) {
        const float h = 1e-2f, saved = l[i];
        l[i] = saved + h;
        double up = smoothed_loss(l, eps, NULL);
        l[i] = saved - h;
        double down = smoothed_loss(l, eps, NULL);
        l[i] = saved;
        double num = (up - down) / (double)(2 * h);
        worst = fmax(worst, fabs(num - grad[i]));
    }
    printf("eps %.1f: dlogits vs central differences, max abs error %.1e (tol 1e-4)\n", eps, worst);
    CHECK(worst < 1e-4);
}

/* With one-hot targets the soft loss is the one-hot loss, bit for bit. */
static void check_one_hot_identity(void)
{
    const float w[N] = {1.0f, 0.5f, 2.0f};
    float targets[N * K], d1[N * K], d2[N * K], p1[N * K], p2[N * K];
    fer_soft_targets(targets, labels, NULL, NULL, N, K, 0.0);
    double a = fer_softmax_xent(d1, p1, logits0, labels, w, N, K, 1.0 / 3);
    double b = fer_softmax_xent_soft(d2, p2, logits0, targets, w, N, K, 1.0 / 3);
    int same = a == b && !memcmp(d1, d2, sizeof d1) && !memcmp(p1, p2, sizeof p1);
    printf("one-hot targets: loss %.17g vs one-hot loss %.17g, gradients and probabilities %s\n", b, a,
           same ? "bit-identical" : "differ");
    CHECK(same);
}

int main(void)
{
    check_targets();
    check_values();
    check_gradient(0.0);
    check_gradient(0.1);
    check_gradient(0.3);
    check_one_hot_identity();
    return check_report("test_nn_soft_xent");
}
