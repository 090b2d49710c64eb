/* Direct 3x3 convolution for few input channels. With 3 input channels,
   im2col + SGEMM multiplies by K = 27: the GEMM spends more time packing
   and storing than multiplying, and im2col writes 27 floats per pixel,
   so a network's first layer ran at a fraction of the SGEMM peak. Here the 27 products of each output channel
   go straight into registers: blocks of PX pixels times all output channels (NV vectors of 16) are
   accumulated over the taps, then biased, rectified and stored once. The input rows a block needs are copied
   into a zero-padded buffer first, so that no tap needs a bounds check.

   Each pixel is summed by one thread in a fixed order, so results do not
   depend on the thread count. */
#include "conv2d_direct.h"

#include "team.h"

#include <string.h>

enum {
    PX = 6,           /* pixels per register block: 6 x 4 accumulators, 4 kernel vectors, 1 input */
    MAX_ROW = 2048,   /* floats of a padded input row */
    MIN_ROWS_EACH = 8 /* output rows worth a thread */
};

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>

/* y[0 .. px) (pixels, co floats apart) from the padded rows r[0..2], whose
   first pixel is the block's first tap column. With px and NV constant
   (always inlined into the switch below), the accumulators stay in
   registers. */
#define BLOCK_BODY(px, NV)                                                                                   \
    __m512 acc[px][NV];                                                                                      \
    for (int p = 0; p < px; p++)                                                                             \
        for (int v = 0; v < NV; v++)                                                                         \
            acc[p][v] = _mm512_setzero_ps();                                                                 \
    for (int i = 0; i < 3; i++)                                                                              \
        for (int j = 0; j < 3; j++)                                                                          \
            for (int c = 0; c < ci; c++) {                                                                   \
                const float *kt = k + ((size_t)(3 * i + j) * ci + c) * (size_t)(16 * NV);                    \
                __m512 kv[NV];                                                                               \
                for (int v = 0; v < NV; v++)                                                                 \
                    kv[v] = _mm512_loadu_ps(kt + 16 * v);                                                    \
                for (int p = 0; p < px; p++) {                                                               \
                    __m512 a = _mm512_set1_ps(r[i][(p + j) * ci + c]);                                       \
                    for (int v = 0; v < NV; v++)                                                             \
                        acc[p][v] = _mm512_fmadd_ps(a, kv[v], acc[p][v]);                                    \
                }                                                                                            \
            }                                                                                                \
    for (int p = 0; p < px; p++)                                                                             \
        for (int v = 0; v < NV; v++) {                                                                       \
            __m512 o = _mm512_add_ps(acc[p][v], _mm512_loadu_ps(b + 16 * v));                                \
            if (relu) /* max(o, 0) is 0 for NaN and -0, as v > 0 ? v : 0 */                                  \
                o = _mm512_max_ps(o, _mm512_setzero_ps());                                                   \
            _mm512_storeu_ps(y + (size_t)p * (16 * NV) + 16 * v, o);                                         \
        }

#define BLOCK_FN(NAME, px, NV)                                                                               \
    __attribute__((target("avx512f"), always_inline)) static inline void NAME(                               \
        float *y, const float *const r[3], const float *k, const float *b, int ci, int relu)                 \
    {                                                                                                        \
        BLOCK_BODY(px, NV)                                                                                   \
    }

BLOCK_FN(block6x1, PX, 1)
BLOCK_FN(block6x2, PX, 2)
BLOCK_FN(block6x3, PX, 3)
BLOCK_FN(block6x4, PX, 4)
BLOCK_FN(block1x1, 1, 1)
BLOCK_FN(block1x2, 1, 2)
BLOCK_FN(block1x3, 1, 3)
BLOCK_FN(block1x4, 1, 4)

/* The block function for nv vectors of output channels. */
#define NV_SWITCH(BLOCK)                                                                                     \
    switch (nv) {                                                                                            \
    case 1:                                                                                                  \
        BLOCK##x1(o, r, k, b, ci, relu);                                                                     \
        break;                                                                                               \
    case 2:                                                                                                  \
        BLOCK##x2(o, r, k, b, ci, relu);                                                                     \
        break;                                                                                               \
    case 3:                                                                                                  \
        BLOCK##x3(o, r, k, b, ci, relu);                                                                     \
        break;                                                                                               \
    default:                                                                                                 \
        BLOCK##x4(o, r, k, b, ci, relu);                                                                     \
        break;                                                                                               \
    }

/* One output row: full blocks of PX pixels, then the rest one at a time. */
__attribute__((target("avx512f"))) static void output_row(float *y, const float *const rows[3],
                                                          const float *k, const float *b,
                                                          const fer_conv_dims *d, int relu)
{
    const int nv = d->co / 16, ci = d->ci;
    for (int ow = 0; ow < d->wo;) {
        const float *r[3] = {rows[0] + ow * ci, rows[1] + ow * ci, rows[2] + ow * ci};
        float *o = y + (size_t)ow * d->co;
        if (ow + PX <= d->wo) {
            NV_SWITCH(block6)
            ow += PX;
        } else {
            NV_SWITCH(block1)
            ow++;
        }
    }
}

int fer_conv_direct_applies(const fer_conv_dims *d)
{
    return d->k == 3 && d->ci >= 1 && d->ci <= 4 && d->co % 16 == 0 && d->co >= 16 && d->co <= 64 &&
           (size_t)(d->wo + 2) * (size_t)d->ci <= MAX_ROW && __builtin_cpu_supports("avx512f");
}
#else
static void output_row(float *y, const float *const rows[3], const float *k, const float *b,
                       const fer_conv_dims *d, int relu)
{
    (void)y, (void)rows, (void)k, (void)b, (void)d, (void)relu;
}

int fer_conv_direct_applies(const fer_conv_dims *d)
{
    (void)d;
    return 0;
}
#endif

typedef struct {
    float *y;
    const float *x, *k, *b;
    const fer_conv_dims *d;
    int relu;
} direct_job;

/* Input row ih of image img, zero-padded: q[(col + pad) ci + ch] =
   x[img][ih][col][ch], zero outside the image, so that output pixel ow's
   taps start at q + ow ci. */
static void padded_row(float *q, const float *x, const fer_conv_dims *d, size_t img, int ih)
{
    const size_t len = (size_t)(d->wo + 2) * d->ci;
    memset(q, 0, len * sizeof *q);
    if (ih < 0 || ih >= d->h)
        return;
    int c0 = d->pad, width = d->w < d->wo + 2 - d->pad ? d->w : d->wo + 2 - d->pad;
    memcpy(q + (size_t)c0 * d->ci, x + ((img * d->h + (size_t)ih) * d->w) * d->ci,
           (size_t)width * d->ci * sizeof *q);
}

static void direct_worker(void *ctx, int worker, int workers)
{
    const direct_job *j = ctx;
    const fer_conv_dims *d = j->d;
    float rows[3][MAX_ROW];
    size_t lo, hi;
    fer_team_share((size_t)d->n * d->ho, worker, workers, &lo, &hi);
    for (size_t row = lo; row < hi; row++) {
        size_t img = row / (size_t)d->ho;
        int oh = (int)(row % (size_t)d->ho);
        for (int i = 0; i < 3; i++)
            padded_row(rows[i], j->x, d, img, oh + i - d->pad);
        const float *r[3] = {rows[0], rows[1], rows[2]};
        output_row(j->y + row * (size_t)d->wo * d->co, r, j->k, j->b, d, j->relu);
    }
}

void fer_conv_direct_forward(float *y, const float *x, const float *k, const float *b, const fer_conv_dims *d,
                             int relu)
{
    size_t rows = d->n > 0 && d->ho > 0 && d->wo > 0 ? (size_t)d->n * d->ho : 0;
    if (rows == 0)
        return;
    direct_job j = {.y = y, .x = x, .k = k, .b = b, .d = d, .relu = relu};
    fer_team_run(fer_team_for(rows, MIN_ROWS_EACH), direct_worker, &j);
}
