/* Subcommands of the `fer` front end. Each takes the arguments after its
   name (argv[0] is the subcommand) and returns the process exit code:
   0 ok, 1 failure (one line on stderr), 2 usage error, 75 stopped by a signal
   after a checkpoint (retry later). */
#ifndef FER_CLI_COMMANDS_H
#define FER_CLI_COMMANDS_H

enum { FER_EXIT_OK = 0, FER_EXIT_FAILURE = 1, FER_EXIT_USAGE = 2, FER_EXIT_STOPPED = 75 };

typedef struct {
    const char *name;
    const char *summary;               /* one line for `fer help` */
    int (*run)(int argc, char **argv); /* NULL: not built yet */
} fer_command;

int cmd_prepare(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_augment(int argc, char **argv);
int cmd_viz(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_check_reference(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Prints "fer: <message>" on stderr and returns FER_EXIT_FAILURE. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "fer <cmd>: <message>" and a hint to --help; returns FER_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv has -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
