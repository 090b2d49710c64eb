/* Units behind tests/test_hostile_run.sh (issue 19): the resume position
   after a change of batch size or training set, the run directory's lock,
   and the class-count limit at the config boundary. */
#include "../src/train/resume_position.h"
#include "check.h"
#include "fer/config.h"
#include "fer/dataset.h"
#include "fer/run_lock.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The stored YAML of a checkpoint written with batch size `batch` and
   limit_train `limit`. */
static char *stored_config(int batch, int limit)
{
    fer_config c;
    fer_config_defaults(&c);
    c.data.batch_size = batch;
    c.data.limit_train = limit;
    return fer_config_to_yaml(&c);
}

typedef struct {
    const char *what;
    long saved;
    int old_batch, old_limit, new_batch, new_limit;
    long train_n, expected;
    const char *note_has; /* "" when no note is expected */
} position_case;

static void test_resume_step(void)
{
    /* 256 training samples, as configs/tiny.yaml. */
    const position_case cases[] = {
        {"unchanged", 6, 32, 0, 32, 0, 256, 6, ""},
        {"batch 32 -> 128: 192 samples, step 1 of 2", 6, 32, 0, 128, 0, 256, 1, "continuing at step 1 of 2"},
        {"batch 32 -> 16: step 12 of 16", 6, 32, 0, 16, 0, 256, 12, "continuing at step 12 of 16"},
        {"batch 32 -> 256: nothing whole done, step 0", 6, 32, 0, 256, 0, 256, 0, "step 0 of 1"},
        {"limit 100: 192 samples cover it", 6, 32, 0, 32, 100, 100, 4, "complete as it stands"},
        {"limit 200: same batch, set changed", 2, 32, 0, 32, 200, 200, 2, "training set changed"},
        {"saved step past a huge old batch", 3, 2147483647, 0, 32, 0, 256, 8, "complete as it stands"},
        {"at the start of an epoch", 0, 32, 0, 128, 0, 256, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const position_case *k = &cases[i];
        fer_config now;
        fer_config_defaults(&now);
        now.data.batch_size = k->new_batch;
        now.data.limit_train = k->new_limit;
        char *yaml = stored_config(k->old_batch, k->old_limit), note[600];
        long steps = (k->train_n + k->new_batch - 1) / k->new_batch;
        long step = fer_resume_step(k->saved, yaml, &now, k->train_n, steps, note, sizeof note);
        free(yaml);
        printf("resume position, %s: step %ld (expected %ld) of %ld; note \"%s\"\n", k->what, step,
               k->expected, steps, note);
        CHECK_MSG(step == k->expected, "%s", k->what);
        CHECK_MSG(step >= 0 && step <= steps, "%s: position within the epoch", k->what);
        CHECK_MSG(k->note_has[0] ? strstr(note, k->note_has) != NULL : note[0] == '\0', "%s: note", k->what);
    }
    /* Without a readable stored config the batch size is taken as unchanged,
       and a position past the end still ends the epoch instead of spinning. */
    fer_config now;
    fer_config_defaults(&now);
    now.data.batch_size = 128;
    char note[600];
    long step = fer_resume_step(6, "not: [valid", &now, 256, 2, note, sizeof note);
    printf("resume position without a stored config: step %ld of 2; note \"%s\"\n", step, note);
    CHECK(step == 2);
}

static void test_run_lock(void)
{
    char dir[] = "/tmp/fer-lock.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    fer_run_lock a, b;
    fer_err err = {{0}};
    CHECK(fer_run_lock_take(&a, dir, &err) == FER_OK && a.fd >= 0);
    /* flock locks belong to open file descriptions: a second open in this
       process conflicts as another process's would. */
    int second = fer_run_lock_take(&b, dir, &err);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld on host", (long)getpid());
    printf("second lock of %s: %s\n", dir, second == FER_OK ? "taken (wrong)" : err.msg);
    CHECK(second == FER_ERROR && b.fd < 0);
    CHECK(strstr(err.msg, pid) != NULL && strstr(err.msg, "in use by another fer train") != NULL);
    fer_run_lock_release(&a);
    CHECK(fer_run_lock_take(&b, dir, &err) == FER_OK && b.fd >= 0);
    printf("after release: lock taken again %s\n", b.fd >= 0 ? "yes" : "no");
    fer_run_lock_release(&b);
    char path[64];
    snprintf(path, sizeof path, "%s/.lock", dir);
    unlink(path);
    rmdir(dir);
}

static void test_class_limit(void)
{
    fer_config c;
    fer_config_defaults(&c);
    fer_err err = {{0}};
    char at_max[64], above[64];
    snprintf(at_max, sizeof at_max, "model.classes=%d", FER_MAX_CLASSES);
    snprintf(above, sizeof above, "model.classes=%d", FER_MAX_CLASSES + 1);
    int ok_max =
        fer_config_set(&c, at_max, &err) == FER_OK && c.model.classes == FER_MAX_CLASSES ? FER_OK : FER_ERROR;
    int ok_above = fer_config_set(&c, above, &err);
    printf("%s: %s; %s: %s\n", at_max, ok_max == FER_OK ? "accepted" : "refused", above,
           ok_above == FER_OK ? "accepted" : err.msg);
    CHECK(ok_max == FER_OK);
    CHECK(ok_above == FER_ERROR && strstr(err.msg, "model.classes") != NULL);
}

int main(void)
{
    test_resume_step();
    test_run_lock();
    test_class_limit();
    return check_report("hostile_run_units");
}
