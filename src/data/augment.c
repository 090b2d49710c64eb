/* Keras 2.2 (keras-preprocessing 1.1.x) ImageDataGenerator augmentation:
   get_random_transform's draws from the keyed RNG, and apply_transform's
   affine warp done as scipy.ndimage.affine_transform(order=1) does it. */
#include "fer/image.h"
#include "fer/rng.h"

#include <math.h>
#include <string.h>

/* One counter per parameter, so a draw never depends on which others are on. */
enum { DRAW_THETA, DRAW_TX, DRAW_TY, DRAW_SHEAR, DRAW_ZX, DRAW_ZY, DRAW_FLIP };

void fer_affine_draw(fer_affine *t, const fer_augment_cfg *cfg, int h, int w, uint64_t key)
{
    memset(t, 0, sizeof *t);
    t->zx = t->zy = 1.0;
    if (!cfg->enabled)
        return;
    double r = cfg->rotation_range, hs = cfg->height_shift_range, ws = cfg->width_shift_range;
    if (r != 0)
        t->theta = fer_uniform_range(key, DRAW_THETA, -r, r);
    /* Keras: a range below 1 is a fraction of the image side, else pixels. */
    if (hs != 0)
        t->tx = fer_uniform_range(key, DRAW_TX, -hs, hs) * (hs < 1 ? h : 1);
    if (ws != 0)
        t->ty = fer_uniform_range(key, DRAW_TY, -ws, ws) * (ws < 1 ? w : 1);
    if (cfg->shear_range != 0)
        t->shear = fer_uniform_range(key, DRAW_SHEAR, -cfg->shear_range, cfg->shear_range);
    if (cfg->zoom_range != 0) {
        t->zx = fer_uniform_range(key, DRAW_ZX, 1 - cfg->zoom_range, 1 + cfg->zoom_range);
        t->zy = fer_uniform_range(key, DRAW_ZY, 1 - cfg->zoom_range, 1 + cfg->zoom_range);
    }
    t->flip_h = cfg->horizontal_flip && fer_uniform(key, DRAW_FLIP) < 0.5;
}

typedef double mat3[3][3];

static void matmul3(mat3 c, const mat3 a, const mat3 b)
{
    mat3 t;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            t[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
    memcpy(c, t, sizeof t);
}

/* Keras's matrix, mapping output (row, col, 1) to input coordinates:
   offset . (rotation . shift . shear . zoom) . reset, centred at
   (h/2 + 0.5, w/2 + 0.5) as transform_matrix_offset_center does. Returns 0
   for the identity (Keras then leaves the image untouched). */
static int keras_matrix(mat3 m, const fer_affine *t, int h, int w)
{
    const double deg = M_PI / 180.0; /* np.deg2rad */
    mat3 id = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    memcpy(m, id, sizeof id);
    if (t->theta == 0 && t->tx == 0 && t->ty == 0 && t->shear == 0 && t->zx == 1 && t->zy == 1)
        return 0;
    double th = t->theta * deg, sh = t->shear * deg;
    mat3 rotation = {{cos(th), -sin(th), 0}, {sin(th), cos(th), 0}, {0, 0, 1}};
    mat3 shift = {{1, 0, t->tx}, {0, 1, t->ty}, {0, 0, 1}};
    mat3 shear = {{1, -sin(sh), 0}, {0, cos(sh), 0}, {0, 0, 1}};
    mat3 zoom = {{t->zx, 0, 0}, {0, t->zy, 0}, {0, 0, 1}};
    if (t->theta != 0)
        memcpy(m, rotation, sizeof rotation);
    if (t->tx != 0 || t->ty != 0)
        matmul3(m, m, shift);
    if (t->shear != 0)
        matmul3(m, m, shear);
    if (t->zx != 1 || t->zy != 1)
        matmul3(m, m, zoom);
    double ox = h / 2.0 + 0.5, oy = w / 2.0 + 0.5;
    mat3 offset = {{1, 0, ox}, {0, 1, oy}, {0, 0, 1}}, reset = {{1, 0, -ox}, {0, 1, -oy}, {0, 0, 1}};
    matmul3(m, offset, m);
    matmul3(m, m, reset);
    return 1;
}

/* scipy.ndimage's map_coordinate (scipy >= 1.6) for one axis: folds a
   coordinate outside [0, len-1] back in. 'reflect' is half-sample symmetric
   (d c b a | a b c d | d c b a); 'wrap' is scipy's legacy wrap with period
   len - 1 (first and last samples overlap); 'constant' leaves no sample, so
   the whole output pixel is cval (no blending with cval at the border). */
static int fold_coordinate(double *x, int len, fer_fill_mode mode)
{
    double in = *x;
    if (in >= 0 && in <= len - 1)
        return 1;
    if (mode == FER_FILL_CONSTANT || !(fabs(in) < 1e15))
        return 0; /* non-finite or absurd coordinates read as outside */
    if (len <= 1) {
        *x = 0;
        return 1;
    }
    if (mode == FER_FILL_NEAREST) {
        *x = in < 0 ? 0 : len - 1;
    } else if (mode == FER_FILL_REFLECT) {
        double s2 = 2.0 * len;
        if (in < 0) {
            if (in < -s2)
                in = s2 * (double)(long)(-in / s2) + in;
            *x = in < -len ? in + s2 : (in > -1e-15 ? 1e-15 : -in) - 1;
        } else {
            in -= s2 * (double)(long)(in / s2);
            *x = in >= len ? s2 - in - 1 : in;
        }
    } else {
        double sz = len - 1.0;
        *x = in < 0 ? in + sz * ((double)(long)(-in / sz) + 1) : in - sz * (double)(long)(in / sz);
    }
    return 1;
}

/* Linear-interpolation taps of a folded coordinate; neighbours beyond the
   edge (reached only with weight 0, or by 'reflect' within half a pixel of
   the border) repeat the edge sample, as scipy's boundary handling does. */
static void axis_taps(double x, int len, int *i0, int *i1, float *t)
{
    double f = floor(x);
    int i = (int)f;
    *t = (float)(x - f);
    *i0 = i < 0 ? 0 : i > len - 1 ? len - 1 : i;
    *i1 = i + 1 < 0 ? 0 : i + 1 > len - 1 ? len - 1 : i + 1;
}

static float sample(const float *src, int h, int w, double r, double c, fer_fill_mode fill, float cval)
{
    if (!fold_coordinate(&r, h, fill) || !fold_coordinate(&c, w, fill))
        return cval;
    int r0, r1, c0, c1;
    float tr, tc;
    axis_taps(r, h, &r0, &r1, &tr);
    axis_taps(c, w, &c0, &c1, &tc);
    const float *a = src + (size_t)r0 * w, *b = src + (size_t)r1 * w;
    float top = (1 - tc) * a[c0] + tc * a[c1], bottom = (1 - tc) * b[c0] + tc * b[c1];
    return (1 - tr) * top + tr * bottom;
}

static void flip_columns(float *img, int h, int w)
{
    for (int y = 0; y < h; y++) {
        float *row = img + (size_t)y * w;
        for (int a = 0, b = w - 1; a < b; a++, b--) {
            float v = row[a];
            row[a] = row[b];
            row[b] = v;
        }
    }
}

void fer_affine_apply(float *dst, const float *src, int h, int w, const fer_affine *t, fer_fill_mode fill,
                      float cval)
{
    mat3 m;
    if (!keras_matrix(m, t, h, w)) {
        if (dst != src)
            memmove(dst, src, (size_t)h * w * sizeof *dst);
    } else {
        /* Same operation order as scipy: (row*m0 + col*m1) + offset. */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double r = y * m[0][0] + x * m[0][1] + m[0][2];
                double c = y * m[1][0] + x * m[1][1] + m[1][2];
                dst[(size_t)y * w + x] = sample(src, h, w, r, c, fill, cval);
            }
    }
    if (t->flip_h)
        flip_columns(dst, h, w);
}

float fer_fill_pixel(const float *src, int h, int w, int r, int c, fer_fill_mode fill, float cval)
{
    return sample(src, h, w, r, c, fill, cval);
}
