/* The model's loss against soft targets (label smoothing, mixup): the
   training step's counterpart of fer_model_loss in model_pass.c. */
#include "fer/model.h"
#include "fer/nn.h"
#include "model_batch.h"

static int argmax_hits(const float *logits, const int *labels, int n, int k)
{
    int hits = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            if (logits[(size_t)i * k + j] > logits[(size_t)i * k + best])
                best = j;
        hits += best == labels[i];
    }
    return hits;
}

double fer_model_loss_soft(fer_model *m, const float *targets, const int *labels, const float *sample_weight,
                           int n, long global_n, int *correct)
{
    fer_model_batch *b = m->batch;
    int k = m->cfg.classes;
    const float *logits = b->act[m->n_layers - 1];
    double scale = global_n > 0 ? 1.0 / (double)global_n : 0.0;
    double loss =
        n > 0 ? fer_softmax_xent_soft(b->dlogits, NULL, logits, targets, sample_weight, n, k, scale) : 0.0;
    b->have_loss_grad = 1;
    if (correct)
        *correct = argmax_hits(logits, labels, n, k);
    return loss;
}
