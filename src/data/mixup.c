/* Mixup draws keyed by (seed, epoch, sample index), and the pixel mix. */
#include "fer/mixup.h"
#include "fer/rng.h"
#include "fer/rng_beta.h"

enum { DRAW_APPLY, DRAW_PARTNER, DRAW_LAMBDA };

fer_mix fer_mixup_draw(uint64_t seed, int epoch, int64_t id, int n_images, double alpha, double prob)
{
    fer_mix m = {.partner = -1, .lambda = 1.0f};
    if (!(alpha > 0) || n_images < 1)
        return m;
    uint64_t key = fer_key(seed, FER_STREAM_MIXUP, (uint64_t)epoch, (uint64_t)id);
    if (!(fer_uniform(key, DRAW_APPLY) < prob))
        return m;
    m.partner = (int)(((unsigned __int128)fer_draw64(key, DRAW_PARTNER) * (uint64_t)n_images) >> 64);
    m.lambda = (float)fer_beta_draw(fer_draw64(key, DRAW_LAMBDA), alpha, alpha);
    return m;
}

void fer_mixup_rows(float *x, const float *partner, size_t n, float lambda)
{
    const float rest = 1.0f - lambda;
    for (size_t i = 0; i < n; i++)
        x[i] = lambda * x[i] + rest * partner[i];
}
