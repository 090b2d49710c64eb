/* Softmax cross-entropy against soft targets (label smoothing, mixup), and
   the targets themselves. Same log-sum-exp in double as the one-hot loss
   (softmax_xent.c), which stays the path of runs with neither. */
#include "fer/nn.h"

#include <math.h>

double fer_softmax_xent_soft(float *dlogits, float *probs, const float *logits, const float *targets,
                             const float *sample_weight, int n, int k, double scale)
{
    double loss = 0.0;
    for (int i = 0; i < n; i++, logits += k, targets += k) {
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < k; j++)
            mx = logits[j] > mx ? logits[j] : mx;
        for (int j = 0; j < k; j++)
            sum += exp(logits[j] - mx);
        const double lse = mx + log(sum), wi = sample_weight ? sample_weight[i] : 1.0;
        /* -sum_j t_j (l_j - lse), skipping zero targets: a zero target times
           an infinite log-probability contributes nothing. */
        double row = 0.0;
        for (int j = 0; j < k; j++)
            row += targets[j] != 0.0f ? targets[j] * (lse - logits[j]) : 0.0;
        loss += wi * row;
        for (int j = 0; j < k; j++) {
            double p = exp(logits[j] - lse);
            if (probs)
                probs[(size_t)i * k + j] = (float)p;
            if (dlogits)
                dlogits[(size_t)i * k + j] = (float)(scale * wi * (p - targets[j]));
        }
    }
    return loss;
}

/* Adds weight * s(y) to row. */
static void add_smoothed(float *row, int y, int k, double smoothing, double weight)
{
    if (y < 0 || y >= k) {
        for (int j = 0; j < k; j++)
            row[j] = NAN;
        return;
    }
    for (int j = 0; j < k; j++)
        row[j] += (float)(weight * ((j == y ? 1.0 - smoothing : 0.0) + smoothing / k));
}

void fer_soft_targets(float *targets, const int *labels, const int *mix_labels, const float *mix_lambda,
                      int n, int k, double smoothing)
{
    for (int i = 0; i < n; i++) {
        float *row = targets + (size_t)i * k;
        double lambda = mix_lambda ? mix_lambda[i] : 1.0;
        for (int j = 0; j < k; j++)
            row[j] = 0.0f;
        add_smoothed(row, labels[i], k, smoothing, lambda);
        if (mix_labels && lambda != 1.0)
            add_smoothed(row, mix_labels[i], k, smoothing, 1.0 - lambda);
    }
}
