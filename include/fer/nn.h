/* Layer kernels: pure functions over NHWC float32 tensors. Each kind lives in
   its own file under src/nn/ with forward and backward side by side. Kernels own
   nothing: callers pass every buffer, and scratch space sized by the matching
   *_scratch_floats() function. Backward functions OVERWRITE their parameter
   gradients (one call per step); dx may be NULL when no input gradient is
   needed (the first trainable layer stops backpropagation there). */
#ifndef FER_NN_H
#define FER_NN_H

#include "fer/precision.h"

#include <stddef.h>
#include <stdint.h>

/* ---- reduction hook (synchronized BatchNorm) ----------------------------
   Sums buf[0..count) across all ranks in place. A NULL hook (or NULL fn)
   means a single process: nothing to do. */
typedef struct {
    void (*fn)(double *buf, int count, void *ctx);
    void *ctx;
} fer_reducer;

static inline void fer_reduce(const fer_reducer *r, double *buf, int count)
{
    if (r && r->fn)
        r->fn(buf, count, r->ctx);
}

/* ---- conv2d: stride 1, square kernel k (odd), padding same or valid ------
   y[n,h,w,co] = b[co] + sum_{i,j,ci} x[n, h+i-pad, w+j-pad, ci] * k[i,j,ci,co]
   x: n x h x w x ci,  k: k x k x ci x co (HWIO, Keras),  b: co,
   y: n x ho x wo x co with ho = h - k + 1 + 2 pad. With relu, y = max(0, .). */
typedef struct {
    int n, h, w, ci, co, k, pad, ho, wo;
} fer_conv_dims;

/* Fills ho, wo and pad from n, h, w, ci, co, k and padding_same. */
void fer_conv_dims_init(fer_conv_dims *d, int n, int h, int w, int ci, int co, int k, int padding_same);
size_t fer_conv2d_scratch_floats(const fer_conv_dims *d);
void fer_conv2d_forward(float *y, const float *x, const float *k, const float *b, const fer_conv_dims *d,
                        int relu, float *scratch);
/* The transformed form of a kernel that stays the same from one forward
   pass to the next (a frozen layer's): kept with a copy of the kernel it
   came from, so a forward transforms again only when the kernel differs
   from the copy. Zero-initialize it; it owns its buffers. Its contents are
   private to src/nn (src/nn/conv_kernel_cache.h). */
typedef struct fer_conv_kernel_cache fer_conv_kernel_cache;
void fer_conv_kernel_cache_free(fer_conv_kernel_cache *c);
/* fer_conv2d_forward that takes the transformed kernel from cache (NULL:
   none). Results are the same bits as without it. Where no transform
   applies, or memory for the cache runs short, it runs uncached. */
void fer_conv2d_forward_cached(float *y, const float *x, const float *k, const float *b,
                               const fer_conv_dims *d, int relu, float *scratch,
                               fer_conv_kernel_cache *cache);
/* fer_maxpool2_forward of fer_conv2d_forward_cached's output, the same
   bits, written straight from the convolution (y: n x ho/2 x wo/2 x co):
   the full-size output is never written nor read back. For a convolution
   whose output nothing but the pooling reads and no backward pass needs.
   Only where fer_conv2d_pool_fusable(d). */
int fer_conv2d_pool_fusable(const fer_conv_dims *d);
void fer_conv2d_forward_pooled(float *y, const float *x, const float *k, const float *b,
                               const fer_conv_dims *d, int relu, float *scratch,
                               fer_conv_kernel_cache *cache);
/* dy is masked in place by y > 0 when relu is set. dx, dk and db may each be
   NULL (skipped). */
void fer_conv2d_backward(float *dx, float *dk, float *db, float *dy, const float *x, const float *k,
                         const float *y, const fer_conv_dims *d, int relu, float *scratch);
/* Whether fer_conv2d_backward_over_input runs for d (the Winograd path). */
int fer_conv2d_backward_over_input_ok(const fer_conv_dims *d);
/* fer_conv2d_backward with the input gradient written over the input x_dx
   itself, once dk is done. With relu_below set, the input came out of a
   ReLU, whose mask is applied as it is overwritten: the gradient is kept
   only where the input is positive. */
void fer_conv2d_backward_over_input(float *x_dx, float *dk, float *db, float *dy, const float *k,
                                    const float *y, const fer_conv_dims *d, int relu, int relu_below,
                                    float *scratch);

/* The same convolution with bf16 products (include/fer/precision.h): x,
   dy and k rounded to bf16 as they enter a product, fp32 sums; bias,
   ReLU, its mask and db in fp32 as above. kernel is a bf16 kind that runs
   here. scratch: fer_conv2d_bf16_scratch_floats(d) floats. Each output
   element is within the fp32 summation bound of the exact result on the
   rounded operands (src/nn/bf16_gemm.h), and no result depends on the
   thread count. */
size_t fer_conv2d_bf16_scratch_floats(const fer_conv_dims *d);
void fer_conv2d_forward_bf16(fer_products kernel, float *y, const float *x, const float *k, const float *b,
                             const fer_conv_dims *d, int relu, float *scratch);
void fer_conv2d_backward_bf16(fer_products kernel, float *dx, float *dk, float *db, float *dy, const float *x,
                              const float *k, const float *y, const fer_conv_dims *d, int relu,
                              float *scratch);

/* ---- 2x2 max pooling, stride 2, floor (Keras 'valid') ---------------------
   x: n x h x w x c, y: n x h/2 x w/2 x c. Ties: the gradient goes to the first
   maximum in row-major window order, exactly one element per window. */
void fer_maxpool2_forward(float *y, const float *x, int n, int h, int w, int c);
/* dx is fully written (zero where no gradient flows). */
void fer_maxpool2_backward(float *dx, const float *dy, const float *x, const float *y, int n, int h, int w,
                           int c);
/* The same with dx over x: x_dx holds the input and receives its gradient
   (windows do not overlap, and each is read before it is written). With
   relu_below set, x came out of a ReLU whose mask is applied here, since x
   is overwritten: no gradient where a window's maximum is not positive (dy
   is masked in place). */
void fer_maxpool2_backward_in_place(float *x_dx, float *dy, const float *y, int n, int h, int w, int c,
                                    int relu_below);

/* ---- BatchNormalization over the last axis --------------------------------
   rows = n*h*w local rows of c channels. Training mode normalizes with the
   batch mean and the biased batch variance of ALL ranks' rows (sums of x and
   x^2 go through the reducer), then updates the moving statistics as Keras 2.2
   does: moving = momentum * moving + (1 - momentum) * batch, where the batch
   variance put into moving_var is unbiased (times m / (m - 1), m = global rows).
   save_mean and save_invstd (c each) keep what backward needs. Returns the
   global row count m. */
long fer_batchnorm_forward_train(float *y, const float *x, const float *gamma, const float *beta,
                                 float *moving_mean, float *moving_var, float *save_mean, float *save_invstd,
                                 int rows, int c, float momentum, float eps, const fer_reducer *r);
void fer_batchnorm_forward_infer(float *y, const float *x, const float *gamma, const float *beta,
                                 const float *moving_mean, const float *moving_var, int rows, int c,
                                 float eps);
/* Global sums of dy and dy * xhat go through the reducer; dgamma and dbeta are
   this rank's partial sums (the gradient allreduce adds the rest). */
void fer_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *gamma, const float *save_mean, const float *save_invstd, int rows,
                            long global_rows, int c, const fer_reducer *r);

/* xhat = (x - mean) * invstd, the normalized input before gamma and beta,
   as fer_batchnorm_backward computes it. */
void fer_batchnorm_normalized(float *xhat, const float *x, const float *mean, const float *invstd, int rows,
                              int c);
/* The parameter gradients of a batch normalization (y = gamma * xhat +
   beta, c = ci channels) read by a valid convolution (kernel k, taps x ci x
   co, no padding), without the convolution's input gradient. On entry dk
   holds the convolution's kernel gradient computed from xhat in place of
   y, and s its bias gradient; on return dk holds the kernel gradient for y,
   and dgamma and dbeta the normalization's (src/nn/batchnorm_fold.c). For
   a normalization whose input gradient nothing needs. */
void fer_batchnorm_fold_conv_grads(float *dk, float *dgamma, float *dbeta, const float *k, const float *s,
                                   const float *gamma, const float *beta, int taps, int ci, int co);

/* ---- ReLU ------------------------------------------------------------------ */
void fer_relu_forward(float *y, const float *x, size_t count);
/* dx = dy where y > 0; dx may alias dy. */
void fer_relu_backward(float *dx, const float *dy, const float *y, size_t count);

/* ---- inverted dropout -----------------------------------------------------
   Sample s keeps element e when fer_uniform(sample_keys[s], e) >= rate and then
   scales it by 1 / (1 - rate), so the mask depends only on the sample's key
   (seed, step, global sample index, layer), never on the rank.
   x, y: n x per_sample. mask: n x per_sample bytes (1 kept, 0 dropped). */
void fer_dropout_forward(float *y, uint8_t *mask, const float *x, int n, size_t per_sample, float rate,
                         const uint64_t *sample_keys);
void fer_dropout_backward(float *dx, const float *dy, const uint8_t *mask, int n, size_t per_sample,
                          float rate);

/* ---- global average pooling: x n x hw x c -> y n x c ---------------------- */
void fer_gap_forward(float *y, const float *x, int n, int hw, int c);
void fer_gap_backward(float *dx, const float *dy, int n, int hw, int c);

/* ---- dense: y[n,o] = b[o] + sum_i x[n,i] W[i,o] (Keras kernel: in x out) -- */
void fer_dense_forward(float *y, const float *x, const float *w, const float *b, int n, int in, int out,
                       int relu);
/* dy is masked in place when relu is set; dx, dw, db may be NULL. */
void fer_dense_backward(float *dx, float *dw, float *db, float *dy, const float *x, const float *w,
                        const float *y, int n, int in, int out, int relu);

/* ---- softmax cross-entropy from logits (log-sum-exp, stable) --------------
   probs (may be NULL) gets softmax(logits). dlogits (may be NULL) gets
   scale * w_i * (softmax - onehot) where w_i = sample_weight[i] or 1.
   Returns sum_i w_i * (-log softmax(logits_i)[label_i]) over the n local rows,
   in double; the caller divides by the global count (and passes scale =
   1 / global count) so shards of any size combine into the global mean. */
double fer_softmax_xent(float *dlogits, float *probs, const float *logits, const int *labels,
                        const float *sample_weight, int n, int k, double scale);

/* The same with soft targets (n x k, each row summing to 1): returns
   sum_i w_i * sum_j -t_ij log softmax(logits_i)_j and puts
   scale * w_i * (softmax - t_i) in dlogits. A non-finite target gives a
   NaN loss. */
double fer_softmax_xent_soft(float *dlogits, float *probs, const float *logits, const float *targets,
                             const float *sample_weight, int n, int k, double scale);

/* Targets of label smoothing and mixup: row i is
   lambda_i * s(labels_i) + (1 - lambda_i) * s(mix_labels_i) with
   s(y) = (1 - smoothing) * onehot(y) + smoothing / k (Keras's and PyTorch's
   label_smoothing). mix_labels and mix_lambda may be NULL (no mixup). A
   label outside [0, k) makes its row NaN. */
void fer_soft_targets(float *targets, const int *labels, const int *mix_labels, const float *mix_lambda,
                      int n, int k, double smoothing);

/* ---- initialization (Keras defaults) -------------------------------------
   Glorot uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)), with
   fan_in = receptive * in, fan_out = receptive * out (receptive = k*k for a
   conv kernel, 1 for dense). Draws are keyed (counter-based RNG). */
void fer_glorot_uniform(float *w, size_t count, int fan_in, int fan_out, uint64_t key);

#endif
