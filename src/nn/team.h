/* A team of threads for one kernel call, private to src/nn/. fer's design
   leaves parallelism to the BLAS; kernels that run many small GEMMs (the
   Winograd convolution) do better splitting their own work: each thread
   then calls a single-threaded GEMM on its share, and the threads meet once
   per call instead of once per GEMM, which matters on a busy machine where
   a thread waiting for a descheduled partner loses a time slice. */
#ifndef FER_NN_TEAM_H
#define FER_NN_TEAM_H

#include <stdatomic.h>
#include <stddef.h>

/* Threads a team would have: the BLAS thread count of this process (at
   least 1), the per-rank thread budget fer_blas_set_threads chose. */
int fer_team_size(void);

/* Runs fn(ctx, w, workers) for w = 0 .. workers - 1, w = 0 on the calling
   thread, and returns when all have returned. While it runs, the BLAS is
   single-threaded (calls from fn use one thread each, also in a team of one,
   so that a GEMM's result never depends on how OpenBLAS would have split
   it); it is restored after.
   A thread that cannot be started runs its share on the calling thread, so
   every w runs exactly once whatever happens. */
void fer_team_run(int workers, void (*fn)(void *ctx, int worker, int workers), void *ctx);

/* Threads for count independent elements: one per min_each of them, at
   most fer_team_size(); small work stays on the calling thread, where
   starting a thread would cost more than it saves. */
int fer_team_for(size_t count, size_t min_each);

/* A barrier for the workers of one fer_team_run call. Waiting spins
   briefly (the partner is usually a few microseconds away), then yields
   the core, so that a descheduled partner does not cost a busy machine a
   spinning core. */
typedef struct {
    atomic_int arrived;
    atomic_int generation;
    int workers;
} fer_team_barrier;

void fer_team_barrier_init(fer_team_barrier *b, int workers);

/* Returns once all workers have called it (again). */
void fer_team_barrier_wait(fer_team_barrier *b);

/* Worker w's share [*lo, *hi) of count items split among workers. */
static inline void fer_team_share(size_t count, int worker, int workers, size_t *lo, size_t *hi)
{
    *lo = count * (size_t)worker / (size_t)workers;
    *hi = count * (size_t)(worker + 1) / (size_t)workers;
}

#endif
