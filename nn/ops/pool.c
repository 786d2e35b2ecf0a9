/* Max/avg pooling (any kernel, stride, padding), global average pooling,
 * nearest and bilinear upsampling. Work is split over N*C planes. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../ops.h"

typedef struct {
    nn_tensor *x, *y;
    nn_pool_attr a;
    int *argmax; /* max pool: flat index into the input plane */
    int scale;
} pool_job;

static void planes(const nn_tensor *x, int ith, int nth, size_t *lo, size_t *hi)
{
    nn_split((size_t)x->shape[0] * x->shape[1], ith, nth, lo, hi);
}

/* One output of a max pool: the first largest value in window order (kh
 * outer, kw inner), and its flat index in the plane (-1: an empty window). */
static void maxpool_one(const float *x, int H, int W, int k, int s, int p, int oh, int ow, float *y, int *am)
{
    const int h0 = oh * s - p < 0 ? 0 : oh * s - p, h1 = oh * s - p + k < H ? oh * s - p + k : H;
    const int w0 = ow * s - p < 0 ? 0 : ow * s - p, w1 = ow * s - p + k < W ? ow * s - p + k : W;
    if (h0 >= h1 || w0 >= w1) { /* a window wholly in the padding */
        *y = -FLT_MAX, *am = -1;
        return;
    }
    float best = x[h0 * W + w0];
    int bi = h0 * W + w0;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = ih == h0 ? w0 + 1 : w0; iw < w1; iw++) { /* selects, not branches */
            const float v = x[ih * W + iw];
            const int take = v > best;
            best = take ? v : best;
            bi = take ? ih * W + iw : bi;
        }
    *y = best, *am = bi;
}

/* One tap of outputs [l, r): the tap of output ow is x[base + ow * s]. */
static inline __attribute__((always_inline)) void maxpool_tap(const float *restrict x, int base, int s, int l, int r,
                                                              float *restrict y, int *restrict am)
{
    for (int ow = l; ow < r; ow++) {
        const float v = x[base + ow * s];
        const int take = v > y[ow];
        y[ow] = take ? v : y[ow];
        am[ow] = take ? base + ow * s : am[ow];
    }
}

/* The interior outputs [l, r) of one row, tap by tap across the row: the
 * same order and strict comparison as maxpool_one without a branch per tap
 * (random data makes those a coin flip for the predictor); at0: the flat
 * index of output 0's first tap. */
static void maxpool_row(const float *restrict x, int W, int k, int s, int at0, int l, int r, float *restrict y,
                        int *restrict am)
{
    for (int ow = l; ow < r; ow++) y[ow] = x[at0 + ow * s], am[ow] = at0 + ow * s;
    for (int kh = 0; kh < k; kh++)
        for (int kw = kh ? 0 : 1; kw < k; kw++) {
            const int base = at0 + kh * W + kw;
            if (s == 1) /* a literal stride: contiguous taps, one vector compare and two blends per 16 outputs */
                maxpool_tap(x, base, 1, l, r, y, am);
            else
                maxpool_tap(x, base, s, l, r, y, am);
        }
}

/* The same without the argmax (no tape: nothing will run backward), the
 * same values: one compare and one blend per tap and 16 outputs. */
static inline __attribute__((always_inline)) void maxval_tap(const float *restrict x, int base, int s, int l, int r,
                                                             float *restrict y)
{
    for (int ow = l; ow < r; ow++) {
        const float v = x[base + ow * s];
        y[ow] = v > y[ow] ? v : y[ow];
    }
}

/* kernel rows [kh0, kh1) only: those inside the image for a border row */
static void maxval_row(const float *restrict x, int W, int k, int s, int at0, int kh0, int kh1, int l, int r,
                       float *restrict y)
{
    for (int ow = l; ow < r; ow++) y[ow] = x[at0 + kh0 * W + ow * s];
    for (int kh = kh0; kh < kh1; kh++)
        for (int kw = kh > kh0 ? 0 : 1; kw < k; kw++) {
            const int base = at0 + kh * W + kw;
            if (s == 1)
                maxval_tap(x, base, 1, l, r, y);
            else
                maxval_tap(x, base, s, l, r, y);
        }
}

static void maxpool_fwd(void *arg, int ith, int nth)
{
    pool_job *j = arg;
    const int H = j->x->shape[2], W = j->x->shape[3], OH = j->y->shape[2], OW = j->y->shape[3];
    const int k = j->a.kernel, s = j->a.stride, p = j->a.pad;
    /* outputs whose window is inside the image: rows [t, b), columns [l, r) */
    int t = 0, b = OH, l = 0, r = OW;
    while (t < OH && t * s - p < 0) t++;
    while (b > t && (b - 1) * s - p + k > H) b--;
    while (l < OW && l * s - p < 0) l++;
    while (r > l && (r - 1) * s - p + k > W) r--;
    size_t lo, hi;
    planes(j->x, ith, nth, &lo, &hi);
    int scratch;
    /* stride 1, "same" padding (OW == W): the interior rows as one flat
     * run, output i's taps at i + (kh - p) * W + kw - p; the outputs it
     * computes across a row's end are then overwritten by the border loop
     * (rows of 26 outputs left the vector loops mostly in their scalar tails) */
    const int flat = !j->argmax && s == 1 && OW == W && t < b && l < r;
    for (size_t pl = lo; pl < hi; pl++) {
        const float *x = j->x->data + pl * H * W;
        float *y = j->y->data + pl * OH * OW;
        int *am = j->argmax ? j->argmax + pl * OH * OW : NULL;
        if (flat) maxval_row(x, W, k, 1, -p * W - p, 0, k, t * W + l, (b - 1) * W + r, y);
        for (int oh = 0; oh < OH; oh++) {
            float *yr = y + oh * OW;
            int *ar = am ? am + oh * OW : NULL;
            const int kh0 = oh * s - p < 0 ? p - oh * s : 0, kh1 = oh * s - p + k > H ? H + p - oh * s : k;
            if ((oh < t || oh >= b) && (ar || kh0 >= kh1)) { /* the argmax's order, or no row inside */
                for (int ow = 0; ow < OW; ow++) maxpool_one(x, H, W, k, s, p, oh, ow, yr + ow, ar ? ar + ow : &scratch);
                continue;
            }
            for (int ow = 0; ow < l; ow++) maxpool_one(x, H, W, k, s, p, oh, ow, yr + ow, ar ? ar + ow : &scratch);
            for (int ow = r; ow < OW; ow++) maxpool_one(x, H, W, k, s, p, oh, ow, yr + ow, ar ? ar + ow : &scratch);
            if (ar)
                maxpool_row(x, W, k, s, (oh * s - p) * W - p, l, r, yr, ar);
            else if (!flat || oh < t || oh >= b) /* a border row too: its rows inside the image */
                maxval_row(x, W, k, s, (oh * s - p) * W - p, kh0, kh1, l, r, yr);
        }
    }
}

static void maxpool_bwd(void *arg, int ith, int nth)
{
    pool_job *j = arg;
    const int H = j->x->shape[2], W = j->x->shape[3], OH = j->y->shape[2], OW = j->y->shape[3];
    size_t lo, hi;
    planes(j->x, ith, nth, &lo, &hi);
    for (size_t pl = lo; pl < hi; pl++) {
        float *g = j->x->grad + pl * H * W;
        const float *d = j->y->grad + pl * OH * OW;
        const int *am = j->argmax + pl * OH * OW;
        for (int i = 0; i < OH * OW; i++)
            if (am[i] >= 0) g[am[i]] += d[i];
    }
}

/* The input rows [ha, hb) and columns [wa, wb) under one output of an
 * average pool, and its divisor: PyTorch counts padded positions (not
 * those past the padding) when count_include_pad is set. */
typedef struct {
    int ha, hb, wa, wb, div;
} avg_win;

static avg_win avg_window(int oh, int ow, int H, int W, int k, int s, int p, int include_pad)
{
    int h0 = oh * s - p, w0 = ow * s - p;
    int h1 = h0 + k < H + p ? h0 + k : H + p, w1 = w0 + k < W + p ? w0 + k : W + p;
    avg_win a = {h0 < 0 ? 0 : h0, h1 < H ? h1 : H, w0 < 0 ? 0 : w0, w1 < W ? w1 : W, 0};
    int cnt = (a.hb - a.ha) * (a.wb - a.wa);
    a.div = include_pad ? (h1 - h0) * (w1 - w0) : (cnt ? cnt : 1);
    return a;
}

/* The interior outputs [l, r) of one row (whole windows, divisor k * k
 * either way), tap by tap across the row: each output's sum in the generic
 * loop's order (0.0f, then kh outer, kw inner), so the same bits, but a
 * vector add per tap and 16 outputs. */
static inline __attribute__((always_inline)) void avg_tap(const float *restrict x, int base, int s, int l, int r,
                                                          float *restrict y)
{
    for (int ow = l; ow < r; ow++) y[ow] += x[base + ow * s];
}

/* kernel rows [kh0, kh1) (a border row: those inside the image), divisor div */
static void avgpool_row(const float *restrict x, int W, int k, int s, int at0, int kh0, int kh1, int div, int l, int r,
                        float *restrict y)
{
    for (int ow = l; ow < r; ow++) y[ow] = 0.0f;
    for (int kh = kh0; kh < kh1; kh++)
        for (int kw = 0; kw < k; kw++) {
            const int base = at0 + kh * W + kw;
            if (s == 1)
                avg_tap(x, base, 1, l, r, y);
            else
                avg_tap(x, base, s, l, r, y);
        }
    const float d = (float)div;
    for (int ow = l; ow < r; ow++) y[ow] /= d;
}

static void avgpool_fwd(void *arg, int ith, int nth)
{
    pool_job *j = arg;
    const int H = j->x->shape[2], W = j->x->shape[3], OH = j->y->shape[2], OW = j->y->shape[3];
    const int k = j->a.kernel, s = j->a.stride, p = j->a.pad;
    int t = 0, b = OH, l = 0, r = OW; /* whole windows: rows [t, b), columns [l, r), as maxpool_fwd */
    while (t < OH && t * s - p < 0) t++;
    while (b > t && (b - 1) * s - p + k > H) b--;
    while (l < OW && l * s - p < 0) l++;
    while (r > l && (r - 1) * s - p + k > W) r--;
    size_t lo, hi;
    planes(j->x, ith, nth, &lo, &hi);
    /* 2x2 stride 2 inside the image (Bi-Real's downsampling shortcut): the
     * generic loop's sums in its order, without the window arithmetic */
    const int k2 = k == 2 && s == 2 && p == 0 && 2 * OH <= H && 2 * OW <= W;
    const int flat = !k2 && s == 1 && OW == W && t < b && l < r; /* as maxpool_fwd */
    for (size_t pl = lo; pl < hi; pl++) {
        const float *x = j->x->data + pl * H * W;
        float *y = j->y->data + pl * OH * OW;
        if (flat) avgpool_row(x, W, k, 1, -p * W - p, 0, k, k * k, t * W + l, (b - 1) * W + r, y);
        for (int oh = 0; oh < OH && k2; oh++) {
            const float *r0 = x + (size_t)2 * oh * W, *r1 = r0 + W;
            for (int ow = 0; ow < OW; ow++)
                y[oh * OW + ow] = ((((0.0f + r0[2 * ow]) + r0[2 * ow + 1]) + r1[2 * ow]) + r1[2 * ow + 1]) / 4.0f;
        }
        for (int oh = 0; oh < OH && !k2; oh++) {
            const int kh0 = oh * s - p < 0 ? p - oh * s : 0, kh1 = oh * s - p + k > H ? H + p - oh * s : k;
            const int inner = l < r && kh0 < kh1; /* whole kernel rows across [l, r), border rows too */
            for (int ow = 0; ow < OW; ow++) {
                if (inner && ow == l) { /* skip the interior: done below */
                    ow = r - 1;
                    continue;
                }
                avg_win a = avg_window(oh, ow, H, W, k, s, p, j->a.count_include_pad);
                float sum = 0.0f;
                for (int ih = a.ha; ih < a.hb; ih++)
                    for (int iw = a.wa; iw < a.wb; iw++) sum += x[ih * W + iw];
                y[oh * OW + ow] = sum / (float)a.div;
            }
            if (inner && (!flat || oh < t || oh >= b))
                avgpool_row(x, W, k, s, (oh * s - p) * W - p, kh0, kh1,
                            avg_window(oh, l, H, W, k, s, p, j->a.count_include_pad).div, l, r, y + oh * OW);
        }
    }
}

static void avgpool_bwd(void *arg, int ith, int nth)
{
    pool_job *j = arg;
    const int H = j->x->shape[2], W = j->x->shape[3], OH = j->y->shape[2], OW = j->y->shape[3];
    const int k = j->a.kernel, s = j->a.stride, p = j->a.pad;
    size_t lo, hi;
    planes(j->x, ith, nth, &lo, &hi);
    for (size_t pl = lo; pl < hi; pl++) {
        float *g = j->x->grad + pl * H * W;
        const float *d = j->y->grad + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                avg_win a = avg_window(oh, ow, H, W, k, s, p, j->a.count_include_pad);
                float v = d[oh * OW + ow] / (float)a.div;
                for (int ih = a.ha; ih < a.hb; ih++)
                    for (int iw = a.wa; iw < a.wb; iw++) g[ih * W + iw] += v;
            }
    }
}

static void maxpool_backward(nn_ctx *c, nn_node *node)
{
    pool_job *j = node->saved;
    nn_grad(c, j->x);
    nn_pool_run(c->pool, maxpool_bwd, j);
}

static void avgpool_backward(nn_ctx *c, nn_node *node)
{
    pool_job *j = node->saved;
    nn_grad(c, j->x);
    nn_pool_run(c->pool, avgpool_bwd, j);
}

static pool_job *pool_setup(nn_ctx *c, nn_tensor *x, nn_pool_attr a)
{
    NN_ASSERT(x->ndim == 4);
    if (a.stride < 1) a.stride = a.kernel;
    if (a.pad * 2 > a.kernel)
        nn_abort(__FILE__, __LINE__, "pool: padding %d must be at most half of kernel %d", a.pad, a.kernel);
    pool_job *j = nn_arena_alloc(&c->arena, sizeof *j);
    memset(j, 0, sizeof *j);
    j->x = x;
    j->a = a;
    int OH = (x->shape[2] + 2 * a.pad - a.kernel) / a.stride + 1;
    int OW = (x->shape[3] + 2 * a.pad - a.kernel) / a.stride + 1;
    NN_ASSERT(OH > 0 && OW > 0);
    j->y = nn_new4(c, x->shape[0], x->shape[1], OH, OW);
    return j;
}

nn_tensor *nn_maxpool2d(nn_ctx *c, nn_tensor *x, nn_pool_attr a)
{
    pool_job *j = pool_setup(c, x, a);
    if (c->grad_enabled) j->argmax = nn_arena_alloc(&c->arena, j->y->numel * sizeof(int)); /* for the backward */
    nn_pool_run(c->pool, maxpool_fwd, j);
    nn_tensor *in[1] = {x};
    nn_node *node = nn_record(c, "maxpool2d", maxpool_backward, j->y, 1, in);
    if (node) node->saved = j;
    return j->y;
}

nn_tensor *nn_avgpool2d(nn_ctx *c, nn_tensor *x, nn_pool_attr a)
{
    pool_job *j = pool_setup(c, x, a);
    nn_pool_run(c->pool, avgpool_fwd, j);
    nn_tensor *in[1] = {x};
    nn_node *node = nn_record(c, "avgpool2d", avgpool_backward, j->y, 1, in);
    if (node) node->saved = j;
    return j->y;
}

/* ---- global average pooling ---- */

static void gap_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *y = node->out;
    const size_t P = y->numel, HW = x->numel / P;
    float *g = nn_grad(c, x);
    for (size_t p = 0; p < P; p++) {
        float v = y->grad[p] / (float)HW;
        for (size_t i = 0; i < HW; i++) g[p * HW + i] += v;
    }
}

nn_tensor *nn_global_avgpool(nn_ctx *c, nn_tensor *x)
{
    NN_ASSERT(x->ndim == 4);
    nn_tensor *y = nn_new2(c, x->shape[0], x->shape[1]);
    const size_t HW = (size_t)x->shape[2] * x->shape[3];
    for (size_t p = 0; p < y->numel; p++) {
        float s = 0.0f;
        for (size_t i = 0; i < HW; i++) s += x->data[p * HW + i];
        y->data[p] = s / (float)HW;
    }
    nn_tensor *in[1] = {x};
    nn_record(c, "global_avgpool", gap_backward, y, 1, in);
    return y;
}

/* ---- upsampling ---- */

static void nearest_fwd(void *arg, int ith, int nth)
{
    pool_job *j = arg;
    const int H = j->x->shape[2], W = j->x->shape[3], s = j->scale, OW = W * s;
    size_t lo, hi;
    planes(j->x, ith, nth, &lo, &hi);
    for (size_t pl = lo; pl < hi; pl++) {
        const float *x = j->x->data + pl * H * W;
        float *y = j->y->data + pl * H * W * s * s;
        for (int oh = 0; oh < H * s; oh++)
            for (int ow = 0; ow < OW; ow++) y[oh * OW + ow] = x[(oh / s) * W + ow / s];
    }
}

static void nearest_bwd(void *arg, int ith, int nth)
{
    pool_job *j = arg;
    const int H = j->x->shape[2], W = j->x->shape[3], s = j->scale, OW = W * s;
    size_t lo, hi;
    planes(j->x, ith, nth, &lo, &hi);
    for (size_t pl = lo; pl < hi; pl++) {
        float *g = j->x->grad + pl * H * W;
        const float *d = j->y->grad + pl * H * W * s * s;
        for (int oh = 0; oh < H * s; oh++)
            for (int ow = 0; ow < OW; ow++) g[(oh / s) * W + ow / s] += d[oh * OW + ow];
    }
}

/* PyTorch's align_corners=False source coordinate, clamped at 0. */
static void bilinear_coord(int o, int in, int s, int *i0, int *i1, float *w1)
{
    float src = ((float)o + 0.5f) / (float)s - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int a = (int)src;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a < in - 1 ? a + 1 : a;
    *w1 = src - (float)a;
}

static void bilinear_fwd(void *arg, int ith, int nth)
{
    pool_job *j = arg;
    const int H = j->x->shape[2], W = j->x->shape[3], s = j->scale, OH = H * s, OW = W * s;
    size_t lo, hi;
    planes(j->x, ith, nth, &lo, &hi);
    for (size_t pl = lo; pl < hi; pl++) {
        const float *x = j->x->data + pl * H * W;
        float *y = j->y->data + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0, h1;
            float lh;
            bilinear_coord(oh, H, s, &h0, &h1, &lh);
            for (int ow = 0; ow < OW; ow++) {
                int w0, w1;
                float lw;
                bilinear_coord(ow, W, s, &w0, &w1, &lw);
                y[oh * OW + ow] = (1 - lh) * ((1 - lw) * x[h0 * W + w0] + lw * x[h0 * W + w1]) +
                                  lh * ((1 - lw) * x[h1 * W + w0] + lw * x[h1 * W + w1]);
            }
        }
    }
}

static void bilinear_bwd(void *arg, int ith, int nth)
{
    pool_job *j = arg;
    const int H = j->x->shape[2], W = j->x->shape[3], s = j->scale, OH = H * s, OW = W * s;
    size_t lo, hi;
    planes(j->x, ith, nth, &lo, &hi);
    for (size_t pl = lo; pl < hi; pl++) {
        float *g = j->x->grad + pl * H * W;
        const float *d = j->y->grad + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0, h1;
            float lh;
            bilinear_coord(oh, H, s, &h0, &h1, &lh);
            for (int ow = 0; ow < OW; ow++) {
                int w0, w1;
                float lw;
                bilinear_coord(ow, W, s, &w0, &w1, &lw);
                float v = d[oh * OW + ow];
                g[h0 * W + w0] += (1 - lh) * (1 - lw) * v;
                g[h0 * W + w1] += (1 - lh) * lw * v;
                g[h1 * W + w0] += lh * (1 - lw) * v;
                g[h1 * W + w1] += lh * lw * v;
            }
        }
    }
}

static void nearest_backward(nn_ctx *c, nn_node *node)
{
    pool_job *j = node->saved;
    nn_grad(c, j->x);
    nn_pool_run(c->pool, nearest_bwd, j);
}

static void bilinear_backward(nn_ctx *c, nn_node *node)
{
    pool_job *j = node->saved;
    nn_grad(c, j->x);
    nn_pool_run(c->pool, bilinear_bwd, j);
}

static nn_tensor *upsample(nn_ctx *c, nn_tensor *x, int scale, int bilinear)
{
    NN_ASSERT(x->ndim == 4 && scale >= 1);
    pool_job *j = nn_arena_alloc(&c->arena, sizeof *j);
    memset(j, 0, sizeof *j);
    j->x = x;
    j->scale = scale;
    j->y = nn_new4(c, x->shape[0], x->shape[1], x->shape[2] * scale, x->shape[3] * scale);
    nn_pool_run(c->pool, bilinear ? bilinear_fwd : nearest_fwd, j);
    nn_tensor *in[1] = {x};
    nn_node *node = nn_record(c, bilinear ? "upsample_bilinear" : "upsample_nearest",
                              bilinear ? bilinear_backward : nearest_backward, j->y, 1, in);
    if (node) node->saved = j;
    return j->y;
}

nn_tensor *nn_upsample_nearest(nn_ctx *c, nn_tensor *x, int scale) { return upsample(c, x, scale, 0); }
nn_tensor *nn_upsample_bilinear(nn_ctx *c, nn_tensor *x, int scale) { return upsample(c, x, scale, 1); }
