/* Quantization protocols and the graph transform (see quant.h). */
#include "quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/json.h"

void cmp_quant_defaults(cmp_quant_cfg *q)
{
    memset(q, 0, sizeof *q);
    q->wbits = q->abits = 4;
    q->per_channel = 1;
    q->ema_beta = 0.9f;
    q->freeze_after = -1;
}

int cmp_quant_parse(const cJSON *o, const char *path, cmp_quant_cfg *q, nn_err *e)
{
    static const char *const keys[] = {"wbits",          "abits",   "first_bits", "last_bits",   "w_symmetric",
                                       "a_symmetric",    "per_channel", "quant_input", "quant_fc_input",
                                       "bn_fold",        "ema_beta", "freeze_after", "pot", "adder_weight_range", NULL};
    if (nn_json_check_keys(o, path, keys, e) || nn_json_int(o, path, "wbits", 0, &q->wbits, e) ||
        nn_json_int(o, path, "abits", 0, &q->abits, e) || nn_json_int(o, path, "first_bits", 0, &q->first_bits, e) ||
        nn_json_int(o, path, "last_bits", 0, &q->last_bits, e) ||
        nn_json_bool(o, path, "w_symmetric", 0, &q->w_symmetric, e) ||
        nn_json_bool(o, path, "a_symmetric", 0, &q->a_symmetric, e) ||
        nn_json_bool(o, path, "per_channel", 0, &q->per_channel, e) ||
        nn_json_bool(o, path, "quant_input", 0, &q->quant_input, e) ||
        nn_json_bool(o, path, "quant_fc_input", 0, &q->quant_fc_input, e) ||
        nn_json_bool(o, path, "bn_fold", 0, &q->bn_fold, e) || nn_json_float(o, path, "ema_beta", 0, &q->ema_beta, e) ||
        nn_json_int(o, path, "freeze_after", 0, &q->freeze_after, e) || nn_json_bool(o, path, "pot", 0, &q->pot, e))
        return NN_ERR;
    const char *awr = NULL;
    if (nn_json_str(o, path, "adder_weight_range", 0, &awr, e)) return NN_ERR;
    if (awr && strcmp(awr, "mse") && strcmp(awr, "max"))
        return nn_fail(e, "%s.adder_weight_range: '%s' is not one of mse, max", path, awr);
    if (awr) q->adder_weight_max = !strcmp(awr, "max");
    if (q->wbits < 2 || q->wbits > 8) return nn_fail(e, "%s.wbits: %d is not in 2..8", path, q->wbits);
    if (q->abits < 2 || q->abits > 8) return nn_fail(e, "%s.abits: %d is not in 2..8", path, q->abits);
    if (q->first_bits && (q->first_bits < 2 || q->first_bits > 8))
        return nn_fail(e, "%s.first_bits: %d is not in 2..8 (or 0: wbits)", path, q->first_bits);
    if (q->last_bits && (q->last_bits < 2 || q->last_bits > 8))
        return nn_fail(e, "%s.last_bits: %d is not in 2..8 (or 0: wbits)", path, q->last_bits);
    if (q->ema_beta < 0.0f || q->ema_beta >= 1.0f) return nn_fail(e, "%s.ema_beta: must be in [0, 1)", path);
    return NN_OK;
}

cJSON *cmp_quant_to_json(const cmp_quant_cfg *q)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "wbits", q->wbits);
    cJSON_AddNumberToObject(j, "abits", q->abits);
    cJSON_AddNumberToObject(j, "first_bits", q->first_bits ? q->first_bits : q->wbits);
    cJSON_AddNumberToObject(j, "last_bits", q->last_bits ? q->last_bits : q->wbits);
    cJSON_AddBoolToObject(j, "w_symmetric", q->w_symmetric);
    cJSON_AddBoolToObject(j, "a_symmetric", q->a_symmetric);
    cJSON_AddBoolToObject(j, "per_channel", q->per_channel);
    cJSON_AddBoolToObject(j, "quant_input", q->quant_input);
    cJSON_AddBoolToObject(j, "quant_fc_input", q->quant_fc_input);
    cJSON_AddBoolToObject(j, "bn_fold", q->bn_fold);
    cJSON_AddBoolToObject(j, "pot", q->pot);
    cJSON_AddStringToObject(j, "adder_weight_range", q->adder_weight_max ? "max" : "mse");
    cJSON_AddNumberToObject(j, "ema_beta", q->ema_beta);
    cJSON_AddNumberToObject(j, "freeze_after", q->freeze_after);
    return j;
}

const char *cmp_quant_tag(const cmp_quant_cfg *q, char *buf, size_t n)
{
    int f = q->first_bits ? q->first_bits : q->wbits, l = q->last_bits ? q->last_bits : q->wbits;
    if (f == q->wbits && l == q->wbits)
        snprintf(buf, n, "w%da%d", q->wbits, q->abits);
    else
        snprintf(buf, n, "w%da%d_f%dl%d", q->wbits, q->abits, f, l);
    return buf;
}

/* Is node i a conv consumed only by the BN that follows it? */
static int foldable(const nn_graph *g, int i)
{
    const nn_gnode *n = &g->nodes[i];
    return n->op == NN_OP_CONV && i + 1 < g->n && n->consumers == 1 && g->nodes[i + 1].op == NN_OP_BN &&
           g->nodes[i + 1].in[0] == i;
}

static int add_fq(nn_graph *g, const char *base, int in, const cmp_quant_cfg *q)
{
    char name[NN_NAME_LEN];
    snprintf(name, sizeof name, "%.*s_q", NN_NAME_LEN - 3, base);
    nn_gnode f = nn_gnode_default(name, NN_OP_FAKE_QUANT, in);
    f.qbits = q->abits;
    f.qsym = q->a_symmetric;
    f.qpot = q->pot;
    f.qbeta = q->ema_beta;
    f.qfreeze = q->freeze_after;
    return nn_g_add_node(g, &f);
}

nn_graph *cmp_quantize_graph(const nn_graph *fp, const cmp_quant_cfg *q, nn_err *e)
{
    if (fp->in_ndim != 3) {
        nn_fail(e, "graph '%s': quantization needs an image model", fp->name);
        return NULL;
    }
    char name[NN_NAME_LEN + 40], tag[32];
    snprintf(name, sizeof name, "%.38s_%.20s", fp->name, cmp_quant_tag(q, tag, sizeof tag));
    nn_graph *g = nn_graph_new(name, fp->in_shape[0], fp->in_shape[1], fp->in_shape[2], fp->num_classes);
    memcpy(g->mean, fp->mean, sizeof g->mean);
    memcpy(g->std, fp->std, sizeof g->std);
    int *map = nn_xcalloc((size_t)fp->n, sizeof(int)), first = -1, last = -1;
    for (int i = 0; i < fp->n; i++)
        if (fp->nodes[i].op == NN_OP_CONV || fp->nodes[i].op == NN_OP_LINEAR) {
            if (first < 0) first = i;
            last = i;
        }
    map[0] = q->quant_input ? add_fq(g, "input", 0, q) : 0;
    for (int i = 1; i < fp->n; i++) {
        const nn_gnode *o = &fp->nodes[i];
        if (q->bn_fold && o->op == NN_OP_BN && foldable(fp, i - 1) && o->in[0] == i - 1) {
            map[i] = map[i - 1]; /* the conv before it carries it */
            continue;
        }
        nn_gnode n = *o;
        for (int k = 0; k < n.nin; k++) n.in[k] = map[o->in[k]];
        for (int k = 0; k < NN_MAX_NODE_PARAMS; k++) n.param[k] = -1;
        if (o->op == NN_OP_CONV || o->op == NN_OP_LINEAR) {
            n.qbits = i == first && q->first_bits ? q->first_bits : (i == last && q->last_bits ? q->last_bits : q->wbits);
            n.qsym = q->w_symmetric;
            n.qperch = q->per_channel;
            n.qpot = q->pot;
            if (q->bn_fold && foldable(fp, i)) n.bias = 1;
        }
        if (o->op == NN_OP_ADDER_CONV) { /* |x - w| in integers needs one power-of-two grid per tensor */
            n.qbits = q->wbits;
            n.qsym = 1, n.qpot = 1, n.qperch = 0;
            n.qmse = !q->adder_weight_max; /* ALR-trained adder weights have far outliers (quant.h) */
        }
        if (o->op == NN_OP_LINEAR && i == last && q->quant_fc_input && g->nodes[n.in[0]].op != NN_OP_FAKE_QUANT)
            n.in[0] = add_fq(g, g->nodes[n.in[0]].name, n.in[0], q);
        int idx = nn_g_add_node(g, &n);
        map[i] = (o->op == NN_OP_RELU || o->op == NN_OP_RELU6) ? add_fq(g, o->name, idx, q) : idx;
    }
    g->output = map[fp->output];
    free(map);
    if (nn_graph_finalize(g, e)) {
        nn_graph_free(g);
        return NULL;
    }
    /* Parameters: by name; folded convs get W*s, (b - mean)*s + beta. */
    for (int i = 0; i < g->np; i++) {
        nn_param *p = &g->params[i];
        const nn_param *src = nn_graph_param((nn_graph *)fp, p->name);
        if (src && src->t.numel == p->t.numel) memcpy(p->t.data, src->t.data, p->t.numel * sizeof(float));
    }
    if (q->bn_fold)
        for (int i = 1; i < fp->n; i++) {
            if (!foldable(fp, i)) continue;
            const nn_gnode *cv = &fp->nodes[i], *bn = &fp->nodes[i + 1];
            char pn[NN_NAME_LEN + 40];
            const nn_param *ps[4];
            const char *suf[4] = {"weight", "bias", "running_mean", "running_var"};
            for (int k = 0; k < 4; k++) {
                snprintf(pn, sizeof pn, "%s.%s", bn->name, suf[k]);
                ps[k] = nn_graph_param((nn_graph *)fp, pn);
            }
            snprintf(pn, sizeof pn, "%s.weight", cv->name);
            nn_param *w = nn_graph_param(g, pn);
            snprintf(pn, sizeof pn, "%s.bias", cv->name);
            nn_param *b = nn_graph_param(g, pn);
            const nn_param *ob = cv->bias ? nn_graph_param((nn_graph *)fp, pn) : NULL;
            const int OC = w->t.shape[0];
            const size_t per = w->t.numel / (size_t)OC;
            for (int c = 0; c < OC; c++) {
                float sc = (ps[0] ? ps[0]->t.data[c] : 1.0f) / sqrtf(ps[3]->t.data[c] + bn->eps);
                for (size_t k = 0; k < per; k++) w->t.data[(size_t)c * per + k] *= sc;
                b->t.data[c] = ((ob ? ob->t.data[c] : 0.0f) - ps[2]->t.data[c]) * sc + (ps[1] ? ps[1]->t.data[c] : 0.0f);
            }
        }
    return g;
}

void cmp_reset_ranges(nn_graph *g)
{
    for (int i = 0; i < g->n; i++) {
        nn_gnode *n = &g->nodes[i];
        if (n->op != NN_OP_FAKE_QUANT) continue;
        memset(g->params[n->param[0]].t.data, 0, 2 * sizeof(float));
        memset(g->params[n->param[1]].t.data, 0, 3 * sizeof(float));
    }
}
