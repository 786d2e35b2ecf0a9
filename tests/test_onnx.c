/* ONNX import: PyTorch-exported ResNet-20, MobileNetV2-style, DenseNet-style
 * and pattern nets (opsets 11 and 17) give PyTorch's outputs; malformed
 * files give one-line errors, never crashes. Files and vectors from
 * tests/vectors/make_onnx.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/quant.h"
#include "nn/io.h"
#include "nn/onnx.h"
#include "nn/zoo.h"
#include "testutil.h"

#define C TU_CTX

static void test_pytorch_outputs(void **s)
{
    (void)s;
    nn_err e;
    nn_st_file f;
    assert_int_equal(nn_st_open(&f, "tests/vectors/onnx_io.safetensors", &e), NN_OK);
    int nd, sh[4], osh[4];
    const float *x = nn_st_get(&f, "input", &nd, sh, &e);
    assert_non_null(x);
    const char *nets[] = {"resnet20", "mobilenet", "densenet", "patterns"};
    for (int k = 0; k < 4; k++)
        for (int op = 11; op <= 17; op += 6) {
            char path[256], key[64];
            snprintf(path, sizeof path, "tests/vectors/onnx/%s_op%d.onnx", nets[k], op);
            nn_graph *g = nn_onnx_load(path, &e);
            if (!g) {
                print_error("%s\n", e.msg);
                fail();
            }
            int bns = 0;
            for (int i = 0; i < g->n; i++) bns += g->nodes[i].op == NN_OP_BN;
            assert_true(bns > 0); /* BN statistics survive the import */
            snprintf(key, sizeof key, "%s_op%d.output", nets[k], op);
            const float *want = nn_st_get(&f, key, &nd, osh, &e);
            assert_non_null(want);
            nn_ctx_reset(&C);
            C.training = 0;
            C.grad_enabled = 0;
            nn_tensor *in = nn_view(&C, (float *)x, 4, sh);
            nn_tensor *y = nn_graph_forward(g, &C, in, NULL);
            assert_int_equal(y->numel, (size_t)osh[0] * osh[1]);
            float worst = 0.0f;
            for (size_t i = 0; i < y->numel; i++) worst = fmaxf(worst, fabsf(y->data[i] - want[i]));
            if (!(worst <= 1e-4f)) {
                print_error("%s: max abs difference %g from PyTorch\n", path, worst);
                fail();
            }
            nn_graph_free(g);
        }
    /* initializers in an external data file beside the model */
    nn_graph *g = nn_onnx_load("tests/vectors/onnx/external/resnet20_ext.onnx", &e);
    if (!g) {
        print_error("%s\n", e.msg);
        fail();
    }
    nn_ctx_reset(&C);
    C.training = 0;
    C.grad_enabled = 0;
    nn_tensor *y = nn_graph_forward(g, &C, nn_view(&C, (float *)x, 4, sh), NULL);
    tu_close(y->data, nn_st_get(&f, "resnet20_op17.output", &nd, osh, &e), y->numel, 1e-4f, 0.0f, "external data");
    nn_graph_free(g);
    /* ... and the same bytes given from memory, with no folder to read from, are refused */
    size_t len;
    char *buf = nn_read_file("tests/vectors/onnx/external/resnet20_ext.onnx", &len, &e);
    assert_non_null(buf);
    assert_null(nn_onnx_parse((const uint8_t *)buf, len, NULL, &e));
    assert_non_null(strstr(e.msg, "external data"));
    free(buf);
    nn_st_close(&f);
}

/* The imported ResNet-20 is the native one: with the same parameters, the
 * same training-mode loss and gradients on the same batch. */
static void test_trains_like_native(void **s)
{
    (void)s;
    nn_err e;
    nn_graph *a = nn_onnx_load("tests/vectors/onnx/resnet20_op17.onnx", &e);
    assert_non_null(a);
    nn_graph *b = nn_zoo_build("resnet20", 1, 28, 28, 10, 1, &e);
    assert_non_null(b);
    assert_int_equal(a->np, b->np);
    for (int i = 0; i < a->np; i++) { /* same layer order: copy by position */
        assert_int_equal(a->params[i].t.numel, b->params[i].t.numel);
        memcpy(b->params[i].t.data, a->params[i].t.data, a->params[i].t.numel * sizeof(float));
    }
    nn_st_file f;
    assert_int_equal(nn_st_open(&f, "tests/vectors/onnx_io.safetensors", &e), NN_OK);
    int nd, sh[4];
    const float *x = nn_st_get(&f, "input", &nd, sh, &e);
    const int labels[3] = {1, 7, 3};
    float loss[2];
    for (int k = 0; k < 2; k++) {
        nn_graph *g = k ? b : a;
        nn_ctx_reset(&C);
        C.training = 1;
        C.grad_enabled = 1;
        nn_tensor *l = nn_cross_entropy(&C, nn_graph_forward(g, &C, nn_view(&C, (float *)x, 4, sh), NULL), labels, 0.0f);
        loss[k] = l->data[0];
        nn_graph_zero_grad(g);
        nn_backward(&C, l);
    }
    tu_close(&loss[0], &loss[1], 1, 1e-6f, 1e-6f, "training loss, imported vs native");
    tu_close(a->grad, b->grad, a->train_len, 1e-6f, 1e-5f, "gradients, imported vs native");
    nn_st_close(&f);
    nn_graph_free(a);
    nn_graph_free(b);
}

static void expect_error(const uint8_t *buf, size_t len, const char *needle)
{
    nn_err e = {0};
    nn_graph *g = nn_onnx_parse(buf, len, NULL, &e);
    if (g) {
        nn_graph_free(g);
        print_error("expected an error containing '%s'\n", needle ? needle : "(anything)");
        fail();
    }
    assert_true(strlen(e.msg) > 0 && !strchr(e.msg, '\n'));
    if (needle && !strstr(e.msg, needle)) {
        print_error("error '%s' does not contain '%s'\n", e.msg, needle);
        fail();
    }
}

static void test_malformed(void **s)
{
    (void)s;
    nn_err e;
    size_t len;
    uint8_t *buf = (uint8_t *)nn_read_file("tests/vectors/onnx/patterns_op17.onnx", &len, &e);
    assert_non_null(buf);
    /* every truncation is an error, never a crash */
    for (size_t cut = 0; cut < len; cut += 1 + cut / 50) expect_error(buf, cut, NULL);
    /* flipped bytes: error or a graph, never a crash (the fuzz target does this at scale) */
    uint8_t *m = nn_xmalloc(len);
    nn_rng r;
    nn_rng_seed(&r, 3);
    for (int t = 0; t < 300; t++) {
        memcpy(m, buf, len);
        for (int k = 0; k < 4; k++) m[nn_rng_u64(&r) % len] = (uint8_t)nn_rng_u64(&r);
        nn_err e2 = {0};
        nn_graph *g = nn_onnx_parse(m, len, NULL, &e2);
        nn_graph_free(g);
    }
    free(m);
    /* a huge declared length: field 7 (graph), length 2^62 */
    const uint8_t huge[] = {0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40};
    expect_error(huge, sizeof huge, "ModelProto");
    /* a wrong wire type: field 7 as a varint */
    const uint8_t wire[] = {0x38, 0x01};
    expect_error(wire, sizeof wire, "ModelProto");
    expect_error((const uint8_t *)"", 0, "no graph");
    free(buf);
    /* unknown op and a missing initializer: edit real files' strings in place */
    buf = (uint8_t *)nn_read_file("tests/vectors/onnx/patterns_op17.onnx", &len, &e);
    for (size_t i = 0; i + 7 < len; i++)
        if (!memcmp(buf + i, "Sigmoid", 7)) memcpy(buf + i, "Sigmoix", 7);
    expect_error(buf, len, "Sigmoix' is not supported");
    free(buf);
    buf = (uint8_t *)nn_read_file("tests/vectors/onnx/patterns_op17.onnx", &len, &e);
    size_t hit = 0;
    for (size_t i = 0; i + 9 < len; i++)
        if (!memcmp(buf + i, "c2.weight", 9)) {
            if (!hit) hit = i;
        }
    assert_true(hit > 0);
    buf[hit] = 'X'; /* the first occurrence: the node's input name (before the initializer) */
    expect_error(buf, len, "missing");
    free(buf);
}

/* A model trained elsewhere (tests/vectors/make_fmnist_onnx.py: PyTorch, one
 * epoch), imported: the same Fashion-MNIST test accuracy as ONNX Runtime's
 * (on the eval-mode export), from the BN-folded and the BN-keeping export. */
static void test_matches_onnxruntime(void **s)
{
    (void)s;
    const char *data = tu_fmnist();
    if (!data) skip();
    if (!nn_file_exists("tests/ort/node_modules/onnxruntime-node/package.json")) {
        print_message("ONNX Runtime is not installed (cd tests/ort && npm install --ignore-scripts onnxruntime-node): "
                      "skipping the comparison\n");
        skip();
    }
    /* ONNX Runtime on the eval-mode export; the training-mode export (BN kept,
     * which ORT would run with batch statistics) must import to the same accuracy */
    assert_int_equal(tu_sh("node tests/ort/eval_fmnist.js tests/vectors/onnx/fmnist_cnn.onnx %s 0.2860 0.3530", data), 0);
    const double ort = tu_out_number("accuracy");
    const char *models[] = {"tests/vectors/onnx/fmnist_cnn.onnx", "tests/vectors/onnx/fmnist_cnn_bn.onnx"};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tu_sh("%s eval --model %s --data %s --mean 0.2860 --std 0.3530 --json", tu_bin(), models[k], data), 0);
        const double ours = tu_out_number("accuracy");
        if (!(ort > 0.5 && fabs(ours - ort) <= 1e-4 + 1e-9)) { /* at most one of 10,000 images may differ (ties) */
            print_error("%s: datafree %.4f vs ONNX Runtime %.4f\n", models[k], ours, ort);
            fail();
        }
    }
}

/* Writing ONNX: zoo models (with random BN statistics) survive the round
 * trip exactly; the shipped teacher, written as ONNX, gets the same
 * Fashion-MNIST accuracy from ONNX Runtime as from datafree. */
static void test_export_round_trip(void **s)
{
    (void)s;
    nn_err e;
    const char *zoo[] = {"resnet20", "mobilenetv2", "densenet_bc", "vgg_small"};
    nn_rng r;
    nn_rng_seed(&r, 9);
    for (int k = 0; k < 4; k++) {
        nn_graph *a = nn_zoo_build(zoo[k], 1, 28, 28, 10, 2, &e);
        assert_non_null(a);
        for (int i = 0; i < a->np; i++)
            if (strstr(a->params[i].name, "running_"))
                for (size_t q = 0; q < a->params[i].t.numel; q++) a->params[i].t.data[q] = 0.5f + nn_rng_uniform(&r);
        assert_int_equal(nn_onnx_save(a, "/tmp/datafree_rt.onnx", &e), NN_OK);
        nn_graph *b = nn_onnx_load("/tmp/datafree_rt.onnx", &e);
        if (!b) {
            print_error("%s: %s\n", zoo[k], e.msg);
            fail();
        }
        assert_int_equal(nn_graph_num_trainable(a), nn_graph_num_trainable(b));
        nn_tensor *x = tu_eval_input(&r, 2, 1, 28, 28);
        nn_tensor *ya = nn_graph_forward(a, &C, x, NULL), *yb = nn_graph_forward(b, &C, x, NULL);
        tu_close(yb->data, ya->data, ya->numel, 1e-6f, 1e-6f, zoo[k]);
        nn_graph_free(a);
        nn_graph_free(b);
    }
    /* ONNX -> model.json through the CLI; quantized models are refused with a clear message */
    assert_int_equal(tu_sh("%s convert tests/vectors/onnx/resnet20_op17.onnx /tmp/datafree_rt.json --mean 0.5 --std 0.25",
                           tu_bin()), 0);
    nn_graph *fp = nn_graph_load("/tmp/datafree_rt.json", &e);
    assert_non_null(fp);
    assert_true(fp->mean[0] == 0.5f && fp->std[0] == 0.25f);
    cmp_quant_cfg q;
    cmp_quant_defaults(&q);
    nn_graph *qg = cmp_quantize_graph(fp, &q, &e);
    assert_non_null(qg);
    assert_int_equal(nn_onnx_save(qg, "/tmp/datafree_q.onnx", &e), NN_ERR);
    assert_non_null(strstr(e.msg, "quantized"));
    nn_graph_free(qg);
    nn_graph_free(fp);
    const char *data = tu_fmnist();
    if (!data || !nn_file_exists("tests/ort/node_modules/onnxruntime-node/package.json")) skip();
    assert_int_equal(tu_sh("%s convert results/teachers/resnet20_fmnist.json /tmp/datafree_teacher.onnx", tu_bin()), 0);
    assert_int_equal(tu_sh("node tests/ort/eval_fmnist.js /tmp/datafree_teacher.onnx %s 0.2860 0.3530", data), 0);
    const double ort = tu_out_number("accuracy");
    assert_int_equal(tu_sh("%s eval --model results/teachers/resnet20_fmnist.json --data %s --json", tu_bin(), data), 0);
    const double ours = tu_out_number("accuracy");
    if (!(ort > 0.9 && fabs(ours - ort) <= 1e-4 + 1e-9)) {
        print_error("teacher as ONNX: ONNX Runtime %.4f vs datafree %.4f\n", ort, ours);
        fail();
    }
}

static void test_cli(void **s)
{
    (void)s;
    /* inspect reads ONNX; eval takes the preprocessing on the command line */
    assert_int_equal(tu_sh("%s inspect tests/vectors/onnx/resnet20_op17.onnx --json", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "\"params\":272186"));
    const char *data = tu_fmnist();
    if (data) {
        assert_int_equal(tu_sh("%s eval --model tests/vectors/onnx/resnet20_op11.onnx --data %s --limit 100 --mean 0.2860 "
                               "--std 0.3530 --json", tu_bin(), data), 0);
        assert_true(tu_out_number("accuracy") >= 0.0);
        assert_int_equal(tu_sh("%s eval --model tests/vectors/onnx/resnet20_op11.onnx --data %s --std 0,1", tu_bin(), data), 2);
    }
    /* an eval-mode export has its BN folded away: reconstruction says how to re-export */
    tu_write_text("/tmp/datafree_fold.json", "{\"teacher\":\"tests/vectors/onnx/resnet20_folded.onnx\",\"source\":"
                                             "{\"type\":\"generator\"},\"schedule\":{\"epochs\":1},"
                                             "\"output\":{\"dir\":\"/tmp/datafree_fold\"}}");
    assert_int_equal(tu_sh("%s reconstruct /tmp/datafree_fold.json", tu_bin()), 1);
    assert_non_null(strstr(TU_OUT, "TrainingMode.TRAINING"));
    /* data-free w8a8 of a PyTorch-trained ONNX teacher; its preprocessing must be stated */
    if (data) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg,
                 "{\"teacher\":\"tests/vectors/onnx/fmnist_cnn_bn.onnx\",\"data\":{\"path\":\"%s\",\"test_limit\":1000},"
                 "\"quant\":{\"wbits\":8,\"abits\":8},\"source\":{\"type\":\"generator\"},\"generator\":{\"width\":32,"
                 "\"lr\":0.01},\"schedule\":{\"epochs\":1,\"iters_per_epoch\":20,\"batch_size\":32,\"calib_epochs\":1,"
                 "\"fine_tune\":false},\"threads\":2,\"output\":{\"dir\":\"/tmp/datafree_onnx_q\"}}",
                 data);
        tu_write_text("/tmp/datafree_onnx_q.json", cfg);
        assert_int_equal(tu_sh("%s quantize /tmp/datafree_onnx_q.json", tu_bin()), 1);
        assert_non_null(strstr(TU_OUT, "$.preprocess"));
        tu_sh("sed -i 's/\"quant\"/\"preprocess\":{\"mean\":[0.2860],\"std\":[0.3530]},\"quant\"/' /tmp/datafree_onnx_q.json");
        assert_int_equal(tu_sh("%s quantize /tmp/datafree_onnx_q.json --json", tu_bin()), 0);
        const double acc = tu_out_number("test_accuracy"), teacher = tu_out_number("teacher_accuracy");
        assert_true(teacher > 0.7 && acc > teacher - 0.015);
    }
    assert_int_equal(tu_sh("%s inspect /tmp/datafree_missing.onnx", tu_bin()), 1);
    assert_non_null(strstr(TU_OUT, "datafree_missing.onnx"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pytorch_outputs), cmocka_unit_test(test_trains_like_native),
                                       cmocka_unit_test(test_malformed),
                                       cmocka_unit_test(test_matches_onnxruntime), cmocka_unit_test(test_export_round_trip),
                                       cmocka_unit_test(test_cli)};
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
