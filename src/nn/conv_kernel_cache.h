/* The contents of fer_conv_kernel_cache (declared in fer/nn.h), private to
   src/nn: the layers embed it zero-initialized in the activation arena
   (model_batch.h), the Winograd path (conv2d_winograd.c) fills it. */
#ifndef FER_NN_CONV_KERNEL_CACHE_H
#define FER_NN_CONV_KERNEL_CACHE_H

#include "fer/nn.h"

#include <stddef.h>

struct fer_conv_kernel_cache {
    float *k, *u; /* the kernel the transform came from, and the transform */
    size_t k_floats, u_floats;
    int form; /* how u is laid out: conv2d_winograd.c's kernel_form */
};

#endif
