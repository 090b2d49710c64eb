/* The gradient sum, overlapped with backward by a communication thread or
   after it (see include/fer/grad_buckets.h). */
#include "fer/grad_buckets.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Ranks on distinct nodes: the node communicators' local rank 0s. */
static int count_nodes(const fer_dist *d)
{
    int leaders = d->local_rank == 0;
    if (d->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, &leaders, 1, MPI_INT, MPI_SUM, d->comm);
    return leaders;
}

static int resolve_overlap(const fer_dist *d, fer_overlap want, int nodes, const char **why, fer_err *err)
{
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    if (d->size == 1) {
        *why = "one rank";
        return 0;
    }
    if (want == FER_OVERLAP_OFF) {
        *why = "distribution.overlap off";
        return 0;
    }
    if (level < MPI_THREAD_MULTIPLE) {
        *why = "MPI gives no MPI_THREAD_MULTIPLE";
        if (want == FER_OVERLAP_ON)
            return fer_fail(err, "distribution.overlap on needs MPI_THREAD_MULTIPLE, and MPI gives level %d",
                            level);
        return 0;
    }
    if (want == FER_OVERLAP_ON) {
        *why = "distribution.overlap on";
        return 1;
    }
    /* auto: on wherever there is something to sum. On the emulated cluster
       and on one node alike the thread gave more images/s than the sum after
       backward (docs/scaling.md): a rank that finishes backward first waits
       asleep in it, where the sum after backward spins in MPI and takes a
       core from the slower rank. */
    *why = nodes > 1 ? "auto: ranks on several nodes" : "auto: several ranks";
    return 1;
}

int fer_grad_buckets_init(fer_grad_buckets *b, const fer_dist *d, const fer_model *m,
                          const fer_distribution_cfg *cfg, char *desc, size_t desc_len, fer_err *err)
{
    memset(b, 0, sizeof *b);
    b->dist = d;
    b->model = m;
    b->comm = MPI_COMM_NULL;
    const char *why = "";
    int nodes = count_nodes(d);
    b->overlap = resolve_overlap(d, cfg->overlap, nodes, &why, err);
    if (b->overlap < 0)
        return FER_ERROR;
    b->bucket_floats = (size_t)(cfg->bucket_mb * 1048576.0 / sizeof(float));
    if (b->bucket_floats == 0)
        b->bucket_floats = 1;
    MPI_Comm_dup(d->comm, &b->comm);
    if (fer_grad_exchange_init(&b->exchange, b->comm, cfg->allreduce_dtype, m->n_params, err)) {
        MPI_Comm_free(&b->comm);
        return FER_ERROR;
    }
    b->exchange.patient = b->overlap;
    pthread_mutex_init(&b->mutex, NULL);
    pthread_cond_init(&b->wake, NULL);
    char buckets[64] = "";
    if (b->overlap && cfg->bucket_mb > 0)
        snprintf(buckets, sizeof buckets, ", buckets of %g MiB", cfg->bucket_mb);
    else if (b->overlap)
        snprintf(buckets, sizeof buckets, ", a bucket per layer");
    snprintf(desc, desc_len, "gradient sum: %d rank(s) on %d node(s), overlap %s (%s)%s, %s on the wire",
             d->size, nodes, b->overlap ? "on" : "off", why, buckets,
             cfg->allreduce_dtype == FER_WIRE_BF16 ? "bf16" : "fp32");
    return FER_OK;
}

void fer_grad_buckets_free(fer_grad_buckets *b)
{
    /* Zeroed (a setup that failed before init) or freed already. */
    if (!b->comm || b->comm == MPI_COMM_NULL)
        return;
    fer_grad_exchange_free(&b->exchange);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Comm_free(&b->comm);
    b->comm = MPI_COMM_NULL;
    pthread_mutex_destroy(&b->mutex);
    pthread_cond_destroy(&b->wake);
}

/* The communication thread: sums the queued buckets in queue order until
   finish() closes the queue and nothing is left. */
static void *communicate(void *arg)
{
    fer_grad_buckets *b = arg;
    pthread_mutex_lock(&b->mutex);
    for (;;) {
        while (b->n_done == b->n_queued && !b->closed)
            pthread_cond_wait(&b->wake, &b->mutex);
        if (b->n_done == b->n_queued)
            break;
        size_t begin = b->queue_begin[b->n_done], count = b->queue_count[b->n_done];
        pthread_mutex_unlock(&b->mutex);
        fer_grad_exchange_sum(&b->exchange, b->model->grads + begin, count);
        pthread_mutex_lock(&b->mutex);
        b->n_done++;
    }
    pthread_mutex_unlock(&b->mutex);
    return NULL;
}

void fer_grad_buckets_begin(fer_grad_buckets *b)
{
    b->step_started = now();
    b->unsent_end = b->model->n_params;
    b->n_queued = b->n_done = b->closed = 0;
    b->buckets = 0;
    /* Without a thread (none wanted, or none to be had) finish() sums it all. */
    b->running = b->overlap && pthread_create(&b->thread, NULL, communicate, b) == 0;
}

/* Queues grads [begin, unsent_end) for the thread. */
static void queue(fer_grad_buckets *b, size_t begin)
{
    size_t count = b->unsent_end - begin;
    if (count == 0)
        return;
    pthread_mutex_lock(&b->mutex);
    b->queue_begin[b->n_queued] = begin;
    b->queue_count[b->n_queued] = count;
    b->n_queued++;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mutex);
    b->unsent_end = begin;
    b->buckets++;
}

void fer_grad_buckets_ready(int layer, void *ctx)
{
    fer_grad_buckets *b = ctx;
    /* The last slot stays for finish(): a full queue lets buckets merge. */
    if (!b->running || b->n_queued >= FER_MAX_BUCKETS - 1)
        return;
    const fer_layer *L = &b->model->layers[layer];
    if (L->n_weights == 0 || L->n_params == 0)
        return;
    /* A layer's params start at its first non-statistics weight. */
    size_t first = b->unsent_end;
    for (int w = 0; w < L->n_weights; w++)
        if (!L->weights[w].in_stats && L->weights[w].offset < first)
            first = L->weights[w].offset;
    if (first >= b->model->trainable_offset && b->unsent_end - first >= b->bucket_floats)
        queue(b, first);
}

void fer_grad_buckets_finish(fer_grad_buckets *b)
{
    double backward_end = now();
    size_t off = b->model->trainable_offset;
    if (b->running) {
        queue(b, off);
        pthread_mutex_lock(&b->mutex);
        b->closed = 1;
        pthread_cond_signal(&b->wake);
        pthread_mutex_unlock(&b->mutex);
        pthread_join(b->thread, NULL);
        b->running = 0;
    } else if (b->dist->size > 1 && b->unsent_end > off) {
        fer_grad_exchange_sum(&b->exchange, b->model->grads + off, b->unsent_end - off);
        b->buckets = 1;
    }
    b->steps++;
    b->compute_seconds += backward_end - b->step_started;
    b->exposed_seconds += now() - backward_end;
}
