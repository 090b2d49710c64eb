/* The embedded synthetic set: deterministic per (seed, index), balanced,
   marked synthetic, faces that differ by class. Writes synthetic_preview.png
   (rows of the 7 classes) in the working directory to look at. */
#include "check.h"
#include "fer/dataset.h"
#include "fer/image.h"

#include <math.h>
#include <string.h>

enum { PIX = 48 * 48, PREVIEW_ROWS = 8, GAP = 2 };

static void write_preview(const fer_dataset *ds)
{
    int tile = 48 + GAP, w = 7 * tile + GAP, h = PREVIEW_ROWS * tile + GAP;
    static uint8_t grid[(PREVIEW_ROWS * 50 + GAP) * (7 * 50 + GAP)];
    memset(grid, 255, sizeof grid);
    for (int r = 0; r < PREVIEW_ROWS; r++)
        for (int c = 0; c < 7; c++) {
            const uint8_t *img = ds->pixels + (size_t)(r * 7 + c) * PIX;
            for (int y = 0; y < 48; y++)
                memcpy(grid + (size_t)(GAP + r * tile + y) * w + GAP + c * tile, img + y * 48, 48);
        }
    fer_err err;
    if (fer_png_write_grey("synthetic_preview.png", grid, h, w, &err) == FER_OK)
        printf("wrote synthetic_preview.png: columns Angry Disgust Fear Happy Sad Surprise Neutral\n");
}

/* Mean absolute difference between the mean images of two classes. */
static double class_mean_distance(const fer_dataset *ds, int a, int b)
{
    static double mean[2][PIX];
    int count[2] = {0, 0};
    memset(mean, 0, sizeof mean);
    for (int i = 0; i < ds->n; i++) {
        int k = ds->labels[i] == a ? 0 : ds->labels[i] == b ? 1 : -1;
        if (k < 0)
            continue;
        count[k]++;
        for (int p = 0; p < PIX; p++)
            mean[k][p] += ds->pixels[(size_t)i * PIX + p];
    }
    double d = 0;
    for (int p = 0; p < PIX; p++)
        d += fabs(mean[0][p] / count[0] - mean[1][p] / count[1]);
    return d / PIX;
}

int main(void)
{
    fer_dataset a, b, c;
    fer_err err;
    CHECK(fer_dataset_synthetic(&a, 140, 35, 21, 7, &err) == FER_OK);
    CHECK(fer_dataset_synthetic(&b, 140, 35, 21, 7, &err) == FER_OK);
    CHECK(fer_dataset_synthetic(&c, 140, 35, 21, 8, &err) == FER_OK);
    printf("synthetic: n %d, %dx%d, %d classes, synthetic flag %d\n", a.n, a.h, a.w, a.n_classes,
           a.synthetic);
    CHECK(a.n == 196 && a.h == 48 && a.w == 48 && a.n_classes == 7 && a.synthetic == 1);
    for (int k = 0; k < 7; k++)
        CHECK(!strcmp(a.class_names[k], fer_emotion_names[k]));
    int same = !memcmp(a.pixels, b.pixels, (size_t)a.n * PIX) && !memcmp(a.labels, b.labels, a.n);
    int differs = memcmp(a.pixels, c.pixels, (size_t)a.n * PIX) != 0;
    printf("same seed: identical %d; other seed: pixels differ %d\n", same, differs);
    CHECK(same && differs);
    long counts[FER_N_USAGES][FER_MAX_CLASSES];
    fer_dataset_counts(&a, counts);
    printf("per-class counts Training/PublicTest/PrivateTest: %ld/%ld/%ld each (want 20/5/3)\n", counts[0][0],
           counts[1][0], counts[2][0]);
    for (int k = 0; k < 7; k++)
        CHECK(counts[0][k] == 20 && counts[1][k] == 5 && counts[2][k] == 3);
    /* Images are not flat and not all alike. */
    int flat = 0, equal_pairs = 0;
    for (int i = 0; i < a.n; i++) {
        const uint8_t *p = a.pixels + (size_t)i * PIX;
        int lo = 255, hi = 0;
        for (int q = 0; q < PIX; q++) {
            lo = p[q] < lo ? p[q] : lo;
            hi = p[q] > hi ? p[q] : hi;
        }
        flat += hi - lo < 40;
        equal_pairs += i > 0 && !memcmp(p, p - PIX, PIX);
    }
    printf("images with a grey range under 40: %d; identical neighbours: %d (want 0, 0)\n", flat,
           equal_pairs);
    CHECK(flat == 0 && equal_pairs == 0);
    /* Expressions show in the class means: Happy vs Sad, Surprise vs Neutral. */
    double hs = class_mean_distance(&a, 3, 4), sn = class_mean_distance(&a, 5, 6);
    printf("mean-image distance Happy-Sad %.2f, Surprise-Neutral %.2f grey levels (want > 1)\n", hs, sn);
    CHECK(hs > 1 && sn > 1);
    /* Sample i does not depend on how many samples are generated. */
    fer_dataset d;
    CHECK(fer_dataset_synthetic(&d, 140, 0, 0, 7, &err) == FER_OK);
    CHECK(!memcmp(d.pixels, a.pixels, (size_t)140 * PIX));
    CHECK(fer_dataset_synthetic(&d, -1, 0, 0, 7, &err) == FER_ERROR);
    printf("bad sizes -> %s\n", err.msg);
    write_preview(&a);
    fer_dataset_free(&a);
    fer_dataset_free(&b);
    fer_dataset_free(&c);
    fer_dataset_free(&d);
    return check_report("test_data_synthetic");
}
