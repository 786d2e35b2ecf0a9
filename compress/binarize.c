#include "binarize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cmp_bin_opts cmp_bin_defaults(void) { return (cmp_bin_opts){1, 1, 1, 0, 0, 0}; }

/* which node binarizes: conv/linear not kept by o */
static int binarizes(const nn_graph *g, int i, int first, int last, const cmp_bin_opts *o)
{
    const nn_gnode *n = &g->nodes[i];
    if (n->op != NN_OP_CONV && n->op != NN_OP_LINEAR) return 0;
    if ((o->keep_first && i == first) || (o->keep_last && i == last)) return 0;
    if (n->op == NN_OP_CONV && n->kernel == 1 && (o->keep_1x1 || (o->keep_downsample && n->stride > 1))) return 0;
    return 1;
}

nn_graph *cmp_binarize(const nn_graph *cnn, const cmp_bin_opts *o, int *nbin, nn_err *e)
{
    int first = -1, last = -1, cnt = 0;
    for (int i = 1; i < cnn->n; i++) {
        const nn_gnode *n = &cnn->nodes[i];
        if (n->qbits || n->op == NN_OP_FAKE_QUANT)
            return nn_fail(e, "node '%s': quantized; binarize the float model", n->name), NULL;
        if (n->wbin || n->op == NN_OP_SIGN) return nn_fail(e, "node '%s': the model is binary already", n->name), NULL;
        if (n->op == NN_OP_CONV && first < 0) first = i;
        if (n->op == NN_OP_CONV || n->op == NN_OP_LINEAR) last = i;
    }
    for (int i = 1; i < cnn->n; i++) cnt += binarizes(cnn, i, first, last, o);
    if (!cnt) return nn_fail(e, "binarize: no conv or linear left to binarize with these options"), NULL;
    nn_graph *g = cnn->in_ndim == 3
                      ? nn_graph_new(cnn->name, cnn->in_shape[0], cnn->in_shape[1], cnn->in_shape[2], cnn->num_classes)
                      : nn_graph_new_vec(cnn->name, cnn->in_shape[0], cnn->num_classes);
    memcpy(g->mean, cnn->mean, sizeof g->mean);
    memcpy(g->std, cnn->std, sizeof g->std);
    /* old index -> new; the sign made of an old node (shared by its binary readers) */
    int *map = malloc((size_t)cnn->n * sizeof(int)), *sign = malloc((size_t)cnn->n * sizeof(int));
    for (int i = 0; i < cnn->n; i++) map[i] = i == 0 ? 0 : -1, sign[i] = -1;
    for (int i = 1; i < cnn->n; i++) {
        nn_gnode n = cnn->nodes[i];
        for (int k = 0; k < n.nin; k++) n.in[k] = map[n.in[k]];
        if (binarizes(cnn, i, first, last, o)) {
            /* sign(relu(x)) is +1 everywhere: the sign reads the ReLU's input */
            int src = cnn->nodes[i].in[0];
            while (cnn->nodes[src].op == NN_OP_RELU || cnn->nodes[src].op == NN_OP_RELU6) src = cnn->nodes[src].in[0];
            if (sign[src] < 0) {
                nn_gnode s = nn_gnode_default("", NN_OP_SIGN, map[src]);
                snprintf(s.name, sizeof s.name, "%.*s.sign", NN_NAME_LEN - 6, n.name);
                s.approx = !o->ste;
                sign[src] = nn_g_add_node(g, &s);
            }
            n.in[0] = sign[src];
            n.wbin = o->per_channel ? 2 : 1;
        }
        map[i] = nn_g_add_node(g, &n);
    }
    g->output = map[cnn->output];
    free(map);
    free(sign);
    if (nn_graph_finalize(g, e)) {
        nn_graph_free(g);
        return NULL;
    }
    for (int i = 0; i < g->np; i++) /* every parameter by name (a binary layer keeps its real W) */
        for (int k = 0; k < cnn->np; k++)
            if (!strcmp(cnn->params[k].name, g->params[i].name) && cnn->params[k].t.numel == g->params[i].t.numel)
                memcpy(g->params[i].t.data, cnn->params[k].t.data, cnn->params[k].t.numel * sizeof(float));
    if (nbin) *nbin = cnt;
    return g;
}
