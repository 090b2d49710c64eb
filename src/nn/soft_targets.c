/* The soft targets of label smoothing and mixup; their loss is
   fer_softmax_xent_soft (softmax_xent.c). */
#include "fer/nn.h"

#include <math.h>
#include <stddef.h>

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
