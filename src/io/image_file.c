/* Image files by extension: .png through libpng, .jpg/.jpeg through libjpeg. */
#include "fer/image.h"
#include "image_codecs.h"

#include <string.h>
#include <strings.h>

static int has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);
    return n > m && !strcasecmp(path + n - m, ext);
}

int fer_image_read_grey(const char *path, uint8_t **pixels, int *h, int *w, fer_err *err)
{
    if (has_extension(path, ".png"))
        return fer_png_read_grey(path, pixels, h, w, err);
    if (has_extension(path, ".jpg") || has_extension(path, ".jpeg"))
        return fer_jpeg_read_grey(path, pixels, h, w, err);
    *pixels = NULL;
    return fer_fail(err, "%s: unknown image type (expected .png, .jpg or .jpeg)", path);
}
