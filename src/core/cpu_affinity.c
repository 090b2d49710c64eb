/* Which CPUs this process may run on, and how many ranks compete for them:
   launchers bind ranks (mpirun to a core or a socket, srun to its
   cpus-per-task), so the affinity mask, not the machine, bounds the useful
   BLAS threads. */
#include "fer/cpu.h"

#include <unistd.h>

void fer_cpu_affinity(cpu_set_t *mask)
{
    CPU_ZERO(mask);
    if (sched_getaffinity(0, sizeof *mask, mask) == 0 && CPU_COUNT(mask) > 0)
        return;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < online && i < CPU_SETSIZE; i++)
        CPU_SET((int)i, mask);
    if (CPU_COUNT(mask) == 0)
        CPU_SET(0, mask);
}

int fer_cpu_affinity_count(void)
{
    cpu_set_t mask;
    fer_cpu_affinity(&mask);
    return CPU_COUNT(&mask);
}

int fer_cpu_ranks_sharing(const cpu_set_t *masks, int n, int me)
{
    if (n <= 0 || me < 0 || me >= n)
        return 1;
    int sharing = 0;
    for (int i = 0; i < n; i++) {
        cpu_set_t both;
        CPU_AND(&both, &masks[i], &masks[me]);
        sharing += CPU_COUNT(&both) > 0;
    }
    return sharing;
}
