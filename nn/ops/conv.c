/* conv2d: per-image im2col + sgemm, images split over the pool, one
 * single-threaded sgemm per (image, group). Backward recomputes im2col
 * rather than keeping the column buffers (they would not fit in memory). */
#include <string.h>

#include "../blas.h"
#include "../ops.h"
#include "conv_direct.h"
#include "moments.h"

int nn_conv_out(int in, int k, int stride, int pad, int dil) { return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1; }

typedef struct {
    int C, H, W, OC, KH, KW, OH, OW, G;
    nn_conv_attr a;
} conv_geom;

/* The range of output positions o whose input index o*s - p + k*d lies in
 * [0, n): no branch in the inner loops of im2col/col2im. */
static inline void valid_range(int n, int on, int s, int off, int *lo, int *hi)
{
    /* need 0 <= o*s + off < n */
    int l = off >= 0 ? 0 : (-off + s - 1) / s;
    int h = (n - off + s - 1) / s; /* first o with o*s+off >= n */
    if (h > on) h = on;
    if (h < 0) h = 0;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* x [C, H, W] (C = channels of one group) -> col [C*KH*KW, L] for the
 * output rows [r0, r1), L = (r1 - r0) * OW. */
static void im2col(const float *x, float *col, int C, const conv_geom *g, int r0, int r1)
{
    const int s = g->a.stride, p = g->a.pad, d = g->a.dilation;
    const int OW = g->OW, H = g->H, W = g->W;
    const long L = (long)(r1 - r0) * OW, base = (long)r0 * OW;
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * H * W;
        for (int kh = 0; kh < g->KH; kh++) {
            int oh_lo, oh_hi;
            valid_range(H, g->OH, s, kh * d - p, &oh_lo, &oh_hi);
            const int a = oh_lo > r0 ? oh_lo : r0, b = oh_hi < r1 ? (oh_hi > a ? oh_hi : a) : (r1 > a ? r1 : a);
            for (int kw = 0; kw < g->KW; kw++) {
                float *row = col + ((size_t)(c * g->KH + kh) * g->KW + kw) * (size_t)L;
                int ow_lo, ow_hi;
                valid_range(W, OW, s, kw * d - p, &ow_lo, &ow_hi);
                if (s == 1 && OW == W) {
                    /* Same width: the row is the plane shifted by one offset.
                     * Copy it in one piece, then zero what wrapped around. */
                    const long shift = (long)(kh * d - p) * W + (kw * d - p);
                    const long lo = (long)a * W, hi = (long)b * W; /* valid output range */
                    long slo = lo > -shift ? lo : -shift, shi = hi < (long)H * W - shift ? hi : (long)H * W - shift;
                    /* the valid range may lie wholly outside this chunk of rows */
                    if (slo > base + L) slo = base + L;
                    if (shi > base + L) shi = base + L;
                    if (shi < slo) shi = slo;
                    memset(row, 0, (size_t)(slo - base) * sizeof(float));
                    memcpy(row + (slo - base), xc + slo + shift, (size_t)(shi - slo) * sizeof(float));
                    memset(row + (shi - base), 0, (size_t)(base + L - shi) * sizeof(float));
                    if (ow_lo > 0 || ow_hi < OW)
                        for (int oh = a; oh < b; oh++) {
                            float *r = row + (size_t)(oh - r0) * OW;
                            for (int ow = 0; ow < ow_lo; ow++) r[ow] = 0.0f;
                            for (int ow = ow_hi; ow < OW; ow++) r[ow] = 0.0f;
                        }
                    continue;
                }
                for (int oh = r0; oh < r1; oh++) {
                    float *r = row + (size_t)(oh - r0) * OW;
                    if (oh < a || oh >= b) {
                        memset(r, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    const float *xr = xc + (size_t)(oh * s - p + kh * d) * W + (kw * d - p);
                    for (int ow = 0; ow < ow_lo; ow++) r[ow] = 0.0f;
                    if (s == 1)
                        memcpy(r + ow_lo, xr + ow_lo, (size_t)(ow_hi - ow_lo) * sizeof(float));
                    else
                        for (int ow = ow_lo; ow < ow_hi; ow++) r[ow] = xr[ow * s];
                    for (int ow = ow_hi; ow < OW; ow++) r[ow] = 0.0f;
                }
            }
        }
    }
}

/* Output rows per im2col chunk so that the column buffer stays in L2
 * (Zen 3 has 512 KiB per core; a stage-1 ResNet column is 450 KiB). */
static int chunk_rows(const conv_geom *g, int K)
{
    const long budget = 48 * 1024; /* floats: 192 KiB */
    long r = budget / ((long)K * g->OW);
    return r < 1 ? 1 : (r > g->OH ? g->OH : (int)r);
}

/* col [C*KH*KW, OH*OW] accumulated into dx [C, H, W] */
static void col2im(const float *col, float *dx, int C, const conv_geom *g)
{
    const int s = g->a.stride, p = g->a.pad, d = g->a.dilation;
    const int OH = g->OH, OW = g->OW, H = g->H, W = g->W;
    for (int c = 0; c < C; c++) {
        float *xc = dx + (size_t)c * H * W;
        for (int kh = 0; kh < g->KH; kh++) {
            int oh_lo, oh_hi;
            valid_range(H, OH, s, kh * d - p, &oh_lo, &oh_hi);
            for (int kw = 0; kw < g->KW; kw++) {
                const float *row = col + ((size_t)(c * g->KH + kh) * g->KW + kw) * OH * OW;
                int ow_lo, ow_hi;
                valid_range(W, OW, s, kw * d - p, &ow_lo, &ow_hi);
                for (int oh = oh_lo; oh < oh_hi; oh++) {
                    const float *r = row + (size_t)oh * OW;
                    float *xr = xc + (size_t)(oh * s - p + kh * d) * W + (kw * d - p);
                    if (s == 1)
                        for (int ow = ow_lo; ow < ow_hi; ow++) xr[ow] += r[ow];
                    else
                        for (int ow = ow_lo; ow < ow_hi; ow++) xr[ow * s] += r[ow];
                }
            }
        }
    }
}

static int is_pointwise(const conv_geom *g)
{
    return g->KH == 1 && g->KW == 1 && g->a.stride == 1 && g->a.pad == 0;
}

typedef struct {
    conv_geom g;
    nn_tensor *x, *w, *b, *y;
    float *cols;      /* per-thread column buffers */
    size_t col_size;
    float *dw_part;   /* per-thread dW (and db) accumulators, backward */
    size_t dw_size;
    /* backward: dx as a stride-1 convolution of dy with the flipped,
     * transposed weights (no col2im), when the geometry allows it */
    int dx_transposed;
    conv_geom gt;     /* geometry of that convolution: dy -> dx */
    float *wt;        /* [G][cg][ocg*KH*KW] flipped weights */
    int dx_fresh;     /* dx was unallocated: write, do not accumulate */
    double *stats_part; /* per-thread [3*OC] (count, mean, M2) of the output, for a following BN */
    /* direct kernel (conv_direct.c) for the forward and for the dx conv */
    nn_direct_plan *fplan, *bplan;
    float *fw, *bw;   /* weights packed for it */
} conv_job;

static void conv_fwd_task(void *arg, int ith, int nth)
{
    conv_job *j = arg;
    const conv_geom *g = &j->g;
    const int N = j->x->shape[0], G = g->G;
    const int cg = g->C / G, ocg = g->OC / G, K = cg * g->KH * g->KW, P = g->OH * g->OW;
    float *col = j->cols + (size_t)ith * j->col_size;
    size_t lo, hi;
    nn_split((size_t)N, ith, nth, &lo, &hi);
    for (size_t n = lo; n < hi; n++) {
        const float *xn = j->x->data + n * (size_t)g->C * g->H * g->W;
        float *yn = j->y->data + n * (size_t)g->OC * P;
        if (j->fplan) {
            nn_conv_direct(j->fplan, xn, j->fw, j->b ? j->b->data : NULL, yn, 0);
            goto epilogue;
        }
        for (int gi = 0; gi < G; gi++) {
            const float *xg = xn + (size_t)gi * cg * g->H * g->W;
            const float *src = xg;
            if (!is_pointwise(g)) {
                im2col(xg, col, cg, g, 0, g->OH);
                src = col;
            }
            nn_sgemm(0, 0, ocg, P, K, 1.0f, j->w->data + (size_t)gi * ocg * K, K, src, P, 0.0f,
                     yn + (size_t)gi * ocg * P, P);
        }
        if (j->b)
            for (int o = 0; o < g->OC; o++) {
                float bv = j->b->data[o];
                float *yo = yn + (size_t)o * P;
                for (int i = 0; i < P; i++) yo[i] += bv;
            }
    epilogue:
        if (j->g.a.relu)
            for (size_t i = 0; i < (size_t)g->OC * P; i++) yn[i] = yn[i] > 0.0f ? yn[i] : 0.0f;
        if (j->stats_part) {
            /* per-channel running (count, mean, M2), merged plane by plane
             * (Chan et al.): centred sums, no E[x^2] - mean^2 cancellation */
            double *st = j->stats_part + (size_t)ith * 3 * g->OC;
            for (int o = 0; o < g->OC; o++) { /* as nn_channel_moments_T (moments.h) */
                float mb, m2;
                nn_plane_moments(yn + (size_t)o * P, (size_t)P, &mb, &m2);
                nn_moments_merge(&st[o], &st[g->OC + o], &st[2 * g->OC + o], (double)P, mb, m2);
            }
        }
    }
}

static void conv_bwd_task(void *arg, int ith, int nth)
{
    conv_job *j = arg;
    const conv_geom *g = &j->g;
    const int N = j->x->shape[0], G = g->G;
    const int cg = g->C / G, ocg = g->OC / G, K = cg * g->KH * g->KW, P = g->OH * g->OW;
    const int need_dx = j->x->requires_grad, need_dw = j->w->requires_grad;
    const int need_db = j->b && j->b->requires_grad;
    float *col = j->cols + (size_t)ith * j->col_size;
    float *dw = j->dw_part + (size_t)ith * j->dw_size;
    float *db = dw + j->w->numel;
    memset(dw, 0, j->dw_size * sizeof(float));
    size_t lo, hi;
    nn_split((size_t)N, ith, nth, &lo, &hi);
    for (size_t n = lo; n < hi; n++) {
        const float *xn = j->x->data + n * (size_t)g->C * g->H * g->W;
        const float *dyn = j->y->grad + n * (size_t)g->OC * P;
        for (int gi = 0; gi < G; gi++) {
            const float *xg = xn + (size_t)gi * cg * g->H * g->W;
            const float *dyg = dyn + (size_t)gi * ocg * P;
            const float *wg = j->w->data + (size_t)gi * ocg * K;
            if (need_dw) {
                /* dW^T[K, ocg] += col[K, P] * dy[ocg, P]^T, in row chunks that
                 * keep the column buffer in L2; this orientation runs 10-25 %
                 * faster in OpenBLAS than dW = dy * col^T on thin layers */
                float *dwg = dw + (size_t)gi * ocg * K;
                if (is_pointwise(g)) {
                    nn_sgemm(0, 1, K, ocg, P, 1.0f, xg, P, dyg, P, 1.0f, dwg, ocg);
                } else {
                    const int rows = chunk_rows(g, K);
                    for (int r0 = 0; r0 < g->OH; r0 += rows) {
                        const int r1 = r0 + rows < g->OH ? r0 + rows : g->OH, L = (r1 - r0) * g->OW;
                        im2col(xg, col, cg, g, r0, r1);
                        nn_sgemm(0, 1, K, ocg, L, 1.0f, col, L, dyg + (size_t)r0 * g->OW, P, 1.0f, dwg, ocg);
                    }
                }
            }
            if (need_dx) {
                float *dxg = j->x->grad + n * (size_t)g->C * g->H * g->W + (size_t)gi * cg * g->H * g->W;
                const float beta = j->dx_fresh ? 0.0f : 1.0f;
                if (is_pointwise(g)) {
                    nn_sgemm(1, 0, K, P, ocg, 1.0f, wg, K, dyg, P, beta, dxg, P);
                } else if (j->bplan) {
                    nn_conv_direct(j->bplan, dyg, j->bw, NULL, dxg, !j->dx_fresh);
                } else if (j->dx_transposed) {
                    /* dx[cg, H*W] = Wt[cg, ocg*KH*KW] * im2col(dy)[ocg*KH*KW, H*W] */
                    const int Kt = ocg * g->KH * g->KW, Pin = g->H * g->W;
                    im2col(dyg, col, ocg, &j->gt, 0, j->gt.OH);
                    nn_sgemm(0, 0, cg, Pin, Kt, 1.0f, j->wt + (size_t)gi * cg * Kt, Kt, col, Pin, beta, dxg, Pin);
                } else {
                    /* dcol[K, P] = W^T[K, ocg] * dy[ocg, P], then scatter */
                    if (j->dx_fresh) memset(dxg, 0, (size_t)cg * g->H * g->W * sizeof(float));
                    nn_sgemm(1, 0, K, P, ocg, 1.0f, wg, K, dyg, P, 0.0f, col, P);
                    col2im(col, dxg, cg, g);
                }
            }
        }
        if (need_db)
            for (int o = 0; o < g->OC; o++) {
                const float *d = dyn + (size_t)o * P;
                float s = 0.0f;
                for (int i = 0; i < P; i++) s += d[i];
                db[o] += s;
            }
    }
}

static void conv_backward(nn_ctx *c, nn_node *node)
{
    conv_job *j = node->saved;
    const int T = nn_threads(c);
    conv_geom *g = &j->g;
    j->dx_fresh = j->x->requires_grad && !j->x->grad;
    if (j->dx_fresh) j->x->grad = nn_arena_floats(&c->arena, j->x->numel); /* every element gets written */
    j->dw_size = j->w->numel + (j->b ? j->b->numel : 0);
    j->dw_part = nn_arena_floats(&c->arena, j->dw_size * (size_t)T);
    /* Stride 1 with pad <= dilation*(k-1): dx is a plain convolution of dy. */
    const int pt = g->a.dilation * (g->KH - 1) - g->a.pad, ptw = g->a.dilation * (g->KW - 1) - g->a.pad;
    j->dx_transposed = j->x->requires_grad && !is_pointwise(g) && g->a.stride == 1 && pt >= 0 && pt == ptw;
    /* im2col(x) for dW (the forward may not have needed one) */
    size_t col = is_pointwise(g) ? 0 : ((size_t)(g->C / g->G) * g->KH * g->KW * g->OH * g->OW + 15) & ~(size_t)15;
    if (j->dx_transposed) {
        const int G = g->G, cg = g->C / G, ocg = g->OC / G, KK = g->KH * g->KW;
        j->gt = (conv_geom){.C = ocg, .H = g->OH, .W = g->OW, .OC = cg, .KH = g->KH, .KW = g->KW, .OH = g->H,
                            .OW = g->W, .G = 1, .a = {1, pt, g->a.dilation, 1}};
        j->wt = nn_arena_floats(&c->arena, j->w->numel);
        for (int gi = 0; gi < G; gi++)
            for (int o = 0; o < ocg; o++)
                for (int ci = 0; ci < cg; ci++)
                    for (int k = 0; k < KK; k++) /* flip the kernel, swap in/out channels */
                        j->wt[((size_t)gi * cg + ci) * ocg * KK + (size_t)o * KK + (KK - 1 - k)] =
                            j->w->data[((size_t)gi * ocg + o) * cg * KK + (size_t)ci * KK + k];
        size_t tcol = ((size_t)ocg * KK * g->H * g->W + 15) & ~(size_t)15;
        if (tcol > col) col = tcol;
        if (nn_conv_direct_fits(ocg, g->OH, g->OW, cg, g->H, g->W, g->KH, g->KW, 1, pt, g->a.dilation, G)) {
            j->bplan = nn_arena_alloc(&c->arena, nn_conv_direct_plan_bytes(g->H, g->W, g->KH, g->KW));
            nn_conv_direct_plan(j->bplan, ocg, g->OH, g->OW, cg, g->H, g->W, g->KH, g->KW, pt, g->a.dilation);
            j->bw = nn_arena_floats(&c->arena, j->w->numel);
            nn_conv_direct_pack(j->bplan, j->wt, j->bw);
        }
    }
    j->col_size = col;
    j->cols = nn_arena_floats(&c->arena, j->col_size * (size_t)T);
    nn_pool_run(c->pool, conv_bwd_task, j);
    /* Reduce per-thread partials in a fixed order: deterministic. */
    if (j->w->requires_grad) { /* partials are per group [K][ocg]: transpose back */
        float *gw = nn_grad(c, j->w);
        const int G = g->G, ocg = g->OC / G, K = (g->C / G) * g->KH * g->KW;
        for (int t = 0; t < T; t++) {
            const float *p = j->dw_part + (size_t)t * j->dw_size;
            for (int gi = 0; gi < G; gi++)
                for (int k = 0; k < K; k++)
                    for (int o = 0; o < ocg; o++)
                        gw[((size_t)gi * ocg + o) * K + k] += p[(size_t)gi * ocg * K + (size_t)k * ocg + o];
        }
    }
    if (j->b && j->b->requires_grad) {
        float *gb = nn_grad(c, j->b);
        for (int t = 0; t < T; t++) {
            const float *p = j->dw_part + (size_t)t * j->dw_size + j->w->numel;
            for (size_t i = 0; i < j->b->numel; i++) gb[i] += p[i];
        }
    }
}

nn_tensor *nn_conv2d(nn_ctx *c, nn_tensor *x, nn_tensor *w, nn_tensor *b, nn_conv_attr a)
{
    if (a.stride < 1) a.stride = 1;
    if (a.dilation < 1) a.dilation = 1;
    if (a.groups < 1) a.groups = 1;
    NN_ASSERT(x->ndim == 4 && w->ndim == 4);
    conv_job *j = nn_arena_alloc(&c->arena, sizeof *j);
    memset(j, 0, sizeof *j);
    conv_geom *g = &j->g;
    g->a = a;
    g->C = x->shape[1];
    g->H = x->shape[2];
    g->W = x->shape[3];
    g->OC = w->shape[0];
    g->KH = w->shape[2];
    g->KW = w->shape[3];
    g->G = a.groups;
    if (g->C % g->G || g->OC % g->G || w->shape[1] != g->C / g->G)
        nn_abort(__FILE__, __LINE__, "conv2d: input has %d channels, weight [%d,%d,%d,%d], groups %d", g->C,
                 w->shape[0], w->shape[1], w->shape[2], w->shape[3], g->G);
    g->OH = nn_conv_out(g->H, g->KH, a.stride, a.pad, a.dilation);
    g->OW = nn_conv_out(g->W, g->KW, a.stride, a.pad, a.dilation);
    NN_ASSERT(g->OH > 0 && g->OW > 0);
    j->x = x;
    j->w = w;
    j->b = b;
    j->y = nn_new4(c, x->shape[0], g->OC, g->OH, g->OW);
    if (!is_pointwise(g) &&
        nn_conv_direct_fits(g->C, g->H, g->W, g->OC, g->OH, g->OW, g->KH, g->KW, a.stride, a.pad, a.dilation, a.groups)) {
        j->fplan = nn_arena_alloc(&c->arena, nn_conv_direct_plan_bytes(g->OH, g->OW, g->KH, g->KW));
        nn_conv_direct_plan(j->fplan, g->C, g->H, g->W, g->OC, g->OH, g->OW, g->KH, g->KW, a.pad, a.dilation);
        j->fw = nn_arena_floats(&c->arena, w->numel);
        nn_conv_direct_pack(j->fplan, w->data, j->fw);
    }
    j->col_size = is_pointwise(g) || j->fplan ? 0 : (size_t)(g->C / g->G) * g->KH * g->KW * g->OH * g->OW;
    /* Pad each thread's buffer to its own cache lines. */
    j->col_size = (j->col_size + 15) & ~(size_t)15;
    j->cols = nn_arena_floats(&c->arena, j->col_size * (size_t)nn_threads(c));
    const int T = nn_threads(c);
    if (a.stats) j->stats_part = memset(nn_arena_alloc(&c->arena, (size_t)T * 3 * g->OC * sizeof(double)), 0,
                                        (size_t)T * 3 * g->OC * sizeof(double));
    nn_pool_run(c->pool, conv_fwd_task, j);
    if (a.stats) {
        const int OC = g->OC;
        for (int o = 0; o < OC; o++) {
            double n = 0.0, m = 0.0, m2 = 0.0;
            for (int t = 0; t < T; t++) { /* fixed order: deterministic */
                const double *st = j->stats_part + (size_t)t * 3 * OC;
                nn_moments_merge(&n, &m, &m2, st[o], st[OC + o], st[2 * OC + o]);
            }
            a.stats[o] = m;
            a.stats[OC + o] = n > 0.0 ? m2 / n : 0.0;
        }
    }
    if (a.relu && c->grad_enabled && (x->requires_grad || w->requires_grad))
        nn_abort(__FILE__, __LINE__, "conv2d: the fused ReLU has no backward; use it without a tape");
    nn_tensor *in[3] = {x, w, b};
    nn_node *node = nn_record(c, "conv2d", conv_backward, j->y, b ? 3 : 2, in);
    if (node) node->saved = j;
    return j->y;
}

/* ---- the column transforms for other ops (adder layers) ---- */

void nn_im2col_plane(const float *x, float *col, int C, int H, int W, int K, int stride, int pad, int dil, int OH,
                     int OW)
{
    conv_geom g = {.C = C, .H = H, .W = W, .KH = K, .KW = K, .OH = OH, .OW = OW, .G = 1,
                   .a = {.stride = stride, .pad = pad, .dilation = dil, .groups = 1}};
    im2col(x, col, C, &g, 0, OH);
}

void nn_col2im_plane(const float *col, float *dx, int C, int H, int W, int K, int stride, int pad, int dil, int OH,
                     int OW)
{
    conv_geom g = {.C = C, .H = H, .W = W, .KH = K, .KW = K, .OH = OH, .OW = OW, .G = 1,
                   .a = {.stride = stride, .pad = pad, .dilation = dil, .groups = 1}};
    col2im(col, dx, C, &g);
}
