#include "fer/metrics_log.h"

#include "fer/path.h"

#include "../io/atomic_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* The temporary name of a rewrite of path: fixed, not per process, since
   only the holder of the run lock writes these files, and a rewrite after a
   crash replaces what the crash left. */
static int tmp_name(char *tmp, size_t cap, const char *path, fer_err *err)
{
    if (snprintf(tmp, cap, "%s.tmp", path) >= (int)cap)
        return fer_fail(err, "%s: path too long", path);
    return FER_OK;
}

/* Closes out (written to tmp) and puts tmp in place of path, durably. */
static int commit(FILE *out, const char *tmp, const char *path, fer_err *err)
{
    if (fclose(out) != 0) {
        int saved = errno;
        remove(tmp);
        return fer_fail(err, "%s: %s", tmp, strerror(saved));
    }
    return fer_atomic_commit(tmp, path, err);
}

/* Keeps the header and the rows up to global step `last` (third column). */
static int truncate_steps(const char *path, long last, fer_err *err)
{
    char tmp[FER_FILE_PATH_LEN], line[512];
    if (tmp_name(tmp, sizeof tmp, path, err))
        return FER_ERROR;
    FILE *in = fopen(path, "r");
    if (!in)
        return FER_OK;
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return fer_fail(err, "%s: %s", tmp, strerror(errno));
    }
    for (int row = 0; fgets(line, sizeof line, in); row++) {
        long epoch, step, global_step;
        if (row == 0 ||
            (sscanf(line, "%ld,%ld,%ld", &epoch, &step, &global_step) == 3 && global_step <= last))
            fputs(line, out);
    }
    fclose(in);
    return commit(out, tmp, path, err);
}

int fer_steps_open(FILE **f, const char *run_dir, long resumed_step, fer_err *err)
{
    char path[FER_FILE_PATH_LEN];
    snprintf(path, sizeof path, "%s/steps.csv", run_dir);
    struct stat st;
    int fresh = stat(path, &st) != 0 || st.st_size == 0;
    if (!fresh && truncate_steps(path, resumed_step, err))
        return FER_ERROR;
    *f = fopen(path, "a");
    if (!*f)
        return fer_fail(err, "%s: %s", path, strerror(errno));
    if (fresh)
        fprintf(*f, "epoch,step,global_step,phase,loss,accuracy,lr,images_per_s\n");
    return FER_OK;
}

void fer_steps_append(FILE *f, int epoch, long step, long global_step, int phase, double loss, double acc,
                      double lr, double images_per_s)
{
    fprintf(f, "%d,%ld,%ld,%d,%.6f,%.6f,%.6g,%.2f\n", epoch, step, global_step, phase, loss, acc, lr,
            images_per_s);
}

int fer_epochs_write(const char *run_dir, const fer_history *h, fer_err *err)
{
    char path[FER_FILE_PATH_LEN], tmp[FER_FILE_PATH_LEN];
    snprintf(path, sizeof path, "%s/epochs.csv", run_dir);
    if (tmp_name(tmp, sizeof tmp, path, err))
        return FER_ERROR;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return fer_fail(err, "%s: %s", tmp, strerror(errno));
    fprintf(f, "epoch,phase,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n");
    for (int i = 0; i < h->n; i++) {
        const fer_epoch_metrics *r = &h->rows[i];
        fprintf(f, "%d,%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.1f\n", r->epoch, r->phase, r->lr, r->train_loss,
                r->train_acc, r->val_loss, r->val_acc, r->seconds);
    }
    return commit(f, tmp, path, err);
}
