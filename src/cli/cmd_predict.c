/* fer predict: emotion probabilities of image files under a checkpoint. */
#include "commands.h"
#include "options.h"

#include "fer/dataset.h"
#include "fer/explain.h"
#include "fer/saved_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: fer predict --checkpoint CKPT [--json] [--batch N] [--tta MODE] IMAGE...\n\n"
    "Prints the most likely emotion and the probability of every class for each\n"
    "image (PNG or JPEG, any size, colour made grey). Images are prepared as the\n"
    "checkpoint's training images were: resized to 48x48, histogram-equalized when\n"
    "its config has data.equalize, upscaled to the model's input size, centre-\n"
    "cropped when it was trained with augment.random_crop, and preprocessed for\n"
    "its input channels. Every image is read before anything is\n"
    "printed: an unreadable one fails the command (exit 1) and names the file.\n\n"
    "  --checkpoint CKPT  a checkpoint written by `fer train` (its stored config rebuilds the model)\n"
    "  --json             one JSON document on stdout instead of the table\n"
    "  --batch N          images per forward pass (default 64)\n"
    "  --tta MODE         none (default), flip (average with the mirror) or tencrop (four corner\n"
    "                     and the centre crops of augment.random_crop.size, each also mirrored)\n";

typedef struct {
    const char *checkpoint, *batch, *tta;
    fer_tta tta_mode;
    int json;
    int n_images;
    const char **images;
} predict_args;

static int parse(predict_args *a, int argc, char **argv)
{
    a->images = calloc((size_t)argc, sizeof *a->images);
    if (!a->images)
        return cli_fail("out of memory");
    cli_flag flags[] = {{"--checkpoint", 1, &a->checkpoint, NULL},
                        {"--batch", 1, &a->batch, NULL},
                        {"--json", 0, NULL, &a->json},
                        {"--tta", 1, &a->tta, NULL},
                        {NULL, 0, NULL, NULL}};
    int rc = cli_parse_args("predict", argc, argv, flags, a->images, &a->n_images);
    if (rc != FER_EXIT_OK)
        return rc;
    if (!a->checkpoint)
        return cli_usage("predict", "--checkpoint is required");
    if (a->n_images == 0)
        return cli_usage("predict", "no IMAGE given");
    fer_err err;
    if (a->tta && fer_tta_parse(&a->tta_mode, a->tta, &err))
        return cli_usage("predict", "%s", err.msg);
    return FER_EXIT_OK;
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_json(const predict_args *a, const float *probs, int k, const char *const *names)
{
    printf("{\n  \"checkpoint\": ");
    json_string(a->checkpoint);
    printf(",\n  \"classes\": [");
    for (int j = 0; j < k; j++) {
        printf("%s", j ? ", " : "");
        json_string(names[j]);
    }
    printf("],\n  \"predictions\": [");
    for (int i = 0; i < a->n_images; i++) {
        const float *p = probs + (size_t)i * k;
        int top = fer_top_class(p, k);
        printf("%s\n    {\"image\": ", i ? "," : "");
        json_string(a->images[i]);
        printf(", \"top\": ");
        json_string(names[top]);
        printf(", \"top_index\": %d, \"probabilities\": {", top);
        for (int j = 0; j < k; j++) {
            printf("%s", j ? ", " : "");
            json_string(names[j]);
            printf(": %.6f", p[j]);
        }
        printf("}}");
    }
    printf("\n  ]\n}\n");
}

static void print_table(const predict_args *a, const float *probs, int k, const char *const *names)
{
    int path_w = 5;
    for (int i = 0; i < a->n_images; i++) {
        int len = (int)strlen(a->images[i]);
        path_w = len > path_w ? len : path_w;
    }
    printf("%-*s  %-9s", path_w, "image", "top");
    for (int j = 0; j < k; j++)
        printf(" %8.8s", names[j]);
    putchar('\n');
    for (int i = 0; i < a->n_images; i++) {
        const float *p = probs + (size_t)i * k;
        printf("%-*s  %-9s", path_w, a->images[i], names[fer_top_class(p, k)]);
        for (int j = 0; j < k; j++)
            printf(" %8.4f", p[j]);
        putchar('\n');
    }
}

/* Probabilities of n prepared images: one view's, or the mean over the
   test-time views (summed in double, as fer eval does). */
static int predict_views(fer_model *m, const fer_config *cfg, const uint8_t *grey, int n, int batch,
                         const fer_view *views, int n_views, float *x, float *one, double *sum, float *probs,
                         fer_err *err)
{
    int size = cfg->model.input_size, ch = cfg->model.channels, k = m->cfg.classes;
    for (int v = 0; v < n_views; v++) {
        float *out = n_views == 1 ? probs : one;
        if (fer_face_inputs_view(x, grey, n, size, ch, cfg->model.preprocess_caffe, &views[v], err) ||
            fer_predict_probs(m, x, n, batch, out, err))
            return FER_ERROR;
        for (size_t i = 0; n_views > 1 && i < (size_t)n * k; i++)
            sum[i] = (v ? sum[i] : 0.0) + one[i];
    }
    for (size_t i = 0; n_views > 1 && i < (size_t)n * k; i++)
        probs[i] = (float)(sum[i] / n_views);
    return FER_OK;
}

/* Probabilities of every image, computed batch by batch. */
static int predict_all(const predict_args *a, fer_model *m, const fer_config *cfg, int batch, float *probs)
{
    int size = cfg->model.input_size, ch = cfg->model.channels, k = m->cfg.classes;
    size_t pixels = (size_t)size * size;
    fer_err err;
    fer_view views[FER_TTA_MAX_VIEWS];
    int n_views = fer_tta_views(views, a->tta_mode, &cfg->augment.random_crop, size, &err);
    if (n_views < 0)
        return cli_fail("%s: %s", a->checkpoint, err.msg);
    uint8_t *grey = malloc((size_t)batch * pixels);
    float *x = malloc((size_t)batch * pixels * ch * sizeof *x),
          *one = malloc((size_t)batch * k * sizeof *one);
    double *sum = malloc((size_t)batch * k * sizeof *sum);
    int rc =
        grey && x && one && sum ? FER_EXIT_OK : cli_fail("out of memory for a batch of %d images", batch);
    for (int first = 0; rc == FER_EXIT_OK && first < a->n_images; first += batch) {
        int n = a->n_images - first < batch ? a->n_images - first : batch;
        for (int i = 0; i < n && rc == FER_EXIT_OK; i++)
            if (fer_face_image_load(a->images[first + i], size, cfg->data.equalize, grey + i * pixels, &err))
                rc = cli_fail("%s", err.msg);
        if (rc == FER_EXIT_OK && predict_views(m, cfg, grey, n, batch, views, n_views, x, one, sum,
                                               probs + (size_t)first * k, &err))
            rc = cli_fail("%s", err.msg);
    }
    free(grey);
    free(x);
    free(one);
    free(sum);
    return rc;
}

static int run(const predict_args *a)
{
    int batch = 64;
    int rc = cli_number_int("predict", "--batch", a->batch, 1, 4096, &batch);
    if (rc != FER_EXIT_OK)
        return rc;
    fer_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return cli_fail("out of memory");
    fer_model m;
    fer_err err;
    if (fer_saved_model_open(a->checkpoint, cfg, &m, NULL, &err)) {
        free(cfg);
        return cli_fail("%s", err.msg);
    }
    int k = m.cfg.classes;
    const char *names[FER_MAX_CLASSES];
    char generic[FER_MAX_CLASSES][24];
    for (int j = 0; j < k && j < FER_MAX_CLASSES; j++) {
        snprintf(generic[j], sizeof generic[j], "class%d", j);
        names[j] = k == 7 ? fer_emotion_names[j] : generic[j];
    }
    float *probs = malloc((size_t)a->n_images * k * sizeof *probs);
    rc = probs && k <= FER_MAX_CLASSES ? predict_all(a, &m, cfg, batch, probs)
                                       : cli_fail("cannot predict %d classes", k);
    if (rc == FER_EXIT_OK) {
        if (a->json)
            print_json(a, probs, k, names);
        else
            print_table(a, probs, k, names);
    }
    free(probs);
    fer_model_free(&m);
    free(cfg);
    return rc;
}

int cmd_predict(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FER_EXIT_OK;
    }
    predict_args a = {0};
    int rc = parse(&a, argc, argv);
    if (rc == FER_EXIT_OK)
        rc = run(&a);
    free((void *)a.images);
    return rc;
}
