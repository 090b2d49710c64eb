/* Grad-CAM of a trained model looks at the face, not the background.
   Trains tests/configs/gradcam.yaml (a small network that learns the
   synthetic faces in seconds) in a temporary run directory, then compares
   the mean normalized Grad-CAM energy of regions where the synthetic
   generator (src/data/synthetic.c) draws the face features with the image
   corners, which are background in every sample: over all classes the face
   centre must carry at least 3x the corners' energy, Happy's map must sit
   on the mouth and Fear's and Surprise's on the eyes and brows. Also checks that Grad-CAM
   and saliency are deterministic, non-negative and of the right shape. */
#include "check_mpi.h"

#include "fer/dist.h"
#include "fer/evaluate.h"
#include "fer/explain.h"
#include "fer/image.h"
#include "fer/log.h"
#include "fer/run_data.h"
#include "fer/saved_model.h"
#include "fer/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIDE = 48, CORNER = 8 };

/* Regions in 48x48 pixels, from the generator's geometry: face centre
   24 +- 2.5, 25 +- 2.5, 16 +- 10% pixels per face unit, rotation +- 10
   degrees; eyes at v = -0.18, u = +-0.38; mouth at v = 0.5..0.63, |u| <= 0.42.
   The 8x8 corners lie outside the face oval for every pose. */
typedef struct {
    const char *name;
    int y0, y1, x0, x1;
} region;

static const region face = {"face centre", 12, 42, 12, 36};
static const region eyes = {"eye band", 16, 27, 12, 36};
static const region mouth = {"mouth band", 29, 41, 14, 34};

static double region_mean(const float *map, const region *r)
{
    double s = 0;
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++)
            s += map[y * SIDE + x];
    return s / ((r->y1 - r->y0) * (r->x1 - r->x0));
}

static double corners_mean(const float *map)
{
    double s = 0;
    for (int y = 0; y < CORNER; y++)
        for (int x = 0; x < CORNER; x++)
            s += map[y * SIDE + x] + map[y * SIDE + SIDE - 1 - x] + map[(SIDE - 1 - y) * SIDE + x] +
                 map[(SIDE - 1 - y) * SIDE + SIDE - 1 - x];
    return s / (4 * CORNER * CORNER);
}

static int train(fer_config *cfg, const fer_dist *d, char *checkpoint, size_t cap)
{
    fer_train_opts to = {.config = cfg, .dist = d};
    fer_train_result res;
    fer_err err;
    if (fer_train(&to, &res, &err)) {
        printf("training failed: %s\n", err.msg);
        return FER_ERROR;
    }
    printf("trained %d epochs: validation accuracy %.3f\n", res.epochs_done, res.last_val_acc);
    snprintf(checkpoint, cap, "%s", res.checkpoint);
    return FER_OK;
}

typedef struct {
    double face, eyes, mouth, corners;
    int n;
} energies;

/* Normalized Grad-CAM (true class) of the correctly classified test samples. */
static void measure(fer_model *m, const fer_image_set *s, const float *probs, int layer, energies *per_class,
                    energies *all)
{
    const fer_layer *L = &m->layers[layer];
    int k = m->cfg.classes, hw = L->out_h * L->out_w;
    float *x = malloc(fer_model_input_size(m) * sizeof(float)), *cam = malloc(hw * sizeof(float));
    float *up = malloc(SIDE * SIDE * sizeof(float));
    fer_err err;
    for (int i = 0; i < s->n; i++) {
        int c = s->labels[i];
        if (fer_top_class(probs + (size_t)i * k, k) != c)
            continue;
        CHECK(fer_face_inputs(x, s->pixels + (size_t)i * SIDE * SIDE, 1, SIDE, m->cfg.channels,
                              m->cfg.preprocess_caffe, &err) == FER_OK);
        CHECK(fer_gradcam(m, layer, x, 1, &c, cam, &err) == FER_OK);
        fer_map_normalize(cam, hw);
        fer_resize_bilinear(up, SIDE, SIDE, cam, L->out_h, L->out_w);
        energies e = {region_mean(up, &face), region_mean(up, &eyes), region_mean(up, &mouth),
                      corners_mean(up), 1};
        energies *targets[2] = {&per_class[c], all};
        for (int t = 0; t < 2; t++) {
            targets[t]->face += e.face;
            targets[t]->eyes += e.eyes;
            targets[t]->mouth += e.mouth;
            targets[t]->corners += e.corners;
            targets[t]->n++;
        }
    }
    free(x);
    free(cam);
    free(up);
}

static void print_energies(const char *name, const energies *e)
{
    int n = e->n > 0 ? e->n : 1;
    printf("  %-9s n=%3d  face %.3f  eyes %.3f  mouth %.3f  corners %.3f  face/corners %.1f\n", name, e->n,
           e->face / n, e->eyes / n, e->mouth / n, e->corners / n,
           e->face / (e->corners > 0 ? e->corners : 1e-9));
}

/* Same inputs twice: bit-identical maps; shapes and ranges as documented. */
static void check_determinism(fer_model *m, const fer_image_set *s, int layer)
{
    enum { N = 4 };
    const fer_layer *L = &m->layers[layer];
    size_t in = fer_model_input_size(m), hw = (size_t)L->out_h * L->out_w, px = SIDE * SIDE;
    float *x = malloc(N * in * sizeof(float)), *cam1 = malloc(N * hw * sizeof(float)),
          *cam2 = malloc(N * hw * sizeof(float)), *sal1 = malloc(N * px * sizeof(float)),
          *sal2 = malloc(N * px * sizeof(float));
    int classes[N] = {0, 3, 4, 5};
    fer_err err;
    CHECK(fer_face_inputs(x, s->pixels, N, SIDE, m->cfg.channels, m->cfg.preprocess_caffe, &err) == FER_OK);
    CHECK(fer_gradcam(m, layer, x, N, classes, cam1, &err) == FER_OK);
    CHECK(fer_saliency(m, x, N, classes, sal1, &err) == FER_OK);
    CHECK(fer_gradcam(m, layer, x, N, classes, cam2, &err) == FER_OK);
    CHECK(fer_saliency(m, x, N, classes, sal2, &err) == FER_OK);
    int neg = 0, nonfinite = 0;
    for (size_t i = 0; i < N * hw; i++) {
        neg += cam1[i] < 0;
        nonfinite += !isfinite(cam1[i]);
    }
    for (size_t i = 0; i < N * px; i++) {
        neg += sal1[i] < 0;
        nonfinite += !isfinite(sal1[i]);
    }
    printf("Grad-CAM %dx%d and saliency %dx%d of %d samples: repeat identical %d/%d, negative %d, non-finite "
           "%d\n",
           L->out_h, L->out_w, SIDE, SIDE, N, !memcmp(cam1, cam2, N * hw * sizeof(float)),
           !memcmp(sal1, sal2, N * px * sizeof(float)), neg, nonfinite);
    CHECK(!memcmp(cam1, cam2, N * hw * sizeof(float)));
    CHECK(!memcmp(sal1, sal2, N * px * sizeof(float)));
    CHECK(neg == 0 && nonfinite == 0);
    /* A class outside the model and a layer above global pooling are errors, not crashes. */
    int bad = 7;
    CHECK(fer_gradcam(m, layer, x, 1, &bad, cam1, &err) == FER_ERROR);
    CHECK(fer_gradcam(m, m->n_layers - 1, x, 1, classes, cam1, &err) == FER_ERROR);
    CHECK(fer_saliency(m, x, 1, &bad, sal1, &err) == FER_ERROR);
    free(x);
    free(cam1);
    free(cam2);
    free(sal1);
    free(sal2);
}

int main(void)
{
    const char *src = getenv("FER_SOURCE_DIR");
    char path[1024], dir[] = "/tmp/fer-gradcam-XXXXXX", checkpoint[FER_FILE_PATH_LEN];
    snprintf(path, sizeof path, "%s/tests/configs/gradcam.yaml", src ? src : ".");
    fer_config *cfg = calloc(1, sizeof *cfg), *saved = calloc(1, sizeof *saved);
    fer_err err;
    fer_dist d;
    if (!mkdtemp(dir) || fer_config_load(cfg, path, &err)) {
        printf("setup failed: %s\n", err.msg);
        return 1;
    }
    if (check_mpi_init(&d, NULL, NULL))
        return 1;
    /* One BLAS thread: this network's GEMMs are too small to share, and
       waiting threads more than doubled the test's CPU time. */
    char threads[256];
    if (fer_dist_blas_threads(&d, 1, threads, sizeof threads, &err)) {
        printf("setup failed: %s\n", err.msg);
        return 1;
    }
    snprintf(cfg->run_dir, sizeof cfg->run_dir, "%s", dir);
    cfg->logging.progress = FER_PROGRESS_NONE;
    fer_log_set_level(FER_LOG_QUIET);
    fer_model m;
    fer_run_data data;
    if (train(cfg, &d, checkpoint, sizeof checkpoint) ||
        fer_saved_model_open(checkpoint, saved, &m, NULL, &err) ||
        fer_run_data_load(&data, saved, NULL, NULL, 1u << FER_SPLIT_TEST, &err)) {
        printf("failed: %s\n", err.msg);
        return 1;
    }
    const fer_image_set *s = &data.set[FER_SPLIT_TEST];
    int k = m.cfg.classes, layer = fer_last_conv_layer(&m);
    float *probs = malloc((size_t)s->n * k * sizeof(float));
    fer_eval_result r;
    CHECK(fer_evaluate(&m, &d, s, 32, m.cfg.preprocess_caffe, &r, probs, &err) == FER_OK);
    printf("test accuracy %.3f over %ld samples (chance %.3f); Grad-CAM at %s (%dx%d)\n", r.accuracy, r.n,
           1.0 / k, m.layers[layer].cfg.name, m.layers[layer].out_h, m.layers[layer].out_w);
    CHECK(r.accuracy > 0.35);

    energies per_class[FER_MAX_CLASSES] = {{0}}, all = {0};
    measure(&m, s, probs, layer, per_class, &all);
    printf("mean normalized Grad-CAM energy by region (true class, correct samples):\n");
    for (int c = 0; c < k; c++)
        print_energies(data.ds.class_names[c], &per_class[c]);
    print_energies("all", &all);
    double ratio = all.face / (all.corners > 0 ? all.corners : 1e-9);
    printf("face centre / corners: %.2f (need >= 3)\n", ratio);
    CHECK(all.n >= 30);
    CHECK(ratio >= 3.0);
    /* Where the class is drawn: a smile is all mouth (its eyes barely
       change), fear and surprise raise the brows and widen the eyes. */
    const energies *happy = &per_class[3], *fear = &per_class[2], *surprise = &per_class[5];
    printf(
        "Happy: mouth band / corners %.1f (need >= 3), mouth / eye band %.1f (need > 1); eye band / corners: "
        "Fear %.1f, Surprise %.1f (need >= 3)\n",
        happy->mouth / fmax(happy->corners, 1e-9), happy->mouth / fmax(happy->eyes, 1e-9),
        fear->eyes / fmax(fear->corners, 1e-9), surprise->eyes / fmax(surprise->corners, 1e-9));
    CHECK(happy->n >= 2 && fear->n >= 2 && surprise->n >= 2);
    CHECK(happy->mouth >= 3 * happy->corners && happy->mouth > happy->eyes);
    CHECK(fear->eyes >= 3 * fear->corners && surprise->eyes >= 3 * surprise->corners);
    check_determinism(&m, s, layer);

    free(probs);
    fer_run_data_free(&data);
    fer_model_free(&m);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    free(cfg);
    free(saved);
    fer_dist_finalize(&d);
    return check_report("test_explain_gradcam");
}
