/* JPEG through libjpeg: decoded straight to grey (the Y channel of YCbCr,
   which is ITU-R 601 luma), and grey baseline JPEG out. */
#include "fer/image.h"
#include "image_codecs.h"

/* jpeglib.h uses FILE without including stdio.h. */
#include <stdio.h>

#include <jpeglib.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* libjpeg reports errors through error_exit, which must not return. */
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void on_error(j_common_ptr cinfo)
{
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    cinfo->err->format_message(cinfo, f->message);
    longjmp(f->jump, 1);
}

/* libjpeg reports damaged data it can work around (a file cut short, bytes
   lost before a marker) as warnings and fills what is missing with grey: we
   keep the first warning and refuse the image after decoding. */
static void on_message(j_common_ptr cinfo)
{
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    if (!f->message[0])
        cinfo->err->format_message(cinfo, f->message);
}

static int too_large(JDIMENSION width, JDIMENSION height)
{
    return width > FER_IMAGE_MAX_SIDE || height > FER_IMAGE_MAX_SIDE ||
           (long)width * (long)height > FER_IMAGE_MAX_PIXELS;
}

typedef struct {
    FILE *file;
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    uint8_t *pixels;
} jpeg_reader;

/* Returns 1 when decoded into r->pixels, 0 after an error (r->failure.message). */
static int decode(jpeg_reader *r, int *h, int *w)
{
    if (setjmp(r->failure.jump))
        return 0;
    jpeg_create_decompress(&r->cinfo);
    jpeg_stdio_src(&r->cinfo, r->file);
    jpeg_read_header(&r->cinfo, TRUE);
    /* Before jpeg_start_decompress: for a progressive file it allocates the
       coefficients of the whole declared image, gigabytes for a bomb. */
    if (too_large(r->cinfo.image_width, r->cinfo.image_height)) {
        snprintf(r->failure.message, sizeof r->failure.message,
                 "image of %u x %u pixels is too large (limit %d pixels a side, %ld in all)",
                 (unsigned)r->cinfo.image_width, (unsigned)r->cinfo.image_height, FER_IMAGE_MAX_SIDE,
                 FER_IMAGE_MAX_PIXELS);
        return 0;
    }
    r->cinfo.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&r->cinfo);
    JDIMENSION width = r->cinfo.output_width, height = r->cinfo.output_height;
    r->pixels = malloc((size_t)width * height);
    if (!r->pixels) {
        snprintf(r->failure.message, sizeof r->failure.message, "out of memory");
        return 0;
    }
    while (r->cinfo.output_scanline < height) {
        JSAMPROW row = r->pixels + (size_t)r->cinfo.output_scanline * width;
        jpeg_read_scanlines(&r->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&r->cinfo);
    if (r->cinfo.err->num_warnings > 0) {
        char why[JMSG_LENGTH_MAX];
        snprintf(why, sizeof why, "%s", r->failure.message);
        snprintf(r->failure.message, sizeof r->failure.message, "damaged or truncated JPEG data: %.150s",
                 why);
        return 0;
    }
    *h = (int)height;
    *w = (int)width;
    return 1;
}

int fer_jpeg_read_grey(const char *path, uint8_t **pixels, int *h, int *w, fer_err *err)
{
    jpeg_reader r;
    memset(&r, 0, sizeof r);
    *pixels = NULL;
    r.file = fopen(path, "rb");
    if (!r.file)
        return fer_fail(err, "%s: cannot open image", path);
    r.cinfo.err = jpeg_std_error(&r.failure.mgr);
    r.failure.mgr.error_exit = on_error;
    r.failure.mgr.output_message = on_message;
    int ok = decode(&r, h, w);
    jpeg_destroy_decompress(&r.cinfo);
    fclose(r.file);
    if (!ok) {
        free(r.pixels);
        return fer_fail(err, "%s: unreadable image: %s", path, r.failure.message);
    }
    *pixels = r.pixels;
    return FER_OK;
}

typedef struct {
    FILE *file;
    struct jpeg_compress_struct cinfo;
    jpeg_failure failure;
} jpeg_writer;

static int encode(jpeg_writer *wr, const uint8_t *pixels, int h, int w, int quality)
{
    if (setjmp(wr->failure.jump))
        return 0;
    jpeg_create_compress(&wr->cinfo);
    jpeg_stdio_dest(&wr->cinfo, wr->file);
    wr->cinfo.image_width = (JDIMENSION)w;
    wr->cinfo.image_height = (JDIMENSION)h;
    wr->cinfo.input_components = 1;
    wr->cinfo.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&wr->cinfo);
    jpeg_set_quality(&wr->cinfo, quality, TRUE);
    jpeg_start_compress(&wr->cinfo, TRUE);
    while (wr->cinfo.next_scanline < (JDIMENSION)h) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)wr->cinfo.next_scanline * w);
        jpeg_write_scanlines(&wr->cinfo, &row, 1);
    }
    jpeg_finish_compress(&wr->cinfo);
    return 1;
}

int fer_jpeg_write_grey(const char *path, const uint8_t *pixels, int h, int w, int quality, fer_err *err)
{
    if (h < 1 || w < 1 || quality < 1 || quality > 100)
        return fer_fail(err, "%s: cannot write a JPEG of %d x %d pixels at quality %d", path, h, w, quality);
    jpeg_writer wr;
    memset(&wr, 0, sizeof wr);
    wr.file = fopen(path, "wb");
    if (!wr.file)
        return fer_fail(err, "%s: cannot create file", path);
    wr.cinfo.err = jpeg_std_error(&wr.failure.mgr);
    wr.failure.mgr.error_exit = on_error;
    wr.failure.mgr.output_message = on_message;
    int ok = encode(&wr, pixels, h, w, quality);
    jpeg_destroy_compress(&wr.cinfo);
    if (fclose(wr.file) != 0)
        ok = 0;
    if (!ok)
        return fer_fail(err, "%s: cannot write JPEG: %s", path,
                        wr.failure.message[0] ? wr.failure.message : "I/O error");
    return FER_OK;
}
