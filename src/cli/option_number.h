/* The one parser of numbers given to options: the whole value, decimal,
   within a range, or one line naming the option and the command, e.g.
   "fer augment: --theta: expected a number in [-360, 360], got 'abc'". */
#ifndef FER_CLI_OPTION_NUMBER_H
#define FER_CLI_OPTION_NUMBER_H

#include <stdint.h>

/* Each takes the value text of option `option` of command `cmd`; NULL text
   (the option was not given) leaves *out as it is. Returns FER_EXIT_OK, or
   prints the error (cli_usage) and returns FER_EXIT_USAGE. No leading
   blanks, no trailing characters, no overflow; reals are finite. */
int cli_number_real(const char *cmd, const char *option, const char *text, double lo, double hi, double *out);
int cli_number_long(const char *cmd, const char *option, const char *text, long lo, long hi, long *out);
int cli_number_int(const char *cmd, const char *option, const char *text, int lo, int hi, int *out);
/* Any 64-bit unsigned integer, as the config's seed takes. */
int cli_number_seed(const char *cmd, const char *option, const char *text, uint64_t *out);

#endif
