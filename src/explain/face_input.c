/* Image files to model inputs along the path a training image takes: the
   data set import (grey, 48x48), then the training image set (equalize,
   upscale) and the loader's preprocessing, so `fer predict` sees what the
   model was trained on. */
#include "fer/explain.h"
#include "fer/image.h"
#include "fer/loader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* As `fer prepare` stores a folder image of another size. */
static int to_dataset_side(uint8_t *dst, const uint8_t *grey, int h, int w)
{
    return fer_resize_grey_u8(dst, FER_DATASET_SIDE, FER_DATASET_SIDE, grey, h, w);
}

int fer_face_image_load(const char *path, int size, int equalize, uint8_t *grey, fer_err *err)
{
    uint8_t *pixels = NULL, stored[FER_DATASET_SIDE * FER_DATASET_SIDE], label = 0,
            usage = FER_USAGE_TRAINING;
    int h, w;
    if (fer_image_read_grey(path, &pixels, &h, &w, err))
        return FER_ERROR;
    int rc = to_dataset_side(stored, pixels, h, w);
    free(pixels);
    if (rc)
        return fer_fail(err, "%s: out of memory resizing a %d x %d image", path, h, w);
    /* A one-image data set through the training image-set builder: the same
       equalization, upscale and rounding, by construction. */
    fer_dataset one = {.n = 1,
                       .h = FER_DATASET_SIDE,
                       .w = FER_DATASET_SIDE,
                       .pixels = stored,
                       .labels = &label,
                       .usage = &usage};
    uint8_t *set = NULL, *labels = NULL;
    int64_t *ids = NULL;
    int n = 0;
    if (fer_image_set_build(&set, &labels, &ids, &n, &one, FER_USAGE_TRAINING, size, equalize, 0, err))
        return fer_fail_wrap(err, "%s", path);
    memcpy(grey, set, (size_t)size * size);
    free(set);
    free(labels);
    free(ids);
    return FER_OK;
}

int fer_face_inputs(float *x, const uint8_t *grey, int n, int size, int channels, int caffe, fer_err *err)
{
    fer_view whole = {0, 0, 0, 0};
    return fer_face_inputs_view(x, grey, n, size, channels, caffe, &whole, err);
}

int fer_face_inputs_view(float *x, const uint8_t *grey, int n, int size, int channels, int caffe,
                         const fer_view *view, fer_err *err)
{
    size_t pixels = (size_t)size * size;
    float *row = malloc(3 * pixels * sizeof *row), *seen = row + pixels, *window = seen + pixels;
    if (!row)
        return fer_fail(err, "face inputs: out of memory for a %d x %d image", size, size);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < pixels; k++)
            row[k] = grey[i * pixels + k];
        const float *ready = row;
        if (view->side || view->flip) {
            fer_view_apply(seen, row, size, view, window, FER_FILL_NEAREST, 0.0f);
            ready = seen;
        }
        fer_preprocess(x + i * pixels * channels, ready, size, channels, caffe);
    }
    free(row);
    return FER_OK;
}
