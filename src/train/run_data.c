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

int fer_run_data_load(fer_run_data *d, const fer_config *c, const char *path_override, unsigned which,
                      fer_err *err)
{
    memset(d, 0, sizeof *d);
    const char *path = path_override && *path_override ? path_override : c->data.path;
    int rc = !strcmp(path, "synthetic")
                 ? fer_dataset_synthetic(&d->ds, c->data.synthetic_train, c->data.synthetic_val,
                                         c->data.synthetic_test, c->seed, err)
                 : fer_dataset_read_h5(&d->ds, path, err);
    if (rc)
        return FER_ERROR;
    for (int s = 0; s < FER_N_SPLITS; s++) {
        if (!(which & (1u << s)))
            continue;
        int usage = usage_of(c, s, err);
        if (usage < 0)
            goto fail;
        int limit = s == FER_SPLIT_TRAIN ? c->data.limit_train : s == FER_SPLIT_VAL ? c->data.limit_val : 0;
        fer_image_set *set = &d->set[s];
        if (fer_image_set_build(&d->pixels[s], &d->labels[s], &d->ids[s], &set->n, &d->ds, usage,
                                c->model.input_size, c->data.equalize, limit, err))
            goto fail;
        set->size = c->model.input_size;
        set->pixels = d->pixels[s];
        set->labels = d->labels[s];
        set->ids = d->ids[s];
    }
    return FER_OK;
fail:
    fer_run_data_free(d);
    return FER_ERROR;
}

void fer_run_data_free(fer_run_data *d)
{
    fer_dataset_free(&d->ds);
    for (int s = 0; s < FER_N_SPLITS; s++) {
        free(d->pixels[s]);
        free(d->labels[s]);
        free(d->ids[s]);
    }
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
