/* The model's loss over the last forward pass, against hard labels
   (evaluation, plain training) or soft targets (label smoothing, mixup). It
   leaves the logits' gradient for backward and counts the argmax hits. */
#include "fer/model.h"
#include "fer/nn.h"
#include "model_batch.h"

/* targets NULL: hard labels. */
static double model_loss(fer_model *m, const float *targets, const int *labels, const float *sample_weight,
                         int n, long global_n, int *correct, float *probs)
{
    fer_model_batch *b = m->batch;
    int k = m->cfg.classes;
    const float *logits = b->act[m->n_layers - 1];
    double scale = global_n > 0 ? 1.0 / (double)global_n : 0.0;
    double loss = 0.0;
    if (n > 0 && targets)
        loss = fer_softmax_xent_soft(b->dlogits, probs, logits, targets, sample_weight, n, k, scale);
    else if (n > 0)
        loss = fer_softmax_xent(b->dlogits, probs, logits, labels, sample_weight, n, k, scale);
    b->have_loss_grad = 1;
    if (correct)
        *correct = fer_batch_argmax_hits(logits, labels, n, k);
    return loss;
}

double fer_model_loss(fer_model *m, const int *labels, const float *sample_weight, int n, long global_n,
                      int *correct, float *probs)
{
    return model_loss(m, NULL, labels, sample_weight, n, global_n, correct, probs);
}

double fer_model_loss_soft(fer_model *m, const float *targets, const int *labels, const float *sample_weight,
                           int n, long global_n, int *correct)
{
    return model_loss(m, targets, labels, sample_weight, n, global_n, correct, NULL);
}
