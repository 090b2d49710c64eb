/* The gradient sum across ranks, in an order fixed by rank alone.

   MPI_Allreduce picks its algorithm, and so the order in which it adds the
   ranks' values, by message size: cutting the gradient into buckets would
   change the sum's rounding on 3 or more ranks. Here every element is summed
   ((g0 + g1) + g2) + ... in rank order, whatever the cut: the segment is
   split into one block per rank, each rank receives its block from every
   rank (MPI_Alltoallv), sums it in rank order and sends the sum to all
   (MPI_Allgatherv). That moves the bytes a ring allreduce moves, and gives
   every rank the same result, independent of timing and of bucket
   boundaries.

   With the bf16 wire type the ranks send their gradients rounded to bf16
   (nearest, ties to even), the owner of a block adds them in fp32 and rounds
   the sum to bf16 for the second half: half the bytes, the same result on
   every rank. On one rank nothing is exchanged, nothing is rounded. */
#ifndef FER_GRAD_EXCHANGE_H
#define FER_GRAD_EXCHANGE_H

#include "fer/config.h"
#include "fer/error.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    MPI_Comm comm;
    int rank, size;
    fer_wire_dtype dtype;
    size_t capacity;   /* the largest segment it can sum, in floats */
    float *received;   /* fp32: size blocks of this rank's share */
    uint16_t *wire;    /* bf16: the segment as sent */
    uint16_t *wire_in; /* bf16: size blocks of this rank's share */
    int *counts;       /* 4 x size: block counts and displacements, out and in */
    int patient;       /* 1: wait by testing and sleeping, not spinning (a thread beside backward) */
} fer_grad_exchange;

/* Scratch for segments up to capacity floats on comm (not owned). */
int fer_grad_exchange_init(fer_grad_exchange *x, MPI_Comm comm, fer_wire_dtype dtype, size_t capacity,
                           fer_err *err);
void fer_grad_exchange_free(fer_grad_exchange *x);
/* In place: buf[0..count) becomes the sum over the ranks of comm. A
   collective: every rank calls it with the same count. count <= capacity. */
void fer_grad_exchange_sum(fer_grad_exchange *x, float *buf, size_t count);

#endif
