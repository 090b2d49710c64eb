/* Fully connected layer as one SGEMM: y (n x out) = x (n x in) * W (in x out)
   + b, W in Keras's (in, out) layout, optional fused ReLU. */
#include "fer/nn.h"

#include <cblas.h>
#include <string.h>

void fer_dense_forward(float *y, const float *x, const float *w, const float *b, int n, int in, int out,
                       int relu)
{
    if (n <= 0 || out <= 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out, in, 1.0f, x, in, w, out, 0.0f, y, out);
    for (int r = 0; r < n; r++, y += out) {
        for (int o = 0; o < out; o++) {
            float v = y[o] + b[o];
            y[o] = relu && v < 0.0f ? 0.0f : v;
        }
    }
}

void fer_dense_backward(float *dx, float *dw, float *db, float *dy, const float *x, const float *w,
                        const float *y, int n, int in, int out, int relu)
{
    if (db)
        memset(db, 0, (size_t)out * sizeof *db);
    if (n <= 0 || out <= 0) {
        if (dw)
            memset(dw, 0, (size_t)in * out * sizeof *dw);
        if (dx)
            memset(dx, 0, (size_t)n * in * sizeof *dx);
        return;
    }
    float *dyr = dy;
    const float *yr = y;
    for (int r = 0; r < n; r++, dyr += out) {
        if (relu) {
            for (int o = 0; o < out; o++)
                dyr[o] = yr[o] > 0.0f ? dyr[o] : 0.0f;
            yr += out;
        }
        for (int o = 0; db && o < out; o++)
            db[o] += dyr[o];
    }
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, n, 1.0f, x, in, dy, out, 0.0f, dw, out);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, in, out, 1.0f, dy, out, w, out, 0.0f, dx, in);
}
