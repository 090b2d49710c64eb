#include "fer/log.h"

#include <stdarg.h>
#include <stdio.h>

/* Set once at start-up by the CLI (the only process-wide setting besides MPI). */
static int log_level = FER_LOG_INFO;

void fer_log_set_level(int level)
{
    log_level = level;
}

void fer_vlog_line(const char *fmt, va_list ap)
{
    fputs("fer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void fer_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fer_vlog_line(fmt, ap);
    va_end(ap);
}
