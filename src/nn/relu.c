/* Standalone ReLU (after BatchNorm; convolutions and dense layers fuse it),
   element ranges shared out to a team of threads (src/nn/team.h). */
#include "fer/nn.h"

#include "team.h"

enum { MIN_EACH = 1 << 16 }; /* elements worth a thread */

typedef struct {
    float *out;
    const float *in, *y;
    size_t count;
} relu_job;

static void forward_worker(void *ctx, int worker, int workers)
{
    const relu_job *j = ctx;
    size_t lo, hi;
    fer_team_share(j->count, worker, workers, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        j->out[i] = j->in[i] > 0.0f ? j->in[i] : 0.0f;
}

void fer_relu_forward(float *y, const float *x, size_t count)
{
    relu_job j = {.out = y, .in = x, .count = count};
    fer_team_run(fer_team_for(count, MIN_EACH), forward_worker, &j);
}

static void backward_worker(void *ctx, int worker, int workers)
{
    const relu_job *j = ctx;
    size_t lo, hi;
    fer_team_share(j->count, worker, workers, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        j->out[i] = j->y[i] > 0.0f ? j->in[i] : 0.0f;
}

void fer_relu_backward(float *dx, const float *dy, const float *y, size_t count)
{
    relu_job j = {.out = dx, .in = dy, .y = y, .count = count};
    fer_team_run(fer_team_for(count, MIN_EACH), backward_worker, &j);
}
