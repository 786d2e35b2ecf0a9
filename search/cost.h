/* A cost budget for a search (MACs per image, or any additive cost).
 *
 * cost[] has alpha's layout (edge i's nops values in order): the cost an op
 * adds when its edge takes it; `fixed` is what every architecture pays (stem,
 * head). The relaxed architecture's expected cost is
 *   E = fixed + sum_e sum_j softmax(alpha_e)_j cost_ej,
 * and the budget penalty w * max(0, E / budget - 1) (ProxylessNAS' expected
 * latency, as a hinge: free below the budget). Derivation under a budget
 * starts from argmax and, while the genotype costs more than the budget,
 * moves one edge to a cheaper non-"none" op: the move that gives up the least
 * alpha per unit of cost saved (a greedy knapsack). */
#ifndef SRCH_COST_H
#define SRCH_COST_H

#include "derive.h"

double srch_cost_expected(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed);

/* The penalty's value; adds its gradient with respect to alpha to grad
 * (alpha's layout). Zero (and no gradient) at or under the budget. */
double srch_cost_penalty(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed,
                         double budget, double weight, float *grad);

/* The cost of a genotype: fixed plus the op of each of its choices (an edge
 * it lacks costs 0; one it takes twice, as V2-V5 may, pays both ops). */
double srch_genotype_cost(const srch_edge *edges, int ne, const double *cost, double fixed, const srch_genotype *g);

/* The greedy moves above on a derived genotype g (any rule; a choice moves
 * only to an op its node does not already have on that edge, never to
 * "none" or to forbid, which may be NULL) until it costs at most budget; an
 * error if even the cheapest allowed ops exceed it. */
int srch_fit_budget(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed, double budget,
                    const char *forbid, srch_genotype *g, nn_err *e);

/* The headroom a genotype under budget leaves, used: while some edge can
 * move to an op of higher alpha and the genotype still cost at most
 * budget, make the move that gains the most alpha (srch_fit_budget's
 * greedy trades down by alpha per cost saved, and its big steps, a dilated
 * 5x5 to a 1x1, can land far under the budget). The same moves as
 * srch_fit_budget's are allowed. Returns the number of moves made. */
int srch_fill_budget(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed, double budget,
                     const char *forbid, srch_genotype *g);

/* srch_derive(ARGMAX) then srch_fit_budget. */
int srch_derive_budget(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed,
                       double budget, srch_genotype *g, nn_err *e);

#endif
