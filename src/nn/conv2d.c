/* 2-D convolution, stride 1, NHWC input, HWIO kernel, as im2col + SGEMM.

   The output pixels of the whole batch (n * ho * wo of them) are rows of one
   big matrix product y = col(x) * k, with col(x) the im2col matrix (one row of
   k*k*ci floats per output pixel) and k viewed as a (k*k*ci) x co matrix: HWIO
   order is exactly the im2col column order. The rows are processed in chunks
   so that the im2col scratch stays bounded while each GEMM stays large; a
   chunk may start or end inside an image. A 1x1 convolution needs no im2col:
   x itself, viewed as (n*h*w) x ci, is the column matrix. 3x3 convolutions
   with enough channels take the Winograd F(6x6, 3x3) path
   (conv2d_winograd.c) instead, which needs 5 times fewer FLOPs. Where the
   Winograd products would use fer's own AVX-512 GEMM (own_gemm.h), a
   1x1 convolution's forward and input gradient use it too, on a kernel
   packed into the scratch for the call: where OpenBLAS runs a narrower
   kernel than the CPU has (a preset OPENBLAS_CORETYPE=Haswell on an AVX-512
   CPU), the own AVX-512 GEMM is the faster one. Its kernel gradient takes
   fer_own_gemm_at_b where that runs. */
#include "fer/nn.h"

#include "conv2d_direct.h"
#include "conv2d_im2col.h"
#include "conv2d_winograd.h"
#include "own_gemm.h"
#include "team.h"

#include <cblas.h>
#include <stdatomic.h>
#include <string.h>

/* im2col space per chunk, in floats (1 MiB), and chunks in flight: the
   chunks are shared out to a team of threads (src/nn/team.h), one slot
   each, and every GEMM runs single-threaded on its chunk. Chunk boundaries
   depend on the shapes only, so results never depend on the thread count.
   Kernel gradients are split into DK_BLOCKS blocks of output channels (a
   multiple of DK_BLOCK wide), each block summed over the chunks in order
   by one thread. Every block makes OpenBLAS pack the chunk's columns
   again, so few wide blocks beat many narrow ones (measured: 4 of them
   were faster than 8 or 16); the price: no more than 4 threads share a
   kernel gradient of these layers. */
enum { CONV_SLOT_FLOATS = 1 << 18, CONV_SLOTS = 4, DK_BLOCK = 16, DK_BLOCKS = 4 };

void fer_conv_dims_init(fer_conv_dims *d, int n, int h, int w, int ci, int co, int k, int padding_same)
{
    d->n = n;
    d->h = h;
    d->w = w;
    d->ci = ci;
    d->co = co;
    d->k = k;
    d->pad = padding_same ? (k - 1) / 2 : 0;
    d->ho = h - k + 1 + 2 * d->pad;
    d->wo = w - k + 1 + 2 * d->pad;
}

static int is_pointwise(const fer_conv_dims *d)
{
    return d->k == 1 && d->pad == 0;
}

/* Floats in one im2col row: one k x k x ci patch. */
static size_t patch_floats(const fer_conv_dims *d)
{
    return (size_t)d->k * d->k * d->ci;
}

/* Output pixels per chunk: a slot's worth of im2col rows (of x's rows for a
   1x1 convolution). */
static size_t chunk_pixels(const fer_conv_dims *d)
{
    size_t total = fer_conv_out_pixels(d), row = is_pointwise(d) ? (size_t)d->ci : patch_floats(d);
    size_t chunk = row > 0 ? CONV_SLOT_FLOATS / row : total;
    if (chunk < 1)
        chunk = 1;
    return chunk < total ? chunk : total;
}

static size_t chunk_count(const fer_conv_dims *d)
{
    size_t total = fer_conv_out_pixels(d), chunk = chunk_pixels(d);
    return chunk > 0 ? (total + chunk - 1) / chunk : 0;
}

/* im2col slots: no more than there are chunks. */
static size_t slot_count(const fer_conv_dims *d)
{
    size_t chunks = chunk_count(d);
    return chunks < CONV_SLOTS ? (chunks > 0 ? chunks : 1) : CONV_SLOTS;
}

/* Threads for `units` independent pieces of work, at most `cap`. */
static int team_for(size_t units, size_t cap)
{
    size_t workers = (size_t)fer_team_size();
    workers = workers < units ? workers : units;
    workers = workers < cap ? workers : cap;
    return workers > 0 ? (int)workers : 1;
}

/* Scratch layout: the im2col slots (for 1x1, the packed kernel), then co
   floats for a chunk's bias-gradient partial sums (a two-level sum keeps
   db accurate over ~10^5 rows in float). The Winograd path has its own
   layout. */
size_t fer_conv2d_scratch_floats(const fer_conv_dims *d)
{
    size_t col = is_pointwise(d) ? (size_t)d->ci * d->co : slot_count(d) * chunk_pixels(d) * patch_floats(d);
    if (fer_winograd_applies(d))
        col = fer_winograd_scratch_floats(d);
    return col + (size_t)d->co;
}

/* Rows p0..p1 of the im2col matrix. In NHWC one kernel row of a patch is
   k*ci contiguous input floats, so a patch is k copies plus zero padding. */
static void im2col(float *col, const float *x, const fer_conv_dims *d, size_t p0, size_t p1)
{
    const size_t kci = (size_t)d->k * d->ci, image = (size_t)d->h * d->w * d->ci;
    pixel_cursor c = cursor_at(d, p0);
    for (size_t p = p0; p < p1; p++, cursor_next(&c, d)) {
        const float *ximg = x + c.img * image;
        int w0 = c.ow - d->pad, jlo, jhi;
        valid_columns(d, w0, &jlo, &jhi);
        for (int i = 0; i < d->k; i++) {
            float *dst = col + (p - p0) * kci * d->k + i * kci;
            int ih = c.oh + i - d->pad;
            if (ih < 0 || ih >= d->h || jhi == jlo) {
                memset(dst, 0, kci * sizeof *dst);
                continue;
            }
            const float *src = ximg + ((size_t)ih * d->w + w0) * d->ci;
            memset(dst, 0, (size_t)jlo * d->ci * sizeof *dst);
            memcpy(dst + (size_t)jlo * d->ci, src + (size_t)jlo * d->ci,
                   (size_t)(jhi - jlo) * d->ci * sizeof *dst);
            memset(dst + (size_t)jhi * d->ci, 0, (size_t)(d->k - jhi) * d->ci * sizeof *dst);
        }
    }
}

/* Adds rows p0..p1 of a column-gradient matrix back onto the input pixels
   they were copied from (the adjoint of im2col). */
void fer_conv_col2im_add(float *dx, const float *col, const fer_conv_dims *d, size_t p0, size_t p1)
{
    const size_t kci = (size_t)d->k * d->ci, image = (size_t)d->h * d->w * d->ci;
    pixel_cursor c = cursor_at(d, p0);
    for (size_t p = p0; p < p1; p++, cursor_next(&c, d)) {
        float *dximg = dx + c.img * image;
        int w0 = c.ow - d->pad, jlo, jhi;
        valid_columns(d, w0, &jlo, &jhi);
        for (int i = 0; i < d->k; i++) {
            int ih = c.oh + i - d->pad;
            if (ih < 0 || ih >= d->h)
                continue;
            const float *src = col + (p - p0) * kci * d->k + i * kci + (size_t)jlo * d->ci;
            float *dst = dximg + ((size_t)ih * d->w + w0 + jlo) * d->ci;
            size_t len = (size_t)(jhi - jlo) * d->ci;
            for (size_t e = 0; e < len; e++)
                dst[e] += src[e];
        }
    }
}

/* Zeroes dx from *zeroed up to the end of the last input row that output
   pixels before p1 reach. Chunks reach ever later rows, so zeroing just
   ahead of col2im replaces a separate pass over all of dx with one over
   memory that col2im is about to touch anyway. */
void fer_conv_zero_ahead(float *dx, const fer_conv_dims *d, size_t p1, size_t *zeroed)
{
    pixel_cursor c = cursor_at(d, p1 - 1);
    int last = c.oh + d->k - 1 - d->pad;
    if (last > d->h - 1)
        last = d->h - 1;
    size_t end = (c.img * d->h + (size_t)last + 1) * d->w * d->ci;
    if (end > *zeroed) {
        memset(dx + *zeroed, 0, (end - *zeroed) * sizeof *dx);
        *zeroed = end;
    }
}

/* y = act(y + b) over rows x co, in one pass while the chunk is in cache. */
void fer_conv_add_bias_act(float *y, const float *b, size_t rows, int co, int relu)
{
    for (size_t r = 0; r < rows; r++, y += co) {
        if (relu) {
            for (int c = 0; c < co; c++) {
                float v = y[c] + b[c];
                y[c] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (int c = 0; c < co; c++)
                y[c] += b[c];
        }
    }
}

/* Masks dy by y > 0 when y is given (relu) and, when sums is given, sums
   dy's rows into it (co floats): one pass for both. */
static void mask_and_sum(float *dy, const float *y, float *sums, size_t rows, int co)
{
    if (!y && !sums)
        return;
    if (sums)
        memset(sums, 0, (size_t)co * sizeof *sums);
    for (size_t r = 0; r < rows; r++, dy += co) {
        if (y) {
            for (int c = 0; c < co; c++)
                dy[c] = y[c] > 0.0f ? dy[c] : 0.0f;
            y += co;
        }
        if (sums)
            for (int c = 0; c < co; c++)
                sums[c] += dy[c];
    }
}

/* The im2col matrix of output pixels [p0, p0 + m) in a slot, or x itself
   for a 1x1 convolution. */
static const float *columns(float *slot, const float *x, const fer_conv_dims *d, size_t p0, size_t m)
{
    if (is_pointwise(d))
        return x + p0 * d->ci;
    im2col(slot, x, d, p0, p0 + m);
    return slot;
}

/* Packs a 1x1 kernel (ci x co) into dst as fer_own_gemm_packed's B: the kernel
   itself for the forward, or its transpose (co x ci) for the input
   gradient. Returns dst, or NULL when the own GEMM does not run for that
   product. */
static const float *pack_pointwise(float *dst, const float *k, const fer_conv_dims *d, int transposed)
{
    int rows = transposed ? d->co : d->ci, cols = transposed ? d->ci : d->co;
    if (!is_pointwise(d) || !fer_own_gemm_packed_runs(rows, cols))
        return NULL;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[fer_own_gemm_packed_at(r, c, cols, rows)] =
                transposed ? k[(size_t)c * d->co + r] : k[(size_t)r * d->co + c];
    return dst;
}

typedef struct {
    float *y;
    const float *x, *k, *b;
    const float *packed; /* the 1x1 kernel for the own GEMM, or NULL */
    const fer_conv_dims *d;
    int relu;
    float *scratch;
    atomic_size_t next; /* first pixel of the next chunk to take */
} forward_job;

static void forward_worker(void *ctx, int worker, int workers)
{
    (void)workers;
    forward_job *j = ctx;
    const fer_conv_dims *d = j->d;
    const size_t total = fer_conv_out_pixels(d), chunk = chunk_pixels(d);
    const int K = (int)(is_pointwise(d) ? (size_t)d->ci : patch_floats(d));
    float *slot = is_pointwise(d) ? NULL : j->scratch + (size_t)worker * chunk * patch_floats(d);
    for (;;) {
        size_t p0 = atomic_fetch_add(&j->next, chunk);
        if (p0 >= total)
            return;
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        const float *col = columns(slot, j->x, d, p0, m);
        float *yc = j->y + p0 * d->co;
        if (j->packed)
            fer_own_gemm_packed(yc, (size_t)d->co, col, (size_t)K, j->packed, (int)m, d->co, K);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, d->co, K, 1.0f, col, K, j->k,
                        d->co, 0.0f, yc, d->co);
        fer_conv_add_bias_act(yc, j->b, m, d->co, j->relu);
    }
}

void fer_conv2d_forward(float *y, const float *x, const float *k, const float *b, const fer_conv_dims *d,
                        int relu, float *scratch)
{
    fer_conv2d_forward_cached(y, x, k, b, d, relu, scratch, NULL);
}

void fer_conv2d_forward_cached(float *y, const float *x, const float *k, const float *b,
                               const fer_conv_dims *d, int relu, float *scratch, fer_conv_kernel_cache *cache)
{
    if (fer_winograd_applies(d)) {
        fer_winograd_forward(y, x, k, d, &(fer_winograd_epilogue){.bias = b, .relu = relu}, scratch, cache);
        return;
    }
    if (fer_conv_direct_applies(d)) {
        fer_conv_direct_forward(y, x, k, b, d, relu);
        return;
    }
    if (fer_conv_out_pixels(d) == 0)
        return;
    forward_job j = {.y = y, .x = x, .k = k, .b = b, .d = d, .relu = relu, .scratch = scratch};
    j.packed = pack_pointwise(scratch, k, d, 0);
    atomic_init(&j.next, 0);
    size_t cap = is_pointwise(d) ? chunk_count(d) : slot_count(d);
    fer_team_run(team_for(chunk_count(d), cap), forward_worker, &j);
}

/* dy masked by the ReLU and its rows summed into db, chunk by chunk (a
   two-level sum); sums is co floats of scratch. */
void fer_conv_mask_dy(float *db, float *dy, const float *y, const fer_conv_dims *d, int relu, float *sums)
{
    const size_t total = fer_conv_out_pixels(d), chunk = chunk_pixels(d);
    if (db)
        memset(db, 0, (size_t)d->co * sizeof *db);
    for (size_t p0 = 0; p0 < total; p0 += chunk) {
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        mask_and_sum(dy + p0 * d->co, relu ? y + p0 * d->co : NULL, db ? sums : NULL, m, d->co);
        for (int c = 0; db && c < d->co; c++)
            db[c] += sums[c];
    }
}

/* Winograd backward: dy masked and db summed first, then dk and dx from
   the masked dy (dx_mask: see fer_winograd_backward). */
static void winograd_backward(float *dx, float *dk, float *db, float *dy, const float *x, const float *k,
                              const float *y, const fer_conv_dims *d, int relu, int dx_mask, float *scratch)
{
    fer_conv_mask_dy(db, dy, y, d, relu, scratch + (fer_conv2d_scratch_floats(d) - (size_t)d->co));
    if (dx || dk)
        fer_winograd_backward(dx, dk, dy, x, k, d, dx_mask, scratch);
}

int fer_conv2d_backward_over_input_ok(const fer_conv_dims *d)
{
    return fer_winograd_applies(d);
}

void fer_conv2d_backward_over_input(float *x_dx, float *dk, float *db, float *dy, const float *k,
                                    const float *y, const fer_conv_dims *d, int relu, int relu_below,
                                    float *scratch)
{
    winograd_backward(x_dx, dk, db, dy, x_dx, k, y, d, relu, relu_below, scratch);
}

typedef struct {
    float *dk;
    const float *dy, *x;
    const fer_conv_dims *d;
    float *scratch;
    int own_at_b; /* fer_own_gemm_at_b rather than OpenBLAS (1x1 only) */
} kernel_grad_job;

/* Output channels per kernel-gradient block: DK_BLOCKS blocks of a multiple
   of DK_BLOCK. */
static int dk_block(const fer_conv_dims *d)
{
    int b = (d->co + DK_BLOCKS - 1) / DK_BLOCKS;
    b = (b + DK_BLOCK - 1) / DK_BLOCK * DK_BLOCK;
    return b > 0 ? b : DK_BLOCK;
}

/* dk[:, block] = sum over chunks in order of col^T dy[:, block], for this
   worker's share of the blocks; each chunk's columns are built once. */
static void kernel_grad_worker(void *ctx, int worker, int workers)
{
    kernel_grad_job *j = ctx;
    const fer_conv_dims *d = j->d;
    const size_t total = fer_conv_out_pixels(d), chunk = chunk_pixels(d);
    const int K = (int)(is_pointwise(d) ? (size_t)d->ci : patch_floats(d));
    const int bw = dk_block(d), blocks = (d->co + bw - 1) / bw;
    const int b0 = blocks * worker / workers, b1 = blocks * (worker + 1) / workers;
    float *slot = is_pointwise(d) ? NULL : j->scratch + (size_t)worker * chunk * patch_floats(d);
    for (size_t p0 = 0; p0 < total; p0 += chunk) {
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        const float *col = columns(slot, j->x, d, p0, m);
        for (int blk = b0; blk < b1; blk++) {
            int c0 = blk * bw, nb = d->co - c0 < bw ? d->co - c0 : bw;
            if (j->own_at_b)
                fer_own_gemm_at_b(j->dk + c0, (size_t)d->co, col, (size_t)K, j->dy + p0 * d->co + c0,
                                  (size_t)d->co, K, nb, (int)m, p0 > 0);
            else
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, nb, (int)m, 1.0f, col, K,
                            j->dy + p0 * d->co + c0, d->co, p0 == 0 ? 0.0f : 1.0f, j->dk + c0, d->co);
        }
    }
}

typedef struct {
    float *dx;
    const float *dy, *k;
    const float *packed; /* k^T for the own GEMM, or NULL */
    const fer_conv_dims *d;
    atomic_size_t next;
} pointwise_dx_job;

/* 1x1: dx = dy k^T, rows independent. */
static void pointwise_dx_worker(void *ctx, int worker, int workers)
{
    (void)worker;
    (void)workers;
    pointwise_dx_job *j = ctx;
    const fer_conv_dims *d = j->d;
    const size_t total = fer_conv_out_pixels(d), chunk = chunk_pixels(d);
    for (;;) {
        size_t p0 = atomic_fetch_add(&j->next, chunk);
        if (p0 >= total)
            return;
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        if (j->packed)
            fer_own_gemm_packed(j->dx + p0 * d->ci, (size_t)d->ci, j->dy + p0 * d->co, (size_t)d->co,
                                j->packed, (int)m, d->ci, d->co);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, d->ci, d->co, 1.0f,
                        j->dy + p0 * d->co, d->co, j->k, d->co, 0.0f, j->dx + p0 * d->ci, d->ci);
    }
}

typedef struct {
    float *col;
    const float *dy, *k;
    const fer_conv_dims *d;
    size_t m;
} dcol_job;

/* dcol = dy k^T for this worker's share of a chunk's rows, in blocks of
   DCOL_ROWS rows fixed by the chunk alone. */
static void dcol_worker(void *ctx, int worker, int workers)
{
    enum { DCOL_ROWS = 256 };
    dcol_job *j = ctx;
    const fer_conv_dims *d = j->d;
    const int K = (int)patch_floats(d);
    const size_t blocks = (j->m + DCOL_ROWS - 1) / DCOL_ROWS;
    for (size_t blk = blocks * worker / workers; blk < blocks * (worker + 1) / workers; blk++) {
        size_t r0 = blk * DCOL_ROWS, rows = j->m - r0 < DCOL_ROWS ? j->m - r0 : DCOL_ROWS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, K, d->co, 1.0f, j->dy + r0 * d->co,
                    d->co, j->k, d->co, 0.0f, j->col + r0 * K, K);
    }
}

/* k x k: dcol = dy k^T per chunk, scattered back into dx (col2im). Chunks
   overlap in dx, so the scatter runs in order on this thread. */
static void patch_dx(float *dx, const float *dy, const float *k, const fer_conv_dims *d, float *col)
{
    const size_t total = fer_conv_out_pixels(d), chunk = chunk_pixels(d);
    const size_t nx = d->n > 0 ? (size_t)d->n * d->h * d->w * d->ci : 0;
    size_t zeroed = 0;
    for (size_t p0 = 0; p0 < total; p0 += chunk) {
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        dcol_job j = {.col = col, .dy = dy + p0 * d->co, .k = k, .d = d, .m = m};
        fer_team_run(team_for((m + 255) / 256, (size_t)-1), dcol_worker, &j);
        fer_conv_zero_ahead(dx, d, p0 + m, &zeroed);
        fer_conv_col2im_add(dx, col, d, p0, p0 + m);
    }
    /* Input rows no output reaches (none for same or valid padding, but an
       empty batch or input smaller than the kernel has all of dx here). */
    if (zeroed < nx)
        memset(dx + zeroed, 0, (nx - zeroed) * sizeof *dx);
}

int fer_conv2d_pool_fusable(const fer_conv_dims *d)
{
    return fer_winograd_applies(d);
}

void fer_conv2d_forward_pooled(float *y, const float *x, const float *k, const float *b,
                               const fer_conv_dims *d, int relu, float *scratch, fer_conv_kernel_cache *cache)
{
    fer_winograd_forward(y, x, k, d, &(fer_winograd_epilogue){.bias = b, .relu = relu, .pool = 1}, scratch,
                         cache);
}

/* dy masked and summed (db) first; then dk = col^T dy and dx, each in its
   own pass over the chunks. */
void fer_conv2d_backward(float *dx, float *dk, float *db, float *dy, const float *x, const float *k,
                         const float *y, const fer_conv_dims *d, int relu, float *scratch)
{
    if (fer_winograd_applies(d)) {
        winograd_backward(dx, dk, db, dy, x, k, y, d, relu, 0, scratch);
        return;
    }
    fer_conv_mask_dy(db, dy, y, d, relu, scratch + (fer_conv2d_scratch_floats(d) - (size_t)d->co));
    const size_t total = fer_conv_out_pixels(d);
    if (dk && total == 0)
        memset(dk, 0, patch_floats(d) * d->co * sizeof *dk);
    if (dk && total > 0) {
        kernel_grad_job j = {.dk = dk, .dy = dy, .x = x, .d = d, .scratch = scratch};
        j.own_at_b = is_pointwise(d) && d->co % 16 == 0 && fer_own_gemm_at_b_runs(d->ci, dk_block(d));
        size_t blocks = (size_t)(d->co + dk_block(d) - 1) / dk_block(d);
        fer_team_run(team_for(blocks, is_pointwise(d) ? blocks : slot_count(d)), kernel_grad_worker, &j);
    }
    if (dx && is_pointwise(d)) {
        pointwise_dx_job j = {.dx = dx, .dy = dy, .k = k, .d = d};
        j.packed = pack_pointwise(scratch, k, d, 1);
        atomic_init(&j.next, 0);
        fer_team_run(team_for(chunk_count(d), chunk_count(d)), pointwise_dx_worker, &j);
    } else if (dx) {
        patch_dx(dx, dy, k, d, scratch);
    }
}
