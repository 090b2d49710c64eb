/* fer bench: images/s of a full training step, a frozen-backbone step and
   inference on synthetic input, a per-layer time table, the achieved GFLOP/s
   against the SGEMM peak measured in the same run, and peak memory. */
#include "commands.h"
#include "options.h"

#include "fer/bench.h"
#include "fer/cpu.h"
#include "fer/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* SGEMM peak yardstick: 2048^3 is large enough for every kernel to reach
   its steady rate and takes well under a second at two threads. */
enum { PEAK_N = 2048, PEAK_REPS = 5 };

static const char *mode_names[FER_BENCH_MODES] = {"full training", "frozen backbone", "inference"};

typedef struct {
    const char *config_path;
    int batch, steps, threads;
    int first_trainable; /* -1: the config has no frozen stage */
    const char *blas;    /* main's BLAS setup line */
    char thread_desc[256];
    fer_products products;
    double peak_gflops, bf16_peak_gflops; /* the latter for bf16 products only */
    double rss_before_mib, rss_peak_mib;
    fer_bench_result result[FER_BENCH_MODES];
    int ran[FER_BENCH_MODES];
} bench_report;

static double max_rss_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* Linux: KiB */
}

static int parse_precision(const char *s, fer_precision *out)
{
    static const fer_precision all[] = {FER_PRECISION_FP32, FER_PRECISION_BF16, FER_PRECISION_AUTO};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, fer_precision_name(all[i])) == 0) {
            *out = all[i];
            return FER_EXIT_OK;
        }
    return cli_usage("bench", "--precision: expected fp32, bf16 or auto, got '%s'", s);
}

/* The layer the config's first phase trains from, when it freezes a prefix. */
static int frozen_first_layer(const fer_model *m, const fer_config *c)
{
    const char *name = c->schedule[0].trainable;
    int l = strcmp(name, "all") ? fer_model_find(m, name) : -1;
    return l > 0 ? l : -1;
}

static int measure(fer_model *m, const fer_config *cfg, bench_report *r, fer_err *err)
{
    double peak;
    if (fer_sgemm_peak(PEAK_N, PEAK_REPS, &r->peak_gflops, err))
        return FER_ERROR;
    fer_bench_cfg bc = {.batch = r->batch,
                        .steps = r->steps,
                        .first_trainable = r->first_trainable,
                        .optimizer = cfg->schedule[0].optimizer,
                        .seed = cfg->seed};
    /* A small learning rate keeps synthetic steps finite; the update costs
       the same whatever its value. */
    bc.optimizer.lr = 1e-5;
    for (int mode = 0; mode < FER_BENCH_MODES; mode++) {
        if (mode == FER_BENCH_FROZEN && r->first_trainable < 0)
            continue;
        if (fer_bench_run(m, (fer_bench_mode)mode, &bc, &r->result[mode], err))
            return FER_ERROR;
        r->ran[mode] = 1;
    }
    /* Shared machines: the best of a peak before and one after the model. */
    if (fer_sgemm_peak(PEAK_N, PEAK_REPS, &peak, err))
        return FER_ERROR;
    r->peak_gflops = peak > r->peak_gflops ? peak : r->peak_gflops;
    r->rss_peak_mib = max_rss_mib();
    if (r->products != FER_PRODUCTS_FP32 &&
        fer_bf16_peak(r->products, PEAK_N, PEAK_REPS, &r->bf16_peak_gflops, err))
        return FER_ERROR;
    return FER_OK;
}

static void print_modes(const fer_model *m, const bench_report *r)
{
    int bf16 = r->products != FER_PRODUCTS_FP32;
    printf("%-16s %10s %10s %10s %10s %8s%s\n", "mode", "step ms", "images/s", "GFLOP/img", "GFLOP/s",
           "of peak", bf16 ? "  of bf16 peak" : "");
    for (int mode = 0; mode < FER_BENCH_MODES; mode++) {
        if (!r->ran[mode]) {
            printf("%-16s %10s (the config's first phase trains every layer)\n", mode_names[mode], "-");
            continue;
        }
        double s = r->result[mode].step_seconds;
        double flops = fer_bench_step_flops(m, (fer_bench_mode)mode, r->first_trainable);
        double gflops = flops * r->batch / s * 1e-9;
        printf("%-16s %10.1f %10.2f %10.2f %10.1f %7.1f%%", mode_names[mode], s * 1e3, r->batch / s,
               flops * 1e-9, gflops, 100.0 * gflops / r->peak_gflops);
        if (bf16)
            printf(" %13.1f%%", 100.0 * gflops / r->bf16_peak_gflops);
        printf("\n");
    }
}

static void print_layers(const fer_model *m, const bench_report *r)
{
    const fer_bench_result *full = &r->result[FER_BENCH_FULL], *infer = &r->result[FER_BENCH_INFER];
    double step_ms = full->step_seconds * 1e3, sum_f = 0, sum_b = 0, sum_i = 0;
    int any_fused = 0;
    printf("\nper layer: forward and backward of the full training step, and the inference forward\n"
           "(median ms per step of %d images; share: of the training step)\n",
           r->batch);
    printf("%-28s %-12s %9s %9s %9s %9s %9s %7s\n", "layer", "output", "fwd ms", "bwd ms", "fwd GF/s",
           "bwd GF/s", "infer ms", "share");
    for (int l = 0; l < m->n_layers; l++) {
        const fer_layer *L = &m->layers[l];
        double f = full->layer_seconds[l] * 1e3, b = full->layer_seconds[FER_MAX_LAYERS + l] * 1e3;
        double inf = infer->layer_seconds[l] * 1e3;
        double flops = fer_bench_layer_flops(L) * r->batch;
        double bflops = l > 0 ? 2.0 * flops : flops; /* the first layer has no input gradient */
        char shape[32], fr[16] = "", br[16] = "", is[16] = "in conv";
        int fused = L->cfg.type == FER_LAYER_MAXPOOL && inf == 0.0; /* see fer_conv2d_forward_pooled */
        any_fused |= fused;
        if (!fused)
            snprintf(is, sizeof is, "%.2f", inf);
        snprintf(shape, sizeof shape, "%dx%dx%d", L->out_h, L->out_w, L->out_c);
        if (flops > 0 && f > 0)
            snprintf(fr, sizeof fr, "%.1f", flops / f * 1e-6);
        if (flops > 0 && b > 0)
            snprintf(br, sizeof br, "%.1f", bflops / b * 1e-6);
        printf("%-28s %-12s %9.2f %9.2f %9s %9s %9s %6.1f%%\n", L->cfg.name, shape, f, b, fr, br, is,
               100.0 * (f + b) / step_ms);
        sum_f += f;
        sum_b += b;
        sum_i += inf;
    }
    printf("%-28s %-12s %9.2f %9.2f %9s %9s %9.2f %6.1f%%\n", "sum of layers", "", sum_f, sum_b, "", "",
           sum_i, 100.0 * (sum_f + sum_b) / step_ms);
    printf("(the rest of the %.1f ms step: loss, gradient zeroing, optimizer update)\n", step_ms);
    if (any_fused)
        printf("(in conv: when nothing reads its output, a convolution writes the pooled output itself)\n");
}

static void print_report(const fer_model *m, const bench_report *r)
{
    printf("fer bench %s: batch %d, median of %d timed steps after 1 warm-up, synthetic input\n",
           r->config_path, r->batch, r->steps);
    printf("BLAS: %s\n      %s\n", r->blas, r->thread_desc);
    printf("products: %s\n", fer_products_name(r->products));
    printf("SGEMM peak: %.1f GFLOP/s (%dx%d, best of %d, before and after the model)\n", r->peak_gflops,
           PEAK_N, PEAK_N, 2 * PEAK_REPS);
    if (r->products != FER_PRODUCTS_FP32)
        printf("bf16 peak: %.1f GFLOP/s (%s, %dx%d, best of %d, after the model)\n", r->bf16_peak_gflops,
               fer_products_name(r->products), PEAK_N, PEAK_N, PEAK_REPS);
    printf("\n");
    print_modes(m, r);
    if (r->first_trainable > 0)
        printf("frozen backbone: trainable from %s (the config's first phase)\n",
               m->layers[r->first_trainable].cfg.name);
    printf("GFLOP/img (nominal: im2col-equivalent): full = 3 x forward; frozen = forward + the trainable "
           "layers' kernel and input gradients\n");
    printf("peak memory: %.0f MiB RSS, %.0f MiB before the model: %.1f MiB per image above that, %.1f MiB "
           "per image in all\n",
           r->rss_peak_mib, r->rss_before_mib, (r->rss_peak_mib - r->rss_before_mib) / r->batch,
           r->rss_peak_mib / r->batch);
    print_layers(m, r);
}

static const char usage[] =
    "usage: fer bench CONFIG [--batch N] [--steps N] [--threads N] [--precision P]\n"
    "                 [--set KEY=VALUE]...\n\n"
    "Times the model of CONFIG on synthetic random input (no data set needed), in one\n"
    "process: one warm-up step, then N timed steps (median) of each of\n"
    "  full training     forward, loss, backward and update with every layer trainable\n"
    "  frozen backbone   the same, trainable from the config's first phase `trainable`\n"
    "  inference         forward in inference mode\n"
    "and prints images/s, GFLOP/s and its fraction of the SGEMM peak measured in the\n"
    "same run with the same threads, peak memory (getrusage) and a per-layer table\n"
    "of forward and backward times of the full training step and of the inference\n"
    "forward.\n\n"
    "  --batch N     images per step (default: data.batch_size)\n"
    "  --steps N     timed steps per mode (default 5)\n"
    "  --threads N   BLAS threads (default: distribution.threads, 0 = the cores\n"
    "                this process may use)\n"
    "  --precision P fp32, bf16 or auto (default: the config's `precision`); with\n"
    "                bf16 products the fraction of the bf16 kernel's peak is shown too\n\n"
    "The OpenBLAS kernel follows OPENBLAS_CORETYPE when set; FER_BLAS_CORETYPE=<core>\n"
    "forces one (e.g. SkylakeX). FER_BF16_KERNEL=amx|avx512bf16|reference forces a\n"
    "bf16 kernel. tools/bench_compare runs this against PyTorch.\n";

int cmd_bench(int argc, char **argv, const cli_setup *setup)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FER_EXIT_OK;
    }
    const char *batch_s = NULL, *steps_s = NULL, *threads_s = NULL, *precision_s = NULL;
    const cli_flag flags[] = {{"--batch", 1, &batch_s, NULL},
                              {"--precision", 1, &precision_s, NULL},
                              {"--steps", 1, &steps_s, NULL},
                              {"--threads", 1, &threads_s, NULL},
                              {NULL, 0, NULL, NULL}};
    cli_options o = {0};
    int rc = cli_parse_config_options(&o, "bench", argc, argv, flags);
    if (rc != FER_EXIT_OK)
        return rc;
    if (o.n_positional > 0)
        return cli_usage("bench", "unexpected argument '%s'", o.positional[0]);
    bench_report r = {.config_path = o.config_path,
                      .blas = setup->blas,
                      .batch = o.config.data.batch_size,
                      .steps = 5,
                      .threads = o.config.distribution.threads};
    if ((rc = cli_number_int("bench", "--batch", batch_s, 1, 1 << 20, &r.batch)) ||
        (rc = cli_number_int("bench", "--steps", steps_s, 1, 1 << 20, &r.steps)) ||
        (rc = cli_number_int("bench", "--threads", threads_s, 0, 1 << 20, &r.threads)))
        return rc;
    fer_err err;
    if (fer_blas_set_threads(r.threads, 1, 0, r.thread_desc, sizeof r.thread_desc, &err))
        return cli_fail("%s", err.msg);
    r.rss_before_mib = max_rss_mib();
    fer_precision precision = o.config.precision;
    if (precision_s && (rc = parse_precision(precision_s, &precision)))
        return rc;
    if (fer_precision_resolve(precision, getenv("FER_BF16_KERNEL"), &r.products, &err))
        return cli_fail("%s", err.msg);
    fer_model m;
    if (fer_model_init(&m, &o.config.model, o.config.seed, &err))
        return cli_fail("%s: %s", o.config_path, err.msg);
    fer_model_set_products(&m, r.products);
    r.first_trainable = frozen_first_layer(&m, &o.config);
    rc = measure(&m, &o.config, &r, &err);
    if (rc == FER_OK)
        print_report(&m, &r);
    fer_model_free(&m);
    return rc == FER_OK ? FER_EXIT_OK : cli_fail("bench: %s", err.msg);
}
