/* Element-wise kernels that share their work out to a team of threads
   (src/nn/team.h): max pooling (by images), ReLU and dropout (by ranges and
   samples), BatchNorm (sums by fixed row blocks, maps by ranges; its
   backward also in place). Outputs go into poisoned buffers and must be identical, bit for
   bit, with 1, 2 and 3 BLAS threads, on inputs large enough to be split; a
   share computed wrongly leaves poison or overlaps. The values themselves
   are checked against references in test_nn_forward and test_nn_gradcheck. */
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

enum { N = 6, H = 48, W = 46, C = 64 }; /* 6 images of 141,312 floats */

static float *uniform(size_t count, uint64_t key)
{
    float *v = malloc(count * sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (float)fer_uniform_range(key, i, -1, 1);
    return v;
}

enum { OUTS = 9 };

/* Runs every kernel with `threads` BLAS threads into out (OUTS buffers) and
   stats (BatchNorm's saved mean and inverse deviation, dgamma, dbeta). */
static void run(float *out[OUTS], float *stats, uint8_t *mask, const float *x, const float *dy, int threads)
{
    const size_t count = (size_t)N * H * W * C;
    uint64_t keys[N];
    for (int s = 0; s < N; s++)
        keys[s] = fer_key(7, FER_STREAM_DROPOUT, 1, (uint64_t)s);
    for (int b = 0; b < OUTS; b++)
        memset(out[b], 0x7f, count * sizeof(float));
    memset(stats, 0x7f, 4 * C * sizeof(float));
    memset(mask, 0x7f, count);
    openblas_set_num_threads(threads);
    fer_maxpool2_forward(out[0], x, N, H, W, C);
    fer_maxpool2_backward(out[1], dy, x, out[0], N, H, W, C);
    fer_relu_forward(out[2], x, count);
    fer_relu_backward(out[3], dy, out[2], count);
    fer_dropout_forward(out[4], mask, x, N, count / N, 0.5f, keys);
    fer_dropout_backward(out[5], dy, mask, N, count / N, 0.5f);
    float gamma[C], beta[C], mm[C], mv[C];
    for (int c = 0; c < C; c++) {
        gamma[c] = 0.5f + (float)c / C;
        beta[c] = (float)c / (2 * C);
        mm[c] = 0.0f;
        mv[c] = 1.0f;
    }
    const int rows = N * H * W;
    long m = fer_batchnorm_forward_train(out[6], x, gamma, beta, mm, mv, stats, stats + C, rows, C, 0.99f,
                                         1e-3f, NULL);
    fer_batchnorm_backward(out[7], stats + 2 * C, stats + 3 * C, dy, x, gamma, stats, stats + C, rows, m, C,
                           NULL);
    memcpy(out[8], dy, count * sizeof(float)); /* dx over dy */
    fer_batchnorm_backward(out[8], NULL, NULL, out[8], x, gamma, stats, stats + C, rows, m, C, NULL);
}

int main(void)
{
    const size_t count = (size_t)N * H * W * C;
    float *x = uniform(count, 1), *dy = uniform(count, 2);
    float *ref[OUTS], *got[OUTS], ref_stats[4 * C], got_stats[4 * C];
    uint8_t *ref_mask = malloc(count), *got_mask = malloc(count);
    for (int b = 0; b < OUTS; b++) {
        ref[b] = malloc(count * sizeof(float));
        got[b] = malloc(count * sizeof(float));
    }
    int threads = openblas_get_num_threads();
    run(ref, ref_stats, ref_mask, x, dy, 1);
    int over = !memcmp(ref[7], ref[8], count * sizeof(float));
    printf("batchnorm dx written over dy identical to dx apart: %s\n", over ? "yes" : "no");
    CHECK(over);
    const char *names[OUTS] = {"maxpool forward",   "maxpool backward",   "relu forward",
                               "relu backward",     "dropout forward",    "dropout backward",
                               "batchnorm forward", "batchnorm backward", "batchnorm backward over dy"};
    for (int t = 2; t <= 3; t++) {
        run(got, got_stats, got_mask, x, dy, t);
        int stats_same = !memcmp(ref_stats, got_stats, sizeof ref_stats);
        printf("batchnorm mean, inverse deviation, dgamma and dbeta, %d threads against 1: %s\n", t,
               stats_same ? "identical" : "DIFFERENT");
        CHECK(stats_same);
        for (int b = 0; b < OUTS; b++) {
            int same = !memcmp(ref[b], got[b], count * sizeof(float));
            printf("%s, %d threads against 1: %s\n", names[b], t, same ? "identical" : "DIFFERENT");
            CHECK(same);
        }
        int same = !memcmp(ref_mask, got_mask, count);
        printf("dropout mask, %d threads against 1: %s\n", t, same ? "identical" : "DIFFERENT");
        CHECK(same);
    }
    openblas_set_num_threads(threads);
    for (int b = 0; b < OUTS; b++) {
        free(ref[b]);
        free(got[b]);
    }
    free(got_mask);
    free(ref_mask);
    free(dy);
    free(x);
    return check_report("test_nn_threads");
}
