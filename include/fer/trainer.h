/* fer train: the whole training run of one rank. Every rank calls
   fer_train(); rank 0 alone writes checkpoints, metrics and progress. */
#ifndef FER_TRAINER_H
#define FER_TRAINER_H

#include "fer/config.h"
#include "fer/dist.h"
#include "fer/error.h"

typedef struct {
    const fer_config *config;
    const fer_dist *dist;
    const char *resume; /* NULL or "": fresh; "auto": newest valid checkpoint in run_dir if any; or a path */
    int fresh_if_unreadable; /* "auto" with checkpoints none of which is readable: start fresh (else refuse)
                              */
    const char *weights;     /* overrides model.weights (NULL: keep) */
    long stop_after_steps;   /* > 0: stop as on a signal once global_step reaches it (preemption drills) */
    const char *blas_info;   /* line for the log (may be NULL) */
} fer_train_opts;

typedef enum { FER_TRAIN_FINISHED = 0, FER_TRAIN_STOPPED = 1 } fer_train_outcome;

typedef struct {
    fer_train_outcome outcome;
    int epochs_done;
    double best_val_acc;
    double last_val_acc;
    char checkpoint[FER_FILE_PATH_LEN]; /* the last checkpoint written */
} fer_train_result;

int fer_train(const fer_train_opts *o, fer_train_result *r, fer_err *err);

#endif
