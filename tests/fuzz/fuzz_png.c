/* libFuzzer target: the PNG reader behind fer_image_read_grey (what `fer
   prepare` and `fer predict` open), on arbitrary bytes. A decoded image must
   have a size within the documented limits and every one of its h x w
   pixels must be readable (AddressSanitizer checks the buffer). */
#include "fer/image.h"
#include "fuzz_input.h"
#include "image_codecs.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file f;
    fuzz_file_open(&f, data, size, ".png");
    uint8_t *pixels = NULL;
    int h = 0, w = 0;
    fer_err err = {{0}};
    int rc = fer_image_read_grey(f.path, &pixels, &h, &w, &err);
    fuzz_note(rc, &err);
    fuzz_file_close(&f);
    if (rc != FER_OK) {
        if (!err.msg[0]) {
            fprintf(stderr, "fer_image_read_grey (PNG) failed without a message\n");
            abort();
        }
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
