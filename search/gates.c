#include "gates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void softmax(const float *a, int k, const int *only, int n, float *p)
{
    float m = -INFINITY, z = 0.0f;
    for (int i = 0; i < n; i++) m = a[only[i]] > m ? a[only[i]] : m;
    for (int i = 0; i < n; i++) z += p[i] = expf(a[only[i]] - m);
    for (int i = 0; i < n; i++) p[i] /= z;
    (void)k;
}

int srch_gate_sample(const float *alpha, int k, int npaths, nn_rng *r, int *paths)
{
    NN_ASSERT(k >= 1 && k <= 64 && (npaths == 1 || npaths == 2));
    if (npaths > k) npaths = k;
    int all[64];
    float p[64];
    for (int i = 0; i < k; i++) all[i] = i;
    softmax(alpha, k, all, k, p);
    for (int s = 0; s < npaths; s++) {
        float u = nn_rng_uniform(r), z = 0.0f;
        for (int i = 0; i < k; i++) z += (s == 1 && i == paths[0]) ? 0.0f : p[i];
        u *= z;
        int pick = -1;
        for (int i = 0; i < k; i++) {
            if (s == 1 && i == paths[0]) continue;
            pick = i;
            if (u < p[i]) break;
            u -= p[i];
        }
        paths[s] = pick;
    }
    return npaths;
}

void srch_gate_alpha_grad(const float *alpha, int k, const int *paths, int npaths, const float *dldg, float *dalpha)
{
    float p[2];
    softmax(alpha, k, paths, npaths, p);
    for (int i = 0; i < npaths; i++)
        for (int j = 0; j < npaths; j++) dalpha[paths[i]] += dldg[j] * p[j] * ((i == j ? 1.0f : 0.0f) - p[i]);
}

int srch_gates_init(srch_gates *s, const nn_graph *g, nn_err *e)
{
    memset(s, 0, sizeof *s);
    if (g->n > 1024) return nn_fail(e, "supernet '%s': %d nodes (binary gates take up to 1024)", g->name, g->n);
    for (int i = 0; i < g->n; i++) {
        s->slot[i] = -1;
        if (g->nodes[i].op != NN_OP_MIX) continue;
        if (s->nmix == SRCH_MAX_MIX) return nn_fail(e, "supernet '%s': more than %d mixed edges", g->name, SRCH_MAX_MIX);
        s->slot[i] = s->nmix;
        s->node[s->nmix++] = i;
    }
    for (int m = 0; m < s->nmix; m++)
        if (g->nodes[s->node[m]].candidates > SRCH_GATE_MAX_OPS)
            return nn_fail(e, "supernet '%s': a mixed edge of %d ops (binary gates take up to %d)", g->name,
                           g->nodes[s->node[m]].candidates, SRCH_GATE_MAX_OPS);
    s->active = calloc((size_t)g->n, 1);
    s->sampled = calloc(s->nmix > 0 ? (size_t)s->nmix : 1, sizeof *s->sampled);
    return NN_OK;
}

void srch_gates_reset_counts(srch_gates *s)
{
    if (s->sampled && s->nmix > 0) memset(s->sampled, 0, (size_t)s->nmix * sizeof *s->sampled);
}

void srch_gates_free(srch_gates *s)
{
    free(s->active);
    free(s->sampled);
    s->active = NULL, s->sampled = NULL;
}

static int gate_on(void *user, int node, int k)
{
    const srch_gates *s = user;
    const int m = s->slot[node];
    for (int q = 0; q < s->npaths[m]; q++)
        if (s->paths[m][q] == k) return 1;
    return 0;
}

void srch_gates_sample(srch_gates *s, const nn_graph *g, int npaths, nn_rng *r)
{
    for (int m = 0; m < s->nmix; m++) {
        const nn_gnode *n = &g->nodes[s->node[m]];
        s->npaths[m] = srch_gate_sample(g->params[n->param[0]].t.data, n->candidates, npaths, r, s->paths[m]);
        for (int q = 0; q < s->npaths[m]; q++) s->sampled[m][npaths - 1][s->paths[m][q]]++;
        s->w[m] = NULL;
    }
    nn_graph_mark_active(g, gate_on, s, s->active);
}

nn_tensor *srch_gates_weights(void *user, nn_ctx *c, const nn_graph *g, int node, nn_tensor *alpha, int batch)
{
    srch_gates *s = user;
    const int m = s->slot[node], K = g->nodes[node].candidates;
    (void)batch;
    nn_tensor *w = nn_new2(c, 1, K);
    memset(w->data, 0, (size_t)K * sizeof(float));
    w->data[s->paths[m][0]] = 1.0f; /* the one-hot gate: the first sampled path */
    w->requires_grad = alpha->requires_grad; /* an alpha step wants dL/dg */
    s->w[m] = w;
    return w;
}

void srch_gates_alpha_grad(srch_gates *s, nn_graph *g)
{
    for (int m = 0; m < s->nmix; m++) {
        const nn_gnode *n = &g->nodes[s->node[m]];
        nn_tensor *a = &g->params[n->param[0]].t;
        if (!s->w[m] || !s->w[m]->grad || !a->grad) continue;
        float dldg[2];
        for (int q = 0; q < s->npaths[m]; q++) dldg[q] = s->w[m]->grad[s->paths[m][q]];
        srch_gate_alpha_grad(a->data, n->candidates, s->paths[m], s->npaths[m], dldg, a->grad);
    }
}
