/* fer eval: accuracy, confusion matrix and per-class scores of a checkpoint. */
#include "commands.h"
#include "options.h"

#include "fer/confusion.h"
#include "fer/dist.h"
#include "fer/evaluate.h"
#include "fer/explain.h"
#include "fer/log.h"
#include "fer/run_data.h"
#include "fer/saved_model.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: fer eval --checkpoint CKPT [--data PATH] [--usage NAME] [--out PREFIX] [--batch N]\n"
    "                [--tta none|flip|tencrop]\n\n"
    "Evaluates a checkpoint (its stored configuration rebuilds the model) on one usage\n"
    "of a data set: prints accuracy, the confusion matrix (counts and row-normalized\n"
    "percentages), per-class precision, recall and F1 and their macro averages, and\n"
    "writes PREFIX.csv (the matrix), PREFIX.json (everything) and PREFIX.png (the\n"
    "matrix as a heat map with the counts and row percentages in its cells).\n"
    "Runs under mpirun with the samples split across ranks; the result is the same.\n\n"
    "  --data PATH     dataset HDF5 from `fer prepare`, or synthetic (default: the config's data.path)\n"
    "  --usage NAME    Training, PublicTest or PrivateTest (default: the config's data.test_usage)\n"
    "  --out PREFIX    output files prefix (default: <checkpoint dir>/eval-<usage>)\n"
    "  --batch N       global batch size (default: the config's data.batch_size)\n"
    "  --tta MODE      test-time augmentation, softmax averaged over the views: none (default;\n"
    "                  the centre crop when the model was trained with augment.random_crop),\n"
    "                  flip (also the mirror), tencrop (four corner and the centre crops of\n"
    "                  augment.random_crop.size, each also mirrored)\n";

typedef struct {
    const char *checkpoint, *data, *usage, *out, *batch, *tta;
    long batch_size; /* --batch parsed; 0: the config's */
    fer_tta tta_mode;
} eval_args;

static int run(const eval_args *a, const fer_dist *d)
{
    fer_config *cfg = calloc(1, sizeof *cfg);
    fer_model m;
    fer_err err;
    if (!cfg)
        return cli_fail("out of memory");
    int rc = FER_EXIT_FAILURE;
    /* Each rank reads the checkpoint itself; they agree before loading the
       data together. */
    int failed = fer_saved_model_open(a->checkpoint, cfg, &m, NULL, &err) != FER_OK;
    if (fer_dist_any_failed(d, failed, &err)) {
        if (!failed)
            fer_model_free(&m);
        free(cfg);
        return cli_fail("%s", err.msg);
    }
    if (a->usage)
        snprintf(cfg->data.test_usage, sizeof cfg->data.test_usage, "%s", a->usage);
    long batch = a->batch_size ? a->batch_size : cfg->data.batch_size;
    fer_run_data data;
    if (fer_run_data_load(&data, cfg, d, a->data, 1u << FER_SPLIT_TEST, &err)) {
        rc = cli_fail("%s", err.msg);
    } else {
        fer_eval_result r;
        fer_view views[FER_TTA_MAX_VIEWS];
        int n_views =
            fer_tta_views(views, a->tta_mode, &cfg->augment.random_crop, cfg->model.input_size, &err);
        if (n_views < 0)
            fer_fail_wrap(&err, "%s", a->checkpoint);
        if (n_views < 0 || fer_evaluate_views(&m, d, &data.set[FER_SPLIT_TEST], (int)batch,
                                              cfg->model.preprocess_caffe, views, n_views, &r, NULL, &err)) {
            rc = cli_fail("%s", err.msg);
        } else {
            rc = FER_EXIT_OK;
            if (d->rank == 0) {
                const char *names[FER_MAX_CLASSES];
                for (int k = 0; k < cfg->model.classes; k++)
                    names[k] = data.ds.class_names[k];
                fer_confusion c = {cfg->model.classes, names, r.confusion};
                char title[256], prefix[FER_FILE_PATH_LEN];
                /* A test-time mode names itself in the title and the default
                   file names, beside (not over) the plain evaluation. */
                char tta[32] = "";
                if (a->tta_mode != FER_TTA_NONE)
                    snprintf(tta, sizeof tta, "-tta-%s", a->tta);
                snprintf(title, sizeof title, "%s %s%s%s", a->checkpoint, cfg->data.test_usage, tta,
                         data.ds.synthetic ? " (synthetic data set)" : "");
                fer_confusion_print(stdout, &c, title);
                printf("loss %.4f\n", r.loss);
                if (a->out) {
                    snprintf(prefix, sizeof prefix, "%s", a->out);
                } else {
                    const char *slash = strrchr(a->checkpoint, '/');
                    int dir = slash ? (int)(slash - a->checkpoint) : 1;
                    snprintf(prefix, sizeof prefix, "%.*s/eval-%s%s", dir, slash ? a->checkpoint : ".",
                             cfg->data.test_usage, tta);
                }
                char png[FER_FILE_PATH_LEN + sizeof ".png"];
                snprintf(png, sizeof png, "%s.png", prefix);
                if (fer_confusion_write(&c, prefix, r.loss, &err) ||
                    fer_confusion_heatmap_png(&c, title, png, &err))
                    rc = cli_fail("%s", err.msg);
                else
                    printf("wrote %s.csv, %s.json and %s\n", prefix, prefix, png);
            }
        }
        fer_run_data_free(&data);
    }
    fer_model_free(&m);
    free(cfg);
    return rc;
}

int cmd_eval(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FER_EXIT_OK;
    }
    eval_args a = {0};
    cli_flag flags[] = {{"--checkpoint", 1, &a.checkpoint, NULL},
                        {"--data", 1, &a.data, NULL},
                        {"--usage", 1, &a.usage, NULL},
                        {"--out", 1, &a.out, NULL},
                        {"--batch", 1, &a.batch, NULL},
                        {"--tta", 1, &a.tta, NULL},
                        {NULL, 0, NULL, NULL}};
    cli_options o = {0};
    int rc = cli_parse_flags(&o, "eval", argc, argv, flags);
    if (rc != FER_EXIT_OK)
        return rc;
    if (o.n_positional > 0)
        return cli_usage("eval", "unexpected argument '%s'", o.positional[0]);
    if (!a.checkpoint)
        return cli_usage("eval", "--checkpoint is required");
    if ((rc = cli_number_long("eval", "--batch", a.batch, 1, INT_MAX, &a.batch_size)) != FER_EXIT_OK)
        return rc;
    fer_err err;
    if (a.tta && fer_tta_parse(&a.tta_mode, a.tta, &err))
        return cli_usage("eval", "%s", err.msg);
    fer_dist d;
    if (fer_dist_init(&d, NULL, NULL, &err))
        return cli_fail("%s", err.msg);
    if (d.rank != 0)
        fer_log_set_level(FER_LOG_QUIET);
    rc = run(&a, &d);
    fer_dist_finalize(&d);
    return rc;
}
