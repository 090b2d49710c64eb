/* Measures of how far a float32 tensor is from a reference, besides the max
   error: the relative L2 error and the cosine similarity, which a few large
   but isolated differences do not dominate, and the count of ReLU and 2x2
   max-pool decisions taken differently. A ReLU or max-pool decision is a
   discontinuity: when rounding moves an input across its threshold, the
   gradient is routed differently and the max error jumps, while the tensor
   as a whole stays close. Counting those decisions tells the two apart.
   fer check-reference prints them; the functions are pure arithmetic. */
#ifndef FER_REFERENCE_MEASURES_H
#define FER_REFERENCE_MEASURES_H

#include <stddef.h>

/* Sums, in double, over pairs (ours, reference): enough for the relative L2
   error and the cosine similarity of one tensor, or of several tensors
   pooled into one vector (the whole network's gradients) by adding each. */
typedef struct {
    double diff2; /* sum (ours - ref)^2 */
    double ref2;  /* sum ref^2 */
    double ours2; /* sum ours^2 */
    double dot;   /* sum ours * ref */
} fer_pair_sums;

/* Adds n pairs to s (zero-initialize s first). A NaN or infinity in either
   tensor makes the sums, and so both measures, non-finite. */
void fer_pair_sums_add(fer_pair_sums *s, const float *ours, const float *ref, size_t n);

/* ||ours - ref|| / ||ref||; NaN when the reference is all zeros. */
double fer_rel_l2(const fer_pair_sums *s);

/* <ours, ref> / (||ours|| ||ref||), in [-1, 1]; NaN when either is all
   zeros (the angle is undefined). */
double fer_cosine(const fer_pair_sums *s);

/* ReLU decisions (active: input > 0) that differ between ours and ref, over
   n elements. Either side may be the ReLU's input or its output, since
   relu(z) > 0 exactly when z > 0. A NaN counts as inactive. */
size_t fer_relu_decisions_differ(const float *ours, const float *ref, size_t n);

/* 2x2 stride-2 max-pool decisions (which element of each window is the
   maximum: the first in row-major order equal to it, the element fer's
   backward pass routes the gradient to) that differ between ours and ref,
   both n x h x w x c inputs of the pool (odd rows and columns dropped, as
   the pool does). A window whose maximum the reference attains twice (all
   zeros after a ReLU, or values equal once rounded to float32) has no
   decision to take and is skipped; *decisions (may be NULL) gets the number
   of windows that have one. */
size_t fer_pool_decisions_differ(const float *ours, const float *ref, int n, int h, int w, int c,
                                 size_t *decisions);

#endif
