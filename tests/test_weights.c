/* Keras HDF5 weight files: our writer's layout read back with the raw HDF5
   API, a write -> load round trip, a file in the exact layout of Keras's
   released VGG16 "notop" file (made here with the HDF5 C API, as h5py writes
   it), and the error cases. */
#include "check.h"
#include "h5_fixtures.h"

#include "fer/weights.h"

#include <hdf5.h>

/* ---- raw HDF5 writers mimicking h5py (independent of src/io) ---------- */

/* np.array([b'...', ...]): fixed-length, NULL-padded byte strings. */
static void raw_strings_attr(hid_t obj, const char *name, const char *const *items, int n)
{
    size_t width = 1;
    for (int i = 0; i < n; i++)
        if (strlen(items[i]) > width)
            width = strlen(items[i]);
    char *buf = calloc((size_t)n + 1, width);
    for (int i = 0; i < n; i++)
        memcpy(buf + (size_t)i * width, items[i], strlen(items[i]));
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, width);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, buf);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    free(buf);
}

/* Keras writes an empty weight list as np.asarray([]): float64, zero length. */
static void raw_empty_attr(hid_t obj, const char *name)
{
    hsize_t dims[1] = {0};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    double none = 0;
    H5Awrite(a, H5T_NATIVE_DOUBLE, &none);
    H5Aclose(a);
    H5Sclose(space);
}

static void raw_dataset(hid_t loc, const char *name, int ndim, const hsize_t *dims, const float *data)
{
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    H5Sclose(space);
}

/* ---- raw readers for checking our writer's layout ---------------------- */

/* Reads a 1-D fixed-length string attribute; returns the count (or -1) and
   checks it is stored as h5py stores np.array([b'..']). */
static int raw_read_strings(hid_t obj, const char *name, char items[][96], int cap)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    int n = (int)H5Sget_simple_extent_npoints(space);
    int fixed = H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type) &&
                H5Tget_strpad(type) == H5T_STR_NULLPAD && H5Tget_cset(type) == H5T_CSET_ASCII;
    CHECK_MSG(fixed, "%s: not fixed-length NULL-padded ASCII strings", name);
    size_t width = H5Tget_size(type);
    char *buf = calloc((size_t)n + 1, width + 1);
    if (n > 0)
        H5Aread(a, type, buf);
    for (int i = 0; i < n && i < cap; i++) {
        size_t len = strnlen(buf + (size_t)i * width, width);
        memcpy(items[i], buf + (size_t)i * width, len < 95 ? len : 95);
        items[i][len < 95 ? len : 95] = '\0';
    }
    free(buf);
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(a);
    return n;
}

/* Reads a float dataset's dims and values; returns ndim or -1. */
static int raw_read_floats(hid_t loc, const char *path, hsize_t *dims, float *out, size_t cap)
{
    hid_t ds = H5Dopen2(loc, path, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t space = H5Dget_space(ds);
    int nd = H5Sget_simple_extent_ndims(space);
    H5Sget_simple_extent_dims(space, dims, NULL);
    if ((size_t)H5Sget_simple_extent_npoints(space) <= cap)
        H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    H5Sclose(space);
    H5Dclose(ds);
    return nd;
}

static void randomize(fer_model *m, uint32_t seed)
{
    fixture_fill(m->params, m->n_params, seed);
    fixture_fill(m->stats, m->n_stats, seed + 1000);
}

/* ---- 1. our writer's layout, and the round trip ----------------------- */

static void check_written_layout(const char *path, const fer_model *m)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "model_weights", H5P_DEFAULT);
    char names[16][96];
    int n = raw_read_strings(g, "layer_names", names, 16);
    printf("layout: layer_names has %d entries (model has %d layers + input_1)\n", n, m->n_layers);
    CHECK(n == m->n_layers + 1);
    CHECK(n > 0 && !strcmp(names[0], "input_1"));
    for (int l = 0; l < m->n_layers && l + 1 < n; l++)
        CHECK_MSG(!strcmp(names[l + 1], m->layers[l].cfg.name), "layer_names[%d] = %s", l + 1, names[l + 1]);

    hid_t conv = H5Gopen2(g, "conv_a", H5P_DEFAULT);
    n = raw_read_strings(conv, "weight_names", names, 16);
    printf("layout: conv_a weight_names = [%s, %s]\n", n > 0 ? names[0] : "", n > 1 ? names[1] : "");
    CHECK(n == 2 && !strcmp(names[0], "conv_a/kernel:0") && !strcmp(names[1], "conv_a/bias:0"));
    H5Gclose(conv);
    hid_t bn = H5Gopen2(g, "bn_a", H5P_DEFAULT);
    n = raw_read_strings(bn, "weight_names", names, 16);
    CHECK(n == 4 && !strcmp(names[0], "bn_a/gamma:0") && !strcmp(names[3], "bn_a/moving_variance:0"));
    H5Gclose(bn);
    hid_t pool = H5Gopen2(g, "pool_a", H5P_DEFAULT);
    n = raw_read_strings(pool, "weight_names", names, 16);
    printf("layout: pool_a weight_names has %d entries\n", n);
    CHECK(n == 0);
    H5Gclose(pool);

    hsize_t dims[8];
    static float values[4096];
    int nd = raw_read_floats(g, "conv_a/conv_a/kernel:0", dims, values, 4096);
    printf("layout: /model_weights/conv_a/conv_a/kernel:0 ndim %d dims (%d,%d,%d,%d)\n", nd, (int)dims[0],
           (int)dims[1], (int)dims[2], (int)dims[3]);
    CHECK(nd == 4 && dims[0] == 3 && dims[1] == 3 && dims[2] == 3 && dims[3] == 6);
    CHECK(nd == 4 && !memcmp(values, fer_model_weight(m, 0, 0), 3 * 3 * 3 * 6 * sizeof(float)));
    nd = raw_read_floats(g, "bn_a/bn_a/moving_variance:0", dims, values, 4096);
    CHECK(nd == 1 && dims[0] == 6 && !memcmp(values, fer_model_weight(m, 1, 3), 6 * sizeof(float)));
    CHECK(H5Aexists(g, "keras_version") > 0 && H5Aexists(g, "backend") > 0);
    H5Gclose(g);
    H5Fclose(f);
}

static void test_round_trip(const char *dir)
{
    fer_model_cfg cfg;
    fixture_small_model(&cfg, 6);
    fer_model a, b;
    fer_err err;
    CHECK(fer_model_init(&a, &cfg, 1, &err) == FER_OK);
    CHECK(fer_model_init(&b, &cfg, 2, &err) == FER_OK);
    randomize(&a, 7);
    fixture_fill(a.grads, a.n_params, 99);

    char path[512];
    snprintf(path, sizeof path, "%s/round.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = fer_weights_write(f, "model_weights", &a, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    rc = fer_weights_write_grads(f, "gradients", &a, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    H5Fclose(f);
    check_written_layout(path, &a);

    fer_weights_report rep;
    rc = fer_weights_load(&b, path, 1, &rep, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    int same_params = !memcmp(a.params, b.params, a.n_params * sizeof(float));
    int same_stats = !memcmp(a.stats, b.stats, a.n_stats * sizeof(float));
    printf("round trip: %zu params %s, %zu stats %s; report loaded %d missing %d ignored %d\n", a.n_params,
           same_params ? "bit-exact" : "DIFFER", a.n_stats, same_stats ? "bit-exact" : "DIFFER", rep.loaded,
           rep.missing, rep.ignored);
    CHECK(same_params && same_stats);
    CHECK(rep.loaded == 4 && rep.missing == 0 && rep.ignored == 0);

    /* Gradients: trainable tensors only (no moving statistics). */
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "gradients/bn_a", H5P_DEFAULT);
    char names[8][96];
    int n = raw_read_strings(g, "weight_names", names, 8);
    printf("gradients: bn_a lists %d tensors (%s, %s)\n", n, n > 0 ? names[0] : "", n > 1 ? names[1] : "");
    CHECK(n == 2 && !strcmp(names[0], "bn_a/gamma:0") && !strcmp(names[1], "bn_a/beta:0"));
    H5Gclose(g);
    hsize_t dims[8];
    float values[64];
    int nd = raw_read_floats(f, "gradients/dense_out/dense_out/bias:0", dims, values, 64);
    int l = fer_model_find(&a, "dense_out");
    CHECK(nd == 1 && dims[0] == 4 && !memcmp(values, fer_model_weight_grad(&a, l, 1), 4 * sizeof(float)));
    H5Fclose(f);
    fer_model_free(&a);
    fer_model_free(&b);
}

/* ---- 2. Keras's VGG16 notop layout -------------------------------------- */

/* VGG16's layers with channel counts scaled down (4, 8, 16, 32, 32) so the
   test stays small; the names and layout are those of
   vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5. */
static const struct {
    const char *name;
    int in, out; /* 0: a pooling layer */
} vgg_layers[] = {
    {"block1_conv1", 3, 4},   {"block1_conv2", 4, 4}, {"block1_pool", 0, 0},    {"block2_conv1", 4, 8},
    {"block2_conv2", 8, 8},   {"block2_pool", 0, 0},  {"block3_conv1", 8, 16},  {"block3_conv2", 16, 16},
    {"block3_conv3", 16, 16}, {"block3_pool", 0, 0},  {"block4_conv1", 16, 32}, {"block4_conv2", 32, 32},
    {"block4_conv3", 32, 32}, {"block4_pool", 0, 0},  {"block5_conv1", 32, 32}, {"block5_conv2", 32, 32},
    {"block5_conv3", 32, 32}, {"block5_pool", 0, 0},
};
#define N_VGG (int)(sizeof vgg_layers / sizeof vgg_layers[0])

/* bad_layer gets a kernel with 2 output channels instead of its own;
   split_names stores layer_names as Keras does when it exceeds HDF5's 64 KiB
   header limit: in pieces layer_names0, layer_names1. */
static void write_vgg_notop(const char *path, const char *bad_layer, int kernel_only_layer, int split_names)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const char *names[N_VGG + 1];
    names[0] = "input_1";
    for (int i = 0; i < N_VGG; i++)
        names[i + 1] = vgg_layers[i].name;
    if (split_names) {
        raw_strings_attr(f, "layer_names0", names, 7);
        raw_strings_attr(f, "layer_names1", names + 7, N_VGG + 1 - 7);
    } else {
        raw_strings_attr(f, "layer_names", names, N_VGG + 1);
    }
    hid_t input = H5Gcreate2(f, "input_1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    raw_empty_attr(input, "weight_names");
    H5Gclose(input);
    static float values[3 * 3 * 32 * 32];
    for (int i = 0; i < N_VGG; i++) {
        hid_t g = H5Gcreate2(f, vgg_layers[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (!vgg_layers[i].out) {
            raw_empty_attr(g, "weight_names");
            H5Gclose(g);
            continue;
        }
        char w[96], b[96];
        snprintf(w, sizeof w, "%s_W_1:0", vgg_layers[i].name);
        snprintf(b, sizeof b, "%s_b_1:0", vgg_layers[i].name);
        const char *wn[2] = {w, b};
        int kernel_only = i == kernel_only_layer;
        raw_strings_attr(g, "weight_names", wn, kernel_only ? 1 : 2);
        int out = bad_layer && !strcmp(bad_layer, vgg_layers[i].name) ? 2 : vgg_layers[i].out;
        hsize_t kd[4] = {3, 3, (hsize_t)vgg_layers[i].in, (hsize_t)out}, bd[1] = {(hsize_t)out};
        fixture_fill(values, 3 * 3 * (size_t)vgg_layers[i].in * (size_t)out, 100 + (uint32_t)i);
        raw_dataset(g, w, 4, kd, values);
        fixture_fill(values, (size_t)out, 200 + (uint32_t)i);
        raw_dataset(g, b, 1, bd, values);
        H5Gclose(g);
    }
    H5Fclose(f);
}

/* The seed network's shape at small scale: VGG blocks 1-3 + the NiN head. */
static void vgg_head_model(fer_model_cfg *c)
{
    fixture_model_cfg(c, 32, 7);
    for (int i = 0; i < 10; i++) {
        if (!vgg_layers[i].out)
            fixture_layer(c, vgg_layers[i].name, FER_LAYER_MAXPOOL, 0, 0, 0, 0);
        else
            fixture_layer(c, vgg_layers[i].name, FER_LAYER_CONV2D, vgg_layers[i].out, 3, 1, 1);
    }
    fixture_layer(c, "batch_normalization_1", FER_LAYER_BATCHNORM, 0, 0, 0, 0);
    fixture_layer(c, "conv2d_1", FER_LAYER_CONV2D, 16, 3, 0, 0);
    fixture_layer(c, "batch_normalization_2", FER_LAYER_BATCHNORM, 0, 0, 0, 0);
    fixture_layer(c, "activation_1", FER_LAYER_RELU, 0, 0, 0, 0);
    fixture_layer(c, "conv2d_2", FER_LAYER_CONV2D, 8, 1, 0, 1);
    fixture_layer(c, "dropout_1", FER_LAYER_DROPOUT, 0, 0, 0, 0);
    fixture_layer(c, "global_average_pooling2d_1", FER_LAYER_GAP, 0, 0, 0, 0);
    fixture_layer(c, "dense_1", FER_LAYER_DENSE, 7, 0, 0, 0);
}

static void test_vgg_notop(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/vgg16_notop_layout.h5", dir);
    write_vgg_notop(path, NULL, -1, 0);
    fer_model_cfg cfg;
    vgg_head_model(&cfg);
    fer_model m, init;
    fer_err err;
    CHECK(fer_model_init(&m, &cfg, 5, &err) == FER_OK);
    CHECK(fer_model_init(&init, &cfg, 5, &err) == FER_OK);

    fer_weights_report rep;
    int rc = fer_weights_load(&m, path, 0, &rep, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    printf("vgg16 notop layout: loaded %d, missing %d (%s), ignored %d (%s)\n", rep.loaded, rep.missing,
           rep.missing_names, rep.ignored, rep.ignored_names);
    CHECK(rep.loaded == 7 && rep.missing == 5 && rep.ignored == 6);
    CHECK(strstr(rep.ignored_names, "block4_conv1") && strstr(rep.ignored_names, "block5_conv3"));
    CHECK(strstr(rep.missing_names, "batch_normalization_1") && strstr(rep.missing_names, "dense_1"));

    /* Each file tensor in the right model tensor, the rest untouched. */
    static float expect[3 * 3 * 16 * 16];
    int checked = 0, wrong = 0;
    for (int i = 0; i < 10; i++) {
        if (!vgg_layers[i].out)
            continue;
        int l = fer_model_find(&m, vgg_layers[i].name);
        size_t kn = 3 * 3 * (size_t)vgg_layers[i].in * (size_t)vgg_layers[i].out;
        fixture_fill(expect, kn, 100 + (uint32_t)i);
        wrong += memcmp(expect, fer_model_weight(&m, l, 0), kn * sizeof(float)) != 0;
        fixture_fill(expect, (size_t)vgg_layers[i].out, 200 + (uint32_t)i);
        wrong += memcmp(expect, fer_model_weight(&m, l, 1), (size_t)vgg_layers[i].out * sizeof(float)) != 0;
        checked += 2;
    }
    int head = fer_model_find(&m, "conv2d_1");
    size_t head_from = m.layers[head].weights[0].offset;
    int head_kept =
        !memcmp(m.params + head_from, init.params + head_from, (m.n_params - head_from) * sizeof(float)) &&
        !memcmp(m.stats, init.stats, m.n_stats * sizeof(float));
    printf(
        "vgg16 notop layout: %d of %d block1-3 tensors hold the file's values; head %s its initialization\n",
        checked - wrong, checked, head_kept ? "keeps" : "LOST");
    CHECK(wrong == 0 && checked == 14 && head_kept);

    /* layer_names in Keras's pieces: the same result. */
    snprintf(path, sizeof path, "%s/vgg16_notop_split_names.h5", dir);
    write_vgg_notop(path, NULL, -1, 1);
    fer_weights_report split;
    rc = fer_weights_load(&m, path, 0, &split, &err);
    printf("vgg16 notop layout, layer_names0/1: loaded %d, missing %d, ignored %d\n", split.loaded,
           split.missing, split.ignored);
    CHECK(rc == FER_OK && split.loaded == 7 && split.missing == 5 && split.ignored == 6);

    /* Strict mode: the head is missing from the file. */
    rc = fer_weights_load(&m, path, 1, &rep, &err);
    printf("vgg16 notop layout, strict: %s\n", rc == FER_OK ? "accepted" : err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, "batch_normalization_1") && strstr(err.msg, path));
    fer_model_free(&m);
    fer_model_free(&init);
}

/* ---- 3. errors ---------------------------------------------------------- */

static void test_errors(const char *dir)
{
    fer_model_cfg cfg;
    vgg_head_model(&cfg);
    fer_model m;
    fer_err err;
    fer_weights_report rep;
    CHECK(fer_model_init(&m, &cfg, 5, &err) == FER_OK);
    float *before = malloc(m.n_params * sizeof(float));
    memcpy(before, m.params, m.n_params * sizeof(float));

    char path[512], want[700];
    snprintf(path, sizeof path, "%s/text.h5", dir);
    fixture_write_text(path, "layer_names: not HDF5 at all\n");
    int rc = fer_weights_load(&m, path, 0, &rep, &err);
    snprintf(want, sizeof want, "%s: not an HDF5 file", path);
    printf("not HDF5: \"%s\"\n", err.msg);
    CHECK(rc == FER_ERROR && !strcmp(err.msg, want));

    snprintf(path, sizeof path, "%s/absent.h5", dir);
    rc = fer_weights_load(&m, path, 0, &rep, &err);
    printf("missing file: \"%s\"\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, path) && strstr(err.msg, "No such file"));

    snprintf(path, sizeof path, "%s/shape.h5", dir);
    write_vgg_notop(path, "block2_conv1", -1, 0);
    rc = fer_weights_load(&m, path, 0, &rep, &err);
    snprintf(
        want, sizeof want,
        "%s: layer block2_conv1 weight 0 (block2_conv1_W_1:0): shape (3,3,4,2) in file, (3,3,4,8) in model",
        path);
    printf("shape mismatch: \"%s\"\n", err.msg);
    CHECK(rc == FER_ERROR && !strcmp(err.msg, want));
    int untouched = !memcmp(before, m.params, m.n_params * sizeof(float));
    printf("shape mismatch: model %s\n", untouched ? "untouched (checked before copying)" : "MODIFIED");
    CHECK(untouched);

    snprintf(path, sizeof path, "%s/count.h5", dir);
    write_vgg_notop(path, NULL, 3, 0);
    rc = fer_weights_load(&m, path, 0, &rep, &err);
    printf("weight count: \"%s\"\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, "block2_conv1 has 1 weights in file, 2 in model"));

    snprintf(path, sizeof path, "%s/plain.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    rc = fer_weights_load(&m, path, 0, &rep, &err);
    printf("no layer_names: \"%s\"\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, "not a Keras weight file") && strstr(err.msg, "layer_names"));
    free(before);
    fer_model_free(&m);
}

int main(void)
{
    char dir[512];
    if (fixture_tmpdir(dir, sizeof dir, "weights") != 0) {
        printf("cannot create a temporary directory\n");
        return 1;
    }
    test_round_trip(dir);
    test_vgg_notop(dir);
    test_errors(dir);
    fixture_rmtree(dir);
    return check_report("test_weights");
}
