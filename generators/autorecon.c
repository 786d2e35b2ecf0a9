#include "autorecon.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/io.h"

static const char *const normal_ops[] = {"conv1x1", "conv3x3", "conv5x5", "dil3x3", "dil5x5", "identity", "none"};
static const char *const up_ops[] = {"nearest", "bilinear"};
static const char *const cross_ops[] = {"nearest", "bilinear", "none"};

static void set_edge(srch_edge *ed, int from, int to, const char *const *ops, int n)
{
    ed->from = from;
    ed->to = to;
    ed->nops = n;
    for (int i = 0; i < n; i++) ed->ops[i] = ops[i];
}

int gen_ar_space_init(gen_ar_space *s, int c, int h, int w, int num_classes, int latent, float scale, nn_err *e)
{
    memset(s, 0, sizeof *s);
    const int up = h >= 64 && w >= 64 ? 3 : 2, div = 1 << up;
    if (c < 1 || h % div || w % div || h < div || w < div)
        return nn_fail(e, "autorecon generator: output %dx%dx%d needs height and width multiples of %d", c, h, w, div);
    const int base = (int)lroundf(128.0f * scale);
    if (!(scale > 0.0f) || base < 2 || base % 2)
        return nn_fail(e, "autorecon generator: scale %g gives %d base channels (needs an even number >= 2)", scale,
                       base);
    if (num_classes < 1 || latent < 1) return nn_fail(e, "autorecon generator: needs classes >= 1 and latent >= 1");
    *s = (gen_ar_space){c, h, w, num_classes, latent, scale, up, 0, {{0}}};
    for (int b = 0; b < 3; b++) {
        const int n1 = 4 * b, ups = b >= 3 - up;
        const int pairs[7][2] = {{n1, n1 + 1}, {n1, n1 + 2}, {n1 + 1, n1 + 3}, {n1 + 2, n1 + 3},
                                 {n1 + 1, n1 + 4}, {n1 + 2, n1 + 4}, {n1 + 3, n1 + 4}};
        for (int k = 0; k < 7; k++) {
            srch_edge *ed = &s->edges[s->ne++];
            if (k < 2 && ups)
                set_edge(ed, pairs[k][0], pairs[k][1], up_ops, 2);
            else
                set_edge(ed, pairs[k][0], pairs[k][1], normal_ops, 7);
        }
    }
    const int cross[3][2] = {{3, 7}, {7, 11}, {3, 11}};
    for (int k = 0; k < 3; k++) set_edge(&s->edges[s->ne++], cross[k][0], cross[k][1], cross_ops, 3);
    return NN_OK;
}

/* channels and resolution (height; width scales alike) of node v */
static int node_block(int v) { return v == 0 ? -1 : (v - 1) / 4; }
static int node_ch(const gen_ar_space *s, int v)
{
    const int base = (int)lroundf(128.0f * s->scale);
    return node_block(v) == 2 ? base / 2 : base;
}
static int node_scale(const gen_ar_space *s, int v) /* resolution / stem resolution */
{
    int f = 1;
    for (int b = 0; b <= node_block(v); b++)
        if (b >= 3 - s->up_blocks) f *= 2;
    return f;
}

typedef struct {
    nn_graph *g;
    const gen_ar_space *s;
} builder;

static int conv_block(builder *B, const char pfx[40], int x, int oc, int k, int dil)
{
    char nm[NN_NAME_LEN];
    nn_gnode cv = nn_gnode_default("", NN_OP_CONV, x);
    snprintf(cv.name, sizeof cv.name, "%s_conv", pfx);
    cv.out_channels = oc;
    cv.kernel = k;
    cv.dilation = dil;
    cv.pad = dil * (k - 1) / 2;
    x = nn_g_add_node(B->g, &cv);
    nn_gnode bn = nn_gnode_default("", NN_OP_BN, x);
    snprintf(bn.name, sizeof bn.name, "%s_bn", pfx);
    bn.eps = 0.8f; /* GDFQ's conv blocks */
    x = nn_g_add_node(B->g, &bn);
    nn_gnode l = nn_gnode_default("", NN_OP_LEAKY_RELU, x);
    snprintf(nm, sizeof nm, "%s_act", pfx);
    snprintf(l.name, sizeof l.name, "%s", nm);
    l.slope = 0.2f;
    return nn_g_add_node(B->g, &l);
}

/* One candidate op of edge ed applied to graph node x. */
static int edge_op(builder *B, const srch_edge *ed, const char *op, int x)
{
    char pfx[40]; /* edge ids < 100, op names < 10 characters */
    snprintf(pfx, sizeof pfx, "e%d_%d_%.10s", ed->from, ed->to, op);
    const int ci = node_ch(B->s, ed->from), co = node_ch(B->s, ed->to);
    static const struct {
        const char *name;
        int k, dil;
    } convs[] = {{"conv1x1", 1, 1}, {"conv3x3", 3, 1}, {"conv5x5", 5, 1}, {"dil3x3", 3, 2}, {"dil5x5", 5, 2}};
    for (int i = 0; i < 5; i++)
        if (!strcmp(op, convs[i].name)) return conv_block(B, pfx, x, co, convs[i].k, convs[i].dil);
    if (!strcmp(op, "identity")) return x; /* normal edges keep the channels */
    /* nearest / bilinear: to the target's resolution, then its channels */
    const int f = node_scale(B->s, ed->to) / node_scale(B->s, ed->from);
    if (f > 1) {
        nn_gnode u = nn_gnode_default("", !strcmp(op, "nearest") ? NN_OP_UPSAMPLE_NEAREST : NN_OP_UPSAMPLE_BILINEAR, x);
        snprintf(u.name, sizeof u.name, "%s_up", pfx);
        u.scale = f;
        x = nn_g_add_node(B->g, &u);
    }
    return ci != co ? conv_block(B, pfx, x, co, 1, 1) : x;
}

static int stem(builder *B)
{
    const gen_ar_space *s = B->s;
    nn_graph *g = B->g;
    const int C = node_ch(s, 0), h0 = s->h >> s->up_blocks, w0 = s->w >> s->up_blocks;
    nn_gnode n = nn_gnode_default("label_emb", NN_OP_LABEL_EMBED, 0);
    n.num_classes = s->num_classes;
    int x = nn_g_add_node(g, &n);
    x = nn_g_linear(g, "l1", x, C * h0 * w0, 1);
    nn_gnode r = nn_gnode_default("view", NN_OP_RESHAPE, x);
    r.rndim = 3;
    r.rshape[0] = C;
    r.rshape[1] = h0;
    r.rshape[2] = w0;
    x = nn_g_add_node(g, &r);
    return nn_g_bn(g, "bn0", x);
}

static void head(builder *B, int x)
{
    x = nn_g_conv(B->g, "conv_out", x, B->s->c, 3, 1, 1, 1, 1);
    x = nn_g_act(B->g, "tanh", NN_OP_TANH, x);
    nn_gnode out = nn_gnode_default("bn_out", NN_OP_BN, x);
    out.affine = 0;
    nn_g_add_node(B->g, &out);
}

/* choice[i]: the op index edge i takes, -1 dropped, -2 every candidate (supernet) */
static nn_graph *build(const gen_ar_space *s, const int *choice, uint64_t seed, int *mix_node, nn_err *e)
{
    int live[GEN_AR_NODES] = {0}, idx[GEN_AR_NODES];
    live[GEN_AR_NODES - 1] = 1;
    for (int v = GEN_AR_NODES - 1; v > 0; v--) {
        if (!live[v]) continue;
        int nin = 0;
        for (int i = 0; i < s->ne; i++)
            if (s->edges[i].to == v && choice[i] != -1) live[s->edges[i].from] = 1, nin++;
        if (!nin) return nn_fail(e, "autorecon generator: node %d is used but has no input edge", v), NULL;
    }
    nn_graph *g = nn_graph_new_vec(choice[0] == -2 ? "autorecon_supernet" : "autorecon_generator", s->latent,
                                   s->num_classes);
    builder B = {g, s};
    idx[0] = stem(&B);
    for (int v = 1; v < GEN_AR_NODES; v++) {
        if (!live[v]) continue;
        int sum = -1, k = 0;
        for (int i = 0; i < s->ne; i++) {
            const srch_edge *ed = &s->edges[i];
            if (ed->to != v || choice[i] == -1) continue;
            int y;
            if (choice[i] == -2) {
                nn_gnode m = nn_gnode_default("", NN_OP_MIX, 0);
                m.nin = 0;
                for (int j = 0; j < ed->nops; j++)
                    if (strcmp(ed->ops[j], "none")) m.in[m.nin++] = edge_op(&B, ed, ed->ops[j], idx[ed->from]);
                m.candidates = ed->nops;
                snprintf(m.name, sizeof m.name, "e%d_%d_mix", ed->from, ed->to);
                y = nn_g_add_node(g, &m);
                if (mix_node) mix_node[i] = y;
            } else {
                y = edge_op(&B, ed, ed->ops[choice[i]], idx[ed->from]);
            }
            if (sum < 0) {
                sum = y;
            } else {
                char nm[NN_NAME_LEN];
                snprintf(nm, sizeof nm, "n%d_sum%d", v, k++);
                sum = nn_g_add(g, nm, sum, y);
            }
        }
        idx[v] = sum;
    }
    head(&B, idx[GEN_AR_NODES - 1]);
    g->output = g->n - 1;
    if (nn_graph_finalize(g, e)) {
        nn_graph_free(g);
        return NULL;
    }
    gen_init_pytorch_default(g, seed);
    nn_rng r;
    nn_rng_seed(&r, seed ^ 0xa1fa5eedULL);
    for (int i = 0; i < g->np; i++)
        if (g->params[i].arch)
            for (size_t q = 0; q < g->params[i].t.numel; q++) g->params[i].t.data[q] = 1e-3f * nn_rng_normal(&r);
    return g;
}

nn_graph *gen_ar_supernet(const gen_ar_space *s, uint64_t seed, int *mix_node, nn_err *e)
{
    int choice[GEN_AR_EDGES];
    for (int i = 0; i < s->ne; i++) choice[i] = -2;
    return build(s, choice, seed, mix_node, e);
}

static int genotype_choices(const gen_ar_space *s, const srch_genotype *gt, int *choice, nn_err *e)
{
    for (int i = 0; i < s->ne; i++) choice[i] = -3; /* not given */
    for (int k = 0; k < gt->n; k++) {
        const srch_choice *c = &gt->e[k];
        int found = -1;
        for (int i = 0; i < s->ne; i++)
            if (s->edges[i].from == c->from && s->edges[i].to == c->to) found = i;
        if (found < 0) return nn_fail(e, "genotype edge %d -> %d: not an edge of the autorecon space", c->from, c->to);
        if (choice[found] != -3) return nn_fail(e, "genotype edge %d -> %d: given twice", c->from, c->to);
        const srch_edge *ed = &s->edges[found];
        for (int j = 0; j < ed->nops; j++)
            if (!strcmp(ed->ops[j], c->op)) choice[found] = strcmp(c->op, "none") ? j : -1;
        if (choice[found] == -3) {
            char list[200] = "";
            size_t l = 0;
            for (int j = 0; j < ed->nops; j++) l += (size_t)snprintf(list + l, sizeof list - l, "%s%s", j ? ", " : "", ed->ops[j]);
            return nn_fail(e, "genotype edge %d -> %d: op '%s' is not one of its candidates (%s)", c->from, c->to, c->op,
                           list);
        }
    }
    for (int i = 0; i < s->ne; i++) {
        if (choice[i] != -3) continue;
        const srch_edge *ed = &s->edges[i];
        if (strcmp(ed->ops[ed->nops - 1], "none"))
            return nn_fail(e, "genotype: edge %d -> %d has no op (it cannot be none)", ed->from, ed->to);
        choice[i] = -1;
    }
    return NN_OK;
}

nn_graph *gen_ar_derived(const gen_ar_space *s, const srch_genotype *gt, uint64_t seed, nn_err *e)
{
    int choice[GEN_AR_EDGES];
    if (genotype_choices(s, gt, choice, e)) return NULL;
    return build(s, choice, seed, NULL, e);
}

void gen_ar_op_macs(const gen_ar_space *s, const nn_graph *supernet, double *cost, double *fixed)
{
    /* edge_op names every node of a candidate "e<from>_<to>_<op>_..." */
    double cand = 0;
    for (int i = 0, o = 0; i < s->ne; o += s->edges[i++].nops)
        for (int j = 0; j < s->edges[i].nops; j++) {
            char pfx[48];
            const int l = snprintf(pfx, sizeof pfx, "e%d_%d_%.10s_", s->edges[i].from, s->edges[i].to, s->edges[i].ops[j]);
            double c = 0;
            for (int v = 0; v < supernet->n; v++)
                if (!strncmp(supernet->nodes[v].name, pfx, (size_t)l)) c += nn_graph_node_macs(supernet, v);
            cost[o + j] = c;
            cand += c;
        }
    *fixed = nn_graph_macs(supernet) - cand;
}

static void node_label(int v, char *out, size_t n)
{
    if (v == 0)
        snprintf(out, n, "B1-N1");
    else if (v % 4 == 0 && v < GEN_AR_NODES - 1)
        snprintf(out, n, "B%d-N5 (B%d-N1)", node_block(v) + 1, node_block(v) + 2);
    else
        snprintf(out, n, "B%d-N%d", node_block(v) + 1, (v - 1) % 4 + 2);
}

int gen_ar_write_dot(const gen_ar_space *s, const srch_genotype *gt, const char *path, nn_err *e)
{
    int choice[GEN_AR_EDGES];
    if (genotype_choices(s, gt, choice, e)) return NN_ERR;
    char buf[8192], lab[40];
    size_t k = (size_t)snprintf(buf, sizeof buf,
                                "digraph generator {\n  rankdir=TB;\n  node [shape=box, style=rounded];\n"
                                "  stem [label=\"z * E[y] -> linear -> %dx%dx%d -> BN\", shape=plain];\n",
                                node_ch(s, 0), s->h >> s->up_blocks, s->w >> s->up_blocks);
    for (int v = 0; v < GEN_AR_NODES; v++) {
        node_label(v, lab, sizeof lab);
        k += (size_t)snprintf(buf + k, sizeof buf - k, "  n%d [label=\"%s\\n%dx%dx%d\"];\n", v, lab, node_ch(s, v),
                              (s->h >> s->up_blocks) * node_scale(s, v), (s->w >> s->up_blocks) * node_scale(s, v));
    }
    k += (size_t)snprintf(buf + k, sizeof buf - k,
                          "  head [label=\"conv3x3 -> tanh -> BN -> %dx%dx%d\", shape=plain];\n  stem -> n0;\n  n%d -> head;\n",
                          s->c, s->h, s->w, GEN_AR_NODES - 1);
    for (int i = 0; i < s->ne; i++)
        if (choice[i] >= 0)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "  n%d -> n%d [label=\"%s\"%s];\n", s->edges[i].from,
                                  s->edges[i].to, s->edges[i].ops[choice[i]],
                                  i >= 21 ? ", style=dashed" : "");
    k += (size_t)snprintf(buf + k, sizeof buf - k, "}\n");
    return nn_write_file_atomic(path, buf, k, e);
}
