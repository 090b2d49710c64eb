/* fer_onnx_export: the graph (input preparation, the layers, softmax), the
   model around it (opset, producer, class names in metadata_props), packed
   by protobuf-c and written with the crash-safe replacement checkpoints
   use. */
#include "fer/onnx_export.h"

#include "../io/atomic_file.h"
#include "fer/dataset.h"
#include "onnx_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layers after the input; the last one's output is named
   <layer>/logits and the softmax over it <layer>, as a Keras layer with
   activation softmax is one tensor. Returns the probabilities' name. */
static const char *emit_layers(onnx_builder *b, const fer_model *m, const char *x, fer_err *err)
{
    int rank = 4;
    for (int l = 0; l < m->n_layers && x; l++) {
        const char *name = m->layers[l].cfg.name;
        const char *out = l + 1 < m->n_layers ? name : onnx_name(b, "%s/logits", name);
        x = out ? onnx_emit_layer(b, m, l, x, out, &rank, err) : NULL;
    }
    if (!x)
        return NULL;
    const char *probs = m->layers[m->n_layers - 1].cfg.name, *inputs[1] = {x};
    if (rank != 2) {
        fer_fail(err, "layer %s: the model ends in a spatial output, not a vector of class scores", probs);
        return NULL;
    }
    Onnx__NodeProto *n = onnx_node(b, "Softmax", onnx_name(b, "%s/softmax", probs), 1, inputs, probs);
    onnx_attr_int(b, n, "axis", 1);
    int64_t dims[2] = {-1, m->cfg.classes};
    onnx_graph_output(b, probs, 2, dims);
    return probs;
}

static Onnx__StringStringEntryProto *entry(onnx_builder *b, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = onnx_alloc(b, sizeof *e);
    if (e) {
        onnx__string_string_entry_proto__init(e);
        e->key = onnx_name(b, "%s", key);
        e->value = onnx_name(b, "%s", value);
    }
    return e;
}

/* The class names, comma-separated, as `fer predict` prints them. */
static char *class_names(onnx_builder *b, int k)
{
    char *s = onnx_alloc(b, (size_t)k * 24 + 1);
    for (int j = 0; s && j < k; j++) {
        size_t len = strlen(s);
        if (k == 7)
            snprintf(s + len, 24, "%s%s", j ? "," : "", fer_emotion_names[j]);
        else
            snprintf(s + len, 24, "%sclass%d", j ? "," : "", j);
    }
    return s;
}

static void add_metadata(onnx_builder *b, Onnx__ModelProto *model, const fer_model *m, const fer_config *cfg,
                         const fer_onnx_options *o)
{
    char size[64];
    snprintf(size, sizeof size, "%d", m->cfg.input_size);
    Onnx__StringStringEntryProto **props = onnx_alloc(b, 5 * sizeof *props);
    if (!props)
        return;
    props[0] = entry(b, "class_names", class_names(b, m->cfg.classes));
    props[1] = entry(b, "input", o->input == FER_ONNX_INPUT_RAW ? "raw" : "preprocessed");
    props[2] = entry(b, "input_description",
                     o->input == FER_ONNX_INPUT_RAW
                         ? "N x 1 x 48 x 48 grey faces, floats 0..255, histogram-equalized when the "
                           "training config had data.equalize"
                         : "N x S x S x C, the model's preprocessed input (NHWC)");
    props[3] = entry(b, "model_input_size", size);
    props[4] = entry(b, "equalize", cfg->data.equalize ? "true" : "false");
    model->n_metadata_props = 5;
    model->metadata_props = props;
}

/* The model around the graph; its parts live in b. */
static void fill_model(onnx_builder *b, Onnx__ModelProto *model, const fer_model *m, const fer_config *cfg,
                       const fer_onnx_options *o)
{
    Onnx__OperatorSetIdProto *opset = onnx_alloc(b, sizeof *opset);
    Onnx__OperatorSetIdProto **opsets = onnx_alloc(b, sizeof *opsets);
    if (!opset || !opsets)
        return;
    onnx__operator_set_id_proto__init(opset);
    opset->domain = onnx_name(b, "%s", "");
    opset->has_version = 1;
    opset->version = o->opset;
    opsets[0] = opset;
    onnx__model_proto__init(model);
    /* IR 7 came with opsets 12 to 14, IR 8 with 15 to 17: the lowest a
       consumer must read. */
    model->has_ir_version = 1;
    model->ir_version = o->opset <= 14 ? 7 : 8;
    model->n_opset_import = 1;
    model->opset_import = opsets;
    model->producer_name = onnx_name(b, "fer");
    model->producer_version = onnx_name(b, "%s", FER_VERSION);
    model->doc_string = onnx_name(b, "facial-expression classifier exported by fer export");
    model->graph = &b->graph;
    add_metadata(b, model, m, cfg, o);
}

static int write_file(const char *path, const uint8_t *buf, size_t len, fer_err *err)
{
    char tmp[4096];
    fer_atomic_tmp_name(tmp, sizeof tmp, path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return fer_fail(err, "%s: cannot create: %m", tmp);
    int ok = fwrite(buf, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        remove(tmp);
        return fer_fail(err, "%s: write failed: %m", tmp);
    }
    return fer_atomic_commit(tmp, path, err);
}

int fer_onnx_export(const fer_model *m, const fer_config *cfg, const fer_onnx_options *o, const char *path,
                    fer_err *err)
{
    if (o->opset < FER_ONNX_OPSET_MIN || o->opset > FER_ONNX_OPSET_MAX)
        return fer_fail(err, "opset %d: fer export writes opsets %d..%d", o->opset, FER_ONNX_OPSET_MIN,
                        FER_ONNX_OPSET_MAX);
    if (m->n_layers < 1)
        return fer_fail(err, "the model has no layers");
    /* The raw graph prepares faces as training did up to the model size; the
       centre crop evaluation adds is not in it, so it is refused rather than
       written to give other probabilities than fer predict. */
    if (o->input == FER_ONNX_INPUT_RAW && cfg->augment.random_crop.size > 0)
        return fer_fail(err,
                        "the model was trained with augment.random_crop (size %d): a raw-input graph "
                        "would leave out the centre crop it is evaluated with; export it with --input "
                        "preprocessed and give it the centre %d x %d crop resized to %d x %d, "
                        "preprocessed (docs/deploy.md)",
                        cfg->augment.random_crop.size, cfg->augment.random_crop.size,
                        cfg->augment.random_crop.size, m->cfg.input_size, m->cfg.input_size);
    onnx_builder b;
    onnx_builder_init(&b, "fer");
    Onnx__ModelProto model;
    int rc = emit_layers(&b, m, onnx_emit_input(&b, m, o->input), err) ? FER_OK : FER_ERROR;
    if (rc == FER_OK)
        fill_model(&b, &model, m, cfg, o);
    if (b.oom) /* also where a name's allocation failed and emit_layers stopped without a message */
        rc = fer_fail(err, "out of memory building the ONNX graph");
    uint8_t *buf = NULL;
    size_t len = rc == FER_OK ? onnx__model_proto__get_packed_size(&model) : 0;
    if (rc == FER_OK && !(buf = malloc(len)))
        rc = fer_fail(err, "out of memory for a %zu-byte ONNX file", len);
    if (rc == FER_OK && onnx__model_proto__pack(&model, buf) != len)
        rc = fer_fail(err, "protobuf-c packed a size other than it announced");
    if (rc == FER_OK)
        rc = write_file(path, buf, len, err);
    free(buf);
    onnx_builder_free(&b);
    return rc;
}
