/* BLAS threads per rank: the cores this rank may use, divided among the
   ranks of the node that compete for them. More threads than cores makes
   OpenBLAS's spinning workers fight each other and is much slower than too
   few. */
#include "fer/cpu.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A whole decimal string such as "4" with a value in min..2^20; -1 otherwise. */
static int parse_int(const char *s, int min)
{
    if (!s || !s[0])
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end == '\0' && v >= min && v <= 1 << 20 ? (int)v : -1;
}

/* SLURM_TASKS_PER_NODE lists tasks per node in node order, runs compressed:
   "2(x3),1" means nodes 0-2 run 2 tasks and node 3 runs 1. */
static int slurm_tasks_on_node(const char *list, int node)
{
    const char *p = list;
    while (*p) {
        char *end;
        long tasks = strtol(p, &end, 10), repeat = 1;
        if (end == p || tasks <= 0)
            return 0;
        p = end;
        if (p[0] == '(' && p[1] == 'x') {
            repeat = strtol(p + 2, &end, 10);
            if (end == p + 2 || *end != ')' || repeat <= 0)
                return 0;
            p = end + 1;
        }
        if (node < repeat)
            return tasks <= 1 << 20 ? (int)tasks : 0;
        node -= (int)repeat;
        if (*p == ',')
            p++;
        else if (*p)
            return 0;
    }
    return 0;
}

int fer_local_ranks_from_env(const fer_launch_env *env)
{
    int n = parse_int(env->ompi_local_size, 1);
    if (n > 0)
        return n;
    n = parse_int(env->slurm_ntasks_per_node, 1);
    if (n > 0)
        return n;
    if (env->slurm_tasks_per_node) {
        int node = parse_int(env->slurm_nodeid, 0);
        return slurm_tasks_on_node(env->slurm_tasks_per_node, node > 0 ? node : 0);
    }
    return 0;
}

int fer_blas_threads_for(int configured, int cores, int sharing_ranks)
{
    if (configured > 0)
        return configured;
    int threads = cores / (sharing_ranks > 0 ? sharing_ranks : 1);
    return threads > 0 ? threads : 1;
}

int fer_blas_set_threads(int configured, int sharing_ranks, int rank, char *desc, size_t desc_len,
                         fer_err *err)
{
    if (configured < 0)
        return fer_fail(err, "distribution.threads: expected 0 (automatic) or a positive count, got %d",
                        configured);
    if (sharing_ranks <= 0) {
        fer_launch_env env = {getenv("OMPI_COMM_WORLD_LOCAL_SIZE"), getenv("SLURM_NTASKS_PER_NODE"),
                              getenv("SLURM_TASKS_PER_NODE"), getenv("SLURM_NODEID")};
        sharing_ranks = fer_local_ranks_from_env(&env);
        sharing_ranks = sharing_ranks > 0 ? sharing_ranks : 1;
    }
    int cores = fer_cpu_affinity_count();
    int threads = fer_blas_threads_for(configured, cores, sharing_ranks);
    openblas_set_num_threads(threads);
    int actual = openblas_get_num_threads();
    if (!desc || !desc_len)
        return FER_OK;

    char host[256] = "unknown";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    char capped[64] = "";
    if (actual != threads)
        snprintf(capped, sizeof capped, ", OpenBLAS caps %d at %d", threads, actual);
    const char *thread_s = actual == 1 ? "" : "s", *core_s = cores == 1 ? "" : "s";
    if (configured > 0)
        snprintf(desc, desc_len, "rank %d on host %s: %d BLAS thread%s (distribution.threads; %d core%s%s)",
                 rank, host, actual, thread_s, cores, core_s, capped);
    else
        snprintf(desc, desc_len,
                 "rank %d on host %s: %d BLAS thread%s (%d core%s / %d rank%s sharing them%s)", rank, host,
                 actual, thread_s, cores, core_s, sharing_ranks, sharing_ranks == 1 ? "" : "s", capped);
    return FER_OK;
}
