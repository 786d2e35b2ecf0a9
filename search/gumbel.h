/* Gumbel-softmax relaxation of a categorical choice, composed from
 * differentiable ops so gradients reach the architecture parameters alpha
 * ([rows, K], one row per edge or per example):
 *   standard form:   m = softmax((log softmax(alpha) + g) / tau)
 *   the seed's form: m = softmax((softmax(alpha) + g) / tau)
 *     (AutoReCon, thesis Eq. as printed: the noise is added to the
 *      probabilities, not to the log-probabilities)
 * with g ~ Gumbel(0, 1) drawn per row (per example) or once and shared by
 * every row (per batch). */
#ifndef SRCH_GUMBEL_H
#define SRCH_GUMBEL_H

#include "nn/ops.h"

typedef enum { SRCH_GUMBEL_STANDARD, SRCH_GUMBEL_SEED } srch_gumbel_form;

typedef struct srch_gumbel {
    srch_gumbel_form form;
    float tau;
    int per_batch; /* 1: one noise row shared by all rows */
} srch_gumbel;

nn_tensor *srch_gumbel_softmax(nn_ctx *c, nn_tensor *alpha, srch_gumbel gs, nn_rng *rng);

/* Temperature schedules over epochs: tau0 * decay^epoch (exponential),
 * tau0 + (tau1 - tau0) * epoch / (epochs - 1) (linear), or tau0 (constant). */
typedef enum { SRCH_TAU_CONST, SRCH_TAU_EXP, SRCH_TAU_LINEAR } srch_tau_kind;
float srch_tau(srch_tau_kind k, float tau0, float tau1, float decay, int epoch, int epochs);

#endif
