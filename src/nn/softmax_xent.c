/* Softmax cross-entropy from logits, against a label or a soft target row
   (label smoothing, mixup), per row through log-sum-exp in double:
   -log softmax(l)_j = log sum_i exp(l_i - max) + max - l_j, which never
   overflows however large the logits are. */
#include "fer/nn.h"

#include <math.h>

static double log_sum_exp(const float *logits, int k)
{
    double mx = -INFINITY, sum = 0.0;
    for (int j = 0; j < k; j++)
        mx = logits[j] > mx ? logits[j] : mx;
    for (int j = 0; j < k; j++)
        sum += exp(logits[j] - mx);
    return mx + log(sum);
}

/* One row's softmax into probs and scale * (softmax - target) into dlogits
   (either may be NULL); the target is onehot(label) when targets is NULL. */
static void row_outputs(float *probs, float *dlogits, const float *logits, double lse, const float *targets,
                        int label, int k, double scale)
{
    for (int j = 0; j < k; j++) {
        double p = exp(logits[j] - lse);
        double t = targets ? targets[j] : (j == label ? 1.0 : 0.0);
        if (probs)
            probs[j] = (float)p;
        if (dlogits)
            dlogits[j] = (float)(scale * (p - t));
    }
}

double fer_softmax_xent(float *dlogits, float *probs, const float *logits, const int *labels,
                        const float *sample_weight, int n, int k, double scale)
{
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        const double lse = log_sum_exp(row, k), wi = sample_weight ? sample_weight[i] : 1.0;
        /* A label outside [0, k) has no probability: the loss says so (NaN)
           rather than reading out of bounds. */
        const int t = labels[i];
        loss += t >= 0 && t < k ? wi * (lse - row[t]) : NAN;
        row_outputs(probs ? probs + (size_t)i * k : NULL, dlogits ? dlogits + (size_t)i * k : NULL, row, lse,
                    NULL, t, k, scale * wi);
    }
    return loss;
}

double fer_softmax_xent_soft(float *dlogits, float *probs, const float *logits, const float *targets,
                             const float *sample_weight, int n, int k, double scale)
{
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k, *t = targets + (size_t)i * k;
        const double lse = log_sum_exp(row, k), wi = sample_weight ? sample_weight[i] : 1.0;
        /* -sum_j t_j (l_j - lse), skipping zero targets: a zero target times
           an infinite log-probability contributes nothing. */
        double sum = 0.0;
        for (int j = 0; j < k; j++)
            sum += t[j] != 0.0f ? t[j] * (lse - row[j]) : 0.0;
        loss += wi * sum;
        row_outputs(probs ? probs + (size_t)i * k : NULL, dlogits ? dlogits + (size_t)i * k : NULL, row, lse,
                    t, -1, k, scale * wi);
    }
    return loss;
}
