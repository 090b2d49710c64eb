/* fer_batchnorm_fold_conv_grads: a batch normalization's parameter
   gradients and the valid convolution's kernel gradient, taken from the
   convolution's kernel gradient over xhat, against reference loops in
   double that form the convolution's input gradient and sum it, as the
   unfolded backward does. Shapes cover the Winograd path (conv2d_1's kind:
   3x3 over 48 channels), im2col with a ReLU mask, and 1x1. Errors are
   measured against the sum of the absolute terms of each result. The fold
   must also give the same bits with 1, 2 and 3 threads. */
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_C = 64 }; /* input channels at most */

typedef struct {
    int n, h, w, ci, co, k, relu;
} shape;

static float *uniform(size_t count, uint64_t key, double lo, double hi)
{
    float *v = malloc(count * sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (float)fer_uniform_range(key, i, lo, hi);
    return v;
}

/* Largest |got - want| / scale over count results. */
static double worst(const float *got, const double *want, const double *scale, size_t count)
{
    double e = 0.0;
    for (size_t i = 0; i < count; i++) {
        double r = fabs(got[i] - want[i]) / (scale[i] > 0 ? scale[i] : 1.0);
        e = r > e ? r : e;
    }
    return e;
}

/* The unfolded gradients in double: dk from y, the input gradient dx
   summed into dgamma (times xhat) and dbeta; with their absolute sums. */
typedef struct {
    double *dk, *dk_abs, dg[MAX_C], dg_abs[MAX_C], dbeta[MAX_C], dbeta_abs[MAX_C];
} reference;

static void reference_grads(reference *r, const float *y, const float *xhat, const float *dy, const float *k,
                            const fer_conv_dims *d)
{
    size_t taps = (size_t)d->k * d->k, kf = taps * d->ci * d->co;
    memset(r->dk, 0, kf * sizeof(double));
    memset(r->dk_abs, 0, kf * sizeof(double));
    for (int c = 0; c < d->ci; c++)
        r->dg[c] = r->dg_abs[c] = r->dbeta[c] = r->dbeta_abs[c] = 0.0;
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < d->ho; oh++)
            for (int ow = 0; ow < d->wo; ow++)
                for (size_t t = 0; t < taps; t++) {
                    size_t p = (((size_t)n * d->h + oh + t / d->k) * d->w + ow + t % d->k) * d->ci;
                    const float *g = dy + (((size_t)n * d->ho + oh) * d->wo + ow) * d->co;
                    for (int c = 0; c < d->ci; c++)
                        for (int o = 0; o < d->co; o++) {
                            size_t kk = (t * d->ci + c) * d->co + o;
                            double dx = (double)k[kk] * g[o];
                            r->dk[kk] += (double)y[p + c] * g[o];
                            r->dk_abs[kk] += fabs((double)y[p + c] * g[o]);
                            r->dg[c] += dx * xhat[p + c];
                            r->dg_abs[c] += fabs(dx * xhat[p + c]);
                            r->dbeta[c] += dx;
                            r->dbeta_abs[c] += fabs(dx);
                        }
                }
}

static void check_shape(const shape *s, uint64_t key)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, s->n, s->h, s->w, s->ci, s->co, s->k, 0);
    int rows = s->n * s->h * s->w, c = s->ci;
    size_t nx = (size_t)rows * c, ny = (size_t)d.n * d.ho * d.wo * d.co, kf = (size_t)s->k * s->k * c * s->co;
    float *x = uniform(nx, key, 2.0, 5.0), *k = uniform(kf, key + 1, -0.5, 0.5);
    float *dy = uniform(ny, key + 2, -1.0, 1.0), *b = uniform((size_t)s->co, key + 3, -0.2, 0.2);
    float *y = malloc(nx * sizeof(float)), *xhat = malloc(nx * sizeof(float)),
          *yc = malloc(ny * sizeof(float));
    float *scratch = malloc(fer_conv2d_scratch_floats(&d) * sizeof(float));
    float gamma[MAX_C], beta[MAX_C], mm[MAX_C], mv[MAX_C], mean[MAX_C], invstd[MAX_C];
    for (int j = 0; j < c; j++) { /* one gamma of 0: the fold must not divide by it */
        gamma[j] = j == 1 ? 0.0f : (j % 3 == 0 ? -1.0f : 1.0f) * (0.5f + (float)j / c);
        beta[j] = (float)j / c - 0.4f;
        mm[j] = 0.0f;
        mv[j] = 1.0f;
    }
    fer_batchnorm_forward_train(y, x, gamma, beta, mm, mv, mean, invstd, rows, c, 0.99f, 1e-3f, NULL);
    fer_conv2d_forward(yc, y, k, b, &d, s->relu, scratch);
    if (s->relu) /* the reference sees the masked gradient the convolution uses */
        for (size_t i = 0; i < ny; i++)
            dy[i] = yc[i] > 0.0f ? dy[i] : 0.0f;
    fer_batchnorm_normalized(xhat, x, mean, invstd, rows, c);
    reference r = {.dk = malloc(kf * sizeof(double)), .dk_abs = malloc(kf * sizeof(double))};
    reference_grads(&r, y, xhat, dy, k, &d);

    float *dk = malloc(kf * sizeof(float)), *bits = malloc(kf * sizeof(float)),
          *db = malloc((size_t)s->co * sizeof(float));
    float dg[MAX_C], dbeta[MAX_C];
    float dg1[MAX_C], dbeta1[MAX_C];
    int same = 1;
    for (int threads = 1; threads <= 3; threads++) {
        openblas_set_num_threads(threads);
        fer_conv2d_backward(NULL, dk, db, dy, xhat, k, yc, &d, s->relu, scratch);
        memset(dg, 0x7f, sizeof dg); /* poison: a channel no thread writes shows */
        memset(dbeta, 0x7f, sizeof dbeta);
        fer_batchnorm_fold_conv_grads(dk, dg, dbeta, k, db, gamma, beta, s->k * s->k, c, s->co);
        if (threads == 1) {
            memcpy(bits, dk, kf * sizeof(float));
            memcpy(dg1, dg, sizeof dg1);
            memcpy(dbeta1, dbeta, sizeof dbeta1);
        } else {
            same &= !memcmp(bits, dk, kf * sizeof(float)) && !memcmp(dg1, dg, c * sizeof(float)) &&
                    !memcmp(dbeta1, dbeta, c * sizeof(float));
        }
    }
    double e_dk = worst(dk, r.dk, r.dk_abs, kf), e_dg = worst(dg, r.dg, r.dg_abs, (size_t)c);
    double e_db = worst(dbeta, r.dbeta, r.dbeta_abs, (size_t)c);
    printf("%dx%dx%dx%d, %dx%d kernel to %d%s: worst error / absolute sum: dk %.2e, dgamma %.2e, dbeta "
           "%.2e; 1, 2, 3 threads identical: %s\n",
           s->n, s->h, s->w, c, s->k, s->k, s->co, s->relu ? ", ReLU" : "", e_dk, e_dg, e_db,
           same ? "yes" : "no");
    CHECK(e_dk < 1e-5 && e_dg < 1e-5 && e_db < 1e-5);
    CHECK(same);
    free(r.dk);
    free(r.dk_abs);
    free(x);
    free(k);
    free(dy);
    free(b);
    free(y);
    free(xhat);
    free(yc);
    free(scratch);
    free(dk);
    free(bits);
    free(db);
}

int main(void)
{
    const shape shapes[] = {
        {2, 12, 12, 48, 128, 3, 0}, /* Winograd, conv2d_1's kind; 3 threads' work */
        {3, 7, 9, 5, 6, 3, 1},      /* im2col, ReLU mask */
        {2, 5, 5, 8, 12, 1, 0},     /* 1x1 */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        check_shape(&shapes[i], 100 + 10 * i);
    return check_report("test_nn_batchnorm_fold");
}
