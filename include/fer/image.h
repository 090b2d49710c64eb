/* Image operations on grey images, and PNG/JPEG files through libpng and
   libjpeg. */
#ifndef FER_IMAGE_H
#define FER_IMAGE_H

#include "fer/config.h"
#include "fer/error.h"

#include <stdint.h>

/* Histogram equalization, bit-exact with OpenCV's equalizeHist (including its
   handling of single-colour images, which it returns unchanged... as OpenCV
   does). dst may alias src. */
void fer_equalize_hist(uint8_t *dst, const uint8_t *src, int n_pixels);

/* Bilinear resize of a grey image (src sh x sw -> dst dh x dw), half-pixel
   centres (as OpenCV INTER_LINEAR / PyTorch align_corners=False). */
void fer_resize_bilinear(float *dst, int dh, int dw, const float *src, int sh, int sw);

/* The same on 8-bit images, rounded to the nearest grey level: how `fer
   prepare` stores a folder image of another size, and how `fer predict`
   prepares one, so both see identical pixels. Returns FER_ERROR when out of
   memory. dst may not alias src. */
int fer_resize_grey_u8(uint8_t *dst, int dh, int dw, const uint8_t *src, int sh, int sw);

/* One affine augmentation in Keras's parameter names and units
   (keras-preprocessing 1.1.x apply_affine_transform): theta degrees, tx rows
   and ty columns in pixels, shear degrees, zx/zy zoom factors, flip_h. */
typedef struct {
    double theta, tx, ty, shear, zx, zy;
    int flip_h;
} fer_affine;

/* Draws a transform as ImageDataGenerator.get_random_transform does, from the
   keyed RNG (every draw depends only on key). h, w: image size (shifts given
   as fractions scale by them). */
void fer_affine_draw(fer_affine *t, const fer_augment_cfg *cfg, int h, int w, uint64_t key);

/* Applies t to a grey float image like Keras: transform centred at
   (h/2 + 0.5, w/2 + 0.5), matrix rotation . shift . shear . zoom, bilinear
   (order 1) sampling as scipy.ndimage.affine_transform, fill_mode and cval;
   the horizontal flip is applied after the affine part, as Keras does. */
void fer_affine_apply(float *dst, const float *src, int h, int w, const fer_affine *t, fer_fill_mode fill,
                      float cval);

/* The pixel at integer (r, c), which may lie outside the image: outside, it
   is filled by fill_mode and cval exactly as fer_affine_apply fills. */
float fer_fill_pixel(const float *src, int h, int w, int r, int c, fer_fill_mode fill, float cval);

/* PNG/JPEG by extension (.png, .jpg, .jpeg), any colour type, converted to
   8-bit grey (ITU-R 601 luma). *pixels is malloc'd; caller frees. */
int fer_image_read_grey(const char *path, uint8_t **pixels, int *h, int *w, fer_err *err);
/* 8-bit grey PNG. */
int fer_png_write_grey(const char *path, const uint8_t *pixels, int h, int w, fer_err *err);
/* 8-bit RGB PNG (h x w x 3). */
int fer_png_write_rgb(const char *path, const uint8_t *pixels, int h, int w, fer_err *err);
/* 8-bit grey baseline JPEG at quality 1..100 (tests make folder data sets). */
int fer_jpeg_write_grey(const char *path, const uint8_t *pixels, int h, int w, int quality, fer_err *err);

#endif
