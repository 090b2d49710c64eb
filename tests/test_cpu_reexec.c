/* fer_blas_setup in real processes: the parent starts this executable once
   per case with a prepared environment; each child calls fer_blas_setup at
   the top of main, as fer's main() does, and checks which OpenBLAS core it
   ends up with and how many times it was executed. A looping re-exec is
   caught by alarm(), which survives execv. A kernel that computes wrong
   results is simulated by interposing cblas_sgemm (this executable's
   definition wins over libopenblas's for libfer's calls): when the loaded
   core is FER_TEST_BROKEN_CORE, it corrupts the product. */
#include "check.h"

#include "fer/cpu.h"

#include <cblas.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define EXEC_COUNT "FER_TEST_EXEC_COUNT"

typedef struct {
    const char *name;
    const char *env[5];   /* NAME=value entries added to a clean environment */
    const char *expect;   /* the core the child must end up with; "best" = at least the CPU's best level */
    int executions;       /* 1: no re-exec, 2: one re-exec, 0: either */
    const char *desc_has; /* a phrase the description must contain; NULL: the one
                             that matches the executions */
} reexec_case;

/* ---- a kernel that can be broken on purpose ------------------------------ */

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE,
                         const blasint, const blasint, const blasint, const float, const float *,
                         const blasint, const float *, const blasint, const float, float *, const blasint);

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const blasint m, const blasint n, const blasint k, const float alpha, const float *a,
                 const blasint lda, const float *b, const blasint ldb, const float beta, float *c,
                 const blasint ldc)
{
    sgemm_fn real = NULL;
    void *sym = dlsym(RTLD_NEXT, "cblas_sgemm");
    memcpy(&real, &sym, sizeof real);
    if (!real)
        abort();
    real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    const char *broken = getenv("FER_TEST_BROKEN_CORE");
    if (broken && !strcasecmp(broken, openblas_get_corename()) && m > 0 && n > 0)
        c[0] += 1.0f;
}

/* ---- child -------------------------------------------------------------- */

static int count_execution(void)
{
    const char *s = getenv(EXEC_COUNT);
    int n = (s ? atoi(s) : 0) + 1;
    char buf[16];
    snprintf(buf, sizeof buf, "%d", n);
    setenv(EXEC_COUNT, buf, 1);
    return n;
}

static int run_child(char **argv)
{
    alarm(30); /* a re-exec loop would never reach the checks */
    count_execution();
    char desc[512] = "";
    fer_err err = {{0}};
    int rc = fer_blas_setup(argv, desc, sizeof desc, &err);
    const char *expect = argv[3];
    int executions = atoi(argv[4]);
    const char *desc_has = argv[5];
    int ran = atoi(getenv(EXEC_COUNT));
    if (executions == 0) {
        executions = ran == 2 ? 2 : 1;
        desc_has = ran == 2 ? "set by fer, override with FER_BLAS_CORETYPE" : "chosen by OpenBLAS";
    }
    const char *core = openblas_get_corename();
    const char *said = rc == FER_OK ? desc : err.msg;
    printf("  case %-28s core %-10s executions %d (want %d)  \"%s\"\n", argv[2], core, ran, executions, said);
    CHECK(ran == executions);
    CHECK_MSG(strstr(said, desc_has) != NULL, "'%s' lacks '%s'", said, desc_has);
    if (!strcmp(expect, "error")) {
        CHECK_MSG(rc == FER_ERROR, "setup accepted a broken kernel");
    } else if (!strcmp(expect, "best")) {
        CHECK(rc == FER_OK);
        fer_cpu_features cpu;
        fer_cpu_detect(&cpu);
        int level = fer_blas_core_level(core);
        CHECK_MSG(level == 0 || level >= fer_blas_core_level(fer_blas_best_core(&cpu)),
                  "core %s is below what this CPU runs", core);
    } else {
        CHECK(rc == FER_OK);
        CHECK_MSG(!strcasecmp(core, expect), "core %s, want %s", core, expect);
    }
    return check_failures ? 1 : 0;
}

/* ---- parent ------------------------------------------------------------- */

static int is_blas_variable(const char *entry)
{
    return !strncmp(entry, "OPENBLAS_CORETYPE=", 18) || !strncmp(entry, "FER_BLAS_", 9) ||
           !strncmp(entry, "FER_TEST_", 9);
}

/* Runs one case in a child; returns its exit status (or 128 + signal). */
static int run_case(const reexec_case *c)
{
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 6, sizeof *envp);
    if (!envp)
        return 1;
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (!is_blas_variable(environ[i]))
            envp[k++] = environ[i];
    for (int i = 0; i < 5 && c->env[i]; i++)
        envp[k++] = (char *)c->env[i];
    char executions[8];
    snprintf(executions, sizeof executions, "%d", c->executions);
    char *args[] = {"test_cpu_reexec",
                    "child",
                    (char *)c->name,
                    (char *)c->expect,
                    executions,
                    (char *)(c->desc_has ? c->desc_has : ""),
                    NULL};
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execve("/proc/self/exe", args, envp);
        _exit(127);
    }
    free(envp);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "child"))
        return run_child(argv);

    const char *config = openblas_get_config();
    if (!config || !strstr(config, "DYNAMIC_ARCH")) {
        printf("test_cpu_reexec: skipped, OpenBLAS is not a DYNAMIC_ARCH build (%s)\n",
               config ? config : "?");
        return CHECK_SKIP;
    }
    fer_cpu_features cpu;
    fer_cpu_detect(&cpu);
    const char *best = fer_blas_best_core(&cpu);
    static char force_best[64], force_best_fer[64], break_best[64];
    snprintf(force_best, sizeof force_best, "OPENBLAS_CORETYPE=%s", best ? best : "Prescott");
    snprintf(break_best, sizeof break_best, "FER_TEST_BROKEN_CORE=%s", best ? best : "Prescott");
    snprintf(force_best_fer, sizeof force_best_fer, "FER_BLAS_CORETYPE=%s", best ? best : "Prescott");
    printf("this CPU: %s family %d model %d, best OpenBLAS core %s\n", cpu.vendor, cpu.family, cpu.model,
           best ? best : "(generic only)");

    const reexec_case cases[] = {
        /* Whether fer must switch depends on OpenBLAS's own table: 0 = either. */
        {"automatic", {NULL}, "best", 0, NULL},
        {"forced by FER_BLAS_CORETYPE",
         {"OPENBLAS_CORETYPE=Prescott", force_best_fer},
         best,
         2,
         "was Prescott; set by FER_BLAS_CORETYPE"},
        {"FER_BLAS_CORETYPE=keep",
         {"OPENBLAS_CORETYPE=Prescott", "FER_BLAS_CORETYPE=keep"},
         "Prescott",
         1,
         "kept by FER_BLAS_CORETYPE=keep"},
        {"OPENBLAS_CORETYPE preset",
         {"OPENBLAS_CORETYPE=Prescott"},
         "Prescott",
         1,
         "OPENBLAS_CORETYPE=Prescott from the environment"},
        {"marker present",
         {"OPENBLAS_CORETYPE=Prescott", force_best_fer, "FER_BLAS_REEXEC=1", "FER_BLAS_FROM=x"},
         "Prescott",
         1,
         "was x"},
        {"after a fallback",
         {"OPENBLAS_CORETYPE=Prescott", "FER_BLAS_REEXEC=fallback:SkylakeX"},
         "Prescott",
         1,
         "SkylakeX failed the SGEMM self-check"},
        {"already the best", {force_best}, best, 1, "from the environment)"},
        {"forced kernel broken: fallback",
         {"OPENBLAS_CORETYPE=Prescott", force_best_fer, break_best},
         "Prescott",
         3,
         "failed the SGEMM self-check, back to the original setting"},
        {"running kernel broken: error",
         {"OPENBLAS_CORETYPE=Prescott", "FER_TEST_BROKEN_CORE=Prescott"},
         "error",
         1,
         "core Prescott fails the SGEMM self-check"},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        reexec_case c = cases[i];
        if (!best && (!c.expect || c.executions == 3))
            continue; /* nothing to force on an SSE-only CPU */
        int status = run_case(&c);
        CHECK_MSG(status == 0, "case %s: child exit status %d", c.name, status);
    }
    return check_report("test_cpu_reexec");
}
