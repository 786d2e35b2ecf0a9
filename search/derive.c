#include "derive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/io.h"
#include "nn/json.h"

/* The best op of an edge: over all ops, or over the non-"none" ones. */
static int best_op(const srch_edge *ed, const float *a, int skip_none, float *val)
{
    int b = -1;
    for (int j = 0; j < ed->nops; j++) {
        if (skip_none && !strcmp(ed->ops[j], "none")) continue;
        if (b < 0 || a[j] > a[b]) b = j;
    }
    if (val) *val = b >= 0 ? a[b] : -1e30f;
    return b;
}

static void add_choice(srch_genotype *g, const srch_edge *ed, int op)
{
    srch_choice *c = &g->e[g->n++];
    c->from = ed->from;
    c->to = ed->to;
    snprintf(c->op, sizeof c->op, "%s", ed->ops[op]);
}

int srch_derive(const srch_edge *edges, int ne, const float *alpha, srch_rule rule, int k, srch_genotype *g,
                nn_err *e)
{
    if (ne < 1 || ne > SRCH_MAX_EDGES) return nn_fail(e, "derive: %d edges (1..%d)", ne, SRCH_MAX_EDGES);
    if (rule == SRCH_DERIVE_ONE_PRED) k = 1;
    if (rule != SRCH_DERIVE_ARGMAX && k < 1) return nn_fail(e, "derive: top-k needs k >= 1");
    int *off = malloc((size_t)ne * sizeof(int)), *keep = calloc((size_t)ne, sizeof(int)), maxnode = 0;
    for (int i = 0, o = 0; i < ne; i++) {
        off[i] = o;
        o += edges[i].nops;
        if (edges[i].to > maxnode) maxnode = edges[i].to;
    }
    g->n = 0;
    g->branches = 1, g->bconv_relu = 0;
    if (rule == SRCH_DERIVE_ARGMAX) {
        for (int i = 0; i < ne; i++) {
            int b = best_op(&edges[i], alpha + off[i], 0, NULL);
            keep[i] = strcmp(edges[i].ops[b], "none") ? b + 1 : 0;
        }
    } else { /* per target node: its k strongest incoming edges */
        for (int node = 0; node <= maxnode; node++)
            for (int taken = 0; taken < k; taken++) {
                int bi = -1;
                float bv = -1e30f, v;
                for (int i = 0; i < ne; i++) {
                    if (edges[i].to != node || keep[i]) continue;
                    if (best_op(&edges[i], alpha + off[i], 1, &v) >= 0 && (bi < 0 || v > bv)) bi = i, bv = v;
                }
                if (bi < 0) break;
                keep[bi] = best_op(&edges[bi], alpha + off[bi], 1, NULL) + 1;
            }
    }
    /* no node without an input */
    for (int node = 0; node <= maxnode; node++) {
        int has = 0, any = 0, bi = -1;
        float bv = -1e30f, v;
        for (int i = 0; i < ne; i++) {
            if (edges[i].to != node) continue;
            any = 1;
            has |= keep[i] != 0;
            if (best_op(&edges[i], alpha + off[i], 1, &v) >= 0 && (bi < 0 || v > bv)) bi = i, bv = v;
        }
        if (any && !has && bi >= 0) keep[bi] = best_op(&edges[bi], alpha + off[bi], 1, NULL) + 1;
    }
    for (int i = 0; i < ne; i++)
        if (keep[i]) add_choice(g, &edges[i], keep[i] - 1);
    free(off);
    free(keep);
    return NN_OK;
}

cJSON *srch_genotype_to_json(const srch_genotype *g)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "datafree.genotype");
    if (g->branches > 1) cJSON_AddNumberToObject(j, "branches", g->branches);
    if (g->bconv_relu) cJSON_AddBoolToObject(j, "bconv_relu", 1);
    cJSON *a = cJSON_AddArrayToObject(j, "edges");
    for (int i = 0; i < g->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "from", g->e[i].from);
        cJSON_AddNumberToObject(o, "to", g->e[i].to);
        cJSON_AddStringToObject(o, "op", g->e[i].op);
        cJSON_AddItemToArray(a, o);
    }
    return j;
}

int srch_genotype_from_json(const cJSON *j, const char *path, srch_genotype *g, nn_err *e)
{
    static const char *const keys[] = {"format", "edges", "branches", "bconv_relu", "space", NULL}; /* space: free-form */
    static const char *const ekeys[] = {"from", "to", "op", NULL};
    const char *fmt = NULL;
    if (!cJSON_IsObject(j)) return nn_fail(e, "%s: expected a genotype object", path);
    if (nn_json_check_keys(j, path, keys, e) || nn_json_str(j, path, "format", 1, &fmt, e)) return NN_ERR;
    if (strcmp(fmt, "datafree.genotype")) return nn_fail(e, "%s.format: '%s' is not a datafree genotype", path, fmt);
    g->branches = 1, g->bconv_relu = 0;
    if (nn_json_int(j, path, "branches", 0, &g->branches, e) || nn_json_bool(j, path, "bconv_relu", 0, &g->bconv_relu, e))
        return NN_ERR;
    if (g->branches < 1 || g->branches > SRCH_MAX_BRANCHES)
        return nn_fail(e, "%s.branches: %d (1 to %d)", path, g->branches, SRCH_MAX_BRANCHES);
    const cJSON *a = cJSON_GetObjectItem(j, "edges");
    if (!cJSON_IsArray(a)) return nn_fail(e, "%s.edges: expected an array", path);
    if (cJSON_GetArraySize(a) > SRCH_MAX_EDGES) return nn_fail(e, "%s.edges: more than %d edges", path, SRCH_MAX_EDGES);
    g->n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, a)
    {
        char p[300];
        snprintf(p, sizeof p, "%s.edges[%d]", path, g->n);
        const char *op = NULL;
        srch_choice *c = &g->e[g->n];
        if (!cJSON_IsObject(o)) return nn_fail(e, "%s: expected an object", p);
        if (nn_json_check_keys(o, p, ekeys, e) || nn_json_int(o, p, "from", 1, &c->from, e) ||
            nn_json_int(o, p, "to", 1, &c->to, e) || nn_json_str(o, p, "op", 1, &op, e))
            return NN_ERR;
        if (c->from < 0 || c->to <= c->from) return nn_fail(e, "%s: needs 0 <= from < to", p);
        if (strlen(op) >= sizeof c->op) return nn_fail(e, "%s.op: name too long", p);
        snprintf(c->op, sizeof c->op, "%s", op);
        g->n++;
    }
    return NN_OK;
}

int srch_genotype_save(const srch_genotype *g, const char *file, nn_err *e)
{
    cJSON *j = srch_genotype_to_json(g);
    char *s = cJSON_Print(j);
    int rc = nn_write_file_atomic(file, s, strlen(s), e);
    free(s);
    cJSON_Delete(j);
    return rc;
}

int srch_genotype_load(const char *file, srch_genotype *g, nn_err *e)
{
    cJSON *j = nn_json_load(file, e);
    if (!j) return NN_ERR;
    int rc = srch_genotype_from_json(j, "$", g, e);
    cJSON_Delete(j);
    if (rc) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        nn_fail(e, "%s: %s", file, m);
    }
    return rc;
}
