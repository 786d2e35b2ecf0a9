/* Binarizers for binary networks (NASB, XNOR-Net / Bi-Real; reference:
 * shared/reference/seed_zhu_core.md, NASB section):
 *   weights      b = s * sign(W), s = mean |W| per layer (or per output
 *                channel); backward dW = s * db (the scaled STE of the thesis)
 *   activations  b = sign(x); backward ApproxSign: dx = db * (2 + 2x) on
 *                [-1, 0), (2 - 2x) on [0, 1), 0 elsewhere; or the plain clipped
 *                STE: dx = db on |x| <= 1
 * sign(0) is +1, so every value is one bit. */
#include <math.h>
#include <string.h>

#include "../ops.h"

static inline float sgn(float v) { return v < 0.0f ? -1.0f : 1.0f; }

typedef struct {
    int nch;
    float *scale;
} binw_saved;

static void binw_backward(nn_ctx *c, nn_node *node)
{
    binw_saved *s = node->saved;
    nn_tensor *w = node->in[0], *y = node->out;
    float *g = nn_grad(c, w);
    const size_t per = w->numel / (size_t)s->nch;
    for (int ch = 0; ch < s->nch; ch++)
        for (size_t i = (size_t)ch * per; i < (size_t)(ch + 1) * per; i++) g[i] += s->scale[ch] * y->grad[i];
}

static void unit_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *w = node->in[0], *y = node->out;
    float *g = nn_grad(c, w);
    for (size_t i = 0; i < w->numel; i++) g[i] += y->grad[i];
}

nn_tensor *nn_sign_weight(nn_ctx *c, nn_tensor *w, int per_channel, float *scale)
{
    const int nch = per_channel ? w->shape[0] : 1, O = w->shape[0];
    const size_t per = w->numel / (size_t)nch;
    nn_tensor *y = nn_zeros_like(c, w);
    for (int ch = 0; ch < nch; ch++) {
        double s = 0;
        for (size_t i = (size_t)ch * per; i < (size_t)(ch + 1) * per; i++) {
            s += fabsf(w->data[i]);
            y->data[i] = sgn(w->data[i]);
        }
        scale[ch] = (float)(s / (double)per);
    }
    for (int o = nch; o < O; o++) scale[o] = scale[0];
    nn_record(c, "sign_weight", unit_backward, y, 1, &w);
    return y;
}

nn_tensor *nn_binarize_weight(nn_ctx *c, nn_tensor *w, int per_channel)
{
    const int nch = per_channel ? w->shape[0] : 1;
    const size_t per = w->numel / (size_t)nch;
    nn_tensor *y = nn_zeros_like(c, w);
    float *scale = nn_arena_floats(&c->arena, (size_t)nch);
    for (int ch = 0; ch < nch; ch++) {
        double s = 0;
        for (size_t i = (size_t)ch * per; i < (size_t)(ch + 1) * per; i++) s += fabsf(w->data[i]);
        scale[ch] = (float)(s / (double)per);
        for (size_t i = (size_t)ch * per; i < (size_t)(ch + 1) * per; i++) y->data[i] = scale[ch] * sgn(w->data[i]);
    }
    nn_node *node = nn_record(c, "binarize_weight", binw_backward, y, 1, &w);
    if (node) {
        binw_saved *s = nn_arena_alloc(&c->arena, sizeof *s);
        s->nch = nch;
        s->scale = scale;
        node->saved = s;
    }
    return y;
}

typedef struct {
    int approx;
} sign_saved;

static void sign_backward(nn_ctx *c, nn_node *node)
{
    const int approx = ((sign_saved *)node->saved)->approx;
    nn_tensor *x = node->in[0], *y = node->out;
    float *g = nn_grad(c, x);
    for (size_t i = 0; i < x->numel; i++) {
        const float v = x->data[i];
        float d;
        if (approx)
            d = v >= -1.0f && v < 0.0f ? 2.0f + 2.0f * v : (v >= 0.0f && v < 1.0f ? 2.0f - 2.0f * v : 0.0f);
        else
            d = fabsf(v) <= 1.0f ? 1.0f : 0.0f;
        g[i] += d * y->grad[i];
    }
}

nn_tensor *nn_sign(nn_ctx *c, nn_tensor *x, int approx)
{
    nn_tensor *y = nn_zeros_like(c, x);
    for (size_t i = 0; i < x->numel; i++) y->data[i] = sgn(x->data[i]);
    nn_node *node = nn_record(c, "sign", sign_backward, y, 1, &x);
    if (node) {
        sign_saved *s = nn_arena_alloc(&c->arena, sizeof *s);
        s->approx = approx;
        node->saved = s;
    }
    return y;
}
