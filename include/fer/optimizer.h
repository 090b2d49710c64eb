/* Optimizers over flat buffers, and the learning-rate schedule of a phase. */
#ifndef FER_OPTIMIZER_H
#define FER_OPTIMIZER_H

#include "fer/config.h"

#include <stddef.h>

/* Learning rate of update `iteration` (0-based, counted within the phase, as
   Keras counts after the seed recompiles its optimizer at the unfreeze):
   Keras time-based decay lr0 / (1 + decay * iteration), times a linear
   warm-up factor (iteration + 1) / warmup_steps while iteration < warmup_steps. */
double fer_lr_at(const fer_optimizer_cfg *o, long iteration, long warmup_steps);

/* An optimizer's per-parameter state, one float per parameter in each
   buffer: Adam's first and second moments m and v; SGD keeps its velocity
   (momentum buffer) in m and leaves v alone (NULL where unallocated).
   Checkpoints store m as /optimizer/slot0 and v as /optimizer/slot1. */
typedef struct {
    float *m, *v;
} fer_optimizer_state;

/* Does the optimizer keep a second buffer (Adam's v)? */
int fer_optimizer_slots(const fer_optimizer_cfg *o);

/* One update of count parameters with learning rate lr, following Keras 2.2:
   SGD:  v = momentum * v - lr * g;  p += nesterov ? momentum * v - lr * g : v
   Adam: t = iteration + 1; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
         p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
   weight_decay adds weight_decay * p to g first (L2 regularization). s
   points at the state of these count parameters. */
void fer_optimizer_step(const fer_optimizer_cfg *o, float *params, const float *grads,
                        const fer_optimizer_state *s, size_t count, double lr, long iteration);

/* The phase that epoch (0-based) falls in, and the phase's first epoch. */
int fer_schedule_phase(const fer_config *c, int epoch, int *phase_first_epoch);
/* Sum of the phases' epochs. */
int fer_schedule_total_epochs(const fer_config *c);

#endif
