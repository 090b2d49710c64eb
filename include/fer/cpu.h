/* The CPU and the BLAS it runs: instruction-set detection (cpuid), the choice
   of OpenBLAS kernel, BLAS threads per rank, and the machine's SGEMM peak.

   Why the kernel choice exists: Debian 12's OpenBLAS 0.3.21 (DYNAMIC_ARCH)
   picks its kernels once, when the library loads, from OPENBLAS_CORETYPE or
   its own cpuid table. A CPU newer than that table, or an environment that
   presets OPENBLAS_CORETYPE, can leave a process on a generic SSE kernel
   (Prescott) that is several times slower than the AVX-512 one the CPU can
   run. Because the choice happens at load time, the only way to change it is
   to set OPENBLAS_CORETYPE and re-execute the process; fer does that at the
   very start of main(), before MPI_Init and before any BLAS call.

   Environment read (and written before a re-exec):
     OPENBLAS_CORETYPE       OpenBLAS's own override. When the user set it,
                             fer keeps it (and says so in the description).
     FER_BLAS_CORETYPE       "keep": never switch. Any other value: an
                             OpenBLAS core name fer forces (e.g. SkylakeX),
                             even over a preset OPENBLAS_CORETYPE.
     FER_BLAS_REEXEC         Set by fer when it re-executes: "1" after a
                             switch, "fallback:<core>" after the switched
                             kernel failed the SGEMM self-check and fer went
                             back to the original setting. While it is set,
                             fer never re-executes for a switch again, so the
                             process cannot loop.
     FER_BLAS_FROM           The core OpenBLAS had loaded before the switch.
     FER_BLAS_ORIG_CORETYPE  The user's OPENBLAS_CORETYPE before the switch
                             (absent when there was none); the fallback
                             restores it. */
#ifndef FER_CPU_H
#define FER_CPU_H

#include "fer/error.h"

#include <sched.h>
#include <stddef.h>

/* ---- instruction sets --------------------------------------------------- */

/* Every flag means both that cpuid reports the instructions and that the OS
   saves the registers they use (XCR0 via xgetbv), i.e. they are usable; this
   matches the flags Linux lists in /proc/cpuinfo. All zero off x86. */
typedef struct {
    char vendor[13];   /* "GenuineIntel", "AuthenticAMD", ... ("" off x86) */
    int family, model; /* display family and model (base + extended) */
    int sse4_1, avx, fma, avx2;
    int avx512f, avx512bw, avx512dq, avx512vl, avx512_bf16;
    /* AMX: the tile unit and its bf16 product, with XCR0's tile state
       enabled. Linux also wants each process to ask for the tile data
       state before its first tile instruction (fer_bf16_kernel_best). */
    int amx_tile, amx_bf16;
} fer_cpu_features;

/* Fills f from cpuid/xgetbv of the CPU this runs on. Cannot fail. */
void fer_cpu_detect(fer_cpu_features *f);

/* Number of CPUs in this process's affinity mask (at least 1). */
int fer_cpu_affinity_count(void);

/* This process's affinity mask (all CPUs online when it cannot be read); a
   caller exchanges it between the ranks of a node to count who shares cores. */
void fer_cpu_affinity(cpu_set_t *mask);

/* Among n masks (one per rank of a node), the number whose CPUs overlap
   masks[me], me included: the ranks that compete for this rank's cores.
   1 when ranks are bound to disjoint cores, n when nobody is bound. */
int fer_cpu_ranks_sharing(const cpu_set_t *masks, int n, int me);

/* ---- the OpenBLAS kernel ------------------------------------------------ */

/* Kernel families by the widest vector unit their SGEMM uses:
   1 SSE (Prescott, Core2, Nehalem, Atom, Opteron, ...), 2 AVX (Sandybridge,
   Bulldozer .. Excavator), 3 AVX2+FMA (Haswell, Zen), 4 AVX-512 (SkylakeX,
   Cooperlake, SapphireRapids); 0 for a name fer does not know (a newer core
   is assumed to be fine). Case-insensitive, like OpenBLAS. */
int fer_blas_core_level(const char *core);

/* The OpenBLAS core fer would force on this CPU: "SkylakeX" (AVX-512 F, BW,
   DQ, VL), "Zen" (AMD/Hygon with AVX2+FMA), "Haswell" (AVX2+FMA),
   "Sandybridge" (AVX), or NULL when only SSE kernels fit. AVX-512 BF16 CPUs
   also get "SkylakeX": Cooperlake's SGEMM is the SkylakeX kernel, and 0.3.21
   cannot select Cooperlake by name ("Core not found"). */
const char *fer_blas_best_core(const fer_cpu_features *cpu);

/* The environment the decision reads; NULL for an unset variable. */
typedef struct {
    const char *openblas_coretype; /* OPENBLAS_CORETYPE */
    const char *fer_coretype;      /* FER_BLAS_CORETYPE */
    const char *reexec_marker;     /* FER_BLAS_REEXEC */
    const char *from_core;         /* FER_BLAS_FROM */
} fer_blas_env;

typedef struct {
    int reexec;        /* 1: re-execute with OPENBLAS_CORETYPE = coretype */
    char coretype[32]; /* the core to force when reexec is 1 */
    char why[256];     /* the log's parenthesis, e.g. "chosen by OpenBLAS" or
                          "was Prescott; set by fer, override with FER_BLAS_CORETYPE" */
} fer_blas_decision;

/* Whether to re-execute, as a pure function of the CPU, the core OpenBLAS
   loaded and the environment, in this order:
     marker set                      -> keep (never switch twice)
     FER_BLAS_CORETYPE=keep          -> keep
     FER_BLAS_CORETYPE=<name>        -> switch to <name> unless already loaded
     OPENBLAS_CORETYPE set           -> keep (the user's choice)
     known core below the CPU's best -> switch to fer_blas_best_core()
     otherwise                       -> keep. */
void fer_blas_decide(const fer_cpu_features *cpu, const char *loaded_core, const fer_blas_env *env,
                     fer_blas_decision *d);

/* Multiplies small matrices (odd sizes, all transpose cases) with
   cblas_sgemm and with a double-precision loop; stores the largest error
   relative to the result's magnitude in *max_rel_err and returns 1 when it
   is within float rounding (1e-4), 0 when the kernel computes wrong results. */
int fer_blas_self_check(double *max_rel_err);

/* Stage 1, the first thing main() calls, once per process: before MPI_Init,
   before the config is read, before any BLAS call. argv is main's argv
   (NULL-terminated). Commands that log it get desc from main (cli_setup in
   src/cli/commands.h) rather than calling it again.
   Detects the CPU, decides (fer_blas_decide), and when it must switch sets
   OPENBLAS_CORETYPE and the markers and execv()s /proc/self/exe with the
   same argv: on success it does not return, and the new process calls it
   again from the top. Then runs fer_blas_self_check(); when a kernel fer
   forced fails it, re-executes once more with the user's original setting.
   Writes one line into desc for the log, e.g.
   "OpenBLAS 0.3.21 core SkylakeX (was Prescott; set by fer, override with
   FER_BLAS_CORETYPE)". Prints nothing. Fails when the running kernel fails
   the self-check and there is nothing to fall back to (err says which core
   and how to choose another). */
int fer_blas_setup(char **argv, char *desc, size_t desc_len, fer_err *err);

/* ---- threads ------------------------------------------------------------ */

/* The launcher's environment; NULL for an unset variable. */
typedef struct {
    const char *ompi_local_size;       /* OMPI_COMM_WORLD_LOCAL_SIZE */
    const char *slurm_ntasks_per_node; /* SLURM_NTASKS_PER_NODE */
    const char *slurm_tasks_per_node;  /* SLURM_TASKS_PER_NODE, e.g. "2(x3),1" */
    const char *slurm_nodeid;          /* SLURM_NODEID: which entry above */
} fer_launch_env;

/* Ranks on this node according to the launcher, first of the fields above
   that parses to a positive count; 0 when none does. Pure. */
int fer_local_ranks_from_env(const fer_launch_env *env);

/* BLAS threads for one rank: configured when > 0, else cores / sharing_ranks,
   at least 1. cores: CPUs in this rank's affinity; sharing_ranks: ranks of
   this node competing for them (<= 0 counts as 1). Pure. */
int fer_blas_threads_for(int configured, int cores, int sharing_ranks);

/* Stage 2, once the config is loaded and MPI is up: sets OpenBLAS's thread
   count (openblas_set_num_threads) for this rank. configured:
   distribution.threads (> 0 forces it, 0 = automatic, < 0 is an error).
   sharing_ranks: how many ranks of this node compete for this rank's cores.
   Exact: fer_cpu_ranks_sharing() over the affinity masks of the node
   communicator (1 when mpirun or srun bound ranks to their own cores). Else
   the node communicator's size. 0 reads the launcher's environment
   (fer_local_ranks_from_env, 1 when nothing is set). rank is only for the
   description, e.g. "rank 0 on host h: 2 BLAS threads (2 cores / 1 rank
   sharing them)". Prints nothing. */
int fer_blas_set_threads(int configured, int sharing_ranks, int rank, char *desc, size_t desc_len,
                         fer_err *err);

/* ---- SGEMM peak --------------------------------------------------------- */

/* Achieved GFLOP/s (2 n^3 / seconds) of cblas_sgemm, C = A B on row-major
   n x n matrices, with the threads OpenBLAS currently uses: the best of reps
   timed runs after one untimed warm-up. n in 1..16384, reps >= 1. */
int fer_sgemm_peak(int n, int reps, double *gflops, fer_err *err);

#endif
