/* Class probabilities of prepared inputs, in batches, in inference mode:
   the same softmax as training's loss (log-sum-exp), so predict, eval and
   training agree on every probability. */
#include "fer/explain.h"

#include <stdlib.h>
#include <string.h>

int fer_top_class(const float *probs, int classes)
{
    int best = 0;
    for (int j = 1; j < classes; j++)
        if (probs[j] > probs[best])
            best = j;
    return best;
}

int fer_predict_probs(fer_model *m, const float *x, int n, int batch, float *probs, fer_err *err)
{
    if (batch < 1)
        return fer_fail(err, "predict: batch size %d must be positive", batch);
    if (batch > n)
        batch = n > 0 ? n : 1;
    int *labels = calloc((size_t)batch, sizeof *labels); /* softmax needs a label; its loss is unused */
    if (!labels)
        return fer_fail(err, "predict: out of memory");
    if (fer_model_reserve(m, batch, err)) {
        free(labels);
        return FER_ERROR;
    }
    int k = m->cfg.classes;
    size_t in = fer_model_input_size(m);
    fer_pass pass = {.training = 0, .skip_unread_outputs = 1};
    for (int first = 0; first < n; first += batch) {
        int rows = n - first < batch ? n - first : batch;
        const float *logits = fer_model_forward(m, x + (size_t)first * in, rows, &pass);
        fer_softmax_xent(NULL, probs + (size_t)first * k, logits, labels, NULL, rows, k, 0.0);
    }
    free(labels);
    return FER_OK;
}
