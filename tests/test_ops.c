/* Every op's backward against central finite differences; custom paths
 * (gradient stealing, fused ReLU, transposed-conv dx) are covered through
 * composites where intermediates carry the gradient. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define C TU_CTX /* the suite's shared context (testutil) */

/* Keep values away from kinks (0, and ±1, 6 for clipped activations). */
static void away_from_kinks(nn_tensor *t)
{
    for (size_t i = 0; i < t->numel; i++) {
        float v = t->data[i];
        float kinks[9] = {0.0f, 1.0f, -1.0f, 6.0f, -6.0f, 3.0f, -3.0f, 2.5f, -2.5f};
        for (int k = 0; k < 9; k++)
            if (fabsf(v - kinks[k]) < 0.02f) v = kinks[k] + (v >= kinks[k] ? 0.02f : -0.02f);
        t->data[i] = v;
    }
}

/* ---- conv ---- */

typedef struct {
    nn_conv_attr a;
    int mode; /* 0 plain, 1 via an intermediate (fresh dx), 2 intermediate used twice */
} conv_arg;

static nn_tensor *f_conv(nn_ctx *c, nn_tensor **in, void *arg)
{
    conv_arg *a = arg;
    nn_tensor *x = in[0];
    if (a->mode >= 1) x = nn_scale(c, x, 1.5f);
    nn_tensor *y = nn_conv2d(c, x, in[1], in[2], a->a);
    if (a->mode == 2) y = nn_add(c, y, x);
    return y;
}

static void check_conv(int N, int Cin, int H, int W, int OC, int k, nn_conv_attr a, int bias, int mode)
{
    nn_rng r;
    nn_rng_seed(&r, 1);
    int xs[4] = {N, Cin, H, W}, ws[4] = {OC, Cin / (a.groups ? a.groups : 1), k, k}, bs[1] = {OC};
    nn_tensor *in[3] = {tu_randn(4, xs, &r, 1.0f), tu_randn(4, ws, &r, 0.5f), bias ? tu_randn(1, bs, &r, 0.5f) : NULL};
    conv_arg arg = {a, mode};
    char what[128];
    snprintf(what, sizeof what, "conv k%d s%d p%d d%d g%d bias%d mode%d", k, a.stride, a.pad, a.dilation, a.groups,
             bias, mode);
    tu_gradcheck(&C, f_conv, in, bias ? 3 : 2, &arg, 1e-2f, 2e-3f, 1e-2f, 60, what);
    for (int i = 0; i < 3; i++) tu_free(in[i]);
}

static void test_conv_grad(void **s)
{
    (void)s;
    check_conv(2, 3, 7, 6, 4, 3, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1}, 1, 0);
    check_conv(2, 3, 7, 6, 4, 3, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1}, 0, 1);
    check_conv(2, 4, 6, 6, 4, 3, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1}, 0, 2);
    check_conv(2, 4, 9, 9, 6, 3, (nn_conv_attr){.stride = 2, .pad = 1, .dilation = 1, .groups = 1}, 0, 1);
    check_conv(1, 3, 10, 10, 5, 3, (nn_conv_attr){.stride = 1, .pad = 2, .dilation = 2, .groups = 1}, 1, 1);
    check_conv(2, 4, 8, 8, 6, 3, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 2}, 0, 1);
    check_conv(2, 6, 8, 8, 6, 3, (nn_conv_attr){.stride = 2, .pad = 1, .dilation = 1, .groups = 6}, 1, 1);
    check_conv(2, 6, 8, 8, 6, 3, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 6}, 0, 2);
    check_conv(1, 2, 9, 7, 3, 5, (nn_conv_attr){.stride = 1, .pad = 2, .dilation = 1, .groups = 1}, 0, 1);
    check_conv(1, 2, 9, 7, 3, 3, (nn_conv_attr){.stride = 1, .pad = 0, .dilation = 1, .groups = 1}, 0, 1); /* valid padding: output narrower */
    check_conv(2, 8, 5, 5, 4, 1, (nn_conv_attr){.stride = 1, .pad = 0, .dilation = 1, .groups = 1}, 1, 1);
    check_conv(2, 4, 7, 7, 8, 1, (nn_conv_attr){.stride = 2, .pad = 0, .dilation = 1, .groups = 1}, 0, 1);
    check_conv(2, 4, 4, 4, 4, 3, (nn_conv_attr){.stride = 1, .pad = 3, .dilation = 1, .groups = 1}, 0, 1); /* pad > k-1: col2im path at stride 1 */
    /* 16-multiple channels: the direct kernel, fresh and accumulated dx */
    check_conv(2, 16, 5, 6, 16, 3, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1}, 1, 1);
    check_conv(2, 16, 5, 5, 16, 3, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1}, 0, 2);
    check_conv(1, 16, 6, 6, 32, 3, (nn_conv_attr){.stride = 1, .pad = 2, .dilation = 2, .groups = 1}, 0, 1);
    /* large enough that dW's im2col runs in several row chunks (L2 budget) */
    check_conv(1, 16, 28, 28, 16, 3, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1}, 1, 1);
    check_conv(1, 32, 27, 27, 8, 3, (nn_conv_attr){.stride = 2, .pad = 1, .dilation = 1, .groups = 1}, 0, 1);
}

/* The direct kernel sets (AVX-512 8 x 32 with k-masks, AVX2 4 x 16 with lane
 * masks) and im2col + sgemm give the same forward, dx (fresh and
 * accumulated) and dW, on pixel counts that leave partial blocks and
 * channel counts that are not multiples of 8 (AVX-512 falls back to AVX2). */
static void conv_paths(nn_tensor *x, nn_tensor *w, nn_tensor *b, nn_conv_attr a, nn_tensor *rw, float *y, float *gx,
                       float *gw)
{
    nn_ctx_reset(&C);
    C.grad_enabled = 1;
    memset(x->grad, 0, x->numel * sizeof(float));
    memset(w->grad, 0, w->numel * sizeof(float));
    nn_tensor *xs = nn_scale(&C, x, 1.0f); /* dx into a fresh buffer, */
    nn_tensor *out = nn_conv2d(&C, xs, w, b, a);
    memcpy(y, out->data, out->numel * sizeof(float));
    nn_tensor *l = nn_add(&C, nn_sum(&C, nn_mul(&C, out, rw)), nn_sum(&C, nn_mul(&C, nn_conv2d(&C, x, w, b, a), rw)));
    nn_backward(&C, l); /* and, through the second conv, accumulated onto x's */
    memcpy(gx, x->grad, x->numel * sizeof(float));
    memcpy(gw, w->grad, w->numel * sizeof(float));
}

static void test_conv_kernel_sets(void **s)
{
    (void)s;
    const int shapes[][7] = {/* N, C, H, W, OC, k, dilation */
                             {2, 16, 7, 7, 16, 3, 1}, {2, 8, 5, 6, 24, 3, 1},  {1, 12, 14, 14, 12, 3, 1},
                             {1, 16, 9, 9, 32, 3, 2}, {2, 3, 28, 28, 16, 3, 1}, {1, 8, 6, 11, 8, 5, 1}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int *q = shapes[si];
        nn_rng r;
        nn_rng_seed(&r, 7 + (uint64_t)si);
        const int pad = q[6] * (q[5] - 1) / 2;
        int xs[4] = {q[0], q[1], q[2], q[3]}, ws[4] = {q[4], q[1], q[5], q[5]}, bs[1] = {q[4]},
            ys[4] = {q[0], q[4], q[2], q[3]};
        nn_tensor *x = tu_randn(4, xs, &r, 1.0f), *w = tu_randn(4, ws, &r, 0.5f), *b = tu_randn(1, bs, &r, 0.5f),
                  *rw = tu_randn(4, ys, &r, 1.0f);
        rw->requires_grad = 0;
        const nn_conv_attr a = {.stride = 1, .pad = pad, .dilation = q[6], .groups = 1};
        const size_t ny = rw->numel;
        float *y[3], *gx[3], *gw[3];
        for (int v = 0; v < 3; v++) {
            y[v] = malloc(ny * sizeof(float)), gx[v] = malloc(x->numel * sizeof(float));
            gw[v] = malloc(w->numel * sizeof(float));
            if (v == 1) setenv("DATAFREE_CONV_ISA", "avx2", 1);
            if (v == 2) setenv("DATAFREE_NO_DIRECT", "1", 1);
            conv_paths(x, w, b, a, rw, y[v], gx[v], gw[v]);
            unsetenv("DATAFREE_CONV_ISA");
            unsetenv("DATAFREE_NO_DIRECT");
        }
        for (int v = 0; v < 2; v++) {
            char what[96];
            snprintf(what, sizeof what, "shape %zu, %s vs im2col: forward", si, v ? "avx2" : "best set");
            tu_close(y[v], y[2], ny, 1e-4f, 1e-4f, what);
            snprintf(what, sizeof what, "shape %zu, %s vs im2col: dx", si, v ? "avx2" : "best set");
            tu_close(gx[v], gx[2], x->numel, 1e-3f, 1e-4f, what);
            snprintf(what, sizeof what, "shape %zu, %s vs im2col: dW", si, v ? "avx2" : "best set");
            tu_close(gw[v], gw[2], w->numel, 1e-3f, 1e-4f, what);
        }
        for (int v = 0; v < 3; v++) free(y[v]), free(gx[v]), free(gw[v]);
        tu_free(x), tu_free(w), tu_free(b), tu_free(rw);
    }
}

/* ---- dense ---- */

static nn_tensor *f_linear(nn_ctx *c, nn_tensor **in, void *arg)
{
    (void)arg;
    return nn_linear(c, nn_scale(c, in[0], 1.0f), in[1], in[2]);
}

static int emb_idx[5] = {3, 0, 3, 1, 2};
static nn_tensor *f_embedding(nn_ctx *c, nn_tensor **in, void *arg)
{
    (void)arg;
    return nn_embedding(c, emb_idx, 5, in[0]);
}

static void test_dense_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 2);
    int xs[4] = {3, 2, 2, 2}, ws[2] = {5, 8}, bs[1] = {5}, es[2] = {4, 6};
    nn_tensor *in[3] = {tu_randn(4, xs, &r, 1), tu_randn(2, ws, &r, 1), tu_randn(1, bs, &r, 1)};
    tu_gradcheck(&C, f_linear, in, 3, NULL, 1e-2f, 2e-3f, 1e-2f, 100, "linear");
    in[2]->requires_grad = 0;
    tu_gradcheck(&C, f_linear, in, 3, NULL, 1e-2f, 2e-3f, 1e-2f, 100, "linear (bias frozen)");
    nn_tensor *t = tu_randn(2, es, &r, 1);
    tu_gradcheck(&C, f_embedding, &t, 1, NULL, 1e-2f, 2e-3f, 1e-2f, 100, "embedding");
    for (int i = 0; i < 3; i++) tu_free(in[i]);
    tu_free(t);
}

/* ---- normalisation ---- */

typedef struct {
    int affine, relu, eval, via;
    float rm[8], rv[8];
} bn_arg;

static nn_tensor *f_bn(nn_ctx *c, nn_tensor **in, void *arg)
{
    bn_arg *a = arg;
    int tr = c->training;
    c->training = !a->eval;
    nn_tensor *x = a->via ? nn_scale(c, in[0], 1.0f) : in[0];
    float rm[8], rv[8];
    memcpy(rm, a->rm, sizeof rm); /* keep running stats fixed across calls */
    memcpy(rv, a->rv, sizeof rv);
    nn_tensor *y = nn_batchnorm(c, x, a->affine ? in[1] : NULL, a->affine ? in[2] : NULL, rm, rv,
                                (nn_bn_attr){.eps = 1e-5f, .momentum = 0.1f, .relu = a->relu});
    c->training = tr;
    return y;
}

static int cls_labels[4] = {2, 0, 2, 1};
static nn_tensor *f_class_affine(nn_ctx *c, nn_tensor **in, void *arg)
{
    (void)arg;
    return nn_class_affine(c, nn_scale(c, in[0], 1.0f), cls_labels, in[1], in[2]);
}

static nn_tensor *f_moments(nn_ctx *c, nn_tensor **in, void *arg)
{
    (void)arg;
    return nn_channel_moments(c, in[0]);
}

static void test_norm_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 3);
    int xs[4] = {4, 3, 3, 3}, gs[1] = {3};
    nn_tensor *in[3] = {tu_randn(4, xs, &r, 2.0f), tu_randn(1, gs, &r, 1.0f), tu_randn(1, gs, &r, 1.0f)};
    for (size_t i = 0; i < in[0]->numel; i++) in[0]->data[i] += 0.5f;
    bn_arg a = {.affine = 1, .rm = {0.1f, -0.2f, 0.3f}, .rv = {1.5f, 0.7f, 2.0f}};
    tu_gradcheck(&C, f_bn, in, 3, &a, 1e-2f, 3e-3f, 2e-2f, 200, "batchnorm train");
    a.via = 1;
    tu_gradcheck(&C, f_bn, in, 3, &a, 1e-2f, 3e-3f, 2e-2f, 200, "batchnorm train (in place)");
    a.affine = 0;
    tu_gradcheck(&C, f_bn, in, 1, &a, 1e-2f, 3e-3f, 2e-2f, 200, "batchnorm train, no affine");
    a.affine = 1;
    a.eval = 1;
    tu_gradcheck(&C, f_bn, in, 3, &a, 1e-2f, 3e-3f, 2e-2f, 200, "batchnorm eval");
    a.eval = 0;
    a.relu = 1;
    /* BN output near 0 is a kink of the fused ReLU: use a small step */
    tu_gradcheck(&C, f_bn, in, 3, &a, 1e-3f, 5e-3f, 3e-2f, 200, "batchnorm+relu fused");
    int ts[2] = {3, 3};
    nn_tensor *ca[3] = {in[0], tu_randn(2, ts, &r, 1.0f), tu_randn(2, ts, &r, 1.0f)};
    tu_gradcheck(&C, f_class_affine, ca, 3, NULL, 1e-2f, 2e-3f, 1e-2f, 200, "class_affine");
    tu_gradcheck(&C, f_moments, in, 1, NULL, 1e-2f, 2e-3f, 1e-2f, 200, "channel_moments");
    tu_free(ca[1]);
    tu_free(ca[2]);
    for (int i = 0; i < 3; i++) tu_free(in[i]);
}

/* ---- activations ---- */

static nn_tensor *f_act(nn_ctx *c, nn_tensor **in, void *arg)
{
    int k = *(int *)arg;
    nn_tensor *x = nn_scale(c, in[0], 1.0f); /* intermediate: exercises in-place backward */
    switch (k) {
    case 0: return nn_relu(c, x);
    case 1: return nn_relu6(c, x);
    case 2: return nn_leaky_relu(c, x, 0.1f);
    case 3: return nn_tanh(c, x);
    case 4: return nn_sigmoid(c, x);
    case 5: return nn_hardtanh(c, x, -1.0f, 1.0f);
    case 6: return nn_hardsigmoid(c, x, 0.2f, 0.5f);
    case 7: return nn_hardswish(c, x);
    case 8: { /* per-channel affine on [6, 20] = N 6, C 20 */
        static nn_tensor *sc, *sh;
        if (!sc) {
            int cs[1] = {20};
            nn_rng r;
            nn_rng_seed(&r, 8);
            sc = tu_randn(1, cs, &r, 1.0f);
            sh = tu_randn(1, cs, &r, 1.0f);
        }
        return nn_channel_affine(c, x, sc, sh);
    }
    default: return nn_relu(c, in[0]); /* leaf input: accumulate path */
    }
}

static void test_act_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 4);
    int xs[2] = {6, 20};
    nn_tensor *x = tu_randn(2, xs, &r, 3.0f);
    away_from_kinks(x);
    const char *names[10] = {"relu", "relu6", "leaky_relu", "tanh", "sigmoid", "hardtanh", "hardsigmoid", "hardswish",
                             "channel_affine", "relu (leaf)"};
    for (int k = 0; k < 10; k++) tu_gradcheck(&C, f_act, &x, 1, &k, 1e-2f, 2e-3f, 1e-2f, 200, names[k]);
    tu_free(x);
}

/* ---- pooling and resampling ---- */

static nn_tensor *f_pool(nn_ctx *c, nn_tensor **in, void *arg)
{
    int k = *(int *)arg;
    nn_tensor *x = nn_scale(c, in[0], 1.0f);
    switch (k) {
    case 0: return nn_maxpool2d(c, x, (nn_pool_attr){3, 2, 1, 1});
    case 1: return nn_maxpool2d(c, x, (nn_pool_attr){2, 2, 0, 1});
    case 2: return nn_avgpool2d(c, x, (nn_pool_attr){3, 2, 1, 1});
    case 3: return nn_avgpool2d(c, x, (nn_pool_attr){3, 2, 1, 0});
    case 4: return nn_global_avgpool(c, x);
    case 5: return nn_upsample_nearest(c, x, 2);
    case 6: return nn_upsample_bilinear(c, x, 2);
    case 7: return nn_avgpool2d(c, x, (nn_pool_attr){2, 2, 0, 1}); /* the 2x2 fast path, odd height */
    default: return nn_maxpool2d(c, x, (nn_pool_attr){3, 1, 1, 1}); /* NASB's op: border and interior paths */
    }
}

static void test_pool_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 5);
    int xs[4] = {2, 2, 7, 6};
    nn_tensor *x = tu_randn(4, xs, &r, 1.0f);
    const char *names[9] = {"maxpool k3s2p1", "maxpool k2s2", "avgpool incl", "avgpool excl", "gap", "nearest x2",
                            "bilinear x2", "avgpool k2s2", "maxpool k3s1p1"};
    for (int k = 0; k < 9; k++) tu_gradcheck(&C, f_pool, &x, 1, &k, 1e-3f, 2e-3f, 1e-2f, 200, names[k]);
    tu_free(x);
}

/* Max and average pooling forward against naive loops, exactly: every
 * window shape the fast paths take (3x3 stride 1, 2x2 stride 2, interior
 * rows tap by tap) and some they do not, on planes with interior and
 * border outputs, with a tape (max pool keeps its argmax) and without. */
static void test_pool_forward(void **s)
{
    (void)s;
    static const int cfg[][5] = {{3, 1, 1, 0, 1}, {3, 2, 1, 0, 1}, {2, 2, 0, 0, 1}, {5, 1, 2, 0, 1}, {3, 1, 0, 0, 1},
                                 {2, 2, 0, 1, 1}, {3, 2, 1, 1, 1}, {3, 1, 1, 1, 1}, {5, 1, 2, 1, 1}, {3, 1, 0, 1, 1},
                                 {7, 1, 3, 1, 1}, {3, 1, 1, 1, 0}, {5, 2, 2, 1, 0}}; /* k, stride, pad, avg, count_include_pad */
    nn_rng r;
    nn_rng_seed(&r, 11);
    int xs[4] = {2, 3, 9, 8};
    nn_tensor *x = tu_randn(4, xs, &r, 1.0f);
    const int H = 9, W = 8;
    for (size_t q = 0; q < 2 * sizeof cfg / sizeof cfg[0]; q++) {
        const int k = cfg[q / 2][0], st = cfg[q / 2][1], p = cfg[q / 2][2], avg = cfg[q / 2][3], incl = cfg[q / 2][4];
        nn_ctx_reset(&C);
        C.grad_enabled = (int)(q & 1);
        nn_tensor *xx = nn_new4(&C, 2, 3, H, W);
        memcpy(xx->data, x->data, x->numel * sizeof(float));
        nn_pool_attr a = {k, st, p, incl};
        nn_tensor *y = avg ? nn_avgpool2d(&C, xx, a) : nn_maxpool2d(&C, xx, a);
        const int OH = y->shape[2], OW = y->shape[3];
        for (int pl = 0; pl < 6; pl++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    float m = -INFINITY, sum = 0.0f;
                    int n = 0;
                    for (int kh = 0; kh < k; kh++)
                        for (int kw = 0; kw < k; kw++) {
                            const int ih = oh * st - p + kh, iw = ow * st - p + kw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            const float v = x->data[(size_t)pl * H * W + ih * W + iw];
                            m = v > m ? v : m, sum += v, n++;
                        }
                    const float want = avg ? sum / (float)(incl ? k * k : n) : m; /* count_include_pad: k*k inside the padding */
                    assert_true(y->data[((size_t)pl * OH + oh) * OW + ow] == want);
                }
    }
    tu_free(x);
}

/* ---- structure and arithmetic ---- */

static nn_tensor *f_struct(nn_ctx *c, nn_tensor **in, void *arg)
{
    int k = *(int *)arg;
    nn_tensor *a = nn_scale(c, in[0], 0.7f), *b = in[1];
    switch (k) {
    case 0: return nn_add(c, a, b);
    case 1: return nn_add_relu(c, a, b);
    case 2: return nn_add(c, a, a); /* same tensor twice */
    case 3: return nn_mul(c, a, b);
    case 4: return nn_sum(c, a);
    case 5: {
        nn_tensor *xs[3] = {a, b, a};
        return nn_concat(c, xs, 3);
    }
    case 6: {
        int sh[2] = {4, 18};
        return nn_relu(c, nn_reshape(c, a, 2, sh));
    }
    default: return nn_flatten(c, nn_add(c, a, b));
    }
}

static void test_struct_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 6);
    int xs[4] = {2, 3, 3, 4};
    nn_tensor *in[2] = {tu_randn(4, xs, &r, 1.0f), tu_randn(4, xs, &r, 1.0f)};
    away_from_kinks(in[0]);
    away_from_kinks(in[1]);
    const char *names[8] = {"add", "add_relu", "add(a,a)", "mul", "sum", "concat", "reshape", "flatten"};
    for (int k = 0; k < 8; k++) {
        float eps = k == 1 ? 1e-3f : 1e-2f;
        tu_gradcheck(&C, f_struct, in, 2, &k, eps, 3e-3f, 1e-2f, 200, names[k]);
    }
    tu_free(in[0]);
    tu_free(in[1]);
}

/* ---- softmax and losses ---- */

static int loss_labels[4] = {1, 4, 0, 4};
static nn_tensor *f_loss(nn_ctx *c, nn_tensor **in, void *arg)
{
    int k = *(int *)arg;
    nn_tensor *a = nn_scale(c, in[0], 1.0f), *b = in[1];
    switch (k) {
    case 0: return nn_softmax(c, a);
    case 1: return nn_log_softmax(c, a);
    case 2: return nn_cross_entropy(c, a, loss_labels, 0.0f);
    case 3: return nn_cross_entropy(c, a, loss_labels, 0.1f);
    case 4: return nn_kl_div(c, a, b, 4.0f);
    case 5: return nn_kl_div(c, a, b, 1.0f);
    case 6: return nn_mse(c, a, b);
    default: return nn_l1(c, a, b);
    }
}

static void test_loss_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 7);
    int xs[2] = {4, 5};
    nn_tensor *in[2] = {tu_randn(2, xs, &r, 2.0f), tu_randn(2, xs, &r, 2.0f)};
    const char *names[8] = {"softmax", "log_softmax", "cross_entropy", "cross_entropy ls", "kl T4", "kl T1", "mse",
                            "l1"};
    for (int k = 0; k < 8; k++) tu_gradcheck(&C, f_loss, in, 2, &k, 1e-2f, 2e-3f, 1e-2f, 200, names[k]);
    tu_free(in[0]);
    tu_free(in[1]);
}

/* The loss value of CE with smoothing and KL on hand-computable inputs. */
static void test_loss_values(void **s)
{
    (void)s;
    nn_ctx_reset(&C);
    int sh[2] = {1, 2};
    float z[2] = {0.0f, 0.0f};
    nn_tensor *x = nn_view(&C, z, 2, sh);
    int lab = 1;
    assert_true(fabsf(nn_cross_entropy(&C, x, &lab, 0.0f)->data[0] - logf(2.0f)) < 1e-6f);
    float t[2] = {1.0f, 0.0f};
    nn_tensor *tt = nn_view(&C, t, 2, sh);
    float p = 1.0f / (1.0f + expf(-1.0f)); /* softmax([1,0])[0] */
    float kl = p * logf(p / 0.5f) + (1 - p) * logf((1 - p) / 0.5f);
    assert_true(fabsf(nn_kl_div(&C, x, tt, 1.0f)->data[0] - kl) < 1e-6f);
}

/* nn_tanh (its own vectorizable tanh, not libm's tanhf) against tanh in
 * double: within 3 ulp on every 16th float of magnitude 2^-26 ... 2^5 (both
 * signs), at the formula switch (0.3) and the clamp (9); 0, -0, +-inf and
 * NaN as tanh has them. */
static float ulp_dist(float a, float b)
{
    if (a == b) return 0.0f;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if ((ia < 0) != (ib < 0)) return 1e9f;
    return (float)llabs((long long)ia - (long long)ib);
}

static void tanh_chunk(const float *xs, int n, float *worst, float *worst_x)
{
    int sh[1] = {n};
    nn_ctx_reset(&C);
    const nn_tensor *y = nn_tanh(&C, nn_view(&C, (float *)xs, 1, sh));
    for (int i = 0; i < n; i++) {
        const float d = ulp_dist(y->data[i], (float)tanh((double)xs[i]));
        if (d > *worst) *worst = d, *worst_x = xs[i];
    }
}

static void test_tanh_values(void **s)
{
    (void)s;
    enum { N = 1 << 16 };
    static float xs[N];
    float worst = 0.0f, worst_x = 0.0f;
    long checked = 0;
    int n = 0;
    for (int sign = 0; sign < 2; sign++)
        for (int32_t b = 0x32800000; b < 0x42000000; b += 16) { /* 2^-26 ... 32 */
            float v;
            memcpy(&v, &b, 4);
            xs[n++] = sign ? -v : v;
            if (n == N) tanh_chunk(xs, n, &worst, &worst_x), checked += n, n = 0;
        }
    const float edge[] = {0.3f, nextafterf(0.3f, 0.0f), nextafterf(0.3f, 1.0f), 9.0f, nextafterf(9.0f, 0.0f),
                          nextafterf(9.0f, 10.0f), 1e-30f, 1e-45f, 88.0f, 1e30f, -0.3f, -9.0f};
    if (n + (int)(sizeof edge / sizeof *edge) > N) tanh_chunk(xs, n, &worst, &worst_x), checked += n, n = 0;
    for (size_t k = 0; k < sizeof edge / sizeof *edge; k++) xs[n++] = edge[k];
    tanh_chunk(xs, n, &worst, &worst_x), checked += n;
    assert_true(checked > 2000000);
    fprintf(stderr, "tanh: %ld values, worst %g ulp at %.9g\n", checked, worst, worst_x);
    if (worst > 3.0f) {
        print_error("nn_tanh is %g ulp from tanh at x = %.9g\n", worst, worst_x);
        fail();
    }
    float sp[6] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN};
    int s6[1] = {6};
    nn_ctx_reset(&C);
    const nn_tensor *y = nn_tanh(&C, nn_view(&C, sp, 1, s6));
    assert_true(y->data[0] == 0.0f && !signbit(y->data[0]));
    assert_true(y->data[1] == 0.0f && signbit(y->data[1]));
    assert_true(y->data[2] == 1.0f && y->data[3] == -1.0f);
    assert_true(isnan(y->data[4]) && isnan(y->data[5]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_grad), cmocka_unit_test(test_conv_kernel_sets),   cmocka_unit_test(test_dense_grad), cmocka_unit_test(test_norm_grad),
        cmocka_unit_test(test_act_grad),    cmocka_unit_test(test_pool_grad),  cmocka_unit_test(test_pool_forward),
        cmocka_unit_test(test_struct_grad),
        cmocka_unit_test(test_loss_grad),   cmocka_unit_test(test_loss_values), cmocka_unit_test(test_tanh_values),
    };
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
