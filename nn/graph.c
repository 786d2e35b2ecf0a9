/* Graph IR: building, shape inference, parameters, forward execution. The
 * JSON and safetensors forms are in graph_io.c. */
#include "graph.h"
#include "ops/bin_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *op_names[NN_OP_COUNT] = {
    "input",   "conv2d",  "batchnorm",      "cond_batchnorm", "relu",   "relu6",   "leaky_relu",
    "tanh",    "sigmoid", "hardtanh",       "maxpool2d",      "avgpool2d", "global_avgpool", "add",
    "concat",  "flatten", "linear",         "upsample_nearest", "upsample_bilinear", "label_embed", "reshape",
    "fake_quant", "hardsigmoid", "hardswish", "channel_affine", "mix", "adder_conv2d", "sign",
};

const char *nn_op_name(nn_op_kind k) { return k < NN_OP_COUNT ? op_names[k] : "?"; }

int nn_op_from_name(const char *s)
{
    for (int i = 0; i < NN_OP_COUNT; i++)
        if (!strcmp(op_names[i], s)) return i;
    return -1;
}

nn_graph *nn_graph_new(const char *name, int c, int h, int w, int num_classes)
{
    nn_graph *g = nn_xcalloc(1, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->in_shape[0] = c;
    g->in_shape[1] = h;
    g->in_shape[2] = w;
    g->num_classes = num_classes;
    g->in_ndim = 3;
    for (int i = 0; i < 4; i++) {
        g->mean[i] = 0.0f;
        g->std[i] = 1.0f;
    }
    nn_gnode in = {.op = NN_OP_INPUT};
    snprintf(in.name, sizeof in.name, "input");
    nn_g_add_node(g, &in);
    return g;
}

nn_graph *nn_graph_new_vec(const char *name, int dim, int num_classes)
{
    nn_graph *g = nn_graph_new(name, dim, 0, 0, num_classes);
    g->in_ndim = 1;
    return g;
}

int nn_graph_input_shape(const nn_graph *g, int batch, int shape[4])
{
    shape[0] = batch;
    for (int i = 0; i < g->in_ndim; i++) shape[1 + i] = g->in_shape[i];
    return 1 + g->in_ndim;
}

void nn_graph_free(nn_graph *g)
{
    if (!g) return;
    free(g->nodes);
    free(g->params);
    free(g->blob);
    free(g->grad);
    free(g);
}

int nn_graph_find(const nn_graph *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->nodes[i].name, name)) return i;
    return -1;
}

int nn_g_add_node(nn_graph *g, const nn_gnode *proto)
{
    NN_ASSERT(!g->finalized);
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 32;
        g->nodes = realloc(g->nodes, (size_t)g->cap * sizeof *g->nodes);
        NN_ASSERT(g->nodes);
    }
    nn_gnode *n = &g->nodes[g->n];
    *n = *proto;
    for (int i = 0; i < NN_MAX_NODE_PARAMS; i++) n->param[i] = -1;
    g->output = g->n;
    return g->n++;
}

nn_gnode nn_gnode_default(const char *name, nn_op_kind op, int in)
{
    nn_gnode n;
    memset(&n, 0, sizeof n);
    snprintf(n.name, sizeof n.name, "%s", name);
    n.op = op;
    n.in[0] = in;
    n.nin = 1;
    n.stride = n.dilation = n.groups = 1;
    n.eps = 1e-5f;
    n.momentum = 0.1f;
    n.affine = 1;
    n.slope = 0.01f;
    n.lo = -1.0f;
    n.hi = 1.0f;
    n.scale = 2;
    n.count_include_pad = 1;
    n.qbeta = 0.9f;
    n.alpha = 0.2f; /* ONNX's HardSigmoid defaults */
    n.beta = 0.5f;
    n.qfreeze = -1;
    n.qperch = 1;
    return n;
}

int nn_g_conv(nn_graph *g, const char *name, int in, int oc, int k, int stride, int pad, int groups, int bias)
{
    nn_gnode n = nn_gnode_default(name, NN_OP_CONV, in);
    n.out_channels = oc;
    n.kernel = k;
    n.stride = stride;
    n.pad = pad;
    n.groups = groups;
    n.bias = bias;
    return nn_g_add_node(g, &n);
}

int nn_g_bn(nn_graph *g, const char *name, int in)
{
    nn_gnode n = nn_gnode_default(name, NN_OP_BN, in);
    return nn_g_add_node(g, &n);
}

int nn_g_act(nn_graph *g, const char *name, nn_op_kind op, int in)
{
    nn_gnode n = nn_gnode_default(name, op, in);
    return nn_g_add_node(g, &n);
}

int nn_g_pool(nn_graph *g, const char *name, nn_op_kind op, int in, int k, int stride, int pad)
{
    nn_gnode n = nn_gnode_default(name, op, in);
    n.kernel = k;
    n.stride = stride;
    n.pad = pad;
    return nn_g_add_node(g, &n);
}

int nn_g_unary(nn_graph *g, const char *name, nn_op_kind op, int in)
{
    nn_gnode n = nn_gnode_default(name, op, in);
    return nn_g_add_node(g, &n);
}

int nn_g_add(nn_graph *g, const char *name, int a, int b)
{
    nn_gnode n = nn_gnode_default(name, NN_OP_ADD, a);
    n.in[1] = b;
    n.nin = 2;
    return nn_g_add_node(g, &n);
}

int nn_g_concat(nn_graph *g, const char *name, const int *ins, int cnt)
{
    NN_ASSERT(cnt >= 1 && cnt <= NN_MAX_INPUTS);
    nn_gnode n = nn_gnode_default(name, NN_OP_CONCAT, ins[0]);
    for (int i = 0; i < cnt; i++) n.in[i] = ins[i];
    n.nin = cnt;
    return nn_g_add_node(g, &n);
}

int nn_g_linear(nn_graph *g, const char *name, int in, int out, int bias)
{
    nn_gnode n = nn_gnode_default(name, NN_OP_LINEAR, in);
    n.out_channels = out;
    n.bias = bias;
    return nn_g_add_node(g, &n);
}

/* ---- finalize: shapes and parameters ---- */

typedef struct {
    const char *suffix;
    int ndim, shape[4];
    int trainable, decay;
    float init; /* constant initial value */
} param_spec;

static int node_params(const nn_gnode *n, const nn_gnode *a, param_spec *ps)
{
    const int *ish = a->shape;
    int k = 0;
    switch (n->op) {
    case NN_OP_CONV:
        ps[k++] = (param_spec){"weight", 4, {n->out_channels, ish[0] / n->groups, n->kernel, n->kernel}, 1, 1, 0};
        if (n->bias) ps[k++] = (param_spec){"bias", 1, {n->out_channels}, 1, 0, 0};
        break;
    case NN_OP_LINEAR:
        ps[k++] = (param_spec){"weight", 2, {n->out_channels, (int)nn_shape_numel(a->ndim, a->shape)}, 1, 1, 0};
        if (n->bias) ps[k++] = (param_spec){"bias", 1, {n->out_channels}, 1, 0, 0};
        break;
    case NN_OP_BN:
        if (n->affine) {
            ps[k++] = (param_spec){"weight", 1, {ish[0]}, 1, 0, 1.0f};
            ps[k++] = (param_spec){"bias", 1, {ish[0]}, 1, 0, 0.0f};
        }
        ps[k++] = (param_spec){"running_mean", 1, {ish[0]}, 0, 0, 0.0f};
        ps[k++] = (param_spec){"running_var", 1, {ish[0]}, 0, 0, 1.0f};
        break;
    case NN_OP_LABEL_EMBED:
        ps[k++] = (param_spec){"weight", 2, {n->num_classes, ish[0]}, 1, 0, 0.0f};
        break;
    case NN_OP_COND_BN:
        ps[k++] = (param_spec){"weight", 2, {n->num_classes, ish[0]}, 1, 0, 1.0f};
        ps[k++] = (param_spec){"bias", 2, {n->num_classes, ish[0]}, 1, 0, 0.0f};
        ps[k++] = (param_spec){"running_mean", 1, {ish[0]}, 0, 0, 0.0f};
        ps[k++] = (param_spec){"running_var", 1, {ish[0]}, 0, 0, 1.0f};
        break;
    case NN_OP_CHANNEL_AFFINE:
        ps[k++] = (param_spec){"scale", 1, {ish[0]}, 0, 0, 1.0f};
        ps[k++] = (param_spec){"shift", 1, {ish[0]}, 0, 0, 0.0f};
        break;
    case NN_OP_MIX:
        ps[k++] = (param_spec){"alpha", 2, {1, n->candidates}, 1, 0, 0.0f};
        break;
    case NN_OP_ADDER_CONV:
        ps[k++] = (param_spec){"weight", 4, {n->out_channels, ish[0] / n->groups, n->kernel, n->kernel}, 1, 1, 0};
        break;
    case NN_OP_FAKE_QUANT: /* {lo, hi}; observer {updates, lo_acc, hi_acc} */
        ps[k++] = (param_spec){"range", 1, {2}, 0, 0, 0.0f};
        ps[k++] = (param_spec){"observer", 1, {3}, 0, 0, 0.0f};
        break;
    default:
        break;
    }
    return k;
}

int nn_graph_infer_node(nn_graph *g, int idx, nn_err *e)
{
    nn_gnode *n = &g->nodes[idx];
    if (n->op == NN_OP_INPUT) {
        n->ndim = g->in_ndim;
        memcpy(n->shape, g->in_shape, sizeof g->in_shape);
        return NN_OK;
    }
    for (int i = 0; i < n->nin; i++)
        if (n->in[i] < 0 || n->in[i] >= idx)
            return nn_fail(e, "node '%s': input %d is not an earlier node", n->name, i);
    const nn_gnode *a = &g->nodes[n->in[0]];
    const int *s = a->shape;
    int spatial = a->ndim == 3;
    memcpy(n->shape, a->shape, sizeof n->shape);
    n->ndim = a->ndim;
    if ((n->op == NN_OP_CONV || n->op == NN_OP_LINEAR || n->op == NN_OP_ADDER_CONV) && n->qbits &&
        (n->qbits < 2 || n->qbits > 16))
        return nn_fail(e, "node '%s': weight bits %d (2..16, or 0 for float)", n->name, n->qbits);
    if (n->wbin && (n->qbits || (n->op != NN_OP_CONV && n->op != NN_OP_LINEAR) || n->wbin > 2))
        return nn_fail(e, "node '%s': binary weights are for float conv/linear nodes", n->name);
    switch (n->op) {
    case NN_OP_ADDER_CONV:
        if (n->bias) return nn_fail(e, "node '%s': adder_conv2d has no bias", n->name);
        __attribute__((fallthrough)); /* the geometry is a conv's */
    case NN_OP_CONV: {
        if (!spatial) return nn_fail(e, "node '%s': conv2d needs a [C,H,W] input, got a vector", n->name);
        if (n->kernel < 1 || n->stride < 1 || n->dilation < 1 || n->groups < 1 || n->out_channels < 1 || n->pad < 0)
            return nn_fail(e, "node '%s': conv2d attributes must be positive", n->name);
        if (s[0] % n->groups || n->out_channels % n->groups)
            return nn_fail(e, "node '%s': groups %d must divide in channels %d and out channels %d", n->name,
                           n->groups, s[0], n->out_channels);
        int oh = nn_conv_out(s[1], n->kernel, n->stride, n->pad, n->dilation);
        int ow = nn_conv_out(s[2], n->kernel, n->stride, n->pad, n->dilation);
        if (oh < 1 || ow < 1)
            return nn_fail(e, "node '%s': kernel %d (dilation %d) does not fit input %dx%d with padding %d", n->name,
                           n->kernel, n->dilation, s[1], s[2], n->pad);
        n->shape[0] = n->out_channels;
        n->shape[1] = oh;
        n->shape[2] = ow;
        break;
    }
    case NN_OP_MAXPOOL:
    case NN_OP_AVGPOOL: {
        if (!spatial) return nn_fail(e, "node '%s': pooling needs a [C,H,W] input", n->name);
        if (n->stride < 1) n->stride = n->kernel;
        if (n->kernel < 1 || n->pad < 0 || 2 * n->pad > n->kernel)
            return nn_fail(e, "node '%s': pool kernel %d with padding %d is invalid", n->name, n->kernel, n->pad);
        int oh = (s[1] + 2 * n->pad - n->kernel) / n->stride + 1, ow = (s[2] + 2 * n->pad - n->kernel) / n->stride + 1;
        if (oh < 1 || ow < 1)
            return nn_fail(e, "node '%s': pool kernel %d does not fit input %dx%d", n->name, n->kernel, s[1], s[2]);
        n->shape[1] = oh;
        n->shape[2] = ow;
        break;
    }
    case NN_OP_GAP:
        if (!spatial) return nn_fail(e, "node '%s': global_avgpool needs a [C,H,W] input", n->name);
        n->ndim = 1;
        n->shape[1] = n->shape[2] = 0;
        break;
    case NN_OP_FLATTEN:
        n->ndim = 1;
        n->shape[0] = (int)nn_shape_numel(a->ndim, a->shape);
        n->shape[1] = n->shape[2] = 0;
        break;
    case NN_OP_LINEAR:
        n->ndim = 1;
        n->shape[0] = n->out_channels;
        n->shape[1] = n->shape[2] = 0;
        if (n->out_channels < 1) return nn_fail(e, "node '%s': linear needs out_features >= 1", n->name);
        break;
    case NN_OP_LABEL_EMBED:
        if (a->ndim != 1) return nn_fail(e, "node '%s': label_embed needs a vector input", n->name);
        if (n->num_classes < 1) return nn_fail(e, "node '%s': label_embed needs num_classes >= 1", n->name);
        break;
    case NN_OP_RESHAPE: {
        size_t want = nn_shape_numel(n->rndim, n->rshape), have = nn_shape_numel(a->ndim, a->shape);
        if ((n->rndim != 1 && n->rndim != 3) || want != have)
            return nn_fail(e, "node '%s': cannot reshape %zu values per sample into %d dims of %zu", n->name, have,
                           n->rndim, want);
        n->ndim = n->rndim;
        memset(n->shape, 0, sizeof n->shape);
        memcpy(n->shape, n->rshape, (size_t)n->rndim * sizeof(int));
        break;
    }
    case NN_OP_FAKE_QUANT:
        if (n->qbits < 2 || n->qbits > 16 || n->qbeta < 0.0f || n->qbeta >= 1.0f)
            return nn_fail(e, "node '%s': fake_quant needs bits in 2..16 and ema_beta in [0, 1)", n->name);
        break;
    case NN_OP_BN:
    case NN_OP_COND_BN:
        if (n->op == NN_OP_COND_BN && n->num_classes < 1)
            return nn_fail(e, "node '%s': cond_batchnorm needs num_classes >= 1", n->name);
        break;
    case NN_OP_ADD: {
        const nn_gnode *b = &g->nodes[n->in[1]];
        if (a->ndim != b->ndim || memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int)))
            return nn_fail(e, "node '%s': add of '%s' [%d,%d,%d] and '%s' [%d,%d,%d]: shapes differ", n->name, a->name,
                           a->shape[0], a->shape[1], a->shape[2], b->name, b->shape[0], b->shape[1], b->shape[2]);
        break;
    }
    case NN_OP_MIX:
        if (n->candidates < n->nin || n->candidates < 1 || n->candidates >= NN_MAX_INPUTS)
            return nn_fail(e, "node '%s': mix needs 1 to %d candidates, at least its %d inputs", n->name,
                           NN_MAX_INPUTS - 1, n->nin);
        for (int i = 1; i < n->nin; i++) {
            const nn_gnode *b = &g->nodes[n->in[i]];
            if (b->ndim != a->ndim || memcmp(b->shape, a->shape, (size_t)a->ndim * sizeof(int)))
                return nn_fail(e, "node '%s': mix candidates '%s' and '%s' differ in shape", n->name, a->name, b->name);
        }
        break;
    case NN_OP_CONCAT:
        for (int i = 1; i < n->nin; i++) {
            const nn_gnode *b = &g->nodes[n->in[i]];
            if (b->ndim != a->ndim || (spatial && (b->shape[1] != s[1] || b->shape[2] != s[2])))
                return nn_fail(e, "node '%s': concat inputs '%s' and '%s' differ in spatial size", n->name, a->name,
                               b->name);
            n->shape[0] += b->shape[0];
        }
        break;
    case NN_OP_UPSAMPLE_NEAREST:
    case NN_OP_UPSAMPLE_BILINEAR:
        if (!spatial || n->scale < 1) return nn_fail(e, "node '%s': upsampling needs a [C,H,W] input, scale >= 1", n->name);
        n->shape[1] *= n->scale;
        n->shape[2] *= n->scale;
        break;
    default:
        break;
    }
    return NN_OK;
}

int nn_graph_finalize(nn_graph *g, nn_err *e)
{
    NN_ASSERT(!g->finalized);
    for (int i = 0; i < g->in_ndim; i++)
        if (g->in_shape[i] < 1) return nn_fail(e, "graph '%s': input shape must be positive", g->name);
    param_spec specs[NN_MAX_NODE_PARAMS];
    size_t total = 0, trainable = 0;
    int np = 0;
    /* Pass 1: shapes and parameter count. */
    for (int i = 0; i < g->n; i++) {
        if (nn_graph_infer_node(g, i, e)) return NN_ERR;
        for (int k = 0; k < i; k++)
            if (!strcmp(g->nodes[k].name, g->nodes[i].name))
                return nn_fail(e, "graph '%s': two nodes named '%s'", g->name, g->nodes[i].name);
    }
    for (int i = 0; i < g->n; i++) g->nodes[i].consumers = 0;
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->nodes[i].nin && g->nodes[i].op != NN_OP_INPUT; k++) g->nodes[g->nodes[i].in[k]].consumers++;
    g->nodes[g->output].consumers++; /* the graph's result is consumed by the caller */
    for (int pass = 0; pass < 2; pass++) { /* trainable first, then buffers */
        for (int i = 0; i < g->n; i++) {
            nn_gnode *n = &g->nodes[i];
            int nk = node_params(n, &g->nodes[n->in[0]], specs);
            for (int k = 0; k < nk; k++) {
                if (specs[k].trainable != (pass == 0)) continue;
                size_t numel = nn_shape_numel(specs[k].ndim, specs[k].shape);
                total += numel;
                if (pass == 0) trainable += numel;
                np++;
            }
        }
    }
    g->params = nn_xcalloc((size_t)(np ? np : 1), sizeof *g->params);
    g->blob = nn_xcalloc(total ? total : 1, sizeof(float));
    g->grad = nn_xcalloc(trainable ? trainable : 1, sizeof(float));
    g->blob_len = total;
    g->train_len = trainable;
    size_t off = 0;
    int pi = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < g->n; i++) {
            nn_gnode *n = &g->nodes[i];
            int nk = node_params(n, &g->nodes[n->in[0]], specs);
            for (int k = 0; k < nk; k++) {
                if (specs[k].trainable != (pass == 0)) continue;
                nn_param *p = &g->params[pi];
                snprintf(p->name, sizeof p->name, "%s.%s", n->name, specs[k].suffix);
                p->trainable = specs[k].trainable;
                p->arch = n->op == NN_OP_MIX;
                p->decay = specs[k].decay;
                p->t.ndim = specs[k].ndim;
                memcpy(p->t.shape, specs[k].shape, sizeof p->t.shape);
                p->t.numel = nn_shape_numel(specs[k].ndim, specs[k].shape);
                p->t.data = g->blob + off;
                for (size_t q = 0; q < p->t.numel; q++) p->t.data[q] = specs[k].init;
                if (p->trainable) {
                    p->t.grad = g->grad + off;
                    p->t.requires_grad = 1;
                    p->t.is_param = 1;
                }
                n->param[k] = pi;
                off += p->t.numel;
                pi++;
            }
        }
    }
    g->np = np;
    g->finalized = 1;
    return NN_OK;
}

void nn_graph_init_params(nn_graph *g, uint64_t seed, nn_init_kind kind)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    for (int i = 0; i < g->n; i++) {
        nn_gnode *n = &g->nodes[i];
        if (n->op == NN_OP_LABEL_EMBED) { /* N(0, 1), as torch.nn.Embedding */
            nn_tensor *t = &g->params[n->param[0]].t;
            for (size_t q = 0; q < t->numel; q++) t->data[q] = nn_rng_normal(&r);
            continue;
        }
        if (n->op == NN_OP_ADDER_CONV) { /* N(0, 1), as the official AdderNet code */
            nn_tensor *t = &g->params[n->param[0]].t;
            for (size_t q = 0; q < t->numel; q++) t->data[q] = nn_rng_normal(&r);
            continue;
        }
        if (n->op != NN_OP_CONV && n->op != NN_OP_LINEAR) continue;
        nn_tensor *w = &g->params[n->param[0]].t, *b = n->bias ? &g->params[n->param[1]].t : NULL;
        const size_t rf = w->ndim == 4 ? (size_t)w->shape[2] * w->shape[3] : 1; /* receptive field */
        const float fan_in = (float)(w->shape[1] * rf), fan_out = (float)(w->shape[0] * rf);
        if (kind == NN_INIT_XAVIER) {
            float bound = sqrtf(6.0f / (fan_in + fan_out));
            for (size_t q = 0; q < w->numel; q++) w->data[q] = bound * (2.0f * nn_rng_uniform(&r) - 1.0f);
            if (b) memset(b->data, 0, b->numel * sizeof(float));
        } else if (n->op == NN_OP_CONV) {
            float std = sqrtf(2.0f / fan_out);
            for (size_t q = 0; q < w->numel; q++) w->data[q] = std * nn_rng_normal(&r);
            if (b) memset(b->data, 0, b->numel * sizeof(float));
        } else {
            float bound = 1.0f / sqrtf(fan_in);
            for (size_t q = 0; q < w->numel; q++) w->data[q] = bound * (2.0f * nn_rng_uniform(&r) - 1.0f);
            if (b)
                for (size_t q = 0; q < b->numel; q++) b->data[q] = bound * (2.0f * nn_rng_uniform(&r) - 1.0f);
        }
    }
}

size_t nn_graph_num_trainable(const nn_graph *g) { return g->train_len; }

nn_param *nn_graph_param(nn_graph *g, const char *name)
{
    for (int i = 0; i < g->np; i++)
        if (!strcmp(g->params[i].name, name)) return &g->params[i];
    return NULL;
}

void nn_graph_zero_grad(nn_graph *g) { memset(g->grad, 0, g->train_len * sizeof(float)); }

void nn_graph_set_trainable(nn_graph *g, int on)
{
    for (int i = 0; i < g->np; i++)
        if (g->params[i].trainable) g->params[i].t.requires_grad = on;
}

int nn_param_in_group(const nn_param *p, nn_param_group grp)
{
    return grp == NN_GROUP_ALL || (grp == NN_GROUP_ARCH) == (p->arch != 0);
}

void nn_graph_set_trainable_group(nn_graph *g, nn_param_group grp, int on)
{
    for (int i = 0; i < g->np; i++)
        if (g->params[i].trainable && nn_param_in_group(&g->params[i], grp)) g->params[i].t.requires_grad = on;
}

double nn_graph_node_macs(const nn_graph *g, int i)
{
    const nn_gnode *n = &g->nodes[i], *a = &g->nodes[n->in[0]];
    if (n->op == NN_OP_CONV)
        return (double)n->shape[0] * n->shape[1] * n->shape[2] * (a->shape[0] / n->groups) * n->kernel * n->kernel;
    if (n->op == NN_OP_LINEAR) return (double)n->out_channels * (double)nn_shape_numel(a->ndim, a->shape);
    return 0.0;
}

double nn_graph_adds(const nn_graph *g)
{
    double s = 0;
    for (int i = 0; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i], *a = &g->nodes[n->in[0]];
        if (n->op == NN_OP_ADDER_CONV)
            s += 2.0 * n->shape[0] * n->shape[1] * n->shape[2] * (a->shape[0] / n->groups) * n->kernel * n->kernel;
    }
    return s;
}

void nn_graph_node_cost(const nn_graph *g, int i, double *mem_bits, double *flops, double *bin_macs)
{
    const nn_gnode *n = &g->nodes[i];
    double bits = 0.0, mac = i > 0 ? nn_graph_node_macs(g, i) : 0.0, bmac = 0.0;
    for (int k = 0; k < NN_MAX_NODE_PARAMS; k++) {
        if (n->param[k] < 0 || !g->params[n->param[k]].trainable) continue;
        const double m = (double)g->params[n->param[k]].t.numel;
        if (k == 0 && n->wbin) /* binary weights, plus one real scale per layer or output channel */
            bits += m + 32.0 * (n->wbin == 2 ? n->out_channels : 1);
        else
            bits += 32.0 * m;
    }
    if (n->wbin) bmac = mac, mac = 0.0;
    *mem_bits = bits, *flops = mac + bmac / 64.0, *bin_macs = bmac;
}

void nn_graph_cost(const nn_graph *g, double *mem_bits, double *flops, double *bin_macs)
{
    *mem_bits = *flops = *bin_macs = 0.0;
    for (int i = 1; i < g->n; i++) {
        double a, b, c;
        nn_graph_node_cost(g, i, &a, &b, &c);
        *mem_bits += a, *flops += b, *bin_macs += c;
    }
}

double nn_graph_macs(const nn_graph *g)
{
    double m = 0.0;
    for (int i = 1; i < g->n; i++) m += nn_graph_node_macs(g, i);
    return m;
}

/* ---- forward ---- */

static double nn_prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nn_tensor *P(nn_graph *g, const nn_gnode *n, int k)
{
    return n->param[k] >= 0 ? &g->params[n->param[k]].t : NULL;
}

/* A conv/linear node's weight as the forward uses it: fake-quantized from
 * its current min/max (per output channel or per tensor) when the node has
 * weight bits, as GDFQ recomputes it at every forward. */
static nn_tensor *node_weight(nn_graph *g, nn_ctx *c, const nn_gnode *n)
{
    nn_tensor *w = P(g, n, 0);
    if (n->wbin) return nn_binarize_weight(c, w, n->wbin == 2);
    if (!n->qbits) return w;
    const int nch = n->qperch ? w->shape[0] : 1;
    float *lo = nn_arena_floats(&c->arena, (size_t)nch), *hi = nn_arena_floats(&c->arena, (size_t)nch);
    const nn_qspec q = {.bits = n->qbits, .symmetric = n->qsym, .pot = n->qpot, .mse = n->qmse};
    nn_quant_weight_range(w, q, nch, lo, hi);
    return nn_fake_quant(c, w, q, nch, lo, hi);
}

/* Is node i a BN or add whose only consumer is the ReLU right after it?
 * Then both run as one fused op (same numbers, one pass less each way). */
static int fuses_relu(const nn_graph *g, int i)
{
    const nn_gnode *n = &g->nodes[i];
    if ((n->op != NN_OP_BN && n->op != NN_OP_ADD) || i + 1 >= g->n || n->consumers != 1) return 0;
    const nn_gnode *r = &g->nodes[i + 1];
    return r->op == NN_OP_RELU && r->in[0] == i;
}

/* Is node i a BN whose only consumer is the add right after it, with the
 * add's other input computed (out) and of the same shape? Then the other
 * input's index (inference fuses the two: nn_bn_attr.residual), else -1. */
static int bn_feeds_add(const nn_graph *g, int i, nn_tensor *const *out, const nn_fwd_opts *o)
{
    const nn_gnode *n = &g->nodes[i];
    if (n->op != NN_OP_BN || i + 1 >= g->n || n->consumers != 1 || (o && o->active && !o->active[i + 1])) return -1;
    const nn_gnode *a = &g->nodes[i + 1];
    if (a->op != NN_OP_ADD || a->nin != 2) return -1;
    const int other = a->in[0] == i ? a->in[1] : a->in[1] == i ? a->in[0] : -1;
    if (other < 0 || other == i || !out[other] || !out[n->in[0]] || !nn_same_shape(out[other], out[n->in[0]])) return -1;
    return other;
}

/* Is node i a conv whose only consumer is the BN right after it? */
static int feeds_bn(const nn_graph *g, int i)
{
    const nn_gnode *n = &g->nodes[i];
    return n->op == NN_OP_CONV && i + 1 < g->n && n->consumers == 1 && g->nodes[i + 1].op == NN_OP_BN &&
           g->nodes[i + 1].in[0] == i;
}

/* Inference (eval, no tape): conv -> BN [-> ReLU] as one conv with the BN
 * folded into its weights and bias and the ReLU in its epilogue. Returns
 * how many nodes after i it consumed. */
static int conv_bn_folded(nn_graph *g, nn_ctx *c, int i, nn_tensor *x, nn_tensor **y)
{
    const nn_gnode *n = &g->nodes[i], *bn = &g->nodes[i + 1];
    nn_tensor *w = node_weight(g, c, n), *b = n->bias ? P(g, n, 1) : NULL;
    const int k = bn->affine ? 2 : 0, OC = w->shape[0];
    const float *gam = bn->affine ? P(g, bn, 0)->data : NULL, *bet = bn->affine ? P(g, bn, 1)->data : NULL;
    const float *rm = P(g, bn, k)->data, *rv = P(g, bn, k + 1)->data;
    nn_tensor *wf = nn_new(c, w->ndim, w->shape), *bf = nn_new(c, 1, &w->shape[0]);
    const size_t per = w->numel / (size_t)OC;
    for (int o = 0; o < OC; o++) {
        float sc = (gam ? gam[o] : 1.0f) / sqrtf(rv[o] + bn->eps);
        for (size_t q = 0; q < per; q++) wf->data[(size_t)o * per + q] = w->data[(size_t)o * per + q] * sc;
        bf->data[o] = ((b ? b->data[o] : 0.0f) - rm[o]) * sc + (bet ? bet[o] : 0.0f);
    }
    const int relu = fuses_relu(g, i + 1);
    *y = nn_conv2d(c, x, wf, bf,
                   (nn_conv_attr){.stride = n->stride, .pad = n->pad, .dilation = n->dilation, .groups = n->groups,
                                  .relu = relu});
    return 1 + relu;
}

typedef struct {
    const nn_tensor *x;
    df_bin_geom g;
    const uint64_t *wp;
    const int32_t *cls, *tab; /* border classes (df_bin_classes) */
    int ncls;
    const float *s, *b; /* out = s * sum + b (b NULL: + 0.0f) */
    nn_tensor *y;
    unsigned char *xp; /* per worker: packed planes and columns */
    uint64_t *col;
    int O;
} bconv_job;

static void bconv_run(void *arg, int ith, int nth)
{
    bconv_job *j = arg;
    const df_bin_geom *g = &j->g;
    const size_t P = (size_t)g->P, xb = (df_bin_xp_bytes(g) + 63) & ~(size_t)63;
    unsigned char *xp = j->xp + (size_t)ith * xb;
    uint64_t *col = j->col + (size_t)ith * df_bin_col_words(g);
    size_t lo, hi;
    nn_split((size_t)j->x->shape[0], ith, nth, &lo, &hi);
    const size_t chw = (size_t)g->C * g->H * g->W;
    for (size_t b = lo; b < hi; b++) /* s * sum + 0.0f, as the float path's channel affine */
        df_bin_conv_float_next(j->x->data + b * chw, b + 1 < hi ? j->x->data + (b + 1) * chw : NULL, g, j->wp, j->cls, j->tab,
                               j->ncls, j->s, j->b, j->O, 0, xp, col, j->y->data + b * j->O * P);
}

/* 1: a conv the bit-packed kernels run (binary weights, groups 1, no bias,
 * a padding with border classes) */
static int bin_packable(const nn_graph *g, const nn_gnode *n)
{
    if (n->op != NN_OP_CONV || !n->wbin || n->groups != 1 || n->bias) return 0;
    const nn_gnode *a = &g->nodes[n->in[0]];
    const int C = n->in[0] == 0 ? g->in_shape[0] : a->shape[0], H = n->in[0] == 0 ? g->in_shape[1] : a->shape[1],
              W = n->in[0] == 0 ? g->in_shape[2] : a->shape[2];
    const df_bin_geom bg = df_bin_geometry(C, H, W, n->kernel, n->stride, n->pad, n->dilation);
    return df_bin_classes(&bg, NULL) >= 0;
}

void nn_graph_packed_signs(const nn_graph *g, unsigned char *skip)
{
    for (int i = 0; i < g->n; i++) skip[i] = g->nodes[i].op == NN_OP_SIGN && i != g->output;
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->nodes[i].nin && g->nodes[i].op != NN_OP_INPUT; k++)
            if (!bin_packable(g, &g->nodes[i])) skip[g->nodes[i].in[k]] = 0;
}

int nn_graph_folds_threshold(const nn_graph *g, int i, const unsigned char *skip)
{
    const nn_gnode *n = &g->nodes[i];
    if (!skip || n->op != NN_OP_CONV || !n->wbin || n->consumers != 1 || i + 2 >= g->n) return 0;
    const nn_gnode *bn = &g->nodes[i + 1], *sg = &g->nodes[i + 2];
    return bn->op == NN_OP_BN && bn->in[0] == i && bn->consumers == 1 && sg->op == NN_OP_SIGN && sg->in[0] == i + 1 &&
           skip[i + 2];
}

/* Per output channel, the sums d (integers in [-base, base]) whose sign(BN(s
 * * d)) is +1, found by running the float path's own ops (channel affine,
 * then BN) on every such d: the same bits by construction. As d grows that
 * sign only flips once (both ops are monotone, rounding too), so it is d >=
 * tau (fa = 1, fb = -tau), d <= tau (fa = -1, fb = tau) or constant (fa = 0,
 * fb = +-1), and fa * d + fb (exact: small integers) has the sign's sign. */
int nn_graph_bin_thresholds(nn_graph *g, nn_ctx *c, int i, const float *s, float *fa, float *fb)
{
    const nn_gnode *n = &g->nodes[i], *bn = &g->nodes[i + 1];
    const nn_tensor *w = P(g, n, 0); /* [O, C, k, k]: groups 1, as bin_packable has it */
    const int O = w->shape[0], base = w->shape[1] * w->shape[2] * w->shape[3];
    const int L = 2 * base + 1, k = bn->affine ? 2 : 0;
    nn_tensor *d = nn_new4(c, 1, O, 1, L), *sc = nn_new(c, 1, &O), *z = nn_new(c, 1, &O);
    for (int o = 0; o < O; o++) {
        sc->data[o] = s[o], z->data[o] = 0.0f;
        for (int q = 0; q < L; q++) d->data[(size_t)o * L + q] = (float)(q - base);
    }
    nn_tensor *t = nn_channel_affine(c, d, sc, z); /* as binary_conv's float path */
    nn_tensor *y = nn_batchnorm(c, t, bn->affine ? P(g, bn, 0) : NULL, bn->affine ? P(g, bn, 1) : NULL, P(g, bn, k)->data,
                                P(g, bn, k + 1)->data, (nn_bn_attr){.eps = bn->eps, .momentum = bn->momentum});
    for (int o = 0; o < O; o++) {
        const float *q = y->data + (size_t)o * L;
        int flips = 0, at = -1;
        for (int v = 1; v < L; v++)
            if (df_bin_pos(q[v]) != df_bin_pos(q[v - 1])) flips++, at = v;
        if (flips > 1) return 0;
        if (!flips)
            fa[o] = 0.0f, fb[o] = df_bin_pos(q[0]) ? 1.0f : -1.0f;
        else if (df_bin_pos(q[at])) /* off below at, on from at: d >= at - base */
            fa[o] = 1.0f, fb[o] = (float)(base - at);
        else /* on up to at - 1 */
            fa[o] = -1.0f, fb[o] = (float)(at - 1 - base);
    }
    return 1;
}

/* folds_threshold for this forward pass: nothing of the pattern inactive */
static int folds_threshold(const nn_graph *g, int i, const unsigned char *sign_skip, const nn_fwd_opts *o)
{
    if (o && o->active && i + 2 < g->n && (!o->active[i + 1] || !o->active[i + 2])) return 0;
    return nn_graph_folds_threshold(g, i, sign_skip);
}

/* A binary conv: s * conv(x, sign(W)) (nn_sign_weight), or with packed the
 * same numbers by XNOR-popcount on bit-packed signs (x must be signs, as a
 * sign node makes them; groups 1): the sum of +-1 products is an integer
 * either way, times s once. With bn (packed; folds_threshold), it returns
 * instead a tensor whose signs are those of sign(bn(that)), 1 in *folded,
 * or 0 there if the BN does not fold (then the plain output). */
static nn_tensor *binary_conv(nn_graph *g, nn_ctx *c, const nn_gnode *n, nn_tensor *x, int packed, const nn_gnode *bn,
                              int *folded)
{
    nn_tensor *w = P(g, n, 0);
    const int O = w->shape[0], C = x->shape[1], k = n->kernel;
    float *s = nn_arena_floats(&c->arena, (size_t)O);
    nn_tensor *sc = nn_new(c, 1, &w->shape[0]), *z = nn_new(c, 1, &w->shape[0]);
    if (!packed || c->grad_enabled || !bin_packable(g, n)) {
        nn_tensor *sw = nn_sign_weight(c, w, n->wbin == 2, s);
        memcpy(sc->data, s, (size_t)O * sizeof(float));
        memset(z->data, 0, (size_t)O * sizeof(float));
        nn_tensor *y = nn_conv2d(c, x, sw, n->bias ? P(g, n, 1) : NULL,
                                 (nn_conv_attr){.stride = n->stride, .pad = n->pad, .dilation = n->dilation,
                                                .groups = n->groups});
        return nn_channel_affine(c, y, sc, z);
    }
    {
        double acc = 0;
        const int nch = n->wbin == 2 ? O : 1;
        const size_t per = w->numel / (size_t)nch;
        for (int ch = 0; ch < nch; ch++) {
            acc = 0;
            for (size_t i = (size_t)ch * per; i < (size_t)(ch + 1) * per; i++) acc += fabsf(w->data[i]);
            s[ch] = (float)(acc / (double)per);
        }
        for (int o2 = nch; o2 < O; o2++) s[o2] = s[0];
    }
    const int nth = nn_threads(c);
    bconv_job j = {.x = x, .s = s, .O = O};
    if (bn) {
        float *fa = nn_arena_floats(&c->arena, (size_t)O), *fb = nn_arena_floats(&c->arena, (size_t)O);
        *folded = nn_graph_bin_thresholds(g, c, (int)(n - g->nodes), s, fa, fb);
        if (*folded) j.s = fa, j.b = fb;
    }
    j.g = df_bin_geometry(C, x->shape[2], x->shape[3], k, n->stride, n->pad, n->dilation);
    j.ncls = df_bin_classes(&j.g, NULL);
    uint64_t *wp = nn_arena_alloc(&c->arena, sizeof(uint64_t) * df_bin_wp_words(&j.g, O));
    int32_t *cps = nn_arena_alloc(&c->arena, sizeof(int32_t) * df_bin_cps_ints(&j.g, O)),
            *cls = nn_arena_alloc(&c->arena, sizeof(int32_t) * (size_t)j.g.P),
            *tab = nn_arena_alloc(&c->arena, sizeof(int32_t) * (size_t)O * j.ncls);
    df_bin_pack_weights(w->data, O, &j.g, wp, cps);
    df_bin_classes(&j.g, cls);
    df_bin_class_table(cps, O, &j.g, j.ncls, tab);
    j.wp = wp, j.cls = cls, j.tab = tab;
    j.y = nn_new4(c, x->shape[0], O, j.g.OH, j.g.OW);
    j.g.stream = df_bin_stream_worth(sizeof(float) * x->numel, sizeof(float) * j.y->numel, nn_llc_bytes());
    j.xp = nn_arena_alloc(&c->arena, (size_t)nth * ((df_bin_xp_bytes(&j.g) + 63) & ~(size_t)63));
    j.col = nn_arena_alloc(&c->arena, sizeof(uint64_t) * (size_t)nth * df_bin_col_words(&j.g));
    nn_pool_run(c->pool, bconv_run, &j); /* images split across the workers */
    return j.y;
}

void nn_graph_mark_active(const nn_graph *g, int (*on)(void *user, int node, int k), void *user, unsigned char *active)
{
    memset(active, 0, (size_t)g->n);
    active[g->output] = 1;
    for (int i = g->output; i >= 0; i--) {
        const nn_gnode *n = &g->nodes[i];
        if (!active[i] || n->op == NN_OP_INPUT) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->op != NN_OP_MIX || on(user, i, k)) active[n->in[k]] = 1;
    }
    active[0] = 1;
}

nn_tensor *nn_graph_forward(nn_graph *g, nn_ctx *c, nn_tensor *x, const nn_fwd_opts *o)
{
    NN_ASSERT(g->finalized);
    nn_tensor **out = o && o->outputs ? o->outputs : nn_arena_alloc(&c->arena, (size_t)g->n * sizeof(nn_tensor *));
    /* Observers must see every node's own output: no fusion then. */
    const int fuse = !(o && (o->hook || o->outputs));
    /* Bit-packed inference packs x >= 0, which is sign(x) >= 0: a sign node
     * read only by packed convs hands them its input and is not computed. */
    unsigned char *sign_skip = NULL;
    if (fuse && o && o->binary_packed && !c->grad_enabled) {
        sign_skip = nn_arena_alloc(&c->arena, (size_t)g->n);
        nn_graph_packed_signs(g, sign_skip);
    }
    double *conv_stats = NULL; /* sums of the previous conv's output, for its BN */
    for (int i = 0; i < g->n; i++) {
        nn_gnode *n = &g->nodes[i];
        int skip = 0; /* following nodes computed by this one */
        if (o && o->active && !o->active[i]) {
            out[i] = NULL;
            continue;
        }
        nn_tensor *in[NN_MAX_INPUTS] = {0};
        for (int k = 0; k < n->nin && n->op != NN_OP_INPUT; k++) in[k] = out[n->in[k]];
        nn_tensor *a = in[0], *y = NULL;
        if (n->op == NN_OP_MIX)
            for (int k = 0; k < n->nin && !a; k++) a = in[k]; /* the first computed candidate */
        double t0 = c->prof ? nn_prof_now() : 0.0;
        c->label = n->name;
        switch (n->op) {
        case NN_OP_INPUT:
            y = x;
            break;
        case NN_OP_CONV: {
            nn_conv_attr ca = {.stride = n->stride, .pad = n->pad, .dilation = n->dilation, .groups = n->groups};
            if (n->wbin) { /* conv of the signs, then times s: integer sums, one rounding (= bit-packed) */
                int folded = 0;
                y = binary_conv(g, c, n, a, o && o->binary_packed, folds_threshold(g, i, sign_skip, o) ? &g->nodes[i + 1] : NULL,
                                &folded);
                skip = 2 * folded; /* the BN and the sign: y has their signs, which the next packed convs read */
                conv_stats = NULL; /* its BN computes its own statistics (the scale comes after the conv) */
                break;
            }
            if (fuse && feeds_bn(g, i) && !c->training && !c->grad_enabled) {
                skip = conv_bn_folded(g, c, i, a, &y);
                break;
            }
            if (fuse && feeds_bn(g, i) && c->training)
                conv_stats = ca.stats = nn_arena_alloc(&c->arena, 2 * (size_t)n->out_channels * sizeof(double));
            y = nn_conv2d(c, a, node_weight(g, c, n), n->bias ? P(g, n, 1) : NULL, ca);
            break;
        }
        case NN_OP_BN: {
            int k = n->affine ? 2 : 0;
            const int res = fuse && !c->training && !c->grad_enabled ? bn_feeds_add(g, i, out, o) : -1;
            if (res >= 0) { /* BN -> add [-> ReLU] in one pass (Bi-Real's binary conv, BN, shortcut) */
                const int relu = fuses_relu(g, i + 1);
                skip = 1 + relu;
                y = nn_batchnorm(c, a, n->affine ? P(g, n, 0) : NULL, n->affine ? P(g, n, 1) : NULL, P(g, n, k)->data,
                                 P(g, n, k + 1)->data,
                                 (nn_bn_attr){.eps = n->eps, .momentum = n->momentum, .relu = relu, .residual = out[res]});
                break;
            }
            skip = fuse && fuses_relu(g, i);
            const double *st = conv_stats && g->nodes[n->in[0]].op == NN_OP_CONV && n->in[0] == i - 1 ? conv_stats : NULL;
            y = nn_batchnorm(c, a, n->affine ? P(g, n, 0) : NULL, n->affine ? P(g, n, 1) : NULL, P(g, n, k)->data,
                             P(g, n, k + 1)->data,
                             (nn_bn_attr){.eps = n->eps, .momentum = n->momentum, .relu = skip, .stats = st});
            break;
        }
        case NN_OP_COND_BN:
            if (!o || !o->labels) nn_abort(__FILE__, __LINE__, "node '%s': cond_batchnorm needs labels", n->name);
            y = nn_batchnorm(c, a, NULL, NULL, P(g, n, 2)->data, P(g, n, 3)->data,
                             (nn_bn_attr){.eps = n->eps, .momentum = n->momentum});
            y = nn_class_affine(c, y, o->labels, P(g, n, 0), P(g, n, 1));
            break;
        case NN_OP_RELU: y = nn_relu(c, a); break;
        case NN_OP_RELU6: y = nn_relu6(c, a); break;
        case NN_OP_LEAKY_RELU: y = nn_leaky_relu(c, a, n->slope); break;
        case NN_OP_TANH: y = nn_tanh(c, a); break;
        case NN_OP_SIGMOID: y = nn_sigmoid(c, a); break;
        case NN_OP_HARDTANH: y = nn_hardtanh(c, a, n->lo, n->hi); break;
        case NN_OP_HARDSIGMOID: y = nn_hardsigmoid(c, a, n->alpha, n->beta); break;
        case NN_OP_HARDSWISH: y = nn_hardswish(c, a); break;
        case NN_OP_CHANNEL_AFFINE: y = nn_channel_affine(c, a, P(g, n, 0), P(g, n, 1)); break;
        case NN_OP_MAXPOOL: y = nn_maxpool2d(c, a, (nn_pool_attr){n->kernel, n->stride, n->pad, 1}); break;
        case NN_OP_AVGPOOL:
            y = nn_avgpool2d(c, a, (nn_pool_attr){n->kernel, n->stride, n->pad, n->count_include_pad});
            break;
        case NN_OP_GAP: y = nn_global_avgpool(c, a); break;
        case NN_OP_ADD:
            skip = fuse && fuses_relu(g, i);
            y = skip ? nn_add_relu(c, a, in[1]) : nn_add(c, a, in[1]);
            break;
        case NN_OP_CONCAT: y = nn_concat(c, in, n->nin); break;
        case NN_OP_SIGN: y = sign_skip && sign_skip[i] ? a : nn_sign(c, a, n->approx); break;
        case NN_OP_ADDER_CONV:
            y = nn_adder_conv2d(c, a, node_weight(g, c, n),
                                (nn_adder_attr){n->stride, n->pad, n->dilation, n->groups, n->alr_eta});
            break;
        case NN_OP_MIX: {
            nn_tensor *alpha = P(g, n, 0), *xs[NN_MAX_INPUTS];
            nn_tensor *w = o && o->mix_weights ? o->mix_weights(o->mix_user, c, g, i, alpha, x->shape[0])
                                               : nn_softmax(c, alpha);
            /* "none" candidates and paths not computed (opts.active) are NULL: zeros */
            for (int k = 0; k < n->candidates; k++) xs[k] = k < n->nin ? in[k] : NULL;
            if (a) {
                y = nn_mix(c, xs, n->candidates, w);
            } else { /* only "none" sampled: the edge is a zero tensor */
                int sh[4] = {x->shape[0]};
                memcpy(sh + 1, n->shape, (size_t)n->ndim * sizeof(int));
                y = nn_new(c, 1 + n->ndim, sh);
                memset(y->data, 0, y->numel * sizeof(float));
            }
            break;
        }
        case NN_OP_FLATTEN: y = nn_flatten(c, a); break;
        case NN_OP_LINEAR: y = nn_linear(c, a, node_weight(g, c, n), n->bias ? P(g, n, 1) : NULL); break;
        case NN_OP_FAKE_QUANT: {
            float *range = P(g, n, 0)->data, *obs = P(g, n, 1)->data;
            if (o && o->observe) nn_range_observe(a, n->qbeta, n->qfreeze, obs, range);
            /* never observed: uncalibrated, so it passes values through */
            y = obs[0] > 0.0f ? nn_fake_quant(c, a, (nn_qspec){.bits = n->qbits, .symmetric = n->qsym, .pot = n->qpot}, 1, range,
                                              range + 1)
                              : a;
            break;
        }
        case NN_OP_UPSAMPLE_NEAREST: y = nn_upsample_nearest(c, a, n->scale); break;
        case NN_OP_UPSAMPLE_BILINEAR: y = nn_upsample_bilinear(c, a, n->scale); break;
        case NN_OP_LABEL_EMBED:
            if (!o || !o->labels) nn_abort(__FILE__, __LINE__, "node '%s': label_embed needs labels", n->name);
            y = nn_mul(c, a, nn_embedding(c, o->labels, a->shape[0], P(g, n, 0)));
            break;
        case NN_OP_RESHAPE: {
            int sh[4];
            sh[0] = a->shape[0];
            memcpy(sh + 1, n->rshape, (size_t)n->rndim * sizeof(int));
            y = nn_reshape(c, a, 1 + n->rndim, sh);
            break;
        }
        default: nn_abort(__FILE__, __LINE__, "node '%s': op %d has no forward", n->name, n->op);
        }
        if (c->prof)
            nn_profile_add(c, c->prof_by_label ? n->name : nn_op_name(n->op), nn_prof_now() - t0, 0.0);
        if (o && o->hook) o->hook(o->user, g, i, in, y); /* hooks imply no fusion: skip is 0 */
        out[i] = y;
        for (int k = 1; k <= skip; k++) out[i + k] = y; /* fused nodes share the result */
        i += skip;
    }
    c->label = NULL;
    return out[g->output];
}
