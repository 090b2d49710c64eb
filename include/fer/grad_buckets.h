/* The gradient allreduce in buckets that start while backward goes on
   (distribution.bucket_mb > 0), so communication overlaps computation.

   Layers' parameters lie input to output in the flat buffer, and backward
   finishes them output first, so the final gradients grow as one suffix
   from the end of the buffer down. Each time the finished, unsent part
   reaches bucket_mb, it goes out as one MPI_Iallreduce (sum, in place);
   finish() sends what is left down to the trainable offset and waits for
   all. Every rank cuts the same buckets at the same layers, so collectives
   (these and synchronized BatchNorm's) come in the same order everywhere.
   The result is the single allreduce's up to float summation order.

   Use, per step:
     fer_grad_buckets gb;
     fer_grad_buckets_begin(&gb, dist, model, cfg->distribution.bucket_mb);
     pass.grad_ready = fer_grad_buckets_ready; pass.grad_ctx = &gb;
     fer_model_backward(model, &pass, NULL);
     fer_grad_buckets_finish(&gb);   (replaces fer_dist_sum_floats)

   Open MPI progresses a nonblocking collective only inside MPI calls, so
   ready() also tests the buckets in flight once per layer. */
#ifndef FER_GRAD_BUCKETS_H
#define FER_GRAD_BUCKETS_H

#include "fer/dist.h"
#include "fer/model.h"

#include <mpi.h>
#include <stddef.h>

#define FER_MAX_BUCKETS (2 * FER_MAX_LAYERS)

typedef struct {
    const fer_dist *dist;
    const fer_model *model;
    size_t bucket_floats; /* 0: one allreduce in finish() */
    size_t unsent_end;    /* gradients [final offset, unsent_end) are final and not sent */
    int n_requests;
    MPI_Request requests[FER_MAX_BUCKETS];
    int buckets; /* started this step, finish()'s included (for logs and tests) */
} fer_grad_buckets;

/* Before the backward pass of a step. bucket_mb in MiB (0: one allreduce). */
void fer_grad_buckets_begin(fer_grad_buckets *b, const fer_dist *d, const fer_model *m, double bucket_mb);
/* The fer_pass.grad_ready hook; ctx is the fer_grad_buckets. */
void fer_grad_buckets_ready(int layer, void *ctx);
/* After the backward pass: the trainable suffix of m->grads holds the sum
   over ranks when it returns. */
void fer_grad_buckets_finish(fer_grad_buckets *b);

#endif
