/* Subcommands of the `fer` front end. Each takes the arguments after its
   name (argv[0] is the subcommand) and what main() set up before it, and
   returns the process exit code:
   0 ok, 1 failure (one line on stderr), 2 usage error, 75 stopped by a signal
   after a checkpoint (retry later). */
#ifndef FER_CLI_COMMANDS_H
#define FER_CLI_COMMANDS_H

enum { FER_EXIT_OK = 0, FER_EXIT_FAILURE = 1, FER_EXIT_USAGE = 2, FER_EXIT_STOPPED = 75 };

/* What main() set up for the whole process before any command runs (so
   before MPI_Init): stage 1 of the BLAS setup, fer_blas_setup in fer/cpu.h,
   which main alone calls. */
typedef struct {
    const char *blas; /* its line for the log: the OpenBLAS kernel and why */
} cli_setup;

typedef struct {
    const char *name;
    const char *summary;                                       /* one line for `fer help` */
    int (*run)(int argc, char **argv, const cli_setup *setup); /* NULL: not built yet */
} fer_command;

int cmd_prepare(int argc, char **argv, const cli_setup *setup);
int cmd_summary(int argc, char **argv, const cli_setup *setup);
int cmd_train(int argc, char **argv, const cli_setup *setup);
int cmd_eval(int argc, char **argv, const cli_setup *setup);
int cmd_predict(int argc, char **argv, const cli_setup *setup);
int cmd_augment(int argc, char **argv, const cli_setup *setup);
int cmd_viz(int argc, char **argv, const cli_setup *setup);
int cmd_bench(int argc, char **argv, const cli_setup *setup);
int cmd_check_reference(int argc, char **argv, const cli_setup *setup);
int cmd_export(int argc, char **argv, const cli_setup *setup);

/* Prints "fer: <message>" on stderr and returns FER_EXIT_FAILURE. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "fer <cmd>: <message>" and a hint to --help; returns FER_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv has -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
