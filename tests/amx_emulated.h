/* The AMX tile instructions that src/nn/bf16_gemm_amx.c uses, written in C
   from their documented semantics (Intel SDM: LDTILECFG, TILELOADD,
   TILESTORED, TILEZERO, TDPBF16PS, TILERELEASE), so that the kernel's
   blocking, strides and edge handling can be tested where no CPU has AMX.
   Compiled into that file alone (-include, FER_AMX_EMULATED) for the test
   bf16_amx_emulated; the library always uses the real instructions.
   TDPBF16PS here sums in a fixed order, the hardware in its own: both stay
   within the fp32 summation bound the test checks. */
#ifndef FER_TEST_AMX_EMULATED_H
#define FER_TEST_AMX_EMULATED_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int configured;
    uint8_t rows[8];
    uint16_t colsb[8];
    uint8_t data[8][16][64];
} amx_emulated_state;

static _Thread_local amx_emulated_state amx_state;

static inline void amx_emulated_fail(const char *what)
{
    fprintf(stderr, "amx emulation: %s\n", what);
    abort();
}

static inline void _tile_loadconfig(const void *config)
{
    const uint8_t *c = config;
    if (c[0] != 1)
        amx_emulated_fail("palette is not 1");
    for (int t = 0; t < 8; t++) {
        memcpy(&amx_state.colsb[t], c + 16 + 2 * t, 2);
        amx_state.rows[t] = c[48 + t];
        if (amx_state.rows[t] > 16 || amx_state.colsb[t] > 64)
            amx_emulated_fail("tile larger than 16 rows x 64 bytes");
    }
    amx_state.configured = 1;
}

static inline void amx_emulated_check(int t)
{
    if (!amx_state.configured || t < 0 || t > 7)
        amx_emulated_fail("tile used before LDTILECFG or out of range");
}

static inline void _tile_loadd(int t, const void *base, size_t stride)
{
    amx_emulated_check(t);
    memset(amx_state.data[t], 0, sizeof amx_state.data[t]);
    for (int r = 0; r < amx_state.rows[t]; r++)
        memcpy(amx_state.data[t][r], (const uint8_t *)base + (size_t)r * stride, amx_state.colsb[t]);
}

static inline void _tile_stored(int t, void *base, size_t stride)
{
    amx_emulated_check(t);
    for (int r = 0; r < amx_state.rows[t]; r++)
        memcpy((uint8_t *)base + (size_t)r * stride, amx_state.data[t][r], amx_state.colsb[t]);
}

static inline void _tile_zero(int t)
{
    amx_emulated_check(t);
    memset(amx_state.data[t], 0, sizeof amx_state.data[t]);
}

static inline float amx_emulated_bf16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* C[m][n] += sum_k A[m][2k] B[k][2n] + A[m][2k+1] B[k][2n+1], in fp32. */
static inline void _tile_dpbf16ps(int c, int a, int b)
{
    amx_emulated_check(c), amx_emulated_check(a), amx_emulated_check(b);
    int M = amx_state.rows[c], N = amx_state.colsb[c] / 4, K = amx_state.colsb[a] / 4;
    if (amx_state.rows[a] != M || amx_state.rows[b] != K || amx_state.colsb[b] != amx_state.colsb[c])
        amx_emulated_fail("tile shapes do not match for TDPBF16PS");
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc;
            memcpy(&acc, &amx_state.data[c][m][4 * n], 4);
            for (int k = 0; k < K; k++) {
                acc += amx_emulated_bf16(&amx_state.data[a][m][4 * k]) *
                       amx_emulated_bf16(&amx_state.data[b][k][4 * n]);
                acc += amx_emulated_bf16(&amx_state.data[a][m][4 * k + 2]) *
                       amx_emulated_bf16(&amx_state.data[b][k][4 * n + 2]);
            }
            memcpy(&amx_state.data[c][m][4 * n], &acc, 4);
        }
}

static inline void _tile_release(void)
{
    amx_state.configured = 0;
}

#endif
