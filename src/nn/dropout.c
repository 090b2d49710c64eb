/* Inverted dropout with counter-based masks: elements 2 i and 2 i + 1 of
   sample s are kept when the low and the high 32 bits of
   fer_draw64(sample_keys[s], i), read as fractions of 2^32, are at least
   rate. One draw serves two elements (the draw is the cost of the forward
   pass) and the keep probability is exact to 2^-32. The mask is a function
   of the sample's key alone (the same on any rank count, and after a
   resume).
   Samples (forward) and element ranges (backward) are shared out to a team
   of threads (src/nn/team.h); the masks do not depend on who draws them. */
#include "fer/nn.h"
#include "fer/rng.h"

#include "team.h"
#include "vector_clones.h"

#include <math.h>
#include <string.h>

enum { MIN_EACH = 1 << 15 }; /* elements worth a thread */

typedef struct {
    float *out;
    uint8_t *mask;
    const float *in;
    const uint8_t *kept;
    size_t per_sample, count;
    float rate, scale;
    uint64_t threshold; /* a 32-bit draw at least this is kept */
    const uint64_t *keys;
    int n;
} dropout_job;

/* Kept values are scaled by 1 / (1 - rate) so the expectation is unchanged
   and inference needs no rescaling (Keras). */
static float keep_scale(float rate)
{
    return rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
}

/* kept (0 or 1) ? v : 0.0f, as a bit mask: GCC vectorizes neither the
   select (the float multiply feeding it might trap, so it is not
   speculated) nor its branch, which a random mask mispredicts. */
FER_VECTOR_INLINE float keep_or_zero(float v, uint8_t kept)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= 0u - (uint32_t)kept;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* ceil(rate * 2^32): the draws below it, a fraction rate of all 2^32. */
static uint64_t keep_threshold(float rate)
{
    if (!(rate > 0.0f))
        return 0;
    if (rate >= 1.0f)
        return UINT64_C(1) << 32;
    return (uint64_t)ceil((double)rate * 4294967296.0);
}

/* One sample: the draws of a block of element pairs first, then the
   pairs, two loops without branches that vectorize (the draws with
   AVX-512's 64-bit multiplies). */
FER_VECTOR_CLONES static void drop_sample(float *restrict y, uint8_t *restrict mask, const float *restrict x,
                                          size_t per_sample, uint64_t key, uint64_t threshold, float scale)
{
    enum { DRAWS = 256 };
    uint64_t bits[DRAWS];
    const size_t pairs = per_sample / 2;
    for (size_t i0 = 0; i0 < pairs; i0 += DRAWS) {
        size_t m = pairs - i0 < DRAWS ? pairs - i0 : DRAWS;
        for (size_t i = 0; i < m; i++)
            bits[i] = fer_draw64(key, i0 + i);
        float *yb = y + 2 * i0;
        uint8_t *mb = mask + 2 * i0;
        const float *xb = x + 2 * i0;
        for (size_t i = 0; i < m; i++) {
            uint8_t k0 = (bits[i] & 0xffffffffu) >= threshold, k1 = (bits[i] >> 32) >= threshold;
            mb[2 * i] = k0;
            mb[2 * i + 1] = k1;
            yb[2 * i] = keep_or_zero(xb[2 * i] * scale, k0);
            yb[2 * i + 1] = keep_or_zero(xb[2 * i + 1] * scale, k1);
        }
    }
    if (per_sample % 2) { /* the last element takes the low half of its pair's draw */
        size_t e = per_sample - 1;
        uint8_t k0 = (fer_draw64(key, e / 2) & 0xffffffffu) >= threshold;
        mask[e] = k0;
        y[e] = keep_or_zero(x[e] * scale, k0);
    }
}

static void forward_worker(void *ctx, int worker, int workers)
{
    const dropout_job *j = ctx;
    size_t s0, s1;
    fer_team_share((size_t)j->n, worker, workers, &s0, &s1);
    for (size_t s = s0; s < s1; s++)
        drop_sample(j->out + s * j->per_sample, j->mask + s * j->per_sample, j->in + s * j->per_sample,
                    j->per_sample, j->keys[s], j->threshold, j->scale);
}

void fer_dropout_forward(float *y, uint8_t *mask, const float *x, int n, size_t per_sample, float rate,
                         const uint64_t *sample_keys)
{
    dropout_job j = {.out = y,
                     .mask = mask,
                     .in = x,
                     .per_sample = per_sample,
                     .rate = rate,
                     .scale = keep_scale(rate),
                     .threshold = keep_threshold(rate),
                     .keys = sample_keys,
                     .n = n};
    int workers = fer_team_for((size_t)(n > 0 ? n : 0) * per_sample, MIN_EACH);
    fer_team_run(workers < n ? workers : (n > 0 ? n : 1), forward_worker, &j);
}

/* The backward usually runs in place (dx over dy); through aliasing
   pointers GCC's overlap check fails and the loop runs scalar, branching
   on a random mask. Restrict loops for both cases, with keep_or_zero,
   vectorize. */
static void drop_over(float *restrict d, const uint8_t *restrict kept, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = keep_or_zero(d[i] * scale, kept[i]);
}

static void drop_into(float *restrict dx, const float *restrict dy, const uint8_t *restrict kept, float scale,
                      size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = keep_or_zero(dy[i] * scale, kept[i]);
}

static void backward_worker(void *ctx, int worker, int workers)
{
    const dropout_job *j = ctx;
    size_t lo, hi;
    fer_team_share(j->count, worker, workers, &lo, &hi);
    if (j->out == j->in)
        drop_over(j->out + lo, j->kept + lo, j->scale, hi - lo);
    else
        drop_into(j->out + lo, j->in + lo, j->kept + lo, j->scale, hi - lo);
}

void fer_dropout_backward(float *dx, const float *dy, const uint8_t *mask, int n, size_t per_sample,
                          float rate)
{
    const size_t count = (size_t)(n > 0 ? n : 0) * per_sample;
    dropout_job j = {.out = dx, .in = dy, .kept = mask, .count = count, .scale = keep_scale(rate)};
    fer_team_run(fer_team_for(count, MIN_EACH), backward_worker, &j);
}
