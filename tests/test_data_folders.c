/* The folder layout root/{train,test}/<class>/ with PNG and JPEG files made
   here (libpng, libjpeg): order, labels, usage, pixels, RGB -> grey, resize,
   and the errors for unreadable images and unknown folders. */
#include "check.h"
#include "fer/dataset.h"
#include "fer/image.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { PIX = 48 * 48 };

static char root[] = "/tmp/fer_test_folders_XXXXXX";
static uint8_t pattern[PIX];

static const char *at(const char *rel)
{
    static char path[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", root, rel);
    return path[k];
}

static void make_dirs(void)
{
    static const char *const dirs[] = {"train", "train/happy", "train/SAD", "test", "test/Angry"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        mkdir(at(dirs[i]), 0755);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void make_files(void)
{
    fer_err err;
    static uint8_t rgb[96 * 96 * 3];
    for (int i = 0; i < PIX; i++)
        pattern[i] = (uint8_t)(40 + i / 48 * 3 + i % 48);
    for (int i = 0; i < 96 * 96; i++) {
        rgb[3 * i] = 200;
        rgb[3 * i + 1] = 100;
        rgb[3 * i + 2] = 50;
    }
    CHECK(fer_png_write_grey(at("train/happy/a.png"), pattern, 48, 48, &err) == FER_OK);
    CHECK(fer_jpeg_write_grey(at("train/happy/b.JPG"), pattern, 48, 48, 95, &err) == FER_OK);
    CHECK(fer_png_write_rgb(at("train/SAD/c.png"), rgb, 96, 96, &err) == FER_OK);
    uint8_t flipped[PIX];
    for (int i = 0; i < PIX; i++)
        flipped[i] = pattern[PIX - 1 - i];
    CHECK(fer_png_write_grey(at("test/Angry/d.png"), flipped, 48, 48, &err) == FER_OK);
    write_text(at("README.txt"), "not an image\n");
    write_text(at("train/happy/notes.txt"), "ignored\n");
}

static void check_good(void)
{
    fer_dataset ds;
    fer_err err;
    long skipped = -1;
    int rc = fer_dataset_read_folders(&ds, root, 0, &skipped, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    if (rc)
        return;
    printf("read %d images: labels %d %d %d %d, usage %d %d %d %d\n", ds.n, ds.labels[0], ds.labels[1],
           ds.labels[2], ds.labels[3], ds.usage[0], ds.usage[1], ds.usage[2], ds.usage[3]);
    CHECK(ds.n == 4 && ds.h == 48 && ds.w == 48 && skipped == 0);
    CHECK(ds.labels[0] == 3 && ds.labels[1] == 3 && ds.labels[2] == 4 && ds.labels[3] == 0);
    CHECK(ds.usage[0] == 0 && ds.usage[1] == 0 && ds.usage[2] == 0 && ds.usage[3] == FER_USAGE_PUBLIC_TEST);
    int png_exact = !memcmp(ds.pixels, pattern, PIX), jpeg_err = 0, rgb_ok = 1, flipped_ok = 1;
    for (int i = 0; i < PIX; i++) {
        int d = abs(ds.pixels[PIX + i] - pattern[i]);
        jpeg_err = d > jpeg_err ? d : jpeg_err;
        rgb_ok &= ds.pixels[2 * PIX + i] == 124; /* (299*200 + 587*100 + 114*50) / 1000, rounded */
        flipped_ok &= ds.pixels[3 * PIX + i] == pattern[PIX - 1 - i];
    }
    printf(
        "PNG exact %d; JPEG q95 max error %d grey levels (tol 4); 96x96 RGB (200,100,50) -> 48x48 grey 124 "
        "everywhere %d; test/Angry exact %d\n",
        png_exact, jpeg_err, rgb_ok, flipped_ok);
    CHECK(png_exact && jpeg_err <= 4 && rgb_ok && flipped_ok);
    fer_dataset_free(&ds);
}

static void check_bad_image(void)
{
    mkdir(at("train/fear"), 0755);
    write_text(at("train/fear/broken.png"), "this is not a PNG file at all");
    fer_dataset ds;
    fer_err err;
    long skipped = 0;
    int rc = fer_dataset_read_folders(&ds, root, 0, &skipped, &err);
    printf("broken PNG -> %s\n", err.msg);
    char want[700];
    snprintf(want, sizeof want, "%s: unreadable image: not a PNG file", at("train/fear/broken.png"));
    CHECK(rc == FER_ERROR && !strcmp(err.msg, want));
    write_text(at("train/fear/cut.jpg"), "\xff\xd8\xff\xe0 truncated");
    rc = fer_dataset_read_folders(&ds, root, 1, &skipped, &err);
    printf("--skip-bad: rc %d, %d images, %ld skipped (want 4, 2)\n", rc, rc ? -1 : ds.n, skipped);
    CHECK(rc == FER_OK && ds.n == 4 && skipped == 2);
    if (rc == FER_OK)
        fer_dataset_free(&ds);
    unlink(at("train/fear/cut.jpg"));
    unlink(at("train/fear/broken.png"));
}

static void expect_error(const char *what, const char *dir, const char *want_suffix)
{
    fer_dataset ds;
    fer_err err;
    int rc = fer_dataset_read_folders(&ds, dir, 0, NULL, &err);
    printf("%s -> %s\n", what, err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, want_suffix));
}

int main(void)
{
    if (!mkdtemp(root))
        return 1;
    make_dirs();
    make_files();
    check_good();
    check_bad_image();
    mkdir(at("train/contempt"), 0755);
    expect_error("unknown class folder", root, "train/contempt: unknown class folder");
    rmdir(at("train/contempt"));
    mkdir(at("extra"), 0755);
    expect_error("unknown split folder", root, "extra: unknown split folder");
    mkdir(at("extra/empty"), 0755);
    expect_error("no split folders", at("extra/empty"), "no train/ or test/ folder");
    expect_error("missing root", "/nonexistent/fer", "/nonexistent/fer: cannot read folder");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        printf("could not remove %s\n", root);
    return check_report("test_data_folders");
}
