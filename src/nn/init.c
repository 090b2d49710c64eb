/* Keras default initializers, drawn from the counter-based RNG so a weight
   depends only on (key, index). */
#include "fer/nn.h"
#include "fer/rng.h"

#include <math.h>

void fer_glorot_uniform(float *w, size_t count, int fan_in, int fan_out, uint64_t key)
{
    const double fans = (double)fan_in + (double)fan_out;
    const double limit = fans > 0.0 ? sqrt(6.0 / fans) : 0.0;
    for (size_t i = 0; i < count; i++)
        w[i] = (float)fer_uniform_range(key, i, -limit, limit);
}
