/* Search machinery: Gumbel-softmax sample statistics and gradients,
 * temperature schedules. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/io.h"
#include "nn/json.h"
#include "generators/autorecon.h"
#include "nn/graph.h"
#include "nn/optim.h"
#include "nn/zoo.h"
#include "search/cost.h"
#include "search/derive.h"
#include "search/gates.h"
#include "search/nasb.h"
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

/* the summed alpha of a genotype's choices */
static double genotype_alpha(const srch_edge *edges, int ne, const float *alpha, const srch_genotype *g)
{
    double a = 0;
    for (int k = 0; k < g->n; k++)
        for (int i = 0, o = 0; i < ne; o += edges[i++].nops)
            if (edges[i].from == g->e[k].from && edges[i].to == g->e[k].to)
                for (int j = 0; j < edges[i].nops; j++)
                    if (!strcmp(edges[i].ops[j], g->e[k].op)) a += alpha[o + j];
    return a;
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

/* The MACs budget on the hand-made edges: conv3x3 costs 10 on 0->2 and 30 on
 * 1->3 (1 elsewhere), identity 0, none 0, fixed 5. The expected cost against
 * a hand computation, the hinge penalty's gradient against central
 * differences of the penalty, and budgeted derivation: argmax costs 45; the
 * cheapest move per alpha given up is 1->3 to identity (0.2 per 30), then
 * 0->2 (0.7 per 10); a budget under the fixed cost is refused. */
static void test_cost_budget(void **s)
{
    (void)s;
    double cost[18];
    for (int i = 0; i < 6; i++) cost[3 * i] = i == 1 ? 10 : i == 4 ? 30 : 1, cost[3 * i + 1] = 0, cost[3 * i + 2] = 0;
    double want = 5;
    for (int i = 0; i < 6; i++) {
        const double z = exp(ALPHA[3 * i]) + exp(ALPHA[3 * i + 1]) + exp(ALPHA[3 * i + 2]);
        want += exp(ALPHA[3 * i]) / z * cost[3 * i];
    }
    const double E = srch_cost_expected(EDGES, 6, ALPHA, cost, 5);
    assert_true(fabs(E - want) < 1e-9);
    float grad[18] = {0}, a[18];
    assert_true(srch_cost_penalty(EDGES, 6, ALPHA, cost, 5, E + 1, 2.0, grad) == 0.0);
    for (int q = 0; q < 18; q++) assert_true(grad[q] == 0.0f);
    const double budget = 8, pen = srch_cost_penalty(EDGES, 6, ALPHA, cost, 5, budget, 2.0, grad);
    assert_true(fabs(pen - 2.0 * (E / budget - 1)) < 1e-9);
    for (int q = 0; q < 18; q++) {
        memcpy(a, ALPHA, sizeof a);
        float dummy[18] = {0};
        a[q] += 1e-3f;
        const double up = srch_cost_penalty(EDGES, 6, a, cost, 5, budget, 2.0, dummy);
        a[q] -= 2e-3f;
        const double dn = srch_cost_penalty(EDGES, 6, a, cost, 5, budget, 2.0, dummy);
        const double fd = (up - dn) / 2e-3;
        if (fabs(fd - grad[q]) > 1e-3 * (1 + fabs(fd))) {
            print_error("alpha %d: gradient %g, central difference %g\n", q, (double)grad[q], fd);
            fail();
        }
    }
    assert_true(grad[12] > 0 && grad[13] < 0); /* 1->3: away from the conv, towards identity */
    nn_err e = {0};
    srch_genotype g;
    assert_int_equal(srch_derive_budget(EDGES, 6, ALPHA, cost, 5, 1000, &g, &e), NN_OK);
    assert_true(fabs(srch_genotype_cost(EDGES, 6, cost, 5, &g) - 45) < 1e-9);
    assert_true(has(&g, 0, 2, "conv3x3") && has(&g, 1, 3, "conv3x3"));
    assert_int_equal(srch_derive_budget(EDGES, 6, ALPHA, cost, 5, 40, &g, &e), NN_OK);
    assert_true(has(&g, 0, 2, "conv3x3") && has(&g, 1, 3, "identity") && g.n == 5);
    assert_true(fabs(srch_genotype_cost(EDGES, 6, cost, 5, &g) - 15) < 1e-9);
    assert_int_equal(srch_derive_budget(EDGES, 6, ALPHA, cost, 5, 14, &g, &e), NN_OK);
    assert_true(has(&g, 0, 2, "identity") && has(&g, 1, 3, "identity"));
    assert_true(fabs(srch_genotype_cost(EDGES, 6, cost, 5, &g) - 5) < 1e-9);
    assert_int_equal(srch_derive_budget(EDGES, 6, ALPHA, cost, 5, 4, &g, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "over the budget"));
    /* filling the headroom from all-identity (5): at 20 only 0->2's conv
     * (+10) fits; at 50 both convs, the larger alpha gain (0->2's 0.7)
     * first; 1->2 stays identity, whose alpha beats its conv's; none is
     * never taken (0->1) */
    assert_int_equal(srch_derive_budget(EDGES, 6, ALPHA, cost, 5, 14, &g, &e), NN_OK);
    assert_int_equal(srch_fill_budget(EDGES, 6, ALPHA, cost, 5, 14, NULL, &g), 0);
    assert_int_equal(srch_fill_budget(EDGES, 6, ALPHA, cost, 5, 20, NULL, &g), 1);
    assert_true(has(&g, 0, 2, "conv3x3") && has(&g, 1, 3, "identity"));
    assert_true(fabs(srch_genotype_cost(EDGES, 6, cost, 5, &g) - 15) < 1e-9);
    assert_int_equal(srch_fill_budget(EDGES, 6, ALPHA, cost, 5, 50, NULL, &g), 1);
    assert_true(has(&g, 0, 2, "conv3x3") && has(&g, 1, 3, "conv3x3") && has(&g, 1, 2, "identity"));
    assert_true(has(&g, 0, 1, "identity") && fabs(srch_genotype_cost(EDGES, 6, cost, 5, &g) - 45) < 1e-9);
    /* a forbidden op is not moved to: from conv on 1->2, identity forbidden */
    assert_int_equal(srch_derive_budget(EDGES, 6, ALPHA, cost, 5, 14, &g, &e), NN_OK);
    assert_int_equal(srch_fill_budget(EDGES, 6, ALPHA, cost, 5, 50, "conv3x3", &g), 0);
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


/* nn_repeat_rows: copies forward, sums gradients back. */
static nn_tensor *f_repeat(nn_ctx *c, nn_tensor **in, void *arg)
{
    (void)arg;
    return nn_softmax(c, nn_repeat_rows(c, in[0], 3)); /* softmax: rows must differ in their gradient */
}

static void test_repeat_rows_grad(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 5);
    nn_tensor *a = tu_randn(2, (int[]){1, 5}, &r, 1.0f);
    nn_tensor *in[1] = {a};
    tu_gradcheck(&C, f_repeat, in, 1, NULL, 1e-3f, 1e-3f, 1e-2f, 5, "repeat_rows");
    tu_free(a);
}

/* Mixing weights through a Gumbel sample (per example), as the search runner does. */
typedef struct {
    srch_gumbel gs;
    nn_rng *rng;
} tmix;
static nn_tensor *tmix_fn(void *user, nn_ctx *c, const nn_graph *g, int node, nn_tensor *alpha, int batch)
{
    (void)g, (void)node;
    tmix *m = user;
    return srch_gumbel_softmax(c, nn_repeat_rows(c, alpha, batch), m->gs, m->rng);
}

/* The supernet builds for three output sizes; one backward reaches every
 * alpha; the derived generator of a constructed alpha has exactly the kept
 * edges' ops; bad genotypes are refused naming the edge. */
static void test_autorecon_space(void **s)
{
    (void)s;
    const int shapes[3][3] = {{1, 28, 28}, {3, 32, 32}, {3, 64, 64}};
    nn_err e = {0};
    for (int t = 0; t < 3; t++) {
        gen_ar_space sp;
        assert_int_equal(gen_ar_space_init(&sp, shapes[t][0], shapes[t][1], shapes[t][2], 10, 16, 0.0625f, &e), 0);
        assert_int_equal(sp.ne, GEN_AR_EDGES);
        int mix[GEN_AR_EDGES];
        nn_graph *g = gen_ar_supernet(&sp, 3, mix, &e);
        assert_non_null(g);
        nn_ctx_reset(&C);
        C.training = 1;
        C.grad_enabled = 1;
        nn_graph_set_trainable(g, 1);
        nn_rng r;
        nn_rng_seed(&r, 9);
        nn_tensor *z = nn_new2(&C, 2, 16);
        for (size_t i = 0; i < z->numel; i++) z->data[i] = nn_rng_normal(&r);
        int labels[2] = {1, 7};
        tmix tm = {{SRCH_GUMBEL_SEED, 1.0f, 0}, &r};
        nn_fwd_opts o = {.labels = labels, .mix_weights = tmix_fn, .mix_user = &tm};
        nn_tensor *y = nn_graph_forward(g, &C, z, &o);
        assert_int_equal(y->shape[1], shapes[t][0]);
        assert_int_equal(y->shape[2], shapes[t][1]);
        assert_int_equal(y->shape[3], shapes[t][2]);
        nn_graph_zero_grad(g);
        nn_backward(&C, nn_sum(&C, nn_mul(&C, y, y)));
        for (int i = 0; i < sp.ne; i++) {
            const nn_tensor *a = &g->params[g->nodes[mix[i]].param[0]].t;
            double gsum = 0;
            for (size_t q = 0; q < a->numel; q++) gsum += fabs(a->grad[q]);
            if (!(gsum > 0)) {
                print_error("edge %d (%d -> %d) got no alpha gradient at %dx%d\n", i, sp.edges[i].from,
                            sp.edges[i].to, shapes[t][1], shapes[t][2]);
                fail();
            }
        }
        nn_graph_free(g);
    }
    /* a constructed alpha: every normal edge prefers conv3x3, except two that
     * prefer none; cross edges prefer none; up edges bilinear */
    gen_ar_space sp;
    assert_int_equal(gen_ar_space_init(&sp, 1, 28, 28, 10, 16, 0.125f, &e), 0);
    float alpha[GEN_AR_EDGES * 7];
    int off = 0, kept = 0, convs = 0;
    for (int i = 0; i < sp.ne; i++) {
        const srch_edge *ed = &sp.edges[i];
        const char *want = ed->nops == 2 ? "bilinear" : ed->nops == 3 ? "none" : (i == 2 || i == 11) ? "none" : "conv3x3";
        for (int j = 0; j < ed->nops; j++) alpha[off + j] = strcmp(ed->ops[j], want) ? 0.0f : 1.0f;
        off += ed->nops;
        kept += strcmp(want, "none") != 0;
        convs += !strcmp(want, "conv3x3");
    }
    srch_genotype gt;
    assert_int_equal(srch_derive(sp.edges, sp.ne, alpha, SRCH_DERIVE_ARGMAX, 0, &gt, &e), 0);
    assert_int_equal(gt.n, kept);
    nn_graph *d = gen_ar_derived(&sp, &gt, 1, &e);
    assert_non_null(d);
    int nconv = 0, nbil = 0, nmix = 0;
    for (int i = 0; i < d->n; i++) {
        nconv += d->nodes[i].op == NN_OP_CONV && d->nodes[i].kernel == 3 && strcmp(d->nodes[i].name, "conv_out");
        nbil += d->nodes[i].op == NN_OP_UPSAMPLE_BILINEAR;
        nmix += d->nodes[i].op == NN_OP_MIX;
    }
    assert_int_equal(nmix, 0);
    assert_int_equal(nconv, convs);
    assert_int_equal(nbil, 4); /* 2 up edges in each of the 2 upsampling blocks */
    /* the per-op MACs read off the supernet: a derived generator costs
     * exactly fixed + its ops, and a block-3 conv3x3 is 8 * 8 * 9 * 28 * 28 */
    {
        int mx[GEN_AR_EDGES];
        nn_graph *sn = gen_ar_supernet(&sp, 3, mx, &e);
        assert_non_null(sn);
        double cost[GEN_AR_EDGES * 7], fixed;
        gen_ar_op_macs(&sp, sn, cost, &fixed);
        const double dm = nn_graph_macs(d), gm = srch_genotype_cost(sp.edges, sp.ne, cost, fixed, &gt);
        if (fabs(dm - gm) > 0.5) {
            print_error("derived generator %.0f MACs, genotype cost %.0f\n", dm, gm);
            fail();
        }
        double all = fixed;
        for (int q = 0; q < off; q++) all += cost[q];
        assert_true(fabs(all - nn_graph_macs(sn)) < 0.5);
        for (int i = 0, o = 0; i < sp.ne; o += sp.edges[i++].nops)
            if (sp.edges[i].from == 9 && sp.edges[i].to == 11) {
                assert_string_equal(sp.edges[i].ops[1], "conv3x3");
                assert_true(fabs(cost[o + 1] - 8.0 * 8 * 9 * 28 * 28) < 0.5);
                assert_true(cost[o + 5] == 0 && cost[o + 6] == 0); /* identity, none */
            }
        nn_graph_free(sn);
    }
    /* it runs, and saves/loads as an ordinary model.json */
    assert_int_equal(nn_graph_save(d, "/tmp/datafree_ar_derived.json", &e), 0);
    nn_graph *d2 = nn_graph_load("/tmp/datafree_ar_derived.json", &e);
    assert_non_null(d2);
    assert_int_equal(d2->n, d->n);
    nn_graph_free(d2);
    nn_graph_free(d);
    /* a genotype round trip keeps the generator; bad genotypes are refused */
    assert_int_equal(srch_genotype_save(&gt, "/tmp/datafree_ar_gt.json", &e), 0);
    srch_genotype g2;
    assert_int_equal(srch_genotype_load("/tmp/datafree_ar_gt.json", &g2, &e), 0);
    assert_int_equal(g2.n, gt.n);
    snprintf(g2.e[0].op, sizeof g2.e[0].op, "conv7x7");
    assert_null(gen_ar_derived(&sp, &g2, 1, &e));
    assert_non_null(strstr(e.msg, "conv7x7"));
    assert_non_null(strstr(e.msg, "is not one of"));
    g2 = gt;
    g2.e[0].to = 9;
    e.msg[0] = 0;
    assert_null(gen_ar_derived(&sp, &g2, 1, &e));
    assert_non_null(strstr(e.msg, "not an edge"));
    /* the DOT picture names the kept ops */
    assert_int_equal(gen_ar_write_dot(&sp, &gt, "/tmp/datafree_ar.dot", &e), 0);
    assert_int_equal(tu_sh("grep -c 'label=\"conv3x3\"' /tmp/datafree_ar.dot"), 0);
    assert_int_equal(atoi(TU_OUT), convs);
}

/* A tiny bi-level search: one mixed edge {conv3x3, identity, none} on an
 * 8x8 map and the constructed loss MSE(out, x), which identity alone
 * satisfies. Arch steps (weights frozen, Adam on alpha only) must move
 * alpha to identity; the weights must not move during them, and a weight
 * step must leave alpha alone (the optimiser groups). */
static void test_tiny_bilevel(void **s)
{
    (void)s;
    nn_err e = {0};
    nn_graph *g = nn_graph_new("tiny_supernet", 4, 8, 8, 1);
    int cv = nn_g_conv(g, "conv", 0, 4, 3, 1, 1, 1, 0);
    nn_gnode m = nn_gnode_default("mix", NN_OP_MIX, cv);
    m.in[1] = 0;
    m.nin = 2;
    m.candidates = 3;
    nn_g_add_node(g, &m);
    assert_int_equal(nn_graph_finalize(g, &e), 0);
    nn_graph_init_params(g, 1, NN_INIT_KAIMING);
    nn_param *alpha = nn_graph_param(g, "mix.alpha"), *w = nn_graph_param(g, "conv.weight");
    assert_non_null(alpha);
    assert_true(alpha->arch && !w->arch);
    float w0[144];
    memcpy(w0, w->t.data, sizeof w0);
    nn_optim wo, ao;
    nn_optim_init(&wo, NN_ADAM, g);
    nn_optim_init(&ao, NN_ADAM, g);
    wo.group = NN_GROUP_WEIGHTS;
    ao.group = NN_GROUP_ARCH;
    nn_rng r;
    nn_rng_seed(&r, 4);
    tmix tm = {{SRCH_GUMBEL_STANDARD, 1.0f, 0}, &r};
    for (int step = 0; step < 150; step++) {
        const int arch = step % 3 != 0; /* two arch steps per weight step */
        nn_ctx_reset(&C);
        C.training = 1;
        C.grad_enabled = 1;
        nn_graph_set_trainable_group(g, NN_GROUP_WEIGHTS, !arch);
        nn_graph_set_trainable_group(g, NN_GROUP_ARCH, arch);
        nn_tensor *x = nn_new4(&C, 4, 4, 8, 8);
        for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
        nn_fwd_opts o = {.mix_weights = tmix_fn, .mix_user = &tm};
        nn_tensor *y = nn_graph_forward(g, &C, x, &o);
        nn_tensor *loss = nn_mse(&C, y, x);
        float a_before[3], w_before[144];
        memcpy(a_before, alpha->t.data, sizeof a_before);
        memcpy(w_before, w->t.data, sizeof w_before);
        nn_graph_zero_grad(g);
        nn_backward(&C, loss);
        nn_optim_step(arch ? &ao : &wo, g, arch ? 0.05f : 1e-3f);
        if (arch) {
            assert_memory_equal(w_before, w->t.data, sizeof w_before);
        } else {
            assert_memory_equal(a_before, alpha->t.data, sizeof a_before);
        }
    }
    const float *a = alpha->t.data;
    if (!(a[1] > a[0] + 0.5f && a[1] > a[2] + 0.5f)) {
        print_error("alpha conv %.3f identity %.3f none %.3f: identity should win\n", a[0], a[1], a[2]);
        fail();
    }
    assert_true(memcmp(w0, w->t.data, sizeof w0) != 0); /* weight steps did happen */
    nn_optim_free(&wo);
    nn_optim_free(&ao);
    nn_graph_free(g);
}

static void test_tau_schedules(void **s)
{
    (void)s;
    assert_true(fabsf(srch_tau(SRCH_TAU_EXP, 5.0f, 0, 0.9f, 2, 10) - 5.0f * 0.81f) < 1e-5f);
    assert_true(fabsf(srch_tau(SRCH_TAU_LINEAR, 5.0f, 1.0f, 0, 9, 10) - 1.0f) < 1e-6f);
    assert_true(fabsf(srch_tau(SRCH_TAU_LINEAR, 5.0f, 1.0f, 0, 0, 10) - 5.0f) < 1e-6f);
    assert_true(srch_tau(SRCH_TAU_CONST, 2.0f, 0, 0, 7, 10) == 2.0f);
}


static nn_tensor *onehot_weights(void *user, nn_ctx *c, const nn_graph *g, int node, nn_tensor *alpha, int batch)
{
    const srch_gates *s = user;
    (void)alpha, (void)batch;
    nn_tensor *w = nn_new2(c, 1, g->nodes[node].candidates);
    memset(w->data, 0, w->numel * sizeof(float));
    w->data[s->paths[s->slot[node]][0]] = 1.0f;
    return w;
}

/* The NASB supernet: 3 cells x 15 mixed edges of Table 4.1's 10 ops; a
 * sampled-path forward (only the nodes the paths need) equals the full
 * forward with the same one-hot gates; an alpha step's gradient reaches only
 * the sampled paths' alphas and sums to zero over each edge's pair (the
 * softmax Jacobian); derivation rules on hand-made alphas; a derived network
 * from a genotype round trip. */
/* g saved to a genotype file and read back into out */
static void geno_roundtrip(const srch_genotype *g, srch_genotype *out)
{
    nn_err e = {0};
    assert_int_equal(srch_genotype_save(g, "/tmp/datafree_nasb_rt.json", &e), NN_OK);
    assert_int_equal(srch_genotype_load("/tmp/datafree_nasb_rt.json", out, &e), NN_OK);
}

static void test_nasb(void **s)
{
    (void)s;
    nn_err e = {0};
    nn_graph *g = nasb_build(1, 28, 28, 10, 1, NULL, &e);
    assert_non_null(g);
    srch_gates gs;
    assert_int_equal(srch_gates_init(&gs, g, &e), NN_OK);
    assert_int_equal(gs.nmix, NASB_CELLS * NASB_EDGES_PER_CELL);
    int arch = 0;
    for (int i = 0; i < g->np; i++) arch += g->params[i].arch;
    assert_int_equal(arch, 45);
    nn_graph_init_params(g, 3, NN_INIT_KAIMING);
    nn_rng r;
    nn_rng_seed(&r, 11);
    for (int i = 0; i < g->np; i++)
        if (g->params[i].arch)
            for (size_t k = 0; k < g->params[i].t.numel; k++) g->params[i].t.data[k] = nn_rng_normal(&r);
    nn_tensor *x = tu_eval_input(&r, 2, 1, 28, 28);
    srch_gates_sample(&gs, g, 1, &r);
    int on = 0;
    for (int i = 0; i < g->n; i++) on += gs.active[i];
    assert_true(on < g->n / 2); /* most candidates are not computed */
    nn_fwd_opts fa = {.mix_weights = srch_gates_weights, .mix_user = &gs, .active = gs.active},
                ff = {.mix_weights = onehot_weights, .mix_user = &gs};
    nn_tensor *ya = nn_graph_forward(g, &C, x, &fa), *yf = nn_graph_forward(g, &C, x, &ff);
    tu_close(ya->data, yf->data, ya->numel, 1e-5f, 1e-5f, "sampled-path forward vs full one-hot forward");
    /* an alpha step: two paths per edge */
    nn_ctx_reset(&C);
    C.training = 1;
    C.grad_enabled = 1;
    nn_graph_set_trainable_group(g, NN_GROUP_WEIGHTS, 0);
    nn_graph_set_trainable_group(g, NN_GROUP_ARCH, 1);
    x = nn_new4(&C, 2, 1, 28, 28);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    srch_gates_sample(&gs, g, 2, &r);
    nn_tensor *y = nn_graph_forward(g, &C, x, &fa);
    const int lab[2] = {3, 7};
    nn_graph_zero_grad(g);
    nn_backward(&C, nn_cross_entropy(&C, y, lab, 0.0f));
    srch_gates_alpha_grad(&gs, g);
    /* the per-epoch path statistics: one path per edge in the weight step, two in the alpha step */
    for (int m = 0; m < gs.nmix; m++) {
        int n1 = 0, n2 = 0;
        for (int k = 0; k < NASB_NOPS; k++) n1 += gs.sampled[m][0][k], n2 += gs.sampled[m][1][k];
        assert_int_equal(n1, 1);
        assert_int_equal(n2, 2);
        assert_int_equal(gs.sampled[m][1][gs.paths[m][0]], 1);
        assert_int_equal(gs.sampled[m][1][gs.paths[m][1]], 1);
    }
    srch_gates_reset_counts(&gs);
    assert_int_equal(gs.sampled[gs.nmix - 1][1][gs.paths[gs.nmix - 1][1]], 0);
    int moved = 0;
    for (int m = 0; m < gs.nmix; m++) {
        const nn_tensor *a = &g->params[g->nodes[gs.node[m]].param[0]].t;
        double sum = 0.0;
        for (int k = 0; k < NASB_NOPS; k++) {
            const int sampled = k == gs.paths[m][0] || k == gs.paths[m][1];
            if (!sampled) assert_true(a->grad[k] == 0.0f);
            sum += a->grad[k];
            moved += a->grad[k] != 0.0f;
        }
        assert_true(fabs(sum) < 1e-6);
    }
    assert_true(moved > 20);
    srch_gates_free(&gs);
    /* derivation: node 3 of cell 1 prefers maxpool from node 1; node 5's second strongest is bdil3x3 from 0 */
    float alpha[NASB_CELLS * NASB_EDGES_PER_CELL * NASB_NOPS] = {0};
    srch_edge edges[NASB_CELLS * NASB_EDGES_PER_CELL];
    const int ne = nasb_edges(edges);
    assert_int_equal(ne, 45);
    for (int q = 0; q < ne; q++) {
        alpha[q * NASB_NOPS + 9] = 3.0f; /* zero is strongest everywhere: it must never be kept */
        if (edges[q].from == 1 && edges[q].to == 3) alpha[q * NASB_NOPS + 1] = 2.0f;
        if (edges[q].from == 0 && edges[q].to == 3) alpha[q * NASB_NOPS + 2] = 2.5f; /* identity */
        if (edges[q].from == 4 && edges[q].to == 5) alpha[q * NASB_NOPS + 3] = 1.0f;
        if (edges[q].from == 0 && edges[q].to == 5) alpha[q * NASB_NOPS + 7] = 0.5f;
    }
    srch_genotype gt;
    assert_int_equal(nasb_derive(alpha, 1, &gt, &e), NN_OK);
    assert_int_equal(gt.n, 15); /* one (edge, op) per node 1..5 of each cell */
    int hit = 0;
    for (int q = 0; q < gt.n; q++) {
        assert_string_not_equal(gt.e[q].op, "zero");
        if (gt.e[q].to == 3) hit += gt.e[q].from == 0 && !strcmp(gt.e[q].op, "identity");
        if (gt.e[q].to == 5) hit += gt.e[q].from == 4 && !strcmp(gt.e[q].op, "bconv1x1");
    }
    assert_int_equal(hit, 2);
    assert_int_equal(nasb_derive(alpha, 4, &gt, &e), NN_OK);
    assert_int_equal(gt.n, 60);
    for (int q = 0; q < gt.n; q++) assert_string_not_equal(gt.e[q].op, "identity");
    assert_int_equal(nasb_derive(alpha, 5, &gt, &e), NN_OK);
    assert_int_equal(gt.n, (4 * 6 + 8) * 3);
    assert_int_equal(nasb_derive(alpha, 2, &gt, &e), NN_OK);
    assert_int_equal(gt.n, (4 + 4) * 3);
    int v2 = 0;
    for (int q = 0; q < gt.n; q++) v2 += gt.e[q].to == 5 && !strcmp(gt.e[q].op, "bdil3x3") && gt.e[q].from == 0;
    assert_int_equal(v2, 1);
    assert_int_equal(nasb_derive(alpha, 6, &gt, &e), NN_ERR);
    /* V3: variant 1's choices in two branches; the file keeps "branches"; the
     * network has each cell's nodes 1..5 twice (sums, binary convs) from one
     * node 0, and twice the binary parameters of those nodes */
    assert_int_equal(nasb_derive(alpha, 3, &gt, &e), NN_OK);
    assert_int_equal(gt.n, 15);
    assert_int_equal(gt.branches, 2);
    {
        srch_genotype g1, g3;
        assert_int_equal(nasb_derive(alpha, 1, &g1, &e), NN_OK);
        assert_int_equal(g1.branches, 1);
        for (int q = 0; q < gt.n; q++) assert_string_equal(gt.e[q].op, g1.e[q].op);
        geno_roundtrip(&gt, &g3);
        assert_int_equal(g3.branches, 2);
        nn_graph *n1 = nasb_build(1, 28, 28, 10, 1, &g1, &e), *n3 = nasb_build(1, 28, 28, 10, 1, &g3, &e);
        assert_non_null(n1);
        assert_non_null(n3);
        int s1 = 0, s3 = 0, c1 = 0, c3 = 0, bs = 0;
        for (int i = 0; i < n1->n; i++) s1 += strstr(n1->nodes[i].name, ".sum") != NULL, c1 += n1->nodes[i].op == NN_OP_CONV;
        for (int i = 0; i < n3->n; i++) {
            s3 += strstr(n3->nodes[i].name, ".sum") != NULL, c3 += n3->nodes[i].op == NN_OP_CONV;
            bs += strstr(n3->nodes[i].name, "branch_sum") != NULL;
        }
        assert_int_equal(s3, 2 * s1);
        assert_int_equal(bs, 3);
        /* every conv but the stem, node 0's and the downsampling shortcuts is copied */
        int fixed = 0;
        for (int i = 0; i < n1->n; i++)
            fixed += n1->nodes[i].op == NN_OP_CONV && strncmp(n1->nodes[i].name, "cell", 4) ? 1 : 0;
        for (int i = 0; i < n1->n; i++)
            fixed += n1->nodes[i].op == NN_OP_CONV && strstr(n1->nodes[i].name, ".n0") ? 1 : 0;
        assert_int_equal(c3 - c1, c1 - fixed);
        nn_ctx_reset(&C);
        C.training = 0;
        C.grad_enabled = 0;
        nn_tensor *x = nn_new4(&C, 2, 1, 28, 28);
        for (size_t i = 0; i < x->numel; i++) x->data[i] = (float)((i * 7919) % 17) / 8.0f - 1.0f;
        nn_graph_init_params(n3, 2, NN_INIT_KAIMING);
        nn_fwd_opts fo = {0};
        nn_tensor *y = nn_graph_forward(n3, &C, x, &fo);
        assert_int_equal(y->shape[1], 10);
        for (size_t i = 0; i < y->numel; i++) assert_true(isfinite(y->data[i]));
        nn_graph_free(n1);
        nn_graph_free(n3);
    }
    /* the derived NASB network, through a genotype file */
    assert_int_equal(nasb_derive(alpha, 1, &gt, &e), NN_OK);
    assert_int_equal(srch_genotype_save(&gt, "/tmp/datafree_nasb_geno.json", &e), NN_OK);
    srch_genotype g2;
    assert_int_equal(srch_genotype_load("/tmp/datafree_nasb_geno.json", &g2, &e), NN_OK);
    nn_graph *d = nasb_build(1, 28, 28, 10, 1, &g2, &e);
    assert_non_null(d);
    int mix = 0, sums = 0;
    for (int i = 0; i < d->n; i++) {
        mix += d->nodes[i].op == NN_OP_MIX;
        sums += strstr(d->nodes[i].name, ".sum") != NULL; /* one per kept (edge, op) */
    }
    assert_int_equal(mix, 0);
    assert_int_equal(sums, 15);
    strcpy(g2.e[0].op, "conv7x7");
    assert_null(nasb_build(1, 28, 28, 10, 1, &g2, &e));
    assert_non_null(strstr(e.msg, "conv7x7"));
    nn_graph_free(d);
    /* Flops: the op costs and the backbone add up to what a built network
     * costs; the backbone is Bi-Real ResNet-20's; under a budget of 1.15x
     * the backbone, alphas that want 5x5 binary convs everywhere (2.3x)
     * give up the least alpha per Flop saved: the result fits, each node
     * keeps one op, and the strongest node's choice survives when cheap
     * moves elsewhere suffice */
    {
        double cost[NASB_CELLS * NASB_EDGES_PER_CELL * NASB_NOPS], fixed = 0, mem, fl, bm;
        assert_int_equal(nasb_op_costs(g, 1, cost, &fixed, &e), NN_OK);
        nn_graph *br = nn_zoo_build("bireal_resnet20", 1, 28, 28, 10, 1, &e);
        assert_non_null(br);
        nn_graph_cost(br, &mem, &fl, &bm);
        assert_true(fabs(fl - fixed) < 1e-6 * fl);
        nn_graph_free(br);
        float a5[NASB_CELLS * NASB_EDGES_PER_CELL * NASB_NOPS] = {0};
        for (int q = 0; q < ne; q++) {
            a5[q * NASB_NOPS + 5] = 1.0f + 0.01f * q; /* bconv5x5, the later edges a little stronger */
            a5[q * NASB_NOPS + 2] = 0.9f;            /* identity close behind */
            a5[q * NASB_NOPS + 4] = 0.95f;           /* bconv3x3 closer still */
        }
        a5[14 * NASB_NOPS + 5] = 5.0f; /* cell 1, edge 4 -> 5: far the strongest */
        srch_genotype gb;
        assert_int_equal(nasb_derive(a5, 1, &gb, &e), NN_OK);
        const double before = srch_genotype_cost(edges, ne, cost, fixed, &gb);
        assert_true(before > 2.0 * fixed);
        assert_int_equal(srch_fit_budget(edges, ne, a5, cost, fixed, 1.15 * fixed, NULL, &gb, &e), NN_OK);
        const double after = srch_genotype_cost(edges, ne, cost, fixed, &gb);
        assert_true(after <= 1.15 * fixed && after > fixed);
        assert_int_equal(gb.n, 15);
        int kept = 0;
        for (int q = 0; q < gb.n; q++) kept += gb.e[q].from == 4 && gb.e[q].to == 5 && !strcmp(gb.e[q].op, "bconv5x5");
        assert_int_equal(kept, 1);
        nn_graph *dn = nasb_build(1, 28, 28, 10, 1, &gb, &e);
        assert_non_null(dn);
        nn_graph_cost(dn, &mem, &fl, &bm);
        assert_true(fabs(fl - after) < 1e-6 * fl); /* the built network costs what the fit counted */
        nn_graph_free(dn);
        /* V2 (4 ops kept for the output node, several on one edge) traded
         * down, then filled: still within the budget, nearer it, more alpha */
        srch_genotype g2;
        assert_int_equal(nasb_derive(a5, 2, &g2, &e), NN_OK);
        assert_int_equal(srch_fit_budget(edges, ne, a5, cost, fixed, 1.15 * fixed, NULL, &g2, &e), NN_OK);
        const double fit2 = srch_genotype_cost(edges, ne, cost, fixed, &g2), al2 = genotype_alpha(edges, ne, a5, &g2);
        assert_true(srch_fill_budget(edges, ne, a5, cost, fixed, 1.15 * fixed, NULL, &g2) > 0);
        const double fill2 = srch_genotype_cost(edges, ne, cost, fixed, &g2);
        assert_true(fill2 > fit2 && fill2 <= 1.15 * fixed && genotype_alpha(edges, ne, a5, &g2) > al2);
        dn = nasb_build(1, 28, 28, 10, 1, &g2, &e);
        assert_non_null(dn);
        nn_graph_cost(dn, &mem, &fl, &bm);
        assert_true(fabs(fl - fill2) < 1e-6 * fl); /* a doubly taken edge pays both ops, as the network does */
        nn_graph_free(dn);
        /* V4 keeps 4 ops per node, never two of one op on an edge */
        assert_int_equal(nasb_derive(a5, 4, &gb, &e), NN_OK);
        assert_int_equal(srch_fit_budget(edges, ne, a5, cost, fixed, 1.15 * fixed, "identity", &gb, &e), NN_OK);
        assert_true(srch_genotype_cost(edges, ne, cost, fixed, &gb) <= 1.15 * fixed);
        for (int q = 0; q < gb.n; q++) assert_string_not_equal(gb.e[q].op, "identity");
        for (int q = 0; q < gb.n; q++)
            for (int r = q + 1; r < gb.n; r++)
                assert_false(gb.e[q].from == gb.e[r].from && gb.e[q].to == gb.e[r].to && !strcmp(gb.e[q].op, gb.e[r].op));
        /* a budget under the backbone cannot be met */
        assert_int_equal(srch_fit_budget(edges, ne, a5, cost, fixed, 0.9 * fixed, NULL, &gb, &e), NN_ERR);
    }
    nn_graph_free(g);
}


/* bconv_relu (seed 003's Conv -> ReLU -> BN): the genotype file keeps it
 * (and a file without it reads as off); the network gets a ReLU between
 * every binary conv and its BN and nothing else changes: the same
 * parameters by name and shape (a model pretrained one way loads the
 * other), the same cost; an empty genotype computes Bi-Real ResNet-20's
 * function (the ablation's baseline); bit-packed inference gives the float simulation's
 * logits to the bit, with ReLUs that do cut, and so do `datafree eval
 * --binary` and the exported C (to its fixed-point logits). */
static void test_bconv_relu(void **s)
{
    (void)s;
    nn_err e = {0};
    float alpha[NASB_CELLS * NASB_EDGES_PER_CELL * NASB_NOPS];
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (size_t i = 0; i < sizeof alpha / sizeof alpha[0]; i++) alpha[i] = nn_rng_normal(&r);
    srch_genotype g0, g1, gl;
    assert_int_equal(nasb_derive(alpha, 2, &g0, &e), NN_OK);
    assert_int_equal(g0.bconv_relu, 0);
    g1 = g0;
    g1.bconv_relu = 1;
    geno_roundtrip(&g1, &gl);
    assert_int_equal(gl.bconv_relu, 1);
    geno_roundtrip(&g0, &gl);
    assert_int_equal(gl.bconv_relu, 0);
    nn_graph *a = nasb_build(1, 28, 28, 10, 1, &g0, &e), *b = nasb_build(1, 28, 28, 10, 1, &g1, &e);
    assert_non_null(a);
    assert_non_null(b);
    int bin = 0, relu = 0;
    for (int i = 0; i < b->n; i++) {
        const nn_gnode *n = &b->nodes[i];
        relu += n->op == NN_OP_RELU;
        if (n->op != NN_OP_CONV || !n->wbin) continue;
        bin++;
        assert_int_equal(n->consumers, 1);
        assert_int_equal(b->nodes[i + 1].op, NN_OP_RELU);
        assert_int_equal(b->nodes[i + 1].in[0], i);
        assert_int_equal(b->nodes[i + 2].op, NN_OP_BN);
        assert_int_equal(b->nodes[i + 2].in[0], i + 1);
    }
    assert_true(bin > 18);
    assert_int_equal(relu, bin);
    assert_int_equal(b->n, a->n + relu);
    assert_int_equal(a->np, b->np);
    for (int i = 0; i < a->np; i++) {
        assert_string_equal(a->params[i].name, b->params[i].name);
        assert_int_equal(a->params[i].t.numel, b->params[i].t.numel);
    }
    double ma, fa, ba, mb, fb, bb;
    nn_graph_cost(a, &ma, &fa, &ba);
    nn_graph_cost(b, &mb, &fb, &bb);
    assert_true(ma == mb && fa == fb && ba == bb);
    { /* the empty genotype is Bi-Real ResNet-20: parameters in the same order and shapes, the same logits */
        srch_genotype none = {.n = 0, .branches = 1, .bconv_relu = 0};
        nn_graph *nb = nasb_build(1, 28, 28, 10, 1, &none, &e), *br = nn_zoo_build("bireal_resnet20", 1, 28, 28, 10, 1, &e);
        assert_non_null(nb);
        assert_non_null(br);
        assert_int_equal(nb->np, br->np);
        nn_graph_init_params(br, 9, NN_INIT_KAIMING);
        for (int i = 0; i < br->np; i++) {
            assert_int_equal(nb->params[i].t.numel, br->params[i].t.numel);
            nn_tensor *t = &br->params[i].t;
            for (size_t v = 0; v < t->numel; v++) /* BN statistics too: variances kept positive */
                if (strstr(br->params[i].name, "running_var")) t->data[v] = 0.5f + fabsf(nn_rng_normal(&r));
                else if (strstr(br->params[i].name, "running_mean")) t->data[v] = 0.3f * nn_rng_normal(&r);
            memcpy(nb->params[i].t.data, t->data, t->numel * sizeof(float));
        }
        nn_tensor *xi = tu_eval_input(&r, 2, 1, 28, 28);
        nn_tensor *yb = nn_graph_forward(br, &C, xi, NULL), *yn = nn_graph_forward(nb, &C, xi, NULL);
        assert_memory_equal(yb->data, yn->data, yb->numel * sizeof(float));
        nn_graph_free(nb);
        nn_graph_free(br);
    }
    nn_graph_init_params(b, 7, NN_INIT_KAIMING);
    for (int i = 0; i < b->n; i++) /* BN statistics away from their defaults */
        if (b->nodes[i].op == NN_OP_BN) {
            const nn_gnode *n = &b->nodes[i];
            const int k = n->affine ? 2 : 0;
            for (int q = 0; q < k + 2; q++) {
                nn_tensor *t = &b->params[n->param[q]].t;
                for (size_t v = 0; v < t->numel; v++)
                    t->data[v] = q == k + 1 ? 0.5f + fabsf(nn_rng_normal(&r)) : 0.5f * nn_rng_normal(&r);
            }
        }
    nn_tensor *x = tu_eval_input(&r, 3, 1, 28, 28);
    nn_fwd_opts packed = {.binary_packed = 1}; /* both fold the real convs' BNs alike (eval's float simulation) */
    nn_tensor *y0 = nn_graph_forward(b, &C, x, NULL), *y1 = nn_graph_forward(b, &C, x, &packed);
    assert_memory_equal(y0->data, y1->data, y0->numel * sizeof(float));
    nn_tensor **outs = nn_arena_alloc(&C.arena, sizeof(nn_tensor *) * (size_t)b->n);
    nn_fwd_opts apart = {.outputs = outs};
    nn_graph_forward(b, &C, x, &apart);
    const nn_tensor *m = outs[nn_graph_find(b, "cell2.n1.backbone.relu")];
    size_t zeros = 0;
    for (size_t i = 0; i < m->numel; i++) zeros += m->data[i] == 0.0f;
    assert_true(zeros > m->numel / 10 && zeros < m->numel * 9 / 10);
    /* eval --binary and the C export run the ReLUs as the simulation does */
    const char *data = tu_fmnist();
    if (!data) {
        print_message("Fashion-MNIST not installed: eval and export skipped\n");
        nn_graph_free(a);
        nn_graph_free(b);
        return;
    }
    assert_int_equal(nn_graph_save(b, "/tmp/datafree_nasb_relu_model.json", &e), NN_OK);
    assert_int_equal(tu_sh("%s eval --model /tmp/datafree_nasb_relu_model.json --data %s --limit 100 --binary --json",
                           tu_bin(), data),
                     0);
    assert_true(tu_out_number("logits_identical") == 1.0);
    enum { N = 20 };
    tu_write_idx_subset(data, N, "/tmp/datafree_nasb_relu-images", "/tmp/datafree_nasb_relu-labels");
    tu_sh("rm -rf /tmp/datafree_nasb_relu_exp");
    assert_int_equal(tu_sh("%s export --model /tmp/datafree_nasb_relu_model.json --target c --out /tmp/datafree_nasb_relu_exp",
                           tu_bin()),
                     0);
    assert_int_equal(tu_sh("cd /tmp/datafree_nasb_relu_exp/c && make -s && ./infer /tmp/datafree_nasb_relu-images "
                           "/tmp/datafree_nasb_relu-labels --logits /tmp/datafree_nasb_relu-logits"),
                     0);
    tu_check_exported_logits(b, "/tmp/datafree_nasb_relu-images", "/tmp/datafree_nasb_relu-logits", N);
    nn_graph_free(a);
    nn_graph_free(b);
}

/* datafree nasb end to end on a sliver of Fashion-MNIST: the search stops
 * and resumes, writes alphas, the plot, genotypes of two variants and the
 * cells' DOT files; the derived networks pretrain and finetune binarized,
 * and the finetuned model is a binary network datafree eval runs, above chance. */
static void test_nasb_pipeline(void **s)
{
    (void)s;
    const char *data = tu_fmnist();
    if (!data) skip();
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"data\":{\"path\":\"%s\",\"mean\":[0.286],\"std\":[0.353],\"train_limit\":384,\"test_limit\":500},"
             "\"search\":{\"epochs\":2,\"batch_size\":32},\"variants\":[1,2],"
             "\"pretrain\":{\"train\":{\"epochs\":2,\"batch_size\":32,\"seed\":1},\"optim\":{\"type\":\"sgd\",\"lr\":0.05,"
             "\"momentum\":0.9}},\"finetune\":{\"train\":{\"epochs\":2,\"batch_size\":32,\"seed\":1},"
             "\"optim\":{\"type\":\"adam\",\"lr\":0.002,\"weight_decay\":0},"
             /* each variant's binarized finetuning distilled from its own full-precision pretraining */
             "\"source\":{\"type\":\"real\",\"teacher\":\"pretrain\","
             "\"kd\":{\"temperature\":4,\"alpha\":1}}},\"output\":{\"dir\":\"/tmp/datafree_nasb\"}}",
             data);
    tu_write_text("/tmp/datafree_nasb.json", cfg);
    tu_sh("rm -rf /tmp/datafree_nasb /tmp/datafree_nasb_bad");
    /* config errors name the JSON path; nothing runs */
    tu_refuses("nasb", "/tmp/datafree_nasb_bad.json",
               "{\"data\":{\"path\":\"x\"},\"variants\":[6],\"pretrain\":{},"
               "\"finetune\":{},\"output\":{\"dir\":\"/tmp/datafree_nasb_bad\"}}",
               "$.variants[0]");
    tu_refuses("nasb", "/tmp/datafree_nasb_bad.json",
               "{\"data\":{\"path\":\"x\"},\"serch\":{},\"pretrain\":{},"
               "\"finetune\":{},\"output\":{\"dir\":\"/tmp/datafree_nasb_bad\"}}",
               "serch");
    tu_refuses("nasb", "/tmp/datafree_nasb_bad.json",
               "{\"data\":{\"path\":\"x\"},\"search\":{\"flops_fill\":true},\"pretrain\":{},"
               "\"finetune\":{},\"output\":{\"dir\":\"/tmp/datafree_nasb_bad\"}}",
               "$.search.flops_fill: true needs a $.search.flops_budget");
    /* each stage block is checked as the train config it becomes, before the search */
#define STAGE_OK "{\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1}}"
    tu_refuses("nasb", "/tmp/datafree_nasb_bad.json",
               "{\"data\":{\"path\":\"x\"},\"pretrain\":" STAGE_OK ",\"finetune\":{\"train\":{\"epochs\":1},"
               "\"optim\":{\"lr\":0.1},\"optm\":{}},\"output\":{\"dir\":\"/tmp/datafree_nasb_bad\"}}",
               "$.finetune, as a train config: ");
    assert_non_null(strstr(TU_OUT, "optm"));
    tu_refuses("nasb", "/tmp/datafree_nasb_bad.json",
               "{\"data\":{\"path\":\"x\"},\"pretrain\":{\"train\":{\"epochs\":1},\"optim\":{\"type\":\"sgdd\","
               "\"lr\":0.1}},\"finetune\":" STAGE_OK ",\"output\":{\"dir\":\"/tmp/datafree_nasb_bad\"}}",
               "$.pretrain, as a train config: $.optim.type: 'sgdd'");
    tu_refuses("nasb", "/tmp/datafree_nasb_bad.json",
               "{\"data\":{\"path\":\"x\"},\"source\":{\"type\":\"real\"},\"pretrain\":" STAGE_OK ","
               "\"finetune\":{\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1},\"source\":{\"type\":\"real\","
               "\"teacher\":\"t.json\"}},\"output\":{\"dir\":\"/tmp/datafree_nasb_bad\"}}",
               "$.finetune.source: $.source already feeds every stage");
    tu_refuses("nasb", "/tmp/datafree_nasb_bad.json",
               "{\"data\":{\"path\":\"x\"},\"model\":{\"zoo\":\"bireal_resnet20\"},\"bconv_relu\":true,"
               "\"pretrain\":" STAGE_OK ",\"finetune\":" STAGE_OK ",\"output\":{\"dir\":\"/tmp/datafree_nasb_bad\"}}",
               "$.bconv_relu: for the search's derived networks");
    tu_refuses("nasb", "/tmp/datafree_nasb_bad.json",
               "{\"data\":{\"path\":\"x\"},\"pretrain\":{\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1},"
               "\"source\":{\"type\":\"real\",\"teacher\":\"pretrain\"}},\"finetune\":" STAGE_OK ","
               "\"output\":{\"dir\":\"/tmp/datafree_nasb_bad\"}}",
               "$.pretrain.source.teacher: \"pretrain\" is the pretraining's own output");
#undef STAGE_OK
    assert_false(nn_file_exists("/tmp/datafree_nasb_bad"));
    assert_int_equal(tu_sh("%s nasb /tmp/datafree_nasb.json --stop-after 1", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "continue with --resume"));
    assert_non_null(strstr(TU_OUT, "paths: the most sampled op's share of an edge's weight steps"));
    assert_false(nn_file_exists("/tmp/datafree_nasb/search/genotype_v1.json"));
    assert_int_equal(tu_sh("%s nasb /tmp/datafree_nasb.json --resume", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "resuming the NASB search at epoch 2"));
    assert_non_null(strstr(TU_OUT, "with KD from /tmp/datafree_nasb/v1/pretrain/model.json"));
    assert_non_null(strstr(TU_OUT, "with KD from /tmp/datafree_nasb/v2/pretrain/model.json"));
    assert_int_equal(tu_sh("grep -c '\"teacher\":.*\"/tmp/datafree_nasb/v2/pretrain/model.json\"' "
                           "/tmp/datafree_nasb/v2/finetune/stage.json"),
                     0);
    assert_int_equal(tu_sh("wc -l < /tmp/datafree_nasb/search/alpha.jsonl"), 0);
    assert_int_equal(atoi(TU_OUT), 2);
    { /* each epoch's line: per edge, the ops sampled in its 6 weight steps (one path) and alpha steps (two) */
        nn_err e = {0};
        char *txt = nn_read_file("/tmp/datafree_nasb/search/alpha.jsonl", NULL, &e);
        assert_non_null(txt);
        *strchr(txt, '\n') = 0;
        cJSON *j = cJSON_Parse(txt), *sw = cJSON_GetObjectItem(j, "sampled"), *sa = cJSON_GetObjectItem(j, "sampled_alpha");
        assert_int_equal(cJSON_GetArraySize(sw), NASB_CELLS * NASB_EDGES_PER_CELL);
        assert_int_equal(cJSON_GetArraySize(sa), NASB_CELLS * NASB_EDGES_PER_CELL);
        for (int m = 0; m < NASB_CELLS * NASB_EDGES_PER_CELL; m++) {
            int n1 = 0, n2 = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, cJSON_GetArrayItem(sw, m)) n1 += v->valueint;
            cJSON_ArrayForEach(v, cJSON_GetArrayItem(sa, m)) n2 += v->valueint;
            assert_int_equal(n1, 6);
            assert_int_equal(n2, 12);
        }
        cJSON_Delete(j);
        free(txt);
    }
    static const char *const files[] = {"search/alpha.svg",          "search/genotype_v1.json", "search/genotype_v2.json",
                                        "search/cell3_v2.dot",       "v1/finetune/model.json",  "v2/finetune/model.json",
                                        "v1/pretrain/metrics.jsonl", NULL};
    for (int i = 0; files[i]; i++) {
        char p[300];
        snprintf(p, sizeof p, "/tmp/datafree_nasb/%s", files[i]);
        if (!nn_file_exists(p)) {
            print_error("datafree nasb did not write %s\n", p);
            fail();
        }
    }
    /* a finished search whose checkpoint is gone (a committed run folder keeps
     * the logs only) derives again from the alphas it logged: the same cells */
    assert_int_equal(tu_sh("cp /tmp/datafree_nasb/search/genotype_v2.json /tmp/datafree_nasb_g2.json && rm "
                           "/tmp/datafree_nasb/search/ckpt.safetensors /tmp/datafree_nasb/search/genotype_v*.json"),
                     0);
    assert_int_equal(tu_sh("%s nasb /tmp/datafree_nasb.json --resume", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "no checkpoint): deriving from its last alphas"));
    assert_null(strstr(TU_OUT, "search epoch"));
    assert_int_equal(tu_sh("cmp /tmp/datafree_nasb/search/genotype_v2.json /tmp/datafree_nasb_g2.json"), 0);
    { /* the same run folder under a config changed to bconv_relu: refused, not trained as the other network */
        char cfg2[2100];
        snprintf(cfg2, sizeof cfg2, "{\"bconv_relu\":true,%s", cfg + 1);
        tu_refuses("nasb", "/tmp/datafree_nasb_relu.json", cfg2, "was derived without bconv_relu");
    }
    /* a finished stage goes on only under the config it ran with: a changed
     * finetuning rate or search length is refused, naming the key, not skipped */
    static const char *const changed[][2] = {
        {"s/\"lr\":0.002/\"lr\":0.004/", "/tmp/datafree_nasb/v1/finetune was run under another config ($.optim.lr: 0.002 then, 0.004 now"},
        {"s/\"search\":{\"epochs\":2/\"search\":{\"epochs\":3/", "/tmp/datafree_nasb/search was run under another config ($.search.epochs: 2 then, 3 now"}};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tu_sh("sed '%s' /tmp/datafree_nasb.json > /tmp/datafree_nasb_chg.json", changed[i][0]), 0);
        assert_int_equal(tu_sh("%s nasb /tmp/datafree_nasb_chg.json --resume", tu_bin()), 1);
        if (!strstr(TU_OUT, changed[i][1])) {
            print_error("expected '%s' in:\n%s\n", changed[i][1], TU_OUT);
            fail();
        }
    }
    /* the same run folder copied elsewhere (paths inside it relative to it): finished, nothing retrained */
    assert_int_equal(tu_sh("rm -rf /tmp/datafree_nasb_cp && cp -r /tmp/datafree_nasb /tmp/datafree_nasb_cp && sed "
                           "'s#/tmp/datafree_nasb\\([/\"]\\)#/tmp/datafree_nasb_cp\\1#g' /tmp/datafree_nasb.json > "
                           "/tmp/datafree_nasb_cp.json && grep -c datafree_nasb_cp /tmp/datafree_nasb_cp.json"),
                     0);
    assert_int_equal(tu_sh("%s nasb /tmp/datafree_nasb_cp.json --resume", tu_bin()), 0);
    assert_null(strstr(TU_OUT, "== pretrain"));
    assert_null(strstr(TU_OUT, "== finetune"));
    /* with a log one epoch short it says why it searches again */
    assert_int_equal(tu_sh("cd /tmp/datafree_nasb/search && head -n 1 alpha.jsonl > a1 && mv a1 alpha.jsonl && rm -f "
                           "ckpt.safetensors genotype_v*.json"),
                     0);
    assert_int_equal(tu_sh("%s nasb /tmp/datafree_nasb.json --resume --stop-after 1", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "holds 1 of 2 epochs: searching from the start"));
    assert_int_equal(tu_sh("%s inspect /tmp/datafree_nasb/v1/finetune/model.json --json", tu_bin()), 0);
    assert_true(tu_out_number("binary_macs") > 0.9 * tu_out_number("macs"));
    assert_int_equal(tu_sh("%s eval --model /tmp/datafree_nasb/v1/finetune/model.json --data %s --limit 500 --json",
                           tu_bin(), data),
                     0);
    const double acc = tu_out_number("accuracy");
    if (acc < 0.25) {
        print_error("the finetuned NASB network reached only %.3f on 500 test images\n", acc);
        fail();
    }
    /* bit-packed inference (XNOR-popcount, strided and dilated convs among
     * them) gives the float simulation's logits exactly */
    assert_int_equal(tu_sh("%s eval --model /tmp/datafree_nasb/v1/finetune/model.json --data %s --limit 500 --binary --json",
                           tu_bin(), data),
                     0);
    assert_true(tu_out_number("logits_identical") == 1.0);
    assert_true(fabs(tu_out_number("binary_accuracy") - acc) < 1e-9);
    /* the C export of the binary network: the same kernels, built and run; other targets refused */
    tu_write_idx_subset(data, 500, "/tmp/datafree_nasb_500-images", "/tmp/datafree_nasb_500-labels");
    tu_sh("rm -rf /tmp/datafree_nasb_exp");
    assert_int_equal(tu_sh("%s export --model /tmp/datafree_nasb/v1/finetune/model.json --target c --out /tmp/datafree_nasb_exp",
                           tu_bin()),
                     0);
    assert_int_equal(tu_sh("cd /tmp/datafree_nasb_exp/c && make -s && ./infer /tmp/datafree_nasb_500-images "
                           "/tmp/datafree_nasb_500-labels"),
                     0);
    const double ca = tu_out_number("accuracy");
    if (fabs(ca - acc) > 0.004) { /* float sums in another order may flip a near tie, not more */
        print_error("exported binary C %.4f vs datafree eval %.4f\n", ca, acc);
        fail();
    }
    assert_int_equal(tu_sh("%s export --model /tmp/datafree_nasb/v1/finetune/model.json --target onnx-qdq --out "
                           "/tmp/datafree_nasb_exp2",
                           tu_bin()),
                     1);
    assert_non_null(strstr(TU_OUT, "target c only"));
}

/* max |a - b| over tensor na of file fa and nb of file fb (same shape) */
static double st_diff(const char *fa, const char *na, const char *fb, const char *nb)
{
    nn_st_file a, b;
    nn_err e = {0};
    assert_int_equal(nn_st_open(&a, fa, &e), 0);
    assert_int_equal(nn_st_open(&b, fb, &e), 0);
    int nda, ndb, sa[4], sb[4];
    const float *x = nn_st_get(&a, na, &nda, sa, &e), *y = nn_st_get(&b, nb, &ndb, sb, &e);
    if (!x || !y) print_error("%s\n", e.msg);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(nda, ndb);
    size_t n = 1;
    for (int d = 0; d < nda; d++) assert_int_equal(sa[d], sb[d]), n *= (size_t)sa[d];
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i] - y[i]));
    nn_st_close(&a), nn_st_close(&b);
    return m;
}

/* backbone_from: the pretraining of a NASB network and of Bi-Real starts
 * from a ResNet-20's weights, its blocks' convs one after the other along
 * the binary-conv chain; at a learning rate of 1e-12 they stay as loaded,
 * and the NAS cell's own ops keep their fresh initialisation */
static void test_backbone_init(void **s)
{
    (void)s;
    const char *data = tu_fmnist();
    if (!data) skip();
    nn_err e = {0};
    tu_sh("rm -rf /tmp/datafree_bb && mkdir -p /tmp/datafree_bb");
    nn_graph *t = nn_zoo_build("resnet20", 1, 28, 28, 10, 7, &e);
    assert_non_null(t);
    nn_graph_init_params(t, 7, NN_INIT_KAIMING);
    assert_int_equal(nn_graph_save(t, "/tmp/datafree_bb/teacher.json", &e), 0);
    nn_graph_free(t);
    const char *stage = "{\"train\":{\"epochs\":1,\"batch_size\":32,\"seed\":1},\"optim\":{\"type\":\"sgd\",\"lr\":1e-12,"
                        "\"momentum\":0,\"weight_decay\":0}}";
    char cfg[2048];
    for (int bireal = 0; bireal < 2; bireal++) {
        snprintf(cfg, sizeof cfg,
                 "{\"data\":{\"path\":\"%s\",\"train_limit\":64,\"test_limit\":64},%s\"search\":{\"epochs\":1,"
                 "\"batch_size\":16},\"backbone_from\":\"/tmp/datafree_bb/teacher.json\",\"pretrain\":%s,"
                 "\"finetune\":%s,\"output\":{\"dir\":\"/tmp/datafree_bb/%s\"}}",
                 data, bireal ? "\"model\":{\"zoo\":\"bireal_resnet20\"}," : "", stage, stage, bireal ? "bireal" : "nasb");
        tu_write_text("/tmp/datafree_bb/c.json", cfg);
        assert_int_equal(tu_sh("%s nasb /tmp/datafree_bb/c.json", tu_bin()), 0);
        assert_non_null(strstr(TU_OUT, "pretrain (full precision, sign as hardtanh, backbone from /tmp/datafree_bb/teacher.json)"));
    }
    static const char *const pairs[][3] = {
        /* NASB name, Bi-Real name, ResNet-20 name */
        {"stem.conv.weight", "stem.conv.weight", "stem.conv.weight"},
        {"cell1.n0.conv.weight", "layer1.0.conv.weight", "layer1.0.a.conv.weight"},
        {"cell1.n1.backbone.conv.weight", "layer1.1.conv.weight", "layer1.0.b.conv.weight"},
        {"cell2.n0.down.conv.weight", "layer2.0.down.conv.weight", "layer2.0.down.conv.weight"},
        {"cell2.n3.backbone.bn.weight", "layer2.3.bn.weight", "layer2.1.b.bn.weight"},
        {"cell3.n4.backbone.bn.bias", "layer3.4.bn.bias", "layer3.2.a.bn.bias"},
        {"cell3.n5.backbone.conv.weight", "layer3.5.conv.weight", "layer3.2.b.conv.weight"},
        {"fc.weight", "fc.weight", "fc.weight"}};
    const char *tf = "/tmp/datafree_bb/teacher.safetensors";
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        assert_true(st_diff("/tmp/datafree_bb/nasb/v1/pretrain/model.safetensors", pairs[i][0], tf, pairs[i][2]) < 1e-6);
        assert_true(st_diff("/tmp/datafree_bb/bireal/pretrain/model.safetensors", pairs[i][1], tf, pairs[i][2]) < 1e-6);
    }
    /* not the same start elsewhere: two different teacher convs differ */
    assert_true(st_diff(tf, "layer1.0.a.conv.weight", tf, "layer1.0.b.conv.weight") > 1e-2);
    { /* the loader itself: partial (only the renamed prefixes load, the rest keeps its values), and a
       * shape mismatch names the file's tensor and the graph's parameter */
        nn_graph *r = nn_zoo_build("resnet20", 1, 28, 28, 10, 9, &e);
        assert_non_null(r);
        nn_graph_init_params(r, 9, NN_INIT_KAIMING);
        nn_param *stem = NULL, *l1 = NULL;
        for (int i = 0; i < r->np; i++) {
            if (!strcmp(r->params[i].name, "stem.conv.weight")) stem = &r->params[i];
            if (!strcmp(r->params[i].name, "layer1.0.a.conv.weight")) l1 = &r->params[i];
        }
        assert_non_null(stem);
        assert_non_null(l1);
        const float l1v = l1->t.data[0], stv = stem->t.data[0];
        const nn_rename keep[] = {{"stem.", "stem."}};
        int loaded = -1;
        assert_int_equal(nn_graph_load_params_renamed(r, tf, keep, 1, &loaded, &e), NN_OK);
        assert_int_equal(loaded, 5); /* the conv weight, the BN's weight, bias and running mean and variance */
        assert_true(stem->t.data[0] != stv);
        assert_true(l1->t.data[0] == l1v);
        const nn_rename wrong[] = {{"layer1.0.a.", "layer2.1.a."}};
        assert_int_equal(nn_graph_load_params_renamed(r, tf, wrong, 1, &loaded, &e), NN_ERR);
        assert_non_null(strstr(e.msg, "tensor 'layer2.1.a.conv.weight'"));
        assert_non_null(strstr(e.msg, "for layer1.0.a.conv.weight"));
        nn_graph_free(r);
    }
    /* a missing teacher is refused before anything runs */
    tu_refuses("nasb", "/tmp/datafree_bb/bad.json",
               "{\"data\":{\"path\":\"x\"},\"backbone_from\":\"/tmp/datafree_bb/none.json\",\"pretrain\":{\"train\":{\"epochs\":1},"
               "\"optim\":{\"lr\":0.1}},\"finetune\":{\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1}},\"output\":{\"dir\":"
               "\"/tmp/datafree_bb/bad\"}}",
               "$.backbone_from: /tmp/datafree_bb/none.json: cannot open");
    assert_false(nn_file_exists("/tmp/datafree_bb/bad"));
    /* and so is a network of another layout, which would load only in part */
    t = nn_zoo_build("vgg_small", 1, 28, 28, 10, 7, &e);
    assert_non_null(t);
    assert_int_equal(nn_graph_save(t, "/tmp/datafree_bb/vgg.json", &e), 0);
    nn_graph_free(t);
    tu_refuses("nasb", "/tmp/datafree_bb/bad.json",
               "{\"data\":{\"path\":\"x\"},\"backbone_from\":\"/tmp/datafree_bb/vgg.json\",\"pretrain\":{\"train\":{\"epochs\":1},"
               "\"optim\":{\"lr\":0.1}},\"finetune\":{\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1}},\"output\":{\"dir\":"
               "\"/tmp/datafree_bb/bad\"}}",
               "$.backbone_from: '/tmp/datafree_bb/vgg.json' is a vgg_small network, not a resnet20");
    assert_false(nn_file_exists("/tmp/datafree_bb/bad"));
}

static int count_op(const nn_graph *g, nn_op_kind k)
{
    int n = 0;
    for (int i = 0; i < g->n; i++) n += g->nodes[i].op == k;
    return n;
}

/* pretrain_sign tanh (seed 003's NASB pretraining): the full-precision twin
 * has a tanh wherever the binary network has a sign (hardtanh otherwise),
 * the binarized finetuning its signs back; the tanh changes the function
 * (the same weights with hardtanh give other logits); bad values and a
 * second way of saying it are refused */
static void test_pretrain_sign(void **s)
{
    (void)s;
    const char *data = tu_fmnist();
    if (!data) skip();
    nn_err e = {0};
    tu_sh("rm -rf /tmp/datafree_ps && mkdir -p /tmp/datafree_ps");
    const char *stage = "{\"train\":{\"epochs\":1,\"batch_size\":32,\"seed\":1},\"optim\":{\"type\":\"sgd\",\"lr\":0.05}}";
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"data\":{\"path\":\"%s\",\"train_limit\":64,\"test_limit\":64},\"model\":{\"zoo\":\"bireal_resnet20\"},"
             "\"pretrain_sign\":\"tanh\",\"pretrain\":%s,\"finetune\":%s,\"output\":{\"dir\":\"/tmp/datafree_ps/run\"}}",
             data, stage, stage);
    tu_write_text("/tmp/datafree_ps/c.json", cfg);
    assert_int_equal(tu_sh("%s nasb /tmp/datafree_ps/c.json", tu_bin()), 0);
    assert_non_null(strstr(TU_OUT, "pretrain (full precision, sign as tanh)"));
    nn_graph *p = nn_graph_load("/tmp/datafree_ps/run/pretrain/model.json", &e),
             *f = nn_graph_load("/tmp/datafree_ps/run/finetune/model.json", &e);
    assert_non_null(p);
    assert_non_null(f);
    assert_int_equal(count_op(f, NN_OP_SIGN), 18); /* Bi-Real ResNet-20: one per binary conv */
    assert_int_equal(count_op(p, NN_OP_TANH), count_op(f, NN_OP_SIGN));
    assert_int_equal(count_op(p, NN_OP_SIGN) + count_op(p, NN_OP_HARDTANH) + count_op(f, NN_OP_TANH), 0);
    nn_rng r;
    nn_rng_seed(&r, 3);
    nn_tensor *x = tu_eval_input(&r, 2, 1, 28, 28);
    nn_tensor *yt = nn_graph_forward(p, &C, x, NULL);
    for (int i = 0; i < p->n; i++)
        if (p->nodes[i].op == NN_OP_TANH) p->nodes[i].op = NN_OP_HARDTANH, p->nodes[i].lo = -1.0f, p->nodes[i].hi = 1.0f;
    nn_tensor *yh = nn_graph_forward(p, &C, x, NULL);
    double d = 0;
    for (size_t i = 0; i < yt->numel; i++) d = fmax(d, fabs((double)yt->data[i] - yh->data[i]));
    assert_true(d > 1e-3);
    nn_graph_free(p);
    nn_graph_free(f);
    tu_refuses("nasb", "/tmp/datafree_ps/bad.json",
               "{\"data\":{\"path\":\"x\"},\"pretrain_sign\":\"relu\",\"pretrain\":{\"train\":{\"epochs\":1},"
               "\"optim\":{\"lr\":0.1}},\"finetune\":{\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1}},\"output\":{\"dir\":"
               "\"/tmp/datafree_ps/bad\"}}",
               "$.pretrain_sign: 'relu' is not one of hardtanh, tanh");
    tu_refuses("nasb", "/tmp/datafree_ps/bad.json",
               "{\"data\":{\"path\":\"x\"},\"model\":{\"zoo\":\"bireal_resnet20\",\"float_sign\":\"tanh\"},"
               "\"pretrain_sign\":\"tanh\",\"pretrain\":{\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1}},"
               "\"finetune\":{\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1}},\"output\":{\"dir\":\"/tmp/datafree_ps/bad\"}}",
               "drop $.model.float_sign");
    assert_false(nn_file_exists("/tmp/datafree_ps/bad"));
    /* in a train config: only beside precision float, and one of the two */
    static const char *const bad[][2] = {{"\"float_sign\":\"tanh\"", "$.model.float_sign: only with \"precision\": \"float\""},
                                         {"\"precision\":\"float\",\"float_sign\":\"relu\"", "$.model.float_sign: one of hardtanh, tanh"}};
    for (int i = 0; i < 2; i++) {
        snprintf(cfg, sizeof cfg,
                 "{\"model\":{\"zoo\":\"bireal_resnet20\",%s},\"data\":{\"path\":\"%s\",\"train_limit\":64,\"test_limit\":64},"
                 "\"train\":{\"epochs\":1},\"optim\":{\"lr\":0.1},\"output\":{\"dir\":\"/tmp/datafree_ps/bad\"}}",
                 bad[i][0], data);
        tu_refuses("train", "/tmp/datafree_ps/bad.json", cfg, bad[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gumbel_frequencies), cmocka_unit_test(test_gumbel_grad), cmocka_unit_test(test_mix_grad), cmocka_unit_test(test_derive), cmocka_unit_test(test_cost_budget), cmocka_unit_test(test_gate_search),
                                       cmocka_unit_test(test_tau_schedules), cmocka_unit_test(test_repeat_rows_grad),
                                       cmocka_unit_test(test_autorecon_space), cmocka_unit_test(test_tiny_bilevel), cmocka_unit_test(test_nasb), cmocka_unit_test(test_bconv_relu), cmocka_unit_test(test_nasb_pipeline),
                                       cmocka_unit_test(test_backbone_init), cmocka_unit_test(test_pretrain_sign)};
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER")); /* e.g. TEST_FILTER=test_nasb* */
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
