/* The "typical" samples of each class that saliency maps are shown for: the
   correctly classified ones the model is most sure of. */
#include "fer/explain.h"

void fer_typical_samples(const float *probs, const uint8_t *labels, int n, int classes, int per_class,
                         int *picks)
{
    for (int i = 0; i < classes * per_class; i++)
        picks[i] = -1;
    /* Insertion into each class's short best-first list: per_class is small. */
    for (int i = 0; i < n; i++) {
        int c = labels[i];
        const float *p = probs + (size_t)i * classes;
        if (c >= classes || fer_top_class(p, classes) != c)
            continue;
        int *list = picks + c * per_class, at = per_class;
        while (at > 0 && (list[at - 1] < 0 || probs[(size_t)list[at - 1] * classes + c] < p[c]))
            at--;
        if (at == per_class)
            continue;
        for (int j = per_class - 1; j > at; j--)
            list[j] = list[j - 1];
        list[at] = i;
    }
}
