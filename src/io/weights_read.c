/* Loading Keras weight files by layer name, in the order of each layer's
   weight_names attribute (see fer/weights.h). Everything is checked before
   the first value is copied, so a shape mismatch leaves the model as it was. */
#include "fer/h5util.h"
#include "fer/weights.h"

#include <stdio.h>
#include <string.h>

/* Appends name to a ", "-separated list, ending it with "..." when full. */
static void list_append(char *list, size_t cap, const char *name)
{
    size_t used = strlen(list);
    if (used >= 3 && !strcmp(list + used - 3, "..."))
        return;
    size_t need = strlen(name) + (used ? 2 : 0);
    if (used + need + 4 > cap) {
        snprintf(list + used, cap - used, "%s...", used ? ", " : "");
        return;
    }
    snprintf(list + used, cap - used, "%s%s", used ? ", " : "", name);
}

/* Checks that weight w of model layer l matches the dataset named wname in
   the layer group g. */
static int check_weight_shape(const fer_model *m, int l, int w, hid_t g, const char *wname, const char *what,
                              fer_err *err)
{
    const fer_layer *L = &m->layers[l];
    const fer_weight *W = &L->weights[w];
    hid_t ds = H5Dopen2(g, wname, H5P_DEFAULT);
    if (ds < 0)
        return fer_fail(err, "%s: layer %s weight %d (%s): dataset missing", what, L->cfg.name, w, wname);
    int nd = 0;
    hsize_t dims[FER_H5_MAX_DIMS];
    int rc = fer_h5_dataset_shape(ds, &nd, dims, err);
    H5Dclose(ds);
    if (rc != FER_OK)
        return fer_fail_wrap(err, "%s: layer %s weight %d (%s)", what, L->cfg.name, w, wname);
    int same = nd == W->ndim;
    for (int d = 0; same && d < nd; d++)
        same = dims[d] == (hsize_t)W->shape[d];
    if (same)
        return FER_OK;
    char in_file[128], in_model[128];
    fer_h5_format_shape(in_file, sizeof in_file, nd, dims);
    fer_h5_format_ishape(in_model, sizeof in_model, W->ndim, W->shape);
    return fer_fail(err, "%s: layer %s weight %d (%s): shape %s in file, %s in model", what, L->cfg.name, w,
                    wname, in_file, in_model);
}

/* Checks one file layer against model layer l (counts and shapes). */
static int check_layer(const fer_model *m, int l, hid_t g, const fer_h5_strings *wn, const char *what,
                       fer_err *err)
{
    const fer_layer *L = &m->layers[l];
    if (wn->n != L->n_weights)
        return fer_fail(err, "%s: layer %s has %d weights in file, %d in model", what, L->cfg.name, wn->n,
                        L->n_weights);
    for (int w = 0; w < wn->n; w++)
        if (check_weight_shape(m, l, w, g, wn->items[w], what, err) != FER_OK)
            return FER_ERROR;
    return FER_OK;
}

static int copy_layer(fer_model *m, int l, hid_t g, const fer_h5_strings *wn, const char *what, fer_err *err)
{
    const fer_layer *L = &m->layers[l];
    for (int w = 0; w < wn->n; w++)
        if (fer_h5_read_finite_floats(g, wn->items[w], L->weights[w].ndim, L->weights[w].shape,
                                      fer_model_weight(m, l, w), err) != FER_OK)
            return fer_fail_wrap(err, "%s: layer %s weight %d", what, L->cfg.name, w);
    return FER_OK;
}

/* One pass over the file's layers: copy = 0 validates and fills the
   report, copy = 1 copies the values. */
static int visit_layers(fer_model *m, hid_t loc, const fer_h5_strings *layers, const char *what, int copy,
                        int *matched, fer_weights_report *rep, fer_err *err)
{
    for (int i = 0; i < layers->n; i++) {
        const char *name = layers->items[i];
        int l = fer_model_find(m, name);
        if (copy && (l < 0 || !m->layers[l].n_weights))
            continue;
        hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
        if (g < 0)
            return fer_fail(err, "%s: layer %s is in layer_names but has no group", what, name);
        fer_h5_strings wn;
        int rc = fer_h5_read_strings(g, "weight_names", &wn, err);
        if (rc != FER_OK) {
            H5Gclose(g);
            return fer_fail_wrap(err, "%s: layer %s", what, name);
        }
        if (copy) {
            rc = copy_layer(m, l, g, &wn, what, err);
        } else if (l < 0) {
            if (wn.n > 0) {
                rep->ignored++;
                list_append(rep->ignored_names, sizeof rep->ignored_names, name);
            }
        } else {
            rc = check_layer(m, l, g, &wn, what, err);
            matched[l] = 1;
        }
        fer_h5_strings_free(&wn);
        H5Gclose(g);
        if (rc != FER_OK)
            return rc;
    }
    return FER_OK;
}

static int load_loc(fer_model *m, hid_t loc, const char *what, int strict, fer_weights_report *rep,
                    fer_err *err)
{
    memset(rep, 0, sizeof *rep);
    fer_h5_strings layers;
    if (fer_h5_read_strings(loc, "layer_names", &layers, err) != FER_OK)
        return fer_fail_wrap(err, "%s: not a Keras weight file", what);
    int matched[FER_MAX_LAYERS] = {0};
    int rc = visit_layers(m, loc, &layers, what, 0, matched, rep, err);
    for (int l = 0; rc == FER_OK && l < m->n_layers; l++) {
        if (!m->layers[l].n_weights)
            continue;
        if (matched[l]) {
            rep->loaded++;
            continue;
        }
        if (strict)
            rc = fer_fail(err, "%s: layer %s of the model is not in the file", what, m->layers[l].cfg.name);
        rep->missing++;
        list_append(rep->missing_names, sizeof rep->missing_names, m->layers[l].cfg.name);
    }
    if (rc == FER_OK)
        rc = visit_layers(m, loc, &layers, what, 1, matched, rep, err);
    fer_h5_strings_free(&layers);
    return rc;
}

int fer_weights_load_loc(fer_model *m, hid_t loc, const char *what, int strict, fer_weights_report *rep,
                         fer_err *err)
{
    fer_weights_report local;
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    int rc = load_loc(m, loc, what, strict, rep ? rep : &local, err);
    fer_h5_quiet_end(&q);
    return rc;
}

int fer_weights_load(fer_model *m, const char *path, int strict, fer_weights_report *rep, fer_err *err)
{
    fer_weights_report local;
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    int rc = FER_ERROR;
    hid_t f = fer_h5_open_read(path, err);
    if (f >= 0) {
        const char *group = fer_h5_has(f, "model_weights") ? "model_weights" : "/";
        hid_t loc = H5Gopen2(f, group, H5P_DEFAULT);
        if (loc < 0) {
            rc = fer_fail(err, "%s: cannot open group %s", path, group);
        } else {
            rc = load_loc(m, loc, path, strict, rep ? rep : &local, err);
            H5Gclose(loc);
        }
        H5Fclose(f);
    }
    fer_h5_quiet_end(&q);
    return rc;
}
