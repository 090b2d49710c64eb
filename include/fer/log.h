/* Logging to stderr with a level; rank-aware callers pass their rank so that
   only rank 0 speaks unless a message concerns one rank. */
#ifndef FER_LOG_H
#define FER_LOG_H

#include <stdarg.h>

enum { FER_LOG_QUIET = 0, FER_LOG_INFO = 1, FER_LOG_DEBUG = 2 };

/* The level is process state set once by the CLI before any work starts. */
void fer_log_set_level(int level);
void fer_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One "fer: ..." line on stderr whatever the level (errors). */
void fer_vlog_line(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#define fer_info(...) fer_log(FER_LOG_INFO, __VA_ARGS__)
#define fer_debug(...) fer_log(FER_LOG_DEBUG, __VA_ARGS__)

#endif
