/* Writing the Keras save_weights layout (see fer/weights.h): weights of a
   model, or the gradients of its trainable weights. */
#include "fer/h5util.h"
#include "fer/weights.h"

#include <stdio.h>
#include <string.h>

/* The Keras version whose layout we write; Keras 2.2 checks only that the
   backend is not theano (which would flip conv kernels). */
#define FER_KERAS_VERSION "2.2.4"
#define FER_KERAS_BACKEND "tensorflow"
#define FER_INPUT_LAYER "input_1"

/* Whether weight w of layer l belongs in the file being written. */
static int written_weight(const fer_model *m, int l, int w, int grads)
{
    if (!grads)
        return 1;
    return !m->layers[l].weights[w].in_stats && l >= m->first_trainable;
}

/* A layer group: weight_names plus <layer>/<weight> datasets. */
static int write_layer_group(hid_t target, const char *name, const fer_model *m, int l, int grads,
                             fer_err *err)
{
    hid_t g = H5Gcreate2(target, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return fer_fail(err, "layer %s: cannot create group", name);
    char full[4][FER_NAME_LEN + 40];
    const char *names[4];
    int n = 0;
    const fer_layer *L = l >= 0 ? &m->layers[l] : NULL;
    for (int w = 0; L && w < L->n_weights; w++)
        if (written_weight(m, l, w, grads)) {
            snprintf(full[n], sizeof full[n], "%s/%s", name, L->weights[w].name);
            names[n] = full[n];
            n++;
        }
    int rc = fer_h5_write_strings(g, "weight_names", names, n, err);
    hid_t sub =
        n && rc == FER_OK ? H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
    if (n && rc == FER_OK && sub < 0)
        rc = fer_fail(err, "cannot create group %s/%s", name, name);
    for (int w = 0; sub >= 0 && rc == FER_OK && w < L->n_weights; w++) {
        if (!written_weight(m, l, w, grads))
            continue;
        const fer_weight *W = &L->weights[w];
        hsize_t dims[4];
        for (int d = 0; d < W->ndim; d++)
            dims[d] = (hsize_t)W->shape[d];
        const float *data = grads ? fer_model_weight_grad(m, l, w) : fer_model_weight(m, l, w);
        rc = fer_h5_write_floats(sub, W->name, W->ndim, dims, data, err);
    }
    if (sub >= 0)
        H5Gclose(sub);
    H5Gclose(g);
    return rc == FER_OK ? FER_OK : fer_fail_wrap(err, "layer %s", name);
}

static int write_layout(hid_t target, const fer_model *m, int grads, fer_err *err)
{
    const char *names[FER_MAX_LAYERS + 1];
    names[0] = FER_INPUT_LAYER;
    for (int l = 0; l < m->n_layers; l++)
        names[l + 1] = m->layers[l].cfg.name;
    if (fer_h5_write_strings(target, "layer_names", names, m->n_layers + 1, err) != FER_OK ||
        fer_h5_write_string(target, "keras_version", FER_KERAS_VERSION, err) != FER_OK ||
        fer_h5_write_string(target, "backend", FER_KERAS_BACKEND, err) != FER_OK)
        return FER_ERROR;
    if (write_layer_group(target, FER_INPUT_LAYER, m, -1, grads, err) != FER_OK)
        return FER_ERROR;
    for (int l = 0; l < m->n_layers; l++)
        if (write_layer_group(target, m->layers[l].cfg.name, m, l, grads, err) != FER_OK)
            return FER_ERROR;
    return FER_OK;
}

static int write_under(hid_t loc, const char *group, const fer_model *m, int grads, fer_err *err)
{
    fer_h5_quiet q;
    fer_h5_quiet_begin(&q);
    int at_loc = !group || !group[0] || !strcmp(group, "/") || !strcmp(group, ".");
    hid_t target = at_loc ? H5Gopen2(loc, ".", H5P_DEFAULT)
                          : H5Gcreate2(loc, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc;
    if (target < 0) {
        rc = fer_fail(err, "cannot create group %s", at_loc ? "/" : group);
    } else {
        rc = write_layout(target, m, grads, err);
        if (H5Gclose(target) < 0 && rc == FER_OK)
            rc = fer_fail(err, "cannot close group %s", at_loc ? "/" : group);
    }
    fer_h5_quiet_end(&q);
    return rc;
}

int fer_weights_write(hid_t loc, const char *group, const fer_model *m, fer_err *err)
{
    return write_under(loc, group, m, 0, err);
}

int fer_weights_write_grads(hid_t loc, const char *group, const fer_model *m, fer_err *err)
{
    return write_under(loc, group, m, 1, err);
}
