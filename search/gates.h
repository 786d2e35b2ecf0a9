/* ProxylessNAS binary gates (for NASB): instead of a weighted sum of every
 * candidate, one path (weight steps) or two paths (alpha steps) are sampled
 * from p = softmax(alpha) and only they are computed; the output is
 * sum over sampled j of g_j * O_j(x) with one-hot g. The gradient of the loss
 * with respect to alpha goes through the gates:
 *     dL/dalpha_i = sum_j dL/dg_j * p_j * (delta_ij - p_i)
 * over the sampled paths j, with p renormalised over them (the two-path
 * estimator of ProxylessNAS, which keeps alpha of unsampled ops fixed). */
#ifndef SRCH_GATES_H
#define SRCH_GATES_H

#include "nn/core.h"

/* Sample npaths (1 or 2) distinct ops by softmax(alpha); returns the number
 * sampled (paths[], and the chosen one-hot gate is paths[0]). */
int srch_gate_sample(const float *alpha, int k, int npaths, nn_rng *r, int *paths);
/* dalpha[k] += the estimator above, from dL/dg of the sampled paths. */
void srch_gate_alpha_grad(const float *alpha, int k, const int *paths, int npaths, const float *dldg, float *dalpha);

#endif
