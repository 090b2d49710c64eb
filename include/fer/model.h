/* The network: a table of layers built from fer_model_cfg, with flat
   parameter, gradient and statistics buffers that layers view into.

   Parameters (everything an optimizer updates: conv/dense kernel and bias,
   BatchNorm gamma and beta) live in one buffer ordered input to output, so the
   layers from the first trainable one onwards form one contiguous suffix:
   one allreduce, one memset, one optimizer loop. BatchNorm moving statistics
   (non-trainable in Keras) live in a separate `stats` buffer.

   Activations live in per-model batch buffers sized by fer_model_reserve(). */
#ifndef FER_MODEL_H
#define FER_MODEL_H

#include "fer/config.h"
#include "fer/error.h"
#include "fer/nn.h"

#include <stddef.h>
#include <stdint.h>

/* One weight tensor in Keras order (kernel, bias / gamma, beta, moving_mean,
   moving_variance), with its Keras name ("kernel:0", "moving_mean:0"). */
typedef struct {
    char name[32];
    int ndim;
    int shape[4];
    size_t count;
    int in_stats;  /* 1: lives in model->stats (BN moving statistics), 0: in params */
    size_t offset; /* in floats, into params/grads or stats */
} fer_weight;

typedef struct {
    fer_layer_cfg cfg;       /* name, type and hyper-parameters */
    int in_h, in_w, in_c;    /* per-sample input shape (NHWC without N) */
    int flat_input;          /* the input is a vector (after GAP or dense) */
    int out_h, out_w, out_c; /* per-sample output shape; GAP/dense: 1 x 1 x c */
    int n_weights;
    fer_weight weights[4];
    size_t n_params; /* floats this layer has in params */
    size_t n_stats;  /* floats in stats */
} fer_layer;

typedef struct fer_model_batch fer_model_batch; /* activations, private to src/nn (model_batch.h) */

typedef struct {
    fer_model_cfg cfg;
    int n_layers;
    fer_layer layers[FER_MAX_LAYERS];
    size_t n_params, n_stats;
    float *params;           /* owned */
    float *grads;            /* owned, same layout as params */
    float *stats;            /* owned */
    int first_trainable;     /* layer index; layers before it get no gradient */
    size_t trainable_offset; /* first float of the trainable suffix of params/grads */
    fer_model_batch *batch;  /* owned */
    fer_products products;   /* what computes conv and dense products (fp32 unless set) */
} fer_model;

/* Per-step context of a forward/backward pass. */
typedef struct {
    int training;              /* 1: batch statistics, dropout, moving-statistics update */
    int dropout;               /* 0 disables dropout even in training (reference checks) */
    uint64_t seed;             /* run seed */
    uint64_t step;             /* global step, keys dropout masks */
    const int64_t *sample_ids; /* global sample index of each local row (dropout keys) */
    fer_reducer reducer;       /* sums across ranks (synchronized BatchNorm); fn NULL = one rank */
    double *layer_seconds;     /* profiling (fer bench), NULL = off: when set (2 x n_layers doubles),
                                  forward adds layer l's wall time to [l], backward to [n_layers + l] */
    /* Optional (NULL = none): backward calls grad_ready(l, grad_ctx) as soon
       as trainable layer l's parameter gradients are final, output layer
       first, so their allreduce can start while backward goes on. */
    void (*grad_ready)(int layer, void *ctx);
    void *grad_ctx;
    /* 1: after this forward pass the caller reads only its logits, then at
       most runs fer_model_backward without input_grad: it reads no
       fer_model_activation() of a layer that no backward reaches (below the
       first trainable layer, or any layer of an inference pass). Such a
       convolution followed by max pooling then writes the pooled output
       alone (fer_conv2d_forward_pooled), and its own output keeps stale
       values. 0 (explain, tests): every layer keeps its output. */
    int skip_unread_outputs;
} fer_pass;

/* Builds the layer table from cfg (shapes, parameter counts), allocates the
   buffers and initializes them as Keras does (Glorot uniform kernels keyed by
   seed, zero biases, gamma 1, beta 0, moving mean 0, moving variance 1).
   Errors: impossible shapes (a valid conv on a too-small input, a layer after
   GAP that needs a spatial input), allocation failure. */
int fer_model_init(fer_model *m, const fer_model_cfg *cfg, uint64_t seed, fer_err *err);
void fer_model_free(fer_model *m);

/* Layer index by name, or -1. */
int fer_model_find(const fer_model *m, const char *name);

/* Makes layers from index `first` on trainable ("all" = 0). Gradients below
   it are never computed. */
void fer_model_set_trainable(fer_model *m, int first);

/* Has the model's convolution and dense products computed by `products`
   (include/fer/precision.h; a bf16 kind must run on this CPU). Call it
   before fer_model_reserve(): a change drops the activation buffers, which
   the next reserve makes again. Weights and every other layer stay fp32. */
void fer_model_set_products(fer_model *m, fer_products products);

/* Sizes the activation buffers for batches of up to max_n samples. */
int fer_model_reserve(fer_model *m, int max_n, fer_err *err);

/* Floats per sample that backward passes need beyond the layer outputs
   (activation gradients no dead output can hold). */
size_t fer_model_backward_spare_floats(const fer_model *m);

/* Pointer to weight w of layer l, in params or stats. */
float *fer_model_weight(const fer_model *m, int l, int w);
/* Gradient of weight w of layer l (NULL for statistics). */
float *fer_model_weight_grad(const fer_model *m, int l, int w);

/* Forward pass of n samples (x: n x in_h x in_w x in_c). Returns the logits
   (n x classes), owned by the model and valid until the next pass. */
const float *fer_model_forward(fer_model *m, const float *x, int n, const fer_pass *p);

/* Softmax cross-entropy of the last forward pass; fills the logits'
   gradient scaled by 1 / global_n and returns the weighted loss SUM over the
   n local samples. correct (may be NULL) gets the number of local argmax hits.
   probs (may be NULL) gets n x classes probabilities. */
double fer_model_loss(fer_model *m, const int *labels, const float *sample_weight, int n, long global_n,
                      int *correct, float *probs);

/* The same against soft targets (n x classes, rows summing to 1; see
   fer_soft_targets in include/fer/nn.h); correct counts argmax hits on
   `labels`. */
double fer_model_loss_soft(fer_model *m, const float *targets, const int *labels, const float *sample_weight,
                           int n, long global_n, int *correct);

/* Backward pass from the gradient fer_model_loss() stored; fills grads for
   the trainable suffix (this rank's contribution; the caller allreduces).
   With input_grad non-NULL, also returns d loss / d input (n x in_h x in_w x
   in_c) there, for saliency: then it backpropagates through every layer.
   The activation gradients reuse the activation buffers: after a backward
   pass, fer_model_activation() holds no forward results. */
void fer_model_backward(fer_model *m, const fer_pass *p, float *input_grad);

/* Backward pass seeded at the output of layer `from` with dy (n x that
   layer's output size), down to the input: input_grad gets d(sum dy*y)/dx.
   Parameter gradients of the layers it passes are overwritten too. For
   filter visualization and saliency. Overwrites the activations, as
   fer_model_backward() does. */
void fer_model_backward_from(fer_model *m, int from, const float *dy, const fer_pass *p, float *input_grad);

/* Output of layer l from the last forward pass (n x out_h x out_w x out_c). */
float *fer_model_activation(const fer_model *m, int l);

/* Floats per sample of layer l's output, and of the model input. */
size_t fer_layer_out_size(const fer_layer *L);
size_t fer_model_input_size(const fer_model *m);

/* Parameter counts as Keras reports them. */
size_t fer_model_total_params(const fer_model *m);
size_t fer_model_nontrainable_params(const fer_model *m); /* BN moving statistics */

/* Forward FLOPs per sample (multiply-add = 2). */
double fer_model_forward_flops(const fer_model *m);

#endif
