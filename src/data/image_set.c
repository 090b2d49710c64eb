/* The model-size image set of one usage: equalize (optional) at the original
   48x48 as the seed did, upscale bilinearly, round back to uint8. */
#include "fer/image.h"
#include "fer/loader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void upscale_one(uint8_t *dst, const uint8_t *src, int h, int w, int size, int equalize, uint8_t *eq,
                        float *fsrc, float *fdst)
{
    if (equalize) {
        fer_equalize_hist(eq, src, h * w);
        src = eq;
    }
    for (int i = 0; i < h * w; i++)
        fsrc[i] = src[i];
    fer_resize_bilinear(fdst, size, size, fsrc, h, w);
    for (int i = 0; i < size * size; i++) {
        long v = lrintf(fdst[i]);
        dst[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

int fer_image_set_build(uint8_t **pixels, uint8_t **labels, int64_t **ids, int *n, const fer_dataset *ds,
                        int usage, int size, int equalize, int limit, fer_err *err)
{
    *pixels = *labels = NULL;
    *ids = NULL;
    *n = 0;
    if (size < 1 || size > 4096)
        return fer_fail(err, "image set: input size %d outside 1..4096", size);
    int count = 0;
    for (int i = 0; i < ds->n; i++)
        count += ds->usage[i] == usage;
    if (limit > 0 && count > limit)
        count = limit;
    size_t image = (size_t)size * size, in_image = (size_t)ds->h * ds->w;
    *pixels = malloc(count * image + 1);
    *labels = malloc((size_t)count + 1);
    *ids = malloc(((size_t)count + 1) * sizeof **ids);
    uint8_t *eq = malloc(in_image);
    float *fsrc = malloc(in_image * sizeof *fsrc), *fdst = malloc(image * sizeof *fdst);
    int ok = *pixels && *labels && *ids && eq && fsrc && fdst;
    for (int i = 0, k = 0; ok && i < ds->n && k < count; i++) {
        if (ds->usage[i] != usage)
            continue;
        upscale_one(*pixels + k * image, ds->pixels + i * in_image, ds->h, ds->w, size, equalize, eq, fsrc,
                    fdst);
        (*labels)[k] = ds->labels[i];
        (*ids)[k] = i;
        k++;
    }
    free(eq);
    free(fsrc);
    free(fdst);
    if (!ok) {
        free(*pixels);
        free(*labels);
        free(*ids);
        *pixels = *labels = NULL;
        *ids = NULL;
        return fer_fail(err, "image set: out of memory for %d images of %d x %d", count, size, size);
    }
    *n = count;
    return FER_OK;
}
