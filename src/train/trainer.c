/* The training loop: phases, steps, validation, checkpoints, stop requests. */
#include "fer/trainer.h"

#include "fer/bn_recompute.h"
#include "fer/checkpoint.h"
#include "fer/ema.h"
#include "fer/evaluate.h"
#include "fer/grad_buckets.h"
#include "fer/loader.h"
#include "fer/log.h"
#include "fer/lr_schedule.h"
#include "fer/metrics_log.h"
#include "fer/model.h"
#include "fer/optimizer.h"
#include "fer/path.h"
#include "fer/progress.h"
#include "fer/run_data.h"
#include "fer/run_lock.h"
#include "fer/weights.h"
#include "resume_position.h"
#include "soft_loss.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const fer_train_opts *o;
    const fer_config *cfg;
    const fer_dist *dist;
    fer_model model;
    fer_optimizer_state opt;       /* n_params each */
    float *stats_before_step;      /* BN moving statistics, restored when a step is skipped */
    float *ema_params, *ema_stats; /* train.ema's average, NULL without */
    fer_train_state st;
    fer_history hist;
    fer_run_data data;
    fer_loader *loader;
    float class_weights[FER_MAX_CLASSES];
    float *sample_weights;
    fer_soft_loss soft; /* label smoothing, mixup */
    char *config_yaml;
    fer_progress progress;
    FILE *steps_csv;
    long batches_per_epoch;
    int use_class_weights;
    fer_train_result *result;
    fer_run_lock lock; /* rank 0's, held from setup to teardown */
    fer_grad_buckets buckets;
} trainer;

static int any_failed(trainer *t, int failed, fer_err *err)
{
    return fer_dist_any_failed(t->dist, failed, err);
}

static const fer_phase_cfg *phase_cfg(const trainer *t)
{
    return &t->cfg->schedule[t->st.phase];
}

static int first_trainable_layer(const trainer *t, const fer_phase_cfg *ph)
{
    if (!strcmp(ph->trainable, "all"))
        return 0;
    int l = fer_model_find(&t->model, ph->trainable);
    return l < 0 ? 0 : l;
}

static void broadcast_state(trainer *t)
{
    const fer_dist *d = t->dist;
    fer_dist_bcast(d, t->model.params, t->model.n_params * sizeof(float), 0);
    fer_dist_bcast(d, t->model.stats, t->model.n_stats * sizeof(float), 0);
    fer_dist_bcast(d, t->opt.m, t->model.n_params * sizeof(float), 0);
    fer_dist_bcast(d, t->opt.v, t->model.n_params * sizeof(float), 0);
    fer_dist_bcast(d, &t->st, sizeof t->st, 0);
    if (t->ema_params) {
        fer_dist_bcast(d, t->ema_params, t->model.n_params * sizeof(float), 0);
        fer_dist_bcast(d, t->ema_stats, t->model.n_stats * sizeof(float), 0);
    }
}

/* The EMA starts as the weights it averages. */
static void ema_start(trainer *t)
{
    if (!t->ema_params)
        return;
    memcpy(t->ema_params, t->model.params, t->model.n_params * sizeof(float));
    memcpy(t->ema_stats, t->model.stats, t->model.n_stats * sizeof(float));
}

/* Exchanges the model's weights and statistics with the EMA's (buffers of
   the same layout, so the model computes with the average until the next
   exchange). */
static void ema_exchange(trainer *t)
{
    float *p = t->model.params, *s = t->model.stats;
    t->model.params = t->ema_params;
    t->model.stats = t->ema_stats;
    t->ema_params = p;
    t->ema_stats = s;
}

static void warn_checkpoint(const char *msg, void *ctx)
{
    (void)ctx;
    fer_info("%s", msg);
}

/* --resume auto: the newest valid checkpoint of the run directory into path
   ("" to start fresh). A directory whose checkpoints are all unreadable is
   refused unless the caller asked to start fresh anyway: a resume that finds
   nothing it can read must not overwrite an earlier run. */
static int find_resume_point(trainer *t, char *path, size_t cap, fer_err *err)
{
    const char *dir = t->cfg->run_dir;
    fer_err why;
    if (fer_checkpoint_find_latest(dir, path, cap, warn_checkpoint, NULL, &why) == FER_OK)
        return FER_OK;
    path[0] = '\0';
    if (!fer_checkpoint_run_has_files(dir)) {
        fer_info("no checkpoint to resume in %s: starting fresh", dir);
        return FER_OK;
    }
    if (!t->o->fresh_if_unreadable)
        return fer_fail(err,
                        "%s; --resume auto refuses to start over and overwrite an earlier run's checkpoints "
                        "and best.h5 (move them away, or add --fresh-if-unreadable to start fresh anyway)",
                        why.msg);
    fer_info("%s; starting fresh (--fresh-if-unreadable): the earlier run's checkpoints and best.h5 will be "
             "replaced",
             why.msg);
    return FER_OK;
}

/* Loads the checkpoint at path and places the run within its epoch. */
static int resume_from(trainer *t, const char *path, fer_err *err)
{
    char *stored_yaml = NULL, note[600];
    fer_history_free(&t->hist);
    if (fer_checkpoint_load(path, &t->model, t->opt.m, t->opt.v, &t->st, &t->hist, &stored_yaml, err))
        return FER_ERROR;
    /* /model_weights is the EMA when the checkpoint has training weights
       beside it, else the training weights, from which an EMA starts. */
    ema_start(t);
    int had_ema = 0;
    if (fer_checkpoint_load_training_weights(path, &t->model, &had_ema, err)) {
        free(stored_yaml);
        return FER_ERROR;
    }
    if (t->ema_params && !had_ema)
        fer_info("%s holds no EMA of the weights: train.ema starts from its weights", path);
    long saved = t->st.step_in_epoch;
    t->st.step_in_epoch = fer_resume_step(saved, stored_yaml, t->cfg, t->data.set[FER_SPLIT_TRAIN].n,
                                          t->batches_per_epoch, note, sizeof note);
    free(stored_yaml);
    /* The phase is recomputed from the epoch; a schedule shortened since
       may not have the checkpoint's. */
    fer_info("resuming from %s: epoch %d, step %ld of the epoch, phase %s", path, t->st.epoch + 1, saved,
             t->st.phase < t->cfg->n_phases ? t->cfg->schedule[t->st.phase].name : "(beyond the schedule)");
    if (note[0])
        fer_info("epoch %d: %s", t->st.epoch + 1, note);
    const char *weights = t->o->weights ? t->o->weights : "";
    if (*weights)
        fer_info("--weights %s not used: the run continues from the checkpoint's weights", weights);
    return FER_OK;
}

/* Rank 0 resolves and loads the checkpoint to resume from, or the pretrained
   weights of a fresh run; the other ranks receive the state by broadcast. */
static int restore(trainer *t, fer_err *err)
{
    const char *resume = t->o->resume;
    const char *weights = t->o->weights ? t->o->weights : t->cfg->model.weights;
    int failed = 0, resumed = 0;
    if (t->dist->rank == 0) {
        char path[FER_FILE_PATH_LEN] = "";
        if (resume && !strcmp(resume, "auto"))
            failed = find_resume_point(t, path, sizeof path, err) != FER_OK;
        else if (resume && *resume)
            snprintf(path, sizeof path, "%s", resume);
        if (failed) {
            /* refused: nothing loaded */
        } else if (*path) {
            failed = resume_from(t, path, err) != FER_OK;
            resumed = !failed;
        } else if (*weights) {
            fer_weights_report rep;
            failed = fer_weights_load(&t->model, weights, 0, &rep, err) != 0;
            if (failed) {
                fer_fail_wrap(err,
                              "pretrained weights (model.weights or --weights; \"\" trains from scratch)");
            } else {
                fer_info("loaded %d layers from %s", rep.loaded, weights);
                if (rep.missing)
                    fer_info("kept the initialization of %d layers absent from the file: %s", rep.missing,
                             rep.missing_names);
                if (rep.ignored)
                    fer_info("ignored %d layers of the file absent from the model: %s", rep.ignored,
                             rep.ignored_names);
            }
        }
    }
    if (any_failed(t, failed, err))
        return FER_ERROR;
    if (!resumed)
        ema_start(t);
    fer_dist_bcast(t->dist, &resumed, sizeof resumed, 0);
    broadcast_state(t);
    return FER_OK;
}

/* The kernel of the model's products (include/fer/precision.h): rank 0's
   choice, which every rank must be able to run, so that the ranks of a
   cluster with mixed CPUs compute one training run. */
static int choose_products(trainer *t, fer_err *err)
{
    fer_products mine = FER_PRODUCTS_FP32;
    int failed = fer_precision_resolve(t->cfg->precision, getenv("FER_BF16_KERNEL"), &mine, err) != FER_OK;
    if (any_failed(t, failed, err))
        return FER_ERROR;
    int chosen = (int)mine;
    fer_dist_bcast(t->dist, &chosen, sizeof chosen, 0);
    failed = chosen != FER_PRODUCTS_FP32 && !fer_bf16_kernel_runs((fer_products)chosen);
    if (failed)
        fer_fail(err, "rank %d cannot run rank 0's %s products", t->dist->rank,
                 fer_products_name((fer_products)chosen));
    if (any_failed(t, failed, err))
        return FER_ERROR;
    fer_model_set_products(&t->model, (fer_products)chosen);
    return FER_OK;
}

/* A fresh run (no --resume) into a directory holding another run's
   checkpoints would replace them, its metrics and best.h5 one epoch at a
   time: a forgotten --resume must not cost a finished run. */
static int refuse_overwrite(const trainer *t, fer_err *err)
{
    const char *resume = t->o->resume;
    if ((resume && *resume) || !fer_checkpoint_run_has_files(t->cfg->run_dir))
        return FER_OK;
    return fer_fail(err,
                    "%s holds an earlier run's checkpoints: continue it with --resume auto, or train into "
                    "another --run-dir (a fresh run does not overwrite one)",
                    t->cfg->run_dir);
}

/* The optimizer's, the loss's and the EMA's buffers for batches of up to
   shard_max samples on this rank. */
static int alloc_step_state(trainer *t, int shard_max, fer_err *err)
{
    const fer_config *c = t->cfg;
    size_t np = t->model.n_params ? t->model.n_params : 1;
    size_t ns = t->model.n_stats ? t->model.n_stats : 1;
    t->opt.m = calloc(np, sizeof(float));
    t->opt.v = calloc(np, sizeof(float));
    t->stats_before_step = malloc(ns * sizeof(float));
    t->sample_weights = malloc((size_t)shard_max * sizeof(float));
    t->config_yaml = fer_config_to_yaml(c);
    if (!t->opt.m || !t->opt.v || !t->stats_before_step || !t->sample_weights || !t->config_yaml)
        return fer_fail(err, "out of memory for optimizer buffers");
    if (fer_soft_loss_init(&t->soft, &c->train, c->model.classes, shard_max, err))
        return FER_ERROR;
    if (c->train.ema > 0) {
        t->ema_params = malloc(np * sizeof(float));
        t->ema_stats = malloc(ns * sizeof(float));
        if (!t->ema_params || !t->ema_stats)
            return fer_fail(err, "out of memory for the EMA of the weights (train.ema)");
    }
    return FER_OK;
}

static int setup(trainer *t, fer_err *err)
{
    const fer_config *c = t->cfg;
    const fer_dist *d = t->dist;
    /* The lock comes before anything reads or cleans the directory. */
    t->lock.fd = -1;
    int failed = d->rank == 0 && (fer_make_dirs(c->run_dir, err) ||
                                  fer_run_lock_take(&t->lock, c->run_dir, err) || refuse_overwrite(t, err));
    if (any_failed(t, failed, err))
        return FER_ERROR;
    if (fer_run_data_load(&t->data, c, d, NULL, (1u << FER_SPLIT_TRAIN) | (1u << FER_SPLIT_VAL), err))
        return FER_ERROR;
    if (t->data.set[FER_SPLIT_TRAIN].n == 0)
        return fer_fail(err, "%s: no %s samples to train on", c->data.path, c->data.train_usage);
    for (int p = 0; p < c->n_phases; p++)
        if (c->schedule[p].lr_schedule.name == FER_LR_PLATEAU && t->data.set[FER_SPLIT_VAL].n == 0)
            return fer_fail(
                err,
                "%s: schedule.%d.lr_schedule: plateau monitors the validation accuracy, and there "
                "are no %s samples",
                c->source, p, c->data.val_usage);
    /* What one rank alone can fail at (memory, mostly) is agreed on before
       the next collective call, so that the other ranks stop with it rather
       than wait in that call for ever. */
    failed = fer_model_init(&t->model, &c->model, c->seed, err) != FER_OK;
    if (any_failed(t, failed, err) || choose_products(t, err))
        return FER_ERROR;
    /* In long, and never more than the training set: a batch size near
       INT_MAX must neither overflow nor ask for memory no batch can use. */
    long train_n = t->data.set[FER_SPLIT_TRAIN].n;
    long global_max = c->data.batch_size < train_n ? c->data.batch_size : train_n;
    int shard_max = (int)((global_max + d->size - 1) / d->size);
    failed = fer_model_reserve(&t->model, shard_max, err) != FER_OK;
    if (any_failed(t, failed, err))
        return FER_ERROR;
    char desc[256];
    failed = fer_grad_buckets_init(&t->buckets, d, &t->model, &c->distribution, desc, sizeof desc, err) ||
             alloc_step_state(t, shard_max, err);
    if (any_failed(t, failed, err))
        return FER_ERROR;
    if (d->rank == 0)
        fer_info("%s", desc);
    t->st.seed = c->seed;
    t->st.best_val_acc = -1;
    t->st.best_epoch = -1;
    fer_plateau_reset(&t->st.plateau);
    t->use_class_weights = c->data.class_weights == FER_CLASS_WEIGHTS_BALANCED;
    if (t->use_class_weights)
        fer_class_weights_balanced(&t->data.set[FER_SPLIT_TRAIN], c->model.classes, t->class_weights);
    fer_loader_opts lo = {.images = &t->data.set[FER_SPLIT_TRAIN],
                          .batch_size = c->data.batch_size,
                          .rank = d->rank,
                          .nranks = d->size,
                          .channels = c->model.channels,
                          .caffe = c->model.preprocess_caffe,
                          .shuffle = 1,
                          .augment = c->augment.enabled,
                          .aug = c->augment,
                          .seed = c->seed,
                          .prefetch = c->data.prefetch,
                          .view = fer_view_center(&c->augment.random_crop, c->model.input_size),
                          .mixup_alpha = c->train.mixup_alpha,
                          .mixup_prob = c->train.mixup_prob};
    failed = fer_loader_create(&t->loader, &lo, err) != FER_OK;
    if (any_failed(t, failed, err))
        return FER_ERROR;
    t->batches_per_epoch = fer_loader_batches(t->loader);
    if (d->rank == 0)
        fer_checkpoint_remove_stale_tmp(c->run_dir);
    if (restore(t, err))
        return FER_ERROR;
    if (d->rank == 0) {
        fer_progress_init(&t->progress, stdout, &c->logging);
        if (fer_steps_open(&t->steps_csv, c->run_dir, t->st.global_step, err))
            failed = 1;
    }
    return any_failed(t, failed, err) ? FER_ERROR : FER_OK;
}

static void teardown(trainer *t)
{
    const fer_grad_buckets *gb = &t->buckets;
    if (t->dist->rank == 0 && t->dist->size > 1 && gb->steps > 0)
        fer_info(
            "gradient sum: %.1f ms per step left after backward, forward and backward %.1f ms (mean of %ld "
            "steps)",
            1e3 * gb->exposed_seconds / (double)gb->steps, 1e3 * gb->compute_seconds / (double)gb->steps,
            gb->steps);
    fer_grad_buckets_free(&t->buckets);
    if (t->steps_csv)
        fclose(t->steps_csv);
    fer_loader_free(t->loader);
    fer_run_data_free(&t->data);
    fer_model_free(&t->model);
    fer_history_free(&t->hist);
    free(t->opt.m);
    free(t->opt.v);
    free(t->stats_before_step);
    free(t->ema_params);
    free(t->ema_stats);
    free(t->sample_weights);
    fer_soft_loss_free(&t->soft);
    free(t->config_yaml);
    fer_run_lock_release(&t->lock);
}

/* Rank 0 writes; everyone learns whether it worked. */
static int checkpoint(trainer *t, int is_best, fer_err *err)
{
    int failed = 0;
    if (t->dist->rank == 0) {
        fer_checkpoint_out c = {.model = &t->model,
                                .slot0 = t->opt.m,
                                .slot1 = t->opt.v,
                                .state = &t->st,
                                .history = &t->hist,
                                .config_yaml = t->config_yaml,
                                .ema_params = t->ema_params,
                                .ema_stats = t->ema_stats};
        failed = fer_checkpoint_save_run(t->cfg->run_dir, &c, is_best, t->cfg->checkpoint.keep_last,
                                         t->result->checkpoint, sizeof t->result->checkpoint, err) != 0;
        if (!failed)
            fer_info("checkpoint %s", t->result->checkpoint);
    }
    return any_failed(t, failed, err) ? FER_ERROR : FER_OK;
}

static int all_finite(const float *v, size_t n)
{
    float acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += v[i] * 0.0f; /* NaN or Inf anywhere makes acc NaN */
    return acc == 0.0f;
}

typedef struct {
    double loss_sum, correct, global_n;
    int stop, skipped;
} step_result;

/* Every rank sees the same reduced loss and gradient, so all take the same
   branch. Stopping writes nothing: the newest checkpoint stays the last good
   state. Skipping leaves parameters, optimizer state and statistics as they
   were before the step. */
static int nonfinite_step(trainer *t, const char *what, step_result *sr, fer_err *err)
{
    if (t->cfg->logging.on_nonfinite == FER_NONFINITE_STOP) {
        fer_fail(err,
                 "non-finite %s at epoch %d step %ld (global step %ld); the last good checkpoint is kept "
                 "(logging.on_nonfinite: skip skips such steps)",
                 what, t->st.epoch + 1, t->st.step_in_epoch + 1, t->st.global_step + 1);
        if (t->dist->rank != 0)
            err->msg[0] = '\0'; /* rank 0 says it once */
        return FER_ERROR;
    }
    if (t->model.n_stats)
        memcpy(t->model.stats, t->stats_before_step, t->model.n_stats * sizeof(float));
    if (t->dist->rank == 0)
        fer_info("skipped step %ld of epoch %d: non-finite %s", t->st.step_in_epoch + 1, t->st.epoch + 1,
                 what);
    sr->skipped = 1;
    sr->loss_sum = sr->correct = sr->global_n = 0;
    return FER_OK;
}

/* The learning rate of update `iteration` of the current phase. */
static double phase_lr(const trainer *t, long iteration)
{
    const fer_phase_cfg *ph = phase_cfg(t);
    long warmup = (long)(ph->optimizer.warmup_epochs * (double)t->batches_per_epoch);
    return fer_phase_lr(ph, &t->st.plateau, iteration, warmup, (long)ph->epochs * t->batches_per_epoch);
}

static int train_step(trainer *t, const fer_batch *b, step_result *sr, fer_err *err)
{
    fer_model *m = &t->model;
    const fer_phase_cfg *ph = phase_cfg(t);
    fer_pass pass = {.training = 1,
                     .dropout = 1,
                     .seed = t->cfg->seed,
                     .step = (uint64_t)t->st.global_step,
                     .sample_ids = b->ids,
                     .reducer = fer_dist_reducer(t->dist),
                     .skip_unread_outputs = 1};
    /* With overlap, buckets of the gradient are summed by a communication
       thread as backward finishes each layer (distribution.overlap). */
    fer_grad_buckets_begin(&t->buckets);
    pass.grad_ready = fer_grad_buckets_ready;
    pass.grad_ctx = &t->buckets;
    const float *sw = NULL;
    if (t->use_class_weights) {
        for (int i = 0; i < b->n; i++)
            t->sample_weights[i] = t->class_weights[b->labels[i]];
        sw = t->sample_weights;
    }
    /* The forward pass moves the BatchNorm statistics: a skipped step must
       not leave its non-finite batch in them. */
    if (m->n_stats)
        memcpy(t->stats_before_step, m->stats, m->n_stats * sizeof(float));
    fer_model_forward(m, b->x, b->n, &pass);
    int correct = 0;
    double loss = t->soft.on ? fer_soft_loss_step(&t->soft, m, b,
                                                  t->use_class_weights ? t->class_weights : NULL, &correct)
                             : fer_model_loss(m, b->labels, sw, b->n, b->global_n, &correct, NULL);
    fer_model_backward(m, &pass, NULL);
    size_t off = m->trainable_offset, count = m->n_params - off;
    fer_grad_buckets_finish(&t->buckets); /* the trainable suffix, summed over ranks */
    /* Loss, hits and the stop flag travel in one reduction per step. */
    int stop = fer_stop_requested() ||
               (t->o->stop_after_steps > 0 && t->st.global_step + 1 >= t->o->stop_after_steps);
    double sums[3] = {loss, (double)correct, (double)stop};
    fer_dist_sum_doubles(t->dist, sums, 3);
    sr->loss_sum = sums[0];
    sr->correct = sums[1];
    sr->global_n = b->global_n;
    sr->stop = sums[2] > 0;
    sr->skipped = 0;
    if (!isfinite(sums[0]) || !all_finite(m->grads + off, count))
        return nonfinite_step(t, isfinite(sums[0]) ? "gradient" : "loss", sr, err);
    t->st.lr = phase_lr(t, t->st.phase_iterations);
    fer_optimizer_state trained = {t->opt.m + off, t->opt.v + off};
    fer_optimizer_step(&ph->optimizer, m->params + off, m->grads + off, &trained, count, t->st.lr,
                       t->st.phase_iterations);
    if (t->ema_params) {
        /* Frozen weights never change, so their average stays what it was. */
        double decay = fer_ema_decay(&t->cfg->train, t->st.ema_updates);
        fer_ema_update(t->ema_params + off, m->params + off, count, decay);
        fer_ema_update(t->ema_stats, m->stats, m->n_stats, decay);
        t->st.ema_updates++;
    }
    t->st.phase_iterations++;
    t->st.global_step++;
    return FER_OK;
}

static void enter_phase(trainer *t)
{
    int phase = fer_schedule_phase(t->cfg, t->st.epoch, NULL);
    if (phase != t->st.phase) {
        /* The seed recompiles a fresh optimizer at the unfreeze. */
        t->st.phase = phase;
        t->st.phase_iterations = 0;
        fer_plateau_reset(&t->st.plateau);
        memset(t->opt.m, 0, t->model.n_params * sizeof(float));
        memset(t->opt.v, 0, t->model.n_params * sizeof(float));
    }
    fer_model_set_trainable(&t->model, first_trainable_layer(t, phase_cfg(t)));
}

/* Rank 0's account of an agreed stop (the signal may have reached another
   rank only). */
static void log_stop(const trainer *t)
{
    if (t->dist->rank != 0)
        return;
    int sig = fer_stop_signal();
    char why[64];
    if (sig)
        snprintf(why, sizeof why, "signal %d", sig);
    else if (t->o->stop_after_steps > 0 && t->st.global_step >= t->o->stop_after_steps)
        snprintf(why, sizeof why, "--stop-after-steps %ld", t->o->stop_after_steps);
    else
        snprintf(why, sizeof why, "a signal to another rank");
    fer_info("stop requested (%s): checkpointing after step %ld of epoch %d", why, t->st.step_in_epoch,
             t->st.epoch + 1);
}

/* A stop request agreed by every rank outside a step (whose reduction
   carries the flag otherwise). */
static int stop_agreed(const trainer *t)
{
    return fer_dist_any(t->dist, fer_stop_requested());
}

/* Runs the rest of the current epoch; *stopped is set when a stop was agreed. */
static int run_epoch_steps(trainer *t, int *stopped, fer_err *err)
{
    fer_loader_start_epoch(t->loader, t->st.epoch, t->st.step_in_epoch);
    double t_last = fer_now();
    /* An epoch with no step left (resumed at its end) still hears a stop. */
    if (t->st.step_in_epoch >= t->batches_per_epoch && stop_agreed(t)) {
        log_stop(t);
        *stopped = 1;
    }
    for (const fer_batch *b; (b = fer_loader_next(t->loader)) != NULL;) {
        step_result sr;
        if (train_step(t, b, &sr, err))
            return FER_ERROR;
        double now = fer_now(), dt = now - t_last;
        t_last = now;
        t->st.step_in_epoch++;
        t->st.epoch_loss_sum += sr.loss_sum;
        t->st.epoch_correct += sr.correct;
        t->st.epoch_seen += sr.global_n;
        t->st.epoch_seconds += dt;
        if (t->dist->rank == 0) {
            double ips = dt > 0 ? sr.global_n / dt : 0;
            /* Skipped steps have no loss: NaN, not a misleading 0. */
            double loss = t->st.epoch_seen ? t->st.epoch_loss_sum / t->st.epoch_seen : NAN;
            double acc = t->st.epoch_seen ? t->st.epoch_correct / t->st.epoch_seen : NAN;
            fer_steps_append(t->steps_csv, t->st.epoch + 1, t->st.step_in_epoch, t->st.global_step,
                             t->st.phase, sr.global_n ? sr.loss_sum / sr.global_n : NAN,
                             sr.global_n ? sr.correct / sr.global_n : NAN, t->st.lr, ips);
            /* Whole rows at every step boundary: readable while training runs
               and after a kill -9. */
            fflush(t->steps_csv);
            fer_progress_step(&t->progress, t->st.step_in_epoch, loss, acc,
                              t->st.epoch_seconds > 0 ? t->st.epoch_seen / t->st.epoch_seconds : 0, t->st.lr);
        }
        int last = t->st.step_in_epoch == t->batches_per_epoch;
        if (sr.stop)
            log_stop(t);
        if (sr.stop && !last) {
            *stopped = 1;
            return FER_OK;
        }
        if (sr.stop)
            *stopped = 1; /* finish the epoch's bookkeeping, then stop */
        int every = t->cfg->checkpoint.every_steps;
        if (!last && every > 0 && t->st.step_in_epoch % every == 0 && checkpoint(t, 0, err))
            return FER_ERROR;
    }
    return FER_OK;
}

/* A plateau schedule hears the epoch's validation accuracy. Every rank
   computes the same step from the same reduced accuracy; rank 0's result is
   broadcast all the same, so that the ranks cannot drift apart. */
static void plateau_epoch_end(trainer *t, double val_acc)
{
    const fer_phase_cfg *ph = phase_cfg(t);
    if (ph->lr_schedule.name != FER_LR_PLATEAU)
        return;
    double before = fer_phase_lr(ph, &t->st.plateau, LONG_MAX, 0, 0); /* the level, past any warm-up */
    int reduced = fer_plateau_step(&t->st.plateau, &ph->lr_schedule, ph->optimizer.lr, val_acc);
    fer_dist_bcast(t->dist, &t->st.plateau, sizeof t->st.plateau, 0);
    if (reduced && t->dist->rank == 0)
        fer_info("epoch %d: validation accuracy %.4f, no improvement over %.4f for %d epoch(s): lr %g -> %g",
                 t->st.epoch + 1, val_acc, t->st.plateau.best, ph->lr_schedule.patience, before,
                 t->st.plateau.lr);
}

static int finish_epoch(trainer *t, int stopping, fer_err *err)
{
    const fer_config *c = t->cfg;
    fer_eval_result val = {0};
    /* With an EMA, the average is what gets its statistics recomputed and
       what is validated. */
    if (t->ema_params)
        ema_exchange(t);
    if (c->train.bn_recompute_batches > 0) {
        fer_pass base = {.seed = c->seed, .reducer = fer_dist_reducer(t->dist)};
        fer_bn_recompute(&t->model, t->loader, t->st.epoch, c->train.bn_recompute_batches, &base);
    }
    fer_view center = fer_view_center(&c->augment.random_crop, c->model.input_size);
    int failed = t->data.set[FER_SPLIT_VAL].n > 0 &&
                 fer_evaluate_view(&t->model, t->dist, &t->data.set[FER_SPLIT_VAL], c->data.batch_size,
                                   c->model.preprocess_caffe, &center, &val, NULL, err);
    if (t->ema_params)
        ema_exchange(t);
    if (failed)
        return FER_ERROR;
    plateau_epoch_end(t, val.accuracy);
    double seen = t->st.epoch_seen > 0 ? t->st.epoch_seen : NAN; /* every step skipped */
    fer_epoch_metrics row = {.epoch = t->st.epoch + 1,
                             .phase = t->st.phase,
                             .lr = t->st.lr,
                             .train_loss = t->st.epoch_loss_sum / seen,
                             .train_acc = t->st.epoch_correct / seen,
                             .val_loss = val.loss,
                             .val_acc = val.accuracy,
                             .seconds = t->st.epoch_seconds};
    failed = fer_history_append(&t->hist, &row) ? fer_fail(err, "out of memory for the metrics history") : 0;
    if (any_failed(t, failed, err))
        return FER_ERROR;
    /* A diverged model (non-finite validation loss) is never the best. */
    int is_best = isfinite(val.loss) && val.accuracy > t->st.best_val_acc;
    if (is_best) {
        t->st.best_val_acc = val.accuracy;
        t->st.best_epoch = t->st.epoch + 1;
    }
    t->result->last_val_acc = val.accuracy;
    t->result->best_val_acc = t->st.best_val_acc;
    if (t->dist->rank == 0)
        fer_progress_epoch_end(&t->progress, row.train_loss, row.train_acc, row.val_loss, row.val_acc,
                               row.seconds, row.seconds > 0 ? t->st.epoch_seen / row.seconds : 0);
    t->st.epoch++;
    t->st.step_in_epoch = 0;
    t->st.epoch_loss_sum = t->st.epoch_correct = t->st.epoch_seen = t->st.epoch_seconds = 0;
    failed = t->dist->rank == 0 && fer_epochs_write(c->run_dir, &t->hist, err);
    if (any_failed(t, failed, err))
        return FER_ERROR;
    int total = fer_schedule_total_epochs(c);
    if (t->st.epoch % c->checkpoint.every_epochs == 0 || t->st.epoch == total || is_best || stopping)
        return checkpoint(t, is_best, err);
    return FER_OK;
}

static void log_start(const trainer *t)
{
    const fer_config *c = t->cfg;
    if (t->dist->rank != 0)
        return;
    fer_info("%d rank(s), global batch %d, %ld steps per epoch, %d training and %d validation samples%s",
             t->dist->size, c->data.batch_size, t->batches_per_epoch, t->data.set[FER_SPLIT_TRAIN].n,
             t->data.set[FER_SPLIT_VAL].n, t->data.ds.synthetic ? " (synthetic data set)" : "");
    if (t->o->blas_info)
        fer_info("%s", t->o->blas_info);
    fer_info("products: %s (precision: %s)", fer_products_name(t->model.products),
             fer_precision_name(c->precision));
    fer_info("run directory %s", c->run_dir);
}

static int train_loop(trainer *t, fer_err *err)
{
    int total = fer_schedule_total_epochs(t->cfg), stopped = 0;
    while (t->st.epoch < total && !stopped) {
        enter_phase(t);
        if (t->dist->rank == 0)
            fer_progress_epoch_begin(&t->progress, t->st.epoch, total, t->batches_per_epoch,
                                     phase_cfg(t)->name, phase_lr(t, t->st.phase_iterations));
        if (run_epoch_steps(t, &stopped, err))
            return FER_ERROR;
        if (t->st.step_in_epoch == t->batches_per_epoch) {
            if (finish_epoch(t, stopped, err))
                return FER_ERROR;
        } else if (!stopped) {
            /* Never loop on an epoch that cannot end. */
            return fer_fail(err, "epoch %d ended at step %ld of %ld: the training loop lost its place",
                            t->st.epoch + 1, t->st.step_in_epoch, t->batches_per_epoch);
        } else if (checkpoint(t, 0, err)) {
            return FER_ERROR;
        }
    }
    t->result->outcome = stopped && t->st.epoch < total ? FER_TRAIN_STOPPED : FER_TRAIN_FINISHED;
    t->result->epochs_done = t->st.epoch;
    t->result->best_val_acc = t->st.best_val_acc;
    return FER_OK;
}

int fer_train(const fer_train_opts *o, fer_train_result *r, fer_err *err)
{
    trainer t;
    memset(&t, 0, sizeof t);
    memset(r, 0, sizeof *r);
    t.o = o;
    t.cfg = o->config;
    t.dist = o->dist;
    t.result = r;
    int rc = setup(&t, err);
    if (rc == FER_OK) {
        log_start(&t);
        rc = train_loop(&t, err);
    }
    teardown(&t);
    return rc;
}
