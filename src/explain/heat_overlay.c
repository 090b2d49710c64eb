/* Maps drawn for people: scaled to [0, 1] and laid over the face. */
#include "fer/explain.h"

#include <math.h>

void fer_map_normalize(float *map, int count)
{
    float top = 0;
    for (int i = 0; i < count; i++)
        top = map[i] > top ? map[i] : top;
    for (int i = 0; i < count; i++)
        map[i] = top > 0 && map[i] > 0 ? map[i] / top : 0;
}

void fer_heat_overlay(uint8_t *rgb, const uint8_t *grey, const float *map, int size)
{
    for (int p = 0; p < size * size; p++) {
        float t = map[p] > 0 ? (map[p] < 1 ? map[p] : 1) : 0;
        /* Weak evidence tints the face lightly; strong evidence covers it. */
        float alpha = 0.2f + 0.5f * t;
        uint8_t heat[3];
        fer_colormap_rgb(FER_CMAP_JET, t, heat);
        for (int c = 0; c < 3; c++)
            rgb[(size_t)p * 3 + c] = (uint8_t)lrintf((1 - alpha) * grey[p] + alpha * heat[c]);
    }
}
