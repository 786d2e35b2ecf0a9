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

/* the op index genotype g gives edge i, -1 if it has none */
static int chosen(const srch_edge *ed, const srch_genotype *g)
{
    for (int k = 0; k < g->n; k++)
        if (g->e[k].from == ed->from && g->e[k].to == ed->to)
            for (int j = 0; j < ed->nops; j++)
                if (!strcmp(ed->ops[j], g->e[k].op)) return j;
    return -1;
}

double srch_genotype_cost(const srch_edge *edges, int ne, const double *cost, double fixed, const srch_genotype *g)
{
    double c = fixed;
    for (int i = 0, o = 0; i < ne; o += edges[i++].nops) {
        const int j = chosen(&edges[i], g);
        if (j >= 0) c += cost[o + j];
    }
    return c;
}

int srch_derive_budget(const srch_edge *edges, int ne, const float *alpha, const double *cost, double fixed,
                       double budget, srch_genotype *g, nn_err *e)
{
    if (srch_derive(edges, ne, alpha, SRCH_DERIVE_ARGMAX, 0, g, e)) return NN_ERR;
    double total = srch_genotype_cost(edges, ne, cost, fixed, g);
    while (total > budget) {
        int bi = -1, bk = -1, bg = -1;
        double best = 0, saved = 0;
        for (int k = 0; k < g->n; k++) {
            int i = 0, o = 0;
            while (i < ne && !(edges[i].from == g->e[k].from && edges[i].to == g->e[k].to)) o += edges[i++].nops;
            const int cur = i < ne ? chosen(&edges[i], g) : -1;
            if (cur < 0) continue; /* not an edge of this space: nothing to move */
            for (int j = 0; j < edges[i].nops; j++) {
                const double dc = cost[o + cur] - cost[o + j];
                if (!(dc > 0) || !strcmp(edges[i].ops[j], "none")) continue;
                const double score = (double)(alpha[o + cur] - alpha[o + j]) / dc;
                if (bi < 0 || score < best || (score == best && dc > saved)) bi = i, bk = j, bg = k, best = score, saved = dc;
            }
        }
        if (bi < 0)
            return nn_fail(e, "derive: the cheapest architecture with these edges costs %.4g, over the budget %.4g",
                           total, budget);
        snprintf(g->e[bg].op, sizeof g->e[bg].op, "%s", edges[bi].ops[bk]);
        total -= saved;
    }
    return NN_OK;
}
