/* fer check-reference: one training-mode forward and backward pass of our
   model compared with a reference-state file written by independent code
   (tools/torch_reference.py): logits, loss and every gradient tensor. */
#include "commands.h"
#include "options.h"

#include "fer/h5util.h"
#include "fer/model.h"
#include "fer/weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONFIG "configs/fer2013_vgg16_nin.yaml"
#define LOSS_TOL 1e-5   /* relative */
#define TENSOR_TOL 1e-4 /* max abs error / max magnitude of the reference */
/* Gradients, unlike the forward pass, are discontinuous: a ReLU input or a
   max-pool runner-up within float32 rounding of its threshold routes a
   gradient differently than the float64 reference does. On the full seed
   network (millions of such decisions per sample) a few flip, and PyTorch's
   own float32 gradients then differ from its float64 ones by up to ~1e-2;
   --grad-tol loosens the gradient tolerance for such networks. */
#define GRAD_TOL 1e-4
/* A gradient the reference computes as zero up to float64 rounding (the
   bias of a conv or the beta of a BatchNorm followed by another BatchNorm)
   has no magnitude of its own: its error is measured against the largest
   gradient of the model instead. */
#define ZERO_GRADIENT 1e-9
#define MAX_BATCH 4096
#define MAX_TENSORS (4 * FER_MAX_LAYERS + 2)

static const char usage[] =
    "usage: fer check-reference FILE [--config CONFIG] [--set KEY=VALUE]... [--grad-tol T]\n\n"
    "Builds the model of CONFIG (default " DEFAULT_CONFIG "),\n"
    "loads the weights of the reference-state FILE (/model_weights), runs one\n"
    "training-mode forward pass (batch statistics, dropout off) on its /input and\n"
    "/labels, the mean cross-entropy and the backward pass with every layer\n"
    "trainable, and compares with /expected: logits, loss, every gradient tensor\n"
    "and, when the file has them, the BatchNorm moving statistics after the pass.\n"
    "Prints each tensor's max abs error and that error divided by the reference's\n"
    "max magnitude (for a gradient the reference computes as zero, by the largest\n"
    "gradient's). Exit 0 when the loss matches to 1e-5 relative and every tensor\n"
    "to 1e-4 normalized, 1 otherwise. Reference files come from\n"
    "tools/torch_reference.py.\n\n"
    "  --grad-tol T   tolerance of the gradient tensors (default 1e-4). In large\n"
    "                 ReLU networks a few ReLU / max-pool decisions lie within\n"
    "                 float32 rounding of their threshold and route gradients\n"
    "                 differently from the float64 reference (PyTorch's own\n"
    "                 float32 differs as much): on the full seed network at 96x96,\n"
    "                 1e-3 to 2e-2 is typical.\n";

enum { KIND_OUTPUT, KIND_GRADIENT, KIND_STATS };

/* One compared tensor: judged after all are read, since a zero gradient is
   measured against the largest one. */
typedef struct {
    char name[160];
    int kind;
    size_t n;
    double err, mag;
} tensor_row;

typedef struct {
    tensor_row rows[MAX_TENSORS];
    int n;
} comparison;

static int compare(comparison *c, const char *name, int kind, const float *ours, const float *ref, size_t n,
                   fer_err *err)
{
    if (c->n == MAX_TENSORS)
        return fer_fail(err, "more than %d tensors to compare", MAX_TENSORS);
    tensor_row *r = &c->rows[c->n++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->kind = kind;
    r->n = n;
    r->err = r->mag = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - (double)ref[i]);
        if (isnan(d) || d > r->err) /* a NaN stays */
            r->err = d;
        if (fabs(ref[i]) > r->mag)
            r->mag = fabs(ref[i]);
    }
    return FER_OK;
}

/* Prints every row and returns the index of the worst relative to its
   tolerance; *failed tells whether any row is over it (NaN is). */
static int judge(const comparison *c, double loss, double ref_loss, double grad_tol, int *failed,
                 double *worst_value)
{
    double grad_scale = 0;
    for (int i = 0; i < c->n; i++)
        if (c->rows[i].kind == KIND_GRADIENT && c->rows[i].mag > grad_scale)
            grad_scale = c->rows[i].mag;
    double loss_rel = fabs(loss - ref_loss) / fmax(fabs(ref_loss), 1e-30);
    printf("  %-44s %10s %11s %11s %11s\n", "tensor", "values", "max|err|", "max|ref|", "normalized");
    printf("  %-44s %10d %11.3e %11.3e %11.3e  %s  (ours %.8f, reference %.8f; relative error)\n", "loss", 1,
           fabs(loss - ref_loss), fabs(ref_loss), loss_rel, loss_rel <= LOSS_TOL ? "ok" : "MISMATCH", loss,
           ref_loss);
    *failed = !(loss_rel <= LOSS_TOL);
    int worst = -1;
    double worst_ratio = isnan(loss_rel) ? INFINITY : loss_rel / LOSS_TOL;
    *worst_value = loss_rel;
    for (int i = 0; i < c->n; i++) {
        const tensor_row *r = &c->rows[i];
        int zero = r->kind == KIND_GRADIENT && r->mag <= ZERO_GRADIENT * grad_scale;
        double scale = zero ? grad_scale : r->mag;
        double normalized = isnan(r->err) ? NAN : scale > 0 ? r->err / scale : (r->err > 0 ? INFINITY : 0);
        double tol = r->kind == KIND_GRADIENT ? grad_tol : TENSOR_TOL;
        int ok = normalized <= tol;
        printf("  %-44s %10zu %11.3e %11.3e %11.3e  %s%s\n", r->name, r->n, r->err, r->mag, normalized,
               ok ? "ok" : "MISMATCH",
               zero ? "  (zero in the reference: scaled by the largest gradient)" : "");
        *failed |= !ok;
        double ratio = isnan(normalized) ? INFINITY : normalized / tol;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            worst = i;
            *worst_value = normalized;
        }
    }
    return worst;
}

typedef struct {
    int n;
    float *input;
    int *labels;
} reference_batch;

static int read_batch(hid_t f, const fer_model *m, reference_batch *b, fer_err *err)
{
    hid_t ds = H5Dopen2(f, "input", H5P_DEFAULT);
    if (ds < 0)
        return fer_fail(err, "dataset /input missing");
    int nd = 0;
    hsize_t dims[FER_H5_MAX_DIMS];
    int rc = fer_h5_dataset_shape(ds, &nd, dims, err);
    H5Dclose(ds);
    if (rc != FER_OK)
        return fer_fail_wrap(err, "/input");
    const fer_layer *first = &m->layers[0];
    if (nd != 4 || dims[0] < 1 || dims[0] > MAX_BATCH)
        return fer_fail(err, "/input: expected N x %d x %d x %d with 1 <= N <= %d", first->in_h, first->in_w,
                        first->in_c, MAX_BATCH);
    int shape[4] = {(int)dims[0], first->in_h, first->in_w, first->in_c};
    b->n = shape[0];
    b->input = malloc((size_t)b->n * fer_model_input_size(m) * sizeof *b->input);
    b->labels = malloc((size_t)b->n * sizeof *b->labels);
    if (!b->input || !b->labels)
        return fer_fail(err, "out of memory for a batch of %d", b->n);
    if (fer_h5_read_floats(f, "input", 4, shape, b->input, err) != FER_OK ||
        fer_h5_read_ints(f, "labels", 1, shape, b->labels, err) != FER_OK)
        return FER_ERROR;
    for (int i = 0; i < b->n; i++)
        if (b->labels[i] < 0 || b->labels[i] >= m->cfg.classes)
            return fer_fail(err, "/labels[%d] = %d outside 0..%d", i, b->labels[i], m->cfg.classes - 1);
    return FER_OK;
}

/* Logits into the comparison; the reference loss into *ref_loss. */
static int compare_outputs(hid_t f, const float *logits, int n, int classes, comparison *c, double *ref_loss,
                           fer_err *err)
{
    int shape[2] = {n, classes};
    float *ref = malloc((size_t)n * (size_t)classes * sizeof *ref);
    float loss;
    int rc = ref ? FER_OK : fer_fail(err, "out of memory");
    if (rc == FER_OK)
        rc = fer_h5_read_floats(f, "expected/logits", 2, shape, ref, err);
    if (rc == FER_OK)
        rc = fer_h5_read_floats(f, "expected/loss", 0, NULL, &loss, err);
    if (rc == FER_OK)
        rc = compare(c, "logits", KIND_OUTPUT, logits, ref, (size_t)n * (size_t)classes, err);
    *ref_loss = loss;
    free(ref);
    return rc;
}

/* One layer of a Keras-layout group that lists either the trainable
   tensors (gradients) or the moving statistics, in Keras order: the k-th
   name is the model's k-th tensor of that kind. */
static int compare_layer(hid_t group, const fer_model *m, int l, int stats, comparison *c, fer_err *err)
{
    const fer_layer *L = &m->layers[l];
    hid_t g = H5Gopen2(group, L->cfg.name, H5P_DEFAULT);
    if (g < 0)
        return fer_fail(err, "layer %s missing", L->cfg.name);
    fer_h5_strings names;
    int rc = fer_h5_read_strings(g, "weight_names", &names, err);
    int k = 0;
    for (int w = 0; rc == FER_OK && w < L->n_weights; w++) {
        const fer_weight *W = &L->weights[w];
        if (W->in_stats != stats)
            continue;
        if (k >= names.n) {
            rc = fer_fail(err, "layer %s: %d tensors in the file, more in the model", L->cfg.name, names.n);
            break;
        }
        float *ref = malloc(W->count * sizeof *ref);
        rc = ref ? fer_h5_read_floats(g, names.items[k], W->ndim, W->shape, ref, err)
                 : fer_fail(err, "out of memory");
        if (rc == FER_OK) {
            char label[160];
            snprintf(label, sizeof label, "%s%s", stats ? "" : "d ", names.items[k]);
            rc = compare(c, label, stats ? KIND_STATS : KIND_GRADIENT,
                         stats ? fer_model_weight(m, l, w) : fer_model_weight_grad(m, l, w), ref, W->count,
                         err);
        } else {
            fer_fail_wrap(err, "layer %s", L->cfg.name);
        }
        free(ref);
        k++;
    }
    if (rc == FER_OK && k != names.n)
        rc = fer_fail(err, "layer %s: %d tensors in the file, %d in the model", L->cfg.name, names.n, k);
    fer_h5_strings_free(&names);
    H5Gclose(g);
    return rc;
}

/* Every layer's gradients (stats 0) or moving statistics (stats 1). */
static int compare_group(hid_t f, const char *name, const fer_model *m, int stats, comparison *c,
                         fer_err *err)
{
    hid_t group = H5Gopen2(f, name, H5P_DEFAULT);
    if (group < 0)
        return fer_fail(err, "group /%s missing", name);
    int rc = FER_OK;
    for (int l = 0; rc == FER_OK && l < m->n_layers; l++)
        if (stats ? m->layers[l].n_stats : m->layers[l].n_params)
            rc = compare_layer(group, m, l, stats, c, err);
    H5Gclose(group);
    return rc == FER_OK ? FER_OK : fer_fail_wrap(err, "/%s", name);
}

/* Forward, loss and backward on the reference batch, then every tensor
   read and compared. */
static int run_check(fer_model *m, hid_t f, comparison *c, double *loss, double *ref_loss, fer_err *err)
{
    reference_batch b = {0};
    int rc = read_batch(f, m, &b, err);
    if (rc == FER_OK)
        rc = fer_model_reserve(m, b.n, err);
    if (rc == FER_OK) {
        fer_model_set_trainable(m, 0);
        fer_pass p = {.training = 1, .dropout = 0};
        const float *logits = fer_model_forward(m, b.input, b.n, &p);
        *loss = fer_model_loss(m, b.labels, NULL, b.n, b.n, NULL, NULL) / b.n;
        fer_model_backward(m, &p, NULL);
        rc = compare_outputs(f, logits, b.n, m->cfg.classes, c, ref_loss, err);
    }
    if (rc == FER_OK)
        rc = compare_group(f, "expected/gradients", m, 0, c, err);
    /* Reference files from other generators may lack the moving statistics. */
    if (rc == FER_OK && m->n_stats) {
        hid_t e = H5Gopen2(f, "expected", H5P_DEFAULT);
        int present = e >= 0 && fer_h5_has(e, "moving_statistics");
        if (e >= 0)
            H5Gclose(e);
        if (present)
            rc = compare_group(f, "expected/moving_statistics", m, 1, c, err);
    }
    free(b.input);
    free(b.labels);
    return rc;
}

/* Takes FILE out of argv (the first argument that is neither an option nor
   an option's value), so the shared parser sees only CONFIG options. */
static int split_file(int argc, char **argv, char **rest, int *n_rest, const char **file)
{
    *file = NULL;
    *n_rest = 0;
    rest[(*n_rest)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes_value = !strcmp(a, "--config") || !strcmp(a, "--set") || !strcmp(a, "--grad-tol");
        if (takes_value && i + 1 < argc) {
            rest[(*n_rest)++] = argv[i++];
            rest[(*n_rest)++] = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            rest[(*n_rest)++] = argv[i];
        } else if (!*file) {
            *file = a;
        } else {
            return cli_usage("check-reference", "unexpected argument '%s'", a);
        }
    }
    rest[*n_rest] = NULL;
    return *file ? FER_EXIT_OK : cli_usage("check-reference", "missing FILE (a reference-state HDF5 file)");
}

typedef struct {
    const char *file;
    double grad_tol;
    cli_options opts; /* the configuration */
} check_args;

static int parse_args(int argc, char **argv, check_args *a)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return cli_fail("out of memory");
    int n_rest, rc = split_file(argc, argv, rest, &n_rest, &a->file);
    const char *grad_tol = NULL;
    const cli_flag flags[] = {{"--grad-tol", 1, &grad_tol, NULL}, {NULL, 0, NULL, NULL}};
    a->opts.config_path = DEFAULT_CONFIG;
    if (rc == FER_EXIT_OK)
        rc = cli_parse_config_options(&a->opts, "check-reference", n_rest, rest, flags);
    free(rest);
    a->grad_tol = GRAD_TOL;
    if (rc == FER_EXIT_OK && grad_tol) {
        char *end;
        a->grad_tol = strtod(grad_tol, &end);
        if (*end || !(a->grad_tol > 0) || !isfinite(a->grad_tol))
            rc = cli_usage("check-reference", "--grad-tol: expected a positive number, got '%s'", grad_tol);
    }
    return rc;
}

/* The generator's smallest ReLU / max-pool decision margin (in units of its
   layer's RMS), when the file records it: below float32's ~1e-6 some
   gradients may legitimately route differently. */
typedef struct {
    double value;
    char *layer; /* owned, may be NULL */
} decision_margin;

static void read_margin(hid_t f, decision_margin *dm)
{
    dm->value = -1;
    dm->layer = NULL;
    fer_err ignored;
    if (fer_h5_read_scalar(f, "min_decision_margin", H5T_NATIVE_DOUBLE, &dm->value, &ignored) != FER_OK)
        dm->value = -1;
    else if (fer_h5_read_string(f, "min_decision_margin_layer", &dm->layer, &ignored) != FER_OK)
        dm->layer = NULL;
}

/* Loads the reference's weights, runs the pass, compares and judges. */
static int check(fer_model *m, const check_args *a)
{
    comparison *c = calloc(1, sizeof *c);
    if (!c)
        return cli_fail("out of memory");
    double loss = 0, ref_loss = 0;
    fer_err err;
    fer_weights_report rep;
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    hid_t f = H5I_INVALID_HID;
    int ok =
        fer_weights_load(m, a->file, 1, &rep, &err) == FER_OK && (f = fer_h5_open_read(a->file, &err)) >= 0;
    if (ok && run_check(m, f, c, &loss, &ref_loss, &err) != FER_OK)
        ok = fer_fail_wrap(&err, "%s", a->file) == FER_OK;
    decision_margin dm = {-1, NULL};
    if (ok)
        read_margin(f, &dm);
    if (f >= 0)
        H5Fclose(f);
    fer_h5_quiet_end(&q);
    if (!ok) {
        free(c);
        return cli_fail("%s", err.msg);
    }
    printf("check-reference %s (config %s)\n", a->file, a->opts.config_path);
    printf("tolerances: loss %.0e relative; logits and moving statistics %.0e, gradients %.0e normalized\n",
           LOSS_TOL, TENSOR_TOL, a->grad_tol);
    if (dm.value >= 0)
        printf("reference: smallest ReLU / max-pool decision margin %.1e of its layer's RMS (%s)%s\n",
               dm.value, dm.layer ? dm.layer : "?",
               dm.value < 1e-5 ? ": float32 may route some gradients differently (see --grad-tol)" : "");
    free(dm.layer);
    int failed = 0;
    double worst_value = 0;
    int worst = judge(c, loss, ref_loss, a->grad_tol, &failed, &worst_value);
    char worst_name[160];
    snprintf(worst_name, sizeof worst_name, "%s", worst < 0 ? "loss" : c->rows[worst].name);
    double worst_tol = worst < 0 ? LOSS_TOL : c->rows[worst].kind == KIND_GRADIENT ? a->grad_tol : TENSOR_TOL;
    int tensors = c->n + 1;
    free(c);
    if (failed)
        return cli_fail("reference mismatch: worst tensor %s, %s error %.3e > tolerance %.0e", worst_name,
                        worst < 0 ? "relative" : "normalized", worst_value, worst_tol);
    printf("all %d tensors match (closest to its tolerance: %s, %.3e of %.0e)\n", tensors, worst_name,
           worst_value, worst_tol);
    return FER_EXIT_OK;
}

int cmd_check_reference(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FER_EXIT_OK;
    }
    check_args *a = calloc(1, sizeof *a);
    if (!a)
        return cli_fail("out of memory");
    int rc = parse_args(argc, argv, a);
    fer_model m;
    fer_err err;
    if (rc == FER_EXIT_OK && fer_model_init(&m, &a->opts.config.model, a->opts.config.seed, &err) != FER_OK)
        rc = cli_fail("%s: %s", a->opts.config_path, err.msg);
    else if (rc == FER_EXIT_OK) {
        rc = check(&m, a);
        fer_model_free(&m);
    }
    free(a);
    return rc;
}
