#include "lower.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/data.h"

/* What a float node's output is in integers:
 *   CODE   tensor t of codes q standing for (q - zp) * d
 *   LIN    sum over terms of tensor * mult[c], plus cst[c] (per channel c)
 *   INPUT  the pixels: a[c] * p + b[c] */
enum { V_NONE, V_INPUT, V_CODE, V_LIN };
typedef struct value {
    int kind, relu;
    int t, zp;
    double d;
    int nt, term[DF_MAX_TERMS];
    double *mult[DF_MAX_TERMS], *cst;
    int c, h, w;
} value;

static int add_node(int_graph *g, const int_node *proto)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->nodes = nn_xrealloc(g->nodes, (size_t)g->cap * sizeof *g->nodes);
    }
    g->nodes[g->n] = *proto;
    return g->n++;
}

/* Every per-channel array of the lowering, freed together at its end. */
typedef struct {
    double **p;
    int n, cap;
} dpool;

static double *dvec(dpool *pl, int n, double v)
{
    double *p = nn_xmalloc((size_t)(n ? n : 1) * sizeof(double));
    for (int i = 0; i < n; i++) p[i] = v;
    if (pl->n == pl->cap) pl->p = nn_xrealloc(pl->p, (size_t)(pl->cap = pl->cap ? 2 * pl->cap : 256) * sizeof *pl->p);
    pl->p[pl->n++] = p;
    return p;
}

/* v as LIN: itself, or for a code (q - zp) d = q d - zp d in *tmp. */
static value *lin_of(dpool *pl, value *v, value *tmp)
{
    if (v->kind != V_CODE) return v;
    *tmp = *v;
    tmp->kind = V_LIN;
    tmp->nt = 1;
    tmp->term[0] = v->t;
    tmp->mult[0] = dvec(pl, v->c, v->d);
    tmp->cst = dvec(pl, v->c, -v->zp * v->d);
    return tmp;
}

/* The integers the weight fake quantizer rounds to (v + zw) and the step
 * per output channel. */
static void quant_weight(const nn_gnode *n, const nn_tensor *w, int16_t *wi, double *dw)
{
    const int O = w->shape[0];
    int *zw = nn_xmalloc((size_t)O * sizeof(int));
    nn_quant_weight_codes(w, (nn_qspec){.bits = n->qbits, .symmetric = n->qsym, .pot = n->qpot, .mse = n->qmse}, n->qperch, wi, zw, dw);
    const size_t per = w->numel / (size_t)O;
    for (int o = 0; o < O; o++)
        for (size_t i = 0; i < per; i++) wi[(size_t)o * per + i] = (int16_t)(wi[(size_t)o * per + i] + zw[o]);
    free(zw);
}

/* A LIN value into one requant node: multipliers and constant in fixed
 * point at shift sh (28 significant bits for the largest multiplier). */
static int emit_requant(int_graph *g, const char *name, const value *v, double scale, double zp, int32_t lo, int32_t hi,
                        nn_err *e)
{
    double mx = 0;
    for (int t = 0; t < v->nt; t++)
        for (int c = 0; c < v->c; c++) mx = fmax(mx, fabs(v->mult[t][c] * scale));
    int sh = mx > 0 ? 28 - (int)ceil(log2(mx)) : 0;
    if (sh < 0) return nn_fail(e, "node '%s': requantisation multiplier %g too large for fixed point", name, mx);
    if (sh > 60) sh = 60;
    int_node r = {.op = INT_REQUANT, .nterms = v->nt, .sh = sh, .lo = lo, .hi = hi, .c = v->c, .h = v->h, .w = v->w};
    snprintf(r.name, sizeof r.name, "%s", name);
    const double f = ldexp(1.0, sh);
    for (int t = 0; t < v->nt; t++) {
        r.term[t] = v->term[t];
        r.m[t] = nn_xmalloc((size_t)v->c * sizeof(int64_t));
        for (int c = 0; c < v->c; c++) r.m[t][c] = llround(v->mult[t][c] * scale * f);
    }
    r.kc = nn_xmalloc((size_t)v->c * sizeof(int64_t));
    for (int c = 0; c < v->c; c++) {
        const double k = (v->cst[c] * scale + zp) * f;
        if (fabs(k) > 0x1p62) return nn_fail(e, "node '%s': requantisation constant out of range", name);
        r.kc[c] = llround(k) + (sh ? (int64_t)1 << (sh - 1) : 0);
    }
    return add_node(g, &r);
}

static const nn_tensor *P(const nn_graph *g, const nn_gnode *n, int k) { return &g->params[n->param[k]].t; }

/* The range of codes node i holds, or 0 when it is not a code tensor. */
static int code_range(const int_graph *g, int i, int32_t *lo, int32_t *hi)
{
    const int_node *n = &g->nodes[i];
    if (n->op == INT_INPUT) return *lo = 0, *hi = 255, 1;
    if (n->op == INT_REQUANT) return *lo = n->lo, *hi = n->hi, 1;
    if (n->op == INT_MAXPOOL) return code_range(g, n->in, lo, hi);
    return 0;
}

/* A conv's int8 copy of its weights in the byte layout, where exact: weights
 * in -128..127, input codes and zero point in 0..255. */
static void add_byte_weights(int_graph *g, int_node *n)
{
    int32_t lo, hi;
    if (n->op != INT_CONV || !code_range(g, n->in, &lo, &hi) || lo < 0 || hi > 255 || n->zp < 0 || n->zp > 255) return;
    const int_node *a = &g->nodes[n->in];
    const size_t Kp = (size_t)df_conv_taps(a->c, n->groups, n->k);
    for (size_t i = 0; i < (size_t)n->c * Kp; i++)
        if (n->wt[i] < -128 || n->wt[i] > 127) return;
    n->wq = nn_xmalloc((size_t)n->c * df_conv_qtaps(a->c, n->groups, n->k));
    df_conv_pairs_to_quads(n->wt, n->c, a->c, n->groups, n->k, n->wq);
}

int_graph *cmp_lower(const nn_graph *q, nn_err *e)
{
    if (q->in_ndim != 3) return nn_fail(e, "lower: needs an image model"), NULL;
    int_graph *g = nn_xcalloc(1, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", q->name);
    g->in_c = q->in_shape[0], g->in_h = q->in_shape[1], g->in_w = q->in_shape[2], g->num_classes = q->num_classes;
    g->logit_scale = ldexp(1.0, -16);
    value *val = nn_xcalloc((size_t)q->n, sizeof *val), tmp1, tmp2;
    dpool pool = {0};
    int ok = 0;
    int_node in = {.op = INT_INPUT, .c = g->in_c, .h = g->in_h, .w = g->in_w};
    snprintf(in.name, sizeof in.name, "input");
    add_node(g, &in);
    for (int i = 0; i < q->n; i++) {
        const nn_gnode *n = &q->nodes[i];
        value *v = &val[i], *a = n->op == NN_OP_INPUT ? NULL : &val[n->in[0]];
        const int C = n->shape[0], H = n->ndim == 3 ? n->shape[1] : 1, W = n->ndim == 3 ? n->shape[2] : 1;
        v->c = C, v->h = H, v->w = W;
        if (n->qbits > 8 && (n->op == NN_OP_CONV || n->op == NN_OP_LINEAR || n->op == NN_OP_ADDER_CONV ||
                             n->op == NN_OP_FAKE_QUANT)) { /* int8 codes, int16 weight lanes, int32 sums */
            nn_fail(e, "node '%s': %d-bit %s (the integer path takes up to 8 bits)", n->name, n->qbits,
                    n->op == NN_OP_FAKE_QUANT ? "activations" : "weights");
            goto out;
        }
        if (a && a->relu && n->op != NN_OP_FAKE_QUANT) {
            nn_fail(e, "node '%s': a ReLU output must go straight into a fake_quant to have an integer form", n->name);
            goto out;
        }
        switch (n->op) {
        case NN_OP_INPUT: v->kind = V_INPUT; break;
        case NN_OP_ADDER_CONV: {
            if (!n->qbits || !n->qpot || n->qperch) {
                nn_fail(e, "node '%s': an adder layer needs power-of-two per-tensor weights (datafree quantize)", n->name);
                goto out;
            }
            if (a->kind != V_CODE) {
                nn_fail(e, "node '%s': an adder layer's input must be a quantized activation", n->name);
                goto out;
            }
            int ex, ew;
            const nn_tensor *wt = P(q, n, 0);
            int16_t *wq = nn_xmalloc(wt->numel * sizeof(int16_t));
            double *dw = dvec(&pool, C, 0);
            quant_weight(n, wt, wq, dw);
            if (frexp(a->d, &ex) != 0.5 || frexp(dw[0], &ew) != 0.5 || a->zp < 0) {
                free(wq);
                nn_fail(e, "node '%s': an adder layer's input needs a power-of-two step (quant.pot: true)", n->name);
                goto out;
            }
            const int e0 = ex < ew ? ex : ew, xsh = ex - e0, wsh = ew - e0;
            /* both operands and their difference must fit int16 */
            const int32_t xmax = (int32_t)(255 + a->zp) << xsh;
            int32_t wmax = 0;
            for (size_t i = 0; i < wt->numel; i++) wmax = abs(wq[i]) > wmax ? abs(wq[i]) : wmax;
            if (xsh > 7 || wsh > 7 || xmax + (wmax << wsh) > 32767) {
                free(wq);
                nn_fail(e, "node '%s': input and weight steps are 2^%d apart; |x - w| leaves int16", n->name, abs(ex - ew));
                goto out;
            }
            const int cg = wt->shape[1], k = n->kernel, Cp = (cg + 1) / 2, Kp = 2 * Cp * k * k;
            int16_t *wi = nn_xcalloc((size_t)C * Kp, sizeof(int16_t));
            for (int o = 0; o < C; o++)
                for (int ic = 0; ic < cg; ic++)
                    for (int kk = 0; kk < k * k; kk++)
                        wi[(size_t)o * Kp + ((size_t)kk * Cp + ic / 2) * 2 + ic % 2] =
                            (int16_t)(wq[((size_t)o * cg + ic) * k * k + kk] * (1 << wsh));
            free(wq);
            int_node an = {.op = INT_ADDER, .c = C, .h = H, .w = W, .in = a->t, .zp = a->zp, .xsh = xsh, .wt = wi,
                           .k = k, .stride = n->stride, .pad = n->pad, .dil = n->dilation, .groups = n->groups};
            snprintf(an.name, sizeof an.name, "%s", n->name);
            v->kind = V_LIN;
            v->cst = dvec(&pool, C, 0);
            v->term[0] = add_node(g, &an);
            v->mult[0] = dvec(&pool, C, ldexp(1.0, e0 - 1)); /* frexp's exponents are one above log2 */
            v->nt = 1;
            break;
        }
        case NN_OP_CONV:
        case NN_OP_LINEAR: {
            if (!n->qbits) {
                nn_fail(e, "node '%s': float weights (quantize the model first: datafree quantize)", n->name);
                goto out;
            }
            const nn_tensor *wt = P(q, n, 0);
            int16_t *wq = nn_xmalloc(wt->numel * sizeof(int16_t)), *wi = wq;
            double *dw = dvec(&pool, C, 0);
            quant_weight(n, wt, wq, dw);
            /* a 1x1 conv on a 1x1 map of a linear value (AdderNet's classifier after the
             * pooling) is a linear layer: the same [O][IN] weights */
            const int as_linear = n->op == NN_OP_CONV && a->kind == V_LIN && n->kernel == 1 && a->h == 1 &&
                                  a->w == 1 && n->groups == 1 && n->stride == 1 && n->pad == 0;
            if (n->op == NN_OP_CONV && !as_linear) { /* the kernels' tap order: (kh, kw, channel pair, channel in pair) */
                const int cg = wt->shape[1], k = n->kernel, Cp = (cg + 1) / 2, Kp = 2 * Cp * k * k;
                wi = nn_xcalloc((size_t)C * Kp, sizeof(int16_t));
                for (int o = 0; o < C; o++)
                    for (int ic = 0; ic < cg; ic++)
                        for (int kh = 0; kh < k; kh++)
                            for (int kw = 0; kw < k; kw++)
                                wi[(size_t)o * Kp + ((size_t)(kh * k + kw) * Cp + ic / 2) * 2 + ic % 2] =
                                    wq[(((size_t)o * cg + ic) * k + kh) * k + kw];
                free(wq);
            }
            int_node cn = {.c = C, .h = H, .w = W, .in = -1, .wt = wi};
            snprintf(cn.name, sizeof cn.name, "%s", n->name);
            if (n->op == NN_OP_CONV && !as_linear) {
                cn.op = INT_CONV, cn.k = n->kernel, cn.stride = n->stride, cn.pad = n->pad, cn.dil = n->dilation,
                cn.groups = n->groups;
            } else {
                cn.op = INT_LINEAR;
            }
            v->kind = V_LIN;
            v->cst = dvec(&pool, C, 0);
            if (a->kind == V_CODE) {
                cn.in = a->t, cn.zp = a->zp;
                v->term[v->nt] = add_node(g, &cn);
                v->mult[v->nt++] = dvec(&pool, C, 0);
                for (int c = 0; c < C; c++) v->mult[0][c] = dw[c] * a->d;
            } else if (a->kind == V_INPUT && n->op == NN_OP_CONV) {
                /* (p/255 - mean)/std = a p + b per input channel; a must be one value */
                const double sa = 1.0 / (255.0 * q->std[0]);
                for (int c = 1; c < g->in_c; c++)
                    if (fabs(1.0 / (255.0 * q->std[c]) - sa) > 1e-12 * sa) {
                        nn_fail(e, "node '%s': per-channel std differs; the integer input path needs one std", n->name);
                        goto out;
                    }
                cn.in = 0;
                v->term[v->nt] = add_node(g, &cn);
                v->mult[v->nt++] = dvec(&pool, C, 0);
                for (int c = 0; c < C; c++) v->mult[0][c] = dw[c] * sa;
                /* b per input channel: conv of an all-ones channel, a constant tensor */
                for (int ic = 0; ic < g->in_c; ic++) {
                    const double b = -q->mean[ic] / q->std[ic];
                    if (b == 0.0) continue;
                    int_node k1 = {.op = INT_CONST, .c = C, .h = H, .w = W};
                    snprintf(k1.name, sizeof k1.name, "%s.border%d", n->name, ic);
                    const size_t HWi = (size_t)g->in_h * g->in_w;
                    int32_t *ones = nn_xcalloc((size_t)g->in_c * HWi, sizeof(int32_t)),
                            *xc = nn_xmalloc(df_conv_scratch(g->in_c, n->groups, n->kernel, g->in_h, g->in_w, H, W) *
                                                   sizeof(int32_t));
                    for (size_t p = 0; p < HWi; p++) ones[(size_t)ic * HWi + p] = 1;
                    k1.data = nn_xmalloc((size_t)C * H * W * sizeof(int32_t));
                    df_conv(ones, g->in_c, g->in_h, g->in_w, 0, wi, NULL, C, n->kernel, n->stride, n->pad, n->dilation,
                            n->groups, H, W, xc, k1.data);
                    free(ones);
                    free(xc);
                    v->term[v->nt] = add_node(g, &k1);
                    v->mult[v->nt++] = dvec(&pool, C, 0);
                    for (int c = 0; c < C; c++) v->mult[v->nt - 1][c] = dw[c] * b;
                }
            } else if (a->kind == V_LIN && (n->op == NN_OP_LINEAR || as_linear) && a->nt == 1) {
                /* e.g. the GAP sum: x_i = t_i * mult_i + cst_i with one mult for all i */
                for (int c = 1; c < a->c; c++)
                    if (fabs(a->mult[0][c] - a->mult[0][0]) > 1e-12 * fabs(a->mult[0][0])) {
                        nn_fail(e, "node '%s': its input has a per-channel scale; quantize it (quant_fc_input)", n->name);
                        goto out;
                    }
                cn.in = a->term[0];
                v->term[v->nt] = add_node(g, &cn);
                v->mult[v->nt++] = dvec(&pool, C, 0);
                const int IN = a->c;
                for (int c = 0; c < C; c++) {
                    v->mult[0][c] = dw[c] * a->mult[0][0];
                    double s = 0;
                    for (int k = 0; k < IN; k++) s += (double)wi[(size_t)c * IN + k] * a->cst[k]; /* linear: [O][IN] */
                    v->cst[c] = dw[c] * s;
                }
            } else {
                nn_fail(e, "node '%s': its input '%s' is not quantized (no fake_quant before it)", n->name,
                        q->nodes[n->in[0]].name);
                goto out;
            }
            if (n->bias) {
                const nn_tensor *b = P(q, n, 1);
                for (int c = 0; c < C; c++) v->cst[c] += b->data[c];
            }
            break;
        }
        case NN_OP_BN: {
            a = lin_of(&pool, a, &tmp1);
            if (a->kind != V_LIN) {
                nn_fail(e, "node '%s': batchnorm of the raw input has no integer form", n->name);
                goto out;
            }
            const int k = n->affine ? 2 : 0;
            const float *rm = P(q, n, k)->data, *rv = P(q, n, k + 1)->data;
            *v = *a;
            for (int t = 0; t < a->nt; t++) v->mult[t] = dvec(&pool, C, 0);
            v->cst = dvec(&pool, C, 0);
            for (int c = 0; c < C; c++) {
                const double gm = n->affine ? P(q, n, 0)->data[c] : 1.0, bt = n->affine ? P(q, n, 1)->data[c] : 0.0;
                const double sc = gm / sqrt((double)rv[c] + n->eps);
                for (int t = 0; t < a->nt; t++) v->mult[t][c] = a->mult[t][c] * sc;
                v->cst[c] = (a->cst[c] - rm[c]) * sc + bt;
            }
            break;
        }
        case NN_OP_ADD: {
            value *b = lin_of(&pool, &val[n->in[1]], &tmp2);
            a = lin_of(&pool, a, &tmp1);
            if (a->kind != V_LIN || b->kind != V_LIN || a->nt + b->nt > DF_MAX_TERMS) {
                nn_fail(e, "node '%s': add has no integer form here (%d terms; at most %d)", n->name, a->nt + b->nt,
                        DF_MAX_TERMS);
                goto out;
            }
            v->kind = V_LIN;
            v->cst = dvec(&pool, C, 0);
            for (int t = 0; t < a->nt + b->nt; t++) {
                const value *s = t < a->nt ? a : b;
                const int u = t < a->nt ? t : t - a->nt;
                v->term[t] = s->term[u];
                v->mult[t] = dvec(&pool, C, 0);
                memcpy(v->mult[t], s->mult[u], (size_t)C * sizeof(double));
            }
            v->nt = a->nt + b->nt;
            for (int c = 0; c < C; c++) v->cst[c] = a->cst[c] + b->cst[c];
            break;
        }
        case NN_OP_RELU: {
            a = lin_of(&pool, a, &tmp1);
            if (a->kind != V_LIN) {
                nn_fail(e, "node '%s': relu of the raw input has no integer form", n->name);
                goto out;
            }
            *v = *a;
            for (int t = 0; t < a->nt; t++) {
                v->mult[t] = dvec(&pool, C, 0);
                memcpy(v->mult[t], a->mult[t], (size_t)C * sizeof(double));
            }
            v->cst = dvec(&pool, C, 0);
            memcpy(v->cst, a->cst, (size_t)C * sizeof(double));
            v->relu = 1;
            break;
        }
        case NN_OP_FAKE_QUANT: {
            const float *range = P(q, n, 0)->data, *obs = P(q, n, 1)->data;
            if (!(obs[0] > 0.0f)) {
                nn_fail(e, "node '%s': fake_quant was never calibrated (run datafree quantize)", n->name);
                goto out;
            }
            a = lin_of(&pool, a, &tmp1);
            if (a->kind != V_LIN) {
                nn_fail(e, "node '%s': quantizing the raw input is not supported by the integer path", n->name);
                goto out;
            }
            const float half = (float)(1 << (n->qbits - 1)), lo = range[0], hi = range[1];
            float s;
            int zp, qlo, qhi;
            if (n->qpot) {
                s = 1.0f / nn_quant_pot_step(n->qbits, lo, hi, &qlo, &qhi);
                zp = 0;
            } else if (n->qsym) {
                const float qmax = half - 1.0f;
                s = qmax / fmaxf(fmaxf(fabsf(lo), fabsf(hi)), 1e-8f);
                zp = 0, qlo = -(int)qmax, qhi = (int)qmax;
            } else {
                s = (2.0f * half - 1.0f) / fmaxf(hi - lo, 1e-8f);
                const float z = nearbyintf(s * lo) + half;
                zp = (int)(half - z), qlo = 0, qhi = (int)(2.0f * half - 1.0f);
            }
            if (a->relu && zp > qlo) qlo = zp; /* relu: values below 0 become the code of 0 */
            if (a->relu && n->qsym) qlo = 0;
            const int t = emit_requant(g, n->name, a, (double)s, (double)zp, qlo, qhi, e);
            if (t < 0) goto out;
            v->kind = V_CODE, v->t = t, v->zp = zp, v->d = 1.0 / (double)s;
            break;
        }
        case NN_OP_AVGPOOL:
            if (!(H == 1 && W == 1 && n->pad == 0 && n->kernel >= a->h && n->kernel >= a->w && a->h == a->w &&
                  n->kernel == a->h)) {
                nn_fail(e, "node '%s': average pooling over windows has no integer form yet (a global one does)", n->name);
                goto out;
            }
            __attribute__((fallthrough)); /* one window over the whole map: a global average */
        case NN_OP_GAP: {
            if (a->kind != V_CODE) {
                nn_fail(e, "node '%s': global average pooling of an unquantized tensor", n->name);
                goto out;
            }
            int_node sn = {.op = INT_SUM_HW, .in = a->t, .zp = a->zp, .c = C, .h = 1, .w = 1};
            snprintf(sn.name, sizeof sn.name, "%s", n->name);
            v->kind = V_LIN;
            v->nt = 1;
            v->term[0] = add_node(g, &sn);
            v->mult[0] = dvec(&pool, C, a->d / (double)(a->h * a->w));
            v->cst = dvec(&pool, C, 0);
            break;
        }
        case NN_OP_MAXPOOL: {
            if (a->kind != V_CODE) {
                nn_fail(e, "node '%s': max pooling of an unquantized tensor", n->name);
                goto out;
            }
            int_node mp = {.op = INT_MAXPOOL, .in = a->t, .k = n->kernel, .stride = n->stride, .pad = n->pad,
                           .c = C, .h = H, .w = W};
            snprintf(mp.name, sizeof mp.name, "%s", n->name);
            *v = *a;
            v->c = C, v->h = H, v->w = W;
            v->t = add_node(g, &mp);
            break;
        }
        case NN_OP_FLATTEN:
            /* a code, or a linear value on a 1x1 map (its channels are already the flat order) */
            if (a->kind != V_CODE && !(a->kind == V_LIN && a->h == 1 && a->w == 1)) {
                nn_fail(e, "node '%s': flatten of an unquantized tensor", n->name);
                goto out;
            }
            *v = *a; /* CHW order is already the flat order */
            v->c = C, v->h = v->w = 1;
            break;
        default:
            nn_fail(e, "node '%s': op %s has no integer form yet", n->name, nn_op_name(n->op));
            goto out;
        }
    }
    {
        value *o = lin_of(&pool, &val[q->output], &tmp1);
        if (o->kind != V_LIN || o->relu) {
            nn_fail(e, "the output node '%s' has no integer form", q->nodes[q->output].name);
            goto out;
        }
        g->output = emit_requant(g, "logits", o, 65536.0, 0.0, INT32_MIN, INT32_MAX, e);
        if (g->output < 0) goto out;
    }
    for (int i = 0; i < g->n; i++) add_byte_weights(g, &g->nodes[i]);
    ok = 1;
out:
    for (int i = 0; i < pool.n; i++) free(pool.p[i]);
    free(pool.p);
    free(val);
    if (!ok) {
        cmp_int_free(g);
        return NULL;
    }
    return g;
}

void cmp_int_free(int_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        int_node *n = &g->nodes[i];
        free(n->wt);
        free(n->wq);
        free(n->kc);
        free(n->data);
        for (int t = 0; t < n->nterms; t++) free(n->m[t]);
    }
    free(g->nodes);
    free(g);
}

size_t cmp_int_conv_scratch(const int_graph *g)
{
    size_t mx = 0;
    for (int i = 0; i < g->n; i++) {
        const int_node *n = &g->nodes[i];
        if (n->op != INT_CONV && n->op != INT_ADDER) continue;
        const int_node *a = &g->nodes[n->in];
        const size_t k = df_conv_scratch(a->c, n->groups, n->k, a->h, a->w, n->h, n->w);
        mx = k > mx ? k : mx;
    }
    return mx;
}

size_t cmp_int_scratch_size(const int_graph *g)
{
    size_t s = 0;
    for (int i = 0; i < g->n; i++) s += (size_t)g->nodes[i].c * g->nodes[i].h * g->nodes[i].w;
    return s + cmp_int_conv_scratch(g); /* every tensor, plus the conv's im2col */
}

void cmp_int_run(const int_graph *g, const uint8_t *pixels, int32_t *scratch, int32_t *logits)
{
    int32_t *buf[1024];
    int32_t *p = scratch;
    NN_ASSERT(g->n <= 1024);
    for (int i = 0; i < g->n; i++) {
        buf[i] = p;
        p += (size_t)g->nodes[i].c * g->nodes[i].h * g->nodes[i].w;
    }
    int32_t *xc = p;
    for (int i = 0; i < g->n; i++) {
        const int_node *n = &g->nodes[i];
        const int_node *a = n->op == INT_INPUT || n->op == INT_CONST || n->op == INT_REQUANT ? NULL : &g->nodes[n->in];
        switch (n->op) {
        case INT_INPUT:
            for (int k = 0; k < n->c * n->h * n->w; k++) buf[i][k] = pixels[k];
            break;
        case INT_CONST: memcpy(buf[i], n->data, (size_t)n->c * n->h * n->w * sizeof(int32_t)); break;
        case INT_CONV:
            df_conv(buf[n->in], a->c, a->h, a->w, n->zp, n->wt, n->wq, n->c, n->k, n->stride, n->pad, n->dil, n->groups, n->h,
                    n->w, xc, buf[i]);
            break;
        case INT_ADDER:
            df_adder(buf[n->in], a->c, a->h, a->w, n->zp, n->xsh, n->wt, n->c, n->k, n->stride, n->pad, n->dil, n->groups,
                     n->h, n->w, xc, buf[i]);
            break;
        case INT_SUM_HW: df_sum_hw(buf[n->in], a->c, a->h * a->w, n->zp, buf[i]); break;
        case INT_LINEAR: df_linear(buf[n->in], a->c * a->h * a->w, n->zp, n->wt, n->c, buf[i]); break;
        case INT_MAXPOOL: df_maxpool(buf[n->in], a->c, a->h, a->w, n->k, n->stride, n->pad, n->h, n->w, buf[i]); break;
        case INT_REQUANT: {
            const int32_t *xs[DF_MAX_TERMS];
            const int64_t *ms[DF_MAX_TERMS];
            for (int t = 0; t < n->nterms; t++) xs[t] = buf[n->term[t]], ms[t] = n->m[t];
            df_requant(n->nterms, xs, ms, n->kc, n->c, n->h * n->w, n->sh, n->lo, n->hi, buf[i]);
            break;
        }
        }
    }
    memcpy(logits, buf[g->output], (size_t)g->num_classes * sizeof(int32_t));
}

typedef struct {
    const int_graph *g;
    const nn_dataset *d;
    int32_t *logits;
    long correct;
    int from, to;
} int_job;

static void *int_worker(void *arg)
{
    int_job *j = arg;
    int32_t *scratch = nn_xmalloc(cmp_int_scratch_size(j->g) * sizeof(int32_t)), lg[1024];
    const size_t per = (size_t)j->d->c * j->d->h * j->d->w;
    const int K = j->g->num_classes;
    for (int i = j->from; i < j->to; i++) {
        cmp_int_run(j->g, j->d->images + (size_t)i * per, scratch, lg);
        int b = 0;
        for (int k = 1; k < K; k++) b = lg[k] > lg[b] ? k : b;
        j->correct += b == j->d->labels[i];
        if (j->logits) memcpy(j->logits + (size_t)i * K, lg, (size_t)K * sizeof(int32_t));
    }
    free(scratch);
    return NULL;
}

double cmp_int_accuracy(const int_graph *g, const nn_dataset *d, int threads, int32_t *all_logits)
{
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pthread_t th[64];
    int_job jobs[64];
    for (int t = 0; t < threads; t++) {
        jobs[t] = (int_job){g, d, all_logits, 0, (int)((long)d->n * t / threads), (int)((long)d->n * (t + 1) / threads)};
        pthread_create(&th[t], NULL, int_worker, &jobs[t]);
    }
    long c = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        c += jobs[t].correct;
    }
    return d->n ? (double)c / d->n : 0.0;
}
