/* An exponential moving average of the weights (train.ema): after every
   optimizer step, e = d e + (1 - d) w for every trainable weight and every
   BatchNorm moving statistic (as timm's ModelEmaV2 averages a model's whole
   state, buffers included). */
#ifndef FER_EMA_H
#define FER_EMA_H

#include "fer/config.h"

#include <stddef.h>

/* The decay of the EMA update that follows `updates` earlier ones:
   c->ema, or with c->ema_warmup min(c->ema, (1 + updates) / (10 + updates))
   (TensorFlow's ExponentialMovingAverage with num_updates), so that the
   average forgets the initialization quickly at first. */
double fer_ema_decay(const fer_train_cfg *c, long updates);

/* ema[i] = d ema[i] + (1 - d) w[i] for n floats, in float with d and 1 - d
   rounded from double once. */
void fer_ema_update(float *ema, const float *w, size_t n, double decay);

#endif
