/* The run directory's metrics files (fer/metrics_log.h): steps.csv gets its
   header once, keeps the rows up to the resumed step when a run resumes, and
   epochs.csv is rewritten whole; both rewrites leave no temporary file.
   test_train_metrics_durable.sh runs this under strace to see the rewrites
   fsync'ed before their rename. */
#include "check.h"
#include "fer/metrics_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void read_file(const char *dir, const char *name, char *out, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static int exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void write_steps(const char *dir, long resumed, long first, long last)
{
    FILE *f = NULL;
    fer_err err = {{0}};
    CHECK(fer_steps_open(&f, dir, resumed, &err) == FER_OK);
    for (long s = first; f && s <= last; s++)
        fer_steps_append(f, 0, s, s, 0, 1.0, 0.5, 0.01, 100.0);
    if (f)
        fclose(f);
}

int main(void)
{
    char dir[] = "/tmp/fer-metrics-log-XXXXXX", text[4096];
    if (!mkdtemp(dir))
        return 1;
    write_steps(dir, 0, 1, 5);
    write_steps(dir, 3, 4, 6); /* resumed from step 3: rows 4 and 5 of the dead run go */
    read_file(dir, "steps.csv", text, sizeof text);
    const char *want_steps = "epoch,step,global_step,phase,loss,accuracy,lr,images_per_s\n"
                             "0,1,1,0,1.000000,0.500000,0.01,100.00\n"
                             "0,2,2,0,1.000000,0.500000,0.01,100.00\n"
                             "0,3,3,0,1.000000,0.500000,0.01,100.00\n"
                             "0,4,4,0,1.000000,0.500000,0.01,100.00\n"
                             "0,5,5,0,1.000000,0.500000,0.01,100.00\n"
                             "0,6,6,0,1.000000,0.500000,0.01,100.00\n";
    printf("steps.csv after a resume from step 3 (want one header and steps 1-6 once):\n%s", text);
    CHECK(!strcmp(text, want_steps));
    CHECK(!exists(dir, "steps.csv.tmp"));

    fer_epoch_metrics rows[2] = {{.epoch = 0, .lr = 0.01, .train_loss = 1.5, .val_acc = 0.25, .seconds = 2.0},
                                 {.epoch = 1, .phase = 1, .lr = 0.001, .train_acc = 0.5, .seconds = 3.0}};
    fer_history h = {.n = 2, .cap = 2, .rows = rows};
    fer_err err = {{0}};
    CHECK(fer_epochs_write(dir, &h, &err) == FER_OK);
    h.n = 1;
    CHECK(fer_epochs_write(dir, &h, &err) == FER_OK); /* rewritten whole, not appended */
    read_file(dir, "epochs.csv", text, sizeof text);
    printf("epochs.csv after writing 2 rows then 1:\n%s", text);
    CHECK(!strcmp(text, "epoch,phase,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n"
                        "0,0,0.01,1.500000,0.000000,0.000000,0.250000,2.0\n"));
    CHECK(!exists(dir, "epochs.csv.tmp"));

    char missing[1100];
    snprintf(missing, sizeof missing, "%s/absent", dir);
    int rc = fer_epochs_write(missing, &h, &err);
    printf("epochs.csv into a missing directory: rc %d, \"%s\"\n", rc, err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, missing));

    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return check_report("test_train_metrics_log");
}
