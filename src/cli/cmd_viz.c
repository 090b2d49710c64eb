/* fer viz: filter visualization and saliency maps of a checkpoint. */
#include "commands.h"
#include "options.h"

#include "fer/dist.h"
#include "fer/evaluate.h"
#include "fer/explain.h"
#include "fer/log.h"
#include "fer/run_data.h"
#include "fer/saved_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: fer viz filters --checkpoint CKPT --out FILE.png [--layer NAME] [--count N]\n"
    "                       [--steps S] [--step X] [--seed N] [--image IMAGE]\n"
    "       fer viz saliency --checkpoint CKPT --out DIR [--data PATH] [--usage NAME]\n"
    "                        [--per-class K] [--layer NAME] [--scale S] [--batch N]\n\n"
    "filters: gradient ascent on the input image to maximize the mean activation of\n"
    "each of N filters of a layer (default: the last convolution; N default 16: the N\n"
    "filters most active on the starting image, most active first), from the same grey\n"
    "noise image for every filter: S steps (default 40) that each add X grey levels\n"
    "(default 1) times the gradient divided by its RMS. The results, normalized for\n"
    "display, are tiled into one PNG with each filter's index and final mean\n"
    "activation. --image starts from a face instead (PNG/JPEG, prepared as `fer\n"
    "predict` does, shown as the first tile) to show what the filters pick up in it.\n"
    "--seed (default 0) picks the noise.\n\n"
    "saliency: evaluates one usage of a data set (as `fer eval`, split across ranks under\n"
    "mpirun) and, for the K (default 4) correctly classified samples of each class the\n"
    "model is most sure of, writes into DIR the face, its Grad-CAM map for the class\n"
    "(from --layer, default the last convolution) over the face, and its vanilla\n"
    "gradient saliency map, as <class>_<k>_{face,gradcam,saliency}.png, all of them on\n"
    "one sheet overview.png, and index.html showing them in a grid by class. --scale\n"
    "sets PNG pixels per input pixel (default: about 144-pixel pictures).\n\n"
    "  --data PATH     dataset HDF5 from `fer prepare`, or synthetic (default: the config's data.path)\n"
    "  --usage NAME    Training, PublicTest or PrivateTest (default: the config's data.test_usage)\n"
    "  --batch N       global evaluation batch (default: the config's data.batch_size)\n";

/* The named layer, or the last convolution without a name. */
static int pick_layer(const fer_model *m, const char *name, int *layer)
{
    *layer = name ? fer_model_find(m, name) : fer_last_conv_layer(m);
    if (*layer >= 0)
        return FER_EXIT_OK;
    if (!name)
        return cli_fail("the model has no convolution; name a layer with --layer");
    return cli_usage("viz", "the model has no layer '%s' (see `fer summary`)", name);
}

/* What a visualization does once its flags are parsed and the model is open. */
typedef int (*viz_body)(const void *args, const fer_dist *d, fer_model *m, fer_config *cfg);

/* Flags, MPI (saliency evaluates split across ranks), the checkpoint's model,
   then the body. */
static int viz_main(const char *kind, int argc, char **argv, const cli_flag *flags,
                    const char *const *checkpoint, const char *const *out, viz_body body, const void *args)
{
    cli_options o = {0};
    int rc = cli_parse_flags(&o, "viz", argc, argv, flags);
    if (rc != FER_EXIT_OK)
        return rc;
    if (o.n_positional > 0)
        return cli_usage("viz", "unexpected argument '%s'", o.positional[0]);
    if (!*checkpoint || !*out)
        return cli_usage("viz", "%s needs --checkpoint and --out", kind);
    fer_dist d;
    fer_err err;
    if (fer_dist_init(&d, NULL, NULL, &err))
        return cli_fail("%s", err.msg);
    if (d.rank != 0)
        fer_log_set_level(FER_LOG_QUIET);
    /* Each rank reads the checkpoint itself; they agree before any
       collective call of the body. */
    fer_config *cfg = calloc(1, sizeof *cfg);
    fer_model m;
    int failed =
        !cfg ? fer_fail(&err, "out of memory") : fer_saved_model_open(*checkpoint, cfg, &m, NULL, &err);
    if (fer_dist_any_failed(&d, failed, &err)) {
        if (!failed)
            fer_model_free(&m);
        rc = cli_fail("%s", err.msg);
    } else {
        rc = body(args, &d, &m, cfg);
        fer_model_free(&m);
    }
    free(cfg);
    fer_dist_finalize(&d);
    return rc;
}

/* ---- filters ------------------------------------------------------------- */

typedef struct {
    const char *checkpoint, *out, *layer, *count, *steps, *step, *seed, *image;
} filters_args;

static int draw_filters(const filters_args *a, const fer_model *m, const fer_filter_viz_opts *o,
                        const float *images, const float *act)
{
    int size = m->cfg.input_size, with_input = o->start != NULL, tiles = o->count + with_input;
    size_t pixels = (size_t)size * size;
    uint8_t *grey = malloc(tiles * pixels);
    char(*captions)[32] = malloc((size_t)tiles * sizeof *captions);
    const char **labels = malloc((size_t)tiles * sizeof *labels);
    if (!grey || !captions || !labels) {
        free(grey);
        free(captions);
        free(labels);
        return cli_fail("out of memory");
    }
    if (with_input) { /* drawn with the same normalization as the results, for comparison */
        float *start = malloc(pixels * sizeof *start);
        for (size_t p = 0; start && p < pixels; p++)
            start[p] = o->start[p];
        if (start)
            fer_deprocess_image(grey, start, (int)pixels);
        else
            memcpy(grey, o->start, pixels);
        free(start);
        snprintf(captions[0], sizeof captions[0], "input");
    }
    for (int i = 0; i < o->count; i++) {
        fer_deprocess_image(grey + (i + with_input) * pixels, images + i * pixels, (int)pixels);
        snprintf(captions[i + with_input], sizeof captions[0], "#%d %.3g", o->filters[i], (double)act[i]);
    }
    for (int i = 0; i < tiles; i++)
        labels[i] = captions[i];
    char title[300];
    snprintf(title, sizeof title, "%s: %d steps from %s", m->layers[o->layer].cfg.name, o->steps,
             with_input ? "the input" : "noise");
    fer_canvas c;
    fer_err err;
    int scale = (144 + size - 1) / size, rc = FER_EXIT_OK;
    if (fer_tile_grey(&c, grey, tiles, size, scale, 0, labels, title, &err)) {
        rc = cli_fail("%s", err.msg);
    } else {
        if (fer_canvas_write_png(&c, a->out, &err))
            rc = cli_fail("%s", err.msg);
        else
            printf("wrote %s: %d filters of layer %s\n", a->out, o->count, m->layers[o->layer].cfg.name);
        fer_canvas_free(&c);
    }
    free(grey);
    free(captions);
    free(labels);
    return rc;
}

/* One rank draws the sheet; the others (under mpirun) have nothing to do. */
static int run_filters(const void *args, const fer_dist *d, fer_model *m, fer_config *cfg)
{
    const filters_args *a = args;
    fer_filter_viz_opts o = {.count = 16, .steps = 40, .step = 1.0f};
    if (d->rank != 0)
        return FER_EXIT_OK;
    double step = o.step;
    int rc = pick_layer(m, a->layer, &o.layer);
    if (rc != FER_EXIT_OK)
        return rc;
    int max_count = m->layers[o.layer].out_c;
    if ((rc = cli_number_int("viz", "--count", a->count, 1, max_count, &o.count)) ||
        (rc = cli_number_int("viz", "--steps", a->steps, 0, 100000, &o.steps)) ||
        (rc = cli_number_seed("viz", "--seed", a->seed, &o.seed)) ||
        (rc = cli_number_real("viz", "--step", a->step, 0, 1000, &step)))
        return rc;
    if (!a->count && o.count > max_count)
        o.count = max_count;
    o.step = (float)step;
    int size = cfg->model.input_size;
    size_t pixels = (size_t)size * size;
    int *filters = malloc((size_t)o.count * sizeof *filters);
    float *images = malloc(o.count * pixels * sizeof *images), *act = malloc((size_t)o.count * sizeof *act);
    uint8_t *start = a->image ? malloc(pixels) : NULL;
    fer_err err;
    if (!filters || !images || !act || (a->image && !start))
        rc = cli_fail("out of memory");
    else if (a->image && fer_face_image_load(a->image, size, cfg->data.equalize, start, &err))
        rc = cli_fail("%s", err.msg);
    if (rc == FER_EXIT_OK) {
        o.filters = filters;
        o.start = start;
        if (fer_filter_viz_pick(m, &o, filters, o.count, &err) || fer_filter_viz(m, &o, images, act, &err))
            rc = cli_fail("%s", err.msg);
        else
            rc = draw_filters(a, m, &o, images, act);
    }
    free(filters);
    free(images);
    free(act);
    free(start);
    return rc;
}

static int cmd_filters(int argc, char **argv)
{
    filters_args a = {0};
    cli_flag flags[] = {{"--checkpoint", 1, &a.checkpoint, NULL},
                        {"--out", 1, &a.out, NULL},
                        {"--layer", 1, &a.layer, NULL},
                        {"--count", 1, &a.count, NULL},
                        {"--steps", 1, &a.steps, NULL},
                        {"--step", 1, &a.step, NULL},
                        {"--seed", 1, &a.seed, NULL},
                        {"--image", 1, &a.image, NULL},
                        {NULL, 0, NULL, NULL}};
    return viz_main("filters", argc, argv, flags, &a.checkpoint, &a.out, run_filters, &a);
}

/* ---- saliency ------------------------------------------------------------ */

typedef struct {
    const char *checkpoint, *out, *data, *usage, *per_class, *layer, *scale, *batch;
} saliency_args;

static int report(const saliency_args *a, fer_model *m, const fer_config *cfg, const fer_run_data *data,
                  const float *probs, int layer)
{
    const fer_image_set *s = &data->set[FER_SPLIT_TEST];
    fer_saliency_report_opts o = {.out_dir = a->out,
                                  .layer = layer,
                                  .per_class = 4,
                                  .view = fer_view_center(&cfg->augment.random_crop, cfg->model.input_size)};
    o.scale = (144 + cfg->model.input_size - 1) / cfg->model.input_size;
    int rc;
    if ((rc = cli_number_int("viz", "--per-class", a->per_class, 1, 64, &o.per_class)) ||
        (rc = cli_number_int("viz", "--scale", a->scale, 1, 16, &o.scale)))
        return rc;
    const char *names[FER_MAX_CLASSES];
    for (int k = 0; k < cfg->model.classes; k++)
        names[k] = data->ds.class_names[k];
    o.names = names;
    char title[700];
    snprintf(title, sizeof title, "%s, %s%s", a->checkpoint, cfg->data.test_usage,
             data->ds.synthetic ? " (synthetic)" : "");
    o.title = title;
    fer_err err;
    if (fer_saliency_report(m, &o, s->pixels, s->labels, probs, s->n, cfg->model.preprocess_caffe, &err))
        return cli_fail("%s", err.msg);
    printf(
        "wrote %s/index.html, %s/overview.png and the maps of up to %d samples per class (Grad-CAM at %s)\n",
        a->out, a->out, o.per_class, m->layers[layer].cfg.name);
    return FER_EXIT_OK;
}

static int run_saliency(const void *args, const fer_dist *d, fer_model *m, fer_config *cfg)
{
    const saliency_args *a = args;
    int layer, batch = cfg->data.batch_size;
    int rc = pick_layer(m, a->layer, &layer);
    if (rc != FER_EXIT_OK || (rc = cli_number_int("viz", "--batch", a->batch, 1, 1 << 20, &batch)))
        return rc;
    if (a->usage)
        snprintf(cfg->data.test_usage, sizeof cfg->data.test_usage, "%s", a->usage);
    fer_run_data data;
    fer_err err;
    if (fer_run_data_load(&data, cfg, d, a->data, 1u << FER_SPLIT_TEST, &err))
        return cli_fail("%s", err.msg);
    const fer_image_set *s = &data.set[FER_SPLIT_TEST];
    float *probs = malloc(((size_t)s->n * cfg->model.classes + 1) * sizeof *probs);
    fer_view center = fer_view_center(&cfg->augment.random_crop, cfg->model.input_size);
    fer_eval_result r;
    if (fer_dist_any_failed(d, !probs ? fer_fail(&err, "out of memory") : FER_OK, &err))
        rc = cli_fail("%s", err.msg);
    else if (fer_evaluate_view(m, d, s, batch, cfg->model.preprocess_caffe, &center, &r, probs, &err))
        rc = cli_fail("%s", err.msg);
    else if (d->rank == 0)
        rc = report(a, m, cfg, &data, probs, layer);
    free(probs);
    fer_run_data_free(&data);
    return rc;
}

static int cmd_saliency(int argc, char **argv)
{
    saliency_args a = {0};
    cli_flag flags[] = {{"--checkpoint", 1, &a.checkpoint, NULL},
                        {"--out", 1, &a.out, NULL},
                        {"--data", 1, &a.data, NULL},
                        {"--usage", 1, &a.usage, NULL},
                        {"--per-class", 1, &a.per_class, NULL},
                        {"--layer", 1, &a.layer, NULL},
                        {"--scale", 1, &a.scale, NULL},
                        {"--batch", 1, &a.batch, NULL},
                        {NULL, 0, NULL, NULL}};
    return viz_main("saliency", argc, argv, flags, &a.checkpoint, &a.out, run_saliency, &a);
}

int cmd_viz(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? FER_EXIT_USAGE : FER_EXIT_OK;
    }
    if (!strcmp(argv[1], "filters"))
        return cmd_filters(argc - 1, argv + 1);
    if (!strcmp(argv[1], "saliency"))
        return cmd_saliency(argc - 1, argv + 1);
    return cli_usage("viz", "unknown visualization '%s' (filters or saliency)", argv[1]);
}
