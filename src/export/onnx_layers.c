/* One ONNX emitter per layer kind, found by the kind's name from the
   layer-kind registry (include/fer/layer_kinds.def): a kind added there
   without a line here fails the export, naming the layer. Tensors are NCHW
   (rank 4) until a dense layer flattens them (rank 2); initializers are
   named <layer>/<Keras weight name without ":0">. */
#include "fer/layer_kind.h"
#include "onnx_parts.h"

#include <string.h>

typedef const char *(*emit_fn)(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                               int *rank);

/* Initializer <layer>/<name> holding weight w of layer l unchanged. */
static const char *weight_as_is(onnx_builder *b, const fer_model *m, int l, int w, const char *name)
{
    const fer_layer *L = &m->layers[l];
    const fer_weight *W = &L->weights[w];
    int64_t dims[4];
    for (int i = 0; i < W->ndim; i++)
        dims[i] = W->shape[i];
    const char *full = onnx_name(b, "%s/%s", L->cfg.name, name);
    float *data = full ? onnx_initializer(b, full, W->ndim, dims) : NULL;
    if (data)
        memcpy(data, fer_model_weight(m, l, w), W->count * sizeof *data);
    return full;
}

/* A ReLU after the node that wrote `pre`, when the layer has one fused. */
static const char *maybe_relu(onnx_builder *b, const fer_layer *L, const char *pre, const char *out)
{
    if (!L->cfg.relu)
        return pre;
    const char *in[1] = {pre};
    onnx_node(b, "Relu", onnx_name(b, "%s/relu", L->cfg.name), 1, in, out);
    return out;
}

/* Conv with the kernel turned from Keras's HWIO into ONNX's OIHW. */
static const char *emit_conv2d(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                               int *rank)
{
    (void)rank;
    const fer_layer *L = &m->layers[l];
    const int k = L->cfg.kernel_size, ci = L->in_c, co = L->out_c;
    const char *kname = onnx_name(b, "%s/kernel", L->cfg.name);
    int64_t dims[4] = {co, ci, k, k};
    float *oihw = kname ? onnx_initializer(b, kname, 4, dims) : NULL;
    const float *hwio = fer_model_weight(m, l, 0);
    for (int o = 0; oihw && o < co; o++)
        for (int i = 0; i < ci; i++)
            for (int y = 0; y < k; y++)
                for (int x = 0; x < k; x++)
                    oihw[((o * ci + i) * k + y) * k + x] = hwio[((y * k + x) * ci + i) * co + o];
    const char *inputs[3] = {in, kname, weight_as_is(b, m, l, 1, "bias")};
    const char *pre = L->cfg.relu ? onnx_name(b, "%s/preact", out) : out;
    Onnx__NodeProto *n = onnx_node(b, "Conv", L->cfg.name, 3, inputs, pre);
    int64_t pad = L->cfg.padding_same ? k / 2 : 0, kernel[2] = {k, k}, ones[2] = {1, 1},
            pads[4] = {pad, pad, pad, pad};
    onnx_attr_ints(b, n, "kernel_shape", 2, kernel);
    onnx_attr_ints(b, n, "strides", 2, ones);
    onnx_attr_ints(b, n, "dilations", 2, ones);
    onnx_attr_ints(b, n, "pads", 4, pads);
    return maybe_relu(b, L, pre, out);
}

/* 2x2 windows, stride 2, no padding: floor, as Keras's 'valid'. */
static const char *pool(onnx_builder *b, const fer_layer *L, const char *op, const char *in, const char *out)
{
    const char *inputs[1] = {in};
    Onnx__NodeProto *n = onnx_node(b, op, L->cfg.name, 1, inputs, out);
    int64_t two[2] = {2, 2}, pads[4] = {0, 0, 0, 0};
    onnx_attr_ints(b, n, "kernel_shape", 2, two);
    onnx_attr_ints(b, n, "strides", 2, two);
    onnx_attr_ints(b, n, "pads", 4, pads);
    return out;
}

static const char *emit_maxpool(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                                int *rank)
{
    (void)rank;
    return pool(b, &m->layers[l], "MaxPool", in, out);
}

static const char *emit_avgpool(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                                int *rank)
{
    (void)rank;
    return pool(b, &m->layers[l], "AveragePool", in, out);
}

/* Inference form: the moving statistics, and the model's own epsilon
   (Keras's 1e-3 by default, where ONNX's default is 1e-5). */
static const char *emit_batchnorm(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                                  int *rank)
{
    (void)rank;
    const fer_layer *L = &m->layers[l];
    const char *inputs[5] = {in, weight_as_is(b, m, l, 0, "gamma"), weight_as_is(b, m, l, 1, "beta"),
                             weight_as_is(b, m, l, 2, "moving_mean"),
                             weight_as_is(b, m, l, 3, "moving_variance")};
    Onnx__NodeProto *n = onnx_node(b, "BatchNormalization", L->cfg.name, 5, inputs, out);
    onnx_attr_float(b, n, "epsilon", (float)L->cfg.epsilon);
    return out;
}

static const char *emit_relu(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                             int *rank)
{
    (void)rank;
    const char *inputs[1] = {in};
    onnx_node(b, "Relu", m->layers[l].cfg.name, 1, inputs, out);
    return out;
}

/* Dropout is the identity at inference: no node, the next layer reads the
   input. */
static const char *emit_dropout(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                                int *rank)
{
    (void)b, (void)m, (void)l, (void)out, (void)rank;
    return in;
}

static const char *emit_gap(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                            int *rank)
{
    (void)rank;
    const char *inputs[1] = {in};
    onnx_node(b, "GlobalAveragePool", m->layers[l].cfg.name, 1, inputs, out);
    return out;
}

/* Flatten (a 1x1 spatial input: the channel order is the same in NCHW and
   NHWC) and Gemm. The kernel is stored units x inputs with transB = 1, the
   layout PyTorch exports: OpenCV 4.6 reads Gemm's B only so. */
static const char *emit_dense(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                              int *rank)
{
    const fer_layer *L = &m->layers[l];
    if (*rank != 2) {
        const char *flat = onnx_name(b, "%s/flat", L->cfg.name), *inputs[1] = {in};
        Onnx__NodeProto *n =
            onnx_node(b, "Flatten", onnx_name(b, "%s/flatten", L->cfg.name), 1, inputs, flat);
        onnx_attr_int(b, n, "axis", 1);
        in = flat;
        *rank = 2;
    }
    const int ci = L->weights[0].shape[0], co = L->weights[0].shape[1];
    const char *kname = onnx_name(b, "%s/kernel", L->cfg.name);
    int64_t dims[2] = {co, ci};
    float *oi = kname ? onnx_initializer(b, kname, 2, dims) : NULL;
    const float *io = fer_model_weight(m, l, 0);
    for (int o = 0; oi && o < co; o++)
        for (int i = 0; i < ci; i++)
            oi[o * ci + i] = io[i * co + o];
    const char *inputs[3] = {in, kname, weight_as_is(b, m, l, 1, "bias")};
    const char *pre = L->cfg.relu ? onnx_name(b, "%s/preact", out) : out;
    Onnx__NodeProto *n = onnx_node(b, "Gemm", L->cfg.name, 3, inputs, pre);
    onnx_attr_int(b, n, "transB", 1);
    return maybe_relu(b, L, pre, out);
}

static const struct {
    const char *kind;
    emit_fn emit;
} emitters[] = {
    {"conv2d", emit_conv2d},   {"maxpool", emit_maxpool},
    {"avgpool", emit_avgpool}, {"batchnorm", emit_batchnorm},
    {"relu", emit_relu},       {"dropout", emit_dropout},
    {"gap", emit_gap},         {"dense", emit_dense},
};

const char *onnx_emit_layer(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                            int *rank, fer_err *err)
{
    const fer_layer *L = &m->layers[l];
    const fer_layer_kind *k = fer_layer_kind_of(L->cfg.type);
    for (size_t i = 0; k && i < sizeof emitters / sizeof emitters[0]; i++)
        if (!strcmp(emitters[i].kind, k->name))
            return emitters[i].emit(b, m, l, in, out, rank);
    fer_fail(err, "layer %s: kind '%s' has no ONNX form in fer export", L->cfg.name, k ? k->name : "?");
    return NULL;
}
