/* Mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", 2018)
   keyed like the augmentation: whether sample `id` of epoch `epoch` is
   mixed, with which partner and with which weight depends only on (seed,
   epoch, id) and the size of the training set. The partner is any sample
   of the whole training set, not of the rank's shard, so every rank loads
   the partners of its own rows itself and a batch does not depend on the
   rank count. */
#ifndef FER_MIXUP_H
#define FER_MIXUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int partner;  /* position of the partner in the training image set; -1: not mixed */
    float lambda; /* weight of the sample itself; 1 - lambda is the partner's */
} fer_mix;

/* The draw for one sample: mixed with probability `prob` (counter 0 of the
   key (seed, FER_STREAM_MIXUP, epoch, id)); the partner uniform over the
   n_images positions (counter 1); lambda ~ Beta(alpha, alpha) (a key taken
   from counter 2, include/fer/rng_beta.h). alpha <= 0 or n_images < 1:
   never mixed. */
fer_mix fer_mixup_draw(uint64_t seed, int epoch, int64_t id, int n_images, double alpha, double prob);

/* x = lambda * x + (1 - lambda) * partner over n floats. */
void fer_mixup_rows(float *x, const float *partner, size_t n, float lambda);

#endif
