/* The bucketed gradient allreduce (fer_grad_buckets, the fer_pass.grad_ready
   hook) against the single allreduce of the trainable suffix, on
   configs/tiny.yaml's network with a different random shard per rank.

   For every layer trainable, then for a frozen VGG prefix (the head stage):
   backward calls the hook once per trainable layer, output layer first; with
   buckets of 0.0001 MiB (one per layer with parameters) and 0.004 MiB (a
   few layers each), the summed gradient equals the single allreduce's within
   1e-6 of its largest magnitude (float summation order may differ with 3 or
   more ranks), and more than one bucket was really sent. On one rank the
   buckets send nothing and change nothing.
   tests/test_mpi_buckets.sh runs it under mpirun -np 2 and 3. */
#include "check_mpi.h"
#include "fer/dist.h"
#include "fer/grad_buckets.h"

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

/* The single allreduce: what the trainer does without buckets. */
static void reference(fer_model *m, const fer_dist *d, const shard *s, float *out)
{
    fer_pass pass = make_pass(d, s);
    local_backward(m, d, s, &pass);
    size_t off = m->trainable_offset;
    fer_dist_sum_floats(d, m->grads + off, m->n_params - off);
    memcpy(out, m->grads + off, (m->n_params - off) * sizeof *out);
}

static void compare(fer_model *m, const fer_dist *d, const shard *s, const float *ref, double bucket_mb,
                    const char *stage)
{
    fer_grad_buckets gb;
    hook_log log = {.buckets = &gb};
    fer_pass pass = make_pass(d, s);
    pass.grad_ready = logging_hook;
    pass.grad_ctx = &log;
    fer_grad_buckets_begin(&gb, d, m, bucket_mb);
    local_backward(m, d, s, &pass);
    fer_grad_buckets_finish(&gb);
    size_t off = m->trainable_offset, count = m->n_params - off;
    double scale = 0, diff = 0;
    for (size_t i = 0; i < count; i++) {
        scale = fmax(scale, fabs(ref[i]));
        diff = fmax(diff, fabs((double)m->grads[off + i] - ref[i]));
    }
    int order_ok = log.calls == m->n_layers - m->first_trainable;
    for (int k = 0; order_ok && k < log.calls; k++)
        order_ok = log.order[k] == m->n_layers - 1 - k;
    if (d->rank == 0)
        printf(
            "%s, %d rank(s), buckets of %g MiB: %d bucket(s) over %zu floats, hook called for layers %d..%d "
            "(%s), max |bucketed - single| %.2e of max |g| %.2e (tol 1e-6 relative)\n",
            stage, d->size, bucket_mb, gb.buckets, count, m->n_layers - 1, m->first_trainable,
            order_ok ? "output first, each once" : "WRONG ORDER", diff, scale);
    CHECK(order_ok);
    CHECK(scale > 0 && diff <= 1e-6 * scale);
    CHECK(d->size == 1 ? gb.buckets == 0 : gb.buckets > 1);
}

static void run_stage(fer_model *m, const fer_dist *d, const shard *s, int first_trainable, const char *stage)
{
    fer_model_set_trainable(m, first_trainable);
    float *ref = malloc((m->n_params - m->trainable_offset) * sizeof *ref);
    if (!ref) {
        CHECK(0);
        return;
    }
    reference(m, d, s, ref);
    compare(m, d, s, ref, 0.0001, stage);
    compare(m, d, s, ref, 0.004, stage);
    free(ref);
}

static int setup(fer_model *m, shard *s, const fer_dist *d, fer_err *err)
{
    const char *root = getenv("FER_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/tiny.yaml", root ? root : ".");
    fer_config *c = malloc(sizeof *c);
    if (!c)
        return fer_fail(err, "out of memory");
    int rc = fer_config_load(c, path, err);
    if (rc == FER_OK)
        rc = fer_model_init(m, &c->model, 1, err);
    free(c);
    if (rc || fer_model_reserve(m, SHARD, err))
        return FER_ERROR;
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

/* See tests/test_shared_images.c: Open MPI under LeakSanitizer. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

int main(int argc, char **argv)
{
    fer_dist d;
    fer_err err;
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 0);
    if (fer_dist_init(&d, &argc, &argv, &err)) {
        printf("%s\n", err.msg);
        return 1;
    }
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
