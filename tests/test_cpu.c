/* CPU features against /proc/cpuinfo, the OpenBLAS kernel decision on every
   case (a pure function, so no process is re-executed here), thread counts
   from the launcher's environment, the SGEMM self-check and peak. */
#include "check.h"

#include "fer/cpu.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

/* The first "flags" line of /proc/cpuinfo, or 0 when there is none (not
   Linux, not x86). */
static int read_cpuinfo_flags(char *flags, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5) && strchr(line, ':')) {
            snprintf(flags, n, " %s", strchr(line, ':') + 1);
            found = 1;
        }
    fclose(f);
    char *nl = strchr(flags, '\n');
    if (found && nl)
        *nl = ' ';
    return found;
}

static int has_flag(const char *flags, const char *name)
{
    char word[64];
    snprintf(word, sizeof word, " %s ", name);
    return strstr(flags, word) != NULL;
}

static void test_features_match_cpuinfo(void)
{
    char flags[8192];
    if (!read_cpuinfo_flags(flags, sizeof flags)) {
        printf("features: no flags line in /proc/cpuinfo, comparison skipped\n");
        return;
    }
    fer_cpu_features f;
    fer_cpu_detect(&f);
    const struct {
        const char *name;
        int ours;
    } pairs[] = {{"sse4_1", f.sse4_1},     {"avx", f.avx},           {"fma", f.fma},
                 {"avx2", f.avx2},         {"avx512f", f.avx512f},   {"avx512bw", f.avx512bw},
                 {"avx512dq", f.avx512dq}, {"avx512vl", f.avx512vl}, {"avx512_bf16", f.avx512_bf16},
                 {"amx_tile", f.amx_tile}, {"amx_bf16", f.amx_bf16}};
    printf("features: vendor %s family %d model %d; best OpenBLAS core %s\n", f.vendor, f.family, f.model,
           fer_blas_best_core(&f) ? fer_blas_best_core(&f) : "(generic only)");
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int theirs = has_flag(flags, pairs[i].name);
        printf("  %-12s cpuid+xgetbv %d  /proc/cpuinfo %d\n", pairs[i].name, pairs[i].ours, theirs);
        CHECK_MSG(pairs[i].ours == theirs, "%s", pairs[i].name);
    }
}

static void test_core_levels(void)
{
    CHECK(fer_blas_core_level("Prescott") == 1);
    CHECK(fer_blas_core_level("nehalem") == 1);
    CHECK(fer_blas_core_level("Sandybridge") == 2);
    CHECK(fer_blas_core_level("Haswell") == 3);
    CHECK(fer_blas_core_level("ZEN") == 3);
    CHECK(fer_blas_core_level("SkylakeX") == 4);
    CHECK(fer_blas_core_level("Cooperlake") == 4);
    CHECK(fer_blas_core_level("FutureLake") == 0);
    CHECK(fer_blas_core_level(NULL) == 0);

    fer_cpu_features sse = {.vendor = "GenuineIntel", .sse4_1 = 1};
    fer_cpu_features avx = {.vendor = "GenuineIntel", .sse4_1 = 1, .avx = 1};
    fer_cpu_features intel2 = {.vendor = "GenuineIntel", .sse4_1 = 1, .avx = 1, .fma = 1, .avx2 = 1};
    fer_cpu_features amd2 = intel2;
    strcpy(amd2.vendor, "AuthenticAMD");
    fer_cpu_features partial512 = intel2;
    partial512.avx512f = 1; /* Knights Landing: F without BW/DQ/VL */
    CHECK(fer_blas_best_core(&sse) == NULL);
    CHECK(!strcmp(fer_blas_best_core(&avx), "Sandybridge"));
    CHECK(!strcmp(fer_blas_best_core(&intel2), "Haswell"));
    CHECK(!strcmp(fer_blas_best_core(&amd2), "Zen"));
    CHECK(!strcmp(fer_blas_best_core(&partial512), "Haswell"));
    printf("core levels and best cores: checked 9 names and 5 CPUs\n");
}

typedef struct {
    const char *what;
    const fer_cpu_features *cpu;
    const char *loaded;
    fer_blas_env env;
    int reexec;
    const char *coretype; /* when reexec */
    const char *why_has;  /* a phrase the log line must contain */
} decide_case;

static void test_decide(void)
{
    fer_cpu_features avx512 = {.vendor = "AuthenticAMD", .sse4_1 = 1, .avx = 1, .fma = 1, .avx2 = 1};
    avx512.avx512f = avx512.avx512bw = avx512.avx512dq = avx512.avx512vl = avx512.avx512_bf16 = 1;
    fer_cpu_features intel2 = {.vendor = "GenuineIntel", .sse4_1 = 1, .avx = 1, .fma = 1, .avx2 = 1};
    fer_cpu_features amd2 = intel2;
    strcpy(amd2.vendor, "AuthenticAMD");
    fer_cpu_features sse = {.vendor = "GenuineIntel", .sse4_1 = 1};
    const decide_case cases[] = {
        {"generic core on AVX-512", &avx512, "Prescott", {0}, 1, "SkylakeX", "was Prescott; set by fer"},
        {"Zen core on AVX-512 Zen", &avx512, "Zen", {0}, 1, "SkylakeX", "was Zen"},
        {"empty OPENBLAS_CORETYPE is unset",
         &avx512,
         "Prescott",
         {"", 0, 0, 0},
         1,
         "SkylakeX",
         "was Prescott"},
        {"Sandybridge on AVX2 Intel", &intel2, "Sandybridge", {0}, 1, "Haswell", "was Sandybridge"},
        {"Nehalem on AVX2 AMD", &amd2, "Nehalem", {0}, 1, "Zen", "override with FER_BLAS_CORETYPE"},
        {"already Cooperlake", &avx512, "Cooperlake", {0}, 0, NULL, "chosen by OpenBLAS"},
        {"already SkylakeX", &avx512, "SkylakeX", {0}, 0, NULL, "chosen by OpenBLAS"},
        {"Haswell on AVX2", &intel2, "Haswell", {0}, 0, NULL, "chosen by OpenBLAS"},
        {"unknown newer core", &avx512, "FutureLake", {0}, 0, NULL, "chosen by OpenBLAS"},
        {"no core name", &avx512, NULL, {0}, 0, NULL, "chosen by OpenBLAS"},
        {"SSE-only CPU", &sse, "Prescott", {0}, 0, NULL, "chosen by OpenBLAS"},
        {"OPENBLAS_CORETYPE preset",
         &avx512,
         "Prescott",
         {"Prescott", 0, 0, 0},
         0,
         NULL,
         "OPENBLAS_CORETYPE=Prescott from the environment; this CPU also runs SkylakeX"},
        {"OPENBLAS_CORETYPE preset, good",
         &avx512,
         "Haswell",
         {"Haswell", 0, 0, 0},
         0,
         NULL,
         "this CPU also runs SkylakeX"},
        {"OPENBLAS_CORETYPE preset, best",
         &avx512,
         "SkylakeX",
         {"SkylakeX", 0, 0, 0},
         0,
         NULL,
         "OPENBLAS_CORETYPE=SkylakeX from the environment"},
        {"FER_BLAS_CORETYPE=keep", &avx512, "Prescott", {0, "keep", 0, 0}, 0, NULL, "FER_BLAS_CORETYPE=keep"},
        {"FER_BLAS_CORETYPE=Haswell over preset",
         &avx512,
         "Prescott",
         {"Prescott", "Haswell", 0, 0},
         1,
         "Haswell",
         "set by FER_BLAS_CORETYPE=Haswell"},
        {"FER_BLAS_CORETYPE names the loaded core",
         &avx512,
         "Haswell",
         {0, "haswell", 0, 0},
         0,
         NULL,
         "set by FER_BLAS_CORETYPE=haswell"},
        {"marker: never again",
         &avx512,
         "Prescott",
         {"SkylakeX", "SkylakeX", "1", "Prescott"},
         0,
         NULL,
         "asked for SkylakeX, OpenBLAS chose Prescott; was Prescott"},
        {"marker after a switch",
         &avx512,
         "SkylakeX",
         {"SkylakeX", 0, "1", "Prescott"},
         0,
         NULL,
         "was Prescott; set by fer, override with FER_BLAS_CORETYPE"},
        {"marker after a fallback",
         &avx512,
         "Prescott",
         {0, 0, "fallback:SkylakeX", "Prescott"},
         0,
         NULL,
         "SkylakeX failed the SGEMM self-check"},
        {"foreign marker", &avx512, "Prescott", {0, 0, "yes", 0}, 0, NULL, "FER_BLAS_REEXEC=yes set"},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        const decide_case *c = &cases[i];
        fer_blas_decision d;
        fer_blas_decide(c->cpu, c->loaded, &c->env, &d);
        printf("  decide %-40s -> %s %-9s (%s)\n", c->what, d.reexec ? "re-exec" : "keep", d.coretype, d.why);
        CHECK_MSG(d.reexec == c->reexec, "%s", c->what);
        if (c->reexec)
            CHECK_MSG(!strcmp(d.coretype, c->coretype), "%s: got %s", c->what, d.coretype);
        CHECK_MSG(strstr(d.why, c->why_has) != NULL, "%s: '%s' lacks '%s'", c->what, d.why, c->why_has);
    }
    printf("decide: %d cases compared\n", n);
}

static void test_local_ranks(void)
{
    const struct {
        fer_launch_env env;
        int want;
    } cases[] = {
        {{"2", "4", "8", "0"}, 2},   {{"x", "4", 0, 0}, 4},     {{0, 0, "2(x3),1", "3"}, 1},
        {{0, 0, "2(x3),1", "1"}, 2}, {{0, 0, "2(x3),1", 0}, 2}, {{0, 0, "2(x3),1", "4"}, 0},
        {{0, 0, "3,5", "1"}, 5},     {{0, 0, "2(x", "0"}, 0},   {{0, 0, "", 0}, 0},
        {{"0", "-1", 0, 0}, 0},      {{0, 0, 0, 0}, 0},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        int got = fer_local_ranks_from_env(&cases[i].env);
        CHECK_MSG(got == cases[i].want, "case %d: OMPI=%s NTASKS=%s TASKS=%s NODEID=%s: got %d want %d", i,
                  cases[i].env.ompi_local_size, cases[i].env.slurm_ntasks_per_node,
                  cases[i].env.slurm_tasks_per_node, cases[i].env.slurm_nodeid, got, cases[i].want);
    }
    printf("local ranks from launcher environment: %d cases compared\n", n);

    CHECK(fer_blas_threads_for(0, 2, 1) == 2);
    CHECK(fer_blas_threads_for(0, 2, 2) == 1);
    CHECK(fer_blas_threads_for(0, 1, 2) == 1); /* never 0 */
    CHECK(fer_blas_threads_for(0, 64, 4) == 16);
    CHECK(fer_blas_threads_for(0, 8, 0) == 8);
    CHECK(fer_blas_threads_for(3, 64, 4) == 3);
    printf("threads per rank: 6 cases compared\n");
}

static void test_ranks_sharing(void)
{
    cpu_set_t masks[4];
    for (int i = 0; i < 4; i++) {
        CPU_ZERO(&masks[i]);
        CPU_SET(i, &masks[i]); /* bound to one core each */
    }
    CHECK(fer_cpu_ranks_sharing(masks, 4, 2) == 1);
    for (int i = 0; i < 4; i++) {
        CPU_ZERO(&masks[i]);
        for (int cpu = 4 * (i / 2); cpu < 4 * (i / 2) + 4; cpu++)
            CPU_SET(cpu, &masks[i]); /* two ranks per 4-core socket */
    }
    CHECK(fer_cpu_ranks_sharing(masks, 4, 0) == 2);
    CHECK(fer_cpu_ranks_sharing(masks, 4, 3) == 2);
    for (int i = 0; i < 4; i++)
        CPU_SET(0, &masks[i]); /* everyone may use core 0 */
    CHECK(fer_cpu_ranks_sharing(masks, 4, 1) == 4);
    CHECK(fer_cpu_ranks_sharing(masks, 4, 7) == 1);
    printf("ranks sharing cores: 5 mask layouts compared\n");
}

static void test_set_threads(void)
{
    char desc[512];
    fer_err err = {{0}};
    CHECK(fer_blas_set_threads(1, 0, 0, desc, sizeof desc, &err) == FER_OK);
    printf("set threads (configured 1): %s\n", desc);
    CHECK(openblas_get_num_threads() == 1);
    CHECK(strstr(desc, "1 BLAS thread (distribution.threads") != NULL);

    int cores = fer_cpu_affinity_count();
    CHECK(fer_blas_set_threads(0, 1, 3, desc, sizeof desc, &err) == FER_OK);
    printf("set threads (automatic, 1 rank sharing %d cores): %s\n", cores, desc);
    int actual = openblas_get_num_threads();
    CHECK(actual == cores || (actual < cores && strstr(desc, "OpenBLAS caps") != NULL));
    CHECK(strstr(desc, "rank 3 on host ") != NULL);

    CHECK(fer_blas_set_threads(-1, 0, 0, desc, sizeof desc, &err) == FER_ERROR);
    printf("set threads (-1): %s\n", err.msg);
    CHECK(strstr(err.msg, "distribution.threads") != NULL);
}

static void test_self_check_and_peak(void)
{
    double e = -1.0;
    int ok = fer_blas_self_check(&e);
    printf("SGEMM self-check with core %s: max rel err %.2e (tol 1e-4)\n", openblas_get_corename(), e);
    CHECK(ok);
    CHECK(e >= 0.0 && e < 1e-4);

    double gflops = 0.0;
    fer_err err = {{0}};
    CHECK(fer_sgemm_peak(256, 2, &gflops, &err) == FER_OK);
    printf("SGEMM 256: %.1f GFLOP/s on %d threads (must be > 0.1)\n", gflops, openblas_get_num_threads());
    CHECK(gflops > 0.1);
    CHECK(fer_sgemm_peak(0, 2, &gflops, &err) == FER_ERROR);
    CHECK(fer_sgemm_peak(16, 0, &gflops, &err) == FER_ERROR);
    printf("SGEMM peak bad arguments: %s\n", err.msg);
}

int main(void)
{
    test_features_match_cpuinfo();
    test_core_levels();
    test_decide();
    test_local_ranks();
    test_ranks_sharing();
    test_set_threads();
    test_self_check_and_peak();
    return check_report("test_cpu");
}
