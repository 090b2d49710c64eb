/* Instruction-set detection with cpuid and xgetbv. A feature counts only when
   the OS also saves its registers: a CPU with AVX-512 under a kernel (or
   hypervisor) that does not enable the ZMM state would fault on the first
   AVX-512 instruction, and Linux hides such flags from /proc/cpuinfo too. */
#include "fer/cpu.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 bits: 1 SSE, 2 AVX (YMM upper halves), 5-7 AVX-512 (opmask, ZMM0-15
   upper halves, ZMM16-31), 17-18 AMX (tile configuration, tile data). */
enum { XCR0_YMM = 0x06, XCR0_ZMM = 0xe6, XCR0_TILE = 0x60000 };

static unsigned long long read_xcr0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static int bit(unsigned int reg, int n)
{
    return (int)((reg >> n) & 1u);
}

void fer_cpu_detect(fer_cpu_features *f)
{
    memset(f, 0, sizeof *f);
    unsigned int max_leaf = 0, a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0, &max_leaf, &b, &c, &d))
        return;
    memcpy(f->vendor, &b, 4);
    memcpy(f->vendor + 4, &d, 4);
    memcpy(f->vendor + 8, &c, 4);
    f->vendor[12] = '\0';

    __get_cpuid(1, &a, &b, &c, &d);
    int base_family = (int)((a >> 8) & 0xf), base_model = (int)((a >> 4) & 0xf);
    f->family = base_family == 0xf ? base_family + (int)((a >> 20) & 0xff) : base_family;
    f->model =
        base_family == 0x6 || base_family == 0xf ? base_model + (int)(((a >> 16) & 0xf) << 4) : base_model;
    f->sse4_1 = bit(c, 19);
    unsigned long long xcr0 = bit(c, 27) ? read_xcr0() : 0; /* OSXSAVE: xgetbv is allowed */
    int os_ymm = (xcr0 & XCR0_YMM) == XCR0_YMM;
    int os_zmm = (xcr0 & XCR0_ZMM) == XCR0_ZMM;
    int os_tile = (xcr0 & XCR0_TILE) == XCR0_TILE;
    f->avx = os_ymm && bit(c, 28);
    f->fma = os_ymm && bit(c, 12);
    if (max_leaf < 7)
        return;

    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    unsigned int max_subleaf = a;
    f->avx2 = os_ymm && bit(b, 5);
    f->avx512f = os_zmm && bit(b, 16);
    f->avx512dq = os_zmm && bit(b, 17);
    f->avx512bw = os_zmm && bit(b, 30);
    f->avx512vl = os_zmm && bit(b, 31);
    f->amx_bf16 = os_tile && bit(d, 22);
    f->amx_tile = os_tile && bit(d, 24);
    if (max_subleaf >= 1) {
        __get_cpuid_count(7, 1, &a, &b, &c, &d);
        f->avx512_bf16 = os_zmm && bit(a, 5);
    }
}

#else

void fer_cpu_detect(fer_cpu_features *f)
{
    memset(f, 0, sizeof *f);
}

#endif
