/* The model's loss against soft targets (label smoothing, mixup): the
   training step's counterpart of fer_model_loss in model_pass.c. */
#include "fer/model.h"
#include "fer/nn.h"
#include "model_batch.h"

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
        *correct = fer_batch_argmax_hits(logits, labels, n, k);
    return loss;
}
