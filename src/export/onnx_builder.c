/* The arena and the append helpers of onnx_builder.h. Arrays of the graph
   (nodes, initializers, inputs, outputs) grow by doubling inside the arena:
   the old array stays there until the builder is freed, which costs little
   for graphs of a few dozen nodes and keeps one owner for everything. */
#include "onnx_builder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTRS 8

struct onnx_chunk {
    onnx_chunk *next;
    max_align_t data[];
};

void onnx_builder_init(onnx_builder *b, const char *graph_name)
{
    memset(b, 0, sizeof *b);
    onnx__graph_proto__init(&b->graph);
    b->graph.name = onnx_name(b, "%s", graph_name);
}

void onnx_builder_free(onnx_builder *b)
{
    while (b->chunks) {
        onnx_chunk *next = b->chunks->next;
        free(b->chunks);
        b->chunks = next;
    }
}

void *onnx_alloc(onnx_builder *b, size_t bytes)
{
    onnx_chunk *c = calloc(1, sizeof *c + bytes);
    if (!c) {
        b->oom = 1;
        return NULL;
    }
    c->next = b->chunks;
    b->chunks = c;
    return c->data;
}

char *onnx_name(onnx_builder *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = len >= 0 ? onnx_alloc(b, (size_t)len + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)len + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

/* The array of pointers `items` (n of them) with room for one more: items
   itself, or a larger copy; NULL on oom. */
static void *grow(onnx_builder *b, void *items, size_t n, size_t *cap)
{
    if (n < *cap)
        return items;
    size_t want = *cap ? 2 * *cap : 16;
    void **more = onnx_alloc(b, want * sizeof *more);
    if (!more)
        return NULL;
    if (n)
        memcpy(more, items, n * sizeof *more);
    *cap = want;
    return more;
}

Onnx__NodeProto *onnx_node(onnx_builder *b, const char *op_type, const char *name, int n_in,
                           const char *const *inputs, const char *output)
{
    Onnx__GraphProto *g = &b->graph;
    Onnx__NodeProto *node = onnx_alloc(b, sizeof *node);
    char **in = onnx_alloc(b, (size_t)(n_in > 0 ? n_in : 1) * sizeof *in);
    char **out = onnx_alloc(b, sizeof *out);
    Onnx__AttributeProto **attrs = onnx_alloc(b, MAX_ATTRS * sizeof *attrs);
    Onnx__NodeProto **nodes = grow(b, g->node, g->n_node, &b->node_cap);
    if (!node || !in || !out || !attrs || !nodes)
        return NULL;
    g->node = nodes;
    onnx__node_proto__init(node);
    node->op_type = onnx_name(b, "%s", op_type);
    node->name = onnx_name(b, "%s", name);
    for (int i = 0; i < n_in; i++)
        in[i] = onnx_name(b, "%s", inputs[i]);
    out[0] = onnx_name(b, "%s", output);
    node->n_input = (size_t)n_in;
    node->input = in;
    node->n_output = 1;
    node->output = out;
    node->attribute = attrs;
    g->node[g->n_node++] = node;
    return node;
}

static Onnx__AttributeProto *attr(onnx_builder *b, Onnx__NodeProto *node, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    if (!node || node->n_attribute >= MAX_ATTRS) {
        b->oom = 1;
        return NULL;
    }
    Onnx__AttributeProto *a = onnx_alloc(b, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = onnx_name(b, "%s", name);
    a->has_type = 1;
    a->type = type;
    node->attribute[node->n_attribute++] = a;
    return a;
}

void onnx_attr_int(onnx_builder *b, Onnx__NodeProto *node, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(b, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
}

void onnx_attr_ints(onnx_builder *b, Onnx__NodeProto *node, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *a = attr(b, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *copy = onnx_alloc(b, (size_t)n * sizeof *copy);
    if (a && copy) {
        memcpy(copy, v, (size_t)n * sizeof *copy);
        a->n_ints = (size_t)n;
        a->ints = copy;
    }
}

void onnx_attr_float(onnx_builder *b, Onnx__NodeProto *node, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(b, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
}

void onnx_attr_string(onnx_builder *b, Onnx__NodeProto *node, const char *name, const char *v)
{
    Onnx__AttributeProto *a = attr(b, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *s = onnx_name(b, "%s", v);
    if (a && s) {
        a->has_s = 1;
        a->s.data = (uint8_t *)s;
        a->s.len = strlen(s);
    }
}

float *onnx_initializer(onnx_builder *b, const char *name, int ndim, const int64_t *dims)
{
    Onnx__GraphProto *g = &b->graph;
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (size_t)dims[i];
    Onnx__TensorProto *t = onnx_alloc(b, sizeof *t);
    int64_t *d = onnx_alloc(b, (size_t)(ndim > 0 ? ndim : 1) * sizeof *d);
    float *data = onnx_alloc(b, (count ? count : 1) * sizeof *data);
    Onnx__TensorProto **inits = grow(b, g->initializer, g->n_initializer, &b->init_cap);
    if (!t || !d || !data || !inits)
        return NULL;
    g->initializer = inits;
    onnx__tensor_proto__init(t);
    t->name = onnx_name(b, "%s", name);
    memcpy(d, dims, (size_t)ndim * sizeof *d);
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_float_data = count;
    t->float_data = data;
    g->initializer[g->n_initializer++] = t;
    return data;
}

/* A float tensor value with a shape; dims < 0 are the batch size "N". */
static Onnx__ValueInfoProto *value_info(onnx_builder *b, const char *name, int ndim, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = onnx_alloc(b, sizeof *v);
    Onnx__TypeProto *type = onnx_alloc(b, sizeof *type);
    Onnx__TypeProto__Tensor *tensor = onnx_alloc(b, sizeof *tensor);
    Onnx__TensorShapeProto *shape = onnx_alloc(b, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dim = onnx_alloc(b, (size_t)ndim * sizeof *dim);
    if (!v || !type || !tensor || !shape || !dim)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tensor);
    onnx__tensor_shape_proto__init(shape);
    for (int i = 0; i < ndim; i++) {
        dim[i] = onnx_alloc(b, sizeof *dim[i]);
        if (!dim[i])
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (dims[i] < 0) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = onnx_name(b, "N");
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        }
    }
    shape->n_dim = (size_t)ndim;
    shape->dim = dim;
    tensor->has_elem_type = 1;
    tensor->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tensor->shape = shape;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tensor;
    v->name = onnx_name(b, "%s", name);
    v->type = type;
    return v;
}

void onnx_graph_input(onnx_builder *b, const char *name, int ndim, const int64_t *dims)
{
    Onnx__GraphProto *g = &b->graph;
    Onnx__ValueInfoProto *v = value_info(b, name, ndim, dims);
    Onnx__ValueInfoProto **inputs = v ? grow(b, g->input, g->n_input, &b->input_cap) : NULL;
    if (inputs) {
        g->input = inputs;
        g->input[g->n_input++] = v;
    }
}

void onnx_graph_output(onnx_builder *b, const char *name, int ndim, const int64_t *dims)
{
    Onnx__GraphProto *g = &b->graph;
    Onnx__ValueInfoProto *v = value_info(b, name, ndim, dims);
    Onnx__ValueInfoProto **outputs = v ? grow(b, g->output, g->n_output, &b->output_cap) : NULL;
    if (outputs) {
        g->output = outputs;
        g->output[g->n_output++] = v;
    }
}
