/* The weights' exponential moving average (fer/ema.h). */
#include "fer/ema.h"

double fer_ema_decay(const fer_train_cfg *c, long updates)
{
    double d = c->ema;
    if (c->ema_warmup) {
        double ramp = (1.0 + (double)updates) / (10.0 + (double)updates);
        if (ramp < d)
            d = ramp;
    }
    return d;
}

void fer_ema_update(float *ema, const float *w, size_t n, double decay)
{
    float d = (float)decay, keep = (float)(1.0 - decay);
    for (size_t i = 0; i < n; i++)
        ema[i] = d * ema[i] + keep * w[i];
}
