#include "quant.h"

#include <math.h>
#include <string.h>

float cmp_quant_value(float x, cmp_qspec q, float lo, float hi)
{
    const float half = (float)(1 << (q.bits - 1));
    if (q.symmetric) {
        const float qmax = half - 1.0f, m = fmaxf(fabsf(lo), fabsf(hi));
        const float s = qmax / fmaxf(m, 1e-8f);
        float v = nearbyintf(s * x);
        v = fminf(fmaxf(v, -qmax), qmax);
        return v / s;
    }
    const float s = (2.0f * half - 1.0f) / fmaxf(hi - lo, 1e-8f);
    const float z = nearbyintf(s * lo) + half;
    float v = nearbyintf(s * x - z);
    v = fminf(fmaxf(v, -half), half - 1.0f);
    return (v + z) / s;
}

void cmp_minmax(const nn_tensor *w, int nch, float *lo, float *hi)
{
    const size_t per = w->numel / (size_t)nch;
    for (int ch = 0; ch < nch; ch++) {
        const float *p = w->data + (size_t)ch * per;
        float a = p[0], b = p[0];
        for (size_t i = 1; i < per; i++) {
            a = fminf(a, p[i]);
            b = fmaxf(b, p[i]);
        }
        lo[ch] = a;
        hi[ch] = b;
    }
}

typedef struct {
    int nch, clip;
    float *lo, *hi;
} fq_saved;

static void fq_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *y = node->out;
    fq_saved *s = node->saved;
    const size_t per = x->numel / (size_t)s->nch;
    float *g = nn_grad(c, x);
    for (int ch = 0; ch < s->nch; ch++)
        for (size_t i = (size_t)ch * per; i < (size_t)(ch + 1) * per; i++) {
            const float d = y->grad[i];
            if (!s->clip || (x->data[i] >= s->lo[ch] && x->data[i] <= s->hi[ch])) g[i] += d;
        }
}

nn_tensor *cmp_fake_quant(nn_ctx *c, nn_tensor *x, cmp_qspec q, int nch, const float *lo, const float *hi)
{
    if (q.bits < 2 || q.bits > 16) nn_abort(__FILE__, __LINE__, "fake_quant: %d bits (2..16 supported)", q.bits);
    NN_ASSERT(nch >= 1 && x->numel % (size_t)nch == 0);
    nn_tensor *y = nn_new(c, x->ndim, x->shape);
    const size_t per = x->numel / (size_t)nch;
    for (int ch = 0; ch < nch; ch++)
        for (size_t i = (size_t)ch * per; i < (size_t)(ch + 1) * per; i++)
            y->data[i] = cmp_quant_value(x->data[i], q, lo[ch], hi[ch]);
    nn_tensor *in[1] = {x};
    nn_node *node = nn_record(c, "fake_quant", fq_backward, y, 1, in);
    if (node) {
        fq_saved *s = nn_arena_alloc(&c->arena, sizeof *s);
        s->nch = nch;
        s->clip = q.clip_ste;
        s->lo = nn_arena_floats(&c->arena, (size_t)nch);
        s->hi = nn_arena_floats(&c->arena, (size_t)nch);
        memcpy(s->lo, lo, (size_t)nch * sizeof(float));
        memcpy(s->hi, hi, (size_t)nch * sizeof(float));
        node->saved = s;
    }
    return y;
}

void cmp_range_ema_init(cmp_range_ema *r, float beta, long freeze_after)
{
    memset(r, 0, sizeof *r);
    r->beta = beta;
    r->beta_t = 1.0;
    r->freeze_after = freeze_after;
}

void cmp_range_ema_update(cmp_range_ema *r, const nn_tensor *x)
{
    if (r->freeze_after >= 0 && r->updates >= r->freeze_after) return;
    float a = x->data[0], b = x->data[0];
    for (size_t i = 1; i < x->numel; i++) {
        a = fminf(a, x->data[i]);
        b = fmaxf(b, x->data[i]);
    }
    r->lo_acc = r->beta * r->lo_acc + (1.0 - r->beta) * a;
    r->hi_acc = r->beta * r->hi_acc + (1.0 - r->beta) * b;
    r->beta_t *= r->beta;
    r->lo = (float)(r->lo_acc / (1.0 - r->beta_t)); /* bias-corrected, as Adam's moments */
    r->hi = (float)(r->hi_acc / (1.0 - r->beta_t));
    r->updates++;
}
