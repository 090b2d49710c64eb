#include "fer/optimizer.h"

#include <math.h>

double fer_lr_at(const fer_optimizer_cfg *o, long iteration, long warmup_steps)
{
    double lr = o->lr / (1.0 + o->decay * (double)iteration);
    if (warmup_steps > 0 && iteration < warmup_steps)
        lr *= (double)(iteration + 1) / (double)warmup_steps;
    return lr;
}

int fer_optimizer_slots(const fer_optimizer_cfg *o)
{
    return o->name == FER_OPT_ADAM ? 2 : 1;
}

static void sgd_step(const fer_optimizer_cfg *o, float *p, const float *g, float *v, size_t count, float lr)
{
    float mom = (float)o->momentum, wd = (float)o->weight_decay;
    for (size_t i = 0; i < count; i++) {
        float gi = g[i] + wd * p[i];
        float vi = mom * v[i] - lr * gi;
        v[i] = vi;
        p[i] += o->nesterov ? mom * vi - lr * gi : vi;
    }
}

static void adam_step(const fer_optimizer_cfg *o, float *p, const float *g, float *m, float *v, size_t count,
                      double lr, long iteration)
{
    double t = (double)iteration + 1.0;
    float lr_t = (float)(lr * sqrt(1.0 - pow(o->beta2, t)) / (1.0 - pow(o->beta1, t)));
    float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->epsilon, wd = (float)o->weight_decay;
    for (size_t i = 0; i < count; i++) {
        float gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps);
    }
}

void fer_optimizer_step(const fer_optimizer_cfg *o, float *params, const float *grads,
                        const fer_optimizer_state *s, size_t count, double lr, long iteration)
{
    if (o->name == FER_OPT_ADAM)
        adam_step(o, params, grads, s->m, s->v, count, lr, iteration);
    else
        sgd_step(o, params, grads, s->m, count, (float)lr);
}

int fer_schedule_phase(const fer_config *c, int epoch, int *phase_first_epoch)
{
    int first = 0;
    for (int i = 0; i < c->n_phases; i++) {
        if (epoch < first + c->schedule[i].epochs || i == c->n_phases - 1) {
            if (phase_first_epoch)
                *phase_first_epoch = first;
            return i;
        }
        first += c->schedule[i].epochs;
    }
    if (phase_first_epoch)
        *phase_first_epoch = 0;
    return 0;
}

int fer_schedule_total_epochs(const fer_config *c)
{
    int total = 0;
    for (int i = 0; i < c->n_phases; i++)
        total += c->schedule[i].epochs;
    return total;
}
