/* Writes the binary seed corpora of the fuzz targets with fer's own writers:
   small data set files as `fer prepare` writes them, a checkpoint of a tiny
   model as `fer train` writes it, and PNG/JPEG images as fer writes them.
   Usage: fuzz_make_seeds CORPUS_DIR (the subfolders must exist). */
#include "fer/checkpoint.h"
#include "fer/config.h"
#include "fer/dataset.h"
#include "fer/image.h"
#include "fer/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_dir;

static const char *path_of(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    return path;
}

static void check(int rc, const fer_err *err)
{
    if (rc != FER_OK) {
        fprintf(stderr, "fuzz_make_seeds: %s\n", err->msg);
        exit(1);
    }
}

static void write_dataset(const char *name, int n, int side, int n_classes)
{
    fer_dataset ds = {.n = n, .h = side, .w = side, .n_classes = n_classes};
    ds.pixels = malloc((size_t)n * side * side);
    ds.labels = malloc((size_t)n);
    ds.usage = malloc((size_t)n);
    for (int i = 0; i < n * side * side; i++)
        ds.pixels[i] = (uint8_t)(i * 37 % 256);
    for (int i = 0; i < n; i++) {
        ds.labels[i] = (uint8_t)(i % n_classes);
        ds.usage[i] = (uint8_t)(i % FER_N_USAGES);
    }
    for (int c = 0; c < n_classes; c++)
        snprintf(ds.class_names[c], sizeof ds.class_names[c], "%s", fer_emotion_names[c % 7]);
    fer_err err = {{0}};
    check(fer_dataset_write_h5(&ds, path_of(name), &err), &err);
    fer_dataset_free(&ds);
}

static const char tiny_yaml[] =
    "seed: 3\n"
    "model:\n"
    "  input_size: 8\n"
    "  channels: 1\n"
    "  classes: 3\n"
    "  preprocess_caffe: false\n"
    "  layers:\n"
    "    - {name: conv, type: conv2d, filters: 2, kernel_size: 3, padding: same}\n"
    "    - {name: bn, type: batchnorm}\n"
    "    - {name: pool, type: maxpool}\n"
    "    - {name: gap, type: gap}\n"
    "    - {name: out, type: dense, units: 3, activation: softmax}\n"
    "schedule:\n"
    "  - {name: all, epochs: 2, trainable: all}\n";

static void write_checkpoint(const char *name)
{
    fer_config cfg;
    fer_model m;
    fer_err err = {{0}};
    check(fer_config_load_string(&cfg, tiny_yaml, "tiny", &err), &err);
    check(fer_model_init(&m, &cfg.model, cfg.seed, &err), &err);
    char *yaml = fer_config_to_yaml(&cfg);
    float *slot0 = calloc(m.n_params, sizeof *slot0);
    fer_train_state state = {.epoch = 1, .global_step = 4, .lr = 0.01, .seed = 3, .best_val_acc = 0.5};
    fer_history history = {0};
    fer_epoch_metrics row = {.epoch = 0, .lr = 0.01, .train_loss = 1.1, .train_acc = 0.3, .val_acc = 0.5};
    fer_history_append(&history, &row);
    fer_checkpoint_out out = {
        .model = &m, .slot0 = slot0, .state = &state, .history = &history, .config_yaml = yaml};
    check(fer_checkpoint_save(path_of(name), &out, &err), &err);
    fer_history_free(&history);
    free(slot0);
    free(yaml);
    fer_model_free(&m);
}

static void write_images(void)
{
    uint8_t grey[12 * 10], rgb[12 * 10 * 3];
    for (int i = 0; i < 120; i++)
        grey[i] = (uint8_t)(i * 5);
    for (int i = 0; i < 360; i++)
        rgb[i] = (uint8_t)(i * 11);
    fer_err err = {{0}};
    check(fer_png_write_grey(path_of("png/grey_12x10.png"), grey, 12, 10, &err), &err);
    check(fer_png_write_rgb(path_of("png/rgb_12x10.png"), rgb, 12, 10, &err), &err);
    check(fer_jpeg_write_grey(path_of("jpeg/grey_12x10_q90.jpg"), grey, 12, 10, 90, &err), &err);
    check(fer_jpeg_write_grey(path_of("jpeg/grey_12x10_q20.jpg"), grey, 12, 10, 20, &err), &err);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    write_dataset("dataset_h5/prepared_6x6.h5", 5, 6, 3);
    write_dataset("dataset_h5/prepared_48x48.h5", 2, 48, 7);
    write_checkpoint("checkpoint/tiny.h5");
    write_images();
    return 0;
}
