/* Test-time augmentation over an image set: each view is one full
   evaluation whose probabilities (gathered on every rank) are summed, so the
   average, and what is scored from it, is the same on every rank count.
   Also the scoring of averaged probabilities that ensembles use. */
#include "fer/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void fer_evaluate_score(fer_eval_result *r, const float *probs, const uint8_t *labels, long n, int k)
{
    double loss = 0;
    long hits = 0;
    memset(r, 0, sizeof *r);
    for (long i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (p[j] > p[best])
                best = j;
        r->confusion[labels[i] * k + best]++;
        hits += best == labels[i];
        /* The average of probabilities has no logits: the loss is taken from
           it directly, kept finite where a view rounded it to 0. */
        loss -= log(fmax((double)p[labels[i]], 1e-30));
    }
    r->n = n;
    r->loss = n ? loss / (double)n : 0;
    r->accuracy = n ? (double)hits / (double)n : 0;
}

int fer_evaluate_views(fer_model *m, const fer_dist *d, const fer_image_set *s, int batch_size, int caffe,
                       const fer_view *views, int n_views, fer_eval_result *r, float *probs_out, fer_err *err)
{
    if (n_views == 1)
        return fer_evaluate_view(m, d, s, batch_size, caffe, views, r, probs_out, err);
    int k = m->cfg.classes;
    size_t cells = (size_t)s->n * k;
    float *one = malloc((cells + 1) * sizeof *one), *mean = malloc((cells + 1) * sizeof *mean);
    double *sum = calloc(cells + 1, sizeof *sum);
    int failed = one && mean && sum ? FER_OK : fer_fail(err, "evaluate: out of memory for %d views", n_views);
    /* Agreed before the views' reductions, which a rank that failed here
       would leave the others waiting in. */
    int rc = fer_dist_any_failed(d, failed, err) ? FER_ERROR : FER_OK;
    for (int v = 0; !rc && v < n_views; v++) {
        rc = fer_evaluate_view(m, d, s, batch_size, caffe, &views[v], r, one, err);
        for (size_t i = 0; !rc && i < cells; i++)
            sum[i] += one[i];
    }
    if (!rc) {
        for (size_t i = 0; i < cells; i++)
            mean[i] = (float)(sum[i] / n_views);
        fer_evaluate_score(r, mean, s->labels, s->n, k);
        if (probs_out)
            memcpy(probs_out, mean, cells * sizeof *mean);
    }
    free(one);
    free(mean);
    free(sum);
    return rc;
}
