/* Parameter gradients of a batch normalization y = gamma * xhat + beta that
   a valid convolution (no padding) reads, when nothing needs the
   normalization's input gradient: a frozen-backbone step whose first
   trainable layer is a normalization that a convolution reads. The usual way forms the convolution's input
   gradient dy_bn, a correlation as costly as the kernel gradient, only to sum it into dgamma = sum dy_bn *
   xhat and dbeta = sum dy_bn. With M the kernel gradient of the convolution computed from xhat in place of y,
   and s its bias gradient (the sum of its output gradient), dk[t,c,o] = gamma[c] M[t,c,o] + beta[c] s[o],
     dgamma[c] = sum over t, o of k[t,c,o] M[t,c,o],
     dbeta[c]  = sum over t, o of k[t,c,o] s[o],
   exactly: without padding every input position that tap t pairs with an
   output lies inside the input, so summing the input gradient over
   positions gives these sums of the kernel against M and s.

   Channels are independent and shared out to a team of threads; each
   channel's sums run in the same order whoever computes them. */
#include "fer/nn.h"

#include "team.h"
#include "vector_clones.h"

enum { LANES = 16, MIN_EACH = 1 << 14 /* kernel floats worth a thread */ };

/* One row m[0..co) of M for a tap and an input channel: adds k . m and
   k . s to *g and *b, then turns m into dk. LANES partial sums in float
   keep the loop vectorizable with the same bits in every clone. */
FER_VECTOR_CLONES static void fold_row(float *restrict m, const float *restrict k, const float *restrict s,
                                       float gamma, float beta, int co, double *g, double *b)
{
    float pg[LANES] = {0}, pb[LANES] = {0};
    int o = 0;
    for (; o + LANES <= co; o += LANES)
        for (int j = 0; j < LANES; j++) {
            pg[j] += k[o + j] * m[o + j];
            pb[j] += k[o + j] * s[o + j];
            m[o + j] = gamma * m[o + j] + beta * s[o + j];
        }
    double sg = 0.0, sb = 0.0;
    for (; o < co; o++) {
        sg += (double)k[o] * m[o];
        sb += (double)k[o] * s[o];
        m[o] = gamma * m[o] + beta * s[o];
    }
    for (int j = 0; j < LANES; j++) {
        sg += pg[j];
        sb += pb[j];
    }
    *g += sg;
    *b += sb;
}

typedef struct {
    float *dk, *dgamma, *dbeta;
    const float *k, *s, *gamma, *beta;
    int taps, ci, co;
} fold_job;

static void fold_worker(void *ctx, int worker, int workers)
{
    const fold_job *j = ctx;
    size_t c0, c1;
    fer_team_share((size_t)j->ci, worker, workers, &c0, &c1);
    for (size_t c = c0; c < c1; c++) {
        double g = 0.0, b = 0.0;
        for (int t = 0; t < j->taps; t++) {
            size_t row = ((size_t)t * j->ci + c) * j->co;
            fold_row(j->dk + row, j->k + row, j->s, j->gamma[c], j->beta[c], j->co, &g, &b);
        }
        j->dgamma[c] = (float)g;
        j->dbeta[c] = (float)b;
    }
}

void fer_batchnorm_fold_conv_grads(float *dk, float *dgamma, float *dbeta, const float *k, const float *s,
                                   const float *gamma, const float *beta, int taps, int ci, int co)
{
    fold_job j = {dk, dgamma, dbeta, k, s, gamma, beta, taps, ci, co};
    int workers = fer_team_for((size_t)taps * ci * co, MIN_EACH);
    fer_team_run(workers < ci ? workers : (ci > 0 ? ci : 1), fold_worker, &j);
}
