/* fer export: a checkpoint's inference graph as an ONNX file. */
#include "commands.h"

#include "fer/onnx_export.h"
#include "fer/saved_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: fer export --checkpoint CKPT --out MODEL.onnx [--opset N] [--input raw|preprocessed]\n\n"
    "Writes the checkpoint's model for inference as ONNX: its layers with the trained\n"
    "weights (dropout left out, batch normalization with its moving statistics and\n"
    "epsilon) and softmax probabilities as the output, named after the last layer.\n"
    "Class names are in the model's metadata (class_names). See docs/deploy.md.\n\n"
    "  --checkpoint CKPT  a checkpoint written by `fer train`\n"
    "  --out FILE         the ONNX file to write (replaced atomically)\n"
    "  --opset N          ONNX opset, 13..17 (default 13)\n"
    "  --input raw        (default) input N x 1 x 48 x 48 grey faces, floats 0..255,\n"
    "                     equalized when the training config equalized: the graph\n"
    "                     upscales, replicates and centres them as training did\n"
    "  --input preprocessed\n"
    "                     input N x S x S x C, the model's own preprocessed input\n";

typedef struct {
    const char *checkpoint, *out, *opset, *input;
} export_args;

/* "--name VALUE" or "--name=VALUE" at argv[*i]; returns 1 when it matched. */
static int take(int argc, char **argv, int *i, const char *name, const char **value, int *missing)
{
    size_t len = strlen(name);
    const char *s = argv[*i];
    if (strncmp(s, name, len) != 0)
        return 0;
    if (s[len] == '=') {
        *value = s + len + 1;
        return 1;
    }
    if (s[len] != '\0')
        return 0;
    if (*i + 1 >= argc)
        *missing = 1;
    else
        *value = argv[++*i];
    return 1;
}

static int parse(export_args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (take(argc, argv, &i, "--checkpoint", &a->checkpoint, &missing) ||
            take(argc, argv, &i, "--out", &a->out, &missing) ||
            take(argc, argv, &i, "--opset", &a->opset, &missing) ||
            take(argc, argv, &i, "--input", &a->input, &missing)) {
            if (missing)
                return cli_usage("export", "%s needs a value", argv[i]);
        } else if (argv[i][0] == '-') {
            return cli_usage("export", "unknown option '%s'", argv[i]);
        } else {
            return cli_usage("export", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!a->checkpoint || !a->out)
        return cli_usage("export", "--checkpoint and --out are required");
    return FER_EXIT_OK;
}

static int options_of(const export_args *a, fer_onnx_options *o)
{
    o->opset = FER_ONNX_OPSET_DEFAULT;
    o->input = FER_ONNX_INPUT_RAW;
    if (a->opset) {
        char *end = NULL;
        errno = 0;
        long v = strtol(a->opset, &end, 10);
        if (errno || end == a->opset || *end || v < FER_ONNX_OPSET_MIN || v > FER_ONNX_OPSET_MAX)
            return cli_usage("export", "--opset expects an integer in %d..%d, got '%s'", FER_ONNX_OPSET_MIN,
                             FER_ONNX_OPSET_MAX, a->opset);
        o->opset = (int)v;
    }
    if (a->input && !strcmp(a->input, "preprocessed"))
        o->input = FER_ONNX_INPUT_PREPROCESSED;
    else if (a->input && strcmp(a->input, "raw") != 0)
        return cli_usage("export", "--input expects raw or preprocessed, got '%s'", a->input);
    return FER_EXIT_OK;
}

static int run(const export_args *a, const fer_onnx_options *o)
{
    fer_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return cli_fail("out of memory");
    fer_model m;
    fer_err err;
    int rc = FER_EXIT_OK;
    if (fer_saved_model_open(a->checkpoint, cfg, &m, NULL, &err)) {
        free(cfg);
        return cli_fail("%s", err.msg);
    }
    if (fer_onnx_export(&m, cfg, o, a->out, &err))
        rc = cli_fail("%s: %s", a->out, err.msg);
    else
        printf("wrote %s (opset %d, %s input, %d layers)\n", a->out, o->opset,
               o->input == FER_ONNX_INPUT_RAW ? "raw" : "preprocessed", m.n_layers);
    fer_model_free(&m);
    free(cfg);
    return rc;
}

int cmd_export(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FER_EXIT_OK;
    }
    export_args a = {0};
    fer_onnx_options o;
    int rc = parse(&a, argc, argv);
    if (rc == FER_EXIT_OK)
        rc = options_of(&a, &o);
    return rc == FER_EXIT_OK ? run(&a, &o) : rc;
}
