/* Standalone ReLU (after BatchNorm; convolutions and dense layers fuse it),
   element ranges shared out to a team of threads (src/nn/team.h).

   Both passes usually run in place, and an in-place loop through aliasing
   pointers defeats the vectorizer: GCC's overlap check fails and it falls
   back to a scalar loop whose branch on the sign mispredicts half the time
   (7x slower). Each aliasing pattern gets its own loop with restrict
   pointers, and every load is unconditional (a select on a conditional load
   is control flow to the vectorizer). */
#include "fer/nn.h"

#include "team.h"

enum { MIN_EACH = 1 << 16 }; /* elements worth a thread */

typedef struct {
    float *out;
    const float *in, *y;
    size_t count;
} relu_job;

static void relu_over(float *restrict v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = v[i] > 0.0f ? v[i] : 0.0f;
}

static void relu_into(float *restrict out, const float *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

static void forward_worker(void *ctx, int worker, int workers)
{
    const relu_job *j = ctx;
    size_t lo, hi;
    fer_team_share(j->count, worker, workers, &lo, &hi);
    if (j->out == j->in)
        relu_over(j->out + lo, hi - lo);
    else
        relu_into(j->out + lo, j->in + lo, hi - lo);
}

void fer_relu_forward(float *y, const float *x, size_t count)
{
    relu_job j = {.out = y, .in = x, .count = count};
    fer_team_run(fer_team_for(count, MIN_EACH), forward_worker, &j);
}

/* dx = dy where y > 0, else 0, for dx over y, over dy, or apart. */
static void mask_over_y(float *restrict dx_y, const float *restrict dy, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded unconditionally, or GCC will not if-convert the select */
        dx_y[i] = dx_y[i] > 0.0f ? g : 0.0f;
    }
}

static void mask_over_dy(float *restrict dx_dy, const float *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx_dy[i] = y[i] > 0.0f ? dx_dy[i] : 0.0f;
}

static void mask_into(float *restrict dx, const float *restrict dy, const float *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = dy[i];
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

static void backward_worker(void *ctx, int worker, int workers)
{
    const relu_job *j = ctx;
    size_t lo, hi;
    fer_team_share(j->count, worker, workers, &lo, &hi);
    if (j->out == j->y)
        mask_over_y(j->out + lo, j->in + lo, hi - lo);
    else if (j->out == j->in)
        mask_over_dy(j->out + lo, j->y + lo, hi - lo);
    else
        mask_into(j->out + lo, j->in + lo, j->y + lo, hi - lo);
}

void fer_relu_backward(float *dx, const float *dy, const float *y, size_t count)
{
    relu_job j = {.out = dx, .in = dy, .y = y, .count = count};
    fer_team_run(fer_team_for(count, MIN_EACH), backward_worker, &j);
}
