/* Fake quantization and the activation range observer (see ops.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops.h"

float nn_quant_pot_step(int bits, float lo, float hi, int *qlo, int *qhi)
{
    const int uns = lo >= 0.0f;
    const float half = (float)(1 << (bits - 1)), top = uns ? 2.0f * half : half;
    const float m = fmaxf(fmaxf(fabsf(lo), fabsf(hi)), 1e-8f) / top;
    int ex;
    const float f = frexpf(m, &ex); /* m = f 2^ex, f in [0.5, 1): 2^ex covers m, 2^(ex-1) only when f = 0.5 */
    *qlo = uns ? 0 : -(int)half;
    *qhi = (int)top - 1;
    return ldexpf(1.0f, f == 0.5f ? ex - 1 : ex);
}

float nn_quant_value(float x, nn_qspec q, float lo, float hi)
{
    if (q.pot) {
        int qlo, qhi;
        const float d = nn_quant_pot_step(q.bits, lo, hi, &qlo, &qhi);
        return fminf(fmaxf(nearbyintf(x / d), (float)qlo), (float)qhi) * d;
    }
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

void nn_quant_weight_range(const nn_tensor *w, nn_qspec q, int nch, float *lo, float *hi)
{
    nn_minmax(w, nch, lo, hi);
    if (!q.pot || !q.mse) return;
    /* AdderNet weights trained with ALR have a few outliers tens of times the
     * typical |w|; the covering step rounds most weights to 0 or +-1 codes.
     * Try it and 6 finer steps, keep the one of least squared error. */
    const size_t per = w->numel / (size_t)nch;
    for (int ch = 0; ch < nch; ch++) {
        const float *p = w->data + (size_t)ch * per;
        int qlo, qhi;
        const float d0 = nn_quant_pot_step(q.bits, lo[ch], hi[ch], &qlo, &qhi);
        double best = -1.0;
        float bd = d0;
        for (int j = 0; j <= 6; j++) {
            const float d = ldexpf(d0, -j), s = 1.0f / d;
            double err = 0.0;
            for (size_t i = 0; i < per; i++) {
                float c = nearbyintf(s * p[i]);
                c = c < (float)qlo ? (float)qlo : c > (float)qhi ? (float)qhi : c;
                const double r = (double)p[i] - (double)c * d;
                err += r * r;
            }
            if (best < 0.0 || err < best) best = err, bd = d;
        }
        /* the range whose covering step is bd: |range| = bd * (codes above 0 + 1) */
        const float top = bd * (float)(qhi + 1);
        lo[ch] = lo[ch] >= 0.0f ? 0.0f : -top, hi[ch] = top;
    }
}

void nn_quant_weight_codes(const nn_tensor *w, nn_qspec q, int per_channel, int16_t *v, int *zw, double *step)
{
    const int O = w->shape[0], nch = per_channel ? O : 1;
    const size_t per = w->numel / (size_t)nch;
    const float half = (float)(1 << (q.bits - 1));
    float *los = malloc((size_t)nch * 2 * sizeof(float)), *his = los + nch; /* lowering only, not a hot path */
    NN_ASSERT(los);
    nn_quant_weight_range(w, q, nch, los, his);
    for (int ch = 0; ch < nch; ch++) {
        const float *p = w->data + (size_t)ch * per;
        const float lo = los[ch], hi = his[ch];
        float s, z = 0.0f, vlo, vhi;
        if (q.pot) {
            int a, b;
            s = 1.0f / nn_quant_pot_step(q.bits, lo, hi, &a, &b);
            vlo = (float)a, vhi = (float)b;
        } else if (q.symmetric) {
            const float qmax = half - 1.0f;
            s = qmax / fmaxf(fmaxf(fabsf(lo), fabsf(hi)), 1e-8f);
            vlo = -qmax, vhi = qmax;
        } else {
            s = (2.0f * half - 1.0f) / fmaxf(hi - lo, 1e-8f);
            z = nearbyintf(s * lo) + half;
            vlo = -half, vhi = half - 1.0f;
        }
        for (size_t i = 0; i < per; i++) {
            float c = nearbyintf(s * p[i] - z);
            v[(size_t)ch * per + i] = (int16_t)fminf(fmaxf(c, vlo), vhi);
        }
        zw[ch] = (int)z;
        step[ch] = 1.0 / (double)s;
    }
    for (int ch = nch; ch < O; ch++) zw[ch] = zw[0], step[ch] = step[0];
    free(los);
}

void nn_minmax(const nn_tensor *w, int nch, float *lo, float *hi)
{
    const size_t per = w->numel / (size_t)nch;
    for (int ch = 0; ch < nch; ch++) {
        const float *p = w->data + (size_t)ch * per;
        float a = p[0], b = p[0];
        for (size_t i = 1; i < per; i++) { /* compares, not fminf: these vectorize */
            a = p[i] < a ? p[i] : a;
            b = p[i] > b ? p[i] : b;
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
    if (!s->clip && nn_grad_steal(x, y)) return; /* identity: the gradient is the output's */
    const size_t per = x->numel / (size_t)s->nch;
    float *g = nn_grad(c, x);
    for (int ch = 0; ch < s->nch; ch++)
        for (size_t i = (size_t)ch * per; i < (size_t)(ch + 1) * per; i++) {
            const float d = y->grad[i];
            if (!s->clip || (x->data[i] >= s->lo[ch] && x->data[i] <= s->hi[ch])) g[i] += d;
        }
}

typedef struct {
    const float *x;
    float *y;
    size_t per;
    nn_qspec q;
    const float *lo, *hi;
} fq_job;

/* The same arithmetic as nn_quant_value, with the per-channel constants
 * hoisted so the loop vectorizes. */
static void fq_range(void *arg, size_t a, size_t b)
{
    fq_job *j = arg;
    const float half = (float)(1 << (j->q.bits - 1));
    for (size_t i = a; i < b;) {
        const size_t ch = i / j->per, end = (ch + 1) * j->per < b ? (ch + 1) * j->per : b;
        const float lo = j->lo[ch], hi = j->hi[ch];
        if (j->q.pot) {
            int a, b;
            const float d = nn_quant_pot_step(j->q.bits, lo, hi, &a, &b), s = 1.0f / d, qlo = (float)a, qhi = (float)b;
            for (; i < end; i++) { /* x * (1/d) is x / d exactly: d is a power of two */
                float v = nearbyintf(s * j->x[i]);
                v = v < qlo ? qlo : (v > qhi ? qhi : v);
                j->y[i] = v * d;
            }
        } else if (j->q.symmetric) {
            const float qmax = half - 1.0f, m = fmaxf(fabsf(lo), fabsf(hi)), s = qmax / fmaxf(m, 1e-8f);
            for (; i < end; i++) {
                float v = nearbyintf(s * j->x[i]);
                v = v < -qmax ? -qmax : (v > qmax ? qmax : v);
                j->y[i] = v / s;
            }
        } else {
            const float s = (2.0f * half - 1.0f) / fmaxf(hi - lo, 1e-8f), z = nearbyintf(s * lo) + half;
            const float qlo = -half, qhi = half - 1.0f;
            for (; i < end; i++) {
                float v = nearbyintf(s * j->x[i] - z);
                v = v < qlo ? qlo : (v > qhi ? qhi : v);
                j->y[i] = (v + z) / s;
            }
        }
    }
}

nn_tensor *nn_fake_quant(nn_ctx *c, nn_tensor *x, nn_qspec q, int nch, const float *lo, const float *hi)
{
    if (q.bits < 2 || q.bits > 16) nn_abort(__FILE__, __LINE__, "fake_quant: %d bits (2..16 supported)", q.bits);
    NN_ASSERT(nch >= 1 && x->numel % (size_t)nch == 0);
    nn_tensor *y = nn_new(c, x->ndim, x->shape);
    fq_job j = {x->data, y->data, x->numel / (size_t)nch, q, lo, hi};
    if (x->numel >= 65536)
        nn_parallel_range(c, x->numel, fq_range, &j);
    else
        fq_range(&j, 0, x->numel);
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

void nn_range_observe(const nn_tensor *x, float beta, long freeze_after, float *obs, float *range)
{
    const long updates = (long)obs[0];
    if (freeze_after >= 0 && updates >= freeze_after) return;
    float lo, hi;
    nn_minmax(x, 1, &lo, &hi);
    obs[1] = beta * obs[1] + (1.0f - beta) * lo;
    obs[2] = beta * obs[2] + (1.0f - beta) * hi;
    obs[0] = (float)(updates + 1);
    const double corr = 1.0 - pow((double)beta, (double)(updates + 1));
    range[0] = (float)(obs[1] / corr);
    range[1] = (float)(obs[2] / corr);
}
