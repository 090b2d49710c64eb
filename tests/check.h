/* Minimal test harness: CHECK records a failure with its location and keeps
   going, so one run reports every broken comparison; tests print what they
   compared before checking it. */
#ifndef FER_TEST_CHECK_H
#define FER_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_failures = 0;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                  \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                                 \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                  \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

static inline int check_report(const char *name)
{
    if (check_failures)
        printf("%s: %d check(s) failed\n", name, check_failures);
    else
        printf("%s: all checks passed\n", name);
    return check_failures ? 1 : 0;
}

/* Exit code ctest treats as "skipped" (SKIP_RETURN_CODE). */
#define CHECK_SKIP 77

#endif
