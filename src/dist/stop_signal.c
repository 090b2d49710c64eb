/* Stop requests: SIGTERM, SIGUSR1 and SIGINT set a flag that the trainer
   agrees on at step boundaries (see fer/dist.h). */
#include "fer/dist.h"

#include <signal.h>
#include <string.h>

/* Written by the signal handler, read at step boundaries: the one piece of
   process state a handler needs. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void install(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

void fer_stop_install(void)
{
    /* SA_RESTART: a signal landing in a checkpoint write or an MPI wait must
       not turn into a spurious EINTR failure there. */
    install(SIGTERM, SA_RESTART);
    install(SIGUSR1, SA_RESTART);
    /* A second Ctrl-C kills at once, for a user who will not wait for the
       step to end. */
    install(SIGINT, SA_RESTART | SA_RESETHAND);
}

int fer_stop_requested(void)
{
    return stop_signal != 0;
}

int fer_stop_signal(void)
{
    return (int)stop_signal;
}
