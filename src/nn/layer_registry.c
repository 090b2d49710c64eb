/* The table of layer kinds, from include/fer/layer_kinds.def. */
#include "fer/layer_kind.h"

#include <stdio.h>
#include <string.h>

#define FER_LAYER_KIND(ID, NAME) extern const fer_layer_kind fer_layer_##NAME;
#include "fer/layer_kinds.def"
#undef FER_LAYER_KIND

static const fer_layer_kind *const kinds[] = {
#define FER_LAYER_KIND(ID, NAME) &fer_layer_##NAME,
#include "fer/layer_kinds.def"
#undef FER_LAYER_KIND
};

const fer_layer_kind *fer_layer_kind_of(fer_layer_type t)
{
    return (unsigned)t < sizeof kinds / sizeof kinds[0] ? kinds[t] : NULL;
}

int fer_layer_kind_takes(const fer_layer_kind *k, const char *key)
{
    for (int i = 0; k && i < 8 && k->keys[i]; i++)
        if (!strcmp(k->keys[i], key))
            return 1;
    return 0;
}

void fer_layer_add_weight(fer_layer *L, const char *name, int in_stats, int ndim, const int *shape,
                          size_t offsets[2])
{
    fer_weight *w = &L->weights[L->n_weights++];
    snprintf(w->name, sizeof w->name, "%s", name);
    w->ndim = ndim;
    w->count = 1;
    for (int i = 0; i < ndim; i++) {
        w->shape[i] = shape[i];
        w->count *= (size_t)shape[i];
    }
    w->in_stats = in_stats;
    w->offset = offsets[in_stats ? 1 : 0];
    offsets[in_stats ? 1 : 0] += w->count;
    if (in_stats)
        L->n_stats += w->count;
    else
        L->n_params += w->count;
}
