/* 2x2 max pooling, stride 2, floor (Keras 'valid'), NHWC.
   x: n x h x w x c, y: n x h/2 x w/2 x c. The inner loops run over channels,
   which are contiguous, so they vectorize; images are shared out to a team
   of threads (src/nn/team.h). */
#include "fer/nn.h"

#include "team.h"

#include <string.h>

typedef struct {
    float *out;
    const float *dy, *x, *y; /* x NULL: backward in place over out */
    int n, h, w, c;
} pool_job;

static void pool_forward_images(float *y, const float *x, int n, int h, int w, int c)
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

/* Images [b0, b1) of the job for this worker. */
static void worker_images(const pool_job *j, int worker, int workers, int *b0, int *b1)
{
    *b0 = (int)((long)j->n * worker / workers);
    *b1 = (int)((long)j->n * (worker + 1) / workers);
}

static void forward_worker(void *ctx, int worker, int workers)
{
    const pool_job *j = ctx;
    int b0, b1;
    worker_images(j, worker, workers, &b0, &b1);
    size_t in = (size_t)j->h * j->w * j->c, out = (size_t)(j->h / 2) * (j->w / 2) * j->c;
    pool_forward_images(j->out + b0 * out, j->x + b0 * in, b1 - b0, j->h, j->w, j->c);
}

static int team_for_images(int n)
{
    int t = fer_team_size();
    return t < n ? t : n > 0 ? n : 1;
}

void fer_maxpool2_forward(float *y, const float *x, int n, int h, int w, int c)
{
    pool_job j = {.out = y, .x = x, .n = n, .h = h, .w = w, .c = c};
    fer_team_run(team_for_images(n), forward_worker, &j);
}

/* Routes the window's gradient g to the first of its elements x0..x3
   (row-major order) equal to the forward maximum m; every element of the
   window is written. Branch-free, so that the channel loops below
   vectorize. */
static inline void route(float *o0, float *o1, float *o2, float *o3, float x0, float x1, float x2, float x3,
                         float m, float g)
{
    int t0 = x0 == m, t1 = x1 == m, t2 = x2 == m, t3 = x3 == m;
    *o0 = t0 ? g : 0.0f;
    g = t0 ? 0.0f : g;
    *o1 = t1 ? g : 0.0f;
    g = t1 ? 0.0f : g;
    *o2 = t2 ? g : 0.0f;
    g = t2 ? 0.0f : g;
    *o3 = t3 ? g : 0.0f;
}

/* route over a window's channels. Restrict (dx, x, y and dy never
   overlap): with ten plain pointers GCC gave up on its run-time overlap
   checks and ran the loop scalar, 8x slower than the forward. */
static void route_window(float *restrict d0, float *restrict d1, float *restrict d2, float *restrict d3,
                         const float *restrict x0, const float *restrict x1, const float *restrict x2,
                         const float *restrict x3, const float *restrict m, const float *restrict dy, int c)
{
    for (int e = 0; e < c; e++)
        route(&d0[e], &d1[e], &d2[e], &d3[e], x0[e], x1[e], x2[e], x3[e], m[e], dy[e]);
}

/* route_window over the pooled input itself: each element is read before
   any is written. */
static void route_window_in_place(float *restrict p0, float *restrict p1, float *restrict p2,
                                  float *restrict p3, const float *restrict m, const float *restrict dy,
                                  int c)
{
    for (int e = 0; e < c; e++)
        route(&p0[e], &p1[e], &p2[e], &p3[e], p0[e], p1[e], p2[e], p3[e], m[e], dy[e]);
}

/* x NULL: in place over dx, which holds the input. */
static void pool_backward_images(float *dx, const float *dy, const float *x, const float *y, int n, int h,
                                 int w, int c)
{
    const int ho = h / 2, wo = w / 2;
    const size_t row = (size_t)w * c;
    for (int b = 0; b < n; b++) {
        float *dimg = dx + (size_t)b * h * row;
        const float *ximg = x ? x + (size_t)b * h * row : NULL;
        for (int oh = 0; oh < ho; oh++) {
            float *d0 = dimg + (size_t)2 * oh * row, *d1 = d0 + row;
            const float *x0 = ximg ? ximg + (size_t)2 * oh * row : NULL, *x1 = x0 ? x0 + row : NULL;
            for (int ow = 0; ow < wo; ow++, y += c, dy += c) {
                size_t o = (size_t)2 * ow * c;
                if (x)
                    route_window(d0 + o, d0 + o + c, d1 + o, d1 + o + c, x0 + o, x0 + o + c, x1 + o,
                                 x1 + o + c, y, dy, c);
                else
                    route_window_in_place(d0 + o, d0 + o + c, d1 + o, d1 + o + c, y, dy, c);
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

static void backward_worker(void *ctx, int worker, int workers)
{
    const pool_job *j = ctx;
    int b0, b1;
    worker_images(j, worker, workers, &b0, &b1);
    size_t in = (size_t)j->h * j->w * j->c, out = (size_t)(j->h / 2) * (j->w / 2) * j->c;
    pool_backward_images(j->out + b0 * in, j->dy + b0 * out, j->x ? j->x + b0 * in : NULL, j->y + b0 * out,
                         b1 - b0, j->h, j->w, j->c);
}

void fer_maxpool2_backward(float *dx, const float *dy, const float *x, const float *y, int n, int h, int w,
                           int c)
{
    pool_job j = {.out = dx, .dy = dy, .x = x, .y = y, .n = n, .h = h, .w = w, .c = c};
    fer_team_run(team_for_images(n), backward_worker, &j);
}

void fer_maxpool2_backward_in_place(float *x_dx, float *dy, const float *y, int n, int h, int w, int c,
                                    int relu_below)
{
    /* The ReLU mask below: a window's routed element is its maximum, so the
       gradient survives where the pooled output is positive. A separate
       pass: folded into the routing, the select stopped GCC's vectorizer. */
    if (relu_below)
        fer_relu_backward(dy, dy, y, (size_t)(n > 0 ? n : 0) * (h / 2) * (w / 2) * c);
    pool_job j = {.out = x_dx, .dy = dy, .y = y, .n = n, .h = h, .w = w, .c = c};
    fer_team_run(team_for_images(n), backward_worker, &j);
}
