/* The rate of a bf16 product kernel, the yardstick for the bf16 runs'
   "fraction of peak" in `fer bench`, as fer_sgemm_peak is for fp32: one
   n x n x n product with the packed operands fer's convolutions use,
   its rows shared among the team's threads. */
#include "fer/bench.h"

#include "bf16_gemm.h"
#include "team.h"

#include <stdlib.h>
#include <time.h>

typedef struct {
    fer_products kernel;
    float *c;
    const fer_bf16 *a, *b;
    int n;
} peak_job;

static void peak_worker(void *ctx, int worker, int workers)
{
    peak_job *j = ctx;
    size_t lo, hi;
    fer_team_share((size_t)j->n / FER_BF16_ROWS, worker, workers, &lo, &hi);
    size_t r0 = lo * FER_BF16_ROWS;
    fer_bf16_gemm(j->kernel, j->c + r0 * (size_t)j->n, (size_t)j->n, j->a + r0 * (size_t)j->n, (size_t)j->n,
                  j->b, (int)((hi - lo) * FER_BF16_ROWS), j->n, j->n, 0);
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int fer_bf16_peak(fer_products kernel, int n, int reps, double *gflops, fer_err *err)
{
    if (kernel == FER_PRODUCTS_FP32 || !fer_bf16_kernel_runs(kernel))
        return fer_fail(err, "bf16 peak: %s does not run here", fer_products_name(kernel));
    if (n < FER_BF16_ROWS || n > 8192 || n % FER_BF16_ROWS != 0 || reps < 1)
        return fer_fail(err, "bf16 peak: size %d (a multiple of %d up to 8192) or %d repetitions", n,
                        FER_BF16_ROWS, reps);
    size_t count = (size_t)n * (size_t)n;
    float *src = malloc(count * sizeof *src), *c = malloc(count * sizeof *c);
    fer_bf16 *a = malloc(count * sizeof *a), *b = malloc(fer_bf16_packed_size(n, n) * sizeof *b);
    int ok = src && c && a && b;
    for (size_t i = 0; ok && i < count; i++)
        src[i] = (float)(i % 7) * 0.125f; /* small exact values */
    if (ok) {
        fer_bf16_round_row(a, src, count, count);
        fer_bf16_pack_b(b, src, (size_t)n, 1, n, n);
    }
    peak_job j = {.kernel = kernel, .c = c, .a = a, .b = b, .n = n};
    double best = 0.0;
    for (int r = 0; ok && r <= reps; r++) {
        double start = seconds_now();
        fer_team_run(fer_team_size(), peak_worker, &j);
        double elapsed = seconds_now() - start;
        if (r > 0 && (best == 0.0 || elapsed < best)) /* run 0 warms caches and threads */
            best = elapsed;
    }
    free(src), free(c), free(a), free(b);
    if (!ok)
        return fer_fail(err, "bf16 peak: out of memory for %dx%d matrices", n, n);
    *gflops = best > 0.0 ? 2.0 * (double)count * (double)n / best * 1e-9 : 0.0;
    return FER_OK;
}
