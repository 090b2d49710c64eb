/* The AVX512-BF16 kernel of fer_bf16_gemm (src/nn/bf16_gemm.h).

   A register tile holds MR rows of C by two panels (32 columns) in 28
   accumulators. For each pair of depth indices, vdpbf16ps multiplies a
   broadcast pair of A's row (a[r][2p], a[r][2p+1]) by a panel row of B's
   pairs and adds both products into each of 16 fp32 lanes, so every
   element of C sums its products pair after pair, in depth order. */
#include "bf16_gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

enum { MR = 14 };

/* Columns [0, 16) of a panel that C has, as a store mask. */
BF16_TARGET static inline __mmask16 column_mask(int cols)
{
    return cols >= FER_BF16_PANEL ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1u);
}

/* C[0..rows) x [panels of 16] (+)= A B over kp: NV panels (1 or 2), the
   first nv - 1 full, the last with `cols` columns of C. */
BF16_TARGET __attribute__((always_inline)) static inline void tile(float *c, size_t ldc, const fer_bf16 *a,
                                                                   size_t lda, const fer_bf16 *b0,
                                                                   const fer_bf16 *b1, int kp, int accumulate,
                                                                   const int rows, const int nv, int cols)
{
    __m512 acc[MR][2];
    const __mmask16 last = column_mask(cols);
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) {
            __mmask16 mk = v == nv - 1 ? last : (__mmask16)0xffff;
            acc[r][v] =
                accumulate ? _mm512_maskz_loadu_ps(mk, c + (size_t)r * ldc + 16 * v) : _mm512_setzero_ps();
        }
    for (int p = 0; p < kp / 2; p++) {
        __m512i bv[2];
        bv[0] = _mm512_loadu_si512((const void *)(b0 + (size_t)p * 2 * FER_BF16_PANEL));
        if (nv == 2)
            bv[1] = _mm512_loadu_si512((const void *)(b1 + (size_t)p * 2 * FER_BF16_PANEL));
        for (int r = 0; r < rows; r++) {
            uint32_t pair;
            memcpy(&pair, a + (size_t)r * lda + 2 * (size_t)p, sizeof pair);
            __m512i av = _mm512_set1_epi32((int)pair);
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)av, (__m512bh)bv[v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) {
            __mmask16 mk = v == nv - 1 ? last : (__mmask16)0xffff;
            _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16 * v, mk, acc[r][v]);
        }
}

/* One tile instance per row count and panel count, so that every loop of
   the tile has constant bounds and the accumulators stay in registers. */
#define ROWS_CASE(R, NV)                                                                                     \
    case R:                                                                                                  \
        tile(c, ldc, a, lda, b0, b1, kp, accumulate, R, NV, cols);                                           \
        break;
#define ROWS_SWITCH(NV)                                                                                      \
    switch (rows) {                                                                                          \
        ROWS_CASE(14, NV)                                                                                    \
        ROWS_CASE(13, NV)                                                                                    \
        ROWS_CASE(12, NV)                                                                                    \
        ROWS_CASE(11, NV)                                                                                    \
        ROWS_CASE(10, NV)                                                                                    \
        ROWS_CASE(9, NV)                                                                                     \
        ROWS_CASE(8, NV)                                                                                     \
        ROWS_CASE(7, NV)                                                                                     \
        ROWS_CASE(6, NV)                                                                                     \
        ROWS_CASE(5, NV)                                                                                     \
        ROWS_CASE(4, NV)                                                                                     \
        ROWS_CASE(3, NV)                                                                                     \
        ROWS_CASE(2, NV)                                                                                     \
    default:                                                                                                 \
        tile(c, ldc, a, lda, b0, b1, kp, accumulate, 1, NV, cols);                                           \
    }

BF16_TARGET static void panels2(float *c, size_t ldc, const fer_bf16 *a, size_t lda, const fer_bf16 *b0,
                                const fer_bf16 *b1, int kp, int accumulate, int rows,
                                int cols){ROWS_SWITCH(2)}

BF16_TARGET
    static void panels1(float *c, size_t ldc, const fer_bf16 *a, size_t lda, const fer_bf16 *b0,
                        const fer_bf16 *b1, int kp, int accumulate, int rows, int cols){ROWS_SWITCH(1)}

/* Two panels at a time; within them, tiles of MR rows, so that the two
   panels (kp x 32 values) stay in cache while A streams through. */
BF16_TARGET void fer_bf16_gemm_avx512(float *c, size_t ldc, const fer_bf16 *a, size_t lda,
                                      const fer_bf16 *b_packed, int m, int n, int kp, int accumulate)
{
    const size_t panel = (size_t)kp * FER_BF16_PANEL;
    for (int j = 0; j < n; j += 2 * FER_BF16_PANEL) {
        const fer_bf16 *b0 = b_packed + (size_t)(j / FER_BF16_PANEL) * panel, *b1 = b0 + panel;
        int left = n - j;
        for (int i = 0; i < m; i += MR) {
            int rows = m - i < MR ? m - i : MR;
            float *ct = c + (size_t)i * ldc + j;
            const fer_bf16 *at = a + (size_t)i * lda;
            if (left > FER_BF16_PANEL)
                panels2(ct, ldc, at, lda, b0, b1, kp, accumulate, rows, left - FER_BF16_PANEL);
            else
                panels1(ct, ldc, at, lda, b0, b1, kp, accumulate, rows, left);
        }
    }
}

#else

/* No AVX512-BF16 here (fer_bf16_kernel_runs never picks it); the
   reference computes the same products. */
void fer_bf16_gemm_avx512(float *c, size_t ldc, const fer_bf16 *a, size_t lda, const fer_bf16 *b_packed,
                          int m, int n, int kp, int accumulate)
{
    fer_bf16_gemm_reference(c, ldc, a, lda, b_packed, m, n, kp, accumulate);
}

#endif
