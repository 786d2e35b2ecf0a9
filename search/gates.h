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

/* The plumbing for a supernet Graph (mix nodes): per step, one sampled path
 * (or two, for alpha steps) per mix node; the forward runs only the nodes the
 * sampled paths need (nn_fwd_opts.active); the mix weights are the one-hot
 * gates g, leaf tensors whose gradient after backward is dL/dg, turned into
 * alpha's gradient by the estimator above. */
#include "nn/graph.h"

#define SRCH_MAX_MIX 256
#define SRCH_GATE_MAX_OPS 64
typedef struct srch_gates {
    int nmix, node[SRCH_MAX_MIX];
    int npaths[SRCH_MAX_MIX], paths[SRCH_MAX_MIX][2];
    nn_tensor *w[SRCH_MAX_MIX];       /* this step's gate tensors */
    int slot[1024];                   /* node index -> mix slot (-1) */
    unsigned char *active;            /* g->n flags for nn_fwd_opts.active */
    /* sampled[m][npaths - 1][op]: how often op was sampled on edge m in
     * weight steps (one path) and alpha steps (two), since the last reset */
    int (*sampled)[2][SRCH_GATE_MAX_OPS];
} srch_gates;

/* Finds the mix nodes of g (at most SRCH_MAX_MIX; g->n <= 1024). */
int srch_gates_init(srch_gates *s, const nn_graph *g, nn_err *e);
void srch_gates_free(srch_gates *s);
/* Samples npaths (1 or 2) per mix node from softmax(alpha) and marks the
 * nodes to run; then forward with opts {.mix_weights = srch_gates_weights,
 * .mix_user = s, .active = s->active}. grad: 1 if the gates take gradients
 * (an alpha step). */
void srch_gates_sample(srch_gates *s, const nn_graph *g, int npaths, nn_rng *r);
/* zeroes sampled[][][] (e.g. at the start of an epoch) */
void srch_gates_reset_counts(srch_gates *s);
nn_tensor *srch_gates_weights(void *user, nn_ctx *c, const nn_graph *g, int node, nn_tensor *alpha, int batch);
/* After backward of an alpha step: alpha's gradient (added to the param's
 * grad) from the gates' gradients. */
void srch_gates_alpha_grad(srch_gates *s, nn_graph *g);

#endif
