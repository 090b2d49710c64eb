/* fer_evaluate_view and fer_evaluate_views when one rank fails to set up
   (here: the last rank asks for batches of 0 images, which its loader
   refuses): every rank returns FER_ERROR, the failing rank with its reason
   and the others with an empty message, and none waits in a reduction for
   the rank that left. An evaluation afterwards on every rank gives the
   result of the one before, so the ranks' collective calls stayed in step.
   On one rank the failure is that rank's own. tests/test_mpi_eval_fails.sh
   runs it under mpirun -np 2 and 3 with a timeout: the code before the
   agreement hung there. */
#include "check_mpi.h"
#include "fer/config.h"
#include "fer/dist.h"
#include "fer/evaluate.h"
#include "source_model.h"

#include <stdlib.h>
#include <string.h>

enum { IMAGES = 12, BATCH = 4 };

typedef struct {
    uint8_t *pixels, labels[IMAGES];
    int64_t ids[IMAGES];
    fer_image_set set;
} images;

static int setup(fer_model *m, images *im, fer_err *err)
{
    if (source_model(m, "configs/tiny.yaml", 1, err))
        return FER_ERROR;
    int size = m->cfg.input_size, classes = m->cfg.classes;
    im->pixels = malloc((size_t)IMAGES * size * size);
    if (!im->pixels) {
        fer_model_free(m);
        return fer_fail(err, "out of memory");
    }
    srand(7); /* the same images on every rank */
    for (size_t i = 0; i < (size_t)IMAGES * size * size; i++)
        im->pixels[i] = (uint8_t)(rand() % 256);
    for (int i = 0; i < IMAGES; i++) {
        im->labels[i] = (uint8_t)(i % classes);
        im->ids[i] = i;
    }
    im->set = (fer_image_set){
        .n = IMAGES, .size = size, .pixels = im->pixels, .labels = im->labels, .ids = im->ids};
    return FER_OK;
}

/* One failing evaluation: n_views 0 means fer_evaluate_view. */
static void check_failure(fer_model *m, const fer_dist *d, const fer_image_set *s, int n_views)
{
    int failing = d->rank == d->size - 1;
    fer_view views[2] = {{0, 0, 0, 0}, {0, 0, 0, 1}};
    fer_eval_result r;
    fer_err err;
    strcpy(err.msg, "unchanged");
    int batch = failing ? 0 : BATCH;
    int rc = n_views ? fer_evaluate_views(m, d, s, batch, 0, views, n_views, &r, NULL, &err)
                     : fer_evaluate_view(m, d, s, batch, 0, &views[0], &r, NULL, &err);
    printf("rank %d of %d, %s, batch %d: %s, message '%s'\n", d->rank, d->size,
           n_views ? "two views" : "one view", batch, rc ? "failed" : "ok", err.msg);
    CHECK(rc == FER_ERROR);
    if (failing)
        CHECK(strstr(err.msg, "batch size 0") != NULL);
    else
        CHECK(err.msg[0] == '\0');
}

int main(int argc, char **argv)
{
    fer_dist d;
    fer_err err;
    if (check_mpi_init(&d, &argc, &argv))
        return 1;
    fer_model m;
    images im = {0};
    const fer_image_set *s = &im.set;
    if (setup(&m, &im, &err)) {
        printf("rank %d: %s\n", d.rank, err.msg);
        CHECK(0);
    } else {
        fer_view whole = {0, 0, 0, 0};
        fer_eval_result before, after;
        CHECK(fer_evaluate_view(&m, &d, s, BATCH, 0, &whole, &before, NULL, &err) == FER_OK);
        check_failure(&m, &d, s, 0);
        check_failure(&m, &d, s, 2);
        CHECK(fer_evaluate_view(&m, &d, s, BATCH, 0, &whole, &after, NULL, &err) == FER_OK);
        printf("rank %d: before the failures %ld images, accuracy %.4f, loss %.6f; after %ld, %.4f, %.6f\n",
               d.rank, before.n, before.accuracy, before.loss, after.n, after.accuracy, after.loss);
        CHECK(before.n == IMAGES && after.n == IMAGES);
        CHECK(after.accuracy == before.accuracy && after.loss == before.loss);
        fer_model_free(&m);
    }
    free(im.pixels);
    return check_report_mpi(&d, "test_evaluate_ranks");
}
