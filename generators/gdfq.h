/* GDFQ's human-designed generator (ACGAN style, from the official code),
 * sized for the teacher's input C x H x W (H and W multiples of 4):
 * width = 128 is GDFQ's (the comments below use it; conv2 has width/2):
 *   z [latent] * E[y]  ->  linear(latent -> 128*(H/4)*(W/4))  ->  reshape [128, H/4, W/4]  ->  BN(128)
 *   -> nearest x2 -> conv3x3(128->128) -> BN(128, eps 0.8) -> LeakyReLU(0.2)
 *   -> nearest x2 -> conv3x3(128->64)  -> BN(64, eps 0.8)  -> LeakyReLU(0.2)
 *   -> conv3x3(64->C) -> tanh -> BN(C, affine off)
 * eps 0.8 is the official code's (an ACGAN artefact: BatchNorm2d(128, 0.8)).
 * cond_bn: GDFQ's ImageNet variant: no label embedding; the three BNs with
 * learned affine become categorical conditional BNs. */
#ifndef GEN_GDFQ_H
#define GEN_GDFQ_H

#include "nn/graph.h"

nn_graph *gen_gdfq_build(int c, int h, int w, int num_classes, int latent, int width, int cond_bn, uint64_t seed,
                           nn_err *e);

#endif
