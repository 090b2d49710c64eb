/* Grad-CAM (Selvaraju et al. 2017): where in a convolution's output the
   evidence for a class lies. The gradient of the class logit with respect to
   that layer's activation comes from a second model, the "head": the layers
   above it, with the same weights, fed the activation as its input. The
   model's backward pass only returns gradients at its input, and the head
   turns the wanted activation into exactly that. */
#include "fer/explain.h"

#include <stdlib.h>
#include <string.h>

int fer_last_conv_layer(const fer_model *m)
{
    for (int l = m->n_layers - 1; l >= 0; l--)
        if (m->layers[l].cfg.type == FER_LAYER_CONV2D)
            return l;
    return -1;
}

static int spatial_output(const fer_model *m, int layer)
{
    for (int l = 0; l <= layer; l++)
        if (m->layers[l].cfg.type == FER_LAYER_GAP || m->layers[l].cfg.type == FER_LAYER_DENSE)
            return 0;
    return 1;
}

/* The layers above `layer` as a model of their own, sharing no memory. */
static int build_head(fer_model *head, const fer_model *m, int layer, fer_err *err)
{
    const fer_layer *L = &m->layers[layer];
    fer_model_cfg cfg = m->cfg;
    cfg.input_size = L->out_h;
    cfg.channels = L->out_c;
    cfg.n_layers = m->n_layers - layer - 1;
    memmove(cfg.layers, cfg.layers + layer + 1, (size_t)cfg.n_layers * sizeof cfg.layers[0]);
    if (fer_model_init(head, &cfg, 0, err))
        return fer_fail_wrap(err, "Grad-CAM above layer %s", L->cfg.name);
    for (int l = 0; l < head->n_layers; l++)
        for (int w = 0; w < head->layers[l].n_weights; w++)
            memcpy(fer_model_weight(head, l, w), fer_model_weight(m, layer + 1 + l, w),
                   head->layers[l].weights[w].count * sizeof(float));
    return FER_OK;
}

static int check_layer(const fer_model *m, int layer, fer_err *err)
{
    if (layer < 0 || layer >= m->n_layers)
        return fer_fail(err, "Grad-CAM: layer index %d outside 0..%d", layer, m->n_layers - 1);
    const fer_layer *L = &m->layers[layer];
    if (layer == m->n_layers - 1) {
        int conv = fer_last_conv_layer(m);
        return fer_fail(err,
                        "Grad-CAM: layer %s is the model's output; name a layer below it with a spatial "
                        "output (e.g. %s, the last convolution)",
                        L->cfg.name, conv >= 0 ? m->layers[conv].cfg.name : "a convolution");
    }
    if (!spatial_output(m, layer) || L->out_h != L->out_w)
        return fer_fail(err, "Grad-CAM: layer %s has no square spatial output (%dx%dx%d)", L->cfg.name,
                        L->out_h, L->out_w, L->out_c);
    return FER_OK;
}

/* cam = ReLU(sum_c alpha_c A_c), alpha_c = mean over positions of dA_c. */
static void combine(float *cam, const float *act, const float *grad, int hw, int c)
{
    for (int p = 0; p < hw; p++)
        cam[p] = 0;
    for (int j = 0; j < c; j++) {
        double a = 0;
        for (int p = 0; p < hw; p++)
            a += grad[(size_t)p * c + j];
        a /= hw;
        for (int p = 0; p < hw; p++)
            cam[p] += (float)a * act[(size_t)p * c + j];
    }
    for (int p = 0; p < hw; p++)
        cam[p] = cam[p] > 0 ? cam[p] : 0;
}

int fer_gradcam(fer_model *m, int layer, const float *x, int n, const int *classes, float *cam, fer_err *err)
{
    if (check_layer(m, layer, err) || fer_model_reserve(m, n, err))
        return FER_ERROR;
    const fer_layer *L = &m->layers[layer];
    int k = m->cfg.classes, hw = L->out_h * L->out_w;
    size_t out = fer_layer_out_size(L);
    for (int i = 0; i < n; i++)
        if (classes[i] < 0 || classes[i] >= k)
            return fer_fail(err, "Grad-CAM: class %d outside 0..%d", classes[i], k - 1);
    fer_model head;
    if (build_head(&head, m, layer, err))
        return FER_ERROR;
    float *dlogits = calloc((size_t)n * k, sizeof(float)), *grad = malloc((size_t)n * out * sizeof(float));
    int rc = dlogits && grad ? fer_model_reserve(&head, n, err) : fer_fail(err, "Grad-CAM: out of memory");
    if (rc == FER_OK) {
        fer_pass pass = {.training = 0};
        fer_model_forward(m, x, n, &pass);
        const float *act = fer_model_activation(m, layer);
        fer_model_forward(&head, act, n, &pass);
        for (int i = 0; i < n; i++)
            dlogits[(size_t)i * k + classes[i]] = 1.0f;
        fer_model_backward_from(&head, head.n_layers - 1, dlogits, &pass, grad);
        for (int i = 0; i < n; i++)
            combine(cam + (size_t)i * hw, act + i * out, grad + i * out, hw, L->out_c);
    }
    free(dlogits);
    free(grad);
    fer_model_free(&head);
    return rc;
}
