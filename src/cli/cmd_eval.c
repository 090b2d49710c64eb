/* fer eval: accuracy, confusion matrix and per-class scores of a checkpoint,
   or of an ensemble of checkpoints (their probabilities averaged). */
#include "commands.h"
#include "options.h"

#include "fer/confusion.h"
#include "fer/dist.h"
#include "fer/evaluate.h"
#include "fer/explain.h"
#include "fer/log.h"
#include "fer/run_data.h"
#include "fer/saved_model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: fer eval --checkpoint CKPT [--checkpoint CKPT ...] [--data PATH] [--usage NAME]\n"
    "                [--out PREFIX] [--batch N] [--tta none|flip|tencrop] [--probs FILE]\n\n"
    "Evaluates a checkpoint (its stored configuration rebuilds the model) on one usage\n"
    "of a data set: prints accuracy, the confusion matrix (counts and row-normalized\n"
    "percentages), per-class precision, recall and F1 and their macro averages, and\n"
    "writes PREFIX.csv (the matrix), PREFIX.json (everything) and PREFIX.png (the\n"
    "matrix as a heat map with the counts and row percentages in its cells).\n"
    "Runs under mpirun with the samples split across ranks; the result is the same.\n\n"
    "  --checkpoint CKPT  the model; given several times (up to 16), an ensemble: each\n"
    "                  model is evaluated as it would be alone, and their softmax\n"
    "                  probabilities are averaged with equal weights\n"
    "  --data PATH     dataset HDF5 from `fer prepare`, or synthetic (default: the config's data.path)\n"
    "  --usage NAME    Training, PublicTest or PrivateTest (default: the config's data.test_usage)\n"
    "  --out PREFIX    output files prefix (default: <checkpoint dir>/eval-<usage>, and\n"
    "                  -ensemble<N> after it for N checkpoints; the first one's dir)\n"
    "  --batch N       global batch size (default: the config's data.batch_size)\n"
    "  --tta MODE      test-time augmentation, softmax averaged over the views: none (default;\n"
    "                  the centre crop when the model was trained with augment.random_crop),\n"
    "                  flip (also the mirror), tencrop (four corner and the centre crops of\n"
    "                  augment.random_crop.size, each also mirrored)\n"
    "  --probs FILE    also write the scored probabilities as CSV: image (index in the\n"
    "                  set), label, then one column per class\n";

typedef struct {
    const char *checkpoints[CLI_MAX_REPEATS];
    int n_checkpoints;
    const char *data, *usage, *out, *batch, *tta, *probs;
    long batch_size; /* --batch parsed; 0: the config's */
    fer_tta tta_mode;
} eval_args;

/* The test set as the first member saw it, and the sum of the members'
   probabilities over it. */
typedef struct {
    long n;
    int classes, synthetic;
    uint8_t *labels;
    double *sum;           /* n x classes */
    float *probs;          /* n x classes: one member's, then the mean */
    fer_eval_result alone; /* the last member's own result, from its logits */
    char usage[64], names[FER_MAX_CLASSES][64];
    char source[FER_PATH_LEN + 64]; /* where the images come from */
} ensemble;

/* The images a member scores: --data or its config's data set (for the
   synthetic one, the run seed it is generated from) and the usage. */
static void data_source(char *out, size_t size, const fer_config *cfg, const char *data)
{
    const char *path = data ? data : cfg->data.path;
    if (!strcmp(path, "synthetic"))
        snprintf(out, size, "synthetic (seed %llu) %s", (unsigned long long)cfg->seed, cfg->data.test_usage);
    else
        snprintf(out, size, "%s %s", path, cfg->data.test_usage);
}

static int take_first(ensemble *e, const fer_run_data *data, const fer_config *cfg, const char *data_arg,
                      fer_err *err)
{
    const fer_image_set *s = &data->set[FER_SPLIT_TEST];
    e->n = s->n;
    e->classes = cfg->model.classes;
    e->synthetic = data->ds.synthetic;
    snprintf(e->usage, sizeof e->usage, "%s", cfg->data.test_usage);
    data_source(e->source, sizeof e->source, cfg, data_arg);
    for (int k = 0; k < e->classes; k++)
        snprintf(e->names[k], sizeof e->names[k], "%s", data->ds.class_names[k]);
    size_t cells = (size_t)e->n * e->classes + 1;
    e->labels = malloc((size_t)e->n + 1);
    e->sum = calloc(cells, sizeof *e->sum);
    e->probs = malloc(cells * sizeof *e->probs);
    if (!e->labels || !e->sum || !e->probs)
        return fer_fail(err, "out of memory for the probabilities of %ld images", e->n);
    memcpy(e->labels, s->labels, (size_t)e->n);
    return FER_OK;
}

/* A later member must score the same images, in the same order. */
static int check_same_set(const ensemble *e, const fer_image_set *s, const fer_config *cfg,
                          const char *data_arg, const char *path, fer_err *err)
{
    int classes = cfg->model.classes;
    char source[sizeof e->source];
    data_source(source, sizeof source, cfg, data_arg);
    if (strcmp(source, e->source))
        return fer_fail(
            err,
            "%s: scores %s where the first checkpoint scores %s: give every member the same data with --data "
            "and --usage",
            path, source, e->source);
    if (classes != e->classes)
        return fer_fail(
            err, "%s: %d classes where the first checkpoint has %d: an ensemble's models share their classes",
            path, classes, e->classes);
    if (s->n != e->n || memcmp(s->labels, e->labels, (size_t)e->n))
        return fer_fail(err,
                        "%s: its test set (%d images) is not the first checkpoint's (%ld): give every member "
                        "the same data with --data and --usage",
                        path, s->n, e->n);
    return FER_OK;
}

/* Evaluates member i on the data set as `fer eval` would alone; its
   probabilities go to e->probs. */
static int eval_member(ensemble *e, const eval_args *a, int i, fer_model *m, const fer_config *cfg,
                       const fer_dist *d, fer_err *err)
{
    long batch = a->batch_size ? a->batch_size : cfg->data.batch_size;
    fer_run_data data;
    if (fer_run_data_load(&data, cfg, d, a->data, 1u << FER_SPLIT_TEST, err))
        return FER_ERROR;
    const fer_image_set *s = &data.set[FER_SPLIT_TEST];
    fer_view views[FER_TTA_MAX_VIEWS];
    int n_views = fer_tta_views(views, a->tta_mode, &cfg->augment.random_crop, cfg->model.input_size, err);
    int rc = FER_OK;
    if (n_views < 0)
        rc = fer_fail_wrap(err, "%s", a->checkpoints[i]);
    else if (i == 0)
        rc = take_first(e, &data, cfg, a->data, err);
    else
        rc = check_same_set(e, s, cfg, a->data, a->checkpoints[i], err);
    if (!fer_dist_any_failed(d, rc, err))
        rc = fer_evaluate_views(m, d, s, (int)batch, cfg->model.preprocess_caffe, views, n_views, &e->alone,
                                e->probs, err);
    else
        rc = FER_ERROR;
    fer_run_data_free(&data);
    return rc;
}

/* Opens member i (every rank reads the checkpoint itself, and they agree
   before loading the data together), evaluates it and adds its
   probabilities. */
static int add_member(ensemble *e, const eval_args *a, int i, const fer_dist *d, fer_err *err)
{
    fer_config *cfg = calloc(1, sizeof *cfg);
    fer_model m;
    int failed =
        !cfg ? fer_fail(err, "out of memory") : fer_saved_model_open(a->checkpoints[i], cfg, &m, NULL, err);
    if (fer_dist_any_failed(d, failed, err)) {
        if (!failed)
            fer_model_free(&m);
        free(cfg);
        return FER_ERROR;
    }
    if (a->usage)
        snprintf(cfg->data.test_usage, sizeof cfg->data.test_usage, "%s", a->usage);
    int rc = eval_member(e, a, i, &m, cfg, d, err);
    for (size_t j = 0; rc == FER_OK && j < (size_t)e->n * e->classes; j++)
        e->sum[j] += e->probs[j];
    fer_model_free(&m);
    free(cfg);
    return rc;
}

/* One member: its own result, from its logits. Several: the score of the
   mean of their probabilities, left in e->probs. */
static void ensemble_result(ensemble *e, int members, fer_eval_result *r)
{
    if (members == 1) {
        *r = e->alone;
        return;
    }
    for (size_t j = 0; j < (size_t)e->n * e->classes; j++)
        e->probs[j] = (float)(e->sum[j] / members);
    fer_evaluate_score(r, e->probs, e->labels, e->n, e->classes);
}

/* The probabilities that were scored, one row per image in the set's order. */
static int write_probs(const ensemble *e, const char *path, fer_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fer_fail(err, "%s: cannot write (%s)", path, strerror(errno));
    fprintf(f, "image,label");
    for (int k = 0; k < e->classes; k++)
        fprintf(f, ",%s", e->names[k]);
    fprintf(f, "\n");
    for (long i = 0; i < e->n; i++) {
        fprintf(f, "%ld,%d", i, e->labels[i]);
        for (int k = 0; k < e->classes; k++)
            fprintf(f, ",%.9g", e->probs[(size_t)i * e->classes + k]);
        fprintf(f, "\n");
    }
    if (ferror(f) | fclose(f))
        return fer_fail(err, "%s: write failed", path);
    return FER_OK;
}

/* Rank 0: prints the result and writes PREFIX.csv, .json and .png. */
static int report(const ensemble *e, const fer_eval_result *r, const eval_args *a)
{
    const char *names[FER_MAX_CLASSES];
    for (int k = 0; k < e->classes; k++)
        names[k] = e->names[k];
    fer_confusion c = {e->classes, names, r->confusion};
    /* A test-time mode and an ensemble name themselves in the title and the
       default file names, beside (not over) the plain evaluation. */
    char tta[32] = "", members[32] = "", title[FER_FILE_PATH_LEN + 128], prefix[FER_FILE_PATH_LEN];
    if (a->tta_mode != FER_TTA_NONE)
        snprintf(tta, sizeof tta, "-tta-%s", a->tta);
    if (a->n_checkpoints > 1) {
        snprintf(members, sizeof members, "-ensemble%d", a->n_checkpoints);
        printf("ensemble of %d checkpoints, softmax probabilities averaged:", a->n_checkpoints);
        for (int i = 0; i < a->n_checkpoints; i++)
            printf(" %s", a->checkpoints[i]);
        printf("\n");
    }
    snprintf(title, sizeof title, "%s%s %s%s%s", a->checkpoints[0], a->n_checkpoints > 1 ? " and others" : "",
             e->usage, tta, e->synthetic ? " (synthetic data set)" : "");
    fer_confusion_print(stdout, &c, title);
    printf("loss %.4f\n", r->loss);
    if (a->out) {
        snprintf(prefix, sizeof prefix, "%s", a->out);
    } else {
        const char *first = a->checkpoints[0], *slash = strrchr(first, '/');
        int dir = slash ? (int)(slash - first) : 1;
        snprintf(prefix, sizeof prefix, "%.*s/eval-%s%s%s", dir, slash ? first : ".", e->usage, tta, members);
    }
    char png[FER_FILE_PATH_LEN + sizeof ".png"];
    snprintf(png, sizeof png, "%s.png", prefix);
    fer_err err;
    if (fer_confusion_write(&c, prefix, r->loss, &err) || fer_confusion_heatmap_png(&c, title, png, &err))
        return cli_fail("%s", err.msg);
    printf("wrote %s.csv, %s.json and %s\n", prefix, prefix, png);
    if (a->probs && write_probs(e, a->probs, &err))
        return cli_fail("%s", err.msg);
    if (a->probs)
        printf("wrote %s\n", a->probs);
    return FER_EXIT_OK;
}

static int run(const eval_args *a, const fer_dist *d)
{
    ensemble e = {0};
    fer_err err;
    int rc = FER_OK;
    for (int i = 0; rc == FER_OK && i < a->n_checkpoints; i++)
        rc = add_member(&e, a, i, d, &err);
    int status = rc ? cli_fail("%s", err.msg) : FER_EXIT_OK;
    if (rc == FER_OK && d->rank == 0) {
        fer_eval_result r;
        ensemble_result(&e, a->n_checkpoints, &r);
        status = report(&e, &r, a);
    }
    free(e.labels);
    free(e.sum);
    free(e.probs);
    return status;
}

int cmd_eval(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FER_EXIT_OK;
    }
    eval_args a = {0};
    cli_flag flags[] = {{"--checkpoint", CLI_REPEATED, a.checkpoints, &a.n_checkpoints},
                        {"--data", 1, &a.data, NULL},
                        {"--usage", 1, &a.usage, NULL},
                        {"--out", 1, &a.out, NULL},
                        {"--batch", 1, &a.batch, NULL},
                        {"--tta", 1, &a.tta, NULL},
                        {"--probs", 1, &a.probs, NULL},
                        {NULL, 0, NULL, NULL}};
    cli_options o = {0};
    int rc = cli_parse_flags(&o, "eval", argc, argv, flags);
    if (rc != FER_EXIT_OK)
        return rc;
    if (o.n_positional > 0)
        return cli_usage("eval", "unexpected argument '%s'", o.positional[0]);
    if (a.n_checkpoints == 0)
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
