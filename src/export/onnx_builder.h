/* A small builder over the protobuf-c structures that protoc-c generates
   from Debian's onnx.proto (libonnx-dev): nodes, attributes, initializers
   and typed graph inputs and outputs. Everything it hands out lives in the
   builder's arena and goes with onnx_builder_free. An allocation failure
   is remembered (oom) instead of being checked at every call: the caller
   tests it once, before packing the model. */
#ifndef FER_EXPORT_ONNX_BUILDER_H
#define FER_EXPORT_ONNX_BUILDER_H

#include "onnx.pb-c.h"

#include <stddef.h>
#include <stdint.h>

typedef struct onnx_chunk onnx_chunk;

typedef struct {
    Onnx__GraphProto graph;
    size_t node_cap, init_cap, input_cap, output_cap;
    onnx_chunk *chunks; /* the arena, newest first */
    int oom;
} onnx_builder;

void onnx_builder_init(onnx_builder *b, const char *graph_name);
void onnx_builder_free(onnx_builder *b);

/* Zeroed memory in the arena; NULL (and oom set) on failure. */
void *onnx_alloc(onnx_builder *b, size_t bytes);
/* printf into the arena: tensor and node names. */
char *onnx_name(onnx_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends node op_type named `name` with n_in inputs and one output. */
Onnx__NodeProto *onnx_node(onnx_builder *b, const char *op_type, const char *name, int n_in,
                           const char *const *inputs, const char *output);
void onnx_attr_int(onnx_builder *b, Onnx__NodeProto *node, const char *name, int64_t v);
void onnx_attr_ints(onnx_builder *b, Onnx__NodeProto *node, const char *name, int n, const int64_t *v);
void onnx_attr_float(onnx_builder *b, Onnx__NodeProto *node, const char *name, float v);
void onnx_attr_string(onnx_builder *b, Onnx__NodeProto *node, const char *name, const char *v);

/* Appends a float initializer of ndim dims; returns its data for the
   caller to fill (count = product of dims), or NULL on oom. */
float *onnx_initializer(onnx_builder *b, const char *name, int ndim, const int64_t *dims);

/* Declares a float graph input or output; a dim < 0 is the symbolic batch
   size "N". */
void onnx_graph_input(onnx_builder *b, const char *name, int ndim, const int64_t *dims);
void onnx_graph_output(onnx_builder *b, const char *name, int ndim, const int64_t *dims);

#endif
