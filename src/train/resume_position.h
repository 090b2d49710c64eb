/* Where a resumed run continues within the interrupted epoch. */
#ifndef FER_RESUME_POSITION_H
#define FER_RESUME_POSITION_H

#include "fer/config.h"

#include <stddef.h>

/* The checkpoint's step_in_epoch counts batches of the interrupted run's
   data.batch_size (read from stored_yaml, the checkpoint's configuration;
   NULL or unreadable: assumed unchanged). Returns the step of the resumed
   run, 0..steps_per_epoch, that has done at most the samples the
   interrupted run did: steps_per_epoch when those samples cover the whole
   training set (the epoch is complete as it stands). When the position or
   the training set changed, note gets one line for the log, else "". */
long fer_resume_step(long saved_step, const char *stored_yaml, const fer_config *now, long train_n,
                     long steps_per_epoch, char *note, size_t note_cap);

#endif
