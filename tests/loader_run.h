/* One epoch of a loader, every batch copied out, for tests that compare the
   batches of several loaders (ranks, prefetch, a mid-epoch start). */
#ifndef FER_TEST_LOADER_RUN_H
#define FER_TEST_LOADER_RUN_H

#include "check.h"
#include "fer/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LOADER_RUN_BATCHES = 64, LOADER_RUN_ROWS = 32 };

typedef struct {
    long n_batches;
    int n[LOADER_RUN_BATCHES], global_n[LOADER_RUN_BATCHES];
    float *x[LOADER_RUN_BATCHES];
    int labels[LOADER_RUN_BATCHES][LOADER_RUN_ROWS], mix_labels[LOADER_RUN_BATCHES][LOADER_RUN_ROWS];
    float lambda[LOADER_RUN_BATCHES][LOADER_RUN_ROWS];
    int64_t ids[LOADER_RUN_BATCHES][LOADER_RUN_ROWS];
} loader_run;

/* Runs epoch `epoch` from first_batch; row: floats per image. Mixup's
   partners and weights are copied when the loader mixes. */
static inline void loader_run_epoch(loader_run *r, const fer_loader_opts *o, int epoch, long first_batch,
                                    size_t row)
{
    fer_loader *l;
    fer_err err;
    memset(r, 0, sizeof *r);
    if (o->batch_size > LOADER_RUN_ROWS || fer_loader_create(&l, o, &err)) {
        printf("create: %s\n", o->batch_size > LOADER_RUN_ROWS ? "batch too large for loader_run" : err.msg);
        CHECK(0);
        return;
    }
    r->n_batches = fer_loader_batches(l);
    fer_loader_start_epoch(l, epoch, first_batch);
    const fer_batch *b;
    for (long k = first_batch; (b = fer_loader_next(l)); k++) {
        CHECK(b->batch_index == k && k < LOADER_RUN_BATCHES);
        if (k >= LOADER_RUN_BATCHES)
            break;
        size_t n = (size_t)b->n;
        r->n[k] = b->n;
        r->global_n[k] = b->global_n;
        r->x[k] = malloc(sizeof(float) * row * (n + 1));
        memcpy(r->x[k], b->x, sizeof(float) * row * n);
        memcpy(r->labels[k], b->labels, sizeof(int) * n);
        memcpy(r->ids[k], b->ids, sizeof(int64_t) * n);
        if (b->mix_labels)
            memcpy(r->mix_labels[k], b->mix_labels, sizeof(int) * n);
        if (b->mix_lambda)
            memcpy(r->lambda[k], b->mix_lambda, sizeof(float) * n);
    }
    fer_loader_free(l);
}

static inline void loader_run_free(loader_run *r)
{
    for (int k = 0; k < LOADER_RUN_BATCHES; k++)
        free(r->x[k]);
}

#endif
