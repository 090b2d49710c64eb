/* The gradient sum (fer_grad_buckets, the fer_pass.grad_ready hook, the
   communication thread, fer_grad_exchange) against MPI_Allreduce of the
   trainable suffix, on configs/tiny.yaml's network with a different random
   shard per rank.

   For every layer trainable, then for a frozen VGG prefix (the head stage):
   backward calls the hook once per trainable layer, output layer first;
   - without overlap the sum equals MPI_Allreduce's within 1e-6 of its
     largest magnitude (the order of the additions differs on 3 ranks);
   - with overlap, buckets of 0 (one per layer), 0.0001 and 0.004 MiB give
     exactly the bits of the sum without overlap, and more than one bucket
     was really sent;
   - with bf16 on the wire every rank holds the same bits, within 1e-2 of
     the largest magnitude of the fp32 sum.
   On one rank nothing is sent and nothing changes.
   tests/test_mpi_buckets.sh runs it under mpirun -np 2 and 3. */
#include "check_mpi.h"
#include "fer/dist.h"
#include "fer/grad_buckets.h"
#include "source_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SHARD = 5 };

typedef struct {
    fer_grad_buckets *buckets;
    int order[FER_MAX_LAYERS], calls;
} hook_log;

/* Records the hook's calls, then forwards them to the buckets. */
static void logging_hook(int layer, void *ctx)
{
    hook_log *h = ctx;
    if (h->calls < FER_MAX_LAYERS)
        h->order[h->calls] = layer;
    h->calls++;
    fer_grad_buckets_ready(layer, h->buckets);
}

typedef struct {
    float *x;
    int labels[SHARD];
    int64_t ids[SHARD];
} shard;

static void local_backward(fer_model *m, const fer_dist *d, const shard *s, fer_pass *pass)
{
    fer_model_forward(m, s->x, SHARD, pass);
    fer_model_loss(m, s->labels, NULL, SHARD, (long)SHARD * d->size, NULL, NULL);
    fer_model_backward(m, pass, NULL);
}

static fer_pass make_pass(const fer_dist *d, const shard *s)
{
    fer_pass p = {.training = 1,
                  .dropout = 1,
                  .seed = 3,
                  .step = 11,
                  .sample_ids = s->ids,
                  .reducer = fer_dist_reducer(d)};
    return p;
}

/* MPI_Allreduce of the trainable suffix. */
static void reference(fer_model *m, const fer_dist *d, const shard *s, float *out)
{
    fer_pass pass = make_pass(d, s);
    local_backward(m, d, s, &pass);
    size_t off = m->trainable_offset;
    fer_dist_sum_floats(d, m->grads + off, m->n_params - off);
    memcpy(out, m->grads + off, (m->n_params - off) * sizeof *out);
}

/* Backward and the sum as the trainer runs them; the result stays in
   m->grads. Returns the buckets sent, or -1 when init failed. */
static int summed(fer_model *m, const fer_dist *d, const shard *s, const fer_distribution_cfg *cfg,
                  int *order_ok)
{
    fer_grad_buckets gb;
    fer_err err;
    char desc[256];
    if (fer_grad_buckets_init(&gb, d, m, cfg, desc, sizeof desc, &err)) {
        printf("rank %d: %s\n", d->rank, err.msg);
        return -1;
    }
    if (d->rank == 0)
        printf("  %s\n", desc);
    hook_log log = {.buckets = &gb};
    fer_pass pass = make_pass(d, s);
    pass.grad_ready = logging_hook;
    pass.grad_ctx = &log;
    fer_grad_buckets_begin(&gb);
    local_backward(m, d, s, &pass);
    fer_grad_buckets_finish(&gb);
    *order_ok = log.calls == m->n_layers - m->first_trainable;
    for (int k = 0; *order_ok && k < log.calls; k++)
        *order_ok = log.order[k] == m->n_layers - 1 - k;
    int buckets = gb.buckets;
    fer_grad_buckets_free(&gb);
    return buckets;
}

static double max_abs(const float *a, size_t n)
{
    double v = 0;
    for (size_t i = 0; i < n; i++)
        v = fmax(v, fabs(a[i]));
    return v;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double v = 0;
    for (size_t i = 0; i < n; i++)
        v = fmax(v, fabs((double)a[i] - b[i]));
    return v;
}

/* Without overlap: against MPI_Allreduce. Leaves the sum in out. */
static void check_after(fer_model *m, const fer_dist *d, const shard *s, const float *mpi, float *out,
                        const char *stage)
{
    fer_distribution_cfg cfg = {.overlap = FER_OVERLAP_OFF};
    int order_ok, sent = summed(m, d, s, &cfg, &order_ok);
    size_t off = m->trainable_offset, count = m->n_params - off;
    memcpy(out, m->grads + off, count * sizeof *out);
    double scale = max_abs(mpi, count), diff = max_diff(out, mpi, count);
    if (d->rank == 0)
        printf(
            "%s, %d rank(s), no overlap: %d sum(s) over %zu floats (%s), max |sum - MPI_Allreduce| %.2e of "
            "max |g| %.2e (tol 1e-6 relative)\n",
            stage, d->size, sent, count, order_ok ? "hook: output first, each once" : "hook: WRONG ORDER",
            diff, scale);
    CHECK(order_ok);
    CHECK(scale > 0 && diff <= 1e-6 * scale);
    CHECK(sent == (d->size == 1 ? 0 : 1));
}

/* With overlap: the same bits as without. */
static void check_overlap(fer_model *m, const fer_dist *d, const shard *s, const float *after,
                          double bucket_mb, const char *stage)
{
    fer_distribution_cfg cfg = {.overlap = FER_OVERLAP_ON, .bucket_mb = bucket_mb};
    int order_ok, sent = summed(m, d, s, &cfg, &order_ok);
    size_t off = m->trainable_offset, count = m->n_params - off;
    int same = sent >= 0 && memcmp(m->grads + off, after, count * sizeof *after) == 0;
    if (d->rank == 0)
        printf(
            "%s, %d rank(s), overlap, buckets of %g MiB: %d bucket(s), %s, bits %s the sum without overlap "
            "(max diff %.2e)\n",
            stage, d->size, bucket_mb, sent, order_ok ? "hook in order" : "hook: WRONG ORDER",
            same ? "equal" : "DIFFER FROM", max_diff(m->grads + off, after, count));
    CHECK(order_ok);
    CHECK(same);
    CHECK(d->size == 1 ? sent == 0 : sent > 1);
}

/* bf16 on the wire: every rank the same bits, close to the fp32 sum. */
static void check_bf16(fer_model *m, const fer_dist *d, const shard *s, const float *after, const char *stage)
{
    fer_distribution_cfg cfg = {.overlap = FER_OVERLAP_ON, .allreduce_dtype = FER_WIRE_BF16};
    int order_ok, sent = summed(m, d, s, &cfg, &order_ok);
    size_t off = m->trainable_offset, count = m->n_params - off;
    const float *g = m->grads + off;
    double scale = max_abs(after, count), diff = max_diff(g, after, count);
    /* Rank 0's bits against every rank's. */
    float *root = malloc(count * sizeof *root);
    int differ = 1;
    if (root) {
        memcpy(root, g, count * sizeof *root);
        fer_dist_bcast(d, root, count * sizeof *root, 0);
        differ = memcmp(root, g, count * sizeof *root) != 0;
        MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_INT, MPI_LOR, d->comm);
    }
    free(root);
    if (d->rank == 0)
        printf("%s, %d rank(s), bf16 on the wire: %d bucket(s), every rank %s, max |bf16 - fp32| %.2e of max "
               "|g| %.2e (tol 1e-2 relative)\n",
               stage, d->size, sent, differ ? "DIFFERENT" : "the same bits", diff, scale);
    CHECK(sent >= 0 && order_ok && !differ);
    CHECK(diff <= 1e-2 * scale);
}

static void run_stage(fer_model *m, const fer_dist *d, const shard *s, int first_trainable, const char *stage)
{
    fer_model_set_trainable(m, first_trainable);
    size_t count = m->n_params - m->trainable_offset;
    float *mpi = malloc(count * sizeof *mpi), *after = malloc(count * sizeof *after);
    if (mpi && after) {
        reference(m, d, s, mpi);
        check_after(m, d, s, mpi, after, stage);
        check_overlap(m, d, s, after, 0, stage);
        check_overlap(m, d, s, after, 0.0001, stage);
        check_overlap(m, d, s, after, 0.004, stage);
        check_bf16(m, d, s, after, stage);
    } else {
        CHECK(0);
    }
    free(mpi);
    free(after);
}

static int setup(fer_model *m, shard *s, const fer_dist *d, fer_err *err)
{
    if (source_model(m, "configs/tiny.yaml", 1, err))
        return FER_ERROR;
    if (fer_model_reserve(m, SHARD, err)) {
        fer_model_free(m);
        return FER_ERROR;
    }
    size_t floats = SHARD * fer_model_input_size(m);
    s->x = malloc(floats * sizeof *s->x);
    if (!s->x)
        return fer_fail(err, "out of memory");
    srand(100u + (unsigned)d->rank);
    for (size_t i = 0; i < floats; i++)
        s->x[i] = (float)(rand() % 256) - 128.0f;
    for (int i = 0; i < SHARD; i++) {
        s->labels[i] = rand() % m->cfg.classes;
        s->ids[i] = (int64_t)d->rank * SHARD + i;
    }
    return FER_OK;
}

int main(int argc, char **argv)
{
    fer_dist d;
    fer_err err;
    if (check_mpi_init(&d, &argc, &argv))
        return 1;
    fer_model m;
    shard s = {0};
    if (setup(&m, &s, &d, &err)) {
        printf("rank %d: %s\n", d.rank, err.msg);
        CHECK(0);
    } else {
        run_stage(&m, &d, &s, 0, "every layer trainable");
        int head = fer_model_find(&m, "batch_normalization_1");
        CHECK(head > 0);
        if (head > 0)
            run_stage(&m, &d, &s, head, "head only");
        fer_model_free(&m);
    }
    free(s.x);
    return check_report_mpi(&d, "test_grad_buckets");
}
