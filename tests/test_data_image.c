/* Histogram equalization against OpenCV's equalizeHist (exact equality) on
   real FER2013 images (the first 300, every blank single-colour one) and
   edge cases, and bilinear resize against cv2.resize INTER_LINEAR. The
   reference is Debian's python3-opencv, run by tests/ref/cv2_ref.py. */
#include "check.h"
#include "fer/dataset.h"
#include "fer/image.h"
#include "fer/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N_REAL_FIRST = 300, PIX = 48 * 48, MAX_IMAGES = 400 };

static char dir[] = "/tmp/fer_test_image_XXXXXX";

static int run_ref(const char *args)
{
    const char *src = getenv("FER_SOURCE_DIR");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/ref/cv2_ref.py %s", src ? src : ".", args);
    fflush(stdout);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
}

static int write_raw(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    size_t n = f ? fwrite(data, 1, bytes, f) : 0;
    if (f)
        fclose(f);
    return n == bytes ? 0 : -1;
}

static int read_raw(const char *path, void *data, size_t bytes)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(data, 1, bytes, f) : 0;
    if (f)
        fclose(f);
    return n == bytes ? 0 : -1;
}

/* Edge cases: single colours, two levels, a lone odd pixel, noise, ramps. */
static int edge_cases(uint8_t *img)
{
    int k = 0;
    memset(img + PIX * k++, 0, PIX);
    memset(img + PIX * k++, 255, PIX);
    memset(img + PIX * k++, 137, PIX);
    for (int i = 0; i < PIX; i++)
        img[PIX * k + i] = i < PIX / 2 ? 100 : 200;
    k++;
    for (int i = 0; i < PIX; i++)
        img[PIX * k + i] = i == 17 ? 3 : 250;
    k++;
    for (int i = 0; i < PIX; i++)
        img[PIX * k + i] = i == 17 ? 255 : 0;
    k++;
    for (int i = 0; i < PIX; i++)
        img[PIX * k + i] = (uint8_t)(fer_draw64(42, (uint64_t)i) & 255);
    k++;
    for (int i = 0; i < PIX; i++)
        img[PIX * k + i] = (uint8_t)(90 + (fer_draw64(43, (uint64_t)i) % 40));
    k++;
    for (int i = 0; i < PIX; i++)
        img[PIX * k + i] = (uint8_t)(i % 48 * 5);
    k++;
    for (int i = 0; i < PIX; i++)
        img[PIX * k + i] = (uint8_t)(254 + (i & 1));
    k++;
    return k;
}

/* Appends the first real images and every blank one; returns how many. */
static int real_images(uint8_t *img, int room, int *n_blank)
{
    const char *src = getenv("FER_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/../shared/data/fer2013.csv.gz", src ? src : ".");
    fer_dataset ds;
    fer_err err;
    *n_blank = 0;
    if (access(path, R_OK) != 0 || fer_dataset_read_csv(&ds, path, 0, NULL, &err)) {
        printf("real FER2013 images: skipped (%s not readable)\n", path);
        return 0;
    }
    int k = 0;
    for (int i = 0; i < ds.n && k < room; i++) {
        const uint8_t *p = ds.pixels + (size_t)i * PIX;
        int blank = 1;
        for (int j = 1; j < PIX && blank; j++)
            blank = p[j] == p[0];
        if (i < N_REAL_FIRST || blank) {
            memcpy(img + (size_t)k++ * PIX, p, PIX);
            *n_blank += blank;
        }
    }
    fer_dataset_free(&ds);
    printf("real FER2013 images: first %d rows and %d blank single-colour images\n", N_REAL_FIRST, *n_blank);
    return k;
}

static int check_equalize(void)
{
    static uint8_t img[MAX_IMAGES * PIX], ours[MAX_IMAGES * PIX], ref[MAX_IMAGES * PIX];
    int n_edge = edge_cases(img), n_blank = 0;
    int n = n_edge + real_images(img + (size_t)n_edge * PIX, MAX_IMAGES - n_edge, &n_blank);
    char in[600], out[600], args[1400];
    snprintf(in, sizeof in, "%s/eq_in.raw", dir);
    snprintf(out, sizeof out, "%s/eq_out.raw", dir);
    snprintf(args, sizeof args, "equalize %s %s %d 48 48", in, out, n);
    if (write_raw(in, img, (size_t)n * PIX))
        return 1;
    int rc = run_ref(args);
    if (rc)
        return rc;
    if (read_raw(out, ref, (size_t)n * PIX))
        return 1;
    int images_differ = 0, pixels_differ = 0;
    for (int k = 0; k < n; k++) {
        fer_equalize_hist(ours + (size_t)k * PIX, img + (size_t)k * PIX, PIX);
        int d = 0;
        for (int i = 0; i < PIX; i++)
            d += ours[(size_t)k * PIX + i] != ref[(size_t)k * PIX + i];
        images_differ += d > 0;
        pixels_differ += d;
    }
    printf("equalizeHist: %d images (%d edge cases, %d real, %d of them blank): %d images / %d pixels differ "
           "from OpenCV (want 0)\n",
           n, n_edge, n - n_edge, n_blank, images_differ, pixels_differ);
    CHECK(images_differ == 0);
    CHECK(n_blank == 0 || n_blank >= 10);
    /* In place gives the same result. */
    memcpy(ref, img, PIX);
    fer_equalize_hist(ref, ref, PIX);
    fer_equalize_hist(ours, img, PIX);
    CHECK(!memcmp(ref, ours, PIX));
    return 0;
}

static int check_resize(void)
{
    static const int shapes[][4] = {
        {48, 48, 96, 96}, {48, 48, 70, 70}, {37, 53, 96, 96}, {96, 96, 48, 48}, {48, 48, 41, 130}};
    float src[96 * 96], ours[96 * 130], ref[96 * 130];
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int sh = shapes[s][0], sw = shapes[s][1], dh = shapes[s][2], dw = shapes[s][3];
        for (int i = 0; i < sh * sw; i++)
            src[i] = (float)(fer_draw64(7 + s, (uint64_t)i) % 256);
        char in[600], out[600], args[1400];
        snprintf(in, sizeof in, "%s/rs_in.raw", dir);
        snprintf(out, sizeof out, "%s/rs_out.raw", dir);
        snprintf(args, sizeof args, "resize %s %s 1 %d %d %d %d", in, out, sh, sw, dh, dw);
        if (write_raw(in, src, sizeof(float) * sh * sw))
            return 1;
        int rc = run_ref(args);
        if (rc)
            return rc;
        if (read_raw(out, ref, sizeof(float) * dh * dw))
            return 1;
        fer_resize_bilinear(ours, dh, dw, src, sh, sw);
        double e = 0;
        for (int i = 0; i < dh * dw; i++)
            e = fmax(e, fabs(ours[i] - ref[i]));
        printf("resize %dx%d -> %dx%d: max abs diff from cv2.resize INTER_LINEAR %.2e (tol 1e-3)\n", sh, sw,
               dh, dw, e);
        worst = fmax(worst, e);
    }
    CHECK(worst < 1e-3);
    return 0;
}

int main(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("skipped: /usr/bin/python3 not found (the OpenCV reference needs python3-opencv)\n");
        return CHECK_SKIP;
    }
    if (!mkdtemp(dir))
        return 1;
    int rc = check_equalize();
    if (rc == 0)
        rc = check_resize();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    if (rc == CHECK_SKIP) {
        printf("skipped: python3-opencv is not installed\n");
        return CHECK_SKIP;
    }
    CHECK(rc == 0);
    return check_report("test_data_image");
}
