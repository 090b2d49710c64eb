/* Throughput and per-layer profile of the model on synthetic input, for
   `fer bench`: timed training steps (forward, loss, backward, optimizer
   update) with every layer or only a trainable suffix, and inference
   forwards. Prints nothing. */
#ifndef FER_BENCH_H
#define FER_BENCH_H

#include "fer/config.h"
#include "fer/error.h"
#include "fer/model.h"

#include <stdint.h>

typedef enum {
    FER_BENCH_FULL = 0, /* training step, every layer trainable */
    FER_BENCH_FROZEN,   /* training step from first_trainable on (the frozen-backbone stage) */
    FER_BENCH_INFER,    /* forward in inference mode (moving statistics, no dropout) */
    FER_BENCH_MODES
} fer_bench_mode;

typedef struct {
    int batch;                   /* samples per step, >= 1 */
    int steps;                   /* timed steps after one untimed warm-up, >= 1 */
    int first_trainable;         /* FER_BENCH_FROZEN's first trainable layer */
    fer_optimizer_cfg optimizer; /* the update ending each training step */
    uint64_t seed;               /* synthetic input, labels and dropout */
} fer_bench_cfg;

typedef struct {
    double step_seconds; /* median over the timed steps */
    double fastest_seconds;
    /* Median seconds per layer over the timed steps: forward of layer l at
       [l], backward at [FER_MAX_LAYERS + l] (0 for layers it skips). */
    double layer_seconds[2 * FER_MAX_LAYERS];
} fer_bench_result;

/* Runs one mode on m (reserving activations for c->batch samples; the
   trainable prefix is left as the mode set it). The parameters change (the
   steps really update them). Errors: bad cfg values, out of memory. */
int fer_bench_run(fer_model *m, fer_bench_mode mode, const fer_bench_cfg *c, fer_bench_result *r,
                  fer_err *err);

/* Forward FLOPs of one layer per sample (multiply-add = 2); 0 for layers
   without a matrix product. */
double fer_bench_layer_flops(const fer_layer *L);

/* FLOPs per sample of one step of the mode. FER_BENCH_INFER: the forward.
   FER_BENCH_FROZEN: what it really computes, the forward plus, for each
   convolution or dense layer from first_trainable on, its kernel gradient
   and, above first_trainable, its input gradient (each as much as its
   forward). FER_BENCH_FULL: the conventional 3 x forward (it also counts the
   first layer's input gradient, which is skipped: 1% of the seed's step). */
double fer_bench_step_flops(const fer_model *m, fer_bench_mode mode, int first_trainable);

/* Achieved GFLOP/s of the bf16 product kernel `kernel` (a bf16 kind that
   runs here) on n x n x n bf16 operands with fp32 sums, the rows shared by
   the team's threads (src/nn/team.h): the best of reps timed runs after a
   warm-up. n a multiple of 32 up to 8192. The bf16 runs' yardstick, as
   fer_sgemm_peak is the fp32 runs'. */
int fer_bf16_peak(fer_products kernel, int n, int reps, double *gflops, fer_err *err);

#endif
