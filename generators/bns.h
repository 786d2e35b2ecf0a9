/* The BN-statistics loss of data-free reconstruction (GDFQ's BNS loss):
 * a forward hook on the frozen teacher takes, at every BN node, the batch
 * mean and biased variance of the BN's input (differentiably) and compares
 * them with the BN's running statistics:
 *     L_BNS = (1/L) * sum over BN layers of [ MSE(mean, running_mean) + MSE(var, running_var) ]
 * (MSE = mean over channels). Use: gen_bns_begin, forward with
 * gen_bns_hook / &state, then gen_bns_loss. */
#ifndef GEN_BNS_H
#define GEN_BNS_H

#include "nn/graph.h"

typedef struct gen_bns {
    nn_ctx *c;
    nn_tensor *sum; /* running sum of per-layer terms */
    int layers;
} gen_bns;

void gen_bns_begin(gen_bns *b, nn_ctx *c);
void gen_bns_hook(void *user, const nn_graph *g, int node, nn_tensor **in, nn_tensor *out);
/* Mean over the BN layers seen; NULL if the graph had none. */
nn_tensor *gen_bns_loss(gen_bns *b);

#endif
