/* fer predict's input path: an image file becomes exactly the model input a
   training image of the data set would (same bytes through the training
   image-set builder), whatever its size or format; probabilities are a
   distribution and do not depend on the batch size. */
#include "check.h"

#include "fer/dataset.h"
#include "fer/explain.h"
#include "fer/image.h"
#include "fer/loader.h"
#include "source_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SIDE = FER_DATASET_SIDE, SIZE = 96 };

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += abs(a[i] - b[i]);
    return s / n;
}

static void check_files(const char *dir)
{
    fer_dataset ds;
    fer_err err;
    CHECK(fer_dataset_synthetic(&ds, 3, 0, 0, 42, &err) == FER_OK);
    uint8_t *train = NULL, *labels = NULL;
    int64_t *ids = NULL;
    int n = 0;
    CHECK(fer_image_set_build(&train, &labels, &ids, &n, &ds, FER_USAGE_TRAINING, SIZE, 1, 0, &err) ==
          FER_OK);

    char png[256], jpg[256], big[256], missing[256];
    snprintf(png, sizeof png, "%s/face.png", dir);
    snprintf(jpg, sizeof jpg, "%s/face.jpg", dir);
    snprintf(big, sizeof big, "%s/big.png", dir);
    snprintf(missing, sizeof missing, "%s/missing.png", dir);
    CHECK(fer_png_write_grey(png, ds.pixels, SIDE, SIDE, &err) == FER_OK);
    CHECK(fer_jpeg_write_grey(jpg, ds.pixels, SIDE, SIDE, 95, &err) == FER_OK);
    /* The same face at 130 x 100 (another size and aspect): resized back. */
    float src[SIDE * SIDE], up[130 * 100];
    uint8_t up8[130 * 100];
    for (int i = 0; i < SIDE * SIDE; i++)
        src[i] = ds.pixels[i];
    fer_resize_bilinear(up, 130, 100, src, SIDE, SIDE);
    for (int i = 0; i < 130 * 100; i++)
        up8[i] = (uint8_t)lrintf(fminf(255, fmaxf(0, up[i])));
    CHECK(fer_png_write_grey(big, up8, 130, 100, &err) == FER_OK);

    uint8_t from_png[SIZE * SIZE], from_jpg[SIZE * SIZE], from_big[SIZE * SIZE], plain[SIZE * SIZE];
    CHECK(fer_face_image_load(png, SIZE, 1, from_png, &err) == FER_OK);
    CHECK(fer_face_image_load(jpg, SIZE, 1, from_jpg, &err) == FER_OK);
    CHECK(fer_face_image_load(big, SIZE, 1, from_big, &err) == FER_OK);
    CHECK(fer_face_image_load(png, SIZE, 0, plain, &err) == FER_OK);
    int same = n == 3 && !memcmp(from_png, train, sizeof from_png);
    double d_jpg = mean_abs_diff(from_png, from_jpg, SIZE * SIZE),
           d_big = mean_abs_diff(from_png, from_big, SIZE * SIZE);
    double d_eq = mean_abs_diff(from_png, plain, SIZE * SIZE);
    printf("48x48 PNG -> %dx%d input equals the training image set's bytes: %d; mean |diff| to it: JPEG q95 "
           "%.2f, "
           "130x100 PNG %.2f (tol 8); without equalization %.2f (must differ)\n",
           SIZE, SIZE, same, d_jpg, d_big, d_eq);
    CHECK(same);
    CHECK(d_jpg < 8 && d_big < 8 && d_eq > 1);

    uint8_t out[SIZE * SIZE];
    CHECK(fer_face_image_load(missing, SIZE, 1, out, &err) == FER_ERROR);
    printf("missing file: %s\n", err.msg);
    CHECK(strstr(err.msg, "missing.png") != NULL);
    FILE *f = fopen(big, "r+b");
    if (f) { /* truncated garbage after a valid signature */
        fseek(f, 40, SEEK_SET);
        fputs("not a png any more", f);
        fclose(f);
    }
    CHECK(fer_face_image_load(big, SIZE, 1, out, &err) == FER_ERROR);
    printf("corrupt file: %s\n", err.msg);
    unlink(png);
    unlink(jpg);
    unlink(big);
    free(train);
    free(labels);
    free(ids);
    fer_dataset_free(&ds);
}

static void check_probabilities(void)
{
    fer_model m;
    fer_err err;
    if (source_model(&m, "configs/tiny.yaml", 3, &err)) {
        printf("cannot build the tiny model: %s\n", err.msg);
        CHECK(0);
        return;
    }
    enum { N = 5 };
    int size = m.cfg.input_size, k = m.cfg.classes;
    uint8_t grey[N * 24 * 24];
    for (int i = 0; i < N * size * size; i++)
        grey[i] = (uint8_t)((i * 37 + i / 7) % 256);
    memcpy(grey + 4 * size * size, grey, (size_t)size * size); /* the last repeats the first */
    float *x = malloc(N * fer_model_input_size(&m) * sizeof(float)), p5[N * 7], p1[N * 7];
    CHECK(fer_face_inputs(x, grey, N, size, m.cfg.channels, m.cfg.preprocess_caffe, &err) == FER_OK);
    CHECK(fer_predict_probs(&m, x, N, 64, p5, &err) == FER_OK);
    CHECK(fer_predict_probs(&m, x, N, 1, p1, &err) == FER_OK);
    double worst_sum = 0, batch_diff = 0;
    int in_range = 1;
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < k; j++) {
            s += p5[i * k + j];
            in_range &= p5[i * k + j] >= 0 && p5[i * k + j] <= 1;
            batch_diff = fmax(batch_diff, fabs(p5[i * k + j] - p1[i * k + j]));
        }
        worst_sum = fmax(worst_sum, fabs(s - 1));
    }
    /* Rows of one GEMM may round differently by position: equal to 1e-6. */
    double repeat_diff = 0;
    for (int j = 0; j < k; j++)
        repeat_diff = fmax(repeat_diff, fabs(p5[j] - p5[4 * k + j]));
    float again[N * 7];
    CHECK(fer_predict_probs(&m, x, N, 64, again, &err) == FER_OK);
    int rerun = !memcmp(p5, again, sizeof again);
    printf(
        "probabilities of %d inputs: max |sum - 1| %.1e (tol 1e-6), in [0,1] %d, batch 64 vs 1 max diff %.1e "
        "(tol 1e-6), a repeated input differs by %.1e (tol 1e-6), the same call again is identical %d\n",
        N, worst_sum, in_range, batch_diff, repeat_diff, rerun);
    CHECK(worst_sum < 1e-6 && in_range && batch_diff < 1e-6 && repeat_diff < 1e-6 && rerun);
    CHECK(fer_predict_probs(&m, x, N, 0, p1, &err) == FER_ERROR);
    free(x);
    fer_model_free(&m);
}

int main(void)
{
    char dir[] = "/tmp/fer-predict-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    check_files(dir);
    check_probabilities();
    rmdir(dir);
    return check_report("test_explain_predict");
}
