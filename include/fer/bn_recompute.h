/* BatchNorm statistics recomputed with the final weights of an epoch. A
   training run updates the moving statistics as running averages over the
   steps (Keras's momentum 0.99 weighs the last ~100 steps): while the
   weights still change fast, they describe weights of many steps ago, and
   inference with them can score far below the current weights (the quick
   start's validation accuracy swung between 17% and 92% from epoch to
   epoch while training accuracy rose smoothly). Recomputing them as the
   average over a few batches with the current weights, as PreciseBN does,
   removes the lag. */
#ifndef FER_BN_RECOMPUTE_H
#define FER_BN_RECOMPUTE_H

#include "fer/loader.h"
#include "fer/model.h"

/* Sets every BatchNorm layer's moving mean and variance to the average of
   the batch statistics of the first `batches` global batches of loader
   epoch `epoch` (training-mode forwards, dropout off, no weight change;
   batch statistics over the global batch through `base`'s reducer, so the
   result does not depend on the rank count). Every rank calls it with the
   same arguments. Leaves the loader between epochs. */
void fer_bn_recompute(fer_model *m, fer_loader *loader, int epoch, int batches, const fer_pass *base);

#endif
