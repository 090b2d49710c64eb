/* Direct 3x3 convolution for inputs with few channels (the first VGG
   layer: 3), private to src/nn/conv2d.c, which dispatches such forward
   passes here (see fer_conv_direct_applies). Same contract as
   fer_conv2d_forward. */
#ifndef FER_NN_CONV2D_DIRECT_H
#define FER_NN_CONV2D_DIRECT_H

#include "fer/nn.h"

/* True for 3x3 kernels over at most 4 input channels into a multiple of 16
   up to 64 output channels, on CPUs with AVX-512. */
int fer_conv_direct_applies(const fer_conv_dims *d);

/* y = act(conv(x, k) + b). */
void fer_conv_direct_forward(float *y, const float *x, const float *k, const float *b, const fer_conv_dims *d,
                             int relu);

#endif
