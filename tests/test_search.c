/* Search machinery: Gumbel-softmax sample statistics and gradients,
 * temperature schedules. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/io.h"
#include "search/derive.h"
#include "search/gates.h"
#include "search/plot.h"
#include "search/gumbel.h"
#include "testutil.h"

#define C TU_CTX

/* As tau -> 0 the standard form's argmax is the Gumbel-max trick: its
 * frequencies are softmax(alpha). The seed's form (noise on probabilities)
 * flattens them towards uniform, which the test also pins down. */
static void test_gumbel_frequencies(void **s)
{
    (void)s;
    const float a[4] = {1.0f, 0.0f, -1.0f, 0.5f};
    double p[4], z = 0;
    for (int k = 0; k < 4; k++) z += exp(a[k]);
    for (int k = 0; k < 4; k++) p[k] = exp(a[k]) / z;
    for (int form = 0; form < 2; form++) {
        nn_rng r;
        nn_rng_seed(&r, 21);
        int cnt[4] = {0};
        const int T = 20000;
        nn_ctx_reset(&C);
        C.grad_enabled = 0;
        nn_tensor *alpha = nn_new2(&C, T, 4); /* T rows = T independent draws */
        for (int t = 0; t < T; t++) memcpy(alpha->data + (size_t)t * 4, a, sizeof a);
        nn_tensor *m = srch_gumbel_softmax(&C, alpha, (srch_gumbel){form ? SRCH_GUMBEL_SEED : SRCH_GUMBEL_STANDARD, 0.05f, 0}, &r);
        for (int t = 0; t < T; t++) {
            const float *row = m->data + (size_t)t * 4;
            int b = 0;
            float sum = 0;
            for (int k = 0; k < 4; k++) {
                sum += row[k];
                if (row[k] > row[b]) b = k;
            }
            assert_true(fabsf(sum - 1.0f) < 1e-4f);
            cnt[b]++;
        }
        for (int k = 0; k < 4; k++) {
            const double f = (double)cnt[k] / T;
            if (form == 0 && fabs(f - p[k]) > 0.015) { /* ~4 standard errors */
                print_error("standard form: frequency of %d is %.4f, softmax gives %.4f\n", k, f, p[k]);
                fail();
            }
            if (form == 1) assert_true(fabs(f - 0.25) < fabs(p[k] - 0.25) + 1e-9 || fabs(p[k] - 0.25) < 0.02);
        }
    }
}

/* Gradients reach alpha (fixed noise: the same RNG seed for every evaluation). */
static nn_tensor *f_gumbel(nn_ctx *c, nn_tensor **in, void *arg)
{
    int form = *(int *)arg;
    nn_rng r;
    nn_rng_seed(&r, 5);
    return srch_gumbel_softmax(c, in[0], (srch_gumbel){form ? SRCH_GUMBEL_SEED : SRCH_GUMBEL_STANDARD, 0.7f, 0}, &r);
}

static void test_gumbel_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 3);
    int sh[2] = {3, 5};
    nn_tensor *a = tu_randn(2, sh, &r, 1.0f);
    for (int form = 0; form < 2; form++) tu_gradcheck(&C, f_gumbel, &a, 1, &form, 1e-2f, 2e-3f, 1e-2f, 15, "gumbel-softmax");
    /* per-batch noise: every row gets the same noise, so equal alphas give equal rows */
    nn_ctx_reset(&C);
    nn_tensor *b = nn_new2(&C, 3, 5);
    for (int k = 0; k < 15; k++) b->data[k] = (float)(k % 5);
    nn_tensor *m = srch_gumbel_softmax(&C, b, (srch_gumbel){SRCH_GUMBEL_STANDARD, 1.0f, 1}, &r);
    tu_close(m->data + 5, m->data, 5, 0.0f, 0.0f, "per-batch noise");
    tu_free(a);
}

/* The mixed-edge sum: gradients to every input and to the weights, with
 * weights per batch ([1, k]) and per example ([N, k]). */
static nn_tensor *f_mix(nn_ctx *c, nn_tensor **in, void *arg)
{
    (void)arg;
    nn_tensor *xs[3] = {in[0], nn_relu(c, in[1]), in[2]};
    return nn_mix(c, xs, 3, in[3]);
}

static void test_mix_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 6);
    int xsh[4] = {2, 3, 4, 4};
    for (int per_row = 0; per_row < 2; per_row++) {
        int wsh[2] = {per_row ? 2 : 1, 3};
        nn_tensor *in[4] = {tu_randn(4, xsh, &r, 1.0f), tu_randn(4, xsh, &r, 1.0f), tu_randn(4, xsh, &r, 1.0f),
                            tu_randn(2, wsh, &r, 1.0f)};
        for (size_t i = 0; i < in[1]->numel; i++) /* away from the ReLU kink */
            if (fabsf(in[1]->data[i]) < 0.05f) in[1]->data[i] = 0.1f;
        tu_gradcheck(&C, f_mix, in, 4, NULL, 1e-2f, 2e-3f, 1e-2f, 40, per_row ? "mix (per example)" : "mix (per batch)");
        for (int k = 0; k < 4; k++) tu_free(in[k]);
    }
}

/* Derivation on hand-made alphas: 3 nodes after the input, edges 0->1, 0->2,
 * 1->2, 0->3, 1->3, 2->3, ops {conv3x3, identity, none}. */
static const srch_edge EDGES[6] = {
    {0, 1, 3, {"conv3x3", "identity", "none"}}, {0, 2, 3, {"conv3x3", "identity", "none"}},
    {1, 2, 3, {"conv3x3", "identity", "none"}}, {0, 3, 3, {"conv3x3", "identity", "none"}},
    {1, 3, 3, {"conv3x3", "identity", "none"}}, {2, 3, 3, {"conv3x3", "identity", "none"}}};
static const float ALPHA[18] = {
    0.1f, 0.2f, 0.9f,  /* 0->1: none wins, but node 1 needs an input: identity */
    0.8f, 0.1f, 0.0f,  /* 0->2: conv3x3 */
    0.1f, 0.7f, 0.2f,  /* 1->2: identity */
    0.0f, 0.1f, 2.0f,  /* 0->3: none (strongest non-none 0.1) */
    0.5f, 0.3f, 0.1f,  /* 1->3: conv3x3 0.5 */
    0.2f, 0.6f, 0.4f}; /* 2->3: identity 0.6 */

static int has(const srch_genotype *g, int from, int to, const char *op)
{
    for (int i = 0; i < g->n; i++)
        if (g->e[i].from == from && g->e[i].to == to && !strcmp(g->e[i].op, op)) return 1;
    return 0;
}

static void test_derive(void **s)
{
    (void)s;
    nn_err e;
    srch_genotype g;
    assert_int_equal(srch_derive(EDGES, 6, ALPHA, SRCH_DERIVE_ARGMAX, 0, &g, &e), NN_OK);
    assert_int_equal(g.n, 5); /* 0->3 dropped (none); 0->1 kept so node 1 has an input */
    assert_true(has(&g, 0, 1, "identity") && has(&g, 0, 2, "conv3x3") && has(&g, 1, 2, "identity"));
    assert_true(has(&g, 1, 3, "conv3x3") && has(&g, 2, 3, "identity") && !has(&g, 0, 3, "none"));
    assert_int_equal(srch_derive(EDGES, 6, ALPHA, SRCH_DERIVE_TOPK, 2, &g, &e), NN_OK);
    assert_int_equal(g.n, 5); /* node 1: one edge; node 2: both; node 3: 2->3 (0.6) and 1->3 (0.5) */
    assert_true(has(&g, 2, 3, "identity") && has(&g, 1, 3, "conv3x3") && !has(&g, 0, 3, "identity"));
    assert_int_equal(srch_derive(EDGES, 6, ALPHA, SRCH_DERIVE_ONE_PRED, 0, &g, &e), NN_OK);
    assert_int_equal(g.n, 3);
    assert_true(has(&g, 0, 1, "identity") && has(&g, 0, 2, "conv3x3") && has(&g, 2, 3, "identity"));
    /* round trip through JSON and a file */
    assert_int_equal(srch_genotype_save(&g, "/tmp/datafree_geno.json", &e), NN_OK);
    srch_genotype h;
    assert_int_equal(srch_genotype_load("/tmp/datafree_geno.json", &h, &e), NN_OK);
    assert_int_equal(h.n, g.n);
    for (int i = 0; i < g.n; i++)
        assert_true(h.e[i].from == g.e[i].from && h.e[i].to == g.e[i].to && !strcmp(h.e[i].op, g.e[i].op));
    /* a bad genotype names its JSON path */
    tu_write_text("/tmp/datafree_geno_bad.json",
                  "{\"format\":\"datafree.genotype\",\"edges\":[{\"from\":2,\"to\":1,\"op\":\"x\"}]}");
    assert_int_equal(srch_genotype_load("/tmp/datafree_geno_bad.json", &h, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "$.edges[0]"));
    /* alpha history as SVG: one polyline per op per edge */
    float hist[3 * 18];
    for (int t = 0; t < 3; t++)
        for (int q = 0; q < 18; q++) hist[t * 18 + q] = ALPHA[q] * (float)t;
    assert_int_equal(srch_plot_alpha_svg("/tmp/datafree_alpha.svg", EDGES, 6, hist, 3, &e), NN_OK);
    size_t len;
    char *svg = nn_read_file("/tmp/datafree_alpha.svg", &len, &e);
    assert_non_null(svg);
    int lines = 0;
    for (char *p = svg; (p = strstr(p, "<polyline")); p++) lines++;
    assert_int_equal(lines, 18);
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
}

/* A tiny search: three candidate ops with constructed losses (op 1 is the
 * cheapest); alpha steps by the binary-gate estimator must make op 1 the
 * argmax, from an alpha that starts against it. Also the sampler's
 * frequencies follow softmax(alpha). */
static void test_gate_search(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 17);
    const float cost[3] = {1.0f, 0.2f, 2.0f};
    float alpha[3] = {0.5f, -0.5f, 0.0f};
    for (int step = 0; step < 2000; step++) {
        int paths[2];
        int n = srch_gate_sample(alpha, 3, 2, &r, paths);
        assert_int_equal(n, 2);
        assert_true(paths[0] != paths[1]);
        float dldg[2] = {cost[paths[0]], cost[paths[1]]}, da[3] = {0};
        srch_gate_alpha_grad(alpha, 3, paths, 2, dldg, da);
        for (int k = 0; k < 3; k++) alpha[k] -= 0.05f * da[k];
    }
    assert_true(alpha[1] > alpha[0] && alpha[0] > alpha[2]); /* ordered by cost */
    const float a2[3] = {1.0f, 0.0f, -1.0f};
    int cnt[3] = {0};
    for (int t = 0; t < 20000; t++) {
        int p;
        srch_gate_sample(a2, 3, 1, &r, &p);
        cnt[p]++;
    }
    const double z = exp(1.0) + 1.0 + exp(-1.0);
    assert_true(fabs(cnt[0] / 20000.0 - exp(1.0) / z) < 0.015 && fabs(cnt[2] / 20000.0 - exp(-1.0) / z) < 0.015);
}

static void test_tau_schedules(void **s)
{
    (void)s;
    assert_true(fabsf(srch_tau(SRCH_TAU_EXP, 5.0f, 0, 0.9f, 2, 10) - 5.0f * 0.81f) < 1e-5f);
    assert_true(fabsf(srch_tau(SRCH_TAU_LINEAR, 5.0f, 1.0f, 0, 9, 10) - 1.0f) < 1e-6f);
    assert_true(fabsf(srch_tau(SRCH_TAU_LINEAR, 5.0f, 1.0f, 0, 0, 10) - 5.0f) < 1e-6f);
    assert_true(srch_tau(SRCH_TAU_CONST, 2.0f, 0, 0, 7, 10) == 2.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gumbel_frequencies), cmocka_unit_test(test_gumbel_grad), cmocka_unit_test(test_mix_grad), cmocka_unit_test(test_derive), cmocka_unit_test(test_gate_search),
                                       cmocka_unit_test(test_tau_schedules)};
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
