/* Binary baselines for the zoo and the blocks the NASB builder shares. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "zoo_binary.h"

#include <stdio.h>
#include <string.h>

int nn_zb_sign(nn_graph *g, const char *name, int in)
{
    nn_gnode s = nn_gnode_default(name, NN_OP_SIGN, in);
    s.approx = 1;
    return nn_g_add_node(g, &s);
}

int nn_zb_bconv_bn(nn_graph *g, const char *name, int s, int oc, int k, int stride, int dil, int wbin, int relu)
{
    char b[NN_NAME_LEN];
    nn_gnode c = nn_gnode_default("", NN_OP_CONV, s);
    snprintf(c.name, sizeof c.name, "%s.conv", name);
    c.out_channels = oc, c.kernel = k, c.stride = stride, c.dilation = dil, c.pad = dil * (k / 2), c.wbin = wbin;
    int x = nn_g_add_node(g, &c);
    if (relu) {
        snprintf(b, sizeof b, "%s.relu", name);
        x = nn_g_act(g, b, NN_OP_RELU, x);
    }
    snprintf(b, sizeof b, "%s.bn", name);
    return nn_g_bn(g, b, x);
}

int nn_zb_bireal_unit(nn_graph *g, const char *name, int x, int sgn, int ic, int oc, int stride, int relu)
{
    char b[NN_NAME_LEN];
    if (sgn < 0) {
        snprintf(b, sizeof b, "%s.sign", name);
        sgn = nn_zb_sign(g, b, x);
    }
    int y = nn_zb_bconv_bn(g, name, sgn, oc, 3, stride, 1, 1, relu), sc = x;
    if (stride != 1 || ic != oc) {
        snprintf(b, sizeof b, "%s.down.pool", name);
        nn_gnode p = nn_gnode_default(b, NN_OP_AVGPOOL, x);
        p.kernel = stride, p.stride = stride;
        sc = nn_g_add_node(g, &p);
        snprintf(b, sizeof b, "%s.down.conv", name);
        sc = nn_g_conv(g, b, sc, oc, 1, 1, 0, 1, 0);
        snprintf(b, sizeof b, "%s.down.bn", name);
        sc = nn_g_bn(g, b, sc);
    }
    snprintf(b, sizeof b, "%s.add", name);
    return nn_g_add(g, b, y, sc);
}

int nn_zb_stem(nn_graph *g)
{
    int x = nn_g_conv(g, "stem.conv", 0, 16, 3, 1, 1, 1, 0);
    return nn_g_bn(g, "stem.bn", x);
}

void nn_zb_head(nn_graph *g, int x)
{
    x = nn_g_unary(g, "pool", NN_OP_GAP, x);
    nn_g_linear(g, "fc", x, g->num_classes, 1);
}

/* ResNet layouts: 3 stages of 3 basic blocks from 16 channels on a 3x3 stem
 * (ResNet-20, CIFAR-sized inputs), or 4 stages of 2 from 64 on ResNet-18's
 * stem (conv7x7 stride 2 -> BN -> ReLU -> maxpool 3x3 stride 2, all full
 * precision; larger inputs). */
typedef struct {
    int stages, blocks, width0;
} zb_layout;
static const zb_layout ZB_R20 = {3, 3, 16}, ZB_R18 = {4, 2, 64};

static int zb_stem_for(nn_graph *g, const zb_layout *L)
{
    if (L->width0 == 16) return nn_zb_stem(g);
    int x = nn_g_conv(g, "stem.conv", 0, 64, 7, 2, 3, 1, 0);
    x = nn_g_bn(g, "stem.bn", x);
    x = nn_g_act(g, "stem.relu", NN_OP_RELU, x);
    return nn_g_pool(g, "stem.pool", NN_OP_MAXPOOL, x, 3, 2, 1);
}

static void bireal_resnet(nn_graph *g, const zb_layout *L)
{
    int x = zb_stem_for(g, L), ch = L->width0;
    char name[32];
    for (int s = 0; s < L->stages; s++)
        for (int u = 0; u < 2 * L->blocks; u++) { /* a basic block = 2 binary convs, each its own unit */
            const int oc = L->width0 << s, stride = s > 0 && u == 0 ? 2 : 1;
            snprintf(name, sizeof name, "layer%d.%d", s + 1, u);
            x = nn_zb_bireal_unit(g, name, x, -1, ch, oc, stride, 0);
            ch = oc;
        }
    nn_zb_head(g, x);
}

static void xnor_resnet(nn_graph *g, const zb_layout *L)
{
    int x = zb_stem_for(g, L), ch = L->width0;
    char name[32], b[NN_NAME_LEN];
    for (int s = 0; s < L->stages; s++)
        for (int i = 0; i < L->blocks; i++) {
            const int oc = L->width0 << s, stride = s > 0 && i == 0 ? 2 : 1;
            snprintf(name, sizeof name, "layer%d.%d", s + 1, i);
            snprintf(b, sizeof b, "%s.a.sign", name);
            int y = nn_zb_sign(g, b, x);
            snprintf(b, sizeof b, "%s.a", name);
            y = nn_zb_bconv_bn(g, b, y, oc, 3, stride, 1, 2, 0);
            snprintf(b, sizeof b, "%s.b.sign", name);
            y = nn_zb_sign(g, b, y);
            snprintf(b, sizeof b, "%s.b", name);
            y = nn_zb_bconv_bn(g, b, y, oc, 3, 1, 1, 2, 0);
            int sc = x;
            if (stride != 1 || ch != oc) {
                snprintf(b, sizeof b, "%s.down.conv", name);
                sc = nn_g_conv(g, b, x, oc, 1, stride, 0, 1, 0);
                snprintf(b, sizeof b, "%s.down.bn", name);
                sc = nn_g_bn(g, b, sc);
            }
            snprintf(b, sizeof b, "%s.add", name);
            x = nn_g_add(g, b, y, sc);
            ch = oc;
        }
    nn_zb_head(g, x);
}

int nn_zb_build(nn_graph *g, const char *name)
{
    if (!strcmp(name, "bireal_resnet20"))
        bireal_resnet(g, &ZB_R20);
    else if (!strcmp(name, "xnor_resnet20"))
        xnor_resnet(g, &ZB_R20);
    else if (!strcmp(name, "bireal_resnet18"))
        bireal_resnet(g, &ZB_R18);
    else if (!strcmp(name, "xnor_resnet18"))
        xnor_resnet(g, &ZB_R18);
    else
        return 0;
    return 1;
}
