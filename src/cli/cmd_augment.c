/* fer augment: one given Keras-style transform of a grey PNG, or a preview
   grid of the random augmentations a config would apply in training. */
#include "commands.h"
#include "options.h"

#include "fer/config.h"
#include "fer/dataset.h"
#include "fer/image.h"
#include "fer/loader.h"
#include "fer/rng.h"
#include "fer/view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { GRID_COLUMNS = 8, GRID_GAP = 2 };

static const char usage_text[] =
    "usage: fer augment --in IMAGE --out OUT.png [--equalize] [--theta DEG] [--tx ROWS]\n"
    "                   [--ty COLS] [--shear DEG] [--zx F] [--zy F] [--flip-h]\n"
    "                   [--fill nearest|constant|reflect|wrap] [--cval V]\n"
    "       fer augment --config CONFIG --data DATA --preview N --out GRID.png [--seed S]\n"
    "\n"
    "The first form applies one transform to a grey image (PNG or JPEG; colour is\n"
    "made grey) and writes a grey PNG of the same size. Parameters use Keras's names\n"
    "and units (keras-preprocessing 1.1.x apply_affine_transform): --theta rotation\n"
    "in degrees, --tx shift in rows and --ty in columns (pixels), --shear degrees,\n"
    "--zx/--zy zoom factors (row and column), --flip-h a horizontal flip after the\n"
    "affine part; the warp is bilinear and centred, points outside the image are\n"
    "filled by --fill (default nearest) with --cval (default 0) for constant.\n"
    "--equalize equalizes the histogram (as OpenCV equalizeHist) before the transform.\n"
    "\n"
    "The second form writes a grid of N tiles, rows of 8: the first tile of a row is\n"
    "a training image of DATA (a `fer prepare` HDF5 file, or 'synthetic') at the\n"
    "model's input size (equalized if the config says so), the other 7 are random\n"
    "augmentations of it drawn as training would in epochs 0..6, from the augment\n"
    "section of CONFIG and the seed S (default: the config's seed): the affine part and\n"
    "augment.random_crop (random_erasing acts on the preprocessed input, not drawn).\n";

typedef struct {
    const char *in, *out, *theta, *tx, *ty, *shear, *zx, *zy, *fill, *cval;
    const char *config, *data, *preview, *seed;
    int flip_h, equalize;
} augment_args;

static int parse_fill(const char *text, fer_fill_mode *fill)
{
    static const char *const names[] = {"nearest", "constant", "reflect", "wrap"};
    *fill = FER_FILL_NEAREST;
    if (!text)
        return FER_OK;
    for (int i = 0; i < 4; i++)
        if (!strcmp(text, names[i])) {
            *fill = (fer_fill_mode)i;
            return FER_OK;
        }
    return cli_usage("augment", "--fill wants nearest, constant, reflect or wrap, got '%s'", text);
}

static void to_bytes(uint8_t *dst, const float *src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = (uint8_t)fminf(255.0f, fmaxf(0.0f, floorf(src[i] + 0.5f)));
}

static int transform_one(const augment_args *a)
{
    fer_affine t = {0, 0, 0, 0, 1, 1, a->flip_h};
    fer_fill_mode fill;
    double cval = 0;
    /* Angles within a turn either way, shifts and zooms far beyond any use:
       the bounds only keep the matrix finite. */
    if (cli_number_real("augment", "--theta", a->theta, -360, 360, &t.theta) ||
        cli_number_real("augment", "--tx", a->tx, -1e4, 1e4, &t.tx) ||
        cli_number_real("augment", "--ty", a->ty, -1e4, 1e4, &t.ty) ||
        cli_number_real("augment", "--shear", a->shear, -360, 360, &t.shear) ||
        cli_number_real("augment", "--zx", a->zx, -100, 100, &t.zx) ||
        cli_number_real("augment", "--zy", a->zy, -100, 100, &t.zy) ||
        cli_number_real("augment", "--cval", a->cval, 0, 255, &cval) || parse_fill(a->fill, &fill))
        return FER_EXIT_USAGE;
    uint8_t *pixels;
    int h, w;
    fer_err err;
    if (fer_image_read_grey(a->in, &pixels, &h, &w, &err))
        return cli_fail("%s", err.msg);
    if (a->equalize)
        fer_equalize_hist(pixels, pixels, h * w);
    size_t n = (size_t)h * w;
    float *src = malloc(n * sizeof *src), *dst = malloc(n * sizeof *dst);
    int rc = FER_EXIT_OK;
    if (!src || !dst) {
        rc = cli_fail("out of memory for a %d x %d image", h, w);
    } else {
        for (size_t i = 0; i < n; i++)
            src[i] = pixels[i];
        fer_affine_apply(dst, src, h, w, &t, fill, (float)cval);
        to_bytes(pixels, dst, (int)n);
        if (fer_png_write_grey(a->out, pixels, h, w, &err))
            rc = cli_fail("%s", err.msg);
    }
    free(src);
    free(dst);
    free(pixels);
    return rc;
}

/* The first `rows` training images of DATA at the config's input size. */
static int preview_images(fer_image_set *set, const fer_config *c, const char *data, int rows, fer_err *err)
{
    fer_dataset ds;
    if (!strcmp(data, "synthetic") ? fer_dataset_synthetic(&ds, rows, 0, 0, c->seed, err)
                                   : fer_dataset_read_h5(&ds, data, err))
        return FER_ERROR;
    int usage = fer_usage_parse(c->data.train_usage);
    uint8_t *pixels, *labels;
    int64_t *ids;
    int n, rc = fer_image_set_build(&pixels, &labels, &ids, &n, &ds, usage < 0 ? FER_USAGE_TRAINING : usage,
                                    c->model.input_size, c->data.equalize, rows, err);
    fer_dataset_free(&ds);
    if (rc)
        return FER_ERROR;
    free(labels);
    *set = (fer_image_set){n, c->model.input_size, pixels, NULL, ids};
    if (n == 0)
        return fer_fail(err, "%s: no training images to preview", data);
    return FER_OK;
}

static void draw_tile(uint8_t *grid, int grid_w, int row, int col, const fer_image_set *set, int image,
                      const fer_config *c, uint64_t seed, float *src, float *dst)
{
    int s = set->size, n = s * s;
    for (int i = 0; i < n; i++)
        src[i] = set->pixels[(size_t)image * n + i];
    fer_affine t;
    uint64_t key = fer_key(seed, FER_STREAM_AUGMENT, (uint64_t)col - 1, (uint64_t)set->ids[image]);
    fer_affine_draw(&t, &c->augment, s, s, key);
    if (col == 0) {
        memcpy(dst, src, (size_t)n * sizeof *dst);
    } else {
        /* The training crop too (src is free again as its scratch). */
        fer_affine_apply(dst, src, s, s, &t, c->augment.fill_mode, (float)c->augment.cval);
        fer_view v = fer_view_random(&c->augment.random_crop, s, key);
        if (v.side) {
            float *window = malloc((size_t)n * sizeof *window);
            if (window) {
                fer_view_apply(src, dst, s, &v, window, c->augment.fill_mode, (float)c->augment.cval);
                memcpy(dst, src, (size_t)n * sizeof *dst);
            }
            free(window);
        }
    }
    int x0 = GRID_GAP + col * (s + GRID_GAP), y0 = GRID_GAP + row * (s + GRID_GAP);
    for (int y = 0; y < s; y++)
        to_bytes(grid + (size_t)(y0 + y) * grid_w + x0, dst + (size_t)y * s, s);
}

static int write_grid(const augment_args *a, const fer_config *c, int tiles, uint64_t seed)
{
    fer_image_set set;
    fer_err err;
    int rows = (tiles + GRID_COLUMNS - 1) / GRID_COLUMNS;
    if (preview_images(&set, c, a->data, rows, &err))
        return cli_fail("%s", err.msg);
    int s = set.size, cols = tiles < GRID_COLUMNS ? tiles : GRID_COLUMNS;
    rows = (tiles + GRID_COLUMNS - 1) / GRID_COLUMNS;
    int grid_w = GRID_GAP + cols * (s + GRID_GAP), grid_h = GRID_GAP + rows * (s + GRID_GAP);
    uint8_t *grid = malloc((size_t)grid_w * grid_h);
    float *src = malloc((size_t)s * s * sizeof *src), *dst = malloc((size_t)s * s * sizeof *dst);
    int rc = FER_EXIT_OK;
    if (!grid || !src || !dst) {
        rc = cli_fail("out of memory for a %d x %d preview", grid_h, grid_w);
    } else {
        memset(grid, 255, (size_t)grid_w * grid_h);
        for (int k = 0; k < tiles; k++)
            draw_tile(grid, grid_w, k / GRID_COLUMNS, k % GRID_COLUMNS, &set, (k / GRID_COLUMNS) % set.n, c,
                      seed, src, dst);
        if (fer_png_write_grey(a->out, grid, grid_h, grid_w, &err))
            rc = cli_fail("%s", err.msg);
        else
            printf("wrote %s: %d tiles of %dx%d (%d images, 7 augmentations each)\n", a->out, tiles, s, s,
                   rows);
    }
    free(grid);
    free(src);
    free(dst);
    free((void *)set.pixels);
    free((void *)set.ids);
    return rc;
}

static int preview(const augment_args *a)
{
    int tiles = 0, rc;
    if ((rc = cli_number_int("augment", "--preview", a->preview, 1, 4096, &tiles)) != FER_EXIT_OK)
        return rc;
    if (!a->config || !a->data)
        return cli_usage("augment", "--preview needs --config CONFIG and --data DATA");
    fer_config c;
    fer_err err;
    if (fer_config_load(&c, a->config, &err))
        return cli_fail("%s", err.msg);
    uint64_t seed = c.seed;
    if ((rc = cli_number_seed("augment", "--seed", a->seed, &seed)) != FER_EXIT_OK)
        return rc;
    return write_grid(a, &c, tiles, seed);
}

int cmd_augment(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    if (cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return FER_EXIT_OK;
    }
    augment_args a = {0};
    cli_flag flags[] = {{"--in", 1, &a.in, NULL},
                        {"--out", 1, &a.out, NULL},
                        {"--theta", 1, &a.theta, NULL},
                        {"--tx", 1, &a.tx, NULL},
                        {"--ty", 1, &a.ty, NULL},
                        {"--shear", 1, &a.shear, NULL},
                        {"--zx", 1, &a.zx, NULL},
                        {"--zy", 1, &a.zy, NULL},
                        {"--fill", 1, &a.fill, NULL},
                        {"--cval", 1, &a.cval, NULL},
                        {"--config", 1, &a.config, NULL},
                        {"--data", 1, &a.data, NULL},
                        {"--preview", 1, &a.preview, NULL},
                        {"--seed", 1, &a.seed, NULL},
                        {"--flip-h", 0, NULL, &a.flip_h},
                        {"--equalize", 0, NULL, &a.equalize},
                        {NULL, 0, NULL, NULL}};
    cli_options o = {0};
    int rc = cli_parse_flags(&o, "augment", argc, argv, flags);
    if (rc != FER_EXIT_OK)
        return rc;
    if (o.n_positional)
        return cli_usage("augment", "unexpected argument '%s'", o.positional[0]);
    size_t out_len = a.out ? strlen(a.out) : 0;
    if (!a.out)
        return cli_usage("augment", "missing --out");
    if (out_len < 5 || strcasecmp(a.out + out_len - 4, ".png"))
        return cli_usage("augment", "--out must name a .png file, got '%s'", a.out);
    if (a.preview)
        return a.in ? cli_usage("augment", "--preview and --in are separate modes") : preview(&a);
    if (!a.in)
        return cli_usage("augment", "missing --in IMAGE (or --preview N)");
    return transform_one(&a);
}
