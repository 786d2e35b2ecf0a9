#include "cost.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* softmax of one edge's alpha into p (nops <= SRCH_MAX_OPS) */
static void edge_softmax(const float *a, int n, double *p)
{
    double mx = a[0], s = 0;
    for (int j = 1; j < n; j++) mx = a[j] > mx ? a[j] : mx;
    for (int j = 0; j < n; j++) s += p[j] = exp((double)a[j] - mx);
    for (int j = 0; j < n; j++) p[j] /= s;
}

double srch_cost_expected(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed)
{
    double E = fixed, p[SRCH_MAX_OPS];
    for (int i = 0, o = 0; i < ne; o += edges[i++].nops) {
        edge_softmax(alpha + o, edges[i].nops, p);
        for (int j = 0; j < edges[i].nops; j++) E += p[j] * cost[o + j];
    }
    return E;
}

double srch_cost_penalty(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed,
                         double budget, double weight, float *grad)
{
    const double E = srch_cost_expected(edges, ne, alpha, cost, fixed);
    if (!(E > budget)) return 0.0;
    /* d/d alpha_k of sum_j p_j c_j = p_k (c_k - sum_j p_j c_j) */
    double p[SRCH_MAX_OPS];
    for (int i = 0, o = 0; i < ne; o += edges[i++].nops) {
        const int n = edges[i].nops;
        edge_softmax(alpha + o, n, p);
        double mean = 0;
        for (int j = 0; j < n; j++) mean += p[j] * cost[o + j];
        for (int j = 0; j < n; j++) grad[o + j] += (float)(weight / budget * p[j] * (cost[o + j] - mean));
    }
    return weight * (E / budget - 1.0);
}

/* the index of op name in edge ed, -1 if it has none */
static int op_of(const srch_edge *ed, const char *name)
{
    for (int j = 0; j < ed->nops; j++)
        if (!strcmp(ed->ops[j], name)) return j;
    return -1;
}

/* each choice k of g: its edge's index at[k] (-1: not an edge of this
 * space, or an op that edge lacks; nothing to move) and that edge's alpha
 * offset off[k] */
static void locate(const srch_edge *edges, int ne, const srch_genotype *g, int *at, int *off)
{
    for (int k = 0; k < g->n; k++) {
        int i = 0, o = 0;
        while (i < ne && !(edges[i].from == g->e[k].from && edges[i].to == g->e[k].to)) o += edges[i++].nops;
        at[k] = i < ne && op_of(&edges[i], g->e[k].op) >= 0 ? i : -1, off[k] = o;
    }
}

double srch_genotype_cost(const srch_edge *edges, int ne, const double *cost, double fixed, const srch_genotype *g)
{
    int at[SRCH_MAX_EDGES], off[SRCH_MAX_EDGES];
    locate(edges, ne, g, at, off);
    double c = fixed;
    for (int k = 0; k < g->n; k++)
        if (at[k] >= 0) c += cost[off[k] + op_of(&edges[at[k]], g->e[k].op)];
    return c;
}

/* 1: op j of edge ed is a move for choice k of g: not "none" nor forbid,
 * and not an op the node already takes on that edge by another choice */
static int movable(const srch_edge *ed, int j, const char *forbid, const srch_genotype *g, const int *at, int k)
{
    if (!strcmp(ed->ops[j], "none") || (forbid && !strcmp(ed->ops[j], forbid))) return 0;
    for (int q = 0; q < g->n; q++)
        if (q != k && at[q] == at[k] && !strcmp(g->e[q].op, ed->ops[j])) return 0;
    return 1;
}

int srch_fit_budget(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed, double budget,
                    const char *forbid, srch_genotype *g, nn_err *e)
{
    int at[SRCH_MAX_EDGES], off[SRCH_MAX_EDGES];
    locate(edges, ne, g, at, off);
    double total = srch_genotype_cost(edges, ne, cost, fixed, g);
    while (total > budget) {
        int bk = -1, bj = -1;
        double best = 0, saved = 0;
        for (int k = 0; k < g->n; k++) {
            if (at[k] < 0) continue; /* not an edge of this space: nothing to move */
            const srch_edge *ed = &edges[at[k]];
            const int o = off[k], cur = op_of(ed, g->e[k].op);
            for (int j = 0; j < ed->nops; j++) {
                const double dc = cost[o + cur] - cost[o + j];
                if (!(dc > 0) || !movable(ed, j, forbid, g, at, k)) continue;
                const double score = (double)(alpha[o + cur] - alpha[o + j]) / dc;
                if (bk < 0 || score < best || (score == best && dc > saved)) bk = k, bj = j, best = score, saved = dc;
            }
        }
        if (bk < 0)
            return nn_fail(e, "derive: the cheapest architecture with these edges costs %.4g, over the budget %.4g",
                           total, budget);
        snprintf(g->e[bk].op, sizeof g->e[bk].op, "%s", edges[at[bk]].ops[bj]);
        total -= saved;
    }
    return NN_OK;
}

int srch_fill_budget(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed, double budget,
                     const char *forbid, srch_genotype *g)
{
    int at[SRCH_MAX_EDGES], off[SRCH_MAX_EDGES];
    locate(edges, ne, g, at, off);
    double total = srch_genotype_cost(edges, ne, cost, fixed, g);
    int moves = 0;
    for (;;) { /* each move raises the genotype's summed alpha: it ends */
        int bk = -1, bj = -1;
        double gain = 0, dcost = 0;
        for (int k = 0; k < g->n; k++) {
            if (at[k] < 0) continue;
            const srch_edge *ed = &edges[at[k]];
            const int o = off[k], cur = op_of(ed, g->e[k].op);
            for (int j = 0; j < ed->nops; j++) {
                const double da = (double)alpha[o + j] - alpha[o + cur], dc = cost[o + j] - cost[o + cur];
                if (!(da > 0) || total + dc > budget || !movable(ed, j, forbid, g, at, k)) continue;
                if (bk < 0 || da > gain || (da == gain && dc < dcost)) bk = k, bj = j, gain = da, dcost = dc;
            }
        }
        if (bk < 0) return moves;
        snprintf(g->e[bk].op, sizeof g->e[bk].op, "%s", edges[at[bk]].ops[bj]);
        total += dcost, moves++;
    }
}

int srch_derive_budget(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed,
                       double budget, srch_genotype *g, nn_err *e)
{
    if (srch_derive(edges, ne, alpha, SRCH_DERIVE_ARGMAX, 0, g, e)) return NN_ERR;
    return srch_fit_budget(edges, ne, alpha, cost, fixed, budget, NULL, g, e);
}
