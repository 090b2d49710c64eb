/* fer summary: the model table in the layout of Keras's model.summary(). */
#include "commands.h"
#include "options.h"

#include "fer/layer_kind.h"
#include "fer/model.h"

#include <stdio.h>
#include <string.h>

/* 1234567 -> "1,234,567" */
static const char *grouped(size_t v, char *buf, size_t cap)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", v), o = 0;
    for (int i = 0; i < n && o + 2 < (int)cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* Keras's columns are 29/26/10 wide and cut long names; ours are wide enough
   for "batch_normalization_1 (BatchNormalization)" to stay whole. */
static void row(const char *a, const char *b, const char *c)
{
    printf("%-53s%-26s%s\n", a, b, c);
}

static void rule(char ch)
{
    for (int i = 0; i < 89; i++)
        putchar(ch);
    putchar('\n');
}

static void print_summary(const fer_model *m, const char *name)
{
    char a[160], b[64], c[32];
    printf("Model: \"%s\"\n", name);
    rule('_');
    row("Layer (type)", "Output Shape", "Param #");
    rule('=');
    snprintf(b, sizeof b, "(None, %d, %d, %d)", m->cfg.input_size, m->cfg.input_size, m->cfg.channels);
    row("input_1 (InputLayer)", b, "0");
    for (int l = 0; l < m->n_layers; l++) {
        const fer_layer *L = &m->layers[l];
        rule('_');
        const fer_layer_kind *k = fer_layer_kind_of(L->cfg.type);
        snprintf(a, sizeof a, "%s (%s)", L->cfg.name, k ? k->keras_class : "?");
        if (L->flat_input || (k && (k->facts & FER_KIND_FLATTENS)))
            snprintf(b, sizeof b, "(None, %d)", L->out_c);
        else
            snprintf(b, sizeof b, "(None, %d, %d, %d)", L->out_h, L->out_w, L->out_c);
        snprintf(c, sizeof c, "%zu", L->n_params + L->n_stats);
        row(a, b, c);
    }
    rule('=');
    printf("Total params: %s\n", grouped(fer_model_total_params(m), a, sizeof a));
    printf("Trainable params: %s\n", grouped(m->n_params, a, sizeof a));
    printf("Non-trainable params: %s\n", grouped(fer_model_nontrainable_params(m), a, sizeof a));
    rule('_');
    printf("Forward: %.3g GFLOP per image\n", fer_model_forward_flops(m) * 1e-9);
}

int cmd_summary(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    static const char usage[] =
        "usage: fer summary CONFIG [--set KEY=VALUE]...\n\n"
        "Prints the model of CONFIG as Keras's model.summary() does: every layer with\n"
        "its output shape and parameter count, then the totals. Parameters are counted\n"
        "as Keras counts them (BatchNorm moving statistics are non-trainable).\n";
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FER_EXIT_OK;
    }
    cli_options o = {0};
    int rc = cli_parse_config_options(&o, "summary", argc, argv, NULL);
    if (rc != FER_EXIT_OK)
        return rc;
    fer_model m;
    fer_err err;
    if (fer_model_init(&m, &o.config.model, o.config.seed, &err))
        return cli_fail("%s: %s", o.config_path, err.msg);
    const char *base = strrchr(o.config_path, '/');
    print_summary(&m, base ? base + 1 : o.config_path);
    fer_model_free(&m);
    return FER_EXIT_OK;
}
