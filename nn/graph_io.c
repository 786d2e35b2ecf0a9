/* Graph <-> model.json, parameters <-> model.safetensors. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "io.h"
#include "json.h"

#define GRAPH_FORMAT "datafree.graph"
#define GRAPH_VERSION 1

cJSON *nn_graph_to_json(const nn_graph *g)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", GRAPH_FORMAT);
    cJSON_AddNumberToObject(j, "version", GRAPH_VERSION);
    cJSON_AddStringToObject(j, "name", g->name);
    cJSON_AddItemToObject(j, "input", cJSON_CreateIntArray(g->in_shape, g->in_ndim));
    cJSON_AddNumberToObject(j, "num_classes", g->num_classes);
    if (g->in_ndim == 3) { /* images carry their preprocessing */
        cJSON *pp = cJSON_AddObjectToObject(j, "preprocess");
        cJSON_AddItemToObject(pp, "mean", cJSON_CreateFloatArray(g->mean, g->in_shape[0] <= 4 ? g->in_shape[0] : 4));
        cJSON_AddItemToObject(pp, "std", cJSON_CreateFloatArray(g->std, g->in_shape[0] <= 4 ? g->in_shape[0] : 4));
    }
    cJSON *nodes = cJSON_AddArrayToObject(j, "nodes");
    for (int i = 1; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", n->name);
        cJSON_AddStringToObject(o, "op", nn_op_name(n->op));
        cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
        for (int k = 0; k < n->nin; k++) cJSON_AddItemToArray(ins, cJSON_CreateString(g->nodes[n->in[k]].name));
        switch (n->op) {
        case NN_OP_CONV:
        case NN_OP_ADDER_CONV: /* the same geometry; adder layers have no bias but an ALR eta */
            cJSON_AddNumberToObject(o, "out_channels", n->out_channels);
            cJSON_AddNumberToObject(o, "kernel", n->kernel);
            cJSON_AddNumberToObject(o, "stride", n->stride);
            cJSON_AddNumberToObject(o, "padding", n->pad);
            cJSON_AddNumberToObject(o, "dilation", n->dilation);
            cJSON_AddNumberToObject(o, "groups", n->groups);
            if (n->op == NN_OP_CONV)
                cJSON_AddBoolToObject(o, "bias", n->bias);
            else
                cJSON_AddNumberToObject(o, "alr_eta", n->alr_eta);
            break;
        case NN_OP_FAKE_QUANT:
            cJSON_AddNumberToObject(o, "bits", n->qbits);
            cJSON_AddBoolToObject(o, "symmetric", n->qsym);
            if (n->qpot) cJSON_AddBoolToObject(o, "pot", 1);
            cJSON_AddNumberToObject(o, "ema_beta", n->qbeta);
            cJSON_AddNumberToObject(o, "freeze_after", n->qfreeze);
            break;
        case NN_OP_BN:
        case NN_OP_COND_BN:
            cJSON_AddNumberToObject(o, "eps", n->eps);
            cJSON_AddNumberToObject(o, "momentum", n->momentum);
            if (n->op == NN_OP_BN)
                cJSON_AddBoolToObject(o, "affine", n->affine);
            else
                cJSON_AddNumberToObject(o, "num_classes", n->num_classes);
            break;
        case NN_OP_LEAKY_RELU: cJSON_AddNumberToObject(o, "slope", n->slope); break;
        case NN_OP_HARDSIGMOID:
            cJSON_AddNumberToObject(o, "alpha", n->alpha);
            cJSON_AddNumberToObject(o, "beta", n->beta);
            break;
        case NN_OP_HARDTANH:
            cJSON_AddNumberToObject(o, "min", n->lo);
            cJSON_AddNumberToObject(o, "max", n->hi);
            break;
        case NN_OP_MAXPOOL:
        case NN_OP_AVGPOOL:
            cJSON_AddNumberToObject(o, "kernel", n->kernel);
            cJSON_AddNumberToObject(o, "stride", n->stride);
            cJSON_AddNumberToObject(o, "padding", n->pad);
            if (n->op == NN_OP_AVGPOOL) cJSON_AddBoolToObject(o, "count_include_pad", n->count_include_pad);
            break;
        case NN_OP_LINEAR:
            cJSON_AddNumberToObject(o, "out_features", n->out_channels);
            cJSON_AddBoolToObject(o, "bias", n->bias);
            break;
        case NN_OP_UPSAMPLE_NEAREST:
        case NN_OP_UPSAMPLE_BILINEAR: cJSON_AddNumberToObject(o, "scale", n->scale); break;
        case NN_OP_LABEL_EMBED: cJSON_AddNumberToObject(o, "num_classes", n->num_classes); break;
        case NN_OP_RESHAPE: cJSON_AddItemToObject(o, "shape", cJSON_CreateIntArray(n->rshape, n->rndim)); break;
        case NN_OP_MIX: cJSON_AddNumberToObject(o, "candidates", n->candidates); break;

        default: break;
        }
        if (n->wbin) cJSON_AddStringToObject(o, "binary_weights", n->wbin == 2 ? "channel" : "layer");
        if (n->op == NN_OP_SIGN) cJSON_AddBoolToObject(o, "approx", n->approx);
        if ((n->op == NN_OP_CONV || n->op == NN_OP_LINEAR || n->op == NN_OP_ADDER_CONV) && n->qbits) {
            cJSON *q = cJSON_AddObjectToObject(o, "weight_quant");
            cJSON_AddNumberToObject(q, "bits", n->qbits);
            cJSON_AddBoolToObject(q, "symmetric", n->qsym);
            cJSON_AddBoolToObject(q, "per_channel", n->qperch);
            if (n->qpot) cJSON_AddBoolToObject(q, "pot", 1);
            if (n->qmse) cJSON_AddStringToObject(q, "range", "mse");
        }
        cJSON_AddItemToArray(nodes, o);
    }
    cJSON_AddStringToObject(j, "output", g->nodes[g->output].name);
    return j;
}

static const char *const *allowed_keys(nn_op_kind op)
{
    static const char *const conv[] = {"name", "op", "inputs", "out_channels", "kernel", "stride", "padding",
                                       "dilation", "groups", "bias", "weight_quant", "binary_weights", NULL};
    static const char *const bn[] = {"name", "op", "inputs", "eps", "momentum", "affine", NULL};
    static const char *const cbn[] = {"name", "op", "inputs", "eps", "momentum", "num_classes", NULL};
    static const char *const leaky[] = {"name", "op", "inputs", "slope", NULL};
    static const char *const ht[] = {"name", "op", "inputs", "min", "max", NULL};
    static const char *const pool[] = {"name", "op", "inputs", "kernel", "stride", "padding", "count_include_pad", NULL};
    static const char *const lin[] = {"name", "op", "inputs", "out_features", "bias", "weight_quant", "binary_weights",
                                      NULL};
    static const char *const sgn[] = {"name", "op", "inputs", "approx", NULL};
    static const char *const hsig[] = {"name", "op", "inputs", "alpha", "beta", NULL};
    static const char *const fq[] = {"name", "op", "inputs", "bits", "symmetric", "pot", "ema_beta", "freeze_after", NULL};
    static const char *const up[] = {"name", "op", "inputs", "scale", NULL};
    static const char *const emb[] = {"name", "op", "inputs", "num_classes", NULL};
    static const char *const rsh[] = {"name", "op", "inputs", "shape", NULL};
    static const char *const mix[] = {"name", "op", "inputs", "candidates", NULL};
    static const char *const adder[] = {"name", "op", "inputs", "out_channels", "kernel", "stride", "padding",
                                        "dilation", "groups", "alr_eta", "weight_quant", NULL};
    static const char *const plain[] = {"name", "op", "inputs", NULL};
    switch (op) {
    case NN_OP_CONV: return conv;
    case NN_OP_BN: return bn;
    case NN_OP_COND_BN: return cbn;
    case NN_OP_LEAKY_RELU: return leaky;
    case NN_OP_HARDTANH: return ht;
    case NN_OP_MAXPOOL:
    case NN_OP_AVGPOOL: return pool;
    case NN_OP_LINEAR: return lin;
    case NN_OP_UPSAMPLE_NEAREST:
    case NN_OP_UPSAMPLE_BILINEAR: return up;
    case NN_OP_LABEL_EMBED: return emb;
    case NN_OP_RESHAPE: return rsh;
    case NN_OP_FAKE_QUANT: return fq;
    case NN_OP_HARDSIGMOID: return hsig;
    case NN_OP_MIX: return mix;
    case NN_OP_ADDER_CONV: return adder;
    case NN_OP_SIGN: return sgn;
    default: return plain;
    }
}

static int parse_node(nn_graph *g, const cJSON *o, const char *path, nn_err *e)
{
    const char *name = NULL, *op = NULL;
    if (!cJSON_IsObject(o)) return nn_fail(e, "%s: expected an object", path);
    if (nn_json_str(o, path, "name", 1, &name, e) || nn_json_str(o, path, "op", 1, &op, e)) return NN_ERR;
    int kind = nn_op_from_name(op);
    if (kind < 0 || kind == NN_OP_INPUT) {
        char list[400] = "";
        size_t k = 0;
        for (int i = 1; i < NN_OP_COUNT; i++) k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i > 1 ? ", " : "", nn_op_name(i));
        return nn_fail(e, "%s.op: unknown op '%s' (known: %s)", path, op, list);
    }
    if (strlen(name) >= NN_NAME_LEN) return nn_fail(e, "%s.name: longer than %d characters", path, NN_NAME_LEN - 1);
    if (nn_graph_find(g, name) >= 0) return nn_fail(e, "%s.name: a node named '%s' already exists", path, name);
    if (nn_json_check_keys(o, path, allowed_keys((nn_op_kind)kind), e)) return NN_ERR;
    nn_gnode n = nn_gnode_default(name, (nn_op_kind)kind, g->n - 1);
    const cJSON *ins = cJSON_GetObjectItem(o, "inputs");
    if (ins) { /* without "inputs": the previous node */
        if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) < 1 || cJSON_GetArraySize(ins) > NN_MAX_INPUTS)
            return nn_fail(e, "%s.inputs: expected an array of 1 to %d node names", path, NN_MAX_INPUTS);
        n.nin = cJSON_GetArraySize(ins);
        for (int k = 0; k < n.nin; k++) {
            const cJSON *s = cJSON_GetArrayItem(ins, k);
            int idx = cJSON_IsString(s) ? nn_graph_find(g, s->valuestring) : -1;
            if (idx < 0)
                return nn_fail(e, "%s.inputs[%d]: no earlier node named '%s'", path, k,
                               cJSON_IsString(s) ? s->valuestring : "?");
            n.in[k] = idx;
        }
    }
    int need = kind == NN_OP_ADD ? 2 : (kind == NN_OP_CONCAT || kind == NN_OP_MIX ? -1 : 1);
    if (need > 0 && n.nin != need) return nn_fail(e, "%s.inputs: op %s takes %d input(s), got %d", path, op, need, n.nin);
    int req = kind == NN_OP_CONV || kind == NN_OP_ADDER_CONV || kind == NN_OP_MAXPOOL || kind == NN_OP_AVGPOOL;
    if (kind == NN_OP_ADDER_CONV) n.alr_eta = 0.2f; /* the official code's */
    if (nn_json_int(o, path, "out_channels", kind == NN_OP_CONV || kind == NN_OP_ADDER_CONV, &n.out_channels, e) ||
        nn_json_float(o, path, "alr_eta", 0, &n.alr_eta, e) ||
        nn_json_int(o, path, "kernel", req, &n.kernel, e) || nn_json_int(o, path, "stride", 0, &n.stride, e) ||
        nn_json_int(o, path, "padding", 0, &n.pad, e) || nn_json_int(o, path, "dilation", 0, &n.dilation, e) ||
        nn_json_int(o, path, "groups", 0, &n.groups, e) || nn_json_bool(o, path, "bias", 0, &n.bias, e) ||
        nn_json_float(o, path, "eps", 0, &n.eps, e) || nn_json_float(o, path, "momentum", 0, &n.momentum, e) ||
        nn_json_bool(o, path, "affine", 0, &n.affine, e) ||
        nn_json_int(o, path, "num_classes", kind == NN_OP_COND_BN || kind == NN_OP_LABEL_EMBED, &n.num_classes, e) ||
        nn_json_ints(o, path, "shape", kind == NN_OP_RESHAPE, n.rshape, 3, &n.rndim, e) ||
        nn_json_float(o, path, "slope", 0, &n.slope, e) || nn_json_float(o, path, "min", 0, &n.lo, e) ||
        nn_json_float(o, path, "max", 0, &n.hi, e) ||
        nn_json_bool(o, path, "count_include_pad", 0, &n.count_include_pad, e) ||
        nn_json_int(o, path, "out_features", kind == NN_OP_LINEAR, &n.out_channels, e) ||
        nn_json_int(o, path, "scale", 0, &n.scale, e) ||
        nn_json_int(o, path, "bits", kind == NN_OP_FAKE_QUANT, &n.qbits, e) ||
        nn_json_bool(o, path, "symmetric", 0, &n.qsym, e) || nn_json_bool(o, path, "pot", 0, &n.qpot, e) ||
        nn_json_float(o, path, "ema_beta", 0, &n.qbeta, e) ||
        nn_json_int(o, path, "freeze_after", 0, &n.qfreeze, e) || nn_json_float(o, path, "alpha", 0, &n.alpha, e) ||
        nn_json_float(o, path, "beta", 0, &n.beta, e) ||
        nn_json_int(o, path, "candidates", kind == NN_OP_MIX, &n.candidates, e))
        return NN_ERR;
    int failed = 0;
    const cJSON *wq = nn_json_obj(o, path, "weight_quant", 0, e, &failed);
    if (failed) return NN_ERR;
    if (wq) {
        static const char *const kwq[] = {"bits", "symmetric", "per_channel", "pot", "range", NULL};
        char qp[400];
        snprintf(qp, sizeof qp, "%s.weight_quant", path);
        if (nn_json_check_keys(wq, qp, kwq, e) || nn_json_int(wq, qp, "bits", 1, &n.qbits, e) ||
            nn_json_bool(wq, qp, "symmetric", 0, &n.qsym, e) || nn_json_bool(wq, qp, "per_channel", 0, &n.qperch, e) ||
            nn_json_bool(wq, qp, "pot", 0, &n.qpot, e))
            return NN_ERR;
        const char *rg = NULL;
        if (nn_json_str(wq, qp, "range", 0, &rg, e)) return NN_ERR;
        if (rg && strcmp(rg, "mse") && strcmp(rg, "max"))
            return nn_fail(e, "%s.range: '%s' is not one of max, mse", qp, rg);
        n.qmse = rg && !strcmp(rg, "mse");
        if (n.qmse && !n.qpot) return nn_fail(e, "%s.range: mse needs pot: true", qp);
    }
    if ((kind == NN_OP_MAXPOOL || kind == NN_OP_AVGPOOL) && !cJSON_GetObjectItem(o, "stride")) n.stride = n.kernel;
    const char *bw = NULL;
    if (kind == NN_OP_SIGN) n.approx = 1; /* ApproxSign: the NASB/Bi-Real default */
    if (nn_json_str(o, path, "binary_weights", 0, &bw, e) || nn_json_bool(o, path, "approx", 0, &n.approx, e))
        return NN_ERR;
    if (bw && strcmp(bw, "layer") && strcmp(bw, "channel"))
        return nn_fail(e, "%s.binary_weights: '%s' is not one of layer, channel (the scale's granularity)", path, bw);
    if (bw) n.wbin = strcmp(bw, "layer") ? 2 : 1;
    if (kind == NN_OP_BN && (n.eps <= 0.0f || n.momentum < 0.0f || n.momentum > 1.0f))
        return nn_fail(e, "%s: eps must be > 0 and momentum in [0, 1]", path);
    nn_g_add_node(g, &n);
    return NN_OK;
}

nn_graph *nn_graph_from_json(const cJSON *j, const char *where, nn_err *e)
{
    static const char *const keys[] = {"format", "version", "name", "input", "num_classes", "preprocess", "nodes",
                                       "output", NULL};
    char path[300];
    snprintf(path, sizeof path, "%s", where);
    const char *fmt = NULL, *name = "model", *outname = NULL;
    int version = GRAPH_VERSION, in[3] = {0}, nin = 0, classes = 0, failed = 0;
    if (!cJSON_IsObject(j)) {
        nn_fail(e, "%s: expected a graph object", path);
        return NULL;
    }
    if (nn_json_check_keys(j, path, keys, e) || nn_json_str(j, path, "format", 0, &fmt, e) ||
        nn_json_int(j, path, "version", 0, &version, e) || nn_json_str(j, path, "name", 0, &name, e) ||
        nn_json_ints(j, path, "input", 1, in, 3, &nin, e) || nn_json_int(j, path, "num_classes", 0, &classes, e) ||
        nn_json_str(j, path, "output", 0, &outname, e))
        return NULL;
    if (fmt && strcmp(fmt, GRAPH_FORMAT)) {
        nn_fail(e, "%s.format: '%s' is not a datafree graph (expected '%s')", path, fmt, GRAPH_FORMAT);
        return NULL;
    }
    if (version != GRAPH_VERSION) {
        nn_fail(e, "%s.version: %d is not supported (this build reads version %d)", path, version, GRAPH_VERSION);
        return NULL;
    }
    if ((nin != 3 && nin != 1) || in[0] < 1 || (nin == 3 && (in[1] < 1 || in[2] < 1))) {
        nn_fail(e, "%s.input: expected [channels, height, width] or [dim], all positive", path);
        return NULL;
    }
    nn_graph *g = nin == 3 ? nn_graph_new(name, in[0], in[1], in[2], classes) : nn_graph_new_vec(name, in[0], classes);
    const cJSON *pp = nn_json_obj(j, path, "preprocess", 0, e, &failed);
    if (failed) goto fail;
    if (pp && nin != 3) {
        nn_fail(e, "%s.preprocess: only image inputs ([C, H, W]) have preprocessing", path);
        goto fail;
    }
    if (pp) {
        static const char *const pk[] = {"mean", "std", NULL};
        char pth[320];
        snprintf(pth, sizeof pth, "%s.preprocess", path);
        int nm = 0, ns = 0;
        if (nn_json_check_keys(pp, pth, pk, e) || nn_json_floats(pp, pth, "mean", 0, g->mean, 4, &nm, e) ||
            nn_json_floats(pp, pth, "std", 0, g->std, 4, &ns, e))
            goto fail;
        if ((nm && nm != in[0]) || (ns && ns != in[0])) {
            nn_fail(e, "%s: mean and std need one value per input channel (%d)", pth, in[0]);
            goto fail;
        }
        for (int c = 0; c < ns; c++)
            if (g->std[c] <= 0.0f) {
                nn_fail(e, "%s.std[%d]: must be positive", pth, c);
                goto fail;
            }
    }
    const cJSON *nodes = cJSON_GetObjectItem(j, "nodes");
    if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) < 1) {
        nn_fail(e, "%s.nodes: expected a non-empty array of nodes", path);
        goto fail;
    }
    for (int i = 0; i < cJSON_GetArraySize(nodes); i++) {
        char np[320];
        snprintf(np, sizeof np, "%s.nodes[%d]", path, i);
        if (parse_node(g, cJSON_GetArrayItem(nodes, i), np, e)) goto fail;
    }
    if (outname) {
        g->output = nn_graph_find(g, outname);
        if (g->output < 0) {
            nn_fail(e, "%s.output: no node named '%s'", path, outname);
            goto fail;
        }
    }
    if (nn_graph_finalize(g, e)) {
        char msg[sizeof e->msg];
        snprintf(msg, sizeof msg, "%s", e->msg);
        nn_fail(e, "%s: %s", path, msg);
        goto fail;
    }
    return g;
fail:
    nn_graph_free(g);
    return NULL;
}

/* "dir/model.json" -> "dir/model.safetensors" */
void nn_graph_params_path(const char *json_path, char *out, size_t n)
{
    snprintf(out, n, "%s", json_path);
    char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    strncat(out, ".safetensors", n - strlen(out) - 1);
}

int nn_graph_save_params(const nn_graph *g, const char *path, nn_err *e)
{
    nn_st_tensor *ts = nn_xcalloc((size_t)g->np, sizeof *ts);
    for (int i = 0; i < g->np; i++) {
        ts[i].name = g->params[i].name;
        ts[i].ndim = g->params[i].t.ndim;
        memcpy(ts[i].shape, g->params[i].t.shape, sizeof ts[i].shape);
        ts[i].data = g->params[i].t.data;
    }
    int rc = nn_st_write(path, ts, g->np, "{\"format\":\"datafree.params\"}", e);
    free(ts);
    return rc;
}

/* the file's name for parameter name under the renames (the longest
 * matching graph prefix wins); 0: no prefix matches */
static int renamed(const char *name, const nn_rename *rn, int nr, char *out, size_t cap)
{
    int best = -1;
    size_t bl = 0;
    for (int k = 0; k < nr; k++) {
        const size_t l = strlen(rn[k].graph);
        if (l >= bl && !strncmp(name, rn[k].graph, l)) best = k, bl = l;
    }
    if (best < 0) return 0;
    snprintf(out, cap, "%s%s", rn[best].file, name + bl);
    return 1;
}

static int load_params(nn_graph *g, const char *path, const nn_rename *rn, int nr, int *loaded, nn_err *e)
{
    nn_st_file f;
    if (nn_st_open(&f, path, e)) return NN_ERR;
    int n = 0;
    for (int i = 0; i < g->np; i++) {
        nn_param *p = &g->params[i];
        int nd, sh[4];
        char src[NN_NAME_LEN + 64];
        if (rn && (!renamed(p->name, rn, nr, src, sizeof src) || !cJSON_GetObjectItemCaseSensitive(f.header, src)))
            continue; /* renamed loads are partial: what the file lacks keeps its initialisation */
        const float *d = nn_st_get(&f, rn ? src : p->name, &nd, sh, e);
        if (!d) {
            nn_st_close(&f);
            return NN_ERR;
        }
        int same = nd == p->t.ndim;
        for (int k = 0; same && k < nd; k++) same = sh[k] == p->t.shape[k];
        if (!same) {
            char want[64];
            nn_fail(e, "%s: tensor '%s' has %d dims [%d,%d,%d,%d], the graph expects %s%s%s", path, rn ? src : p->name, nd,
                    sh[0], nd > 1 ? sh[1] : 0, nd > 2 ? sh[2] : 0, nd > 3 ? sh[3] : 0, nn_shape_str(&p->t, want, sizeof want),
                    rn ? " for " : "", rn ? p->name : "");
            nn_st_close(&f);
            return NN_ERR;
        }
        memcpy(p->t.data, d, p->t.numel * sizeof(float));
        n++;
    }
    nn_st_close(&f);
    if (loaded) *loaded = n;
    return NN_OK;
}

int nn_graph_load_params(nn_graph *g, const char *path, nn_err *e) { return load_params(g, path, NULL, 0, NULL, e); }

int nn_graph_load_params_renamed(nn_graph *g, const char *path, const nn_rename *rn, int nr, int *loaded, nn_err *e)
{
    return load_params(g, path, rn, nr, loaded, e);
}

int nn_graph_save(const nn_graph *g, const char *json_path, nn_err *e)
{
    char pp[1024];
    nn_graph_params_path(json_path, pp, sizeof pp);
    if (nn_graph_save_params(g, pp, e)) return NN_ERR;
    cJSON *j = nn_graph_to_json(g);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    size_t len = strlen(s);
    s = realloc(s, len + 2);
    s[len] = '\n';
    s[len + 1] = 0;
    int rc = nn_write_file_atomic(json_path, s, len + 1, e);
    free(s);
    return rc;
}

nn_graph *nn_graph_load(const char *json_path, nn_err *e)
{
    cJSON *j = nn_json_load(json_path, e);
    if (!j) return NULL;
    nn_graph *g = nn_graph_from_json(j, json_path, e);
    cJSON_Delete(j);
    if (!g) return NULL;
    char pp[1024];
    nn_graph_params_path(json_path, pp, sizeof pp);
    if (nn_graph_load_params(g, pp, e)) {
        nn_graph_free(g);
        return NULL;
    }
    return g;
}
