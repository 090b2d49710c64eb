/* The checkpoint's parts for learning-rate schedules and the EMA: the
   plateau state and the EMA's update count round-trip bit for bit; with an
   EMA, /model_weights hold the average (what evaluation loads) and
   /training_weights the weights training resumes from; a checkpoint written
   before these existed (no such attributes) loads with a fresh plateau and no
   EMA; an impossible plateau state is refused. */
#include "check.h"
#include "h5_fixtures.h"

#include "fer/checkpoint.h"

#include <hdf5.h>
#include <math.h>

typedef struct {
    fer_model model;
    float *ema_params, *ema_stats, *slot0;
    fer_train_state state;
} saved;

static void make_saved(saved *s)
{
    fer_model_cfg cfg;
    fer_err err;
    fixture_small_model(&cfg, 6);
    CHECK(fer_model_init(&s->model, &cfg, 5, &err) == FER_OK);
    fixture_fill(s->model.params, s->model.n_params, 1);
    fixture_fill(s->model.stats, s->model.n_stats, 2);
    s->ema_params = malloc(s->model.n_params * sizeof(float));
    s->ema_stats = malloc(s->model.n_stats * sizeof(float));
    s->slot0 = calloc(s->model.n_params, sizeof(float));
    fixture_fill(s->ema_params, s->model.n_params, 3);
    fixture_fill(s->ema_stats, s->model.n_stats, 4);
    s->state = (fer_train_state){.epoch = 7,
                                 .phase = 0,
                                 .lr = 0.0025,
                                 .best_val_acc = 0.5,
                                 .best_epoch = 3,
                                 .plateau = {0.0025, 0.71875, 2, 1},
                                 .ema_updates = 123456789L};
}

static void free_saved(saved *s)
{
    fer_model_free(&s->model);
    free(s->ema_params);
    free(s->ema_stats);
    free(s->slot0);
}

static fer_checkpoint_out out_of(const saved *s, int with_ema)
{
    return (fer_checkpoint_out){.model = &s->model,
                                .slot0 = s->slot0,
                                .state = &s->state,
                                .config_yaml = "seed: 1\n",
                                .ema_params = with_ema ? s->ema_params : NULL,
                                .ema_stats = with_ema ? s->ema_stats : NULL};
}

static int same(const float *a, const float *b, size_t n)
{
    return !memcmp(a, b, n * sizeof(float));
}

static void test_ema_round_trip(const char *dir)
{
    saved a, b;
    make_saved(&a);
    make_saved(&b);
    fixture_fill(b.model.params, b.model.n_params, 9);
    char path[512];
    fer_err err;
    snprintf(path, sizeof path, "%s/ema.h5", dir);
    fer_checkpoint_out out = out_of(&a, 1);
    CHECK_MSG(fer_checkpoint_save(path, &out, &err) == FER_OK, "%s", err.msg);
    fer_train_state st;
    int rc = fer_checkpoint_load(path, &b.model, b.slot0, NULL, &st, NULL, NULL, &err);
    int model_is_ema = rc == FER_OK && same(b.model.params, a.ema_params, a.model.n_params) &&
                       same(b.model.stats, a.ema_stats, a.model.n_stats);
    int present = 0;
    rc = rc == FER_OK ? fer_checkpoint_load_training_weights(path, &b.model, &present, &err) : rc;
    int training = rc == FER_OK && same(b.model.params, a.model.params, a.model.n_params) &&
                   same(b.model.stats, a.model.stats, a.model.n_stats);
    const fer_plateau_state *p = &st.plateau;
    printf("with EMA: load %s; /model_weights = the EMA: %s; /training_weights present %d and = the weights: "
           "%s; "
           "plateau lr %g best %g wait %d cooldown %d, ema_updates %ld\n",
           rc == FER_OK ? "ok" : err.msg, model_is_ema ? "yes" : "no", present, training ? "yes" : "no",
           p->lr, p->best, p->wait, p->cooldown, st.ema_updates);
    CHECK(rc == FER_OK && model_is_ema && present && training);
    CHECK(p->lr == 0.0025 && p->best == 0.71875 && p->wait == 2 && p->cooldown == 1);
    CHECK(st.ema_updates == 123456789L);
    free_saved(&a);
    free_saved(&b);
}

/* A checkpoint from before the plateau and the EMA: their attributes removed. */
static void test_older_checkpoint(const char *dir)
{
    saved a, b;
    make_saved(&a);
    make_saved(&b);
    char path[512];
    fer_err err;
    snprintf(path, sizeof path, "%s/old.h5", dir);
    fer_checkpoint_out out = out_of(&a, 0);
    CHECK_MSG(fer_checkpoint_save(path, &out, &err) == FER_OK, "%s", err.msg);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "state", H5P_DEFAULT);
    static const char *const later[] = {"plateau_lr", "plateau_best", "plateau_wait", "plateau_cooldown",
                                        "ema_updates"};
    int removed = 0;
    for (int i = 0; i < 5; i++)
        removed += H5Adelete(g, later[i]) >= 0;
    H5Gclose(g);
    H5Fclose(f);
    fer_train_state st;
    int rc = fer_checkpoint_load(path, &b.model, b.slot0, NULL, &st, NULL, NULL, &err);
    int present = 1;
    fixture_fill(b.model.params, b.model.n_params, 9);
    int rc2 = fer_checkpoint_load_training_weights(path, &b.model, &present, &err);
    int untouched = b.model.params[0] == fixture_value(9, 0);
    const fer_plateau_state *p = &st.plateau;
    printf("older checkpoint (%d attributes removed): load %s; plateau lr %g best %g wait %d cooldown %d, "
           "ema_updates %ld; training weights present %d, model untouched %d\n",
           removed, rc == FER_OK ? "ok" : err.msg, p->lr, p->best, p->wait, p->cooldown, st.ema_updates,
           present, untouched);
    CHECK(removed == 5 && rc == FER_OK && rc2 == FER_OK);
    CHECK(p->lr == 0 && p->best == -INFINITY && p->wait == 0 && p->cooldown == 0 && st.ema_updates == 0);
    CHECK(!present && untouched);
    CHECK(st.epoch == 7 && st.lr == 0.0025);
    free_saved(&a);
    free_saved(&b);
}

static void test_impossible_plateau(const char *dir)
{
    saved a;
    make_saved(&a);
    a.state.plateau.wait = -1;
    char path[512];
    fer_err err;
    snprintf(path, sizeof path, "%s/bad.h5", dir);
    fer_checkpoint_out out = out_of(&a, 0);
    CHECK_MSG(fer_checkpoint_save(path, &out, &err) == FER_OK, "%s", err.msg);
    fer_train_state st;
    int rc = fer_checkpoint_probe(path, &st, &err);
    printf("plateau wait -1: %s\n", rc == FER_OK ? "loaded" : err.msg);
    CHECK(rc != FER_OK && strstr(err.msg, "plateau") && strstr(err.msg, "bad.h5"));
    free_saved(&a);
}

int main(void)
{
    (void)fixture_write_text; /* a shared fixture this test does not need */
    char dir[512];
    if (fixture_tmpdir(dir, sizeof dir, "schedule_checkpoint") != 0) {
        printf("cannot create a temporary directory\n");
        return 1;
    }
    test_ema_round_trip(dir);
    test_older_checkpoint(dir);
    test_impossible_plateau(dir);
    fixture_rmtree(dir);
    return check_report("test_checkpoint_schedule");
}
