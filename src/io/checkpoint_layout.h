/* The parts of the checkpoint layout (fer/checkpoint.h) below the weights:
   the format marker, the training state as attributes of /state and the
   metrics history as the compound table /metrics/epochs. Shared by the
   checkpoint writer and reader. */
#ifndef FER_IO_CHECKPOINT_LAYOUT_H
#define FER_IO_CHECKPOINT_LAYOUT_H

#include "fer/checkpoint.h"

#include <hdf5.h>

/* Root attributes that tell a checkpoint from any other Keras file. */
#define FER_CKPT_FORMAT "fer-checkpoint"
#define FER_CKPT_VERSION 1

int fer_ckpt_write_state(hid_t group, const fer_train_state *s, fer_err *err);
/* Reads every attribute and checks that each value is possible
   (non-negative counters, finite learning rate, ...). */
int fer_ckpt_read_state(hid_t group, fer_train_state *s, fer_err *err);

/* /metrics/epochs: one row per fer_epoch_metrics, fields named as in C. */
int fer_ckpt_write_history(hid_t group, const fer_history *h, fer_err *err);
/* Appends the rows to h (which the caller owns and frees). */
int fer_ckpt_read_history(hid_t group, fer_history *h, fer_err *err);

#endif
