/* Shared by test_weights.c and test_checkpoint.c: small models built by
   hand (no YAML), deterministic test values and scratch directories. */
#ifndef FER_TEST_H5_FIXTURES_H
#define FER_TEST_H5_FIXTURES_H

#include "fer/model.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fixture_layer(fer_model_cfg *c, const char *name, fer_layer_type type, int filters, int kernel,
                          int same, int relu)
{
    fer_layer_cfg *L = &c->layers[c->n_layers++];
    memset(L, 0, sizeof *L);
    snprintf(L->name, sizeof L->name, "%s", name);
    L->type = type;
    L->filters = filters;
    L->kernel_size = kernel;
    L->padding_same = same;
    L->relu = relu;
    L->units = type == FER_LAYER_DENSE ? filters : 0;
    L->momentum = 0.99;
    L->epsilon = 1e-3;
    L->rate = 0.5;
}

static void fixture_model_cfg(fer_model_cfg *c, int input_size, int classes)
{
    memset(c, 0, sizeof *c);
    c->input_size = input_size;
    c->channels = 3;
    c->classes = classes;
}

/* conv / batchnorm / pool / 1x1 conv / GAP / dense, 8x8x3 in, 4 classes.
   filters_a lets a test build the same names with another shape. */
static void fixture_small_model(fer_model_cfg *c, int filters_a)
{
    fixture_model_cfg(c, 8, 4);
    fixture_layer(c, "conv_a", FER_LAYER_CONV2D, filters_a, 3, 1, 1);
    fixture_layer(c, "bn_a", FER_LAYER_BATCHNORM, 0, 0, 0, 0);
    fixture_layer(c, "pool_a", FER_LAYER_MAXPOOL, 0, 0, 0, 0);
    fixture_layer(c, "conv_b", FER_LAYER_CONV2D, 5, 1, 0, 1);
    fixture_layer(c, "gap", FER_LAYER_GAP, 0, 0, 0, 0);
    fixture_layer(c, "dense_out", FER_LAYER_DENSE, 4, 0, 0, 0);
}

/* Distinct, exactly representable values: a counter-based hash mapped to
   [-1, 1) in steps of 2^-20. */
static float fixture_value(uint32_t seed, size_t i)
{
    uint64_t z = ((uint64_t)seed << 32) ^ (uint64_t)i;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((int64_t)(z >> 43) - (1 << 20)) / (float)(1 << 20);
}

static void fixture_fill(float *v, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = fixture_value(seed, i);
}

/* A fresh directory under $TMPDIR (or /tmp). */
static int fixture_tmpdir(char *out, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/fer-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    return mkdtemp(out) ? 0 : -1;
}

static int fixture_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fixture_rmtree(const char *dir)
{
    nftw(dir, fixture_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to path (for "not an HDF5 file" cases). */
static int fixture_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

#endif
