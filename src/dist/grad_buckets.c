/* The gradient allreduce cut into buckets started as backward finishes
   each layer (see include/fer/grad_buckets.h). */
#include "fer/grad_buckets.h"

#include <limits.h>
#include <string.h>

void fer_grad_buckets_begin(fer_grad_buckets *b, const fer_dist *d, const fer_model *m, double bucket_mb)
{
    memset(b, 0, sizeof *b);
    b->dist = d;
    b->model = m;
    b->bucket_floats = bucket_mb > 0 ? (size_t)(bucket_mb * 1048576.0 / sizeof(float)) : 0;
    if (bucket_mb > 0 && b->bucket_floats == 0)
        b->bucket_floats = 1;
    b->unsent_end = m->n_params;
}

/* Sends grads [begin, unsent_end): nonblocking when buckets are on and it
   fits one MPI count and a request slot, else blocking (the same sum). Without
   buckets this is exactly the single MPI_Allreduce of fer_dist_sum_floats. */
static void send(fer_grad_buckets *b, size_t begin)
{
    size_t count = b->unsent_end - begin;
    float *at = b->model->grads + begin;
    b->unsent_end = begin;
    if (count == 0)
        return;
    b->buckets++;
    if (b->bucket_floats > 0 && count <= (size_t)INT_MAX && b->n_requests < FER_MAX_BUCKETS)
        MPI_Iallreduce(MPI_IN_PLACE, at, (int)count, MPI_FLOAT, MPI_SUM, b->dist->comm,
                       &b->requests[b->n_requests++]);
    else
        fer_dist_sum_floats(b->dist, at, count);
}

void fer_grad_buckets_ready(int layer, void *ctx)
{
    fer_grad_buckets *b = ctx;
    if (b->dist->size == 1 || b->bucket_floats == 0)
        return;
    const fer_layer *L = &b->model->layers[layer];
    if (L->n_weights > 0 && L->n_params > 0) {
        /* A layer's params start at its first non-statistics weight. */
        size_t first = b->unsent_end;
        for (int w = 0; w < L->n_weights; w++)
            if (!L->weights[w].in_stats && L->weights[w].offset < first)
                first = L->weights[w].offset;
        if (b->unsent_end - first >= b->bucket_floats)
            send(b, first);
    }
    if (b->n_requests > 0) {
        int done;
        MPI_Testall(b->n_requests, b->requests, &done, MPI_STATUSES_IGNORE);
    }
}

void fer_grad_buckets_finish(fer_grad_buckets *b)
{
    if (b->dist->size == 1)
        return;
    send(b, b->model->trainable_offset);
    MPI_Waitall(b->n_requests, b->requests, MPI_STATUSES_IGNORE);
    b->n_requests = 0;
}
