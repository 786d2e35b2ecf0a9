/* Fake quantization (round trips, edge cases, 2-bit, per channel, STE) and
 * the BN-statistics loss against hand computations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "compress/int_kernels.h"
#include "compress/quant.h"
#include "generators/bns.h"
#include "generators/gdfq.h"
#include "nn/graph.h"
#include "nn/json.h"
#include "testutil.h"

#define C TU_CTX /* the suite's shared context (testutil) */

static void test_round_trip(void **s)
{
    (void)s;
    for (int bits = 2; bits <= 8; bits++)
        for (int sym = 0; sym < 2; sym++) {
            nn_qspec q = {bits, sym, 0, 0, 0};
            const float lo = -0.7f, hi = 1.3f;
            const int levels = sym ? (1 << bits) - 1 : 1 << bits;
            /* every output is a fixed point, and there are at most `levels` of them */
            float seen[256];
            int nseen = 0;
            for (int i = 0; i <= 2000; i++) {
                float x = -2.0f + 4.0f * (float)i / 2000.0f; /* covers both grids and beyond */
                float y = nn_quant_value(x, q, lo, hi);
                assert_true(isfinite(y));
                assert_true(fabsf(nn_quant_value(y, q, lo, hi) - y) < 1e-6f);
                int found = 0;
                for (int k = 0; k < nseen; k++) found |= fabsf(seen[k] - y) < 1e-6f;
                if (!found) {
                    assert_true(nseen < levels);
                    seen[nseen++] = y;
                }
                /* inside the range, the error is at most half a step */
                float step = sym ? fmaxf(fabsf(lo), fabsf(hi)) / (float)((1 << (bits - 1)) - 1)
                                 : (hi - lo) / (float)((1 << bits) - 1);
                if (x >= lo && x <= hi && !(sym && x < -fmaxf(fabsf(lo), fabsf(hi))))
                    assert_true(fabsf(y - x) <= 0.5f * step + 1e-5f);
            }
            assert_true(nseen >= levels - 1);
        }
    /* 2-bit symmetric: exactly {-m, 0, m} */
    nn_qspec q2 = {2, 1, 0, 0, 0};
    assert_true(nn_quant_value(0.9f, q2, -1.0f, 1.0f) == 1.0f);
    assert_true(nn_quant_value(0.4f, q2, -1.0f, 1.0f) == 0.0f);
    assert_true(nn_quant_value(-5.0f, q2, -1.0f, 1.0f) == -1.0f);
    /* round half to even, as torch.round: 2-bit asymmetric on [0, 3] has s = 1 */
    nn_qspec qa = {2, 0, 0, 0, 0};
    assert_true(nn_quant_value(0.5f, qa, 0.0f, 3.0f) == 0.0f);
    assert_true(nn_quant_value(1.5f, qa, 0.0f, 3.0f) == 2.0f);
}

/* Power-of-two grids (seed 002's fixed point): the step is the smallest
 * power of two whose code range covers the larger magnitude, zero point 0,
 * unsigned codes for lo >= 0; values round half to even onto the grid. */
static void test_pot(void **s)
{
    (void)s;
    int a, b;
    assert_true(nn_quant_pot_step(8, 0.0f, 4.0f, &a, &b) == 1.0f / 64 && a == 0 && b == 255); /* 4/256 -> 2^-6 */
    assert_true(nn_quant_pot_step(8, 0.0f, 4.01f, &a, &b) == 1.0f / 32);
    assert_true(nn_quant_pot_step(8, -4.0f, 1.0f, &a, &b) == 1.0f / 32 && a == -128 && b == 127); /* 4/128 -> 2^-5 */
    assert_true(nn_quant_pot_step(4, -0.3f, 0.2f, &a, &b) == 1.0f / 16 && a == -8 && b == 7);
    const nn_qspec q = {.bits = 8, .pot = 1};
    assert_true(nn_quant_value(0.5f / 64, q, 0.0f, 4.0f) == 0.0f); /* half to even */
    assert_true(nn_quant_value(1.5f / 64, q, 0.0f, 4.0f) == 2.0f / 64);
    assert_true(nn_quant_value(9.0f, q, 0.0f, 4.0f) == 255.0f / 64); /* saturates */
    assert_true(nn_quant_value(-1.0f, q, 0.0f, 4.0f) == 0.0f);
    assert_true(nn_quant_value(-9.0f, q, -4.0f, 1.0f) == -4.0f);
    /* the weight codes follow the same grid */
    const int wsh[2] = {2, 3};
    nn_tensor *w = tu_tensor(2, wsh);
    const float vals[6] = {-1.3f, 0.7f, 0.01f, 0.2f, -0.05f, 1.0f};
    memcpy(w->data, vals, sizeof vals);
    int16_t v[6];
    int zw[2];
    double st[2];
    nn_quant_weight_codes(w, q, 0, v, zw, st);
    assert_true(st[0] == 1.0 / 64 && zw[0] == 0); /* 1.3/128 -> 2^-6 */
    for (int i = 0; i < 6; i++) assert_true(v[i] * st[0] == nn_quant_value(vals[i], q, -1.3f, 1.0f));
    tu_free(w);
}

/* The least-squared-error power-of-two range: on weights with a far outlier
 * 12 sigma out (an ALR-trained adder layer's) it picks a finer step than the
 * covering one, with less error, clipping the outlier; where clipping costs
 * more than it saves it keeps the covering step; the weight codes use the
 * same range. */
static void test_pot_mse(void **s)
{
    (void)s;
    const int wsh[2] = {1, 4096};
    nn_tensor *w = tu_tensor(2, wsh);
    nn_rng r;
    nn_rng_seed(&r, 3);
    for (int i = 0; i < 4096; i++) w->data[i] = 3.0f * nn_rng_normal(&r);
    w->data[17] = -36.0f; /* the outlier: 12 sigma */
    const nn_qspec qm = {.bits = 8, .pot = 1, .mse = 1}, qx = {.bits = 8, .pot = 1};
    float lo, hi, lo2, hi2;
    nn_quant_weight_range(w, qx, 1, &lo, &hi);
    nn_quant_weight_range(w, qm, 1, &lo2, &hi2);
    assert_true(lo == -36.0f);
    int a, b;
    const float dx = nn_quant_pot_step(8, lo, hi, &a, &b), dm = nn_quant_pot_step(8, lo2, hi2, &a, &b);
    assert_true(dx == 0.5f);          /* 36 / 128 -> 2^-1 */
    assert_true(dm < dx && dm >= dx / 64);
    double ex = 0, em = 0;
    for (int i = 0; i < 4096; i++) {
        const double x = w->data[i], qxv = nn_quant_value(w->data[i], qx, lo, hi), qmv = nn_quant_value(w->data[i], qm, lo2, hi2);
        ex += (x - qxv) * (x - qxv), em += (x - qmv) * (x - qmv);
    }
    assert_true(em < ex);
    assert_true(nn_quant_value(-36.0f, qm, lo2, hi2) == -128.0f * dm); /* clipped */
    static int16_t v[4096];
    int zw[1];
    double st[1];
    nn_quant_weight_codes(w, qm, 0, v, zw, st);
    assert_true(st[0] == dm);
    for (int i = 0; i < 4096; i++) assert_true(v[i] * st[0] == nn_quant_value(w->data[i], qm, lo2, hi2));
    /* a lone far outlier: clipping it costs more than the finer step saves */
    w->data[17] = -120.0f;
    nn_quant_weight_range(w, qx, 1, &lo, &hi);
    nn_quant_weight_range(w, qm, 1, &lo2, &hi2);
    assert_true(nn_quant_pot_step(8, lo, hi, &a, &b) == nn_quant_pot_step(8, lo2, hi2, &a, &b));
    tu_free(w);
    /* a model's weight_quant.range: an unknown value, and mse without pot, name their path */
    static const char *const bad[] = {"\"range\":\"l1\",\"pot\":true", "\"range\":\"mse\""};
    for (int k = 0; k < 2; k++) {
        char js[400];
        snprintf(js, sizeof js,
                 "{\"input\":[1,4,4],\"num_classes\":2,\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\","
                 "\"out_channels\":2,\"kernel\":3,\"weight_quant\":{\"bits\":8,%s}}]}",
                 bad[k]);
        cJSON *j = cJSON_Parse(js);
        nn_err e = {0};
        assert_null(nn_graph_from_json(j, "$", &e));
        assert_non_null(strstr(e.msg, "weight_quant.range"));
        cJSON_Delete(j);
    }
}

static void test_edge_cases(void **s)
{
    (void)s;
    nn_qspec q = {4, 0, 0, 0, 0};
    /* constant tensor: zero range must not blow up, and the value survives */
    for (int k = 0; k < 5; k++) {
        float c = (float)k * 0.37f - 0.5f;
        float y = nn_quant_value(c, q, c, c);
        assert_true(isfinite(y) && fabsf(y - c) < 1e-6f);
    }
    assert_true(nn_quant_value(0.0f, q, 0.0f, 0.0f) == 0.0f);
    nn_qspec qs = {4, 1, 0, 0, 0};
    assert_true(nn_quant_value(0.0f, qs, 0.0f, 0.0f) == 0.0f);
    /* ReLU outputs (lo = 0): zero is exactly representable */
    for (int bits = 2; bits <= 8; bits++) {
        nn_qspec qb = {bits, 0, 0, 0, 0};
        assert_true(nn_quant_value(0.0f, qb, 0.0f, 3.7f) == 0.0f);
    }
}

static void test_tensor_and_ste(void **s)
{
    (void)s;
    nn_ctx_reset(&C);
    int sh[2] = {2, 4};
    nn_tensor *w = tu_tensor(2, sh);
    float vals[8] = {-1.0f, 0.2f, 0.5f, 1.0f, /* channel 1 much smaller: */ -0.01f, 0.004f, 0.0f, 0.01f};
    memcpy(w->data, vals, sizeof vals);
    float lo[2], hi[2];
    nn_minmax(w, 2, lo, hi);
    assert_true(lo[0] == -1.0f && hi[0] == 1.0f && lo[1] == -0.01f && hi[1] == 0.01f);
    nn_qspec q = {3, 0, 0, 0, 0};
    nn_tensor *y = nn_fake_quant(&C, w, q, 2, lo, hi);
    for (int i = 0; i < 8; i++) assert_true(y->data[i] == nn_quant_value(vals[i], q, lo[i / 4], hi[i / 4]));
    /* per channel keeps the small channel alive; a per-tensor range would zero it */
    assert_true(fabsf(y->data[7] - 0.01f) < 2e-3f);
    float tlo = -1.0f, thi = 1.0f;
    nn_tensor *yt = nn_fake_quant(&C, w, q, 1, &tlo, &thi);
    assert_true(fabsf(yt->data[7]) < 0.2f && fabsf(yt->data[7] - 0.01f) > fabsf(y->data[7] - 0.01f));
    /* STE: identity; clipped STE: zero outside the range. The second
     * backward must not re-run the first (the tape is consumed). */
    memset(w->grad, 0, 8 * sizeof(float));
    float r2lo = -0.5f, r2hi = 0.5f;
    nn_tensor *z = nn_fake_quant(&C, w, (nn_qspec){3, 0, 0, 0, 0}, 1, &r2lo, &r2hi);
    nn_backward(&C, nn_sum(&C, z));
    for (int i = 0; i < 8; i++) assert_true(w->grad[i] == 1.0f);
    memset(w->grad, 0, 8 * sizeof(float));
    z = nn_fake_quant(&C, w, (nn_qspec){3, 0, 1, 0, 0}, 1, &r2lo, &r2hi);
    nn_backward(&C, nn_sum(&C, z));
    for (int i = 0; i < 8; i++) assert_true(w->grad[i] == ((vals[i] >= -0.5f && vals[i] <= 0.5f) ? 1.0f : 0.0f));
    tu_free(w);
}

static void test_range_ema(void **s)
{
    (void)s;
    nn_ctx_reset(&C);
    int sh[1] = {3};
    nn_tensor *x = nn_new(&C, 1, sh);
    float obs[3] = {0}, r[2] = {0};
    x->data[0] = -2.0f, x->data[1] = 0.0f, x->data[2] = 5.0f;
    nn_range_observe(x, 0.9f, 3, obs, r);
    assert_true(fabsf(r[0] + 2.0f) < 1e-6f && fabsf(r[1] - 5.0f) < 1e-6f); /* bias-corrected: exact */
    x->data[0] = -4.0f;
    nn_range_observe(x, 0.9f, 3, obs, r); /* lo = (0.9*0.1*-2 + 0.1*-4) / (1 - 0.81) */
    assert_true(fabsf(r[0] - (float)((0.09 * -2.0 + 0.1 * -4.0) / 0.19)) < 1e-5f);
    nn_range_observe(x, 0.9f, 3, obs, r);
    float frozen = r[0];
    x->data[0] = -100.0f;
    nn_range_observe(x, 0.9f, 3, obs, r); /* after 3 updates the range is frozen */
    assert_true(r[0] == frozen && obs[0] == 3.0f);
}

/* ---- BN statistics loss ---- */

static nn_graph *bn_graph(void)
{
    nn_graph *g = tu_graph_json("{\"input\":[1,4,4],\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\",\"out_channels\":2,"
                                "\"kernel\":3,\"padding\":1},{\"name\":\"bn\",\"op\":\"batchnorm\"},{\"name\":\"r\",\"op\":\"relu\"},"
                                "{\"name\":\"c2\",\"op\":\"conv2d\",\"out_channels\":3,\"kernel\":1},{\"name\":\"bn2\",\"op\":\"batchnorm\"}]}");
    nn_graph_init_params(g, 4, NN_INIT_KAIMING);
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (int i = 0; i < g->np; i++)
        if (strstr(g->params[i].name, "running"))
            for (size_t q = 0; q < g->params[i].t.numel; q++) g->params[i].t.data[q] = 0.5f + nn_rng_uniform(&r);
    return g;
}

static nn_tensor *f_bns(nn_ctx *c, nn_tensor **in, void *arg)
{
    nn_graph *g = arg;
    int tr = c->training;
    c->training = 0; /* frozen teacher */
    gen_bns b;
    gen_bns_begin(&b, c);
    nn_fwd_opts o = {.hook = gen_bns_hook, .user = &b};
    nn_graph_forward(g, c, nn_scale(c, in[0], 1.0f), &o);
    c->training = tr;
    return gen_bns_loss(&b);
}

static void test_bns_loss(void **s)
{
    (void)s;
    nn_graph *g = bn_graph();
    nn_rng r;
    nn_rng_seed(&r, 6);
    int xs[4] = {3, 1, 4, 4};
    nn_tensor *x = tu_randn(4, xs, &r, 1.0f);
    nn_ctx_reset(&C);
    nn_tensor *outs[8];
    C.training = 0;
    nn_fwd_opts o = {.outputs = outs};
    nn_graph_forward(g, &C, x, &o);
    /* by hand: for each BN, moments of its input in double */
    double want = 0.0;
    const char *bns[2] = {"bn", "bn2"}, *ins[2] = {"c", "c2"};
    for (int l = 0; l < 2; l++) {
        nn_tensor *a = outs[nn_graph_find(g, ins[l])];
        char nm[64];
        snprintf(nm, sizeof nm, "%s.running_mean", bns[l]);
        const float *rm = nn_graph_param(g, nm)->t.data;
        snprintf(nm, sizeof nm, "%s.running_var", bns[l]);
        const float *rv = nn_graph_param(g, nm)->t.data;
        const int Cc = a->shape[1], HW = 16;
        double em = 0.0, ev = 0.0;
        for (int ch = 0; ch < Cc; ch++) {
            double m = 0.0, v = 0.0;
            for (int n = 0; n < 3; n++)
                for (int i = 0; i < HW; i++) m += a->data[((size_t)n * Cc + ch) * HW + i];
            m /= 3 * HW;
            for (int n = 0; n < 3; n++)
                for (int i = 0; i < HW; i++) {
                    double d = a->data[((size_t)n * Cc + ch) * HW + i] - m;
                    v += d * d;
                }
            v /= 3 * HW;
            em += (m - rm[ch]) * (m - rm[ch]);
            ev += (v - rv[ch]) * (v - rv[ch]);
        }
        want += em / Cc + ev / Cc;
    }
    want /= 2;
    nn_ctx_reset(&C);
    nn_tensor *loss = f_bns(&C, &x, g);
    assert_true(fabs(loss->data[0] - want) < 1e-5 * (1 + want));
    /* and its gradient with respect to the image */
    tu_gradcheck(&C, f_bns, &x, 1, g, 1e-2f, 2e-3f, 2e-2f, 48, "bns loss");
    C.training = 1;
    tu_free(x);
    nn_graph_free(g);
}

/* The GDFQ generator: shapes for both teacher inputs, the last BN (affine
 * off, training mode) standardises each output channel, labels matter,
 * and the graph survives a JSON round trip (label_embed, reshape, 1-D input). */
static void test_gdfq_generator(void **s)
{
    (void)s;
    const int dims[2][3] = {{1, 28, 28}, {3, 32, 32}};
    for (int k = 0; k < 2; k++)
        for (int cond = 0; cond < 2; cond++) {
            nn_err e;
            nn_graph *g = gen_gdfq_build(dims[k][0], dims[k][1], dims[k][2], 10, 100, 128, cond, 1, &e);
            assert_non_null(g);
            nn_ctx_reset(&C);
            C.training = 1;
            int sh[4], labels[8] = {0, 1, 2, 3, 4, 5, 6, 7};
            nn_graph_input_shape(g, 8, sh);
            nn_tensor *z = nn_new(&C, 2, sh);
            nn_rng r;
            nn_rng_seed(&r, 3);
            for (size_t i = 0; i < z->numel; i++) z->data[i] = nn_rng_normal(&r);
            if (cond) { /* per-class BN parameters start equal for all classes: make them differ */
                nn_tensor *cg = &nn_graph_param(g, "bn0.weight")->t;
                for (size_t i = 0; i < cg->numel; i++) cg->data[i] += 0.5f * nn_rng_normal(&r);
            }
            nn_fwd_opts o = {.labels = labels};
            nn_tensor *y = nn_graph_forward(g, &C, z, &o);
            assert_int_equal(y->ndim, 4);
            assert_int_equal(y->shape[1] * 10000 + y->shape[2] * 100 + y->shape[3],
                             dims[k][0] * 10000 + dims[k][1] * 100 + dims[k][2]);
            const size_t HW = (size_t)dims[k][1] * dims[k][2];
            double m = 0, v = 0;
            for (int n = 0; n < 8; n++)
                for (size_t i = 0; i < HW; i++) m += y->data[(size_t)n * dims[k][0] * HW + i];
            m /= 8.0 * HW;
            for (int n = 0; n < 8; n++)
                for (size_t i = 0; i < HW; i++) {
                    double d = y->data[(size_t)n * dims[k][0] * HW + i] - m;
                    v += d * d;
                }
            v /= 8.0 * HW;
            assert_true(fabs(m) < 1e-4 && fabs(v - 1.0) < 1e-2);
            /* same z, other labels: other images */
            int other[8] = {9, 9, 9, 9, 9, 9, 9, 9};
            float first = y->data[0];
            nn_fwd_opts o2 = {.labels = other};
            nn_tensor *y2 = nn_graph_forward(g, &C, z, &o2);
            assert_true(fabsf(y2->data[0] - first) > 1e-6f);
            if (k == 0 && !cond) {
                assert_int_equal(nn_graph_save(g, "/tmp/datafree_gen.json", &e), NN_OK);
                nn_graph *h = nn_graph_load("/tmp/datafree_gen.json", &e);
                assert_non_null(h);
                assert_int_equal(h->in_ndim, 1);
                nn_tensor *y3 = nn_graph_forward(h, &C, z, &o2);
                C.training = 1;
                assert_memory_equal(y3->data, y2->data, y2->numel * sizeof(float));
                nn_graph_free(h);
            }
            nn_graph_free(g);
        }
    nn_err e;
    assert_null(gen_gdfq_build(1, 30, 30, 10, 100, 128, 0, 1, &e));
    assert_non_null(strstr(e.msg, "multiples of 4"));
}

/* Gradients through label_embed and reshape (the generator's new ops). */
static nn_graph *G_small;
static int small_labels[3] = {2, 0, 1};
static nn_tensor *f_gen_small(nn_ctx *c, nn_tensor **in, void *arg)
{
    (void)arg;
    nn_fwd_opts o = {.labels = small_labels};
    return nn_graph_forward(G_small, c, nn_scale(c, in[0], 1.0f), &o);
}

static void test_generator_ops_grad(void **s)
{
    (void)s;
    nn_err e;
    cJSON *j = cJSON_Parse("{\"input\":[6],\"nodes\":[{\"name\":\"emb\",\"op\":\"label_embed\",\"num_classes\":3},"
                           "{\"name\":\"fc\",\"op\":\"linear\",\"out_features\":8},"
                           "{\"name\":\"v\",\"op\":\"reshape\",\"shape\":[2,2,2]},"
                           "{\"name\":\"c\",\"op\":\"conv2d\",\"out_channels\":2,\"kernel\":3,\"padding\":1}]}");
    G_small = nn_graph_from_json(j, "$", &e);
    cJSON_Delete(j);
    assert_non_null(G_small);
    nn_graph_init_params(G_small, 3, NN_INIT_KAIMING);
    nn_rng r;
    nn_rng_seed(&r, 8);
    int zs[2] = {3, 6};
    nn_tensor *z = tu_randn(2, zs, &r, 1.0f);
    tu_gradcheck(&C, f_gen_small, &z, 1, NULL, 1e-2f, 2e-3f, 1e-2f, 18, "label_embed + reshape");
    /* the embedding table's gradient: only the rows of used labels, by hand */
    nn_ctx_reset(&C);
    nn_graph_zero_grad(G_small);
    nn_backward(&C, nn_sum(&C, f_gen_small(&C, &z, NULL)));
    assert_true(nn_graph_param(G_small, "emb.weight")->t.grad[0] != 0.0f);
    tu_free(z);
    nn_graph_free(G_small);
}


/* The integer conv's kernels (byte path: int8 weights x uint8 codes with the
 * zero point taken out afterwards; pair path: int16 (x - zp)) against a
 * direct loop, on shapes with odd channel counts, groups, stride, dilation,
 * padding and pixel tails, at 8-bit extremes. */
static void test_int_conv_paths(void **s)
{
    (void)s;
    static const int shapes[][9] = {/* C H W O k stride pad dil groups */
                                    {1, 28, 28, 16, 3, 1, 1, 1, 1}, {5, 9, 7, 11, 3, 2, 1, 1, 1},
                                    {16, 14, 14, 32, 3, 2, 1, 1, 1}, {6, 8, 8, 6, 5, 1, 4, 2, 3},
                                    {32, 7, 7, 64, 1, 1, 0, 1, 1},  {12, 5, 6, 12, 3, 1, 1, 1, 12}};
    unsigned rng = 12345;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int *q = shapes[si];
        const int Cc = q[0], H = q[1], W = q[2], O = q[3], k = q[4], st = q[5], pad = q[6], dil = q[7], gr = q[8];
        const int OH = (H + 2 * pad - dil * (k - 1) - 1) / st + 1, OW = (W + 2 * pad - dil * (k - 1) - 1) / st + 1;
        const int cg = Cc / gr, og = O / gr, Cp = df_conv_pairs(Cc, gr);
        const size_t Kp = (size_t)df_conv_taps(Cc, gr, k);
        int32_t *x = malloc(sizeof(int32_t) * Cc * H * W), *y1 = malloc(sizeof(int32_t) * O * OH * OW),
                *y2 = malloc(sizeof(int32_t) * O * OH * OW), *sc = malloc(sizeof(int32_t) * df_conv_scratch(Cc, gr, k, H, W, OH, OW));
        int16_t *w = calloc((size_t)O * Kp, sizeof(int16_t));
        int8_t *wq = malloc((size_t)O * df_conv_qtaps(Cc, gr, k));
        for (int trial = 0; trial < 2; trial++) {
            const int zp = trial ? 255 : (int)(si * 37 % 256);
            for (int i = 0; i < Cc * H * W; i++) x[i] = trial ? 255 * (i % 3 == 0) : (int)((rng = rng * 1103515245u + 12345u) >> 16) % 256;
            for (int o = 0; o < O; o++)
                for (int t = 0; t < k * k; t++)
                    for (int ic = 0; ic < cg; ic++)
                        w[o * Kp + ((size_t)t * Cp + ic / 2) * 2 + ic % 2] =
                            (int16_t)(trial ? -128 : (int)((rng = rng * 1103515245u + 12345u) >> 16) % 256 - 128);
            df_conv_pairs_to_quads(w, O, Cc, gr, k, wq);
            df_conv(x, Cc, H, W, zp, w, NULL, O, k, st, pad, dil, gr, OH, OW, sc, y1);
            df_conv(x, Cc, H, W, zp, w, wq, O, k, st, pad, dil, gr, OH, OW, sc, y2);
            for (int o = 0; o < O; o++)
                for (int oh = 0; oh < OH; oh++)
                    for (int ow = 0; ow < OW; ow++) {
                        int32_t r = 0;
                        const int g = o / og;
                        for (int ic = 0; ic < cg; ic++)
                            for (int kh = 0; kh < k; kh++)
                                for (int kw = 0; kw < k; kw++) {
                                    const int ih = oh * st + kh * dil - pad, iw = ow * st + kw * dil - pad;
                                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                    r += w[o * Kp + ((size_t)(kh * k + kw) * Cp + ic / 2) * 2 + ic % 2] *
                                         (x[((g * cg + ic) * H + ih) * W + iw] - zp);
                                }
                        const size_t at = ((size_t)o * OH + oh) * OW + ow;
                        if (y1[at] != r || y2[at] != r) {
                            print_error("shape %zu trial %d at o %d (%d,%d): direct %d, pair path %d, byte path %d\n", si,
                                        trial, o, oh, ow, r, y1[at], y2[at]);
                            fail();
                        }
                    }
            /* the adder kernel: -sum |((x - zp) << xsh) - w|, a padded tap adds -|w| */
            const int xsh = trial + 1;
            for (size_t t = 0; t < (size_t)O * Kp; t++) w[t] = (int16_t)(w[t] / 2);
            df_adder(x, Cc, H, W, zp, xsh, w, O, k, st, pad, dil, gr, OH, OW, sc, y1);
            for (int o = 0; o < O; o++)
                for (int oh = 0; oh < OH; oh++)
                    for (int ow = 0; ow < OW; ow++) {
                        int32_t r = 0;
                        const int g = o / og;
                        for (int ic = 0; ic < cg; ic++)
                            for (int kh = 0; kh < k; kh++)
                                for (int kw = 0; kw < k; kw++) {
                                    const int ih = oh * st + kh * dil - pad, iw = ow * st + kw * dil - pad;
                                    const int32_t xv = ih < 0 || ih >= H || iw < 0 || iw >= W
                                                           ? 0
                                                           : (x[((g * cg + ic) * H + ih) * W + iw] - zp) * (1 << xsh);
                                    r -= abs(xv - w[o * Kp + ((size_t)(kh * k + kw) * Cp + ic / 2) * 2 + ic % 2]);
                                }
                        if (y1[((size_t)o * OH + oh) * OW + ow] != r) {
                            print_error("adder: shape %zu trial %d at o %d (%d,%d): direct %d, kernel %d\n", si, trial, o,
                                        oh, ow, r, y1[((size_t)o * OH + oh) * OW + ow]);
                            fail();
                        }
                    }
        }
        free(x), free(y1), free(y2), free(sc), free(w), free(wq);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip), cmocka_unit_test(test_edge_cases),
                                       cmocka_unit_test(test_tensor_and_ste), cmocka_unit_test(test_range_ema),
                                       cmocka_unit_test(test_bns_loss),
                                       cmocka_unit_test(test_gdfq_generator), cmocka_unit_test(test_generator_ops_grad),
                                       cmocka_unit_test(test_int_conv_paths), cmocka_unit_test(test_pot),
                                       cmocka_unit_test(test_pot_mse)};
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
