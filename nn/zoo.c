/* Zoo builders. CIFAR-style networks: 3x3 stem, no initial max pooling,
 * so they fit 28x28 and 32x32 inputs. */
/* Node names are short by construction; truncation cannot happen here. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "zoo.h"
#include "zoo_binary.h"

#include <stdio.h>
#include <string.h>

static int conv_bn(nn_graph *g, const char *name, int in, int oc, int k, int stride, int groups, int relu)
{
    char b[NN_NAME_LEN];
    snprintf(b, sizeof b, "%s.conv", name);
    int x = nn_g_conv(g, b, in, oc, k, stride, k / 2, groups, 0);
    snprintf(b, sizeof b, "%s.bn", name);
    x = nn_g_bn(g, b, x);
    if (relu) {
        snprintf(b, sizeof b, "%s.relu", name);
        x = nn_g_act(g, b, relu == 6 ? NN_OP_RELU6 : NN_OP_RELU, x);
    }
    return x;
}

/* ResNet basic blocks "layer<s>.<i>": stages x blocks, widths w0 << s,
 * stride 2 at each later stage's first block, 1x1 conv + BN on shortcuts
 * that change stride or width (option B). Returns the last ReLU. */
static int basic_blocks(nn_graph *g, int x, int ch, int stages, int blocks, int w0)
{
    char name[32], b[NN_NAME_LEN];
    for (int s = 0; s < stages; s++) {
        const int oc = w0 << s;
        for (int i = 0; i < blocks; i++) {
            const int stride = (s > 0 && i == 0) ? 2 : 1;
            snprintf(name, sizeof name, "layer%d.%d", s + 1, i);
            snprintf(b, sizeof b, "%s.a", name);
            int y = conv_bn(g, b, x, oc, 3, stride, 1, 1);
            snprintf(b, sizeof b, "%s.b", name);
            y = conv_bn(g, b, y, oc, 3, 1, 1, 0);
            int sc = x;
            if (stride != 1 || ch != oc) {
                snprintf(b, sizeof b, "%s.down", name);
                sc = conv_bn(g, b, x, oc, 1, stride, 1, 0);
            }
            snprintf(b, sizeof b, "%s.add", name);
            x = nn_g_add(g, b, y, sc);
            snprintf(b, sizeof b, "%s.relu", name);
            x = nn_g_act(g, b, NN_OP_RELU, x);
            ch = oc;
        }
    }
    return x;
}

/* He et al. CIFAR ResNet (6n+2 layers): 3x3 stem, 3 stages from 16 channels. */
static void resnet(nn_graph *g, int depth)
{
    int x = basic_blocks(g, conv_bn(g, "stem", 0, 16, 3, 1, 1, 1), 16, 3, (depth - 2) / 6, 16);
    x = nn_g_unary(g, "pool", NN_OP_GAP, x);
    nn_g_linear(g, "fc", x, g->num_classes, 1);
}

/* torchvision's ResNet-18 (11,689,512 parameters at 1000 classes): conv7x7
 * stride 2 -> BN -> ReLU -> maxpool 3x3 stride 2, 4 stages of 2 basic blocks
 * (64-128-256-512, 1x1 stride-2 conv + BN shortcuts), GAP, FC; for inputs
 * from 64x64 up (the binary baselines' ResNet-18 layout's real twin). */
static void resnet18(nn_graph *g)
{
    int x = conv_bn(g, "stem", 0, 64, 7, 2, 1, 1);
    x = basic_blocks(g, nn_g_pool(g, "stem.pool", NN_OP_MAXPOOL, x, 3, 2, 1), 64, 4, 2, 64);
    x = nn_g_unary(g, "pool", NN_OP_GAP, x);
    nn_g_linear(g, "fc", x, g->num_classes, 1);
}

/* Adder layer "<name>.<kind>" (k x k, pad k/2, groups) -> BN "<name>.<bn>"
 * [-> ReLU "<name>.<relu>"]. */
static int adder_seq(nn_graph *g, const char *name, const char *kind, const char *bn, const char *relu, int in, int oc,
                     int k, int stride, int groups)
{
    char b[NN_NAME_LEN];
    nn_gnode a = nn_gnode_default("", NN_OP_ADDER_CONV, in);
    snprintf(a.name, sizeof a.name, "%s.%s", name, kind);
    a.out_channels = oc, a.kernel = k, a.stride = stride, a.pad = k / 2, a.groups = groups, a.alr_eta = 0.2f;
    int x = nn_g_add_node(g, &a);
    snprintf(b, sizeof b, "%s.%s", name, bn);
    x = nn_g_bn(g, b, x);
    if (relu) {
        snprintf(b, sizeof b, "%s.%s", name, relu);
        x = nn_g_act(g, b, NN_OP_RELU, x);
    }
    return x;
}

/* An adder layer + BN [+ ReLU]; ds: as DS-AdderNet, a 3x3 layer with as many
 * outputs as inputs becomes dwAdder(3x3) -> BN -> ReLU -> pwAdder(1x1), then the BN. */
static int adder_bn(nn_graph *g, const char *name, int in, int ic, int oc, int k, int stride, int relu, int ds)
{
    if (ds && k == 3 && ic == oc && stride == 1)
        return adder_seq(g, name, "pw", "bn", relu ? "relu" : NULL,
                         adder_seq(g, name, "dw", "dw_bn", "dw_relu", in, oc, 3, 1, oc), oc, 1, 1, 1);
    return adder_seq(g, name, "adder", "bn", relu ? "relu" : NULL, in, oc, k, stride, 1);
}

/* AdderNet ResNet-20, the official code's structure: an ordinary 3x3 conv
 * stem, every block conv an adder layer (BN after each), 1x1 adder + BN on
 * downsampling shortcuts, average pooling, and a 1x1 conv + BN classifier. */
static void addresnet20(nn_graph *g, int ds)
{
    int x = conv_bn(g, "stem", 0, 16, 3, 1, 1, 1), ch = 16;
    char name[32], b[NN_NAME_LEN];
    for (int s = 0; s < 3; s++) {
        const int oc = 16 << s;
        for (int i = 0; i < 3; i++) {
            const int stride = (s > 0 && i == 0) ? 2 : 1;
            snprintf(name, sizeof name, "layer%d.%d", s + 1, i);
            snprintf(b, sizeof b, "%s.a", name);
            int y = adder_bn(g, b, x, ch, oc, 3, stride, 1, ds);
            snprintf(b, sizeof b, "%s.b", name);
            y = adder_bn(g, b, y, oc, oc, 3, 1, 0, ds);
            int sc = x;
            if (stride != 1 || ch != oc) {
                snprintf(b, sizeof b, "%s.down", name);
                sc = adder_bn(g, b, x, ch, oc, 1, stride, 0, 0);
            }
            snprintf(b, sizeof b, "%s.add", name);
            x = nn_g_add(g, b, y, sc);
            snprintf(b, sizeof b, "%s.relu", name);
            x = nn_g_act(g, b, NN_OP_RELU, x);
            ch = oc;
        }
    }
    const int fh = ((g->in_shape[1] + 1) / 2 + 1) / 2; /* after the two stride-2 stages */
    x = nn_g_pool(g, "pool", NN_OP_AVGPOOL, x, fh, 1, 0);
    x = nn_g_conv(g, "fc", x, g->num_classes, 1, 1, 0, 1, 0);
    x = nn_g_bn(g, "fc_bn", x);
    nn_g_unary(g, "flatten", NN_OP_FLATTEN, x);
}

/* A conv or an adder layer (k x k, groups, pad k/2, no bias) + BN [+ ReLU]. */
static int conv_or_adder_bn(nn_graph *g, const char *name, int in, int oc, int k, int stride, int groups, int relu,
                            int adder)
{
    return adder ? adder_seq(g, name, "adder", "bn", relu ? "relu" : NULL, in, oc, k, stride, groups)
                 : conv_bn(g, name, in, oc, k, stride, groups, relu);
}

/* The CIFAR MobileNetV2 of the DS-AdderNet seed's Table 4.2 (kuangliu's
 * pytorch-cifar model; 2,296,922 parameters for 10 classes): a 3x3 stride-1
 * stem to 32, blocks 1x1 expand (even at t = 1) -> BN -> ReLU -> 3x3
 * depthwise -> BN -> ReLU -> 1x1 project -> BN, shortcut only at stride 1
 * (a 1x1 conv + BN when the widths differ), 1x1 320 -> 1280 + BN + ReLU,
 * global average pooling, a linear classifier with bias; ReLU, not ReLU6.
 * adder: Add-MobileNetV2, every depthwise and pointwise kernel an adder
 * layer ("without further changes": the same parameters); the stem and the
 * classifier stay ordinary, as in AdderNet's ResNets (the seed does not say). */
static void mobilenetv2_cifar(nn_graph *g, int adder)
{
    static const int cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int x = conv_bn(g, "stem", 0, 32, 3, 1, 1, 1), ch = 32, blk = 0;
    char b[NN_NAME_LEN];
    for (int s = 0; s < 7; s++)
        for (int i = 0; i < cfg[s][2]; i++, blk++) {
            const int hid = ch * cfg[s][0], oc = cfg[s][1], stride = i == 0 ? cfg[s][3] : 1;
            snprintf(b, sizeof b, "block%d.expand", blk);
            int y = conv_or_adder_bn(g, b, x, hid, 1, 1, 1, 1, adder);
            snprintf(b, sizeof b, "block%d.dw", blk);
            y = conv_or_adder_bn(g, b, y, hid, 3, stride, hid, 1, adder);
            snprintf(b, sizeof b, "block%d.project", blk);
            y = conv_or_adder_bn(g, b, y, oc, 1, 1, 1, 0, adder);
            if (stride == 1) {
                int sc = x;
                if (ch != oc) {
                    snprintf(b, sizeof b, "block%d.shortcut", blk);
                    sc = conv_or_adder_bn(g, b, x, oc, 1, 1, 1, 0, adder);
                }
                snprintf(b, sizeof b, "block%d.add", blk);
                y = nn_g_add(g, b, y, sc);
            }
            x = y;
            ch = oc;
        }
    x = conv_or_adder_bn(g, "head", x, 1280, 1, 1, 1, 1, adder);
    x = nn_g_unary(g, "pool", NN_OP_GAP, x);
    nn_g_linear(g, "fc", x, g->num_classes, 1);
}

/* VGG-small with BN: 2 convs per stage at widths 32-64-128, max pooling
 * after each stage, one linear classifier on the flattened features. */
static void vgg_small(nn_graph *g)
{
    static const int widths[3] = {32, 64, 128};
    int x = 0;
    char b[NN_NAME_LEN];
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 2; i++) {
            snprintf(b, sizeof b, "features.%d.%d", s, i);
            x = conv_bn(g, b, x, widths[s], 3, 1, 1, 1);
        }
        snprintf(b, sizeof b, "features.%d.pool", s);
        x = nn_g_pool(g, b, NN_OP_MAXPOOL, x, 2, 2, 0);
    }
    x = nn_g_unary(g, "flatten", NN_OP_FLATTEN, x);
    nn_g_linear(g, "fc", x, g->num_classes, 1);
}

/* CIFAR-style MobileNetV2 (width 1.0): stride-1 stem, inverted residuals
 * (expand 1x1 -> depthwise 3x3 -> project 1x1), ReLU6. Strides adapted to
 * small inputs as in the common CIFAR variants. */
static void mobilenetv2(nn_graph *g)
{
    static const int cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int x = conv_bn(g, "stem", 0, 32, 3, 1, 1, 6), ch = 32, blk = 0;
    char b[NN_NAME_LEN];
    for (int s = 0; s < 7; s++)
        for (int i = 0; i < cfg[s][2]; i++, blk++) {
            int t = cfg[s][0], oc = cfg[s][1], stride = i == 0 ? cfg[s][3] : 1, hid = ch * t, y = x;
            if (t != 1) {
                snprintf(b, sizeof b, "block%d.expand", blk);
                y = conv_bn(g, b, y, hid, 1, 1, 1, 6);
            }
            snprintf(b, sizeof b, "block%d.dw", blk);
            y = conv_bn(g, b, y, hid, 3, stride, hid, 6);
            snprintf(b, sizeof b, "block%d.project", blk);
            y = conv_bn(g, b, y, oc, 1, 1, 1, 0);
            if (stride == 1 && ch == oc) {
                snprintf(b, sizeof b, "block%d.add", blk);
                y = nn_g_add(g, b, x, y);
            }
            x = y;
            ch = oc;
        }
    x = conv_bn(g, "head", x, 1280, 1, 1, 1, 6);
    x = nn_g_unary(g, "pool", NN_OP_GAP, x);
    nn_g_linear(g, "fc", x, g->num_classes, 1);
}

/* A small DenseNet-BC (growth 12, 3 dense blocks of 6 bottleneck layers,
 * compression 0.5). Concats are chained pairwise to stay within the
 * node input limit. */
static void densenet_bc(nn_graph *g)
{
    const int growth = 12, layers = 6;
    int ch = 2 * growth, x = nn_g_conv(g, "stem.conv", 0, ch, 3, 1, 1, 1, 0);
    char b[NN_NAME_LEN];
    for (int blk = 0; blk < 3; blk++) {
        for (int l = 0; l < layers; l++) {
            snprintf(b, sizeof b, "dense%d.%d.bn1", blk, l);
            int y = nn_g_bn(g, b, x);
            snprintf(b, sizeof b, "dense%d.%d.relu1", blk, l);
            y = nn_g_act(g, b, NN_OP_RELU, y);
            snprintf(b, sizeof b, "dense%d.%d.conv1", blk, l);
            y = nn_g_conv(g, b, y, 4 * growth, 1, 1, 0, 1, 0);
            snprintf(b, sizeof b, "dense%d.%d.bn2", blk, l);
            y = nn_g_bn(g, b, y);
            snprintf(b, sizeof b, "dense%d.%d.relu2", blk, l);
            y = nn_g_act(g, b, NN_OP_RELU, y);
            snprintf(b, sizeof b, "dense%d.%d.conv2", blk, l);
            y = nn_g_conv(g, b, y, growth, 3, 1, 1, 1, 0);
            snprintf(b, sizeof b, "dense%d.%d.cat", blk, l);
            int ins[2] = {x, y};
            x = nn_g_concat(g, b, ins, 2);
            ch += growth;
        }
        if (blk < 2) {
            snprintf(b, sizeof b, "trans%d.bn", blk);
            x = nn_g_bn(g, b, x);
            snprintf(b, sizeof b, "trans%d.relu", blk);
            x = nn_g_act(g, b, NN_OP_RELU, x);
            ch /= 2;
            snprintf(b, sizeof b, "trans%d.conv", blk);
            x = nn_g_conv(g, b, x, ch, 1, 1, 0, 1, 0);
            snprintf(b, sizeof b, "trans%d.pool", blk);
            x = nn_g_pool(g, b, NN_OP_AVGPOOL, x, 2, 2, 0);
        }
    }
    x = nn_g_bn(g, "final.bn", x);
    x = nn_g_act(g, "final.relu", NN_OP_RELU, x);
    x = nn_g_unary(g, "pool", NN_OP_GAP, x);
    nn_g_linear(g, "fc", x, g->num_classes, 1);
}

const char *nn_zoo_names(void)
{
    return "resnet20, resnet32, resnet56, resnet18, vgg_small, mobilenetv2, mobilenetv2_cifar, densenet_bc, "
           "addresnet20, ds_addresnet20, add_mobilenetv2, bireal_resnet20, xnor_resnet20, bireal_resnet18, "
           "xnor_resnet18";
}

nn_graph *nn_zoo_build(const char *name, int c, int h, int w, int num_classes, uint64_t seed, nn_err *e)
{
    if (num_classes < 1) {
        nn_fail(e, "zoo model '%s': num_classes must be >= 1", name);
        return NULL;
    }
    nn_graph *g = nn_graph_new(name, c, h, w, num_classes);
    if (!strcmp(name, "resnet20"))
        resnet(g, 20);
    else if (!strcmp(name, "resnet32"))
        resnet(g, 32);
    else if (!strcmp(name, "resnet56"))
        resnet(g, 56);
    else if (!strcmp(name, "resnet18"))
        resnet18(g);
    else if (!strcmp(name, "vgg_small"))
        vgg_small(g);
    else if (!strcmp(name, "mobilenetv2"))
        mobilenetv2(g);
    else if (!strcmp(name, "densenet_bc"))
        densenet_bc(g);
    else if (!strcmp(name, "mobilenetv2_cifar"))
        mobilenetv2_cifar(g, 0);
    else if (!strcmp(name, "add_mobilenetv2"))
        mobilenetv2_cifar(g, 1);
    else if (!strcmp(name, "addresnet20"))
        addresnet20(g, 0);
    else if (!strcmp(name, "ds_addresnet20"))
        addresnet20(g, 1);
    else if (nn_zb_build(g, name))
        ;
    else {
        nn_fail(e, "unknown zoo model '%s' (known: %s)", name, nn_zoo_names());
        nn_graph_free(g);
        return NULL;
    }
    if (nn_graph_finalize(g, e)) {
        nn_graph_free(g);
        return NULL;
    }
    nn_graph_init_params(g, seed, NN_INIT_KAIMING);
    return g;
}
