/* Binarizers (nn/ops/binary.c) against their defining formulas, and binary
 * layers in the Graph IR (JSON attributes, forward/backward through them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "compress/binarize.h"
#include "nn/ops/bin_kernels.h"
#include "nn/graph.h"
#include "nn/io.h"
#include "nn/zoo.h"
#include "testutil.h"

#define C TU_CTX

static void test_binarize_weight(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 8);
    for (int perch = 0; perch < 2; perch++) {
        nn_tensor *w = tu_randn(4, (int[]){3, 2, 3, 3}, &r, 0.5f);
        w->data[4] = 0.0f; /* sign(0) = +1 */
        nn_ctx_reset(&C);
        C.grad_enabled = 1;
        memset(w->grad, 0, w->numel * sizeof(float));
        nn_tensor *b = nn_binarize_weight(&C, w, perch);
        nn_tensor *G = nn_new(&C, 4, w->shape);
        for (size_t i = 0; i < G->numel; i++) G->data[i] = (float)((int)(i % 5) - 2);
        nn_backward(&C, nn_sum(&C, nn_mul(&C, b, G)));
        const size_t per = perch ? 18 : w->numel;
        for (size_t i = 0; i < w->numel; i++) {
            const size_t c0 = perch ? (i / per) * per : 0;
            double sc = 0;
            for (size_t k = c0; k < c0 + per; k++) sc += fabs(w->data[k]);
            sc /= (double)per;
            const double want = sc * (w->data[i] < 0 ? -1.0 : 1.0);
            assert_true(fabs(b->data[i] - want) < 1e-6);
            assert_true(fabs(w->grad[i] - sc * G->data[i]) < 1e-5); /* scaled STE */
        }
        tu_free(w);
    }
}

static void test_sign_approx(void **s)
{
    (void)s;
    const float xs[] = {-1.5f, -1.0f, -0.75f, -0.25f, 0.0f, 0.25f, 0.75f, 1.0f, 1.5f};
    const int n = 9;
    for (int approx = 0; approx < 2; approx++) {
        nn_tensor *x = tu_tensor(2, (int[]){1, n});
        memcpy(x->data, xs, sizeof xs);
        memset(x->grad, 0, n * sizeof(float));
        nn_ctx_reset(&C);
        C.grad_enabled = 1;
        nn_tensor *y = nn_sign(&C, x, approx);
        nn_backward(&C, nn_sum(&C, y));
        for (int i = 0; i < n; i++) {
            const float v = xs[i];
            assert_true(y->data[i] == (v < 0 ? -1.0f : 1.0f));
            const float want = approx ? (v >= -1 && v < 0 ? 2 + 2 * v : (v >= 0 && v < 1 ? 2 - 2 * v : 0))
                                      : (fabsf(v) <= 1 ? 1.0f : 0.0f);
            if (fabsf(x->grad[i] - want) > 1e-6f) {
                print_error("%s at %g: gradient %g, formula %g\n", approx ? "ApproxSign" : "STE", v, x->grad[i], want);
                fail();
            }
        }
        tu_free(x);
    }
}

/* A binary conv block as JSON: round trip, and gradients reach the float
 * weights through the binarizer and the input through the sign. */
static void test_binary_graph(void **s)
{
    (void)s;
    const char *js = "{\"input\":[2,6,6],\"num_classes\":3,\"nodes\":["
                     "{\"name\":\"s\",\"op\":\"sign\"},"
                     "{\"name\":\"c\",\"op\":\"conv2d\",\"out_channels\":4,\"kernel\":3,\"padding\":1,"
                     "\"binary_weights\":\"channel\"},"
                     "{\"name\":\"bn\",\"op\":\"batchnorm\"},{\"name\":\"gap\",\"op\":\"global_avgpool\"},"
                     "{\"name\":\"fc\",\"op\":\"linear\",\"out_features\":3}]}";
    nn_graph *g = tu_graph_json(js);
    nn_graph_init_params(g, 1, NN_INIT_KAIMING);
    assert_int_equal(g->nodes[nn_graph_find(g, "c")].wbin, 2);
    assert_int_equal(g->nodes[nn_graph_find(g, "s")].approx, 1);
    cJSON *out = nn_graph_to_json(g);
    char *txt = cJSON_PrintUnformatted(out);
    assert_non_null(strstr(txt, "\"binary_weights\":\"channel\""));
    assert_non_null(strstr(txt, "\"approx\":true"));
    free(txt);
    cJSON_Delete(out);
    nn_graph_set_trainable(g, 1);
    nn_ctx_reset(&C);
    C.training = 1;
    C.grad_enabled = 1;
    nn_rng r;
    nn_rng_seed(&r, 2);
    nn_tensor *x = tu_randn(4, (int[]){2, 2, 6, 6}, &r, 0.6f);
    memset(x->grad, 0, x->numel * sizeof(float));
    nn_tensor *y = nn_graph_forward(g, &C, x, NULL);
    int labels[2] = {0, 2};
    nn_graph_zero_grad(g);
    nn_backward(&C, nn_cross_entropy(&C, y, labels, 0.0f));
    const nn_param *w = nn_graph_param(g, "c.weight");
    double gw = 0, gx = 0;
    for (size_t i = 0; i < w->t.numel; i++) gw += fabs(w->t.grad[i]);
    for (size_t i = 0; i < x->numel; i++) gx += fabs(x->grad[i]);
    assert_true(gw > 0 && gx > 0);
    nn_graph_free(g);
    tu_free(x);
    /* a bad value names its path */
    nn_err e = {0};
    cJSON *j = cJSON_Parse("{\"input\":[1,4,4],\"num_classes\":2,\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\","
                    "\"out_channels\":2,\"kernel\":3,\"binary_weights\":\"bit\"}]}");
    assert_null(nn_graph_from_json(j, "$", &e));
    assert_non_null(strstr(e.msg, "binary_weights"));
    cJSON_Delete(j);
}


/* Bit-packed XNOR-popcount conv (both paths) against the float conv of the
 * same signs with zero padding: the same integers, on shapes with every
 * tap width (16, 32, 64 and 128 bits: 3 to 128 channels, counts off the
 * word), stride 2, dilation, 1x1 and 5x5 taps, paddings wider than the
 * kernel's reach, pixel counts off the 16-pixel tile, and 50 full words per
 * column with every bit a mismatch (the AVX2 byte counters' limit). Every
 * kernel set the CPU has; the vector packer and im2col must set exactly the
 * scalar ones' bits. Six shapes (64 channels or more, stride 1, rows of
 * whole 8-pixel vectors) take the vector path that reads the packed planes
 * in place, without im2col. */
static void test_bitpacked_conv(void **s)
{
    (void)s;
    static const int shapes[][8] = {/* C H W O k stride pad dil */
                                    {64, 8, 8, 64, 3, 1, 1, 1},   {70, 7, 9, 11, 3, 2, 1, 1},   {5, 9, 9, 9, 5, 1, 4, 2},
                                    {128, 6, 5, 16, 1, 1, 0, 1},  {3, 11, 13, 10, 3, 1, 1, 1},  {64, 7, 7, 17, 3, 1, 2, 2},
                                    {16, 28, 28, 16, 3, 1, 1, 1}, {32, 14, 14, 32, 3, 1, 1, 1}, {16, 28, 28, 32, 3, 2, 1, 1},
                                    {24, 9, 11, 8, 5, 1, 2, 1},   {32, 5, 5, 9, 3, 2, 1, 2},    {17, 7, 7, 12, 3, 1, 1, 3},
                                    {130, 5, 6, 9, 3, 1, 1, 1},   {20, 12, 12, 10, 5, 1, 2, 1}, {8, 13, 11, 9, 7, 1, 3, 1},
                                    {130, 6, 7, 6, 5, 1, 2, 1},   {64, 12, 16, 8, 3, 1, 2, 2},  {130, 8, 16, 10, 3, 1, 1, 1},
                                    {40, 16, 8, 9, 1, 1, 0, 1},   {64, 5, 24, 8, 5, 1, 2, 1},   {96, 3, 8, 12, 3, 1, 1, 1},
                                    {128, 6, 7, 6, 5, 1, 2, 1}};
    nn_rng r;
    nn_rng_seed(&r, 9);
    const size_t nshapes = sizeof shapes / sizeof shapes[0];
    int direct = 0;
    for (size_t si = 0; si < nshapes; si++) {
        const int *q = shapes[si];
        const int Cc = q[0], H = q[1], W = q[2], O = q[3], k = q[4], st = q[5], pad = q[6], dil = q[7];
        nn_ctx_reset(&C);
        C.grad_enabled = 0;
        nn_tensor *x = nn_new4(&C, 1, Cc, H, W), *w = nn_new4(&C, O, Cc, k, k);
        for (size_t i = 0; i < x->numel; i++) x->data[i] = i % 17 == 0 ? 0.0f : i % 19 == 0 ? -0.0f : i % 23 == 0 ? NAN : nn_rng_normal(&r); /* sign(+-0, NaN) = +1 */
        for (size_t i = 0; i < w->numel; i++) w->data[i] = nn_rng_normal(&r);
        if (si == nshapes - 1) /* every product -1, every bit a mismatch: counters at their largest */
            for (size_t i = 0; i < w->numel; i++) w->data[i] = -1.0f, x->data[i % x->numel] = 1.0f;
        nn_tensor *sx = nn_sign(&C, x, 1), *sw = nn_new4(&C, O, Cc, k, k);
        for (size_t i = 0; i < w->numel; i++) sw->data[i] = w->data[i] >= 0.0f ? 1.0f : -1.0f;
        nn_tensor *ref = nn_conv2d(&C, sx, sw, NULL, (nn_conv_attr){.stride = st, .pad = pad, .dilation = dil, .groups = 1});
        const df_bin_geom g = df_bin_geometry(Cc, H, W, k, st, pad, dil);
        direct += df_bin_direct(&g);
        assert_int_equal(g.OH, ref->shape[2]);
        assert_int_equal(g.OW, ref->shape[3]);
        assert_true(g.S >= Cc && g.Kw * 64 >= k * k * g.S);
        const size_t nx = df_bin_xp_bytes(&g), nc = df_bin_col_words(&g);
        unsigned char *xp = malloc(nx), *xs = malloc(nx);
        uint64_t *wp = malloc(sizeof(uint64_t) * df_bin_wp_words(&g, O)), *col = malloc(sizeof(uint64_t) * nc),
                 *cs = malloc(sizeof(uint64_t) * nc);
        int32_t *cps = malloc(sizeof(int32_t) * df_bin_cps_ints(&g, O)), *y = malloc(sizeof(int32_t) * O * g.P);
        const int ncls = df_bin_classes(&g, NULL);
        assert_true(ncls >= 1);
        int32_t *cls = malloc(sizeof(int32_t) * g.P), *tab = malloc(sizeof(int32_t) * O * ncls);
        float *fy = malloc(sizeof(float) * O * g.P), *fa = malloc(sizeof(float) * O);
        for (int o = 0; o < O; o++) fa[o] = 0.25f + 0.125f * (o % 5); /* exact: the floats must equal a * sum */
        memset(xp, 0xa5, nx), memset(xs, 0x5a, nx); /* garbage: every packer clears the borders itself */
        df_bin_pack(x->data, &g, xp);
        df_bin_pack_any(x->data, &g, 1, xs); /* the scalar packer sets the same bits */
        assert_memory_equal(xp, xs, nx);
        for (int oh0 = 0; oh0 < g.OH; oh0 += g.rb) { /* and the scalar im2col the same columns */
            const int nr = g.OH - oh0 < g.rb ? g.OH - oh0 : g.rb;
            df_bin_im2col_any(xp, &g, oh0, nr, 0, col);
            df_bin_im2col_any(xp, &g, oh0, nr, 1, cs);
            assert_memory_equal(col, cs, nc * sizeof(uint64_t));
        }
        df_bin_pack_weights(w->data, O, &g, wp, cps);
        df_bin_classes(&g, cls);
        df_bin_class_table(cps, O, &g, ncls, tab);
        static const char *const isa_name[3] = {"best", "scalar", "avx2"};
        for (int isa = 0; isa < 3; isa++) { /* every kernel set this CPU has */
            if (isa == DF_BIN_ISA_AVX2 && !df_bin_have_avx2()) continue;
            memset(y, 0x55, sizeof(int32_t) * O * g.P);
            df_bin_conv(x->data, &g, wp, cls, tab, ncls, O, isa, xp, col, y);
            /* the float output, from each path's GEMM epilogue */
            df_bin_conv_float(x->data, &g, wp, cls, tab, ncls, fa, NULL, O, isa, xp, col, fy);
            /* and with what a large batch turns on: streamed stores (into a
             * 64-byte aligned output, so that full tiles do stream) and the
             * prefetch of a next image (here x again) */
            df_bin_geom gs = g;
            gs.stream = 1;
            float *fs = NULL;
            assert_int_equal(posix_memalign((void **)&fs, 64, sizeof(float) * O * g.P), 0);
            df_bin_conv_float_next(x->data, x->data, &gs, wp, cls, tab, ncls, fa, NULL, O, isa, xp, col, fs);
            for (int i = 0; i < O * g.P; i++)
                if ((float)y[i] != ref->data[i] || fy[i] != ref->data[i] * fa[i / g.P] || fs[i] != fy[i]) {
                    print_error("shape %zu (%s kernels) at %d: popcount %d, float out %g (streamed %g), float conv %g\n",
                                si, isa_name[isa], i, y[i], fy[i], fs[i], ref->data[i]);
                    fail();
                }
            free(fs);
        }
        free(xp), free(xs), free(wp), free(col), free(cs), free(cps), free(y), free(cls), free(tab), free(fy), free(fa);
    }
    assert_int_equal(direct, 6);
}


/* The binary baselines: 18 binary convs each, full-precision stem,
 * classifier and downsampling shortcuts; Bi-Real has a shortcut around
 * every binary conv, XNOR every two. And the NASB cost of a binary conv. */
static void test_binary_zoo(void **s)
{
    (void)s;
    nn_err e = {0};
    const char *names[2] = {"bireal_resnet20", "xnor_resnet20"};
    for (int m = 0; m < 2; m++) {
        nn_graph *g = nn_zoo_build(names[m], 1, 28, 28, 10, 1, &e);
        assert_non_null(g);
        int bin = 0, fp = 0, adds = 0, signs = 0;
        for (int i = 0; i < g->n; i++) {
            const nn_gnode *n = &g->nodes[i];
            if (n->op == NN_OP_CONV) {
                if (n->wbin) {
                    bin++;
                    assert_int_equal(g->nodes[n->in[0]].op, NN_OP_SIGN); /* binary convs see signs only */
                } else {
                    fp++;
                }
            }
            adds += n->op == NN_OP_ADD;
            signs += n->op == NN_OP_SIGN;
        }
        assert_int_equal(bin, 18);
        assert_int_equal(fp, 3); /* stem and the two downsampling shortcuts */
        assert_int_equal(signs, 18);
        assert_int_equal(adds, m == 0 ? 18 : 9);
        /* cost: a 16->16 3x3 binary conv on 28x28 is 2304 weight bits + one 32-bit scale (per layer) */
        const int c = nn_graph_find(g, m == 0 ? "layer1.1.conv" : "layer1.1.a.conv");
        assert_true(c >= 0);
        double mb, fl, bm;
        nn_graph_node_cost(g, c, &mb, &fl, &bm);
        assert_true(bm == 16.0 * 28 * 28 * 16 * 9);
        assert_true(fl == bm / 64.0);
        assert_true(mb == 2304.0 + (m == 0 ? 32.0 : 32.0 * 16));
        nn_ctx_reset(&C);
        C.grad_enabled = 0;
        nn_tensor *x = nn_new4(&C, 2, 1, 28, 28);
        for (size_t i = 0; i < x->numel; i++) x->data[i] = (float)(i % 7) - 3.0f;
        nn_tensor *y = nn_graph_forward(g, &C, x, NULL);
        assert_int_equal(y->shape[1], 10);
        for (size_t i = 0; i < y->numel; i++) assert_true(isfinite(y->data[i]));
        nn_graph_free(g);
    }
}

/* Every BN's parameters and running statistics away from their defaults:
 * gamma of both signs (the first channel's 0: a constant output), beta and
 * the mean around 0, the variance in [0.5, ...). */
static void random_bn(nn_graph *g, nn_rng *r)
{
    for (int i = 0; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i];
        if (n->op != NN_OP_BN) continue;
        const int k = n->affine ? 2 : 0; /* weight, bias, running mean, running var */
        for (int q = 0; q < k + 2; q++) {
            nn_tensor *t = &g->params[n->param[q]].t;
            for (size_t v = 0; v < t->numel; v++)
                t->data[v] = q == k + 1 ? 0.5f + fabsf(nn_rng_normal(r)) : q == 0 && k ? nn_rng_normal(r) : 0.5f * nn_rng_normal(r);
            if (q == 0 && k) t->data[0] = 0.0f;
        }
    }
}

/* Inference runs a BN and the shortcut add after it (and a ReLU after
 * that) as one pass (nn_bn_attr.residual): the same bits as the BN, the add
 * and the ReLU apart (forced by asking for every node's output), in the
 * float simulation and in bit-packed inference; BN parameters and running
 * statistics away from their defaults (random_bn). */
static void test_bn_add_fusion(void **s)
{
    (void)s;
    const char *js = "{\"input\":[64,8,8],\"num_classes\":5,\"nodes\":["
                     "{\"name\":\"s1\",\"op\":\"sign\"},"
                     "{\"name\":\"c1\",\"op\":\"conv2d\",\"out_channels\":64,\"kernel\":3,\"padding\":1,\"binary_weights\":\"layer\"},"
                     "{\"name\":\"b1\",\"op\":\"batchnorm\"},{\"name\":\"a1\",\"op\":\"add\",\"inputs\":[\"b1\",\"input\"]},"
                     "{\"name\":\"s2\",\"op\":\"sign\"},"
                     "{\"name\":\"c2\",\"op\":\"conv2d\",\"out_channels\":64,\"kernel\":3,\"padding\":1,\"binary_weights\":\"layer\"},"
                     "{\"name\":\"b2\",\"op\":\"batchnorm\"},{\"name\":\"a2\",\"op\":\"add\",\"inputs\":[\"a1\",\"b2\"]},"
                     "{\"name\":\"r2\",\"op\":\"relu\"},"
                     "{\"name\":\"gap\",\"op\":\"global_avgpool\"},{\"name\":\"fc\",\"op\":\"linear\",\"out_features\":5}]}";
    nn_graph *g = tu_graph_json(js);
    nn_graph_init_params(g, 1, NN_INIT_KAIMING);
    nn_rng r;
    nn_rng_seed(&r, 31);
    random_bn(g, &r);
    nn_ctx_reset(&C);
    C.training = 0;
    C.grad_enabled = 0;
    nn_tensor *x = nn_new4(&C, 3, 64, 8, 8);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    nn_tensor *outs[16];
    nn_fwd_opts apart = {.outputs = outs}, packed = {.binary_packed = 1};
    nn_tensor *y0 = nn_graph_forward(g, &C, x, &apart);
    const nn_tensor *mid = outs[nn_graph_find(g, "r2")];
    double sum = 0;
    for (size_t i = 0; i < mid->numel; i++) sum += mid->data[i] == 0.0f;
    assert_true(sum > 0.1 * mid->numel && sum < 0.9 * mid->numel); /* the ReLU does cut */
    nn_tensor *y1 = nn_graph_forward(g, &C, x, NULL), *y2 = nn_graph_forward(g, &C, x, &packed);
    assert_memory_equal(y0->data, y1->data, y0->numel * sizeof(float));
    assert_memory_equal(y0->data, y2->data, y0->numel * sizeof(float));
    nn_graph_free(g);
}

/* Bit-packed inference folds a BN read only by a sign into a threshold on
 * the binary conv's integer sums (XNOR-ResNet: a.conv -> a.bn -> b.sign):
 * the logits stay those of the float simulation to the bit, with BN
 * parameters and running statistics away from their defaults (random_bn:
 * gamma of both signs, one channel's 0, a constant sign). */
static nn_graph *xnor_random_bn(nn_rng *r)
{
    nn_err e = {0};
    nn_graph *g = nn_zoo_build("xnor_resnet20", 1, 28, 28, 10, 4, &e);
    assert_non_null(g);
    random_bn(g, r);
    return g;
}

static void test_threshold_fold(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 5);
    nn_graph *g = xnor_random_bn(&r);
    nn_ctx_reset(&C);
    C.training = 0;
    C.grad_enabled = 0;
    nn_tensor *x = nn_new4(&C, 4, 1, 28, 28);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    nn_fwd_opts fo = {0}, po = {.binary_packed = 1};
    nn_tensor *y0 = nn_graph_forward(g, &C, x, &fo), *y1 = nn_graph_forward(g, &C, x, &po);
    double spread = 0;
    for (size_t i = 0; i < y0->numel; i++) spread += fabs(y0->data[i] - y0->data[0]);
    assert_true(spread > 0); /* the logits depend on the input */
    assert_memory_equal(y0->data, y1->data, y0->numel * sizeof(float));
    nn_graph_free(g);
}

/* The C export folds the same thresholds: that XNOR-ResNet-20, exported,
 * built and run on 20 test images, says it folded 9 BNs and gives the
 * logits of bit-packed inference up to the export's own float rounding in
 * its other layers. */
static void test_export_threshold_fold(void **s)
{
    (void)s;
    const char *data = tu_fmnist();
    if (!data) {
        print_message("Fashion-MNIST not installed: skipped\n");
        return;
    }
    nn_rng r;
    nn_rng_seed(&r, 5);
    nn_graph *g = xnor_random_bn(&r);
    nn_err e = {0};
    tu_sh("rm -rf /tmp/datafree_xnor && mkdir -p /tmp/datafree_xnor");
    assert_int_equal(nn_graph_save(g, "/tmp/datafree_xnor/model.json", &e), 0);
    assert_int_equal(tu_sh("%s export --model /tmp/datafree_xnor/model.json --target c --out /tmp/datafree_xnor/exp", tu_bin()), 0);
    size_t len = 0;
    char *src = nn_read_file("/tmp/datafree_xnor/exp/c/model.c", &len, &e);
    assert_non_null(src);
    int folds = 0;
    for (const char *p = src; (p = strstr(p, "folded into that threshold")); p++) folds++;
    free(src);
    assert_int_equal(folds, 9); /* every a.conv -> a.bn -> b.sign */
    enum { N = 20 };
    tu_write_idx_subset(data, N, "/tmp/datafree_xnor/images", "/tmp/datafree_xnor/labels");
    assert_int_equal(tu_sh("cd /tmp/datafree_xnor/exp/c && make -s && ./infer /tmp/datafree_xnor/images "
                           "/tmp/datafree_xnor/labels --logits /tmp/datafree_xnor/logits"),
                     0);
    tu_check_exported_logits(g, "/tmp/datafree_xnor/images", "/tmp/datafree_xnor/logits", N);
    nn_graph_free(g);
}

/* CNN -> binary (compress/binarize.c) on the zoo's ResNet-20: which layers
 * binarize under each option, signs read pre-ReLU tensors, every value is
 * kept, and the bit-packed path gives the float simulation's logits. */
static void test_cmp_binarize(void **s)
{
    (void)s;
    nn_err e = {0};
    nn_graph *g = nn_zoo_build("resnet20", 1, 28, 28, 10, 5, &e);
    assert_non_null(g);
    cmp_bin_opts o = cmp_bin_defaults();
    int nb = 0;
    nn_graph *b = cmp_binarize(g, &o, &nb, &e);
    assert_non_null(b);
    assert_int_equal(nb, 18);
    int bin = 0, fp = 0, signs = 0;
    for (int i = 0; i < b->n; i++) {
        const nn_gnode *n = &b->nodes[i];
        if (n->op == NN_OP_SIGN) {
            signs++;
            assert_int_not_equal(b->nodes[n->in[0]].op, NN_OP_RELU); /* sign(relu(x)) would be constant */
            assert_int_equal(n->approx, 1);
        }
        if (n->op != NN_OP_CONV && n->op != NN_OP_LINEAR) continue;
        if (n->wbin) {
            bin++;
            assert_int_equal(n->wbin, 1);
            assert_int_equal(b->nodes[n->in[0]].op, NN_OP_SIGN);
        } else {
            fp++;
        }
    }
    assert_int_equal(bin, 18);
    assert_int_equal(fp, 4); /* stem, two downsampling shortcuts, fc */
    assert_int_equal(signs, 18); /* one per distinct input */
    assert_true(nn_graph_find(b, "fc") >= 0 && !b->nodes[nn_graph_find(b, "fc")].wbin);
    for (int i = 0; i < b->np; i++) { /* every value kept */
        const nn_param *q = nn_graph_param(g, b->params[i].name);
        assert_non_null(q);
        assert_memory_equal(q->t.data, b->params[i].t.data, q->t.numel * sizeof(float));
    }
    /* bit-packed inference = the float simulation, to the bit */
    nn_ctx_reset(&C);
    C.training = 0;
    C.grad_enabled = 0;
    nn_tensor *x = nn_new4(&C, 3, 1, 28, 28);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = (float)((i * 31) % 13) / 6.0f - 1.0f;
    nn_fwd_opts fo = {0}, po = {.binary_packed = 1};
    nn_tensor *y0 = nn_graph_forward(b, &C, x, &fo), *y1 = nn_graph_forward(b, &C, x, &po);
    assert_memory_equal(y0->data, y1->data, y0->numel * sizeof(float));
    /* refused: binarizing twice */
    assert_null(cmp_binarize(b, &o, &nb, &e));
    assert_non_null(strstr(e.msg, "binary already"));
    nn_graph_free(b);
    /* the options */
    o = (cmp_bin_opts){0, 0, 0, 0, 1, 1};
    b = cmp_binarize(g, &o, &nb, &e);
    assert_non_null(b);
    assert_int_equal(nb, 22); /* 21 convs and the fc */
    for (int i = 0; i < b->n; i++) {
        if (b->nodes[i].op == NN_OP_SIGN) assert_int_equal(b->nodes[i].approx, 0);
        if (b->nodes[i].op == NN_OP_CONV) assert_int_equal(b->nodes[i].wbin, 2);
    }
    nn_graph_free(b);
    o = (cmp_bin_opts){0, 0, 0, 1, 0, 0};
    b = cmp_binarize(g, &o, &nb, &e);
    assert_non_null(b);
    assert_int_equal(nb, 20);
    nn_graph_free(b);
    /* the command: datafree convert --to-binary, and a bad option naming itself */
    assert_int_equal(nn_graph_save(g, "/tmp/datafree_bin_cnn.json", &e), 0);
    assert_int_equal(tu_sh("%s convert /tmp/datafree_bin_cnn.json /tmp/datafree_bin_out.json --to-binary "
                           "--weight-scale channel", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "binarized 18 layers"));
    nn_graph *l = nn_graph_load("/tmp/datafree_bin_out.json", &e);
    assert_non_null(l);
    assert_int_equal(l->nodes[nn_graph_find(l, "layer1.0.a.conv")].wbin, 2);
    nn_graph_free(l);
    assert_int_equal(tu_sh("%s convert /tmp/datafree_bin_cnn.json /tmp/datafree_bin_out2.json --to-binary --keep first,dw",
                           tu_bin()), 2);
    assert_non_null(strstr(TU_OUT, "'dw'"));
    nn_graph_free(g);
    /* nothing left to binarize */
    g = nn_graph_new("tiny", 1, 8, 8, 3);
    int c = nn_g_conv(g, "c", 0, 4, 3, 1, 1, 1, 0);
    c = nn_g_unary(g, "gap", NN_OP_GAP, c);
    nn_g_linear(g, "fc", c, 3, 1);
    assert_int_equal(nn_graph_finalize(g, &e), 0);
    o = cmp_bin_defaults();
    assert_null(cmp_binarize(g, &o, &nb, &e));
    assert_non_null(strstr(e.msg, "no conv or linear left"));
    nn_graph_free(g);
}

/* The ResNet-18 layout: the real twin has torchvision's 11,689,512
 * parameters; Bi-Real ResNet-18's cost is the seed's Table 4.6 (33.6 Mbit,
 * 1.63e8 Flops) within 1 %; both run at 64x64. */
static void test_binary_resnet18(void **s)
{
    (void)s;
    nn_err e = {0};
    nn_graph *r = nn_zoo_build("resnet18", 3, 224, 224, 1000, 1, &e);
    assert_non_null(r);
    assert_int_equal(nn_graph_num_trainable(r), 11689512);
    nn_graph_free(r);
    const char *names[2] = {"bireal_resnet18", "xnor_resnet18"};
    for (int m = 0; m < 2; m++) {
        nn_graph *g = nn_zoo_build(names[m], 3, 224, 224, 1000, 1, &e);
        assert_non_null(g);
        assert_int_equal(nn_graph_num_trainable(g), 11689512);
        int bin = 0;
        for (int i = 0; i < g->n; i++) bin += g->nodes[i].op == NN_OP_CONV && g->nodes[i].wbin;
        assert_int_equal(bin, 16);
        double mem = 0, fl = 0, bm = 0;
        for (int i = 0; i < g->n; i++) {
            double a, b2, c;
            nn_graph_node_cost(g, i, &a, &b2, &c);
            mem += a, fl += b2, bm += c;
        }
        if (m == 0 && (fabs(mem / 33.6e6 - 1) > 0.01 || fabs(fl / 1.63e8 - 1) > 0.01)) {
            print_error("Bi-Real ResNet-18: %.2f Mbit, %.3e Flops; the seed: 33.6 Mbit, 1.63e8\n", mem / 1e6, fl);
            fail();
        }
        nn_graph_free(g);
        g = nn_zoo_build(names[m], 3, 64, 64, 10, 1, &e);
        assert_non_null(g);
        nn_ctx_reset(&C);
        C.training = 0;
        C.grad_enabled = 0;
        nn_tensor *x = nn_new4(&C, 1, 3, 64, 64);
        for (size_t i = 0; i < x->numel; i++) x->data[i] = (float)(i % 5) - 2.0f;
        nn_tensor *y = nn_graph_forward(g, &C, x, NULL);
        assert_int_equal(y->shape[1], 10);
        for (size_t i = 0; i < y->numel; i++) assert_true(isfinite(y->data[i]));
        nn_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_binarize_weight), cmocka_unit_test(test_sign_approx),
                                       cmocka_unit_test(test_binary_graph),
                                       cmocka_unit_test(test_bitpacked_conv), cmocka_unit_test(test_binary_zoo), cmocka_unit_test(test_bn_add_fusion),
                                       cmocka_unit_test(test_threshold_fold), cmocka_unit_test(test_export_threshold_fold),
                                       cmocka_unit_test(test_cmp_binarize),
                                       cmocka_unit_test(test_binary_resnet18)};
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
