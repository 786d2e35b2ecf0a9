#include "bns.h"

#include <string.h>

void gen_bns_begin(gen_bns *b, nn_ctx *c)
{
    memset(b, 0, sizeof *b);
    b->c = c;
}

void gen_bns_hook(void *user, const nn_graph *g, int node, nn_tensor **in, nn_tensor *out)
{
    (void)out;
    gen_bns *b = user;
    const nn_gnode *n = &g->nodes[node];
    if (n->op != NN_OP_BN && n->op != NN_OP_COND_BN) return;
    const int C = in[0]->shape[1], k = n->op == NN_OP_BN && n->affine ? 2 : (n->op == NN_OP_COND_BN ? 2 : 0);
    nn_tensor *m = nn_channel_moments(b->c, in[0]); /* [2, C]: mean, biased var */
    nn_tensor *target = nn_new2(b->c, 2, C);
    memcpy(target->data, g->params[n->param[k]].t.data, (size_t)C * sizeof(float));
    memcpy(target->data + C, g->params[n->param[k + 1]].t.data, (size_t)C * sizeof(float));
    /* mse over 2C entries = (MSE_mean + MSE_var) / 2 */
    nn_tensor *term = nn_scale(b->c, nn_mse(b->c, m, target), 2.0f);
    b->sum = b->sum ? nn_add(b->c, b->sum, term) : term;
    b->layers++;
}

nn_tensor *gen_bns_loss(gen_bns *b)
{
    if (!b->layers) return NULL;
    return nn_scale(b->c, b->sum, 1.0f / (float)b->layers);
}
