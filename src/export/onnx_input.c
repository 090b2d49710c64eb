/* The graph's input and what turns it into the first layer's NCHW input.
   Raw faces take the path of a training image (src/data/image_set.c,
   src/data/preprocess.c): a bilinear upscale from 48x48 with half-pixel
   centres and edge clamping (Resize, linear, half_pixel: the convention of
   fer_resize_bilinear), rounding to whole grey levels as the uint8 image
   set stores them (Round is half to even, as lrintf), the grey
   channel replicated, and the caffe BGR means subtracted. */
#include "fer/explain.h"
#include "onnx_parts.h"

static const float caffe_bgr_mean[3] = {103.939f, 116.779f, 123.68f};

/* One node of one input and output: the preparation's steps. */
static const char *step(onnx_builder *b, const char *op, const char *in, const char *out)
{
    const char *inputs[1] = {in};
    onnx_node(b, op, out, 1, inputs, out);
    return out;
}

static const char *upscale(onnx_builder *b, const char *in, int size)
{
    int64_t four = 4, none = 0;
    float *scales = onnx_initializer(b, "input/resize_scales", 1, &four);
    onnx_initializer(b, "input/resize_roi", 1, &none);
    if (scales) {
        scales[0] = scales[1] = 1.0f;
        scales[2] = scales[3] = (float)size / FER_DATASET_SIDE;
    }
    const char *inputs[3] = {in, "input/resize_roi", "input/resize_scales"};
    Onnx__NodeProto *n = onnx_node(b, "Resize", "input/resized", 3, inputs, "input/resized");
    onnx_attr_string(b, n, "mode", "linear");
    onnx_attr_string(b, n, "coordinate_transformation_mode", "half_pixel");
    return "input/resized";
}

/* Whole grey levels, as the uint8 image set stores them. No Clip to
   0..255: an interpolation of inputs in 0..255 stays there, and OpenCV
   4.6 reads Clip only in its opset-6 form. */
static const char *to_grey_levels(onnx_builder *b, const char *in)
{
    return step(b, "Round", in, "input/grey");
}

/* The grey channel replicated, the caffe means subtracted in BGR order. */
static const char *to_channels(onnx_builder *b, const fer_model *m, const char *in)
{
    int ch = m->cfg.channels;
    if (ch == 3) {
        const char *inputs[3] = {in, in, in};
        Onnx__NodeProto *n = onnx_node(b, "Concat", "input/bgr", 3, inputs, "input/bgr");
        onnx_attr_int(b, n, "axis", 1);
        in = "input/bgr";
    }
    if (!m->cfg.preprocess_caffe)
        return in;
    /* C x 1 x 1, broadcast over the batch: OpenCV 4.6 fails on batches
       above 1 with the equivalent 1 x C x 1 x 1. */
    int64_t dims[3] = {ch, 1, 1};
    float *mean = onnx_initializer(b, "input/caffe_mean", 3, dims);
    if (mean && ch == 3)
        for (int c = 0; c < 3; c++)
            mean[c] = caffe_bgr_mean[c];
    else if (mean) /* one channel: the mean of the three, as fer_preprocess */
        mean[0] = (caffe_bgr_mean[0] + caffe_bgr_mean[1] + caffe_bgr_mean[2]) / 3.0f;
    const char *inputs[2] = {in, "input/caffe_mean"};
    onnx_node(b, "Sub", "input/centred", 2, inputs, "input/centred");
    return "input/centred";
}

const char *onnx_emit_input(onnx_builder *b, const fer_model *m, fer_onnx_input input)
{
    int64_t size = m->cfg.input_size, ch = m->cfg.channels;
    if (input == FER_ONNX_INPUT_PREPROCESSED) {
        int64_t dims[4] = {-1, size, size, ch}, perm[4] = {0, 3, 1, 2};
        onnx_graph_input(b, "input", 4, dims);
        const char *inputs[1] = {"input"};
        Onnx__NodeProto *n = onnx_node(b, "Transpose", "input/nchw", 1, inputs, "input/nchw");
        onnx_attr_ints(b, n, "perm", 4, perm);
        return "input/nchw";
    }
    int64_t dims[4] = {-1, 1, FER_DATASET_SIDE, FER_DATASET_SIDE};
    onnx_graph_input(b, "input", 4, dims);
    const char *x = "input";
    if (size != FER_DATASET_SIDE)
        x = upscale(b, x, (int)size);
    return to_channels(b, m, to_grey_levels(b, x));
}
