#include "fer/metrics_log.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Keeps the header and the rows up to global step `last` (third column). */
static int truncate_steps(const char *path, long last, fer_err *err)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return FER_OK;
    char tmp[1300], line[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
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
    if (fclose(out) != 0 || rename(tmp, path) != 0)
        return fer_fail(err, "%s: %s", path, strerror(errno));
    return FER_OK;
}

int fer_steps_open(FILE **f, const char *run_dir, long resumed_step, fer_err *err)
{
    char path[1200];
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
    char path[1200], tmp[1300];
    snprintf(path, sizeof path, "%s/epochs.csv", run_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return fer_fail(err, "%s: %s", tmp, strerror(errno));
    fprintf(f, "epoch,phase,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n");
    for (int i = 0; i < h->n; i++) {
        const fer_epoch_metrics *r = &h->rows[i];
        fprintf(f, "%d,%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.1f\n", r->epoch, r->phase, r->lr, r->train_loss,
                r->train_acc, r->val_loss, r->val_acc, r->seconds);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return fer_fail(err, "%s: %s", path, strerror(errno));
    return FER_OK;
}
