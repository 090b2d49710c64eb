/* Checkpoint files: atomic save, validated load, probe and full verification
   (layout in fer/checkpoint.h). */
#include "fer/checkpoint.h"

#include "atomic_file.h"
#include "checkpoint_layout.h"
#include "fer/h5util.h"
#include "fer/weights.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_slot(hid_t g, const char *name, const float *slot, size_t n, fer_err *err)
{
    hsize_t dims[1] = {(hsize_t)n};
    return slot ? fer_h5_write_floats(g, name, 1, dims, slot, err) : FER_OK;
}

/* Creates group name under f and runs one writer on it. */
static int write_group(hid_t f, const char *name,
                       int (*fill)(hid_t g, const fer_checkpoint_out *c, fer_err *err),
                       const fer_checkpoint_out *c, fer_err *err)
{
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return fer_fail(err, "cannot create group %s", name);
    int rc = fill(g, c, err);
    if (H5Gclose(g) < 0 && rc == FER_OK)
        rc = fer_fail(err, "cannot close group %s", name);
    return rc;
}

static int fill_optimizer(hid_t g, const fer_checkpoint_out *c, fer_err *err)
{
    size_t n = c->model->n_params;
    if (write_slot(g, "slot0", c->slot0, n, err) != FER_OK ||
        write_slot(g, "slot1", c->slot1, n, err) != FER_OK)
        return fer_fail_wrap(err, "optimizer");
    return FER_OK;
}

static int fill_state(hid_t g, const fer_checkpoint_out *c, fer_err *err)
{
    return fer_ckpt_write_state(g, c->state, err);
}

static int fill_metrics(hid_t g, const fer_checkpoint_out *c, fer_err *err)
{
    fer_history none = {0, 0, NULL};
    return fer_ckpt_write_history(g, c->history ? c->history : &none, err);
}

static int fill_config(hid_t g, const fer_checkpoint_out *c, fer_err *err)
{
    return fer_h5_write_string(g, "yaml", c->config_yaml ? c->config_yaml : "", err);
}

/* With an EMA, /model_weights holds the average (what evaluation, best.h5
   and the tools that read a checkpoint's weights use), and the weights
   training continues from go to /training_weights, in the same layout. */
static int write_weights(hid_t f, const fer_checkpoint_out *c, fer_err *err)
{
    if (!c->ema_params)
        return fer_weights_write(f, "model_weights", c->model, err);
    fer_model average = *c->model; /* a view: the same layers over the EMA's buffers */
    average.params = (float *)c->ema_params;
    average.stats = (float *)c->ema_stats;
    return fer_weights_write(f, "model_weights", &average, err) != FER_OK ||
                   fer_weights_write(f, "training_weights", c->model, err) != FER_OK
               ? FER_ERROR
               : FER_OK;
}

static int write_contents(hid_t f, const fer_checkpoint_out *c, fer_err *err)
{
    int version = FER_CKPT_VERSION;
    if (fer_h5_write_string(f, "fer_format", FER_CKPT_FORMAT, err) != FER_OK ||
        fer_h5_write_scalar(f, "fer_format_version", H5T_NATIVE_INT, &version, err) != FER_OK ||
        write_weights(f, c, err) != FER_OK || write_group(f, "optimizer", fill_optimizer, c, err) != FER_OK ||
        write_group(f, "state", fill_state, c, err) != FER_OK ||
        write_group(f, "metrics", fill_metrics, c, err) != FER_OK ||
        write_group(f, "config", fill_config, c, err) != FER_OK)
        return FER_ERROR;
    return FER_OK;
}

int fer_checkpoint_save(const char *path, const fer_checkpoint_out *c, fer_err *err)
{
    if (!c->model || !c->state)
        return fer_fail(err, "%s: checkpoint needs a model and a state", path);
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    /* Built in memory and written by us: a full disk is then an error with
       its cause, not a failure inside HDF5 (see fer_h5_memory_create). */
    char name[4096]; /* unique in the process, as HDF5 wants, even if path is open */
    fer_atomic_tmp_name(name, sizeof name, path);
    hid_t f = fer_h5_memory_create(name, err);
    int rc = f < 0 ? FER_ERROR : write_contents(f, c, err);
    if (f >= 0 && rc != FER_OK) {
        H5Fclose(f);
        fer_fail_wrap(err, "%s", path);
    } else if (f >= 0) {
        rc = fer_h5_memory_save(f, path, err); /* its messages name the file */
    }
    fer_h5_quiet_end(&q);
    return rc;
}

/* Opens a checkpoint and checks its format marker. Anything HDF5 cannot open
   in a file that exists is reported as truncated or corrupt. */
static hid_t open_checkpoint(const char *path, fer_err *err)
{
    struct stat st;
    hid_t f = fer_h5_open_read(path, err);
    if (f < 0) {
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            fer_fail(err, "%s: not a valid checkpoint (truncated or corrupt)", path);
        return f;
    }
    char *format = NULL;
    int version = 0;
    if (fer_h5_read_string(f, "fer_format", &format, err) != FER_OK || strcmp(format, FER_CKPT_FORMAT) != 0) {
        fer_fail(err, "%s: not a fer checkpoint (no fer_format attribute)", path);
    } else if (fer_h5_read_scalar(f, "fer_format_version", H5T_NATIVE_INT, &version, err) != FER_OK) {
        fer_fail_wrap(err, "%s: not a valid checkpoint", path);
    } else if (version < 1 || version > FER_CKPT_VERSION) {
        fer_fail(err, "%s: checkpoint format version %d, this fer reads up to %d", path, version,
                 FER_CKPT_VERSION);
    } else {
        free(format);
        return f;
    }
    free(format);
    H5Fclose(f);
    return H5I_INVALID_HID;
}

/* Opens group name of f and runs one reader on it. */
static int read_group(hid_t f, const char *name, int (*read)(hid_t g, void *out, fer_err *err), void *out,
                      fer_err *err)
{
    hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
    if (g < 0)
        return fer_fail(err, "group %s missing", name);
    int rc = read(g, out, err);
    H5Gclose(g);
    return rc;
}

static int read_state(hid_t g, void *out, fer_err *err)
{
    return fer_ckpt_read_state(g, out, err);
}
static int read_history(hid_t g, void *out, fer_err *err)
{
    return fer_ckpt_read_history(g, out, err);
}
static int read_config(hid_t g, void *out, fer_err *err)
{
    return fer_h5_read_string(g, "yaml", out, err);
}

/* A slot absent from the file (an SGD checkpoint resumed by Adam) starts at
   zero, as a fresh optimizer would. */
static int read_slot(hid_t f, const char *name, const fer_model *m, float *slot, fer_err *err)
{
    if (!slot)
        return FER_OK;
    hid_t g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
    if (g < 0)
        return fer_fail(err, "group optimizer missing");
    int rc = FER_OK;
    if (!fer_h5_has(g, name)) {
        memset(slot, 0, m->n_params * sizeof *slot);
    } else {
        int n = (int)m->n_params;
        rc = fer_h5_read_finite_floats(g, name, 1, &n, slot, err);
        if (rc != FER_OK)
            fer_fail_wrap(err, "optimizer");
    }
    H5Gclose(g);
    return rc;
}

static int read_weights_group(hid_t f, const char *path, const char *group, fer_model *m, fer_err *err)
{
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0)
        return fer_fail(err, "%s: group %s missing", path, group);
    fer_weights_report rep;
    int rc = fer_weights_load_loc(m, g, path, 1, &rep, err);
    H5Gclose(g);
    if (rc == FER_OK && rep.ignored)
        rc = fer_fail(err, "%s: the checkpoint has layers the model lacks: %s", path, rep.ignored_names);
    return rc;
}

static int read_weights(hid_t f, const char *path, fer_model *m, fer_err *err)
{
    return read_weights_group(f, path, "model_weights", m, err);
}

typedef struct {
    fer_train_state state;
    fer_history history;
    char *config_yaml;
} loaded_parts;

static int load_contents(hid_t f, const char *path, fer_model *m, float *slot0, float *slot1, loaded_parts *p,
                         fer_err *err)
{
    if (read_group(f, "state", read_state, &p->state, err) != FER_OK ||
        read_group(f, "metrics", read_history, &p->history, err) != FER_OK ||
        read_group(f, "config", read_config, &p->config_yaml, err) != FER_OK)
        return fer_fail_wrap(err, "%s", path);
    if (read_weights(f, path, m, err) != FER_OK)
        return FER_ERROR;
    if (read_slot(f, "slot0", m, slot0, err) != FER_OK || read_slot(f, "slot1", m, slot1, err) != FER_OK)
        return fer_fail_wrap(err, "%s", path);
    return FER_OK;
}

int fer_checkpoint_load(const char *path, fer_model *m, float *slot0, float *slot1, fer_train_state *state,
                        fer_history *history, char **config_yaml, fer_err *err)
{
    loaded_parts p = {.config_yaml = NULL};
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    hid_t f = open_checkpoint(path, err);
    int rc = f < 0 ? FER_ERROR : load_contents(f, path, m, slot0, slot1, &p, err);
    if (f >= 0)
        H5Fclose(f);
    fer_h5_quiet_end(&q);
    if (rc == FER_OK) {
        if (state)
            *state = p.state;
        if (history) {
            fer_history_free(history);
            *history = p.history;
            p.history = (fer_history){0, 0, NULL};
        }
        if (config_yaml) {
            *config_yaml = p.config_yaml;
            p.config_yaml = NULL;
        }
    }
    fer_history_free(&p.history);
    free(p.config_yaml);
    return rc;
}

int fer_checkpoint_load_training_weights(const char *path, fer_model *m, int *present, fer_err *err)
{
    *present = 0;
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    hid_t f = open_checkpoint(path, err);
    int rc = f < 0 ? FER_ERROR : FER_OK;
    if (f >= 0 && fer_h5_has(f, "training_weights")) {
        rc = read_weights_group(f, path, "training_weights", m, err);
        *present = rc == FER_OK;
    }
    if (f >= 0)
        H5Fclose(f);
    fer_h5_quiet_end(&q);
    return rc;
}

int fer_checkpoint_read_config(const char *path, char **config_yaml, fer_err *err)
{
    *config_yaml = NULL;
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    hid_t f = open_checkpoint(path, err);
    int rc = f < 0 ? FER_ERROR : read_group(f, "config", read_config, config_yaml, err);
    if (f >= 0) {
        if (rc != FER_OK)
            fer_fail_wrap(err, "%s", path);
        H5Fclose(f);
    }
    fer_h5_quiet_end(&q);
    return rc;
}

/* Opens a checkpoint and reads its state; the caller closes the file. */
static hid_t open_with_state(const char *path, fer_train_state *st, fer_err *err)
{
    hid_t f = open_checkpoint(path, err);
    if (f >= 0 && read_group(f, "state", read_state, st, err) != FER_OK) {
        fer_fail_wrap(err, "%s", path);
        H5Fclose(f);
        return H5I_INVALID_HID;
    }
    return f;
}

int fer_checkpoint_probe(const char *path, fer_train_state *state, fer_err *err)
{
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    fer_train_state st;
    hid_t f = open_with_state(path, &st, err);
    if (f >= 0)
        H5Fclose(f);
    fer_h5_quiet_end(&q);
    if (f >= 0 && state)
        *state = st;
    return f >= 0 ? FER_OK : FER_ERROR;
}

#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t link_info;
#define fer_link_visit H5Lvisit2
#else
typedef H5L_info_t link_info;
#define fer_link_visit H5Lvisit
#endif

/* Reads one dataset whole, so that its checksum is verified. */
static herr_t verify_link(hid_t g, const char *name, const link_info *info, void *failed)
{
    if (info->type != H5L_TYPE_HARD)
        return 0;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0)
        return 0; /* a group */
    hid_t ftype = H5Dget_type(ds), space = H5Dget_space(ds);
    hid_t mtype = ftype < 0 ? H5I_INVALID_HID : H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    size_t size = mtype < 0 ? 0 : H5Tget_size(mtype);
    void *buf = n > 0 && size ? malloc((size_t)n * size) : NULL;
    fer_err ignored;
    int ok = mtype >= 0 && n >= 0 && fer_h5_check_stored(ds, &ignored) == FER_OK &&
             (n == 0 || (buf && H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0));
    free(buf);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(ds);
    if (ok)
        return 0;
    snprintf((char *)failed, 256, "%s", name);
    return 1;
}

int fer_checkpoint_verify(const char *path, fer_train_state *state, fer_err *err)
{
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    fer_train_state st;
    hid_t f = open_with_state(path, &st, err);
    int rc = f >= 0 ? FER_OK : FER_ERROR;
    if (f >= 0) {
        char failed[256] = "";
        if (fer_link_visit(f, H5_INDEX_NAME, H5_ITER_NATIVE, verify_link, failed) != 0)
            rc = fer_fail(err, "%s: not a valid checkpoint (%s%s unreadable: truncated or corrupt)", path,
                          failed[0] ? "dataset " : "structure", failed);
        H5Fclose(f);
    }
    fer_h5_quiet_end(&q);
    if (rc == FER_OK && state)
        *state = st;
    return rc;
}
