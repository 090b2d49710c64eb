/* Relative L2 error, cosine similarity and decision counts against a
   reference tensor (include/fer/reference_measures.h). */
#include "fer/reference_measures.h"

#include <math.h>

void fer_pair_sums_add(fer_pair_sums *s, const float *ours, const float *ref, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double a = ours[i], b = ref[i], d = a - b;
        s->diff2 += d * d;
        s->ref2 += b * b;
        s->ours2 += a * a;
        s->dot += a * b;
    }
}

double fer_rel_l2(const fer_pair_sums *s)
{
    /* From the differences, not from ours2 - 2 dot + ref2, which cancels
       to noise when the two are close. */
    return s->ref2 > 0 ? sqrt(s->diff2 / s->ref2) : NAN;
}

double fer_cosine(const fer_pair_sums *s)
{
    if (!(s->ref2 > 0 && s->ours2 > 0)) /* a zero vector, or NaN */
        return NAN;
    double c = s->dot / (sqrt(s->ours2) * sqrt(s->ref2));
    /* Rounding of the three sums can put an exact match a hair above 1. */
    return c > 1 ? 1 : c < -1 ? -1 : c;
}

size_t fer_relu_decisions_differ(const float *ours, const float *ref, size_t n)
{
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += (ours[i] > 0.0f) != (ref[i] > 0.0f);
    return differ;
}

/* Index (0..3, row-major) of the first of the four equal to their maximum;
 *tied tells whether another one equals it too. */
static int window_argmax(float v0, float v1, float v2, float v3, int *tied)
{
    const float v[4] = {v0, v1, v2, v3};
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (v[k] > v[best])
            best = k;
    *tied = 0;
    for (int k = best + 1; k < 4; k++)
        *tied |= v[k] == v[best];
    return best;
}

size_t fer_pool_decisions_differ(const float *ours, const float *ref, int n, int h, int w, int c,
                                 size_t *decisions)
{
    size_t differ = 0, taken = 0;
    const size_t row = (size_t)w * c;
    for (int b = 0; b < n; b++)
        for (int oh = 0; oh < h / 2; oh++)
            for (int ow = 0; ow < w / 2; ow++)
                for (int e = 0; e < c; e++) {
                    size_t i0 = ((size_t)b * h + 2 * oh) * row + (size_t)2 * ow * c + e;
                    size_t i[4] = {i0, i0 + c, i0 + row, i0 + row + c};
                    int ref_tied, ours_tied;
                    int r = window_argmax(ref[i[0]], ref[i[1]], ref[i[2]], ref[i[3]], &ref_tied);
                    if (ref_tied)
                        continue;
                    taken++;
                    differ += window_argmax(ours[i[0]], ours[i[1]], ours[i[2]], ours[i[3]], &ours_tied) != r;
                }
    if (decisions)
        *decisions = taken;
    return differ;
}
