/* Checkpoints: a bit-exact save/load round trip of everything, rejection of
   truncated and corrupted files with the file named, and the run directory
   (names, `latest`, best.h5, keep_last pruning, find_latest falling back past
   broken files, a missing directory). */
#include "check.h"
#include "h5_fixtures.h"

#include "fer/checkpoint.h"

#include <dirent.h>
#include <sys/stat.h>

typedef struct {
    fer_model model;
    float *slot0, *slot1;
    fer_train_state state;
    fer_history history;
} run_state;

static const char *config_text = "model:\n  input_size: 8\n  classes: 4\nseed: 42  # \xc3\xa9motion\n";

static void make_run_state(run_state *r, uint32_t seed, int epoch, long step)
{
    fer_model_cfg cfg;
    fer_err err;
    fixture_small_model(&cfg, 6);
    CHECK(fer_model_init(&r->model, &cfg, seed, &err) == FER_OK);
    fixture_fill(r->model.params, r->model.n_params, seed);
    fixture_fill(r->model.stats, r->model.n_stats, seed + 1);
    r->slot0 = malloc(r->model.n_params * sizeof(float));
    r->slot1 = malloc(r->model.n_params * sizeof(float));
    fixture_fill(r->slot0, r->model.n_params, seed + 2);
    fixture_fill(r->slot1, r->model.n_params, seed + 3);
    r->state = (fer_train_state){.epoch = epoch,
                                 .step_in_epoch = step,
                                 .global_step = 1000L * epoch + step,
                                 .phase = 1,
                                 .phase_iterations = 123456789012L,
                                 .lr = 1e-4 / 3,
                                 .seed = 0xfedcba9876543210ULL,
                                 .best_val_acc = 0.6543210987654321,
                                 .best_epoch = epoch - 1,
                                 .epoch_loss_sum = 12.345678901234,
                                 .epoch_correct = 17,
                                 .epoch_seen = 32,
                                 .epoch_seconds = 1.25};
    r->history = (fer_history){0, 0, NULL};
    for (int e = 0; e < epoch; e++) {
        fer_epoch_metrics row = {e, e > 1, 0.1 / (e + 1), 1.9 - 0.1 * e, 0.2 + 0.01 * e, 1.8, 0.3, 60.5 + e};
        fer_history_append(&r->history, &row);
    }
}

static void free_run_state(run_state *r)
{
    fer_model_free(&r->model);
    free(r->slot0);
    free(r->slot1);
    fer_history_free(&r->history);
}

static fer_checkpoint_out out_of(const run_state *r)
{
    return (fer_checkpoint_out){.model = &r->model,
                                .slot0 = r->slot0,
                                .slot1 = r->slot1,
                                .state = &r->state,
                                .history = &r->history,
                                .config_yaml = config_text};
}

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* Field by field: the struct has padding that memcmp would compare. */
static int same_state(const fer_train_state *a, const fer_train_state *b)
{
    return a->epoch == b->epoch && a->step_in_epoch == b->step_in_epoch && a->global_step == b->global_step &&
           a->phase == b->phase && a->phase_iterations == b->phase_iterations && a->lr == b->lr &&
           a->seed == b->seed && a->best_val_acc == b->best_val_acc && a->best_epoch == b->best_epoch &&
           a->epoch_loss_sum == b->epoch_loss_sum && a->epoch_correct == b->epoch_correct &&
           a->epoch_seen == b->epoch_seen && a->epoch_seconds == b->epoch_seconds;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return !memcmp(a, b, n * sizeof(float));
}

static void test_round_trip(const char *dir)
{
    run_state a, b;
    make_run_state(&a, 11, 3, 57);
    make_run_state(&b, 22, 0, 0);
    char path[512];
    fer_err err;
    snprintf(path, sizeof path, "%s/ckpt.h5", dir);
    fer_checkpoint_out out = out_of(&a);
    int rc = fer_checkpoint_save(path, &out, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    printf("save: %s, %d temporary files left\n", rc == FER_OK ? "ok" : err.msg, count_tmp_files(dir));
    CHECK(count_tmp_files(dir) == 0);

    char *yaml = NULL;
    rc = fer_checkpoint_load(path, &b.model, b.slot0, b.slot1, &b.state, &b.history, &yaml, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    size_t np = a.model.n_params;
    int params = same_floats(a.model.params, b.model.params, np);
    int stats = same_floats(a.model.stats, b.model.stats, a.model.n_stats);
    int slots = same_floats(a.slot0, b.slot0, np) && same_floats(a.slot1, b.slot1, np);
    int state = same_state(&a.state, &b.state);
    int history = a.history.n == b.history.n && b.history.rows &&
                  !memcmp(a.history.rows, b.history.rows, (size_t)a.history.n * sizeof *a.history.rows);
    int config = yaml && !strcmp(yaml, config_text);
    printf("round trip: params %d, stats %d, slots %d, state %d, history %d rows %d, config %d "
           "(1 = bit-exact)\n",
           params, stats, slots, state, b.history.n, history, config);
    CHECK(params && stats && slots && state && history && config);
    free(yaml);

    rc = fer_checkpoint_read_config(path, &yaml, &err);
    CHECK(rc == FER_OK && yaml && !strcmp(yaml, config_text));
    free(yaml);
    fer_train_state probed;
    rc = fer_checkpoint_probe(path, &probed, &err);
    CHECK(rc == FER_OK && probed.global_step == a.state.global_step);
    rc = fer_checkpoint_verify(path, NULL, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);

    /* An SGD checkpoint (no slot1) resumed by Adam: slot1 starts at zero. */
    out.slot1 = NULL;
    rc = fer_checkpoint_save(path, &out, &err);
    fixture_fill(b.slot1, np, 5);
    rc = rc == FER_OK ? fer_checkpoint_load(path, &b.model, b.slot0, b.slot1, NULL, NULL, NULL, &err) : rc;
    int zero = 1;
    for (size_t i = 0; i < np; i++)
        zero = zero && b.slot1[i] == 0.0f;
    printf("checkpoint without slot1: load %s, slot1 %s\n", rc == FER_OK ? "ok" : err.msg,
           zero ? "zero-filled" : "NOT zero");
    CHECK(rc == FER_OK && zero && same_floats(a.slot0, b.slot0, np));

    /* Another architecture: shapes are checked and named. */
    fer_model_cfg cfg;
    fixture_small_model(&cfg, 5);
    fer_model other;
    CHECK(fer_model_init(&other, &cfg, 1, &err) == FER_OK);
    float *slot = malloc(other.n_params * sizeof(float));
    rc = fer_checkpoint_load(path, &other, slot, NULL, NULL, NULL, NULL, &err);
    printf("other architecture: \"%s\"\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, path) && strstr(err.msg, "conv_a") &&
          strstr(err.msg, "(3,3,3,6) in file, (3,3,3,5) in model"));
    free(slot);
    fer_model_free(&other);
    free_run_state(&a);
    free_run_state(&b);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int copy_file(const char *from, const char *to, long keep_bytes)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int rc = in && out ? 0 : -1;
    long n = 0;
    for (int c; rc == 0 && (keep_bytes < 0 || n < keep_bytes) && (c = fgetc(in)) != EOF; n++)
        fputc(c, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    return rc;
}

/* Flips one byte inside the stored slot0 data (found by its first values). */
static int corrupt_slot0(const char *path, const float *slot0)
{
    FILE *f = fopen(path, "r+b");
    long size = file_size(path);
    unsigned char *buf = f ? malloc((size_t)size) : NULL;
    int found = -1;
    if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
        for (long i = 0; i + 16 <= size && found < 0; i++)
            if (!memcmp(buf + i, slot0, 16))
                found = (int)i;
        if (found >= 0) {
            fseek(f, found + 40, SEEK_SET);
            fputc(buf[found + 40] ^ 0x5a, f);
        }
    }
    free(buf);
    if (f)
        fclose(f);
    return found;
}

static void test_damaged(const char *dir)
{
    run_state a, b;
    make_run_state(&a, 31, 2, 0);
    make_run_state(&b, 32, 0, 0);
    char good[512], trunc[512], want[700];
    fer_err err;
    snprintf(good, sizeof good, "%s/good.h5", dir);
    snprintf(trunc, sizeof trunc, "%s/truncated.h5", dir);
    fer_checkpoint_out out = out_of(&a);
    CHECK(fer_checkpoint_save(good, &out, &err) == FER_OK);
    long size = file_size(good);
    copy_file(good, trunc, size / 2);
    int rc = fer_checkpoint_load(trunc, &b.model, b.slot0, b.slot1, &b.state, &b.history, NULL, &err);
    snprintf(want, sizeof want, "%s: not a valid checkpoint (truncated or corrupt)", trunc);
    printf("truncated to %ld of %ld bytes: \"%s\"\n", file_size(trunc), size, err.msg);
    CHECK(rc == FER_ERROR && !strcmp(err.msg, want));
    rc = fer_checkpoint_probe(trunc, NULL, &err);
    CHECK(rc == FER_ERROR && !strcmp(err.msg, want));

    char flipped[512];
    snprintf(flipped, sizeof flipped, "%s/flipped.h5", dir);
    copy_file(good, flipped, -1);
    int at = corrupt_slot0(flipped, a.slot0);
    CHECK(at >= 0);
    rc = fer_checkpoint_verify(flipped, NULL, &err);
    printf("one byte flipped in slot0 data (at %d): verify: \"%s\"\n", at,
           rc == FER_OK ? "ACCEPTED" : err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, flipped) && strstr(err.msg, "slot0"));
    rc = fer_checkpoint_load(flipped, &b.model, b.slot0, b.slot1, &b.state, &b.history, NULL, &err);
    printf("one byte flipped in slot0 data: load: \"%s\"\n", rc == FER_OK ? "ACCEPTED" : err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, flipped) && strstr(err.msg, "slot0"));

    char text[512];
    snprintf(text, sizeof text, "%s/text.h5", dir);
    fixture_write_text(text, "not a checkpoint\n");
    rc = fer_checkpoint_load(text, &b.model, NULL, NULL, NULL, NULL, NULL, &err);
    printf("text file: \"%s\"\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, text));
    free_run_state(&a);
    free_run_state(&b);
}

static void collect_warning(const char *msg, void *ctx)
{
    char *all = ctx;
    size_t used = strlen(all);
    snprintf(all + used, 4096 - used, "%s\n", msg);
}

static int exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void read_latest(const char *run, char *out, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/latest", run);
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (f && !fgets(out, (int)cap, f))
        out[0] = '\0';
    if (f)
        fclose(f);
}

static void test_run_dir(const char *dir)
{
    char run[512], found[1024], warnings[4096] = "", written[1024], text[256];
    fer_err err;
    snprintf(run, sizeof run, "%s/runs/a", dir);
    int rc = fer_checkpoint_find_latest(run, found, sizeof found, collect_warning, warnings, &err);
    printf("missing run dir: \"%s\"\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, run));

    fer_checkpoint_name(found, sizeof found, "r", 7, 1234);
    CHECK(!strcmp(found, "r/ckpt-0007-001234.h5"));

    /* Epochs 1..3 with keep_last 2; epoch 2 is the best. */
    for (int epoch = 1; epoch <= 3; epoch++) {
        run_state r;
        make_run_state(&r, 40 + (uint32_t)epoch, epoch, 0);
        fer_checkpoint_out out = out_of(&r);
        rc = fer_checkpoint_save_run(run, &out, epoch == 2, 2, written, sizeof written, &err);
        CHECK_MSG(rc == FER_OK, "%s", err.msg);
        free_run_state(&r);
    }
    read_latest(run, text, sizeof text);
    printf("after epochs 1-3, keep_last 2: ckpt-0001 %d, ckpt-0002 %d, ckpt-0003 %d, best.h5 %d, latest = %s",
           exists(run, "ckpt-0001-000000.h5"), exists(run, "ckpt-0002-000000.h5"),
           exists(run, "ckpt-0003-000000.h5"), exists(run, "best.h5"), text);
    CHECK(!exists(run, "ckpt-0001-000000.h5") && exists(run, "ckpt-0002-000000.h5") &&
          exists(run, "ckpt-0003-000000.h5") && exists(run, "best.h5"));
    CHECK(!strcmp(text, "ckpt-0003-000000.h5\n") && strstr(written, "ckpt-0003-000000.h5"));
    CHECK(count_tmp_files(run) == 0);
    fer_train_state st;
    snprintf(found, sizeof found, "%s/best.h5", run);
    rc = fer_checkpoint_probe(found, &st, &err);
    printf("best.h5 holds epoch %d\n", rc == FER_OK ? st.epoch : -1);
    CHECK(rc == FER_OK && st.epoch == 2);

    rc = fer_checkpoint_find_latest(run, found, sizeof found, collect_warning, warnings, &err);
    printf("find_latest: %s (warnings: \"%s\")\n", rc == FER_OK ? found : err.msg, warnings);
    CHECK(rc == FER_OK && strstr(found, "ckpt-0003-000000.h5") && !warnings[0]);

    /* A mid-epoch checkpoint of epoch 3 is newer than its start. */
    run_state mid;
    make_run_state(&mid, 50, 3, 40);
    fer_checkpoint_out out = out_of(&mid);
    rc = fer_checkpoint_save_run(run, &out, 0, 2, written, sizeof written, &err);
    CHECK(rc == FER_OK && !exists(run, "ckpt-0002-000000.h5"));
    rc = fer_checkpoint_find_latest(run, found, sizeof found, collect_warning, warnings, &err);
    printf("after a mid-epoch save: find_latest %s\n", rc == FER_OK ? found : err.msg);
    CHECK(rc == FER_OK && strstr(found, "ckpt-0003-000040.h5"));

    /* A crash between the rename and the `latest` update: the newest file
       by state wins, with a warning. */
    char pointer[1024];
    snprintf(pointer, sizeof pointer, "%s/latest", run);
    fixture_write_text(pointer, "ckpt-0003-000000.h5\n");
    rc = fer_checkpoint_find_latest(run, found, sizeof found, collect_warning, warnings, &err);
    printf("stale latest: find_latest %s; warnings: %s", rc == FER_OK ? found : err.msg, warnings);
    CHECK(rc == FER_OK && strstr(found, "ckpt-0003-000040.h5") && strstr(warnings, "'latest' names"));
    warnings[0] = '\0';

    /* Crash damage: the newest is truncated; fall back with a warning. */
    char newest[1024], tmp[1100];
    snprintf(newest, sizeof newest, "%s/ckpt-0003-000040.h5", run);
    snprintf(tmp, sizeof tmp, "%s.copy", newest);
    copy_file(newest, tmp, file_size(newest) / 2);
    rename(tmp, newest);
    rc = fer_checkpoint_find_latest(run, found, sizeof found, collect_warning, warnings, &err);
    printf("newest truncated: find_latest %s; warnings:\n%s", rc == FER_OK ? found : err.msg, warnings);
    CHECK(rc == FER_OK && strstr(found, "ckpt-0003-000000.h5"));
    CHECK(strstr(warnings, "ckpt-0003-000040.h5") && strstr(warnings, "truncated or corrupt"));

    /* Only broken files left: an error that says so. */
    snprintf(newest, sizeof newest, "%s/ckpt-0003-000000.h5", run);
    fixture_write_text(newest, "garbage");
    warnings[0] = '\0';
    rc = fer_checkpoint_find_latest(run, found, sizeof found, collect_warning, warnings, &err);
    printf("all broken: \"%s\"\n", rc == FER_OK ? found : err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, "no valid checkpoint"));
    free_run_state(&mid);
}

int main(void)
{
    char dir[512];
    if (fixture_tmpdir(dir, sizeof dir, "checkpoint") != 0) {
        printf("cannot create a temporary directory\n");
        return 1;
    }
    test_round_trip(dir);
    test_damaged(dir);
    test_run_dir(dir);
    fixture_rmtree(dir);
    return check_report("test_checkpoint");
}
