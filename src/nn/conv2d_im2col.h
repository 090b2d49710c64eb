/* The im2col geometry and the element-wise steps around a convolution's
   products, private to src/nn/: shared by the fp32 path (conv2d.c) and the
   bf16 one (conv2d_bf16.c), so that both walk patches, mask gradients and
   sum biases the same way. */
#ifndef FER_NN_CONV2D_IM2COL_H
#define FER_NN_CONV2D_IM2COL_H

#include "fer/nn.h"

#include <stddef.h>

/* Output pixels of the batch: zero for an empty batch or an input smaller
   than a valid kernel. */
static inline size_t fer_conv_out_pixels(const fer_conv_dims *d)
{
    if (d->n <= 0 || d->ho <= 0 || d->wo <= 0)
        return 0;
    return (size_t)d->n * d->ho * d->wo;
}

/* Position of an output pixel; walking it avoids a division per pixel. */
typedef struct {
    size_t img;
    int oh, ow;
} pixel_cursor;

static inline pixel_cursor cursor_at(const fer_conv_dims *d, size_t p)
{
    size_t per_image = (size_t)d->ho * d->wo;
    size_t rem = p % per_image;
    pixel_cursor c = {p / per_image, (int)(rem / (size_t)d->wo), (int)(rem % (size_t)d->wo)};
    return c;
}

static inline void cursor_next(pixel_cursor *c, const fer_conv_dims *d)
{
    if (++c->ow < d->wo)
        return;
    c->ow = 0;
    if (++c->oh < d->ho)
        return;
    c->oh = 0;
    c->img++;
}

/* The kernel columns [*jlo, *jhi) of a patch whose left edge is input column
   w0 that fall inside the image. */
static inline void valid_columns(const fer_conv_dims *d, int w0, int *jlo, int *jhi)
{
    *jlo = w0 < 0 ? -w0 : 0;
    *jhi = d->w - w0 < d->k ? d->w - w0 : d->k;
    if (*jhi < *jlo)
        *jhi = *jlo;
}

/* Adds rows p0..p1 of a column-gradient matrix (k*k*ci floats a row) back
   onto the input pixels they were copied from: the adjoint of im2col. */
void fer_conv_col2im_add(float *dx, const float *col, const fer_conv_dims *d, size_t p0, size_t p1);

/* Zeroes dx from *zeroed up to the end of the last input row that output
   pixels before p1 reach, and moves *zeroed there. */
void fer_conv_zero_ahead(float *dx, const fer_conv_dims *d, size_t p1, size_t *zeroed);

/* y = act(y + b) over rows x co. */
void fer_conv_add_bias_act(float *y, const float *b, size_t rows, int co, int relu);

/* dy masked by y > 0 when relu is set, and its rows summed into db (when
   not NULL) in two levels, by the fp32 path's chunks; sums is co floats of
   scratch. */
void fer_conv_mask_dy(float *db, float *dy, const float *y, const fer_conv_dims *d, int relu, float *sums);

#endif
