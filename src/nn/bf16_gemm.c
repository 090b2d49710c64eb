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

void fer_bf16_pack_b(fer_bf16 *dst, const float *b, size_t row_stride, size_t col_stride, int k, int n)
{
    const size_t kp = (size_t)fer_bf16_kp(k);
    memset(dst, 0, fer_bf16_packed_size(k, n) * sizeof *dst);
    for (int r = 0; r < k; r++)
        for (int c = 0; c < n; c++) {
            size_t at = (size_t)(c / FER_BF16_PANEL) * kp * FER_BF16_PANEL +
                        (size_t)(r / 2) * 2 * FER_BF16_PANEL + (size_t)(c % FER_BF16_PANEL) * 2 +
                        (size_t)(r % 2);
            dst[at] = fer_bf16_from_float(b[(size_t)r * row_stride + (size_t)c * col_stride]);
        }
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
