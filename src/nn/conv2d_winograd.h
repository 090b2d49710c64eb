/* Winograd F(6x6, 3x3) convolutions, private to src/nn/conv2d.c, which
   dispatches 3x3 convolutions with enough channels here (see
   fer_winograd_applies). Same contract as fer_conv2d_forward/backward. */
#ifndef FER_NN_CONV2D_WINOGRAD_H
#define FER_NN_CONV2D_WINOGRAD_H

#include "fer/nn.h"

#include <stddef.h>

/* True for 3x3 kernels, same or valid, whose channel counts keep the 64
   per-tile GEMMs efficient. */
int fer_winograd_applies(const fer_conv_dims *d);

/* Scratch floats the two functions below need. */
size_t fer_winograd_scratch_floats(const fer_conv_dims *d);

/* What the forward does to conv(x, k) before it stores it. */
typedef struct {
    const float *bias; /* added per output channel; NULL: none */
    int relu;          /* then max(0, .) */
    int pool;          /* then 2x2 max pooling: y is half the size */
} fer_winograd_epilogue;

/* y = the epilogue of conv(x, k), with k's transform from cache (NULL:
   none). */
void fer_winograd_forward(float *y, const float *x, const float *k, const fer_conv_dims *d,
                          const fer_winograd_epilogue *ep, float *scratch, fer_conv_kernel_cache *cache);

/* dx (may be NULL) = input gradient, dk (may be NULL) = kernel gradient,
   both overwritten, from dy already masked by the ReLU. dk comes first, so
   dx may be x itself. dx_mask: each dx value lands only where dx holds a
   positive value before (else 0): over x, the mask of the ReLU that
   produced x. */
void fer_winograd_backward(float *dx, float *dk, const float *dy, const float *x, const float *k,
                           const fer_conv_dims *d, int dx_mask, float *scratch);

#endif
