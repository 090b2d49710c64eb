/* Forward passes of the layer kernels against naive direct loops in double:
   convolutions of odd shapes, 5x5 and 1x1 kernels, and batches larger than
   one im2col chunk (chunks that start and end inside an image), a 1x1
   convolution wide enough for fer's own AVX-512 GEMM; max pooling
   of odd sizes (floor); BatchNorm statistics and inference; dense, GAP,
   softmax; Glorot ranges and keyed determinism.

   Tolerance for GEMM-based outputs: a float sum of K products has a rounding
   error bounded by about K * 2^-24 * sum |terms| and in practice near
   sqrt(K) * 2^-24 * sum |terms|; errors are reported relative to
   sum |terms| + |bias| and held to 1e-5 (K <= 1600 here). */
#include "../src/nn/own_gemm.h"
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include <math.h>
#include <string.h>

static float *alloc_uniform(size_t count, uint64_t key, double lo, double hi)
{
    float *a = malloc((count ? count : 1) * sizeof *a);
    for (size_t i = 0; i < count; i++)
        a[i] = (float)fer_uniform_range(key, i, lo, hi);
    return a;
}

/* ---- conv2d --------------------------------------------------------------- */

/* The definition, one output at a time: returns the value and, in *mag, the
   sum of absolute terms (for the error bound). */
static double naive_conv_at(const float *x, const float *k, const float *b, const fer_conv_dims *d, int n,
                            int oh, int ow, int co, double *mag)
{
    double s = b[co];
    *mag = fabs(s);
    for (int i = 0; i < d->k; i++)
        for (int j = 0; j < d->k; j++)
            for (int c = 0; c < d->ci; c++) {
                int ih = oh + i - d->pad, iw = ow + j - d->pad;
                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w)
                    continue;
                double t = (double)x[(((size_t)n * d->h + ih) * d->w + iw) * d->ci + c] *
                           k[(((size_t)i * d->k + j) * d->ci + c) * d->co + co];
                s += t;
                *mag += fabs(t);
            }
    return s;
}

static void check_conv(int n, int h, int w, int ci, int co, int k, int same, int relu, int want_chunks)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, n, h, w, ci, co, k, same);
    const size_t nx = (size_t)n * h * w * ci, nk = (size_t)k * k * ci * co, ny = (size_t)n * d.ho * d.wo * co;
    float *x = alloc_uniform(nx, 1, -1, 1), *kk = alloc_uniform(nk, 2, -1, 1),
          *b = alloc_uniform(co, 3, -1, 1);
    float *y = malloc(ny * sizeof *y), *scratch = malloc(fer_conv2d_scratch_floats(&d) * sizeof *scratch);
    /* NaN poison: every output must be written. */
    memset(y, 0xff, ny * sizeof *y);
    fer_conv2d_forward(y, x, kk, b, &d, relu, scratch);
    double worst = 0.0;
    for (int s = 0; s < n; s++)
        for (int oh = 0; oh < d.ho; oh++)
            for (int ow = 0; ow < d.wo; ow++)
                for (int c = 0; c < co; c++) {
                    double mag, ref = naive_conv_at(x, kk, b, &d, s, oh, ow, c, &mag);
                    if (relu && ref < 0.0)
                        ref = 0.0;
                    double got = y[(((size_t)s * d.ho + oh) * d.wo + ow) * co + c];
                    double err = fabs(got - ref) / (mag + 1e-30);
                    worst = isnan(got) ? INFINITY : fmax(worst, err);
                }
    /* Chunks: the scratch holds whole im2col rows of k*k*ci floats, plus
       the co bias partial sums. */
    size_t patch = (size_t)k * k * ci, pixels = (size_t)n * d.ho * d.wo;
    size_t chunk = k == 1 ? pixels : (fer_conv2d_scratch_floats(&d) - co) / patch;
    size_t chunks = chunk ? (pixels + chunk - 1) / chunk : 0;
    printf("conv2d %dx%d %s%s n=%d %dx%d ci=%d co=%d -> %dx%d (%zu chunk(s) of %zu pixels%s): max rel err "
           "%.2e (tol 1e-5)\n",
           k, k, same ? "same" : "valid", relu ? " relu" : "", n, h, w, ci, co, d.ho, d.wo, chunks, chunk,
           k == 1 && fer_own_gemm_packed_runs(ci, co) ? ", own GEMM" : "", worst);
    CHECK(worst < 1e-5);
    if (want_chunks) {
        /* The point of this shape: a chunk boundary inside an image. */
        CHECK_MSG(chunks >= 2 && chunk % ((size_t)d.ho * d.wo) != 0, "%zu chunks of %zu", chunks, chunk);
    }
    free(scratch);
    free(y);
    free(b);
    free(kk);
    free(x);
}

/* A batch large enough for at least two im2col chunks, found from the
   scratch size so that the test follows any change of the chunk budget. */
static void check_conv_chunked(int h, int w, int ci, int co, int same, int relu)
{
    fer_conv_dims d;
    /* Queried with a huge batch, so that the chunk is not capped by it. */
    fer_conv_dims_init(&d, 1 << 20, h, w, ci, co, 3, same);
    size_t chunk = (fer_conv2d_scratch_floats(&d) - co) / ((size_t)9 * ci);
    int n = (int)(chunk / ((size_t)d.ho * d.wo)) + 2;
    check_conv(n, h, w, ci, co, 3, same, relu, 1);
}

/* ---- maxpool, batchnorm ------------------------------------------------ */

static void check_maxpool(int n, int h, int w, int c)
{
    const int ho = h / 2, wo = w / 2;
    const size_t nx = (size_t)n * h * w * c, ny = (size_t)n * ho * wo * c;
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
    /* Few distinct values, so windows hold ties. */
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)(fer_draw64(5, i) % 7) - 3.0f;
    fer_maxpool2_forward(y, x, n, h, w, c);
    int wrong = 0;
    for (int s = 0; s < n; s++)
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++)
                for (int ch = 0; ch < c; ch++) {
                    float m = -INFINITY;
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++)
                            m = fmaxf(m, x[(((size_t)s * h + 2 * oh + i) * w + 2 * ow + j) * c + ch]);
                    wrong += y[(((size_t)s * ho + oh) * wo + ow) * c + ch] != m;
                }
    printf("maxpool2 n=%d %dx%d c=%d -> %dx%d: %d wrong outputs\n", n, h, w, c, ho, wo, wrong);
    CHECK(wrong == 0);
    free(y);
    free(x);
}

static void check_batchnorm(void)
{
    enum { ROWS = 37, C = 6 };
    const float momentum = 0.99f, eps = 1e-3f;
    float *x = alloc_uniform(ROWS * C, 11, -2, 5), *gamma = alloc_uniform(C, 12, 0.5, 2),
          *beta = alloc_uniform(C, 13, -1, 1), *mm = alloc_uniform(C, 14, -1, 1),
          *mv = alloc_uniform(C, 15, 0.5, 2);
    float y[ROWS * C], mm2[C], mv2[C], mean[C], invstd[C];
    memcpy(mm2, mm, sizeof mm2);
    memcpy(mv2, mv, sizeof mv2);
    long m =
        fer_batchnorm_forward_train(y, x, gamma, beta, mm2, mv2, mean, invstd, ROWS, C, momentum, eps, NULL);
    double ey = 0.0, estat = 0.0;
    for (int j = 0; j < C; j++) {
        double s = 0.0, ss = 0.0;
        for (int r = 0; r < ROWS; r++)
            s += x[r * C + j];
        double mu = s / ROWS;
        for (int r = 0; r < ROWS; r++)
            ss += (x[r * C + j] - mu) * (x[r * C + j] - mu);
        double var = ss / ROWS; /* biased: normalizes the batch */
        for (int r = 0; r < ROWS; r++) {
            double ref = gamma[j] * (x[r * C + j] - mu) / sqrt(var + eps) + beta[j];
            ey = fmax(ey, fabs(y[r * C + j] - ref));
        }
        /* Keras 2.2: the moving variance takes the unbiased estimate. */
        double ref_mm = momentum * (double)mm[j] + (1 - momentum) * mu;
        double ref_mv = momentum * (double)mv[j] + (1 - momentum) * ss / (ROWS - 1);
        estat = fmax(estat, fmax(fabs(mm2[j] - ref_mm), fabs(mv2[j] - ref_mv)));
        estat =
            fmax(estat, fmax(fabs(mean[j] - mu), fabs(invstd[j] - 1 / sqrt(var + eps)) * sqrt(var + eps)));
    }
    printf("batchnorm train %d x %d: y max abs err %.1e (tol 1e-5), statistics %.1e (tol 1e-6), m = %ld\n",
           ROWS, C, ey, estat, m);
    CHECK(ey < 1e-5 && estat < 1e-6 && m == ROWS);

    fer_batchnorm_forward_infer(y, x, gamma, beta, mm, mv, ROWS, C, eps);
    double ei = 0.0;
    for (int r = 0; r < ROWS; r++)
        for (int j = 0; j < C; j++) {
            double ref = gamma[j] * (x[r * C + j] - (double)mm[j]) / sqrt((double)mv[j] + eps) + beta[j];
            ei = fmax(ei, fabs(y[r * C + j] - ref));
        }
    printf("batchnorm inference %d x %d: max abs err %.1e (tol 1e-5)\n", ROWS, C, ei);
    CHECK(ei < 1e-5);
    free(mv);
    free(mm);
    free(beta);
    free(gamma);
    free(x);
}

/* ---- dense, gap, relu, softmax ------------------------------------------- */

static void check_dense(int relu)
{
    enum { N = 5, IN = 13, OUT = 7 };
    float *x = alloc_uniform(N * IN, 21, -1, 1), *w = alloc_uniform(IN * OUT, 22, -1, 1),
          *b = alloc_uniform(OUT, 23, -1, 1), y[N * OUT];
    fer_dense_forward(y, x, w, b, N, IN, OUT, relu);
    double worst = 0.0;
    for (int s = 0; s < N; s++)
        for (int o = 0; o < OUT; o++) {
            double ref = b[o], mag = fabs(b[o]);
            for (int i = 0; i < IN; i++) {
                ref += (double)x[s * IN + i] * w[i * OUT + o];
                mag += fabs((double)x[s * IN + i] * w[i * OUT + o]);
            }
            if (relu && ref < 0)
                ref = 0;
            worst = fmax(worst, fabs(y[s * OUT + o] - ref) / mag);
        }
    printf("dense %s %dx%d -> %d: max rel err %.1e (tol 1e-5)\n", relu ? "relu" : "linear", N, IN, OUT,
           worst);
    CHECK(worst < 1e-5);
    free(b);
    free(w);
    free(x);
}

static void check_gap_relu(void)
{
    enum { N = 3, HW = 10, C = 4 };
    float *x = alloc_uniform(N * HW * C, 31, -1, 1), y[N * C], r[N * HW * C];
    fer_gap_forward(y, x, N, HW, C);
    double worst = 0.0;
    for (int s = 0; s < N; s++)
        for (int c = 0; c < C; c++) {
            double ref = 0.0;
            for (int p = 0; p < HW; p++)
                ref += x[(s * HW + p) * C + c];
            worst = fmax(worst, fabs(y[s * C + c] - ref / HW));
        }
    printf("gap %d x %d x %d: max abs err %.1e (tol 1e-6)\n", N, HW, C, worst);
    CHECK(worst < 1e-6);
    fer_relu_forward(r, x, N * HW * C);
    int wrong = 0;
    for (int i = 0; i < N * HW * C; i++)
        wrong += r[i] != (x[i] > 0 ? x[i] : 0.0f);
    printf("relu: %d wrong of %d\n", wrong, N * HW * C);
    CHECK(wrong == 0);
    free(x);
}

static void check_softmax(void)
{
    enum { N = 3, K = 7 };
    float *logits = alloc_uniform(N * K, 41, -5, 5), probs[N * K];
    const int labels[N] = {1, 0, 6};
    fer_softmax_xent(NULL, probs, logits, labels, NULL, N, K, 1.0);
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        double s = 0.0;
        for (int j = 0; j < K; j++)
            s += exp(logits[i * K + j]);
        for (int j = 0; j < K; j++)
            worst = fmax(worst, fabs(probs[i * K + j] - exp(logits[i * K + j]) / s));
    }
    printf("softmax probabilities %d x %d: max abs err %.1e (tol 1e-7)\n", N, K, worst);
    CHECK(worst < 1e-7);
    free(logits);
}

/* ---- initialization ---------------------------------------------------- */

static void check_glorot(void)
{
    /* A 3x3x64x128 conv kernel: fan_in 576, fan_out 1152. */
    enum { COUNT = 3 * 3 * 64 * 128 };
    const int fan_in = 9 * 64, fan_out = 9 * 128;
    const double limit = sqrt(6.0 / (fan_in + fan_out));
    const uint64_t key = fer_key(42, FER_STREAM_INIT, 3, 0);
    float *w = malloc(COUNT * sizeof *w), *w2 = malloc(COUNT * sizeof *w2), *w3 = malloc(COUNT * sizeof *w3);
    fer_glorot_uniform(w, COUNT, fan_in, fan_out, key);
    double lo = INFINITY, hi = -INFINITY, s = 0.0, ss = 0.0;
    for (int i = 0; i < COUNT; i++) {
        lo = fmin(lo, w[i]);
        hi = fmax(hi, w[i]);
        s += w[i];
        ss += (double)w[i] * w[i];
    }
    double mean = s / COUNT, var = ss / COUNT - mean * mean, want_var = limit * limit / 3;
    printf("glorot %d values, limit %.5f: range [%.5f, %.5f], mean %.1e (tol 1e-3), var %.3e vs %.3e (tol "
           "2%%)\n",
           COUNT, limit, lo, hi, mean, var, want_var);
    CHECK(lo >= -limit && hi <= limit && lo < -0.99 * limit && hi > 0.99 * limit);
    CHECK(fabs(mean) < 1e-3 && fabs(var / want_var - 1) < 0.02);

    /* Keyed: the same key gives the same values (also for a prefix), another
       key different ones. */
    fer_glorot_uniform(w2, COUNT, fan_in, fan_out, key);
    fer_glorot_uniform(w3, 100, fan_in, fan_out, key);
    int same = memcmp(w, w2, COUNT * sizeof *w) == 0 && memcmp(w, w3, 100 * sizeof *w) == 0;
    fer_glorot_uniform(w2, COUNT, fan_in, fan_out, fer_key(42, FER_STREAM_INIT, 3, 1));
    int equal = 0;
    for (int i = 0; i < COUNT; i++)
        equal += w[i] == w2[i];
    printf("glorot keyed: same key reproduces: %s; another key: %d of %d values equal\n", same ? "yes" : "no",
           equal, COUNT);
    CHECK(same && equal < 10);
    free(w3);
    free(w2);
    free(w);
}

int main(void)
{
    check_conv(2, 7, 5, 3, 5, 3, 1, 0, 0);
    check_conv(2, 7, 5, 3, 5, 3, 1, 1, 0);
    check_conv(3, 9, 6, 4, 3, 3, 0, 0, 0);
    check_conv(3, 9, 6, 4, 3, 3, 0, 1, 0);
    check_conv(1, 6, 7, 2, 3, 5, 1, 1, 0);
    check_conv(2, 5, 3, 6, 7, 1, 1, 0, 0);
    check_conv(2, 5, 3, 6, 7, 1, 0, 1, 0);
    check_conv(1, 1, 1, 3, 2, 3, 1, 1, 0);
    check_conv(2, 9, 7, 144, 128, 1, 0, 1, 0); /* 1x1 wide enough for the own AVX-512 GEMM */
    check_conv_chunked(33, 31, 64, 5, 1, 1);
    check_conv_chunked(29, 27, 64, 4, 0, 0);
    check_maxpool(2, 7, 9, 3);
    check_maxpool(1, 6, 5, 2);
    check_maxpool(1, 1, 3, 2);
    check_batchnorm();
    check_dense(0);
    check_dense(1);
    check_gap_relu();
    check_softmax();
    check_glorot();
    return check_report("test_nn_forward");
}
