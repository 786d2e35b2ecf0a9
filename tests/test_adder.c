/* AdderNet: the adder layer against naive loops of its defining formulas
 * (forward with the reference padding semantics, full-precision weight
 * gradient, HardTanh-clipped input gradient, ALR scaling), and the seed's
 * parameter counts of AddResNet-20 and DS-AddResNet-20. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/adder.h"
#include "nn/graph.h"
#include "nn/zoo.h"
#include "testutil.h"

#define C TU_CTX

typedef struct {
    int N, Cin, H, W, O, K, stride, pad, dil, groups;
} geom;

static float xat(const nn_tensor *x, const geom *g, int b, int c, int h, int w)
{
    return h >= 0 && h < g->H && w >= 0 && w < g->W ? x->data[(((size_t)b * g->Cin + c) * g->H + h) * g->W + w] : 0.0f;
}

static void check_geometry(geom g, float eta)
{
    nn_rng r;
    nn_rng_seed(&r, 42);
    const int cg = g.Cin / g.groups, og = g.O / g.groups;
    nn_tensor *x = tu_randn(4, (int[]){g.N, g.Cin, g.H, g.W}, &r, 1.0f);
    nn_tensor *w = tu_randn(4, (int[]){g.O, cg, g.K, g.K}, &r, 0.7f);
    nn_ctx_reset(&C);
    C.grad_enabled = 1;
    memset(x->grad, 0, x->numel * sizeof(float));
    memset(w->grad, 0, w->numel * sizeof(float));
    nn_tensor *y = nn_adder_conv2d(&C, x, w, (nn_adder_attr){g.stride, g.pad, g.dil, g.groups, eta});
    const int OH = y->shape[2], OW = y->shape[3];
    /* upstream gradient G: a fixed pattern; loss = sum(y * G) */
    nn_tensor *G = nn_new(&C, 4, y->shape);
    for (size_t i = 0; i < G->numel; i++) G->data[i] = (float)((int)(i % 7) - 3) * 0.25f;
    nn_backward(&C, nn_sum(&C, nn_mul(&C, y, G)));
    double *dw = calloc(w->numel, sizeof(double)), *dx = calloc(x->numel, sizeof(double));
    for (int b = 0; b < g.N; b++)
        for (int t = 0; t < g.O; t++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = 0;
                    const size_t yi = (((size_t)b * g.O + t) * OH + oh) * OW + ow;
                    for (int k = 0; k < cg; k++)
                        for (int i = 0; i < g.K; i++)
                            for (int j = 0; j < g.K; j++) {
                                const int c = (t / og) * cg + k, h = oh * g.stride + i * g.dil - g.pad,
                                          ww = ow * g.stride + j * g.dil - g.pad;
                                const float xv = xat(x, &g, b, c, h, ww);
                                const size_t wi = (((size_t)t * cg + k) * g.K + i) * g.K + j;
                                s += fabs((double)xv - w->data[wi]); /* padding: |0 - F| */
                                dw[wi] += G->data[yi] * ((double)xv - w->data[wi]);
                                if (h >= 0 && h < g.H && ww >= 0 && ww < g.W) {
                                    double d = (double)w->data[wi] - xv;
                                    d = d < -1 ? -1 : d > 1 ? 1 : d;
                                    dx[(((size_t)b * g.Cin + c) * g.H + h) * g.W + ww] += G->data[yi] * d;
                                }
                            }
                    if (fabs(y->data[yi] + s) > 1e-4 * (1 + s)) {
                        print_error("forward at %zu: %g, formula %g\n", yi, y->data[yi], -s);
                        fail();
                    }
                }
    double n2 = 0;
    for (size_t i = 0; i < w->numel; i++) n2 += dw[i] * dw[i];
    const double sc = eta > 0 ? eta * sqrt((double)w->numel) / sqrt(n2) : 1.0;
    float *dwf = malloc(w->numel * sizeof(float)), *dxf = malloc(x->numel * sizeof(float));
    for (size_t i = 0; i < w->numel; i++) dwf[i] = (float)(dw[i] * sc);
    for (size_t i = 0; i < x->numel; i++) dxf[i] = (float)dx[i];
    tu_close(w->grad, dwf, w->numel, 1e-4f, 1e-4f, "adder dW (full precision, ALR)");
    tu_close(x->grad, dxf, x->numel, 1e-4f, 1e-4f, "adder dX (HardTanh)");
    if (eta > 0) { /* ALR: every layer's gradient has RMS eta per element */
        double m2 = 0;
        for (size_t i = 0; i < w->numel; i++) m2 += (double)w->grad[i] * w->grad[i];
        assert_true(fabs(sqrt(m2 / (double)w->numel) - eta) < 1e-4);
    }
    free(dw), free(dx), free(dwf), free(dxf);
    tu_free(x);
    tu_free(w);
}

static void test_adder_formulas(void **s)
{
    (void)s;
    check_geometry((geom){2, 4, 7, 6, 6, 3, 1, 1, 1, 1}, 0.0f);  /* padded 3x3 */
    check_geometry((geom){3, 4, 9, 9, 4, 3, 2, 1, 1, 2}, 0.0f);  /* stride 2, groups 2 */
    check_geometry((geom){2, 3, 8, 8, 5, 3, 1, 2, 2, 1}, 0.0f);  /* dilation 2 */
    check_geometry((geom){2, 4, 6, 6, 4, 3, 1, 1, 1, 4}, 0.2f);  /* depthwise, ALR on */
    check_geometry((geom){2, 8, 5, 5, 3, 1, 2, 0, 1, 1}, 0.2f);  /* 1x1 stride 2 shortcut, ALR */
}

/* The seed's parameter counts (learnable only), on CIFAR shapes. */
static void test_adder_zoo_counts(void **s)
{
    (void)s;
    const struct {
        const char *name;
        int classes;
        size_t want;
    } t[] = {{"addresnet20", 10, 272484}, {"addresnet20", 100, 278424},
             {"ds_addresnet20", 10, 61732}, {"ds_addresnet20", 100, 67672}};
    nn_err e = {0};
    for (int i = 0; i < 4; i++) {
        nn_graph *g = nn_zoo_build(t[i].name, 3, 32, 32, t[i].classes, 1, &e);
        assert_non_null(g);
        if (nn_graph_num_trainable(g) != t[i].want) {
            print_error("%s (%d classes): %zu parameters, the seed says %zu\n", t[i].name, t[i].classes,
                        nn_graph_num_trainable(g), t[i].want);
            fail();
        }
        assert_true(nn_graph_adds(g) > 0);
        nn_graph_free(g);
    }
    /* it trains as a graph: one forward/backward on 28x28 Fashion-MNIST shapes */
    nn_graph *g = nn_zoo_build("ds_addresnet20", 1, 28, 28, 10, 1, &e);
    assert_non_null(g);
    nn_graph_set_trainable(g, 1);
    nn_ctx_reset(&C);
    C.training = 1;
    C.grad_enabled = 1;
    nn_rng r;
    nn_rng_seed(&r, 3);
    nn_tensor *x = nn_new4(&C, 2, 1, 28, 28);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    nn_tensor *y = nn_graph_forward(g, &C, x, NULL);
    assert_int_equal(y->shape[1], 10);
    nn_graph_zero_grad(g);
    int labels[2] = {3, 5};
    nn_backward(&C, nn_cross_entropy(&C, y, labels, 0.0f));
    double gs = 0;
    for (size_t i = 0; i < g->train_len; i++) gs += fabs(g->grad[i]);
    assert_true(gs > 0 && isfinite(gs));
    nn_graph_free(g);
}

/* CNN -> adder: every conv but the first converted, the rest keeps its values. */
static void test_to_adder(void **s)
{
    (void)s;
    nn_err e = {0};
    nn_graph *cnn = nn_zoo_build("resnet20", 1, 28, 28, 10, 7, &e);
    assert_non_null(cnn);
    nn_param *bn = nn_graph_param(cnn, "layer2.0.a.bn.running_var");
    for (size_t i = 0; i < bn->t.numel; i++) bn->t.data[i] = 1.5f + (float)i; /* something to carry over */
    nn_graph *a = cmp_to_adder(cnn, 0.1f, 3, &e);
    assert_non_null(a);
    int adders = 0, convs = 0;
    for (int i = 0; i < a->n; i++) {
        adders += a->nodes[i].op == NN_OP_ADDER_CONV;
        convs += a->nodes[i].op == NN_OP_CONV;
        if (a->nodes[i].op == NN_OP_ADDER_CONV) assert_true(a->nodes[i].alr_eta == 0.1f);
    }
    assert_int_equal(convs, 1);   /* the stem */
    assert_int_equal(adders, 20); /* 18 block convs + 2 shortcuts */
    const nn_param *b2 = nn_graph_param(a, "layer2.0.a.bn.running_var"), *st = nn_graph_param(a, "stem.conv.weight");
    assert_memory_equal(b2->t.data, bn->t.data, bn->t.numel * sizeof(float));
    assert_memory_equal(st->t.data, nn_graph_param(cnn, "stem.conv.weight")->t.data, st->t.numel * sizeof(float));
    assert_int_equal(nn_graph_num_trainable(a), nn_graph_num_trainable(cnn));
    nn_graph_free(a);
    /* a biased conv (after the first) is refused by name */
    cnn->nodes[nn_graph_find(cnn, "layer1.0.a.conv")].bias = 1;
    assert_null(cmp_to_adder(cnn, 0.2f, 3, &e));
    assert_non_null(strstr(e.msg, "layer1.0.a.conv"));
    nn_graph_free(cnn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_adder_formulas), cmocka_unit_test(test_adder_zoo_counts),
                                       cmocka_unit_test(test_to_adder)};
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
