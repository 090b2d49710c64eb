/* The training step's loss under label smoothing and mixup
   (train.label_smoothing, train.mixup_alpha): soft targets from the batch's
   labels and mixup draws, the loss actually optimized, and training
   accuracy counted against each row's dominant label (its own when its
   weight lambda >= 0.5, else its partner's). */
#ifndef FER_TRAIN_SOFT_LOSS_H
#define FER_TRAIN_SOFT_LOSS_H

#include "fer/config.h"
#include "fer/error.h"
#include "fer/loader.h"
#include "fer/model.h"

typedef struct {
    int on; /* label smoothing or mixup configured: else the one-hot loss runs */
    double smoothing;
    int classes;
    float *targets; /* shard x classes */
    int *dominant;  /* shard */
    float *weights; /* shard: mixed class weights */
} fer_soft_loss;

/* Buffers for shards of up to shard_max rows when tc turns either on. */
int fer_soft_loss_init(fer_soft_loss *s, const fer_train_cfg *tc, int classes, int shard_max, fer_err *err);
void fer_soft_loss_free(fer_soft_loss *s);

/* fer_model_loss for batch b after its forward pass. class_weights (NULL:
   none) weigh a mixed row by lambda * w(own label) + (1 - lambda) *
   w(partner's label). */
double fer_soft_loss_step(fer_soft_loss *s, fer_model *m, const fer_batch *b, const float *class_weights,
                          int *correct);

#endif
