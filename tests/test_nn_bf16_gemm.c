/* The bf16 products (src/nn/bf16_gemm.h) of every kernel this CPU runs,
   against a double-precision product of the same bf16-rounded operands.
   The bf16 products are exact in fp32, so the only error allowed is the
   fp32 summation's: |c - exact| <= gamma_k * sum |a b| + k * FLT_MIN
   (gamma_k = k u / (1 - k u), u = 2^-24; the FLT_MIN term for the hardware
   kernels' flush of subnormal results). Shapes with odd sizes, partial
   register tiles and AMX blocks, panels cut by n, wider strides and
   accumulation; columns beyond n must stay untouched. Also the rounding
   itself (to nearest even, NaN kept) and the packing against its
   definition. Kernels this CPU lacks are skipped and named. */
#include "../src/nn/bf16_gemm.h"
#include "check.h"
#include "fer/rng.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_rounding(void)
{
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even 1.
       1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: to the even
       1 + 2^-6. Just above a tie rounds up. */
    CHECK(fer_bf16_from_float(1.0f + 0x1p-8f) == 0x3f80);
    CHECK(fer_bf16_from_float(1.0f + 3 * 0x1p-8f) == 0x3f82);
    CHECK(fer_bf16_from_float(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);
    CHECK(fer_bf16_from_float(-1.0f - 0x1p-8f - 0x1p-20f) == 0xbf81);
    CHECK(fer_bf16_from_float(INFINITY) == 0x7f80);
    CHECK(fer_bf16_from_float(FLT_MAX) == 0x7f80); /* rounds up to infinity, as RNE does */
    fer_bf16 nan = fer_bf16_from_float(bits_to_float(0x7f800001u));
    CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0);
    /* the vector row rounding agrees with the scalar one on random and
       special values, and pads with zeros */
    enum { N = 1000, PADDED = 1024 };
    float src[N];
    fer_bf16 row[PADDED];
    for (int i = 0; i < N; i++)
        src[i] = (float)fer_uniform_range(5, (uint64_t)i, -1e3, 1e3) * (i % 7 == 0 ? 1e-30f : 1.0f);
    src[3] = bits_to_float(0x7fc00001u);
    src[4] = -INFINITY;
    src[5] = 1.0f + 0x1p-8f;
    fer_bf16_round_row(row, src, N, PADDED);
    int same = 1;
    for (int i = 0; i < N; i++)
        same &= row[i] == fer_bf16_from_float(src[i]);
    for (int i = N; i < PADDED; i++)
        same &= row[i] == 0;
    printf("rounding: ties to even, NaN and infinity, and fer_bf16_round_row over %d values: %s\n", N,
           same ? "as specified" : "DIFFERENT");
    CHECK(same);
}

/* The packed element of B (r, c), by the layout's definition. */
static fer_bf16 packed_at(const fer_bf16 *p, int k, int r, int c)
{
    size_t kp = (size_t)fer_bf16_kp(k);
    return p[(size_t)(c / 16) * kp * 16 + (size_t)(r / 2) * 32 + (size_t)(c % 16) * 2 + (size_t)(r % 2)];
}

/* One shape on one kernel; returns the worst error relative to the bound. */
static double check_shape(fer_products kernel, int m, int n, int k, int accumulate, int transposed_b)
{
    const int kp = fer_bf16_kp(k);
    const size_t lda = (size_t)kp + 32, ldc = (size_t)n + 5, ldb = (size_t)n + 3;
    float *af = malloc((size_t)m * k * sizeof *af), *bf = malloc((size_t)k * ldb * sizeof *bf);
    fer_bf16 *a = calloc((size_t)m * lda, sizeof *a), *bp = malloc(fer_bf16_packed_size(k, n) * sizeof *bp);
    float *c = malloc((size_t)m * ldc * sizeof *c), *c0 = malloc((size_t)m * ldc * sizeof *c0);
    for (size_t i = 0; i < (size_t)m * k; i++)
        af[i] = (float)fer_uniform_range(21, i, -2, 2);
    for (size_t i = 0; i < (size_t)k * ldb; i++)
        bf[i] = (float)fer_uniform_range(22, i, -2, 2) * (i % 5 == 0 ? 100.0f : 1.0f);
    for (size_t i = 0; i < (size_t)m * ldc; i++)
        c0[i] = (float)fer_uniform_range(23, i, -4, 4);
    for (int i = 0; i < m; i++)
        fer_bf16_round_row(a + (size_t)i * lda, af + (size_t)i * k, (size_t)k, (size_t)kp);
    /* B given either row-major (k x n, row stride ldb) or as the transpose
       of an n x k matrix: the two ways convolutions pack kernels */
    float *bt = malloc((size_t)n * k * sizeof *bt);
    for (int r = 0; r < k; r++)
        for (int j = 0; j < n; j++)
            bt[(size_t)j * k + r] = bf[(size_t)r * ldb + j];
    if (transposed_b)
        fer_bf16_pack_b(bp, bt, 1, (size_t)k, k, n);
    else
        fer_bf16_pack_b(bp, bf, ldb, 1, k, n);
    int layout_ok = 1;
    for (int r = 0; r < k; r++)
        for (int j = 0; j < n; j++)
            layout_ok &= packed_at(bp, k, r, j) == fer_bf16_from_float(bf[(size_t)r * ldb + j]);
    for (int r = k; r < kp; r++)
        for (int j = 0; j < fer_bf16_pad(n, 16); j++)
            layout_ok &= packed_at(bp, k, r, j) == 0;
    CHECK_MSG(layout_ok, "packing %d x %d", k, n);
    memcpy(c, c0, (size_t)m * ldc * sizeof *c);
    fer_bf16_gemm(kernel, c, ldc, a, lda, bp, m, n, kp, accumulate);
    const double u = 0x1p-24, gamma = (k + 1) * u / (1 - (k + 1) * u);
    double worst = 0.0;
    int outside_kept = 1;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double exact = accumulate ? c0[(size_t)i * ldc + j] : 0.0, mag = fabs(exact);
            for (int r = 0; r < k; r++) {
                double p = (double)fer_bf16_to_float(a[(size_t)i * lda + r]) *
                           (double)fer_bf16_to_float(fer_bf16_from_float(bf[(size_t)r * ldb + j]));
                exact += p;
                mag += fabs(p);
            }
            double bound = gamma * mag + (k + 1) * (double)FLT_MIN;
            double e = fabs((double)c[(size_t)i * ldc + j] - exact) / bound;
            worst = e > worst ? e : worst;
        }
        for (size_t j = (size_t)n; j < ldc; j++)
            outside_kept &= c[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j];
    }
    CHECK_MSG(outside_kept, "%s wrote past column %d", fer_products_name(kernel), n);
    free(af), free(bf), free(bt), free(a), free(bp), free(c), free(c0);
    return worst;
}

static void test_kernel(fer_products kernel)
{
    if (!fer_bf16_kernel_runs(kernel)) {
        printf("%s: skipped, this CPU (or the OS) cannot run it\n", fer_products_name(kernel));
        return;
    }
    static const int shapes[][3] = {{1, 1, 1},     {3, 7, 5},        {14, 32, 32}, {15, 33, 64},
                                    {31, 16, 27},  {32, 32, 32},     {33, 48, 97}, {64, 64, 576},
                                    {70, 17, 300}, {100, 256, 1152}, {96, 7, 128}, {45, 130, 2304}};
    double worst = 0.0;
    int cases = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int acc = 0; acc < 2; acc++)
            for (int t = 0; t < 2; t++) {
                double e = check_shape(kernel, shapes[s][0], shapes[s][1], shapes[s][2], acc, t);
                CHECK_MSG(e <= 1.0, "%s m %d n %d k %d acc %d: error %.3g of the bound",
                          fer_products_name(kernel), shapes[s][0], shapes[s][1], shapes[s][2], acc, e);
                worst = e > worst ? e : worst;
                cases++;
            }
    printf("%s: %d shapes (m 1..100, n 1..256, k 1..2304, overwrite and accumulate), worst error %.3f of "
           "the fp32-summation bound (must be <= 1)\n",
           fer_products_name(kernel), cases, worst);
}

int main(void)
{
    test_rounding();
    test_kernel(FER_PRODUCTS_BF16_REFERENCE);
    test_kernel(FER_PRODUCTS_BF16_AVX512);
    test_kernel(FER_PRODUCTS_BF16_AMX);
    return check_report("test_nn_bf16_gemm");
}
