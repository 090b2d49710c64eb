/* 2-D convolution, stride 1, NHWC input, HWIO kernel, as im2col + SGEMM.

   The output pixels of the whole batch (n * ho * wo of them) are rows of one
   big matrix product y = col(x) * k, with col(x) the im2col matrix (one row of
   k*k*ci floats per output pixel) and k viewed as a (k*k*ci) x co matrix: HWIO
   order is exactly the im2col column order. The rows are processed in chunks
   so that the im2col scratch stays bounded while each GEMM stays large; a
   chunk may start or end inside an image. A 1x1 convolution needs no im2col:
   x itself, viewed as (n*h*w) x ci, is the column matrix. */
#include "fer/nn.h"

#include <cblas.h>
#include <string.h>

/* im2col scratch per chunk, in floats (4 MiB): a chunk still has hundreds to
   thousands of rows even for 3x3x256 patches, so the GEMMs run near peak
   (measured: 190-230 GFLOP/s single-threaded on the seed's layers, within a
   few percent of 8 MiB chunks and ahead of 16 MiB ones), and the chunk stays
   in the last-level cache between im2col and GEMM with two ranks per node. */
enum { CONV_CHUNK_FLOATS = 1 << 20 };

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

/* Zero for an empty batch or an input smaller than a valid kernel. */
static size_t out_pixels(const fer_conv_dims *d)
{
    if (d->n <= 0 || d->ho <= 0 || d->wo <= 0)
        return 0;
    return (size_t)d->n * d->ho * d->wo;
}

/* Output pixels per chunk. */
static size_t chunk_pixels(const fer_conv_dims *d)
{
    size_t total = out_pixels(d), patch = patch_floats(d);
    if (is_pointwise(d) || patch == 0)
        return total;
    size_t chunk = CONV_CHUNK_FLOATS / patch;
    if (chunk < 1)
        chunk = 1;
    return chunk < total ? chunk : total;
}

/* Scratch layout: the chunk's im2col matrix, then co floats for the chunk's
   bias-gradient partial sums (a two-level sum keeps db accurate over ~10^5
   rows in float). */
size_t fer_conv2d_scratch_floats(const fer_conv_dims *d)
{
    size_t col = is_pointwise(d) ? 0 : chunk_pixels(d) * patch_floats(d);
    return col + (size_t)d->co;
}

/* Position of an output pixel; walking it avoids a division per pixel. */
typedef struct {
    size_t img;
    int oh, ow;
} pixel_cursor;

static pixel_cursor cursor_at(const fer_conv_dims *d, size_t p)
{
    size_t per_image = (size_t)d->ho * d->wo;
    size_t rem = p % per_image;
    pixel_cursor c = {p / per_image, (int)(rem / (size_t)d->wo), (int)(rem % (size_t)d->wo)};
    return c;
}

static void cursor_next(pixel_cursor *c, const fer_conv_dims *d)
{
    if (++c->ow < d->wo)
        return;
    c->ow = 0;
    if (++c->oh < d->ho)
        return;
    c->oh = 0;
    c->img++;
}

/* The kernel columns [*jlo, *jhi) of a patch whose left edge is input column
   w0 that fall inside the image. */
static void valid_columns(const fer_conv_dims *d, int w0, int *jlo, int *jhi)
{
    *jlo = w0 < 0 ? -w0 : 0;
    *jhi = d->w - w0 < d->k ? d->w - w0 : d->k;
    if (*jhi < *jlo)
        *jhi = *jlo;
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
static void col2im_add(float *dx, const float *col, const fer_conv_dims *d, size_t p0, size_t p1)
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
static void zero_ahead(float *dx, const fer_conv_dims *d, size_t p1, size_t *zeroed)
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
static void add_bias_act(float *y, const float *b, size_t rows, int co, int relu)
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

void fer_conv2d_forward(float *y, const float *x, const float *k, const float *b, const fer_conv_dims *d,
                        int relu, float *scratch)
{
    const size_t total = out_pixels(d), chunk = chunk_pixels(d);
    const int K = (int)patch_floats(d);
    for (size_t p0 = 0; p0 < total; p0 += chunk) {
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        const float *col = x + p0 * d->ci;
        if (!is_pointwise(d)) {
            im2col(scratch, x, d, p0, p0 + m);
            col = scratch;
        }
        float *yc = y + p0 * d->co;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, d->co, K, 1.0f, col, K, k, d->co, 0.0f,
                    yc, d->co);
        add_bias_act(yc, b, m, d->co, relu);
    }
}

/* Per chunk: dy masked and summed (db), dk += col^T dy, dcol = dy k^T
   scattered back into dx. The 1x1 case writes dx = dy k^T directly. */
void fer_conv2d_backward(float *dx, float *dk, float *db, float *dy, const float *x, const float *k,
                         const float *y, const fer_conv_dims *d, int relu, float *scratch)
{
    const size_t total = out_pixels(d), chunk = chunk_pixels(d);
    const int K = (int)patch_floats(d), pointwise = is_pointwise(d);
    float *col = scratch, *sums = scratch + (fer_conv2d_scratch_floats(d) - (size_t)d->co);
    const size_t nx = d->n > 0 ? (size_t)d->n * d->h * d->w * d->ci : 0;
    size_t zeroed = 0;
    if (db)
        memset(db, 0, (size_t)d->co * sizeof *db);
    if (dk && total == 0)
        memset(dk, 0, patch_floats(d) * d->co * sizeof *dk);
    for (size_t p0 = 0; p0 < total; p0 += chunk) {
        size_t m = total - p0 < chunk ? total - p0 : chunk;
        float *dyc = dy + p0 * d->co;
        mask_and_sum(dyc, relu ? y + p0 * d->co : NULL, db ? sums : NULL, m, d->co);
        for (int c = 0; db && c < d->co; c++)
            db[c] += sums[c];
        if (dk) {
            const float *xcol = x + p0 * d->ci;
            if (!pointwise) {
                im2col(col, x, d, p0, p0 + m);
                xcol = col;
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, d->co, (int)m, 1.0f, xcol, K, dyc, d->co,
                        p0 == 0 ? 0.0f : 1.0f, dk, d->co);
        }
        if (dx && pointwise) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, d->ci, d->co, 1.0f, dyc, d->co, k,
                        d->co, 0.0f, dx + p0 * d->ci, d->ci);
        } else if (dx) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, K, d->co, 1.0f, dyc, d->co, k, d->co,
                        0.0f, col, K);
            zero_ahead(dx, d, p0 + m, &zeroed);
            col2im_add(dx, col, d, p0, p0 + m);
        }
    }
    /* Input rows no output reaches (none for same or valid padding, but an
       empty batch or input smaller than the kernel has all of dx here). */
    if (dx && !pointwise && zeroed < nx)
        memset(dx + zeroed, 0, (nx - zeroed) * sizeof *dx);
}
