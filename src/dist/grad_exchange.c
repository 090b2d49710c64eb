/* The rank-ordered gradient sum (see include/fer/grad_exchange.h). */
#include "fer/grad_exchange.h"

#include "../nn/bf16_gemm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* MPI counts and displacements are ints: longer segments go in pieces. */
#define PIECE_FLOATS ((size_t)1 << 30)

int fer_grad_exchange_init(fer_grad_exchange *x, MPI_Comm comm, fer_wire_dtype dtype, size_t capacity,
                           fer_err *err)
{
    memset(x, 0, sizeof *x);
    x->comm = comm;
    x->dtype = dtype;
    MPI_Comm_rank(comm, &x->rank);
    MPI_Comm_size(comm, &x->size);
    if (x->size == 1)
        return FER_OK;
    if (capacity > PIECE_FLOATS)
        capacity = PIECE_FLOATS;
    /* A rank's block is at most ceil(count / size) floats. */
    size_t share = (capacity + (size_t)x->size - 1) / (size_t)x->size * (size_t)x->size + 1;
    x->capacity = capacity;
    x->counts = malloc(4 * (size_t)x->size * sizeof *x->counts);
    if (dtype == FER_WIRE_BF16) {
        x->wire = malloc(capacity * sizeof *x->wire + 1);
        x->wire_in = malloc(share * sizeof *x->wire_in);
    } else {
        x->received = malloc(share * sizeof *x->received);
    }
    if (!x->counts || (dtype == FER_WIRE_BF16 ? !x->wire || !x->wire_in : !x->received)) {
        fer_grad_exchange_free(x);
        return fer_fail(err, "out of memory for the gradient exchange (%zu floats)", capacity);
    }
    return FER_OK;
}

void fer_grad_exchange_free(fer_grad_exchange *x)
{
    free(x->received);
    free(x->wire);
    free(x->wire_in);
    free(x->counts);
    x->counts = NULL;
    x->received = NULL;
    x->wire = x->wire_in = NULL;
}

static void split(size_t count, int size, int *counts, int *displs)
{
    for (int k = 0; k < size; k++) {
        size_t lo = count * (size_t)k / (size_t)size, hi = count * (size_t)(k + 1) / (size_t)size;
        displs[k] = (int)lo;
        counts[k] = (int)(hi - lo);
    }
}

/* Open MPI's blocking collectives spin in its progress loop: a thread
   waiting there takes a core from backward for as long as the link needs.
   A patient exchange tests its request and sleeps in between; the kernel's
   socket buffers keep the bytes moving meanwhile. */
static void wait_for(const fer_grad_exchange *x, MPI_Request *r)
{
    const struct timespec nap = {0, 100000}; /* 0.1 ms */
    int done = 0;
    for (;;) {
        MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (done)
            return;
        if (x->patient)
            nanosleep(&nap, NULL);
    }
}

static void alltoallv(const fer_grad_exchange *x, const void *out, const int *counts, const int *displs,
                      void *in, const int *in_counts, const int *in_displs, MPI_Datatype type)
{
    if (!x->patient) {
        MPI_Alltoallv(out, counts, displs, type, in, in_counts, in_displs, type, x->comm);
        return;
    }
    MPI_Request r;
    MPI_Ialltoallv(out, counts, displs, type, in, in_counts, in_displs, type, x->comm, &r);
    wait_for(x, &r);
}

static void allgatherv(const fer_grad_exchange *x, void *buf, const int *counts, const int *displs,
                       MPI_Datatype type)
{
    if (!x->patient) {
        MPI_Allgatherv(MPI_IN_PLACE, 0, type, buf, counts, displs, type, x->comm);
        return;
    }
    MPI_Request r;
    MPI_Iallgatherv(MPI_IN_PLACE, 0, type, buf, counts, displs, type, x->comm, &r);
    wait_for(x, &r);
}

/* One piece, fp32 on the wire. */
static void sum_fp32(fer_grad_exchange *x, float *buf, int *counts, int *displs, int *in_counts,
                     int *in_displs)
{
    int n = counts[x->rank];
    for (int k = 0; k < x->size; k++) {
        in_counts[k] = n;
        in_displs[k] = k * n;
    }
    alltoallv(x, buf, counts, displs, x->received, in_counts, in_displs, MPI_FLOAT);
    float *mine = buf + displs[x->rank];
    for (int i = 0; i < n; i++) {
        float s = x->received[i];
        for (int k = 1; k < x->size; k++)
            s += x->received[(size_t)k * (size_t)n + (size_t)i];
        mine[i] = s;
    }
    allgatherv(x, buf, counts, displs, MPI_FLOAT);
}

/* One piece, bf16 on the wire, fp32 sums. */
static void sum_bf16(fer_grad_exchange *x, float *buf, size_t count, int *counts, int *displs, int *in_counts,
                     int *in_displs)
{
    int n = counts[x->rank];
    for (size_t i = 0; i < count; i++)
        x->wire[i] = fer_bf16_from_float(buf[i]);
    for (int k = 0; k < x->size; k++) {
        in_counts[k] = n;
        in_displs[k] = k * n;
    }
    alltoallv(x, x->wire, counts, displs, x->wire_in, in_counts, in_displs, MPI_UINT16_T);
    uint16_t *mine = x->wire + displs[x->rank];
    for (int i = 0; i < n; i++) {
        float s = fer_bf16_to_float(x->wire_in[i]);
        for (int k = 1; k < x->size; k++)
            s += fer_bf16_to_float(x->wire_in[(size_t)k * (size_t)n + (size_t)i]);
        mine[i] = fer_bf16_from_float(s);
    }
    allgatherv(x, x->wire, counts, displs, MPI_UINT16_T);
    for (size_t i = 0; i < count; i++)
        buf[i] = fer_bf16_to_float(x->wire[i]);
}

void fer_grad_exchange_sum(fer_grad_exchange *x, float *buf, size_t count)
{
    if (x->size == 1 || count == 0)
        return;
    size_t ints = (size_t)x->size;
    int *counts = x->counts, *displs = counts + ints, *in_counts = counts + 2 * ints,
        *in_displs = counts + 3 * ints;
    while (count > 0) {
        size_t piece = count < x->capacity ? count : x->capacity;
        split(piece, x->size, counts, displs);
        if (x->dtype == FER_WIRE_BF16)
            sum_bf16(x, buf, piece, counts, displs, in_counts, in_displs);
        else
            sum_fp32(x, buf, counts, displs, in_counts, in_displs);
        buf += piece;
        count -= piece;
    }
}
