/* Rank 0's metrics files in the run directory: steps.csv (appended, one row
   per step) and epochs.csv (rewritten from the history after every epoch, so
   a resumed run never duplicates an epoch). */
#ifndef FER_METRICS_LOG_H
#define FER_METRICS_LOG_H

#include "fer/checkpoint.h"
#include "fer/error.h"

#include <stdio.h>

/* Opens run_dir/steps.csv for appending (header when new). Rows after
   global step `resumed_step` (written by a run that died after its last
   checkpoint) are dropped first, so a resumed run does not repeat them. */
int fer_steps_open(FILE **f, const char *run_dir, long resumed_step, fer_err *err);
void fer_steps_append(FILE *f, int epoch, long step, long global_step, int phase, double loss, double acc,
                      double lr, double images_per_s);
/* Writes run_dir/epochs.csv atomically from the history. */
int fer_epochs_write(const char *run_dir, const fer_history *h, fer_err *err);

#endif
