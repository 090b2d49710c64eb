/* fer export: a checkpoint's inference graph as an ONNX file. */
#include "commands.h"
#include "options.h"

#include "fer/onnx_export.h"
#include "fer/saved_model.h"

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

static int parse(export_args *a, int argc, char **argv)
{
    cli_flag flags[] = {{"--checkpoint", 1, &a->checkpoint, NULL},
                        {"--out", 1, &a->out, NULL},
                        {"--opset", 1, &a->opset, NULL},
                        {"--input", 1, &a->input, NULL},
                        {NULL, 0, NULL, NULL}};
    cli_options o = {0};
    int rc = cli_parse_flags(&o, "export", argc, argv, flags);
    if (rc != FER_EXIT_OK)
        return rc;
    if (o.n_positional > 0)
        return cli_usage("export", "unexpected argument '%s'", o.positional[0]);
    if (!a->checkpoint || !a->out)
        return cli_usage("export", "--checkpoint and --out are required");
    return FER_EXIT_OK;
}

static int options_of(const export_args *a, fer_onnx_options *o)
{
    o->opset = FER_ONNX_OPSET_DEFAULT;
    o->input = FER_ONNX_INPUT_RAW;
    int rc = cli_number_int("export", "--opset", a->opset, FER_ONNX_OPSET_MIN, FER_ONNX_OPSET_MAX, &o->opset);
    if (rc != FER_EXIT_OK)
        return rc;
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
