/* The per-epoch metrics history kept in checkpoints. */
#include "fer/checkpoint.h"

#include <stdlib.h>
#include <string.h>

int fer_history_append(fer_history *h, const fer_epoch_metrics *row)
{
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        fer_epoch_metrics *grown = realloc(h->rows, (size_t)cap * sizeof *grown);
        if (!grown)
            return FER_ERROR;
        h->rows = grown;
        h->cap = cap;
    }
    h->rows[h->n++] = *row;
    return FER_OK;
}

void fer_history_free(fer_history *h)
{
    free(h->rows);
    memset(h, 0, sizeof *h);
}
