/* The embedded synthetic data set: 48x48 grey cartoon faces whose eyes, brows
   and mouth follow the 7 FER2013 expressions. Pose, size, lighting, noise and
   the strength of the expression are jittered, so a small CNN learns it well
   above chance but not trivially (weak expressions look neutral). Every value
   is a pure function of (seed, sample index). */
#include "dataset_builder.h"
#include "fer/rng.h"

#include <math.h>
#include <string.h>

enum { SIDE = 48, NOISE_COUNTER = 1000 };
enum { ANGRY, DISGUST, FEAR, HAPPY, SAD, SURPRISE, NEUTRAL };

/* Geometry in face units: face half-width 1, u to the right, v downwards. */
typedef struct {
    double eye_open;                     /* eye height factor, 1 = neutral */
    double brow_inner[2], brow_outer[2]; /* brow end heights, [0] left, [1] right */
    double mouth_y, mouth_half_width;
    double mouth_curve;                /* > 0: corners up (smile) */
    double mouth_tilt;                 /* one corner up (disgust) */
    double mouth_wave;                 /* wavy lip amplitude (fear) */
    double mouth_open_w, mouth_open_h; /* open mouth ellipse (0: closed) */
    double lip_thickness;              /* 0: no lip line (a round open mouth) */
    int wrinkles;                      /* nose wrinkles (disgust) */
} expression;

typedef struct {
    double cx, cy, scale, angle;          /* pose in pixels / radians */
    double face_h, hair;                  /* face oval height; hair cap (0: none) */
    double background, skin, ink, sclera; /* grey levels */
    double light_x, light_y, noise_sigma;
    expression e;
} face;

typedef struct {
    uint64_t key;
    uint64_t counter;
} draws;

static double draw(draws *d, double lo, double hi)
{
    return fer_uniform_range(d->key, d->counter++, lo, hi);
}

static void neutral_expression(expression *e, draws *d)
{
    memset(e, 0, sizeof *e);
    e->eye_open = draw(d, 0.9, 1.1);
    for (int s = 0; s < 2; s++) {
        e->brow_inner[s] = draw(d, -0.48, -0.44);
        e->brow_outer[s] = draw(d, -0.48, -0.44);
    }
    e->mouth_y = draw(d, 0.5, 0.58);
    e->mouth_half_width = draw(d, 0.26, 0.34);
    e->mouth_curve = draw(d, -0.025, 0.025);
    e->lip_thickness = draw(d, 0.045, 0.06);
}

/* Moves the neutral face towards the class's expression by strength s. */
static void express(expression *e, int label, double s, draws *d)
{
    switch (label) {
    case ANGRY: /* brows down toward the centre, narrowed eyes, tight flat mouth */
        for (int k = 0; k < 2; k++)
            e->brow_inner[k] += 0.14 * s;
        e->eye_open -= 0.25 * s;
        e->mouth_half_width -= 0.08 * s;
        e->lip_thickness += 0.025 * s;
        e->mouth_curve -= draw(d, 0.0, 0.04) * s;
        break;
    case DISGUST: /* one brow down, sneer: one mouth corner up, nose wrinkles */
        e->brow_inner[0] += 0.1 * s;
        e->brow_outer[0] += 0.08 * s;
        e->eye_open -= 0.2 * s;
        e->mouth_tilt = (draw(d, 0, 1) < 0.5 ? -1 : 1) * 0.12 * s;
        e->mouth_wave = 0.02 * s;
        e->wrinkles = s > 0.5;
        break;
    case FEAR: /* raised brows (inner higher), wide eyes, small wavy open mouth */
        for (int k = 0; k < 2; k++) {
            e->brow_inner[k] -= 0.16 * s;
            e->brow_outer[k] -= 0.08 * s;
        }
        e->eye_open += 0.6 * s;
        e->mouth_wave = 0.035 * s;
        e->mouth_open_w = 0.2 * s;
        e->mouth_open_h = 0.06 * s;
        e->mouth_curve -= 0.03 * s;
        break;
    case HAPPY: /* smile: corners up, sometimes open; slightly squinting eyes */
        e->mouth_curve += draw(d, 0.12, 0.2) * s;
        e->mouth_half_width += 0.08 * s;
        e->eye_open -= 0.15 * s;
        if (draw(d, 0, 1) < 0.5)
            e->mouth_open_h = 0.08 * s; /* open smile: filled under the curve */
        break;
    case SAD: /* corners down, inner brows raised */
        e->mouth_curve -= draw(d, 0.08, 0.15) * s;
        for (int k = 0; k < 2; k++)
            e->brow_inner[k] -= 0.12 * s;
        e->eye_open -= 0.1 * s;
        break;
    case SURPRISE: /* raised brows, wide eyes, open round mouth */
        for (int k = 0; k < 2; k++) {
            e->brow_inner[k] -= 0.14 * s;
            e->brow_outer[k] -= 0.14 * s;
        }
        e->eye_open += 0.7 * s;
        e->mouth_open_w = draw(d, 0.11, 0.16) * (0.5 + 0.5 * s);
        e->mouth_open_h = draw(d, 0.15, 0.22) * (0.5 + 0.5 * s);
        e->mouth_y += 0.05 * s;
        e->lip_thickness = 0;
        break;
    default:
        break;
    }
}

static void draw_face(face *f, int label, draws *d)
{
    f->cx = SIDE / 2.0 + draw(d, -2.5, 2.5);
    f->cy = SIDE / 2.0 + 1 + draw(d, -2.5, 2.5);
    f->scale = 16.0 * draw(d, 0.9, 1.1);
    f->angle = draw(d, -10, 10) * M_PI / 180.0;
    f->face_h = draw(d, 1.2, 1.4);
    f->hair = draw(d, 0, 1) < 0.6 ? draw(d, 0.3, 0.5) : 0;
    f->background = draw(d, 10, 235);
    f->skin = draw(d, 90, 225);
    f->ink = f->skin * draw(d, 0.12, 0.4);
    f->sclera = fmin(255, f->skin + draw(d, 35, 70));
    f->light_x = draw(d, -0.25, 0.25);
    f->light_y = draw(d, -0.25, 0.25);
    f->noise_sigma = draw(d, 2, 6);
    neutral_expression(&f->e, d);
    express(&f->e, label, draw(d, 0.5, 1.0), d);
}

/* Signed distances (negative inside) in face units. */
static double ellipse_sd(double u, double v, double cu, double cv, double a, double b)
{
    double x = (u - cu) / a, y = (v - cv) / b;
    return (sqrt(x * x + y * y) - 1) * fmin(a, b);
}

static double segment_sd(double u, double v, double u0, double v0, double u1, double v1, double half)
{
    double du = u1 - u0, dv = v1 - v0;
    double t = ((u - u0) * du + (v - v0) * dv) / (du * du + dv * dv);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(u - u0 - t * du, v - v0 - t * dv) - half;
}

/* The mouth line: height at u (|u| <= half width) and its slope. */
static double mouth_line(const expression *e, double u, double *slope)
{
    double x = u / e->mouth_half_width, k = e->mouth_curve;
    double wave = e->mouth_wave * sin(x * 3 * M_PI);
    *slope = (-2 * k * x - e->mouth_tilt * 0.5 * (x + 1) + e->mouth_wave * 3 * M_PI * cos(x * 3 * M_PI)) /
             e->mouth_half_width;
    return e->mouth_y + k * (0.5 - x * x) - e->mouth_tilt * 0.25 * (x + 1) * (x + 1) + wave;
}

static double mouth_sd(const expression *e, double u, double v)
{
    double hw = e->mouth_half_width, slope;
    double uc = u < -hw ? -hw : u > hw ? hw : u;
    double y = mouth_line(e, uc, &slope);
    double d = fabs(uc - u) > 0 ? hypot(u - uc, v - y) : fabs(v - y) / sqrt(1 + slope * slope);
    return d - e->lip_thickness;
}

/* Coverage of a shape at signed distance sd (face units) with a one-pixel ramp. */
static double coverage(double sd, double scale)
{
    double c = 0.5 - sd * scale;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

static double blend(double under, double over, double alpha)
{
    return under + alpha * (over - under);
}

static double shade_features(const face *f, double u, double v, double g)
{
    const expression *e = &f->e;
    double s = f->scale;
    for (int k = 0; k < 2; k++) {
        double side = k ? 1 : -1, eu = 0.38 * side, ev = -0.18;
        double eye = ellipse_sd(u, v, eu, ev, 0.17, 0.085 * e->eye_open);
        g = blend(g, f->sclera, coverage(eye, s));
        double pupil = fmax(ellipse_sd(u, v, eu, ev, 0.075, 0.075), eye);
        g = blend(g, f->ink, coverage(pupil, s));
        double brow = segment_sd(u, v, 0.15 * side, e->brow_inner[k], 0.58 * side, e->brow_outer[k], 0.045);
        g = blend(g, f->ink, coverage(brow, s));
    }
    g = blend(g, blend(f->skin, f->ink, 0.5), coverage(segment_sd(u, v, 0.0, -0.02, 0.03, 0.25, 0.025), s));
    if (e->wrinkles)
        for (int k = -1; k <= 1; k += 2)
            g = blend(g, f->ink, 0.7 * coverage(segment_sd(u, v, 0.06 * k, -0.08, 0.16 * k, 0.02, 0.02), s));
    if (e->mouth_open_w > 0) {
        double open = ellipse_sd(u, v, 0, e->mouth_y, e->mouth_open_w, e->mouth_open_h);
        g = blend(g, f->ink * 0.5, coverage(open, s));
    } else if (e->mouth_open_h > 0) { /* open smile: the region under the curve */
        double slope, y = mouth_line(e, u, &slope);
        double top = e->mouth_y - 0.5 * e->mouth_curve;
        double inside = fmax(fmax(top - v, v - y), fabs(u) - e->mouth_half_width);
        g = blend(g, f->ink * 0.5, coverage(inside, s));
    }
    if (e->lip_thickness > 0)
        g = blend(g, f->ink, coverage(mouth_sd(e, u, v), s));
    return g;
}

static double shade(const face *f, double px, double py)
{
    double dx = px - f->cx, dy = py - f->cy, c = cos(f->angle), sn = sin(f->angle);
    double u = (c * dx + sn * dy) / f->scale, v = (-sn * dx + c * dy) / f->scale;
    double g = blend(f->background, f->skin, coverage(ellipse_sd(u, v, 0, 0, 1, f->face_h), f->scale));
    if (f->hair > 0) {
        double cap = fmax(ellipse_sd(u, v, 0, -0.35, 1.08, f->face_h - 0.2), v + f->face_h - f->hair);
        g = blend(g, f->ink * 0.8, coverage(cap, f->scale));
    }
    g = shade_features(f, u, v, g);
    double light = 1 + f->light_x * (px / SIDE * 2 - 1) + f->light_y * (py / SIDE * 2 - 1);
    return g * light;
}

static void render(uint8_t *out, int label, uint64_t key)
{
    draws d = {key, 0};
    face f;
    draw_face(&f, label, &d);
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            uint64_t c = NOISE_COUNTER + 2 * (uint64_t)(y * SIDE + x);
            double u1 = 1.0 - fer_uniform(key, c), u2 = fer_uniform(key, c + 1);
            double noise = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2) * f.noise_sigma;
            double g = shade(&f, x + 0.5, y + 0.5) + noise;
            out[y * SIDE + x] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : lrint(g));
        }
}

int fer_dataset_synthetic(fer_dataset *ds, int n_train, int n_val, int n_test, uint64_t seed, fer_err *err)
{
    int counts[FER_N_USAGES] = {n_train, n_val, n_test};
    if (n_train < 0 || n_val < 0 || n_test < 0 || (long)n_train + n_val + n_test < 1 ||
        (long)n_train + n_val + n_test > FER_MAX_IMAGES)
        return fer_fail(err, "synthetic data set: split sizes %d,%d,%d must be >= 0 with a total of 1..%d",
                        n_train, n_val, n_test, FER_MAX_IMAGES);
    fer_dataset_builder b;
    fer_builder_init(&b, ds, SIDE, SIDE);
    ds->synthetic = 1;
    long index = 0;
    for (int usage = 0; usage < FER_N_USAGES; usage++)
        for (int j = 0; j < counts[usage]; j++, index++) {
            uint8_t *pixels = fer_builder_next(&b);
            if (!pixels) {
                fer_dataset_free(ds);
                return fer_fail(err, "synthetic data set: out of memory at sample %ld", index);
            }
            render(pixels, j % 7, fer_key(seed, FER_STREAM_SYNTHETIC, (uint64_t)index, 0));
            fer_builder_commit(&b, j % 7, usage);
        }
    fer_builder_finish(&b);
    return FER_OK;
}
