/* Inference over an image set, split across ranks, with the counts reduced
   so every rank ends with the same result as one rank would compute. */
#ifndef FER_EVALUATE_H
#define FER_EVALUATE_H

#include "fer/dist.h"
#include "fer/loader.h"
#include "fer/model.h"

typedef struct {
    long n;
    double loss; /* mean cross-entropy */
    double accuracy;
    long confusion[FER_MAX_CLASSES * FER_MAX_CLASSES]; /* [true * classes + predicted] */
} fer_eval_result;

/* BatchNorm in inference mode, no dropout, no augmentation. batch_size is
   the global batch. probs_out (may be NULL) gets n x classes probabilities in
   the set's order (gathered on every rank). */
int fer_evaluate(fer_model *m, const fer_dist *d, const fer_image_set *s, int batch_size, int caffe,
                 fer_eval_result *r, float *probs_out, fer_err *err);

/* The same with every image seen through view (the centre crop of a model
   trained with augment.random_crop, one test-time view). */
int fer_evaluate_view(fer_model *m, const fer_dist *d, const fer_image_set *s, int batch_size, int caffe,
                      const fer_view *view, fer_eval_result *r, float *probs_out, fer_err *err);

/* Test-time augmentation: the softmax probabilities of views[0..n_views)
   averaged per image, and loss, accuracy and confusion of the average.
   One view is fer_evaluate_view itself. probs_out as fer_evaluate. */
int fer_evaluate_views(fer_model *m, const fer_dist *d, const fer_image_set *s, int batch_size, int caffe,
                       const fer_view *views, int n_views, fer_eval_result *r, float *probs_out,
                       fer_err *err);

/* Loss, accuracy and confusion of n x k probabilities (an average over views
   or models, which has no logits) against labels. The loss is taken from the
   probabilities directly, kept finite where one rounded to 0. */
void fer_evaluate_score(fer_eval_result *r, const float *probs, const uint8_t *labels, long n, int k);

#endif
