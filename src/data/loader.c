/* The input pipeline of one rank. Everything a batch holds is a function of
   (seed, epoch, batch index, rank, nranks): the order comes from a keyed
   Fisher-Yates shuffle, the augmentation of a sample from its global index,
   so shards of any rank count concatenate to the single-rank batch exactly.
   With prefetch, a worker thread prepares batch b+1 in the second slot while
   the caller uses batch b; only one job is ever in flight. */
#include "fer/loader.h"
#include "fer/image.h"
#include "fer/mixup.h"
#include "fer/rng.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    fer_batch batch;
    float *grey, *warped; /* size x size scratch of the sample being prepared */
    float *partner;       /* one preprocessed row: a mixup partner */
} batch_slot;

struct fer_loader {
    fer_loader_opts o;
    long n_batches;
    int *order; /* the epoch's permutation of image positions */
    int epoch;
    long cursor; /* next batch to return */
    batch_slot slots[2];
    int next_slot; /* slot where batch `cursor` is (being) prepared */
    /* prefetch worker */
    pthread_t worker;
    int worker_started;
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    long job_batch; /* batch requested, -1 when none */
    int job_slot;
    long ready_batch[2]; /* batch held by each slot, -1 when none */
    int shutdown;
};

static void prepare_sample(fer_loader *l, batch_slot *s, float *x, int position)
{
    const fer_image_set *im = l->o.images;
    int size = im->size, n = size * size;
    const uint8_t *src = im->pixels + (size_t)position * n;
    for (int i = 0; i < n; i++)
        s->grey[i] = src[i];
    const float *ready = s->grey;
    if (l->o.augment) {
        fer_affine t;
        uint64_t key =
            fer_key(l->o.seed, FER_STREAM_AUGMENT, (uint64_t)l->epoch, (uint64_t)im->ids[position]);
        fer_affine_draw(&t, &l->o.aug, size, size, key);
        fer_affine_apply(s->warped, s->grey, size, size, &t, l->o.aug.fill_mode, (float)l->o.aug.cval);
        ready = s->warped;
    }
    fer_preprocess(x, ready, size, l->o.channels, l->o.caffe);
}

/* Row i of the slot's batch (x, holding sample `id` already) mixed with its
   partner, which goes through prepare_sample with its own key. */
static void mix_row(fer_loader *l, batch_slot *s, int i, int64_t id, size_t row)
{
    const fer_image_set *im = l->o.images;
    fer_mix mx = {.partner = -1, .lambda = 1.0f};
    if (l->o.shuffle)
        mx = fer_mixup_draw(l->o.seed, l->epoch, id, im->n, l->o.mixup_alpha, l->o.mixup_prob);
    s->batch.mix_labels[i] = s->batch.labels[i];
    s->batch.mix_lambda[i] = mx.lambda;
    if (mx.partner < 0)
        return;
    prepare_sample(l, s, s->partner, mx.partner);
    fer_mixup_rows(s->batch.x + i * row, s->partner, row, mx.lambda);
    s->batch.mix_labels[i] = im->labels[mx.partner];
}

static void prepare_batch(fer_loader *l, int slot, long b)
{
    batch_slot *s = &l->slots[slot];
    const fer_image_set *im = l->o.images;
    long first = b * l->o.batch_size;
    int global_n = (int)(im->n - first < l->o.batch_size ? im->n - first : l->o.batch_size), begin, end;
    fer_shard_range(global_n, l->o.rank, l->o.nranks, &begin, &end);
    size_t row = (size_t)im->size * im->size * l->o.channels;
    for (int k = begin; k < end; k++) {
        int position = l->order[first + k];
        prepare_sample(l, s, s->batch.x + (k - begin) * row, position);
        s->batch.labels[k - begin] = im->labels[position];
        s->batch.ids[k - begin] = im->ids[position];
        mix_row(l, s, k - begin, im->ids[position], row);
    }
    s->batch.n = end - begin;
    s->batch.global_n = global_n;
    s->batch.batch_index = b;
}

static void *worker_main(void *arg)
{
    fer_loader *l = arg;
    pthread_mutex_lock(&l->mutex);
    while (!l->shutdown) {
        if (l->job_batch < 0) {
            pthread_cond_wait(&l->changed, &l->mutex);
            continue;
        }
        long b = l->job_batch;
        int slot = l->job_slot;
        pthread_mutex_unlock(&l->mutex);
        prepare_batch(l, slot, b);
        pthread_mutex_lock(&l->mutex);
        l->ready_batch[slot] = b;
        l->job_batch = -1;
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->mutex);
    return NULL;
}

/* Caller holds the mutex. */
static void post_job(fer_loader *l, long b, int slot)
{
    l->ready_batch[slot] = -1;
    l->job_batch = b;
    l->job_slot = slot;
    pthread_cond_broadcast(&l->changed);
}

static void wait_idle(fer_loader *l)
{
    pthread_mutex_lock(&l->mutex);
    while (l->job_batch >= 0)
        pthread_cond_wait(&l->changed, &l->mutex);
    pthread_mutex_unlock(&l->mutex);
}

static int check_opts(const fer_loader_opts *o, fer_err *err)
{
    const fer_image_set *im = o->images;
    if (!im || im->n < 0 || im->size < 1 || (im->n > 0 && (!im->pixels || !im->labels || !im->ids)))
        return fer_fail(err, "loader: no image set (or an empty one with missing arrays)");
    if (o->batch_size < 1)
        return fer_fail(err, "loader: batch size %d must be >= 1", o->batch_size);
    if (o->nranks < 1 || o->rank < 0 || o->rank >= o->nranks)
        return fer_fail(err, "loader: rank %d outside 0..%d", o->rank, o->nranks - 1);
    if (o->channels != 1 && o->channels != 3)
        return fer_fail(err, "loader: channels must be 1 or 3, got %d", o->channels);
    return FER_OK;
}

/* Samples of this rank's shard of one batch. A batch holds at most the
   whole set, and the sum is taken in long: a batch size near INT_MAX must
   not overflow. */
static long shard_rows(const fer_loader_opts *o)
{
    long batch = o->batch_size < o->images->n ? o->batch_size : o->images->n;
    long rows = (batch + o->nranks - 1) / o->nranks;
    return rows < 1 ? 1 : rows;
}

static int alloc_slot(batch_slot *s, const fer_loader_opts *o)
{
    long rows = shard_rows(o);
    int n = o->images->size * o->images->size;
    s->batch.x = malloc((size_t)rows * n * o->channels * sizeof(float));
    s->batch.labels = malloc((size_t)rows * sizeof(int));
    s->batch.ids = malloc((size_t)rows * sizeof(int64_t));
    s->grey = malloc((size_t)n * sizeof(float));
    s->warped = malloc((size_t)n * sizeof(float));
    s->partner = malloc((size_t)n * o->channels * sizeof(float));
    s->batch.mix_labels = malloc((size_t)rows * sizeof(int));
    s->batch.mix_lambda = malloc((size_t)rows * sizeof(float));
    return s->batch.x && s->batch.labels && s->batch.ids && s->grey && s->warped && s->partner &&
                   s->batch.mix_labels && s->batch.mix_lambda
               ? FER_OK
               : FER_ERROR;
}

int fer_loader_create(fer_loader **out, const fer_loader_opts *o, fer_err *err)
{
    *out = NULL;
    if (check_opts(o, err))
        return FER_ERROR;
    fer_loader *l = calloc(1, sizeof *l);
    if (!l)
        return fer_fail(err, "loader: out of memory");
    l->o = *o;
    l->n_batches = (o->images->n + (long)o->batch_size - 1) / o->batch_size;
    l->cursor = l->n_batches; /* no epoch started yet */
    l->job_batch = -1;
    l->ready_batch[0] = l->ready_batch[1] = -1;
    pthread_mutex_init(&l->mutex, NULL);
    pthread_cond_init(&l->changed, NULL);
    l->order = malloc(((size_t)o->images->n + 1) * sizeof *l->order);
    if (!l->order || alloc_slot(&l->slots[0], o) || alloc_slot(&l->slots[1], o)) {
        fer_loader_free(l);
        return fer_fail(err,
                        "loader: out of memory for two input batches of %ld images of %d x %d x %d "
                        "(about %.1f GiB); lower the batch size (data.batch_size, or --batch)",
                        shard_rows(o), o->images->size, o->images->size, o->channels,
                        2.0 * (double)shard_rows(o) * o->images->size * o->images->size * o->channels *
                            sizeof(float) / (1024.0 * 1024.0 * 1024.0));
    }
    if (o->prefetch) {
        if (pthread_create(&l->worker, NULL, worker_main, l) != 0) {
            fer_loader_free(l);
            return fer_fail(err, "loader: cannot start the prefetch thread");
        }
        l->worker_started = 1;
    }
    *out = l;
    return FER_OK;
}

void fer_loader_free(fer_loader *l)
{
    if (!l)
        return;
    if (l->worker_started) {
        pthread_mutex_lock(&l->mutex);
        l->shutdown = 1;
        pthread_cond_broadcast(&l->changed);
        pthread_mutex_unlock(&l->mutex);
        pthread_join(l->worker, NULL);
    }
    for (int s = 0; s < 2; s++) {
        free(l->slots[s].batch.x);
        free(l->slots[s].batch.labels);
        free(l->slots[s].batch.ids);
        free(l->slots[s].grey);
        free(l->slots[s].warped);
        free(l->slots[s].partner);
        free(l->slots[s].batch.mix_labels);
        free(l->slots[s].batch.mix_lambda);
    }
    free(l->order);
    pthread_cond_destroy(&l->changed);
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

long fer_loader_batches(const fer_loader *l)
{
    return l->n_batches;
}

/* Fisher-Yates with the i-th swap drawn from counter i of the epoch's key:
   the same permutation on every rank. */
static void shuffle_order(int *order, int n, uint64_t seed, int epoch)
{
    uint64_t key = fer_key(seed, FER_STREAM_SHUFFLE, (uint64_t)epoch, 0);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(((unsigned __int128)fer_draw64(key, (uint64_t)i) * (uint64_t)(i + 1)) >> 64);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

void fer_loader_start_epoch(fer_loader *l, int epoch, long first_batch)
{
    if (l->worker_started)
        wait_idle(l);
    int n = l->o.images->n;
    for (int i = 0; i < n; i++)
        l->order[i] = i;
    if (l->o.shuffle)
        shuffle_order(l->order, n, l->o.seed, epoch);
    l->epoch = epoch;
    l->cursor = first_batch < 0 ? 0 : first_batch > l->n_batches ? l->n_batches : first_batch;
    l->next_slot = 0;
    if (!l->worker_started)
        return;
    pthread_mutex_lock(&l->mutex);
    l->ready_batch[0] = l->ready_batch[1] = -1;
    if (l->cursor < l->n_batches)
        post_job(l, l->cursor, 0);
    pthread_mutex_unlock(&l->mutex);
}

const fer_batch *fer_loader_next(fer_loader *l)
{
    if (l->cursor >= l->n_batches)
        return NULL;
    long b = l->cursor++;
    if (!l->worker_started) {
        prepare_batch(l, 0, b);
        return &l->slots[0].batch;
    }
    int slot = l->next_slot;
    pthread_mutex_lock(&l->mutex);
    while (l->ready_batch[slot] != b)
        pthread_cond_wait(&l->changed, &l->mutex);
    if (b + 1 < l->n_batches)
        post_job(l, b + 1, 1 - slot);
    pthread_mutex_unlock(&l->mutex);
    l->next_slot = 1 - slot;
    return &l->slots[slot].batch;
}
