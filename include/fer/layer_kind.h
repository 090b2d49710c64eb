/* What a layer kind is: one table per kind, in its own file
   src/nn/layer_NAME.c, listed once in include/fer/layer_kinds.def. Model
   building, the forward and backward passes and their memory planner,
   `fer summary`, `fer bench` and the config schema read these tables and
   name no kind themselves.

   Adding a kind: write src/nn/layer_NAME.c defining
   `const fer_layer_kind fer_layer_NAME`, add its line to layer_kinds.def,
   and give it a gradient check (tests/test_nn_gradcheck.c). */
#ifndef FER_LAYER_KIND_H
#define FER_LAYER_KIND_H

#include "fer/error.h"
#include "fer/model.h"

#include <stddef.h>

/* Facts the backward memory planner and the passes ask of a kind. */
enum {
    /* The input gradient may overwrite the output gradient: an
       element-wise backward (BatchNorm, ReLU, dropout). */
    FER_KIND_ELEMENTWISE = 1u << 0,
    /* The forward may write its output over its input (ReLU). */
    FER_KIND_IN_PLACE = 1u << 1,
    /* Backward compares the output with the input while it writes the
       input gradient (max pooling): no layer after it may run in place,
       and the input gradient may not go over its own output. */
    FER_KIND_EXACT_OUTPUT = 1u << 2,
    /* Backward reads the output only for the fused ReLU's mask: a layer
       above may write its input gradient over this output if it applies
       that mask (grad_over_input), and a backward pass seeded here puts the
       seed over the output, masked (a convolution). */
    FER_KIND_OUTPUT_ONLY_MASKED = 1u << 3,
    /* The output is a vector per sample (global average pooling, dense). */
    FER_KIND_FLATTENS = 1u << 4,
};

typedef struct fer_layer_kind {
    const char *name;        /* the config's `type` */
    const char *keras_class; /* for `fer summary`: Conv2D, Dense, ... */
    const char *keys[8];     /* layer config keys it takes beyond name and type, NULL-terminated */
    unsigned facts;          /* FER_KIND_* */
    /* Output shape (L->out_h, out_w, out_c, from L->in_* and L->cfg) and
       its weights in Keras order, added with fer_layer_add_weight. Fails
       when the layer does not fit its input. */
    int (*shape)(fer_layer *L, int classes, size_t offsets[2], fer_err *err);
    /* Forward multiply-adds times 2 per sample; NULL for none. */
    double (*flops)(const fer_layer *L);
    /* Whether backward reads the layer's own output. NULL: never. */
    int (*reads_output)(const fer_layer *L);
    /* Scratch floats the passes of layer l need for batches of max_n (the
       model's one shared scratch is the largest of these). NULL: none. */
    size_t (*scratch_floats)(const fer_model *m, int l, int max_n);
    /* Allocates layer l's per-batch state in the model's activation arena
       (src/nn/model_batch.h); returns 0 when out of memory. NULL: none. */
    int (*reserve)(fer_model *m, int l, int max_n);
    /* Forward of layer l over n samples from x into its output buffer;
       returns the number of layers it computed (2 when it also wrote the
       next layer's output, fusing the two). */
    int (*forward)(fer_model *m, int l, const float *x, int n, const fer_pass *p);
    /* Backward of layer l: dy its output gradient (may be changed in
       place), dx (NULL: not needed) its input gradient; the parameter
       gradients of a trainable layer. */
    void (*backward)(fer_model *m, int l, float *dy, float *dx, int n, const fer_pass *p);
    /* With FER_KIND_OUTPUT_ONLY_MASKED below it: whether layer l may
       write its input gradient over its input, applying the mask of the
       ReLU fused into the layer below. NULL: never. */
    int (*grad_over_input)(const fer_model *m, int l);
    /* Optional: when a training pass stops at the layer below l, the
       backward of both in one, without l's input gradient; returns 0 when
       it does not apply (the plain backward runs). */
    int (*backward_with_below)(fer_model *m, int l, float *dy, int stop, const float *input_grad,
                               const fer_pass *p);
} fer_layer_kind;

/* The kind of a layer type; NULL for a value outside the registry. */
const fer_layer_kind *fer_layer_kind_of(fer_layer_type t);

/* Whether kind k takes the layer config key `key` ("filters", ...). */
int fer_layer_kind_takes(const fer_layer_kind *k, const char *key);

/* Appends weight tensor `name` ("kernel:0", ...) of ndim dimensions to L,
   at offsets[in_stats] floats into the model's params (0) or BatchNorm
   statistics (1) buffer, and advances that offset. */
void fer_layer_add_weight(fer_layer *L, const char *name, int in_stats, int ndim, const int *shape,
                          size_t offsets[2]);

#endif
