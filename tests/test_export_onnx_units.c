/* fer_onnx_export read back with the protobuf-c code it was written with:
   kernels turned HWIO -> OIHW and (dense) inputs x units -> units x inputs,
   a batch normalization's own epsilon, no dropout node, the names, the
   metadata, both input forms; and the failures: a layer kind without an ONNX
   form (named, and no file left), opsets outside 13..17. The numbers are
   checked against OpenCV by tests/test_export_onnx.sh. */
#include "check.h"

#include "fer/config.h"
#include "fer/layer_kind.h"
#include "fer/model.h"
#include "fer/onnx_export.h"
#include "onnx.pb-c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static Onnx__ModelProto *read_back(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static uint8_t buf[1 << 22];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return onnx__model_proto__unpack(NULL, len, buf);
}

static const Onnx__TensorProto *initializer(const Onnx__ModelProto *mp, const char *name)
{
    for (size_t i = 0; i < mp->graph->n_initializer; i++)
        if (!strcmp(mp->graph->initializer[i]->name, name))
            return mp->graph->initializer[i];
    return NULL;
}

static const Onnx__NodeProto *node_named(const Onnx__ModelProto *mp, const char *name)
{
    for (size_t i = 0; i < mp->graph->n_node; i++)
        if (!strcmp(mp->graph->node[i]->name, name))
            return mp->graph->node[i];
    return NULL;
}

static int count_op(const Onnx__ModelProto *mp, const char *op)
{
    int n = 0;
    for (size_t i = 0; i < mp->graph->n_node; i++)
        n += !strcmp(mp->graph->node[i]->op_type, op);
    return n;
}

static void check_weights(const Onnx__ModelProto *mp, const fer_model *m)
{
    int l = fer_model_find(m, "block2_conv1"), d = fer_model_find(m, "dense_1");
    const fer_layer *L = &m->layers[l];
    const Onnx__TensorProto *k = initializer(mp, "block2_conv1/kernel");
    const Onnx__TensorProto *dk = initializer(mp, "dense_1/kernel");
    CHECK(k && k->n_dims == 4 && dk && dk->n_dims == 2);
    if (!k || !dk || k->n_dims != 4 || dk->n_dims != 2)
        return;
    int co = L->out_c, ci = L->in_c, o = co - 3, i = 1, y = 2, x = 0;
    float want = fer_model_weight(m, l, 0)[((y * 3 + x) * ci + i) * co + o];
    float got = k->float_data[((o * ci + i) * 3 + y) * 3 + x];
    printf("block2_conv1/kernel dims %ldx%ldx%ldx%ld (want %dx%dx3x3); [o=%d,i=%d,y=%d,x=%d] %g (HWIO %g)\n",
           (long)k->dims[0], (long)k->dims[1], (long)k->dims[2], (long)k->dims[3], co, ci, o, i, y, x, got,
           want);
    CHECK(k->dims[0] == co && k->dims[1] == ci && k->dims[2] == 3 && got == want);
    int units = m->layers[d].out_c, in = m->layers[d].in_c;
    float dwant = fer_model_weight(m, d, 0)[5 * units + 2], dgot = dk->float_data[2 * in + 5];
    printf("dense_1/kernel dims %ldx%ld (want %dx%d); [unit 2, input 5] %g (Keras %g)\n", (long)dk->dims[0],
           (long)dk->dims[1], units, in, dgot, dwant);
    CHECK(dk->dims[0] == units && dk->dims[1] == in && dgot == dwant);
}

static void check_graph(const Onnx__ModelProto *mp, const fer_model *m, float eps)
{
    const Onnx__NodeProto *bn = node_named(mp, "batch_normalization_1");
    float got = bn && bn->n_attribute ? bn->attribute[0]->f : -1.0f;
    printf("batch_normalization_1 epsilon %g (config %g); %d Dropout, %d Conv, %d Gemm, %d Softmax nodes\n",
           got, eps, count_op(mp, "Dropout"), count_op(mp, "Conv"), count_op(mp, "Gemm"),
           count_op(mp, "Softmax"));
    CHECK(bn && !strcmp(bn->attribute[0]->name, "epsilon") && got == eps);
    CHECK(count_op(mp, "Dropout") == 0 && count_op(mp, "Conv") == 10 && count_op(mp, "Gemm") == 1 &&
          count_op(mp, "Softmax") == 1);
    const char *out = mp->graph->output[0]->name;
    printf("opset %ld, IR %ld, output '%s', metadata %s = %s\n", (long)mp->opset_import[0]->version,
           (long)mp->ir_version, out, mp->metadata_props[0]->key, mp->metadata_props[0]->value);
    CHECK(mp->opset_import[0]->version == 13 && mp->ir_version == 7 && !strcmp(out, "dense_1"));
    CHECK(!strcmp(mp->metadata_props[0]->value, "Angry,Disgust,Fear,Happy,Sad,Surprise,Neutral"));
    check_weights(mp, m);
}

static void check_input(const Onnx__ModelProto *mp, const char *first_op, const int64_t *dims)
{
    const Onnx__TensorShapeProto *s = mp->graph->input[0]->type->tensor_type->shape;
    printf("input '%s': %s x %ld x %ld x %ld, first node %s (want %s)\n", mp->graph->input[0]->name,
           s->dim[0]->dim_param, (long)s->dim[1]->dim_value, (long)s->dim[2]->dim_value,
           (long)s->dim[3]->dim_value, mp->graph->node[0]->op_type, first_op);
    CHECK(s->n_dim == 4 && !strcmp(s->dim[0]->dim_param, "N"));
    for (int i = 1; i < 4; i++)
        CHECK(s->dim[i]->dim_value == dims[i]);
    CHECK(!strcmp(mp->graph->node[0]->op_type, first_op));
}

static void check_failures_leave_nothing(fer_model *m, const fer_config *c, const char *path)
{
    fer_onnx_options o = {.opset = 13, .input = FER_ONNX_INPUT_RAW};
    fer_err err = {{0}};
    int l = fer_model_find(m, "block1_pool");
    fer_layer_type saved = m->layers[l].cfg.type;
    m->layers[l].cfg.type = FER_LAYER_KINDS; /* a kind outside the registry's mapping */
    int rc = fer_onnx_export(m, c, &o, path, &err);
    m->layers[l].cfg.type = saved;
    printf("unknown kind: rc %d, '%s', file left: %s\n", rc, err.msg, access(path, F_OK) ? "no" : "yes");
    CHECK(rc != FER_OK && strstr(err.msg, "block1_pool") && strstr(err.msg, "no ONNX form"));
    CHECK(access(path, F_OK) != 0);
    for (int opset = 12; opset <= 18; opset += 6) {
        o.opset = opset;
        rc = fer_onnx_export(m, c, &o, path, &err);
        printf("opset %d: rc %d, '%s'\n", opset, rc, err.msg);
        CHECK(rc != FER_OK && strstr(err.msg, "13..17") && access(path, F_OK) != 0);
    }
}

int main(void)
{
    char path[1024], dir[] = "/tmp/fer-onnx-units-XXXXXX";
    const char *src = getenv("FER_SOURCE_DIR");
    fer_config *c = calloc(1, sizeof *c);
    fer_model m;
    fer_err err;
    snprintf(path, sizeof path, "%s/configs/quickstart.yaml", src ? src : ".");
    if (!c || !mkdtemp(dir) || fer_config_load(c, path, &err)) {
        printf("setup: %s\n", c ? err.msg : "out of memory");
        return 1;
    }
    int bn = -1;
    for (int l = 0; l < c->model.n_layers; l++)
        if (!strcmp(c->model.layers[l].name, "batch_normalization_1"))
            bn = l;
    c->model.layers[bn].epsilon = 0.0123; /* neither Keras's nor ONNX's default */
    CHECK(fer_model_init(&m, &c->model, 7, &err) == FER_OK);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    fer_onnx_options o = {.opset = 13, .input = FER_ONNX_INPUT_RAW};
    CHECK(fer_onnx_export(&m, c, &o, path, &err) == FER_OK);
    Onnx__ModelProto *mp = read_back(path);
    CHECK(mp != NULL);
    if (mp) {
        int64_t raw[4] = {-1, 1, 48, 48};
        check_input(mp, "Round", raw); /* 48x48 model input: no Resize */
        check_graph(mp, &m, 0.0123f);
        onnx__model_proto__free_unpacked(mp, NULL);
    }
    o.input = FER_ONNX_INPUT_PREPROCESSED;
    CHECK(fer_onnx_export(&m, c, &o, path, &err) == FER_OK);
    if ((mp = read_back(path))) {
        int64_t pre[4] = {-1, 48, 48, 3};
        check_input(mp, "Transpose", pre);
        onnx__model_proto__free_unpacked(mp, NULL);
    }
    remove(path);
    check_failures_leave_nothing(&m, c, path);
    rmdir(dir);
    fer_model_free(&m);
    free(c);
    return check_report("test_export_onnx_units");
}
