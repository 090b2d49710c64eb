/* Crops, their evaluation and test-time views, and random erasing. The
   training draws use the sample's augmentation key (seed, epoch, sample
   index) at counters of their own, above the affine's (augment.c), so adding
   them changes no existing draw and nothing depends on the rank count. */
#include "fer/view.h"
#include "fer/image.h"
#include "fer/rng.h"

#include <math.h>
#include <string.h>

enum { DRAW_CROP_Y = 16, DRAW_CROP_X, DRAW_ERASE_P, DRAW_ERASE_ATTEMPTS };
enum { ERASE_ATTEMPTS = 10, DRAWS_PER_ATTEMPT = 4 };

/* An integer uniform in [0, n). */
static int draw_below(uint64_t key, uint64_t counter, int n)
{
    int v = (int)(fer_uniform(key, counter) * n);
    return v < n ? v : n - 1;
}

fer_view fer_view_center(const fer_random_crop_cfg *crop, int size)
{
    fer_view v = {0, 0, 0, 0};
    if (crop->size > 0 && crop->size <= size) {
        v.side = crop->size;
        v.y = v.x = (size - crop->size) / 2;
    }
    return v;
}

fer_view fer_view_random(const fer_random_crop_cfg *crop, int size, uint64_t key)
{
    fer_view v = fer_view_center(crop, size);
    if (!v.side)
        return v;
    int span = size + 2 * crop->padding - crop->size + 1;
    v.y = draw_below(key, DRAW_CROP_Y, span) - crop->padding;
    v.x = draw_below(key, DRAW_CROP_X, span) - crop->padding;
    return v;
}

static void mirror(float *img, int size)
{
    for (int y = 0; y < size; y++) {
        float *row = img + (size_t)y * size;
        for (int a = 0, b = size - 1; a < b; a++, b--) {
            float t = row[a];
            row[a] = row[b];
            row[b] = t;
        }
    }
}

void fer_view_apply(float *dst, const float *src, int size, const fer_view *v, float *scratch,
                    fer_fill_mode fill, float cval)
{
    if (!v->side) {
        memcpy(dst, src, (size_t)size * size * sizeof *dst);
    } else {
        int s = v->side;
        for (int i = 0; i < s; i++)
            for (int j = 0; j < s; j++)
                scratch[(size_t)i * s + j] = fer_fill_pixel(src, size, size, v->y + i, v->x + j, fill, cval);
        fer_resize_bilinear(dst, size, size, scratch, s, s);
    }
    if (v->flip)
        mirror(dst, size);
}

int fer_tta_parse(fer_tta *out, const char *name, fer_err *err)
{
    static const char *const names[] = {"none", "flip", "tencrop"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = (fer_tta)i;
            return FER_OK;
        }
    return fer_fail(err, "--tta: expected one of none, flip, tencrop, got '%s'", name);
}

int fer_tta_views(fer_view views[FER_TTA_MAX_VIEWS], fer_tta mode, const fer_random_crop_cfg *crop, int size,
                  fer_err *err)
{
    fer_view center = fer_view_center(crop, size);
    views[0] = center;
    if (mode == FER_TTA_NONE)
        return 1;
    if (mode == FER_TTA_FLIP) {
        views[1] = center;
        views[1].flip = 1;
        return 2;
    }
    if (!center.side) {
        fer_fail(err, "--tta tencrop: the model has no crop size (augment.random_crop.size is 0 in its "
                      "configuration); use --tta flip or none");
        return -1;
    }
    int far = size - center.side, n = 0;
    const int corner[5][2] = {{0, 0}, {0, far}, {far, 0}, {far, far}, {center.y, center.x}};
    for (int c = 0; c < 5; c++)
        for (int flip = 0; flip < 2; flip++)
            views[n++] = (fer_view){center.side, corner[c][0], corner[c][1], flip};
    return n;
}

fer_erase fer_erase_draw(const fer_random_erasing_cfg *cfg, int size, uint64_t key)
{
    fer_erase e = {0, 0, 0, 0};
    if (!(cfg->p > 0) || fer_uniform(key, DRAW_ERASE_P) >= cfg->p)
        return e;
    double area = (double)size * size, log_lo = log(cfg->ratio_min), log_hi = log(cfg->ratio_max);
    for (int a = 0; a < ERASE_ATTEMPTS; a++) {
        uint64_t c = DRAW_ERASE_ATTEMPTS + (uint64_t)a * DRAWS_PER_ATTEMPT;
        double target = area * fer_uniform_range(key, c, cfg->scale_min, cfg->scale_max);
        double aspect = exp(fer_uniform_range(key, c + 1, log_lo, log_hi));
        int h = (int)lround(sqrt(target * aspect)), w = (int)lround(sqrt(target / aspect));
        if (h < 1 || w < 1 || h >= size || w >= size)
            continue; /* torchvision: the rectangle must be smaller than the image */
        e.h = h;
        e.w = w;
        e.y = draw_below(key, c + 2, size - h + 1);
        e.x = draw_below(key, c + 3, size - w + 1);
        return e;
    }
    return e;
}

void fer_erase_apply(float *x, int size, int channels, const fer_erase *e, float value)
{
    for (int y = e->y; y < e->y + e->h; y++)
        for (int i = e->x * channels; i < (e->x + e->w) * channels; i++)
            x[((size_t)y * size) * channels + i] = value;
}
