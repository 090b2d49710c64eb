/* fer: git-style front end. Only this directory prints errors and exits. */
#include "commands.h"

#include "fer/cpu.h"
#include "fer/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Commands whose run is NULL are listed as not built yet and exit 1. */
static const fer_command commands[] = {
    {"prepare", "convert FER2013 CSV or image folders into a dataset HDF5 file", cmd_prepare},
    {"summary", "print the model table (Keras model.summary() layout) from a config", cmd_summary},
    {"train", "train (mpirun / srun aware), checkpoint, resume", cmd_train},
    {"eval", "accuracy, per-class precision/recall/F1, confusion matrix", cmd_eval},
    {"predict", "emotion probabilities for image files", cmd_predict},
    {"export", "write a checkpoint's inference graph as ONNX (docs/deploy.md)", cmd_export},
    {"augment", "apply one augmentation to an image, or write a preview grid", cmd_augment},
    {"viz", "filter visualization and saliency maps", cmd_viz},
    {"bench", "throughput and per-layer profile", cmd_bench},
    {"check-reference", "compare the model with a reference-state file (PyTorch)", cmd_check_reference},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* An empty message is a rank's that stops because another rank failed
   (fer_dist_any_failed): that rank prints the reason, this one nothing. */
int cli_fail(const char *fmt, ...)
{
    va_list ap, probe;
    va_start(ap, fmt);
    va_copy(probe, ap);
    if (vsnprintf(NULL, 0, fmt, probe) > 0)
        fer_vlog_line(fmt, ap);
    va_end(probe);
    va_end(ap);
    return FER_EXIT_FAILURE;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fer %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'fer %s --help')\n", cmd);
    va_end(ap);
    return FER_EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

static void print_help(FILE *f)
{
    fprintf(f, "usage: fer <command> [options]\n"
               "       fer <command> --help\n"
               "       fer --version\n\n"
               "fer trains the seed facial-expression network (VGG16 blocks 1-3 + NiN head)\n"
               "data-parallel with MPI. Commands:\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-16s %s%s\n", commands[i].name, commands[i].summary,
                commands[i].run ? "" : " (not built yet)");
    fprintf(f, "\nExit codes: 0 ok, 1 failure (one line on stderr), 2 usage error,\n"
               "75 stopped by a signal after writing a checkpoint (retry later).\n");
}

int main(int argc, char **argv)
{
    /* First of all: OpenBLAS picks its kernel when it loads, so a switch to a
       faster one re-executes fer before MPI or any BLAS call. */
    char blas_desc[256];
    fer_err err;
    if (fer_blas_setup(argv, blas_desc, sizeof blas_desc, &err))
        return cli_fail("%s", err.msg);
    const cli_setup setup = {.blas = blas_desc};
    if (argc < 2) {
        print_help(stderr);
        return FER_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (size_t i = 0; i < N_COMMANDS; i++)
                if (!strcmp(argv[2], commands[i].name) && commands[i].run) {
                    char *args[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, args, &setup);
                }
        }
        print_help(stdout);
        return FER_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("fer %s\n", FER_VERSION);
        return FER_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name))
            continue;
        if (!commands[i].run)
            return cli_fail("'%s' is not built yet in this version", name);
        return commands[i].run(argc - 1, argv + 1, &setup);
    }
    fprintf(stderr, "fer: '%s' is not a fer command (see 'fer help')\n", name);
    return FER_EXIT_USAGE;
}
