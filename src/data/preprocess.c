/* Grey -> model channels and Keras's VGG16 preprocess_input ("caffe" mode:
   RGB -> BGR, subtract the ImageNet BGR means, no scaling). The image is grey
   replicated, so the channel swap changes nothing but the means' order. */
#include "fer/loader.h"

static const float vgg_bgr_mean[3] = {103.939f, 116.779f, 123.68f};

void fer_preprocess(float *dst, const float *grey, int size, int channels, int caffe)
{
    int n = size * size;
    if (channels == 3) {
        float m0 = caffe ? vgg_bgr_mean[0] : 0.0f, m1 = caffe ? vgg_bgr_mean[1] : 0.0f,
              m2 = caffe ? vgg_bgr_mean[2] : 0.0f;
        for (int i = 0; i < n; i++) {
            dst[3 * i] = grey[i] - m0;
            dst[3 * i + 1] = grey[i] - m1;
            dst[3 * i + 2] = grey[i] - m2;
        }
        return;
    }
    float m = caffe ? (vgg_bgr_mean[0] + vgg_bgr_mean[1] + vgg_bgr_mean[2]) / 3.0f : 0.0f;
    for (int i = 0; i < n; i++)
        dst[i] = grey[i] - m;
}
