/* Training checkpoints: one HDF5 file per checkpoint, written by rank 0 to a
   temporary name, fsync'd and renamed, so a crash never leaves a half-written
   file under a real name.

   Layout:
     /model_weights     Keras save_weights layout (h5py and Keras read it)
     /optimizer/slot0   float32 (n_params) first optimizer buffer (momentum / Adam m)
     /optimizer/slot1   float32 (n_params) second buffer (Adam v), absent for SGD
     /training_weights  with train.ema only: the weights training continues from
                        (Keras layout); /model_weights then holds their EMA,
                        the weights to evaluate, predict and export with
     /state             attributes of fer_train_state (epoch, step_in_epoch, ...)
     /metrics/epochs    compound table of fer_epoch_metrics rows
     /config            attribute yaml: the resolved configuration
     /                  attributes fer_format "fer-checkpoint", fer_format_version 1
   Every dataset carries a Fletcher-32 checksum (one chunk per tensor), so a
   corrupted checkpoint fails to load instead of loading wrong values; a slot
   the caller asks for but the file lacks (an SGD checkpoint resumed by Adam)
   is zero-filled.
   The run directory holds ckpt-EEEE-SSSSSS.h5 files, best.h5 (a copy of the
   best by validation accuracy) and `latest` (a text file naming the newest). */
#ifndef FER_CHECKPOINT_H
#define FER_CHECKPOINT_H

#include "fer/error.h"
#include "fer/lr_schedule.h"
#include "fer/model.h"

#include <stdint.h>

typedef struct {
    int epoch;             /* completed epochs (the next epoch to run) */
    long step_in_epoch;    /* batches already done in epoch `epoch` (0 at a boundary) */
    long global_step;      /* optimizer updates since the start of the run */
    int phase;             /* index into the schedule */
    long phase_iterations; /* updates within the phase (Keras decay counts these) */
    double lr;             /* learning rate of the last update */
    uint64_t seed;
    double best_val_acc; /* -1 when none yet */
    int best_epoch;
    /* Running sums of the epoch in progress (a checkpoint taken mid-epoch
       resumes them, so the epoch's reported train loss covers every step). */
    double epoch_loss_sum;
    double epoch_correct;
    double epoch_seen;
    double epoch_seconds;
    /* Added after the first release: a checkpoint without them loads with
       a fresh plateau and no EMA updates counted. */
    fer_plateau_state plateau; /* the current phase's plateau schedule */
    long ema_updates;          /* EMA updates so far (train.ema_warmup counts them) */
} fer_train_state;

typedef struct {
    int epoch, phase;
    double lr, train_loss, train_acc, val_loss, val_acc, seconds;
} fer_epoch_metrics;

typedef struct {
    int n, cap;
    fer_epoch_metrics *rows; /* owned */
} fer_history;

int fer_history_append(fer_history *h, const fer_epoch_metrics *row);
void fer_history_free(fer_history *h);

typedef struct {
    const fer_model *model;
    /* The datasets /optimizer/slot0 and slot1, named as they are stored:
       fer_optimizer_state's m and v, n_params each; slot1 may be NULL. */
    const float *slot0, *slot1;
    const fer_train_state *state;
    const fer_history *history;
    const char *config_yaml;
    /* With train.ema: the average (n_params and n_stats floats), written as
       /model_weights, while the model's own weights go to /training_weights.
       NULL without. */
    const float *ema_params, *ema_stats;
} fer_checkpoint_out;

/* Atomic write (tmp + fsync + rename + fsync of the directory). */
int fer_checkpoint_save(const char *path, const fer_checkpoint_out *c, fer_err *err);

/* Loads into an initialized model of the same architecture (shapes checked,
   errors name layer and both shapes), the optimizer slots (n_params floats
   each: fer_optimizer_state's m into slot0, v into slot1, which may be
   NULL), the state and the history. config_yaml (may be NULL) gets a
   malloc'd copy of the stored config. Any truncation or corruption is an
   error naming the file. */
int fer_checkpoint_load(const char *path, fer_model *m, float *slot0, float *slot1, fer_train_state *state,
                        fer_history *history, char **config_yaml, fer_err *err);

/* The weights training continues from: loads /training_weights into m and
   sets *present when the file has them (written with train.ema), else
   leaves m alone and clears *present (then /model_weights, which
   fer_checkpoint_load reads, are those weights). */
int fer_checkpoint_load_training_weights(const char *path, fer_model *m, int *present, fer_err *err);

/* Reads only the stored configuration (/config attribute yaml) into a
   malloc'd string, so a model of the right shape can be built first. */
int fer_checkpoint_read_config(const char *path, char **config_yaml, fer_err *err);

/* Quick validity check without a model: opens, reads /state. */
int fer_checkpoint_probe(const char *path, fer_train_state *state, fer_err *err);
/* Full validity check without a model: the probe, then every dataset is
   read whole so that its checksum is verified (catches corruption that
   opening the file does not). state may be NULL. */
int fer_checkpoint_verify(const char *path, fer_train_state *state, fer_err *err);

/* Run directory management. */
/* Removes temporary files a killed writer left in run_dir (names of the
   form <checkpoint>.h5.tmp.<pid>), sparing those of a live process; call
   before a run writes there, with the run directory's lock held. */
void fer_checkpoint_remove_stale_tmp(const char *run_dir);
/* Whether run_dir holds files of an earlier run that a fresh run would
   overwrite: ckpt-*.h5, `latest` or best.h5 (readable or not). */
int fer_checkpoint_run_has_files(const char *run_dir);
/* Path of checkpoint for (epoch, step) in run_dir into out. */
void fer_checkpoint_name(char *out, size_t cap, const char *run_dir, int epoch, long step);
/* Saves to run_dir: writes the checkpoint, updates `latest`, copies to best.h5
   when is_best, deletes all but the newest keep_last ckpt-*.h5. */
int fer_checkpoint_save_run(const char *run_dir, const fer_checkpoint_out *c, int is_best, int keep_last,
                            char *written, size_t written_cap, fer_err *err);
/* The newest valid checkpoint in run_dir (by state, not by name): tries the
   candidates newest first, reporting each invalid one through warn (may be
   NULL) and falling back to the previous. Returns FER_OK and the path, or
   FER_ERROR when there is none (err says why). */
int fer_checkpoint_find_latest(const char *run_dir, char *out, size_t cap,
                               void (*warn)(const char *msg, void *ctx), void *ctx, fer_err *err);

#endif
