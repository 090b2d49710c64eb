/* fer's own fp32 GEMM (see own_gemm.h): register-tiled AVX-512 kernels
   where GCC builds them for x86-64 and the CPU has AVX-512, portable
   products everywhere else. FER_OWN_GEMM_PORTABLE builds only the latter
   (the test of the fallback builds this file so). */
#include "own_gemm.h"

#include "fer/cpu.h"

#include <cblas.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FER_OWN_GEMM_PORTABLE)
#define OWN_GEMM_AVX512 1
#else
#define OWN_GEMM_AVX512 0
#endif

/* ---- portable products ---------------------------------------------------- */

/* c = a * packed, one dot product per element, summed in order of k. */
static void packed_portable(float *c, size_t ldc, const float *a, size_t lda, const float *packed, int m,
                            int n, int k)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++)
                sum += a[(size_t)i * lda + (size_t)p] * packed[fer_own_gemm_packed_at(p, j, n, k)];
            c[(size_t)i * ldc + (size_t)j] = sum;
        }
}

static void at_b_blas(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, int m,
                      int n, int k, int accumulate)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, k, 1.0f, a, (int)lda, b, (int)ldb,
                accumulate ? 1.0f : 0.0f, c, (int)ldc);
}

#if OWN_GEMM_AVX512
#include <immintrin.h>

enum { MR = 14 }; /* rows per tile: 14 x 2 accumulators, 2 registers for B, 1 for A */

/* A register tile, c[0..rows) x [0..16 NV) = A's rows times a panel of B:
   the accumulators start at INIT(c, ldc, accumulate, r, v), A's element
   (r, p) is A_AT(a, lda, r, p) and row p of B's panel (16 NV floats) starts
   at ROW_OF(b, ldb, p). One signature for both kinds of product below; with
   rows and NV constant (always inlined into the panel switches), the
   accumulators live in registers. */
#define TILE_FN(NAME, NV, INIT, A_AT, ROW_OF)                                                                \
    __attribute__((target("avx512f"), always_inline)) static inline void NAME(                               \
        float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, int k, int accumulate, \
        const int rows)                                                                                      \
    {                                                                                                        \
        (void)ldb, (void)accumulate; /* the packed kind reads neither */                                     \
        __m512 acc[MR][NV];                                                                                  \
        for (int r = 0; r < rows; r++)                                                                       \
            for (int v = 0; v < NV; v++)                                                                     \
                acc[r][v] = INIT(c, ldc, accumulate, r, v);                                                  \
        for (int p = 0; p < k; p++) {                                                                        \
            __m512 bv[NV];                                                                                   \
            for (int v = 0; v < NV; v++)                                                                     \
                bv[v] = _mm512_loadu_ps(ROW_OF(b, ldb, p) + 16 * v);                                         \
            for (int r = 0; r < rows; r++) {                                                                 \
                __m512 av = _mm512_set1_ps(A_AT(a, lda, r, p));                                              \
                for (int v = 0; v < NV; v++)                                                                 \
                    acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);                                       \
            }                                                                                                \
        }                                                                                                    \
        for (int r = 0; r < rows; r++)                                                                       \
            for (int v = 0; v < NV; v++)                                                                     \
                _mm512_storeu_ps(c + (size_t)r * ldc + 16 * v, acc[r][v]);                                   \
    }

/* C = A B with A row-major (m x k) and B packed: panel rows of 16 NV; the
   packed kind reads neither C nor ldb. */
#define ZERO(c, ldc, accumulate, r, v) _mm512_setzero_ps()
#define A_ROW_MAJOR(a, lda, r, p) a[(size_t)(r) * (lda) + (p)]
#define PACKED_ROW_2(b, ldb, p) ((b) + (size_t)(p)*32)
#define PACKED_ROW_1(b, ldb, p) ((b) + (size_t)(p)*16)
/* C (+)= A^T B with A (k x m) and B (k x n) row-major, neither packed. */
#define FROM_C(c, ldc, accumulate, r, v)                                                                     \
    ((accumulate) ? _mm512_loadu_ps((c) + (size_t)(r) * (ldc) + 16 * (v)) : _mm512_setzero_ps())
#define A_TRANSPOSED(a, lda, r, p) a[(size_t)(p) * (lda) + (r)]
#define B_ROW(b, ldb, p) ((b) + (size_t)(p) * (ldb))

TILE_FN(tile2, 2, ZERO, A_ROW_MAJOR, PACKED_ROW_2)
TILE_FN(tile1, 1, ZERO, A_ROW_MAJOR, PACKED_ROW_1)
TILE_FN(at_b_tile2, 2, FROM_C, A_TRANSPOSED, B_ROW)
TILE_FN(at_b_tile1, 1, FROM_C, A_TRANSPOSED, B_ROW)

/* A panel: one tile instance per row count, so that every loop of the
   tile has constant bounds. */
#define CASE(TILE, R)                                                                                        \
    case R:                                                                                                  \
        TILE(c, ldc, a, lda, b, ldb, k, accumulate, R);                                                      \
        break;
#define PANEL_FN(NAME, TILE)                                                                                 \
    __attribute__((target("avx512f"))) static void NAME(float *c, size_t ldc, const float *a, size_t lda,    \
                                                        const float *b, size_t ldb, int k, int accumulate,   \
                                                        int rows)                                            \
    {                                                                                                        \
        switch (rows) {                                                                                      \
            CASE(TILE, 14)                                                                                   \
            CASE(TILE, 13)                                                                                   \
            CASE(TILE, 12)                                                                                   \
            CASE(TILE, 11)                                                                                   \
            CASE(TILE, 10)                                                                                   \
            CASE(TILE, 9)                                                                                    \
            CASE(TILE, 8)                                                                                    \
            CASE(TILE, 7)                                                                                    \
            CASE(TILE, 6)                                                                                    \
            CASE(TILE, 5)                                                                                    \
            CASE(TILE, 4)                                                                                    \
            CASE(TILE, 3)                                                                                    \
            CASE(TILE, 2)                                                                                    \
        default:                                                                                             \
            TILE(c, ldc, a, lda, b, ldb, k, accumulate, 1);                                                  \
        }                                                                                                    \
    }

PANEL_FN(panel32, tile2)
PANEL_FN(panel16, tile1)
PANEL_FN(at_b_panel32, at_b_tile2)
PANEL_FN(at_b_panel16, at_b_tile1)

/* Whether the loaded OpenBLAS kernel is narrower than AVX-512 (Haswell, say,
   when OPENBLAS_CORETYPE presets it on an AVX-512 CPU). */
static int blas_narrower(void)
{
    int level = fer_blas_core_level(openblas_get_corename());
    return level > 0 && level < 4;
}

/* Whether the AVX-512 kernels can run for an n wide C at all. */
static int avx512_fits(int n)
{
    return n % 16 == 0 && __builtin_cpu_supports("avx512f");
}

int fer_own_gemm_packed_runs(int k, int n)
{
    if (!avx512_fits(n))
        return 0;
    int least = blas_narrower() ? 64 : 128;
    return k >= least && n >= least;
}

int fer_own_gemm_at_b_runs(int m, int n)
{
    if (m < 64 || n < 16 || !avx512_fits(n))
        return 0;
    return blas_narrower() || (m <= 128 && n <= 128);
}

static void at_b_avx512(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, int m,
                        int n, int k, int accumulate)
{
    for (int j = 0; j < n; j += FER_OWN_GEMM_PANEL)
        for (int i = 0; i < m; i += MR) {
            int rows = m - i < MR ? m - i : MR;
            if (n - j >= FER_OWN_GEMM_PANEL)
                at_b_panel32(c + (size_t)i * ldc + j, ldc, a + i, lda, b + j, ldb, k, accumulate, rows);
            else
                at_b_panel16(c + (size_t)i * ldc + j, ldc, a + i, lda, b + j, ldb, k, accumulate, rows);
        }
}

/* Panel by panel; within a panel, tiles of MR rows, so that the panel
   (k x FER_OWN_GEMM_PANEL floats) stays in cache while A streams through. */
static void packed_avx512(float *c, size_t ldc, const float *a, size_t lda, const float *packed, int m, int n,
                          int k)
{
    for (int j = 0; j < n; j += FER_OWN_GEMM_PANEL) {
        const float *b = packed + (size_t)j * k;
        for (int i = 0; i < m; i += MR) {
            int rows = m - i < MR ? m - i : MR;
            if (n - j >= FER_OWN_GEMM_PANEL)
                panel32(c + (size_t)i * ldc + j, ldc, a + (size_t)i * lda, lda, b, 0, k, 0, rows);
            else
                panel16(c + (size_t)i * ldc + j, ldc, a + (size_t)i * lda, lda, b, 0, k, 0, rows);
        }
    }
}
#else
int fer_own_gemm_packed_runs(int k, int n)
{
    (void)k, (void)n;
    return 0;
}

int fer_own_gemm_at_b_runs(int m, int n)
{
    (void)m, (void)n;
    return 0;
}
#endif

void fer_own_gemm_packed(float *c, size_t ldc, const float *a, size_t lda, const float *packed, int m, int n,
                         int k)
{
#if OWN_GEMM_AVX512
    if (avx512_fits(n)) {
        packed_avx512(c, ldc, a, lda, packed, m, n, k);
        return;
    }
#endif
    packed_portable(c, ldc, a, lda, packed, m, n, k);
}

void fer_own_gemm_at_b(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, int m,
                       int n, int k, int accumulate)
{
#if OWN_GEMM_AVX512
    if (avx512_fits(n)) {
        at_b_avx512(c, ldc, a, lda, b, ldb, m, n, k, accumulate);
        return;
    }
#endif
    at_b_blas(c, ldc, a, lda, b, ldb, m, n, k, accumulate);
}
