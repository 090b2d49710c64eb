/* Learning-rate schedules within a phase: the cosine schedule per update
   against its closed form (warm-up, annealing, floor), the constant schedule
   against fer_lr_at, and the plateau state machine (Keras
   ReduceLROnPlateau: patience, min_delta, cooldown, min_lr) epoch by epoch. */
#include "check.h"

#include "fer/lr_schedule.h"
#include "fer/optimizer.h"

#include <math.h>
#include <string.h>

static fer_phase_cfg phase(fer_lr_schedule_kind kind, double lr)
{
    fer_phase_cfg ph;
    memset(&ph, 0, sizeof ph);
    ph.optimizer.lr = lr;
    ph.lr_schedule.name = kind;
    return ph;
}

/* 10 warm-up updates to 0.1, then 100 annealed to 0.001. */
static void test_cosine(void)
{
    fer_phase_cfg ph = phase(FER_LR_COSINE, 0.1);
    ph.lr_schedule.min_lr = 0.001;
    fer_plateau_state pl;
    fer_plateau_reset(&pl);
    const long warm = 10, total = 110;
    double worst = 0;
    for (long i = 0; i < total; i++) {
        double want =
            i < warm ? 0.1 * (double)(i + 1) / 10.0
                     : 0.001 + (0.1 - 0.001) * 0.5 * (1 + cos(3.14159265358979323846 * (i - 10) / 100.0));
        double got = fer_phase_lr(&ph, &pl, i, warm, total);
        worst = fmax(worst, fabs(got - want));
    }
    double first = fer_phase_lr(&ph, &pl, 0, warm, total), peak = fer_phase_lr(&ph, &pl, 10, warm, total);
    double mid = fer_phase_lr(&ph, &pl, 60, warm, total), last = fer_phase_lr(&ph, &pl, 109, warm, total);
    double past = fer_phase_lr(&ph, &pl, 500, warm, total);
    printf("cosine: max |lr - closed form| over 110 updates %.3g; update 0 %.6g, 10 %.6g, 60 %.6g, 109 %.6g, "
           "past the end %.6g\n",
           worst, first, peak, mid, last, past);
    CHECK(worst < 1e-15);
    CHECK(fabs(first - 0.01) < 1e-15 && peak == 0.1);
    CHECK(fabs(mid - 0.0505) < 1e-15);
    CHECK(last > 0.001 && last < 0.001 + 1e-4);
    CHECK(past == 0.001);
    /* No warm-up: the first update has the full rate. */
    CHECK(fer_phase_lr(&ph, &pl, 0, 0, 100) == 0.1);
}

static void test_constant(void)
{
    fer_phase_cfg ph = phase(FER_LR_CONSTANT, 0.05);
    ph.optimizer.decay = 1e-3;
    fer_plateau_state pl;
    fer_plateau_reset(&pl);
    pl.lr = 0.5; /* ignored */
    int same = 1;
    for (long i = 0; i < 50; i++)
        same &= fer_phase_lr(&ph, &pl, i, 7, 50) == fer_lr_at(&ph.optimizer, i, 7);
    printf("constant: 50 updates equal fer_lr_at (Keras decay and warm-up): %s\n", same ? "yes" : "no");
    CHECK(same);
}

/* patience 3, cooldown 2, factor 0.5, min_lr 0.02, min_delta 0.01, lr 0.1. */
static void test_plateau(void)
{
    fer_phase_cfg ph = phase(FER_LR_PLATEAU, 0.1);
    ph.lr_schedule = (fer_lr_schedule_cfg){FER_LR_PLATEAU, 0.02, 0.5, 3, 2, 0.01};
    fer_plateau_state pl;
    fer_plateau_reset(&pl);
    /* Epoch 1 sets the best; 0.505 is not above 0.5 + 0.01. */
    static const double acc[] = {0.5, 0.5, 0.505, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4,
                                 0.4, 0.4, 0.4,   0.4, 0.4, 0.4, 0.4, 0.6, 0.6};
    /* The lr of the epoch after each one (the reduction applies from the next epoch):
       3 non-improving epochs (2-4) reduce at 4; epochs 5-6 are the cooldown's,
       the count restarts at 6 (Keras counts the epoch the cooldown ends in),
       so 6-8 reduce at 8; 9-10 cooldown, 10-12 reduce to the floor at 12;
       after that the level is at min_lr and stays. */
    static const double want_lr[] = {0.1,   0.1,   0.1,  0.05, 0.05, 0.05, 0.05, 0.025, 0.025,
                                     0.025, 0.025, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02,  0.02};
    static const int want_reduced[] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    int n = (int)(sizeof acc / sizeof acc[0]), bad = 0;
    for (int e = 0; e < n; e++) {
        int reduced = fer_plateau_step(&pl, &ph.lr_schedule, ph.optimizer.lr, acc[e]);
        double lr = fer_phase_lr(&ph, &pl, 1000, 0, 2000);
        printf("plateau epoch %2d: val_acc %.3f -> reduced %d, lr %.4g (want %d, %.4g), best %.3f wait %d "
               "cooldown %d\n",
               e + 1, acc[e], reduced, lr, want_reduced[e], want_lr[e], pl.best, pl.wait, pl.cooldown);
        bad += reduced != want_reduced[e] || fabs(lr - want_lr[e]) > 1e-15;
    }
    CHECK(bad == 0);
    CHECK(pl.best == 0.6 && pl.wait == 1); /* epoch 18 did not beat 0.6 + 0.01 */
    /* patience 1, cooldown 2: an epoch in cooldown never counts, so after
       the first reduction (epoch 2) one comes every other epoch. */
    fer_plateau_reset(&pl);
    ph.lr_schedule.patience = 1;
    ph.lr_schedule.min_lr = 0;
    int fired[6];
    for (int e = 0; e < 6; e++)
        fired[e] = fer_plateau_step(&pl, &ph.lr_schedule, 0.1, 0.3);
    printf("plateau patience 1 cooldown 2, flat accuracy: reductions at epochs 1-6: %d%d%d%d%d%d (want "
           "010101)\n",
           fired[0], fired[1], fired[2], fired[3], fired[4], fired[5]);
    CHECK(!fired[0] && fired[1] && !fired[2] && fired[3] && !fired[4] && fired[5]);
    /* A NaN accuracy never improves; patience 0 reduces at every such epoch. */
    fer_plateau_reset(&pl);
    ph.lr_schedule.patience = 0;
    ph.lr_schedule.cooldown = 0;
    ph.lr_schedule.min_lr = 0;
    CHECK(fer_plateau_step(&pl, &ph.lr_schedule, 0.1, NAN) == 1 && pl.lr == 0.05);
    /* The warm-up scales the plateau's level. */
    CHECK(fer_phase_lr(&ph, &pl, 1, 4, 100) == 0.05 * 2 / 4);
}

int main(void)
{
    test_cosine();
    test_constant();
    test_plateau();
    return check_report("test_lr_schedule");
}
