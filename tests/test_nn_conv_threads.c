/* conv2d splits its work over a team of threads as many as the BLAS has
   (src/nn/team.h); the results must not depend on that count, bit for bit,
   so that a rerun or a resume with other threads computes the same step.
   Checked for the three paths: im2col (3x3 with 3 input channels, like the
   first VGG layer), 1x1, and Winograd (3x3 with 32 channels), each over
   several chunks, with 1, 2 and 3 BLAS threads: y, dx, dk and db. (Before
   the input gradient's col2im products ran on the team, OpenBLAS's own
   threading made dx differ in the last bits between 1 and 2 threads.) */
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *y, *dx, *dk, *db;
} outputs;

static float *uniform(size_t count, uint64_t key)
{
    float *v = malloc(count * sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (float)fer_uniform_range(key, i, -1, 1);
    return v;
}

static void run(outputs *o, const fer_conv_dims *d, const float *x, const float *k, const float *b,
                const float *dy0, int relu, int threads)
{
    size_t ny = (size_t)d->n * d->ho * d->wo * d->co;
    float *dy = malloc(ny * sizeof *dy), *scratch = malloc(fer_conv2d_scratch_floats(d) * sizeof *scratch);
    memcpy(dy, dy0, ny * sizeof *dy);
    openblas_set_num_threads(threads);
    fer_conv2d_forward(o->y, x, k, b, d, relu, scratch);
    fer_conv2d_backward(o->dx, o->dk, o->db, dy, x, k, o->y, d, relu, scratch);
    free(scratch);
    free(dy);
}

static void check(const char *name, int n, int h, int w, int ci, int co, int ksize)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, n, h, w, ci, co, ksize, 1);
    size_t nx = (size_t)n * h * w * ci, ny = (size_t)n * d.ho * d.wo * co,
           nk = (size_t)ksize * ksize * ci * co;
    float *x = uniform(nx, 1), *k = uniform(nk, 2), *b = uniform((size_t)co, 3), *dy = uniform(ny, 4);
    outputs o[3];
    for (int t = 0; t < 3; t++) {
        o[t] = (outputs){malloc(ny * sizeof(float)), malloc(nx * sizeof(float)), malloc(nk * sizeof(float)),
                         malloc((size_t)co * sizeof(float))};
        run(&o[t], &d, x, k, b, dy, 1, t + 1);
    }
    int same = 1;
    for (int t = 1; t < 3; t++)
        same &=
            !memcmp(o[0].y, o[t].y, ny * sizeof(float)) && !memcmp(o[0].dx, o[t].dx, nx * sizeof(float)) &&
            !memcmp(o[0].dk, o[t].dk, nk * sizeof(float)) && !memcmp(o[0].db, o[t].db, co * sizeof(float));
    printf("conv2d %s n=%d %dx%d ci=%d co=%d: y, dx, dk, db identical with 1, 2 and 3 threads: %s\n", name, n,
           h, w, ci, co, same ? "yes" : "no");
    CHECK(same);
    for (int t = 0; t < 3; t++) {
        free(o[t].y);
        free(o[t].dx);
        free(o[t].dk);
        free(o[t].db);
    }
    free(dy);
    free(b);
    free(k);
    free(x);
}

int main(void)
{
    int threads = openblas_get_num_threads();
    check("3x3 im2col", 3, 96, 96, 3, 40, 3); /* 27,648 pixels in chunks of 9,709 */
    check("1x1", 2, 40, 40, 600, 24, 1);      /* 3,200 rows in chunks of 436 */
    check("3x3 winograd", 2, 40, 40, 32, 48, 3);
    openblas_set_num_threads(threads);
    return check_report("test_nn_conv_threads");
}
