/* Gamma and Beta variates from the counter-based RNG (include/fer/rng.h):
   each is a pure function of its key, so a draw keyed by (seed, epoch,
   sample index) is the same on every rank and after every resume.

   Gamma(a, 1) by Marsaglia and Tsang's squeeze/rejection method ("A simple
   method for generating gamma variables", ACM TOMS 26(3), 2000) for a >= 1,
   and for a < 1 their boost Gamma(a) = Gamma(a + 1) * U^(1/a). Beta(a, b) =
   G1 / (G1 + G2) with independent G1 ~ Gamma(a), G2 ~ Gamma(b). The work is
   done in logarithms, so that small shapes (whose Gamma draws underflow a
   double) still give a Beta draw in [0, 1]. */
#ifndef FER_RNG_BETA_H
#define FER_RNG_BETA_H

#include <stdint.h>

/* log of a Gamma(shape, 1) draw, shape > 0. Attempt i of the rejection loop
   uses counters 3i, 3i + 1 (a Box-Muller normal) and 3i + 2 (the test);
   the boost for shape < 1 uses a separate key derived from `key`. */
double fer_log_gamma_draw(uint64_t key, double shape);

/* A Beta(a, b) draw, a > 0, b > 0. */
double fer_beta_draw(uint64_t key, double a, double b);

#endif
