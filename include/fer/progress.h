/* Rank 0's progress output: on a terminal a Keras-style live bar per epoch
   (ETA, loss, accuracy, images/s); otherwise (Slurm logs, pipes) one plain
   line every N steps and one per epoch. */
#ifndef FER_PROGRESS_H
#define FER_PROGRESS_H

#include "fer/config.h"

#include <stdio.h>

typedef struct {
    FILE *out;
    int bar;           /* 1: live bar, 0: plain lines */
    int quiet;         /* progress none */
    int every;         /* plain: a line every N steps */
    int epoch, epochs; /* 1-based for display */
    long batches;
    double epoch_start; /* seconds */
} fer_progress;

void fer_progress_init(fer_progress *p, FILE *out, const fer_logging_cfg *cfg);
void fer_progress_epoch_begin(fer_progress *p, int epoch, int epochs, long batches, const char *phase,
                              double lr);
/* After batch `done` (1-based count within the epoch) of the epoch. */
void fer_progress_step(fer_progress *p, long done, double loss, double acc, double images_per_s, double lr);
void fer_progress_epoch_end(fer_progress *p, double train_loss, double train_acc, double val_loss,
                            double val_acc, double seconds, double images_per_s);

/* Monotonic seconds. */
double fer_now(void);

#endif
