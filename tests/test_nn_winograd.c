/* conv2d on the Winograd F(6x6, 3x3) path (3x3 kernels with >= 16 input and
   output channels) against naive loops in double: the forward (with and
   without the fused ReLU) and dx, dk, db of the backward, for same and valid
   padding, odd sizes (partial 6x6 blocks at the right and bottom edges),
   unequal channel counts, and batches spanning several chunks of tiles,
   both with a chunk per thread (narrow layers) and with the team sharing
   each chunk (wide layers).

   Tolerance: each value is a float sum of up to ~10^4 products. Winograd
   adds rounding in its transforms (factors up to 32 and down to 1/90), and
   the rounding of a tile scales with the whole tile, not with the one
   value: the error relative to the value's own sum of absolute terms is a
   few 1e-6 (1e-7 for im2col) and reaches ~3e-5 where that sum is small, at
   the corners of a valid convolution's input gradient (one tap). It is held
   to 1e-4, far below the O(1) of a wrong tile or index.

   The path splits its work over the BLAS thread count; results must not
   depend on it, bit for bit (a rerun, or a resume with another thread
   count, computes the same step). */
#include "../src/nn/conv2d_winograd.h"
#include "../src/nn/conv_kernel_cache.h"
#include "../src/nn/own_gemm.h"
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

typedef struct {
    double *y, *y_mag, *dx, *dx_mag, *dk, *dk_mag, *db, *db_mag;
} naive;

static size_t x_at(const fer_conv_dims *d, int n, int h, int w, int c)
{
    return (((size_t)n * d->h + h) * d->w + w) * d->ci + c;
}

static size_t y_at(const fer_conv_dims *d, int n, int h, int w, int c)
{
    return (((size_t)n * d->ho + h) * d->wo + w) * d->co + c;
}

static size_t k_at(const fer_conv_dims *d, int i, int j, int ci, int co)
{
    return (((size_t)i * 3 + j) * d->ci + ci) * d->co + co;
}

/* Pre-activation forward sums (and their magnitudes). */
static void naive_forward(naive *r, const float *x, const float *k, const float *b, const fer_conv_dims *d)
{
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < d->ho; oh++)
            for (int ow = 0; ow < d->wo; ow++)
                for (int co = 0; co < d->co; co++) {
                    double s = b[co], mag = fabs(b[co]);
                    for (int i = 0; i < 3; i++)
                        for (int j = 0; j < 3; j++) {
                            int ih = oh + i - d->pad, iw = ow + j - d->pad;
                            if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w)
                                continue;
                            for (int ci = 0; ci < d->ci; ci++) {
                                double t = (double)x[x_at(d, n, ih, iw, ci)] * k[k_at(d, i, j, ci, co)];
                                s += t;
                                mag += fabs(t);
                            }
                        }
                    r->y[y_at(d, n, oh, ow, co)] = s;
                    r->y_mag[y_at(d, n, oh, ow, co)] = mag;
                }
}

/* Scatters each (masked) output gradient to every input and weight it touched. */
static void naive_backward(naive *r, const float *dy, const float *x, const float *k, const float *y,
                           const fer_conv_dims *d, int relu)
{
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < d->ho; oh++)
            for (int ow = 0; ow < d->wo; ow++)
                for (int co = 0; co < d->co; co++) {
                    size_t o = y_at(d, n, oh, ow, co);
                    double g = relu && !(y[o] > 0.0f) ? 0.0 : dy[o];
                    r->db[co] += g;
                    r->db_mag[co] += fabs(g);
                    for (int i = 0; i < 3; i++)
                        for (int j = 0; j < 3; j++) {
                            int ih = oh + i - d->pad, iw = ow + j - d->pad;
                            if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w)
                                continue;
                            for (int ci = 0; ci < d->ci; ci++) {
                                size_t xi = x_at(d, n, ih, iw, ci), ki = k_at(d, i, j, ci, co);
                                r->dx[xi] += g * k[ki];
                                r->dx_mag[xi] += fabs(g * k[ki]);
                                r->dk[ki] += g * x[xi];
                                r->dk_mag[ki] += fabs(g * x[xi]);
                            }
                        }
                }
}

/* Largest error relative to the magnitude of the terms; NaN is infinite. */
static double max_rel(const float *got, const double *ref, const double *mag, size_t count, int relu)
{
    double worst = 0.0;
    for (size_t i = 0; i < count; i++) {
        double want = relu && ref[i] < 0.0 ? 0.0 : ref[i];
        double err = fabs(got[i] - want) / (mag[i] + 1e-30);
        worst = isnan(got[i]) ? INFINITY : fmax(worst, err);
    }
    return worst;
}

static float *uniform(size_t count, uint64_t key)
{
    float *v = malloc(count * sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (float)fer_uniform_range(key, i, -1, 1);
    return v;
}

static double *zeros(size_t count)
{
    return calloc(count, sizeof(double));
}

static void check(int n, int h, int w, int ci, int co, int same, int relu)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, n, h, w, ci, co, 3, same);
    const size_t nx = (size_t)n * h * w * ci, nk = (size_t)9 * ci * co, ny = (size_t)n * d.ho * d.wo * co;
    float *x = uniform(nx, 1), *k = uniform(nk, 2), *b = uniform((size_t)co, 3), *dy0 = uniform(ny, 4);
    float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    float *dx = malloc(nx * sizeof *dx), *dk = malloc(nk * sizeof *dk), *db = malloc(co * sizeof *db);
    float *scratch = malloc(fer_conv2d_scratch_floats(&d) * sizeof *scratch);
    naive r = {zeros(ny), zeros(ny), zeros(nx), zeros(nx), zeros(nk), zeros(nk), zeros(co), zeros(co)};

    fer_conv2d_forward(y, x, k, b, &d, relu, scratch);
    memcpy(dy, dy0, ny * sizeof *dy);
    memset(dx, 0x7f, nx * sizeof *dx); /* poisoned: backward must overwrite */
    memset(dk, 0x7f, nk * sizeof *dk);
    memset(db, 0x7f, co * sizeof *db);
    fer_conv2d_backward(dx, dk, db, dy, x, k, y, &d, relu, scratch);
    naive_forward(&r, x, k, b, &d);
    naive_backward(&r, dy0, x, k, y, &d, relu);

    double ey = max_rel(y, r.y, r.y_mag, ny, relu), ex = max_rel(dx, r.dx, r.dx_mag, nx, 0),
           ek = max_rel(dk, r.dk, r.dk_mag, nk, 0), eb = max_rel(db, r.db, r.db_mag, (size_t)co, 0);
    int tiles = n * ((d.ho + 5) / 6) * ((d.wo + 5) / 6);
    printf("winograd 3x3 %s%s n=%d %dx%d ci=%d co=%d (%d output tiles, path %s, own GEMM %s): max rel err y "
           "%.1e, dx %.1e, dk %.1e, db %.1e (tol 1e-4)\n",
           same ? "same" : "valid", relu ? " relu" : "", n, h, w, ci, co, tiles,
           fer_winograd_applies(&d) ? "winograd" : "im2col", fer_own_gemm_packed_runs(ci, co) ? "yes" : "no",
           ey, ex, ek, eb);
    CHECK(fer_winograd_applies(&d));
    CHECK(ey < 1e-4 && ex < 1e-4 && ek < 1e-4 && eb < 1e-4);

    /* dx and dk alone equal their values from the full call. */
    float *dx2 = malloc(nx * sizeof *dx2), *dk2 = malloc(nk * sizeof *dk2);
    memcpy(dy, dy0, ny * sizeof *dy);
    fer_conv2d_backward(dx2, NULL, NULL, dy, x, k, y, &d, relu, scratch);
    memcpy(dy, dy0, ny * sizeof *dy);
    fer_conv2d_backward(NULL, dk2, NULL, dy, x, k, y, &d, relu, scratch);
    int alone = !memcmp(dx, dx2, nx * sizeof *dx) && !memcmp(dk, dk2, nk * sizeof *dk);
    printf("  dx and dk computed alone are identical: %s\n", alone ? "yes" : "no");
    CHECK(alone);

    /* Over the input: dk first, then dx written over x (a copy here), whole
       or (relu_below) only where x was positive; bit-identical to the
       separate call. */
    int over = 1;
    float *xdx = malloc(nx * sizeof *xdx), *dk3 = malloc(nk * sizeof *dk3), *db3 = malloc(co * sizeof *db3);
    for (int relu_below = 0; relu_below <= 1; relu_below++) {
        memcpy(xdx, x, nx * sizeof *xdx);
        memcpy(dy, dy0, ny * sizeof *dy);
        fer_conv2d_backward_over_input(xdx, dk3, db3, dy, k, y, &d, relu, relu_below, scratch);
        for (size_t i = 0; i < nx; i++)
            over &= xdx[i] == (relu_below && !(x[i] > 0.0f) ? 0.0f : dx[i]);
        over &= !memcmp(dk, dk3, nk * sizeof *dk) && !memcmp(db, db3, co * sizeof *db);
    }
    printf("  over the input (plain, and masked by x > 0): identical to dx, dk and db: %s\n",
           over ? "yes" : "no");
    CHECK(fer_conv2d_backward_over_input_ok(&d) && over);
    free(db3);
    free(dk3);
    free(xdx);

    /* The same with 1 and 3 BLAS threads (a team of 1 and of 3). */
    int threads = openblas_get_num_threads(), same_bits = 1;
    float *y3 = malloc(ny * sizeof *y3);
    for (int t = 1; t <= 3; t += 2) {
        openblas_set_num_threads(t);
        fer_conv2d_forward(y3, x, k, b, &d, relu, scratch);
        memcpy(dy, dy0, ny * sizeof *dy);
        fer_conv2d_backward(dx2, dk2, NULL, dy, x, k, y, &d, relu, scratch);
        same_bits &= !memcmp(y, y3, ny * sizeof *y) && !memcmp(dx, dx2, nx * sizeof *dx) &&
                     !memcmp(dk, dk2, nk * sizeof *dk);
    }
    openblas_set_num_threads(threads);
    printf("  y, dx and dk with 1 and 3 BLAS threads identical to %d threads: %s\n", threads,
           same_bits ? "yes" : "no");
    CHECK(same_bits);

    free(y3);
    free(dk2);
    free(dx2);
    free(r.y);
    free(r.y_mag);
    free(r.dx);
    free(r.dx_mag);
    free(r.dk);
    free(r.dk_mag);
    free(r.db);
    free(r.db_mag);
    free(scratch);
    free(db);
    free(dk);
    free(dx);
    free(dy);
    free(y);
    free(dy0);
    free(b);
    free(k);
    free(x);
}

/* The kernel cache: the same bits as no cache; a second forward reads the
   cached transform (zeroing it shows in y); a changed kernel is transformed
   again. */
static void check_cache(int n, int h, int w, int ci, int co)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, n, h, w, ci, co, 3, 1);
    const size_t nx = (size_t)n * h * w * ci, nk = (size_t)9 * ci * co, ny = (size_t)n * d.ho * d.wo * co;
    float *x = uniform(nx, 5), *k = uniform(nk, 6), *b = uniform((size_t)co, 7);
    float *y = malloc(ny * sizeof *y), *yc = malloc(ny * sizeof *yc);
    float *scratch = malloc(fer_conv2d_scratch_floats(&d) * sizeof *scratch);
    fer_conv_kernel_cache cache = {0};

    fer_conv2d_forward(y, x, k, b, &d, 0, scratch);
    fer_conv2d_forward_cached(yc, x, k, b, &d, 0, scratch, &cache);
    int first = cache.u != NULL && !memcmp(y, yc, ny * sizeof *y);
    memset(cache.u, 0, cache.u_floats * sizeof *cache.u);
    fer_conv2d_forward_cached(yc, x, k, b, &d, 0, scratch, &cache);
    int read = 1; /* a zero transform leaves the bias alone */
    for (size_t i = 0; i < ny; i++)
        read &= yc[i] == b[i % (size_t)co];
    k[nk / 2] += 0.5f;
    fer_conv2d_forward(y, x, k, b, &d, 0, scratch);
    fer_conv2d_forward_cached(yc, x, k, b, &d, 0, scratch, &cache);
    int renewed = !memcmp(y, yc, ny * sizeof *y);
    printf("kernel cache n=%d %dx%d ci=%d co=%d: first forward identical to uncached %s, second reads the "
           "cache %s, changed kernel identical to uncached %s\n",
           n, h, w, ci, co, first ? "yes" : "no", read ? "yes" : "no", renewed ? "yes" : "no");
    CHECK(first && read && renewed);

    fer_conv_kernel_cache_free(&cache);
    free(scratch);
    free(yc);
    free(y);
    free(b);
    free(k);
    free(x);
}

/* y and dx of a batch against those of its two halves, which go through
   the same transforms in fewer chunks: per tile, only the chunking differs,
   and it must not change a bit. (No reference loops: at 512 channels they
   take most of a minute.) */
static void check_halves(int n, int h, int w, int ci, int co)
{
    fer_conv_dims d, dh;
    fer_conv_dims_init(&d, n, h, w, ci, co, 3, 1);
    fer_conv_dims_init(&dh, n / 2, h, w, ci, co, 3, 1);
    const size_t nx = (size_t)n * h * w * ci, nk = (size_t)9 * ci * co, ny = (size_t)n * h * w * co;
    float *x = uniform(nx, 8), *k = uniform(nk, 9), *b = uniform((size_t)co, 10), *dy0 = uniform(ny, 11);
    float *y = malloc(ny * sizeof *y), *yh = malloc(ny * sizeof *yh), *dy = malloc(ny * sizeof *dy);
    float *dx = malloc(nx * sizeof *dx), *dxh = malloc(nx * sizeof *dxh);
    float *scratch = malloc(fer_conv2d_scratch_floats(&d) * sizeof *scratch);

    fer_conv2d_forward(y, x, k, b, &d, 0, scratch);
    memcpy(dy, dy0, ny * sizeof *dy);
    fer_conv2d_backward(dx, NULL, NULL, dy, x, k, y, &d, 0, scratch);
    for (int half = 0; half < 2; half++) {
        size_t xo = (size_t)half * (nx / 2), yo = (size_t)half * (ny / 2);
        fer_conv2d_forward(yh + yo, x + xo, k, b, &dh, 0, scratch);
        memcpy(dy + yo, dy0 + yo, ny / 2 * sizeof *dy);
        fer_conv2d_backward(dxh + xo, NULL, NULL, dy + yo, x + xo, k, yh + yo, &dh, 0, scratch);
    }
    int same = !memcmp(y, yh, ny * sizeof *y) && !memcmp(dx, dxh, nx * sizeof *dx);
    printf("halves n=%d %dx%d ci=%d co=%d (%d tiles): y and dx identical to those of two batches of %d: %s\n",
           n, h, w, ci, co, n * ((h + 5) / 6) * ((w + 5) / 6), n / 2, same ? "yes" : "no");
    CHECK(same);

    free(scratch);
    free(dxh);
    free(dx);
    free(dy);
    free(yh);
    free(y);
    free(dy0);
    free(b);
    free(k);
    free(x);
}

/* The pooled forward against the forward followed by max pooling, bit for
   bit: tiles reach past odd output sizes, whose last row or column the
   pooling drops. */
static void check_pooled(int n, int h, int w, int ci, int co, int same, int relu)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, n, h, w, ci, co, 3, same);
    const size_t nx = (size_t)n * h * w * ci, nk = (size_t)9 * ci * co, ny = (size_t)n * d.ho * d.wo * co;
    const size_t np = (size_t)n * (d.ho / 2) * (d.wo / 2) * co;
    float *x = uniform(nx, 12), *k = uniform(nk, 13), *b = uniform((size_t)co, 14);
    float *y = malloc(ny * sizeof *y), *pooled = malloc(np * sizeof *pooled),
          *fused = malloc(np * sizeof *fused);
    float *scratch = malloc(fer_conv2d_scratch_floats(&d) * sizeof *scratch);
    fer_conv_kernel_cache cache = {0};

    fer_conv2d_forward(y, x, k, b, &d, relu, scratch);
    fer_maxpool2_forward(pooled, y, n, d.ho, d.wo, co);
    int same_bits = fer_conv2d_pool_fusable(&d);
    for (int cached = 0; cached <= 1; cached++) {
        memset(fused, 0x7f, np * sizeof *fused); /* poisoned: every pixel must be written */
        fer_conv2d_forward_pooled(fused, x, k, b, &d, relu, scratch, cached ? &cache : NULL);
        same_bits &= !memcmp(pooled, fused, np * sizeof *fused);
    }
    printf("pooled %s%s n=%d %dx%d ci=%d co=%d (output %dx%d, pooled %dx%d): identical to forward + max "
           "pooling, "
           "with and without the kernel cache: %s\n",
           same ? "same" : "valid", relu ? " relu" : "", n, h, w, ci, co, d.ho, d.wo, d.ho / 2, d.wo / 2,
           same_bits ? "yes" : "no");
    CHECK(same_bits);

    fer_conv_kernel_cache_free(&cache);
    free(scratch);
    free(fused);
    free(pooled);
    free(y);
    free(b);
    free(k);
    free(x);
}

int main(void)
{
    check(2, 6, 6, 16, 16, 1, 0);
    check(2, 7, 5, 16, 24, 1, 1);    /* odd sizes: partial blocks */
    check(3, 9, 8, 24, 16, 0, 0);    /* valid: output 7x6 */
    check(1, 12, 12, 32, 48, 0, 1);  /* valid, like conv2d_1 (12x12 -> 10x10) */
    check(1, 1, 1, 16, 16, 1, 1);    /* one pixel: every tap but the centre is padding */
    check(3, 45, 43, 32, 16, 1, 1);  /* 192 tiles in 4 chunks (a quarter each) */
    check(15, 64, 64, 16, 16, 1, 1); /* 1,815 tiles in chunks of 256, 2 kernel-gradient chunks */
    check(4, 54, 54, 16, 160, 1, 1); /* 160 channels: the team shares chunks, 324 tiles in 2 */
    check(400, 8, 8, 16, 160, 0, 1); /* 400 tiles: one kernel-gradient chunk in the shared region */
    /* 128+ channels: the own GEMM (AVX-512), a 16-wide panel; 75 tiles in
       chunks of 19, so a full 14-row tile and a partial one. */
    check(3, 30, 30, 128, 144, 1, 1);
    /* 160 channels in one shared chunk: the fused kernel transform, in the
       forward and the input gradient (like conv2d_1). */
    check(4, 12, 12, 128, 160, 0, 1);
    check_halves(240, 6, 6, 128, 512);       /* the fused transform over two chunks (170 and 70 tiles) */
    check_pooled(2, 14, 14, 16, 24, 1, 1);   /* partial tiles at the far edges */
    check_pooled(3, 13, 11, 32, 16, 1, 1);   /* odd sizes: the last row and column are dropped */
    check_pooled(1, 12, 12, 16, 16, 0, 0);   /* valid 10x10, no ReLU: negative maxima */
    check_pooled(4, 24, 24, 16, 160, 1, 1);  /* shared chunks */
    check_pooled(3, 30, 30, 128, 144, 1, 1); /* the own GEMM */
    check_cache(2, 9, 9, 16, 24);
    check_cache(1, 8, 8, 128, 144);   /* the packed form of the own GEMM */
    check_cache(1, 12, 12, 128, 160); /* uncached, the fused transform: the same bits */
    check_cache(240, 6, 6, 128, 512); /* the same over two chunks */
    return check_report("test_nn_winograd");
}
