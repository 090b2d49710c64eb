/* Learning-rate schedules within a phase (fer/lr_schedule.h). */
#include "fer/lr_schedule.h"

#include "fer/optimizer.h"

#include <math.h>

void fer_plateau_reset(fer_plateau_state *s)
{
    s->lr = 0;
    s->best = -INFINITY;
    s->wait = 0;
    s->cooldown = 0;
}

static double warmup_factor(long iteration, long warmup_steps)
{
    return warmup_steps > 0 && iteration < warmup_steps ? (double)(iteration + 1) / (double)warmup_steps
                                                        : 1.0;
}

/* After the warm-up; a resume with a larger batch may find the phase
   shorter than the updates it has done: the floor, then. */
static double cosine_lr(const fer_phase_cfg *ph, long iteration, long warmup_steps, long phase_steps)
{
    double lr = ph->optimizer.lr, floor = ph->lr_schedule.min_lr;
    if (iteration < warmup_steps)
        return lr * warmup_factor(iteration, warmup_steps);
    long span = phase_steps - warmup_steps;
    double progress = span > 0 ? (double)(iteration - warmup_steps) / (double)span : 1.0;
    if (progress > 1)
        progress = 1;
    return floor + (lr - floor) * 0.5 * (1.0 + cos(M_PI * progress));
}

double fer_phase_lr(const fer_phase_cfg *ph, const fer_plateau_state *pl, long iteration, long warmup_steps,
                    long phase_steps)
{
    switch (ph->lr_schedule.name) {
    case FER_LR_COSINE:
        return cosine_lr(ph, iteration, warmup_steps, phase_steps);
    case FER_LR_PLATEAU:
        return (pl->lr > 0 ? pl->lr : ph->optimizer.lr) * warmup_factor(iteration, warmup_steps);
    default:
        return fer_lr_at(&ph->optimizer, iteration, warmup_steps);
    }
}

int fer_plateau_step(fer_plateau_state *s, const fer_lr_schedule_cfg *c, double phase_lr, double monitored)
{
    if (s->cooldown > 0) {
        s->cooldown--;
        s->wait = 0;
    }
    /* NaN never improves (a diverged model). */
    if (monitored > s->best + c->min_delta) {
        s->best = monitored;
        s->wait = 0;
        return 0;
    }
    if (s->cooldown > 0)
        return 0;
    s->wait++;
    double level = s->lr > 0 ? s->lr : phase_lr;
    if (s->wait < c->patience || !(level > c->min_lr))
        return 0;
    s->lr = fmax(level * c->factor, c->min_lr);
    s->cooldown = c->cooldown;
    s->wait = 0;
    return 1;
}
