/* Errors are values: a fallible function returns FER_OK or FER_ERROR and, on
   failure, fills a fer_err with one line of context (file, line, layer, shapes).
   Only src/cli/ prints an error and exits. */
#ifndef FER_ERROR_H
#define FER_ERROR_H

#include <stdarg.h>

enum { FER_OK = 0, FER_ERROR = -1 };

typedef struct {
    char msg[1024];
} fer_err;

/* Formats the message into err (when err is not NULL) and returns FER_ERROR, so
   a caller writes `return fer_fail(err, "...", ...);`. */
int fer_fail(fer_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message (adds context on the way up) and
   returns FER_ERROR. */
int fer_fail_wrap(fer_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
