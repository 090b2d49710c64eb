/* The Winograd correlation's element products, C = A B with A the tiles
   (rows) by input channels and B a transformed kernel element, private to
   src/nn/conv2d_winograd.c (and to conv2d.c's 1x1 products, A the pixels). On
   CPUs with AVX-512 and widths that are multiples of 16, an own kernel
   multiplies A in place by a B that the kernel transform wrote in panels
   (below): OpenBLAS packed the same B again for every chunk of tiles, and its
   GEMMs ran at 55-75% of peak on these thin shapes (K and N of 128 to 512, a
   few hundred rows). A row's result depends on that row and B only, never on
   the thread count. */
#ifndef FER_NN_WINOGRAD_GEMM_H
#define FER_NN_WINOGRAD_GEMM_H

#include <stddef.h>

/* Whether fer_wgemm_packed runs for a k x n B on this CPU. Below 128 rows
   or columns OpenBLAS's SkylakeX small-matrix kernel (which packs nothing)
   was as fast or faster (block1_conv2, 64 x 64: 35.5 against 37.5 ms per
   batch of 64); at 128 and more the own kernel gained 7-10% per layer.
   When the loaded OpenBLAS kernel is narrower than AVX-512 (a preset
   OPENBLAS_CORETYPE=Haswell), the own kernel runs from 64 on: block1_conv2
   forward went 28.0 -> 18.2 ms per batch of 32 there. */
int fer_wgemm_own_kernel(int k, int n);

enum { FER_WGEMM_PANEL = 32 }; /* columns of a packed panel of B */

/* Where element (kk, nn) of a k x n matrix B sits in its packed form:
   column panels of FER_WGEMM_PANEL (the last one 16 wide when n is an odd
   multiple of 16), each panel k rows of its width, rows contiguous. */
static inline size_t fer_wgemm_packed_at(int kk, int nn, int n, int k)
{
    int base = nn - nn % FER_WGEMM_PANEL, width = n - base < FER_WGEMM_PANEL ? n - base : FER_WGEMM_PANEL;
    return (size_t)base * (size_t)k + (size_t)kk * (size_t)width + (size_t)(nn - base);
}

/* c (m x n, row stride ldc) = a (m x k, row stride lda) * b, packed. Only
   where fer_wgemm_own_kernel(n). */
void fer_wgemm_packed(float *c, size_t ldc, const float *a, size_t lda, const float *packed, int m, int n,
                      int k);

/* Whether fer_wgemm_tn runs for an m x n C on this CPU: from 64 rows
   where the loaded OpenBLAS kernel is narrower than AVX-512 (with a preset
   Haswell kernel, block3_conv2's backward went 42-45 -> 34-35 ms per batch
   of 32), and up to 128 x 128 with OpenBLAS's SkylakeX kernel, which was
   faster above that (block3_conv2 30 against 31-33 ms) and slower below
   (block1_conv2 47-48 against 43-46 ms). */
int fer_wgemm_own_tn(int m, int n);

/* c (m x n, row stride ldc) = a^T b, or c += a^T b with accumulate: a is
   k x m (row stride lda), b k x n (row stride ldb), neither packed. Each
   element of c sums its k products in order. Only where
   fer_wgemm_own_tn(m, n). */
void fer_wgemm_tn(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, int m, int n,
                  int k, int accumulate);

#endif
