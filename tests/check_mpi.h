/* The start and end of a test that runs on several MPI ranks: a failure on
   any rank fails the test, and rank 0 reports for all. */
#ifndef FER_TEST_CHECK_MPI_H
#define FER_TEST_CHECK_MPI_H

#include "check.h"
#include "fer/dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

/* Under LeakSanitizer, Open MPI's deliberate allocations are suppressed by
   library name (tests/lsan.supp): the stacks must unwind fully and its
   components stay loaded, or their frames have no name to match. The suite
   sets both in the environment; these defaults hold when a test is run by
   hand. This header goes into one file per test program. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

/* Starts MPI, printing why not, with Open MPI's components kept loaded. */
static inline int check_mpi_init(fer_dist *d, int *argc, char ***argv)
{
    fer_err err;
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 0);
    if (fer_dist_init(d, argc, argv, &err)) {
        printf("%s\n", err.msg);
        return 1;
    }
    return 0;
}

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
