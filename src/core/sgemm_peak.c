/* The machine's SGEMM rate, the yardstick for "fraction of peak" in
   `fer bench`: every convolution of the model is one SGEMM, so no training
   step can run faster than this. */
#include "fer/cpu.h"

#include <cblas.h>
#include <stdlib.h>
#include <time.h>

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int fer_sgemm_peak(int n, int reps, double *gflops, fer_err *err)
{
    if (n < 1 || n > 16384)
        return fer_fail(err, "sgemm peak: matrix size %d outside 1..16384", n);
    if (reps < 1)
        return fer_fail(err, "sgemm peak: %d repetitions, need at least 1", reps);
    size_t count = (size_t)n * (size_t)n;
    float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b), *c = malloc(count * sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return fer_fail(err, "sgemm peak: out of memory for three %dx%d float matrices", n, n);
    }
    /* Small exact values: no denormals or overflow to slow any kernel down. */
    for (size_t i = 0; i < count; i++) {
        a[i] = (float)(i % 7) * 0.125f;
        b[i] = (float)(i % 5) * 0.25f;
    }
    double best = 0.0;
    for (int r = 0; r <= reps; r++) {
        double start = seconds_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double elapsed = seconds_now() - start;
        if (r > 0 && (best == 0.0 || elapsed < best)) /* run 0 warms caches and threads */
            best = elapsed;
    }
    free(a);
    free(b);
    free(c);
    *gflops = best > 0.0 ? 2.0 * (double)n * (double)n * (double)n / best * 1e-9 : 0.0;
    return FER_OK;
}
