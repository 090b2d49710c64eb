/* Bilinear resize with half-pixel centres (OpenCV INTER_LINEAR, PyTorch
   align_corners=False): source coordinate (d + 0.5) * s/d - 0.5, clamped to
   the image, so borders replicate the edge pixel. */
#include "fer/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int i0, i1;
    float t; /* weight of i1 */
} lerp_tap;

static void taps(lerp_tap *tap, int dn, int sn)
{
    double scale = (double)sn / dn;
    for (int d = 0; d < dn; d++) {
        double x = (d + 0.5) * scale - 0.5;
        if (x < 0)
            x = 0;
        int i0 = (int)floor(x);
        if (i0 > sn - 1)
            i0 = sn - 1;
        tap[d].i0 = i0;
        tap[d].i1 = i0 + 1 < sn ? i0 + 1 : sn - 1;
        tap[d].t = (float)(x - i0);
        if (i0 == sn - 1)
            tap[d].t = 0.0f;
    }
}

void fer_resize_bilinear(float *dst, int dh, int dw, const float *src, int sh, int sw)
{
    lerp_tap stack_taps[2 * 512];
    lerp_tap *heap = NULL, *ty = stack_taps, *tx;
    if (dh + dw > 2 * 512)
        ty = heap = malloc((size_t)(dh + dw) * sizeof *ty);
    if (!ty)
        return; /* only for absurd sizes; callers use model input sizes */
    tx = ty + dh;
    taps(ty, dh, sh);
    taps(tx, dw, sw);
    for (int y = 0; y < dh; y++) {
        const float *r0 = src + (size_t)ty[y].i0 * sw, *r1 = src + (size_t)ty[y].i1 * sw;
        float v = ty[y].t;
        for (int x = 0; x < dw; x++) {
            float u = tx[x].t;
            float top = r0[tx[x].i0] + u * (r0[tx[x].i1] - r0[tx[x].i0]);
            float bottom = r1[tx[x].i0] + u * (r1[tx[x].i1] - r1[tx[x].i0]);
            dst[(size_t)y * dw + x] = top + v * (bottom - top);
        }
    }
    free(heap);
}

int fer_resize_grey_u8(uint8_t *dst, int dh, int dw, const uint8_t *src, int sh, int sw)
{
    if (dh == sh && dw == sw) {
        memcpy(dst, src, (size_t)dh * dw);
        return FER_OK;
    }
    float *in = malloc((size_t)sh * sw * sizeof *in), *out = malloc((size_t)dh * dw * sizeof *out);
    if (!in || !out) {
        free(in);
        free(out);
        return FER_ERROR;
    }
    for (long i = 0; i < (long)sh * sw; i++)
        in[i] = src[i];
    fer_resize_bilinear(out, dh, dw, in, sh, sw);
    for (long i = 0; i < (long)dh * dw; i++)
        dst[i] = (uint8_t)fminf(255.0f, fmaxf(0.0f, rintf(out[i])));
    free(in);
    free(out);
    return FER_OK;
}
