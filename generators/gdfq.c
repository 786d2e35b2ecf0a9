#include "gdfq.h"

#include <math.h>

#include "autorecon.h"

static int bn(nn_graph *g, const char *name, int in, float eps, int cond, int classes)
{
    nn_gnode n = nn_gnode_default(name, cond ? NN_OP_COND_BN : NN_OP_BN, in);
    n.eps = eps;
    n.num_classes = classes;
    return nn_g_add_node(g, &n);
}

nn_graph *gen_gdfq_build(int c, int h, int w, int num_classes, int latent, int width, int cond_bn, uint64_t seed,
                           nn_err *e)
{
    if (h % 4 || w % 4 || h < 4 || w < 4 || c < 1) {
        nn_fail(e, "gdfq generator: output %dx%dx%d must have height and width multiples of 4", c, h, w);
        return NULL;
    }
    if (num_classes < 1 || latent < 1 || width < 2 || width % 2) {
        nn_fail(e, "gdfq generator: needs num_classes >= 1, latent >= 1 and an even width >= 2");
        return NULL;
    }
    nn_graph *g = nn_graph_new_vec("gdfq_generator", latent, num_classes);
    int x = 0;
    if (!cond_bn) {
        nn_gnode n = nn_gnode_default("label_emb", NN_OP_LABEL_EMBED, x);
        n.num_classes = num_classes;
        x = nn_g_add_node(g, &n);
    }
    x = nn_g_linear(g, "l1", x, width * (h / 4) * (w / 4), 1);
    nn_gnode r = nn_gnode_default("view", NN_OP_RESHAPE, x);
    r.rndim = 3;
    r.rshape[0] = width;
    r.rshape[1] = h / 4;
    r.rshape[2] = w / 4;
    x = nn_g_add_node(g, &r);
    x = bn(g, "bn0", x, 1e-5f, cond_bn, num_classes);
    x = nn_g_unary(g, "up1", NN_OP_UPSAMPLE_NEAREST, x);
    x = nn_g_conv(g, "conv1", x, width, 3, 1, 1, 1, 1);
    x = bn(g, "bn1", x, 0.8f, cond_bn, num_classes);
    nn_gnode l = nn_gnode_default("lrelu1", NN_OP_LEAKY_RELU, x);
    l.slope = 0.2f;
    x = nn_g_add_node(g, &l);
    x = nn_g_unary(g, "up2", NN_OP_UPSAMPLE_NEAREST, x);
    x = nn_g_conv(g, "conv2", x, width / 2, 3, 1, 1, 1, 1);
    x = bn(g, "bn2", x, 0.8f, cond_bn, num_classes);
    l = nn_gnode_default("lrelu2", NN_OP_LEAKY_RELU, x);
    l.slope = 0.2f;
    x = nn_g_add_node(g, &l);
    x = nn_g_conv(g, "conv3", x, c, 3, 1, 1, 1, 1);
    x = nn_g_act(g, "tanh", NN_OP_TANH, x);
    nn_gnode out = nn_gnode_default("bn_out", NN_OP_BN, x);
    out.affine = 0;
    nn_g_add_node(g, &out);
    if (nn_graph_finalize(g, e)) {
        nn_graph_free(g);
        return NULL;
    }
    gen_init_pytorch_default(g, seed);
    return g;
}

void gen_init_pytorch_default(nn_graph *g, uint64_t seed)
{
    nn_graph_init_params(g, seed, NN_INIT_KAIMING); /* linear: PyTorch's default already; embedding N(0, 1) */
    nn_rng rng;
    nn_rng_seed(&rng, seed ^ 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < g->n; i++) {
        nn_gnode *n = &g->nodes[i];
        if (n->op != NN_OP_CONV) continue;
        for (int k = 0; k < 1 + n->bias; k++) {
            nn_tensor *t = &g->params[n->param[k]].t;
            const float bound = 1.0f / sqrtf((float)(g->params[n->param[0]].t.numel / (size_t)n->out_channels));
            for (size_t q = 0; q < t->numel; q++) t->data[q] = bound * (2.0f * nn_rng_uniform(&rng) - 1.0f);
        }
    }
}
