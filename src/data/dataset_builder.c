#include "dataset_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fer_builder_init(fer_dataset_builder *b, fer_dataset *ds, int h, int w)
{
    memset(ds, 0, sizeof *ds);
    ds->h = h;
    ds->w = w;
    ds->n_classes = 7;
    for (int c = 0; c < 7; c++)
        snprintf(ds->class_names[c], sizeof ds->class_names[c], "%s", fer_emotion_names[c]);
    b->ds = ds;
    b->cap = 0;
}

static int grow(fer_dataset_builder *b)
{
    fer_dataset *ds = b->ds;
    int cap = b->cap ? b->cap * 2 : 1024;
    if (cap > FER_MAX_IMAGES)
        cap = FER_MAX_IMAGES;
    size_t image = (size_t)ds->h * ds->w;
    uint8_t *pixels = realloc(ds->pixels, (size_t)cap * image);
    if (!pixels)
        return FER_ERROR;
    ds->pixels = pixels;
    uint8_t *labels = realloc(ds->labels, cap);
    if (!labels)
        return FER_ERROR;
    ds->labels = labels;
    uint8_t *usage = realloc(ds->usage, cap);
    if (!usage)
        return FER_ERROR;
    ds->usage = usage;
    b->cap = cap;
    return FER_OK;
}

int fer_builder_full(const fer_dataset_builder *b, fer_err *err)
{
    if (b->ds->n < FER_MAX_IMAGES)
        return 0;
    fer_fail(err, "more than %d images, the most a data set may hold (docs/limits.md)", FER_MAX_IMAGES);
    return 1;
}

uint8_t *fer_builder_next(fer_dataset_builder *b)
{
    if (b->ds->n >= FER_MAX_IMAGES || (b->ds->n == b->cap && grow(b)))
        return NULL;
    return b->ds->pixels + (size_t)b->ds->n * b->ds->h * b->ds->w;
}

void fer_builder_commit(fer_dataset_builder *b, int label, int usage)
{
    b->ds->labels[b->ds->n] = (uint8_t)label;
    b->ds->usage[b->ds->n] = (uint8_t)usage;
    b->ds->n++;
}

void fer_builder_finish(fer_dataset_builder *b)
{
    fer_dataset *ds = b->ds;
    if (ds->n == 0 || ds->n == b->cap)
        return;
    /* Shrinking never fails in practice; keep the larger block if it does. */
    uint8_t *p = realloc(ds->pixels, (size_t)ds->n * ds->h * ds->w);
    if (p)
        ds->pixels = p;
    p = realloc(ds->labels, ds->n);
    if (p)
        ds->labels = p;
    p = realloc(ds->usage, ds->n);
    if (p)
        ds->usage = p;
    b->cap = ds->n;
}
