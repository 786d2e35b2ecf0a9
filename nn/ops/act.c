/* Elementwise activations as a small table of (forward, derivative) rules.
 * The derivative is written in terms of the input x and output y. Clamps
 * are written as compares, not fminf/fmaxf: without -ffast-math GCC keeps
 * those as scalar libm calls (NaN rules), 4x slower here. */
#include <math.h>
#include <stdint.h>
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

/* tanh without a libm call, so that the loop over it vectorizes: tanhf is
 * scalar, and in a NASB network pretrained with tanh for its signs it took
 * half of the forward (datafree eval, 2000 images, 1 thread: 8.0-8.1 s
 * with tanhf, 3.7-3.9 s with this; the op alone 23x, build/bench_act). Below
 * |x| 0.3 the odd Taylor series to x^13 (the next term is < 1e-9 of the
 * value); above, (1 - t) / (1 + t) with t = e^(-2|x|) <= 0.55, so no
 * cancellation, e^y as 2^n e^r (n = y / ln 2 rounded by the 1.5 * 2^23 trick,
 * ln 2 split in two so n ln 2 is exact; Taylor to r^7 on |r| <= ln 2 / 2).
 * |x| is clamped at 9, where tanh rounds to 1 in float; a NaN comes back as
 * it is. test_ops checks it within 3 ulp of tanh in double (2 seen). */
static inline float act_tanhf(float x)
{
    const float a = x < 0.0f ? -x : x, ac = a < 9.0f ? a : 9.0f, z = a * a;
    const float s = a * (1.0f + z * (-1.0f / 3 + z * (2.0f / 15 + z * (-17.0f / 315 + z * (62.0f / 2835 +
                    z * (-1382.0f / 155925 + z * (21844.0f / 6081075)))))));
    const float y = -2.0f * ac, n = (y * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (y - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
    const float p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                    r * (1.0f / 720 + r * (1.0f / 5040)))))));
    const int32_t bits = ((int32_t)n + 127) << 23; /* 2^n; n in [-26, 0] */
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    const float t = p * two_n, e = (1.0f - t) / (1.0f + t), v = a < 0.3f ? s : e;
    return x != x ? x : x < 0.0f ? -v : v;
}

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
        for (size_t i = lo; i < hi; i++) y[i] = act_tanhf(x[i]);
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
