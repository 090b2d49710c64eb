/* The AMX kernel of the bf16 products (src/nn/bf16_gemm_amx.c) run over
   tests/amx_emulated.h, the tile instructions written in C, so that its
   blocking, strides and edges are tested on every machine; on a CPU with
   AMX, test_nn_bf16_gemm and test_nn_bf16_conv run the real instructions.
   Against double loops on the same bf16 operands, within the fp32
   summation bound: rows in whole blocks of 32 (it must report that it
   left a partial block's rows alone and not touch them), panels cut by n,
   an odd last panel, wide strides, overwrite and accumulate, and columns
   beyond n untouched. */
#include "../src/nn/bf16_gemm.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

static float value(unsigned key, size_t i, float scale)
{
    unsigned h = (unsigned)(i * 2654435761u) ^ (key * 40503u);
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return ((float)(h % 2001u) / 1000.0f - 1.0f) * scale;
}

static double check_shape(int m, int n, int k, int accumulate)
{
    const int kp = fer_bf16_kp(k), whole = m / FER_BF16_ROWS * FER_BF16_ROWS;
    const size_t lda = (size_t)kp + 64, ldc = (size_t)n + 9;
    fer_bf16 *a = calloc((size_t)m * lda, sizeof *a), *bp = malloc(fer_bf16_packed_size(k, n) * sizeof *bp);
    float *af = malloc((size_t)k * sizeof *af), *b = malloc((size_t)k * n * sizeof *b);
    float *c = malloc((size_t)m * ldc * sizeof *c), *c0 = malloc((size_t)m * ldc * sizeof *c0);
    for (int i = 0; i < m; i++) {
        for (int r = 0; r < k; r++)
            af[r] = value(1, (size_t)i * k + r, 3);
        fer_bf16_round_row(a + (size_t)i * lda, af, (size_t)k, (size_t)kp);
    }
    for (size_t i = 0; i < (size_t)k * n; i++)
        b[i] = value(2, i, 2);
    for (size_t i = 0; i < (size_t)m * ldc; i++)
        c0[i] = c[i] = value(3, i, 5);
    fer_bf16_pack_b(bp, b, (size_t)n, 1, k, n);
    int done = fer_bf16_gemm_amx(c, ldc, a, lda, bp, m, n, kp, accumulate);
    CHECK_MSG(done == whole, "m %d: did %d rows, expected %d", m, done, whole);
    const double u = 0x1p-24, gamma = (k + 1) * u / (1 - (k + 1) * u);
    double worst = 0.0;
    int untouched = 1;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n && i < whole; j++) {
            double exact = accumulate ? c0[(size_t)i * ldc + j] : 0.0, mag = fabs(exact);
            for (int r = 0; r < k; r++) {
                double t = (double)fer_bf16_to_float(a[(size_t)i * lda + r]) *
                           (double)fer_bf16_round(b[(size_t)r * n + j]);
                exact += t;
                mag += fabs(t);
            }
            double e = fabs(c[(size_t)i * ldc + j] - exact) / (gamma * mag + (k + 1) * (double)FLT_MIN);
            worst = e > worst ? e : worst;
        }
        for (size_t j = i < whole ? (size_t)n : 0; j < ldc; j++)
            untouched &= c[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j];
    }
    CHECK_MSG(untouched, "m %d n %d: wrote outside its rows or columns", m, n);
    free(a), free(bp), free(af), free(b), free(c), free(c0);
    return worst;
}

int main(void)
{
    static const int shapes[][3] = {{32, 32, 32},  {32, 16, 32},  {64, 48, 64},   {40, 7, 27},
                                    {96, 33, 100}, {64, 64, 576}, {70, 130, 300}, {128, 256, 1152}};
    double worst = 0.0;
    int cases = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int acc = 0; acc < 2; acc++) {
            double e = check_shape(shapes[s][0], shapes[s][1], shapes[s][2], acc);
            CHECK_MSG(e <= 1.0, "m %d n %d k %d acc %d: error %.3g of the bound", shapes[s][0], shapes[s][1],
                      shapes[s][2], acc, e);
            worst = e > worst ? e : worst;
            cases++;
        }
    printf("AMX kernel over emulated tiles: %d shapes (m 32..128, n 7..256, k 27..1152, overwrite and "
           "accumulate), worst error %.3f of the fp32-summation bound (must be <= 1)\n",
           cases, worst);
    return check_report("test_nn_bf16_amx_emulated");
}
