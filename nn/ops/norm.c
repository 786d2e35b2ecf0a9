/* Batch norm (train/eval, affine optional), per-class affine (for
 * categorical conditional BN) and differentiable channel moments (for the
 * BN-statistics hooks of reconstruction). Channels are split over the pool;
 * per-channel sums accumulate in double. */
#include <math.h>
#include <string.h>

#include "../ops.h"
#include "moments.h"

typedef struct {
    nn_tensor *x, *y, *gamma, *beta;
    float *rm, *rv;
    float *mean, *invstd; /* per channel: the statistics used */
    nn_bn_attr a;
    int training;
    int assign; /* x's gradient is y's buffer: overwrite in place */
    int T;      /* the pool's workers: how a conv epilogue would have grouped the images */
} bn_job;

static void bn_fwd_task(void *arg, int ith, int nth)
{
    bn_job *j = arg;
    const int N = j->x->shape[0], C = j->x->shape[1];
    const size_t HW = j->x->numel / ((size_t)N * C), M = (size_t)N * HW;
    size_t lo, hi;
    nn_split((size_t)C, ith, nth, &lo, &hi);
    for (size_t ch = lo; ch < hi; ch++) {
        float mean, invstd;
        if (j->training) {
            double m, v;
            if (j->a.stats) { /* moments handed over by the producing conv (its epilogue) */
                m = j->a.stats[ch];
                v = j->a.stats[C + ch];
            } else { /* the conv epilogue's computation (moments.h): the same bits either way */
                nn_channel_moments_T(j->x->data, N, C, HW, ch, j->T, &m, &v);
            }
            mean = (float)m;
            invstd = (float)(1.0 / sqrt(v + j->a.eps));
            if (j->rm) { /* PyTorch keeps the unbiased variance */
                float mom = j->a.momentum;
                double unbiased = M > 1 ? v * (double)M / (double)(M - 1) : v;
                j->rm[ch] = (1.0f - mom) * j->rm[ch] + mom * mean;
                j->rv[ch] = (1.0f - mom) * j->rv[ch] + mom * (float)unbiased;
            }
        } else {
            mean = j->rm[ch];
            invstd = 1.0f / sqrtf(j->rv[ch] + j->a.eps);
        }
        j->mean[ch] = mean;
        j->invstd[ch] = invstd;
        float g = j->gamma ? j->gamma->data[ch] : 1.0f, b = j->beta ? j->beta->data[ch] : 0.0f;
        float sc = g * invstd, sh = b - mean * sc;
        for (int n = 0; n < N; n++) {
            const float *p = j->x->data + ((size_t)n * C + ch) * HW;
            float *q = j->y->data + ((size_t)n * C + ch) * HW;
            if (j->a.residual) { /* as nn_batchnorm's store then nn_add's (or nn_add_relu's) sum */
                const float *r = j->a.residual->data + ((size_t)n * C + ch) * HW;
                for (size_t i = 0; i < HW; i++) {
                    const float v = p[i] * sc + sh, s = v + r[i];
                    q[i] = j->a.relu && s <= 0.0f ? 0.0f : s;
                }
            } else if (j->a.relu)
                for (size_t i = 0; i < HW; i++) {
                    const float v = p[i] * sc + sh;
                    q[i] = v > 0.0f ? v : 0.0f; /* not fmaxf: that stays a scalar call */
                }
            else
                for (size_t i = 0; i < HW; i++) q[i] = p[i] * sc + sh;
        }
    }
}

static void bn_bwd_task(void *arg, int ith, int nth)
{
    bn_job *j = arg;
    const int N = j->x->shape[0], C = j->x->shape[1];
    const size_t HW = j->x->numel / ((size_t)N * C), M = (size_t)N * HW;
    size_t lo, hi;
    nn_split((size_t)C, ith, nth, &lo, &hi);
    for (size_t ch = lo; ch < hi; ch++) {
        const float mean = j->mean[ch], invstd = j->invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        /* With a fused ReLU the output gradient is masked by y > 0 on the fly. */
        for (int n = 0; n < N; n++) {
            const float *p = j->x->data + ((size_t)n * C + ch) * HW;
            const float *d = j->y->grad + ((size_t)n * C + ch) * HW;
            const float *y = j->y->data + ((size_t)n * C + ch) * HW;
            float a = 0.0f, b = 0.0f;
            if (j->a.relu)
                for (size_t i = 0; i < HW; i++) {
                    const float di = y[i] > 0.0f ? d[i] : 0.0f;
                    a += di;
                    b += di * (p[i] - mean);
                }
            else
                for (size_t i = 0; i < HW; i++) {
                    a += d[i];
                    b += d[i] * (p[i] - mean);
                }
            sdy += a;
            sdyx += b;
        }
        sdyx *= invstd; /* sum dy * xhat */
        if (j->gamma && j->gamma->requires_grad) j->gamma->grad[ch] += (float)sdyx;
        if (j->beta && j->beta->requires_grad) j->beta->grad[ch] += (float)sdy;
        if (!j->x->requires_grad) continue;
        const float g = j->gamma ? j->gamma->data[ch] : 1.0f, k = g * invstd;
        /* train: dx = g*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)); eval: g*invstd*dy */
        const float mdy = j->training ? (float)(sdy / (double)M) : 0.0f;
        const float mdyx = j->training ? (float)(sdyx / (double)M) * invstd : 0.0f;
        for (int n = 0; n < N; n++) {
            const float *p = j->x->data + ((size_t)n * C + ch) * HW;
            const float *d = j->y->grad + ((size_t)n * C + ch) * HW;
            const float *y = j->y->data + ((size_t)n * C + ch) * HW;
            float *dx = j->x->grad + ((size_t)n * C + ch) * HW;
            if (j->a.relu) {
                if (j->assign)
                    for (size_t i = 0; i < HW; i++)
                        dx[i] = k * ((y[i] > 0.0f ? d[i] : 0.0f) - mdy - (p[i] - mean) * mdyx);
                else
                    for (size_t i = 0; i < HW; i++)
                        dx[i] += k * ((y[i] > 0.0f ? d[i] : 0.0f) - mdy - (p[i] - mean) * mdyx);
            } else if (j->assign)
                for (size_t i = 0; i < HW; i++) dx[i] = k * (d[i] - mdy - (p[i] - mean) * mdyx);
            else
                for (size_t i = 0; i < HW; i++) dx[i] += k * (d[i] - mdy - (p[i] - mean) * mdyx);
        }
    }
}

static void bn_backward(nn_ctx *c, nn_node *node)
{
    bn_job *j = node->saved;
    j->assign = j->x->requires_grad && nn_grad_steal(j->x, j->y);
    if (j->x->requires_grad && !j->assign) nn_grad(c, j->x);
    if (j->gamma && j->gamma->requires_grad) nn_grad(c, j->gamma);
    if (j->beta && j->beta->requires_grad) nn_grad(c, j->beta);
    nn_pool_run(c->pool, bn_bwd_task, j);
}

nn_tensor *nn_batchnorm(nn_ctx *c, nn_tensor *x, nn_tensor *gamma, nn_tensor *beta, float *running_mean,
                        float *running_var, nn_bn_attr a)
{
    NN_ASSERT(x->ndim >= 2);
    const int C = x->shape[1];
    NN_ASSERT(!gamma || (int)gamma->numel == C);
    NN_ASSERT(!beta || (int)beta->numel == C);
    NN_ASSERT(!a.residual || (!c->grad_enabled && !c->training && running_mean && nn_same_shape(x, a.residual)));
    bn_job *j = nn_arena_alloc(&c->arena, sizeof *j);
    memset(j, 0, sizeof *j);
    j->x = x;
    j->gamma = gamma;
    j->beta = beta;
    j->rm = running_mean;
    j->rv = running_var;
    j->a = a;
    j->training = c->training || !running_mean;
    j->T = nn_threads(c);
    j->y = nn_new(c, x->ndim, x->shape);
    j->mean = nn_arena_floats(&c->arena, (size_t)C);
    j->invstd = nn_arena_floats(&c->arena, (size_t)C);
    nn_pool_run(c->pool, bn_fwd_task, j);
    nn_tensor *in[3] = {x, gamma, beta};
    nn_node *node = nn_record(c, a.relu ? "batchnorm_relu" : "batchnorm", bn_backward, j->y, 3, in);
    if (node) node->saved = j;
    return j->y;
}

/* ---- per-class affine ---- */

typedef struct {
    nn_tensor *x, *y, *gamma, *beta;
    const int *labels;
} ca_job;

static void class_affine_backward(nn_ctx *c, nn_node *node)
{
    ca_job *j = node->saved;
    const int N = j->x->shape[0], C = j->x->shape[1];
    const size_t HW = j->x->numel / ((size_t)N * C);
    float *dx = j->x->requires_grad ? nn_grad(c, j->x) : NULL;
    float *dg = j->gamma->requires_grad ? nn_grad(c, j->gamma) : NULL;
    float *db = j->beta->requires_grad ? nn_grad(c, j->beta) : NULL;
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            size_t off = ((size_t)n * C + ch) * HW, pc = (size_t)j->labels[n] * C + ch;
            const float *d = j->y->grad + off, *p = j->x->data + off;
            float sg = 0.0f, sb = 0.0f, g = j->gamma->data[pc];
            for (size_t i = 0; i < HW; i++) {
                sg += d[i] * p[i];
                sb += d[i];
                if (dx) dx[off + i] += d[i] * g;
            }
            if (dg) dg[pc] += sg;
            if (db) db[pc] += sb;
        }
}

nn_tensor *nn_class_affine(nn_ctx *c, nn_tensor *x, const int *labels, nn_tensor *gamma, nn_tensor *beta)
{
    const int N = x->shape[0], C = x->shape[1];
    const size_t HW = x->numel / ((size_t)N * C);
    NN_ASSERT(gamma->ndim == 2 && gamma->shape[1] == C && nn_same_shape(gamma, beta));
    nn_tensor *y = nn_new(c, x->ndim, x->shape);
    int *lab = nn_arena_alloc(&c->arena, (size_t)N * sizeof(int));
    for (int n = 0; n < N; n++) {
        NN_ASSERT(labels[n] >= 0 && labels[n] < gamma->shape[0]);
        lab[n] = labels[n];
        for (int ch = 0; ch < C; ch++) {
            size_t off = ((size_t)n * C + ch) * HW, pc = (size_t)lab[n] * C + ch;
            float g = gamma->data[pc], b = beta->data[pc];
            for (size_t i = 0; i < HW; i++) y->data[off + i] = x->data[off + i] * g + b;
        }
    }
    ca_job *j = nn_arena_alloc(&c->arena, sizeof *j);
    *j = (ca_job){x, y, gamma, beta, lab};
    nn_tensor *in[3] = {x, gamma, beta};
    nn_node *node = nn_record(c, "class_affine", class_affine_backward, y, 3, in);
    if (node) node->saved = j;
    return y;
}

/* ---- channel moments ---- */

static void moments_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *y = node->out;
    const int N = x->shape[0], C = x->shape[1];
    const size_t HW = x->numel / ((size_t)N * C), M = (size_t)N * HW;
    float *dx = nn_grad(c, x);
    for (int ch = 0; ch < C; ch++) {
        /* d mean/dx = 1/M ; d var/dx = 2 (x - mean) / M */
        float m = y->data[ch], gm = y->grad[ch] / (float)M, gv = 2.0f * y->grad[C + ch] / (float)M;
        for (int n = 0; n < N; n++) {
            size_t off = ((size_t)n * C + ch) * HW;
            for (size_t i = 0; i < HW; i++) dx[off + i] += gm + gv * (x->data[off + i] - m);
        }
    }
}

nn_tensor *nn_channel_moments(nn_ctx *c, nn_tensor *x)
{
    const int N = x->shape[0], C = x->shape[1];
    const size_t HW = x->numel / ((size_t)N * C), M = (size_t)N * HW;
    nn_tensor *y = nn_new2(c, 2, C);
    for (int ch = 0; ch < C; ch++) {
        double s = 0.0, v = 0.0;
        for (int n = 0; n < N; n++)
            for (size_t i = 0; i < HW; i++) s += x->data[((size_t)n * C + ch) * HW + i];
        double m = s / (double)M;
        for (int n = 0; n < N; n++)
            for (size_t i = 0; i < HW; i++) {
                double d = x->data[((size_t)n * C + ch) * HW + i] - m;
                v += d * d;
            }
        y->data[ch] = (float)m;
        y->data[C + ch] = (float)(v / (double)M);
    }
    nn_tensor *in[1] = {x};
    nn_record(c, "channel_moments", moments_backward, y, 1, in);
    return y;
}
