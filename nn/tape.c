#include "tape.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "blas.h"

void nn_ctx_init(nn_ctx *c, int nthreads, size_t arena_bytes)
{
    memset(c, 0, sizeof *c);
    nn_arena_init(&c->arena, arena_bytes);
    c->pool = nn_pool_create(nthreads);
    c->grad_enabled = 1;
    c->training = 1;
    /* We parallelise over images ourselves; BLAS threads would fight ours. */
    nn_blas_single_thread();
}

void nn_ctx_free(nn_ctx *c)
{
    nn_pool_destroy(c->pool);
    nn_arena_free(&c->arena);
    free(c->tape);
    free(c->prof);
    memset(c, 0, sizeof *c);
}

void nn_ctx_reset(nn_ctx *c)
{
    c->tape_len = 0;
    nn_arena_reset(&c->arena);
}

int nn_threads(const nn_ctx *c) { return nn_pool_size(c->pool); }

nn_tensor *nn_new(nn_ctx *c, int ndim, const int *shape)
{
    NN_ASSERT(ndim >= 1 && ndim <= NN_MAX_DIMS);
    nn_tensor *t = nn_arena_alloc(&c->arena, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        NN_ASSERT(shape[i] > 0);
        t->shape[i] = shape[i];
    }
    t->numel = nn_shape_numel(ndim, shape);
    t->data = nn_arena_floats(&c->arena, t->numel);
    return t;
}

nn_tensor *nn_new4(nn_ctx *c, int n, int ch, int h, int w)
{
    int s[4] = {n, ch, h, w};
    return nn_new(c, 4, s);
}

nn_tensor *nn_new2(nn_ctx *c, int n, int k)
{
    int s[2] = {n, k};
    return nn_new(c, 2, s);
}

nn_tensor *nn_zeros_like(nn_ctx *c, const nn_tensor *t)
{
    nn_tensor *o = nn_new(c, t->ndim, t->shape);
    memset(o->data, 0, o->numel * sizeof(float));
    return o;
}

nn_tensor *nn_view(nn_ctx *c, float *data, int ndim, const int *shape)
{
    nn_tensor *t = nn_arena_alloc(&c->arena, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
    t->numel = nn_shape_numel(ndim, shape);
    t->data = data;
    return t;
}

nn_node *nn_record(nn_ctx *c, const char *op, nn_backward_fn bw, nn_tensor *out, int nin, nn_tensor **in)
{
    NN_ASSERT(nin <= NN_MAX_INPUTS);
    if (!c->grad_enabled) return NULL;
    int need = 0;
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->requires_grad) need = 1;
    if (!need) return NULL;
    if (c->tape_len == c->tape_cap) {
        c->tape_cap = c->tape_cap ? 2 * c->tape_cap : 256;
        c->tape = realloc(c->tape, (size_t)c->tape_cap * sizeof *c->tape);
        if (!c->tape) nn_abort(__FILE__, __LINE__, "out of memory (tape)");
    }
    nn_node *n = &c->tape[c->tape_len++];
    memset(n, 0, sizeof *n);
    n->backward = bw;
    n->op = op;
    n->label = c->label;
    n->out = out;
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    out->requires_grad = 1;
    return n;
}

float *nn_grad(nn_ctx *c, nn_tensor *t)
{
    if (!t->grad) {
        NN_ASSERT(!t->is_param); /* parameters own a persistent grad buffer */
        t->grad = nn_arena_zeros(&c->arena, t->numel);
    }
    return t->grad;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void nn_profile_enable(nn_ctx *c)
{
    if (!c->prof) c->prof = nn_xcalloc(1, sizeof *c->prof);
    c->prof_by_label = getenv("DATAFREE_PROFILE_NODES") != NULL;
}

void nn_profile_add(nn_ctx *c, const char *op, double fwd_s, double bwd_s)
{
    nn_profile *p = c->prof;
    if (!p) return;
    int i = 0;
    while (i < p->n && strcmp(p->op[i], op)) i++;
    if (i == p->n) {
        if (p->n == NN_PROFILE_MAX) return;
        p->op[p->n++] = op;
    }
    p->fwd[i] += fwd_s;
    p->bwd[i] += bwd_s;
    if (fwd_s > 0.0) p->calls[i]++;
}

void nn_profile_print(const nn_ctx *c, void *file)
{
    FILE *f = file;
    const nn_profile *p = c->prof;
    if (!p) return;
    double total = 0.0;
    int order[NN_PROFILE_MAX];
    for (int i = 0; i < p->n; i++) {
        total += p->fwd[i] + p->bwd[i];
        order[i] = i;
    }
    for (int i = 0; i < p->n; i++) /* insertion sort by total time, descending */
        for (int j = i; j > 0 && p->fwd[order[j]] + p->bwd[order[j]] > p->fwd[order[j - 1]] + p->bwd[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fprintf(f, "%-20s %10s %10s %10s %7s\n", "op", "calls", "fwd s", "bwd s", "share");
    for (int k = 0; k < p->n; k++) {
        int i = order[k];
        fprintf(f, "%-20s %10ld %10.3f %10.3f %6.1f%%\n", p->op[i], p->calls[i], p->fwd[i], p->bwd[i],
                total > 0 ? 100.0 * (p->fwd[i] + p->bwd[i]) / total : 0.0);
    }
}

int nn_grad_steal(nn_tensor *in, nn_tensor *out)
{
    if (in->grad || in->is_param || in->numel != out->numel || !out->grad) return 0;
    in->grad = out->grad;
    return 1;
}

void nn_backward(nn_ctx *c, nn_tensor *loss)
{
    NN_ASSERT(loss->numel == 1);
    if (!loss->requires_grad) return;
    nn_grad(c, loss)[0] += 1.0f;
    for (int i = c->tape_len - 1; i >= 0; i--) {
        nn_node *n = &c->tape[i];
        if (!n->out->grad) continue; /* nothing flows back through this node */
        if (c->prof) {
            double t0 = now_s();
            n->backward(c, n);
            nn_profile_add(c, c->prof_by_label && n->label ? n->label : n->op, 0.0, now_s() - t0);
        } else
            n->backward(c, n);
    }
    c->tape_len = 0; /* consumed: a later loss backpropagates only through ops recorded after this */
}
