#include "fer/dist.h"

#include <signal.h>
#include <string.h>

/* Written by the signal handler, read at step boundaries: the one piece of
   process state a handler needs. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) { stop_signal = sig; }

void fer_stop_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int fer_stop_requested(void) { return stop_signal != 0; }

int fer_stop_signal(void) { return (int)stop_signal; }
