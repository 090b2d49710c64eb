/* Vanilla gradient saliency (Simonyan, Vedaldi and Zisserman 2014): how much
   each input pixel moves the class logit. */
#include "fer/explain.h"

#include <math.h>
#include <stdlib.h>

int fer_saliency(fer_model *m, const float *x, int n, const int *classes, float *sal, fer_err *err)
{
    int k = m->cfg.classes, ch = m->cfg.channels, pixels = m->cfg.input_size * m->cfg.input_size;
    for (int i = 0; i < n; i++)
        if (classes[i] < 0 || classes[i] >= k)
            return fer_fail(err, "saliency: class %d outside 0..%d", classes[i], k - 1);
    if (fer_model_reserve(m, n, err))
        return FER_ERROR;
    float *dlogits = calloc((size_t)n * k, sizeof(float));
    float *dx = malloc((size_t)n * fer_model_input_size(m) * sizeof(float));
    if (!dlogits || !dx) {
        free(dlogits);
        free(dx);
        return fer_fail(err, "saliency: out of memory for %d images", n);
    }
    fer_pass pass = {.training = 0};
    fer_model_forward(m, x, n, &pass);
    for (int i = 0; i < n; i++)
        dlogits[(size_t)i * k + classes[i]] = 1.0f;
    fer_model_backward_from(m, m->n_layers - 1, dlogits, &pass, dx);
    for (size_t p = 0; p < (size_t)n * pixels; p++) {
        float best = 0;
        for (int c = 0; c < ch; c++)
            best = fmaxf(best, fabsf(dx[p * ch + c]));
        sal[p] = best;
    }
    free(dlogits);
    free(dx);
    return FER_OK;
}
