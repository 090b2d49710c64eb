/* Everything MPI: the process's communicator context, the reductions the
   trainer needs, and the agreed stop flag. A run without mpirun is a world
   of one rank (MPI singleton). */
#ifndef FER_DIST_H
#define FER_DIST_H

#include "fer/error.h"
#include "fer/nn.h"

#include <mpi.h>
#include <stddef.h>

typedef struct {
    int rank, size;             /* in the world */
    int local_rank, local_size; /* on this node */
    MPI_Comm comm;              /* a duplicate of MPI_COMM_WORLD */
    MPI_Comm node_comm;         /* ranks sharing this node's memory */
    char host[64];
} fer_dist;

/* MPI_Init (or reuse an initialized MPI), communicators, host name. Errors
   make MPI return codes instead of aborting. */
int fer_dist_init(fer_dist *d, int *argc, char ***argv, fer_err *err);
/* Frees the communicators and finalizes MPI if fer_dist_init started it. */
void fer_dist_finalize(fer_dist *d);

/* In-place sums across all ranks. */
void fer_dist_sum_floats(const fer_dist *d, float *buf, size_t count);
void fer_dist_sum_doubles(const fer_dist *d, double *buf, int count);
/* Logical OR of a flag across ranks. */
int fer_dist_any(const fer_dist *d, int flag);
/* A failure seen by one rank made everyone's before the next collective
   call, so that no rank waits there for one that has left: returns 1 when
   any rank failed. A rank that did not fail itself gets an empty message
   (the failing rank prints the reason; the CLI prints no empty line). */
int fer_dist_any_failed(const fer_dist *d, int failed, fer_err *err);
/* Broadcast bytes from root. */
void fer_dist_bcast(const fer_dist *d, void *buf, size_t bytes, int root);
/* A reducer for synchronized BatchNorm (NULL fn on one rank). */
fer_reducer fer_dist_reducer(const fer_dist *d);

/* Sets this rank's BLAS threads from distribution.threads (configured > 0)
   or from the cores it may use divided by the ranks of its node that share
   them (affinity masks exchanged over the node communicator). desc gets a
   line for the log. */
int fer_dist_blas_threads(const fer_dist *d, int configured, char *desc, size_t desc_len, fer_err *err);

/* ---- stop requests ------------------------------------------------------
   SIGTERM, SIGUSR1 (and SIGINT) set a process flag (the one piece of process
   state besides MPI, as a signal handler needs); the trainer agrees on it at
   step boundaries with fer_dist_any(), checkpoints and exits 75. */
void fer_stop_install(void);
int fer_stop_requested(void);
int fer_stop_signal(void); /* the signal number received, 0 if none */

#endif
