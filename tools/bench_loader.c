/* How many samples per second one loader thread produces at the seed's input
   size (96x96x3, caffe preprocessing) with the seed's full augmentation
   (rotation 40, zoom 0.4, shifts 0.2, shear 0.1, horizontal flip, nearest).

   usage: bench_loader [N_IMAGES [EPOCHS]]   (synthetic faces; default 2048 2) */
#include "fer/dataset.h"
#include "fer/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double run(const fer_loader_opts *o, int epochs, long *samples)
{
    fer_loader *l;
    fer_err err;
    if (fer_loader_create(&l, o, &err)) {
        fprintf(stderr, "bench_loader: %s\n", err.msg);
        exit(1);
    }
    double t0 = now();
    *samples = 0;
    for (int e = 0; e < epochs; e++) {
        fer_loader_start_epoch(l, e, 0);
        const fer_batch *b;
        while ((b = fer_loader_next(l)))
            *samples += b->n;
    }
    double t = now() - t0;
    fer_loader_free(l);
    return t;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2048, epochs = argc > 2 ? atoi(argv[2]) : 2;
    if (n < 1 || epochs < 1) {
        fprintf(stderr, "usage: bench_loader [N_IMAGES [EPOCHS]]\n");
        return 2;
    }
    fer_dataset ds;
    fer_err err;
    uint8_t *pixels, *labels;
    int64_t *ids;
    int count;
    if (fer_dataset_synthetic(&ds, n, 0, 0, 1, &err) ||
        fer_image_set_build(&pixels, &labels, &ids, &count, &ds, FER_USAGE_TRAINING, 96, 1, 0, &err)) {
        fprintf(stderr, "bench_loader: %s\n", err.msg);
        return 1;
    }
    fer_image_set set = {count, 96, pixels, labels, ids};
    fer_loader_opts o = {.images = &set,
                         .batch_size = 64,
                         .rank = 0,
                         .nranks = 1,
                         .channels = 3,
                         .caffe = 1,
                         .shuffle = 1,
                         .augment = 1,
                         .seed = 1,
                         .prefetch = 0};
    o.aug = (fer_augment_cfg){.enabled = 1,
                              .rotation_range = 40,
                              .width_shift_range = 0.2,
                              .height_shift_range = 0.2,
                              .shear_range = 0.1,
                              .zoom_range = 0.4,
                              .horizontal_flip = 1,
                              .fill_mode = FER_FILL_NEAREST,
                              .cval = 0};
    long samples;
    double t_aug = run(&o, epochs, &samples);
    printf("loader, 1 thread, 96x96x3, full seed augmentation: %ld samples in %.2f s = %.0f samples/s\n",
           samples, t_aug, samples / t_aug);
    o.augment = 0;
    double t_plain = run(&o, epochs, &samples);
    printf("loader, 1 thread, 96x96x3, no augmentation:        %ld samples in %.2f s = %.0f samples/s\n",
           samples, t_plain, samples / t_plain);
    free(pixels);
    free(labels);
    free(ids);
    fer_dataset_free(&ds);
    return 0;
}
