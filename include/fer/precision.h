/* The precision of a run's products, and the kernel that computes them.

   In bf16 (mixed precision), convolution and dense products (forward,
   input gradient, kernel gradient) take bfloat16 operands, rounded to
   nearest even from the fp32 tensors, and accumulate in fp32. Everything
   else stays fp32: master weights, optimizer state, BatchNorm, softmax and
   loss, the gradient allreduce, checkpoints (docs/mixed-precision.md).

   Three kernels compute the bf16 products, chosen at run time:
     amx        Intel AMX tiles (_tile_dpbf16ps), Sapphire Rapids and later
     avx512bf16 AVX512-BF16 (vdpbf16ps), Cooper Lake, Zen 4 and later
     reference  plain C, any CPU: slow, for tests and comparisons
   FER_BF16_KERNEL=amx|avx512bf16|reference forces one. */
#ifndef FER_PRECISION_H
#define FER_PRECISION_H

#include "fer/error.h"

#include <stddef.h>

/* The config's top-level `precision` key; fp32 is the default. */
typedef enum { FER_PRECISION_FP32 = 0, FER_PRECISION_BF16, FER_PRECISION_AUTO } fer_precision;

/* FER_PRODUCTS_FP32 (0): the products are fp32, fer's fp32 kernels. */
typedef enum {
    FER_PRODUCTS_FP32 = 0,
    FER_PRODUCTS_BF16_REFERENCE,
    FER_PRODUCTS_BF16_AVX512,
    FER_PRODUCTS_BF16_AMX
} fer_products;

/* "fp32", "bf16 (amx)", ... for logs. */
const char *fer_products_name(fer_products p);
/* "fp32", "bf16", "auto". */
const char *fer_precision_name(fer_precision p);

/* The fastest bf16 kernel this CPU and OS run, FER_PRODUCTS_FP32 when
   neither AMX-BF16 nor AVX512-BF16 is usable. For AMX it asks Linux for
   the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM) first, once per
   process; a refusal leaves AVX512-BF16 or nothing. */
fer_products fer_bf16_best_kernel(void);

/* Whether kernel k can run here (reference: always). */
int fer_bf16_kernel_runs(fer_products k);

/* The products a run with precision p computes: fp32 for fp32; for bf16
   the kernel forced by `override` (FER_BF16_KERNEL's value, NULL or "" for
   none) or else the best one; for auto, bf16 with AMX, else fp32. Fails (one line in err) for bf16 on a CPU
   without bf16 products and no override, for an unknown override, and for an override naming a kernel this
   CPU cannot run. auto takes AMX only (or an override): AVX512-BF16 alone was slower than fer's fp32 kernels.
 */
int fer_precision_resolve(fer_precision p, const char *override, fer_products *out, fer_err *err);

#endif
