/* Softmax cross-entropy from logits, per row through log-sum-exp in double:
   -log softmax(l)[t] = log sum_j exp(l_j - max) + max - l_t, which never
   overflows however large the logits are. */
#include "fer/nn.h"

#include <math.h>

double fer_softmax_xent(float *dlogits, float *probs, const float *logits, const int *labels,
                        const float *sample_weight, int n, int k, double scale)
{
    double loss = 0.0;
    for (int i = 0; i < n; i++, logits += k) {
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < k; j++)
            mx = logits[j] > mx ? logits[j] : mx;
        for (int j = 0; j < k; j++)
            sum += exp(logits[j] - mx);
        const double lse = mx + log(sum), wi = sample_weight ? sample_weight[i] : 1.0;
        /* A label outside [0, k) has no probability: the loss says so (NaN)
           rather than reading out of bounds. */
        const int t = labels[i];
        const int valid = t >= 0 && t < k;
        loss += valid ? wi * (lse - logits[t]) : NAN;
        for (int j = 0; j < k; j++) {
            double p = exp(logits[j] - lse);
            if (probs)
                probs[(size_t)i * k + j] = (float)p;
            if (dlogits)
                dlogits[(size_t)i * k + j] = (float)(scale * wi * (p - (j == t ? 1.0 : 0.0)));
        }
    }
    return loss;
}
