/* NASB supernet and derived networks (see nasb.h). */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "nasb.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/zoo_binary.h"

const char *const nasb_ops[NASB_NOPS] = {"avgpool3x3", "maxpool3x3", "identity", "bconv1x1", "bconv3x3",
                                         "bconv5x5",   "bdil1x1",    "bdil3x3",  "bdil5x5",  "zero"};

int nasb_edges(srch_edge *edges)
{
    int n = 0;
    for (int c = 0; c < NASB_CELLS; c++)
        for (int j = 1; j < NASB_NODES; j++)
            for (int i = 0; i < j; i++) {
                srch_edge *d = &edges[n++];
                d->from = c * NASB_NODES + i, d->to = c * NASB_NODES + j, d->nops = NASB_NOPS;
                for (int k = 0; k < NASB_NOPS; k++) d->ops[k] = strcmp(nasb_ops[k], "zero") ? nasb_ops[k] : "none";
            }
    return n;
}

static int op_index(const char *name)
{
    for (int k = 0; k < NASB_NOPS; k++)
        if (!strcmp(nasb_ops[k], name)) return k;
    return -1;
}

/* Node i's sign, made once and shared by every binary op reading node i. */
typedef struct {
    int node[NASB_NODES], sign[NASB_NODES];
} cell_state;

static int sign_of(nn_graph *g, cell_state *cs, int i, const char *cell)
{
    if (cs->sign[i] < 0) {
        char b[NN_NAME_LEN];
        snprintf(b, sizeof b, "%s.sign%d", cell, i);
        cs->sign[i] = nn_zb_sign(g, b, cs->node[i]);
    }
    return cs->sign[i];
}

/* Op k of Table 4.1 on node i of the cell, C channels, same resolution;
 * relu: the genotype's bconv_relu. */
static int edge_op(nn_graph *g, cell_state *cs, int i, int k, int C, int wbin, int relu, const char *name, const char *cell)
{
    char b[NN_NAME_LEN];
    const char *op = nasb_ops[k];
    if (!strcmp(op, "identity")) return cs->node[i];
    if (!strcmp(op, "avgpool3x3") || !strcmp(op, "maxpool3x3")) { /* pooling gets a BN (2C params) */
        snprintf(b, sizeof b, "%s.pool", name);
        nn_gnode p = nn_gnode_default(b, op[0] == 'a' ? NN_OP_AVGPOOL : NN_OP_MAXPOOL, cs->node[i]);
        p.kernel = 3, p.stride = 1, p.pad = 1, p.count_include_pad = 0;
        const int x = nn_g_add_node(g, &p);
        snprintf(b, sizeof b, "%s.bn", name);
        return nn_g_bn(g, b, x);
    }
    const int kk = op[strlen(op) - 1] - '0', dil = !strncmp(op, "bdil", 4) ? 2 : 1;
    return nn_zb_bconv_bn(g, name, sign_of(g, cs, i, cell), C, kk, 1, dil, wbin, relu);
}

/* Nodes 1..5 of cell c from cs->node[0]; returns node 5. */
static int build_cell(nn_graph *g, cell_state *cs, int c, int oc, int wbin, const srch_genotype *geno, const char *cell)
{
    char b[NN_NAME_LEN];
    const int relu = geno && geno->bconv_relu;
    for (int j = 1; j < NASB_NODES; j++) {
        snprintf(b, sizeof b, "%s.n%d.backbone", cell, j);
        int nj = nn_zb_bireal_unit(g, b, cs->node[j - 1], sign_of(g, cs, j - 1, cell), oc, oc, 1, relu);
        for (int i = 0; i < j; i++) {
            char en[NN_NAME_LEN];
            snprintf(en, sizeof en, "%s.e%d_%d", cell, i, j);
            int t = -1;
            if (!geno) { /* the mixed edge: 9 computed candidates and zero */
                nn_gnode m = nn_gnode_default(en, NN_OP_MIX, -1);
                m.nin = 0;
                for (int k = 0; k < NASB_NOPS - 1; k++) {
                    char on[NN_NAME_LEN];
                    snprintf(on, sizeof on, "%s.%s", en, nasb_ops[k]);
                    m.in[m.nin++] = edge_op(g, cs, i, k, oc, wbin, 0, on, cell);
                }
                m.candidates = NASB_NOPS;
                t = nn_g_add_node(g, &m);
                snprintf(b, sizeof b, "%s.sum", en);
                nj = nn_g_add(g, b, nj, t);
                continue;
            }
            for (int q = 0; q < geno->n; q++) { /* the genotype's ops on this edge */
                const srch_choice *s = &geno->e[q];
                if (s->from != c * NASB_NODES + i || s->to != c * NASB_NODES + j) continue;
                char on[NN_NAME_LEN];
                snprintf(on, sizeof on, "%s.%s", en, s->op);
                t = edge_op(g, cs, i, op_index(s->op), oc, wbin, relu, on, cell);
                snprintf(b, sizeof b, "%s.%s.sum", en, s->op);
                nj = nn_g_add(g, b, nj, t);
            }
        }
        cs->node[j] = nj;
    }
    return cs->node[NASB_NODES - 1];
}

nn_graph *nasb_build(int C, int H, int W, int classes, int wbin, const srch_genotype *geno, nn_err *e)
{
    nn_graph *g = nn_graph_new(geno ? "nasb_resnet20" : "nasb_resnet20_supernet", C, H, W, classes);
    int x = nn_zb_stem(g), ch = 16;
    char cell[16], b[NN_NAME_LEN];
    if (geno)
        for (int q = 0; q < geno->n; q++) {
            const srch_choice *s = &geno->e[q];
            if (op_index(s->op) < 0 || !strcmp(s->op, "zero") || s->from / NASB_NODES != s->to / NASB_NODES ||
                s->to / NASB_NODES >= NASB_CELLS || s->from % NASB_NODES >= s->to % NASB_NODES || s->from < 0) {
                nn_fail(e, "NASB genotype: edge %d -> %d with op '%s' is not in the cell space", s->from, s->to, s->op);
                nn_graph_free(g);
                return NULL;
            }
        }
    const int nb = geno && geno->branches > 1 ? geno->branches : 1;
    for (int c = 0; c < NASB_CELLS; c++) {
        const int oc = 16 << c;
        snprintf(cell, sizeof cell, "cell%d", c + 1);
        snprintf(b, sizeof b, "%s.n0", cell);
        const int n0 = nn_zb_bireal_unit(g, b, x, -1, ch, oc, c > 0 ? 2 : 1, geno && geno->bconv_relu);
        int out = -1, sign0 = -1;
        for (int br = 0; br < nb; br++) { /* V3: parallel copies of nodes 1..5 from one node 0, summed */
            char bcell[24];
            if (br)
                snprintf(bcell, sizeof bcell, "%s.b%d", cell, br + 1);
            else
                snprintf(bcell, sizeof bcell, "%s", cell);
            cell_state cs;
            memset(cs.sign, -1, sizeof cs.sign);
            cs.node[0] = n0;
            cs.sign[0] = sign0;
            const int y = build_cell(g, &cs, c, oc, wbin, geno, bcell);
            sign0 = cs.sign[0];
            if (out < 0) {
                out = y;
            } else {
                snprintf(b, sizeof b, "%s.branch_sum%d", cell, br);
                out = nn_g_add(g, b, out, y);
            }
        }
        x = out;
        ch = oc;
    }
    nn_zb_head(g, x);
    if (nn_graph_finalize(g, e)) {
        nn_graph_free(g);
        return NULL;
    }
    return g;
}

typedef struct {
    float p;
    int edge, op;
} pair;

int nasb_derive(const float *alpha, int variant, srch_genotype *g, nn_err *e)
{
    if (variant < 1 || variant > 5) return nn_fail(e, "NASB derivation: variant %d (1 NASB, 2, 3, 4 or 5)", variant);
    srch_edge edges[NASB_CELLS * NASB_EDGES_PER_CELL];
    const int ne = nasb_edges(edges);
    g->n = 0;
    g->branches = variant == 3 ? 2 : 1, g->bconv_relu = 0;
    for (int to = 0; to < NASB_CELLS * NASB_NODES; to++) {
        if (to % NASB_NODES == 0) continue; /* node 0 has no incoming edges */
        const int out = to % NASB_NODES == NASB_NODES - 1;
        const int k = variant == 1 || variant == 3 ? 1 : variant == 2 ? (out ? 4 : 1) : variant == 4 ? 4 : (out ? 8 : 6);
        pair cand[NASB_NODES * NASB_NOPS];
        int nc = 0;
        for (int q = 0; q < ne; q++) {
            if (edges[q].to != to) continue;
            const float *a = alpha + (size_t)q * NASB_NOPS;
            float m = a[0], z = 0.0f;
            for (int o = 1; o < NASB_NOPS; o++) m = a[o] > m ? a[o] : m;
            for (int o = 0; o < NASB_NOPS; o++) z += expf(a[o] - m);
            for (int o = 0; o < NASB_NOPS; o++) {
                if (!strcmp(nasb_ops[o], "zero") || (variant == 4 && !strcmp(nasb_ops[o], "identity"))) continue;
                cand[nc++] = (pair){expf(a[o] - m) / z, q, o};
            }
        }
        for (int r = 0; r < k && r < nc; r++) { /* selection: the r-th strongest pair (ties: lower edge, op) */
            int best = r;
            for (int t = r + 1; t < nc; t++)
                if (cand[t].p > cand[best].p) best = t;
            const pair tmp = cand[r];
            cand[r] = cand[best], cand[best] = tmp;
            if (g->n >= SRCH_MAX_EDGES) return nn_fail(e, "NASB derivation: more than %d choices", SRCH_MAX_EDGES);
            srch_choice *s = &g->e[g->n++];
            s->from = edges[cand[r].edge].from, s->to = to;
            snprintf(s->op, sizeof s->op, "%s", nasb_ops[cand[r].op]);
        }
    }
    return NN_OK;
}

int nasb_op_costs(const nn_graph *supernet, int wbin, double *cost, double *fixed, nn_err *e)
{
    srch_genotype none = {.n = 0, .branches = 1, .bconv_relu = 0};
    nn_graph *b = nasb_build(supernet->in_shape[0], supernet->in_shape[1], supernet->in_shape[2], supernet->num_classes,
                             wbin, &none, e);
    if (!b) return NN_ERR;
    double mem, bm;
    nn_graph_cost(b, &mem, fixed, &bm);
    nn_graph_free(b);
    int q = 0;
    for (int i = 0; i < supernet->n; i++) {
        const nn_gnode *n = &supernet->nodes[i];
        if (n->op != NN_OP_MIX) continue;
        if (q >= NASB_CELLS * NASB_EDGES_PER_CELL) return nn_fail(e, "graph '%s' is not a NASB supernet", supernet->name);
        for (int k = 0; k < NASB_NOPS; k++) { /* a binary conv's MACs / 64; pooling, identity and zero are free */
            const char *op = nasb_ops[k];
            const int bin = op[0] == 'b', kk = bin ? op[strlen(op) - 1] - '0' : 0;
            cost[q * NASB_NOPS + k] = bin ? (double)n->shape[0] * n->shape[0] * kk * kk * n->shape[1] * n->shape[2] / 64.0 : 0.0;
        }
        q++;
    }
    if (q != NASB_CELLS * NASB_EDGES_PER_CELL) return nn_fail(e, "graph '%s' is not a NASB supernet", supernet->name);
    return NN_OK;
}
