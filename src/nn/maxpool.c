/* 2x2 max pooling, stride 2, floor (Keras 'valid'), NHWC.
   x: n x h x w x c, y: n x h/2 x w/2 x c. The inner loops run over channels,
   which are contiguous, so they vectorize. */
#include "fer/nn.h"

#include <string.h>

void fer_maxpool2_forward(float *y, const float *x, int n, int h, int w, int c)
{
    const int ho = h / 2, wo = w / 2;
    const size_t row = (size_t)w * c;
    for (int b = 0; b < n; b++) {
        for (int oh = 0; oh < ho; oh++) {
            const float *x0 = x + ((size_t)b * h + 2 * oh) * row, *x1 = x0 + row;
            for (int ow = 0; ow < wo; ow++, y += c) {
                const float *a = x0 + (size_t)2 * ow * c, *bb = a + c, *cc = x1 + (size_t)2 * ow * c,
                            *dd = cc + c;
                for (int e = 0; e < c; e++) {
                    float v = a[e];
                    v = bb[e] > v ? bb[e] : v;
                    v = cc[e] > v ? cc[e] : v;
                    y[e] = dd[e] > v ? dd[e] : v;
                }
            }
        }
    }
}

/* Routes the window's gradient g to the first of its elements (row-major
   order) equal to the forward maximum m; every element of the window is
   written. Branch-free, so the channel loop vectorizes. */
static void route_window(float *d0, float *d1, float *d2, float *d3, const float *x0, const float *x1,
                         const float *x2, const float *x3, const float *m, const float *dy, int c)
{
    for (int e = 0; e < c; e++) {
        float g = dy[e];
        int t0 = x0[e] == m[e], t1 = x1[e] == m[e], t2 = x2[e] == m[e], t3 = x3[e] == m[e];
        d0[e] = t0 ? g : 0.0f;
        g = t0 ? 0.0f : g;
        d1[e] = t1 ? g : 0.0f;
        g = t1 ? 0.0f : g;
        d2[e] = t2 ? g : 0.0f;
        g = t2 ? 0.0f : g;
        d3[e] = t3 ? g : 0.0f;
    }
}

void fer_maxpool2_backward(float *dx, const float *dy, const float *x, const float *y, int n, int h, int w,
                           int c)
{
    const int ho = h / 2, wo = w / 2;
    const size_t row = (size_t)w * c;
    for (int b = 0; b < n; b++) {
        float *dimg = dx + (size_t)b * h * row;
        const float *ximg = x + (size_t)b * h * row;
        for (int oh = 0; oh < ho; oh++) {
            float *d0 = dimg + (size_t)2 * oh * row, *d1 = d0 + row;
            const float *x0 = ximg + (size_t)2 * oh * row, *x1 = x0 + row;
            for (int ow = 0; ow < wo; ow++, y += c, dy += c) {
                size_t o = (size_t)2 * ow * c;
                route_window(d0 + o, d0 + o + c, d1 + o, d1 + o + c, x0 + o, x0 + o + c, x1 + o, x1 + o + c,
                             y, dy, c);
            }
            /* An odd width leaves a last column outside every window. */
            if (w % 2) {
                memset(d0 + (size_t)(w - 1) * c, 0, (size_t)c * sizeof *dx);
                memset(d1 + (size_t)(w - 1) * c, 0, (size_t)c * sizeof *dx);
            }
        }
        if (h % 2)
            memset(dimg + (size_t)(h - 1) * row, 0, row * sizeof *dx);
    }
}
