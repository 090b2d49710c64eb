/* Building the layer table from the config: shapes, weight tensors in Keras
   order, flat buffers and Keras's default initialization. */
#include "fer/layer_kind.h"
#include "fer/model.h"
#include "fer/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Output shape and weight tensors of one layer given its input shape, by
   its kind. */
static int shape_layer(fer_layer *L, int classes, size_t offsets[2], fer_err *err)
{
    const fer_layer_kind *k = fer_layer_kind_of(L->cfg.type);
    if (!k)
        return fer_fail(err, "layer %s: unknown layer type %d", L->cfg.name, (int)L->cfg.type);
    L->out_h = L->in_h;
    L->out_w = L->in_w;
    L->out_c = L->in_c;
    return k->shape(L, classes, offsets, err);
}

/* Keras defaults: Glorot uniform kernels, zero biases, gamma 1, beta 0,
   moving mean 0, moving variance 1. */
static void init_layer(fer_model *m, int l, uint64_t seed)
{
    fer_layer *L = &m->layers[l];
    for (int i = 0; i < L->n_weights; i++) {
        fer_weight *w = &L->weights[i];
        float *v = fer_model_weight(m, l, i);
        if (!strcmp(w->name, "kernel:0")) {
            int receptive = w->ndim == 4 ? w->shape[0] * w->shape[1] : 1;
            int fan_in = receptive * w->shape[w->ndim - 2], fan_out = receptive * w->shape[w->ndim - 1];
            fer_glorot_uniform(v, w->count, fan_in, fan_out,
                               fer_key(seed, FER_STREAM_INIT, (uint64_t)l, (uint64_t)i));
        } else {
            float value =
                (!strcmp(w->name, "gamma:0") || !strcmp(w->name, "moving_variance:0")) ? 1.0f : 0.0f;
            for (size_t k = 0; k < w->count; k++)
                v[k] = value;
        }
    }
}

int fer_model_init(fer_model *m, const fer_model_cfg *cfg, uint64_t seed, fer_err *err)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (cfg->n_layers < 1 || cfg->n_layers > FER_MAX_LAYERS)
        return fer_fail(err, "model: expected 1 to %d layers, got %d", FER_MAX_LAYERS, cfg->n_layers);
    int h = cfg->input_size, w = cfg->input_size, c = cfg->channels, flat = 0;
    size_t offsets[2] = {0, 0}; /* params, stats */
    for (int l = 0; l < cfg->n_layers; l++) {
        fer_layer *L = &m->layers[l];
        L->cfg = cfg->layers[l];
        L->in_h = h;
        L->in_w = w;
        L->in_c = c;
        L->flat_input = flat;
        if (shape_layer(L, cfg->classes, offsets, err))
            return FER_ERROR;
        h = L->out_h;
        w = L->out_w;
        c = L->out_c;
        flat = flat || (fer_layer_kind_of(L->cfg.type)->facts & FER_KIND_FLATTENS);
    }
    m->n_layers = cfg->n_layers;
    if (c != cfg->classes)
        return fer_fail(err, "model: the last layer has %d outputs but model.classes is %d", c, cfg->classes);
    size_t poff = offsets[0], soff = offsets[1];
    m->n_params = poff;
    m->n_stats = soff;
    m->params = malloc(poff * sizeof(float));
    m->grads = calloc(poff ? poff : 1, sizeof(float));
    m->stats = malloc((soff ? soff : 1) * sizeof(float));
    if (!m->params || !m->grads || !m->stats) {
        fer_model_free(m);
        return fer_fail(err, "model: out of memory for %zu parameters", poff);
    }
    for (int l = 0; l < m->n_layers; l++)
        init_layer(m, l, seed);
    fer_model_set_trainable(m, 0);
    return FER_OK;
}

int fer_model_find(const fer_model *m, const char *name)
{
    for (int l = 0; l < m->n_layers; l++)
        if (!strcmp(m->layers[l].cfg.name, name))
            return l;
    return -1;
}

void fer_model_set_trainable(fer_model *m, int first)
{
    m->first_trainable = first;
    m->trainable_offset = m->n_params;
    for (int l = first; l < m->n_layers; l++)
        for (int i = 0; i < m->layers[l].n_weights; i++)
            if (!m->layers[l].weights[i].in_stats && m->layers[l].weights[i].offset < m->trainable_offset)
                m->trainable_offset = m->layers[l].weights[i].offset;
}

float *fer_model_weight(const fer_model *m, int l, int w)
{
    const fer_weight *W = &m->layers[l].weights[w];
    return (W->in_stats ? m->stats : m->params) + W->offset;
}

float *fer_model_weight_grad(const fer_model *m, int l, int w)
{
    const fer_weight *W = &m->layers[l].weights[w];
    return W->in_stats ? NULL : m->grads + W->offset;
}

size_t fer_layer_out_size(const fer_layer *L)
{
    return (size_t)L->out_h * L->out_w * L->out_c;
}

size_t fer_model_input_size(const fer_model *m)
{
    return (size_t)m->cfg.input_size * m->cfg.input_size * m->cfg.channels;
}

size_t fer_model_total_params(const fer_model *m)
{
    return m->n_params + m->n_stats;
}

size_t fer_model_nontrainable_params(const fer_model *m)
{
    return m->n_stats;
}

double fer_model_forward_flops(const fer_model *m)
{
    double flops = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const fer_layer_kind *k = fer_layer_kind_of(m->layers[l].cfg.type);
        flops += k->flops ? k->flops(&m->layers[l]) : 0.0;
    }
    return flops;
}
