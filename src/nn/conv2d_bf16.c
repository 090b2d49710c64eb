/* 2-D convolution with bf16 products (include/fer/precision.h): im2col and
   one bf16 GEMM per chunk of output pixels, fp32 sums (src/nn/bf16_gemm.h).

   Why im2col and not Winograd: Winograd's transforms multiply the
   operands' rounding error by the size of their coefficients, and with 8
   bits of mantissa that error is no longer small next to the products';
   im2col keeps every product exact, so the only error is the fp32 sum's.

   Forward:        y    = col(x) k         (rows: pixels, depth: k*k*ci)
   Input gradient: dcol = dy k^T, then col2im into dx
   Kernel grad.:   dk   = sum over chunks of col(x)^T dy (depth: pixels)
   Chunks of pixels are multiples of FER_BF16_ROWS and depend on the shapes
   alone; a chunk is one GEMM (forward, input gradient) or is split among
   the threads at multiples of FER_BF16_ROWS rows (kernel gradient), so
   results never depend on the thread count. */
#include "fer/nn.h"

#include "bf16_gemm.h"
#include "conv2d_im2col.h"
#include "team.h"

#include <stdatomic.h>
#include <string.h>

/* bf16 operand bytes a chunk may take, and threads that may hold one. */
enum { CHUNK_BYTES = 1 << 20, MAX_SLOTS = 4 };

static size_t patch_len(const fer_conv_dims *d)
{
    return (size_t)d->k * d->k * d->ci;
}

/* Pixels per chunk for operands of `row` bf16 values a pixel: a multiple
   of FER_BF16_ROWS, at least one block. */
static size_t chunk_for(size_t row)
{
    size_t c = CHUNK_BYTES / (2 * (row > 0 ? row : 1));
    c = c / FER_BF16_ROWS * FER_BF16_ROWS;
    return c > FER_BF16_ROWS ? c : FER_BF16_ROWS;
}

static size_t align64(size_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

/* ---- scratch ---------------------------------------------------------------
   forward:        packed k | MAX_SLOTS im2col slots
   input gradient: packed k^T | dy chunk in bf16 | dcol chunk (fp32)
   kernel grad.:   col^T chunk | packed dy chunk | MAX_SLOTS im2col blocks
   and, last, co floats for fer_conv_mask_dy's sums. */
static size_t forward_bytes(const fer_conv_dims *d)
{
    size_t kp = (size_t)fer_bf16_kp((int)patch_len(d));
    return align64(fer_bf16_packed_size((int)patch_len(d), d->co) * 2) + MAX_SLOTS * chunk_for(kp) * kp * 2;
}

static size_t input_grad_bytes(const fer_conv_dims *d)
{
    size_t kp = (size_t)fer_bf16_kp(d->co), chunk = chunk_for(kp);
    return align64(fer_bf16_packed_size(d->co, (int)patch_len(d)) * 2) + align64(chunk * kp * 2) +
           chunk * patch_len(d) * sizeof(float);
}

static size_t kernel_grad_bytes(const fer_conv_dims *d)
{
    size_t chunk = chunk_for(patch_len(d)), kp = (size_t)fer_bf16_kp((int)patch_len(d));
    return align64(patch_len(d) * chunk * 2) + align64(fer_bf16_packed_size((int)chunk, d->co) * 2) +
           MAX_SLOTS * FER_BF16_ROWS * kp * 2;
}

size_t fer_conv2d_bf16_scratch_floats(const fer_conv_dims *d)
{
    size_t a = forward_bytes(d), b = input_grad_bytes(d), c = kernel_grad_bytes(d);
    size_t most = a > b ? a : b;
    most = most > c ? most : c;
    return (most + sizeof(float) - 1) / sizeof(float) + (size_t)d->co;
}

static float *sums_of(float *scratch, const fer_conv_dims *d)
{
    return scratch + fer_conv2d_bf16_scratch_floats(d) - (size_t)d->co;
}

/* ---- im2col in bf16 ------------------------------------------------------- */

/* Rows p0..p1 of the im2col matrix, rounded, each padded to kp. */
static void im2col_bf16(fer_bf16 *col, size_t kp, const float *x, const fer_conv_dims *d, size_t p0,
                        size_t p1)
{
    const size_t kci = (size_t)d->k * d->ci, image = (size_t)d->h * d->w * d->ci;
    pixel_cursor c = cursor_at(d, p0);
    for (size_t p = p0; p < p1; p++, cursor_next(&c, d)) {
        fer_bf16 *row = col + (p - p0) * kp;
        const float *ximg = x + c.img * image;
        int w0 = c.ow - d->pad, jlo, jhi;
        valid_columns(d, w0, &jlo, &jhi);
        for (int i = 0; i < d->k; i++) {
            fer_bf16 *dst = row + (size_t)i * kci;
            int ih = c.oh + i - d->pad;
            memset(dst, 0, kci * sizeof *dst);
            if (ih < 0 || ih >= d->h || jhi == jlo)
                continue;
            const float *src = ximg + ((size_t)ih * d->w + w0 + jlo) * d->ci;
            size_t len = (size_t)(jhi - jlo) * d->ci;
            fer_bf16_round_row(dst + (size_t)jlo * d->ci, src, len, len);
        }
        memset(row + kci * d->k, 0, (kp - kci * d->k) * sizeof *row);
    }
}

/* ---- forward ----------------------------------------------------------------- */

typedef struct {
    fer_products kernel;
    float *y;
    const float *x, *b;
    const fer_bf16 *packed;
    fer_bf16 *slots;
    const fer_conv_dims *d;
    int relu;
    atomic_size_t next;
} forward_job;

static void forward_worker(void *ctx, int worker, int workers)
{
    (void)workers;
    forward_job *j = ctx;
    const fer_conv_dims *d = j->d;
    const size_t total = fer_conv_out_pixels(d), kp = (size_t)fer_bf16_kp((int)patch_len(d));
    const size_t chunk = chunk_for(kp);
    fer_bf16 *slot = j->slots + (size_t)worker * chunk * kp;
    for (;;) {
        size_t p0 = atomic_fetch_add(&j->next, chunk);
        if (p0 >= total)
            return;
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        im2col_bf16(slot, kp, j->x, d, p0, p0 + m);
        float *yc = j->y + p0 * d->co;
        fer_bf16_gemm(j->kernel, yc, (size_t)d->co, slot, kp, j->packed, (int)m, d->co, (int)kp, 0);
        fer_conv_add_bias_act(yc, j->b, m, d->co, j->relu);
    }
}

static int workers_for(size_t chunks)
{
    int w = fer_team_size();
    w = w < MAX_SLOTS ? w : MAX_SLOTS;
    return (size_t)w < chunks ? w : (chunks > 0 ? (int)chunks : 1);
}

void fer_conv2d_forward_bf16(fer_products kernel, float *y, const float *x, const float *k, const float *b,
                             const fer_conv_dims *d, int relu, float *scratch)
{
    const size_t total = fer_conv_out_pixels(d);
    if (total == 0)
        return;
    const int K = (int)patch_len(d);
    fer_bf16 *packed = (fer_bf16 *)scratch;
    fer_bf16_pack_b(packed, k, (size_t)d->co, 1, K, d->co);
    forward_job j = {.kernel = kernel, .y = y, .x = x, .b = b, .packed = packed, .d = d, .relu = relu};
    j.slots = packed + align64(fer_bf16_packed_size(K, d->co) * 2) / 2;
    atomic_init(&j.next, 0);
    size_t chunk = chunk_for((size_t)fer_bf16_kp(K));
    fer_team_run(workers_for((total + chunk - 1) / chunk), forward_worker, &j);
}

/* ---- input gradient ---------------------------------------------------------- */

typedef struct {
    fer_products kernel;
    float *out; /* dcol (k x k) or dx itself (1x1) */
    size_t ld_out;
    const fer_bf16 *a, *packed;
    size_t kp;
    int rows, cols;
} gemm_rows_job;

/* This worker's share of the rows, split at multiples of FER_BF16_ROWS. */
static void gemm_rows_worker(void *ctx, int worker, int workers)
{
    gemm_rows_job *j = ctx;
    size_t blocks = ((size_t)j->rows + FER_BF16_ROWS - 1) / FER_BF16_ROWS, lo, hi;
    fer_team_share(blocks, worker, workers, &lo, &hi);
    size_t r0 = lo * FER_BF16_ROWS,
           r1 = hi * FER_BF16_ROWS < (size_t)j->rows ? hi * FER_BF16_ROWS : (size_t)j->rows;
    if (r1 > r0)
        fer_bf16_gemm(j->kernel, j->out + r0 * j->ld_out, j->ld_out, j->a + r0 * j->kp, j->kp, j->packed,
                      (int)(r1 - r0), j->cols, (int)j->kp, 0);
}

static void round_rows(fer_bf16 *dst, size_t kp, const float *src, size_t rows, int cols)
{
    for (size_t r = 0; r < rows; r++)
        fer_bf16_round_row(dst + r * kp, src + r * (size_t)cols, (size_t)cols, kp);
}

static void input_grad(fer_products kernel, float *dx, const float *dy, const float *k,
                       const fer_conv_dims *d, float *scratch)
{
    const int K = (int)patch_len(d);
    const size_t total = fer_conv_out_pixels(d), kp = (size_t)fer_bf16_kp(d->co), chunk = chunk_for(kp);
    const int pointwise = d->k == 1 && d->pad == 0;
    fer_bf16 *packed = (fer_bf16 *)scratch;
    fer_bf16_pack_b(packed, k, 1, (size_t)d->co, d->co, K); /* k^T: co x K */
    fer_bf16 *dy16 = packed + align64(fer_bf16_packed_size(d->co, K) * 2) / 2;
    float *dcol = (float *)(dy16 + align64(chunk * kp * 2) / 2);
    size_t zeroed = 0;
    for (size_t p0 = 0; p0 < total; p0 += chunk) {
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        round_rows(dy16, kp, dy + p0 * d->co, m, d->co);
        gemm_rows_job j = {
            .kernel = kernel, .a = dy16, .packed = packed, .kp = kp, .rows = (int)m, .cols = K};
        j.out = pointwise ? dx + p0 * d->ci : dcol;
        j.ld_out = (size_t)K;
        fer_team_run(fer_team_for((m + FER_BF16_ROWS - 1) / FER_BF16_ROWS, 2), gemm_rows_worker, &j);
        if (!pointwise) {
            fer_conv_zero_ahead(dx, d, p0 + m, &zeroed);
            fer_conv_col2im_add(dx, dcol, d, p0, p0 + m);
        }
    }
    const size_t nx = d->n > 0 ? (size_t)d->n * d->h * d->w * d->ci : 0;
    if (!pointwise && zeroed < nx)
        memset(dx + zeroed, 0, (nx - zeroed) * sizeof *dx);
    if (pointwise && total == 0)
        memset(dx, 0, nx * sizeof *dx);
}

/* ---- kernel gradient ---------------------------------------------------------- */

typedef struct {
    fer_products kernel;
    float *dk;
    const float *x, *dy;
    const fer_conv_dims *d;
    fer_bf16 *col_t, *packed_dy, *blocks;
    size_t p0, m, mp; /* the chunk's first pixel, its pixels, and them padded */
    int accumulate;
} kernel_grad_job;

/* Columns [q, q + FER_BF16_ROWS) of col^T (pixels p0 + q on), through a
   row-major im2col block; zeros past the chunk's pixels. */
static void transpose_block(kernel_grad_job *j, size_t q, fer_bf16 *block)
{
    const size_t K = patch_len(j->d), kp = (size_t)fer_bf16_kp((int)K);
    size_t real = q < j->m ? j->m - q : 0;
    real = real < FER_BF16_ROWS ? real : FER_BF16_ROWS;
    if (real > 0)
        im2col_bf16(block, kp, j->x, j->d, j->p0 + q, j->p0 + q + real);
    for (size_t r = 0; r < K; r++) {
        fer_bf16 *dst = j->col_t + r * j->mp + q;
        for (size_t c = 0; c < FER_BF16_ROWS; c++)
            dst[c] = c < real ? block[c * kp + r] : 0;
    }
}

/* This worker's share of col^T and of the packed dy, by blocks of
   FER_BF16_ROWS pixels. */
static void kernel_grad_prepare(void *ctx, int worker, int workers)
{
    kernel_grad_job *j = ctx;
    const fer_conv_dims *d = j->d;
    size_t lo, hi;
    fer_team_share(j->mp / FER_BF16_ROWS, worker, workers, &lo, &hi);
    fer_bf16 *block = j->blocks + (size_t)worker * FER_BF16_ROWS * (size_t)fer_bf16_kp((int)patch_len(d));
    for (size_t q = lo * FER_BF16_ROWS; q < hi * FER_BF16_ROWS; q += FER_BF16_ROWS)
        transpose_block(j, q, block);
    fer_bf16_pack_b_rows(j->packed_dy, j->dy + j->p0 * d->co, (size_t)d->co, 1, (int)j->m, d->co,
                         (int)(lo * FER_BF16_ROWS), (int)(hi * FER_BF16_ROWS));
}

/* dk rows (patch elements) of this worker's share += col^T dy. */
static void kernel_grad_gemm(void *ctx, int worker, int workers)
{
    kernel_grad_job *j = ctx;
    const size_t K = patch_len(j->d);
    size_t lo, hi;
    fer_team_share((K + FER_BF16_ROWS - 1) / FER_BF16_ROWS, worker, workers, &lo, &hi);
    size_t r0 = lo * FER_BF16_ROWS, r1 = hi * FER_BF16_ROWS < K ? hi * FER_BF16_ROWS : K;
    if (r1 > r0)
        fer_bf16_gemm(j->kernel, j->dk + r0 * j->d->co, (size_t)j->d->co, j->col_t + r0 * j->mp, j->mp,
                      j->packed_dy, (int)(r1 - r0), j->d->co, (int)j->mp, j->accumulate);
}

static void kernel_grad(fer_products kernel, float *dk, const float *dy, const float *x,
                        const fer_conv_dims *d, float *scratch)
{
    const size_t K = patch_len(d), total = fer_conv_out_pixels(d), chunk = chunk_for(K);
    if (total == 0) {
        memset(dk, 0, K * d->co * sizeof *dk);
        return;
    }
    kernel_grad_job j = {.kernel = kernel, .dk = dk, .x = x, .dy = dy, .d = d};
    j.col_t = (fer_bf16 *)scratch;
    j.packed_dy = j.col_t + align64(K * chunk * 2) / 2;
    j.blocks = j.packed_dy + align64(fer_bf16_packed_size((int)chunk, d->co) * 2) / 2;
    for (size_t p0 = 0; p0 < total; p0 += chunk) {
        j.p0 = p0;
        j.m = total - p0 < chunk ? total - p0 : chunk;
        j.mp = (size_t)fer_bf16_kp((int)j.m);
        j.accumulate = p0 > 0;
        fer_team_run(workers_for(j.mp / FER_BF16_ROWS), kernel_grad_prepare, &j);
        fer_team_run(fer_team_for((K + FER_BF16_ROWS - 1) / FER_BF16_ROWS, 1), kernel_grad_gemm, &j);
    }
}

void fer_conv2d_backward_bf16(fer_products kernel, float *dx, float *dk, float *db, float *dy, const float *x,
                              const float *k, const float *y, const fer_conv_dims *d, int relu,
                              float *scratch)
{
    fer_conv_mask_dy(db, dy, y, d, relu, sums_of(scratch, d));
    if (dk)
        kernel_grad(kernel, dk, dy, x, d, scratch);
    if (dx)
        input_grad(kernel, dx, dy, k, d, scratch);
}
