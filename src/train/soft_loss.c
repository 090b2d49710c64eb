/* Soft targets and dominant labels of a training batch, and its loss. */
#include "soft_loss.h"

#include "fer/nn.h"

#include <stdlib.h>

int fer_soft_loss_init(fer_soft_loss *s, const fer_train_cfg *tc, int classes, int shard_max, fer_err *err)
{
    *s = (fer_soft_loss){.on = tc->label_smoothing > 0 || tc->mixup_alpha > 0,
                         .smoothing = tc->label_smoothing,
                         .classes = classes};
    if (!s->on)
        return FER_OK;
    size_t rows = shard_max > 0 ? (size_t)shard_max : 1;
    s->targets = malloc(rows * classes * sizeof *s->targets);
    s->dominant = malloc(rows * sizeof *s->dominant);
    s->weights = malloc(rows * sizeof *s->weights);
    if (!s->targets || !s->dominant || !s->weights)
        return fer_fail(err, "out of memory for the soft targets of %zu samples", rows);
    return FER_OK;
}

void fer_soft_loss_free(fer_soft_loss *s)
{
    free(s->targets);
    free(s->dominant);
    free(s->weights);
    *s = (fer_soft_loss){0};
}

double fer_soft_loss_step(fer_soft_loss *s, fer_model *m, const fer_batch *b, const float *class_weights,
                          int *correct)
{
    fer_soft_targets(s->targets, b->labels, b->mix_labels, b->mix_lambda, b->n, s->classes, s->smoothing);
    for (int i = 0; i < b->n; i++) {
        float lambda = b->mix_lambda[i];
        s->dominant[i] = lambda >= 0.5f ? b->labels[i] : b->mix_labels[i];
        if (class_weights)
            s->weights[i] =
                lambda * class_weights[b->labels[i]] + (1.0f - lambda) * class_weights[b->mix_labels[i]];
    }
    return fer_model_loss_soft(m, s->targets, s->dominant, class_weights ? s->weights : NULL, b->n,
                               b->global_n, correct);
}
