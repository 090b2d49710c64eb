/* The end of a test that runs on several MPI ranks: a failure on any rank
   fails the test, and rank 0 reports for all. */
#ifndef FER_TEST_CHECK_MPI_H
#define FER_TEST_CHECK_MPI_H

#include "check.h"
#include "fer/dist.h"

#include <mpi.h>

/* Sums every rank's failures, finalizes MPI and returns the exit code. */
static inline int check_report_mpi(fer_dist *d, const char *name)
{
    int failures = check_failures;
    MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, d->comm);
    int rank = d->rank;
    fer_dist_finalize(d);
    check_failures = failures;
    if (rank != 0)
        return failures ? 1 : 0;
    return check_report(name);
}

#endif
