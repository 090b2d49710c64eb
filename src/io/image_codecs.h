/* The PNG and JPEG readers behind fer_image_read_grey. Internal to src/io. */
#ifndef FER_IO_IMAGE_CODECS_H
#define FER_IO_IMAGE_CODECS_H

#include "fer/error.h"

#include <stdint.h>

/* Largest accepted side and area: bigger files are rejected before any
   allocation, so a corrupt header cannot ask for gigabytes. */
#define FER_IMAGE_MAX_SIDE 16384
#define FER_IMAGE_MAX_PIXELS (1L << 26)

int fer_png_read_grey(const char *path, uint8_t **pixels, int *h, int *w, fer_err *err);
int fer_jpeg_read_grey(const char *path, uint8_t **pixels, int *h, int *w, fer_err *err);

/* ITU-R 601 luma of 8-bit RGB, rounded. */
static inline uint8_t fer_luma601(int r, int g, int b)
{
    return (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
}

#endif
