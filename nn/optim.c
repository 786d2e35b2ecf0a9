#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nn_optim_init(nn_optim *o, nn_optim_kind kind, const nn_graph *g)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->momentum = 0.9f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->decay_all = 1;
    o->n = g->train_len;
    o->m = nn_xcalloc(o->n ? o->n : 1, sizeof(float));
    if (kind != NN_SGD) o->v = nn_xcalloc(o->n ? o->n : 1, sizeof(float));
}

void nn_optim_free(nn_optim *o)
{
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

void nn_optim_step(nn_optim *o, nn_graph *g, float lr)
{
    o->t++;
    const float b1c = 1.0f - powf(o->beta1, (float)o->t), b2c = 1.0f - powf(o->beta2, (float)o->t);
    for (int pi = 0; pi < g->np; pi++) {
        nn_param *p = &g->params[pi];
        if (!p->trainable || !nn_param_in_group(p, (nn_param_group)o->group)) continue;
        const size_t off = (size_t)(p->t.data - g->blob);
        float *w = p->t.data, *gr = p->t.grad, *m = o->m + off, *v = o->v ? o->v + off : NULL;
        const float wd = (o->decay_all || p->decay) ? o->weight_decay : 0.0f;
        const size_t n = p->t.numel;
        switch (o->kind) {
        case NN_SGD:
            for (size_t i = 0; i < n; i++) {
                float gi = gr[i] + wd * w[i];
                if (o->momentum > 0.0f) {
                    m[i] = o->momentum * m[i] + gi;
                    gi = o->nesterov ? gi + o->momentum * m[i] : m[i];
                }
                w[i] -= lr * gi;
            }
            break;
        case NN_ADAM:
        case NN_ADAMW:
            for (size_t i = 0; i < n; i++) {
                float gi = gr[i];
                if (o->kind == NN_ADAM)
                    gi += wd * w[i];
                else
                    w[i] -= lr * wd * w[i];
                m[i] = o->beta1 * m[i] + (1.0f - o->beta1) * gi;
                v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * gi * gi;
                w[i] -= lr * (m[i] / b1c) / (sqrtf(v[i] / b2c) + o->eps);
            }
            break;
        }
    }
}

float nn_grad_clip(nn_graph *g, float max_norm)
{
    double s = 0.0;
    for (size_t i = 0; i < g->train_len; i++) s += (double)g->grad[i] * g->grad[i];
    float norm = (float)sqrt(s);
    if (max_norm > 0.0f && norm > max_norm) {
        float k = max_norm / (norm + 1e-6f);
        for (size_t i = 0; i < g->train_len; i++) g->grad[i] *= k;
    }
    return norm;
}

int nn_grad_nonfinite(const nn_graph *g, const char **param)
{
    for (int pi = 0; pi < g->np; pi++) {
        const nn_param *p = &g->params[pi];
        if (!p->trainable) continue;
        for (size_t i = 0; i < p->t.numel; i++)
            if (!isfinite(p->t.grad[i])) {
                if (param) *param = p->name;
                return 1;
            }
    }
    return 0;
}

float nn_sched_lr(const nn_sched *s, long step)
{
    if (step < s->warmup_steps) {
        float t = (float)(step + 1) / (float)s->warmup_steps;
        return s->warmup_start + (s->lr - s->warmup_start) * t;
    }
    switch (s->kind) {
    case NN_SCHED_COSINE: {
        long span = s->total_steps - s->warmup_steps;
        double t = span > 0 ? (double)(step - s->warmup_steps) / (double)span : 1.0;
        if (t > 1.0) t = 1.0;
        return s->min_lr + (s->lr - s->min_lr) * 0.5f * (float)(1.0 + cos(M_PI * t));
    }
    case NN_SCHED_MULTISTEP: {
        float lr = s->lr;
        for (int i = 0; i < s->nmilestones; i++)
            if (step >= s->milestones[i]) lr *= s->gamma;
        return lr;
    }
    default: return s->lr;
    }
}

int nn_sched_parse(const char *name, nn_sched_kind *out)
{
    static const char *names[] = {"constant", "cosine", "multistep"};
    static const nn_sched_kind kinds[] = {NN_SCHED_CONST, NN_SCHED_COSINE, NN_SCHED_MULTISTEP};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = kinds[i];
            return 0;
        }
    return -1;
}
