/* Which kernel computes a run's products (include/fer/precision.h). */
#include "fer/precision.h"

#include "fer/cpu.h"

#include <string.h>

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>

/* Linux keeps the AMX tile data out of a process's saved state until the
   process asks for it; a tile instruction before that raises SIGILL. */
enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };

static int request_tile_state(void)
{
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}
#else
static int request_tile_state(void)
{
    return 0;
}
#endif

const char *fer_products_name(fer_products p)
{
    switch (p) {
    case FER_PRODUCTS_BF16_REFERENCE:
        return "bf16 (reference)";
    case FER_PRODUCTS_BF16_AVX512:
        return "bf16 (avx512bf16)";
    case FER_PRODUCTS_BF16_AMX:
        return "bf16 (amx)";
    default:
        return "fp32";
    }
}

const char *fer_precision_name(fer_precision p)
{
    return p == FER_PRECISION_BF16 ? "bf16" : p == FER_PRECISION_AUTO ? "auto" : "fp32";
}

static int amx_runs(void)
{
    fer_cpu_features f;
    fer_cpu_detect(&f);
    /* The AMX kernel leaves row remainders to the AVX512-BF16 one; every
       CPU with AMX-BF16 so far has both. */
    return f.amx_tile && f.amx_bf16 && f.avx512_bf16 && request_tile_state();
}

static int avx512_bf16_runs(void)
{
    fer_cpu_features f;
    fer_cpu_detect(&f);
    return f.avx512_bf16 && f.avx512bw;
}

int fer_bf16_kernel_runs(fer_products k)
{
    switch (k) {
    case FER_PRODUCTS_BF16_REFERENCE:
        return 1;
    case FER_PRODUCTS_BF16_AVX512:
        return avx512_bf16_runs();
    case FER_PRODUCTS_BF16_AMX:
        return amx_runs();
    default:
        return 0;
    }
}

fer_products fer_bf16_best_kernel(void)
{
    if (amx_runs())
        return FER_PRODUCTS_BF16_AMX;
    if (avx512_bf16_runs())
        return FER_PRODUCTS_BF16_AVX512;
    return FER_PRODUCTS_FP32;
}

static int parse_override(const char *s, fer_products *k)
{
    static const struct {
        const char *name;
        fer_products kernel;
    } names[] = {{"amx", FER_PRODUCTS_BF16_AMX},
                 {"avx512bf16", FER_PRODUCTS_BF16_AVX512},
                 {"reference", FER_PRODUCTS_BF16_REFERENCE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *k = names[i].kernel;
            return 1;
        }
    return 0;
}

int fer_precision_resolve(fer_precision p, const char *override, fer_products *out, fer_err *err)
{
    *out = FER_PRODUCTS_FP32;
    if (p == FER_PRECISION_FP32)
        return FER_OK;
    if (override && *override) {
        fer_products k;
        if (!parse_override(override, &k))
            return fer_fail(err, "FER_BF16_KERNEL=%s: expected amx, avx512bf16 or reference", override);
        if (!fer_bf16_kernel_runs(k))
            return fer_fail(err, "FER_BF16_KERNEL=%s: this CPU (or the OS) cannot run that kernel", override);
        *out = k;
        return FER_OK;
    }
    *out = fer_bf16_best_kernel();
    /* auto wants speed: on the Xeon measured (docs/mixed-precision.md)
       AVX512-BF16 computed products at about the fp32 FMA's rate, so bf16
       convolutions could not catch up with fp32 Winograd, which needs 5
       times fewer products, and trained 3 times slower. AMX is the bf16
       unit expected to be faster; elsewhere auto stays fp32. */
    if (p == FER_PRECISION_AUTO && *out != FER_PRODUCTS_BF16_AMX)
        *out = FER_PRODUCTS_FP32;
    if (*out == FER_PRODUCTS_FP32 && p == FER_PRECISION_BF16)
        return fer_fail(err, "precision: bf16 needs a CPU with AMX-BF16 or AVX512-BF16, and this one has "
                             "neither (use precision: fp32 or auto; FER_BF16_KERNEL=reference runs the slow "
                             "portable kernel)");
    return FER_OK;
}
