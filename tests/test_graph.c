/* Graph IR: zoo shapes and counts, JSON + safetensors round trip, JSON
 * errors with their paths, forward hooks (BN-input statistics), fusion
 * giving the same numbers as the unfused graph. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph.h"
#include "nn/io.h"
#include "nn/json.h"
#include "nn/zoo.h"
#include "testutil.h"

#define C TU_CTX /* the suite's shared context (testutil) */

static nn_tensor *rand_input(const nn_graph *g, int n, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    nn_tensor *x = nn_new4(&C, n, g->in_shape[0], g->in_shape[1], g->in_shape[2]);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    return x;
}

static void test_zoo(void **s)
{
    (void)s;
    const char *names[] = {"resnet20", "resnet32", "resnet56", "vgg_small", "mobilenetv2", "densenet_bc"};
    const int shapes[2][3] = {{1, 28, 28}, {3, 32, 32}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        for (int k = 0; k < 2; k++) {
            nn_err e;
            nn_graph *g = nn_zoo_build(names[i], shapes[k][0], shapes[k][1], shapes[k][2], 10, 1, &e);
            assert_non_null(g);
            nn_ctx_reset(&C);
            C.training = 1;
            nn_tensor *y = nn_graph_forward(g, &C, rand_input(g, 2, 3), NULL);
            assert_int_equal(y->ndim, 2);
            assert_int_equal(y->shape[0], 2);
            assert_int_equal(y->shape[1], 10);
            for (size_t j = 0; j < y->numel; j++) assert_true(isfinite(y->data[j]));
            nn_graph_free(g);
        }
    nn_err e;
    /* ResNet-20 with 1x1 shortcuts, 10 classes: 0.27 M parameters; MACs on
     * 32x32 (40.8 M) match the literature's ~41 M for CIFAR ResNet-20. */
    nn_graph *g = nn_zoo_build("resnet20", 3, 32, 32, 10, 1, &e);
    assert_int_equal(nn_graph_num_trainable(g), 272474);
    assert_true(fabs(nn_graph_macs(g) / 1e6 - 40.8) < 0.1);
    nn_graph_free(g);
    assert_null(nn_zoo_build("resnet21", 1, 28, 28, 10, 1, &e));
    assert_non_null(strstr(e.msg, "unknown zoo model 'resnet21'"));
}

static void test_roundtrip(void **s)
{
    (void)s;
    nn_err e;
    nn_graph *g = nn_zoo_build("resnet20", 1, 28, 28, 10, 5, &e);
    g->mean[0] = 0.25f;
    g->std[0] = 0.5f;
    /* make running stats non-trivial */
    nn_ctx_reset(&C);
    C.training = 1;
    nn_graph_forward(g, &C, rand_input(g, 8, 9), NULL);
    assert_int_equal(nn_graph_save(g, "/tmp/datafree_test_rt.json", &e), NN_OK);
    nn_graph *h = nn_graph_load("/tmp/datafree_test_rt.json", &e);
    assert_non_null(h);
    assert_int_equal(h->np, g->np);
    assert_true(h->mean[0] == 0.25f && h->std[0] == 0.5f);
    assert_memory_equal(h->blob, g->blob, g->blob_len * sizeof(float));
    C.training = 0;
    nn_ctx_reset(&C);
    nn_tensor *x = rand_input(g, 4, 11);
    nn_tensor *a = nn_graph_forward(g, &C, x, NULL), *b = nn_graph_forward(h, &C, x, NULL);
    assert_memory_equal(a->data, b->data, a->numel * sizeof(float));
    C.training = 1;
    /* the safetensors header is what other readers expect */
    size_t len;
    char *buf = nn_read_file("/tmp/datafree_test_rt.safetensors", &len, &e);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)(unsigned char)buf[i] << (8 * i);
    assert_true(hl % 8 == 0 && 8 + hl <= len);
    cJSON *hdr = cJSON_ParseWithLength(buf + 8, hl);
    cJSON *w = cJSON_GetObjectItem(hdr, "stem.conv.weight");
    assert_non_null(w);
    assert_string_equal(cJSON_GetObjectItem(w, "dtype")->valuestring, "F32");
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(w, "shape"), 0)->valueint, 16);
    assert_int_equal(8 + hl + g->blob_len * 4, len); /* data section holds exactly all parameters */
    cJSON_Delete(hdr);
    free(buf);
    /* a shape mismatch is reported with the tensor's name */
    nn_graph *v = nn_zoo_build("resnet20", 1, 28, 28, 7, 5, &e);
    assert_int_equal(nn_graph_load_params(v, "/tmp/datafree_test_rt.safetensors", &e), NN_ERR);
    assert_non_null(strstr(e.msg, "fc.weight"));
    nn_graph_free(v);
    nn_graph_free(g);
    nn_graph_free(h);
}

static void expect_json_error(const char *json, const char *needle)
{
    nn_err e;
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    nn_graph *g = nn_graph_from_json(j, "$", &e);
    cJSON_Delete(j);
    if (g) {
        print_error("expected an error containing '%s' for %s\n", needle, json);
        nn_graph_free(g);
        fail();
    }
    if (!strstr(e.msg, needle)) {
        print_error("error '%s' does not contain '%s'\n", e.msg, needle);
        fail();
    }
}

static void test_json_errors(void **s)
{
    (void)s;
    expect_json_error("{\"input\":[1,8,8],\"nodes\":[{\"name\":\"c\",\"op\":\"conv3d\"}]}", "$.nodes[0].op: unknown op 'conv3d'");
    expect_json_error("{\"input\":[1,8,8],\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\",\"out_channels\":4,\"kernel\":3,\"strid\":2}]}",
                      "$.nodes[0].strid: unknown key");
    expect_json_error("{\"input\":[1,8,8],\"nodes\":[{\"name\":\"c\",\"op\":\"relu\",\"inputs\":[\"x\"]}]}",
                      "$.nodes[0].inputs[0]: no earlier node named 'x'");
    expect_json_error("{\"input\":[1,8,8],\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\",\"out_channels\":4,\"kernel\":11}]}",
                      "kernel 11 (dilation 1) does not fit input 8x8");
    expect_json_error("{\"input\":[1,8,8],\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\",\"out_channels\":\"4\",\"kernel\":3}]}",
                      "$.nodes[0].out_channels: expected an integer");
    expect_json_error("{\"input\":[1,8,8],\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\",\"kernel\":3}]}",
                      "$.nodes[0].out_channels: required field is missing");
    expect_json_error("{\"input\":[8,8],\"nodes\":[{\"name\":\"c\",\"op\":\"relu\"}]}", "$.input: expected [channels");
    expect_json_error("{\"input\":[1,8,8],\"nodes\":[{\"name\":\"a\",\"op\":\"conv2d\",\"out_channels\":4,\"kernel\":3},"
                      "{\"name\":\"b\",\"op\":\"add\",\"inputs\":[\"a\",\"input\"]}]}",
                      "node 'b': add of 'a'");
    expect_json_error("{\"input\":[1,8,8],\"nodes\":[{\"name\":\"a\",\"op\":\"relu\"},{\"name\":\"a\",\"op\":\"relu\"}]}",
                      "$.nodes[1].name: a node named 'a' already exists");
    expect_json_error("{\"input\":[1,8,8],\"version\":2,\"nodes\":[{\"name\":\"a\",\"op\":\"relu\"}]}", "$.version: 2 is not supported");
}

/* ---- hooks: BN input statistics ---- */

typedef struct {
    int found;
    float mean0, var0;
    nn_ctx *c;
} bn_obs;

static void bn_hook(void *user, const nn_graph *g, int node, nn_tensor **in, nn_tensor *out)
{
    (void)out;
    bn_obs *o = user;
    if (g->nodes[node].op != NN_OP_BN || o->found) return;
    nn_tensor *m = nn_channel_moments(o->c, in[0]);
    o->mean0 = m->data[0];
    o->var0 = m->data[m->shape[1]];
    o->found = 1;
}

static void test_bn_hook(void **s)
{
    (void)s;
    nn_err e;
    nn_graph *g = nn_zoo_build("resnet20", 1, 8, 8, 10, 5, &e);
    nn_ctx_reset(&C);
    nn_tensor *x = rand_input(g, 3, 4);
    bn_obs o = {0, 0, 0, &C};
    nn_tensor *outs[256];
    nn_fwd_opts opt = {.hook = bn_hook, .user = &o, .outputs = outs};
    nn_graph_forward(g, &C, x, &opt);
    assert_true(o.found);
    /* by hand: the first BN's input is the stem conv output, channel 0 */
    nn_tensor *conv = outs[nn_graph_find(g, "stem.conv")];
    double sm = 0, sv = 0;
    const int HW = 64, Cc = conv->shape[1];
    for (int n = 0; n < 3; n++)
        for (int i = 0; i < HW; i++) sm += conv->data[(size_t)n * Cc * HW + i];
    sm /= 3 * HW;
    for (int n = 0; n < 3; n++)
        for (int i = 0; i < HW; i++) {
            double d = conv->data[(size_t)n * Cc * HW + i] - sm;
            sv += d * d;
        }
    sv /= 3 * HW; /* biased, as BN uses */
    assert_true(fabs(o.mean0 - sm) < 1e-5 && fabs(o.var0 - sv) < 1e-5 * (1 + sv));
    nn_graph_free(g);
}

/* Fused execution gives the same outputs, gradients and running statistics
 * as the unfused graph (forced by asking for every node's output), in each
 * mode: training (BN+ReLU, add+ReLU, BN statistics from the conv epilogue),
 * eval with a tape, and inference (BN folded into the conv, ReLU in its
 * epilogue). */
static void test_fusion_equivalence(void **s)
{
    (void)s;
    nn_err e;
    nn_graph *g = nn_zoo_build("resnet20", 1, 12, 12, 10, 5, &e);
    int labels[4] = {1, 2, 3, 4};
    float *grad0 = malloc(g->train_len * sizeof(float)), *blob0 = malloc(g->blob_len * sizeof(float));
    float *stats0 = malloc(g->blob_len * sizeof(float));
    /* non-trivial BN affine parameters and running statistics first */
    nn_rng r;
    nn_rng_seed(&r, 77);
    for (int i = 0; i < g->np; i++)
        if (strstr(g->params[i].name, "bn.weight") || strstr(g->params[i].name, "bn.bias"))
            for (size_t q = 0; q < g->params[i].t.numel; q++) g->params[i].t.data[q] += 0.3f * nn_rng_normal(&r);
    nn_ctx_reset(&C);
    C.training = 1;
    nn_graph_forward(g, &C, rand_input(g, 8, 1), NULL);
    memcpy(blob0, g->blob, g->blob_len * sizeof(float));
    const char *mode_name[3] = {"training", "eval with tape", "inference"};
    for (int mode = 0; mode < 3; mode++) {
        float out0[40];
        for (int pass = 0; pass < 2; pass++) {
            memcpy(g->blob, blob0, g->blob_len * sizeof(float));
            nn_ctx_reset(&C);
            C.training = mode == 0;
            C.grad_enabled = mode < 2;
            nn_tensor *outs[256];
            nn_fwd_opts opt = {.outputs = outs};
            nn_tensor *y = nn_graph_forward(g, &C, rand_input(g, 4, 8), pass ? &opt : NULL);
            if (mode < 2) {
                nn_graph_zero_grad(g);
                nn_backward(&C, nn_cross_entropy(&C, y, labels, 0.0f));
            }
            char what[96];
            if (!pass) {
                memcpy(grad0, g->grad, g->train_len * sizeof(float));
                memcpy(stats0, g->blob, g->blob_len * sizeof(float));
                memcpy(out0, y->data, sizeof out0);
                continue;
            }
            snprintf(what, sizeof what, "%s: fused vs unfused output", mode_name[mode]);
            tu_close(y->data, out0, 40, 1e-5f, 1e-4f, what);
            if (mode < 2) {
                snprintf(what, sizeof what, "%s: fused vs unfused gradient", mode_name[mode]);
                tu_close(g->grad, grad0, g->train_len, 1e-5f, 1e-3f, what);
            }
            snprintf(what, sizeof what, "%s: running statistics", mode_name[mode]);
            tu_close(g->blob + g->train_len, stats0 + g->train_len, g->blob_len - g->train_len, 1e-6f, 1e-4f, what);
        }
    }
    C.training = 1;
    C.grad_enabled = 1;
    free(grad0);
    free(blob0);
    free(stats0);
    nn_graph_free(g);
}

/* Initialisers give the documented spread: Kaiming-normal std sqrt(2/fan_out)
 * for convs, Xavier-uniform variance 2/(fan_in+fan_out). */
static void test_init(void **s)
{
    (void)s;
    nn_err e;
    nn_graph *g = nn_zoo_build("resnet20", 1, 28, 28, 10, 5, &e);
    for (int kind = 0; kind < 2; kind++) {
        nn_graph_init_params(g, 9, (nn_init_kind)kind);
        nn_tensor *w = &nn_graph_param(g, "layer3.1.a.conv.weight")->t; /* 64x64x3x3 */
        double s2 = 0.0;
        for (size_t i = 0; i < w->numel; i++) s2 += (double)w->data[i] * w->data[i];
        double var = s2 / (double)w->numel, want = kind == NN_INIT_KAIMING ? 2.0 / 576.0 : 2.0 / (576.0 + 576.0);
        if (fabs(var / want - 1.0) > 0.05) {
            print_error("init kind %d: variance %.3g, expected %.3g\n", kind, var, want);
            fail();
        }
    }
    nn_graph_free(g);
}

/* Categorical conditional BN from JSON: each sample uses its class's
 * gamma/beta; labels are required. */
static void test_cond_bn(void **s)
{
    (void)s;
    nn_graph *g = tu_graph_json("{\"input\":[2,3,3],\"nodes\":[{\"name\":\"cbn\",\"op\":\"cond_batchnorm\",\"num_classes\":3}]}");
    nn_tensor *gam = &nn_graph_param(g, "cbn.weight")->t, *bet = &nn_graph_param(g, "cbn.bias")->t;
    assert_int_equal(gam->shape[0] * 10 + gam->shape[1], 32);
    for (int k = 0; k < 3; k++)
        for (int ch = 0; ch < 2; ch++) {
            gam->data[k * 2 + ch] = (float)(k + 1);
            bet->data[k * 2 + ch] = (float)(10 * k);
        }
    nn_ctx_reset(&C);
    C.training = 1;
    nn_tensor *x = rand_input(g, 2, 3);
    int labels[2] = {2, 0};
    nn_fwd_opts opt = {.labels = labels};
    nn_tensor *y = nn_graph_forward(g, &C, x, &opt);
    nn_tensor *z = nn_batchnorm(&C, x, NULL, NULL, NULL, NULL, (nn_bn_attr){.eps = 1e-5f, .momentum = 0.1f});
    for (int i = 0; i < 36; i++) { /* sample 0 (class 2): 3*z + 20; sample 1 (class 0): z + 0 */
        float want = i < 18 ? 3.0f * z->data[i] + 20.0f : z->data[i];
        assert_true(fabsf(y->data[i] - want) < 1e-5f);
    }
    nn_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_zoo), cmocka_unit_test(test_roundtrip),
                                       cmocka_unit_test(test_json_errors), cmocka_unit_test(test_bn_hook),
                                       cmocka_unit_test(test_fusion_equivalence),
                                       cmocka_unit_test(test_init), cmocka_unit_test(test_cond_bn)};
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
