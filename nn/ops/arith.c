/* Elementwise arithmetic and shape ops: add, mul, scale, sum, concat,
 * reshape/flatten. */
#include <string.h>

#include "../ops.h"

typedef struct {
    nn_tensor *a, *b, *y;
    float s;
} ew_job;

static void add_fwd(void *arg, size_t lo, size_t hi)
{
    ew_job *j = arg;
    for (size_t i = lo; i < hi; i++) j->y->data[i] = j->a->data[i] + j->b->data[i];
}

static void acc_range(float *dst, const float *src, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) dst[i] += src[i];
}

static void relu_mask(void *arg, size_t lo, size_t hi)
{
    ew_job *j = arg;
    for (size_t i = lo; i < hi; i++) j->y->grad[i] = j->y->data[i] > 0.0f ? j->y->grad[i] : 0.0f;
}

static void add_bwd_b(void *arg, size_t lo, size_t hi)
{
    ew_job *j = arg;
    acc_range(j->b->grad, j->y->grad, lo, hi);
}

static void copy_bwd_b(void *arg, size_t lo, size_t hi)
{
    ew_job *j = arg;
    memcpy(j->b->grad + lo, j->y->grad + lo, (hi - lo) * sizeof(float));
}

static void add_bwd_a(void *arg, size_t lo, size_t hi)
{
    ew_job *j = arg;
    acc_range(j->a->grad, j->y->grad, lo, hi);
}

/* The output gradient passes through unchanged: the first input without a
 * gradient takes the buffer itself; the other accumulates from it before
 * anyone else can touch it. With a fused ReLU the mask is applied in place
 * first (the output gradient is ours to overwrite). */
static void add_backward(nn_ctx *c, nn_node *node)
{
    ew_job *j = node->saved;
    if (j->s != 0.0f) nn_parallel_range(c, j->y->numel, relu_mask, j);
    int a_took = j->a->requires_grad && nn_grad_steal(j->a, j->y);
    if (j->b->requires_grad) {
        if (a_took || !nn_grad_steal(j->b, j->y)) {
            if (!j->b->grad && !j->b->is_param) { /* first gradient: a copy, no zero-fill */
                j->b->grad = nn_arena_floats(&c->arena, j->b->numel);
                nn_parallel_range(c, j->y->numel, copy_bwd_b, j);
            } else {
                nn_grad(c, j->b);
                nn_parallel_range(c, j->y->numel, add_bwd_b, j);
            }
        }
    }
    if (j->a->requires_grad && !a_took) {
        nn_grad(c, j->a);
        nn_parallel_range(c, j->y->numel, add_bwd_a, j);
    }
}

static void add_relu_fwd(void *arg, size_t lo, size_t hi)
{
    ew_job *j = arg;
    for (size_t i = lo; i < hi; i++) {
        float v = j->a->data[i] + j->b->data[i];
        j->y->data[i] = v > 0.0f ? v : 0.0f;
    }
}

static void check_same(const char *op, nn_tensor *a, nn_tensor *b)
{
    if (!nn_same_shape(a, b)) {
        char s1[64], s2[64];
        nn_abort(__FILE__, __LINE__, "%s: shapes differ: %s vs %s", op, nn_shape_str(a, s1, sizeof s1),
                 nn_shape_str(b, s2, sizeof s2));
    }
}

nn_tensor *nn_add(nn_ctx *c, nn_tensor *a, nn_tensor *b)
{
    check_same("add", a, b);
    ew_job *j = nn_arena_alloc(&c->arena, sizeof *j);
    *j = (ew_job){a, b, nn_new(c, a->ndim, a->shape), 0};
    nn_parallel_range(c, a->numel, add_fwd, j);
    nn_tensor *in[2] = {a, b};
    nn_node *node = nn_record(c, "add", add_backward, j->y, 2, in);
    if (node) node->saved = j;
    return j->y;
}

nn_tensor *nn_add_relu(nn_ctx *c, nn_tensor *a, nn_tensor *b)
{
    check_same("add_relu", a, b);
    ew_job *j = nn_arena_alloc(&c->arena, sizeof *j);
    *j = (ew_job){a, b, nn_new(c, a->ndim, a->shape), 1.0f}; /* s != 0: ReLU fused */
    nn_parallel_range(c, a->numel, add_relu_fwd, j);
    nn_tensor *in[2] = {a, b};
    nn_node *node = nn_record(c, "add_relu", add_backward, j->y, 2, in);
    if (node) node->saved = j;
    return j->y;
}

static void mul_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *a = node->in[0], *b = node->in[1], *y = node->out;
    if (a->requires_grad) {
        float *g = nn_grad(c, a);
        for (size_t i = 0; i < y->numel; i++) g[i] += y->grad[i] * b->data[i];
    }
    if (b->requires_grad) {
        float *g = nn_grad(c, b);
        for (size_t i = 0; i < y->numel; i++) g[i] += y->grad[i] * a->data[i];
    }
}

nn_tensor *nn_mul(nn_ctx *c, nn_tensor *a, nn_tensor *b)
{
    check_same("mul", a, b);
    nn_tensor *y = nn_new(c, a->ndim, a->shape);
    for (size_t i = 0; i < y->numel; i++) y->data[i] = a->data[i] * b->data[i];
    nn_tensor *in[2] = {a, b};
    nn_record(c, "mul", mul_backward, y, 2, in);
    return y;
}

static void scale_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *y = node->out;
    float s = *(float *)node->saved, *g = nn_grad(c, x);
    for (size_t i = 0; i < y->numel; i++) g[i] += s * y->grad[i];
}

nn_tensor *nn_scale(nn_ctx *c, nn_tensor *x, float s)
{
    nn_tensor *y = nn_new(c, x->ndim, x->shape);
    for (size_t i = 0; i < y->numel; i++) y->data[i] = s * x->data[i];
    nn_tensor *in[1] = {x};
    nn_node *node = nn_record(c, "scale", scale_backward, y, 1, in);
    if (node) {
        float *sp = nn_arena_alloc(&c->arena, sizeof(float));
        *sp = s;
        node->saved = sp;
    }
    return y;
}

static void sum_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0];
    float d = node->out->grad[0], *g = nn_grad(c, x);
    for (size_t i = 0; i < x->numel; i++) g[i] += d;
}

nn_tensor *nn_sum(nn_ctx *c, nn_tensor *x)
{
    int one = 1;
    nn_tensor *y = nn_new(c, 1, &one);
    double s = 0.0;
    for (size_t i = 0; i < x->numel; i++) s += x->data[i];
    y->data[0] = (float)s;
    nn_tensor *in[1] = {x};
    nn_record(c, "sum", sum_backward, y, 1, in);
    return y;
}

/* ---- concat along dim 1 ---- */

static void concat_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *y = node->out;
    const int N = y->shape[0];
    const size_t inner = y->numel / ((size_t)N * y->shape[1]);
    size_t coff = 0;
    for (int k = 0; k < node->nin; k++) {
        nn_tensor *x = node->in[k];
        size_t blk = (size_t)x->shape[1] * inner;
        if (x->requires_grad) {
            float *g = nn_grad(c, x);
            for (int n = 0; n < N; n++)
                acc_range(g + n * blk, y->grad + (size_t)n * y->shape[1] * inner + coff, 0, blk);
        }
        coff += blk;
    }
}

nn_tensor *nn_concat(nn_ctx *c, nn_tensor **xs, int n)
{
    NN_ASSERT(n >= 1 && n <= NN_MAX_INPUTS);
    int shape[4];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[1] = 0;
    for (int k = 0; k < n; k++) {
        NN_ASSERT(xs[k]->ndim == xs[0]->ndim && xs[k]->shape[0] == xs[0]->shape[0]);
        for (int d = 2; d < xs[0]->ndim; d++) NN_ASSERT(xs[k]->shape[d] == xs[0]->shape[d]);
        shape[1] += xs[k]->shape[1];
    }
    nn_tensor *y = nn_new(c, xs[0]->ndim, shape);
    const int N = shape[0];
    const size_t inner = y->numel / ((size_t)N * shape[1]);
    size_t coff = 0;
    for (int k = 0; k < n; k++) {
        size_t blk = (size_t)xs[k]->shape[1] * inner;
        for (int b = 0; b < N; b++)
            memcpy(y->data + (size_t)b * shape[1] * inner + coff, xs[k]->data + b * blk, blk * sizeof(float));
        coff += blk;
    }
    nn_record(c, "concat", concat_backward, y, n, xs);
    return y;
}

/* ---- reshape: shares data, copies gradients back ---- */

static void reshape_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0];
    if (!nn_grad_steal(x, node->out)) acc_range(nn_grad(c, x), node->out->grad, 0, x->numel);
}

nn_tensor *nn_reshape(nn_ctx *c, nn_tensor *x, int ndim, const int *shape)
{
    if (nn_shape_numel(ndim, shape) != x->numel) {
        char s[64];
        nn_abort(__FILE__, __LINE__, "reshape: %zu elements into %zu (from %s)", x->numel,
                 nn_shape_numel(ndim, shape), nn_shape_str(x, s, sizeof s));
    }
    nn_tensor *y = nn_view(c, x->data, ndim, shape);
    nn_tensor *in[1] = {x};
    nn_record(c, "reshape", reshape_backward, y, 1, in);
    return y;
}

nn_tensor *nn_flatten(nn_ctx *c, nn_tensor *x)
{
    int s[2] = {x->shape[0], (int)(x->numel / (size_t)x->shape[0])};
    return nn_reshape(c, x, 2, s);
}

/* ---- per-channel affine: y = x * scale[c] + shift[c] (dim 1 is the channel) ---- */

static void caff_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *sc = node->in[1], *sh = node->in[2], *y = node->out;
    const int N = x->shape[0], C = x->shape[1];
    const size_t P = x->numel / ((size_t)N * C);
    float *gx = x->requires_grad ? nn_grad(c, x) : NULL;
    float *gs = sc->requires_grad ? nn_grad(c, sc) : NULL, *gb = sh->requires_grad ? nn_grad(c, sh) : NULL;
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            const size_t o = ((size_t)n * C + ch) * P;
            double ds = 0.0, db = 0.0;
            for (size_t i = 0; i < P; i++) {
                const float d = y->grad[o + i];
                if (gx) gx[o + i] += d * sc->data[ch];
                ds += (double)d * x->data[o + i];
                db += d;
            }
            if (gs) gs[ch] += (float)ds;
            if (gb) gb[ch] += (float)db;
        }
}

nn_tensor *nn_channel_affine(nn_ctx *c, nn_tensor *x, nn_tensor *scale, nn_tensor *shift)
{
    NN_ASSERT(x->ndim >= 2 && (int)scale->numel == x->shape[1] && scale->numel == shift->numel);
    const int N = x->shape[0], C = x->shape[1];
    const size_t P = x->numel / ((size_t)N * C);
    nn_tensor *y = nn_new(c, x->ndim, x->shape);
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            const size_t o = ((size_t)n * C + ch) * P;
            const float a = scale->data[ch], b = shift->data[ch];
            for (size_t i = 0; i < P; i++) y->data[o + i] = x->data[o + i] * a + b;
        }
    nn_tensor *in[3] = {x, scale, shift};
    nn_record(c, "channel_affine", caff_backward, y, 3, in);
    return y;
}

/* ---- weighted sum of same-shaped tensors: y[n] = sum_j w[n or 0, j] * x_j[n] ---- */

typedef struct {
    int k;
    int per_row; /* w is [N, k]; else [1, k] (one weight per input, shared by the batch) */
    int at[NN_MAX_INPUTS]; /* candidate j's position among the recorded inputs, -1 if absent (zero) */
    int nin;
} mix_saved;

static void mix_backward(nn_ctx *c, nn_node *node)
{
    mix_saved *s = node->saved;
    nn_tensor *w = node->in[s->nin], *y = node->out;
    const int N = y->shape[0];
    const size_t P = y->numel / (size_t)N;
    float *gw = w->requires_grad ? nn_grad(c, w) : NULL;
    for (int j = 0; j < s->k; j++) {
        if (s->at[j] < 0) continue; /* a zero candidate: no gradient anywhere */
        nn_tensor *x = node->in[s->at[j]];
        float *gx = x->requires_grad ? nn_grad(c, x) : NULL;
        for (int n = 0; n < N; n++) {
            const float wj = w->data[(size_t)(s->per_row ? n : 0) * s->k + j];
            const float *d = y->grad + (size_t)n * P, *xv = x->data + (size_t)n * P;
            double acc = 0.0;
            for (size_t i = 0; i < P; i++) {
                if (gx) gx[(size_t)n * P + i] += wj * d[i];
                acc += (double)d[i] * xv[i];
            }
            if (gw) gw[(size_t)(s->per_row ? n : 0) * s->k + j] += (float)acc;
        }
    }
}

nn_tensor *nn_mix(nn_ctx *c, nn_tensor **xs, int k, nn_tensor *w)
{
    NN_ASSERT(k >= 1 && k < NN_MAX_INPUTS && w->ndim == 2 && w->shape[1] == k);
    int j0 = 0;
    while (j0 < k && !xs[j0]) j0++;
    NN_ASSERT(j0 < k); /* at least one candidate is computed */
    const int N = xs[j0]->shape[0];
    NN_ASSERT(w->shape[0] == 1 || w->shape[0] == N);
    for (int j = 0; j < k; j++) NN_ASSERT(!xs[j] || nn_same_shape(xs[j], xs[j0]));
    const int per_row = w->shape[0] == N && N > 1;
    nn_tensor *y = nn_zeros_like(c, xs[j0]);
    const size_t P = y->numel / (size_t)N;
    for (int j = 0; j < k; j++)
        for (int n = 0; xs[j] && n < N; n++) {
            const float wj = w->data[(size_t)(per_row ? n : 0) * k + j];
            const float *xv = xs[j]->data + (size_t)n * P;
            float *yv = y->data + (size_t)n * P;
            for (size_t i = 0; i < P; i++) yv[i] += wj * xv[i];
        }
    nn_tensor *in[NN_MAX_INPUTS];
    int at[NN_MAX_INPUTS], nin = 0;
    for (int j = 0; j < k; j++) {
        at[j] = xs[j] ? nin : -1;
        if (xs[j]) in[nin++] = xs[j];
    }
    in[nin] = w;
    nn_node *node = nn_record(c, "mix", mix_backward, y, nin + 1, in);
    if (node) {
        mix_saved *s = nn_arena_alloc(&c->arena, sizeof *s);
        s->k = k;
        s->per_row = per_row;
        s->nin = nin;
        memcpy(s->at, at, sizeof at);
        node->saved = s;
    }
    return y;
}

/* ---- repeat a [1, K] row n times ---- */

static void repeat_rows_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *y = node->out;
    float *g = nn_grad(c, x);
    const size_t K = x->numel;
    for (int r = 0; r < y->shape[0]; r++)
        for (size_t k = 0; k < K; k++) g[k] += y->grad[(size_t)r * K + k];
}

nn_tensor *nn_repeat_rows(nn_ctx *c, nn_tensor *x, int n)
{
    NN_ASSERT(x->ndim == 2 && x->shape[0] == 1 && n >= 1);
    nn_tensor *y = nn_new2(c, n, x->shape[1]);
    for (int r = 0; r < n; r++) memcpy(y->data + (size_t)r * x->shape[1], x->data, (size_t)x->shape[1] * sizeof(float));
    nn_record(c, "repeat_rows", repeat_rows_backward, y, 1, &x);
    return y;
}
