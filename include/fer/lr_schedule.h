/* The learning rate within a phase: constant (Keras time-based decay, as
   before), cosine annealing to a floor, or a reduction when the validation
   accuracy stops improving (Keras ReduceLROnPlateau), each behind the
   phase's linear warm-up (optimizer.warmup_epochs). */
#ifndef FER_LR_SCHEDULE_H
#define FER_LR_SCHEDULE_H

#include "fer/config.h"

/* A plateau schedule's memory, kept in the checkpoint's training state. */
typedef struct {
    double lr;    /* current level; 0: the phase's optimizer.lr (nothing reduced yet) */
    double best;  /* best validation accuracy of the phase, -inf before the first */
    int wait;     /* non-improving epochs since the best or the last reduction */
    int cooldown; /* epochs of cooldown left after a reduction */
} fer_plateau_state;

/* The state a phase starts with. */
void fer_plateau_reset(fer_plateau_state *s);

/* Learning rate of update `iteration` (0-based within the phase) of a phase
   of phase_steps updates whose warm-up lasts warmup_steps:
   constant: fer_lr_at (Keras decay and warm-up), unchanged;
   cosine:   warm-up to lr, then min_lr + (lr - min_lr) (1 + cos(pi k / K)) / 2
             at update k = iteration - warmup_steps of K = phase_steps - warmup_steps;
   plateau:  the plateau's level (pl->lr, or lr before any reduction) times
             the warm-up factor. */
double fer_phase_lr(const fer_phase_cfg *ph, const fer_plateau_state *pl, long iteration, long warmup_steps,
                    long phase_steps);

/* A plateau schedule at the end of an epoch, with Keras ReduceLROnPlateau's
   rules (mode max): a cooldown epoch counts down and clears the wait; an
   accuracy above best + min_delta becomes the best and clears the wait;
   otherwise, out of cooldown, the wait grows, and when it reaches patience
   a level above min_lr becomes max(level * factor, min_lr), the cooldown
   restarts and the wait clears. phase_lr is the phase's optimizer.lr.
   Returns 1 when the level was reduced. */
int fer_plateau_step(fer_plateau_state *s, const fer_lr_schedule_cfg *c, double phase_lr, double monitored);

#endif
