/* Checkpoints of the run commands: any graphs with their optimiser states
 * and the epoch reached, in one safetensors file (tensors "PREFIX/param",
 * "PREFIX/__optim.m|v", metadata "epoch" and "PREFIX_t"). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/io.h"
#include "nn/optim.h"

int run_ckpt_save(const char *path, run_ckpt_part *parts, int np, int epoch, nn_err *e)
{
    int n = 0;
    for (int p = 0; p < np; p++)
        if (parts[p].g) n += parts[p].g->np + 2;
    nn_st_tensor *ts = nn_xcalloc((size_t)(n ? n : 1), sizeof *ts);
    char(*names)[200] = nn_xcalloc((size_t)(n ? n : 1), sizeof *names);
    char meta[600];
    size_t mk = (size_t)snprintf(meta, sizeof meta, "{\"epoch\":\"%d\"", epoch);
    int k = 0;
    for (int p = 0; p < np; p++) {
        nn_graph *g = parts[p].g;
        if (!g) continue;
        for (int i = 0; i < g->np; i++, k++) {
            snprintf(names[k], sizeof names[k], "%s/%s", parts[p].prefix, g->params[i].name);
            ts[k] = (nn_st_tensor){names[k], g->params[i].t.ndim, {0}, g->params[i].t.data};
            memcpy(ts[k].shape, g->params[i].t.shape, sizeof ts[k].shape);
        }
        nn_optim *o = parts[p].o;
        if (o) {
            snprintf(names[k], sizeof names[k], "%s/__optim.m", parts[p].prefix);
            ts[k] = (nn_st_tensor){names[k], 1, {(int)o->n}, o->m};
            k++;
            if (o->v) {
                snprintf(names[k], sizeof names[k], "%s/__optim.v", parts[p].prefix);
                ts[k] = (nn_st_tensor){names[k], 1, {(int)o->n}, o->v};
                k++;
            }
            mk += (size_t)snprintf(meta + mk, sizeof meta - mk, ",\"%s_t\":\"%ld\"", parts[p].prefix, o->t);
        }
    }
    snprintf(meta + mk, sizeof meta - mk, "}");
    int rc = nn_st_write(path, ts, k, meta, e);
    free(ts);
    free(names);
    return rc;
}

int run_ckpt_load(const char *path, run_ckpt_part *parts, int np, int *epoch, nn_err *e)
{
    nn_st_file f;
    if (nn_st_open(&f, path, e)) return NN_ERR;
    int rc = NN_ERR, nd, sh[4];
    char name[200];
    for (int p = 0; p < np; p++) {
        nn_graph *g = parts[p].g;
        if (!g) continue;
        for (int i = 0; i < g->np; i++) {
            snprintf(name, sizeof name, "%s/%s", parts[p].prefix, g->params[i].name);
            const float *d = nn_st_get(&f, name, &nd, sh, e);
            if (!d) goto out;
            if (nn_shape_numel(nd, sh) != g->params[i].t.numel) {
                nn_fail(e, "%s: %s has another shape than this config's model", path, name);
                goto out;
            }
            memcpy(g->params[i].t.data, d, g->params[i].t.numel * sizeof(float));
        }
        nn_optim *o = parts[p].o;
        if (!o) continue;
        for (int v = 0; v < (o->v ? 2 : 1); v++) {
            snprintf(name, sizeof name, "%s/__optim.%c", parts[p].prefix, v ? 'v' : 'm');
            const float *d = nn_st_get(&f, name, &nd, sh, e);
            if (!d) goto out;
            if ((size_t)sh[0] != o->n) {
                nn_fail(e, "%s: optimiser state does not match this config", path);
                goto out;
            }
            memcpy(v ? o->v : o->m, d, o->n * sizeof(float));
        }
        snprintf(name, sizeof name, "%s_t", parts[p].prefix);
        const char *t = nn_st_meta(&f, name);
        o->t = t ? atol(t) : 0;
    }
    const char *ep = nn_st_meta(&f, "epoch");
    if (!ep) {
        nn_fail(e, "%s: no epoch in the checkpoint", path);
        goto out;
    }
    *epoch = atoi(ep);
    rc = NN_OK;
out:
    nn_st_close(&f);
    return rc;
}

