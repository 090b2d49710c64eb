/* fer_wgemm_tn, the own AVX-512 kernel-gradient GEMM (c = a^T b, or
   c += a^T b), against loops in double: row counts that leave partial
   register tiles, a 16-wide last panel, strides wider than the matrices,
   and the columns of c beyond n left alone. The convolution tests reach it
   only where the loaded OpenBLAS kernel is narrower than AVX-512; this
   test calls it directly. Skipped without AVX-512. */
#include "../src/nn/winograd_gemm.h"
#include "check.h"
#include "fer/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_shape(int m, int n, int k, int accumulate)
{
    const size_t lda = (size_t)m + 3, ldb = (size_t)n + 5, ldc = (size_t)n + 7;
    float *a = malloc((size_t)k * lda * sizeof *a), *b = malloc((size_t)k * ldb * sizeof *b);
    float *c = malloc((size_t)m * ldc * sizeof *c), *c0 = malloc((size_t)m * ldc * sizeof *c0);
    for (size_t i = 0; i < (size_t)k * lda; i++)
        a[i] = (float)fer_uniform_range(11, i, -1, 1);
    for (size_t i = 0; i < (size_t)k * ldb; i++)
        b[i] = (float)fer_uniform_range(12, i, -1, 1);
    for (size_t i = 0; i < (size_t)m * ldc; i++)
        c0[i] = (float)fer_uniform_range(13, i, -1, 1);
    memcpy(c, c0, (size_t)m * ldc * sizeof *c);
    fer_wgemm_tn(c, ldc, a, lda, b, ldb, m, n, k, accumulate);
    double worst = 0.0;
    int outside = 1;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double want = accumulate ? c0[(size_t)i * ldc + j] : 0.0, mag = fabs(want);
            for (int p = 0; p < k; p++) {
                double t = (double)a[(size_t)p * lda + i] * b[(size_t)p * ldb + j];
                want += t;
                mag += fabs(t);
            }
            worst = fmax(worst, fabs(c[(size_t)i * ldc + j] - want) / (mag > 0 ? mag : 1.0));
        }
        outside &= !memcmp(c + (size_t)i * ldc + n, c0 + (size_t)i * ldc + n, (ldc - (size_t)n) * sizeof *c);
    }
    printf(
        "c %s a^T b, m=%d n=%d k=%d: worst error / absolute sum %.2e (tol 1e-6); columns past n untouched: "
        "%s\n",
        accumulate ? "+=" : "=", m, n, k, worst, outside ? "yes" : "no");
    CHECK(worst < 1e-6);
    CHECK(outside);
    free(a);
    free(b);
    free(c);
    free(c0);
}

/* src/nn/winograd_gemm.c builds the kernel only for GCC on x86-64. */
static int own_gemm_runs(void)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

int main(void)
{
    if (!own_gemm_runs()) {
        printf("skipped: fer's own GEMM needs AVX-512 and a GCC build for x86-64\n");
        return CHECK_SKIP;
    }
    check_shape(75, 48, 37, 0); /* 5 full tiles of 14 rows and one of 5; panels of 32 and 16 */
    check_shape(75, 48, 37, 1);
    check_shape(64, 64, 200, 1);
    check_shape(14, 16, 1, 0);
    return check_report("test_nn_gemm_at_b");
}
