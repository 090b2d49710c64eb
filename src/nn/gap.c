/* Global average pooling: x n x hw x c -> y n x c (mean over positions). */
#include "fer/nn.h"

#include <string.h>

void fer_gap_forward(float *y, const float *x, int n, int hw, int c)
{
    const float inv = hw > 0 ? 1.0f / (float)hw : 0.0f;
    for (int s = 0; s < n; s++, y += c) {
        memset(y, 0, (size_t)c * sizeof *y);
        for (int p = 0; p < hw; p++, x += c)
            for (int j = 0; j < c; j++)
                y[j] += x[j];
        for (int j = 0; j < c; j++)
            y[j] *= inv;
    }
}

void fer_gap_backward(float *dx, const float *dy, int n, int hw, int c)
{
    const float inv = hw > 0 ? 1.0f / (float)hw : 0.0f;
    for (int s = 0; s < n; s++, dy += c)
        for (int p = 0; p < hw; p++, dx += c)
            for (int j = 0; j < c; j++)
                dx[j] = dy[j] * inv;
}
