/* The measures of fer check-reference (src/core/reference_measures.c):
   relative L2 error and cosine similarity on vectors whose values are known
   in closed form, pooling of several tensors into one, the undefined cases
   (NaN), and the ReLU and 2x2 max-pool decision counts on hand-made inputs
   with a known number of flipped decisions, ties and odd sizes. */
#include "check.h"
#include "fer/reference_measures.h"
#include "fer/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static fer_pair_sums sums_of(const float *ours, const float *ref, size_t n)
{
    fer_pair_sums s = {0};
    fer_pair_sums_add(&s, ours, ref, n);
    return s;
}

static void check_close(const char *what, double got, double want)
{
    printf("%-44s got %.15g, want %.15g\n", what, got, want);
    CHECK_MSG(fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want)), "%s", what);
}

static void check_norm_measures(void)
{
    const float ref[2] = {3, 4}, ours[2] = {3, 5};
    fer_pair_sums s = sums_of(ours, ref, 2);
    check_close("rel L2 of (3,5) against (3,4)", fer_rel_l2(&s), 0.2); /* |(0,1)| / 5 */
    check_close("cosine of (3,5) and (3,4)", fer_cosine(&s), 29.0 / (sqrt(34.0) * 5.0));

    s = sums_of(ref, ref, 2);
    check_close("rel L2 of a tensor against itself", fer_rel_l2(&s), 0.0);
    check_close("cosine of a tensor with itself", fer_cosine(&s), 1.0);

    const float twice[2] = {6, 8}, opposite[2] = {-3, -4}, orthogonal[2] = {-4, 3};
    s = sums_of(twice, ref, 2);
    check_close("rel L2 of 2 x ref", fer_rel_l2(&s), 1.0);
    check_close("cosine of 2 x ref", fer_cosine(&s), 1.0);
    s = sums_of(opposite, ref, 2);
    check_close("rel L2 of -ref", fer_rel_l2(&s), 2.0);
    check_close("cosine of -ref", fer_cosine(&s), -1.0);
    s = sums_of(orthogonal, ref, 2);
    check_close("cosine of an orthogonal vector", fer_cosine(&s), 0.0);
    check_close("rel L2 of an orthogonal vector", fer_rel_l2(&s), sqrt(2.0));
}

/* Adding two tensors' pairs equals the pairs of their concatenation, and a
   small relative perturbation gives the rel L2 it was made with. */
static void check_pooling(void)
{
    enum { N = 1000, SPLIT = 371 };
    float ref[N], ours[N];
    double noise2 = 0, ref2 = 0;
    for (int i = 0; i < N; i++) {
        ref[i] = (float)fer_uniform_range(21, (uint64_t)i, -2, 2);
        float e = (float)fer_uniform_range(22, (uint64_t)i, -1e-3, 1e-3);
        ours[i] = ref[i] + e;
        double d = (double)ours[i] - ref[i];
        noise2 += d * d;
        ref2 += (double)ref[i] * ref[i];
    }
    fer_pair_sums whole = sums_of(ours, ref, N), parts = {0};
    fer_pair_sums_add(&parts, ours, ref, SPLIT);
    fer_pair_sums_add(&parts, ours + SPLIT, ref + SPLIT, N - SPLIT);
    check_close("rel L2, two tensors pooled vs concatenated", fer_rel_l2(&parts), fer_rel_l2(&whole));
    check_close("cosine, two tensors pooled vs concatenated", fer_cosine(&parts), fer_cosine(&whole));
    check_close("rel L2 of a 1e-3 perturbation", fer_rel_l2(&whole), sqrt(noise2 / ref2));
    double cos = fer_cosine(&whole);
    printf("%-44s %.3e\n", "1 - cosine of that perturbation", 1 - cos);
    CHECK(cos < 1 && cos > 1 - 1e-6);
}

static void check_undefined(void)
{
    const float zero[3] = {0, 0, 0}, some[3] = {1, -2, 0.5f}, with_nan[3] = {1, NAN, 0.5f};
    fer_pair_sums s = sums_of(some, zero, 3);
    printf("reference all zeros: rel L2 %g, cosine %g (both undefined: NaN)\n", fer_rel_l2(&s),
           fer_cosine(&s));
    CHECK(isnan(fer_rel_l2(&s)) && isnan(fer_cosine(&s)));
    s = sums_of(zero, some, 3);
    printf("ours all zeros: rel L2 %g, cosine %g (1 and NaN)\n", fer_rel_l2(&s), fer_cosine(&s));
    CHECK(fer_rel_l2(&s) == 1.0 && isnan(fer_cosine(&s)));
    s = sums_of(with_nan, some, 3);
    printf("a NaN in ours: rel L2 %g, cosine %g (both NaN)\n", fer_rel_l2(&s), fer_cosine(&s));
    CHECK(isnan(fer_rel_l2(&s)) && isnan(fer_cosine(&s)));
}

static void check_relu(void)
{
    /* Pre-activations against post-activations of the other side: decisions
       2 (0.1 -> 0) and 4 (-1e-7 -> 1e-7) flip; 0 stays inactive on both. */
    const float ref_pre[6] = {1.5f, -2.0f, 0.1f, 0.0f, -1e-7f, 3.0f};
    const float ours_post[6] = {1.4f, 0.0f, 0.0f, 0.0f, 1e-7f, 3.0f};
    size_t d = fer_relu_decisions_differ(ours_post, ref_pre, 6);
    printf("ReLU decisions differing: %zu of 6 (want 2)\n", d);
    CHECK(d == 2);
    CHECK(fer_relu_decisions_differ(ref_pre, ref_pre, 6) == 0);
    const float nan_in[1] = {NAN}, positive[1] = {1};
    CHECK(fer_relu_decisions_differ(nan_in, positive, 1) == 1);
}

/* Max pooling over n=2, 5x6 (odd height: the last row belongs to no
   window), c=3 channels: 2 x 2 x 3 x 3 = 36 windows. */
enum { PN = 2, PH = 5, PW = 6, PC = 3, WINDOWS = PN * (PH / 2) * (PW / 2) * PC };

static size_t at(int b, int y, int x, int e)
{
    return (((size_t)b * PH + y) * PW + x) * PC + e;
}

static void check_pool(void)
{
    const size_t count = (size_t)PN * PH * PW * PC;
    float *ref = malloc(count * sizeof *ref), *ours = malloc(count * sizeof *ours);
    for (size_t i = 0; i < count; i++) /* distinct values: no ties */
        ref[i] = (float)fer_uniform_range(31, i, 0.5, 1.5) + (float)i * 1e-3f;
    memcpy(ours, ref, count * sizeof *ours);
    size_t decisions = 0, d = fer_pool_decisions_differ(ours, ref, PN, PH, PW, PC, &decisions);
    printf("pool, identical inputs: %zu of %zu decisions differ (want 0 of %d)\n", d, decisions, WINDOWS);
    CHECK(d == 0 && decisions == WINDOWS);

    /* The last row (y = 4) is outside every window: changing it changes
       nothing. */
    for (int x = 0; x < PW; x++)
        ours[at(1, 4, x, 2)] = 100;
    /* Window (b 0, rows 0-1, cols 2-3, channel 1): its bottom-right becomes
       the clear maximum. */
    ours[at(0, 1, 3, 1)] = 10;
    /* Window (b 1, rows 2-3, cols 4-5, channel 0): all four tie in ours, so
       the first one takes it; it differs unless the reference's max is the
       first. */
    const size_t w[4] = {at(1, 2, 4, 0), at(1, 2, 5, 0), at(1, 3, 4, 0), at(1, 3, 5, 0)};
    int ref_first = ref[w[0]] > ref[w[1]] && ref[w[0]] > ref[w[2]] && ref[w[0]] > ref[w[3]];
    for (int k = 0; k < 4; k++)
        ours[w[k]] = 0.25f;
    size_t want = 1 + (ref_first ? 0 : 1);
    d = fer_pool_decisions_differ(ours, ref, PN, PH, PW, PC, &decisions);
    printf("pool, two windows changed: %zu of %zu decisions differ (want %zu of %d)\n", d, decisions, want,
           WINDOWS);
    CHECK(d == want && decisions == WINDOWS);

    /* Reference ties (a window of zeros after a ReLU; two equal maxima)
       are no decisions, whatever ours holds there. */
    const size_t z[4] = {at(0, 2, 0, 2), at(0, 2, 1, 2), at(0, 3, 0, 2), at(0, 3, 1, 2)};
    for (int k = 0; k < 4; k++) {
        ref[z[k]] = 0;
        ours[z[k]] = k == 3 ? 1e-6f : 0;
    }
    ref[at(1, 0, 1, 1)] = ref[at(1, 1, 0, 1)] = 7; /* window (b 1, rows 0-1, cols 0-1, channel 1) */
    d = fer_pool_decisions_differ(ours, ref, PN, PH, PW, PC, &decisions);
    printf("pool, two tied reference windows: %zu of %zu decisions differ (want %zu of %d)\n", d, decisions,
           want, WINDOWS - 2);
    CHECK(d == want && decisions == WINDOWS - 2);
    CHECK(fer_pool_decisions_differ(ours, ref, PN, PH, PW, PC, NULL) == want);
    free(ref);
    free(ours);
}

int main(void)
{
    check_norm_measures();
    check_pooling();
    check_undefined();
    check_relu();
    check_pool();
    return check_report("test_reference_measures");
}
