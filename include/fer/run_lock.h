/* The lock of a run directory: one training run writes there at a time.
   Rank 0 takes an exclusive flock(2) on RUN_DIR/.lock and writes "HOST PID"
   into it, so a second run can say who holds the directory. The kernel
   drops the lock when the holder exits, however it exits (kill -9
   included): a lock is never stale. */
#ifndef FER_RUN_LOCK_H
#define FER_RUN_LOCK_H

#include "fer/error.h"

typedef struct {
    int fd; /* -1 when not held */
} fer_run_lock;

/* Takes the lock of run_dir (which must exist) without waiting. Fails,
   naming the holder's host and pid, when another process holds it. On a
   file system without locks it logs that two runs will not be detected
   and succeeds without a lock. */
int fer_run_lock_take(fer_run_lock *l, const char *run_dir, fer_err *err);

/* Releases a lock taken (or not) by fer_run_lock_take; the file stays. */
void fer_run_lock_release(fer_run_lock *l);

#endif
