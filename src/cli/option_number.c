#include "option_number.h"

#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* strto* skip leading blanks and accept words (inf, nan): a value must
   start as a number does. */
static int starts_as_number(const char *text, int allow_minus)
{
    const char *p = text;
    if (*p == '+' || (allow_minus && *p == '-'))
        p++;
    return isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]));
}

static int parse_real(const char *text, double lo, double hi, double *out)
{
    if (!starts_as_number(text, 1) || strpbrk(text, "xX")) /* decimal only: no 0x1p3 */
        return 0;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno == ERANGE || *end || !isfinite(v) || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

static int parse_long(const char *text, long lo, long hi, long *out)
{
    if (!starts_as_number(text, 1))
        return 0;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno == ERANGE || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_seed(const char *text, uint64_t *out)
{
    if (!starts_as_number(text, 0))
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno == ERANGE || *end) /* unsigned long long is 64 bits here */
        return 0;
    *out = (uint64_t)v;
    return 1;
}

int cli_number_real(const char *cmd, const char *option, const char *text, double lo, double hi, double *out)
{
    if (!text || parse_real(text, lo, hi, out))
        return FER_EXIT_OK;
    return cli_usage(cmd, "%s: expected a number in [%g, %g], got '%s'", option, lo, hi, text);
}

int cli_number_long(const char *cmd, const char *option, const char *text, long lo, long hi, long *out)
{
    if (!text || parse_long(text, lo, hi, out))
        return FER_EXIT_OK;
    return cli_usage(cmd, "%s: expected an integer in [%ld, %ld], got '%s'", option, lo, hi, text);
}

int cli_number_int(const char *cmd, const char *option, const char *text, int lo, int hi, int *out)
{
    long v = *out;
    int rc = cli_number_long(cmd, option, text, lo, hi, &v);
    *out = (int)v;
    return rc;
}

int cli_number_seed(const char *cmd, const char *option, const char *text, uint64_t *out)
{
    if (!text || parse_seed(text, out))
        return FER_EXIT_OK;
    return cli_usage(cmd, "%s: expected an integer in [0, %" PRIu64 "], got '%s'", option, UINT64_MAX, text);
}
