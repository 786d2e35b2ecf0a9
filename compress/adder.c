#include "adder.h"

#include <stdio.h>
#include <string.h>

nn_graph *cmp_to_adder(const nn_graph *cnn, float alr_eta, uint64_t seed, nn_err *e)
{
    if (cnn->in_ndim != 3) return nn_fail(e, "to adder: needs an image model"), NULL;
    nn_graph *g = nn_graph_new(cnn->name, cnn->in_shape[0], cnn->in_shape[1], cnn->in_shape[2], cnn->num_classes);
    memcpy(g->mean, cnn->mean, sizeof g->mean);
    memcpy(g->std, cnn->std, sizeof g->std);
    int first = -1, converted = 0;
    for (int i = 1; i < cnn->n; i++) {
        nn_gnode n = cnn->nodes[i];
        if (n.op == NN_OP_CONV && first < 0) {
            first = i; /* the stem stays a conv */
        } else if (n.op == NN_OP_CONV) {
            if (n.qbits) {
                nn_graph_free(g);
                return nn_fail(e, "node '%s': quantized; convert the float model", n.name), NULL;
            }
            if (n.bias) {
                nn_graph_free(g);
                return nn_fail(e, "node '%s': a conv with a bias (adder layers are unbiased; put a BN after it)",
                               n.name), NULL;
            }
            n.op = NN_OP_ADDER_CONV;
            n.alr_eta = alr_eta;
            converted++;
        }
        nn_g_add_node(g, &n);
    }
    g->output = cnn->output;
    if (!converted) {
        nn_graph_free(g);
        return nn_fail(e, "to adder: the model has no conv besides the first"), NULL;
    }
    if (nn_graph_finalize(g, e)) {
        nn_graph_free(g);
        return NULL;
    }
    nn_graph_init_params(g, seed, NN_INIT_KAIMING); /* adder layers: N(0, 1) */
    for (int i = 0; i < g->np; i++) { /* everything that is not an adder weight keeps the CNN's values */
        const nn_param *src = NULL;
        for (int k = 0; k < cnn->np; k++)
            if (!strcmp(cnn->params[k].name, g->params[i].name)) src = &cnn->params[k];
        char nm[NN_NAME_LEN + 32];
        snprintf(nm, sizeof nm, "%s", g->params[i].name);
        char *dot = strrchr(nm, '.');
        if (dot) *dot = 0;
        const int ni = nn_graph_find(g, nm);
        if (ni >= 0 && g->nodes[ni].op == NN_OP_ADDER_CONV) continue;
        if (src && src->t.numel == g->params[i].t.numel)
            memcpy(g->params[i].t.data, src->t.data, src->t.numel * sizeof(float));
    }
    return g;
}
