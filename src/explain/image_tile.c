/* A grid of grey tiles with captions: the filter visualization sheet. */
#include "fer/explain.h"

#include <math.h>

enum { GAP = 8, MARGIN = 12, TITLE_SCALE = 2 };

static const uint8_t ink[3] = {0, 0, 0};

int fer_tile_grey(fer_canvas *out, const uint8_t *tiles, int count, int side, int scale, int cols,
                  const char *const *labels, const char *title, fer_err *err)
{
    if (count < 1 || side < 1 || scale < 1)
        return fer_fail(err, "tile grid: need count, side and scale >= 1 (got %d, %d, %d)", count, side,
                        scale);
    if (cols < 1)
        cols = (int)ceil(sqrt((double)count));
    cols = cols < count ? cols : count;
    int rows = (count + cols - 1) / cols, tile = side * scale;
    /* Captions at the font's double size when they fit under a tile. */
    int cap_scale = 2;
    for (int i = 0; labels && i < count; i++)
        if (labels[i] && fer_text_width(labels[i], 2) > tile)
            cap_scale = 1;
    int cap_h = labels ? FER_FONT_ROWS * cap_scale + 6 : 0;
    int title_h = title ? FER_FONT_ROWS * TITLE_SCALE + 10 : 0;
    int w = 2 * MARGIN + cols * tile + (cols - 1) * GAP;
    if (title && fer_text_width(title, TITLE_SCALE) + 2 * MARGIN > w)
        w = fer_text_width(title, TITLE_SCALE) + 2 * MARGIN;
    int h = 2 * MARGIN + title_h + rows * (tile + cap_h) + (rows - 1) * GAP;
    if (fer_canvas_init(out, h, w, 255, err))
        return FER_ERROR;
    if (title)
        fer_canvas_text(out, MARGIN, MARGIN, title, TITLE_SCALE, ink);
    for (int i = 0; i < count; i++) {
        int y = MARGIN + title_h + (i / cols) * (tile + cap_h + GAP), x = MARGIN + (i % cols) * (tile + GAP);
        fer_canvas_blit_grey(out, y, x, tiles + (size_t)i * side * side, side, side, scale);
        if (labels && labels[i])
            fer_canvas_text(out, y + tile + 4, x, labels[i], cap_scale, ink);
    }
    return FER_OK;
}
