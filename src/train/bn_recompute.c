/* BatchNorm statistics recomputed with an epoch's final weights
   (include/fer/bn_recompute.h). A training-mode forward already updates
   each normalization's moving statistics as m <- momentum * m + (1 -
   momentum) * batch; with momentum k / (k + 1) at the k-th batch (0 at the
   first), that update is the plain running average of the batches' values. */
#include "fer/bn_recompute.h"

#include "fer/layer_kind.h"

void fer_bn_recompute(fer_model *m, fer_loader *loader, int epoch, int batches, const fer_pass *base)
{
    double momentum[FER_MAX_LAYERS];
    for (int l = 0; l < m->n_layers; l++)
        momentum[l] = m->layers[l].cfg.momentum;
    fer_pass p = *base;
    p.training = 1;
    p.dropout = 0;
    p.layer_seconds = NULL;
    p.grad_ready = NULL;
    p.skip_unread_outputs = 1;
    fer_loader_start_epoch(loader, epoch, 0);
    const fer_batch *b;
    for (int k = 0; k < batches && (b = fer_loader_next(loader)) != NULL; k++) {
        for (int l = 0; l < m->n_layers; l++)
            if (m->layers[l].cfg.type == FER_LAYER_BATCHNORM)
                m->layers[l].cfg.momentum = (double)k / (double)(k + 1);
        p.sample_ids = b->ids;
        fer_model_forward(m, b->x, b->n, &p);
    }
    for (int l = 0; l < m->n_layers; l++)
        m->layers[l].cfg.momentum = momentum[l];
}
