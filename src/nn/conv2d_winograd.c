/* Winograd F(6x6, 3x3): each 6x6 block of outputs comes from an 8x8 input
   tile as Y = A^T [(G g G^T) . (B^T d B)] A, so a 3x3 convolution costs 64
   multiplications per 36 outputs and channel pair instead of 324: 5 times
   fewer FLOPs than im2col + GEMM (F(4x4, 3x3) saves 4 times). Over channels
   the 64 element-wise products are 64 GEMMs, (tiles x cin) x (cin x cout),
   batched over a chunk of tiles that may span images. The matrices are
   Lavin and Gray's (interpolation points 0, 1, -1, 2, -2, 1/2, -1/2 and
   infinity), as in NNPACK; in float their error stays near 1e-6 of the sum
   of the absolute products, up to ~1e-5 where few terms contribute
   (tests/test_nn_winograd.c).

   The backward pass uses the same algebra. The input gradient is a forward
   correlation of dy with the flipped kernel (channels swapped, padding
   2 - pad). The kernel gradient is dg = G^T [sum over tiles of
   (B^T d B) . (A dY A^T)] G: per element a GEMM (cin x tiles) x (tiles x
   cout), accumulated over chunks.

   A correlation of one or two shared chunks (a wide layer on a small
   feature map) transforms its kernel an element at a time inside the GEMM phase
   instead of all at once before it (fused_kernel).

   The transforms run over channels (contiguous in NHWC) in two 1-D passes of
   small vector functions whose restrict arguments let them vectorize. */
#include "conv2d_winograd.h"

#include "conv_kernel_cache.h"
#include "own_gemm.h"
#include "team.h"
#include "vector_clones.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum {
    TILE = 8,                        /* input tile side */
    OUT = 6,                         /* output block side */
    ELEMS = TILE * TILE,             /* transformed elements per tile */
    SLOT_BLOCKS = TILE * (TILE + 1), /* element blocks of the correlation's slot */
    REGION_FLOATS = 1 << 22,         /* transformed tiles in flight (16 MiB) */
    SHARED_FLOATS = 6 << 20,         /* the same for one shared chunk (24 MiB) */
    SLOTS = 4,                       /* independent chunks in flight: at most this many threads */
    MIN_OWN_CHUNK = 96,              /* tiles an independent chunk needs to keep its GEMMs efficient */
    MAX_CHUNK = 256,                 /* tiles per correlation chunk: more only crowds the caches */
    MAX_GRAD_CHUNK = 1024,           /* tiles per kernel-gradient chunk */
    WINO_MIN_CHANNELS = 16,          /* below this the GEMMs are too thin to pay for the transforms */
    CHANNEL_BLOCK = 64,              /* channels transformed at once (stack temporaries) */
    KERNEL_BLOCK = 128,              /* floats of a kernel transformed at once */
    KERNEL_MIN_EACH = 1 << 13        /* kernel floats (cin x cout) worth a thread */
};

/* One correlation as tiles: in n x h x w x cin, out n x ho x wo x cout. */
typedef struct {
    int n, h, w, cin, ho, wo, cout, pad;
    int th, tw;   /* tiles down and across: ceil(ho / 6), ceil(wo / 6) */
    size_t tiles; /* n * th * tw */
} wino_grid;

/* Scratch: the transformed kernel (or its gradient), a zero vector for input
   outside the image, and a region for the transformed tiles of one chunk
   (the correlation passes' slot, see below) or of one kernel-gradient
   chunk. Chunk sizes depend on the shapes only, never on the thread count:
   OpenBLAS's result for a row of a product can depend on how many rows the
   product has, and results must not depend on the threads. Wide layers get
   as many tiles as the region holds: a GEMM with few rows spends its time
   packing the transformed kernel. Their shared chunk has a larger region
   (SHARED_FLOATS), sized so that a wide layer on a small feature map has
   all its tiles, or half of them, in one or two chunks at usual batch
   sizes (larger regions gained nothing more). */
typedef struct {
    float *u;          /* 64 x cin x cout */
    float *zero;       /* max(cin, cout) zeros */
    float *region;     /* one chunk's transformed tiles */
    size_t chunk;      /* tiles per correlation chunk */
    int shared;        /* the team works on one chunk at a time (else one each) */
    size_t grad_chunk; /* tiles per kernel-gradient chunk */
} wino_space;

/* How a correlation's transformed kernel u is laid out, per element: as
   the GEMM's B (cin x cout), as its transpose (the flipped kernel of the
   input gradient, cout x cin), or in fer_own_gemm's packed panels of B. */
typedef enum { KERNEL_PLAIN, KERNEL_TRANSPOSED, KERNEL_PACKED } kernel_form;

/* Which kernel a transform reads: k itself (the forward), or k rotated by
   180 degrees with its channels swapped (the input gradient). */
typedef enum { KERNEL_AS_IS = 0, KERNEL_FLIPPED = 1 } kernel_orientation;

/* What a correlation does with each output tile as it stores it: add bias
   (NULL: none), then ReLU; or, for the input gradient, mask_old: a value
   lands only where the output holds a positive one (see output_tile); pool:
   2x2 max pooling of the result (output_tile_pooled). */
typedef struct {
    const float *bias;
    int relu, mask_old, pool;
} tile_output;

int fer_winograd_applies(const fer_conv_dims *d)
{
    return d->k == 3 && d->ci >= WINO_MIN_CHANNELS && d->co >= WINO_MIN_CHANNELS && d->ho > 0 && d->wo > 0;
}

static int max_channels(const fer_conv_dims *d)
{
    return d->ci > d->co ? d->ci : d->co;
}

static size_t blocks_of(int len)
{
    return (size_t)((len + OUT - 1) / OUT);
}

/* At most `cap` and `tiles`, at least 1. */
static size_t clamp_chunk(size_t want, size_t cap, size_t tiles)
{
    want = want < cap ? want : cap;
    want = want < tiles ? want : tiles;
    return want > 0 ? want : 1;
}

/* Whether a slot of a quarter of the region holds too few tiles: then the
   team shares one chunk as large as the whole region. */
static int shared_chunks(const fer_conv_dims *d)
{
    return REGION_FLOATS / SLOTS / (SLOT_BLOCKS * (size_t)max_channels(d)) < MIN_OWN_CHUNK;
}

/* Tiles per correlation chunk; the input-gradient grid (over h x w) is the
   larger of the two grids. Independent chunks: at least one per slot. */
static size_t chunk_tiles(const fer_conv_dims *d)
{
    size_t most = (size_t)(d->n > 0 ? d->n : 0) * blocks_of(d->h) * blocks_of(d->w), floats = SHARED_FLOATS;
    if (!shared_chunks(d)) {
        floats = REGION_FLOATS / SLOTS;
        most = (most + SLOTS - 1) / SLOTS;
    }
    return clamp_chunk(floats / (SLOT_BLOCKS * (size_t)max_channels(d)), MAX_CHUNK, most);
}

/* Tiles per kernel-gradient chunk: what the region holds, or all of them
   when a wide layer's shared region holds them all: one chunk instead of
   two short ones, whose GEMMs OpenBLAS would pack twice. More tiles per
   chunk when they still take several chunks was slower. */
static size_t grad_chunk_tiles(const fer_conv_dims *d)
{
    size_t most = (size_t)(d->n > 0 ? d->n : 0) * blocks_of(d->ho) * blocks_of(d->wo);
    size_t per_tile = ELEMS * ((size_t)d->ci + (size_t)d->co);
    if (shared_chunks(d) && most <= SHARED_FLOATS / per_tile && most <= MAX_GRAD_CHUNK)
        return most > 0 ? most : 1;
    return clamp_chunk(REGION_FLOATS / per_tile, MAX_GRAD_CHUNK, most);
}

/* Floats from one element block of a chunk to the next: whole 4 KiB pages
   and one cache line more. The transforms touch all 64 elements of a tile
   at once; 64 streams a whole number of pages apart fall into the same
   few L1 cache sets and evict each other. */
static size_t block_stride(size_t floats)
{
    return (floats + 1023) / 1024 * 1024 + 16;
}

static size_t region_floats(const fer_conv_dims *d)
{
    size_t slot =
        (shared_chunks(d) ? 1 : SLOTS) * SLOT_BLOCKS * block_stride(chunk_tiles(d) * (size_t)max_channels(d));
    size_t grad = ELEMS * (block_stride(grad_chunk_tiles(d) * (size_t)d->ci) +
                           block_stride(grad_chunk_tiles(d) * (size_t)d->co));
    return slot > grad ? slot : grad;
}

size_t fer_winograd_scratch_floats(const fer_conv_dims *d)
{
    return ELEMS * (size_t)d->ci * d->co + (size_t)max_channels(d) + region_floats(d);
}

static wino_space space_at(float *scratch, const fer_conv_dims *d)
{
    wino_space s;
    s.u = scratch;
    s.zero = s.u + ELEMS * (size_t)d->ci * d->co;
    s.region = s.zero + max_channels(d);
    s.chunk = chunk_tiles(d);
    s.shared = shared_chunks(d);
    s.grad_chunk = grad_chunk_tiles(d);
    memset(s.zero, 0, (size_t)max_channels(d) * sizeof *s.zero);
    return s;
}

static wino_grid grid_of(int n, int h, int w, int cin, int ho, int wo, int cout, int pad)
{
    wino_grid g = {n, h, w, cin, ho, wo, cout, pad, (int)blocks_of(ho), (int)blocks_of(wo), 0};
    g.tiles = (size_t)n * g.th * g.tw;
    return g;
}

/* ---- 1-D transforms over channel vectors ---------------------------------- */

/* B^T: the input transform. */
FER_VECTOR_INLINE void bt8(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                           float *restrict o4, float *restrict o5, float *restrict o6, float *restrict o7,
                           const float *restrict d0, const float *restrict d1, const float *restrict d2,
                           const float *restrict d3, const float *restrict d4, const float *restrict d5,
                           const float *restrict d6, const float *restrict d7, int len)
{
    for (int c = 0; c < len; c++) {
        float a = d2[c] + d6[c] - 4.25f * d4[c], b = d1[c] + d5[c] - 4.25f * d3[c];
        float e = d6[c] + 0.25f * d2[c] - 1.25f * d4[c], f = 0.5f * d1[c] - 2.5f * d3[c] + 2.0f * d5[c];
        float g = d6[c] + 4.0f * d2[c] - 5.0f * d4[c], h = 2.0f * d1[c] - 2.5f * d3[c] + 0.5f * d5[c];
        o0[c] = d0[c] - d6[c] + 5.25f * (d4[c] - d2[c]);
        o1[c] = a + b;
        o2[c] = a - b;
        o3[c] = e + f;
        o4[c] = e - f;
        o5[c] = g + h;
        o6[c] = g - h;
        o7[c] = d7[c] - d1[c] + 5.25f * (d3[c] - d5[c]);
    }
}

/* A^T: the output transform. */
FER_VECTOR_INLINE void at6(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                           float *restrict o4, float *restrict o5, const float *restrict m0,
                           const float *restrict m1, const float *restrict m2, const float *restrict m3,
                           const float *restrict m4, const float *restrict m5, const float *restrict m6,
                           const float *restrict m7, int len)
{
    for (int c = 0; c < len; c++) {
        float s12 = m1[c] + m2[c], d12 = m1[c] - m2[c], s34 = m3[c] + m4[c], d34 = m3[c] - m4[c];
        float s56 = m5[c] + m6[c], d56 = m5[c] - m6[c];
        o0[c] = m0[c] + s12 + s34 + s56;
        o1[c] = d12 + 2.0f * d34 + 0.5f * d56;
        o2[c] = s12 + 4.0f * s34 + 0.25f * s56;
        o3[c] = d12 + 8.0f * d34 + 0.125f * d56;
        o4[c] = s12 + 16.0f * s34 + 0.0625f * s56;
        o5[c] = d12 + 32.0f * d34 + 0.03125f * d56 + m7[c];
    }
}

/* o = act(o + b): the forward's bias and ReLU. */
FER_VECTOR_INLINE void bias_act(float *restrict o, const float *restrict b, int relu, int len)
{
    if (relu) {
        for (int c = 0; c < len; c++) {
            float v = o[c] + b[c];
            o[c] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (int c = 0; c < len; c++)
            o[c] += b[c];
    }
}

/* o = v where o > 0, else 0: an input gradient written over the input it
   belongs to, masked by the ReLU that produced that input. */
FER_VECTOR_INLINE void mask_store(float *restrict o, const float *restrict v, int len)
{
    for (int c = 0; c < len; c++)
        o[c] = o[c] > 0.0f ? v[c] : 0.0f;
}

/* A: the output-gradient transform. */
FER_VECTOR_INLINE void a8(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                          float *restrict o4, float *restrict o5, float *restrict o6, float *restrict o7,
                          const float *restrict y0, const float *restrict y1, const float *restrict y2,
                          const float *restrict y3, const float *restrict y4, const float *restrict y5,
                          int len)
{
    for (int c = 0; c < len; c++) {
        float se = y0[c] + y2[c] + y4[c], so = y1[c] + y3[c] + y5[c];
        float ef = y0[c] + 4.0f * y2[c] + 16.0f * y4[c], of = 2.0f * y1[c] + 8.0f * y3[c] + 32.0f * y5[c];
        float eq = y0[c] + 0.25f * y2[c] + 0.0625f * y4[c];
        float oq = 0.5f * y1[c] + 0.125f * y3[c] + 0.03125f * y5[c];
        o0[c] = y0[c];
        o1[c] = se + so;
        o2[c] = se - so;
        o3[c] = ef + of;
        o4[c] = ef - of;
        o5[c] = eq + oq;
        o6[c] = eq - oq;
        o7[c] = y5[c];
    }
}

/* G: the kernel transform, row a of G times the column (x0, x1, x2). One
   expression per row, shared by g8 and g_row, so that a kernel transformed
   whole or one element at a time has the same bits. */
#define G_S(x0, x2) ((x0) + (x2))
#define G_T(x0, x2) ((x0) / 90.0f + (x2) * (2.0f / 45.0f))
#define G_V(x0, x2) ((x0) * (32.0f / 45.0f) + (x2) * (8.0f / 45.0f))
#define G_ROW0(x0, x1, x2) (x0)
#define G_ROW1(x0, x1, x2) (-(2.0f / 9.0f) * (G_S(x0, x2) + (x1)))
#define G_ROW2(x0, x1, x2) (-(2.0f / 9.0f) * (G_S(x0, x2) - (x1)))
#define G_ROW3(x0, x1, x2) (G_T(x0, x2) + (x1) / 45.0f)
#define G_ROW4(x0, x1, x2) (G_T(x0, x2) - (x1) / 45.0f)
#define G_ROW5(x0, x1, x2) (G_V(x0, x2) + (x1) * (16.0f / 45.0f))
#define G_ROW6(x0, x1, x2) (G_V(x0, x2) - (x1) * (16.0f / 45.0f))
#define G_ROW7(x0, x1, x2) (x2)

FER_VECTOR_INLINE void g8(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                          float *restrict o4, float *restrict o5, float *restrict o6, float *restrict o7,
                          const float *restrict g0, const float *restrict g1, const float *restrict g2,
                          int len)
{
    for (int c = 0; c < len; c++) {
        o0[c] = G_ROW0(g0[c], g1[c], g2[c]);
        o1[c] = G_ROW1(g0[c], g1[c], g2[c]);
        o2[c] = G_ROW2(g0[c], g1[c], g2[c]);
        o3[c] = G_ROW3(g0[c], g1[c], g2[c]);
        o4[c] = G_ROW4(g0[c], g1[c], g2[c]);
        o5[c] = G_ROW5(g0[c], g1[c], g2[c]);
        o6[c] = G_ROW6(g0[c], g1[c], g2[c]);
        o7[c] = G_ROW7(g0[c], g1[c], g2[c]);
    }
}

/* o = row a of G times (g0, g1, g2). */
FER_VECTOR_INLINE void g_row(float *restrict o, const float *restrict g0, const float *restrict g1,
                             const float *restrict g2, int a, int len)
{
#define G_LOOP(ROW)                                                                                          \
    for (int c = 0; c < len; c++)                                                                            \
        o[c] = ROW(g0[c], g1[c], g2[c]);                                                                     \
    break
    switch (a) {
    case 0:
        G_LOOP(G_ROW0);
    case 1:
        G_LOOP(G_ROW1);
    case 2:
        G_LOOP(G_ROW2);
    case 3:
        G_LOOP(G_ROW3);
    case 4:
        G_LOOP(G_ROW4);
    case 5:
        G_LOOP(G_ROW5);
    case 6:
        G_LOOP(G_ROW6);
    default:
        G_LOOP(G_ROW7);
    }
#undef G_LOOP
}

/* G^T: from the transformed kernel gradient back to 3 taps. */
FER_VECTOR_INLINE void gt3(float *restrict o0, float *restrict o1, float *restrict o2,
                           const float *restrict u0, const float *restrict u1, const float *restrict u2,
                           const float *restrict u3, const float *restrict u4, const float *restrict u5,
                           const float *restrict u6, const float *restrict u7, int len)
{
    for (int c = 0; c < len; c++) {
        float s12 = u1[c] + u2[c], s34 = u3[c] + u4[c], s56 = u5[c] + u6[c];
        o0[c] = u0[c] - (2.0f / 9.0f) * s12 + s34 / 90.0f + (32.0f / 45.0f) * s56;
        o1[c] = (2.0f / 9.0f) * (u2[c] - u1[c]) + (u3[c] - u4[c]) / 45.0f + (16.0f / 45.0f) * (u5[c] - u6[c]);
        o2[c] = -(2.0f / 9.0f) * s12 + (2.0f / 45.0f) * s34 + (8.0f / 45.0f) * s56 + u7[c];
    }
}

/* ---- kernels ----------------------------------------------------------------
   HWIO: tap (i, j) is a cin x cout block at k + (3 i + j) cin cout, and so is
   each of the 64 transformed elements in u. Both run over that flat block. */

typedef struct {
    float *out;
    const float *in;
    size_t count;
    int flip;
    int pack;      /* write u in fer_own_gemm's packed form */
    int cin, cout; /* the flat block is cin x cout */
} kernel_job;

/* Writes len transformed floats from flat position p (of the cin x cout
   block) to element block dst in the packed form of the GEMM's B: k x n =
   cin x cout for the forward, cout x cin (transposed) when flipped for the
   input gradient. Runs along a row of the flat block go to one panel row
   (forward) or down one panel column (flipped). */
static void pack_run(float *dst, const float *src, size_t p, int len, const kernel_job *j)
{
    const int cols = j->cout;
    for (int i = 0; i < len;) {
        int r = (int)((p + (size_t)i) / (size_t)cols), c = (int)((p + (size_t)i) % (size_t)cols);
        int seg = len - i < cols - c ? len - i : cols - c;
        if (j->flip) { /* down one panel column: a stride of the panel's width */
            size_t at = fer_own_gemm_packed_at(c, r, j->cin, j->cout);
            size_t stride = fer_own_gemm_packed_at(c + 1, r, j->cin, j->cout) - at;
            for (int t = 0; t < seg; t++)
                dst[at + (size_t)t * stride] = src[i + t];
            i += seg;
            continue;
        }
        while (seg > 0) {
            int left = FER_OWN_GEMM_PANEL - c % FER_OWN_GEMM_PANEL, run = left < seg ? left : seg;
            memcpy(dst + fer_own_gemm_packed_at(r, c, j->cout, j->cin), src + i, (size_t)run * sizeof *dst);
            c += run;
            i += run;
            seg -= run;
        }
    }
}

/* Kernel blocks [*p0, *p1) (floats of the flat block) of this worker. */
static void kernel_share(size_t count, int worker, int workers, size_t *p0, size_t *p1)
{
    size_t blocks = (count + KERNEL_BLOCK - 1) / KERNEL_BLOCK, b0, b1;
    fer_team_share(blocks, worker, workers, &b0, &b1);
    *p0 = b0 * KERNEL_BLOCK;
    *p1 = b1 * KERNEL_BLOCK < count ? b1 * KERNEL_BLOCK : count;
}

/* u = G g G^T, with g[i][j] = k[2 - i][2 - j] when flip is set. */
FER_VECTOR_CLONES static void kernel_transform_worker(void *ctx, int worker, int workers)
{
    const kernel_job *j = ctx;
    const size_t count = j->count;
    float *u = j->out;
    size_t lo, hi;
    kernel_share(count, worker, workers, &lo, &hi);
    float tmp[3 * TILE][KERNEL_BLOCK];
    for (size_t p = lo; p < hi; p += KERNEL_BLOCK) {
        int len = hi - p < KERNEL_BLOCK ? (int)(hi - p) : KERNEL_BLOCK;
        const float *g[3][3];
        for (int i = 0; i < 3; i++)
            for (int jj = 0; jj < 3; jj++)
                g[i][jj] = j->in + (size_t)(j->flip ? 3 * (2 - i) + 2 - jj : 3 * i + jj) * count + p;
        for (int c = 0; c < 3; c++) /* columns: tmp[3 a + c] = (G g)[a][c] */
            g8(tmp[c], tmp[3 + c], tmp[6 + c], tmp[9 + c], tmp[12 + c], tmp[15 + c], tmp[18 + c], tmp[21 + c],
               g[0][c], g[1][c], g[2][c], len);
        for (int a = 0; a < TILE; a++) {
            float *o = u + (size_t)TILE * a * count + p;
            if (!j->pack) {
                g8(o, o + count, o + 2 * count, o + 3 * count, o + 4 * count, o + 5 * count, o + 6 * count,
                   o + 7 * count, tmp[3 * a], tmp[3 * a + 1], tmp[3 * a + 2], len);
                continue;
            }
            float row[TILE][KERNEL_BLOCK];
            g8(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], tmp[3 * a], tmp[3 * a + 1],
               tmp[3 * a + 2], len);
            for (int b = 0; b < TILE; b++)
                pack_run(u + (size_t)(TILE * a + b) * count, row[b], p, len, j);
        }
    }
}

/* dk = G^T du G. */
FER_VECTOR_CLONES static void kernel_gradient_worker(void *ctx, int worker, int workers)
{
    const kernel_job *j = ctx;
    const size_t count = j->count;
    size_t lo, hi;
    kernel_share(count, worker, workers, &lo, &hi);
    float tmp[3 * TILE][KERNEL_BLOCK];
    for (size_t p = lo; p < hi; p += KERNEL_BLOCK) {
        int len = hi - p < KERNEL_BLOCK ? (int)(hi - p) : KERNEL_BLOCK;
        const float *u[TILE];
        for (int c = 0; c < TILE; c++) /* columns: tmp[8 i + c] = (G^T du)[i][c] */
        {
            for (int a = 0; a < TILE; a++)
                u[a] = j->in + (size_t)(TILE * a + c) * count + p;
            gt3(tmp[c], tmp[TILE + c], tmp[2 * TILE + c], u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                len);
        }
        for (int i = 0; i < 3; i++) {
            float *o = j->out + (size_t)3 * i * count + p;
            const float *r = tmp[TILE * i];
            gt3(o, o + count, o + 2 * count, r, r + KERNEL_BLOCK, r + 2 * KERNEL_BLOCK, r + 3 * KERNEL_BLOCK,
                r + 4 * KERNEL_BLOCK, r + 5 * KERNEL_BLOCK, r + 6 * KERNEL_BLOCK, r + 7 * KERNEL_BLOCK, len);
        }
    }
}

/* Transforms k (flipped for the input gradient) into u for a correlation
   over g, packed when fer_own_gemm takes g's products, and returns the form
   it wrote. Shared out by blocks: each output float depends on its own
   column of the kernel only. */
static kernel_form kernel_transform(float *u, const float *k, const fer_conv_dims *d, const wino_grid *g,
                                    kernel_orientation flip)
{
    size_t count = (size_t)d->ci * d->co;
    int pack = fer_own_gemm_packed_runs(g->cin, g->cout);
    kernel_job j = {
        .out = u, .in = k, .count = count, .flip = flip, .pack = pack, .cin = d->ci, .cout = d->co};
    fer_team_run(fer_team_for(count, KERNEL_MIN_EACH), kernel_transform_worker, &j);
    return pack ? KERNEL_PACKED : flip ? KERNEL_TRANSPOSED : KERNEL_PLAIN;
}

static void kernel_gradient(float *dk, const float *du, size_t count)
{
    kernel_job j = {.out = dk, .in = du, .count = count};
    fer_team_run(fer_team_for(count, KERNEL_MIN_EACH), kernel_gradient_worker, &j);
}

/* ---- tiles ------------------------------------------------------------------
   Tile transforms work on blocks of at most CHANNEL_BLOCK channels, with the
   intermediate vectors on the stack. */

typedef struct {
    size_t img;
    int oy, ox; /* top-left output pixel of the tile */
} tile_pos;

static tile_pos tile_at(const wino_grid *g, size_t t)
{
    size_t per_image = (size_t)g->th * g->tw, rem = t % per_image;
    tile_pos p = {t / per_image, OUT * (int)(rem / (size_t)g->tw), OUT * (int)(rem % (size_t)g->tw)};
    return p;
}

/* Rows [a0, a1) of v = B^T d B for the 8x8 input tile of output block p:
   v + a rstride + b stride gets element (a, b), channels contiguous. */
FER_VECTOR_CLONES static void input_tile(float *v, size_t rstride, size_t stride, const float *in,
                                         const wino_grid *g, tile_pos p, int a0, int a1, const float *zero)
{
    const float *d[TILE][TILE];
    for (int a = 0; a < TILE; a++) {
        int r = p.oy - g->pad + a;
        for (int b = 0; b < TILE; b++) {
            int c = p.ox - g->pad + b;
            int inside = r >= 0 && r < g->h && c >= 0 && c < g->w;
            d[a][b] = inside ? in + ((p.img * g->h + (size_t)r) * g->w + (size_t)c) * g->cin : zero;
        }
    }
    float t[ELEMS][CHANNEL_BLOCK];
    for (int c0 = 0; c0 < g->cin; c0 += CHANNEL_BLOCK) {
        int len = g->cin - c0 < CHANNEL_BLOCK ? g->cin - c0 : CHANNEL_BLOCK;
        for (int b = 0; b < TILE; b++) /* columns: t[8 a + b] = (B^T d)[a][b] */
            bt8(t[b], t[8 + b], t[16 + b], t[24 + b], t[32 + b], t[40 + b], t[48 + b], t[56 + b],
                d[0][b] + c0, d[1][b] + c0, d[2][b] + c0, d[3][b] + c0, d[4][b] + c0, d[5][b] + c0,
                d[6][b] + c0, d[7][b] + c0, len);
        for (int a = a0; a < a1; a++) {
            float *o = v + a * rstride + c0;
            const float *r = t[TILE * a];
            bt8(o, o + stride, o + 2 * stride, o + 3 * stride, o + 4 * stride, o + 5 * stride, o + 6 * stride,
                o + 7 * stride, r, r + CHANNEL_BLOCK, r + 2 * CHANNEL_BLOCK, r + 3 * CHANNEL_BLOCK,
                r + 4 * CHANNEL_BLOCK, r + 5 * CHANNEL_BLOCK, r + 6 * CHANNEL_BLOCK, r + 7 * CHANNEL_BLOCK,
                len);
        }
    }
}

/* The first pass of the output transform: t[8 a + b] = (A^T m)[a][b], the
   columns of a channel block. */
FER_VECTOR_INLINE void output_columns(float (*t)[CHANNEL_BLOCK], const float *m, size_t rstride,
                                      size_t stride, int len)
{
    for (int b = 0; b < TILE; b++) {
        const float *mc = m + b * stride;
        at6(t[b], t[8 + b], t[16 + b], t[24 + b], t[32 + b], t[40 + b], mc, mc + rstride, mc + 2 * rstride,
            mc + 3 * rstride, mc + 4 * rstride, mc + 5 * rstride, mc + 6 * rstride, mc + 7 * rstride, len);
    }
}

/* Output block p = A^T m A (+ bias, ReLU), element (a, b) of m at
   m + a rstride + b stride; pixels outside the output are computed into a
   sink and dropped. mask_old: a value lands only where out holds a
   positive one (else 0), see fer_winograd_backward. */
FER_VECTOR_CLONES static void output_tile(float *out, const float *m, size_t rstride, size_t stride,
                                          const wino_grid *g, tile_pos p, const float *bias, int relu,
                                          int mask_old)
{
    float t[OUT * TILE][CHANNEL_BLOCK], sink[OUT][CHANNEL_BLOCK];
    for (int c0 = 0; c0 < g->cout; c0 += CHANNEL_BLOCK) {
        int len = g->cout - c0 < CHANNEL_BLOCK ? g->cout - c0 : CHANNEL_BLOCK;
        output_columns(t, m + c0, rstride, stride, len);
        for (int a = 0; a < OUT; a++) {
            float *o[OUT];
            int r = p.oy + a;
            for (int b = 0; b < OUT; b++) {
                int c = p.ox + b;
                o[b] = r < g->ho && c < g->wo
                           ? out + ((p.img * g->ho + (size_t)r) * g->wo + (size_t)c) * g->cout + c0
                           : sink[b];
            }
            const float *s = t[TILE * a];
            float row[OUT][CHANNEL_BLOCK], *dst[OUT];
            for (int b = 0; b < OUT; b++)
                dst[b] = mask_old ? row[b] : o[b];
            at6(dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], s, s + CHANNEL_BLOCK, s + 2 * CHANNEL_BLOCK,
                s + 3 * CHANNEL_BLOCK, s + 4 * CHANNEL_BLOCK, s + 5 * CHANNEL_BLOCK, s + 6 * CHANNEL_BLOCK,
                s + 7 * CHANNEL_BLOCK, len);
            for (int b = 0; mask_old && b < OUT; b++)
                if (o[b] != sink[b])
                    mask_store(o[b], row[b], len);
            if (bias)
                for (int b = 0; b < OUT; b++)
                    bias_act(o[b], bias + c0, relu, len);
        }
    }
}

/* o = max of the 2x2 window (a, b over c, d), compared in
   fer_maxpool2_forward's order, so that the bits are the same. */
FER_VECTOR_INLINE void pool4(float *restrict o, const float *restrict a, const float *restrict b,
                             const float *restrict c, const float *restrict d, int len)
{
    for (int e = 0; e < len; e++) {
        float v = a[e];
        v = b[e] > v ? b[e] : v;
        v = c[e] > v ? c[e] : v;
        o[e] = d[e] > v ? d[e] : v;
    }
}

/* output_tile followed by 2x2 max pooling: the 6x6 block (at even
   coordinates) becomes 3x3 pixels of out, n x ho/2 x wo/2 x cout, and the
   full-size output is never written. */
FER_VECTOR_CLONES static void output_tile_pooled(float *out, const float *m, size_t rstride, size_t stride,
                                                 const wino_grid *g, tile_pos p, const float *bias, int relu)
{
    const int ph = g->ho / 2, pw = g->wo / 2;
    float t[OUT * TILE][CHANNEL_BLOCK], rows[2][OUT][CHANNEL_BLOCK], sink[CHANNEL_BLOCK];
    for (int c0 = 0; c0 < g->cout; c0 += CHANNEL_BLOCK) {
        int len = g->cout - c0 < CHANNEL_BLOCK ? g->cout - c0 : CHANNEL_BLOCK;
        output_columns(t, m + c0, rstride, stride, len);
        for (int pr = 0; pr < OUT / 2; pr++) {
            for (int h = 0; h < 2; h++) {
                const float *s = t[TILE * (2 * pr + h)];
                float(*o)[CHANNEL_BLOCK] = rows[h];
                at6(o[0], o[1], o[2], o[3], o[4], o[5], s, s + CHANNEL_BLOCK, s + 2 * CHANNEL_BLOCK,
                    s + 3 * CHANNEL_BLOCK, s + 4 * CHANNEL_BLOCK, s + 5 * CHANNEL_BLOCK,
                    s + 6 * CHANNEL_BLOCK, s + 7 * CHANNEL_BLOCK, len);
                for (int b = 0; b < OUT; b++)
                    bias_act(o[b], bias + c0, relu, len);
            }
            int r = p.oy / 2 + pr;
            for (int pc = 0; pc < OUT / 2; pc++) {
                int c = p.ox / 2 + pc;
                float *o = r < ph && c < pw ? out + ((p.img * ph + (size_t)r) * pw + (size_t)c) * g->cout + c0
                                            : sink;
                pool4(o, rows[0][2 * pc], rows[0][2 * pc + 1], rows[1][2 * pc], rows[1][2 * pc + 1], len);
            }
        }
    }
}

/* Rows [i0, i1) of w = A dy A^T for the 6x6 output-gradient block p (zero
   outside the output). */
FER_VECTOR_CLONES static void gradient_tile(float *w, size_t stride, const float *dy, const wino_grid *g,
                                            tile_pos p, int i0, int i1, const float *zero)
{
    const float *y[OUT][OUT];
    for (int a = 0; a < OUT; a++)
        for (int b = 0; b < OUT; b++) {
            int r = p.oy + a, c = p.ox + b;
            y[a][b] = r < g->ho && c < g->wo
                          ? dy + ((p.img * g->ho + (size_t)r) * g->wo + (size_t)c) * g->cout
                          : zero;
        }
    float t[TILE * OUT][CHANNEL_BLOCK];
    for (int c0 = 0; c0 < g->cout; c0 += CHANNEL_BLOCK) {
        int len = g->cout - c0 < CHANNEL_BLOCK ? g->cout - c0 : CHANNEL_BLOCK;
        for (int b = 0; b < OUT; b++) /* columns: t[6 i + b] = (A dy)[i][b] */
            a8(t[b], t[6 + b], t[12 + b], t[18 + b], t[24 + b], t[30 + b], t[36 + b], t[42 + b], y[0][b] + c0,
               y[1][b] + c0, y[2][b] + c0, y[3][b] + c0, y[4][b] + c0, y[5][b] + c0, len);
        for (int i = i0; i < i1; i++) {
            float *o = w + (size_t)TILE * i * stride + c0;
            const float *r = t[OUT * i];
            a8(o, o + stride, o + 2 * stride, o + 3 * stride, o + 4 * stride, o + 5 * stride, o + 6 * stride,
               o + 7 * stride, r, r + CHANNEL_BLOCK, r + 2 * CHANNEL_BLOCK, r + 3 * CHANNEL_BLOCK,
               r + 4 * CHANNEL_BLOCK, r + 5 * CHANNEL_BLOCK, len);
        }
    }
}

/* ---- the correlation pass (forward and input gradient) ------------------------
   A chunk of tiles goes through three phases: transform the tiles, run the
   GEMMs of the 8 element rows, transform the products back. Narrow layers
   give each thread chunks of its own, taken in turn from a shared counter
   into its own slot. Wide layers need larger chunks for efficient GEMMs, so
   the team shares one chunk in the whole region: each thread transforms its
   share of the tiles, runs its share of the element rows, and a barrier
   separates the phases. Either way every output pixel comes from exactly
   one tile, and a product does not depend on who computes it.

   Slot layout, in blocks of chunk x max(cin, cout) floats: row a of the
   elements takes 9 blocks from 9 a on; element (a, b) of the input tiles
   sits in block 9 a + b + 1 and its product is written to block 9 a + b,
   whose input the previous GEMM of that row has consumed (the row's first
   block is its spare). Rows do not share blocks, so threads owning
   different rows never touch each other's data. */

typedef struct {
    float *out;
    const float *in, *u, *zero;
    const float *k; /* fused: the raw kernel, transformed row by row (u unused) */
    int flip;       /* fused: k flipped, for the input gradient */
    float *own_u;   /* fused: 4 x cin x cout floats per worker, in the scratch's u */
    const wino_grid *g;
    kernel_form form;
    tile_output put;
    float *region;
    size_t chunk;           /* tiles per chunk */
    size_t block;           /* floats per element block */
    fer_team_barrier *sync; /* shared chunks with a team of two or more */
    atomic_size_t next;     /* independent chunks: first tile of the next one to take */
} correlate_job;

/* Fused: row a of G g (3 x count floats in tmp), then element (a, b) of
   G g G^T from it into u, packed. Each worker runs these on its own. */
FER_VECTOR_CLONES static void kernel_row(float *tmp, const float *k, int a, size_t count, int flip)
{
    for (size_t p = 0; p < count; p += KERNEL_BLOCK) {
        int len = count - p < KERNEL_BLOCK ? (int)(count - p) : KERNEL_BLOCK;
        for (int c = 0; c < 3; c++) {
            const float *g[3];
            for (int i = 0; i < 3; i++)
                g[i] = k + (size_t)(flip ? 3 * (2 - i) + 2 - c : 3 * i + c) * count + p;
            g_row(tmp + (size_t)c * count + p, g[0], g[1], g[2], a, len);
        }
    }
}

/* The flipped element is B transposed: blocks of 32 x 32 go through a
   transpose on the stack so that both the reads and the writes run along
   rows. */
FER_VECTOR_CLONES static void kernel_element_flipped(float *u, const float *tmp, int b, const kernel_job *kj)
{
    const size_t count = kj->count;
    const int cin = kj->cin, cout = kj->cout, P = FER_OWN_GEMM_PANEL;
    float blk[FER_OWN_GEMM_PANEL][FER_OWN_GEMM_PANEL];
    for (int i0 = 0; i0 < cin; i0 += P) {
        int w = cin - i0 < P ? cin - i0 : P;
        for (int o0 = 0; o0 < cout; o0 += P) {
            int h = cout - o0 < P ? cout - o0 : P;
            for (int r = 0; r < w; r++) {
                size_t at = (size_t)(i0 + r) * cout + o0;
                g_row(blk[r], tmp + at, tmp + count + at, tmp + 2 * count + at, b, h);
            }
            for (int c = 0; c < h; c++) {
                float *dst = u + fer_own_gemm_packed_at(o0 + c, i0, cin, cout);
                for (int r = 0; r < w; r++)
                    dst[r] = blk[r][c];
            }
        }
    }
}

FER_VECTOR_CLONES static void kernel_element(float *u, const float *tmp, int b, const kernel_job *kj)
{
    const size_t count = kj->count;
    if (kj->flip) {
        kernel_element_flipped(u, tmp, b, kj);
        return;
    }
    float row[KERNEL_BLOCK];
    for (size_t p = 0; p < count; p += KERNEL_BLOCK) {
        int len = count - p < KERNEL_BLOCK ? (int)(count - p) : KERNEL_BLOCK;
        g_row(row, tmp + p, tmp + count + p, tmp + 2 * count + p, b, len);
        pack_run(u, row, p, len, kj);
    }
}

/* Row a's GEMMs in slot s: element (a, b) of the tiles times u into its
   product block. */
static void correlate_row(const correlate_job *j, float *s, int a, size_t nt, int worker)
{
    const wino_grid *g = j->g;
    const size_t uel = (size_t)g->cin * g->cout;
    float *own = j->own_u + (size_t)worker * 4 * uel; /* fused: G g row, then one element */
    kernel_job kj = {.count = uel, .flip = j->flip, .pack = 1};
    kj.cin = j->flip ? g->cout : g->cin; /* the flat block is the unflipped kernel's cin x cout */
    kj.cout = j->flip ? g->cin : g->cout;
    if (j->k)
        kernel_row(own, j->k, a, uel, j->flip);
    for (int b = 0; b < TILE; b++) {
        size_t first = (size_t)(TILE + 1) * a + b;
        const float *u = j->u + (size_t)(TILE * a + b) * uel, *v = s + (first + 1) * j->block;
        if (j->k) {
            kernel_element(own + 3 * uel, own, b, &kj);
            u = own + 3 * uel;
        }
        int trans = j->form == KERNEL_TRANSPOSED;
        if (j->form == KERNEL_PACKED)
            fer_own_gemm_packed(s + first * j->block, (size_t)g->cout, v, (size_t)g->cin, u, (int)nt, g->cout,
                                g->cin);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, trans ? CblasTrans : CblasNoTrans, (int)nt, g->cout,
                        g->cin, 1.0f, v, g->cin, u, trans ? g->cin : g->cout, 0.0f, s + first * j->block,
                        g->cout);
    }
}

/* Worker w's part of the chunk of nt tiles from t0 in slot s; sync NULL: a
   team of one. */
static void correlate_chunk(const correlate_job *j, float *s, size_t t0, size_t nt, int worker, int workers,
                            fer_team_barrier *sync)
{
    const wino_grid *g = j->g;
    const size_t rstride = (TILE + 1) * j->block;
    size_t lo, hi, r0, r1;
    fer_team_share(nt, worker, workers, &lo, &hi);
    fer_team_share(TILE, worker, workers, &r0, &r1);
    for (size_t t = lo; t < hi; t++)
        input_tile(s + j->block + t * g->cin, rstride, j->block, j->in, g, tile_at(g, t0 + t), 0, TILE,
                   j->zero);
    if (sync)
        fer_team_barrier_wait(sync);
    for (size_t a = r0; a < r1; a++)
        correlate_row(j, s, (int)a, nt, worker);
    if (sync)
        fer_team_barrier_wait(sync);
    for (size_t t = lo; t < hi; t++) {
        if (j->put.pool)
            output_tile_pooled(j->out, s + t * g->cout, rstride, j->block, g, tile_at(g, t0 + t), j->put.bias,
                               j->put.relu);
        else
            output_tile(j->out, s + t * g->cout, rstride, j->block, g, tile_at(g, t0 + t), j->put.bias,
                        j->put.relu, j->put.mask_old);
    }
    if (sync)
        fer_team_barrier_wait(sync); /* the next chunk's tiles overwrite these products */
}

static void shared_worker(void *ctx, int worker, int workers)
{
    correlate_job *j = ctx;
    for (size_t t0 = 0; t0 < j->g->tiles; t0 += j->chunk)
        correlate_chunk(j, j->region, t0, j->g->tiles - t0 < j->chunk ? j->g->tiles - t0 : j->chunk, worker,
                        workers, j->sync);
}

static void own_worker(void *ctx, int worker, int workers)
{
    (void)workers;
    correlate_job *j = ctx;
    float *s = j->region + (size_t)worker * SLOT_BLOCKS * j->block;
    for (;;) {
        size_t t0 = atomic_fetch_add(&j->next, j->chunk);
        if (t0 >= j->g->tiles)
            return;
        size_t nt = j->g->tiles - t0 < j->chunk ? j->g->tiles - t0 : j->chunk;
        correlate_chunk(j, s, t0, nt, 0, 1, NULL); /* alone: worker 0 of 1, no barrier */
    }
}

/* A correlation's kernel: transformed already (u, laid out as form says),
   or raw (k, flipped or not) for a fused correlation. */
typedef struct {
    const float *u;
    kernel_form form;
    const float *k;
    int flip;
} kernel_src;

/* Whether the correlation over g transforms its kernel inside the GEMM
   phase, an element at a time just before the GEMM that reads it: with one
   or two shared chunks, each of which transforms the elements again.
   Transformed in advance, the kernel is 7 times larger than k (tens of MB
   for a 3x3 layer of 256 x 512 channels), so both the transform's writes
   and the GEMMs' reads went to memory; an element (cin x cout floats)
   stays in cache between the two. With
   three chunks the repeated transforms cost more than they saved. Only for
   the own GEMM, which takes the kernel packed. */
static int fused_kernel(const wino_grid *g, const wino_space *s)
{
    return s->shared && g->tiles <= 2 * s->chunk && fer_own_gemm_packed_runs(g->cin, g->cout);
}

/* out = correlate(in, kernel) over g, stored as put says. */
static void correlate(float *out, const float *in, const wino_grid *g, kernel_src kern,
                      const tile_output *put, const wino_space *s)
{
    size_t workers = (size_t)fer_team_size(), chunks = (g->tiles + s->chunk - 1) / s->chunk;
    size_t most = s->shared ? TILE : SLOTS; /* an element row or a slot each */
    workers = workers < most ? workers : most;
    workers = s->shared || workers < chunks ? workers : chunks;
    if (g->tiles == 0 || workers == 0)
        return;
    fer_team_barrier sync;
    fer_team_barrier_init(&sync, (int)workers);
    correlate_job j = {.out = out,
                       .in = in,
                       .u = kern.u,
                       .k = kern.k,
                       .flip = kern.flip,
                       .own_u = s->u,
                       .zero = s->zero,
                       .g = g,
                       .form = kern.k ? KERNEL_PACKED : kern.form,
                       .put = *put,
                       .region = s->region,
                       .chunk = s->chunk,
                       .block = block_stride(s->chunk * (size_t)(g->cin > g->cout ? g->cin : g->cout)),
                       .sync = workers > 1 ? &sync : NULL};
    atomic_init(&j.next, 0);
    fer_team_run((int)workers, s->shared ? shared_worker : own_worker, &j);
}

void fer_conv_kernel_cache_free(fer_conv_kernel_cache *c)
{
    free(c->k);
    free(c->u);
    memset(c, 0, sizeof *c);
}

/* The cache's transform of k, made again when k differs from its copy.
   Returns 0 (and leaves the cache empty) when it cannot get the memory. */
static int cached_kernel(fer_conv_kernel_cache *c, const float *k, const fer_conv_dims *d, const wino_grid *g)
{
    size_t kf = 9 * (size_t)d->ci * d->co, uf = ELEMS * (size_t)d->ci * d->co;
    if (c->u && c->k_floats == kf && !memcmp(c->k, k, kf * sizeof *k))
        return 1;
    if (c->k_floats != kf || c->u_floats != uf) {
        fer_conv_kernel_cache_free(c);
        c->k = malloc(kf * sizeof *c->k);
        c->u = malloc(uf * sizeof *c->u);
        if (!c->k || !c->u) {
            fer_conv_kernel_cache_free(c);
            return 0;
        }
        c->k_floats = kf;
        c->u_floats = uf;
    }
    memcpy(c->k, k, kf * sizeof *k);
    c->form = (int)kernel_transform(c->u, k, d, g, KERNEL_AS_IS);
    return 1;
}

void fer_winograd_forward(float *y, const float *x, const float *k, const fer_conv_dims *d,
                          const fer_winograd_epilogue *ep, float *scratch, fer_conv_kernel_cache *cache)
{
    wino_space s = space_at(scratch, d);
    wino_grid g = grid_of(d->n, d->h, d->w, d->ci, d->ho, d->wo, d->co, d->pad);
    kernel_src kern = {.k = k};
    if (cache && cached_kernel(cache, k, d, &g))
        kern = (kernel_src){.u = cache->u, .form = (kernel_form)cache->form};
    else if (!fused_kernel(&g, &s))
        kern = (kernel_src){.u = s.u, .form = kernel_transform(s.u, k, d, &g, KERNEL_AS_IS)};
    correlate(y, x, &g, kern, &(tile_output){.bias = ep->bias, .relu = ep->relu, .pool = ep->pool}, &s);
}

/* ---- the kernel-gradient pass -------------------------------------------------
   du[e] = sum over tiles of (B^T x B)[e]^T (A dy A^T)[e]. The team walks
   the tiles in chunks; per chunk every thread transforms its share of the
   tiles, then (after a barrier) accumulates the du[e] of its rows of the
   8x8 elements, each over the chunks in order. So du does not depend on the
   thread count. */

typedef struct {
    float *du;
    const float *dy, *x, *zero;
    const wino_grid *g;
    float *region;
    size_t chunk;
    int own_at_b;           /* fer_own_gemm_at_b rather than OpenBLAS */
    fer_team_barrier *sync; /* NULL for a team of one */
} kernel_grad_job;

static void kernel_grad_worker(void *ctx, int worker, int workers)
{
    kernel_grad_job *j = ctx;
    const wino_grid *g = j->g;
    const size_t uel = (size_t)g->cin * g->cout;
    /* Elements sit at the same place in every chunk, the last (shorter) one
       included. */
    const size_t vstride = block_stride(j->chunk * g->cin), wstride = block_stride(j->chunk * g->cout);
    float *v = j->region, *w = v + ELEMS * vstride;
    size_t r0, r1;
    fer_team_share(TILE, worker, workers, &r0, &r1);
    for (size_t t0 = 0; t0 < g->tiles; t0 += j->chunk) {
        size_t nt = g->tiles - t0 < j->chunk ? g->tiles - t0 : j->chunk, lo, hi;
        fer_team_share(nt, worker, workers, &lo, &hi);
        for (size_t t = lo; t < hi; t++) {
            tile_pos p = tile_at(g, t0 + t);
            input_tile(v + t * g->cin, TILE * vstride, vstride, j->x, g, p, 0, TILE, j->zero);
            gradient_tile(w + t * g->cout, wstride, j->dy, g, p, 0, TILE, j->zero);
        }
        if (j->sync)
            fer_team_barrier_wait(j->sync);
        for (size_t e = TILE * r0; e < TILE * r1; e++) {
            if (j->own_at_b)
                fer_own_gemm_at_b(j->du + e * uel, (size_t)g->cout, v + e * vstride, (size_t)g->cin,
                                  w + e * wstride, (size_t)g->cout, g->cin, g->cout, (int)nt, t0 > 0);
            else
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->cin, g->cout, (int)nt, 1.0f,
                            v + e * vstride, g->cin, w + e * wstride, g->cout, t0 == 0 ? 0.0f : 1.0f,
                            j->du + e * uel, g->cout);
        }
        if (j->sync)
            fer_team_barrier_wait(j->sync); /* the next chunk's tiles overwrite these */
    }
}

static void kernel_grad_pass(float *dk, const float *dy, const float *x, const fer_conv_dims *d,
                             const wino_space *s)
{
    wino_grid g = grid_of(d->n, d->h, d->w, d->ci, d->ho, d->wo, d->co, d->pad);
    const size_t uel = (size_t)d->ci * d->co;
    if (g.tiles == 0) {
        memset(dk, 0, 9 * uel * sizeof *dk);
        return;
    }
    int workers = fer_team_size();
    workers = workers < TILE ? workers : TILE; /* one row of the 8x8 elements each at most */
    fer_team_barrier sync;
    fer_team_barrier_init(&sync, workers);
    kernel_grad_job j = {.du = s->u,
                         .dy = dy,
                         .x = x,
                         .zero = s->zero,
                         .g = &g,
                         .region = s->region,
                         .chunk = s->grad_chunk,
                         .own_at_b = fer_own_gemm_at_b_runs(d->ci, d->co),
                         .sync = workers > 1 ? &sync : NULL};
    fer_team_run(workers, kernel_grad_worker, &j);
    kernel_gradient(dk, s->u, uel);
}

void fer_winograd_backward(float *dx, float *dk, const float *dy, const float *x, const float *k,
                           const fer_conv_dims *d, int dx_mask, float *scratch)
{
    wino_space s = space_at(scratch, d);
    if (dk) /* first: dx may overwrite x */
        kernel_grad_pass(dk, dy, x, d, &s);
    if (dx) {
        /* dx[r][c][i] = sum dy[r + a - pad'][c + b - pad'][o] k[2 - a][2 - b][i][o], pad' = 2 - pad. */
        wino_grid g = grid_of(d->n, d->ho, d->wo, d->co, d->h, d->w, d->ci, 2 - d->pad);
        kernel_src kern = {.k = k, .flip = 1};
        if (!fused_kernel(&g, &s))
            kern = (kernel_src){.u = s.u, .form = kernel_transform(s.u, k, d, &g, KERNEL_FLIPPED)};
        correlate(dx, dy, &g, kern, &(tile_output){.mask_old = dx_mask}, &s);
    }
}
