/* The direct 3x3 convolution for few input channels (src/nn/conv2d_direct.c,
   the path of the first VGG layer on AVX-512 CPUs) against reference loops
   in double precision, for 1 to 4 input channels, 16 to 64 output
   channels, same and valid padding, with and without ReLU, and widths that
   leave a partial block of pixels; and bit-identical with 1, 2 and 3
   threads. Skipped (77) on CPUs without AVX-512, where conv2d keeps
   im2col + SGEMM. */
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include "../src/nn/conv2d_direct.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *uniform(size_t count, uint64_t key)
{
    float *v = malloc(count * sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (float)fer_uniform_range(key, i, -1, 1);
    return v;
}

/* Largest |y - ref| over the sum of |products| of each output. */
static double max_rel(const float *y, const float *x, const float *k, const float *b, const fer_conv_dims *d,
                      int relu)
{
    double worst = 0;
    for (int n = 0; n < d->n; n++)
        for (int oh = 0; oh < d->ho; oh++)
            for (int ow = 0; ow < d->wo; ow++)
                for (int o = 0; o < d->co; o++) {
                    double s = b[o], mag = fabs(b[o]);
                    for (int i = 0; i < 3; i++)
                        for (int j = 0; j < 3; j++) {
                            int ih = oh + i - d->pad, iw = ow + j - d->pad;
                            if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w)
                                continue;
                            for (int c = 0; c < d->ci; c++) {
                                double p = (double)x[(((size_t)n * d->h + ih) * d->w + iw) * d->ci + c] *
                                           k[((size_t)(3 * i + j) * d->ci + c) * d->co + o];
                                s += p;
                                mag += fabs(p);
                            }
                        }
                    if (relu && s < 0)
                        s = 0;
                    double got = y[(((size_t)n * d->ho + oh) * d->wo + ow) * d->co + o];
                    double e = fabs(got - s) / (mag > 0 ? mag : 1);
                    worst = e > worst ? e : worst;
                }
    return worst;
}

static void check(int n, int h, int w, int ci, int co, int same, int relu)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, n, h, w, ci, co, 3, same);
    const size_t nx = (size_t)n * h * w * ci, nk = (size_t)9 * ci * co, ny = (size_t)n * d.ho * d.wo * co;
    float *x = uniform(nx, 21), *k = uniform(nk, 22), *b = uniform((size_t)co, 23);
    float *y = malloc(ny * sizeof *y), *y2 = malloc(ny * sizeof *y2);
    float *scratch = malloc(fer_conv2d_scratch_floats(&d) * sizeof *scratch);
    memset(y, 0x7f, ny * sizeof *y); /* poisoned: every output must be written */
    fer_conv2d_forward(y, x, k, b, &d, relu, scratch);
    double err = max_rel(y, x, k, b, &d, relu);

    int threads = openblas_get_num_threads(), same_bits = 1;
    for (int t = 1; t <= 3; t++) {
        openblas_set_num_threads(t);
        fer_conv2d_forward(y2, x, k, b, &d, relu, scratch);
        same_bits &= !memcmp(y, y2, ny * sizeof *y);
    }
    openblas_set_num_threads(threads);
    printf("direct 3x3 %s%s n=%d %dx%d ci=%d co=%d (path %s): max rel err %.1e (tol 1e-6); 1, 2 and 3 "
           "threads identical: %s\n",
           same ? "same" : "valid", relu ? " relu" : "", n, h, w, ci, co,
           fer_conv_direct_applies(&d) ? "direct" : "im2col", err, same_bits ? "yes" : "no");
    CHECK(fer_conv_direct_applies(&d));
    CHECK(err < 1e-6 && same_bits);
    free(scratch);
    free(y2);
    free(y);
    free(b);
    free(k);
    free(x);
}

int main(void)
{
    fer_conv_dims probe;
    fer_conv_dims_init(&probe, 1, 8, 8, 3, 64, 3, 1);
    if (!fer_conv_direct_applies(&probe)) {
        printf("test_nn_conv_direct: this CPU has no AVX-512, conv2d keeps im2col + SGEMM here; skipped\n");
        return CHECK_SKIP;
    }
    check(2, 13, 17, 3, 64, 1, 1); /* like block1_conv1; 17 = 2 blocks of 6 + 5 single pixels */
    check(1, 9, 12, 1, 16, 1, 0);  /* no ReLU: negative outputs */
    check(3, 7, 8, 2, 32, 0, 1);   /* valid: 5x6 */
    check(1, 6, 6, 4, 48, 1, 1);
    check(1, 1, 1, 3, 64, 1, 0); /* one pixel: every tap but the centre is padding */
    fer_conv_dims wide;
    fer_conv_dims_init(&wide, 1, 8, 8, 3, 80, 3, 1); /* 80 outputs, 5 vectors: im2col */
    fer_conv_dims many;
    fer_conv_dims_init(&many, 1, 8, 8, 8, 64, 3, 1); /* 8 inputs: im2col */
    printf("co=80 and ci=8 keep im2col: %s\n",
           !fer_conv_direct_applies(&wide) && !fer_conv_direct_applies(&many) ? "yes" : "no");
    CHECK(!fer_conv_direct_applies(&wide) && !fer_conv_direct_applies(&many));
    return check_report("test_nn_conv_direct");
}
