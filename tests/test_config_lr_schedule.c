/* The configuration keys of learning-rate schedules and the EMA: defaults
   (constant, Keras ReduceLROnPlateau's values, no EMA), a plateau and a
   cosine phase and train.ema read and survive a dump and reload, and the
   refusals: a key the schedule does not take, a decay beside a cosine or
   plateau schedule, a cosine floor above the lr, an EMA decay of 1. */
#include "check.h"

#include "fer/config.h"

#include <string.h>

static const char *const base =
    "model:\n"
    "  layers:\n"
    "    - {name: d, type: dense}\n"
    "schedule:\n"
    "  - {name: a, epochs: 2, lr_schedule: {name: plateau, factor: 0.75, patience: 5,"
    " cooldown: 1, min_lr: 1e-5, min_delta: 0.001}}\n"
    "  - {name: b, epochs: 3, optimizer: {lr: 0.1, warmup_epochs: 0.5},"
    " lr_schedule: {name: cosine, min_lr: 0.001}}\n"
    "  - {name: c, epochs: 1}\n"
    "train: {ema: 0.999, ema_warmup: true}\n";

static void test_read_and_round_trip(void)
{
    fer_config c, back;
    fer_err err = {{0}};
    int rc = fer_config_load_string(&c, base, "lr.yaml", &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    const fer_lr_schedule_cfg *a = &c.schedule[0].lr_schedule, *b = &c.schedule[1].lr_schedule,
                              *d = &c.schedule[2].lr_schedule;
    printf("read: a %d (factor %g patience %d cooldown %d min_lr %g min_delta %g), b %d (min_lr %g), c %d "
           "(factor %g patience %d min_delta %g), ema %g warm-up %d\n",
           a->name, a->factor, a->patience, a->cooldown, a->min_lr, a->min_delta, b->name, b->min_lr, d->name,
           d->factor, d->patience, d->min_delta, c.train.ema, c.train.ema_warmup);
    CHECK(a->name == FER_LR_PLATEAU && a->factor == 0.75 && a->patience == 5 && a->cooldown == 1 &&
          a->min_lr == 1e-5 && a->min_delta == 0.001);
    CHECK(b->name == FER_LR_COSINE && b->min_lr == 0.001);
    CHECK(d->name == FER_LR_CONSTANT && d->factor == 0.1 && d->patience == 10 && d->min_delta == 1e-4);
    CHECK(c.train.ema == 0.999 && c.train.ema_warmup == 1);
    fer_config defaults;
    fer_config_defaults(&defaults);
    CHECK(defaults.train.ema == 0 && defaults.train.ema_warmup == 0);
    char *yaml = fer_config_to_yaml(&c);
    rc = yaml ? fer_config_load_string(&back, yaml, "dump.yaml", &err) : FER_ERROR;
    /* Which optimizer keys a phase gave itself is the parser's, and a dump gives them all. */
    for (int p = 0; p < FER_MAX_PHASES; p++)
        back.schedule[p].optimizer_given = c.schedule[p].optimizer_given = 0;
    int same = rc == FER_OK && !memcmp(back.schedule, c.schedule, sizeof c.schedule) &&
               !memcmp(&back.train, &c.train, sizeof c.train);
    printf("dump and reload: %s; dump has '%s'\n", same ? "equal" : "DIFFERENT",
           yaml && strstr(yaml, "lr_schedule: {name: constant}") ? "lr_schedule: {name: constant}" : "?");
    CHECK(same);
    CHECK(yaml && strstr(yaml, "lr_schedule: {name: constant}"));
    free(yaml);
}

/* Applies the overrides to base; returns the message ("" when accepted). */
static const char *refusal(const char *const *sets, int n, fer_err *err)
{
    fer_config c;
    err->msg[0] = '\0';
    if (fer_config_load_string(&c, base, "lr.yaml", err) != FER_OK)
        return err->msg;
    for (int i = 0; i < n; i++)
        if (fer_config_set(&c, sets[i], err) != FER_OK)
            return err->msg;
    if (fer_config_validate(&c, err) != FER_OK)
        return err->msg;
    err->msg[0] = '\0';
    return err->msg;
}

static void test_refusals(void)
{
    static const struct {
        const char *sets[2];
        const char *want; /* in the message */
    } cases[] = {
        {{"schedule.2.lr_schedule.patience=3", NULL}, "a constant schedule takes no 'patience'"},
        {{"schedule.1.lr_schedule.factor=0.5", NULL}, "a cosine schedule takes no 'factor'"},
        {{"schedule.1.optimizer.decay=1e-6", NULL}, "schedule.1.lr_schedule: a cosine schedule replaces"},
        {{"optimizer.decay=1e-6", NULL}, "schedule.0.lr_schedule: a plateau schedule replaces"},
        {{"schedule.1.lr_schedule.min_lr=0.5", NULL}, "schedule.1.lr_schedule.min_lr: 0.5 is above"},
        {{"schedule.0.lr_schedule.factor=1", NULL}, "schedule.0.lr_schedule.factor"},
        {{"train.ema=1", NULL}, "train.ema"},
        {{"schedule.0.lr_schedule.name=linear", NULL}, "constant, cosine, plateau"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fer_err err;
        const char *msg = refusal(cases[i].sets, 1, &err);
        printf("--set %s: %s\n", cases[i].sets[0], msg[0] ? msg : "(accepted)");
        CHECK_MSG(strstr(msg, cases[i].want) != NULL, "want '%s'", cases[i].want);
    }
    /* Switching a phase to constant drops its plateau keys (they no longer apply). */
    fer_err err;
    static const char *const to_constant[] = {"schedule.0.lr_schedule={name: constant}"};
    const char *msg = refusal(to_constant, 1, &err);
    printf("--set %s: %s\n", to_constant[0], msg[0] ? msg : "(accepted)");
    CHECK(!msg[0]);
}

int main(void)
{
    test_read_and_round_trip();
    test_refusals();
    return check_report("test_config_lr_schedule");
}
