/* Elementwise activations as a small table of (forward, derivative) rules.
 * The derivative is written in terms of the input x and output y. Clamps
 * are written as compares, not fminf/fmaxf: without -ffast-math GCC keeps
 * those as scalar libm calls (NaN rules), 4x slower here. */
#include <math.h>
#include <string.h>

#include "../ops.h"

typedef enum { ACT_RELU, ACT_RELU6, ACT_LEAKY, ACT_TANH, ACT_SIGMOID, ACT_HARDTANH, ACT_HARDSIGMOID, ACT_HARDSWISH } act_kind;

typedef struct {
    act_kind k;
    float p0, p1; /* slope, hardtanh bounds, or hardsigmoid alpha/beta */
    nn_tensor *x, *y;
    int assign; /* x's gradient is y's buffer: overwrite instead of add */
} act_job;

static const char *act_name[] = {"relu", "relu6", "leaky_relu", "tanh", "sigmoid", "hardtanh", "hardsigmoid", "hardswish"};

static void act_fwd_range(void *arg, size_t lo, size_t hi)
{
    act_job *j = arg;
    const float *x = j->x->data;
    float *y = j->y->data;
    const float a = j->p0, b = j->p1;
    switch (j->k) {
    case ACT_RELU:
        for (size_t i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case ACT_RELU6:
        for (size_t i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? (x[i] < 6.0f ? x[i] : 6.0f) : 0.0f;
        break;
    case ACT_LEAKY:
        for (size_t i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : a * x[i];
        break;
    case ACT_TANH:
        for (size_t i = lo; i < hi; i++) y[i] = tanhf(x[i]);
        break;
    case ACT_SIGMOID:
        for (size_t i = lo; i < hi; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case ACT_HARDTANH:
        for (size_t i = lo; i < hi; i++) y[i] = x[i] > a ? (x[i] < b ? x[i] : b) : a;
        break;
    case ACT_HARDSIGMOID:
        for (size_t i = lo; i < hi; i++) {
            const float t = a * x[i] + b;
            y[i] = t > 0.0f ? (t < 1.0f ? t : 1.0f) : 0.0f;
        }
        break;
    case ACT_HARDSWISH: /* x * relu6(x + 3) / 6 */
        for (size_t i = lo; i < hi; i++) {
            const float t = x[i] + 3.0f;
            y[i] = x[i] * (t > 0.0f ? (t < 6.0f ? t : 6.0f) : 0.0f) * (1.0f / 6.0f);
        }
        break;
    }
}

/* g = or += f'(x, y) * d; in assign mode g and d are the same buffer. */
#define ACT_BWD(expr)                                                   \
    do {                                                                \
        if (j->assign)                                                  \
            for (size_t i = lo; i < hi; i++) g[i] = (expr);             \
        else                                                            \
            for (size_t i = lo; i < hi; i++) g[i] += (expr);            \
    } while (0)

static void act_bwd_range(void *arg, size_t lo, size_t hi)
{
    act_job *j = arg;
    const float *x = j->x->data, *y = j->y->data, *d = j->y->grad;
    float *g = j->x->grad;
    const float a = j->p0, b = j->p1;
    switch (j->k) {
    case ACT_RELU: ACT_BWD(x[i] > 0.0f ? d[i] : 0.0f); break;
    case ACT_RELU6: ACT_BWD((x[i] > 0.0f && x[i] < 6.0f) ? d[i] : 0.0f); break;
    case ACT_LEAKY: ACT_BWD(x[i] > 0.0f ? d[i] : a * d[i]); break;
    case ACT_TANH: ACT_BWD(d[i] * (1.0f - y[i] * y[i])); break;
    case ACT_SIGMOID: ACT_BWD(d[i] * y[i] * (1.0f - y[i])); break;
    case ACT_HARDTANH: ACT_BWD((x[i] > a && x[i] < b) ? d[i] : 0.0f); break;
    case ACT_HARDSIGMOID: ACT_BWD((a * x[i] + b > 0.0f && a * x[i] + b < 1.0f) ? a * d[i] : 0.0f); break;
    case ACT_HARDSWISH: ACT_BWD(x[i] < -3.0f ? 0.0f : (x[i] > 3.0f ? d[i] : d[i] * (2.0f * x[i] + 3.0f) * (1.0f / 6.0f))); break;
    }
}

static void act_backward(nn_ctx *c, nn_node *node)
{
    act_job *j = node->saved;
    j->assign = nn_grad_steal(j->x, j->y);
    if (!j->assign) nn_grad(c, j->x);
    nn_parallel_range(c, j->x->numel, act_bwd_range, j);
}

static nn_tensor *act(nn_ctx *c, nn_tensor *x, act_kind k, float p0, float p1)
{
    act_job *j = nn_arena_alloc(&c->arena, sizeof *j);
    *j = (act_job){k, p0, p1, x, nn_new(c, x->ndim, x->shape), 0};
    nn_parallel_range(c, x->numel, act_fwd_range, j);
    nn_tensor *in[1] = {x};
    nn_node *node = nn_record(c, act_name[k], act_backward, j->y, 1, in);
    if (node) node->saved = j;
    return j->y;
}

nn_tensor *nn_relu(nn_ctx *c, nn_tensor *x) { return act(c, x, ACT_RELU, 0, 0); }
nn_tensor *nn_relu6(nn_ctx *c, nn_tensor *x) { return act(c, x, ACT_RELU6, 0, 0); }
nn_tensor *nn_leaky_relu(nn_ctx *c, nn_tensor *x, float slope) { return act(c, x, ACT_LEAKY, slope, 0); }
nn_tensor *nn_tanh(nn_ctx *c, nn_tensor *x) { return act(c, x, ACT_TANH, 0, 0); }
nn_tensor *nn_sigmoid(nn_ctx *c, nn_tensor *x) { return act(c, x, ACT_SIGMOID, 0, 0); }
nn_tensor *nn_hardtanh(nn_ctx *c, nn_tensor *x, float lo, float hi) { return act(c, x, ACT_HARDTANH, lo, hi); }
nn_tensor *nn_hardsigmoid(nn_ctx *c, nn_tensor *x, float alpha, float beta)
{
    return act(c, x, ACT_HARDSIGMOID, alpha, beta);
}
nn_tensor *nn_hardswish(nn_ctx *c, nn_tensor *x) { return act(c, x, ACT_HARDSWISH, 0, 0); }

/* ---- parallel helper ---- */

typedef struct {
    size_t n;
    nn_range_fn fn;
    void *arg;
} range_job;

static void range_task(void *arg, int ith, int nth)
{
    range_job *r = arg;
    size_t lo, hi;
    nn_split(r->n, ith, nth, &lo, &hi);
    /* Keep chunk borders on cache lines so threads never share one. */
    lo = ith == 0 ? 0 : (lo + 15) & ~(size_t)15;
    hi = ith == nth - 1 ? r->n : (hi + 15) & ~(size_t)15;
    if (hi > r->n) hi = r->n;
    if (lo < hi) r->fn(r->arg, lo, hi);
}

void nn_parallel_range(nn_ctx *c, size_t n, nn_range_fn fn, void *arg)
{
    /* Small tensors are not worth waking the pool. */
    if (n < 32768 || nn_threads(c) == 1) {
        fn(arg, 0, n);
        return;
    }
    range_job r = {n, fn, arg};
    nn_pool_run(c->pool, range_task, &r);
}
