/* Every layer kernel's backward against central finite differences of its
   forward, for the input and every parameter.

   The checked loss is L = sum_i y_i * r_i with fixed random r, accumulated in
   double, so dL/dy = r is what backward receives. Tolerance: the forward runs
   in float32, so L carries rounding noise of about 6e-8 * sqrt(#outputs) *
   |y| ~ 1e-6 for these small shapes (|y| ~ 1, a few hundred outputs); a
   central difference with step h = 1e-2 divides that by 2h, leaving ~5e-5
   of absolute noise, and its truncation error is O(h^2) ~ 1e-4 relative for
   the smooth kernels (zero for the piecewise-linear ones). Errors are
   measured as |analytic - numeric| / max(|analytic|, |numeric|, FLOOR) with
   FLOOR = 0.1 (the gradients here are of order 0.1 to 1), so near-zero
   gradients are judged absolutely and the noise is at most ~5e-4 of it: a
   tolerance of 1e-2 keeps a 20x margin, while a wrong gradient (a missing
   term, a transposed kernel, an off-by-one window) is off by O(1).
   Where the forward has kinks (ReLU, max), a perturbation that flips the
   activation pattern on one side falls back to a one-sided difference on the
   other (exact for these piecewise-linear kernels), on both sides to a step
   4 or 16 times smaller; what remains is skipped, counted, and may not
   exceed a tenth of a tensor. */
#include "check.h"
#include "fer/nn.h"
#include "fer/rng.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define STEP 1e-2
#define FLOOR 1e-1
#define TOL 1e-2

/* ---- helpers ------------------------------------------------------------ */

static void fill_uniform(float *a, size_t count, uint64_t key, double lo, double hi)
{
    for (size_t i = 0; i < count; i++)
        a[i] = (float)fer_uniform_range(key, i, lo, hi);
}

static float *alloc_uniform(size_t count, uint64_t key, double lo, double hi)
{
    float *a = malloc((count ? count : 1) * sizeof *a);
    fill_uniform(a, count, key, lo, hi);
    return a;
}

static double dot_loss(const float *y, const float *r, size_t count)
{
    double s = 0.0;
    for (size_t i = 0; i < count; i++)
        s += (double)y[i] * r[i];
    return s;
}

/* FNV-1a over the sign pattern of y: detects a perturbation that crosses a
   ReLU kink. */
static uint64_t sign_pattern(const float *y, size_t count)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < count; i++)
        h = (h ^ (uint64_t)(y[i] > 0.0f)) * 1099511628211ull;
    return h;
}

/* A forward pass that returns L and a fingerprint of its kinks. */
typedef double (*loss_fn)(void *ctx, uint64_t *pattern);

/* A finite difference of L in *p with step h: central where neither
   perturbation crosses a kink; where exactly one side does, one-sided on the
   other (the kernels with kinks are piecewise linear in every value, so that
   is exact up to rounding). Returns 0 when both sides cross one. */
static int difference(double *numeric, int *one_sided, float *p, double h, double l0, uint64_t base,
                      loss_fn loss, void *ctx)
{
    const float v = *p;
    /* The step actually taken in float, not the intended one. */
    const float vp = (float)(v + h), vm = (float)(v - h);
    uint64_t plus, minus;
    *p = vp;
    const double lp = loss(ctx, &plus);
    *p = vm;
    const double lm = loss(ctx, &minus);
    *p = v;
    *one_sided = plus != base || minus != base;
    if (plus == base && minus == base)
        *numeric = (lp - lm) / ((double)vp - (double)vm);
    else if (plus == base)
        *numeric = (lp - l0) / ((double)vp - (double)v);
    else if (minus == base)
        *numeric = (l0 - lm) / ((double)v - (double)vm);
    else
        return 0;
    return 1;
}

/* Compares analytic[i] with the finite difference in param[i], retrying a
   value whose both sides cross a kink with steps 4 and 16 times smaller
   before skipping it. */
static void gradcheck(const char *what, float *param, const float *analytic, size_t count, loss_fn loss,
                      void *ctx)
{
    uint64_t base;
    const double l0 = loss(ctx, &base);
    double worst = 0.0;
    int skipped = 0, one_sided_total = 0, smaller = 0;
    for (size_t i = 0; i < count; i++) {
        double numeric = 0.0;
        int one_sided = 0, attempt = 0;
        while (attempt < 3 &&
               !difference(&numeric, &one_sided, &param[i], STEP / (1 << 2 * attempt), l0, base, loss, ctx))
            attempt++;
        if (attempt == 3) {
            skipped++;
            continue;
        }
        one_sided_total += one_sided;
        smaller += attempt > 0;
        const double a = analytic[i];
        const double err = fabs(a - numeric) / fmax(fmax(fabs(a), fabs(numeric)), FLOOR);
        worst = fmax(worst, err);
    }
    loss(ctx, &base); /* leave the outputs of the unperturbed forward behind */
    printf("%-30s max rel err %.2e over %zu values (tol %.0e; kinks: %d one-sided, %d smaller step, %d "
           "skipped)\n",
           what, worst, count, TOL, one_sided_total, smaller, skipped);
    CHECK_MSG(worst < TOL, "%s", what);
    CHECK_MSG(skipped * 10 <= (int)count, "%s: too many values skipped", what);
}

/* ---- conv2d --------------------------------------------------------------- */

typedef struct {
    fer_conv_dims d;
    int relu;
    float *x, *k, *b, *y, *r, *scratch;
} conv_case;

static size_t conv_in(const fer_conv_dims *d)
{
    return (size_t)d->n * d->h * d->w * d->ci;
}
static size_t conv_out(const fer_conv_dims *d)
{
    return (size_t)d->n * d->ho * d->wo * d->co;
}

static double conv_loss(void *ctx, uint64_t *pattern)
{
    conv_case *c = ctx;
    fer_conv2d_forward(c->y, c->x, c->k, c->b, &c->d, c->relu, c->scratch);
    *pattern = c->relu ? sign_pattern(c->y, conv_out(&c->d)) : 0;
    return dot_loss(c->y, c->r, conv_out(&c->d));
}

static void check_conv(const char *name, int n, int h, int w, int ci, int co, int k, int same, int relu)
{
    conv_case c = {.relu = relu};
    fer_conv_dims_init(&c.d, n, h, w, ci, co, k, same);
    const size_t nk = (size_t)k * k * ci * co, ny = conv_out(&c.d);
    c.x = alloc_uniform(conv_in(&c.d), 11, -1, 1);
    c.k = alloc_uniform(nk, 12, -0.5, 0.5);
    c.b = alloc_uniform((size_t)co, 13, -0.3, 0.3);
    c.r = alloc_uniform(ny, 14, -1, 1);
    c.y = malloc(ny * sizeof *c.y);
    c.scratch = malloc(fer_conv2d_scratch_floats(&c.d) * sizeof *c.scratch);
    float *dx = malloc(conv_in(&c.d) * sizeof *dx), *dk = malloc(nk * sizeof *dk),
          *db = malloc(co * sizeof *db);
    float *dy = malloc(ny * sizeof *dy);

    uint64_t pattern;
    conv_loss(&c, &pattern);
    memcpy(dy, c.r, ny * sizeof *dy);
    fer_conv2d_backward(dx, dk, db, dy, c.x, c.k, c.y, &c.d, relu, c.scratch);

    char what[96];
    snprintf(what, sizeof what, "conv2d %s dx", name);
    gradcheck(what, c.x, dx, conv_in(&c.d), conv_loss, &c);
    snprintf(what, sizeof what, "conv2d %s dk", name);
    gradcheck(what, c.k, dk, nk, conv_loss, &c);
    snprintf(what, sizeof what, "conv2d %s db", name);
    gradcheck(what, c.b, db, (size_t)co, conv_loss, &c);

    /* NULL gradients are skipped, and the others do not change. */
    float *dk2 = malloc(nk * sizeof *dk2);
    memcpy(dy, c.r, ny * sizeof *dy);
    fer_conv2d_backward(NULL, dk2, NULL, dy, c.x, c.k, c.y, &c.d, relu, c.scratch);
    CHECK_MSG(memcmp(dk, dk2, nk * sizeof *dk) == 0, "conv2d %s: dk with dx = db = NULL", name);

    free(dk2);
    free(dy);
    free(db);
    free(dk);
    free(dx);
    free(c.scratch);
    free(c.y);
    free(c.r);
    free(c.b);
    free(c.k);
    free(c.x);
}

/* ---- maxpool -------------------------------------------------------------- */

typedef struct {
    int n, h, w, c;
    float *x, *y, *r;
} pool_case;

static size_t pool_out(const pool_case *p)
{
    return (size_t)p->n * (p->h / 2) * (p->w / 2) * p->c;
}

static double pool_loss(void *ctx, uint64_t *pattern)
{
    pool_case *p = ctx;
    fer_maxpool2_forward(p->y, p->x, p->n, p->h, p->w, p->c);
    *pattern = 0;
    return dot_loss(p->y, p->r, pool_out(p));
}

static void check_maxpool(void)
{
    pool_case p = {.n = 2, .h = 5, .w = 7, .c = 3};
    const size_t nx = (size_t)p.n * p.h * p.w * p.c, ny = pool_out(&p);
    /* Distinct values 0.05 apart (> 2 * STEP): no perturbation changes a
       window's winner. */
    p.x = malloc(nx * sizeof *p.x);
    for (size_t i = 0; i < nx; i++)
        p.x[i] = 0.05f * (float)((i * 37) % nx) - 1.0f;
    p.y = malloc(ny * sizeof *p.y);
    p.r = alloc_uniform(ny, 21, -1, 1);
    float *dx = malloc(nx * sizeof *dx);
    uint64_t pattern;
    pool_loss(&p, &pattern);
    fer_maxpool2_backward(dx, p.r, p.x, p.y, p.n, p.h, p.w, p.c);
    gradcheck("maxpool2 5x7 dx", p.x, dx, nx, pool_loss, &p);
    free(dx);
    free(p.r);
    free(p.y);
    free(p.x);
}

/* Windows full of ties: the gradient must go to exactly one element, the
   first maximum in row-major window order (top-left, top-right, bottom-left,
   bottom-right). */
static void check_maxpool_ties(void)
{
    enum { N = 1, H = 4, W = 4, C = 2 };
    /* Four 2x2 windows per channel; each pattern lists the window's values in
       row-major order, and first[] is the index that must win. */
    static const float win[8][4] = {{1, 1, 1, 1}, {0, 2, 2, 2}, {3, 1, 3, 3},     {-1, -2, -1, -1},
                                    {0, 0, 0, 5}, {4, 4, 0, 0}, {-3, -3, -3, -3}, {1, 0, 2, 2}};
    static const int first[8] = {0, 1, 0, 0, 3, 0, 0, 2};
    float x[N * H * W * C], y[N * 2 * 2 * C], dy[N * 2 * 2 * C], dx[N * H * W * C];
    for (int ch = 0; ch < C; ch++)
        for (int wi = 0; wi < 4; wi++)
            for (int e = 0; e < 4; e++) {
                int oh = wi / 2, ow = wi % 2, i = e / 2, j = e % 2;
                x[((2 * oh + i) * W + 2 * ow + j) * C + ch] = win[ch * 4 + wi][e];
            }
    for (int i = 0; i < N * 2 * 2 * C; i++)
        dy[i] = 1.0f + (float)i;
    fer_maxpool2_forward(y, x, N, H, W, C);
    memset(dx, 0x7f, sizeof dx); /* garbage: backward must write every element */
    fer_maxpool2_backward(dx, dy, x, y, N, H, W, C);
    int wrong = 0;
    for (int ch = 0; ch < C; ch++)
        for (int wi = 0; wi < 4; wi++) {
            int oh = wi / 2, ow = wi % 2, nonzero = 0;
            for (int e = 0; e < 4; e++) {
                int i = e / 2, j = e % 2;
                float g = dx[((2 * oh + i) * W + 2 * ow + j) * C + ch];
                float want = e == first[ch * 4 + wi] ? dy[(oh * 2 + ow) * C + ch] : 0.0f;
                nonzero += g != 0.0f;
                wrong += g != want;
            }
            wrong += nonzero != 1;
        }
    printf("maxpool2 ties: %d of 8 windows route the gradient to anything but exactly the first max\n",
           wrong);
    CHECK(wrong == 0);

    /* In place over x: the same gradient, and with relu_below none where the
       window's maximum is not positive (windows of -1, -3 and all-zero
       maxima are among the patterns above). */
    int same = 1, masked = 1;
    for (int relu_below = 0; relu_below <= 1; relu_below++) {
        float xdx[N * H * W * C], dyc[N * 2 * 2 * C];
        memcpy(xdx, x, sizeof xdx);
        memcpy(dyc, dy, sizeof dyc);
        fer_maxpool2_backward_in_place(xdx, dyc, y, N, H, W, C, relu_below);
        for (int i = 0; i < N * H * W * C; i++) {
            float want = relu_below && !(x[i] > 0.0f) ? 0.0f : dx[i];
            if (relu_below)
                masked &= xdx[i] == want;
            else
                same &= xdx[i] == want;
        }
    }
    printf("maxpool2 in place over its input: identical to dx: %s; with the ReLU mask below: %s\n",
           same ? "yes" : "no", masked ? "yes" : "no");
    CHECK(same && masked);
}

/* ---- batchnorm (training) ------------------------------------------------ */

typedef struct {
    int rows, c;
    float *x, *gamma, *beta, *mm, *mv, *mean, *invstd, *y, *r;
} bn_case;

static double bn_loss(void *ctx, uint64_t *pattern)
{
    bn_case *b = ctx;
    *pattern = 0;
    fer_batchnorm_forward_train(b->y, b->x, b->gamma, b->beta, b->mm, b->mv, b->mean, b->invstd, b->rows,
                                b->c, 0.99f, 1e-3f, NULL);
    return dot_loss(b->y, b->r, (size_t)b->rows * b->c);
}

static void check_batchnorm(void)
{
    bn_case b = {.rows = 12, .c = 4};
    const size_t nx = (size_t)b.rows * b.c;
    b.x = alloc_uniform(nx, 31, -2, 3);
    b.gamma = alloc_uniform((size_t)b.c, 32, 0.5, 1.5);
    b.beta = alloc_uniform((size_t)b.c, 33, -0.5, 0.5);
    b.mm = calloc((size_t)b.c, sizeof *b.mm);
    b.mv = calloc((size_t)b.c, sizeof *b.mv);
    b.mean = malloc((size_t)b.c * sizeof *b.mean);
    b.invstd = malloc((size_t)b.c * sizeof *b.invstd);
    b.y = malloc(nx * sizeof *b.y);
    b.r = alloc_uniform(nx, 34, -1, 1);
    float *dx = malloc(nx * sizeof *dx), *dg = malloc((size_t)b.c * sizeof *dg),
          *dbeta = malloc((size_t)b.c * sizeof *dbeta);
    uint64_t pattern;
    bn_loss(&b, &pattern);
    fer_batchnorm_backward(dx, dg, dbeta, b.r, b.x, b.gamma, b.mean, b.invstd, b.rows, b.rows, b.c, NULL);
    gradcheck("batchnorm train dx", b.x, dx, nx, bn_loss, &b);
    gradcheck("batchnorm train dgamma", b.gamma, dg, (size_t)b.c, bn_loss, &b);
    gradcheck("batchnorm train dbeta", b.beta, dbeta, (size_t)b.c, bn_loss, &b);
    free(dbeta);
    free(dg);
    free(dx);
    free(b.r);
    free(b.y);
    free(b.invstd);
    free(b.mean);
    free(b.mv);
    free(b.mm);
    free(b.beta);
    free(b.gamma);
    free(b.x);
}

/* A fake multi-rank reduction run in phases in one process. The forward's
   reduction (call 0) must be combined before the backward's (call 1) means
   anything, so phase p replays every shard with calls before p combined
   (replaced by the total over shards, as an allreduce would) and call p
   recorded (each shard's local sums stored and left local). */
enum { MAX_SHARDS = 3, MAX_BUF = 64, CALLS = 2 };
typedef struct {
    int phase, shard, call;
    double local[CALLS][MAX_SHARDS][MAX_BUF]; /* [call][shard][i] */
    int count[CALLS];
    int mismatch;
} fake_world;

static void fake_reduce(double *buf, int count, void *ctx)
{
    fake_world *fw = ctx;
    int call = fw->call++;
    if (call > fw->phase || call >= CALLS || count > MAX_BUF) {
        fw->mismatch++;
        return;
    }
    if (call == fw->phase) {
        memcpy(fw->local[call][fw->shard], buf, (size_t)count * sizeof *buf);
        fw->count[call] = count;
        return;
    }
    /* A replayed shard must present the same local sums as when recorded. */
    if (count != fw->count[call] || memcmp(buf, fw->local[call][fw->shard], (size_t)count * sizeof *buf) != 0)
        fw->mismatch++;
    for (int i = 0; i < count; i++) {
        double total = 0.0;
        for (int s = 0; s < MAX_SHARDS; s++)
            total += fw->local[call][s][i];
        buf[i] = total;
    }
}

static double max_abs_diff(const float *a, const float *b, size_t count)
{
    double m = 0.0;
    for (size_t i = 0; i < count; i++)
        m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static void check_batchnorm_shards(void)
{
    enum { C = 5, ROWS = 13 };
    static const int shard_rows[MAX_SHARDS] = {6, 4, 3};
    float x[ROWS * C], r[ROWS * C], gamma[C], beta[C];
    fill_uniform(x, ROWS * C, 41, -1, 4);
    fill_uniform(r, ROWS * C, 42, -1, 1);
    fill_uniform(gamma, C, 43, 0.5, 1.5);
    fill_uniform(beta, C, 44, -1, 1);

    /* The unsplit batch. */
    float y[ROWS * C], dx[ROWS * C], mm[C] = {0}, mv[C], mean[C], invstd[C], dg[C], dbeta[C];
    for (int j = 0; j < C; j++)
        mv[j] = 1.0f;
    long m =
        fer_batchnorm_forward_train(y, x, gamma, beta, mm, mv, mean, invstd, ROWS, C, 0.99f, 1e-3f, NULL);
    fer_batchnorm_backward(dx, dg, dbeta, r, x, gamma, mean, invstd, ROWS, m, C, NULL);

    /* The same batch as three "ranks". */
    fake_world fw = {0};
    float ys[ROWS * C], dxs[ROWS * C], mms[MAX_SHARDS][C], mvs[MAX_SHARDS][C], means[C], invstds[C];
    float dgs[C] = {0}, dbetas[C] = {0}, dg_part[C], dbeta_part[C];
    long ms[MAX_SHARDS];
    fer_reducer red = {fake_reduce, &fw};
    for (fw.phase = 0; fw.phase <= CALLS; fw.phase++) {
        for (int s = 0, row0 = 0; s < MAX_SHARDS; row0 += shard_rows[s], s++) {
            for (int j = 0; j < C; j++) {
                mms[s][j] = 0.0f;
                mvs[s][j] = 1.0f;
            }
            fw.shard = s;
            fw.call = 0;
            const float *xs = x + row0 * C;
            ms[s] = fer_batchnorm_forward_train(ys + row0 * C, xs, gamma, beta, mms[s], mvs[s], means,
                                                invstds, shard_rows[s], C, 0.99f, 1e-3f, &red);
            if (fw.phase == 0)
                continue;
            fer_batchnorm_backward(dxs + row0 * C, dg_part, dbeta_part, r + row0 * C, xs, gamma, means,
                                   invstds, shard_rows[s], ms[s], C, &red);
            for (int j = 0; fw.phase == CALLS && j < C; j++) {
                dgs[j] += dg_part[j];
                dbetas[j] += dbeta_part[j];
            }
        }
    }
    int bad_m = 0;
    double dstats = 0.0;
    for (int s = 0; s < MAX_SHARDS; s++) {
        bad_m += ms[s] != ROWS;
        dstats = fmax(dstats, fmax(max_abs_diff(mms[s], mm, C), max_abs_diff(mvs[s], mv, C)));
    }
    double dy_ = max_abs_diff(ys, y, ROWS * C), ddx = max_abs_diff(dxs, dx, ROWS * C);
    double dgam = fmax(max_abs_diff(dgs, dg, C), max_abs_diff(dbetas, dbeta, C));
    /* Only the order of double additions differs, so results agree to a few
       float ulps. */
    const double tol = 1e-5;
    printf("batchnorm 3 shards (6+4+3 rows) vs unsplit: y %.1e, moving stats %.1e, dx %.1e, "
           "sum of shard dgamma/dbeta %.1e max abs diff (tol %.0e); %d reducer mismatches, %d wrong m\n",
           dy_, dstats, ddx, dgam, tol, fw.mismatch, bad_m);
    CHECK(dy_ < tol && dstats < tol && ddx < tol && dgam < tol);
    CHECK(fw.mismatch == 0 && bad_m == 0);
    /* The shards really were normalized with global statistics: a shard's
       own statistics would give visibly different outputs. */
    float yl[6 * C], mml[C] = {0}, mvl[C];
    fer_batchnorm_forward_train(yl, x, gamma, beta, mml, mvl, means, invstds, 6, C, 0.99f, 1e-3f, NULL);
    double dlocal = max_abs_diff(yl, y, 6 * C);
    printf("batchnorm shard with local statistics only differs by %.2e (must be > 1e-2)\n", dlocal);
    CHECK(dlocal > 1e-2);
}

/* ---- relu, dropout, gap ------------------------------------------------- */

typedef struct {
    size_t count;
    float *x, *y, *r;
} relu_case;

static double relu_loss(void *ctx, uint64_t *pattern)
{
    relu_case *c = ctx;
    fer_relu_forward(c->y, c->x, c->count);
    *pattern = sign_pattern(c->y, c->count);
    return dot_loss(c->y, c->r, c->count);
}

static void check_relu(void)
{
    relu_case c = {.count = 40};
    c.x = alloc_uniform(c.count, 51, -1, 1);
    c.y = malloc(c.count * sizeof *c.y);
    c.r = alloc_uniform(c.count, 52, -1, 1);
    float *d = malloc(c.count * sizeof *d);
    uint64_t pattern;
    relu_loss(&c, &pattern);
    memcpy(d, c.r, c.count * sizeof *d);
    fer_relu_backward(d, d, c.y, c.count); /* in place: dx aliases dy */
    gradcheck("relu dx (in place)", c.x, d, c.count, relu_loss, &c);
    free(d);
    free(c.r);
    free(c.y);
    free(c.x);
}

typedef struct {
    int n;
    size_t per;
    float rate;
    const uint64_t *keys;
    float *x, *y, *r;
    uint8_t *mask;
} dropout_case;

static double dropout_loss(void *ctx, uint64_t *pattern)
{
    dropout_case *c = ctx;
    fer_dropout_forward(c->y, c->mask, c->x, c->n, c->per, c->rate, c->keys);
    *pattern = 0;
    return dot_loss(c->y, c->r, (size_t)c->n * c->per);
}

static void check_dropout(void)
{
    const uint64_t keys[3] = {fer_key(7, FER_STREAM_DROPOUT, 0, 0), fer_key(7, FER_STREAM_DROPOUT, 1, 0),
                              fer_key(7, FER_STREAM_DROPOUT, 2, 0)};
    dropout_case c = {.n = 3, .per = 20, .rate = 0.4f, .keys = keys};
    const size_t count = (size_t)c.n * c.per;
    c.x = alloc_uniform(count, 61, -1, 1);
    c.y = malloc(count * sizeof *c.y);
    c.r = alloc_uniform(count, 62, -1, 1);
    c.mask = malloc(count);
    float *dx = malloc(count * sizeof *dx);
    uint64_t pattern;
    dropout_loss(&c, &pattern);
    fer_dropout_backward(dx, c.r, c.mask, c.n, c.per, c.rate);
    /* The gradient is exactly mask * r / (1 - rate). */
    int exact = 1;
    for (size_t i = 0; i < count; i++)
        exact &= dx[i] == (c.mask[i] ? c.r[i] * (1.0f / (1.0f - c.rate)) : 0.0f);
    printf("dropout dx == mask * dy / (1 - rate) exactly: %s\n", exact ? "yes" : "no");
    CHECK(exact);
    gradcheck("dropout dx", c.x, dx, count, dropout_loss, &c);

    /* The mask is the documented function of the key: element e kept when
       half e % 2 (low, high) of draw e / 2 is at least ceil(rate 2^32);
       601 elements: two blocks of draws and an odd last element. */
    enum { PF = 601 };
    float *xf = alloc_uniform(2 * PF, 64, -1, 1), *yf = malloc(2 * PF * sizeof *yf);
    uint8_t *mf = malloc(2 * PF);
    fer_dropout_forward(yf, mf, xf, 2, PF, 0.4f, keys);
    const uint64_t threshold = (uint64_t)ceil(0.4 * 4294967296.0);
    int formula = 1;
    for (int s = 0; s < 2; s++)
        for (size_t e = 0; e < PF; e++) {
            uint64_t half = (fer_draw64(keys[s], e / 2) >> (32 * (e % 2))) & 0xffffffffu;
            uint8_t keep = half >= threshold;
            formula &=
                mf[s * PF + e] == keep && yf[s * PF + e] == (keep ? xf[s * PF + e] * (1.0f / 0.6f) : 0.0f);
        }
    printf("dropout mask and values follow the key's draws (2 x %d elements): %s\n", PF,
           formula ? "yes" : "no");
    CHECK(formula);
    free(mf);
    free(yf);
    free(xf);

    /* Drop rate over many draws: 4 x 5000 Bernoulli(0.3) has sd 0.0032. */
    enum { N = 4, PER = 5000 };
    float *xb = alloc_uniform(N * PER, 63, -1, 1), *yb = malloc(N * PER * sizeof *yb);
    uint8_t *mb = malloc(N * PER), *mb2 = malloc(N * PER);
    uint64_t kb[N], kb2[N];
    for (int s = 0; s < N; s++)
        kb[s] = fer_key(99, FER_STREAM_DROPOUT, 1000 + s, 3);
    fer_dropout_forward(yb, mb, xb, N, PER, 0.3f, kb);
    long dropped = 0;
    for (int i = 0; i < N * PER; i++)
        dropped += !mb[i];
    double frac = (double)dropped / (N * PER);
    printf("dropout rate 0.3: dropped fraction %.4f over %d elements (tol 0.015)\n", frac, N * PER);
    CHECK(fabs(frac - 0.3) < 0.015);

    /* The mask depends only on the sample's key: reversed batch order (as a
       different rank layout would give) yields the same per-sample masks,
       and a different key a different mask. */
    for (int s = 0; s < N; s++)
        kb2[s] = kb[N - 1 - s];
    fer_dropout_forward(yb, mb2, xb, N, PER, 0.3f, kb2);
    int same = 1;
    for (int s = 0; s < N; s++)
        same &= memcmp(mb + (size_t)s * PER, mb2 + (size_t)(N - 1 - s) * PER, PER) == 0;
    int differ = memcmp(mb, mb + PER, PER) != 0;
    printf("dropout masks follow their keys across batch positions: %s; distinct keys differ: %s\n",
           same ? "yes" : "no", differ ? "yes" : "no");
    CHECK(same && differ);
    free(mb2);
    free(mb);
    free(yb);
    free(xb);
    free(dx);
    free(c.mask);
    free(c.r);
    free(c.y);
    free(c.x);
}

typedef struct {
    int n, hw, c;
    float *x, *y, *r;
} gap_case;

static double gap_loss(void *ctx, uint64_t *pattern)
{
    gap_case *g = ctx;
    fer_gap_forward(g->y, g->x, g->n, g->hw, g->c);
    *pattern = 0;
    return dot_loss(g->y, g->r, (size_t)g->n * g->c);
}

static void check_gap(void)
{
    gap_case g = {.n = 2, .hw = 6, .c = 5};
    const size_t nx = (size_t)g.n * g.hw * g.c;
    g.x = alloc_uniform(nx, 71, -1, 1);
    g.y = malloc((size_t)g.n * g.c * sizeof *g.y);
    g.r = alloc_uniform((size_t)g.n * g.c, 72, -1, 1);
    float *dx = malloc(nx * sizeof *dx);
    fer_gap_backward(dx, g.r, g.n, g.hw, g.c);
    gradcheck("gap dx", g.x, dx, nx, gap_loss, &g);
    free(dx);
    free(g.r);
    free(g.y);
    free(g.x);
}

/* ---- dense ------------------------------------------------------------- */

typedef struct {
    int n, in, out, relu;
    float *x, *w, *b, *y, *r;
} dense_case;

static double dense_loss(void *ctx, uint64_t *pattern)
{
    dense_case *c = ctx;
    fer_dense_forward(c->y, c->x, c->w, c->b, c->n, c->in, c->out, c->relu);
    *pattern = c->relu ? sign_pattern(c->y, (size_t)c->n * c->out) : 0;
    return dot_loss(c->y, c->r, (size_t)c->n * c->out);
}

static void check_dense(int relu)
{
    dense_case c = {.n = 3, .in = 6, .out = 4, .relu = relu};
    const size_t nx = (size_t)c.n * c.in, nw = (size_t)c.in * c.out, ny = (size_t)c.n * c.out;
    c.x = alloc_uniform(nx, 81, -1, 1);
    c.w = alloc_uniform(nw, 82, -1, 1);
    c.b = alloc_uniform((size_t)c.out, 83, -0.5, 0.5);
    c.y = malloc(ny * sizeof *c.y);
    c.r = alloc_uniform(ny, 84, -1, 1);
    float *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw), *db = malloc(c.out * sizeof *db),
          *dy = malloc(ny * sizeof *dy);
    uint64_t pattern;
    dense_loss(&c, &pattern);
    memcpy(dy, c.r, ny * sizeof *dy);
    fer_dense_backward(dx, dw, db, dy, c.x, c.w, c.y, c.n, c.in, c.out, relu);
    gradcheck(relu ? "dense relu dx" : "dense linear dx", c.x, dx, nx, dense_loss, &c);
    gradcheck(relu ? "dense relu dw" : "dense linear dw", c.w, dw, nw, dense_loss, &c);
    gradcheck(relu ? "dense relu db" : "dense linear db", c.b, db, (size_t)c.out, dense_loss, &c);
    free(dy);
    free(db);
    free(dw);
    free(dx);
    free(c.r);
    free(c.y);
    free(c.b);
    free(c.w);
    free(c.x);
}

/* ---- softmax cross-entropy ------------------------------------------------ */

typedef struct {
    int n, k;
    float *logits;
    const int *labels;
    const float *weights;
    double scale;
} xent_case;

static double xent_loss(void *ctx, uint64_t *pattern)
{
    xent_case *c = ctx;
    *pattern = 0;
    return c->scale * fer_softmax_xent(NULL, NULL, c->logits, c->labels, c->weights, c->n, c->k, c->scale);
}

static void check_xent(const char *what, float *logits, const int *labels, const float *weights, int n, int k)
{
    xent_case c = {.n = n, .k = k, .logits = logits, .labels = labels, .weights = weights, .scale = 1.0 / n};
    float *dl = malloc((size_t)n * k * sizeof *dl), *probs = malloc((size_t)n * k * sizeof *probs);
    double loss = fer_softmax_xent(dl, probs, logits, labels, weights, n, k, c.scale);
    /* Reference in long double straight from the definition, shifted by the
       row max (the only way it survives logits of 1000). */
    double worst_loss = 0.0, worst_sum = 0.0;
    long double ref = 0.0L;
    for (int i = 0; i < n; i++) {
        long double mx = logits[i * k], s = 0.0L, psum = 0.0L;
        for (int j = 1; j < k; j++)
            mx = logits[i * k + j] > mx ? logits[i * k + j] : mx;
        for (int j = 0; j < k; j++)
            s += expl(logits[i * k + j] - mx);
        ref += (weights ? weights[i] : 1.0L) * (logl(s) + mx - logits[i * k + labels[i]]);
        for (int j = 0; j < k; j++)
            psum += probs[i * k + j];
        worst_sum = fmax(worst_sum, fabs((double)(psum - 1.0L)));
    }
    worst_loss = fabs(loss - (double)ref) / fmax(1.0, fabs((double)ref));
    printf("%-34s loss %.6f vs reference %.6f (rel err %.1e, tol 1e-12); probs sum to 1 within %.1e "
           "(tol 1e-6)\n",
           what, loss, (double)ref, worst_loss, worst_sum);
    CHECK(isfinite(loss) && worst_loss < 1e-12 && worst_sum < 1e-6);
    char name[96];
    snprintf(name, sizeof name, "%s dlogits", what);
    gradcheck(name, logits, dl, (size_t)n * k, xent_loss, &c);
    free(probs);
    free(dl);
}

static void check_softmax_xent(void)
{
    enum { N = 4, K = 7 };
    float logits[N * K];
    const int labels[N] = {0, 3, 6, 2};
    const float weights[N] = {1.0f, 0.5f, 2.0f, 1.5f};
    fill_uniform(logits, N * K, 91, -3, 3);
    check_xent("softmax xent", logits, labels, NULL, N, K);
    check_xent("softmax xent weighted", logits, labels, weights, N, K);
    /* Logits around +-1000 overflow a naive exp; log-sum-exp must not. */
    float big[N * K];
    for (int i = 0; i < N * K; i++)
        big[i] = (float)(1000.0 * (i % 3 == 0 ? 1 : -1) + fer_uniform_range(92, (uint64_t)i, -2, 2));
    check_xent("softmax xent logits ~1000", big, labels, weights, N, K);
}

int main(void)
{
    check_conv("3x3 same", 2, 5, 6, 3, 4, 3, 1, 0);
    check_conv("3x3 same relu", 2, 5, 6, 3, 4, 3, 1, 1);
    check_conv("3x3 valid", 2, 6, 5, 3, 4, 3, 0, 0);
    check_conv("3x3 valid relu", 1, 6, 5, 3, 4, 3, 0, 1);
    check_conv("1x1", 2, 3, 4, 5, 3, 1, 1, 0);
    check_conv("1x1 relu", 2, 3, 4, 5, 3, 1, 1, 1);
    check_conv("5x5 same relu", 1, 4, 6, 2, 3, 5, 1, 1);
    check_maxpool();
    check_maxpool_ties();
    check_batchnorm();
    check_batchnorm_shards();
    check_relu();
    check_dropout();
    check_gap();
    check_dense(0);
    check_dense(1);
    check_softmax_xent();
    return check_report("test_nn_gradcheck");
}
