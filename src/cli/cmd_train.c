/* fer train: every rank runs this; rank 0 speaks. */
#include "commands.h"
#include "options.h"

#include "fer/dist.h"
#include "fer/log.h"
#include "fer/trainer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: fer train CONFIG [--set KEY=VALUE]... [--run-dir DIR] [--resume auto|PATH]\n"
    "                 [--fresh-if-unreadable] [--weights PATH] [--stop-after-steps N] [--print-config]\n\n"
    "Trains the model of CONFIG on its data, data-parallel over the MPI ranks it runs on\n"
    "(mpirun -np P fer train ..., or srun --mpi=pmix): each rank computes its shard of\n"
    "every global batch (data.batch_size) and gradients are averaged every step.\n"
    "Rank 0 writes to the run directory: ckpt-*.h5 checkpoints, best.h5, latest,\n"
    "steps.csv and epochs.csv; it holds the directory's lock (.lock) while it runs, so a\n"
    "second run on the same directory fails, naming the holder's host and pid. Without\n"
    "--resume, a directory that already holds a run's checkpoints is refused.\n\n"
    "  --set KEY=VALUE      override a config key (e.g. schedule.0.epochs=3), repeatable\n"
    "  --run-dir DIR        same as --set run_dir=DIR\n"
    "  --resume auto        continue from the newest valid checkpoint in the run directory\n"
    "                       (start fresh when it holds no checkpoint; refuse when it holds\n"
    "                       checkpoints none of which is readable); --resume PATH: from that file\n"
    "  --fresh-if-unreadable  with --resume auto: start fresh (replacing the unreadable\n"
    "                       checkpoints and best.h5) instead of refusing\n"
    "  --weights PATH       Keras HDF5 weights to start from (same as model.weights); not\n"
    "                       used when the run resumes from a checkpoint (fer says so)\n"
    "  --stop-after-steps N behave as if a stop signal arrived at global step N\n"
    "  --print-config       print the resolved configuration as YAML and exit\n\n"
    "SIGTERM or SIGUSR1 stops all ranks at the next step boundary: rank 0 writes a\n"
    "checkpoint and fer exits 75 (resume with --resume auto).\n"
    "Exit codes: 0 finished, 1 failure, 2 usage error, 75 stopped after a checkpoint.\n";

static int report(const fer_dist *d, const fer_train_result *r, const fer_config *c)
{
    if (d->rank != 0)
        return r->outcome == FER_TRAIN_STOPPED ? FER_EXIT_STOPPED : FER_EXIT_OK;
    if (r->outcome == FER_TRAIN_STOPPED) {
        printf("stopped after a checkpoint (%s); resume with: fer train ... --resume auto\n", r->checkpoint);
        return FER_EXIT_STOPPED;
    }
    printf("finished %d epochs: validation accuracy %.4f, best %.4f; checkpoints in %s\n", r->epochs_done,
           r->last_val_acc, r->best_val_acc, c->run_dir);
    return FER_EXIT_OK;
}

int cmd_train(int argc, char **argv, const cli_setup *setup)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FER_EXIT_OK;
    }
    const char *run_dir = NULL, *resume = NULL, *weights = NULL, *stop_after = NULL;
    int print_config = 0, fresh_if_unreadable = 0;
    cli_flag flags[] = {{"--run-dir", 1, &run_dir, NULL},
                        {"--resume", 1, &resume, NULL},
                        {"--fresh-if-unreadable", 0, NULL, &fresh_if_unreadable},
                        {"--weights", 1, &weights, NULL},
                        {"--stop-after-steps", 1, &stop_after, NULL},
                        {"--print-config", 0, NULL, &print_config},
                        {NULL, 0, NULL, NULL}};
    cli_options *o = calloc(1, sizeof *o);
    if (!o)
        return cli_fail("out of memory");
    int rc = cli_parse_config_options(o, "train", argc, argv, flags);
    if (rc == FER_EXIT_OK && o->n_positional > 0)
        rc = cli_usage("train", "unexpected argument '%s'", o->positional[0]);
    if (rc == FER_EXIT_OK && fresh_if_unreadable && (!resume || strcmp(resume, "auto")))
        rc = cli_usage("train", "--fresh-if-unreadable only applies to --resume auto");
    if (rc == FER_EXIT_OK && run_dir)
        snprintf(o->config.run_dir, sizeof o->config.run_dir, "%s", run_dir);
    long stop_steps = 0;
    if (rc == FER_EXIT_OK)
        rc = cli_number_long("train", "--stop-after-steps", stop_after, 1, LONG_MAX, &stop_steps);
    if (rc == FER_EXIT_OK && print_config) {
        char *yaml = fer_config_to_yaml(&o->config);
        fputs(yaml ? yaml : "", stdout);
        free(yaml);
        free(o);
        return FER_EXIT_OK;
    }
    if (rc != FER_EXIT_OK) {
        free(o);
        return rc;
    }
    /* Before MPI_Init (which keeps these handlers), so a signal that comes
       while MPI starts still ends in a checkpoint and exit 75. */
    fer_stop_install();
    fer_dist dist;
    fer_err err = {{0}};
    if (fer_dist_init(&dist, NULL, NULL, &err)) {
        free(o);
        return cli_fail("%s", err.msg);
    }
    if (dist.rank != 0)
        fer_log_set_level(FER_LOG_QUIET);
    char threads_desc[256];
    if (fer_dist_blas_threads(&dist, o->config.distribution.threads, threads_desc, sizeof threads_desc,
                              &err)) {
        fer_dist_finalize(&dist);
        free(o);
        return cli_fail("%s", err.msg);
    }
    fer_info("%s", threads_desc);
    fer_train_opts to = {.config = &o->config,
                         .dist = &dist,
                         .resume = resume,
                         .fresh_if_unreadable = fresh_if_unreadable,
                         .weights = weights,
                         .stop_after_steps = stop_steps,
                         .blas_info = setup->blas};
    fer_train_result result;
    if (fer_train(&to, &result, &err)) {
        rc = cli_fail("%s", err.msg);
    } else {
        rc = report(&dist, &result, &o->config);
    }
    fer_dist_finalize(&dist);
    free(o);
    return rc;
}
