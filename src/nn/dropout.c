/* Inverted dropout with counter-based masks: element e of sample s is kept
   when fer_uniform(sample_keys[s], e) >= rate, so the mask is a function of
   the sample's key alone (the same on any rank count, and after a resume). */
#include "fer/nn.h"
#include "fer/rng.h"

void fer_dropout_forward(float *y, uint8_t *mask, const float *x, int n, size_t per_sample, float rate,
                         const uint64_t *sample_keys)
{
    /* Kept values are scaled by 1 / (1 - rate) so the expectation is
       unchanged and inference needs no rescaling (Keras). */
    const float scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
    for (int s = 0; s < n; s++) {
        const uint64_t key = sample_keys[s];
        for (size_t e = 0; e < per_sample; e++) {
            uint8_t keep = fer_uniform(key, e) >= (double)rate;
            mask[e] = keep;
            y[e] = keep ? x[e] * scale : 0.0f;
        }
        x += per_sample;
        y += per_sample;
        mask += per_sample;
    }
}

void fer_dropout_backward(float *dx, const float *dy, const uint8_t *mask, int n, size_t per_sample,
                          float rate)
{
    const float scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
    const size_t count = (size_t)n * per_sample;
    for (size_t i = 0; i < count; i++)
        dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
