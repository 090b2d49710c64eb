/* The gradient sum across ranks, optionally overlapped with backward by a
   communication thread (distribution.overlap, bucket_mb, allreduce_dtype).

   Layers' parameters lie input to output in the flat buffer, and backward
   finishes them output first, so the final gradients grow as one suffix
   from the end of the buffer down. With overlap, each time the finished,
   unsent part reaches bucket_mb (0: at every layer with parameters) it is
   queued for the communication thread, which sums the buckets one after
   the other with blocking collectives on its own communicator while the
   main thread goes on with backward (Open MPI 4.1 progresses a nonblocking
   collective only inside MPI calls, so a thread that sits in the blocking
   call is what moves the bytes). finish() queues the rest and waits for the
   thread. Without overlap, finish() sums the whole trainable suffix after
   backward. Both go through fer_grad_exchange, whose result does not depend
   on the cut into buckets: overlap on and off give the same bits.

   The main thread still calls MPI during backward (synchronized BatchNorm),
   on the world's duplicate, so overlap needs MPI_THREAD_MULTIPLE.

   Use:
     fer_grad_buckets gb;  fer_grad_buckets_init(&gb, dist, model, &cfg->distribution, ...);
     per step:
       fer_grad_buckets_begin(&gb);
       pass.grad_ready = fer_grad_buckets_ready; pass.grad_ctx = &gb;
       fer_model_backward(model, &pass, NULL);
       fer_grad_buckets_finish(&gb);
     fer_grad_buckets_free(&gb); */
#ifndef FER_GRAD_BUCKETS_H
#define FER_GRAD_BUCKETS_H

#include "fer/config.h"
#include "fer/dist.h"
#include "fer/grad_exchange.h"
#include "fer/model.h"

#include <mpi.h>
#include <pthread.h>
#include <stddef.h>

#define FER_MAX_BUCKETS (2 * FER_MAX_LAYERS)

typedef struct {
    const fer_dist *dist;
    const fer_model *model;
    MPI_Comm comm; /* the gradients' duplicate of the world communicator */
    fer_grad_exchange exchange;
    int overlap;          /* 1: a communication thread per step */
    size_t bucket_floats; /* with overlap: queue once this many are final */
    /* This step's. */
    size_t unsent_end; /* gradients [final offset, unsent_end) are final and not queued */
    size_t queue_begin[FER_MAX_BUCKETS], queue_count[FER_MAX_BUCKETS];
    int n_queued, n_done, closed, running;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    int buckets; /* summed this step (for logs and tests) */
    /* Totals over the steps, for the run's summary. */
    long steps;
    double exposed_seconds; /* from backward's end to the sum's completion */
    double compute_seconds; /* from begin() to backward's end */
    double step_started;
} fer_grad_buckets;

/* A collective (it duplicates the communicator): every rank calls it. desc
   gets a line for the log: overlap on or off and why, buckets, wire type. */
int fer_grad_buckets_init(fer_grad_buckets *b, const fer_dist *d, const fer_model *m,
                          const fer_distribution_cfg *cfg, char *desc, size_t desc_len, fer_err *err);
void fer_grad_buckets_free(fer_grad_buckets *b);
/* Before the forward pass of a step. */
void fer_grad_buckets_begin(fer_grad_buckets *b);
/* The fer_pass.grad_ready hook; ctx is the fer_grad_buckets. */
void fer_grad_buckets_ready(int layer, void *ctx);
/* After the backward pass: the trainable suffix of m->grads holds the sum
   over ranks when it returns. */
void fer_grad_buckets_finish(fer_grad_buckets *b);

#endif
