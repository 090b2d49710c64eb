/* PNG through libpng: any colour type and bit depth in, 8-bit grey out. */
#include "fer/image.h"
#include "image_codecs.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a read owns, kept outside the setjmp frame so that a libpng error
   (longjmp) can release it. */
typedef struct {
    FILE *file;
    png_structp png;
    png_infop info;
    uint8_t *rows;       /* h x rowbytes decoded */
    png_bytep *row_ptrs; /* h */
    char message[200];
} png_reader;

static void on_error(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->message, sizeof r->message, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Decodes into r->rows as 8-bit grey or RGB; returns the channel count, or 0
   after a libpng error (message in r->message). */
static int decode(png_reader *r, int *h, int *w)
{
    if (setjmp(png_jmpbuf(r->png)))
        return 0;
    png_init_io(r->png, r->file);
    png_set_sig_bytes(r->png, 8);
    png_read_info(r->png, r->info);
    png_uint_32 width = png_get_image_width(r->png, r->info), height = png_get_image_height(r->png, r->info);
    if (width > FER_IMAGE_MAX_SIDE || height > FER_IMAGE_MAX_SIDE ||
        (long)width * (long)height > FER_IMAGE_MAX_PIXELS) {
        snprintf(r->message, sizeof r->message, "image of %u x %u pixels is too large", (unsigned)width,
                 (unsigned)height);
        return 0;
    }
    png_set_expand(r->png);
    png_set_strip_16(r->png);
    png_set_strip_alpha(r->png);
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    int channels = png_get_channels(r->png, r->info);
    size_t rowbytes = png_get_rowbytes(r->png, r->info);
    r->rows = malloc(height * rowbytes);
    r->row_ptrs = malloc(height * sizeof *r->row_ptrs);
    if (!r->rows || !r->row_ptrs) {
        snprintf(r->message, sizeof r->message, "out of memory");
        return 0;
    }
    for (png_uint_32 y = 0; y < height; y++)
        r->row_ptrs[y] = r->rows + y * rowbytes;
    png_read_image(r->png, r->row_ptrs);
    png_read_end(r->png, NULL);
    *h = (int)height;
    *w = (int)width;
    return channels;
}

static int to_grey(uint8_t *grey, const uint8_t *rows, int h, int w, int channels)
{
    size_t n = (size_t)h * w;
    if (channels == 1) {
        memcpy(grey, rows, n);
        return FER_OK;
    }
    if (channels != 3)
        return FER_ERROR;
    for (size_t i = 0; i < n; i++)
        grey[i] = fer_luma601(rows[3 * i], rows[3 * i + 1], rows[3 * i + 2]);
    return FER_OK;
}

static int read_grey(png_reader *r, const char *path, uint8_t **pixels, int *h, int *w, fer_err *err)
{
    unsigned char sig[8];
    if (fread(sig, 1, 8, r->file) != 8 || png_sig_cmp(sig, 0, 8))
        return fer_fail(err, "%s: unreadable image: not a PNG file", path);
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, on_error, on_warning);
    r->info = r->png ? png_create_info_struct(r->png) : NULL;
    if (!r->info)
        return fer_fail(err, "%s: out of memory", path);
    int channels = decode(r, h, w);
    if (channels == 0)
        return fer_fail(err, "%s: unreadable image: %s", path, r->message);
    *pixels = malloc((size_t)*h * *w);
    if (!*pixels)
        return fer_fail(err, "%s: out of memory", path);
    if (to_grey(*pixels, r->rows, *h, *w, channels)) {
        free(*pixels);
        *pixels = NULL;
        return fer_fail(err, "%s: unreadable image: unexpected %d channels", path, channels);
    }
    return FER_OK;
}

int fer_png_read_grey(const char *path, uint8_t **pixels, int *h, int *w, fer_err *err)
{
    png_reader r = {0};
    *pixels = NULL;
    r.file = fopen(path, "rb");
    if (!r.file)
        return fer_fail(err, "%s: cannot open image", path);
    int rc = read_grey(&r, path, pixels, h, w, err);
    if (r.png)
        png_destroy_read_struct(&r.png, r.info ? &r.info : NULL, NULL);
    free(r.rows);
    free(r.row_ptrs);
    fclose(r.file);
    return rc;
}

static int write_png(const char *path, const uint8_t *pixels, int h, int w, png_uint_32 format, fer_err *err)
{
    if (h < 1 || w < 1)
        return fer_fail(err, "%s: cannot write an image of %d x %d pixels", path, h, w);
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)w;
    image.height = (png_uint_32)h;
    image.format = format;
    if (!png_image_write_to_file(&image, path, 0, pixels, 0, NULL))
        return fer_fail(err, "%s: cannot write PNG: %s", path, image.message);
    return FER_OK;
}

int fer_png_write_grey(const char *path, const uint8_t *pixels, int h, int w, fer_err *err)
{
    return write_png(path, pixels, h, w, PNG_FORMAT_GRAY, err);
}

int fer_png_write_rgb(const char *path, const uint8_t *pixels, int h, int w, fer_err *err)
{
    return write_png(path, pixels, h, w, PNG_FORMAT_RGB, err);
}
