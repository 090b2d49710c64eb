/* The inference graph of a model as an ONNX file (`fer export`): the
   layers in NCHW with the model's weights, softmax probabilities as the
   output, and in front of them either the model's own input or the
   preparation `fer predict` applies to a 48x48 face (docs/deploy.md). */
#ifndef FER_ONNX_EXPORT_H
#define FER_ONNX_EXPORT_H

#include "fer/config.h"
#include "fer/error.h"
#include "fer/model.h"

/* The opsets whose operators the export writes with one meaning: 13 is the
   first with today's Resize, Softmax, Clip and Split; 17 the newest that
   Debian's onnx 1.12 knows. */
enum { FER_ONNX_OPSET_MIN = 13, FER_ONNX_OPSET_MAX = 17, FER_ONNX_OPSET_DEFAULT = 13 };

typedef enum {
    /* N x 1 x 48 x 48 grey faces, floats 0..255, equalized as the model's
       training images were: the graph upscales, rounds, replicates the
       channels and subtracts the caffe means. */
    FER_ONNX_INPUT_RAW = 0,
    /* The model's input tensor, N x S x S x C (NHWC) after preprocessing. */
    FER_ONNX_INPUT_PREPROCESSED,
} fer_onnx_input;

typedef struct {
    int opset;
    fer_onnx_input input;
} fer_onnx_options;

/* Writes m (built from cfg, with its trained weights) to path, replacing
   it atomically. Fails naming the layer when a layer kind has no ONNX
   form. */
int fer_onnx_export(const fer_model *m, const fer_config *cfg, const fer_onnx_options *o, const char *path,
                    fer_err *err);

#endif
