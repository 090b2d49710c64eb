/* fer's own GEMM (src/nn/own_gemm.c) against loops in double: c = a^T b and
   c += a^T b (kernel gradients), and c = a b with b packed in panels
   (Winograd and 1x1 products). Row counts that leave partial register
   tiles, a 16-wide last panel, strides wider than the matrices, and the
   columns of c beyond n left alone. On an AVX-512 CPU this checks the
   AVX-512 kernels; the convolution tests reach the a^T b one only where the
   loaded OpenBLAS kernel is narrower than AVX-512, so it is called here
   directly. Built with FER_OWN_GEMM_PORTABLE (test_nn_gemm_portable) or run
   without AVX-512 it checks the portable fallbacks, which must compute the
   same products. */
#include "../src/nn/own_gemm.h"
#include "check.h"
#include "fer/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *random_floats(size_t n, uint64_t key)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; x && i < n; i++)
        x[i] = (float)fer_uniform_range(key, i, -1, 1);
    return x;
}

/* The worst error of c against want (m x n), relative to the sum of the
   products' magnitudes, and whether the columns past n kept c0's values. */
static double compare(const float *c, const float *c0, const double *want, const double *mag, int m, int n,
                      size_t ldc, int *outside)
{
    double worst = 0.0;
    *outside = 1;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            size_t at = (size_t)i * (size_t)n + (size_t)j;
            worst = fmax(worst, fabs(c[(size_t)i * ldc + j] - want[at]) / (mag[at] > 0 ? mag[at] : 1.0));
        }
        *outside &= !memcmp(c + (size_t)i * ldc + n, c0 + (size_t)i * ldc + n, (ldc - (size_t)n) * sizeof *c);
    }
    return worst;
}

static void check_at_b(int m, int n, int k, int accumulate)
{
    const size_t lda = (size_t)m + 3, ldb = (size_t)n + 5, ldc = (size_t)n + 7;
    float *a = random_floats((size_t)k * lda, 11), *b = random_floats((size_t)k * ldb, 12);
    float *c0 = random_floats((size_t)m * ldc, 13), *c = malloc((size_t)m * ldc * sizeof *c);
    double *want = malloc((size_t)m * (size_t)n * sizeof *want),
           *mag = malloc((size_t)m * (size_t)n * sizeof *mag);
    memcpy(c, c0, (size_t)m * ldc * sizeof *c);
    fer_own_gemm_at_b(c, ldc, a, lda, b, ldb, m, n, k, accumulate);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double w = accumulate ? c0[(size_t)i * ldc + j] : 0.0, s = fabs(w);
            for (int p = 0; p < k; p++) {
                double t = (double)a[(size_t)p * lda + i] * b[(size_t)p * ldb + j];
                w += t;
                s += fabs(t);
            }
            want[(size_t)i * n + j] = w;
            mag[(size_t)i * n + j] = s;
        }
    int outside;
    double worst = compare(c, c0, want, mag, m, n, ldc, &outside);
    printf("c %s a^T b, m=%d n=%d k=%d: worst error / absolute sum %.2e (tol 1e-6); columns past n "
           "untouched: %s\n",
           accumulate ? "+=" : "=", m, n, k, worst, outside ? "yes" : "no");
    CHECK(worst < 1e-6);
    CHECK(outside);
    free(a), free(b), free(c), free(c0), free(want), free(mag);
}

static void check_packed(int m, int n, int k)
{
    const size_t lda = (size_t)k + 3, ldc = (size_t)n + 7;
    float *a = random_floats((size_t)m * lda, 21), *b = random_floats((size_t)k * (size_t)n, 22);
    float *c0 = random_floats((size_t)m * ldc, 23), *c = malloc((size_t)m * ldc * sizeof *c);
    float *packed = malloc((size_t)k * (size_t)n * sizeof *packed);
    double *want = malloc((size_t)m * (size_t)n * sizeof *want),
           *mag = malloc((size_t)m * (size_t)n * sizeof *mag);
    for (int p = 0; p < k; p++)
        for (int j = 0; j < n; j++)
            packed[fer_own_gemm_packed_at(p, j, n, k)] = b[(size_t)p * n + j];
    memcpy(c, c0, (size_t)m * ldc * sizeof *c);
    fer_own_gemm_packed(c, ldc, a, lda, packed, m, n, k);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double w = 0.0, s = 0.0;
            for (int p = 0; p < k; p++) {
                double t = (double)a[(size_t)i * lda + p] * b[(size_t)p * n + j];
                w += t;
                s += fabs(t);
            }
            want[(size_t)i * n + j] = w;
            mag[(size_t)i * n + j] = s;
        }
    int outside;
    double worst = compare(c, c0, want, mag, m, n, ldc, &outside);
    printf("c = a b (b packed), m=%d n=%d k=%d: worst error / absolute sum %.2e (tol 1e-6); columns past n "
           "untouched: %s\n",
           m, n, k, worst, outside ? "yes" : "no");
    CHECK(worst < 1e-6);
    CHECK(outside);
    free(a), free(b), free(c), free(c0), free(packed), free(want), free(mag);
}

int main(void)
{
    printf("AVX-512 kernels %s on this CPU in this build (the a^T b one for 64 x 64: %s)\n",
           fer_own_gemm_packed_runs(512, 512) ? "run" : "do not run: checking the portable products",
           fer_own_gemm_at_b_runs(64, 64) ? "yes" : "no");
    check_at_b(75, 48, 37, 0); /* 5 full tiles of 14 rows and one of 5; panels of 32 and 16 */
    check_at_b(75, 48, 37, 1);
    check_at_b(64, 64, 200, 1);
    check_at_b(14, 16, 1, 0);
    check_packed(75, 48, 37);
    check_packed(130, 160, 129);
    check_packed(1, 16, 3);
    return check_report("test_nn_gemm_at_b");
}
