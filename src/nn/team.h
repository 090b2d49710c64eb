/* A team of threads for one kernel call, private to src/nn/. fer's design
   leaves parallelism to the BLAS; kernels that run many small GEMMs (the
   Winograd convolution) do better splitting their own work: each thread
   then calls a single-threaded GEMM on its share, and the threads meet once
   per call instead of once per GEMM, which matters on a busy machine where
   a thread waiting for a descheduled partner loses a time slice. */
#ifndef FER_NN_TEAM_H
#define FER_NN_TEAM_H

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

#endif
