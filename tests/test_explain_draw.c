/* The pictures of src/explain: bitmap font, colour maps, canvas clipping,
   the confusion-matrix heat map (cell colours, determinism of the PNG), the
   tile grid, the choice of typical samples and the HTML index. */
#include "check.h"

#include "fer/explain.h"
#include "fer/image.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_font(void)
{
    uint8_t rows[FER_FONT_ROWS], prev[FER_FONT_ROWS] = {0};
    int empty = 0, same_as_prev = 0, outside = 0, descenders = 0;
    for (int ch = 32; ch <= 126; ch++) {
        fer_font_glyph(ch, rows);
        int set = 0;
        for (int r = 0; r < FER_FONT_ROWS; r++) {
            set += rows[r] != 0;
            outside += rows[r] >> FER_FONT_W != 0;
        }
        descenders += rows[FER_FONT_H] != 0 || rows[FER_FONT_H + 1] != 0;
        empty += set == 0;
        same_as_prev += ch > 32 && !memcmp(rows, prev, sizeof rows);
        memcpy(prev, rows, sizeof rows);
    }
    uint8_t q[FER_FONT_ROWS], bad[FER_FONT_ROWS];
    fer_font_glyph('?', q);
    fer_font_glyph(200, bad);
    printf("font: %d empty glyphs (space only), %d equal to the previous one, %d bits outside 5 columns, "
           "%d with descenders, non-ASCII drawn as '?': %d\n",
           empty, same_as_prev, outside, descenders, !memcmp(q, bad, sizeof q));
    CHECK(empty == 1 && same_as_prev == 0 && outside == 0 && descenders == 5);
    CHECK(!memcmp(q, bad, sizeof q));
    printf("text width: '' %d, 'A' %d, 'Happy' at scale 2 %d\n", fer_text_width("", 1),
           fer_text_width("A", 1), fer_text_width("Happy", 2));
    CHECK(fer_text_width("", 1) == 0 && fer_text_width("A", 1) == 5 && fer_text_width("Happy", 2) == 58);
}

static void check_colormaps(void)
{
    uint8_t a[3], b[3], mid[3], nan_rgb[3];
    fer_colormap_rgb(FER_CMAP_VIRIDIS, 0, a);
    fer_colormap_rgb(FER_CMAP_VIRIDIS, 1, b);
    fer_colormap_rgb(FER_CMAP_VIRIDIS, 0.5f, mid);
    printf("viridis 0 %d,%d,%d  0.5 %d,%d,%d  1 %d,%d,%d (matplotlib #440154 #21918c #fde725)\n", a[0], a[1],
           a[2], mid[0], mid[1], mid[2], b[0], b[1], b[2]);
    CHECK(a[0] == 0x44 && a[1] == 0x01 && a[2] == 0x54);
    CHECK(mid[0] == 0x21 && mid[1] == 0x91 && mid[2] == 0x8c);
    CHECK(b[0] == 0xfd && b[1] == 0xe7 && b[2] == 0x25);
    fer_colormap_rgb(FER_CMAP_JET, 0.5f, mid);
    fer_colormap_rgb(FER_CMAP_JET, -3, a);
    fer_colormap_rgb(FER_CMAP_JET, 7, b);
    fer_colormap_rgb(FER_CMAP_JET, NAN, nan_rgb);
    printf("jet 0.5 %d,%d,%d  clamped below %d,%d,%d above %d,%d,%d  NaN %d,%d,%d\n", mid[0], mid[1], mid[2],
           a[0], a[1], a[2], b[0], b[1], b[2], nan_rgb[0], nan_rgb[1], nan_rgb[2]);
    CHECK(mid[0] == 128 && mid[1] == 255 && mid[2] == 128);
    CHECK(a[0] == 0 && a[1] == 0 && a[2] == 128 && b[0] == 128 && b[1] == 0 && b[2] == 0);
    CHECK(!memcmp(nan_rgb, a, 3));
    /* Luminance of viridis rises monotonically: a matrix reads in grey too. */
    int monotone = 1;
    double last = -1;
    for (int i = 0; i <= 100; i++) {
        uint8_t c[3];
        fer_colormap_rgb(FER_CMAP_VIRIDIS, i / 100.0f, c);
        double y = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
        monotone &= y >= last;
        last = y;
    }
    printf("viridis luminance monotone over 101 samples: %d\n", monotone);
    CHECK(monotone);
}

static long count_colour(const fer_canvas *c, const uint8_t rgb[3])
{
    long n = 0;
    for (long p = 0; p < (long)c->h * c->w; p++)
        n += !memcmp(c->rgb + 3 * p, rgb, 3);
    return n;
}

static void check_canvas(void)
{
    fer_canvas c;
    fer_err err;
    const uint8_t red[3] = {255, 0, 0};
    CHECK(fer_canvas_init(&c, 20, 30, 255, &err) == FER_OK);
    fer_canvas_fill_rect(&c, -5, -5, 10, 10, red); /* 5x5 inside */
    fer_canvas_fill_rect(&c, 18, 28, 10, 10, red); /* 2x2 inside */
    fer_canvas_text(&c, 15, 25, "WWW", 3, red);    /* mostly outside: clipped, no crash */
    long reds = count_colour(&c, red);
    fer_canvas c2;
    CHECK(fer_canvas_init(&c2, 20, 30, 255, &err) == FER_OK);
    fer_canvas_fill_rect(&c2, -5, -5, 10, 10, red);
    fer_canvas_fill_rect(&c2, 18, 28, 10, 10, red);
    long rects = count_colour(&c2, red);
    printf("canvas 20x30: clipped rectangles cover %ld pixels (expect 29), with clipped text %ld\n", rects,
           reds);
    CHECK(rects == 29 && reds > rects && reds < 29 + 25);
    fer_canvas_free(&c);
    fer_canvas_free(&c2);
    CHECK(fer_canvas_init(&c, 0, 10, 0, &err) == FER_ERROR);
    CHECK(fer_canvas_init(&c, 10, 100000, 0, &err) == FER_ERROR);
}

static void check_heatmap(void)
{
    /* Distinct row fractions, an empty row and a zero column. */
    static const char *const names[4] = {"Angry", "Disgust", "Happy", "Surprise"};
    const long counts[16] = {8, 2, 0, 0, /**/ 1, 3, 0, 0, /**/ 0, 0, 0, 0, /**/ 5, 0, 0, 45};
    fer_confusion c = {4, names, counts};
    fer_canvas cv;
    fer_err err;
    CHECK(fer_confusion_heatmap(&cv, &c, "test matrix", &err) == FER_OK);
    const float fracs[] = {0.8f, 0.2f, 0.25f, 0.75f, 0.1f, 0.9f, 0.0f, 1.0f};
    const int cells[] = {1, 1, 1, 1, 1, 1, 10, 0}; /* cells with that fraction (0: in the colour bar only) */
    printf("heat map %d x %d; pixels of each cell colour:", cv.w, cv.h);
    for (int i = 0; i < 8; i++) {
        uint8_t rgb[3];
        fer_colormap_rgb(FER_CMAP_VIRIDIS, fracs[i], rgb);
        long n = count_colour(&cv, rgb);
        printf(" %.2f:%ld", (double)fracs[i], n);
        /* A cell is at least 76 x 52 pixels, less its text (under a third). */
        CHECK(n >= cells[i] * 76L * 52 * 2 / 3);
        CHECK(n <= (cells[i] + 1) * 100L * 52);
    }
    printf("\n");
    CHECK(cv.w >= 4 * 76 && cv.h >= 4 * 52);
    fer_canvas_free(&cv);

    char p1[] = "/tmp/fer-heat-XXXXXX", a[64], b[64];
    CHECK(mkdtemp(p1) != NULL);
    snprintf(a, sizeof a, "%s/a.png", p1);
    snprintf(b, sizeof b, "%s/b.png", p1);
    CHECK(fer_confusion_heatmap_png(&c, "test matrix", a, &err) == FER_OK);
    CHECK(fer_confusion_heatmap_png(&c, "test matrix", b, &err) == FER_OK);
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;
    long bytes = 0;
    while (same && (ca = fgetc(fa)) != EOF) {
        cb = fgetc(fb);
        same = ca == cb;
        bytes++;
    }
    same = same && fgetc(fb) == EOF;
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    uint8_t *grey = NULL;
    int h = 0, w = 0;
    CHECK(fer_image_read_grey(a, &grey, &h, &w, &err) == FER_OK);
    printf("heat map PNG: %ld bytes, written twice identical %d, reads back as %d x %d\n", bytes, same, w, h);
    CHECK(same && bytes > 1000);
    free(grey);
    c.classes = 0;
    CHECK(fer_confusion_heatmap_png(&c, NULL, a, &err) == FER_ERROR);
    c.classes = 4;
    char bad[128];
    snprintf(bad, sizeof bad, "%s/missing/dir/x.png", p1);
    CHECK(fer_confusion_heatmap_png(&c, NULL, bad, &err) == FER_ERROR);
    printf("unwritable path: %s\n", err.msg);
    unlink(a);
    unlink(b);
    rmdir(p1);
}

static void check_tiles(void)
{
    uint8_t tiles[5 * 4 * 4];
    for (int i = 0; i < 5 * 16; i++)
        tiles[i] = (uint8_t)(i / 16 * 50);
    const char *labels[5] = {"a", "b", "c", "d", "e"};
    fer_canvas c;
    fer_err err;
    CHECK(fer_tile_grey(&c, tiles, 5, 4, 10, 0, labels, NULL, &err) == FER_OK);
    /* 5 tiles -> 3 columns, 2 rows of 40x40 tiles. */
    long per_tile[5];
    for (int i = 0; i < 5; i++) {
        uint8_t g[3] = {(uint8_t)(i * 50), (uint8_t)(i * 50), (uint8_t)(i * 50)};
        per_tile[i] = count_colour(&c, g);
    }
    printf("tile grid of 5 tiles (4x4 at scale 10): %d x %d, pixels per tile grey %ld %ld %ld %ld\n", c.w,
           c.h, per_tile[1], per_tile[2], per_tile[3], per_tile[4]);
    CHECK(c.w == 2 * 12 + 3 * 40 + 2 * 8);
    CHECK(per_tile[1] == 1600 && per_tile[2] == 1600 && per_tile[3] == 1600 && per_tile[4] == 1600);
    fer_canvas_free(&c);
    CHECK(fer_tile_grey(&c, tiles, 0, 4, 1, 0, NULL, NULL, &err) == FER_ERROR);
}

static void check_typical(void)
{
    /* 3 classes; samples: label, probabilities. */
    const uint8_t labels[8] = {0, 0, 0, 1, 1, 2, 0, 0};
    const float probs[8 * 3] = {
        0.6f, 0.3f, 0.1f, /* 0: correct, 0.6 */
        0.9f, 0.1f, 0.0f, /* 1: correct, 0.9 */
        0.2f, 0.7f, 0.1f, /* 2: wrong */
        0.1f, 0.8f, 0.1f, /* 3: correct, 0.8 */
        0.5f, 0.4f, 0.1f, /* 4: wrong */
        0.3f, 0.3f, 0.4f, /* 5: correct, 0.4 */
        0.9f, 0.0f, 0.1f, /* 6: correct, 0.9 (ties with 1: 1 first) */
        0.7f, 0.2f, 0.1f, /* 7: correct, 0.7 */
    };
    int picks[3 * 3];
    fer_typical_samples(probs, labels, 8, 3, 3, picks);
    printf("typical samples: class 0 %d %d %d, class 1 %d %d %d, class 2 %d %d %d\n", picks[0], picks[1],
           picks[2], picks[3], picks[4], picks[5], picks[6], picks[7], picks[8]);
    const int expect[9] = {1, 6, 7, 3, -1, -1, 5, -1, -1};
    CHECK(!memcmp(picks, expect, sizeof expect));
}

static void check_html(void)
{
    char dir[] = "/tmp/fer-html-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/index.html", dir);
    const char *names[2] = {"Happy", "<Sad & \"blue\">"};
    fer_html_sample cells[4] = {
        {"happy_1_face.png", "happy_1_gradcam.png", "happy_1_saliency.png", 12, 0.98f},
        {"happy_2_face.png", "happy_2_gradcam.png", "happy_2_saliency.png", 40, 0.9f},
        {"sad_1_face.png", "sad_1_gradcam.png", "sad_1_saliency.png", 7, 0.5f},
        {NULL, NULL, NULL, -1, 0}};
    fer_err err;
    CHECK(fer_html_index_write(path, "T <1>", names, 2, 2, cells, "conv2d_3", &err) == FER_OK);
    FILE *f = fopen(path, "r");
    char text[8192] = {0};
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    int imgs = 0;
    for (const char *p = text; (p = strstr(p, "<img ")) != NULL; p++)
        imgs++;
    int rows = 0;
    for (const char *p = text; (p = strstr(p, "<tr>")) != NULL; p++)
        rows++;
    printf(
        "index.html: %zu bytes, %d images, %d table rows, escaped name %d, escaped title %d, empty cell %d\n",
        n, imgs, rows, strstr(text, "&lt;Sad &amp; &quot;blue&quot;&gt;") != NULL,
        strstr(text, "T &lt;1&gt;") != NULL, strstr(text, "no correctly classified sample") != NULL);
    CHECK(imgs == 9 && rows == 3);
    CHECK(strstr(text, "&lt;Sad &amp; &quot;blue&quot;&gt;") != NULL && strstr(text, "T &lt;1&gt;") != NULL);
    CHECK(strstr(text, "no correctly classified sample") != NULL);
    CHECK(strstr(text, "sample 40, p = 0.900") != NULL);
    CHECK(strstr(text, "</html>") != NULL);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    check_font();
    check_colormaps();
    check_canvas();
    check_heatmap();
    check_tiles();
    check_typical();
    check_html();
    return check_report("test_explain_draw");
}
