/* The convolution with bf16 products (fer_conv2d_forward_bf16 and
   fer_conv2d_backward_bf16), on every bf16 kernel this CPU runs, against
   double-precision loops over the same bf16-rounded operands. Products of
   bf16 values are exact, so each result may differ from the double one by
   the fp32 summation error only: |err| <= gamma_t * (sum of |terms|) +
   t * FLT_MIN, t the number of terms it sums (the depth of the product plus
   the bias, the col2im overlaps, or the pixels of the kernel gradient).
   Shapes: 3x3 same over 3 channels (the first VGG layer), 3x3 same and
   valid with odd sizes and channel counts that cut register tiles, AMX
   blocks and panels, and 1x1; batches that span several chunks. Then y,
   dx, dk and db must be the same bits with 1, 2 and 3 threads. */
#include "../src/nn/bf16_gemm.h"
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *uniform(size_t count, uint64_t key, double scale)
{
    float *v = malloc(count * sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (float)fer_uniform_range(key, i, -scale, scale);
    return v;
}

static double r16(float v)
{
    return (double)fer_bf16_round(v);
}

static double gamma_of(double terms)
{
    const double u = 0x1p-24;
    return terms * u / (1 - terms * u);
}

typedef struct {
    float *y, *dx, *dk, *db;
} outputs;

typedef struct {
    fer_conv_dims d;
    size_t nx, ny, nk;
    float *x, *k, *b, *dy;
} problem;

static void run(fer_products kernel, const problem *p, outputs *o, int threads)
{
    float *dy = malloc(p->ny * sizeof *dy),
          *scratch = malloc(fer_conv2d_bf16_scratch_floats(&p->d) * sizeof *scratch);
    memcpy(dy, p->dy, p->ny * sizeof *dy);
    openblas_set_num_threads(threads);
    /* no ReLU: every element of dy reaches dk and dx */
    fer_conv2d_forward_bf16(kernel, o->y, p->x, p->k, p->b, &p->d, 0, scratch);
    fer_conv2d_backward_bf16(kernel, o->dx, o->dk, o->db, dy, p->x, p->k, o->y, &p->d, 0, scratch);
    free(scratch);
    free(dy);
}

static const float *x_at(const problem *p, int n, int h, int w)
{
    const fer_conv_dims *d = &p->d;
    if (h < 0 || h >= d->h || w < 0 || w >= d->w)
        return NULL;
    return p->x + (((size_t)n * d->h + h) * d->w + w) * d->ci;
}

/* Worst error of y and dx relative to their bounds. */
static void check_y_dx(const problem *p, const outputs *o, double *ey, double *edx)
{
    const fer_conv_dims *d = &p->d;
    double *dx = calloc(p->nx, sizeof *dx), *dxmag = calloc(p->nx, sizeof *dxmag);
    *ey = 0.0;
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < d->ho; oh++)
            for (int ow = 0; ow < d->wo; ow++)
                for (int c = 0; c < d->co; c++) {
                    size_t yi = (((size_t)n * d->ho + oh) * d->wo + ow) * d->co + c;
                    double s = p->b[c], mag = fabs(p->b[c]);
                    for (int i = 0; i < d->k; i++)
                        for (int j = 0; j < d->k; j++) {
                            const float *xv = x_at(p, n, oh + i - d->pad, ow + j - d->pad);
                            if (!xv)
                                continue;
                            size_t xi = (size_t)(xv - p->x);
                            for (int ci = 0; ci < d->ci; ci++) {
                                double kv = r16(p->k[(((size_t)i * d->k + j) * d->ci + ci) * d->co + c]);
                                s += r16(xv[ci]) * kv;
                                mag += fabs(r16(xv[ci]) * kv);
                                dx[xi + ci] += r16(p->dy[yi]) * kv;
                                dxmag[xi + ci] += fabs(r16(p->dy[yi]) * kv);
                            }
                        }
                    double terms = (double)d->k * d->k * d->ci + 1;
                    double e = fabs(o->y[yi] - s) / (gamma_of(terms + 1) * mag + terms * FLT_MIN);
                    *ey = e > *ey ? e : *ey;
                }
    *edx = 0.0;
    double terms = (double)d->co * d->k * d->k + d->k * d->k;
    for (size_t i = 0; i < p->nx; i++) {
        double e = fabs(o->dx[i] - dx[i]) / (gamma_of(terms) * dxmag[i] + terms * FLT_MIN);
        *edx = e > *edx ? e : *edx;
    }
    free(dx);
    free(dxmag);
}

/* Worst error of dk and db relative to their bounds. */
static void check_dk_db(const problem *p, const outputs *o, double *edk, double *edb)
{
    const fer_conv_dims *d = &p->d;
    double pixels = (double)d->n * d->ho * d->wo;
    *edk = *edb = 0.0;
    for (int i = 0; i < d->k; i++)
        for (int j = 0; j < d->k; j++)
            for (int ci = 0; ci < d->ci; ci++)
                for (int c = 0; c < d->co; c++) {
                    double s = 0.0, mag = 0.0;
                    for (int n = 0; n < d->n; n++)
                        for (int oh = 0; oh < d->ho; oh++)
                            for (int ow = 0; ow < d->wo; ow++) {
                                const float *xv = x_at(p, n, oh + i - d->pad, ow + j - d->pad);
                                if (!xv)
                                    continue;
                                double t = r16(xv[ci]) *
                                           r16(p->dy[(((size_t)n * d->ho + oh) * d->wo + ow) * d->co + c]);
                                s += t;
                                mag += fabs(t);
                            }
                    size_t ki = (((size_t)i * d->k + j) * d->ci + ci) * d->co + c;
                    double e = fabs(o->dk[ki] - s) / (gamma_of(pixels + 1) * mag + pixels * FLT_MIN);
                    *edk = e > *edk ? e : *edk;
                }
    for (int c = 0; c < d->co; c++) { /* db sums the fp32 dy, unrounded */
        double s = 0.0, mag = 0.0;
        for (size_t r = 0; r < (size_t)pixels; r++) {
            s += p->dy[r * d->co + c];
            mag += fabs(p->dy[r * d->co + c]);
        }
        double e = fabs(o->db[c] - s) / (gamma_of(pixels + 1) * mag + FLT_MIN);
        *edb = e > *edb ? e : *edb;
    }
}

static outputs alloc_outputs(const problem *p)
{
    outputs o = {malloc(p->ny * sizeof(float)), malloc(p->nx * sizeof(float)), malloc(p->nk * sizeof(float)),
                 malloc((size_t)p->d.co * sizeof(float))};
    return o;
}

static void free_outputs(outputs *o)
{
    free(o->y), free(o->dx), free(o->dk), free(o->db);
}

static void check_shape(fer_products kernel, const char *name, int n, int h, int w, int ci, int co, int ks,
                        int same)
{
    problem p;
    fer_conv_dims_init(&p.d, n, h, w, ci, co, ks, same);
    p.nx = (size_t)n * h * w * ci;
    p.ny = (size_t)n * p.d.ho * p.d.wo * co;
    p.nk = (size_t)ks * ks * ci * co;
    p.x = uniform(p.nx, 31, 100), p.k = uniform(p.nk, 32, 0.1), p.b = uniform((size_t)co, 33, 1);
    p.dy = uniform(p.ny, 34, 1e-3);
    outputs o[3];
    for (int t = 0; t < 3; t++) {
        o[t] = alloc_outputs(&p);
        run(kernel, &p, &o[t], t + 1);
    }
    double ey, edx, edk, edb;
    check_y_dx(&p, &o[0], &ey, &edx);
    check_dk_db(&p, &o[0], &edk, &edb);
    int bits = 1;
    for (int t = 1; t < 3; t++)
        bits &= !memcmp(o[0].y, o[t].y, p.ny * sizeof(float)) &&
                !memcmp(o[0].dx, o[t].dx, p.nx * sizeof(float)) &&
                !memcmp(o[0].dk, o[t].dk, p.nk * sizeof(float)) &&
                !memcmp(o[0].db, o[t].db, co * sizeof(float));
    printf("%s %s n=%d %dx%d ci=%d co=%d: error / bound y %.3f dx %.3f dk %.3f db %.3f; 1, 2, 3 threads %s\n",
           fer_products_name(kernel), name, n, h, w, ci, co, ey, edx, edk, edb,
           bits ? "identical" : "DIFFER");
    CHECK(ey <= 1.0 && edx <= 1.0 && edk <= 1.0 && edb <= 1.0);
    CHECK(bits);
    for (int t = 0; t < 3; t++)
        free_outputs(&o[t]);
    free(p.x), free(p.k), free(p.b), free(p.dy);
}

static void check_kernel(fer_products kernel)
{
    if (!fer_bf16_kernel_runs(kernel)) {
        printf("%s: skipped, this CPU (or the OS) cannot run it\n", fer_products_name(kernel));
        return;
    }
    check_shape(kernel, "3x3 same", 3, 9, 7, 3, 17, 3, 1);
    check_shape(kernel, "3x3 same", 2, 11, 13, 35, 48, 3, 1);
    check_shape(kernel, "3x3 valid", 3, 6, 5, 64, 40, 3, 0);
    check_shape(kernel, "1x1", 5, 7, 9, 67, 33, 1, 0);
    check_shape(kernel, "3x3 same, many chunks", 6, 24, 24, 32, 64, 3, 1);
}

int main(void)
{
    check_kernel(FER_PRODUCTS_BF16_REFERENCE);
    check_kernel(FER_PRODUCTS_BF16_AVX512);
    check_kernel(FER_PRODUCTS_BF16_AMX);
    return check_report("test_nn_bf16_conv");
}
