/* Colour maps as piecewise-linear ramps through anchor colours: viridis
   (matplotlib's default, perceptually uniform, readable in grey) sampled at
   eighths, and jet exactly (it is piecewise linear by definition). */
#include "fer/explain.h"

#include <math.h>

typedef struct {
    float t;
    uint8_t rgb[3];
} anchor;

static const anchor viridis[] = {
    {0.000f, {68, 1, 84}},    {0.125f, {71, 45, 123}},  {0.250f, {59, 82, 139}},
    {0.375f, {44, 114, 142}}, {0.500f, {33, 145, 140}}, {0.625f, {40, 174, 128}},
    {0.750f, {94, 201, 98}},  {0.875f, {173, 220, 48}}, {1.000f, {253, 231, 37}},
};

static const anchor jet[] = {
    {0.000f, {0, 0, 128}},   {0.125f, {0, 0, 255}}, {0.375f, {0, 255, 255}},
    {0.625f, {255, 255, 0}}, {0.875f, {255, 0, 0}}, {1.000f, {128, 0, 0}},
};

static void ramp(const anchor *a, int n, float t, uint8_t rgb[3])
{
    int i = 0;
    while (i < n - 2 && t > a[i + 1].t)
        i++;
    float f = (t - a[i].t) / (a[i + 1].t - a[i].t);
    for (int k = 0; k < 3; k++)
        rgb[k] = (uint8_t)lrintf(a[i].rgb[k] + f * ((float)a[i + 1].rgb[k] - a[i].rgb[k]));
}

void fer_colormap_rgb(fer_colormap map, float t, uint8_t rgb[3])
{
    t = t > 0 ? (t < 1 ? t : 1) : 0; /* also maps NaN to 0 */
    if (map == FER_CMAP_JET)
        ramp(jet, (int)(sizeof jet / sizeof jet[0]), t, rgb);
    else
        ramp(viridis, (int)(sizeof viridis / sizeof viridis[0]), t, rgb);
}
