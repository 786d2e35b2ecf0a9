/* CNN -> AdderNet: every conv except the first becomes an adder layer
 * (the seeds keep the first conv and the classifier as they are). */
#ifndef CMP_ADDER_H
#define CMP_ADDER_H

#include "nn/graph.h"

/* A new graph: the converted convs as adder_conv2d (ALR eta; weights
 * N(0, 1) from seed, the official code's init), everything else with the
 * CNN's parameters and BN statistics. A converted conv must have no bias
 * (adder layers are unbiased; a BN after it plays the bias's part). */
nn_graph *cmp_to_adder(const nn_graph *cnn, float alr_eta, uint64_t seed, nn_err *e);

#endif
