/* Graph IR -> ONNX (opset 13), float models only: a protobuf encoder into a
 * growable buffer, nested messages written to their own buffer first and
 * then appended behind their length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "onnx.h"

typedef struct {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static void w_bytes(wbuf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = nn_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void w_varint(wbuf *b, uint64_t v)
{
    uint8_t t[10];
    int k = 0;
    do {
        t[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    w_bytes(b, t, (size_t)k);
}

static void w_key(wbuf *b, int field, int wire) { w_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
static void w_int(wbuf *b, int field, int64_t v)
{
    w_key(b, field, 0);
    w_varint(b, (uint64_t)v);
}
static void w_str(wbuf *b, int field, const char *s)
{
    w_key(b, field, 2);
    w_varint(b, strlen(s));
    w_bytes(b, s, strlen(s));
}
static void w_msg(wbuf *b, int field, wbuf *sub) /* appends and frees sub */
{
    w_key(b, field, 2);
    w_varint(b, sub->n);
    w_bytes(b, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}
static void w_f32(wbuf *b, int field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t t[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    w_key(b, field, 5);
    w_bytes(b, t, 4);
}

/* ---- ONNX messages ---- */

static void attr_int(wbuf *node, const char *name, int64_t v)
{
    wbuf a = {0};
    w_str(&a, 1, name);
    w_int(&a, 3, v);
    w_int(&a, 20, 2); /* INT */
    w_msg(node, 5, &a);
}

static void attr_float(wbuf *node, const char *name, float v)
{
    wbuf a = {0};
    w_str(&a, 1, name);
    w_f32(&a, 2, v);
    w_int(&a, 20, 1); /* FLOAT */
    w_msg(node, 5, &a);
}

static void attr_ints(wbuf *node, const char *name, const int64_t *v, int n)
{
    wbuf a = {0};
    w_str(&a, 1, name);
    for (int k = 0; k < n; k++) w_int(&a, 8, v[k]);
    w_int(&a, 20, 7); /* INTS */
    w_msg(node, 5, &a);
}

static void attr_str(wbuf *node, const char *name, const char *v)
{
    wbuf a = {0};
    w_str(&a, 1, name);
    w_str(&a, 4, v);
    w_int(&a, 20, 3); /* STRING */
    w_msg(node, 5, &a);
}

static void init_tensor(wbuf *graph, const char *name, const float *data, int ndim, const int64_t *dims)
{
    wbuf t = {0};
    size_t n = 1;
    for (int k = 0; k < ndim; k++) {
        w_int(&t, 1, dims[k]);
        n *= (size_t)dims[k];
    }
    w_int(&t, 2, 1); /* FLOAT */
    w_str(&t, 8, name);
    w_key(&t, 9, 2); /* raw_data, little-endian */
    w_varint(&t, n * 4);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        w_bytes(&t, b, 4);
    }
    w_msg(graph, 5, &t);
}

/* An integer initializer: dtype 2 uint8, 3 int8 (values given as int). */
static void init_ints(wbuf *graph, const char *name, int dtype, const int *v, int ndim, const int64_t *dims)
{
    wbuf t = {0};
    size_t n = 1;
    for (int k = 0; k < ndim; k++) {
        w_int(&t, 1, dims[k]);
        n *= (size_t)dims[k];
    }
    w_int(&t, 2, dtype);
    w_str(&t, 8, name);
    w_key(&t, 9, 2);
    w_varint(&t, n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t b = (uint8_t)(v[i] & 0xff);
        w_bytes(&t, &b, 1);
    }
    w_msg(graph, 5, &t);
}

static void value_info(wbuf *graph, int field, const char *name, int ndim, const int64_t *dims)
{
    wbuf shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int k = 0; k < ndim; k++) {
        wbuf d = {0};
        if (dims[k] < 0) w_str(&d, 2, "N");
        else w_int(&d, 1, dims[k]);
        w_msg(&shape, 1, &d);
    }
    w_int(&tt, 1, 1); /* FLOAT */
    w_msg(&tt, 2, &shape);
    w_msg(&type, 1, &tt);
    w_str(&vi, 1, name);
    w_msg(&vi, 2, &type);
    w_msg(graph, field, &vi);
}

/* A node: op, inputs (NULL-terminated; "" for an omitted optional), output. */
static void begin_node(wbuf *node, const char *op, const char *name, const char *const *ins, const char *out)
{
    memset(node, 0, sizeof *node);
    for (int k = 0; ins[k]; k++) w_str(node, 1, ins[k]);
    w_str(node, 2, out);
    w_str(node, 3, name);
    w_str(node, 4, op);
}

#define QONNX_DOMAIN "qonnx.custom_op.general"

/* A QONNX Quant node: y = (clip(round(x / scale + zeropt)) - zeropt) * scale
 * over `bits` bits (signed or not), rounding half to even. */
static void qonnx_quant(wbuf *graph, const char *x, const char *out, const float *scale, const float *zeropt, int nch,
                        int ndim, int bits, int sign)
{
    char sn[NN_NAME_LEN + 60], zn[NN_NAME_LEN + 60], bn[NN_NAME_LEN + 60];
    snprintf(sn, sizeof sn, "%s.scale", out);
    snprintf(zn, sizeof zn, "%s.zeropt", out);
    snprintf(bn, sizeof bn, "%s.bitwidth", out);
    int64_t dims[4] = {nch, 1, 1, 1};
    const float bw = (float)bits;
    init_tensor(graph, sn, scale, nch > 1 ? ndim : 0, dims);
    init_tensor(graph, zn, zeropt, nch > 1 ? ndim : 0, dims);
    init_tensor(graph, bn, &bw, 0, dims);
    wbuf node;
    const char *ins[] = {x, sn, zn, bn, NULL};
    begin_node(&node, "Quant", out, ins, out);
    w_str(&node, 7, QONNX_DOMAIN);
    attr_int(&node, "signed", sign);
    attr_int(&node, "narrow", 0);
    attr_str(&node, "rounding_mode", "ROUND");
    w_msg(graph, 1, &node);
}

/* QDQ: a quantized conv/linear weight as int8 codes behind a per-channel
 * DequantizeLinear (value = (v - (-zw)) * step); returns the dequantized name. */
static const char *qdq_weight(wbuf *graph, const nn_gnode *n, const nn_param *w, char *out, size_t outn)
{
    const int O = w->t.shape[0];
    int16_t *v = nn_xmalloc(w->t.numel * sizeof(int16_t));
    int *zw = nn_xmalloc((size_t)O * sizeof(int)), *vi = nn_xmalloc(w->t.numel * sizeof(int));
    double *step = nn_xmalloc((size_t)O * sizeof(double));
    float *scale = nn_xmalloc((size_t)O * sizeof(float));
    nn_quant_weight_codes(&w->t, (nn_qspec){.bits = n->qbits, .symmetric = n->qsym, .pot = n->qpot, .mse = n->qmse}, n->qperch, v, zw, step);
    for (size_t i = 0; i < w->t.numel; i++) vi[i] = v[i];
    for (int o = 0; o < O; o++) zw[o] = -zw[o], scale[o] = (float)step[o];
    char qn[NN_NAME_LEN + 40], sn[NN_NAME_LEN + 40], zn[NN_NAME_LEN + 40];
    snprintf(qn, sizeof qn, "%s.weight_q", n->name);
    snprintf(sn, sizeof sn, "%s.weight_scale", n->name);
    snprintf(zn, sizeof zn, "%s.weight_zero_point", n->name);
    snprintf(out, outn, "%s.weight_dq", n->name);
    int64_t dims[4];
    for (int k = 0; k < w->t.ndim; k++) dims[k] = w->t.shape[k];
    init_ints(graph, qn, 3, vi, w->t.ndim, dims);
    dims[0] = O;
    init_tensor(graph, sn, scale, 1, dims);
    init_ints(graph, zn, 3, zw, 1, dims);
    wbuf node;
    const char *ins[] = {qn, sn, zn, NULL};
    begin_node(&node, "DequantizeLinear", out, ins, out);
    attr_int(&node, "axis", 0);
    w_msg(graph, 1, &node);
    free(v), free(zw), free(vi), free(step), free(scale);
    return out;
}

/* QONNX: the float weight behind a per-channel Quant node (signed codes,
 * zeropt -zw, as the fake quantizer rounds). */
static const char *qonnx_weight(wbuf *graph, const nn_gnode *n, const nn_param *w, char *out, size_t outn)
{
    const int O = w->t.shape[0];
    int16_t *v = nn_xmalloc(w->t.numel * sizeof(int16_t));
    int *zw = nn_xmalloc((size_t)O * sizeof(int));
    double *step = nn_xmalloc((size_t)O * sizeof(double));
    float *scale = nn_xmalloc((size_t)O * sizeof(float)), *zp = nn_xmalloc((size_t)O * sizeof(float));
    nn_quant_weight_codes(&w->t, (nn_qspec){.bits = n->qbits, .symmetric = n->qsym, .pot = n->qpot, .mse = n->qmse}, n->qperch, v, zw, step);
    for (int o = 0; o < O; o++) scale[o] = (float)step[o], zp[o] = (float)-zw[o];
    int64_t dims[4];
    for (int k = 0; k < w->t.ndim; k++) dims[k] = w->t.shape[k];
    init_tensor(graph, w->name, w->t.data, w->t.ndim, dims);
    snprintf(out, outn, "%s.weight_quant", n->name);
    qonnx_quant(graph, w->name, out, scale, zp, O, w->t.ndim, n->qbits, 1);
    free(v), free(zw), free(step), free(scale), free(zp);
    return out;
}

static int onnx_write(const nn_graph *g, const char *path, int qdq, nn_err *e);

int nn_onnx_save(const nn_graph *g, const char *path, nn_err *e) { return onnx_write(g, path, 0, e); }
int nn_onnx_save_qdq(const nn_graph *g, const char *path, nn_err *e) { return onnx_write(g, path, 1, e); }
int nn_onnx_save_qonnx(const nn_graph *g, const char *path, nn_err *e) { return onnx_write(g, path, 2, e); }

static int onnx_write(const nn_graph *g, const char *path, int qdq, nn_err *e)
{
    if (g->in_ndim != 3) return nn_fail(e, "%s: ONNX export needs an image model ([C, H, W] input)", path);
    wbuf graph = {0}, node;
    char tmp[NN_NAME_LEN + 40], tmp2[NN_NAME_LEN + 40];
    /* value names: the IR node names; the input keeps the name "input" */
    for (int i = 1; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i];
        const char *x = g->nodes[n->in[0]].name;
        const nn_param *P0 = n->param[0] >= 0 ? &g->params[n->param[0]] : NULL;
        const nn_param *P1 = n->param[1] >= 0 ? &g->params[n->param[1]] : NULL;
        int64_t dims[4];
        switch (n->op) {
        case NN_OP_CONV: {
            if (n->qbits && !qdq) goto quantized;
            char wdq[NN_NAME_LEN + 40];
            const char *ins[] = {x, !n->qbits ? P0->name
                                           : qdq == 2 ? qonnx_weight(&graph, n, P0, wdq, sizeof wdq)
                                                      : qdq_weight(&graph, n, P0, wdq, sizeof wdq),
                                 n->bias ? P1->name : NULL, NULL};
            begin_node(&node, "Conv", n->name, ins, n->name);
            int64_t k2[2] = {n->kernel, n->kernel}, s2[2] = {n->stride, n->stride}, d2[2] = {n->dilation, n->dilation};
            int64_t p4[4] = {n->pad, n->pad, n->pad, n->pad};
            attr_ints(&node, "kernel_shape", k2, 2);
            attr_ints(&node, "strides", s2, 2);
            attr_ints(&node, "pads", p4, 4);
            attr_ints(&node, "dilations", d2, 2);
            attr_int(&node, "group", n->groups);
            w_msg(&graph, 1, &node);
            for (int k = 0; k < 4; k++) dims[k] = P0->t.shape[k];
            if (!n->qbits) init_tensor(&graph, P0->name, P0->t.data, 4, dims);
            if (n->bias) {
                dims[0] = P1->t.shape[0];
                init_tensor(&graph, P1->name, P1->t.data, 1, dims);
            }
            break;
        }
        case NN_OP_BN: {
            const int C = g->nodes[n->in[0]].shape[0], k0 = n->affine ? 2 : 0;
            char names[4][NN_NAME_LEN + 40];
            const char *sfx[4] = {"weight", "bias", "running_mean", "running_var"};
            float *ones = nn_xmalloc((size_t)C * sizeof(float)), *zeros = nn_xcalloc((size_t)C, sizeof(float));
            for (int c = 0; c < C; c++) ones[c] = 1.0f;
            dims[0] = C;
            for (int k = 0; k < 4; k++) {
                snprintf(names[k], sizeof names[k], "%s.%s", n->name, sfx[k]);
                const float *d = k < 2 && !n->affine ? (k == 0 ? ones : zeros) : g->params[n->param[k < 2 ? k : k0 + k - 2]].t.data;
                init_tensor(&graph, names[k], d, 1, dims);
            }
            free(ones);
            free(zeros);
            const char *ins[] = {x, names[0], names[1], names[2], names[3], NULL};
            begin_node(&node, "BatchNormalization", n->name, ins, n->name);
            attr_float(&node, "epsilon", n->eps);
            attr_float(&node, "momentum", 1.0f - n->momentum);
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_RELU:
        case NN_OP_TANH:
        case NN_OP_SIGMOID:
        case NN_OP_LEAKY_RELU:
        case NN_OP_FLATTEN: {
            const char *op = n->op == NN_OP_RELU ? "Relu" : n->op == NN_OP_TANH ? "Tanh" : n->op == NN_OP_SIGMOID ? "Sigmoid"
                           : n->op == NN_OP_LEAKY_RELU                                            ? "LeakyRelu"
                                                                                                  : "Flatten";
            const char *ins[] = {x, NULL};
            begin_node(&node, op, n->name, ins, n->name);
            if (n->op == NN_OP_LEAKY_RELU) attr_float(&node, "alpha", n->slope);
            if (n->op == NN_OP_FLATTEN) attr_int(&node, "axis", 1);
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_HARDSIGMOID:
        case NN_OP_HARDSWISH: {
            const char *ins[] = {x, NULL};
            if (n->op == NN_OP_HARDSWISH) { /* opset 14's HardSwish, as HardSigmoid(1/6, 1/2) * x in opset 13 */
                snprintf(tmp, sizeof tmp, "%s.gate", n->name);
                begin_node(&node, "HardSigmoid", tmp, ins, tmp);
                attr_float(&node, "alpha", 1.0f / 6.0f);
                attr_float(&node, "beta", 0.5f);
                w_msg(&graph, 1, &node);
                const char *ins2[] = {x, tmp, NULL};
                begin_node(&node, "Mul", n->name, ins2, n->name);
            } else {
                begin_node(&node, "HardSigmoid", n->name, ins, n->name);
                attr_float(&node, "alpha", n->alpha);
                attr_float(&node, "beta", n->beta);
            }
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_CHANNEL_AFFINE: { /* Mul then Add, constants shaped to broadcast per channel */
            const int C = g->nodes[n->in[0]].shape[0], spatial = g->nodes[n->in[0]].ndim == 3;
            int64_t cd[3] = {C, 1, 1};
            snprintf(tmp, sizeof tmp, "%s.scale", n->name);
            snprintf(tmp2, sizeof tmp2, "%s.shift", n->name);
            init_tensor(&graph, tmp, P0->t.data, spatial ? 3 : 1, cd);
            init_tensor(&graph, tmp2, P1->t.data, spatial ? 3 : 1, cd);
            char mid[NN_NAME_LEN + 40];
            snprintf(mid, sizeof mid, "%s.scaled", n->name);
            const char *ins[] = {x, tmp, NULL}, *ins2[] = {mid, tmp2, NULL};
            begin_node(&node, "Mul", mid, ins, mid);
            w_msg(&graph, 1, &node);
            begin_node(&node, "Add", n->name, ins2, n->name);
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_RELU6:
        case NN_OP_HARDTANH: {
            const float lo = n->op == NN_OP_RELU6 ? 0.0f : n->lo, hi = n->op == NN_OP_RELU6 ? 6.0f : n->hi;
            snprintf(tmp, sizeof tmp, "%s.min", n->name);
            snprintf(tmp2, sizeof tmp2, "%s.max", n->name);
            init_tensor(&graph, tmp, &lo, 0, dims);
            init_tensor(&graph, tmp2, &hi, 0, dims);
            const char *ins[] = {x, tmp, tmp2, NULL};
            begin_node(&node, "Clip", n->name, ins, n->name);
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_MAXPOOL:
        case NN_OP_AVGPOOL: {
            const char *ins[] = {x, NULL};
            begin_node(&node, n->op == NN_OP_MAXPOOL ? "MaxPool" : "AveragePool", n->name, ins, n->name);
            int64_t k2[2] = {n->kernel, n->kernel}, s2[2] = {n->stride, n->stride}, p4[4] = {n->pad, n->pad, n->pad, n->pad};
            attr_ints(&node, "kernel_shape", k2, 2);
            attr_ints(&node, "strides", s2, 2);
            attr_ints(&node, "pads", p4, 4);
            if (n->op == NN_OP_AVGPOOL) attr_int(&node, "count_include_pad", n->count_include_pad);
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_GAP: { /* the IR's GAP gives [N, C]: GlobalAveragePool then Flatten */
            snprintf(tmp, sizeof tmp, "%s.pooled", n->name);
            const char *ins[] = {x, NULL}, *ins2[] = {tmp, NULL};
            begin_node(&node, "GlobalAveragePool", n->name, ins, tmp);
            w_msg(&graph, 1, &node);
            snprintf(tmp2, sizeof tmp2, "%s.flatten", n->name);
            begin_node(&node, "Flatten", tmp2, ins2, n->name);
            attr_int(&node, "axis", 1);
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_ADD:
        case NN_OP_CONCAT: {
            const char *ins[NN_MAX_INPUTS + 1] = {0};
            for (int k = 0; k < n->nin; k++) ins[k] = g->nodes[n->in[k]].name;
            begin_node(&node, n->op == NN_OP_ADD ? "Add" : "Concat", n->name, ins, n->name);
            if (n->op == NN_OP_CONCAT) attr_int(&node, "axis", 1);
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_LINEAR: {
            if (n->qbits && !qdq) goto quantized;
            char wdq[NN_NAME_LEN + 40];
            const char *ins[] = {x, !n->qbits ? P0->name
                                           : qdq == 2 ? qonnx_weight(&graph, n, P0, wdq, sizeof wdq)
                                                      : qdq_weight(&graph, n, P0, wdq, sizeof wdq),
                                 n->bias ? P1->name : NULL, NULL};
            begin_node(&node, "Gemm", n->name, ins, n->name);
            attr_int(&node, "transB", 1);
            w_msg(&graph, 1, &node);
            dims[0] = P0->t.shape[0];
            dims[1] = P0->t.shape[1];
            if (!n->qbits) init_tensor(&graph, P0->name, P0->t.data, 2, dims);
            if (n->bias) init_tensor(&graph, P1->name, P1->t.data, 1, dims);
            break;
        }
        case NN_OP_UPSAMPLE_NEAREST:
        case NN_OP_UPSAMPLE_BILINEAR: {
            const float sc[4] = {1.0f, 1.0f, (float)n->scale, (float)n->scale};
            snprintf(tmp, sizeof tmp, "%s.scales", n->name);
            dims[0] = 4;
            init_tensor(&graph, tmp, sc, 1, dims);
            const char *ins[] = {x, "", tmp, NULL};
            begin_node(&node, "Resize", n->name, ins, n->name);
            if (n->op == NN_OP_UPSAMPLE_NEAREST) {
                attr_str(&node, "mode", "nearest");
                attr_str(&node, "coordinate_transformation_mode", "asymmetric");
                attr_str(&node, "nearest_mode", "floor");
            } else {
                attr_str(&node, "mode", "linear");
                attr_str(&node, "coordinate_transformation_mode", "half_pixel");
            }
            w_msg(&graph, 1, &node);
            break;
        }
        case NN_OP_FAKE_QUANT:
            if (qdq) { /* Clip to the code range, QuantizeLinear, DequantizeLinear */
                const float *range = g->params[n->param[0]].t.data, *obs = g->params[n->param[1]].t.data;
                if (!(obs[0] > 0.0f)) {
                    free(graph.p);
                    return nn_fail(e, "%s: node '%s' was never calibrated", path, n->name);
                }
                const float half = (float)(1 << (n->qbits - 1));
                float s;
                int zp, qlo, qhi, dtype;
                if (n->qpot) {
                    s = 1.0f / nn_quant_pot_step(n->qbits, range[0], range[1], &qlo, &qhi);
                    zp = 0, dtype = qlo < 0 ? 3 : 2;
                } else if (n->qsym) {
                    s = (half - 1.0f) / fmaxf(fmaxf(fabsf(range[0]), fabsf(range[1])), 1e-8f);
                    zp = 0, qlo = -(int)(half - 1.0f), qhi = (int)(half - 1.0f), dtype = 3;
                } else {
                    s = (2.0f * half - 1.0f) / fmaxf(range[1] - range[0], 1e-8f);
                    zp = (int)(half - (nearbyintf(s * range[0]) + half)), qlo = 0, qhi = (int)(2.0f * half - 1.0f);
                    dtype = 2;
                    if (zp < 0 || zp > 255) {
                        free(graph.p);
                        return nn_fail(e, "%s: node '%s': zero point %d does not fit uint8", path, n->name, zp);
                    }
                }
                if (qdq == 2) { /* one Quant node, its own clip */
                    const float scale = 1.0f / s, zpf = (float)zp;
                    qonnx_quant(&graph, x, n->name, &scale, &zpf, 1, 0, n->qbits, n->qpot ? qlo < 0 : n->qsym);
                    break;
                }
                if (n->qbits > 8) {
                    free(graph.p);
                    return nn_fail(e, "%s: node '%s': %d-bit activations (QDQ takes up to 8)", path, n->name, n->qbits);
                }
                const float scale = 1.0f / s, lim[2] = {(float)(qlo - zp) * scale, (float)(qhi - zp) * scale};
                char cl[2][NN_NAME_LEN + 40], sc[NN_NAME_LEN + 40], zn[NN_NAME_LEN + 40], mid[2][NN_NAME_LEN + 40];
                snprintf(cl[0], sizeof cl[0], "%s.clip_min", n->name);
                snprintf(cl[1], sizeof cl[1], "%s.clip_max", n->name);
                snprintf(sc, sizeof sc, "%s.scale", n->name);
                snprintf(zn, sizeof zn, "%s.zero_point", n->name);
                snprintf(mid[0], sizeof mid[0], "%s.clipped", n->name);
                snprintf(mid[1], sizeof mid[1], "%s.q", n->name);
                init_tensor(&graph, cl[0], &lim[0], 0, dims);
                init_tensor(&graph, cl[1], &lim[1], 0, dims);
                init_tensor(&graph, sc, &scale, 0, dims);
                init_ints(&graph, zn, dtype, &zp, 0, dims);
                const char *ci[] = {x, cl[0], cl[1], NULL}, *qi[] = {mid[0], sc, zn, NULL}, *di[] = {mid[1], sc, zn, NULL};
                begin_node(&node, "Clip", mid[0], ci, mid[0]);
                w_msg(&graph, 1, &node);
                begin_node(&node, "QuantizeLinear", mid[1], qi, mid[1]);
                w_msg(&graph, 1, &node);
                begin_node(&node, "DequantizeLinear", n->name, di, n->name);
                w_msg(&graph, 1, &node);
                break;
            }
        quantized:
            free(graph.p);
            return nn_fail(e, "%s: node '%s' is quantized; ONNX export here writes float models (quantized "
                              "exports come with `datafree export`)", path, n->name);
        default:
            free(graph.p);
            return nn_fail(e, "%s: node '%s' (%s) has no ONNX form here", path, n->name, nn_op_name(n->op));
        }
    }
    w_str(&graph, 2, g->name);
    int64_t in_dims[4] = {-1, g->in_shape[0], g->in_shape[1], g->in_shape[2]};
    value_info(&graph, 11, "input", 4, in_dims);
    const nn_gnode *o = &g->nodes[g->output];
    int64_t out_dims[4] = {-1, o->shape[0], o->shape[1], o->shape[2]};
    value_info(&graph, 12, o->name, 1 + o->ndim, out_dims);
    wbuf model = {0}, opset = {0};
    w_int(&model, 1, 7); /* IR version 7 (ONNX 1.8+), opset 13 */
    w_str(&model, 2, "datafree");
    w_msg(&model, 7, &graph);
    w_str(&opset, 1, "");
    w_int(&opset, 2, 13);
    w_msg(&model, 8, &opset);
    if (qdq == 2) {
        wbuf q = {0};
        w_str(&q, 1, QONNX_DOMAIN);
        w_int(&q, 2, 1);
        w_msg(&model, 8, &q);
    }
    int rc = nn_write_file_atomic(path, (const char *)model.p, model.n, e);
    free(model.p);
    return rc;
}
