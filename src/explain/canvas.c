/* An RGB picture to draw explanations on: rectangles, scaled images and
   bitmap text, written as PNG. Every drawing call clips to the canvas, so
   callers may place things partly outside it. */
#include "fer/explain.h"
#include "fer/image.h"

#include <stdlib.h>
#include <string.h>

int fer_canvas_init(fer_canvas *c, int h, int w, uint8_t fill, fer_err *err)
{
    c->h = c->w = 0;
    c->rgb = NULL;
    if (h < 1 || w < 1 || h > 16384 || w > 16384)
        return fer_fail(err, "canvas: size %d x %d outside 1..16384", h, w);
    c->rgb = malloc((size_t)h * w * 3);
    if (!c->rgb)
        return fer_fail(err, "canvas: out of memory for %d x %d pixels", h, w);
    memset(c->rgb, fill, (size_t)h * w * 3);
    c->h = h;
    c->w = w;
    return FER_OK;
}

void fer_canvas_free(fer_canvas *c)
{
    free(c->rgb);
    c->rgb = NULL;
    c->h = c->w = 0;
}

static void put(fer_canvas *c, int y, int x, const uint8_t rgb[3])
{
    if (y < 0 || x < 0 || y >= c->h || x >= c->w)
        return;
    memcpy(c->rgb + ((size_t)y * c->w + x) * 3, rgb, 3);
}

void fer_canvas_fill_rect(fer_canvas *c, int y, int x, int h, int w, const uint8_t rgb[3])
{
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            put(c, y + i, x + j, rgb);
}

void fer_canvas_blit_rgb(fer_canvas *c, int y, int x, const uint8_t *rgb, int ih, int iw, int scale)
{
    for (int i = 0; i < ih * scale; i++)
        for (int j = 0; j < iw * scale; j++)
            put(c, y + i, x + j, rgb + ((size_t)(i / scale) * iw + j / scale) * 3);
}

void fer_canvas_blit_grey(fer_canvas *c, int y, int x, const uint8_t *grey, int ih, int iw, int scale)
{
    for (int i = 0; i < ih * scale; i++)
        for (int j = 0; j < iw * scale; j++) {
            uint8_t g = grey[(size_t)(i / scale) * iw + j / scale];
            uint8_t rgb[3] = {g, g, g};
            put(c, y + i, x + j, rgb);
        }
}

void fer_canvas_text(fer_canvas *c, int y, int x, const char *text, int scale, const uint8_t rgb[3])
{
    for (const char *p = text; *p; p++, x += FER_FONT_ADVANCE * scale) {
        uint8_t rows[FER_FONT_ROWS];
        fer_font_glyph((unsigned char)*p, rows);
        for (int r = 0; r < FER_FONT_ROWS; r++)
            for (int b = 0; b < FER_FONT_W; b++)
                if (rows[r] >> (FER_FONT_W - 1 - b) & 1)
                    fer_canvas_fill_rect(c, y + r * scale, x + b * scale, scale, scale, rgb);
    }
}

int fer_text_width(const char *text, int scale)
{
    int n = (int)strlen(text);
    return n ? ((n - 1) * FER_FONT_ADVANCE + FER_FONT_W) * scale : 0;
}

int fer_canvas_write_png(const fer_canvas *c, const char *path, fer_err *err)
{
    return fer_png_write_rgb(path, c->rgb, c->h, c->w, err);
}
