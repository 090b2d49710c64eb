/* bf16 operands and the portable reference kernel; the choice of kernel
   (src/nn/bf16_gemm.h). */
#include "bf16_gemm.h"

#include "vector_clones.h"

/* The same rounding as fer_bf16_from_float, written as a select so that
   the loop vectorizes. */
FER_VECTOR_CLONES
void fer_bf16_round_row(fer_bf16 *dst, const float *src, size_t count, size_t padded)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        uint32_t nan = (u >> 16) | 0x40u, rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        dst[i] = (fer_bf16)((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
    }
    for (size_t i = count; i < padded; i++)
        dst[i] = 0;
}

void fer_bf16_pack_b_rows(fer_bf16 *dst, const float *b, size_t row_stride, size_t col_stride, int k, int n,
                          int r0, int r1)
{
    const size_t kp = (size_t)fer_bf16_kp(k);
    const int panels = fer_bf16_pad(n, FER_BF16_PANEL) / FER_BF16_PANEL;
    for (int p = r0 / 2; p < (r1 + 1) / 2; p++)
        for (int panel = 0; panel < panels; panel++) {
            fer_bf16 *out = dst + (size_t)panel * kp * FER_BF16_PANEL + (size_t)p * 2 * FER_BF16_PANEL;
            for (int lane = 0; lane < FER_BF16_PANEL; lane++) {
                int c = panel * FER_BF16_PANEL + lane;
                for (int half = 0; half < 2; half++) {
                    int r = 2 * p + half;
                    float v = r < k && c < n ? b[(size_t)r * row_stride + (size_t)c * col_stride] : 0.0f;
                    out[2 * lane + half] = fer_bf16_from_float(v);
                }
            }
        }
}

void fer_bf16_pack_b(fer_bf16 *dst, const float *b, size_t row_stride, size_t col_stride, int k, int n)
{
    fer_bf16_pack_b_rows(dst, b, row_stride, col_stride, k, n, 0, fer_bf16_kp(k));
}

/* One element after another, the pairs of each in order: the kernel the
   tests trust, not one to run. */
void fer_bf16_gemm_reference(float *c, size_t ldc, const fer_bf16 *a, size_t lda, const fer_bf16 *b_packed,
                             int m, int n, int kp, int accumulate)
{
    for (int i = 0; i < m; i++) {
        const fer_bf16 *ar = a + (size_t)i * lda;
        for (int j = 0; j < n; j++) {
            const fer_bf16 *bc = b_packed + (size_t)(j / FER_BF16_PANEL) * (size_t)kp * FER_BF16_PANEL +
                                 (size_t)(j % FER_BF16_PANEL) * 2;
            float acc = accumulate ? c[(size_t)i * ldc + j] : 0.0f;
            for (int p = 0; p < kp / 2; p++) {
                acc += fer_bf16_to_float(ar[2 * p]) * fer_bf16_to_float(bc[(size_t)p * 2 * FER_BF16_PANEL]);
                acc += fer_bf16_to_float(ar[2 * p + 1]) *
                       fer_bf16_to_float(bc[(size_t)p * 2 * FER_BF16_PANEL + 1]);
            }
            c[(size_t)i * ldc + j] = acc;
        }
    }
}

void fer_bf16_gemm(fer_products kernel, float *c, size_t ldc, const fer_bf16 *a, size_t lda,
                   const fer_bf16 *b_packed, int m, int n, int kp, int accumulate)
{
    if (m <= 0 || n <= 0)
        return;
    if (kernel == FER_PRODUCTS_BF16_AMX) {
        int done = fer_bf16_gemm_amx(c, ldc, a, lda, b_packed, m, n, kp, accumulate);
        c += (size_t)done * ldc;
        a += (size_t)done * lda;
        m -= done;
        kernel = FER_PRODUCTS_BF16_AVX512;
    }
    if (m <= 0)
        return;
    if (kernel == FER_PRODUCTS_BF16_AVX512)
        fer_bf16_gemm_avx512(c, ldc, a, lda, b_packed, m, n, kp, accumulate);
    else
        fer_bf16_gemm_reference(c, ldc, a, lda, b_packed, m, n, kp, accumulate);
}
