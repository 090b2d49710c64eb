/* Choosing the OpenBLAS kernel: OpenBLAS reads OPENBLAS_CORETYPE only while
   the library loads, so switching means setting it and re-executing the
   process (see include/fer/cpu.h for the environment protocol). */
#include "fer/cpu.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *fer_blas_best_core(const fer_cpu_features *cpu)
{
    if (cpu->avx512f && cpu->avx512bw && cpu->avx512dq && cpu->avx512vl)
        return "SkylakeX";
    if (cpu->avx2 && cpu->fma) {
        int amd = !strcmp(cpu->vendor, "AuthenticAMD") || !strcmp(cpu->vendor, "HygonGenuine");
        return amd ? "Zen" : "Haswell";
    }
    if (cpu->avx)
        return "Sandybridge";
    return NULL;
}

static int is_set(const char *value)
{
    return value && value[0];
}

/* The parenthesis of a process that fer already re-executed. */
static void describe_reexecuted(const char *loaded, const fer_blas_env *env, fer_blas_decision *d)
{
    const char *marker = env->reexec_marker;
    if (!strncmp(marker, "fallback:", 9)) {
        snprintf(d->why, sizeof d->why,
                 "%s failed the SGEMM self-check, back to the original setting; "
                 "choose with FER_BLAS_CORETYPE",
                 marker + 9);
        return;
    }
    if (strcmp(marker, "1")) {
        snprintf(d->why, sizeof d->why, "FER_BLAS_REEXEC=%s set, not switching", marker);
        return;
    }
    char asked[96] = "";
    const char *want = env->openblas_coretype;
    if (is_set(want) && strcasecmp(want, loaded))
        snprintf(asked, sizeof asked, "asked for %.32s, OpenBLAS chose %.32s; ", want, loaded);
    const char *from = is_set(env->from_core) ? env->from_core : "unknown";
    if (is_set(env->fer_coretype) && strcasecmp(env->fer_coretype, "keep"))
        snprintf(d->why, sizeof d->why, "%swas %.32s; set by FER_BLAS_CORETYPE=%.32s", asked, from,
                 env->fer_coretype);
    else
        snprintf(d->why, sizeof d->why, "%swas %.32s; set by fer, override with FER_BLAS_CORETYPE", asked,
                 from);
}

static void decide_switch(fer_blas_decision *d, const char *core, const char *loaded, const char *by)
{
    d->reexec = 1;
    snprintf(d->coretype, sizeof d->coretype, "%s", core);
    snprintf(d->why, sizeof d->why, "was %.32s; %s", loaded, by);
}

void fer_blas_decide(const fer_cpu_features *cpu, const char *loaded_core, const fer_blas_env *env,
                     fer_blas_decision *d)
{
    memset(d, 0, sizeof *d);
    const char *loaded = loaded_core ? loaded_core : "unknown";
    const char *best = fer_blas_best_core(cpu);
    if (is_set(env->reexec_marker)) {
        describe_reexecuted(loaded, env, d);
    } else if (is_set(env->fer_coretype) && !strcasecmp(env->fer_coretype, "keep")) {
        snprintf(d->why, sizeof d->why, "kept by FER_BLAS_CORETYPE=keep");
    } else if (is_set(env->fer_coretype) && strcasecmp(env->fer_coretype, loaded)) {
        char by[96];
        snprintf(by, sizeof by, "set by FER_BLAS_CORETYPE=%.32s", env->fer_coretype);
        decide_switch(d, env->fer_coretype, loaded, by);
    } else if (is_set(env->fer_coretype)) {
        snprintf(d->why, sizeof d->why, "set by FER_BLAS_CORETYPE=%.32s", env->fer_coretype);
    } else if (is_set(env->openblas_coretype)) {
        int level = fer_blas_core_level(loaded);
        int slower = best && level > 0 && level < fer_blas_core_level(best);
        snprintf(d->why, sizeof d->why, "OPENBLAS_CORETYPE=%.32s from the environment%s%s%s",
                 env->openblas_coretype, slower ? "; this CPU also runs " : "", slower ? best : "",
                 slower ? ", set FER_BLAS_CORETYPE to switch" : "");
    } else {
        int level = fer_blas_core_level(loaded);
        if (best && level > 0 && level < fer_blas_core_level(best))
            decide_switch(d, best, loaded, "set by fer, override with FER_BLAS_CORETYPE");
        else
            snprintf(d->why, sizeof d->why, "chosen by OpenBLAS");
    }
}

/* Copies an environment variable, or "" when unset, so that setenv() on the
   same name cannot invalidate it. */
static void copy_env(char *dst, size_t n, const char *name)
{
    const char *value = getenv(name);
    snprintf(dst, n, "%s", value ? value : "");
}

static void set_or_unset(const char *name, const char *value)
{
    if (value && value[0])
        setenv(name, value, 1);
    else
        unsetenv(name);
}

/* Returns only when execv failed; then the environment is as it was. */
static void reexec_switched(char **argv, const char *loaded, const char *core, char *why, size_t n)
{
    char user[128];
    copy_env(user, sizeof user, "OPENBLAS_CORETYPE");
    set_or_unset("FER_BLAS_ORIG_CORETYPE", user);
    setenv("FER_BLAS_FROM", loaded, 1);
    setenv("FER_BLAS_REEXEC", "1", 1);
    setenv("OPENBLAS_CORETYPE", core, 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    int e = errno;
    set_or_unset("OPENBLAS_CORETYPE", user);
    unsetenv("FER_BLAS_REEXEC");
    unsetenv("FER_BLAS_FROM");
    unsetenv("FER_BLAS_ORIG_CORETYPE");
    snprintf(why, n, "could not switch to %.32s: execv /proc/self/exe: %s", core, strerror(e));
}

/* Back to the user's setting after a forced kernel computed wrong results.
   Returns only when execv failed. */
static int reexec_fallback(char **argv, const char *failed_core)
{
    char orig[128], marker[64];
    copy_env(orig, sizeof orig, "FER_BLAS_ORIG_CORETYPE");
    set_or_unset("OPENBLAS_CORETYPE", orig);
    snprintf(marker, sizeof marker, "fallback:%.40s", failed_core);
    setenv("FER_BLAS_REEXEC", marker, 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    return errno;
}

/* "OpenBLAS 0.3.21" from the first two words of its build configuration. */
static void openblas_version(char *dst, size_t n)
{
    const char *config = openblas_get_config();
    const char *space = config ? strchr(config, ' ') : NULL;
    const char *end = space ? strchr(space + 1, ' ') : NULL;
    if (end)
        snprintf(dst, n, "%.*s", (int)(end - config), config);
    else
        snprintf(dst, n, "%s", config ? config : "OpenBLAS");
}

int fer_blas_setup(char **argv, char *desc, size_t desc_len, fer_err *err)
{
    fer_cpu_features cpu;
    fer_cpu_detect(&cpu);
    const char *loaded = openblas_get_corename() ? openblas_get_corename() : "unknown";
    fer_blas_env env = {getenv("OPENBLAS_CORETYPE"), getenv("FER_BLAS_CORETYPE"), getenv("FER_BLAS_REEXEC"),
                        getenv("FER_BLAS_FROM")};
    fer_blas_decision d;
    fer_blas_decide(&cpu, loaded, &env, &d);
    if (d.reexec && argv && argv[0])
        reexec_switched(argv, loaded, d.coretype, d.why, sizeof d.why);
    else if (d.reexec)
        snprintf(d.why, sizeof d.why, "could not switch to %.32s without argv", d.coretype);

    char version[64];
    openblas_version(version, sizeof version);
    double max_err = 0.0;
    if (!fer_blas_self_check(&max_err)) {
        const char *marker = getenv("FER_BLAS_REEXEC");
        int exec_errno = 0;
        if (marker && !strcmp(marker, "1") && argv && argv[0])
            exec_errno = reexec_fallback(argv, loaded);
        return fer_fail(err,
                        "%s core %s fails the SGEMM self-check (max rel err %.1e)%s%s; "
                        "choose another kernel with FER_BLAS_CORETYPE=<core>, e.g. Haswell or Prescott",
                        version, loaded, max_err,
                        exec_errno ? ", and re-executing to fall back failed: " : "",
                        exec_errno ? strerror(exec_errno) : "");
    }
    if (desc && desc_len)
        snprintf(desc, desc_len, "%s core %s (%s)", version, loaded, d.why);
    return FER_OK;
}
