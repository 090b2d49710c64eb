/* Shared option parsing for subcommands that take a run configuration:
   `CONFIG` (first positional) or `--config CONFIG`, repeatable `--set KEY=VALUE`,
   and the command's own flags. Every option with a value takes it as the next
   argument or after '=' (`--out FILE` or `--out=FILE`, GNU style); a flag
   without one refuses `--flag=x`; `--` ends the options. */
#ifndef FER_CLI_OPTIONS_H
#define FER_CLI_OPTIONS_H

#include "fer/config.h"
#include "option_number.h"

/* A repeatable option (has_value CLI_REPEATED): each value goes to
   value[*flag], which counts them, up to CLI_MAX_REPEATS. */
enum { CLI_REPEATED = 2, CLI_MAX_REPEATS = 16 };

typedef struct {
    const char *name;   /* "--run-dir" */
    int has_value;      /* 1: takes the next argument; CLI_REPEATED: each time given */
    const char **value; /* has_value: where the argument goes */
    int *flag;          /* !has_value: set to 1; CLI_REPEATED: the count */
} cli_flag;

#define CLI_MAX_POSITIONAL 64

typedef struct {
    const char *config_path; /* in: default (may be NULL); out: the one used */
    fer_config config;       /* loaded, overridden and validated */
    int n_positional;        /* positional arguments after CONFIG */
    const char *positional[CLI_MAX_POSITIONAL];
} cli_options;

/* Parses argv (argv[0] is the subcommand), loads the config, applies the
   overrides in order and validates. flags ends with a {NULL} row and may be
   NULL. Returns a FER_EXIT_* code (usage errors and config errors printed). */
int cli_parse_config_options(cli_options *o, const char *cmd, int argc, char **argv, const cli_flag *flags);

/* Parses argv with flags only (no config); positional arguments are kept. */
int cli_parse_flags(cli_options *o, const char *cmd, int argc, char **argv, const cli_flag *flags);

/* Parses argv with flags only, for a command with any number of arguments:
   positional has room for argc of them. */
int cli_parse_args(const char *cmd, int argc, char **argv, const cli_flag *flags, const char **positional,
                   int *n_positional);

#endif
