/* Data-parallel scaling: what this machine measures, and a cost model that
   predicts a cluster from it. tools/bench_scaling runs both modes.

   measure (under mpirun -np P):
     - MPI_Allreduce latency: 8 bytes (one double), many calls;
     - MPI_Allreduce of the seed's trainable gradient (every layer trainable:
       3,082,311 floats, 12.3 MB), a few calls; the bandwidth that a ring
       allreduce's cost T = 2(P-1)/P * S/B + 2(P-1) a implies;
     - training steps of the config's model on random input (forward with
       synchronized BatchNorm, loss, backward, then the gradient allreduce),
       batch per rank as given: compute time, time in the allreduce, images/s;
       once with the gradient summed after backward, once overlapped by the
       communication thread in buckets of BUCKET_MB (0: one per layer;
       fer_grad_buckets), where the time in the sum is what is left once
       backward ends. Both sum with fer_grad_exchange, as the trainer does.
     It ends with a line "RESULT key=value ..." for the script.
   model (no MPI): the cost model evaluated for P = 64 and 512 ranks on two
     assumed interconnects, weak scaling (64 images per rank) and strong
     scaling (a fixed global batch of 4096), without and with the allreduce
     overlapped with the backward pass.

   usage: bench_allreduce measure CONFIG [BATCH_PER_RANK [STEPS [BUCKET_MB]]]   (default 8 3 2)
          bench_allreduce model T_IMAGE_S PARAM_FLOATS [BACKWARD_FRACTION]   (default 0.67) */
#include "fer/cpu.h"
#include "fer/dist.h"
#include "fer/grad_buckets.h"
#include "fer/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LATENCY_CALLS = 2000, BANDWIDTH_CALLS = 10 };

/* ---- measure ------------------------------------------------------------- */

typedef struct {
    double compute_s;   /* per step, forward + loss + backward, slowest rank */
    double wait_s;      /* per step, waiting for the slowest rank before the allreduce (single) */
    double allreduce_s; /* per step, the gradient allreduce (bucketed: what remains after backward,
                           waiting for the slowest rank included) */
    double images_per_s;
} step_timing;

typedef struct {
    double latency_s; /* one 8-byte allreduce */
    double big_s;     /* one allreduce of the gradient */
    double bandwidth; /* bytes/s implied by the ring model, 0 on one rank */
    step_timing single, bucketed;
} measured;

typedef struct {
    float *x;
    int *labels;
    int64_t *ids;
    int n;
} batch_data;

static double max_over_ranks(const fer_dist *d, double v)
{
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, d->comm);
    return v;
}

static double time_allreduce(const fer_dist *d, float *buf, size_t count, int calls)
{
    fer_dist_sum_floats(d, buf, count); /* warm-up: connections, buffers */
    MPI_Barrier(d->comm);
    double t0 = MPI_Wtime();
    for (int i = 0; i < calls; i++)
        fer_dist_sum_floats(d, buf, count);
    return max_over_ranks(d, (MPI_Wtime() - t0) / calls);
}

static double time_latency(const fer_dist *d)
{
    double x = 1;
    for (int i = 0; i < 100; i++)
        MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_SUM, d->comm);
    MPI_Barrier(d->comm);
    double t0 = MPI_Wtime();
    for (int i = 0; i < LATENCY_CALLS; i++)
        MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_SUM, d->comm);
    return max_over_ranks(d, (MPI_Wtime() - t0) / LATENCY_CALLS);
}

static int random_batch(batch_data *b, const fer_model *m, const fer_dist *d, int n)
{
    size_t floats = (size_t)n * fer_model_input_size(m);
    b->n = n;
    b->x = malloc(floats * sizeof *b->x);
    b->labels = malloc((size_t)n * sizeof *b->labels);
    b->ids = malloc((size_t)n * sizeof *b->ids);
    if (!b->x || !b->labels || !b->ids)
        return FER_ERROR;
    srand(1u + (unsigned)d->rank);
    for (size_t i = 0; i < floats; i++)
        b->x[i] = (float)(rand() % 256) - 128.0f; /* the range of caffe-preprocessed pixels */
    for (int i = 0; i < n; i++) {
        b->labels[i] = rand() % m->cfg.classes;
        b->ids[i] = (int64_t)d->rank * n + i;
    }
    return FER_OK;
}

/* One step as the trainer runs it: compute, wait, allreduce seconds in t.
   Without overlap: backward, a barrier (to tell waiting from communicating),
   the gradient sum. With overlap the communication thread sums buckets
   during backward and t[2] is what is left of them once backward ends. */
static void step(fer_model *m, const fer_dist *d, const batch_data *b, long step_no, fer_grad_buckets *gb,
                 double t[3])
{
    fer_pass pass = {.training = 1,
                     .dropout = 1,
                     .seed = 1,
                     .step = (uint64_t)step_no,
                     .sample_ids = b->ids,
                     .reducer = fer_dist_reducer(d),
                     .grad_ready = fer_grad_buckets_ready,
                     .grad_ctx = gb};
    fer_grad_buckets_begin(gb);
    double t0 = MPI_Wtime();
    fer_model_forward(m, b->x, b->n, &pass);
    fer_model_loss(m, b->labels, NULL, b->n, (long)b->n * d->size, NULL, NULL);
    fer_model_backward(m, &pass, NULL);
    double t1 = MPI_Wtime();
    if (!gb->overlap)
        MPI_Barrier(d->comm);
    double t2 = MPI_Wtime();
    fer_grad_buckets_finish(gb);
    double t3 = MPI_Wtime();
    t[0] = t1 - t0;
    t[1] = t2 - t1;
    t[2] = t3 - t2;
}

static void time_steps(fer_model *m, const fer_dist *d, const batch_data *b, int steps, fer_grad_buckets *gb,
                       step_timing *r)
{
    double t[3], sum[3] = {0, 0, 0};
    step(m, d, b, 0, gb, t); /* warm-up: first touch of every buffer */
    MPI_Barrier(d->comm);
    double t0 = MPI_Wtime();
    for (int s = 1; s <= steps; s++) {
        step(m, d, b, s, gb, t);
        for (int k = 0; k < 3; k++)
            sum[k] += t[k];
    }
    double total = max_over_ranks(d, MPI_Wtime() - t0);
    r->compute_s = max_over_ranks(d, sum[0] / steps);
    r->wait_s = max_over_ranks(d, sum[1] / steps);
    r->allreduce_s = max_over_ranks(d, sum[2] / steps);
    r->images_per_s = (double)b->n * d->size * steps / total;
}

/* Both ways of summing the gradient, timed: after backward, and overlapped
   by the communication thread in buckets of bucket_mb. */
static int time_both(fer_model *m, const fer_dist *d, const batch_data *b, int steps, double bucket_mb,
                     measured *r)
{
    fer_distribution_cfg after = {.overlap = FER_OVERLAP_OFF},
                         overlapped = {.overlap = FER_OVERLAP_ON, .bucket_mb = bucket_mb};
    /* Either order, to tell the effect of running second from the mode's. */
    const char *first = getenv("FER_BENCH_OVERLAP_FIRST");
    int overlap_first = first && strcmp(first, "1") == 0 && d->size > 1;
    for (int k = 0; k < 2; k++) {
        int overlapped_now = (k == 0) == overlap_first;
        if (overlapped_now && d->size == 1)
            continue;
        fer_grad_buckets gb;
        fer_err err;
        char desc[256];
        if (fer_grad_buckets_init(&gb, d, m, overlapped_now ? &overlapped : &after, desc, sizeof desc, &err))
            return FER_ERROR;
        time_steps(m, d, b, steps, &gb, overlapped_now ? &r->bucketed : &r->single);
        fer_grad_buckets_free(&gb);
    }
    if (d->size == 1)
        r->bucketed = r->single;
    return FER_OK;
}

static void print_steps(const char *what, const step_timing *r, int batch, int p, int steps)
{
    double step_s = r->compute_s + r->wait_s + r->allreduce_s;
    printf("training step, %s, %d image(s) per rank (global %d), %d timed steps: compute %.3f s, "
           "waiting for the slowest rank %.3f s, gradient allreduce %.4f s (%.1f%% of the step); "
           "%.2f images/s, %.1f ms of compute per image per rank\n",
           what, batch, batch * p, steps, r->compute_s, r->wait_s, r->allreduce_s,
           100.0 * r->allreduce_s / step_s, r->images_per_s, 1e3 * r->compute_s / batch);
}

static int measure_all(const fer_dist *d, const char *config, int batch, int steps, double bucket_mb,
                       const char *blas, const char *threads)
{
    fer_config *cfg = malloc(sizeof *cfg);
    fer_model m;
    fer_err err;
    measured r = {0};
    if (!cfg || fer_config_load(cfg, config, &err) || fer_model_init(&m, &cfg->model, cfg->seed, &err) ||
        fer_model_reserve(&m, batch, &err)) {
        fprintf(stderr, "bench_allreduce: %s\n", cfg ? err.msg : "out of memory");
        free(cfg);
        return 1;
    }
    fer_model_set_trainable(&m, 0); /* the fine-tuning stage: every gradient travels */
    size_t count = m.n_params - m.trainable_offset;
    double bytes = 4.0 * (double)count;
    int p = d->size;
    if (d->rank == 0)
        printf("%d rank(s) on %s; %s; %s\n", p, d->host, blas, threads);
    r.latency_s = time_latency(d);
    r.big_s = time_allreduce(d, m.grads + m.trainable_offset, count, BANDWIDTH_CALLS);
    double ring_bytes = 2.0 * (p - 1) / p * bytes, ring_latency = 2.0 * (p - 1) * r.latency_s;
    r.bandwidth = p > 1 && r.big_s > ring_latency ? ring_bytes / (r.big_s - ring_latency) : 0;
    batch_data b = {0};
    int ok = random_batch(&b, &m, d, batch) == FER_OK;
    ok = ok && time_both(&m, d, &b, steps, bucket_mb, &r) == FER_OK;
    if (ok && d->rank == 0) {
        printf("allreduce of 8 bytes: %.2f us per call (%d calls)\n", 1e6 * r.latency_s, LATENCY_CALLS);
        printf("allreduce of the trainable gradient, %zu floats = %.2f MB: %.2f ms per call (%d calls)",
               count, bytes / 1e6, 1e3 * r.big_s, BANDWIDTH_CALLS);
        if (p > 1)
            printf(", ring bandwidth %.2f GB/s", r.bandwidth / 1e9);
        printf("\n");
        char what[64];
        print_steps("gradient summed after backward", &r.single, batch, p, steps);
        snprintf(what, sizeof what, "overlapped, buckets of %g MiB (0: per layer)", bucket_mb);
        print_steps(what, &r.bucketed, batch, p, steps);
        printf("RESULT ranks=%d batch=%d latency_s=%.9g allreduce_s=%.9g bandwidth_Bps=%.6g t_image_s=%.6g "
               "step_wait_s=%.6g step_allreduce_s=%.6g images_per_s=%.6g bucketed_allreduce_s=%.6g "
               "bucketed_images_per_s=%.6g param_floats=%zu\n",
               p, batch, r.latency_s, r.big_s, r.bandwidth, r.single.compute_s / batch, r.single.wait_s,
               r.single.allreduce_s, r.single.images_per_s, r.bucketed.allreduce_s, r.bucketed.images_per_s,
               count);
    }
    free(b.x);
    free(b.labels);
    free(b.ids);
    fer_model_free(&m);
    free(cfg);
    if (!ok)
        fprintf(stderr, "bench_allreduce: out of memory for a batch of %d or the gradient exchange\n", batch);
    return ok ? 0 : 1;
}

/* ---- model --------------------------------------------------------------- */

typedef struct {
    const char *name;
    double bandwidth; /* bytes/s */
    double latency;   /* s */
} interconnect;

/* BatchNorm synchronization (two layers, forward and backward) and the
   loss/hits/stop reduction: latency-bound, recursive doubling. */
enum { SMALL_REDUCTIONS = 5 };

typedef struct {
    double compute, allreduce, small, step_plain, step_overlap;
} step_cost;

static step_cost cost(double t_image, int per_rank, int p, double bytes, const interconnect *net,
                      double backward_fraction)
{
    step_cost c;
    c.compute = per_rank * t_image;
    c.allreduce = p > 1 ? 2.0 * (p - 1) / p * bytes / net->bandwidth + 2.0 * (p - 1) * net->latency : 0;
    c.small = p > 1 ? SMALL_REDUCTIONS * 2.0 * ceil(log2(p)) * net->latency : 0;
    c.step_plain = c.compute + c.small + c.allreduce;
    /* Buckets sent as the backward finishes each layer hide the allreduce
       behind the rest of the backward; what exceeds it stays exposed. */
    double hidden = fmin(c.allreduce, backward_fraction * c.compute);
    c.step_overlap = c.step_plain - hidden;
    return c;
}

/* The compute per image per rank below which the efficiency falls under
   90%: compute = 9 x what stays exposed. */
static double t_image_for_90(const step_cost *c, int per_rank, double backward_fraction)
{
    double exposed_plain = c->allreduce + c->small;
    double overlapped = 9 * exposed_plain / (1 + 9 * backward_fraction);
    if (c->allreduce <= backward_fraction * overlapped)
        overlapped = 9 * c->small; /* the allreduce hides entirely */
    return overlapped / per_rank;
}

static void model_row(const char *scaling, int p, int per_rank, double t_image, double bytes,
                      const interconnect *net, double backward_fraction)
{
    step_cost c = cost(t_image, per_rank, p, bytes, net, backward_fraction);
    double t90_plain = 9 * (c.allreduce + c.small) / per_rank;
    printf("| %-6s | %4d | %4d | %6d | %7.0f | %6.2f | %5.2f | %6.1f%% | %6.1f%% | %9.0f | %6.2f | %6.2f |\n",
           scaling, p, per_rank, per_rank * p, 1e3 * c.compute, 1e3 * c.allreduce, 1e3 * c.small,
           100 * c.compute / c.step_plain, 100 * c.compute / c.step_overlap, per_rank * p / c.step_overlap,
           1e3 * t90_plain, 1e3 * t_image_for_90(&c, per_rank, backward_fraction));
}

static int model(double t_image, double floats, double backward_fraction)
{
    const interconnect nets[] = {{"100 Gb/s InfiniBand (EDR): B = 12 GB/s, a = 2 us", 12e9, 2e-6},
                                 {"25 Gb/s Ethernet (TCP): B = 3 GB/s, a = 15 us", 3e9, 15e-6}};
    const int ranks[] = {64, 512}, global_fixed[] = {512, 4096};
    const int per_rank_weak = 64;
    double bytes = 4 * floats;
    printf("cost model: gradient S = %.0f floats = %.2f MB; compute %.1f ms per image per rank (T_IMAGE); "
           "backward = %.0f%% of compute\n",
           floats, bytes / 1e6, 1e3 * t_image, 100 * backward_fraction);
    printf("  ring allreduce T = 2(P-1)/P * S/B + 2(P-1) a; %d small reductions per step, 2 ceil(log2 P) a "
           "each;\n"
           "  overlapped: the allreduce hides behind the backward up to its length;\n"
           "  efficiency = compute / step (1 rank: no communication); weak: %d images per rank;\n"
           "  strong: global batch fixed at 512 or 4096\n",
           SMALL_REDUCTIONS, per_rank_weak);
    for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++) {
        printf("\n%s\n\n", nets[k].name);
        printf("| scaling | P | images per rank | global batch | compute ms | allreduce ms | small ms | "
               "efficiency | "
               "efficiency, overlapped | images/s, overlapped | 90%% needs ms/image >= | overlapped >= |\n");
        printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++)
            model_row("weak", ranks[i], per_rank_weak, t_image, bytes, &nets[k], backward_fraction);
        for (size_t g = 0; g < sizeof global_fixed / sizeof global_fixed[0]; g++)
            for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++)
                model_row("strong", ranks[i], global_fixed[g] / ranks[i], t_image, bytes, &nets[k],
                          backward_fraction);
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: bench_allreduce measure CONFIG [BATCH_PER_RANK [STEPS [BUCKET_MB]]]\n"
                    "       bench_allreduce model T_IMAGE_S PARAM_FLOATS [BACKWARD_FRACTION]\n");
    return 2;
}

static int run_measure(int argc, char **argv)
{
    int batch = argc > 3 ? atoi(argv[3]) : 8, steps = argc > 4 ? atoi(argv[4]) : 3;
    double bucket_mb = argc > 5 ? atof(argv[5]) : 2.0;
    if (argc < 3 || batch < 1 || steps < 1 || bucket_mb < 0)
        return usage();
    char blas[256], threads[256];
    fer_err err;
    fer_dist d;
    /* Before MPI_Init, as fer train does: it may re-execute this program. */
    if (fer_blas_setup(argv, blas, sizeof blas, &err) || fer_dist_init(&d, &argc, &argv, &err) ||
        fer_dist_blas_threads(&d, 0, threads, sizeof threads, &err)) {
        fprintf(stderr, "bench_allreduce: %s\n", err.msg);
        return 1;
    }
    int rc = measure_all(&d, argv[2], batch, steps, bucket_mb, blas, threads);
    fer_dist_finalize(&d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "measure"))
        return run_measure(argc, argv);
    if (argc >= 4 && !strcmp(argv[1], "model")) {
        double t_image = atof(argv[2]), floats = atof(argv[3]), f = argc > 4 ? atof(argv[4]) : 0.67;
        if (t_image <= 0 || floats <= 0 || f < 0 || f > 1)
            return usage();
        return model(t_image, floats, f);
    }
    return usage();
}
