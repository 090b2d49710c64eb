#include "fer/evaluate.h"

#include <stdlib.h>
#include <string.h>

static void tally(fer_eval_result *r, const float *probs, const int *labels, int n, int k)
{
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            if (probs[(size_t)i * k + j] > probs[(size_t)i * k + best])
                best = j;
        r->confusion[labels[i] * k + best]++;
    }
}

/* The confusion matrix is fixed-size and indexed by label: a class count or
   a label it cannot hold is refused before anything is written. */
static int check_classes(const fer_image_set *s, int k, fer_err *err)
{
    if (k < 1 || k > FER_MAX_CLASSES)
        return fer_fail(err, "evaluate: the model has %d classes, fer supports 1 to %d", k, FER_MAX_CLASSES);
    for (int i = 0; i < s->n; i++)
        if (s->labels[i] >= k)
            return fer_fail(err, "evaluate: sample %d has label %d, outside the model's %d classes (0..%d)",
                            i, s->labels[i], k, k - 1);
    return FER_OK;
}

int fer_evaluate(fer_model *m, const fer_dist *d, const fer_image_set *s, int batch_size, int caffe,
                 fer_eval_result *r, float *probs_out, fer_err *err)
{
    fer_view whole = {0, 0, 0, 0};
    return fer_evaluate_view(m, d, s, batch_size, caffe, &whole, r, probs_out, err);
}

int fer_evaluate_view(fer_model *m, const fer_dist *d, const fer_image_set *s, int batch_size, int caffe,
                      const fer_view *view, fer_eval_result *r, float *probs_out, fer_err *err)
{
    memset(r, 0, sizeof *r);
    int k = m->cfg.classes;
    if (check_classes(s, k, err))
        return FER_ERROR;
    /* A batch never holds more than the whole set: a huge --batch costs no
       more memory than the set itself. */
    if (s->n > 0 && batch_size > s->n)
        batch_size = s->n;
    fer_loader_opts o = {.images = s,
                         .batch_size = batch_size,
                         .rank = d->rank,
                         .nranks = d->size,
                         .channels = m->cfg.channels,
                         .caffe = caffe,
                         .shuffle = 0,
                         .augment = 0,
                         .prefetch = 1,
                         .view = *view};
    /* Everything this rank may fail to get comes first, and the ranks agree
       on it before the reductions below: one rank out of memory must not
       leave the others waiting there. */
    int cells = k * k;
    fer_loader *loader = NULL;
    float *probs = NULL;
    double *sums = NULL;
    int failed = fer_loader_create(&loader, &o, err) != FER_OK;
    if (!failed) {
        probs = malloc((size_t)batch_size * k * sizeof(float));
        sums = calloc((size_t)cells + 1, sizeof(double));
        failed = !probs || !sums ? fer_fail(err, "evaluate: out of memory")
                                 : fer_model_reserve(m, batch_size, err);
    }
    if (fer_dist_any_failed(d, failed, err)) {
        free(probs);
        free(sums);
        fer_loader_free(loader);
        return FER_ERROR;
    }
    if (probs_out)
        memset(probs_out, 0, (size_t)s->n * k * sizeof(float));
    fer_pass pass = {.training = 0, .reducer = fer_dist_reducer(d), .skip_unread_outputs = 1};
    double loss = 0;
    long first_row = 0;
    fer_loader_start_epoch(loader, 0, 0);
    for (const fer_batch *b; (b = fer_loader_next(loader)) != NULL;) {
        if (b->n > 0) {
            fer_model_forward(m, b->x, b->n, &pass);
            loss += fer_model_loss(m, b->labels, NULL, b->n, b->global_n, NULL, probs);
            tally(r, probs, b->labels, b->n, k);
            if (probs_out) {
                int begin, end;
                fer_shard_range(b->global_n, d->rank, d->size, &begin, &end);
                memcpy(probs_out + (size_t)(first_row + begin) * k, probs, (size_t)b->n * k * sizeof(float));
            }
        }
        first_row += b->global_n;
    }
    free(probs);
    fer_loader_free(loader);
    /* One reduction for the loss and the confusion counts (exact in double). */
    sums[0] = loss;
    for (int i = 0; i < cells; i++)
        sums[i + 1] = (double)r->confusion[i];
    fer_dist_sum_doubles(d, sums, cells + 1);
    long hits = 0;
    double total_loss = sums[0];
    for (int i = 0; i < cells; i++)
        r->confusion[i] = (long)sums[i + 1];
    for (int i = 0; i < k; i++)
        hits += r->confusion[i * k + i];
    free(sums);
    if (probs_out)
        fer_dist_sum_floats(d, probs_out, (size_t)s->n * k);
    r->n = s->n;
    r->loss = s->n ? total_loss / (double)s->n : 0;
    r->accuracy = s->n ? (double)hits / (double)s->n : 0;
    return FER_OK;
}
