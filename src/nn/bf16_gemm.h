/* bf16 matrix products with fp32 accumulation, private to src/nn/: the
   operands of a mixed-precision convolution or dense layer, rounded from
   fp32 to bfloat16, multiplied by one of three kernels (include/fer/
   precision.h), the sums kept in fp32.

   Operands, in the one layout all three kernels read:
   - A, m x k: rows of bf16, k padded with zeros to a multiple of
     FER_BF16_KSTEP (kp), row stride lda >= kp elements.
   - B, k x n, packed: panels of FER_BF16_PANEL columns, each kp / 2 rows
     of FER_BF16_PANEL pairs (b[2p][j], b[2p+1][j]); n is padded with zero
     columns to a multiple of FER_BF16_PANEL. This is the AMX B tile's
     layout and what vdpbf16ps multiplies against a broadcast pair of A.

   Accuracy: a product of two bf16 values is exact in fp32, so the only
   error is the fp32 summation of k products: |C - exact| <= gamma_k *
   sum |a b| (gamma_k = k u / (1 - k u), u = 2^-24), plus k times FLT_MIN
   for the hardware kernels, which flush subnormals to zero. Each element
   of C depends on its row of A and column of B alone, and on nothing
   else as long as callers split m only at multiples of FER_BF16_ROWS:
   the AMX kernel leaves the last rows of a call to AVX512-BF16. */
#ifndef FER_NN_BF16_GEMM_H
#define FER_NN_BF16_GEMM_H

#include "fer/precision.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint16_t fer_bf16;

enum { FER_BF16_KSTEP = 32, FER_BF16_PANEL = 16, FER_BF16_ROWS = 32 };

/* Round to nearest, ties to even; NaN stays a (quiet) NaN. */
static inline fer_bf16 fer_bf16_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (fer_bf16)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (fer_bf16)(u >> 16);
}

static inline float fer_bf16_to_float(fer_bf16 b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* x rounded to the nearest bf16 and back, as an fp32 value. */
static inline float fer_bf16_round(float f)
{
    return fer_bf16_to_float(fer_bf16_from_float(f));
}

static inline int fer_bf16_pad(int k, int to)
{
    return (k + to - 1) / to * to;
}

/* kp for a k of real length. */
static inline int fer_bf16_kp(int k)
{
    return fer_bf16_pad(k > 0 ? k : 1, FER_BF16_KSTEP);
}

/* Elements of a packed k x n B. */
static inline size_t fer_bf16_packed_size(int k, int n)
{
    return (size_t)fer_bf16_kp(k) * (size_t)fer_bf16_pad(n, FER_BF16_PANEL);
}

/* dst[0..padded) = src[0..count) rounded, then zeros. */
void fer_bf16_round_row(fer_bf16 *dst, const float *src, size_t count, size_t padded);

/* Packs B (k x n, element (r, c) at b[r * row_stride + c * col_stride])
   into dst (fer_bf16_packed_size(k, n) elements), rounding each element.
   col_stride 1 packs a row-major B, row_stride 1 its transpose. */
void fer_bf16_pack_b(fer_bf16 *dst, const float *b, size_t row_stride, size_t col_stride, int k, int n);
/* The same for rows [r0, r1) of the padded B (r0 even): the pairs they
   form, zeros past k and n included; pieces of one B may be packed by
   different threads. */
void fer_bf16_pack_b_rows(fer_bf16 *dst, const float *b, size_t row_stride, size_t col_stride, int k, int n,
                          int r0, int r1);

/* C (m x n, row stride ldc) = A B, or C += A B with accumulate; kp the
   padded depth (a multiple of FER_BF16_KSTEP). Columns from n on are
   neither read nor written. kernel is one of the bf16 kinds and runs here
   (fer_bf16_kernel_runs). */
void fer_bf16_gemm(fer_products kernel, float *c, size_t ldc, const fer_bf16 *a, size_t lda,
                   const fer_bf16 *b_packed, int m, int n, int kp, int accumulate);

/* The kernels behind fer_bf16_gemm, same contract (src/nn/bf16_gemm*.c).
   The AVX512 and AMX ones exist on x86-64 builds with GCC or clang; the
   AMX one computes whole blocks of FER_BF16_ROWS rows and returns how many
   rows it did, leaving the rest to the caller. */
void fer_bf16_gemm_reference(float *c, size_t ldc, const fer_bf16 *a, size_t lda, const fer_bf16 *b_packed,
                             int m, int n, int kp, int accumulate);
void fer_bf16_gemm_avx512(float *c, size_t ldc, const fer_bf16 *a, size_t lda, const fer_bf16 *b_packed,
                          int m, int n, int kp, int accumulate);
int fer_bf16_gemm_amx(float *c, size_t ldc, const fer_bf16 *a, size_t lda, const fer_bf16 *b_packed, int m,
                      int n, int kp, int accumulate);

#endif
