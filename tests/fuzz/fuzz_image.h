/* The body of the image fuzz targets (fuzz_png.c, fuzz_jpeg.c): the reader
   behind fer_image_read_grey (what `fer prepare` and `fer predict` open), on
   arbitrary bytes in a file of the given extension. A decoded image must
   have a size within the documented limits and every one of its h x w
   pixels must be readable (AddressSanitizer checks the buffer). */
#ifndef FER_FUZZ_IMAGE_H
#define FER_FUZZ_IMAGE_H

#include "fer/image.h"
#include "fuzz_input.h"
#include "image_codecs.h"

#include <string.h>

static int fuzz_image(const uint8_t *data, size_t size, const char *extension, const char *format)
{
    fuzz_file f;
    fuzz_file_open(&f, data, size, extension);
    uint8_t *pixels = NULL;
    int h = 0, w = 0;
    fer_err err = {{0}};
    int rc = fer_image_read_grey(f.path, &pixels, &h, &w, &err);
    fuzz_note(rc, &err);
    fuzz_file_close(&f);
    if (rc != FER_OK) {
        fuzz_expect(err.msg[0] != '\0', "fer_image_read_grey failed without a message:", format);
        return 0;
    }
    if (h < 1 || w < 1 || h > FER_IMAGE_MAX_SIDE || w > FER_IMAGE_MAX_SIDE ||
        (long)h * w > FER_IMAGE_MAX_PIXELS) {
        fprintf(stderr, "decoded a %dx%d image, outside the limits\n", w, h);
        abort();
    }
    fuzz_touch(pixels, (size_t)h * (size_t)w);
    free(pixels);
    return 0;
}

#endif
