/* The saliency report: for the typical samples of every class, the face,
   its Grad-CAM overlay and its gradient saliency map as PNGs, an overview
   sheet of all of them, and an HTML index. */
#include "fer/explain.h"
#include "fer/image.h"
#include "fer/path.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NAME_CAP = 64, GAP = 12, MARGIN = 12, TEXT = 2 };

static const uint8_t ink[3] = {0, 0, 0};

typedef struct {
    const fer_model *m;
    const fer_saliency_report_opts *o;
    int size, k;
    fer_canvas sheet;     /* overview of every class */
    int label_w, group_w; /* sheet columns: class label, then one group per sample */
    uint8_t *rgb;         /* size x size x 3 */
    float *up;            /* size x size */
    fer_html_sample *cells;
    char (*names)[3][NAME_CAP]; /* file names of each cell */
} report;

/* "Happy" -> "happy"; anything but letters and digits becomes '_'. */
static void file_stem(char *out, size_t cap, const char *name)
{
    size_t i = 0;
    for (; name[i] && i + 1 < cap && i < 24; i++)
        out[i] = isalnum((unsigned char)name[i]) ? (char)tolower((unsigned char)name[i]) : '_';
    out[i] = '\0';
}

static int write_scaled(const report *r, const char *name, const uint8_t *rgb, fer_err *err)
{
    int tile = r->size * r->o->scale;
    char path[FER_FILE_PATH_LEN];
    snprintf(path, sizeof path, "%s/%s", r->o->out_dir, name);
    fer_canvas c;
    if (fer_canvas_init(&c, tile, tile, 0, err))
        return FER_ERROR;
    fer_canvas_blit_rgb(&c, 0, 0, rgb, r->size, r->size, r->o->scale);
    int rc = fer_canvas_write_png(&c, path, err);
    fer_canvas_free(&c);
    return rc;
}

static int sheet_init(report *r, fer_err *err)
{
    int tile = r->size * r->o->scale, caption = FER_FONT_ROWS * TEXT + 8;
    r->label_w = 0;
    for (int c = 0; c < r->k; c++) {
        int w = fer_text_width(r->o->names[c], TEXT);
        r->label_w = w > r->label_w ? w : r->label_w;
    }
    r->label_w += GAP;
    r->group_w = 3 * tile + 4 + GAP;
    int w = 2 * MARGIN + r->label_w + r->o->per_class * r->group_w;
    int h = 2 * MARGIN + 2 * caption + r->k * (tile + caption);
    if (fer_canvas_init(&r->sheet, h, w, 255, err))
        return FER_ERROR;
    fer_canvas_text(&r->sheet, MARGIN, MARGIN, r->o->title ? r->o->title : "", TEXT, ink);
    const char *heads[3] = {"face", "Grad-CAM", "saliency"};
    int head_scale = fer_text_width("saliency", TEXT) <= tile ? TEXT : 1;
    for (int s = 0; s < r->o->per_class; s++)
        for (int j = 0; j < 3; j++)
            fer_canvas_text(&r->sheet, MARGIN + caption,
                            MARGIN + r->label_w + s * r->group_w + j * (tile + 2), heads[j], head_scale, ink);
    return FER_OK;
}

/* The three pictures of one sample: files, and their place on the sheet. */
static int draw_sample(report *r, int c, int slot, const uint8_t *grey, float *cam, int cam_side, float *sal,
                       fer_err *err)
{
    int size = r->size, tile = size * r->o->scale, caption = FER_FONT_ROWS * TEXT + 8;
    int y = MARGIN + 2 * caption + c * (tile + caption), x = MARGIN + r->label_w + slot * r->group_w;
    char(*files)[NAME_CAP] = r->names[c * r->o->per_class + slot];
    uint8_t *grey_rgb = r->rgb;
    for (int p = 0; p < size * size; p++)
        grey_rgb[3 * p] = grey_rgb[3 * p + 1] = grey_rgb[3 * p + 2] = grey[p];
    if (write_scaled(r, files[0], grey_rgb, err))
        return FER_ERROR;
    fer_canvas_blit_rgb(&r->sheet, y, x, grey_rgb, size, size, r->o->scale);
    const fer_html_sample *cell = &r->cells[c * r->o->per_class + slot];
    char note[64];
    snprintf(note, sizeof note, "sample %d, p %.3f", cell->index, (double)cell->prob);
    fer_canvas_text(&r->sheet, y + tile + 3, x, note, 1, ink);
    fer_map_normalize(cam, cam_side * cam_side);
    fer_resize_bilinear(r->up, size, size, cam, cam_side, cam_side);
    fer_heat_overlay(r->rgb, grey, r->up, size);
    if (write_scaled(r, files[1], r->rgb, err))
        return FER_ERROR;
    fer_canvas_blit_rgb(&r->sheet, y, x + tile + 2, r->rgb, size, size, r->o->scale);
    fer_map_normalize(sal, size * size);
    for (int p = 0; p < size * size; p++)
        fer_colormap_rgb(FER_CMAP_JET, sal[p], r->rgb + 3 * p);
    if (write_scaled(r, files[2], r->rgb, err))
        return FER_ERROR;
    fer_canvas_blit_rgb(&r->sheet, y, x + 2 * (tile + 2), r->rgb, size, size, r->o->scale);
    return FER_OK;
}

/* The faces drawn are the views the model was given (its centre crop), so
   the maps lie over the pixels they explain. */
static int show_views(uint8_t *faces, int n, int size, const fer_view *view, fer_err *err)
{
    if (!view->side && !view->flip)
        return FER_OK;
    size_t pixels = (size_t)size * size;
    float *in = malloc(3 * pixels * sizeof *in), *out = in + pixels, *window = out + pixels;
    if (!in)
        return fer_fail(err, "saliency report: out of memory");
    for (int i = 0; i < n; i++) {
        uint8_t *face = faces + i * pixels;
        for (size_t p = 0; p < pixels; p++)
            in[p] = face[p];
        fer_view_apply(out, in, size, view, window, FER_FILL_NEAREST, 0.0f);
        for (size_t p = 0; p < pixels; p++)
            face[p] = (uint8_t)fminf(255.0f, fmaxf(0.0f, rintf(out[p])));
    }
    free(in);
    return FER_OK;
}

/* Grad-CAM and saliency of the picked samples of class c, in one batch. */
static int draw_class(report *r, fer_model *m, int c, const int *picks, const uint8_t *grey,
                      const float *probs, int caffe, fer_err *err)
{
    int size = r->size, n = 0, per = r->o->per_class;
    const fer_layer *L = &m->layers[r->o->layer];
    size_t pixels = (size_t)size * size;
    while (n < per && picks[n] >= 0)
        n++;
    int tile = size * r->o->scale, caption = FER_FONT_ROWS * TEXT + 8;
    fer_canvas_text(&r->sheet, MARGIN + 2 * caption + c * (tile + caption) + tile / 2 - FER_FONT_H, MARGIN,
                    r->o->names[c], TEXT, ink);
    if (n == 0)
        return FER_OK;
    uint8_t *batch = malloc(n * pixels);
    float *x = malloc(n * fer_model_input_size(m) * sizeof(float));
    float *cam = malloc((size_t)n * L->out_h * L->out_w * sizeof(float)),
          *sal = malloc(n * pixels * sizeof(float));
    int *classes = malloc((size_t)n * sizeof(int));
    int rc = batch && x && cam && sal && classes ? FER_OK : fer_fail(err, "saliency report: out of memory");
    for (int i = 0; rc == FER_OK && i < n; i++) {
        memcpy(batch + i * pixels, grey + (size_t)picks[i] * pixels, pixels);
        classes[i] = c;
    }
    if (rc == FER_OK)
        rc = fer_face_inputs_view(x, batch, n, size, m->cfg.channels, caffe, &r->o->view, err);
    if (rc == FER_OK)
        rc = show_views(batch, n, size, &r->o->view, err);
    if (rc == FER_OK)
        rc = fer_gradcam(m, r->o->layer, x, n, classes, cam, err);
    if (rc == FER_OK)
        rc = fer_saliency(m, x, n, classes, sal, err);
    for (int i = 0; rc == FER_OK && i < n; i++) {
        fer_html_sample *s = &r->cells[c * per + i];
        char(*files)[NAME_CAP] = r->names[c * per + i];
        s->face = files[0];
        s->gradcam = files[1];
        s->saliency = files[2];
        s->index = picks[i];
        s->prob = probs[(size_t)picks[i] * r->k + c];
        rc = draw_sample(r, c, i, batch + i * pixels, cam + (size_t)i * L->out_h * L->out_w, L->out_h,
                         sal + i * pixels, err);
    }
    free(batch);
    free(x);
    free(cam);
    free(sal);
    free(classes);
    return rc;
}

static void name_files(report *r)
{
    for (int c = 0; c < r->k; c++) {
        char stem[32];
        file_stem(stem, sizeof stem, r->o->names[c]);
        for (int s = 0; s < r->o->per_class; s++) {
            char(*files)[NAME_CAP] = r->names[c * r->o->per_class + s];
            snprintf(files[0], NAME_CAP, "%.24s_%d_face.png", stem, s + 1);
            snprintf(files[1], NAME_CAP, "%.24s_%d_gradcam.png", stem, s + 1);
            snprintf(files[2], NAME_CAP, "%.24s_%d_saliency.png", stem, s + 1);
        }
    }
}

static int finish(report *r, fer_err *err)
{
    char path[FER_FILE_PATH_LEN];
    snprintf(path, sizeof path, "%s/overview.png", r->o->out_dir);
    if (fer_canvas_write_png(&r->sheet, path, err))
        return FER_ERROR;
    snprintf(path, sizeof path, "%s/index.html", r->o->out_dir);
    return fer_html_index_write(path, r->o->title ? r->o->title : "saliency", r->o->names, r->k,
                                r->o->per_class, r->cells, r->m->layers[r->o->layer].cfg.name, err);
}

int fer_saliency_report(fer_model *m, const fer_saliency_report_opts *o, const uint8_t *grey,
                        const uint8_t *labels, const float *probs, int n, int caffe, fer_err *err)
{
    int k = m->cfg.classes, size = m->cfg.input_size;
    if (o->per_class < 1 || o->per_class > 64 || o->scale < 1 || o->scale > 16)
        return fer_fail(err, "saliency report: per_class must be in 1..64 and scale in 1..16 (got %d, %d)",
                        o->per_class, o->scale);
    if (o->layer < 0 || o->layer >= m->n_layers)
        return fer_fail(err, "saliency report: layer index %d outside 0..%d", o->layer, m->n_layers - 1);
    if (fer_make_dirs(o->out_dir, err))
        return FER_ERROR;
    report r = {.m = m, .o = o, .size = size, .k = k};
    int *picks = malloc((size_t)k * o->per_class * sizeof *picks);
    r.rgb = malloc((size_t)size * size * 3);
    r.up = malloc((size_t)size * size * sizeof(float));
    r.cells = calloc((size_t)k * o->per_class, sizeof *r.cells);
    r.names = calloc((size_t)k * o->per_class, sizeof *r.names);
    int rc = picks && r.rgb && r.up && r.cells && r.names ? sheet_init(&r, err)
                                                          : fer_fail(err, "saliency report: out of memory");
    if (rc == FER_OK) {
        fer_typical_samples(probs, labels, n, k, o->per_class, picks);
        name_files(&r);
        for (int c = 0; rc == FER_OK && c < k; c++)
            rc = draw_class(&r, m, c, picks + c * o->per_class, grey, probs, caffe, err);
        if (rc == FER_OK)
            rc = finish(&r, err);
    }
    fer_canvas_free(&r.sheet);
    free(picks);
    free(r.rgb);
    free(r.up);
    free(r.cells);
    free(r.names);
    return rc;
}
