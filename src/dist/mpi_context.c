#include "fer/dist.h"

#include "fer/cpu.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fer_dist_init(fer_dist *d, int *argc, char ***argv, fer_err *err)
{
    memset(d, 0, sizeof *d);
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided;
        /* The gradients' communication thread calls MPI while the main thread
           does (synchronized BatchNorm); with less, overlap stays off. */
        if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
            return fer_fail(err, "MPI_Init failed");
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &d->node_comm);
    MPI_Comm_rank(d->node_comm, &d->local_rank);
    MPI_Comm_size(d->node_comm, &d->local_size);
    if (gethostname(d->host, sizeof d->host - 1))
        snprintf(d->host, sizeof d->host, "?");
    return FER_OK;
}

void fer_dist_finalize(fer_dist *d)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized)
        return;
    if (d->node_comm != MPI_COMM_NULL && d->node_comm)
        MPI_Comm_free(&d->node_comm);
    if (d->comm != MPI_COMM_NULL && d->comm)
        MPI_Comm_free(&d->comm);
    MPI_Finalize();
}

void fer_dist_sum_floats(const fer_dist *d, float *buf, size_t count)
{
    if (d->size == 1)
        return;
    /* MPI counts are ints: large buffers go in pieces. */
    while (count > 0) {
        int piece = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        MPI_Allreduce(MPI_IN_PLACE, buf, piece, MPI_FLOAT, MPI_SUM, d->comm);
        buf += piece;
        count -= (size_t)piece;
    }
}

void fer_dist_sum_doubles(const fer_dist *d, double *buf, int count)
{
    if (d->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_DOUBLE, MPI_SUM, d->comm);
}

int fer_dist_any(const fer_dist *d, int flag)
{
    int any = flag != 0;
    if (d->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_LOR, d->comm);
    return any;
}

int fer_dist_any_failed(const fer_dist *d, int failed, fer_err *err)
{
    int any = fer_dist_any(d, failed);
    if (any && !failed && err)
        err->msg[0] = '\0';
    return any;
}

void fer_dist_bcast(const fer_dist *d, void *buf, size_t bytes, int root)
{
    if (d->size == 1)
        return;
    char *p = buf;
    while (bytes > 0) {
        int piece = bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes;
        MPI_Bcast(p, piece, MPI_BYTE, root, d->comm);
        p += piece;
        bytes -= (size_t)piece;
    }
}

static void reduce_doubles(double *buf, int count, void *ctx)
{
    fer_dist_sum_doubles(ctx, buf, count);
}

fer_reducer fer_dist_reducer(const fer_dist *d)
{
    fer_reducer r = {NULL, NULL};
    if (d->size > 1) {
        r.fn = reduce_doubles;
        r.ctx = (void *)d;
    }
    return r;
}

int fer_dist_blas_threads(const fer_dist *d, int configured, char *desc, size_t desc_len, fer_err *err)
{
    cpu_set_t mine, *all = malloc((size_t)d->local_size * sizeof *all);
    if (!all)
        return fer_fail(err, "out of memory");
    fer_cpu_affinity(&mine);
    MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, d->node_comm);
    int sharing = fer_cpu_ranks_sharing(all, d->local_size, d->local_rank);
    free(all);
    return fer_blas_set_threads(configured, sharing, d->rank, desc, desc_len, err);
}
