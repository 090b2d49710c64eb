/* The image set (usage selection, limit, ids, equalize + upscale) and the
   loader invariants: every epoch visits each sample once; shards of P = 2,
   3, 5 ranks concatenate to the P = 1 batch float for float (augmentation
   included), empty shards still come as n = 0 batches; a mid-epoch start
   gives the same remaining batches; prefetch on and off are identical;
   evaluation mode is the natural order without augmentation. */
#include "check.h"
#include "fer/image.h"
#include "fer/loader.h"
#include "loader_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 53, SIZE = 40, CH = 3, ROW = SIZE * SIZE * CH };

static fer_image_set images;

static fer_loader_opts opts(int batch, int rank, int nranks, int shuffle, int augment, int prefetch)
{
    fer_loader_opts o = {0};
    o.images = &images;
    o.batch_size = batch;
    o.rank = rank;
    o.nranks = nranks;
    o.channels = CH;
    o.caffe = 1;
    o.shuffle = shuffle;
    o.augment = augment;
    o.aug = (fer_augment_cfg){1, 40, 0.2, 0.2, 10, 0.4, 1, FER_FILL_NEAREST, 0, {0, 0}, {0, 0, 0, 0, 0, 0}};
    o.seed = 1234;
    o.prefetch = prefetch;
    return o;
}

static void check_visits(void)
{
    for (int epoch = 0; epoch < 3; epoch++) {
        fer_loader_opts o = opts(8, 0, 1, 1, 1, 0);
        loader_run r;
        loader_run_epoch(&r, &o, epoch, 0, ROW);
        int seen[N] = {0}, total = 0, in_order = 1;
        for (long k = 0; k < r.n_batches; k++)
            for (int i = 0; i < r.n[k]; i++) {
                seen[r.ids[k][i] - 1000]++;
                in_order &= r.ids[k][i] == 1000 + total;
                total++;
            }
        int once = 1;
        for (int i = 0; i < N; i++)
            once &= seen[i] == 1;
        printf("epoch %d: %ld batches, %d rows, every sample once %d, natural order %d, last batch %d rows\n",
               epoch, r.n_batches, total, once, in_order, r.n[r.n_batches - 1]);
        CHECK(r.n_batches == 7 && total == N && once && !in_order && r.n[6] == 5 && r.global_n[6] == 5);
        loader_run_free(&r);
    }
}

static void check_shards(int batch)
{
    fer_loader_opts o1 = opts(batch, 0, 1, 1, 1, 0);
    loader_run whole;
    loader_run_epoch(&whole, &o1, 2, 0, ROW);
    static const int ranks[] = {2, 3, 5};
    for (int p = 0; p < 3; p++) {
        int P = ranks[p], mismatches = 0, empty_shards = 0;
        int offset[LOADER_RUN_BATCHES] = {0};
        for (int rank = 0; rank < P; rank++) {
            fer_loader_opts o = opts(batch, rank, P, 1, 1, rank % 2);
            loader_run part;
            loader_run_epoch(&part, &o, 2, 0, ROW);
            mismatches += part.n_batches != whole.n_batches;
            for (long k = 0; k < whole.n_batches && k < part.n_batches; k++) {
                int begin, end;
                fer_shard_range(whole.n[k], rank, P, &begin, &end);
                empty_shards += part.n[k] == 0;
                mismatches +=
                    part.n[k] != end - begin || begin != offset[k] || part.global_n[k] != whole.n[k];
                if (part.n[k] == end - begin && begin == offset[k])
                    mismatches += memcmp(part.x[k], whole.x[k] + (size_t)begin * ROW,
                                         sizeof(float) * ROW * part.n[k]) ||
                                  memcmp(part.labels[k], whole.labels[k] + begin, sizeof(int) * part.n[k]) ||
                                  memcmp(part.ids[k], whole.ids[k] + begin, sizeof(int64_t) * part.n[k]);
                offset[k] += part.n[k];
            }
            loader_run_free(&part);
        }
        for (long k = 0; k < whole.n_batches; k++)
            mismatches += offset[k] != whole.n[k];
        printf("batch %d, P=%d: shards concatenate to the P=1 batches bitwise: %s (%d empty shards)\n", batch,
               P, mismatches ? "NO" : "yes", empty_shards);
        CHECK(mismatches == 0);
        if (batch < P)
            CHECK(empty_shards > 0);
    }
    loader_run_free(&whole);
}

static int same_batches(const loader_run *a, const loader_run *b, long from)
{
    if (a->n_batches != b->n_batches)
        return 0;
    for (long k = from; k < a->n_batches; k++)
        if (a->n[k] != b->n[k] || memcmp(a->x[k], b->x[k], sizeof(float) * ROW * a->n[k]) ||
            memcmp(a->ids[k], b->ids[k], sizeof(int64_t) * a->n[k]))
            return 0;
    return 1;
}

static void check_resume_and_prefetch(void)
{
    fer_loader_opts sync = opts(8, 1, 2, 1, 1, 0), pre = opts(8, 1, 2, 1, 1, 1);
    loader_run a, b, c, d;
    loader_run_epoch(&a, &sync, 5, 0, ROW);
    loader_run_epoch(&b, &pre, 5, 0, ROW);
    loader_run_epoch(&c, &sync, 5, 3, ROW);
    loader_run_epoch(&d, &pre, 5, 3, ROW);
    int prefetch_same = same_batches(&a, &b, 0),
        resume_same = same_batches(&a, &c, 3) && same_batches(&a, &d, 3);
    printf("prefetch on/off identical: %d; start at batch 3 gives the same remaining batches: %d\n",
           prefetch_same, resume_same);
    CHECK(prefetch_same && resume_same && c.n[0] == 0 && c.x[2] == NULL);
    /* Other epochs differ; augmentation changes pixels (the same order
       without it differs from a in x only). */
    loader_run e, plain;
    loader_run_epoch(&e, &sync, 6, 0, ROW);
    CHECK(!same_batches(&a, &e, 0));
    fer_loader_opts no_aug = sync;
    no_aug.augment = 0;
    loader_run_epoch(&plain, &no_aug, 5, 0, ROW);
    int changed = 0;
    for (long k = 0; k < a.n_batches; k++)
        for (int i = 0; i < a.n[k] * ROW; i++)
            changed += a.x[k][i] != plain.x[k][i];
    printf("augmentation changed %d of %d values\n", changed, 27 * ROW);
    CHECK(changed > 27 * ROW / 2 && !memcmp(a.ids[0], plain.ids[0], sizeof(int64_t) * a.n[0]));
    loader_run_free(&plain);
    loader_run_free(&a);
    loader_run_free(&b);
    loader_run_free(&c);
    loader_run_free(&d);
    loader_run_free(&e);
}

/* Restarting epochs with a prefetch job in flight, and loader reuse. */
static void check_restart_in_flight(void)
{
    fer_loader_opts o = opts(8, 0, 1, 1, 1, 1);
    fer_loader *l;
    fer_err err;
    CHECK(fer_loader_create(&l, &o, &err) == FER_OK);
    CHECK(fer_loader_next(l) == NULL); /* no epoch started */
    fer_loader_start_epoch(l, 0, 0);
    fer_loader_next(l);
    fer_loader_start_epoch(l, 1, 2); /* batch 1 of epoch 0 may still be in the making */
    const fer_batch *b = fer_loader_next(l);
    loader_run ref;
    fer_loader_opts os = opts(8, 0, 1, 1, 1, 0);
    loader_run_epoch(&ref, &os, 1, 2, ROW);
    int ok =
        b && b->batch_index == 2 && b->n == ref.n[2] && !memcmp(b->x, ref.x[2], sizeof(float) * ROW * b->n);
    printf("restart while prefetching: batch 2 of epoch 1 as expected: %d\n", ok);
    CHECK(ok);
    loader_run_free(&ref);
    fer_loader_free(l);
}

static void check_eval_mode(void)
{
    fer_loader_opts o = opts(10, 0, 1, 0, 0, 1);
    loader_run r;
    loader_run_epoch(&r, &o, 3, 0, ROW);
    int in_order = 1, exact = 1, total = 0;
    for (long k = 0; k < r.n_batches; k++)
        for (int i = 0; i < r.n[k]; i++, total++) {
            in_order &= r.ids[k][i] == 1000 + total && r.labels[k][i] == total % 7;
            for (int p = 0; p < SIZE * SIZE; p++) {
                float g = images.pixels[(size_t)total * SIZE * SIZE + p];
                const float *x = r.x[k] + (size_t)i * ROW + p * 3;
                exact &= x[0] == g - 103.939f && x[1] == g - 116.779f && x[2] == g - 123.68f;
            }
        }
    printf("evaluation mode: natural order %d, pixels = grey - VGG BGR means exactly %d\n", in_order, exact);
    CHECK(in_order && exact && total == N);
    loader_run_free(&r);
}

static void check_bad_opts(void)
{
    fer_loader *l;
    fer_err err;
    fer_loader_opts o = opts(8, 2, 2, 1, 1, 0);
    CHECK(fer_loader_create(&l, &o, &err) == FER_ERROR && l == NULL);
    printf("rank 2 of 2 -> %s\n", err.msg);
    o = opts(0, 0, 1, 1, 1, 0);
    CHECK(fer_loader_create(&l, &o, &err) == FER_ERROR);
    printf("batch 0 -> %s\n", err.msg);
}

static void check_image_set(void)
{
    fer_dataset ds;
    fer_err err;
    CHECK(fer_dataset_synthetic(&ds, 14, 7, 0, 2, &err) == FER_OK);
    uint8_t *px, *lab, *px_plain, *lab2;
    int64_t *ids, *ids2;
    int n, n_plain, n_empty;
    CHECK(fer_image_set_build(&px, &lab, &ids, &n, &ds, FER_USAGE_PUBLIC_TEST, 96, 1, 5, &err) == FER_OK);
    CHECK(fer_image_set_build(&px_plain, &lab2, &ids2, &n_plain, &ds, FER_USAGE_PUBLIC_TEST, 96, 0, 0,
                              &err) == FER_OK);
    int selection = n == 5 && n_plain == 7;
    for (int k = 0; k < n; k++)
        selection &= ids[k] == 14 + k && lab[k] == k % 7;
    /* Image 2 by hand: equalize at 48x48, upscale, round. */
    uint8_t eq[48 * 48];
    float src[48 * 48], up[96 * 96];
    fer_equalize_hist(eq, ds.pixels + 16 * 48 * 48, 48 * 48);
    for (int i = 0; i < 48 * 48; i++)
        src[i] = eq[i];
    fer_resize_bilinear(up, 96, 96, src, 48, 48);
    int same = 1;
    for (int i = 0; i < 96 * 96; i++)
        same &= px[2 * 96 * 96 + i] == (uint8_t)lrintf(up[i]);
    int equalize_changes = memcmp(px, px_plain, 96 * 96) != 0;
    printf("image set: PublicTest limit 5 -> ids 14..18, labels 0..4: %d; equalize + upscale as by hand: %d; "
           "equalize changes pixels: %d\n",
           selection, same, equalize_changes);
    CHECK(selection && same && equalize_changes);
    free(px);
    free(lab);
    free(ids);
    free(px_plain);
    free(lab2);
    free(ids2);
    CHECK(fer_image_set_build(&px, &lab, &ids, &n_empty, &ds, FER_USAGE_PRIVATE_TEST, 96, 1, 0, &err) ==
          FER_OK);
    CHECK(n_empty == 0);
    free(px);
    free(lab);
    free(ids);
    fer_dataset_free(&ds);
}

int main(void)
{
    check_image_set();
    static uint8_t pixels[N * SIZE * SIZE], labels[N];
    static int64_t ids[N];
    for (int i = 0; i < N; i++) {
        for (int p = 0; p < SIZE * SIZE; p++)
            pixels[i * SIZE * SIZE + p] = (uint8_t)((p * 31 + i * 17 + p / SIZE * 3) % 256);
        labels[i] = (uint8_t)(i % 7);
        ids[i] = 1000 + i;
    }
    images = (fer_image_set){N, SIZE, pixels, labels, ids};
    check_visits();
    check_shards(8);
    check_shards(3);
    check_resume_and_prefetch();
    check_restart_in_flight();
    check_eval_mode();
    check_bad_opts();
    return check_report("test_data_loader");
}
