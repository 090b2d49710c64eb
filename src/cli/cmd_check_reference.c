/* fer check-reference: one training-mode forward and backward pass of our
   model compared with a reference-state file written by independent code
   (tools/torch_reference.py): logits, loss and every gradient tensor. */
#include "commands.h"
#include "options.h"

#include "fer/h5util.h"
#include "fer/model.h"
#include "fer/reference_measures.h"
#include "fer/weights.h"

#include <limits.h>
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
   network (millions of such decisions per sample) a few flip, more often in
   fer than in PyTorch's float32 since Winograd rounds more than a direct
   sum, and one flip can put a gradient's max error at 1e-2 (in PyTorch's
   float32 too, on inputs where it flips one; docs/reference-check.md);
   --grad-tol loosens the gradient tolerance for such networks, and the
   relative L2 error, the cosine and the decision count say what happened. */
#define GRAD_TOL 1e-4
/* A gradient the reference computes as zero up to float64 rounding (the
   bias of a conv or the beta of a BatchNorm followed by another BatchNorm)
   has no magnitude of its own: its error is measured against the largest
   gradient of the model instead. */
#define ZERO_GRADIENT 1e-9
#define MAX_BATCH 4096
#define MAX_TENSORS (4 * FER_MAX_LAYERS + 2)

static const char usage[] =
    "usage: fer check-reference FILE [--config CONFIG] [--set KEY=VALUE]... [--grad-tol T]\n"
    "                           [--min-cosine C] [--max-rel-l2 R] [--max-flips N]\n\n"
    "Builds the model of CONFIG (default " DEFAULT_CONFIG "),\n"
    "loads the weights of the reference-state FILE (/model_weights), runs one\n"
    "training-mode forward pass (batch statistics, dropout off) on its /input and\n"
    "/labels, the mean cross-entropy and the backward pass with every layer\n"
    "trainable, and compares with /expected: logits, loss, every gradient tensor\n"
    "and, when the file has them, the BatchNorm moving statistics after the pass.\n"
    "Prints each tensor's max abs error and that error divided by the reference's\n"
    "max magnitude (for a gradient the reference computes as zero, by the largest\n"
    "gradient's), its relative L2 error ||ours - ref|| / ||ref|| and 1 - its cosine\n"
    "similarity to the reference, the same two for all gradients as one vector,\n"
    "and, when the file has the reference's ReLU and max-pool inputs, how many\n"
    "ReLU decisions (sign of the input) and max-pool decisions (which element of\n"
    "each 2x2 window is the maximum) differ between our forward pass and the\n"
    "reference's. Exit 0 when the loss matches to 1e-5 relative, every tensor to\n"
    "1e-4 normalized and the thresholds given below hold, 1 otherwise. Reference\n"
    "files come from tools/torch_reference.py; see docs/reference-check.md.\n\n"
    "  --grad-tol T    tolerance of the gradient tensors' max error (default 1e-4).\n"
    "                  In large ReLU networks a few ReLU / max-pool decisions lie\n"
    "                  within float32 rounding of their threshold and flip (more\n"
    "                  in fer than in PyTorch's float32: Winograd rounds more than\n"
    "                  a direct sum), and one flip can move a gradient's max\n"
    "                  error to 1e-2. On the full seed network at 96x96, 4e-5 to\n"
    "                  8e-2 was measured (docs/reference-check.md).\n"
    "  --min-cosine C  every tensor (gradients the reference computes as zero\n"
    "                  excepted) and all gradients together must have a cosine\n"
    "                  similarity of at least C (default: not checked)\n"
    "  --max-rel-l2 R  the same tensors must have a relative L2 error of at most\n"
    "                  R (default: not checked)\n"
    "  --max-flips N   at most N ReLU and max-pool decisions, in all, may differ\n"
    "                  (default: not checked; the file must have the inputs)\n";

enum { KIND_OUTPUT, KIND_GRADIENT, KIND_STATS };

/* One compared tensor: judged after all are read, since a zero gradient is
   measured against the largest one. */
typedef struct {
    char name[160];
    int kind;
    size_t n;
    double err, mag;
    fer_pair_sums sums;
} tensor_row;

/* One layer's ReLU or max-pool decisions against the reference's, and how
   far our activations there are from its (the forward pass's own error). */
typedef struct {
    char name[64];
    int pool; /* 0: ReLU */
    size_t decisions, differ;
    fer_pair_sums activations; /* ReLU: its output; max pool: its input */
} decision_row;

typedef struct {
    tensor_row rows[MAX_TENSORS];
    int n;
    int have_decisions; /* the file has /expected/decision_inputs */
    decision_row decisions[FER_MAX_LAYERS];
    int n_decisions;
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
    r->sums = (fer_pair_sums){0};
    fer_pair_sums_add(&r->sums, ours, ref, n);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - (double)ref[i]);
        if (isnan(d) || d > r->err) /* a NaN stays */
            r->err = d;
        if (fabs(ref[i]) > r->mag)
            r->mag = fabs(ref[i]);
    }
    return FER_OK;
}

/* What the measures beyond the max error must meet; each only when given. */
typedef struct {
    double grad_tol;
    int has_min_cosine, has_max_rel_l2, has_max_flips;
    double min_cosine, max_rel_l2;
    long max_flips;
} thresholds;

/* The outcome: the max-error check's worst row (-1: the loss) and, apart,
   the first failure of a measure threshold. */
typedef struct {
    int failed;
    int worst;
    double worst_value;
    char measure_failure[256]; /* "" when every measure threshold holds */
    double lowest_cosine, highest_rel_l2;
    char lowest_cosine_at[160], highest_rel_l2_at[160];
} verdict;

/* Relative L2 and 1 - cosine of one row (or of the pooled gradients) into
   the table, checked against the thresholds; a tensor the reference has as
   zero has neither (printed "-"). */
static void judge_measures(const fer_pair_sums *sums, int defined, const char *name, const thresholds *t,
                           verdict *v, char *cells, size_t cap, int *ok)
{
    if (!defined) {
        snprintf(cells, cap, "%10s %10s", "-", "-");
        return;
    }
    double rel = fer_rel_l2(sums), cos = fer_cosine(sums);
    snprintf(cells, cap, "%10.3e %10.3e", rel, 1 - cos);
    if (!(cos >= v->lowest_cosine)) { /* a NaN takes the place */
        v->lowest_cosine = cos;
        snprintf(v->lowest_cosine_at, sizeof v->lowest_cosine_at, "%s", name);
    }
    if (!(rel <= v->highest_rel_l2)) {
        v->highest_rel_l2 = rel;
        snprintf(v->highest_rel_l2_at, sizeof v->highest_rel_l2_at, "%s", name);
    }
    int cos_ok = !t->has_min_cosine || cos >= t->min_cosine;
    int rel_ok = !t->has_max_rel_l2 || rel <= t->max_rel_l2;
    if ((!cos_ok || !rel_ok) && !v->measure_failure[0]) {
        if (!cos_ok)
            snprintf(v->measure_failure, sizeof v->measure_failure, "%s: cosine %.9f < --min-cosine %g", name,
                     cos, t->min_cosine);
        else
            snprintf(v->measure_failure, sizeof v->measure_failure,
                     "%s: relative L2 error %.3e > --max-rel-l2 %g", name, rel, t->max_rel_l2);
    }
    *ok &= cos_ok && rel_ok;
}

static void judge_loss(double loss, double ref_loss, verdict *v)
{
    double loss_rel = fabs(loss - ref_loss) / fmax(fabs(ref_loss), 1e-30);
    printf("  %-44s %10s %11s %11s %11s %10s %10s\n", "tensor", "values", "max|err|", "max|ref|",
           "normalized", "rel L2", "1-cosine");
    printf("  %-44s %10d %11.3e %11.3e %11.3e %10s %10s  %s  (ours %.8f, reference %.8f; relative error)\n",
           "loss", 1, fabs(loss - ref_loss), fabs(ref_loss), loss_rel, "-", "-",
           loss_rel <= LOSS_TOL ? "ok" : "MISMATCH", loss, ref_loss);
    v->failed = !(loss_rel <= LOSS_TOL);
    v->worst = -1;
    v->worst_value = loss_rel;
}

/* Prints every row and the pooled gradients, and fills the verdict: the
   row worst relative to its max-error tolerance and whether any row fails
   a check (NaN does). */
static void judge(const comparison *c, double loss, double ref_loss, const thresholds *t, verdict *v)
{
    double grad_scale = 0;
    fer_pair_sums all_grads = {0};
    for (int i = 0; i < c->n; i++)
        if (c->rows[i].kind == KIND_GRADIENT) {
            grad_scale = fmax(grad_scale, c->rows[i].mag);
            all_grads.diff2 += c->rows[i].sums.diff2;
            all_grads.ref2 += c->rows[i].sums.ref2;
            all_grads.ours2 += c->rows[i].sums.ours2;
            all_grads.dot += c->rows[i].sums.dot;
        }
    judge_loss(loss, ref_loss, v);
    double worst_ratio = isnan(v->worst_value) ? INFINITY : v->worst_value / LOSS_TOL;
    char cells[64];
    for (int i = 0; i < c->n; i++) {
        const tensor_row *r = &c->rows[i];
        int zero = r->kind == KIND_GRADIENT && r->mag <= ZERO_GRADIENT * grad_scale;
        double scale = zero ? grad_scale : r->mag;
        double normalized = isnan(r->err) ? NAN : scale > 0 ? r->err / scale : (r->err > 0 ? INFINITY : 0);
        double tol = r->kind == KIND_GRADIENT ? t->grad_tol : TENSOR_TOL;
        int ok = normalized <= tol;
        judge_measures(&r->sums, !zero && r->mag > 0, r->name, t, v, cells, sizeof cells, &ok);
        printf("  %-44s %10zu %11.3e %11.3e %11.3e %s  %s%s\n", r->name, r->n, r->err, r->mag, normalized,
               cells, ok ? "ok" : "MISMATCH",
               zero ? "  (zero in the reference: scaled by the largest gradient)" : "");
        v->failed |= !ok;
        double ratio = isnan(normalized) ? INFINITY : normalized / tol;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            v->worst = i;
            v->worst_value = normalized;
        }
    }
    int ok = 1;
    judge_measures(&all_grads, all_grads.ref2 > 0, "all gradients", t, v, cells, sizeof cells, &ok);
    printf("  %-44s %10s %11s %11s %11s %s  %s\n", "all gradients (one vector)", "", "", "", "", cells,
           ok ? "ok" : "MISMATCH");
    v->failed |= !ok;
}

/* Prints each layer's decision counts; fails the verdict when more than
   --max-flips differ in all. */
static void judge_decisions(const comparison *c, const thresholds *t, verdict *v)
{
    if (!c->have_decisions) {
        printf("decisions: not counted (the file has no /expected/decision_inputs: regenerate it with "
               "tools/torch_reference.py to count them)\n");
        return;
    }
    size_t total = 0, differ = 0;
    printf("  %-44s %10s %12s %10s  %s\n", "decisions", "kind", "taken", "differ",
           "rel L2 of the activations (ReLU: output, max-pool: input)");
    for (int i = 0; i < c->n_decisions; i++) {
        const decision_row *d = &c->decisions[i];
        printf("  %-44s %10s %12zu %10zu  %.3e\n", d->name, d->pool ? "max-pool" : "ReLU", d->decisions,
               d->differ, fer_rel_l2(&d->activations));
        total += d->decisions;
        differ += d->differ;
    }
    int ok = !t->has_max_flips || differ <= (size_t)t->max_flips;
    printf("  %-44s %10s %12zu %10zu  %s\n", "all decisions", "", total, differ, ok ? "ok" : "MISMATCH");
    if (!ok) {
        v->failed = 1;
        if (!v->measure_failure[0])
            snprintf(v->measure_failure, sizeof v->measure_failure,
                     "%zu ReLU / max-pool decisions differ > --max-flips %ld", differ, t->max_flips);
    }
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

/* 1: layer L's output passes through a ReLU (its decision: the sign of the
   ReLU's input), 2: L is a max pool (which element of each window is the
   maximum of its input), 0: neither. */
static int decision_kind(const fer_layer *L)
{
    if (L->cfg.type == FER_LAYER_MAXPOOL)
        return 2;
    int relu = L->cfg.type == FER_LAYER_RELU ||
               ((L->cfg.type == FER_LAYER_CONV2D || L->cfg.type == FER_LAYER_DENSE) && L->cfg.relu);
    return relu ? 1 : 0;
}

/* Layer l's decisions against the reference's: a ReLU from our output
   (positive exactly where its input is) and the reference's ReLU input, a
   max pool from both sides' pool inputs (ours: the previous layer's output,
   or the batch for a first layer). */
static int count_layer_decisions(hid_t g, const fer_model *m, int l, const float *input, int n,
                                 decision_row *d, fer_err *err)
{
    const fer_layer *L = &m->layers[l];
    d->pool = decision_kind(L) == 2;
    snprintf(d->name, sizeof d->name, "%s", L->cfg.name);
    int spatial = d->pool || (L->cfg.type != FER_LAYER_DENSE && !L->flat_input);
    int shape[4] = {n, d->pool ? L->in_h : L->out_h, d->pool ? L->in_w : L->out_w,
                    d->pool ? L->in_c : L->out_c};
    if (!spatial)
        shape[1] = L->out_c;
    int ndim = spatial ? 4 : 2;
    size_t count = 1;
    for (int k = 0; k < ndim; k++)
        count *= (size_t)shape[k];
    float *ref = malloc(count * sizeof *ref);
    if (!ref)
        return fer_fail(err, "out of memory for the decision inputs of %s", L->cfg.name);
    int rc = fer_h5_read_floats(g, L->cfg.name, ndim, shape, ref, err);
    if (rc == FER_OK && d->pool) {
        const float *ours = l > 0 ? fer_model_activation(m, l - 1) : input;
        d->differ = fer_pool_decisions_differ(ours, ref, n, shape[1], shape[2], shape[3], &d->decisions);
        fer_pair_sums_add(&d->activations, ours, ref, count);
    } else if (rc == FER_OK) {
        const float *ours = fer_model_activation(m, l);
        d->decisions = count;
        d->differ = fer_relu_decisions_differ(ours, ref, count);
        for (size_t i = 0; i < count; i++) /* the reference's ReLU output, to compare with ours */
            ref[i] = ref[i] > 0.0f ? ref[i] : 0.0f;
        fer_pair_sums_add(&d->activations, ours, ref, count);
    }
    free(ref);
    return rc;
}

/* Every ReLU and max-pool layer's decisions, when the file has the
   reference's inputs to them (files written before they were added do
   not). Runs between forward and backward: backward reuses the activation
   buffers. */
static int count_decisions(hid_t f, const fer_model *m, const float *input, int n, comparison *c,
                           fer_err *err)
{
    hid_t e = H5Gopen2(f, "expected", H5P_DEFAULT);
    if (e < 0)
        return fer_fail(err, "group /expected missing");
    c->have_decisions = fer_h5_has(e, "decision_inputs");
    hid_t g = c->have_decisions ? H5Gopen2(e, "decision_inputs", H5P_DEFAULT) : H5I_INVALID_HID;
    H5Gclose(e);
    if (!c->have_decisions)
        return FER_OK;
    if (g < 0)
        return fer_fail(err, "/expected/decision_inputs: not a group");
    int rc = FER_OK;
    for (int l = 0; rc == FER_OK && l < m->n_layers; l++)
        if (decision_kind(&m->layers[l]))
            rc = count_layer_decisions(g, m, l, input, n, &c->decisions[c->n_decisions++], err);
    H5Gclose(g);
    return rc == FER_OK ? FER_OK : fer_fail_wrap(err, "/expected/decision_inputs");
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
        rc = count_decisions(f, m, b.input, b.n, c, err);
        if (rc == FER_OK)
            rc = compare_outputs(f, logits, b.n, m->cfg.classes, c, ref_loss, err);
        if (rc == FER_OK) {
            *loss = fer_model_loss(m, b.labels, NULL, b.n, b.n, NULL, NULL) / b.n;
            fer_model_backward(m, &p, NULL);
        }
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
        int takes_value = !strcmp(a, "--config") || !strcmp(a, "--set") || !strcmp(a, "--grad-tol") ||
                          !strcmp(a, "--min-cosine") || !strcmp(a, "--max-rel-l2") ||
                          !strcmp(a, "--max-flips");
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
    thresholds t;
    cli_options opts; /* the configuration */
} check_args;

static int parse_args(int argc, char **argv, check_args *a)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return cli_fail("out of memory");
    int n_rest, rc = split_file(argc, argv, rest, &n_rest, &a->file);
    const char *grad_tol = NULL, *min_cosine = NULL, *max_rel_l2 = NULL, *max_flips = NULL;
    const cli_flag flags[] = {{"--grad-tol", 1, &grad_tol, NULL},
                              {"--min-cosine", 1, &min_cosine, NULL},
                              {"--max-rel-l2", 1, &max_rel_l2, NULL},
                              {"--max-flips", 1, &max_flips, NULL},
                              {NULL, 0, NULL, NULL}};
    a->opts.config_path = DEFAULT_CONFIG;
    if (rc == FER_EXIT_OK)
        rc = cli_parse_config_options(&a->opts, "check-reference", n_rest, rest, flags);
    free(rest);
    thresholds *t = &a->t;
    t->grad_tol = GRAD_TOL;
    t->max_flips = 0;
    const char *cmd = "check-reference";
    if (rc == FER_EXIT_OK)
        rc = cli_number_real(cmd, "--grad-tol", grad_tol, 1e-30, 1e30, &t->grad_tol);
    t->has_min_cosine = min_cosine != NULL;
    t->has_max_rel_l2 = max_rel_l2 != NULL;
    t->has_max_flips = max_flips != NULL;
    if (rc == FER_EXIT_OK)
        rc = cli_number_real(cmd, "--min-cosine", min_cosine, -1, 1, &t->min_cosine);
    if (rc == FER_EXIT_OK)
        rc = cli_number_real(cmd, "--max-rel-l2", max_rel_l2, 0, 1e30, &t->max_rel_l2);
    if (rc == FER_EXIT_OK)
        rc = cli_number_long(cmd, "--max-flips", max_flips, 0, LONG_MAX, &t->max_flips);
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

static void print_header(const check_args *a, const decision_margin *dm)
{
    const thresholds *t = &a->t;
    printf("check-reference %s (config %s)\n", a->file, a->opts.config_path);
    printf("tolerances: loss %.0e relative; logits and moving statistics %.0e, gradients %.0e normalized\n",
           LOSS_TOL, TENSOR_TOL, t->grad_tol);
    if (t->has_min_cosine || t->has_max_rel_l2 || t->has_max_flips) {
        printf("thresholds:");
        if (t->has_min_cosine)
            printf(" cosine >= %g", t->min_cosine);
        if (t->has_max_rel_l2)
            printf(" relative L2 <= %g", t->max_rel_l2);
        if (t->has_max_flips)
            printf(" differing decisions <= %ld", t->max_flips);
        printf("\n");
    }
    if (dm->value >= 0)
        printf("reference: smallest ReLU / max-pool decision margin %.1e of its layer's RMS (%s)%s\n",
               dm->value, dm->layer ? dm->layer : "?",
               dm->value < 1e-5 ? ": float32 may route some gradients differently (see --grad-tol)" : "");
}

/* Prints the tables and the verdict line; returns the exit code. */
static int conclude(const comparison *c, double loss, double ref_loss, const thresholds *t)
{
    verdict v = {.lowest_cosine = INFINITY, .highest_rel_l2 = -INFINITY};
    judge(c, loss, ref_loss, t, &v);
    judge_decisions(c, t, &v);
    printf("lowest cosine similarity %.9f = 1 - %.3e (%s), highest relative L2 error %.3e (%s)\n",
           v.lowest_cosine, 1 - v.lowest_cosine, v.lowest_cosine_at, v.highest_rel_l2, v.highest_rel_l2_at);
    const char *worst_name = v.worst < 0 ? "loss" : c->rows[v.worst].name;
    double worst_tol = v.worst < 0                              ? LOSS_TOL
                       : c->rows[v.worst].kind == KIND_GRADIENT ? t->grad_tol
                                                                : TENSOR_TOL;
    if (v.failed && !(v.worst_value <= worst_tol))
        return cli_fail("reference mismatch: worst tensor %s, %s error %.3e > tolerance %.0e", worst_name,
                        v.worst < 0 ? "relative" : "normalized", v.worst_value, worst_tol);
    if (v.failed)
        return cli_fail("reference mismatch: %s", v.measure_failure);
    printf("all %d tensors match (closest to its tolerance: %s, %.3e of %.0e)\n", c->n + 1, worst_name,
           v.worst_value, worst_tol);
    return FER_EXIT_OK;
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
    if (ok && a->t.has_max_flips && !c->have_decisions)
        ok = fer_fail(&err,
                      "%s: --max-flips needs /expected/decision_inputs, which this file lacks (written by an "
                      "older tools/torch_reference.py: regenerate it)",
                      a->file) == FER_OK;
    decision_margin dm = {-1, NULL};
    if (ok)
        read_margin(f, &dm);
    if (f >= 0)
        H5Fclose(f);
    fer_h5_quiet_end(&q);
    int rc = ok ? FER_EXIT_OK : cli_fail("%s", err.msg);
    if (ok) {
        print_header(a, &dm);
        rc = conclude(c, loss, ref_loss, &a->t);
    }
    free(dm.layer);
    free(c);
    return rc;
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
    fer_products products = FER_PRODUCTS_FP32;
    if (rc == FER_EXIT_OK &&
        fer_precision_resolve(a->opts.config.precision, getenv("FER_BF16_KERNEL"), &products, &err) != FER_OK)
        rc = cli_fail("%s", err.msg);
    else if (rc == FER_EXIT_OK &&
             fer_model_init(&m, &a->opts.config.model, a->opts.config.seed, &err) != FER_OK)
        rc = cli_fail("%s: %s", a->opts.config_path, err.msg);
    else if (rc == FER_EXIT_OK) {
        fer_model_set_products(&m, products);
        printf("products: %s\n", fer_products_name(products));
        rc = check(&m, a);
        fer_model_free(&m);
    }
    free(a);
    return rc;
}
