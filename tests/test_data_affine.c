/* The keyed augmentation draws (Keras get_random_transform's ranges and
   units, one counter per parameter, a pure function of the key) and exact
   cases of the warp that need no reference: identity, flip, integer shift. */
#include "check.h"
#include "fer/image.h"
#include "fer/rng.h"

#include <math.h>
#include <string.h>

enum { H = 30, W = 50, DRAWS = 4000 };

static void check_ranges(void)
{
    fer_augment_cfg cfg = {.enabled = 1,
                           .rotation_range = 40,
                           .width_shift_range = 0.1,
                           .height_shift_range = 0.2,
                           .shear_range = 10,
                           .zoom_range = 0.4,
                           .horizontal_flip = 1};
    double max_theta = 0, max_tx = 0, max_ty = 0, max_shear = 0, min_z = 9, max_z = 0;
    int flips = 0, zx_ne_zy = 0;
    for (int i = 0; i < DRAWS; i++) {
        fer_affine t, again;
        uint64_t key = fer_key(1, FER_STREAM_AUGMENT, 3, (uint64_t)i);
        fer_affine_draw(&t, &cfg, H, W, key);
        fer_affine_draw(&again, &cfg, H, W, key);
        CHECK(!memcmp(&t, &again, sizeof t));
        max_theta = fmax(max_theta, fabs(t.theta));
        max_tx = fmax(max_tx, fabs(t.tx));
        max_ty = fmax(max_ty, fabs(t.ty));
        max_shear = fmax(max_shear, fabs(t.shear));
        min_z = fmin(min_z, fmin(t.zx, t.zy));
        max_z = fmax(max_z, fmax(t.zx, t.zy));
        flips += t.flip_h;
        zx_ne_zy += t.zx != t.zy;
    }
    printf(
        "%d draws: |theta| <= %.2f (40), |tx| <= %.2f rows (0.2*%d), |ty| <= %.2f cols (0.1*%d), |shear| <= "
        "%.2f (10), zoom in [%.3f, %.3f] ([0.6, 1.4]), zx != zy %d, flips %.3f (0.5)\n",
        DRAWS, max_theta, max_tx, H, max_ty, W, max_shear, min_z, max_z, zx_ne_zy, (double)flips / DRAWS);
    CHECK(max_theta <= 40 && max_theta > 39);
    CHECK(max_tx <= 0.2 * H && max_tx > 0.19 * H);
    CHECK(max_ty <= 0.1 * W && max_ty > 0.09 * W);
    CHECK(max_shear <= 10 && max_shear > 9.9);
    CHECK(min_z >= 0.6 && min_z < 0.61 && max_z < 1.4 && max_z > 1.39);
    CHECK(zx_ne_zy == DRAWS && fabs((double)flips / DRAWS - 0.5) < 0.04);
    /* Shift ranges >= 1 are pixels, not fractions; zero ranges draw nothing. */
    fer_augment_cfg pixels = {.enabled = 1, .width_shift_range = 2, .height_shift_range = 3};
    double px = 0, py = 0;
    int identity_rest = 1;
    for (int i = 0; i < 500; i++) {
        fer_affine t;
        fer_affine_draw(&t, &pixels, H, W, (uint64_t)i);
        px = fmax(px, fabs(t.tx));
        py = fmax(py, fabs(t.ty));
        identity_rest &= t.theta == 0 && t.shear == 0 && t.zx == 1 && t.zy == 1 && !t.flip_h;
    }
    printf("pixel shift ranges 2 (width) and 3 (height): |tx| <= %.2f, |ty| <= %.2f; others untouched %d\n",
           px, py, identity_rest);
    CHECK(px <= 3 && px > 2.9 && py <= 2 && py > 1.9 && identity_rest);
    /* Each parameter has its own counter: turning rotation off leaves the
       others' values unchanged. */
    fer_augment_cfg no_rot = cfg;
    no_rot.rotation_range = 0;
    fer_affine a, b;
    fer_affine_draw(&a, &cfg, H, W, 77);
    fer_affine_draw(&b, &no_rot, H, W, 77);
    CHECK(b.theta == 0 && a.tx == b.tx && a.zy == b.zy && a.flip_h == b.flip_h);
    cfg.enabled = 0;
    fer_affine_draw(&a, &cfg, H, W, 77);
    CHECK(a.theta == 0 && a.tx == 0 && a.ty == 0 && a.zx == 1 && a.zy == 1 && !a.flip_h);
}

static void check_exact_warps(void)
{
    float src[H * W], dst[H * W];
    for (int i = 0; i < H * W; i++)
        src[i] = (float)((i * 37) % 251);
    fer_affine id = {0, 0, 0, 0, 1, 1, 0}, flip = {0, 0, 0, 0, 1, 1, 1}, shift = {0, 4, -3, 0, 1, 1, 0};
    fer_affine_apply(dst, src, H, W, &id, FER_FILL_CONSTANT, 9);
    int identity = !memcmp(dst, src, sizeof src), flipped = 1, shifted = 1;
    fer_affine_apply(dst, src, H, W, &flip, FER_FILL_NEAREST, 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            flipped &= dst[y * W + x] == src[y * W + W - 1 - x];
    /* Keras's tx shifts the sampling position: output (r, c) reads input (r + tx, c + ty). */
    fer_affine_apply(dst, src, H, W, &shift, FER_FILL_CONSTANT, 9);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int r = y + 4, c = x - 3;
            float want = r < H && c >= 0 ? src[r * W + c] : 9;
            shifted &= dst[y * W + x] == want;
        }
    printf("identity exact %d, horizontal flip exact %d, shift (4, -3) with constant 9 exact %d\n", identity,
           flipped, shifted);
    CHECK(identity && flipped && shifted);
}

int main(void)
{
    check_ranges();
    check_exact_warps();
    return check_report("test_data_affine");
}
