/* Crops, their evaluation views and random erasing (src/data/view.c), alone
   and through the loader: a training crop takes the window its key draws
   (offsets uniform over every position of the padded image), the
   evaluation view is the exact centre, erasing covers the rectangle drawn
   with an area and aspect in range and depends on the key alone, and with
   crop and erasing on, shards of 3 ranks still concatenate to the 1-rank
   batch and epochs differ. */
#include "check.h"
#include "fer/image.h"
#include "fer/loader.h"
#include "fer/rng.h"
#include "fer/view.h"

#include <math.h>
#include <string.h>

enum { S = 24, C = 3, N = 12 };

static float src[S * S];

/* Unique pixel values, so a window at a wrong offset cannot match. */
static void fill_source(void)
{
    for (int i = 0; i < S * S; i++)
        src[i] = (float)((i * 37) % 251);
}

/* The window a key must give, computed here from the documented rule:
   counters 16 and 17 of the key, uniform over the S + 2p - c + 1 positions. */
static void expected_offsets(uint64_t key, int c, int p, int *y, int *x)
{
    int span = S + 2 * p - c + 1;
    *y = (int)(fer_uniform(key, 16) * span) - p;
    *x = (int)(fer_uniform(key, 17) * span) - p;
}

static void window_resized(float *dst, int y, int x, int c)
{
    float win[S * S];
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
            win[i * c + j] = src[(y + i) * S + x + j];
    fer_resize_bilinear(dst, S, S, win, c, c);
}

static void check_random_crop(void)
{
    fer_random_crop_cfg crop = {20, 0};
    float got[S * S], want[S * S], scratch[S * S];
    int exact = 1, seen[5][5] = {{0}};
    for (uint64_t k = 0; k < 400; k++) {
        uint64_t key = fer_key(7, FER_STREAM_AUGMENT, 3, k);
        fer_view v = fer_view_random(&crop, S, key);
        int y, x;
        expected_offsets(key, 20, 0, &y, &x);
        exact &= v.side == 20 && v.y == y && v.x == x && !v.flip;
        fer_view_apply(got, src, S, &v, scratch, FER_FILL_NEAREST, 0);
        window_resized(want, y, x, 20);
        exact &= !memcmp(got, want, sizeof got);
        if (v.y >= 0 && v.y < 5 && v.x >= 0 && v.x < 5)
            seen[v.y][v.x]++;
    }
    int all = 1;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            all &= seen[i][j] > 0;
    printf("crop 20 of 24: 400 keys take the window of counters 16/17 exactly: %d; every one of the 5 x 5 "
           "offsets drawn: %d\n",
           exact, all);
    CHECK(exact && all);

    /* Padding 3, crop = image side: no resize, so the output is the padded
       image shifted, outside pixels filled (constant 9). */
    fer_random_crop_cfg padded = {S, 3};
    int pad_exact = 1, lo = 0, hi = 0;
    for (uint64_t k = 0; k < 200; k++) {
        uint64_t key = fer_key(7, FER_STREAM_AUGMENT, 4, k);
        fer_view v = fer_view_random(&padded, S, key);
        int y, x;
        expected_offsets(key, S, 3, &y, &x);
        fer_view_apply(got, src, S, &v, scratch, FER_FILL_CONSTANT, 9.0f);
        lo += v.y == -3 || v.x == -3;
        hi += v.y == 3 || v.x == 3;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                int r = y + i, c = x + j;
                float w = r < 0 || r >= S || c < 0 || c >= S ? 9.0f : src[r * S + c];
                pad_exact &= got[i * S + j] == w;
            }
    }
    printf("padding 3, crop 24: 200 keys give the padded image shifted by the drawn offset exactly: %d "
           "(offsets -3 seen %d times, +3 %d times)\n",
           pad_exact, lo, hi);
    CHECK(pad_exact && lo > 0 && hi > 0);
}

static void check_center_and_tta(void)
{
    float got[S * S], want[S * S], scratch[S * S];
    fer_random_crop_cfg crop20 = {20, 2}, crop21 = {21, 0}, none = {0, 0};
    fer_view a = fer_view_center(&crop20, S), b = fer_view_center(&crop21, S), w = fer_view_center(&none, S);
    printf("centre views: crop 20 of 24 at (%d, %d), crop 21 at (%d, %d) (floor), no crop side %d\n", a.y,
           a.x, b.y, b.x, w.side);
    CHECK(a.side == 20 && a.y == 2 && a.x == 2 && !a.flip);
    CHECK(b.side == 21 && b.y == 1 && b.x == 1);
    CHECK(w.side == 0);
    fer_view_apply(got, src, S, &a, scratch, FER_FILL_NEAREST, 0);
    window_resized(want, 2, 2, 20);
    CHECK(!memcmp(got, want, sizeof got));

    fer_view views[FER_TTA_MAX_VIEWS];
    fer_err err;
    int n_none = fer_tta_views(views, FER_TTA_NONE, &crop20, S, &err);
    CHECK(n_none == 1 && views[0].y == 2 && !views[0].flip);
    int n_flip = fer_tta_views(views, FER_TTA_FLIP, &crop20, S, &err);
    CHECK(n_flip == 2 && views[1].y == 2 && views[1].x == 2 && views[1].flip);
    /* the flip view is the centre crop mirrored */
    fer_view_apply(got, src, S, &views[1], scratch, FER_FILL_NEAREST, 0);
    int mirrored = 1;
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++)
            mirrored &= got[i * S + j] == want[i * S + S - 1 - j];
    int n_ten = fer_tta_views(views, FER_TTA_TENCROP, &crop20, S, &err);
    int corners = n_ten == 10;
    const int at[5][2] = {{0, 0}, {0, 4}, {4, 0}, {4, 4}, {2, 2}};
    for (int v = 0; corners && v < 10; v++)
        corners &= views[v].side == 20 && views[v].y == at[v / 2][0] && views[v].x == at[v / 2][1] &&
                   views[v].flip == v % 2;
    int refused = fer_tta_views(views, FER_TTA_TENCROP, &none, S, &err);
    printf("tta: none %d view, flip %d (mirror of the centre crop %d), tencrop %d (corners + centre, each "
           "mirrored: %d); tencrop without a crop -> %d: %s\n",
           n_none, n_flip, mirrored, n_ten, corners, refused, err.msg);
    CHECK(mirrored && corners && refused == -1 && strstr(err.msg, "random_crop"));
    fer_tta t;
    CHECK(fer_tta_parse(&t, "tencrop", &err) == FER_OK && t == FER_TTA_TENCROP);
    CHECK(fer_tta_parse(&t, "ten", &err) == FER_ERROR && strstr(err.msg, "none, flip, tencrop"));
}

/* The rectangle a key must give, from the documented rule: counter 18
   decides, attempt a uses counters 19 + 4a .. 22 + 4a (area, log-aspect,
   row, column), torchvision's rounding and fit test. */
static fer_erase expected_erase(const fer_random_erasing_cfg *cfg, uint64_t key)
{
    fer_erase e = {0, 0, 0, 0};
    if (fer_uniform(key, 18) >= cfg->p)
        return e;
    for (int a = 0; a < 10; a++) {
        uint64_t c = 19 + 4 * (uint64_t)a;
        double area = S * S * (cfg->scale_min + (cfg->scale_max - cfg->scale_min) * fer_uniform(key, c));
        double la = log(cfg->ratio_min), lb = log(cfg->ratio_max);
        double aspect = exp(la + (lb - la) * fer_uniform(key, c + 1));
        int h = (int)lround(sqrt(area * aspect)), w = (int)lround(sqrt(area / aspect));
        if (h < 1 || w < 1 || h >= S || w >= S)
            continue;
        return (fer_erase){(int)(fer_uniform(key, c + 2) * (S - h + 1)),
                           (int)(fer_uniform(key, c + 3) * (S - w + 1)), h, w};
    }
    return e;
}

static void check_erasing(void)
{
    fer_random_erasing_cfg cfg = {1.0, 0.02, 0.33, 0.3, 3.3, -5.0};
    int in_range = 1, fits = 1, covered = 1, erased = 0, differ = 0;
    float x[S * S * C], y[S * S * C];
    fer_erase prev = {0, 0, 0, 0};
    for (uint64_t k = 0; k < 300; k++) {
        uint64_t key = fer_key(7, FER_STREAM_AUGMENT, 1, k);
        fer_erase e = fer_erase_draw(&cfg, S, key), again = fer_erase_draw(&cfg, S, key),
                  want = expected_erase(&cfg, key);
        CHECK(!memcmp(&e, &again, sizeof e));
        CHECK_MSG(!memcmp(&e, &want, sizeof e), "key %d: drew %d,%d %dx%d, the rule gives %d,%d %dx%d",
                  (int)k, e.y, e.x, e.h, e.w, want.y, want.x, want.h, want.w);
        differ += k > 0 && memcmp(&e, &prev, sizeof e) != 0;
        prev = e;
        if (!e.h)
            continue;
        erased++;
        /* Rounding h and w to whole pixels moves the area and aspect by at
           most half a pixel on each side. */
        double area = (double)e.h * e.w / (S * S), aspect = (double)e.h / e.w;
        double slack_a = ((e.h + 0.5) * (e.w + 0.5) - e.h * e.w) / (S * S);
        in_range &= area >= cfg.scale_min - slack_a && area <= cfg.scale_max + slack_a;
        in_range &= aspect >= cfg.ratio_min * (e.h - 0.5) / (e.h + 0.5) * (e.w - 0.5) / (e.w + 0.5) &&
                    aspect <= cfg.ratio_max * (e.h + 0.5) / (e.h - 0.5 > 0 ? e.h - 0.5 : 0.5) * (e.w + 0.5) /
                                  (e.w - 0.5 > 0 ? e.w - 0.5 : 0.5);
        fits &= e.y >= 0 && e.x >= 0 && e.y + e.h <= S && e.x + e.w <= S && e.h < S && e.w < S;
        for (int i = 0; i < S * S * C; i++)
            x[i] = y[i] = (float)i;
        fer_erase_apply(x, S, C, &e, -5.0f);
        int count = 0;
        for (int r = 0; r < S; r++)
            for (int c = 0; c < S; c++)
                for (int ch = 0; ch < C; ch++) {
                    int i = (r * S + c) * C + ch,
                        inside = r >= e.y && r < e.y + e.h && c >= e.x && c < e.x + e.w;
                    covered &= inside ? x[i] == -5.0f : x[i] == y[i];
                    count += inside;
                }
        covered &= count == e.h * e.w * C;
    }
    printf("erasing p=1: every rectangle is the one counters 18.. of its key give; %d of 300 keys erase (the "
           "rest found no fitting rectangle in 10 tries), area and "
           "aspect in range %d, inside the image %d, exactly the rectangle set %d, same key same rectangle, "
           "%d of 299 consecutive keys differ\n",
           erased, in_range, fits, covered, differ);
    CHECK(erased > 250 && in_range && fits && covered && differ > 250);

    cfg.p = 0.5;
    int half = 0;
    for (uint64_t k = 0; k < 2000; k++)
        half += fer_erase_draw(&cfg, S, fer_key(9, FER_STREAM_AUGMENT, 0, k)).h > 0;
    cfg.p = 0;
    int none = 0;
    for (uint64_t k = 0; k < 200; k++)
        none += fer_erase_draw(&cfg, S, fer_key(9, FER_STREAM_AUGMENT, 0, k)).h > 0;
    printf("erasing p=0.5: %d of 2000 erased; p=0: %d of 200\n", half, none);
    CHECK(half > 900 && half < 1100 && none == 0);
}

/* The loader with augmentation on but every affine range 0: a sample is
   exactly its keyed crop, preprocessed, then its keyed erasing. */
static uint8_t pixels[N * S * S], labels[N];
static int64_t ids[N];
static fer_image_set set = {N, S, pixels, labels, ids};

static fer_loader_opts loader_opts(int rank, int nranks, int augment)
{
    fer_loader_opts o = {0};
    o.images = &set;
    o.batch_size = N;
    o.rank = rank;
    o.nranks = nranks;
    o.channels = C;
    o.caffe = 1;
    o.shuffle = 1;
    o.augment = augment;
    o.aug.enabled = 1;
    o.aug.random_crop = (fer_random_crop_cfg){20, 2};
    o.aug.random_erasing = (fer_random_erasing_cfg){0.5, 0.02, 0.33, 0.3, 3.3, 0.25};
    o.seed = 42;
    o.view = fer_view_center(&o.aug.random_crop, S);
    return o;
}

static int batch_of(float *out, int64_t *out_ids, const fer_loader_opts *o, int epoch)
{
    fer_loader *l;
    fer_err err;
    if (fer_loader_create(&l, o, &err)) {
        printf("loader: %s\n", err.msg);
        return -1;
    }
    fer_loader_start_epoch(l, epoch, 0);
    const fer_batch *b = fer_loader_next(l);
    memcpy(out, b->x, sizeof(float) * S * S * C * b->n);
    memcpy(out_ids, b->ids, sizeof(int64_t) * b->n);
    int n = b->n;
    fer_loader_free(l);
    return n;
}

static void check_loader(void)
{
    for (int i = 0; i < N * S * S; i++)
        pixels[i] = (uint8_t)((i * 53) % 256);
    for (int i = 0; i < N; i++) {
        labels[i] = (uint8_t)(i % 7);
        ids[i] = 500 + i;
    }
    static float one[N * S * S * C], parts[N * S * S * C], other[N * S * S * C], want[S * S * C];
    int64_t id1[N], idp[N];
    fer_loader_opts o = loader_opts(0, 1, 1);
    int n = batch_of(one, id1, &o, 2);
    int exact = n == N, erased = 0;
    for (int i = 0; i < n && exact; i++) {
        int pos = (int)(id1[i] - 500);
        uint64_t key = fer_key(42, FER_STREAM_AUGMENT, 2, (uint64_t)id1[i]);
        float grey[S * S], seen[S * S], scratch[S * S];
        for (int p = 0; p < S * S; p++)
            grey[p] = pixels[pos * S * S + p];
        fer_view v = fer_view_random(&o.aug.random_crop, S, key);
        fer_view_apply(seen, grey, S, &v, scratch, FER_FILL_NEAREST, 0);
        fer_preprocess(want, seen, S, C, 1);
        fer_erase e = fer_erase_draw(&o.aug.random_erasing, S, key);
        fer_erase_apply(want, S, C, &e, 0.25f);
        erased += e.h > 0;
        exact &= !memcmp(one + (size_t)i * S * S * C, want, sizeof want);
    }
    int rows = 0, shards = 1;
    for (int r = 0; r < 3; r++) {
        fer_loader_opts p = loader_opts(r, 3, 1);
        int m = batch_of(parts + (size_t)rows * S * S * C, idp + rows, &p, 2);
        shards &= m >= 0;
        rows += m > 0 ? m : 0;
    }
    shards &= rows == N && !memcmp(one, parts, sizeof one) && !memcmp(id1, idp, sizeof id1);
    batch_of(other, idp, &o, 3);
    int epochs_differ = memcmp(one, other, sizeof one) != 0;
    printf("loader, crop 20 pad 2 + erasing p=0.5: each sample is its keyed crop then erasing exactly %d "
           "(%d of %d erased); 3 shards = 1 rank bit for bit %d; epoch 3 differs from 2 %d\n",
           exact, erased, n, shards, epochs_differ);
    CHECK(exact && erased > 0 && erased < N && shards && epochs_differ);

    /* Evaluation: the exact centre crop, no erasing. */
    fer_loader_opts ev = loader_opts(0, 1, 0);
    ev.shuffle = 0;
    batch_of(other, idp, &ev, 0);
    int centre = 1;
    for (int i = 0; i < N; i++) {
        float grey[S * S], seen[S * S], scratch[S * S];
        for (int p = 0; p < S * S; p++)
            grey[p] = pixels[i * S * S + p];
        float win[20 * 20];
        for (int r = 0; r < 20; r++)
            for (int c = 0; c < 20; c++)
                win[r * 20 + c] = grey[(r + 2) * S + c + 2];
        fer_resize_bilinear(seen, S, S, win, 20, 20);
        (void)scratch;
        fer_preprocess(want, seen, S, C, 1);
        centre &= !memcmp(other + (size_t)i * S * S * C, want, sizeof want);
    }
    printf("loader evaluation: every sample is the centre 20 x 20 window at (2, 2) resized, exactly %d\n",
           centre);
    CHECK(centre);
}

int main(void)
{
    fill_source();
    check_random_crop();
    check_center_and_tta();
    check_erasing();
    check_loader();
    return check_report("test_data_view");
}
