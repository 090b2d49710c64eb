/* BatchNormalization over the last axis of rows x c (NHWC activations seen as
   n*h*w rows). Training statistics are synchronized across ranks: the sums
   of x and x^2 (and the row count) go through the reducer in one call, in
   double so that E[x^2] - E[x]^2 keeps its precision.

   Per-channel temporaries are variable-length arrays: c is a layer width
   (hundreds), so the stack holds them easily and the kernels stay
   allocation-free. */
#include "fer/nn.h"

#include <math.h>
#include <string.h>

/* buf[0..c) += column sums of x, buf[c..2c) += column sums of x^2. */
static void sum_moments(double *buf, const float *x, int rows, int c)
{
    double *sx = buf, *sxx = buf + c;
    for (int r = 0; r < rows; r++, x += c) {
        for (int j = 0; j < c; j++) {
            double v = x[j];
            sx[j] += v;
            sxx[j] += v * v;
        }
    }
}

/* y = (x - mean) * scale + beta per channel; subtracting the mean first
   avoids cancellation when |mean| is large next to the spread. */
static void normalize(float *y, const float *x, const float *mean, const float *scale, const float *beta,
                      int rows, int c)
{
    for (int r = 0; r < rows; r++, x += c, y += c)
        for (int j = 0; j < c; j++)
            y[j] = (x[j] - mean[j]) * scale[j] + beta[j];
}

long fer_batchnorm_forward_train(float *y, const float *x, const float *gamma, const float *beta,
                                 float *moving_mean, float *moving_var, float *save_mean, float *save_invstd,
                                 int rows, int c, float momentum, float eps, const fer_reducer *r)
{
    if (c <= 0)
        return 0;
    double buf[2 * c + 1];
    memset(buf, 0, sizeof buf);
    sum_moments(buf, x, rows, c);
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
    memset(buf, 0, sizeof buf);
    const float *xr = x, *dyr = dy;
    for (int i = 0; i < rows; i++, xr += c, dyr += c) {
        for (int j = 0; j < c; j++) {
            double g = dyr[j];
            sdy[j] += g;
            sdyx[j] += g * ((xr[j] - save_mean[j]) * save_invstd[j]);
        }
    }
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
    for (int i = 0; i < rows; i++, x += c, dy += c, dx += c)
        for (int j = 0; j < c; j++)
            dx[j] = a[j] * dy[j] + b[j] * (x[j] - save_mean[j]) + c0[j];
}
