/* Histogram equalization, bit-exact with OpenCV 4's cv::equalizeHist. */
#include "fer/image.h"

#include <math.h>
#include <string.h>

/* OpenCV's saturate_cast<uchar>(float): cvRound (round half to even), then
   clamp to 0..255. */
static uint8_t saturate_u8(float v)
{
    long r = lrintf(v);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

void fer_equalize_hist(uint8_t *dst, const uint8_t *src, int n_pixels)
{
    int hist[256] = {0};
    uint8_t lut[256];
    for (int i = 0; i < n_pixels; i++)
        hist[src[i]]++;
    if (n_pixels <= 0)
        return;
    int first = 0;
    while (!hist[first])
        first++;
    /* A single-colour image has nothing to spread: OpenCV fills the output
       with that colour, i.e. returns the image unchanged. */
    if (hist[first] == n_pixels) {
        memset(dst, first, (size_t)n_pixels);
        return;
    }
    /* OpenCV computes in float: scale = 255.f / (total - hist[first]), the
       first occupied level maps to 0 and the cumulative count after it to
       round(sum * scale). */
    float scale = 255.0f / (float)(n_pixels - hist[first]);
    int sum = 0;
    memset(lut, 0, sizeof lut);
    for (int i = first + 1; i < 256; i++) {
        sum += hist[i];
        lut[i] = saturate_u8((float)sum * scale);
    }
    for (int i = 0; i < n_pixels; i++)
        dst[i] = lut[src[i]];
}
