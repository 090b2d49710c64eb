/* The AMX kernel of fer_bf16_gemm (src/nn/bf16_gemm.h).

   Eight tile registers of 16 rows x 64 bytes: C as a block of 32 rows by
   two panels in tiles 0-3 (fp32, 16 x 16 each), two 16-row slices of A
   (16 x 32 bf16) in tiles 4-5, two panels of B (16 pairs x 16 columns) in
   6-7. Each step of FER_BF16_KSTEP depth is four _tile_dpbf16ps. The
   packed B is exactly the B tile's layout, so tiles load straight from it.
   Whole blocks of FER_BF16_ROWS rows only: the caller gives the remaining
   rows to the AVX512-BF16 kernel. */
#include "bf16_gemm.h"

#if defined(FER_AMX_EMULATED)
/* The test bf16_amx_emulated builds this file over tests/amx_emulated.h,
   the tile instructions in C, to run it where no CPU has AMX. */
#define AMX_TARGET
#define AMX_KERNEL 1
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f")))
#define AMX_KERNEL 1
#endif

#if defined(AMX_KERNEL)

/* The LDTILECFG operand, palette 1. */
typedef struct __attribute__((packed)) {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* A 16 x 16 fp32 tile of C at (row, col) that C holds whole goes straight
   between C and the tile; one cut by n goes through `edge`. */
typedef struct {
    float *c;
    size_t ldc;
    int n;
    float edge[16 * 16];
} c_block;

static float *c_at(c_block *b, int row, int col)
{
    return b->c + (size_t)row * b->ldc + col;
}

/* The tile's memory and row stride in bytes; for a cut tile, `edge`,
   filled from C when accumulating. */
static float *tile_source(c_block *b, int row, int col, int accumulate, size_t *stride)
{
    if (col + 16 <= b->n) {
        *stride = b->ldc * sizeof(float);
        return c_at(b, row, col);
    }
    *stride = 16 * sizeof(float);
    memset(b->edge, 0, sizeof b->edge);
    for (int r = 0; accumulate && r < 16; r++)
        memcpy(b->edge + 16 * r, c_at(b, row + r, col), (size_t)(b->n - col) * sizeof(float));
    return b->edge;
}

static void tile_sink(c_block *b, int row, int col)
{
    if (col + 16 <= b->n)
        return;
    for (int r = 0; r < 16; r++)
        memcpy(c_at(b, row + r, col), b->edge + 16 * r, (size_t)(b->n - col) * sizeof(float));
}

#define TILE_IN(T, CB, ROW, COL, ACCUMULATE)                                                                 \
    do {                                                                                                     \
        size_t stride_;                                                                                      \
        float *src_ = tile_source(CB, ROW, COL, ACCUMULATE, &stride_);                                       \
        if ((ACCUMULATE) || src_ == (CB)->edge)                                                              \
            _tile_loadd(T, src_, stride_);                                                                   \
        else                                                                                                 \
            _tile_zero(T);                                                                                   \
    } while (0)
#define TILE_OUT(T, CB, ROW, COL)                                                                            \
    do {                                                                                                     \
        size_t stride_;                                                                                      \
        float *dst_ = tile_source(CB, ROW, COL, 0, &stride_);                                                \
        _tile_stored(T, dst_, stride_);                                                                      \
        tile_sink(CB, ROW, COL);                                                                             \
    } while (0)

/* Rows [i, i + 32) by the panel at column j (and the next, with two). */
AMX_TARGET static void block(c_block *cb, const fer_bf16 *a, size_t lda, const fer_bf16 *b0,
                             const fer_bf16 *b1, int i, int j, int kp, int accumulate, int two)
{
    TILE_IN(0, cb, i, j, accumulate);
    TILE_IN(2, cb, i + 16, j, accumulate);
    if (two) {
        TILE_IN(1, cb, i, j + 16, accumulate);
        TILE_IN(3, cb, i + 16, j + 16, accumulate);
    }
    const size_t a_stride = lda * sizeof(fer_bf16);
    for (int kk = 0; kk < kp; kk += FER_BF16_KSTEP) {
        _tile_loadd(4, a + (size_t)i * lda + kk, a_stride);
        _tile_loadd(5, a + (size_t)(i + 16) * lda + kk, a_stride);
        _tile_loadd(6, b0 + (size_t)kk * FER_BF16_PANEL, 2 * FER_BF16_PANEL * sizeof(fer_bf16));
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(2, 5, 6);
        if (two) {
            _tile_loadd(7, b1 + (size_t)kk * FER_BF16_PANEL, 2 * FER_BF16_PANEL * sizeof(fer_bf16));
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
    TILE_OUT(0, cb, i, j);
    TILE_OUT(2, cb, i + 16, j);
    if (two) {
        TILE_OUT(1, cb, i, j + 16);
        TILE_OUT(3, cb, i + 16, j + 16);
    }
}

AMX_TARGET int fer_bf16_gemm_amx(float *c, size_t ldc, const fer_bf16 *a, size_t lda,
                                 const fer_bf16 *b_packed, int m, int n, int kp, int accumulate)
{
    const int whole = m / FER_BF16_ROWS * FER_BF16_ROWS;
    if (whole == 0)
        return 0;
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
    c_block cb = {.c = c, .ldc = ldc, .n = n};
    const size_t panel = (size_t)kp * FER_BF16_PANEL;
    for (int j = 0; j < n; j += 2 * FER_BF16_PANEL) {
        const fer_bf16 *b0 = b_packed + (size_t)(j / FER_BF16_PANEL) * panel;
        for (int i = 0; i < whole; i += FER_BF16_ROWS)
            block(&cb, a, lda, b0, b0 + panel, i, j, kp, accumulate, n - j > FER_BF16_PANEL);
    }
    _tile_release();
    return whole;
}

#else

int fer_bf16_gemm_amx(float *c, size_t ldc, const fer_bf16 *a, size_t lda, const fer_bf16 *b_packed, int m,
                      int n, int kp, int accumulate)
{
    (void)c, (void)ldc, (void)a, (void)lda, (void)b_packed, (void)m, (void)n, (void)kp, (void)accumulate;
    return 0; /* no AMX here: every row is left to the caller */
}

#endif
