/* fer's own fp32 GEMM for thin products that OpenBLAS runs below its best:
   the Winograd correlation's element products (conv2d_winograd.c, A the
   tiles by input channels, B a transformed kernel element) and the 1x1
   convolutions (conv2d.c, A the pixels). Private to src/nn.

   Two products: C = A B with B packed once into column panels (the kernel
   transform writes them; OpenBLAS would pack the same B again for every
   chunk of rows), and C (+)= A^T B for kernel gradients. With AVX-512 and
   widths that are multiples of 16 they run register-tiled AVX-512 kernels;
   anywhere else (another CPU, compiler or architecture) they compute the
   same products portably, more slowly: the *_runs predicates say where the
   fast kernel runs and callers take OpenBLAS elsewhere. A row's result
   depends on that row and B only, never on the thread count. */
#ifndef FER_NN_OWN_GEMM_H
#define FER_NN_OWN_GEMM_H

#include <stddef.h>

/* Whether fer_own_gemm_packed's AVX-512 kernel runs for a k x n B on this
   CPU, and so whether callers should pack B and call it. Below 128 rows or
   columns OpenBLAS's AVX-512 small-matrix kernel, which packs nothing, is
   as fast; when the loaded OpenBLAS kernel is narrower than AVX-512 (a
   preset OPENBLAS_CORETYPE=Haswell) the own kernel wins from 64. */
int fer_own_gemm_packed_runs(int k, int n);

enum { FER_OWN_GEMM_PANEL = 32 }; /* columns of a packed panel of B */

/* Where element (kk, nn) of a k x n matrix B sits in its packed form:
   column panels of FER_OWN_GEMM_PANEL (the last one 16 wide when n is an
   odd multiple of 16), each panel k rows of its width, rows contiguous.
   n must be a multiple of 16. */
static inline size_t fer_own_gemm_packed_at(int kk, int nn, int n, int k)
{
    int base = nn - nn % FER_OWN_GEMM_PANEL;
    int width = n - base < FER_OWN_GEMM_PANEL ? n - base : FER_OWN_GEMM_PANEL;
    return (size_t)base * (size_t)k + (size_t)kk * (size_t)width + (size_t)(nn - base);
}

/* c (m x n, row stride ldc) = a (m x k, row stride lda) * b, packed as
   above; n a multiple of 16. */
void fer_own_gemm_packed(float *c, size_t ldc, const float *a, size_t lda, const float *packed, int m, int n,
                         int k);

/* Whether fer_own_gemm_at_b's AVX-512 kernel runs for an m x n C on this
   CPU: from 64 rows where the loaded OpenBLAS kernel is narrower than
   AVX-512, and up to 128 x 128 with OpenBLAS's AVX-512 kernel, which is
   faster above that. */
int fer_own_gemm_at_b_runs(int m, int n);

/* c (m x n, row stride ldc) = a^T b, or c += a^T b with accumulate: a is
   k x m (row stride lda), b k x n (row stride ldb), neither packed. With
   AVX-512 and n a multiple of 16 each element of c sums its k products in
   order; elsewhere cblas_sgemm computes it. */
void fer_own_gemm_at_b(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, int m,
                       int n, int k, int accumulate);

#endif
