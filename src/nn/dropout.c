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
static inline float keep_or_zero(float v, uint8_t kept)
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

static void forward_worker(void *ctx, int worker, int workers)
{
    const dropout_job *j = ctx;
    size_t s0, s1;
    fer_team_share((size_t)j->n, worker, workers, &s0, &s1);
    for (size_t s = s0; s < s1; s++) {
        const uint64_t key = j->keys[s];
        const float *x = j->in + s * j->per_sample;
        float *y = j->out + s * j->per_sample;
        uint8_t *mask = j->mask + s * j->per_sample;
        for (size_t e = 0; e < j->per_sample; e += 2) {
            uint64_t bits = fer_draw64(key, e / 2);
            uint8_t keep = (bits & 0xffffffffu) >= j->threshold;
            mask[e] = keep;
            y[e] = keep_or_zero(x[e] * j->scale, keep);
            if (e + 1 < j->per_sample) {
                keep = (bits >> 32) >= j->threshold;
                mask[e + 1] = keep;
                y[e + 1] = keep_or_zero(x[e + 1] * j->scale, keep);
            }
        }
    }
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
