/* Training state attributes and the metrics history table of checkpoints. */
#include "checkpoint_layout.h"

#include "fer/config.h"
#include "fer/h5util.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

enum { FIELD_INT, FIELD_LONG, FIELD_DOUBLE, FIELD_U64 };

/* One attribute of /state per field of fer_train_state. */
typedef struct {
    const char *name;
    int kind;
    size_t offset;
} state_field;

static const state_field state_fields[] = {
    {"epoch", FIELD_INT, offsetof(fer_train_state, epoch)},
    {"step_in_epoch", FIELD_LONG, offsetof(fer_train_state, step_in_epoch)},
    {"global_step", FIELD_LONG, offsetof(fer_train_state, global_step)},
    {"phase", FIELD_INT, offsetof(fer_train_state, phase)},
    {"phase_iterations", FIELD_LONG, offsetof(fer_train_state, phase_iterations)},
    {"lr", FIELD_DOUBLE, offsetof(fer_train_state, lr)},
    {"seed", FIELD_U64, offsetof(fer_train_state, seed)},
    {"best_val_acc", FIELD_DOUBLE, offsetof(fer_train_state, best_val_acc)},
    {"best_epoch", FIELD_INT, offsetof(fer_train_state, best_epoch)},
    {"epoch_loss_sum", FIELD_DOUBLE, offsetof(fer_train_state, epoch_loss_sum)},
    {"epoch_correct", FIELD_DOUBLE, offsetof(fer_train_state, epoch_correct)},
    {"epoch_seen", FIELD_DOUBLE, offsetof(fer_train_state, epoch_seen)},
    {"epoch_seconds", FIELD_DOUBLE, offsetof(fer_train_state, epoch_seconds)},
};
#define N_STATE_FIELDS (int)(sizeof state_fields / sizeof state_fields[0])

/* Fields added later: a checkpoint without them reads their fresh values. */
static const state_field later_state_fields[] = {
    {"plateau_lr", FIELD_DOUBLE, offsetof(fer_train_state, plateau.lr)},
    {"plateau_best", FIELD_DOUBLE, offsetof(fer_train_state, plateau.best)},
    {"plateau_wait", FIELD_INT, offsetof(fer_train_state, plateau.wait)},
    {"plateau_cooldown", FIELD_INT, offsetof(fer_train_state, plateau.cooldown)},
    {"ema_updates", FIELD_LONG, offsetof(fer_train_state, ema_updates)},
};
#define N_LATER_STATE_FIELDS (int)(sizeof later_state_fields / sizeof later_state_fields[0])

static hid_t native_type(int kind)
{
    switch (kind) {
    case FIELD_INT:
        return H5T_NATIVE_INT;
    case FIELD_LONG:
        return H5T_NATIVE_LONG;
    case FIELD_DOUBLE:
        return H5T_NATIVE_DOUBLE;
    default:
        return H5T_NATIVE_UINT64;
    }
}

static int write_fields(hid_t group, const state_field *f, int n, const fer_train_state *s, fer_err *err)
{
    for (int i = 0; i < n; i++)
        if (fer_h5_write_scalar(group, f[i].name, native_type(f[i].kind), (const char *)s + f[i].offset,
                                err) != FER_OK)
            return fer_fail_wrap(err, "state");
    return FER_OK;
}

int fer_ckpt_write_state(hid_t group, const fer_train_state *s, fer_err *err)
{
    return write_fields(group, state_fields, N_STATE_FIELDS, s, err) != FER_OK ||
                   write_fields(group, later_state_fields, N_LATER_STATE_FIELDS, s, err) != FER_OK
               ? FER_ERROR
               : FER_OK;
}

/* The most epochs any schedule has, and a step count far beyond any run
   that every counter still holds exactly (also as a double), so that the
   trainer's arithmetic on a loaded state cannot overflow. */
#define MAX_EPOCHS (FER_MAX_PHASES * FER_MAX_PHASE_EPOCHS)
#define MAX_STEPS (1L << 52)

static int check_state(const fer_train_state *s, fer_err *err)
{
    if (s->epoch < 0 || s->epoch > MAX_EPOCHS)
        return fer_fail(err, "state: epoch %d outside 0..%d", s->epoch, MAX_EPOCHS);
    if (s->step_in_epoch < 0 || s->global_step < 0 || s->phase_iterations < 0 ||
        s->step_in_epoch > MAX_STEPS || s->global_step > MAX_STEPS || s->phase_iterations > MAX_STEPS)
        return fer_fail(
            err,
            "state: step count outside 0..2^52 (step_in_epoch %ld, global_step %ld, phase_iterations %ld)",
            s->step_in_epoch, s->global_step, s->phase_iterations);
    if (s->phase < 0 || s->phase >= FER_MAX_PHASES)
        return fer_fail(err, "state: phase %d outside 0..%d", s->phase, FER_MAX_PHASES - 1);
    if (!isfinite(s->lr) || s->lr < 0)
        return fer_fail(err, "state: learning rate %g is not a finite non-negative number", s->lr);
    if (!isfinite(s->best_val_acc) || s->best_epoch < -1 || s->best_epoch > MAX_EPOCHS)
        return fer_fail(err, "state: best_val_acc %g / best_epoch %d are impossible", s->best_val_acc,
                        s->best_epoch);
    /* The loss sum may legitimately hold a NaN a skipped step left behind;
       the counters may not. */
    if (!(s->epoch_correct >= 0) || !(s->epoch_seen >= s->epoch_correct) || !isfinite(s->epoch_seen) ||
        !(s->epoch_seconds >= 0) || !isfinite(s->epoch_seconds))
        return fer_fail(err, "state: epoch counters impossible (correct %g, seen %g, seconds %g)",
                        s->epoch_correct, s->epoch_seen, s->epoch_seconds);
    const fer_plateau_state *p = &s->plateau;
    if (!isfinite(p->lr) || p->lr < 0 || isnan(p->best) || p->best == INFINITY || p->wait < 0 ||
        p->cooldown < 0 || p->wait > MAX_EPOCHS || p->cooldown > MAX_EPOCHS)
        return fer_fail(err, "state: plateau schedule impossible (lr %g, best %g, wait %d, cooldown %d)",
                        p->lr, p->best, p->wait, p->cooldown);
    if (s->ema_updates < 0 || s->ema_updates > MAX_STEPS)
        return fer_fail(err, "state: ema_updates %ld outside 0..2^52", s->ema_updates);
    return FER_OK;
}

int fer_ckpt_read_state(hid_t group, fer_train_state *s, fer_err *err)
{
    fer_train_state read = {.ema_updates = 0};
    fer_plateau_reset(&read.plateau);
    for (int i = 0; i < N_STATE_FIELDS; i++)
        if (fer_h5_read_scalar(group, state_fields[i].name, native_type(state_fields[i].kind),
                               (char *)&read + state_fields[i].offset, err) != FER_OK)
            return fer_fail_wrap(err, "state");
    for (int i = 0; i < N_LATER_STATE_FIELDS; i++) {
        const state_field *f = &later_state_fields[i];
        if (H5Aexists(group, f->name) > 0 && fer_h5_read_scalar(group, f->name, native_type(f->kind),
                                                                (char *)&read + f->offset, err) != FER_OK)
            return fer_fail_wrap(err, "state");
    }
    if (check_state(&read, err) != FER_OK)
        return FER_ERROR;
    *s = read;
    return FER_OK;
}

static const char *const history_fields[] = {"epoch",     "phase",    "lr",      "train_loss",
                                             "train_acc", "val_loss", "val_acc", "seconds"};
#define N_HISTORY_FIELDS (int)(sizeof history_fields / sizeof history_fields[0])

static hid_t history_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(fer_epoch_metrics));
    if (t < 0)
        return t;
    int ok = H5Tinsert(t, "epoch", HOFFSET(fer_epoch_metrics, epoch), H5T_NATIVE_INT) >= 0 &&
             H5Tinsert(t, "phase", HOFFSET(fer_epoch_metrics, phase), H5T_NATIVE_INT) >= 0 &&
             H5Tinsert(t, "lr", HOFFSET(fer_epoch_metrics, lr), H5T_NATIVE_DOUBLE) >= 0 &&
             H5Tinsert(t, "train_loss", HOFFSET(fer_epoch_metrics, train_loss), H5T_NATIVE_DOUBLE) >= 0 &&
             H5Tinsert(t, "train_acc", HOFFSET(fer_epoch_metrics, train_acc), H5T_NATIVE_DOUBLE) >= 0 &&
             H5Tinsert(t, "val_loss", HOFFSET(fer_epoch_metrics, val_loss), H5T_NATIVE_DOUBLE) >= 0 &&
             H5Tinsert(t, "val_acc", HOFFSET(fer_epoch_metrics, val_acc), H5T_NATIVE_DOUBLE) >= 0 &&
             H5Tinsert(t, "seconds", HOFFSET(fer_epoch_metrics, seconds), H5T_NATIVE_DOUBLE) >= 0;
    if (!ok) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

int fer_ckpt_write_history(hid_t group, const fer_history *h, fer_err *err)
{
    hsize_t dims[1] = {(hsize_t)h->n};
    hid_t type = history_type();
    if (type < 0)
        return fer_fail(err, "metrics/epochs: cannot build the row type");
    int rc = fer_h5_write_dataset(group, "epochs", type, type, 1, dims, h->rows, err);
    H5Tclose(type);
    return rc == FER_OK ? FER_OK : fer_fail_wrap(err, "metrics");
}

/* Checks that the file's table has every field we read. */
static int check_history_type(hid_t ds, fer_err *err)
{
    hid_t ftype = H5Dget_type(ds);
    if (ftype < 0 || H5Tget_class(ftype) != H5T_COMPOUND) {
        if (ftype >= 0)
            H5Tclose(ftype);
        return fer_fail(err, "metrics/epochs: not a table");
    }
    int rc = FER_OK;
    for (int i = 0; rc == FER_OK && i < N_HISTORY_FIELDS; i++)
        if (H5Tget_member_index(ftype, history_fields[i]) < 0)
            rc = fer_fail(err, "metrics/epochs: field %s missing", history_fields[i]);
    H5Tclose(ftype);
    return rc;
}

static int read_rows(hid_t ds, int n, fer_history *h, fer_err *err)
{
    fer_epoch_metrics *rows = calloc(n ? (size_t)n : 1, sizeof *rows);
    hid_t type = history_type();
    int rc = FER_OK;
    if (!rows || type < 0)
        rc = fer_fail(err, "metrics/epochs: out of memory");
    else if (n > 0 && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0)
        rc = fer_fail(err, "metrics/epochs: cannot read (checksum mismatch or truncated file)");
    for (int i = 0; rc == FER_OK && i < n; i++)
        if (fer_history_append(h, &rows[i]) != FER_OK)
            rc = fer_fail(err, "metrics/epochs: out of memory");
    if (type >= 0)
        H5Tclose(type);
    free(rows);
    return rc;
}

int fer_ckpt_read_history(hid_t group, fer_history *h, fer_err *err)
{
    hid_t ds = H5Dopen2(group, "epochs", H5P_DEFAULT);
    if (ds < 0)
        return fer_fail(err, "metrics/epochs: missing");
    int nd = 0;
    hsize_t dims[FER_H5_MAX_DIMS];
    int rc = fer_h5_dataset_shape(ds, &nd, dims, err);
    if (rc == FER_OK && (nd != 1 || dims[0] > 1000000))
        rc = fer_fail(err, "metrics/epochs: expected one row per epoch");
    if (rc == FER_OK)
        rc = check_history_type(ds, err);
    if (rc == FER_OK && fer_h5_check_stored(ds, err) != FER_OK)
        rc = fer_fail_wrap(err, "metrics/epochs");
    if (rc == FER_OK)
        rc = read_rows(ds, (int)dims[0], h, err);
    H5Dclose(ds);
    return rc;
}
