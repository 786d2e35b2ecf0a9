#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compress/export.h"
#include "nn/io.h"

static const struct {
    const char *name;
    int (*fn)(const nn_graph *, const int_graph *, const cmp_export_opts *, const char *, nn_err *);
} targets[] = {{"c", cmp_export_c}, {"cuda", cmp_export_cuda}, {"hls", cmp_export_hls}, {"onnx-qdq", cmp_export_onnx_qdq}, {"qonnx", cmp_export_qonnx}};

static int rm_rf(const char *dir)
{
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

int cmp_export(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *const *names, int n,
               const char *out, nn_err *e)
{
    const cmp_export_opts none = {0};
    if (!o) o = &none;
    const int nt = (int)(sizeof targets / sizeof *targets);
    int which[16];
    if (n < 1 || n > 16) return nn_fail(e, "export: 1 to 16 targets");
    for (int i = 0; i < n; i++) {
        which[i] = -1;
        for (int t = 0; t < nt; t++)
            if (!strcmp(names[i], targets[t].name)) which[i] = t;
        if (which[i] < 0) return nn_fail(e, "export: unknown target '%s' (known: c, cuda, hls, onnx-qdq, qonnx)", names[i]);
    }
    for (int i = 0; i < n && !g; i++) /* a binary network has no IntGraph: only its c form */
        if (strcmp(names[i], "c"))
            return nn_fail(e, "export: a binary network exports to target c only (bit-packed), not '%s'", names[i]);
    if (nn_mkdirs(out, e)) return NN_ERR;
    for (int i = 0; i < n; i++) {
        char tmp[1200], dst[1200];
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp", out, names[i]);
        snprintf(dst, sizeof dst, "%s/%s", out, names[i]);
        rm_rf(tmp);
        if (mkdir(tmp, 0755)) return nn_fail(e, "%s: cannot create", tmp);
        if (targets[which[i]].fn(q, g, o, tmp, e)) {
            rm_rf(tmp);
            return NN_ERR;
        }
        rm_rf(dst);
        if (rename(tmp, dst)) return nn_fail(e, "%s: cannot rename into place", dst);
    }
    return NN_OK;
}

void cmp_put_array(FILE *f, const char *type, const char *name, const void *v, size_t n, int elem_size)
{
    fprintf(f, "static const %s %s[%zu] = {", type, name, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        const long long x = elem_size == 1   ? ((const int8_t *)v)[i]
                            : elem_size == 2 ? ((const int16_t *)v)[i]
                            : elem_size == 4 ? ((const int32_t *)v)[i]
                                             : ((const int64_t *)v)[i];
        fprintf(f, "%s%lld%s", i == 0 ? "\n  " : i % 16 ? "," : ",\n  ", x, elem_size == 8 ? "LL" : "");
    }
    fprintf(f, "%s};\n", n ? "" : "0");
}

const char *cmp_c_int32(int32_t v, char *buf, size_t n)
{
    if (v == INT32_MIN)
        snprintf(buf, n, "INT32_MIN");
    else
        snprintf(buf, n, "%ld", (long)v);
    return buf;
}
