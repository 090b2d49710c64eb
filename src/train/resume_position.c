/* Converting a saved in-epoch position to the batch size of the resumed
   run: a position past the new epoch's end would otherwise leave the loader
   with nothing to yield, and the epoch would never end. */
#include "resume_position.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether the two runs draw the epoch from the same training samples (and
   so in the same order). */
static int same_training_set(const fer_data_cfg *a, const fer_data_cfg *b)
{
    return !strcmp(a->path, b->path) && !strcmp(a->train_usage, b->train_usage) &&
           a->limit_train == b->limit_train && a->synthetic_train == b->synthetic_train;
}

long fer_resume_step(long saved_step, const char *stored_yaml, const fer_config *now, long train_n,
                     long steps_per_epoch, char *note, size_t note_cap)
{
    note[0] = '\0';
    if (saved_step <= 0)
        return 0;
    long old_batch = now->data.batch_size;
    int same_set = 1;
    fer_config *old = stored_yaml ? malloc(sizeof *old) : NULL;
    fer_err ignored;
    if (old && fer_config_load_string(old, stored_yaml, "checkpoint", &ignored) == FER_OK) {
        old_batch = old->data.batch_size;
        same_set = same_training_set(&old->data, &now->data);
    }
    free(old);
    /* In double: the saved step and the old batch size are each bounded,
       their product is not. */
    double done = (double)saved_step * (double)old_batch;
    long step = done >= (double)train_n ? steps_per_epoch : (long)(done / now->data.batch_size);
    if (step > steps_per_epoch)
        step = steps_per_epoch;
    if (step == saved_step && same_set)
        return step;
    int n = snprintf(note, note_cap, "the checkpoint stopped after %ld steps of %ld samples", saved_step,
                     old_batch);
    if (n >= 0 && (size_t)n < note_cap && !same_set)
        n += snprintf(note + n, note_cap - (size_t)n,
                      "; the training set changed (data.path, data.train_usage, data.limit_train or "
                      "data.synthetic_train), so the rest of the epoch follows the new set's order");
    if (n < 0 || (size_t)n >= note_cap)
        return step;
    if (step == steps_per_epoch)
        snprintf(note + n, note_cap - (size_t)n,
                 ", which covers the epoch of %ld samples: the epoch is complete as it stands", train_n);
    else
        snprintf(note + n, note_cap - (size_t)n, ": continuing at step %ld of %ld (batch %d)", step,
                 steps_per_epoch, now->data.batch_size);
    return step;
}
