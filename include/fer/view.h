/* What the model sees of an image beyond the affine augmentation: a square
   crop of the model-size image resized back to the model size (random in
   training, the centre at evaluation), random erasing, and the views that
   test-time augmentation averages. All of it works in the model's input
   space (model.input_size pixels); docs/configuration.md says why. */
#ifndef FER_VIEW_H
#define FER_VIEW_H

#include "fer/config.h"
#include "fer/error.h"

#include <stdint.h>

/* One view of a size x size image: the side x side window at (y, x) (may
   reach outside the image by the crop's padding), resized to size x size,
   then mirrored when flip. side 0 is the whole image, untouched. */
typedef struct {
    int side, y, x, flip;
} fer_view;

/* The evaluation view: the centre crop of augment.random_crop.size (the
   whole image when no crop is configured). */
fer_view fer_view_center(const fer_random_crop_cfg *crop, int size);

/* The training crop of a sample, drawn from its augmentation key: offsets
   uniform over the padded image, as torchvision's RandomCrop(padding=). */
fer_view fer_view_random(const fer_random_crop_cfg *crop, int size, uint64_t key);

/* Applies v to a grey float image: dst and src are size x size, scratch
   holds side x side floats. Pixels outside the image (padding) are filled
   as the affine augmentation fills them. dst may not alias src. */
void fer_view_apply(float *dst, const float *src, int size, const fer_view *v, float *scratch,
                    fer_fill_mode fill, float cval);

/* Test-time augmentation. */
typedef enum { FER_TTA_NONE = 0, FER_TTA_FLIP, FER_TTA_TENCROP } fer_tta;
#define FER_TTA_MAX_VIEWS 10

/* "none" | "flip" | "tencrop"; fails naming the valid choices. */
int fer_tta_parse(fer_tta *out, const char *name, fer_err *err);

/* The views a mode averages: none the evaluation view; flip it and its
   mirror; tencrop the four corner and the centre crops of
   augment.random_crop.size, each also mirrored (refused when no crop size is
   configured). Returns the count, or -1 with err set. */
int fer_tta_views(fer_view views[FER_TTA_MAX_VIEWS], fer_tta mode, const fer_random_crop_cfg *crop, int size,
                  fer_err *err);

/* Random erasing (torchvision RandomErasing, timm's log-uniform aspect): a
   rectangle of rows [y, y+h) and columns [x, x+w), or h = 0 for none. */
typedef struct {
    int y, x, h, w;
} fer_erase;

/* Draws the rectangle of a sample from its augmentation key: with
   probability p, up to 10 attempts at an area fraction uniform in [scale_min,
   scale_max] and an aspect log-uniform in [ratio_min, ratio_max]; the first
   that fits is placed uniformly; none fitting erases nothing. */
fer_erase fer_erase_draw(const fer_random_erasing_cfg *cfg, int size, uint64_t key);

/* Sets the rectangle of a size x size x channels input to value. */
void fer_erase_apply(float *x, int size, int channels, const fer_erase *e, float value);

#endif
