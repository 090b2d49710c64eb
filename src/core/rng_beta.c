/* Marsaglia-Tsang Gamma variates and Beta variates from them, keyed. */
#include "fer/rng_beta.h"
#include "fer/rng.h"

#include <math.h>

/* A rejection loop that has not accepted after this many attempts (the
   acceptance rate is above 95% per attempt for every shape >= 1) returns
   the mode instead of looping on: a bound, never reached in practice. */
enum { MAX_ATTEMPTS = 64 };

/* A uniform in (0, 1]: its logarithm is finite. */
static double open_uniform(uint64_t key, uint64_t counter)
{
    return 1.0 - fer_uniform(key, counter);
}

static double normal_draw(uint64_t key, uint64_t counter)
{
    double r = sqrt(-2.0 * log(open_uniform(key, counter)));
    return r * cos(2.0 * M_PI * fer_uniform(key, counter + 1));
}

/* log Gamma(shape) draw for shape >= 1. */
static double log_gamma_ge1(uint64_t key, double shape)
{
    const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (uint64_t i = 0; i < MAX_ATTEMPTS; i++) {
        double x = normal_draw(key, 3 * i), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double log_u = log(open_uniform(key, 3 * i + 2));
        if (log_u < 0.5 * x * x + d - d * v + d * log(v))
            return log(d) + log(v);
    }
    return log(d);
}

double fer_log_gamma_draw(uint64_t key, double shape)
{
    if (shape >= 1.0)
        return log_gamma_ge1(key, shape);
    uint64_t boost = fer_mix64(key ^ 0x6a09e667f3bcc909ull);
    return log_gamma_ge1(key, shape + 1.0) + log(open_uniform(boost, 0)) / shape;
}

double fer_beta_draw(uint64_t key, double a, double b)
{
    double lg1 = fer_log_gamma_draw(fer_draw64(key, 0), a);
    double lg2 = fer_log_gamma_draw(fer_draw64(key, 1), b);
    /* G1 / (G1 + G2) = 1 / (1 + exp(log G2 - log G1)); exp of a large
       difference goes to inf and the quotient to 0, as it should. */
    return 1.0 / (1.0 + exp(lg2 - lg1));
}
