/* A forced kernel must compute the right numbers, not only run: multiply
   small matrices with cblas_sgemm and compare with a double-precision loop.
   Odd sizes reach the kernels' edge code; every transpose case reaches the
   packing routines the convolutions use. */
#include "fer/cpu.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Float rounding of a k <= 64 dot product stays far below this; a wrong
   kernel is off by O(1). */
#define SELF_CHECK_TOL 1e-4

typedef struct {
    int m, n, k;
} gemm_shape;

static float pseudo_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void fill(float *x, int count, uint32_t seed)
{
    for (int i = 0; i < count; i++)
        x[i] = pseudo_random(&seed);
}

/* Element (r, c) of a row-major matrix stored as rows x cols, or of its
   transpose. */
static double at(const float *x, int cols, int transposed, int r, int c)
{
    return transposed ? x[(size_t)c * cols + r] : x[(size_t)r * cols + c];
}

/* C = alpha op(A) op(B) + beta C0; error of each element relative to the sum
   of magnitudes that formed it, so cancellation cannot inflate it. */
static double check_one(gemm_shape s, int ta, int tb, float *a, float *b, float *c, const float *c0)
{
    const float alpha = 1.5f, beta = 0.5f;
    int lda = ta ? s.m : s.k, ldb = tb ? s.k : s.n;
    for (int i = 0; i < s.m * s.n; i++)
        c[i] = c0[i];
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, s.m, s.n, s.k,
                alpha, a, lda, b, ldb, beta, c, s.n);
    double worst = 0.0;
    for (int i = 0; i < s.m; i++)
        for (int j = 0; j < s.n; j++) {
            double sum = 0.0, magnitude = 0.0;
            for (int p = 0; p < s.k; p++) {
                double term = at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                sum += term;
                magnitude += fabs(term);
            }
            double want = alpha * sum + beta * c0[i * s.n + j];
            double scale = fabs(alpha) * magnitude + fabs(beta * c0[i * s.n + j]) + 1e-30;
            double e = fabs(c[i * s.n + j] - want) / scale;
            if (!(e <= worst)) /* also catches NaN */
                worst = isnan(e) ? INFINITY : e;
        }
    return worst;
}

int fer_blas_self_check(double *max_rel_err)
{
    static const gemm_shape shapes[] = {{64, 64, 64}, {67, 45, 53}};
    enum { MAX_ELEMS = 64 * 67 };
    float a[MAX_ELEMS], b[MAX_ELEMS], c[MAX_ELEMS], c0[MAX_ELEMS];
    double worst = 0.0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        gemm_shape s = shapes[i];
        fill(a, s.m * s.k, 1u + (uint32_t)i);
        fill(b, s.k * s.n, 101u + (uint32_t)i);
        fill(c0, s.m * s.n, 202u + (uint32_t)i);
        for (int t = 0; t < 4; t++) {
            double e = check_one(s, t & 1, t >> 1, a, b, c, c0);
            worst = e > worst ? e : worst;
        }
    }
    if (max_rel_err)
        *max_rel_err = worst;
    return worst <= SELF_CHECK_TOL;
}
