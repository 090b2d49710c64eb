/* Filter visualization by gradient ascent on the input (Erhan et al. 2009;
   the Keras blog "How convolutional neural networks see the world", which
   the seed followed): the image that maximizes a filter's mean activation
   shows the pattern the filter responds to. */
#include "fer/explain.h"
#include "fer/loader.h"
#include "fer/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The starting noise's stream: apart from the product's streams in rng.h,
   so a seed shared with a run draws different numbers here. */
enum { VIZ_NOISE_STREAM = 0x76697a };

typedef struct {
    float *x;    /* count x model input */
    float *dy;   /* count x layer output: the ascent objective's gradient */
    float *dx;   /* count x model input */
    float *grey; /* one image of the input size */
} viz_buffers;

static void buffers_free(viz_buffers *b)
{
    free(b->x);
    free(b->dy);
    free(b->dx);
    free(b->grey);
}

static int check_opts(const fer_model *m, const fer_filter_viz_opts *o, fer_err *err)
{
    if (o->layer < 0 || o->layer >= m->n_layers)
        return fer_fail(err, "filter viz: layer index %d outside 0..%d", o->layer, m->n_layers - 1);
    const fer_layer *L = &m->layers[o->layer];
    if (o->count < 1 || o->steps < 0 || !(o->step >= 0) || !isfinite(o->step))
        return fer_fail(err,
                        "filter viz: need count >= 1, steps >= 0 and a finite step >= 0 (got %d, %d, %g)",
                        o->count, o->steps, (double)o->step);
    for (int i = 0; i < o->count; i++)
        if (o->filters[i] < 0 || o->filters[i] >= L->out_c)
            return fer_fail(err, "filter viz: layer %s has filters 0..%d, asked for %d", L->cfg.name,
                            L->out_c - 1, o->filters[i]);
    return FER_OK;
}

static void start_images(float *images, int count, const fer_filter_viz_opts *o, int pixels)
{
    for (int i = 0; i < count; i++)
        for (int p = 0; p < pixels; p++)
            images[(size_t)i * pixels + p] =
                o->start ? (float)o->start[p]
                         : 128.0f + (float)fer_uniform_range(fer_key(o->seed, VIZ_NOISE_STREAM, 0, 0),
                                                             (uint64_t)p, -10.0, 10.0);
}

/* Forward pass of count images; returns the chosen layer's output. */
static const float *forward_images(fer_model *m, int layer, const float *images, int count, viz_buffers *b)
{
    int size = m->cfg.input_size, ch = m->cfg.channels, pixels = size * size;
    for (int i = 0; i < count; i++) {
        memcpy(b->grey, images + (size_t)i * pixels, pixels * sizeof(float));
        fer_preprocess(b->x + (size_t)i * pixels * ch, b->grey, size, ch, m->cfg.preprocess_caffe);
    }
    fer_pass pass = {.training = 0};
    fer_model_forward(m, b->x, count, &pass);
    return fer_model_activation(m, layer);
}

/* One ascent step: d(mean activation of filter f_i)/d grey image, where every
   input channel is the grey image minus a constant, so the grey gradient is
   the sum over channels; the step is normalized by the gradient's RMS. */
static void ascend(fer_model *m, const fer_filter_viz_opts *o, float *images, viz_buffers *b)
{
    const fer_layer *L = &m->layers[o->layer];
    size_t out = fer_layer_out_size(L), hw = (size_t)L->out_h * L->out_w;
    int ch = m->cfg.channels, pixels = m->cfg.input_size * m->cfg.input_size;
    memset(b->dy, 0, (size_t)o->count * out * sizeof(float));
    for (int i = 0; i < o->count; i++)
        for (size_t p = 0; p < hw; p++)
            b->dy[i * out + p * L->out_c + o->filters[i]] = 1.0f / (float)hw;
    fer_pass pass = {.training = 0};
    fer_model_backward_from(m, o->layer, b->dy, &pass, b->dx);
    for (int i = 0; i < o->count; i++) {
        float *g = b->grey, *img = images + (size_t)i * pixels;
        const float *dx = b->dx + (size_t)i * pixels * ch;
        double sq = 0;
        for (int p = 0; p < pixels; p++) {
            g[p] = 0;
            for (int c = 0; c < ch; c++)
                g[p] += dx[(size_t)p * ch + c];
            sq += (double)g[p] * g[p];
        }
        float scale = o->step / (float)(sqrt(sq / pixels) + 1e-5);
        for (int p = 0; p < pixels; p++)
            img[p] += scale * g[p];
    }
}

static void mean_activations(const fer_model *m, const fer_filter_viz_opts *o, const float *act,
                             float *activation)
{
    const fer_layer *L = &m->layers[o->layer];
    size_t out = fer_layer_out_size(L), hw = (size_t)L->out_h * L->out_w;
    for (int i = 0; i < o->count; i++) {
        double s = 0;
        for (size_t p = 0; p < hw; p++)
            s += act[i * out + p * L->out_c + o->filters[i]];
        activation[i] = (float)(s / (double)hw);
    }
}

int fer_filter_viz(fer_model *m, const fer_filter_viz_opts *o, float *images, float *activation, fer_err *err)
{
    if (check_opts(m, o, err) || fer_model_reserve(m, o->count, err))
        return FER_ERROR;
    size_t pixels = (size_t)m->cfg.input_size * m->cfg.input_size, in = fer_model_input_size(m);
    viz_buffers b = {malloc(o->count * in * sizeof(float)),
                     malloc(o->count * fer_layer_out_size(&m->layers[o->layer]) * sizeof(float)),
                     malloc(o->count * in * sizeof(float)), malloc(pixels * sizeof(float))};
    if (!b.x || !b.dy || !b.dx || !b.grey) {
        buffers_free(&b);
        return fer_fail(err, "filter viz: out of memory for %d images", o->count);
    }
    start_images(images, o->count, o, (int)pixels);
    for (int s = 0; s < o->steps; s++) {
        forward_images(m, o->layer, images, o->count, &b);
        ascend(m, o, images, &b);
    }
    if (activation)
        mean_activations(m, o, forward_images(m, o->layer, images, o->count, &b), activation);
    buffers_free(&b);
    return FER_OK;
}

int fer_filter_viz_pick(fer_model *m, const fer_filter_viz_opts *o, int *filters, int count, fer_err *err)
{
    if (o->layer < 0 || o->layer >= m->n_layers)
        return fer_fail(err, "filter viz: layer index %d outside 0..%d", o->layer, m->n_layers - 1);
    const fer_layer *L = &m->layers[o->layer];
    if (count < 1 || count > L->out_c)
        return fer_fail(err, "filter viz: layer %s has %d filters, asked for the %d most active", L->cfg.name,
                        L->out_c, count);
    if (fer_model_reserve(m, 1, err))
        return FER_ERROR;
    size_t pixels = (size_t)m->cfg.input_size * m->cfg.input_size, hw = (size_t)L->out_h * L->out_w;
    viz_buffers b = {malloc(fer_model_input_size(m) * sizeof(float)), NULL, NULL,
                     malloc(pixels * sizeof(float))};
    float *image = malloc(pixels * sizeof(float)), *mean = malloc((size_t)L->out_c * sizeof(float));
    int rc = b.x && b.grey && image && mean ? FER_OK : fer_fail(err, "filter viz: out of memory");
    if (rc == FER_OK) {
        start_images(image, 1, o, (int)pixels);
        const float *act = forward_images(m, o->layer, image, 1, &b);
        for (int c = 0; c < L->out_c; c++) {
            double s = 0;
            for (size_t p = 0; p < hw; p++)
                s += act[p * L->out_c + c];
            mean[c] = (float)(s / (double)hw);
        }
        /* Selection of the count largest, ties to the lower index. */
        for (int i = 0; i < count; i++) {
            int best = -1;
            for (int c = 0; c < L->out_c; c++)
                if (mean[c] > -INFINITY && (best < 0 || mean[c] > mean[best]))
                    best = c;
            filters[i] = best;
            mean[best] = -INFINITY;
        }
    }
    buffers_free(&b);
    free(image);
    free(mean);
    return rc;
}

void fer_deprocess_image(uint8_t *dst, const float *x, int n)
{
    double mean = 0, sq = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n > 0 ? n : 1;
    for (int i = 0; i < n; i++)
        sq += (x[i] - mean) * (x[i] - mean);
    double sd = sqrt(sq / (n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        double v = ((x[i] - mean) / (sd + 1e-5) * 0.1 + 0.5) * 255.0;
        dst[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
    }
}
