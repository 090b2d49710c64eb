/* Looking inside a trained model: class probabilities of image files,
   filter visualization by gradient ascent, Grad-CAM and vanilla gradient
   saliency, and the pictures that show them (confusion-matrix heat map,
   tiled filter grids, overlays, an HTML index).

   Images here are grey: the models see grey faces replicated to their input
   channels, so inputs are optimized and maps are drawn in grey space. */
#ifndef FER_EXPLAIN_H
#define FER_EXPLAIN_H

#include "fer/config.h"
#include "fer/confusion.h"
#include "fer/dataset.h"
#include "fer/error.h"
#include "fer/model.h"
#include "fer/view.h"

#include <stdint.h>

/* Side of the stored data set images: FER2013 and the synthetic set are
   48x48 and `fer prepare` resizes folder images to it. */
enum { FER_DATASET_SIDE = 48 };

/* ---- drawing -------------------------------------------------------------- */

/* An RGB picture (h x w x 3, row-major) that the caller frees with
   fer_canvas_free. */
typedef struct {
    int h, w;
    uint8_t *rgb;
} fer_canvas;

/* A canvas filled with one grey level. */
int fer_canvas_init(fer_canvas *c, int h, int w, uint8_t fill, fer_err *err);
void fer_canvas_free(fer_canvas *c);
void fer_canvas_fill_rect(fer_canvas *c, int y, int x, int h, int w, const uint8_t rgb[3]);
/* Draws an RGB image (ih x iw x 3) scaled by an integer factor (nearest
   neighbour, so pixels stay visible) with its top-left corner at (y, x);
   parts outside the canvas are clipped. */
void fer_canvas_blit_rgb(fer_canvas *c, int y, int x, const uint8_t *rgb, int ih, int iw, int scale);
void fer_canvas_blit_grey(fer_canvas *c, int y, int x, const uint8_t *grey, int ih, int iw, int scale);
int fer_canvas_write_png(const fer_canvas *c, const char *path, fer_err *err);

/* Text in the built-in 5x7 bitmap font (ASCII 32..126; anything else is
   drawn as '?'), each font pixel a scale x scale square, glyphs FER_FONT_ADVANCE
   font pixels apart. (y, x) is the top-left corner of the FER_FONT_H rows
   above the baseline; descenders (g, j, p, q, y) reach two rows below it.
   Clipped at the edges. */
enum { FER_FONT_W = 5, FER_FONT_H = 7, FER_FONT_ROWS = 9, FER_FONT_ADVANCE = 6 };
void fer_canvas_text(fer_canvas *c, int y, int x, const char *text, int scale, const uint8_t rgb[3]);
/* Width in canvas pixels of text at scale (no trailing gap). */
int fer_text_width(const char *text, int scale);
/* The glyph of character ch: FER_FONT_ROWS rows (the last two are the
   descender), bit 4 of a row is its leftmost pixel. */
void fer_font_glyph(int ch, uint8_t rows[FER_FONT_ROWS]);

/* Colour maps from t in [0, 1] (clamped; NaN counts as 0). Viridis is
   perceptually uniform (matrices); jet is the classic Grad-CAM palette. */
typedef enum { FER_CMAP_VIRIDIS = 0, FER_CMAP_JET = 1 } fer_colormap;
void fer_colormap_rgb(fer_colormap map, float t, uint8_t rgb[3]);

/* ---- confusion matrix heat map -------------------------------------------- */

/* The matrix as a picture: rows true class, columns predicted, each cell
   filled with viridis of its row-normalized fraction (count / row total, 0
   for an empty row) with the count and the row percentage written in it,
   class names on both axes, row totals, a colour bar, a title line (may be
   NULL) and the overall accuracy. out is initialized here. */
int fer_confusion_heatmap(fer_canvas *out, const fer_confusion *c, const char *title, fer_err *err);
/* The same as a PNG file. Deterministic: the same counts give the same bytes. */
int fer_confusion_heatmap_png(const fer_confusion *c, const char *title, const char *path, fer_err *err);

/* ---- image files to model inputs ----------------------------------------- */

/* Reads a PNG/JPEG of any size and prepares it exactly as a training image
   of the data set is: grey (ITU-R 601), bilinear resize to
   FER_DATASET_SIDE x FER_DATASET_SIDE rounded to uint8 (as `fer prepare`
   stores folder images), histogram equalization if `equalize`, bilinear
   upscale to size x size rounded to uint8 (as the training image sets).
   grey gets size x size pixels. */
int fer_face_image_load(const char *path, int size, int equalize, uint8_t *grey, fer_err *err);

/* Model input of n grey images (n x size x size uint8): n x size x size x
   channels floats through fer_preprocess. */
int fer_face_inputs(float *x, const uint8_t *grey, int n, int size, int channels, int caffe, fer_err *err);

/* The same with each image seen through view first (include/fer/view.h),
   exactly as the evaluation loader sees it. */
int fer_face_inputs_view(float *x, const uint8_t *grey, int n, int size, int channels, int caffe,
                         const fer_view *view, fer_err *err);

/* The most probable class of one row of probabilities (ties: the lower index). */
int fer_top_class(const float *probs, int classes);

/* Inference (BatchNorm statistics, no dropout) of n model inputs in batches
   of at most batch rows: probs gets n x classes softmax probabilities. */
int fer_predict_probs(fer_model *m, const float *x, int n, int batch, float *probs, fer_err *err);

/* ---- filter visualization ------------------------------------------------- */

typedef struct {
    int layer;          /* model layer whose channels are visualized (spatial output) */
    const int *filters; /* count channel indices of that layer */
    int count;
    int steps;            /* gradient ascent steps, >= 0 */
    float step;           /* grey levels per step for a gradient of unit RMS */
    uint64_t seed;        /* noise of the starting images */
    const uint8_t *start; /* NULL: start from noise (grey 128 + U(-10, 10)); else a size x size
                             grey image that every filter starts from */
} fer_filter_viz_opts;

/* Gradient ascent on the grey input image (size = model input size) to
   maximize the mean activation of each chosen filter, as the Keras blog
   "How convolutional neural networks see the world" does: each step adds
   step * g / (RMS(g) + 1e-5) where g is the gradient of the filter's mean
   activation with respect to the grey image. All filters run together as one
   batch (inference mode, so samples do not interact). images gets count x
   size x size grey values (unclipped), activation (may be NULL) the final
   mean activation of each filter. Errors: a layer that is not spatial, a
   filter index out of range, allocation failure. */
int fer_filter_viz(fer_model *m, const fer_filter_viz_opts *o, float *images, float *activation,
                   fer_err *err);

/* The count filters of o->layer with the largest mean activation on the
   starting image of o (its noise, or o->start), most active first (ties: the
   lower index); o->filters and o->count are not used. A filter that is zero
   everywhere on the start (ReLU) gets no gradient and stays at its start, so
   this skips the filters the ascent cannot move when others can be. */
int fer_filter_viz_pick(fer_model *m, const fer_filter_viz_opts *o, int *filters, int count, fer_err *err);

/* Display normalization of the same blog: centre on the mean, scale to a
   standard deviation of 0.1 * 255 around grey 128, clip to 0..255. */
void fer_deprocess_image(uint8_t *dst, const float *x, int n);

/* A grid of count grey tiles (each side x side) drawn at an integer scale,
   cols per row (0: about square), with a caption under each tile (labels may
   be NULL), a title line on top (may be NULL). */
int fer_tile_grey(fer_canvas *out, const uint8_t *tiles, int count, int side, int scale, int cols,
                  const char *const *labels, const char *title, fer_err *err);

/* ---- Grad-CAM and saliency ----------------------------------------------- */

/* The last convolution of the model (the Grad-CAM default), or -1. */
int fer_last_conv_layer(const fer_model *m);

/* Grad-CAM (Selvaraju et al. 2017) of n inputs at layer `layer` (a layer
   with a spatial output), for the logit of classes[i]: channel weights are
   the spatial means of d logit / d activation, the map is ReLU(sum over
   channels of weight * activation). cam gets n x out_h x out_w of that
   layer, unnormalized (>= 0). Inference mode. The model's activation buffers
   and parameter gradients are overwritten. */
int fer_gradcam(fer_model *m, int layer, const float *x, int n, const int *classes, float *cam, fer_err *err);

/* Vanilla gradient saliency (Simonyan et al. 2014): the largest absolute
   value over input channels of d logit[classes[i]] / d input. sal gets n x
   size x size (input size). Inference mode. */
int fer_saliency(fer_model *m, const float *x, int n, const int *classes, float *sal, fer_err *err);

/* Scales a non-negative map to [0, 1] by its maximum (all zeros stay zero). */
void fer_map_normalize(float *map, int count);

/* RGB (size x size x 3) of a grey face with a map in [0, 1] (same size)
   drawn over it in jet, the map's weight growing with its value so the face
   stays visible where the map is low. */
void fer_heat_overlay(uint8_t *rgb, const uint8_t *grey, const float *map, int size);

/* For each class, the indices of up to per_class correctly classified
   samples with the highest probability of their class, best first (ties:
   lower index first); picks gets classes x per_class entries, -1 where a
   class has fewer. probs: n x classes. */
void fer_typical_samples(const float *probs, const uint8_t *labels, int n, int classes, int per_class,
                         int *picks);

/* ---- saliency report ------------------------------------------------------ */

typedef struct {
    const char *out_dir;      /* created if missing */
    const char *title;        /* heading of the index page */
    int layer;                /* Grad-CAM layer */
    int per_class;            /* samples per class */
    int scale;                /* PNG pixels per input pixel */
    const char *const *names; /* class names (model classes) */
    fer_view view;            /* what the model sees of each image (centre crop); zero: all */
} fer_saliency_report_opts;

/* For the typical samples of each class among n grey images (n x size x
   size, labels, probs n x classes from fer_evaluate), writes into out_dir
   <class>_<k>_face.png, _gradcam.png (overlay) and _saliency.png, and
   index.html showing them in a grid, one row per class. */
int fer_saliency_report(fer_model *m, const fer_saliency_report_opts *o, const uint8_t *grey,
                        const uint8_t *labels, const float *probs, int n, int caffe, fer_err *err);

/* One cell of the index page. */
typedef struct {
    const char *face, *gradcam, *saliency; /* file names relative to the page */
    int index;                             /* sample index in the evaluated set */
    float prob;                            /* probability of its (true) class */
} fer_html_sample;

/* index.html: a table with one row per class holding that class's samples
   (cells[class * per_class + k], face == NULL for an empty cell). */
int fer_html_index_write(const char *path, const char *title, const char *const *names, int classes,
                         int per_class, const fer_html_sample *cells, const char *layer_name, fer_err *err);

#endif
