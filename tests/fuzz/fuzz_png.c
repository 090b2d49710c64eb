/* libFuzzer target: the PNG reader behind fer_image_read_grey
   (fuzz_image.h). */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_image(data, size, ".png", "PNG");
}
