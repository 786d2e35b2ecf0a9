/* Data-free quantization: one GDFQ step (generator loss with the BN hooks,
 * its gradients; the w4a4 student's KD loss and gradients) against PyTorch
 * (tests/vectors/make_gdfq.py); the quantized-graph transform; and the
 * reconstruct/quantize commands end to end on a tiny real teacher. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/kd.h"
#include "compress/quant.h"
#include "generators/gdfq.h"
#include "generators/recon.h"
#include "nn/io.h"
#include "nn/json.h"
#include "nn/data.h"
#include "runners/cli.h"
#include "runners/gensrc.h"
#include "testutil.h"

#define C TU_CTX

static nn_st_file V;

static const float *vec(const char *name, size_t *n)
{
    nn_err e;
    int nd, sh[4];
    const float *d = nn_st_get(&V, name, &nd, sh, &e);
    if (!d) {
        print_error("%s\n", e.msg);
        fail();
    }
    if (n) *n = nn_shape_numel(nd, sh);
    return d;
}

static void load_prefixed(nn_graph *g, const char *prefix)
{
    char name[200];
    for (int i = 0; i < g->np; i++) {
        size_t n;
        snprintf(name, sizeof name, "%s%s", prefix, g->params[i].name);
        const float *d = vec(name, &n);
        assert_int_equal(n, g->params[i].t.numel);
        memcpy(g->params[i].t.data, d, n * sizeof(float));
    }
}

static nn_graph *tiny_teacher(void)
{
    nn_err e;
    nn_graph *g = nn_graph_new("tiny", 1, 8, 8, 3);
    int x = nn_g_conv(g, "c1", 0, 4, 3, 1, 1, 1, 0);
    x = nn_g_act(g, "r1", NN_OP_RELU, nn_g_bn(g, "b1", x));
    x = nn_g_conv(g, "c2", x, 4, 3, 2, 1, 1, 0);
    x = nn_g_act(g, "r2", NN_OP_RELU, nn_g_bn(g, "b2", x));
    nn_g_linear(g, "fc", nn_g_unary(g, "gap", NN_OP_GAP, x), 3, 1);
    assert_int_equal(nn_graph_finalize(g, &e), NN_OK);
    return g;
}

static void grad_close(nn_graph *g, const char *param, const char *want, float atol, float rtol)
{
    nn_param *p = nn_graph_param(g, param);
    assert_non_null(p);
    size_t n;
    const float *w = vec(want, &n);
    assert_int_equal(n, p->t.numel);
    tu_close(p->t.grad, w, n, atol, rtol, want);
}

static void test_gdfq_step_parity(void **s)
{
    (void)s;
    nn_err e;
    if (nn_st_open(&V, "tests/vectors/gdfq_step.safetensors", &e)) {
        print_error("%s (run tests/vectors/make_gdfq.py)\n", e.msg);
        fail();
    }
    nn_graph *t = tiny_teacher();
    nn_graph *g = gen_gdfq_build(1, 8, 8, 3, 6, 8, 0, 1, &e);
    assert_non_null(g);
    load_prefixed(t, "t.");
    load_prefixed(g, "g.");
    nn_graph_set_trainable(t, 0);
    size_t n;
    const float *zf = vec("z", &n), *lf = vec("labels", NULL);
    int labels[5];
    for (int i = 0; i < 5; i++) labels[i] = (int)lf[i];

    /* generator step */
    nn_ctx_reset(&C);
    C.training = 1;
    C.grad_enabled = 1;
    nn_tensor *z = nn_new2(&C, 5, 6);
    memcpy(z->data, zf, n * sizeof(float));
    nn_fwd_opts go = {.labels = labels};
    nn_tensor *x = nn_graph_forward(g, &C, z, &go);
    tu_close(x->data, vec("x", NULL), x->numel, 1e-4f, 1e-4f, "generated images");
    gen_recon_out ro;
    gen_recon_loss(&C, t, x, labels, 0.1f, &ro);
    assert_true(C.training == 1); /* restored after the teacher's eval-mode pass */
    tu_close(ro.logits->data, vec("t_logits", NULL), 15, 1e-4f, 1e-4f, "teacher logits");
    tu_close(&ro.ce, vec("ce_g", NULL), 1, 1e-5f, 1e-4f, "CE term");
    tu_close(&ro.bns, vec("bns", NULL), 1, 1e-6f, 1e-4f, "BNS term");
    tu_close(ro.loss->data, vec("loss_g", NULL), 1, 1e-5f, 1e-4f, "L_G");
    nn_graph_zero_grad(g);
    nn_backward(&C, ro.loss);
    grad_close(g, "conv1.weight", "dg.conv1.weight", 1e-5f, 1e-3f);
    grad_close(g, "l1.weight", "dg.l1.weight", 1e-5f, 1e-3f);
    grad_close(g, "label_emb.weight", "dg.label_emb.weight", 1e-5f, 1e-3f);
    grad_close(g, "bn1.weight", "dg.bn1.weight", 1e-5f, 1e-3f);
    for (size_t i = 0; i < t->train_len; i++) assert_true(t->grad[i] == 0.0f); /* the teacher stays frozen */

    /* student step: w4a4 as GDFQ, ranges from this batch */
    cmp_quant_cfg q;
    cmp_quant_defaults(&q);
    nn_graph *st = cmp_quantize_graph(t, &q, &e);
    assert_non_null(st);
    nn_graph_set_trainable(st, 1);
    nn_ctx_reset(&C);
    C.training = 0;
    C.grad_enabled = 1;
    int sh[4] = {5, 1, 8, 8};
    nn_tensor *xs = nn_view(&C, (float *)vec("x", NULL), 4, sh);
    nn_fwd_opts so = {.observe = 1};
    nn_tensor *sl = nn_graph_forward(st, &C, xs, &so);
    tu_close(nn_graph_param(st, "r1_q.range")->t.data, vec("range0", NULL), 2, 1e-5f, 1e-5f, "range after ReLU 1");
    tu_close(nn_graph_param(st, "r2_q.range")->t.data, vec("range1", NULL), 2, 1e-5f, 1e-5f, "range after ReLU 2");
    tu_close(sl->data, vec("s_logits", NULL), 15, 1e-4f, 1e-4f, "student logits");
    nn_tensor *tl = nn_view(&C, (float *)vec("t_logits", NULL), 2, (int[]){5, 3});
    nn_tensor *ls = cmp_kd_loss(&C, sl, tl, labels, (cmp_kd){.temperature = 20.0f, .alpha = 1.0f, .batchmean = 0});
    tu_close(ls->data, vec("loss_s", NULL), 1, 1e-5f, 1e-4f, "L_S");
    nn_graph_zero_grad(st);
    nn_backward(&C, ls);
    grad_close(st, "c1.weight", "ds.c1.weight", 1e-5f, 1e-3f);
    grad_close(st, "c2.weight", "ds.c2.weight", 1e-5f, 1e-3f);
    grad_close(st, "fc.weight", "ds.fc.weight", 1e-5f, 1e-3f);
    grad_close(st, "b1.weight", "ds.b1.weight", 1e-5f, 1e-3f);
    nn_graph_free(st);
    nn_graph_free(g);
    nn_graph_free(t);
    nn_st_close(&V);
}

/* The transform: fake_quant after every ReLU, weight bits on every
 * conv/linear (first/last override), BN folding keeps the function. */
static void test_quantize_graph(void **s)
{
    (void)s;
    nn_err e;
    nn_graph *t = tiny_teacher();
    nn_graph_init_params(t, 3, NN_INIT_KAIMING);
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (int i = 0; i < t->np; i++) /* non-trivial BN statistics */
        if (strstr(t->params[i].name, "running_var"))
            for (size_t k = 0; k < t->params[i].t.numel; k++) t->params[i].t.data[k] = 0.5f + nn_rng_uniform(&r);
    cmp_quant_cfg q;
    cmp_quant_defaults(&q);
    q.wbits = 8;
    q.abits = 8;
    q.first_bits = 6;
    q.last_bits = 5;
    q.quant_fc_input = 1;
    nn_graph *a = cmp_quantize_graph(t, &q, &e);
    assert_non_null(a);
    int fq = 0;
    for (int i = 0; i < a->n; i++) fq += a->nodes[i].op == NN_OP_FAKE_QUANT;
    assert_int_equal(fq, 3); /* after r1, r2, and on the FC input */
    assert_int_equal(a->nodes[nn_graph_find(a, "c1")].qbits, 6);
    assert_int_equal(a->nodes[nn_graph_find(a, "c2")].qbits, 8);
    assert_int_equal(a->nodes[nn_graph_find(a, "fc")].qbits, 5);
    /* save/load keeps the quantization (and the calibrated ranges) */
    nn_ctx_reset(&C);
    C.training = 0;
    C.grad_enabled = 0;
    nn_tensor *x = nn_new4(&C, 4, 1, 8, 8);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    nn_fwd_opts ob = {.observe = 1};
    nn_tensor *ya = nn_graph_forward(a, &C, x, &ob);
    assert_int_equal(nn_graph_save(a, "/tmp/datafree_q.json", &e), NN_OK);
    nn_graph *b = nn_graph_load("/tmp/datafree_q.json", &e);
    assert_non_null(b);
    nn_tensor *yb = nn_graph_forward(b, &C, x, NULL);
    tu_close(yb->data, ya->data, ya->numel, 1e-5f, 1e-5f, "reloaded quantized model");
    /* BN folding: the float function is unchanged at 16 bits */
    cmp_quant_cfg f;
    cmp_quant_defaults(&f);
    f.wbits = f.abits = 8;
    f.bn_fold = 1;
    nn_graph *fold = cmp_quantize_graph(t, &f, &e);
    assert_non_null(fold);
    int bns = 0;
    for (int i = 0; i < fold->n; i++) bns += fold->nodes[i].op == NN_OP_BN;
    assert_int_equal(bns, 0);
    for (int i = 0; i < fold->n; i++)
        if (fold->nodes[i].op == NN_OP_CONV || fold->nodes[i].op == NN_OP_LINEAR) fold->nodes[i].qbits = 16;
        else if (fold->nodes[i].op == NN_OP_FAKE_QUANT) fold->nodes[i].qbits = 16;
    nn_tensor *yf = nn_graph_forward(fold, &C, x, &ob);
    nn_tensor *yt = nn_graph_forward(t, &C, x, NULL);
    tu_close(yf->data, yt->data, yt->numel, 2e-3f, 2e-3f, "BN-folded at 16 bits vs float");
    nn_graph_free(fold);
    nn_graph_free(b);
    nn_graph_free(a);
    nn_graph_free(t);
}

static void check_integer_export(const char *model, const char *data)
{
    assert_int_equal(tu_sh("%s eval --model %s --data %s --limit 500 --integer --logits /tmp/datafree_dfq_int.bin --json",
                           tu_bin(), model, data), 0);
    const double ia = tu_out_number("integer_accuracy"), fa = tu_out_number("fake_quant_accuracy"),
                 ag = tu_out_number("top1_agreement"), dl = tu_out_number("mean_abs_logit_diff");
    /* rounding flips aside the integers are the float model's numbers: a wrong
     * scale, constant or border term moves the logits by far more than 1e-3 */
    if (ag < 0.995 || fabs(ia - fa) > 0.004 || !(dl < 1e-3)) {
        print_error("%s: integer %.4f vs fake-quant %.4f, agreement %.4f, mean logit difference %g\n", model, ia, fa,
                    ag, dl);
        fail();
    }
    tu_write_idx_subset(data, 500, "/tmp/datafree_dfq_500-images", "/tmp/datafree_dfq_500-labels");
    tu_sh("rm -rf /tmp/datafree_dfq_exp");
    assert_int_equal(
        tu_sh("%s export --model %s --target c,cuda,hls,onnx-qdq,qonnx --out /tmp/datafree_dfq_exp", tu_bin(), model), 0);
    /* the CUDA code, built as C++ with its kernels run as loops over the grid
     * (make emu; no GPU here), and with nvcc where it exists */
    assert_int_equal(tu_sh("cd /tmp/datafree_dfq_exp/cuda && make -s emu && ./infer-emu /tmp/datafree_dfq_500-images "
                           "/tmp/datafree_dfq_500-labels --logits /tmp/datafree_dfq_cuda.bin"),
                     0);
    if (tu_sh("cmp /tmp/datafree_dfq_cuda.bin /tmp/datafree_dfq_int.bin")) {
        print_error("%s: the CUDA code (emulated) differs from the interpreter: %s\n", model, TU_OUT);
        fail();
    }
    if (!tu_sh("command -v nvcc >/dev/null 2>&1"))
        assert_int_equal(tu_sh("cd /tmp/datafree_dfq_exp/cuda && make -s"), 0);
    /* HLS C simulation (g++): the same int32 logits */
    assert_int_equal(tu_sh("cd /tmp/datafree_dfq_exp/hls && make -s && ./infer /tmp/datafree_dfq_500-images "
                           "/tmp/datafree_dfq_500-labels --logits /tmp/datafree_dfq_hls.bin"),
                     0);
    if (tu_sh("cmp /tmp/datafree_dfq_hls.bin /tmp/datafree_dfq_int.bin")) {
        print_error("%s: the HLS C simulation differs from the interpreter: %s\n", model, TU_OUT);
        fail();
    }
    assert_true(nn_file_exists("/tmp/datafree_dfq_exp/hls/estimate.json"));
    static const char *const readmes[] = {"c", "cuda", "hls", "onnx-qdq", "qonnx"};
    for (int t = 0; t < 5; t++) { /* every target says how to build and run it */
        char p[200];
        snprintf(p, sizeof p, "/tmp/datafree_dfq_exp/%s/README.md", readmes[t]);
        assert_true(nn_file_exists(p));
    }
    /* the QDQ export: onnx.checker (Debian's python3-onnx) and ONNX Runtime's
     * top-1 agreement with the interpreter, where they are installed */
    if (!tu_sh("/usr/bin/python3 -c 'import onnx' 2>/dev/null"))
        assert_int_equal(tu_sh("/usr/bin/python3 -c \"import onnx; onnx.checker.check_model(onnx.load("
                               "'/tmp/datafree_dfq_exp/onnx-qdq/model.onnx'), full_check=True)\""),
                         0);
    else
        print_message("python3-onnx is not installed: onnx.checker skipped\n");
    if (!tu_sh("/usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null")) {
        assert_int_equal(tu_sh("/usr/bin/python3 tests/check_qonnx.py /tmp/datafree_dfq_exp/qonnx/model.onnx "
                               "/tmp/datafree_dfq_exp/onnx-qdq/model.onnx"),
                         0);
        assert_true(tu_out_number("weights_checked") >= 4); /* the tiny model's conv and linear layers */
    }
    if (nn_file_exists("tests/ort/node_modules/onnxruntime-node/package.json")) {
        assert_int_equal(tu_sh("node tests/ort/eval_qdq.js /tmp/datafree_dfq_exp/onnx-qdq/model.onnx %s 0.286 0.353 "
                               "/tmp/datafree_dfq_int.bin 500",
                               data),
                         0);
        const double oa = tu_out_number("agreement");
        if (oa < 0.998) {
            print_error("%s: ONNX Runtime on the QDQ export agrees with the interpreter on %.4f\n", model, oa);
            fail();
        }
    } else {
        print_message("ONNX Runtime is not installed: the QDQ comparison is skipped\n");
    }
    /* native (AVX-512 VNNI byte and pair kernels where the CPU has them),
     * AVX2 pair kernels, portable loops: the same integers */
    static const char *const flags[3][2] = {{"", "native"},
                                            {"CFLAGS='-O3 -march=native -mno-avx512vnni'", "AVX2 (no VNNI)"},
                                            {"CFLAGS='-O2 -mno-avx2'", "portable"}};
    for (int v = 0; v < 3; v++) {
        assert_int_equal(tu_sh("cd /tmp/datafree_dfq_exp/c && make -s clean && make -s %s && ./infer "
                               "/tmp/datafree_dfq_500-images /tmp/datafree_dfq_500-labels --threads 2 --logits "
                               "/tmp/datafree_dfq_c.bin",
                               flags[v][0]),
                         0);
        assert_true(fabs(tu_out_number("accuracy") - ia) < 1e-9);
        if (tu_sh("cmp /tmp/datafree_dfq_c.bin /tmp/datafree_dfq_int.bin")) {
            print_error("%s: the exported C (%s kernels) differs from the interpreter: %s\n", model, flags[v][1], TU_OUT);
            fail();
        }
    }
}

/* End to end on a tiny real teacher: train it, reconstruct with the GDFQ
 * generator and with ZeroQ distillation, then quantize. Thresholds a broken
 * pipeline would miss: w8a8 naive PTQ within 1.5 pt of the teacher; w4a4
 * GDFQ fine-tuning far above chance; real-data QAT within 6 pt. */
static void test_end_to_end(void **s)
{
    (void)s;
    const char *data = tu_fmnist();
    if (!data) skip();
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"model\":{\"graph\":{\"input\":[1,28,28],\"num_classes\":10,\"nodes\":["
             "{\"name\":\"c1\",\"op\":\"conv2d\",\"out_channels\":16,\"kernel\":3,\"padding\":1},"
             "{\"name\":\"b1\",\"op\":\"batchnorm\"},{\"name\":\"r1\",\"op\":\"relu\"},"
             "{\"name\":\"p1\",\"op\":\"maxpool2d\",\"kernel\":2},"
             "{\"name\":\"c2\",\"op\":\"conv2d\",\"out_channels\":32,\"kernel\":3,\"padding\":1},"
             "{\"name\":\"b2\",\"op\":\"batchnorm\"},{\"name\":\"r2\",\"op\":\"relu\"},"
             "{\"name\":\"p2\",\"op\":\"maxpool2d\",\"kernel\":2},"
             "{\"name\":\"c3\",\"op\":\"conv2d\",\"out_channels\":32,\"kernel\":3,\"padding\":1},"
             "{\"name\":\"b3\",\"op\":\"batchnorm\"},{\"name\":\"r3\",\"op\":\"relu\"},"
             "{\"name\":\"gap\",\"op\":\"global_avgpool\"},{\"name\":\"fc\",\"op\":\"linear\",\"out_features\":10}]}},"
             "\"data\":{\"path\":\"%s\",\"mean\":[0.286],\"std\":[0.353],\"train_limit\":8000,\"test_limit\":1000},"
             "\"train\":{\"epochs\":3,\"batch_size\":64,\"seed\":1,\"threads\":2},"
             "\"optim\":{\"type\":\"sgd\",\"lr\":0.05,\"momentum\":0.9,\"weight_decay\":5e-4},"
             "\"output\":{\"dir\":\"/tmp/datafree_dfq_teacher\"}}",
             data);
    tu_write_text("/tmp/datafree_dfq_teacher.json", cfg);
    tu_sh("rm -rf /tmp/datafree_dfq_*/");
    assert_int_equal(tu_sh("%s train /tmp/datafree_dfq_teacher.json --json", tu_bin()), 0);
    const double teacher = tu_out_number("test_accuracy");
    assert_true(teacher > 0.75);

    const char *common = "\"teacher\":\"/tmp/datafree_dfq_teacher/model.json\",\"data\":{\"path\":\"%s\",\"test_limit\":1000%s},"
                         "\"threads\":2,";
    /* reconstruct: GDFQ generator, then ZeroQ distillation */
    char head[600];
    snprintf(head, sizeof head, common, data, "");
    snprintf(cfg, sizeof cfg,
             "{%s\"source\":{\"type\":\"generator\"},\"generator\":{\"width\":32,\"lr\":0.01},\"samples\":200,"
             "\"schedule\":{\"epochs\":3,\"iters_per_epoch\":40,\"batch_size\":32},"
             "\"output\":{\"dir\":\"/tmp/datafree_dfq_gen\"}}",
             head);
    tu_write_text("/tmp/datafree_dfq_gen.json", cfg);
    assert_int_equal(tu_sh("%s reconstruct /tmp/datafree_dfq_gen.json --json", tu_bin()), 0);
    assert_true(tu_out_number("teacher_agreement") > 0.5); /* the generator learned the classes */
    assert_true(nn_file_exists("/tmp/datafree_dfq_gen/grid.png"));
    assert_true(nn_file_exists("/tmp/datafree_dfq_gen/generator.json"));
    /* data-free training: a fresh student sees only G(z, y) and the teacher's
     * logits, from a data folder that holds the test split only (a user
     * without the training data has no training files to give) */
    tu_sh("mkdir -p /tmp/datafree_dfq_testonly && ln -sf %s/t10k-images-idx3-ubyte.gz %s/t10k-labels-idx1-ubyte.gz "
          "/tmp/datafree_dfq_testonly/",
          data, data);
    snprintf(cfg, sizeof cfg,
             "{\"model\":{\"graph\":{\"input\":[1,28,28],\"num_classes\":10,\"nodes\":["
             "{\"name\":\"c1\",\"op\":\"conv2d\",\"out_channels\":16,\"kernel\":3,\"padding\":1},"
             "{\"name\":\"b1\",\"op\":\"batchnorm\"},{\"name\":\"r1\",\"op\":\"relu\"},"
             "{\"name\":\"p1\",\"op\":\"maxpool2d\",\"kernel\":2},"
             "{\"name\":\"c2\",\"op\":\"conv2d\",\"out_channels\":32,\"kernel\":3,\"padding\":1},"
             "{\"name\":\"b2\",\"op\":\"batchnorm\"},{\"name\":\"r2\",\"op\":\"relu\"},"
             "{\"name\":\"gap\",\"op\":\"global_avgpool\"},{\"name\":\"fc\",\"op\":\"linear\",\"out_features\":10}]}},"
             "\"data\":{\"path\":\"/tmp/datafree_dfq_testonly\",\"mean\":[0.286],\"std\":[0.353],\"test_limit\":1000},"
             "\"source\":{\"type\":\"generator\",\"generator\":\"/tmp/datafree_dfq_gen/generator.json\","
             "\"teacher\":\"/tmp/datafree_dfq_teacher/model.json\",\"batches_per_epoch\":80},"
             "\"train\":{\"epochs\":4,\"batch_size\":32,\"seed\":1,\"threads\":2},"
             "\"optim\":{\"type\":\"adam\",\"lr\":0.003},\"output\":{\"dir\":\"/tmp/datafree_dfq_dfstudent\"}}");
    tu_write_text("/tmp/datafree_dfq_dfstudent.json", cfg);
    assert_int_equal(tu_sh("%s train /tmp/datafree_dfq_dfstudent.json --json", tu_bin()), 0);
    const double dfs = tu_out_number("test_accuracy");
    /* chance is 0.1; the student never saw a real training image, and this
     * tiny generator (3 short epochs) takes it to about 0.4 in 4 x 80
     * batches (seeds 1-3 on a Zen 5: 0.44, 0.39, 0.38). At 2 x 40 batches it
     * gave 0.40 on one machine and 0.19-0.24 on another (the rounding of
     * another CPU's kernels): too short to say anything */
    if (dfs < 0.25) {
        print_error("data-free student reached only %.4f (teacher %.4f)\n", dfs, teacher);
        fail();
    }
    /* the generator trained on (source.update): against a fixed student, its
     * steps widen the student-teacher gap the adversarial term asks for */
    {
        nn_err e;
        run_gensrc gsrc;
        cJSON *src = cJSON_Parse("{\"type\":\"generator\",\"generator\":\"/tmp/datafree_dfq_gen/generator.json\","
                                 "\"teacher\":\"/tmp/datafree_dfq_teacher/model.json\","
                                 "\"update\":{\"lr\":0.01,\"bns_beta\":0,\"adversarial\":10}}");
        assert_int_equal(run_gensrc_parse(src, &gsrc, &e), NN_OK);
        assert_int_equal(gsrc.batches, 100); /* the defaults */
        assert_true(gsrc.kd.temperature == 20.0f && gsrc.kd.alpha == 1.0f);
        assert_int_equal(run_gensrc_open(&gsrc, &e), NN_OK);
        cJSON_Delete(src); /* the paths point into it */
        nn_graph *st = run_load_model("/tmp/datafree_dfq_dfstudent/model.json", &e);
        assert_non_null(st);
        nn_graph_set_trainable(st, 0);
        nn_ctx c;
        nn_ctx_init(&c, 2, 64 << 20);
        nn_rng r;
        nn_rng_seed(&r, 5);
        int lab[32];
        float *x = malloc(32 * 784 * sizeof(float)), tl[320];
        double gap[40];
        for (int i = 0; i < 40; i++) {
            run_gensrc_batch(&gsrc, &c, st, NULL, 32, &r, lab, x, tl);
            gap[i] = gsrc.gap / (double)gsrc.seen;
            gsrc.gap = 0, gsrc.seen = 0;
        }
        double first = 0, last = 0;
        for (int i = 0; i < 5; i++) first += gap[i] / 5, last += gap[35 + i] / 5;
        print_message("adversarial generator steps: |S - T|_1 %.4f over the first 5 batches, %.4f over the last 5\n",
                      first, last);
        if (!(last > 1.5 * first)) fail();
        run_gensrc_free(&gsrc);
        /* the source block is checked whole, by datafree train and nasb alike */
        static const char *const bad[][2] = {
            {"{\"type\":\"generator\",\"generator\":\"g.json\",\"teacher\":\"t.json\",\"update\":{\"adversary\":1}}",
             "$.source.update"},
            {"{\"type\":\"generator\",\"generator\":\"g.json\",\"teacher\":\"t.json\",\"batches_per_epok\":5}", "batches_per_epok"},
            {"{\"type\":\"generator\",\"generator\":\"g.json\",\"teacher\":\"t.json\",\"kd\":{\"temp\":4}}", "temp"},
            {"{\"type\":\"generator\",\"teacher\":\"t.json\"}", "$.source.generator"}};
        for (int i = 0; i < 4; i++) {
            src = cJSON_Parse(bad[i][0]);
            assert_int_equal(run_gensrc_parse(src, &gsrc, &e), NN_ERR);
            assert_non_null(strstr(e.msg, bad[i][1]));
            cJSON_Delete(src);
        }
        free(x);
        nn_ctx_free(&c);
        nn_graph_free(st);
    }
    /* a data-free run with the generator trained on: stopped after one epoch
     * and resumed, it ends exactly where an uninterrupted run does (the
     * generator's state is checkpointed with the run's), and writes the
     * generator it ended with */
    {
        char *u = strstr(cfg, "\"batches_per_epoch\":80}");
        assert_non_null(u);
        char ucfg[4096];
        snprintf(ucfg, sizeof ucfg, "%.*s\"batches_per_epoch\":20,\"update\":{\"adversarial\":1}}%s", (int)(u - cfg),
                 cfg, u + strlen("\"batches_per_epoch\":80}"));
        char *ep = strstr(ucfg, "\"epochs\":4"), *dir = strstr(ucfg, "datafree_dfq_dfstudent");
        assert_non_null(ep);
        assert_non_null(dir);
        ep[strlen("\"epochs\":")] = '2';
        memcpy(dir, "datafree_dfq_dfupdate1", strlen("datafree_dfq_dfupdate1"));
        tu_write_text("/tmp/datafree_dfq_dfupdate1.json", ucfg);
        memcpy(dir, "datafree_dfq_dfupdate2", strlen("datafree_dfq_dfupdate2"));
        tu_write_text("/tmp/datafree_dfq_dfupdate2.json", ucfg);
        tu_sh("rm -rf /tmp/datafree_dfq_dfupdate1 /tmp/datafree_dfq_dfupdate2");
        assert_int_equal(tu_sh("%s train /tmp/datafree_dfq_dfupdate1.json --json", tu_bin()), 0);
        assert_non_null(strstr(TU_OUT, "\"complete\":true"));
        const double full = tu_out_number("test_accuracy");
        assert_int_equal(tu_sh("%s train /tmp/datafree_dfq_dfupdate2.json --stop-after 1", tu_bin()), 0);
        assert_non_null(strstr(TU_OUT, "trained on, adversarially"));
        assert_true(nn_file_exists("/tmp/datafree_dfq_dfupdate2/generator_ckpt.safetensors"));
        assert_int_equal(tu_sh("%s train /tmp/datafree_dfq_dfupdate2.json --resume --json", tu_bin()), 0);
        assert_true(tu_out_number("test_accuracy") == full);
        assert_int_equal(tu_sh("cmp /tmp/datafree_dfq_dfupdate1/generator.safetensors "
                               "/tmp/datafree_dfq_dfupdate2/generator.safetensors"), 0);
        assert_int_equal(tu_sh("cmp -s /tmp/datafree_dfq_gen/generator.safetensors "
                               "/tmp/datafree_dfq_dfupdate1/generator.safetensors"), 1); /* it did train */
        assert_int_equal(tu_sh("grep -c g_gap /tmp/datafree_dfq_dfupdate1/metrics.jsonl"), 0);
        assert_int_equal(atoi(TU_OUT), 2);
    }
    /* data-free NASB from the same folder: a search on generated batches
     * only (its proxy split generated too), then the derived network
     * pretrained and finetuned binarized on them; a few batches each, this
     * checks the plumbing (and that no training file is opened), not accuracy */
    snprintf(cfg, sizeof cfg,
             "{\"data\":{\"path\":\"/tmp/datafree_dfq_testonly\",\"mean\":[0.286],\"std\":[0.353],\"test_limit\":300},"
             "\"search\":{\"epochs\":1,\"batch_size\":16,\"flops_budget\":1.15},\"variants\":[1],"
             "\"source\":{\"type\":\"generator\",\"generator\":\"/tmp/datafree_dfq_gen/generator.json\","
             "\"teacher\":\"/tmp/datafree_dfq_teacher/model.json\",\"batches_per_epoch\":4},"
             "\"pretrain\":{\"train\":{\"epochs\":1,\"batch_size\":16,\"seed\":1},\"optim\":{\"type\":\"sgd\",\"lr\":0.05,"
             "\"momentum\":0.9}},\"finetune\":{\"train\":{\"epochs\":1,\"batch_size\":16,\"seed\":1},"
             "\"optim\":{\"type\":\"adam\",\"lr\":0.002,\"weight_decay\":0}},\"output\":{\"dir\":\"/tmp/datafree_dfq_nasb\"}}");
    tu_write_text("/tmp/datafree_dfq_nasb.json", cfg);
    char *bpe = strstr(cfg, "\"batches_per_epoch\":4"); /* refused before anything runs */
    assert_non_null(bpe);
    bpe[strlen("\"batches_per_epoch\":")] = '0';
    tu_refuses("nasb", "/tmp/datafree_dfq_nasb_bad.json", cfg, "$.source.batches_per_epoch");
    assert_int_equal(tu_sh("%s nasb /tmp/datafree_dfq_nasb.json --threads 2", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "NASB search, data-free"));
    assert_non_null(strstr(TU_OUT, "(within $.search.flops_budget)")); /* derived at the teacher's input shape */
    assert_true(nn_file_exists("/tmp/datafree_dfq_nasb/search/genotype_v1.json"));
    assert_true(nn_file_exists("/tmp/datafree_dfq_nasb/v1/finetune/model.json"));
    assert_int_equal(tu_sh("wc -l < /tmp/datafree_dfq_nasb/search/metrics.jsonl"), 0);
    assert_int_equal(atoi(TU_OUT), 1);
    /* KD on real data: the teacher's adder counterpart distilled from it (one
     * short epoch); a teacher whose preprocessing differs is refused */
    assert_int_equal(tu_sh("%s convert /tmp/datafree_dfq_teacher/model.json /tmp/datafree_dfq_adder.json --to-adder",
                           tu_bin()), 0);
    for (int kd = 0; kd < 3; kd++) {
        snprintf(cfg, sizeof cfg,
                 "{\"model\":{\"file\":\"/tmp/datafree_dfq_adder.json\"},"
                 "\"data\":{\"path\":\"%s\",\"mean\":[%s],\"std\":[0.353],\"train_limit\":2000,\"test_limit\":1000},"
                 "%s\"train\":{\"epochs\":1,\"batch_size\":32,\"seed\":1,\"threads\":2},"
                 "\"optim\":{\"type\":\"sgd\",\"lr\":0.05,\"momentum\":0.9},\"output\":{\"dir\":\"/tmp/datafree_dfq_kd%d\"}}",
                 data, kd == 2 ? "0.5" : "0.286",
                 kd ? "\"source\":{\"type\":\"real\",\"teacher\":\"/tmp/datafree_dfq_teacher/model.json\","
                      "\"kd\":{\"temperature\":4,\"alpha\":1}}," : "",
                 kd);
        tu_write_text("/tmp/datafree_dfq_kd.json", cfg);
        tu_sh("rm -rf /tmp/datafree_dfq_kd%d", kd);
        if (kd == 2) {
            assert_int_equal(tu_sh("%s train /tmp/datafree_dfq_kd.json", tu_bin()), 1);
            assert_non_null(strstr(TU_OUT, "$.source.teacher"));
            assert_non_null(strstr(TU_OUT, "preprocessing"));
            continue;
        }
        assert_int_equal(tu_sh("%s train /tmp/datafree_dfq_kd.json --json", tu_bin()), 0);
        if (tu_out_number("test_accuracy") < 0.5) {
            print_error("adder student (KD %d): %.4f after one epoch\n", kd, tu_out_number("test_accuracy"));
            fail();
        }
    }
    /* the KD run's loss has the T^2 KL term the CE-only run lacks */
    assert_int_equal(tu_sh("grep -o '\"train_loss\":[0-9.]*' /tmp/datafree_dfq_kd0/metrics.jsonl"), 0);
    char l0[64];
    snprintf(l0, sizeof l0, "%.60s", TU_OUT);
    assert_int_equal(tu_sh("grep -o '\"train_loss\":[0-9.]*' /tmp/datafree_dfq_kd1/metrics.jsonl"), 0);
    assert_true(strcmp(l0, TU_OUT) != 0);
    snprintf(cfg, sizeof cfg,
             "{%s\"source\":{\"type\":\"distill\",\"iterations\":60,\"lr\":0.25},\"samples\":128,"
             "\"schedule\":{\"epochs\":1,\"batch_size\":64},\"output\":{\"dir\":\"/tmp/datafree_dfq_zq\"}}",
             head);
    tu_write_text("/tmp/datafree_dfq_zq.json", cfg);
    assert_int_equal(tu_sh("%s reconstruct /tmp/datafree_dfq_zq.json --json", tu_bin()), 0);
    assert_true(nn_file_exists("/tmp/datafree_dfq_zq/dataset.safetensors"));

    /* w8a8 naive PTQ calibrated on the distilled images */
    snprintf(cfg, sizeof cfg,
             "{%s\"quant\":{\"wbits\":8,\"abits\":8},\"source\":{\"type\":\"dataset\",\"file\":"
             "\"/tmp/datafree_dfq_zq/dataset.safetensors\"},\"schedule\":{\"epochs\":1,\"iters_per_epoch\":4,"
             "\"batch_size\":32,\"calib_epochs\":1,\"fine_tune\":false},\"output\":{\"dir\":\"/tmp/datafree_dfq_ptq\"}}",
             head);
    tu_write_text("/tmp/datafree_dfq_ptq.json", cfg);
    assert_int_equal(tu_sh("%s quantize /tmp/datafree_dfq_ptq.json --json", tu_bin()), 0);
    double acc = tu_out_number("test_accuracy");
    if (acc < teacher - 0.015) {
        print_error("w8a8 naive PTQ %.4f vs teacher %.4f\n", acc, teacher);
        fail();
    }
    /* w4a4 with the trained generator, fine-tuned by KD; stop and resume */
    snprintf(cfg, sizeof cfg,
             "{%s\"quant\":{\"wbits\":4,\"abits\":4},\"source\":{\"type\":\"generator\"},"
             "\"generator\":{\"file\":\"/tmp/datafree_dfq_gen/generator.json\",\"train\":true},"
             "\"schedule\":{\"epochs\":3,\"iters_per_epoch\":25,\"batch_size\":32,\"calib_epochs\":1,\"warmup_epochs\":1},"
             "\"student\":{\"lr\":0.001},\"output\":{\"dir\":\"/tmp/datafree_dfq_w4\",\"table\":\"/tmp/datafree_dfq_table.md\"}}",
             head);
    tu_write_text("/tmp/datafree_dfq_w4.json", cfg);
    tu_sh("rm -f /tmp/datafree_dfq_table.md");
    assert_int_equal(tu_sh("%s quantize /tmp/datafree_dfq_w4.json --stop-after 2", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "continue with --resume"));
    /* resumed under other bits: refused, naming the key, and the checkpoint still resumes after */
    assert_int_equal(tu_sh("sed 's/\"wbits\":4/\"wbits\":5/' /tmp/datafree_dfq_w4.json > /tmp/datafree_dfq_w5.json && "
                           "%s quantize /tmp/datafree_dfq_w5.json --resume", tu_bin()), 1);
    assert_non_null(strstr(TU_OUT, "/tmp/datafree_dfq_w4 was run under another config ($.quant.wbits: 4 then, 5 now"));
    assert_int_equal(tu_sh("%s quantize /tmp/datafree_dfq_w4.json --resume --json", tu_bin()), 0);
    acc = tu_out_number("test_accuracy");
    if (acc < 0.5) {
        print_error("w4a4 GDFQ fine-tuning reached only %.4f (teacher %.4f)\n", acc, teacher);
        fail();
    }
    /* the written model reproduces the result under datafree eval */
    assert_int_equal(tu_sh("%s eval --model /tmp/datafree_dfq_w4/model.json --data %s --limit 1000 --json", tu_bin(), data), 0);
    double ev = tu_out_number("accuracy");
    assert_true(fabs(ev - acc) < 1e-4);
    assert_true(nn_file_exists("/tmp/datafree_dfq_table.md"));
    assert_int_equal(tu_sh("grep -c '| datafree_dfq_w4 |' /tmp/datafree_dfq_table.md"), 0);
    assert_int_equal(atoi(TU_OUT), 1);
    assert_int_equal(tu_sh("grep -c '\"w_symmetric\"' /tmp/datafree_dfq_w4/result.json"), 0); /* protocol recorded */
    /* real-data QAT w4a4 through the same loop */
    snprintf(head, sizeof head, common, data, ",\"train_limit\":4000");
    snprintf(cfg, sizeof cfg,
             "{%s\"quant\":{\"wbits\":4,\"abits\":4},\"source\":{\"type\":\"real\"},"
             "\"schedule\":{\"epochs\":2,\"iters_per_epoch\":30,\"batch_size\":32,\"calib_epochs\":1},"
             "\"student\":{\"lr\":0.001},\"output\":{\"dir\":\"/tmp/datafree_dfq_real\"}}",
             head);
    tu_write_text("/tmp/datafree_dfq_real.json", cfg);
    assert_int_equal(tu_sh("%s quantize /tmp/datafree_dfq_real.json --json", tu_bin()), 0);
    acc = tu_out_number("test_accuracy");
    if (acc < teacher - 0.06) {
        print_error("w4a4 real-data QAT %.4f vs teacher %.4f\n", acc, teacher);
        fail();
    }
    /* integer lowering: the reference interpreter agrees with the fake-quant
     * model, and the exported C (AVX2 and portable kernels) reproduces the
     * interpreter's int32 logits exactly, on 500 real test images */
    check_integer_export("/tmp/datafree_dfq_w4/model.json", data);
    check_integer_export("/tmp/datafree_dfq_ptq/model.json", data);
    assert_int_equal(tu_sh("%s export --model /tmp/datafree_dfq_teacher/model.json --target c --out /tmp/datafree_dfq_exp_bad",
                           tu_bin()), 1);
    assert_non_null(strstr(TU_OUT, "float weights"));
    assert_non_null(strstr(TU_OUT, "'c1'")); /* the node is named */
    assert_false(nn_file_exists("/tmp/datafree_dfq_exp_bad/c"));
    /* a bit width no target expresses: 12-bit activations, refused by node name, nothing written */
    {
        nn_err e2 = {0};
        cJSON *m = nn_json_load("/tmp/datafree_dfq_w4/model.json", &e2), *nd;
        assert_non_null(m);
        cJSON_ArrayForEach(nd, cJSON_GetObjectItem(m, "nodes"))
        {
            const cJSON *op = cJSON_GetObjectItem(nd, "op");
            if (op && !strcmp(op->valuestring, "fake_quant")) {
                cJSON_ReplaceItemInObject(nd, "bits", cJSON_CreateNumber(12));
                break;
            }
        }
        char *txt = cJSON_Print(m);
        tu_write_text("/tmp/datafree_dfq_w12.json", txt);
        free(txt);
        cJSON_Delete(m);
        assert_int_equal(tu_sh("cp /tmp/datafree_dfq_w4/model.safetensors /tmp/datafree_dfq_w12.safetensors"), 0);
    }
    assert_int_equal(tu_sh("%s export --model /tmp/datafree_dfq_w12.json --target onnx-qdq --out /tmp/datafree_dfq_exp_bad",
                           tu_bin()), 1);
    assert_non_null(strstr(TU_OUT, "12-bit"));
    assert_false(nn_file_exists("/tmp/datafree_dfq_exp_bad/onnx-qdq"));
    assert_int_equal(tu_sh("%s export --model /tmp/datafree_dfq_w4/model.json --target c,fpga --out /tmp/datafree_dfq_exp_bad",
                           tu_bin()), 1);
    assert_non_null(strstr(TU_OUT, "unknown target 'fpga'"));
    assert_false(nn_file_exists("/tmp/datafree_dfq_exp_bad/c"));
    /* the pipeline: search -> w4a4 with the searched generator -> export;
     * a rerun skips the finished stages; the export evaluates to the row */
    snprintf(cfg, sizeof cfg,
             "{\"teacher\":\"/tmp/datafree_dfq_teacher/model.json\",\"data\":{\"path\":\"%s\",\"test_limit\":1000},"
             "\"stages\":{\"search\":{\"space\":{\"scale\":0.0625,\"latent\":32},\"search\":{\"epochs\":2,"
             "\"weight_batches\":4,\"arch_batches\":2,\"batch_size\":16,\"cost\":{\"budget\":\"gdfq\"}},\"threads\":2},"
             "\"quantize\":{\"quant\":{\"wbits\":4,\"abits\":4},\"source\":{\"type\":\"generator\"},"
             "\"generator\":{\"scale\":0.125,\"latent\":32,\"lr\":0.01},\"threads\":2,"
             "\"schedule\":{\"epochs\":4,\"iters_per_epoch\":25,\"batch_size\":32,\"calib_epochs\":2,\"warmup_epochs\":2},"
             "\"student\":{\"lr\":0.001}},\"export\":{}},\"output\":{\"dir\":\"/tmp/datafree_dfq_pipe\"}}",
             data);
    tu_write_text("/tmp/datafree_dfq_pipe.json", cfg);
    assert_int_equal(tu_sh("%s run /tmp/datafree_dfq_pipe.json --json", tu_bin()), 0);
    acc = tu_out_number("accuracy");
    if (acc < 0.5 || fabs(tu_out_number("teacher_accuracy") - teacher) > 1e-4) {
        print_error("pipeline w4a4 with the searched generator: %.4f (teacher %.4f)\n", acc, teacher);
        fail();
    }
    assert_int_equal(tu_sh("grep -c '\"type\":.*\"autorecon\"' /tmp/datafree_dfq_pipe/quantize/result.json"), 0);
    assert_true(nn_file_exists("/tmp/datafree_dfq_pipe/search/genotype.json"));
    assert_true(nn_file_exists("/tmp/datafree_dfq_pipe/search/alpha.svg"));
    /* the MACs budget (GDFQ's generator at the search's width) holds */
    {
        nn_err e2;
        cJSON *sr = nn_json_load("/tmp/datafree_dfq_pipe/search/result.json", &e2);
        assert_non_null(sr);
        const double gm = cJSON_GetObjectItem(sr, "generator_macs")->valuedouble;
        const cJSON *bm = cJSON_GetObjectItem(sr, "budget_macs");
        assert_non_null(bm);
        if (!(gm > 0 && gm <= bm->valuedouble)) {
            print_error("searched generator %.0f MACs over the budget %.0f\n", gm, bm->valuedouble);
            fail();
        }
        cJSON_Delete(sr);
    }
    assert_true(nn_file_exists("/tmp/datafree_dfq_pipe/search/generator.dot"));
    assert_int_equal(tu_sh("%s run /tmp/datafree_dfq_pipe.json", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "== search: done already"));
    assert_non_null(strstr(TU_OUT, "== quantize: done already"));
    /* ... but not under another config: a finished stage is not skipped as if it had run with it */
    assert_int_equal(tu_sh("sed 's/\"lr\":0.001/\"lr\":0.002/' /tmp/datafree_dfq_pipe.json > /tmp/datafree_dfq_pipe2.json && "
                           "%s run /tmp/datafree_dfq_pipe2.json", tu_bin()), 1);
    assert_non_null(strstr(TU_OUT, "/tmp/datafree_dfq_pipe/quantize was run under another config ($.student.lr: 0.001 then, 0.002 now"));
    assert_int_equal(tu_sh("%s eval --model /tmp/datafree_dfq_pipe/quantize/model.json --data %s --limit 1000 --json",
                           tu_bin(), data), 0);
    assert_true(fabs(tu_out_number("accuracy") - acc) < 1e-4);
    assert_true(nn_file_exists("/tmp/datafree_dfq_pipe/export/c/model.c"));
    assert_true(nn_file_exists("/tmp/datafree_dfq_pipe/export/c/Makefile"));
    /* a pipeline stage that names its own output is refused, naming the path */
    tu_refuses("run", "/tmp/datafree_dfq_pipe_bad.json",
               "{\"teacher\":\"x.json\",\"stages\":{\"search\":{\"output\":{\"dir\":\"y\"}}},"
               "\"output\":{\"dir\":\"/tmp/datafree_dfq_pipe_bad\"}}",
               "$.stages.search.output");
    /* a search budget that is neither "gdfq" nor a number of MACs names its path */
    tu_refuses("search", "/tmp/datafree_dfq_search_bad.json",
               "{\"teacher\":\"x.json\",\"search\":{\"epochs\":1,\"cost\":{\"budget\":\"small\"}},"
               "\"output\":{\"dir\":\"/tmp/datafree_dfq_search_bad\"}}",
               "$.search.cost.budget");
    /* bad input: a clear error naming the JSON path */
    tu_refuses(
        "quantize", "/tmp/datafree_dfq_bad.json",
        "{\"teacher\":\"x\",\"data\":{\"path\":\"x\"},\"source\":{\"type\":\"magic\"},\"schedule\":{\"epochs\":1},"
        "\"output\":{\"dir\":\"/tmp/datafree_dfq_bad\"}}",
        "$.source.type");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gdfq_step_parity), cmocka_unit_test(test_quantize_graph),
                                       cmocka_unit_test(test_end_to_end)};
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
