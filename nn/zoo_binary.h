/* Binary-network building blocks and the zoo's binary baselines
 * (shared/reference/seed_zhu_core.md, NASB): sign activations with the
 * ApproxSign backward, weights s * sign(W) with s = mean |W| (binary_weights),
 * first conv, classifier and downsampling shortcuts in full precision. */
#ifndef NN_ZOO_BINARY_H
#define NN_ZOO_BINARY_H

#include "graph.h"

/* sign(x), ApproxSign backward. */
int nn_zb_sign(nn_graph *g, const char *name, int in);
/* BN(binary conv k x k of the sign tensor s): stride, dilation, "same"
 * padding; wbin 1 (s per layer) or 2 (per output channel); relu: a ReLU
 * between conv and BN (name.relu; NASB's Conv -> ReLU -> BN order). */
int nn_zb_bconv_bn(nn_graph *g, const char *name, int s, int oc, int k, int stride, int dil, int wbin, int relu);
/* Bi-Real unit: BN(bconv3x3(sign(x))) + shortcut, the shortcut x itself or,
 * when stride or width change, BN(conv1x1(avgpool2x2(x))) in full precision.
 * sgn: the sign node of x if the caller has one (else -1: made here); relu
 * as nn_zb_bconv_bn's. */
int nn_zb_bireal_unit(nn_graph *g, const char *name, int x, int sgn, int ic, int oc, int stride, int relu);
/* The full-precision stem (conv3x3 16 + BN) and head (GAP + FC). */
int nn_zb_stem(nn_graph *g);
void nn_zb_head(nn_graph *g, int x);

/* Zoo: "bireal_resnet20" (a real-valued shortcut around every binary conv)
 * and "xnor_resnet20" (ResNet-20's basic blocks, shortcut every two binary
 * convs, weight scales per output channel as XNOR-Net); "bireal_resnet18"
 * and "xnor_resnet18": the same on ResNet-18's layout (4 stages of 2 blocks
 * from 64 channels, conv7x7/2 + maxpool stem) for larger inputs. */
int nn_zb_build(nn_graph *g, const char *name);

#endif
