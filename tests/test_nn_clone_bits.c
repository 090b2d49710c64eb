/* The Winograd transforms are compiled for AVX-512, AVX2 and the x86-64-v2
   baseline (src/nn/vector_clones.h), and a cluster may mix nodes that pick
   different ones. All must compute the same bits, or results would depend
   on which nodes a job lands on. This program runs a Winograd convolution
   forward and backward (both correlation modes: a chunk per thread and a
   shared chunk) and hashes y, dx and dk; built a second time without the
   clones (nn_clone_bits_baseline, see tests/CMakeLists.txt) it only prints
   its hashes, which the test compares with its own. */
#include "fer/nn.h"
#include "fer/rng.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hash_bytes(uint64_t *h, const float *v, size_t count)
{
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; i < count * sizeof *v; i++)
        *h = (*h ^ p[i]) * 1099511628211ull;
}

static float *uniform(size_t count, uint64_t key)
{
    float *v = malloc(count * sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (float)fer_uniform_range(key, i, -1, 1);
    return v;
}

/* FNV-1a of y, dx and dk of one 3x3 same convolution with ReLU. */
static uint64_t conv_hash(int n, int hw, int ci, int co)
{
    fer_conv_dims d;
    fer_conv_dims_init(&d, n, hw, hw, ci, co, 3, 1);
    const size_t nx = (size_t)n * hw * hw * ci, nk = (size_t)9 * ci * co, ny = (size_t)n * d.ho * d.wo * co;
    float *x = uniform(nx, 1), *k = uniform(nk, 2), *b = uniform((size_t)co, 3), *dy = uniform(ny, 4);
    float *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx), *dk = malloc(nk * sizeof *dk);
    float *db = malloc((size_t)co * sizeof *db), *s = malloc(fer_conv2d_scratch_floats(&d) * sizeof *s);
    uint64_t h = 1469598103934665603ull;
    if (x && k && b && dy && y && dx && dk && db && s) {
        fer_conv2d_forward(y, x, k, b, &d, 1, s);
        fer_conv2d_backward(dx, dk, db, dy, x, k, y, &d, 1, s);
        hash_bytes(&h, y, ny);
        hash_bytes(&h, dx, nx);
        hash_bytes(&h, dk, nk);
    } else {
        h = 0;
    }
    free(s);
    free(db);
    free(dk);
    free(dx);
    free(y);
    free(dy);
    free(b);
    free(k);
    free(x);
    return h;
}

static void hashes(uint64_t h[2])
{
    h[0] = conv_hash(3, 30, 64, 96);  /* a chunk per thread */
    h[1] = conv_hash(2, 20, 32, 192); /* 192 channels: the team shares chunks */
}

#ifdef FER_NO_VECTOR_CLONES
int main(void)
{
    uint64_t h[2];
    hashes(h);
    printf("%016llx %016llx\n", (unsigned long long)h[0], (unsigned long long)h[1]);
    return 0;
}
#else
#include "check.h"

int main(int argc, char **argv)
{
    const char *baseline = argc > 1 ? argv[1] : NULL;
    uint64_t h[2], b[2] = {0, 0};
    hashes(h);
    FILE *p = baseline ? popen(baseline, "r") : NULL;
    unsigned long long b0 = 0, b1 = 0;
    int got = p && fscanf(p, "%llx %llx", &b0, &b1) == 2;
    if (p)
        pclose(p);
    b[0] = b0;
    b[1] = b1;
    printf("this build:         %016llx %016llx\n", (unsigned long long)h[0], (unsigned long long)h[1]);
    printf("baseline-only build: %016llx %016llx (%s)\n", (unsigned long long)b[0], (unsigned long long)b[1],
           baseline ? baseline : "no program given");
    CHECK(got);
    CHECK(h[0] != 0 && h[1] != 0);
    CHECK(h[0] == b[0] && h[1] == b[1]);
    return check_report("test_nn_clone_bits");
}
#endif
