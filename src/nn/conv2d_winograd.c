/* Winograd F(4x4, 3x3): each 4x4 block of outputs comes from a 6x6 input
   tile as Y = A^T [(G g G^T) . (B^T d B)] A, so a 3x3 convolution costs 36
   multiplications per 16 outputs and channel pair instead of 144: 4 times
   fewer FLOPs than im2col + GEMM. Over channels the 36 element-wise products
   are 36 GEMMs, (tiles x cin) x (cin x cout), batched over a chunk of tiles
   that may span images. The matrices are Lavin and Gray's (interpolation
   points 0, 1, -1, 2, -2 and infinity); in float their error stays below
   1e-6 of the sum of the absolute products (tests/test_nn_winograd.c).

   The backward pass uses the same algebra. The input gradient is a forward
   correlation of dy with the flipped kernel (channels swapped, padding
   2 - pad). The kernel gradient is dg = G^T [sum over tiles of
   (B^T d B) . (A dY A^T)] G: per element a GEMM (cin x tiles) x (tiles x
   cout), accumulated over chunks.

   The transforms run over channels (contiguous in NHWC) in two 1-D passes of
   small vector functions whose restrict arguments let them vectorize. */
#include "conv2d_winograd.h"

#include "team.h"

#include <cblas.h>
#include <stdatomic.h>
#include <string.h>

enum {
    TILE = 6,                   /* input tile side */
    OUT = 4,                    /* output block side */
    ELEMS = TILE * TILE,        /* transformed elements per tile */
    WINO_SLOT_FLOATS = 1 << 20, /* one chunk of transformed tiles, in and out together (4 MiB) */
    WINO_SLOTS = 4,             /* chunks in flight: at most this many threads per pass */
    WINO_MIN_CHANNELS = 16,     /* below this the GEMMs are too thin to pay for the transforms */
    CHANNEL_BLOCK = 128,        /* channels transformed at once (stack temporaries) */
    KERNEL_BLOCK = 256,         /* floats of a kernel transformed at once */
    KERNEL_MIN_EACH = 1 << 13   /* kernel floats (cin x cout) worth a thread */
};

/* One correlation as tiles: in n x h x w x cin, out n x ho x wo x cout. */
typedef struct {
    int n, h, w, cin, ho, wo, cout, pad;
    int th, tw;   /* tiles down and across: ceil(ho / 4), ceil(wo / 4) */
    size_t tiles; /* n * th * tw */
} wino_grid;

/* Scratch: the transformed kernel (or its gradient), a zero vector for input
   outside the image, and a region for WINO_SLOTS chunks of transformed
   tiles, 36 (cin + cout) floats each. Chunk boundaries depend on the shapes
   only, never on the thread count: OpenBLAS's result for a row of a product
   can depend on how many rows the product has, and results must not depend
   on the threads. */
typedef struct {
    float *u;      /* 36 x cin x cout */
    float *zero;   /* max(cin, cout) zeros */
    float *region; /* WINO_SLOTS x chunk x 36 (cin + cout) */
    size_t chunk;  /* tiles per chunk */
} wino_space;

int fer_winograd_applies(const fer_conv_dims *d)
{
    return d->k == 3 && d->ci >= WINO_MIN_CHANNELS && d->co >= WINO_MIN_CHANNELS && d->ho > 0 && d->wo > 0;
}

static int max_channels(const fer_conv_dims *d)
{
    return d->ci > d->co ? d->ci : d->co;
}

/* Floats per tile in the region: its 36 transformed inputs and outputs. */
static size_t tile_floats(const fer_conv_dims *d)
{
    return ELEMS * ((size_t)d->ci + (size_t)d->co);
}

static size_t blocks_of(int len)
{
    return (size_t)((len + OUT - 1) / OUT);
}

/* Tiles per chunk: a slot's worth, or fewer when the input-gradient grid
   (over h x w, the larger one) has fewer for every slot. */
static size_t chunk_tiles(const fer_conv_dims *d)
{
    size_t tiles = WINO_SLOT_FLOATS / tile_floats(d);
    size_t most = (size_t)(d->n > 0 ? d->n : 0) * blocks_of(d->h) * blocks_of(d->w);
    most = (most + WINO_SLOTS - 1) / WINO_SLOTS;
    tiles = tiles < most ? tiles : most;
    return tiles > 0 ? tiles : 1;
}

size_t fer_winograd_scratch_floats(const fer_conv_dims *d)
{
    return ELEMS * (size_t)d->ci * d->co + (size_t)max_channels(d) +
           WINO_SLOTS * chunk_tiles(d) * tile_floats(d);
}

static wino_space space_at(float *scratch, const fer_conv_dims *d)
{
    wino_space s;
    s.u = scratch;
    s.zero = s.u + ELEMS * (size_t)d->ci * d->co;
    s.region = s.zero + max_channels(d);
    s.chunk = chunk_tiles(d);
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
static void bt6(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                float *restrict o4, float *restrict o5, const float *restrict d0, const float *restrict d1,
                const float *restrict d2, const float *restrict d3, const float *restrict d4,
                const float *restrict d5, int len)
{
    for (int c = 0; c < len; c++) {
        float a = d4[c] - d2[c], b = d3[c] - d1[c];
        o0[c] = 4.0f * d0[c] - 5.0f * d2[c] + d4[c];
        o1[c] = d3[c] + d4[c] - 4.0f * (d1[c] + d2[c]);
        o2[c] = d4[c] - d3[c] + 4.0f * (d1[c] - d2[c]);
        o3[c] = a + 2.0f * b;
        o4[c] = a - 2.0f * b;
        o5[c] = 4.0f * d1[c] - 5.0f * d3[c] + d5[c];
    }
}

/* A^T: the output transform. */
static void at4(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                const float *restrict m0, const float *restrict m1, const float *restrict m2,
                const float *restrict m3, const float *restrict m4, const float *restrict m5, int len)
{
    for (int c = 0; c < len; c++) {
        float s12 = m1[c] + m2[c], d12 = m1[c] - m2[c], s34 = m3[c] + m4[c], d34 = m3[c] - m4[c];
        o0[c] = m0[c] + s12 + s34;
        o1[c] = d12 + 2.0f * d34;
        o2[c] = s12 + 4.0f * s34;
        o3[c] = d12 + 8.0f * d34 + m5[c];
    }
}

/* o = act(o + b) over four vectors: the forward's bias and ReLU. */
static void bias_act4(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
                      const float *restrict b, int relu, int len)
{
    if (relu) {
        for (int c = 0; c < len; c++) {
            float v0 = o0[c] + b[c], v1 = o1[c] + b[c], v2 = o2[c] + b[c], v3 = o3[c] + b[c];
            o0[c] = v0 > 0.0f ? v0 : 0.0f;
            o1[c] = v1 > 0.0f ? v1 : 0.0f;
            o2[c] = v2 > 0.0f ? v2 : 0.0f;
            o3[c] = v3 > 0.0f ? v3 : 0.0f;
        }
    } else {
        for (int c = 0; c < len; c++) {
            o0[c] += b[c];
            o1[c] += b[c];
            o2[c] += b[c];
            o3[c] += b[c];
        }
    }
}

/* A: the output-gradient transform. */
static void a6(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
               float *restrict o4, float *restrict o5, const float *restrict y0, const float *restrict y1,
               const float *restrict y2, const float *restrict y3, int len)
{
    for (int c = 0; c < len; c++) {
        float s02 = y0[c] + y2[c], s13 = y1[c] + y3[c];
        float e = y0[c] + 4.0f * y2[c], f = 2.0f * y1[c] + 8.0f * y3[c];
        o0[c] = y0[c];
        o1[c] = s02 + s13;
        o2[c] = s02 - s13;
        o3[c] = e + f;
        o4[c] = e - f;
        o5[c] = y3[c];
    }
}

/* G: the kernel transform. */
static void g6(float *restrict o0, float *restrict o1, float *restrict o2, float *restrict o3,
               float *restrict o4, float *restrict o5, const float *restrict g0, const float *restrict g1,
               const float *restrict g2, int len)
{
    for (int c = 0; c < len; c++) {
        float s = g0[c] + g2[c];
        o0[c] = 0.25f * g0[c];
        o1[c] = -(s + g1[c]) / 6.0f;
        o2[c] = -(s - g1[c]) / 6.0f;
        o3[c] = g0[c] / 24.0f + g1[c] / 12.0f + g2[c] / 6.0f;
        o4[c] = g0[c] / 24.0f - g1[c] / 12.0f + g2[c] / 6.0f;
        o5[c] = g2[c];
    }
}

/* G^T: from the transformed kernel gradient back to 3 taps. */
static void gt3(float *restrict o0, float *restrict o1, float *restrict o2, const float *restrict u0,
                const float *restrict u1, const float *restrict u2, const float *restrict u3,
                const float *restrict u4, const float *restrict u5, int len)
{
    for (int c = 0; c < len; c++) {
        float s12 = u1[c] + u2[c], s34 = u3[c] + u4[c];
        o0[c] = 0.25f * u0[c] - s12 / 6.0f + s34 / 24.0f;
        o1[c] = (u2[c] - u1[c]) / 6.0f + (u3[c] - u4[c]) / 12.0f;
        o2[c] = (s34 - s12) / 6.0f + u5[c];
    }
}

/* ---- kernels ----------------------------------------------------------------
   HWIO: tap (i, j) is a cin x cout block at k + (3 i + j) cin cout, and so is
   each of the 36 transformed elements in u. Both run over that flat block. */

typedef struct {
    float *out;
    const float *in;
    size_t count;
    int flip;
} kernel_job;

/* Kernel blocks [*p0, *p1) (floats of the flat block) of this worker. */
static void kernel_share(size_t count, int worker, int workers, size_t *p0, size_t *p1)
{
    size_t blocks = (count + KERNEL_BLOCK - 1) / KERNEL_BLOCK, b0, b1;
    fer_team_share(blocks, worker, workers, &b0, &b1);
    *p0 = b0 * KERNEL_BLOCK;
    *p1 = b1 * KERNEL_BLOCK < count ? b1 * KERNEL_BLOCK : count;
}

/* u = G g G^T, with g[i][j] = k[2 - i][2 - j] when flip is set. */
static void kernel_transform_worker(void *ctx, int worker, int workers)
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
            g6(tmp[c], tmp[3 + c], tmp[6 + c], tmp[9 + c], tmp[12 + c], tmp[15 + c], g[0][c], g[1][c],
               g[2][c], len);
        for (int a = 0; a < TILE; a++) {
            float *o = u + (size_t)TILE * a * count + p;
            g6(o, o + count, o + 2 * count, o + 3 * count, o + 4 * count, o + 5 * count, tmp[3 * a],
               tmp[3 * a + 1], tmp[3 * a + 2], len);
        }
    }
}

/* dk = G^T du G. */
static void kernel_gradient_worker(void *ctx, int worker, int workers)
{
    const kernel_job *j = ctx;
    const size_t count = j->count;
    size_t lo, hi;
    kernel_share(count, worker, workers, &lo, &hi);
    float tmp[3 * TILE][KERNEL_BLOCK];
    for (size_t p = lo; p < hi; p += KERNEL_BLOCK) {
        int len = hi - p < KERNEL_BLOCK ? (int)(hi - p) : KERNEL_BLOCK;
        const float *u = j->in + p;
        for (int c = 0; c < TILE; c++) /* columns: tmp[6 i + c] = (G^T du)[i][c] */
            gt3(tmp[c], tmp[TILE + c], tmp[2 * TILE + c], u + (size_t)c * count, u + (size_t)(6 + c) * count,
                u + (size_t)(12 + c) * count, u + (size_t)(18 + c) * count, u + (size_t)(24 + c) * count,
                u + (size_t)(30 + c) * count, len);
        for (int i = 0; i < 3; i++) {
            float *o = j->out + (size_t)3 * i * count + p;
            const float *r = tmp[TILE * i];
            gt3(o, o + count, o + 2 * count, r, tmp[TILE * i + 1], tmp[TILE * i + 2], tmp[TILE * i + 3],
                tmp[TILE * i + 4], tmp[TILE * i + 5], len);
        }
    }
}

/* Kernel transforms shared out by blocks: each output float depends on its
   own column of the kernel only. */
static void kernel_transform(float *u, const float *k, size_t count, int flip)
{
    kernel_job j = {u, k, count, flip};
    fer_team_run(fer_team_for(count, KERNEL_MIN_EACH), kernel_transform_worker, &j);
}

static void kernel_gradient(float *dk, const float *du, size_t count)
{
    kernel_job j = {dk, du, count, 0};
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

/* Rows [a0, a1) of v = B^T d B for the 6x6 input tile of output block p:
   v + (6 a + b) stride gets element (a, b), channels contiguous. */
static void input_tile(float *v, size_t stride, const float *in, const wino_grid *g, tile_pos p, int a0,
                       int a1, const float *zero)
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
        for (int b = 0; b < TILE; b++) /* columns: t[6 a + b] = (B^T d)[a][b] */
            bt6(t[b], t[6 + b], t[12 + b], t[18 + b], t[24 + b], t[30 + b], d[0][b] + c0, d[1][b] + c0,
                d[2][b] + c0, d[3][b] + c0, d[4][b] + c0, d[5][b] + c0, len);
        for (int a = a0; a < a1; a++) {
            float *o = v + (size_t)TILE * a * stride + c0;
            bt6(o, o + stride, o + 2 * stride, o + 3 * stride, o + 4 * stride, o + 5 * stride, t[6 * a],
                t[6 * a + 1], t[6 * a + 2], t[6 * a + 3], t[6 * a + 4], t[6 * a + 5], len);
        }
    }
}

/* Output block p = A^T m A (+ bias, ReLU); pixels outside the output are
   computed into a sink and dropped. */
static void output_tile(float *out, const float *m, size_t stride, const wino_grid *g, tile_pos p,
                        const float *bias, int relu)
{
    float t[OUT * TILE][CHANNEL_BLOCK], sink[OUT][CHANNEL_BLOCK];
    for (int c0 = 0; c0 < g->cout; c0 += CHANNEL_BLOCK) {
        int len = g->cout - c0 < CHANNEL_BLOCK ? g->cout - c0 : CHANNEL_BLOCK;
        const float *mc = m + c0;
        for (int b = 0; b < TILE; b++) /* columns: t[6 a + b] = (A^T m)[a][b] */
            at4(t[b], t[6 + b], t[12 + b], t[18 + b], mc + b * stride, mc + (6 + b) * stride,
                mc + (12 + b) * stride, mc + (18 + b) * stride, mc + (24 + b) * stride,
                mc + (30 + b) * stride, len);
        for (int a = 0; a < OUT; a++) {
            float *o[OUT];
            int r = p.oy + a;
            for (int b = 0; b < OUT; b++) {
                int c = p.ox + b;
                o[b] = r < g->ho && c < g->wo
                           ? out + ((p.img * g->ho + (size_t)r) * g->wo + (size_t)c) * g->cout + c0
                           : sink[b];
            }
            const float *s = t[6 * a];
            at4(o[0], o[1], o[2], o[3], s, t[6 * a + 1], t[6 * a + 2], t[6 * a + 3], t[6 * a + 4],
                t[6 * a + 5], len);
            if (bias)
                bias_act4(o[0], o[1], o[2], o[3], bias + c0, relu, len);
        }
    }
}

/* Rows [i0, i1) of w = A dy A^T for the 4x4 output-gradient block p (zero
   outside the output). */
static void gradient_tile(float *w, size_t stride, const float *dy, const wino_grid *g, tile_pos p, int i0,
                          int i1, const float *zero)
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
        for (int b = 0; b < OUT; b++) /* columns: t[4 i + b] = (A dy)[i][b] */
            a6(t[b], t[4 + b], t[8 + b], t[12 + b], t[16 + b], t[20 + b], y[0][b] + c0, y[1][b] + c0,
               y[2][b] + c0, y[3][b] + c0, len);
        for (int i = i0; i < i1; i++) {
            float *o = w + (size_t)TILE * i * stride + c0;
            a6(o, o + stride, o + 2 * stride, o + 3 * stride, o + 4 * stride, o + 5 * stride, t[4 * i],
               t[4 * i + 1], t[4 * i + 2], t[4 * i + 3], len);
        }
    }
}

/* ---- the correlation pass (forward and input gradient) ------------------------
   Threads take chunks of tiles in turn from a shared counter, each into its
   own slot of the region: every output pixel comes from exactly one tile,
   and a chunk's products do not depend on who computes them. */

typedef struct {
    float *out;
    const float *in, *u, *bias, *zero;
    const wino_grid *g;
    int u_trans, relu;
    float *region;
    size_t chunk;       /* tiles per chunk */
    atomic_size_t next; /* first tile of the next chunk to take */
} correlate_job;

static void correlate_chunk(correlate_job *j, float *v, float *m, size_t t0, size_t nt)
{
    const wino_grid *g = j->g;
    const size_t uel = (size_t)g->cin * g->cout, vstride = nt * g->cin, mstride = nt * g->cout;
    for (size_t t = 0; t < nt; t++)
        input_tile(v + t * g->cin, vstride, j->in, g, tile_at(g, t0 + t), 0, TILE, j->zero);
    for (int e = 0; e < ELEMS; e++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, j->u_trans ? CblasTrans : CblasNoTrans, (int)nt, g->cout,
                    g->cin, 1.0f, v + e * vstride, g->cin, j->u + e * uel, j->u_trans ? g->cin : g->cout,
                    0.0f, m + e * mstride, g->cout);
    for (size_t t = 0; t < nt; t++)
        output_tile(j->out, m + t * g->cout, mstride, g, tile_at(g, t0 + t), j->bias, j->relu);
}

static void correlate_worker(void *ctx, int worker, int workers)
{
    (void)workers;
    correlate_job *j = ctx;
    const size_t per_tile = ELEMS * ((size_t)j->g->cin + (size_t)j->g->cout);
    float *v = j->region + (size_t)worker * j->chunk * per_tile,
          *m = v + ELEMS * j->chunk * (size_t)j->g->cin;
    for (;;) {
        size_t t0 = atomic_fetch_add(&j->next, j->chunk);
        if (t0 >= j->g->tiles)
            return;
        correlate_chunk(j, v, m, t0, j->g->tiles - t0 < j->chunk ? j->g->tiles - t0 : j->chunk);
    }
}

/* out = correlate(in, kernel) over g, with u the transformed kernel: per
   element cin x cout, or cout x cin when u_trans is set. bias NULL: none. */
static void correlate(float *out, const float *in, const wino_grid *g, const float *u, int u_trans,
                      const float *bias, int relu, const wino_space *s)
{
    size_t workers = (size_t)fer_team_size(), chunks = (g->tiles + s->chunk - 1) / s->chunk;
    workers = workers < WINO_SLOTS ? workers : WINO_SLOTS;
    workers = workers < chunks ? workers : chunks;
    if (workers == 0)
        return;
    correlate_job j = {.out = out,
                       .in = in,
                       .u = u,
                       .bias = bias,
                       .zero = s->zero,
                       .g = g,
                       .u_trans = u_trans,
                       .relu = relu,
                       .region = s->region,
                       .chunk = s->chunk};
    atomic_init(&j.next, 0);
    fer_team_run((int)workers, correlate_worker, &j);
}

void fer_winograd_forward(float *y, const float *x, const float *k, const float *b, const fer_conv_dims *d,
                          int relu, float *scratch)
{
    wino_space s = space_at(scratch, d);
    wino_grid g = grid_of(d->n, d->h, d->w, d->ci, d->ho, d->wo, d->co, d->pad);
    kernel_transform(s.u, k, (size_t)d->ci * d->co, 0);
    correlate(y, x, &g, s.u, 0, b, relu, &s);
}

/* ---- the kernel-gradient pass -------------------------------------------------
   du[e] = sum over tiles of (B^T x B)[e]^T (A dy A^T)[e]. Every thread walks
   all tiles in the same chunks (all slots' worth at once) in order and owns
   rows of the 6x6 elements: it transforms only those rows and accumulates
   only their du[e], each over the chunks in order. So du does not depend on
   the thread count, and no thread waits for another until the end. */

typedef struct {
    float *du;
    const float *dy, *x, *zero;
    const wino_grid *g;
    float *region;
    size_t chunk;
} kernel_grad_job;

static void kernel_grad_worker(void *ctx, int worker, int workers)
{
    kernel_grad_job *j = ctx;
    const wino_grid *g = j->g;
    const int a0 = TILE * worker / workers, a1 = TILE * (worker + 1) / workers;
    const size_t uel = (size_t)g->cin * g->cout;
    /* Element rows sit at the same place in every chunk, the last (shorter)
       one included, so that no thread writes where another still reads. */
    const size_t vstride = j->chunk * g->cin, wstride = j->chunk * g->cout;
    float *v = j->region, *w = v + ELEMS * vstride;
    for (size_t t0 = 0; t0 < g->tiles; t0 += j->chunk) {
        size_t nt = g->tiles - t0 < j->chunk ? g->tiles - t0 : j->chunk;
        for (size_t t = 0; t < nt; t++) {
            tile_pos p = tile_at(g, t0 + t);
            input_tile(v + t * g->cin, vstride, j->x, g, p, a0, a1, j->zero);
            gradient_tile(w + t * g->cout, wstride, j->dy, g, p, a0, a1, j->zero);
        }
        for (int e = TILE * a0; e < TILE * a1; e++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->cin, g->cout, (int)nt, 1.0f,
                        v + e * vstride, g->cin, w + e * wstride, g->cout, t0 == 0 ? 0.0f : 1.0f,
                        j->du + e * uel, g->cout);
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
    workers = workers < TILE ? workers : TILE; /* one row of the 6x6 elements each at most */
    kernel_grad_job j = {.du = s->u,
                         .dy = dy,
                         .x = x,
                         .zero = s->zero,
                         .g = &g,
                         .region = s->region,
                         .chunk = WINO_SLOTS * s->chunk};
    fer_team_run(workers, kernel_grad_worker, &j);
    kernel_gradient(dk, s->u, uel);
}

void fer_winograd_backward(float *dx, float *dk, const float *dy, const float *x, const float *k,
                           const fer_conv_dims *d, float *scratch)
{
    wino_space s = space_at(scratch, d);
    if (dx) {
        /* dx[r][c][i] = sum dy[r + a - pad'][c + b - pad'][o] k[2 - a][2 - b][i][o], pad' = 2 - pad. */
        wino_grid g = grid_of(d->n, d->ho, d->wo, d->co, d->h, d->w, d->ci, 2 - d->pad);
        kernel_transform(s.u, k, (size_t)d->ci * d->co, 1);
        correlate(dx, dy, &g, s.u, 1, NULL, 0, &s);
    }
    if (dk)
        kernel_grad_pass(dk, dy, x, d, &s);
}
