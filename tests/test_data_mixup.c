/* Mixup (train.mixup_alpha): the Beta sampler's mean and variance for
   several shapes with a fixed seed; the keyed draw (how often, which
   partner, which weight) is deterministic, uniform over the whole set and
   takes no rank; in the loader, shards of 2 and 3 ranks concatenate to the
   single-rank batch float for float, each mixed row is exactly lambda * its
   own augmented sample + (1 - lambda) * the partner's, augmented with the
   partner's own key, partners come from outside the rank's shard, and
   prefetch and a mid-epoch start change nothing. */
#include "check.h"
#include "fer/loader.h"
#include "fer/mixup.h"
#include "fer/rng.h"
#include "fer/rng_beta.h"
#include "loader_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 53, SIZE = 24, CH = 3, ROW = SIZE * SIZE * CH, BATCH = 8, EPOCH = 3 };
static const uint64_t SEED = 4321;

static void check_beta(double a, double b)
{
    enum { DRAWS = 200000 };
    uint64_t key = fer_key(99, 1, (uint64_t)(a * 1000), (uint64_t)(b * 1000));
    double sum = 0, sum2 = 0;
    int outside = 0;
    for (int i = 0; i < DRAWS; i++) {
        double x = fer_beta_draw(fer_draw64(key, (uint64_t)i), a, b);
        outside += !(x >= 0 && x <= 1);
        sum += x;
        sum2 += x * x;
    }
    double mean = sum / DRAWS, var = sum2 / DRAWS - mean * mean;
    double want_mean = a / (a + b), want_var = a * b / ((a + b) * (a + b) * (a + b + 1));
    double sigma = sqrt(want_var / DRAWS);
    printf("Beta(%g, %g): mean %.5f (want %.5f, tol 5 sigma = %.5f), variance %.5f (want %.5f, tol 3%%), "
           "%d outside [0, 1]\n",
           a, b, mean, want_mean, 5 * sigma, var, want_var, outside);
    CHECK(outside == 0 && fabs(mean - want_mean) < 5 * sigma && fabs(var - want_var) < 0.03 * want_var);
}

static void check_draw(void)
{
    enum { IDS = 20000 };
    int mixed = 0, count[N] = {0}, never = 1, same = 1, moved = 0;
    double lsum = 0;
    for (int id = 0; id < IDS; id++) {
        fer_mix m = fer_mixup_draw(SEED, EPOCH, id, N, 1.0, 0.5);
        fer_mix again = fer_mixup_draw(SEED, EPOCH, id, N, 1.0, 0.5);
        fer_mix next = fer_mixup_draw(SEED, EPOCH + 1, id, N, 1.0, 1.0);
        fer_mix off = fer_mixup_draw(SEED, EPOCH, id, N, 0.0, 1.0);
        same &= m.partner == again.partner && m.lambda == again.lambda;
        never &= off.partner < 0 && off.lambda == 1.0f;
        moved += next.partner != fer_mixup_draw(SEED, EPOCH, id, N, 1.0, 1.0).partner;
        if (m.partner >= 0) {
            mixed++;
            CHECK(m.partner < N && m.lambda >= 0 && m.lambda <= 1);
            count[m.partner < N ? m.partner : 0]++;
            lsum += m.lambda;
        }
    }
    /* Chi-square of the partner counts over the N positions (52 degrees of
       freedom: mean 52, sd 10.2). */
    double chi2 = 0, expect = (double)mixed / N;
    int lowest = IDS;
    for (int p = 0; p < N; p++) {
        chi2 += (count[p] - expect) * (count[p] - expect) / expect;
        lowest = count[p] < lowest ? count[p] : lowest;
    }
    double frac = (double)mixed / IDS, lmean = lsum / mixed;
    printf("draws: deterministic %d, alpha 0 never mixes %d, mixed fraction %.4f at prob 0.5 (tol 0.02), "
           "partner chi-square %.1f over %d positions (tol 110; fewest %d), lambda mean %.4f (tol 0.01), "
           "partner changes with the epoch for %d of %d\n",
           same, never, frac, chi2, N, lowest, lmean, moved, IDS);
    CHECK(same && never && fabs(frac - 0.5) < 0.02 && chi2 < 110 && lowest > 0 && fabs(lmean - 0.5) < 0.01 &&
          moved > IDS * 9 / 10);
}

static fer_image_set images;

static fer_loader_opts opts(int rank, int nranks, double alpha, int prefetch)
{
    fer_loader_opts o = {
        .images = &images,
        .batch_size = BATCH,
        .rank = rank,
        .nranks = nranks,
        .channels = CH,
        .caffe = 1,
        .shuffle = 1,
        .augment = 1,
        .aug =
            (fer_augment_cfg){1, 40, 0.2, 0.2, 10, 0.4, 1, FER_FILL_NEAREST, 0, {0, 0}, {0, 0, 0, 0, 0, 0}},
        .seed = SEED,
        .prefetch = prefetch,
        .mixup_alpha = alpha,
        .mixup_prob = 0.8};
    return o;
}

/* Rows [begin, begin + n) of batch k of `whole` equal batch k of `part`. */
static int same_rows(const loader_run *part, const loader_run *whole, long k, int begin)
{
    int n = part->n[k];
    return !memcmp(part->x[k], whole->x[k] + (size_t)begin * ROW, sizeof(float) * ROW * n) &&
           !memcmp(part->labels[k], whole->labels[k] + begin, sizeof(int) * n) &&
           !memcmp(part->mix_labels[k], whole->mix_labels[k] + begin, sizeof(int) * n) &&
           !memcmp(part->lambda[k], whole->lambda[k] + begin, sizeof(float) * n) &&
           !memcmp(part->ids[k], whole->ids[k] + begin, sizeof(int64_t) * n);
}

static void check_ranks(const loader_run *whole)
{
    for (int P = 2; P <= 3; P++) {
        int mismatches = 0, foreign = 0;
        for (int rank = 0; rank < P; rank++) {
            fer_loader_opts o = opts(rank, P, 1.0, rank % 2);
            loader_run part;
            loader_run_epoch(&part, &o, EPOCH, 0, ROW);
            for (long k = 0; k < whole->n_batches; k++) {
                int begin, end;
                fer_shard_range(whole->n[k], rank, P, &begin, &end);
                mismatches += part.n[k] != end - begin || !same_rows(&part, whole, k, begin);
                for (int i = 0; i < part.n[k]; i++) {
                    fer_mix m = fer_mixup_draw(SEED, EPOCH, part.ids[k][i], N, 1.0, 0.8);
                    int in_shard = 0;
                    for (int j = 0; j < part.n[k]; j++)
                        in_shard |= m.partner >= 0 && images.ids[m.partner] == part.ids[k][j];
                    foreign += m.partner >= 0 && !in_shard;
                }
            }
            loader_run_free(&part);
        }
        printf("P=%d: shards concatenate to the P=1 batches (pixels, labels, partner labels, lambdas) "
               "bitwise: %s; rows whose partner is outside the rank's shard: %d\n",
               P, mismatches ? "NO" : "yes", foreign);
        CHECK(mismatches == 0 && foreign > 0);
    }
}

/* Every mixed row is lambda * (the row of its id without mixup) + (1 -
   lambda) * (the row of its partner's id without mixup), to the bit. */
static void check_rows(const loader_run *whole)
{
    fer_loader_opts o = opts(0, 1, 0.0, 0);
    loader_run plain;
    loader_run_epoch(&plain, &o, EPOCH, 0, ROW);
    const float *by_id[N] = {0};
    for (long k = 0; k < plain.n_batches; k++)
        for (int i = 0; i < plain.n[k]; i++)
            by_id[plain.ids[k][i] - 1000] = plain.x[k] + (size_t)i * ROW;
    int mixed = 0, wrong = 0, unmixed_same = 1;
    float *want = malloc(sizeof(float) * ROW);
    for (long k = 0; k < whole->n_batches; k++)
        for (int i = 0; i < whole->n[k]; i++) {
            int64_t id = whole->ids[k][i];
            fer_mix m = fer_mixup_draw(SEED, EPOCH, id, N, 1.0, 0.8);
            memcpy(want, by_id[id - 1000], sizeof(float) * ROW);
            if (m.partner >= 0) {
                mixed++;
                fer_mixup_rows(want, by_id[images.ids[m.partner] - 1000], ROW, m.lambda);
                wrong +=
                    whole->mix_labels[k][i] != images.labels[m.partner] || whole->lambda[k][i] != m.lambda;
            } else {
                unmixed_same &= whole->mix_labels[k][i] == whole->labels[k][i] && whole->lambda[k][i] == 1.0f;
            }
            wrong += memcmp(want, whole->x[k] + (size_t)i * ROW, sizeof(float) * ROW) != 0;
        }
    printf("%d of %d rows mixed (prob 0.8); rows, partner labels and lambdas as recomputed from the "
           "unmixed augmented rows: %d wrong; unmixed rows keep label and lambda 1: %d\n",
           mixed, N, wrong, unmixed_same);
    CHECK(mixed > N / 2 && mixed < N && wrong == 0 && unmixed_same);
    free(want);
    loader_run_free(&plain);
}

static void check_prefetch_and_resume(const loader_run *whole)
{
    fer_loader_opts o = opts(0, 1, 1.0, 1);
    loader_run pre, late;
    loader_run_epoch(&pre, &o, EPOCH, 0, ROW);
    loader_run_epoch(&late, &o, EPOCH, 3, ROW);
    int same_pre = 1, same_late = 1;
    for (long k = 0; k < whole->n_batches; k++) {
        same_pre &= pre.n[k] == whole->n[k] && same_rows(&pre, whole, k, 0);
        if (k >= 3)
            same_late &= late.n[k] == whole->n[k] && same_rows(&late, whole, k, 0);
    }
    printf("prefetch on/off identical: %d; a start at batch 3 gives the same remaining batches: %d\n",
           same_pre, same_late);
    CHECK(same_pre && same_late);
    loader_run_free(&pre);
    loader_run_free(&late);
}

int main(void)
{
    check_beta(1, 1);
    check_beta(0.2, 0.2);
    check_beta(0.4, 0.4);
    check_beta(2, 2);
    check_beta(2, 5);
    check_beta(0.5, 3);
    check_beta(30, 30);
    check_draw();
    static uint8_t pixels[N * SIZE * SIZE], labels[N];
    static int64_t ids[N];
    for (int i = 0; i < N; i++) {
        for (int p = 0; p < SIZE * SIZE; p++)
            pixels[i * SIZE * SIZE + p] = (uint8_t)((p * 31 + i * 17 + p / SIZE * 3) % 256);
        labels[i] = (uint8_t)(i % 7);
        ids[i] = 1000 + i;
    }
    images = (fer_image_set){N, SIZE, pixels, labels, ids};
    fer_loader_opts o = opts(0, 1, 1.0, 0);
    loader_run whole;
    loader_run_epoch(&whole, &o, EPOCH, 0, ROW);
    check_rows(&whole);
    check_ranks(&whole);
    check_prefetch_and_resume(&whole);
    loader_run_free(&whole);
    return check_report("test_data_mixup");
}
