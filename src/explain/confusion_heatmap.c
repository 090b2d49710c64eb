/* The confusion matrix as a picture: cells coloured by the row-normalized
   fraction (so a rare class such as Disgust is as readable as a common one),
   with the count and the row percentage written in each cell. */
#include "fer/explain.h"

#include <stdio.h>
#include <string.h>

enum {
    MARGIN = 16,
    TEXT = 2,  /* font scale of names, counts and the title */
    SMALL = 1, /* font scale of percentages and notes */
    CELL_H = 52,
    MIN_CELL_W = 76,
    NAME_CHARS = 12, /* longer class names are cut */
    BAR_W = 18,
};

static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255}, grey[3] = {90, 90, 90};

typedef struct {
    int classes, cell_w, label_w, top, left, bar_x;
    char names[FER_MAX_CLASSES][NAME_CHARS + 1];
} layout;

static long row_total(const fer_confusion *c, int i)
{
    long s = 0;
    for (int j = 0; j < c->classes; j++)
        s += c->confusion[i * c->classes + j];
    return s;
}

static void plan(layout *L, const fer_confusion *c)
{
    L->classes = c->classes;
    L->cell_w = MIN_CELL_W;
    L->label_w = fer_text_width("true", TEXT);
    for (int k = 0; k < c->classes; k++) {
        snprintf(L->names[k], sizeof L->names[k], "%s", c->names[k]);
        int w = fer_text_width(L->names[k], TEXT);
        L->cell_w = w + 12 > L->cell_w ? w + 12 : L->cell_w;
        L->label_w = w > L->label_w ? w : L->label_w;
    }
    L->top = MARGIN + 4 * (FER_FONT_H * TEXT + 8);
    L->left = MARGIN + L->label_w + 12;
    L->bar_x = L->left + c->classes * L->cell_w + fer_text_width("000000", TEXT) + 24;
}

static void text_centered(fer_canvas *cv, int y, int cx, const char *s, int scale, const uint8_t rgb[3])
{
    fer_canvas_text(cv, y, cx - fer_text_width(s, scale) / 2, s, scale, rgb);
}

static void draw_cell(fer_canvas *cv, const layout *L, const fer_confusion *c, int i, int j, long total)
{
    long count = c->confusion[i * c->classes + j];
    float frac = total > 0 ? (float)count / (float)total : 0.0f;
    uint8_t rgb[3];
    fer_colormap_rgb(FER_CMAP_VIRIDIS, frac, rgb);
    int y = L->top + i * CELL_H, x = L->left + j * L->cell_w;
    fer_canvas_fill_rect(cv, y, x, CELL_H - 1, L->cell_w - 1, rgb);
    /* Luma of the cell picks the text colour that stays readable on it. */
    const uint8_t *ink = 299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2] > 128000 ? black : white;
    char s[32];
    snprintf(s, sizeof s, "%ld", count);
    text_centered(cv, y + 10, x + L->cell_w / 2, s, TEXT, ink);
    snprintf(s, sizeof s, "%.1f%%", 100.0 * frac);
    text_centered(cv, y + 10 + FER_FONT_H * TEXT + 8, x + L->cell_w / 2, s, SMALL, ink);
}

static void draw_axes(fer_canvas *cv, const layout *L)
{
    int K = L->classes, name_y = L->top - FER_FONT_H * TEXT - 8;
    text_centered(cv, name_y - FER_FONT_H * TEXT - 8, L->left + K * L->cell_w / 2, "predicted", TEXT, grey);
    fer_canvas_text(cv, name_y, MARGIN, "true", TEXT, grey);
    for (int k = 0; k < K; k++) {
        text_centered(cv, name_y, L->left + k * L->cell_w + L->cell_w / 2, L->names[k], TEXT, black);
        int y = L->top + k * CELL_H + (CELL_H - FER_FONT_H * TEXT) / 2;
        fer_canvas_text(cv, y, L->left - 12 - fer_text_width(L->names[k], TEXT), L->names[k], TEXT, black);
    }
    fer_canvas_text(cv, name_y, L->left + K * L->cell_w + 12, "n", TEXT, grey);
}

/* A vertical viridis bar from 100% (top) to 0% (bottom) with its scale. */
static void draw_colour_bar(fer_canvas *cv, const layout *L)
{
    int h = L->classes * CELL_H;
    for (int y = 0; y < h; y++) {
        uint8_t rgb[3];
        fer_colormap_rgb(FER_CMAP_VIRIDIS, 1.0f - (float)y / (float)(h - 1), rgb);
        fer_canvas_fill_rect(cv, L->top + y, L->bar_x, 1, BAR_W, rgb);
    }
    const char *marks[3] = {"100%", "50%", "0%"};
    for (int k = 0; k < 3; k++) {
        int y = L->top + k * (h - 1) / 2 - FER_FONT_H * SMALL / 2;
        fer_canvas_text(cv, y, L->bar_x + BAR_W + 6, marks[k], SMALL, black);
    }
}

int fer_confusion_heatmap(fer_canvas *cv, const fer_confusion *c, const char *title, fer_err *err)
{
    if (c->classes < 1 || c->classes > FER_MAX_CLASSES)
        return fer_fail(err, "confusion heat map of %d classes (expected 1..%d)", c->classes,
                        FER_MAX_CLASSES);
    layout L;
    plan(&L, c);
    int w = L.bar_x + BAR_W + fer_text_width("100%", SMALL) + 6 + MARGIN;
    int h = L.top + c->classes * CELL_H + MARGIN + FER_FONT_H * SMALL + 8;
    char line[256];
    snprintf(line, sizeof line,
             "accuracy %.2f%% of %ld samples; colour and %%: share of the true class's row",
             100.0 * fer_confusion_accuracy(c), fer_confusion_total(c));
    int title_w = fer_text_width(title ? title : "", TEXT), line_w = fer_text_width(line, SMALL);
    w = title_w + 2 * MARGIN > w ? title_w + 2 * MARGIN : w;
    w = line_w + 2 * MARGIN > w ? line_w + 2 * MARGIN : w;
    if (fer_canvas_init(cv, h, w, 255, err))
        return FER_ERROR;
    fer_canvas_text(cv, MARGIN, MARGIN, title ? title : "", TEXT, black);
    fer_canvas_text(cv, MARGIN + FER_FONT_H * TEXT + 8, MARGIN, line, SMALL, grey);
    draw_axes(cv, &L);
    for (int i = 0; i < c->classes; i++) {
        long total = row_total(c, i);
        for (int j = 0; j < c->classes; j++)
            draw_cell(cv, &L, c, i, j, total);
        char s[32];
        snprintf(s, sizeof s, "%ld", total);
        int y = L.top + i * CELL_H + (CELL_H - FER_FONT_H * TEXT) / 2;
        fer_canvas_text(cv, y, L.left + c->classes * L.cell_w + 12, s, TEXT, grey);
    }
    draw_colour_bar(cv, &L);
    return FER_OK;
}

int fer_confusion_heatmap_png(const fer_confusion *c, const char *title, const char *path, fer_err *err)
{
    fer_canvas cv;
    if (fer_confusion_heatmap(&cv, c, title, err))
        return fer_fail_wrap(err, "%s", path);
    int rc = fer_canvas_write_png(&cv, path, err);
    fer_canvas_free(&cv);
    return rc;
}
