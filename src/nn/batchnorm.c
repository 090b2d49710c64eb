/* BatchNormalization over the last axis of rows x c (NHWC activations seen as
   n*h*w rows). Training statistics are synchronized across ranks: the sums
   of x and x^2 (and the row count) go through the reducer in one call, in
   double so that E[x^2] - E[x]^2 keeps its precision.

   The rows are cut into ROW_BLOCKS blocks, fixed by the row count alone;
   a team of threads (src/nn/team.h) sums the blocks and then applies the
   per-channel affine maps, and the block sums are added in block order, so
   results do not depend on the thread count.

   Per-channel temporaries are variable-length arrays: c is a layer width
   (hundreds), so the stack holds them easily and the kernels stay
   allocation-free. */
#include "fer/nn.h"

#include "team.h"
#include "vector_clones.h"

#include <math.h>
#include <string.h>

enum { ROW_BLOCKS = 16, MIN_EACH = 1 << 15 /* floats worth a thread */ };

/* Rows [*r0, *r1) of block blk. */
static void block_rows(int rows, int blk, int *r0, int *r1)
{
    *r0 = (int)((long)rows * blk / ROW_BLOCKS);
    *r1 = (int)((long)rows * (blk + 1) / ROW_BLOCKS);
}

/* s[0..c) = column sums of a (times b when b is set: sums of a * b, with
   b's rows shifted by mean and scaled by invstd, the backward's xhat), and
   s[c..2c) = column sums of a^2 (forward) or of a * xhat (backward). */
FER_VECTOR_CLONES static void sum_rows(double *restrict s, const float *restrict a, const float *restrict x,
                                       const float *restrict mean, const float *restrict invstd, int rows,
                                       int c)
{
    double *s0 = s, *s1 = s + c;
    memset(s, 0, 2 * (size_t)c * sizeof *s);
    for (int r = 0; r < rows; r++, a += c) {
        if (!x) {
            for (int j = 0; j < c; j++) {
                double v = a[j];
                s0[j] += v;
                s1[j] += v * v;
            }
            continue;
        }
        for (int j = 0; j < c; j++) {
            double g = a[j];
            s0[j] += g;
            s1[j] += g * ((x[j] - mean[j]) * invstd[j]);
        }
        x += c;
    }
}

typedef struct {
    float *out;
    const float *a, *x;             /* sums: a (x NULL) or a with xhat from x */
    const float *mean, *invstd;     /* sums: the backward's xhat */
    const float *p0, *p1, *p2, *p3; /* maps: see map_rows */
    double *blocks;                 /* ROW_BLOCKS x 2c sums */
    int rows, c;
} bn_job;

static void sums_worker(void *ctx, int worker, int workers)
{
    const bn_job *j = ctx;
    size_t b0, b1;
    fer_team_share(ROW_BLOCKS, worker, workers, &b0, &b1);
    for (size_t blk = b0; blk < b1; blk++) {
        int r0, r1;
        block_rows(j->rows, (int)blk, &r0, &r1);
        sum_rows(j->blocks + blk * 2 * (size_t)j->c, j->a + (size_t)r0 * j->c,
                 j->x ? j->x + (size_t)r0 * j->c : NULL, j->mean, j->invstd, r1 - r0, j->c);
    }
}

static int team_for_rows(int rows, int c)
{
    return fer_team_for((size_t)rows * (size_t)c, MIN_EACH);
}

/* buf[0..2c) = the column sums of sum_rows over all rows, blocks added in
   order. */
static void column_sums(double *buf, const float *a, const float *x, const float *mean, const float *invstd,
                        int rows, int c)
{
    double blocks[ROW_BLOCKS * 2 * c];
    bn_job j = {.a = a, .x = x, .mean = mean, .invstd = invstd, .blocks = blocks, .rows = rows, .c = c};
    int workers = team_for_rows(rows, c);
    fer_team_run(workers < ROW_BLOCKS ? workers : ROW_BLOCKS, sums_worker, &j);
    memset(buf, 0, 2 * (size_t)c * sizeof *buf);
    for (int blk = 0; blk < ROW_BLOCKS; blk++)
        for (int i = 0; i < 2 * c; i++)
            buf[i] += blocks[(size_t)blk * 2 * c + i];
}

/* out = (x - p0) * p1 + p2 (normalize, a NULL), or out = p0 * a + p1 * (x
   - p3) + p2 (the backward's dx from dy in a, which out may overwrite),
   per channel. Subtracting the mean first avoids cancellation when |mean|
   is large next to the spread. One restrict loop per aliasing case, so
   that each vectorizes. */
FER_VECTOR_CLONES static void map_rows(float *restrict out, const float *restrict a, const float *restrict x,
                                       const float *restrict p0, const float *restrict p1,
                                       const float *restrict p2, const float *restrict p3, int rows, int c)
{
    for (int r = 0; r < rows; r++, x += c, out += c) {
        if (!a) {
            for (int j = 0; j < c; j++)
                out[j] = (x[j] - p0[j]) * p1[j] + p2[j];
            continue;
        }
        for (int j = 0; j < c; j++)
            out[j] = p0[j] * a[j] + p1[j] * (x[j] - p3[j]) + p2[j];
        a += c;
    }
}

FER_VECTOR_CLONES static void map_rows_over(float *restrict d, const float *restrict x,
                                            const float *restrict p0, const float *restrict p1,
                                            const float *restrict p2, const float *restrict p3, int rows,
                                            int c)
{
    for (int r = 0; r < rows; r++, x += c, d += c)
        for (int j = 0; j < c; j++)
            d[j] = p0[j] * d[j] + p1[j] * (x[j] - p3[j]) + p2[j];
}

static void map_worker(void *ctx, int worker, int workers)
{
    const bn_job *j = ctx;
    size_t r0, r1;
    fer_team_share((size_t)j->rows, worker, workers, &r0, &r1);
    size_t at = r0 * (size_t)j->c;
    if (j->a == j->out)
        map_rows_over(j->out + at, j->x + at, j->p0, j->p1, j->p2, j->p3, (int)(r1 - r0), j->c);
    else
        map_rows(j->out + at, j->a ? j->a + at : NULL, j->x + at, j->p0, j->p1, j->p2, j->p3, (int)(r1 - r0),
                 j->c);
}

static void map(float *out, const float *a, const float *x, const float *p0, const float *p1, const float *p2,
                const float *p3, int rows, int c)
{
    bn_job j = {.out = out, .a = a, .x = x, .p0 = p0, .p1 = p1, .p2 = p2, .p3 = p3, .rows = rows, .c = c};
    fer_team_run(team_for_rows(rows, c), map_worker, &j);
}

static void normalize(float *y, const float *x, const float *mean, const float *scale, const float *beta,
                      int rows, int c)
{
    map(y, NULL, x, mean, scale, beta, NULL, rows, c);
}

long fer_batchnorm_forward_train(float *y, const float *x, const float *gamma, const float *beta,
                                 float *moving_mean, float *moving_var, float *save_mean, float *save_invstd,
                                 int rows, int c, float momentum, float eps, const fer_reducer *r)
{
    if (c <= 0)
        return 0;
    double buf[2 * c + 1];
    column_sums(buf, x, NULL, NULL, NULL, rows, c);
    buf[2 * c] = rows;
    fer_reduce(r, buf, 2 * c + 1);
    const long m = (long)llround(buf[2 * c]);
    if (m <= 0)
        return 0;
    float scale[c];
    for (int j = 0; j < c; j++) {
        double mean = buf[j] / (double)m;
        double var = buf[c + j] / (double)m - mean * mean;
        if (var < 0.0)
            var = 0.0; /* rounding, when a channel is constant */
        double invstd = 1.0 / sqrt(var + (double)eps);
        save_mean[j] = (float)mean;
        save_invstd[j] = (float)invstd;
        scale[j] = (float)(gamma[j] * invstd);
        /* Keras 2.2 feeds the unbiased variance to the moving average. */
        double unbiased = m > 1 ? var * (double)m / (double)(m - 1) : var;
        moving_mean[j] = (float)(momentum * (double)moving_mean[j] + (1.0 - momentum) * mean);
        moving_var[j] = (float)(momentum * (double)moving_var[j] + (1.0 - momentum) * unbiased);
    }
    normalize(y, x, save_mean, scale, beta, rows, c);
    return m;
}

void fer_batchnorm_forward_infer(float *y, const float *x, const float *gamma, const float *beta,
                                 const float *moving_mean, const float *moving_var, int rows, int c,
                                 float eps)
{
    if (c <= 0)
        return;
    float scale[c];
    for (int j = 0; j < c; j++)
        scale[j] = (float)(gamma[j] / sqrt((double)moving_var[j] + (double)eps));
    normalize(y, x, moving_mean, scale, beta, rows, c);
}

void fer_batchnorm_normalized(float *xhat, const float *x, const float *mean, const float *invstd, int rows,
                              int c)
{
    if (c <= 0)
        return;
    float zero[c];
    memset(zero, 0, sizeof zero);
    normalize(xhat, x, mean, invstd, zero, rows, c);
}

/* With xhat = (x - mean) * invstd over the m global rows:
   dbeta = sum dy, dgamma = sum dy * xhat,
   dx = gamma * invstd * (dy - sum(dy) / m - xhat * sum(dy * xhat) / m),
   where the sums inside dx are global (reduced) while dgamma and dbeta stay
   this rank's partial sums. */
void fer_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *gamma, const float *save_mean, const float *save_invstd, int rows,
                            long global_rows, int c, const fer_reducer *r)
{
    if (c <= 0)
        return;
    double buf[2 * c];
    double *sdy = buf, *sdyx = buf + c;
    column_sums(buf, dy, x, save_mean, save_invstd, rows, c);
    for (int j = 0; j < c; j++) {
        if (dbeta)
            dbeta[j] = (float)sdy[j];
        if (dgamma)
            dgamma[j] = (float)sdyx[j];
    }
    /* Every rank has the same layer table, so either all ranks reduce here
       or none does. */
    if (!dx || global_rows <= 0)
        return;
    fer_reduce(r, buf, 2 * c);
    /* dx = a * dy + b * (x - mean) + c0, constants folded per channel. */
    float a[c], b[c], c0[c];
    for (int j = 0; j < c; j++) {
        double aj = gamma[j] * (double)save_invstd[j];
        a[j] = (float)aj;
        b[j] = (float)(-aj * save_invstd[j] * sdyx[j] / (double)global_rows);
        c0[j] = (float)(-aj * sdy[j] / (double)global_rows);
    }
    map(dx, dy, x, a, b, c0, save_mean, rows, c);
}
