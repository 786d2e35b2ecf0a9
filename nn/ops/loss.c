/* Softmax, log-softmax and losses over rows of [N, K]. Row reductions are
 * done with the max subtracted, in float, and summed over rows in double. */
#include <math.h>
#include <string.h>

#include "../ops.h"

static void row_log_softmax(const float *x, float *out, int K, float invT)
{
    float m = x[0] * invT;
    for (int k = 1; k < K; k++) m = fmaxf(m, x[k] * invT);
    double s = 0.0;
    for (int k = 0; k < K; k++) s += exp((double)(x[k] * invT - m));
    float lse = m + (float)log(s);
    for (int k = 0; k < K; k++) out[k] = x[k] * invT - lse;
}

static void rows(const nn_tensor *x, int *N, int *K)
{
    NN_ASSERT(x->ndim == 2);
    *N = x->shape[0];
    *K = x->shape[1];
}

/* ---- softmax / log-softmax ---- */

static void softmax_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *y = node->out;
    int N, K;
    rows(x, &N, &K);
    float *g = nn_grad(c, x);
    for (int n = 0; n < N; n++) {
        const float *yr = y->data + (size_t)n * K, *d = y->grad + (size_t)n * K;
        float dot = 0.0f;
        for (int k = 0; k < K; k++) dot += d[k] * yr[k];
        for (int k = 0; k < K; k++) g[(size_t)n * K + k] += yr[k] * (d[k] - dot);
    }
}

nn_tensor *nn_softmax(nn_ctx *c, nn_tensor *x)
{
    int N, K;
    rows(x, &N, &K);
    nn_tensor *y = nn_new2(c, N, K);
    for (int n = 0; n < N; n++) {
        row_log_softmax(x->data + (size_t)n * K, y->data + (size_t)n * K, K, 1.0f);
        for (int k = 0; k < K; k++) y->data[(size_t)n * K + k] = expf(y->data[(size_t)n * K + k]);
    }
    nn_tensor *in[1] = {x};
    nn_record(c, "softmax", softmax_backward, y, 1, in);
    return y;
}

static void log_softmax_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *y = node->out;
    int N, K;
    rows(x, &N, &K);
    float *g = nn_grad(c, x);
    for (int n = 0; n < N; n++) {
        const float *yr = y->data + (size_t)n * K, *d = y->grad + (size_t)n * K;
        float sd = 0.0f;
        for (int k = 0; k < K; k++) sd += d[k];
        for (int k = 0; k < K; k++) g[(size_t)n * K + k] += d[k] - expf(yr[k]) * sd;
    }
}

nn_tensor *nn_log_softmax(nn_ctx *c, nn_tensor *x)
{
    int N, K;
    rows(x, &N, &K);
    nn_tensor *y = nn_new2(c, N, K);
    for (int n = 0; n < N; n++) row_log_softmax(x->data + (size_t)n * K, y->data + (size_t)n * K, K, 1.0f);
    nn_tensor *in[1] = {x};
    nn_record(c, "log_softmax", log_softmax_backward, y, 1, in);
    return y;
}

/* ---- cross-entropy with label smoothing ---- */

typedef struct {
    float *logp; /* [N, K] */
    int *labels;
    float smoothing;
} ce_saved;

static void ce_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0];
    ce_saved *s = node->saved;
    int N, K;
    rows(x, &N, &K);
    float *g = nn_grad(c, x), d = node->out->grad[0] / (float)N;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            float q = s->smoothing / (float)K + (k == s->labels[n] ? 1.0f - s->smoothing : 0.0f);
            g[(size_t)n * K + k] += d * (expf(s->logp[(size_t)n * K + k]) - q);
        }
}

nn_tensor *nn_cross_entropy(nn_ctx *c, nn_tensor *logits, const int *labels, float smoothing)
{
    int N, K;
    rows(logits, &N, &K);
    ce_saved *s = nn_arena_alloc(&c->arena, sizeof *s);
    s->logp = nn_arena_floats(&c->arena, (size_t)N * K);
    s->labels = nn_arena_alloc(&c->arena, (size_t)N * sizeof(int));
    s->smoothing = smoothing;
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        if (labels[n] < 0 || labels[n] >= K)
            nn_abort(__FILE__, __LINE__, "cross_entropy: label %d outside [0, %d)", labels[n], K);
        s->labels[n] = labels[n];
        float *lp = s->logp + (size_t)n * K;
        row_log_softmax(logits->data + (size_t)n * K, lp, K, 1.0f);
        double r = -(1.0 - smoothing) * lp[labels[n]];
        if (smoothing > 0.0f) {
            double sl = 0.0;
            for (int k = 0; k < K; k++) sl += lp[k];
            r -= smoothing / K * sl;
        }
        loss += r;
    }
    int one = 1;
    nn_tensor *y = nn_new(c, 1, &one);
    y->data[0] = (float)(loss / N);
    nn_tensor *in[1] = {logits};
    nn_node *node = nn_record(c, "cross_entropy", ce_backward, y, 1, in);
    if (node) node->saved = s;
    return y;
}

/* ---- KL divergence with temperature ---- */

typedef struct {
    float *lps, *lpt; /* log-softmax(s/T), log-softmax(t/T) */
    float *kl_row;
    float T;
} kl_saved;

static void kl_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *s = node->in[0], *t = node->in[1];
    kl_saved *k = node->saved;
    int N, K;
    rows(s, &N, &K);
    float d = node->out->grad[0] / ((float)N * k->T);
    float *gs = s->requires_grad ? nn_grad(c, s) : NULL, *gt = t->requires_grad ? nn_grad(c, t) : NULL;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < K; j++) {
            size_t i = (size_t)n * K + j;
            float pt = expf(k->lpt[i]), ps = expf(k->lps[i]);
            if (gs) gs[i] += d * (ps - pt);
            if (gt) gt[i] += d * pt * ((k->lpt[i] - k->lps[i]) - k->kl_row[n]);
        }
}

nn_tensor *nn_kl_div(nn_ctx *c, nn_tensor *student, nn_tensor *teacher, float T)
{
    int N, K;
    rows(student, &N, &K);
    NN_ASSERT(nn_same_shape(student, teacher) && T > 0.0f);
    kl_saved *k = nn_arena_alloc(&c->arena, sizeof *k);
    k->lps = nn_arena_floats(&c->arena, (size_t)N * K);
    k->lpt = nn_arena_floats(&c->arena, (size_t)N * K);
    k->kl_row = nn_arena_floats(&c->arena, (size_t)N);
    k->T = T;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        size_t o = (size_t)n * K;
        row_log_softmax(student->data + o, k->lps + o, K, 1.0f / T);
        row_log_softmax(teacher->data + o, k->lpt + o, K, 1.0f / T);
        double r = 0.0;
        for (int j = 0; j < K; j++) r += exp((double)k->lpt[o + j]) * (k->lpt[o + j] - k->lps[o + j]);
        k->kl_row[n] = (float)r;
        total += r;
    }
    int one = 1;
    nn_tensor *y = nn_new(c, 1, &one);
    y->data[0] = (float)(total / N);
    nn_tensor *in[2] = {student, teacher};
    nn_node *node = nn_record(c, "kl_div", kl_backward, y, 2, in);
    if (node) node->saved = k;
    return y;
}

/* ---- MSE and L1 (means over all elements) ---- */

static void mse_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *a = node->in[0], *b = node->in[1];
    float d = 2.0f * node->out->grad[0] / (float)a->numel;
    float *ga = a->requires_grad ? nn_grad(c, a) : NULL, *gb = b->requires_grad ? nn_grad(c, b) : NULL;
    for (size_t i = 0; i < a->numel; i++) {
        float e = d * (a->data[i] - b->data[i]);
        if (ga) ga[i] += e;
        if (gb) gb[i] -= e;
    }
}

static void l1_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *a = node->in[0], *b = node->in[1];
    float d = node->out->grad[0] / (float)a->numel;
    float *ga = a->requires_grad ? nn_grad(c, a) : NULL, *gb = b->requires_grad ? nn_grad(c, b) : NULL;
    for (size_t i = 0; i < a->numel; i++) {
        float diff = a->data[i] - b->data[i];
        float e = diff > 0.0f ? d : (diff < 0.0f ? -d : 0.0f);
        if (ga) ga[i] += e;
        if (gb) gb[i] -= e;
    }
}

static nn_tensor *pair_loss(nn_ctx *c, nn_tensor *a, nn_tensor *b, int l1)
{
    NN_ASSERT(a->numel == b->numel);
    double s = 0.0;
    for (size_t i = 0; i < a->numel; i++) {
        double d = (double)a->data[i] - b->data[i];
        s += l1 ? fabs(d) : d * d;
    }
    int one = 1;
    nn_tensor *y = nn_new(c, 1, &one);
    y->data[0] = (float)(s / (double)a->numel);
    nn_tensor *in[2] = {a, b};
    nn_record(c, l1 ? "l1" : "mse", l1 ? l1_backward : mse_backward, y, 2, in);
    return y;
}

nn_tensor *nn_mse(nn_ctx *c, nn_tensor *a, nn_tensor *b) { return pair_loss(c, a, b, 0); }
nn_tensor *nn_l1(nn_ctx *c, nn_tensor *a, nn_tensor *b) { return pair_loss(c, a, b, 1); }
