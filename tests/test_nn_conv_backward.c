/* conv2d backward against naive loops in double, on batches spanning several
   im2col chunks (the finite-difference check covers only single-chunk
   shapes): dx, dk and db with and without the fused ReLU, for 3x3 same,
   3x3 valid and 1x1 (one wide enough for fer's own AVX-512 GEMM), and NULL
   gradients skipped.

   Tolerance: each gradient is a float sum of up to a few thousand products
   (dk sums over every output pixel, across chunk GEMMs with beta = 1); the
   error is reported relative to the sum of absolute terms and held to 1e-5,
   well above the ~sqrt(K) * 2^-24 seen in practice and far below the O(1)
   of a wrong index. */
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include <math.h>
#include <string.h>

typedef struct {
    double *dx, *dx_mag, *dk, *dk_mag, *db, *db_mag;
} naive_grads;

/* Scatters each masked output gradient to every input and weight it touched. */
static void naive_backward(naive_grads *g, const float *dy, const float *x, const float *k, const float *y,
                           const fer_conv_dims *d, int relu)
{
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < d->ho; oh++)
            for (int ow = 0; ow < d->wo; ow++)
                for (int co = 0; co < d->co; co++) {
                    size_t o = (((size_t)n * d->ho + oh) * d->wo + ow) * d->co + co;
                    double g0 = relu && !(y[o] > 0.0f) ? 0.0 : dy[o];
                    g->db[co] += g0;
                    g->db_mag[co] += fabs(g0);
                    for (int i = 0; i < d->k; i++)
                        for (int j = 0; j < d->k; j++) {
                            int ih = oh + i - d->pad, iw = ow + j - d->pad;
                            if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w)
                                continue;
                            for (int ci = 0; ci < d->ci; ci++) {
                                size_t xi = (((size_t)n * d->h + ih) * d->w + iw) * d->ci + ci;
                                size_t ki = (((size_t)i * d->k + j) * d->ci + ci) * d->co + co;
                                g->dx[xi] += g0 * k[ki];
                                g->dx_mag[xi] += fabs(g0 * k[ki]);
                                g->dk[ki] += g0 * x[xi];
                                g->dk_mag[ki] += fabs(g0 * x[xi]);
                            }
                        }
                }
}

static double max_rel(const float *got, const double *ref, const double *mag, size_t count)
{
    double worst = 0.0;
    for (size_t i = 0; i < count; i++) {
        double err = fabs(got[i] - ref[i]) / (mag[i] + 1e-30);
        worst = isnan(got[i]) ? INFINITY : fmax(worst, err);
    }
    return worst;
}

static void check(int n, int h, int w, int ci, int co, int k, int same, int relu, int want_chunks)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, n, h, w, ci, co, k, same);
    const size_t nx = (size_t)n * h * w * ci, nk = (size_t)k * k * ci * co, ny = (size_t)n * d.ho * d.wo * co;
    float *x = malloc(nx * sizeof *x), *kk = malloc(nk * sizeof *kk), *b = malloc(co * sizeof *b);
    float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy), *dy0 = malloc(ny * sizeof *dy0);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)fer_uniform_range(1, i, -1, 1);
    for (size_t i = 0; i < nk; i++)
        kk[i] = (float)fer_uniform_range(2, i, -1, 1);
    for (int i = 0; i < co; i++)
        b[i] = (float)fer_uniform_range(3, (uint64_t)i, -1, 1);
    for (size_t i = 0; i < ny; i++)
        dy0[i] = (float)fer_uniform_range(4, i, -1, 1);
    float *scratch = malloc(fer_conv2d_scratch_floats(&d) * sizeof *scratch);
    float *dx = malloc(nx * sizeof *dx), *dk = malloc(nk * sizeof *dk), *db = malloc(co * sizeof *db);
    fer_conv2d_forward(y, x, kk, b, &d, relu, scratch);
    memcpy(dy, dy0, ny * sizeof *dy);
    /* Poison the outputs: backward must overwrite, not accumulate. */
    memset(dx, 0x7f, nx * sizeof *dx);
    memset(dk, 0x7f, nk * sizeof *dk);
    memset(db, 0x7f, co * sizeof *db);
    fer_conv2d_backward(dx, dk, db, dy, x, kk, y, &d, relu, scratch);

    naive_grads g = {calloc(nx, sizeof(double)), calloc(nx, sizeof(double)), calloc(nk, sizeof(double)),
                     calloc(nk, sizeof(double)), calloc(co, sizeof(double)), calloc(co, sizeof(double))};
    naive_backward(&g, dy0, x, kk, y, &d, relu);
    double ex = max_rel(dx, g.dx, g.dx_mag, nx), ek = max_rel(dk, g.dk, g.dk_mag, nk),
           eb = max_rel(db, g.db, g.db_mag, co);
    size_t pixels = (size_t)n * d.ho * d.wo;
    size_t chunk = k == 1 ? pixels : (fer_conv2d_scratch_floats(&d) - co) / ((size_t)k * k * ci);
    printf("conv2d backward %dx%d %s%s n=%d %dx%d ci=%d co=%d, %zu pixels in chunks of %zu: max rel err dx "
           "%.1e, "
           "dk %.1e, db %.1e (tol 1e-5)\n",
           k, k, same ? "same" : "valid", relu ? " relu" : "", n, h, w, ci, co, pixels, chunk, ex, ek, eb);
    CHECK(ex < 1e-5 && ek < 1e-5 && eb < 1e-5);
    CHECK_MSG(!want_chunks || pixels > chunk, "%zu pixels fit one chunk", pixels);

    /* Each gradient alone equals its value from the full call. */
    float *dk2 = malloc(nk * sizeof *dk2), *dx2 = malloc(nx * sizeof *dx2), *db2 = malloc(co * sizeof *db2);
    memcpy(dy, dy0, ny * sizeof *dy);
    fer_conv2d_backward(NULL, dk2, NULL, dy, x, kk, y, &d, relu, scratch);
    memcpy(dy, dy0, ny * sizeof *dy);
    fer_conv2d_backward(dx2, NULL, NULL, dy, x, kk, y, &d, relu, scratch);
    memcpy(dy, dy0, ny * sizeof *dy);
    fer_conv2d_backward(NULL, NULL, db2, dy, x, kk, y, &d, relu, scratch);
    int alone = memcmp(dk2, dk, nk * sizeof *dk) == 0 && memcmp(dx2, dx, nx * sizeof *dx) == 0 &&
                memcmp(db2, db, co * sizeof *db) == 0;
    printf("  dx, dk, db computed alone (others NULL) are identical: %s\n", alone ? "yes" : "no");
    CHECK(alone);

    free(db2);
    free(dx2);
    free(dk2);
    free(g.db_mag);
    free(g.db);
    free(g.dk_mag);
    free(g.dk);
    free(g.dx_mag);
    free(g.dx);
    free(db);
    free(dk);
    free(dx);
    free(scratch);
    free(dy0);
    free(dy);
    free(y);
    free(b);
    free(kk);
    free(x);
}

/* A batch of at least two im2col chunks, from the scratch size. */
static void check_chunked(int h, int w, int ci, int co, int same, int relu)
{
    fer_conv_dims d;
    /* Queried with a huge batch, so that the chunk is not capped by it. */
    fer_conv_dims_init(&d, 1 << 20, h, w, ci, co, 3, same);
    size_t chunk = (fer_conv2d_scratch_floats(&d) - co) / ((size_t)9 * ci);
    int n = (int)(chunk / ((size_t)d.ho * d.wo)) + 2;
    check(n, h, w, ci, co, 3, same, relu, 1);
}

int main(void)
{
    check(2, 6, 5, 3, 4, 3, 1, 0, 0);
    check_chunked(33, 31, 64, 5, 1, 1);
    check_chunked(29, 27, 64, 4, 0, 0);
    check(3, 7, 5, 16, 8, 1, 1, 1, 0);
    check(2, 9, 7, 128, 144, 1, 0, 1, 0); /* 1x1 input gradient on the own AVX-512 GEMM, a 16-wide panel */
    return check_report("test_nn_conv_backward");
}
