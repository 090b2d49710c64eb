/* The data of a run: the node's local rank 0 reads the data set and builds the
   input-size splits into the node's shared block; every rank views them. */
#include "fer/run_data.h"

#include <stdlib.h>
#include <string.h>

static int usage_of(const fer_config *c, int split, fer_err *err)
{
    const char *name = split == FER_SPLIT_TRAIN ? c->data.train_usage
                       : split == FER_SPLIT_VAL ? c->data.val_usage
                                                : c->data.test_usage;
    int u = fer_usage_parse(name);
    if (u < 0)
        return fer_fail(err, "data: unknown usage '%s' (valid: Training, PublicTest, PrivateTest)", name);
    return u;
}

static int limit_of(const fer_config *c, int split)
{
    return split == FER_SPLIT_TRAIN ? c->data.limit_train : split == FER_SPLIT_VAL ? c->data.limit_val : 0;
}

/* The number of images fer_image_set_build() keeps: the usage's samples, at
   most `limit` when limit > 0. Needed before building, to size the window. */
static int split_count(const fer_dataset *ds, int usage, int limit)
{
    int count = 0;
    for (int i = 0; i < ds->n; i++)
        count += ds->usage[i] == usage;
    return limit > 0 && count > limit ? limit : count;
}

static void drop_images(fer_dataset *ds)
{
    free(ds->pixels);
    free(ds->labels);
    free(ds->usage);
    ds->pixels = ds->labels = ds->usage = NULL;
}

/* A label the model has no output for would read as a non-finite loss in
   training and fall out of evaluation's counts: refuse the file instead. */
static int check_labels(const fer_dataset *ds, const char *path, int classes, fer_err *err)
{
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] >= classes)
            return fer_fail(err,
                            "%s: sample %d (%s) has label %d, but the model has %d classes "
                            "(model.classes: labels 0..%d)",
                            path, i, fer_usage_name(ds->usage[i]), ds->labels[i], classes, classes - 1);
    return FER_OK;
}

/* Writer, before the window exists: the data set and each split's size. */
static int read_and_count(fer_run_data *d, const fer_config *c, const char *path, unsigned which,
                          int counts[FER_N_SPLITS], fer_err *err)
{
    int rc = !strcmp(path, "synthetic")
                 ? fer_dataset_synthetic(&d->ds, c->data.synthetic_train, c->data.synthetic_val,
                                         c->data.synthetic_test, c->seed, err)
                 : fer_dataset_read_h5(&d->ds, path, err);
    if (rc || check_labels(&d->ds, path, c->model.classes, err))
        return FER_ERROR;
    for (int s = 0; s < FER_N_SPLITS; s++) {
        if (!(which & (1u << s)))
            continue;
        int usage = usage_of(c, s, err);
        if (usage < 0)
            return FER_ERROR;
        counts[s] = split_count(&d->ds, usage, limit_of(c, s));
    }
    return FER_OK;
}

/* Raw samples per building step: fer_image_set_build() allocates the images
   it builds, so the writer builds a split a chunk of the data set at a time
   and copies each chunk into the node's block. Its transient memory stays one
   chunk's images (about 9 MiB at 96 x 96) however big the data set is. */
enum { BUILD_CHUNK = 1024 };

static int build_split(fer_image_slot *slot, const fer_dataset *ds, int usage, int equalize, fer_err *err)
{
    size_t image = (size_t)slot->size * slot->size;
    int done = 0;
    for (int first = 0; first < ds->n && done < slot->n; first += BUILD_CHUNK) {
        fer_dataset chunk = *ds;
        chunk.n = ds->n - first < BUILD_CHUNK ? ds->n - first : BUILD_CHUNK;
        chunk.pixels = ds->pixels + (size_t)first * ds->h * ds->w;
        chunk.labels = ds->labels + first;
        chunk.usage = ds->usage + first;
        uint8_t *pixels, *labels;
        int64_t *ids;
        int n;
        if (fer_image_set_build(&pixels, &labels, &ids, &n, &chunk, usage, slot->size, equalize,
                                slot->n - done, err))
            return FER_ERROR;
        memcpy(slot->pixels + (size_t)done * image, pixels, (size_t)n * image);
        memcpy(slot->labels + done, labels, (size_t)n);
        for (int i = 0; i < n; i++)
            slot->ids[done + i] = ids[i] + first; /* ids count from the chunk's start */
        free(pixels);
        free(labels);
        free(ids);
        done += n;
    }
    if (done != slot->n)
        return fer_fail(err, "data: built %d images of %s, %d expected", done, fer_usage_name(usage),
                        slot->n);
    return FER_OK;
}

/* Writer: every requested split into its slot of the node's block. */
static int build_splits(fer_run_data *d, const fer_config *c, unsigned which, fer_err *err)
{
    for (int s = 0; s < FER_N_SPLITS; s++) {
        if (!(which & (1u << s)))
            continue;
        fer_image_slot slot = fer_shared_images_slot(&d->images, s);
        if (build_split(&slot, &d->ds, usage_of(c, s, err), c->data.equalize, err))
            return FER_ERROR;
    }
    return FER_OK;
}

int fer_run_data_load(fer_run_data *d, const fer_config *c, const fer_dist *dist, const char *path_override,
                      unsigned which, fer_err *err)
{
    memset(d, 0, sizeof *d);
    const char *path = path_override && *path_override ? path_override : c->data.path;
    int writer = !dist || dist->local_rank == 0;
    int counts[FER_N_SPLITS] = {0}, failed = 0;
    fer_err writer_err = {{0}};
    if (writer)
        failed = read_and_count(d, c, path, which, counts, &writer_err) != FER_OK;
    if (fer_shared_images_alloc(&d->images, dist, FER_N_SPLITS, counts, c->model.input_size, sizeof d->ds,
                                err)) {
        fer_dataset_free(&d->ds);
        return FER_ERROR;
    }
    if (writer && !failed)
        failed = build_splits(d, c, which, &writer_err) != FER_OK;
    if (writer) {
        drop_images(&d->ds);
        memcpy(d->images.meta, &d->ds, sizeof d->ds);
    }
    failed = fer_shared_images_publish(&d->images, failed, &writer_err, err) != FER_OK;
    /* Nodes load independently: a node that failed must not leave the
       others waiting in their first collective of the run. */
    if (dist && fer_dist_any(dist, failed) && !failed) {
        fer_shared_images_free(&d->images);
        failed = fer_fail(err, "data: %s: loading failed on another node", path) != FER_OK;
    }
    if (failed) {
        memset(d, 0, sizeof *d);
        return FER_ERROR;
    }
    memcpy(&d->ds, d->images.meta, sizeof d->ds);
    for (int s = 0; s < FER_N_SPLITS; s++)
        if (which & (1u << s))
            d->set[s] = d->images.set[s];
    return FER_OK;
}

void fer_run_data_free(fer_run_data *d)
{
    fer_dataset_free(&d->ds);
    fer_shared_images_free(&d->images);
    memset(d, 0, sizeof *d);
}

void fer_class_weights_balanced(const fer_image_set *s, int classes, float *weights)
{
    long counts[FER_MAX_CLASSES] = {0};
    for (int i = 0; i < s->n; i++)
        if (s->labels[i] < FER_MAX_CLASSES)
            counts[s->labels[i]]++;
    for (int k = 0; k < classes; k++)
        weights[k] = counts[k] ? (float)((double)s->n / ((double)classes * (double)counts[k])) : 0.0f;
}
