/* The pieces of an exported graph (src/export/): the input preparation and
   one emitter per layer kind. */
#ifndef FER_EXPORT_ONNX_PARTS_H
#define FER_EXPORT_ONNX_PARTS_H

#include "fer/model.h"
#include "fer/onnx_export.h"
#include "onnx_builder.h"

/* Declares the graph input and the nodes that turn it into the first
   layer's input, NCHW; returns that tensor's name. */
const char *onnx_emit_input(onnx_builder *b, const fer_model *m, fer_onnx_input input);

/* Appends layer l reading tensor `in` (rank *rank: 4 for NCHW, 2 for a
   batch of vectors) and writing `out`; returns the name of the tensor that
   holds the layer's output (`in` itself for a layer inference skips) and
   updates *rank. NULL with err set when the layer's kind has no ONNX
   form. */
const char *onnx_emit_layer(onnx_builder *b, const fer_model *m, int l, const char *in, const char *out,
                            int *rank, fer_err *err);

#endif
